//! One file per IMAP command; `dispatch` is the short match that picks the handler.

mod append;
pub mod authenticate;
mod cancelupdate;
mod capability;
mod catenate;
mod compress;
mod copy;
mod create;
mod delete;
mod enable;
mod expunge;
pub mod fetch;
mod getmetadata;
mod id;
pub mod idle;
mod list;
mod login;
mod logout;
mod namespace;
mod noop;
pub mod notify;
mod quota;
mod rename;
mod saved;
pub mod search;
mod select;
mod setmetadata;
pub mod sort;
mod starttls;
pub mod status;
mod store;
mod subscribe;
mod thread;
mod unselect;

use imap_types::{command::CommandBody, core::Tag, response::Status};
use twinmail_net::Stream;
use twinmail_store::StoreError;

use crate::{
    convert::{bad, no, ok},
    session::{Session, State},
};

/// What `extparse` recognised beyond what imap-codec decoded.
pub enum Extra {
    /// Nothing: the command is all in its `CommandBody`.
    None,
    /// A command extparse rewrote: SEARCH's RETURN options (RFC 4731, RFC 5182),
    /// whether `$` stands in it, and FETCH's PREVIEW (RFC 8970).
    Rewritten(crate::extparse::Rewrite),
    /// An RFC 5258 LIST (its `CommandBody::List` is a stand-in).
    List(crate::extparse::ListRequest),
    /// CANCELUPDATE (RFC 5267; its `CommandBody::Check` is a stand-in): the tags whose
    /// live results end.
    CancelUpdate(Vec<Vec<u8>>),
    /// An RFC 3502 MULTIAPPEND or an RFC 4469 CATENATE (its `CommandBody::Append` is a
    /// stand-in), with the command's bytes its literals are ranges of.
    MultiAppend(Box<crate::multiappend::MultiAppend>, Box<[u8]>),
    /// NOTIFY (RFC 5465; its `CommandBody::Namespace` is a stand-in), parsed by
    /// `notify.rs`.
    Notify(crate::notify::Request),
}

/// Runs a command already checked against the validity table; returns its tagged status.
pub async fn dispatch<S: Stream>(
    s: &mut Session<S>,
    tag: &Tag<'static>,
    body: CommandBody<'static>,
    extra: Extra,
) -> Status<'static> {
    use CommandBody as C;
    let (search_return, saved, preview, fetch_partial) = match extra {
        Extra::None => (None, false, None, None),
        Extra::Rewritten(r) => (r.ret, r.saved, r.preview, r.fetch_partial),
        Extra::List(request) => return list::list_extended(s, tag, request).await,
        Extra::MultiAppend(m, bytes) => return append::multiappend(s, tag, &m, &bytes).await,
        Extra::CancelUpdate(tags) => return cancelupdate::cancelupdate(s, tag, &tags),
        Extra::Notify(request) => return notify::notify(s, tag, request).await,
    };
    let body = if saved {
        // Every command `$` may stand in needs a selected mailbox (validity table).
        let State::Selected { view, .. } = &s.state else {
            return bad(tag, "No mailbox selected");
        };
        match saved::resolve(body, &s.search_result, view) {
            saved::Resolved::Body(body) => body,
            saved::Resolved::Empty(text) => return ok(tag, None, text),
        }
    } else {
        body
    };
    match body {
        C::Capability => capability::capability(s, tag),
        C::Noop => noop::noop(tag, "NOOP completed"),
        C::Check => noop::noop(tag, "CHECK completed"),
        C::Logout => logout::logout(s, tag),
        C::StartTLS => starttls::starttls(s, tag),
        C::Login { username, password } => {
            login::login(s, tag, &username, password.declassify()).await
        }
        C::Select {
            mailbox,
            parameters,
        } => select::select(s, tag, &mailbox, false, &parameters).await,
        C::Examine {
            mailbox,
            parameters,
        } => select::select(s, tag, &mailbox, true, &parameters).await,
        C::Create { mailbox } => create::create(s, tag, &mailbox).await,
        C::Delete { mailbox } => delete::delete(s, tag, &mailbox).await,
        C::Rename { from, to } => rename::rename(s, tag, &from, &to).await,
        C::Subscribe { mailbox } => subscribe::subscribe(s, tag, &mailbox, true).await,
        C::Unsubscribe { mailbox } => subscribe::subscribe(s, tag, &mailbox, false).await,
        C::List {
            reference,
            mailbox_wildcard,
        } => list::list(s, tag, &reference, &mailbox_wildcard, false).await,
        C::Lsub {
            reference,
            mailbox_wildcard,
        } => list::list(s, tag, &reference, &mailbox_wildcard, true).await,
        C::Status {
            mailbox,
            item_names,
        } => status::status(s, tag, &mailbox, &item_names).await,
        C::Append {
            mailbox,
            flags,
            date,
            message,
        } => append::append(s, tag, &mailbox, &flags, date, message).await,
        C::Close => unselect::close(s, tag).await,
        C::Unselect => unselect::unselect(s, tag),
        C::Expunge => expunge::expunge(s, tag, None).await,
        C::ExpungeUid { sequence_set } => expunge::expunge(s, tag, Some(&sequence_set)).await,
        C::Search {
            charset,
            criteria,
            uid,
        } => {
            // RFC 3501 §6.4.4: an unsupported charset is a tagged NO, not BAD.
            if let Some(refusal) = search::unsupported_charset(tag, charset.as_ref()) {
                return refusal;
            }
            search::search(s, tag, criteria.as_ref(), uid, search_return).await
        }
        C::Sort {
            sort_criteria,
            charset,
            search_criteria,
            uid,
        } => {
            let keys = sort_criteria.as_ref();
            let criteria = search_criteria.as_ref();
            sort::sort(s, tag, keys, &charset, criteria, uid, search_return).await
        }
        C::Thread {
            algorithm,
            charset,
            search_criteria,
            uid,
        } => thread::thread(s, tag, &algorithm, &charset, search_criteria.as_ref(), uid).await,
        C::Fetch {
            sequence_set,
            macro_or_item_names,
            uid,
            modifiers,
        } => {
            let items = macro_or_item_names;
            let (preview, partial) = (preview, fetch_partial);
            fetch::fetch(
                s,
                tag,
                &sequence_set,
                items,
                uid,
                &modifiers,
                preview,
                partial,
            )
            .await
        }
        C::Store {
            sequence_set,
            kind,
            response,
            flags,
            uid,
            modifiers,
        } => {
            store::store(
                s,
                tag,
                &sequence_set,
                kind,
                response,
                &flags,
                uid,
                &modifiers,
            )
            .await
        }
        C::Copy {
            sequence_set,
            mailbox,
            uid,
        } => copy::copy(s, tag, &sequence_set, &mailbox, uid, false).await,
        C::Move {
            sequence_set,
            mailbox,
            uid,
        } => copy::copy(s, tag, &sequence_set, &mailbox, uid, true).await,
        C::Enable { capabilities } => enable::enable(s, tag, capabilities.as_ref()),
        C::Id { .. } => id::id(s, tag),
        C::Namespace => namespace::namespace(s, tag),
        C::GetQuota { root } => quota::get_quota(s, tag, &root).await,
        C::GetQuotaRoot { mailbox } => quota::get_quota_root(s, tag, &mailbox).await,
        C::SetQuota { .. } => quota::set_quota(tag),
        C::GetMetadata {
            options,
            mailbox,
            entries,
        } => getmetadata::getmetadata(s, tag, &options, &mailbox, entries.as_ref()).await,
        C::SetMetadata {
            mailbox,
            entry_values,
        } => setmetadata::setmetadata(s, tag, &mailbox, entry_values.as_ref()).await,
        C::Compress { algorithm } => compress::compress(s, tag, &algorithm),
        _ => {
            s.errors += 1;
            bad(tag, "Command not supported")
        }
    }
}

