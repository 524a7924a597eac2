//! CLOSE (RFC 3501 §6.4.2: expunges silently unless read-only) and UNSELECT (RFC 3691).
//! Both forget the saved search result (`$`, RFC 5182 §2.1) with the mailbox.

use imap_types::{core::Tag, response::Status};
use twinmail_net::Stream;

use crate::{
    convert::ok,
    session::{Session, State},
};

pub async fn close<S: Stream>(s: &mut Session<S>, tag: &Tag<'static>) -> Status<'static> {
    if let State::Selected { view, .. } = &s.state
        && !view.read_only
        && let Err(e) = s.imap.store.expunge(view.mailbox.id, None).await
    {
        return crate::command::store_failed(tag, e);
    }
    s.state.deselect();
    s.search_result = twinmail_store::UidSet::default();
    ok(tag, None, "CLOSE completed")
}

pub fn unselect<S: Stream>(s: &mut Session<S>, tag: &Tag<'static>) -> Status<'static> {
    s.state.deselect();
    s.search_result = twinmail_store::UidSet::default();
    ok(tag, None, "UNSELECT completed")
}
