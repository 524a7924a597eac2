//! UIDL (RFC 1939 §7): the unique id of each message is its GUID, so it is the same on
//! both twins and survives any renumbering of UIDs.

use twinmail_net::{Stop, Stream};

use crate::{
    command::list::listing,
    session::{Flow, Session},
};

pub async fn uidl<S: Stream>(s: &mut Session<S>, args: &[&str]) -> Result<Flow, Stop> {
    listing(s, args, "unique-ids follow", |e| e.guid.to_hex()).await
}
