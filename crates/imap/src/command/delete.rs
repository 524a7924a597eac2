//! DELETE (RFC 3501 §6.3.4): INBOX and mailboxes with children are refused.

use imap_types::{core::Tag, mailbox::Mailbox, response::Status};
use twinmail_net::Stream;

use crate::{
    command::store_failed,
    convert::{bad, no, ok},
    session::{Session, State},
};

pub async fn delete<S: Stream>(
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
    let target = s.imap.store.mailbox(account.id, &name).await.ok().flatten();
    match s.imap.store.delete_mailbox(account.id, &name).await {
        Ok(()) => {
            if let (State::Selected { view, .. }, Some(t)) = (&s.state, target)
                && view.mailbox.id == t.id
            {
                s.state.deselect();
            }
            ok(tag, None, "DELETE completed")
        }
        Err(e) => store_failed(tag, e),
    }
}
