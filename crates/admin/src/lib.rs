//! The admin web page of one twin, on its own TLS listener behind HTTP basic
//! authentication: a server-rendered status page (no JavaScript, refreshing itself), the
//! same data as JSON at `/api/status`, and Prometheus text at `/metrics`. It reads the
//! store's counters and state and the protocols' counters; it changes nothing. The
//! [`Monitor`] samples every ten seconds whether the page is served or not, and leaves the
//! latest status in a file that `twinmail status` prints.
#![forbid(unsafe_code)]

mod auth;
mod autoconfig;
mod metrics;
mod page;
mod status;
mod tls;

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Instant};

use axum::{
    Router,
    extract::State,
    http::header,
    middleware,
    response::{Html, IntoResponse, Response},
    routing::get,
};
use tokio::{net::TcpListener, sync::watch};
use tokio_rustls::TlsAcceptor;
use twinmail_store::Store;

pub use autoconfig::{AutoconfigSettings, MailServer, default_server, run_autoconfig};
pub use status::{
    Audit, FilterCounts, History, In, Listener, Mirror, Out, Protocol, RecentReject, Sample, Status,
};

/// What the admin page needs to know about the server it shows.
#[derive(Clone)]
pub struct AdminSettings {
    /// The user name of the admin login.
    pub user: String,
    /// The argon2id PHC string of the admin password.
    pub password_hash: String,
    /// This node's id.
    pub node: String,
    /// "async" or "sync", or empty for a server without a twin.
    pub mirror_mode: String,
    /// Every listener of the server: (service, address).
    pub listeners: Vec<(String, SocketAddr)>,
    /// When the TLS certificate every listener presents expires (Unix seconds).
    pub cert_expires: Option<i64>,
    /// True when that certificate is the self-signed one twinmail generated.
    pub cert_generated: bool,
    /// Each protocol's limits and counters: ("smtp", ...), ("imap", ...), ("pop3", ...).
    pub protocols: Vec<(String, Arc<twinmail_net::Limits>)>,
    /// Where the sampler leaves the latest status as JSON, for `twinmail status`.
    pub status_file: Option<PathBuf>,
    /// The outbound runner's counters, when it runs.
    pub outbound: Option<Arc<twinmail_outbound::Stats>>,
    /// Reads the inbound filters' counters (twinmail-filter's, which this crate does not
    /// import); `None` for a server built without them.
    pub filters: Option<FilterSource>,
}

/// Reads each inbound filter's counters now, in pipeline order.
pub type FilterSource = Arc<dyn Fn() -> Vec<FilterCounts> + Send + Sync>;

/// The status sampler of a running server; the admin page serves what it gathers.
#[derive(Clone)]
pub struct Monitor(Arc<App>);

impl Monitor {
    /// Starts sampling (every ten seconds, for as long as the runtime lives).
    pub fn start(settings: AdminSettings, store: Store) -> Monitor {
        let app = Arc::new(App {
            settings,
            store,
            started: Instant::now(),
            history: Arc::default(),
            auth_cache: auth::Cache::default(),
            auth_gate: auth::Gate::default(),
        });
        tokio::spawn(status::sample(app.clone()));
        Monitor(app)
    }
}

/// Shared by the handlers.
pub(crate) struct App {
    /// The settings.
    settings: AdminSettings,
    /// The store whose counters are shown.
    store: Store,
    /// When the server started.
    started: Instant,
    /// Samples of the last hour, for the plot.
    history: Arc<History>,
    /// Logins that passed (SHA-256 of the Authorization header), so argon2 runs once.
    auth_cache: auth::Cache,
    /// The admin page's own slot and failure delays for password checks.
    auth_gate: auth::Gate,
}

type Shared = State<Arc<App>>;

/// Serves the admin page on `listener` (TLS with `tls`) until `shutdown`.
pub async fn run(
    listener: TcpListener,
    tls: TlsAcceptor,
    monitor: Monitor,
    mut shutdown: watch::Receiver<bool>,
) {
    let app = monitor.0;
    let router = Router::new()
        .route("/", get(page))
        .route("/api/status", get(api))
        .route("/metrics", get(metrics))
        .layer(middleware::from_fn_with_state(app.clone(), auth::require))
        .with_state(app);
    let listener = tls::TlsListener::new(listener, tls);
    // The peer's address reaches the auth layer (failure delays per address).
    let serve = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<tls::Peer>(),
    )
    .with_graceful_shutdown(async move {
        let _ = shutdown.changed().await;
    });
    if let Err(e) = serve.await {
        tracing::error!(error = %e, "admin listener failed");
    }
}

async fn page(State(app): Shared) -> Response {
    match Status::gather(&app).await {
        Ok(s) => Html(page::render(&s)).into_response(),
        Err(e) => failed(e),
    }
}

async fn api(State(app): Shared) -> Response {
    match Status::gather(&app).await {
        Ok(s) => (
            [(header::CONTENT_TYPE, "application/json")],
            serde_json::to_string_pretty(&s).unwrap_or_default(),
        )
            .into_response(),
        Err(e) => failed(e),
    }
}

async fn metrics(State(app): Shared) -> Response {
    match Status::gather(&app).await {
        Ok(s) => (
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            metrics::render(&s),
        )
            .into_response(),
        Err(e) => failed(e),
    }
}

fn failed(e: twinmail_store::StoreError) -> Response {
    tracing::error!(error = %e, "admin: cannot read the status");
    (
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        "the store cannot be read now",
    )
        .into_response()
}
