//! TOP (RFC 1939 §7): the header and the first n lines of the body.

use twinmail_net::{Stop, Stream};

use crate::{
    command::retr::send,
    session::{Flow, Session},
};

pub async fn top<S: Stream>(s: &mut Session<S>, args: &[&str]) -> Result<Flow, Stop> {
    let [msg, lines] = args else {
        s.fail("-ERR usage: TOP msg n").await;
        return Ok(Flow::Continue);
    };
    // Any count is fine, however large: it only bounds what is sent.
    let Some(n) = (lines.len() <= 20 && lines.bytes().all(|b| b.is_ascii_digit()))
        .then(|| lines.parse::<u64>().unwrap_or(u64::MAX))
    else {
        s.fail("-ERR invalid line count").await;
        return Ok(Flow::Continue);
    };
    send(s, Some(msg), Some(n)).await
}
