//! One file per POP3 command; `dispatch` picks the handler after the validity table.

mod auth;
mod capa;
mod dele;
mod list;
mod login;
mod noop;
mod pass;
mod quit;
mod retr;
mod rset;
mod stat;
mod stls;
mod top;
mod uidl;
mod user;

use twinmail_net::{Stop, Stream};

use crate::session::{Flow, Session};

/// Runs a command already checked against the state table. `rest` is the line after
/// the command word, as sent (PASS takes it whole: passwords may hold spaces).
pub async fn dispatch<S: Stream>(
    s: &mut Session<S>,
    cmd: &str,
    args: &[&str],
    rest: &str,
) -> Result<Flow, Stop> {
    match cmd {
        "CAPA" => capa::capa(s),
        "USER" => user::user(s, args).await,
        "PASS" => pass::pass(s, rest).await,
        "AUTH" => auth::auth(s, args).await,
        "STLS" => stls::stls(s).await,
        "STAT" => stat::stat(s),
        "LIST" => list::list(s, args).await,
        "UIDL" => uidl::uidl(s, args).await,
        "RETR" => retr::retr(s, args).await,
        "TOP" => top::top(s, args).await,
        "DELE" => dele::dele(s, args).await,
        "RSET" => rset::rset(s),
        "NOOP" => noop::noop(s),
        "QUIT" => quit::quit(s).await,
        _ => {
            s.fail("-ERR command not supported").await;
            Ok(Flow::Continue)
        }
    }
}
