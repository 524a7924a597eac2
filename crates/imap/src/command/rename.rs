//! RENAME (RFC 3501 §6.3.5): children move along; renaming INBOX moves its messages.

use imap_types::{core::Tag, mailbox::Mailbox, response::Status};
use twinmail_net::Stream;

use crate::{
    command::store_failed,
    convert::{bad, no, ok},
    session::Session,
};

pub async fn rename<S: Stream>(
    s: &mut Session<S>,
    tag: &Tag<'static>,
    from: &Mailbox<'_>,
    to: &Mailbox<'_>,
) -> Status<'static> {
    let Some(account) = s.state.account().cloned() else {
        return bad(tag, "Log in first");
    };
    let (Some(from), Some(to)) = (s.mailbox_name(from), s.mailbox_name(to)) else {
        return no(tag, None, "Invalid mailbox name".into());
    };
    // Another account's mailbox is its owner's to rename; no personal one goes there.
    if crate::acl::split_shared(&from).is_some() || crate::acl::split_shared(&to).is_some() {
        return no(
            tag,
            None,
            "Names under \"Other Users\" are other accounts'".into(),
        );
    }
    match s.imap.store.rename_mailbox(account.id, &from, &to).await {
        Ok(()) => ok(tag, None, "RENAME completed"),
        Err(e) => store_failed(tag, e),
    }
}
