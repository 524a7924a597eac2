//! AUTHENTICATE PLAIN (RFC 3501 §6.2.2, RFC 4616), with SASL-IR (RFC 4959), under TLS.

use imap_next::types::CommandAuthenticate;
use imap_types::{
    auth::{AuthMechanism, AuthenticateData},
    response::{CommandContinuationRequest, Status},
};
use twinmail_net::{Stream, sasl};

use crate::{
    command::login::finish,
    convert::{bad, no},
    session::Session,
};

pub async fn start<S: Stream>(s: &mut Session<S>, cmd: CommandAuthenticate) {
    let tag = cmd.tag;
    let refusal = if s.state.account().is_some() {
        Some(bad(&tag, "Already authenticated"))
    } else if !s.may_login() {
        Some(no(
            &tag,
            None,
            "Authentication disallowed without TLS (use STARTTLS)".into(),
        ))
    } else if cmd.mechanism != AuthMechanism::Plain {
        Some(no(&tag, None, "Unsupported mechanism; use PLAIN".into()))
    } else {
        None
    };
    if let Some(status) = refusal {
        finish_with(s, status);
        return;
    }
    match cmd.initial_response {
        Some(ir) => {
            let status = check(s, &tag, ir.declassify()).await;
            finish_with(s, status);
        }
        None => {
            s.authenticating = Some(tag);
            let _ = s
                .server
                .authenticate_continue(CommandContinuationRequest::base64(Vec::<u8>::new()));
        }
    }
}

pub async fn data<S: Stream>(s: &mut Session<S>, data: AuthenticateData<'static>) {
    let Some(tag) = s.authenticating.take() else {
        return;
    };
    let status = match data {
        AuthenticateData::Continue(bytes) => check(s, &tag, bytes.declassify()).await,
        AuthenticateData::Cancel => bad(&tag, "Authentication cancelled"),
    };
    finish_with(s, status);
}

async fn check<S: Stream>(
    s: &mut Session<S>,
    tag: &imap_types::core::Tag<'static>,
    response: &[u8],
) -> Status<'static> {
    // An authorization identity other than the user fails like a wrong password.
    let (user, pass) = sasl::plain(response).unwrap_or_default();
    finish(s, tag, &user, &pass).await
}

fn finish_with<S: Stream>(s: &mut Session<S>, status: Status<'static>) {
    if let Err(status) = s.server.authenticate_finish(status) {
        s.server.enqueue_status(status);
    }
}
