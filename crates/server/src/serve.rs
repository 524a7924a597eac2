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
use twinmail_imap::{Imap, Kind as ImapKind};
use twinmail_managesieve::ManageSieve;
use twinmail_pop3::{Kind as Pop3Kind, Pop3};
use twinmail_smtp::{Kind as SmtpKind, Smtp};

/// Received fields a message may carry before it is taken for a mail loop (RFC 5321 §6.3).
const MAX_HOPS: usize = 50;

use crate::{EXIT_CONFIG, config::Config};

pub async fn serve(config: Config) -> Result<ExitCode> {
    twinmail_net::set_policy(config.limits.policy());
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
    let (c, p, i) = (&config.smtp, &config.pop3, &config.imap);
    let mut listeners = Vec::new();
    for (key, service, addrs) in [
        ("smtp.listen", Service::Smtp(SmtpKind::Mx), &c.listen),
        (
            "smtp.submission_listen",
            Service::Smtp(SmtpKind::Submission),
            &c.submission_listen,
        ),
        (
            "smtp.submissions_listen",
            Service::Smtp(SmtpKind::Submissions),
            &c.submissions_listen,
        ),
        ("imap.listen", Service::Imap(ImapKind::Imap), &i.listen),
        (
            "imap.tls_listen",
            Service::Imap(ImapKind::Imaps),
            &i.tls_listen,
        ),
        ("pop3.listen", Service::Pop3(Pop3Kind::Pop3), &p.listen),
        (
            "pop3.tls_listen",
            Service::Pop3(Pop3Kind::Pop3s),
            &p.tls_listen,
        ),
        (
            "managesieve.listen",
            Service::ManageSieve,
            &config.managesieve.listen,
        ),
    ] {
        for addr in addrs {
            let l = TcpListener::bind(addr)
                .await
                .with_context(|| format!("{key}: cannot listen on {addr}"))?;
            listeners.push((service, l));
        }
    }
    let mirror_listener = match (config.mirror_settings(), config.mirror.listen) {
        (Some(_), Some(addr)) => Some(
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("mirror.listen: cannot listen on {addr}"))?,
        ),
        _ => None,
    };
    let admin_listener = match config.admin.listen {
        Some(addr) if !config.admin.password_hash.is_empty() => Some(
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("admin.listen: cannot listen on {addr}"))?,
        ),
        Some(_) => {
            tracing::warn!("admin.password_hash is empty: the admin page is off");
            None
        }
        None => None,
    };
    let mut autoconfig_listeners = Vec::new();
    for (key, tls, addrs) in [
        ("autoconfig.listen", false, &config.autoconfig.listen),
        ("autoconfig.tls_listen", true, &config.autoconfig.tls_listen),
    ] {
        for addr in addrs {
            let l = TcpListener::bind(addr)
                .await
                .with_context(|| format!("{key}: cannot listen on {addr}"))?;
            autoconfig_listeners.push((tls, l));
        }
    }
    let store = twinmail_store::Store::open(config.store_options())
        .await
        .with_context(|| format!("opening the store {}", config.database().display()))?;
    make_private(&config);
    let acceptor = TlsAcceptor::from(tls.config);
    let outbound = match config.outbound.settings(&config) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("twinmail: {e:#}; nothing started");
            return Ok(ExitCode::from(EXIT_CONFIG));
        }
    };
    let mut smtp_settings = c.settings(&config.node.hostname, &config.limits);
    smtp_settings.outbound = config.outbound.enabled;
    // The inbound filters. Sender authentication looks at port 25 only (submission's
    // senders logged in); clamd and rspamd check every message delivered here.
    let filters = crate::filters::build(&config.filter, &config.node.hostname)?;
    let srs = config.srs_key().map_err(anyhow::Error::msg)?;
    let smtp = Smtp::new(
        smtp_settings,
        store.clone(),
        Some(acceptor.clone()),
        filters
            .pipeline(MAX_HOPS)
            .with_srs(std::sync::Arc::new(twinmail_smtp::srs::Srs::new(&srs))),
    );
    let pop3 = Pop3::new(p.settings(), store.clone(), Some(acceptor.clone()));
    let managesieve = ManageSieve::new(
        config.managesieve.settings(),
        store.clone(),
        Some(acceptor.clone()),
    );
    let imap = Imap::new(
        i.settings(&config.limits),
        store.clone(),
        Some(acceptor.clone()),
    );
    let (stop, shutdown) = watch::channel(false);
    let mut services = JoinSet::new();
    let mut shown: Vec<(String, std::net::SocketAddr)> = Vec::new();
    for (service, l) in &listeners {
        shown.push((service.name().to_string(), l.local_addr()?));
    }
    if let (Some(mut settings), Some(l)) = (config.mirror_settings(), mirror_listener) {
        // Shown when dialing, so that a twin pinning this twin's certificate lets it in.
        settings.secret = settings.secret.with_identity(twinmail_mirror::Identity {
            certs: tls.certs.clone(),
            key: tls.key.clone_key(),
        });
        tracing::info!(addr = %l.local_addr()?, twin = %settings.twin_id, "mirror listening");
        shown.push(("mirror".into(), l.local_addr()?));
        // TLS 1.3 only on the mirror port: the twin's dialer speaks nothing else.
        let mirror = twinmail_mirror::Mirror::new(
            settings,
            store.clone(),
            TlsAcceptor::from(tls.mirror.clone()),
        );
        services.spawn(mirror.run(l, shutdown.clone()));
    }
    let outbound_stats = std::sync::Arc::new(twinmail_outbound::Stats::default());
    {
        // The queue runner delivers what is queued here (and, past the lease, the
        // twin's); it runs even with `enabled = false`, for what is queued already.
        let dns: std::sync::Arc<dyn twinmail_outbound::Dns> =
            match twinmail_outbound::Hickory::from_system() {
                Ok(h) => std::sync::Arc::new(h),
                Err(e) => {
                    tracing::warn!(error = %e, "outbound: no system resolver; MX lookups will fail until it is fixed");
                    std::sync::Arc::new(twinmail_outbound::StaticDns::default())
                }
            };
        let runner =
            twinmail_outbound::Runner::new(store.clone(), dns, outbound, outbound_stats.clone());
        let mut shutdown = shutdown.clone();
        services.spawn(async move {
            tokio::select! {
                _ = runner.run() => {}
                _ = shutdown.wait_for(|s| *s) => {}
            }
        });
    }
    let admin_addr = admin_listener
        .as_ref()
        .map(|l| l.local_addr())
        .transpose()?;
    if let Some(addr) = admin_addr {
        tracing::info!(service = "admin", %addr, "listening");
        shown.push(("admin".into(), addr));
    }
    for (tls, l) in autoconfig_listeners {
        let service = if tls { "autoconfig-tls" } else { "autoconfig" };
        let addr = l.local_addr()?;
        tracing::info!(service, %addr, "listening");
        shown.push((service.into(), addr));
        services.spawn(twinmail_admin::run_autoconfig(
            l,
            tls.then(|| acceptor.clone()),
            config.autoconfig_settings(),
            store.clone(),
            shutdown.clone(),
        ));
    }
    let monitor = twinmail_admin::Monitor::start(
        twinmail_admin::AdminSettings {
            user: config.admin.user.clone(),
            password_hash: config.admin.password_hash.clone(),
            node: config.node.id.clone(),
            mirror_mode: if config.mirror.twin_id.is_empty() {
                String::new()
            } else {
                config.mirror.mode.clone()
            },
            listeners: shown,
            cert_expires: tls.expires,
            cert_generated: tls.generated,
            protocols: vec![
                ("smtp".into(), smtp.limits.clone()),
                ("imap".into(), imap.limits.clone()),
                ("pop3".into(), pop3.limits.clone()),
                ("managesieve".into(), managesieve.limits.clone()),
            ],
            status_file: Some(config.status_file()),
            outbound: Some(outbound_stats.clone()),
            filters: Some(crate::filters::source(&filters)),
        },
        store.clone(),
    );
    if let Some(l) = admin_listener {
        services.spawn(twinmail_admin::run(l, acceptor, monitor, shutdown.clone()));
    }
    for (service, l) in listeners {
        let addr = l.local_addr()?;
        tracing::info!(service = service.name(), %addr, "listening");
        match service {
            Service::Smtp(kind) => {
                services.spawn(twinmail_smtp::run(l, kind, smtp.clone(), shutdown.clone()))
            }
            Service::Pop3(kind) => {
                services.spawn(twinmail_pop3::run(l, kind, pop3.clone(), shutdown.clone()))
            }
            Service::Imap(kind) => {
                services.spawn(twinmail_imap::run(l, kind, imap.clone(), shutdown.clone()))
            }
            Service::ManageSieve => services.spawn(twinmail_managesieve::run(
                l,
                managesieve.clone(),
                shutdown.clone(),
            )),
        };
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

/// Takes group and other permissions off what an older twinmail (or another umask) left
/// readable: the data directory (0700), the database with its WAL and SHM files and the
/// status file (0600). New files are private by the umask `main` sets.
fn make_private(config: &Config) {
    use std::os::unix::fs::PermissionsExt;
    let db = config.database();
    let mut files = vec![config.status_file()];
    for suffix in ["", "-wal", "-shm"] {
        let mut name = db.clone().into_os_string();
        name.push(suffix);
        files.push(name.into());
    }
    let dirs = [config.data_dir()];
    for (paths, mode) in [(&dirs[..], 0o700), (&files[..], 0o600)] {
        for path in paths {
            let Ok(meta) = std::fs::symlink_metadata(path) else {
                continue; // not there (yet): made private by the umask
            };
            if meta.file_type().is_symlink() || meta.permissions().mode() & 0o077 == 0 {
                continue;
            }
            match std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)) {
                Ok(()) => {
                    tracing::info!(path = %path.display(), mode = format!("{mode:o}"), "made private")
                }
                Err(e) => tracing::warn!(path = %path.display(), error = %e, "cannot make private"),
            }
        }
    }
}

/// A listener's protocol and flavour.
#[derive(Clone, Copy)]
enum Service {
    Smtp(SmtpKind),
    Pop3(Pop3Kind),
    Imap(ImapKind),
    ManageSieve,
}

impl Service {
    fn name(self) -> &'static str {
        match self {
            Service::Smtp(k) => k.name(),
            Service::Pop3(k) => k.name(),
            Service::Imap(k) => k.name(),
            Service::ManageSieve => "managesieve",
        }
    }
}
