//! `twinmail serve`: opens the store, prepares TLS, starts the listeners and runs until
//! SIGTERM or SIGINT, then shuts down gracefully (in-flight writes finish first).

use std::process::ExitCode;

use anyhow::{Context, Result};
use tokio::signal::unix::{SignalKind, signal};

use crate::{EXIT_CONFIG, config::Config};

pub async fn serve(config: Config) -> Result<ExitCode> {
    // TLS first: a bad certificate is a config problem and must stop us before anything
    // is opened or bound.
    let _tls = match crate::tls::server_config(&config) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("twinmail: {e:#}; nothing started");
            return Ok(ExitCode::from(EXIT_CONFIG));
        }
    };
    let store = twinmail_store::Store::open(config.store_options())
        .await
        .with_context(|| format!("opening the store {}", config.database().display()))?;
    tracing::info!(
        node = %config.node.id,
        database = %config.database().display(),
        "twinmail ready"
    );
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: shutting down"),
    }
    store.close().await;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}
