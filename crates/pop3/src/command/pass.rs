//! PASS (RFC 1939 §7): the password for the name given to USER.

use twinmail_net::{Stop, Stream};

use crate::{
    command::{login::login, user::PLAINTEXT},
    session::{Flow, Session, State},
};

pub async fn pass<S: Stream>(s: &mut Session<S>, password: &str) -> Result<Flow, Stop> {
    if !s.may_login() {
        s.fail(PLAINTEXT).await;
        return Ok(Flow::Continue);
    }
    let State::Authorization { user: Some(user) } = &s.state else {
        s.fail("-ERR USER first").await;
        return Ok(Flow::Continue);
    };
    let user = user.clone();
    login(s, &user, password).await
}
