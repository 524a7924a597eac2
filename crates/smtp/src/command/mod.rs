//! One file per SMTP command; `dispatch` is the short match that picks the handler.

mod auth;
mod bdat;
mod data;
mod ehlo;
mod mail;
mod misc;
mod rcpt;
mod starttls;

use smtp_proto::Request;

use crate::session::{Flow, Session, Stream};
use twinmail_net::Stop;

/// Runs a command already checked against the state table.
pub async fn dispatch<S: Stream>(s: &mut Session<S>, req: Request<String>) -> Result<Flow, Stop> {
    match req {
        Request::Ehlo { host } => ehlo::ehlo(s, host, true),
        Request::Helo { host } => ehlo::ehlo(s, host, false),
        Request::StartTls => starttls::starttls(s).await,
        Request::Auth {
            mechanism,
            initial_response,
        } => auth::auth(s, mechanism, initial_response).await,
        Request::Mail { from } => mail::mail(s, from).await,
        Request::Rcpt { to } => rcpt::rcpt(s, to).await,
        Request::Data => data::data(s).await,
        Request::Bdat {
            chunk_size,
            is_last,
        } => bdat::bdat(s, chunk_size, is_last).await,
        Request::Rset => misc::rset(s),
        Request::Noop { .. } => misc::noop(s),
        Request::Quit => misc::quit(s),
        Request::Help { .. } => misc::help(s),
        Request::Vrfy { .. } | Request::Expn { .. } => misc::vrfy(s),
        // The validity table refuses these before dispatch.
        Request::Lhlo { .. }
        | Request::Etrn { .. }
        | Request::Atrn { .. }
        | Request::Burl { .. } => {
            s.conn.reply("502 5.5.1 Command not implemented");
            Ok(Flow::Continue)
        }
    }
}
