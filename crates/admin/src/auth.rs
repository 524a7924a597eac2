//! HTTP basic authentication over TLS. The password is checked against the argon2id hash
//! from the config; a header that passed is remembered (by its SHA-256), so argon2 runs
//! once per login rather than once per request, and wrong guesses cost the full hash.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
};

use axum::{
    extract::{Request, State},
    http::{StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use base64::Engine;
use sha2::Digest;

use crate::App;

/// Headers that passed.
#[derive(Default)]
pub(crate) struct Cache(Mutex<HashSet<[u8; 32]>>);

/// Most remembered logins (a few admins, a few browsers).
const CACHE_MAX: usize = 64;

fn refuse() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(
            header::WWW_AUTHENTICATE,
            "Basic realm=\"twinmail\", charset=\"UTF-8\"",
        )],
        "authentication required",
    )
        .into_response()
}

/// Lets a request through only with the admin's credentials.
pub(crate) async fn require(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let Some(value) = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return refuse();
    };
    let key: [u8; 32] = sha2::Sha256::digest(value.as_bytes()).into();
    let known = app
        .auth_cache
        .0
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .contains(&key);
    if !known {
        let Some((user, password)) = value
            .strip_prefix("Basic ")
            .and_then(|b| {
                base64::engine::general_purpose::STANDARD
                    .decode(b.trim())
                    .ok()
            })
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| {
                s.split_once(':')
                    .map(|(u, p)| (u.to_string(), p.to_string()))
            })
        else {
            return refuse();
        };
        let s = &app.settings;
        let ok = app.store.verify_password(&password, &s.password_hash).await;
        if !ok || user != s.user {
            tracing::warn!(user = %user, "admin: failed login");
            return refuse();
        }
        let mut cache = app.auth_cache.0.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= CACHE_MAX {
            cache.clear();
        }
        cache.insert(key);
    }
    next.run(req).await
}