/// A mailbox's special-use attribute (RFC 6154), as LIST shows it.
pub fn list_special_use(m: &twinmail_store::Mailbox) -> Option<&'static str> {
    list::special_use(m)
}

/// The logged-in account and the mailbox a command names, or the status that refuses
/// the command: no such mailbox is a NO (with TRYCREATE where the client could create it).
pub async fn existing_mailbox<S: Stream>(
    s: &Session<S>,
    tag: &Tag<'static>,
    mailbox: &imap_types::mailbox::Mailbox<'_>,
    try_create: bool,
) -> Result<(twinmail_store::Account, twinmail_store::Mailbox), Status<'static>> {
    let Some(account) = s.state.account().cloned() else {
        return Err(bad(tag, "Log in first"));
    };
    let Some(name) = s.mailbox_name(mailbox) else {
        return Err(no(tag, None, "Invalid mailbox name".into()));
    };
    match s.imap.store.mailbox(account.id, &name).await {
        Ok(Some(m)) => Ok((account, m)),
        Ok(None) => {
            let code = try_create.then_some(imap_types::response::Code::TryCreate);
            Err(no(tag, code, "No such mailbox".into()))
        }
        Err(e) => Err(store_failed(tag, e)),
    }
}

/// The tagged NO for a store failure: the user's mistakes say what was wrong; the
/// server's own failures are logged loudly and reported without detail.
pub fn store_failed(tag: &Tag<'static>, e: StoreError) -> Status<'static> {
    if let StoreError::OverQuota(_) = e {
        // RFC 9208 §4.2 / RFC 5530: the client can tell the user why.
        return no(
            tag,
            Some(imap_types::response::Code::OverQuota),
            e.to_string(),
        );
    }
    if e.is_client_error() {
        no(tag, None, e.to_string())
    } else if let StoreError::Unavailable(why) = &e {
        // RFC 5530 UNAVAILABLE: the home twin has not confirmed the write (yet); the
        // client's retry is safe (the write carries its id).
        tracing::warn!(why = %why, "write not confirmed by the home twin");
        no(
            tag,
            Some(imap_types::response::Code::Other(
                imap_types::response::CodeOther::unvalidated(&b"UNAVAILABLE"[..]),
            )),
            "Temporarily unavailable, try again in a moment".into(),
        )
    } else {
        tracing::error!(error = %e, "store operation failed");
        no(
            tag,
            Some(imap_types::response::Code::Alert),
            "Server error, please try again".into(),
        )
    }
}
