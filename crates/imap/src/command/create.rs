//! CREATE (RFC 3501 §6.3.3), with missing parents created too.

use imap_types::{core::Tag, mailbox::Mailbox, response::Status};
use twinmail_net::Stream;

use crate::{
    command::store_failed,
    convert::{bad, no, ok},
    session::Session,
};

pub async fn create<S: Stream>(
    s: &mut Session<S>,
    tag: &Tag<'static>,
    mailbox: &Mailbox<'_>,
) -> Status<'static> {
    let Some(account) = s.state.account().cloned() else {
        return bad(tag, "Log in first");
    };
    let Some(name) = s.mailbox_name(mailbox) else {
        return no(tag, None, "Invalid mailbox name".into());
    };
    // RFC 3501: a trailing delimiter only says the client means to create children.
    let name = name.strip_suffix('/').unwrap_or(&name).to_string();
    if name.eq_ignore_ascii_case("INBOX") {
        return no(tag, None, "INBOX already exists".into());
    }
    if crate::acl::split_shared(&name).is_some() {
        return no(
            tag,
            None,
            "Names under \"Other Users\" are other accounts'".into(),
        );
    }
    match s.imap.store.create_mailbox(account.id, &name).await {
        Ok(_) => ok(tag, None, "CREATE completed"),
        Err(e) => store_failed(tag, e),
    }
}
