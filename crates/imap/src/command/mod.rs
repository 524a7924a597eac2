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
mod deleteacl;
mod enable;
mod expunge;
pub mod fetch;
mod genurlauth;
mod getacl;
pub(crate) mod getmetadata;
mod id;
pub mod idle;
mod list;
mod listrights;
mod login;
mod logout;
mod myrights;
mod namespace;
mod noop;
pub mod notify;
mod quota;
mod rename;
mod resetkey;
mod saved;
pub mod search;
mod select;
mod setacl;
mod setmetadata;
pub mod sort;
mod starttls;
pub mod status;
mod store;
mod subscribe;
mod thread;
mod unselect;
mod urlfetch;

use imap_types::{command::CommandBody, core::Tag, response::Status};
use twinmail_net::Stream;
use twinmail_store::StoreError;

use twinmail_store::Account;

use crate::{
    acl::{self, Rights},
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
    /// An ACL command (RFC 4314; its `CommandBody::Namespace` is a stand-in).
    Acl(crate::extparse::AclCommand),
    /// NOTIFY (RFC 5465; its `CommandBody::Namespace` is a stand-in), parsed by
    /// `notify.rs`.
    Notify(crate::notify::Request),
    /// GENURLAUTH, URLFETCH or RESETKEY (RFC 4467; its `CommandBody::Namespace` is a
    /// stand-in, valid in the same states).
    UrlAuth(crate::urlauth::UrlAuthCommand),
}

/// Runs a command already checked against the validity table; returns its tagged status.
pub async fn dispatch<S: Stream>(
    s: &mut Session<S>,
    tag: &Tag<'static>,
    body: CommandBody<'static>,
    extra: Extra,
) -> Status<'static> {
    use CommandBody as C;
    let (search_return, saved, fetch_extra) = match extra {
        Extra::None => (None, false, fetch::FetchExtra::default()),
        Extra::Rewritten(r) => (r.ret.clone(), r.saved, fetch::FetchExtra::from(&r)),
        Extra::List(request) => return list::list_extended(s, tag, request).await,
        Extra::MultiAppend(m, bytes) => return append::multiappend(s, tag, &m, &bytes).await,
        Extra::CancelUpdate(tags) => return cancelupdate::cancelupdate(s, tag, &tags),
        Extra::Acl(command) => return acl_command(s, tag, command).await,
        Extra::Notify(request) => return notify::notify(s, tag, request).await,
        Extra::UrlAuth(command) => return urlauth(s, tag, command).await,
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
            fetch::fetch(s, tag, &sequence_set, items, uid, &modifiers, fetch_extra).await
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

/// Runs one of URLAUTH's three commands (RFC 4467 §7).
async fn urlauth<S: Stream>(
    s: &mut Session<S>,
    tag: &Tag<'static>,
    command: crate::urlauth::UrlAuthCommand,
) -> Status<'static> {
    use crate::urlauth::UrlAuthCommand as U;
    match command {
        U::GenUrlAuth { pairs } => genurlauth::genurlauth(s, tag, &pairs).await,
        U::UrlFetch { urls } => urlfetch::urlfetch(s, tag, &urls).await,
        U::ResetKey {
            mailbox,
            mechanisms,
        } => resetkey::resetkey(s, tag, mailbox.as_deref(), &mechanisms).await,
    }
}

/// The ACL commands (RFC 4314 §3).
async fn acl_command<S: Stream>(
    s: &mut Session<S>,
    tag: &Tag<'static>,
    command: crate::extparse::AclCommand,
) -> Status<'static> {
    use crate::extparse::AclCommand as A;
    match command {
        A::SetAcl {
            mailbox,
            identifier,
            rights,
        } => setacl::setacl(s, tag, &mailbox, &identifier, Some(&rights)).await,
        A::DeleteAcl {
            mailbox,
            identifier,
        } => deleteacl::deleteacl(s, tag, &mailbox, &identifier).await,
        A::GetAcl { mailbox } => getacl::getacl(s, tag, &mailbox).await,
        A::ListRights {
            mailbox,
            identifier,
        } => listrights::listrights(s, tag, &mailbox, &identifier).await,
        A::MyRights { mailbox } => myrights::myrights(s, tag, &mailbox).await,
    }
}

