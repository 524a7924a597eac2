//! `twinmail serve`: opens the store, prepares TLS, starts the listeners and runs until
//! SIGTERM or SIGINT, then shuts down gracefully (in-flight writes finish first).

use std::process::ExitCode;

use anyhow::{Context, Result};
use tokio::{
    net::TcpListener,
    signal::unix::{SignalKind, signal},
    sync::watch,
    task::JoinSet,
};
use tokio_rustls::TlsAcceptor;
use twinmail_smtp::{Kind, Pipeline, Smtp};

use crate::{EXIT_CONFIG, config::Config};

pub async fn serve(config: Config) -> Result<ExitCode> {
    // TLS first: a bad certificate is a config problem and must stop us before anything
    // is opened or bound.
    let tls = match crate::tls::server_config(&config) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("twinmail: {e:#}; nothing started");
            return Ok(ExitCode::from(EXIT_CONFIG));
        }
    };
    // Bind every listener before serving any, so a taken port stops us cleanly.
    let c = &config.smtp;
    let mut listeners = Vec::new();
    for (key, kind, addrs) in [
        ("smtp.listen", Kind::Mx, &c.listen),
        (
            "smtp.submission_listen",
            Kind::Submission,
            &c.submission_listen,
        ),
        (
            "smtp.submissions_listen",
            Kind::Submissions,
            &c.submissions_listen,
        ),
    ] {
        for addr in addrs {
            let l = TcpListener::bind(addr)
                .await
                .with_context(|| format!("{key}: cannot listen on {addr}"))?;
            listeners.push((kind, l));
        }
    }
    let store = twinmail_store::Store::open(config.store_options())
        .await
        .with_context(|| format!("opening the store {}", config.database().display()))?;
    let smtp = Smtp::new(
        c.settings(&config.node.hostname),
        store.clone(),
        Some(TlsAcceptor::from(tls)),
        Pipeline::default(),
    );
    let (stop, shutdown) = watch::channel(false);
    let mut services = JoinSet::new();
    for (kind, l) in listeners {
        let addr = l.local_addr()?;
        tracing::info!(service = kind.name(), %addr, "listening");
        services.spawn(twinmail_smtp::run(l, kind, smtp.clone(), shutdown.clone()));
    }
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
    let _ = stop.send(true);
    while services.join_next().await.is_some() {}
    store.close().await;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}
