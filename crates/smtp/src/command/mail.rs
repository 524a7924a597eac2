//! MAIL FROM (RFC 5321 §4.1.1.2): starts a transaction. On submission the user must be
//! logged in and may only send as an address they own.

use smtp_proto::MailFrom;

use crate::session::{Flow, Session, State, Stream, Transaction};
use twinmail_net::Stop;

pub async fn mail<S: Stream>(s: &mut Session<S>, from: MailFrom<String>) -> Result<Flow, Stop> {
    if s.kind.is_submission() && s.user.is_none() {
        s.reject("MAIL", "530 5.7.0 Authentication required").await;
        return Ok(Flow::Continue);
    }
    if from.size > s.smtp.settings.max_message_size {
        s.reject(
            "MAIL",
            "552 5.3.4 Message size exceeds fixed maximum message size",
        )
        .await;
        return Ok(Flow::Continue);
    }
    if let Some(user) = &s.user {
        let owned = match s.smtp.store.owns_address(user, &from.address).await {
            Ok(o) => o,
            Err(e) => {
                tracing::error!(error = %e, "sender lookup failed");
                s.conn.reply("451 4.3.0 Temporary lookup failure");
                return Ok(Flow::Continue);
            }
        };
        if !owned {
            s.reject(
                "MAIL",
                "553 5.7.1 Sender address not owned by the authenticated user",
            )
            .await;
            return Ok(Flow::Continue);
        }
    }
    let State::Greeted { helo, esmtp } = std::mem::replace(&mut s.state, State::Fresh) else {
        // The validity table admits MAIL only when greeted and idle.
        s.conn.reply("503 5.5.1 Bad sequence of commands");
        return Ok(Flow::Continue);
    };
    s.state = State::Mail {
        helo,
        esmtp,
        tx: Box::new(Transaction {
            from: from.address,
            recipients: Vec::new(),
            outbound: Vec::new(),
            delivery: s.smtp.store.delivery(),
            chunks: Vec::new(),
            held: Default::default(),
        }),
    };
    s.conn.reply("250 2.1.0 Ok");
    Ok(Flow::Continue)
}
