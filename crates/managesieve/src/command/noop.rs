//! NOOP (RFC 5804 §2.13): with a string, echoed back in a TAG response code.

use twinmail_net::{Stop, Stream};

use crate::{
    command::{strings, usage},
    parse::{Token, string},
    session::{Flow, Session},
};

pub async fn noop<S: Stream>(s: &mut Session<S>, args: &[Token]) -> Result<Flow, Stop> {
    if args.is_empty() {
        s.ok(None, "Done");
    } else if let Some([tag]) = strings::<1>(args) {
        s.ok(Some(&format!("TAG {}", string(tag))), "Done");
    } else {
        return usage(s, "NOOP [tag]").await;
    }
    Ok(Flow::Continue)
}
