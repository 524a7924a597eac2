//! IDLE (RFC 2177): changes are reported as they commit until the client says DONE.

use imap_types::{core::Tag, response::Status};
use twinmail_net::Stream;

use crate::{
    convert::{bad, ok},
    session::Session,
};

pub async fn start<S: Stream>(s: &mut Session<S>, tag: Tag<'static>) {
    if s.state.account().is_none() {
        let _ = s.server.idle_reject(bad(&tag, "Log in first"));
        return;
    }
    if s.server
        .idle_accept(Session::<S>::continuation("idling"))
        .is_ok()
    {
        s.idling = Some(tag);
        s.drain_changes();
        // Live searches (RFC 5267) around EXISTS / EXPUNGE, as after any command.
        crate::contexts::bring_up_to_date(s, false).await;
        s.report_updates(true);
        crate::contexts::bring_up_to_date(s, true).await;
    }
}

pub fn done<S: Stream>(s: &mut Session<S>) {
    if let Some(tag) = s.idling.take() {
        let status: Status<'static> = ok(&tag, None, "IDLE terminated");
        s.server.enqueue_status(status);
    }
}
