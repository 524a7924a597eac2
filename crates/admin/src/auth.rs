//! HTTP basic authentication over TLS. The password is checked against the argon2id hash
//! from the config; a header that passed is remembered (by its SHA-256), so argon2 runs
//! once per login rather than once per request, and wrong guesses cost the full hash.
//! Guesses go through the admin page's own gate, not the mail protocols' login queue:
//! one check at a time, a few waiting, more refused with 503 at once, and each address
//! waits out the delay its recent failures earned before its next check.

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

/// The admin page's own slot for password checks, apart from the mail logins'.
pub(crate) struct Gate {
    /// One check at a time.
    slot: tokio::sync::Semaphore,
    /// Checks waiting for the slot or holding it; past [`GATE_QUEUE`], refused.
    queued: std::sync::atomic::AtomicUsize,
    /// Failed logins per address group: the delay before their next check.
    failures: Arc<twinmail_net::Limits>,
}

impl Default for Gate {
    fn default() -> Gate {
        Gate {
            slot: tokio::sync::Semaphore::new(1),
            queued: Default::default(),
            failures: Arc::default(),
        }
    }
}

impl Gate {
    /// A place among the checks waiting or running, if there is one; given back when
    /// dropped (also when the client goes away mid-check).
    fn enter(&self) -> Option<Queued<'_>> {
        use std::sync::atomic::Ordering;
        if self.queued.fetch_add(1, Ordering::AcqRel) >= GATE_QUEUE {
            self.queued.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(Queued(self))
    }
}

/// A place in the admin gate's queue.
struct Queued<'a>(
    /// The gate whose count it is part of.
    &'a Gate,
);

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0
            .queued
            .fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// Most admin password checks waiting or running at once.
const GATE_QUEUE: usize = 4;
/// Delay per recent failed admin login from one address (grows, capped at ten).
const FAILURE_DELAY: std::time::Duration = std::time::Duration::from_secs(1);

fn busy() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, "5")],
        "too many logins at once, try again",
    )
        .into_response()
}

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
pub(crate) async fn require(
    State(app): State<Arc<App>>,
    axum::extract::ConnectInfo(crate::tls::Peer(peer)): axum::extract::ConnectInfo<
        crate::tls::Peer,
    >,
    req: Request,
    next: Next,
) -> Response {
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
        let gate = &app.auth_gate;
        let Some(_queued) = gate.enter() else {
            return busy();
        };
        tokio::time::sleep(gate.failures.auth_delay(peer.ip(), FAILURE_DELAY)).await;
        let ok = {
            let _slot = gate.slot.acquire().await;
            app.store.verify_password(&password, &s.password_hash).await
        };
        if !ok || user != s.user {
            gate.failures.auth_failed(peer.ip(), FAILURE_DELAY);
            tracing::warn!(user_hash = %twinmail_net::name_hash(&user), "admin: failed login");
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
