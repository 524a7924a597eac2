//! AUTH (RFC 5034) with PLAIN, under TLS only. Without arguments it lists mechanisms.

use twinmail_net::{
    Stop, Stream,
    sasl::{self, Answer},
};

use crate::{
    command::{login::login, user::PLAINTEXT},
    session::{Flow, MAX_LINE, Session},
};

pub async fn auth<S: Stream>(s: &mut Session<S>, args: &[&str]) -> Result<Flow, Stop> {
    let Some(mechanism) = args.first() else {
        s.conn.reply("+OK");
        s.conn.reply("PLAIN");
        s.conn.reply(".");
        return Ok(Flow::Continue);
    };
    if !s.may_login() {
        s.fail(PLAINTEXT).await;
        return Ok(Flow::Continue);
    }
    if !mechanism.eq_ignore_ascii_case("PLAIN") {
        s.fail("-ERR Unsupported authentication mechanism").await;
        return Ok(Flow::Continue);
    }
    let answer = match args.get(1) {
        Some(initial) => Answer::decode(initial),
        None => {
            s.conn.reply("+ ");
            let timeout = s.pop3.settings.login_timeout;
            match s.conn.read_line(timeout, MAX_LINE).await? {
                Some(line) => Answer::decode(&String::from_utf8_lossy(&line)),
                None => Answer::Invalid,
            }
        }
    };
    let (user, pass) = match answer {
        Answer::Value(v) => sasl::plain(&v).unwrap_or_default(),
        Answer::Cancelled => {
            s.fail("-ERR Authentication cancelled").await;
            return Ok(Flow::Continue);
        }
        Answer::Invalid => {
            s.fail("-ERR Cannot decode response").await;
            return Ok(Flow::Continue);
        }
    };
    login(s, &user, &pass).await
}
