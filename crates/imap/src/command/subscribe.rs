//! SUBSCRIBE and UNSUBSCRIBE (RFC 3501 §6.3.6-7).

use imap_types::{core::Tag, mailbox::Mailbox, response::Status};
use twinmail_net::Stream;

use crate::{
    command::store_failed,
    convert::{bad, no, ok},
    session::Session,
};

pub async fn subscribe<S: Stream>(
    s: &mut Session<S>,
    tag: &Tag<'static>,
    mailbox: &Mailbox<'_>,
    on: bool,
) -> Status<'static> {
    let Some(account) = s.state.account().cloned() else {
        return bad(tag, "Log in first");
    };
    let Some(name) = s.mailbox_name(mailbox) else {
        return no(tag, None, "Invalid mailbox name".into());
    };
    match s.imap.store.set_subscribed(account.id, &name, on).await {
        Ok(()) => ok(
            tag,
            None,
            if on {
                "SUBSCRIBE completed"
            } else {
                "UNSUBSCRIBE completed"
            },
        ),
        Err(e) => store_failed(tag, e),
    }
}