/// What a command needs of the mailbox it names (RFC 4314 §4).
#[derive(Clone, Copy, Debug)]
pub enum Need {
    /// All of these rights.
    All(&'static str),
    /// At least one of these rights.
    AnyOf(&'static str),
    /// To be its owner (METADATA: the annotations are the owner's own).
    Owner,
}

/// The mailbox a command names, its owner's account (the logged-in one for a personal
/// name) and the logged-in user's rights on it; or the status that refuses the command.
/// No such mailbox is a NO (with TRYCREATE where the client could create it). A shared
/// mailbox (`Other Users/owner/name`, see `acl.rs`) the user has neither `l` nor `r` on
/// does not exist as far as the user can tell (RFC 4314 §6); one the user can see but
/// lacks the `need` for is NO [NOPERM].
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
    need: Need,
) -> Result<(Account, twinmail_store::Mailbox, Rights), Status<'static>> {
    let Some(name) = s.mailbox_name(mailbox) else {
        return Err(no(tag, None, "Invalid mailbox name".into()));
    };
    existing_named(s, tag, &name, try_create, need).await
}

/// [`existing_mailbox`] for a name as raw wire bytes (the hand-parsed ACL commands), with
/// the name decoded.
pub async fn existing_raw<S: Stream>(
    s: &Session<S>,
    tag: &Tag<'static>,
    raw: &[u8],
    need: Need,
) -> Result<(String, Account, twinmail_store::Mailbox, Rights), Status<'static>> {
    let Some(name) = s.decode_name(raw) else {
        return Err(no(tag, None, "Invalid mailbox name".into()));
    };
    let (owner, m, rights) = existing_named(s, tag, &name, false, need).await?;
    Ok((name, owner, m, rights))
}

/// [`existing_mailbox`] for a name already decoded from the wire.
pub async fn existing_named<S: Stream>(
    s: &Session<S>,
    tag: &Tag<'static>,
    name: &str,
    try_create: bool,
    need: Need,
) -> Result<(Account, twinmail_store::Mailbox, Rights), Status<'static>> {
    let Some(account) = s.state.account().cloned() else {
        return Err(bad(tag, "Log in first"));
    };
    let store = &s.imap.store;
    let missing = || {
        let code = try_create.then_some(imap_types::response::Code::TryCreate);
        no(tag, code, "No such mailbox".into())
    };
    let Some((owner_name, own_name)) = acl::split_shared(name) else {
        return match store.mailbox(account.id, name).await {
            Ok(Some(m)) => Ok((account, m, Rights::OWNER)),
            Ok(None) => Err(missing()),
            Err(e) => Err(store_failed(tag, e)),
        };
    };
    if own_name.is_empty() || !acl::may_share(owner_name, &account.name) {
        return Err(no(tag, None, "No such mailbox".into()));
    }
    let owner = match store.account(owner_name).await {
        Ok(Some(o)) if !o.disabled => o,
        Ok(_) => return Err(no(tag, None, "No such mailbox".into())),
        Err(e) => return Err(store_failed(tag, e)),
    };
    let m = match store.mailbox(owner.id, own_name).await {
        Ok(Some(m)) => m,
        Ok(None) => return Err(no(tag, None, "No such mailbox".into())),
        Err(e) => return Err(store_failed(tag, e)),
    };
    let rights = match rights_of(s, &owner, &m, &account).await {
        Ok(r) => r,
        Err(e) => return Err(store_failed(tag, e)),
    };
    if !rights.any("lr") {
        return Err(no(tag, None, "No such mailbox".into()));
    }
    let allowed = match need {
        Need::All(r) => rights.has(r),
        Need::AnyOf(r) => rights.any(r),
        Need::Owner => false,
    };
    if !allowed {
        return Err(no_perm(tag));
    }
    Ok((owner, m, rights))
}

/// A mailbox's name as the logged-in user sees it: its own, or under "Other Users" for
/// another account's (`acl.rs`).
pub fn shown_name<S: Stream>(
    s: &Session<S>,
    owner: &Account,
    m: &twinmail_store::Mailbox,
) -> String {
    match s.state.account() {
        Some(me) if me.id != owner.id => acl::shared_name(&owner.name, &m.name),
        _ => m.name.clone(),
    }
}

/// The rights `user` has on `owner`'s mailbox `m`.
pub async fn rights_of<S: Stream>(
    s: &Session<S>,
    owner: &Account,
    m: &twinmail_store::Mailbox,
    user: &Account,
) -> Result<Rights, StoreError> {
    if owner.id == user.id {
        return Ok(Rights::OWNER);
    }
    let entry = acl::entry(&user.name);
    let entries = s.imap.store.metadata(owner.id, Some(m.id)).await?;
    Ok(entries
        .iter()
        .find(|(e, _)| *e == entry)
        .map_or(Rights::NONE, |(_, v)| {
            acl::granted(&owner.name, &user.name, v)
        }))
}

/// RFC 4314 §4 / RFC 5530: the user may see the mailbox but lacks a right the command
/// needs.
pub fn no_perm(tag: &Tag<'static>) -> Status<'static> {
    no(
        tag,
        Some(imap_types::response::Code::Other(
            imap_types::response::CodeOther::unvalidated(&b"NOPERM"[..]),
        )),
        "Permission denied".into(),
    )
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
