//! QUOTA (RFC 9208), reporting only: one quota root, "", covers the user's whole account,
//! with the STORAGE resource (in KiB). Limits are set by the administrator with the CLI,
//! so SETQUOTA is refused. An account without a limit has no quota root at all (RFC 9208
//! §4.3.1 has no way to say "unlimited": a QUOTA response lists limits).
//!
//! Going over the limit in APPEND / COPY / MOVE is the store's `OverQuota`, answered
//! `NO [OVERQUOTA]` in `store_failed` (RFC 9208 §4.2, RFC 5530).

use imap_types::{
    core::{AString, Tag},
    extensions::quota::{QuotaGet, Resource},
    mailbox::Mailbox,
    response::{Code, CodeOther, Data, Status},
};
use twinmail_net::Stream;
use twinmail_store::StoreError;

use crate::{
    command::{Need, existing_mailbox, shown_name, store_failed},
    convert::{bad, no, ok, vec1},
    session::Session,
};

/// GETQUOTAROOT mailbox: the root of every mailbox is "" when the account has a limit.
pub async fn get_quota_root<S: Stream>(
    s: &mut Session<S>,
    tag: &Tag<'static>,
    mailbox: &Mailbox<'_>,
) -> Status<'static> {
    let (account, m, _) = match existing_mailbox(s, tag, mailbox, false, Need::AnyOf("r")).await {
        Ok(found) => found,
        Err(status) => return status,
    };
    let shown = shown_name(s, &account, &m);
    let quota = match quota_data(s, account.id).await {
        Ok(q) => q,
        Err(e) => return store_failed(tag, e),
    };
    let roots = if quota.is_some() {
        vec![root()]
    } else {
        Vec::new()
    };
    s.data(Data::QuotaRoot {
        mailbox: s.wire_mailbox(&shown),
        roots,
    });
    if let Some(q) = quota {
        s.data(q);
    }
    ok(tag, None, "GETQUOTAROOT completed")
}

/// GETQUOTA root: only "" exists, and only when the account has a limit.
pub async fn get_quota<S: Stream>(
    s: &mut Session<S>,
    tag: &Tag<'static>,
    root_name: &AString<'_>,
) -> Status<'static> {
    let Some(account) = s.state.account().cloned() else {
        return bad(tag, "Log in first");
    };
    if !root_name.as_ref().is_empty() {
        return no(tag, None, "No such quota root".into());
    }
    match quota_data(s, account.id).await {
        Ok(Some(q)) => {
            s.data(q);
            ok(tag, None, "GETQUOTA completed")
        }
        Ok(None) => no(tag, None, "No quota: the account has no limit".into()),
        Err(e) => store_failed(tag, e),
    }
}

/// SETQUOTA: limits belong to the administrator (RFC 9208 §4.1.3 allows refusing).
pub fn set_quota(tag: &Tag<'static>) -> Status<'static> {
    no(
        tag,
        Some(Code::Other(CodeOther::unvalidated(&b"NOPERM"[..]))),
        "Quotas are set by the administrator".into(),
    )
}

fn root() -> AString<'static> {
    AString::try_from("").unwrap_or_else(|_| AString::try_from("\"\"").expect("static"))
}

/// The QUOTA response for the account's root, None when it has no limit.
async fn quota_data<S: Stream>(
    s: &Session<S>,
    account_id: i64,
) -> Result<Option<Data<'static>>, StoreError> {
    let q = s.imap.store.quota(account_id).await?;
    let Some(limit) = q.limit_bytes else {
        return Ok(None);
    };
    // Usage rounds up, the limit down: never shows room that is not there.
    let storage = QuotaGet::new(Resource::Storage, q.used_bytes.div_ceil(1024), limit / 1024);
    Ok(vec1(vec![storage]).map(|quotas| Data::Quota {
        root: root(),
        quotas,
    }))
}
