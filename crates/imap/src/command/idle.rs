//! IDLE (RFC 2177): changes are reported as they commit until the client says DONE; with
//! NOTIFY (RFC 5465 §4), the changes NOTIFY asks for.

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
        // What waits is told at once: all of it, or with NOTIFY what NOTIFY asks for
        // (RFC 5465 §4: IDLE sends "exactly the same events").
        s.push().await;
    }
}

pub fn done<S: Stream>(s: &mut Session<S>) {
    if let Some(tag) = s.idling.take() {
        let status: Status<'static> = ok(&tag, None, "IDLE terminated");
        s.server.enqueue_status(status);
    }
}
