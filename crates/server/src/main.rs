//! `twinmail`: the mail server binary. Parses the command line, loads the config, and
//! wires the store and the listeners together.
#![forbid(unsafe_code)]

mod admin;
mod config;
mod filters;
mod human;
mod outbound;
mod pair;
mod serve;
mod sieve_cmd;
mod tls;
mod transfer;

use std::{path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};

use crate::config::Config;

/// Exit status for a bad config or bad usage: nothing was started.
const EXIT_CONFIG: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "twinmail",
    version,
    about = "A mail server that runs as a pair of mirrored twins"
)]
struct Cli {
    /// The config file (TOML). Without one, twinmail runs on embedded defaults with its
    /// data in ./twinmail-data.
    #[arg(long, short, global = true, env = "TWINMAIL_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server until SIGTERM or SIGINT.
    Serve,
    /// Manage accounts.
    #[command(subcommand)]
    User(admin::UserCmd),
    /// Manage local domains.
    #[command(subcommand)]
    Domain(admin::DomainCmd),
    /// Manage aliases and catch-alls.
    #[command(subcommand)]
    Alias(admin::AliasCmd),
    /// The outbound queue: list, show, retry, hold, release or drop messages.
    #[command(subcommand)]
    Queue(outbound::QueueCmd),
    /// Sieve scripts: what runs on delivery for an account.
    #[command(subcommand)]
    Sieve(sieve_cmd::SieveCmd),
    /// DKIM signing keys for outbound mail.
    #[command(subcommand)]
    Dkim(outbound::DkimCmd),
    /// Import mail from a Maildir++ or an mbox file.
    #[command(subcommand)]
    Import(transfer::ImportCmd),
    /// Export mail to a new Maildir++ or mbox file.
    #[command(subcommand)]
    Export(transfer::ExportCmd),
    /// Check or print configuration.
    #[command(subcommand)]
    Config(ConfigCmd),
    /// This twin's status: version, accounts, listeners and the mirror lines.
    Status,
    /// Print an argon2id hash of a password read from standard input (for
    /// admin.password_hash).
    HashPassword,
    /// The mirror: status and verification against the twin.
    #[command(subcommand)]
    Mirror(MirrorCmd),
    /// Certificates: what to pin.
    #[command(subcommand)]
    Cert(CertCmd),
    /// Run a local twin pair (configs, certificates, secret and a demo account are made
    /// in DIR on first start); Ctrl-C stops both.
    Pair {
        /// Directory for both twins' configs and data.
        #[arg(long, default_value = "twinmail-pair")]
        dir: PathBuf,
        /// First of the 20 loopback ports the pair uses; 0 takes any free ones (written
        /// into the configs, so later starts keep them).
        #[arg(long, default_value_t = 2600)]
        base_port: u16,
    },
}

#[derive(Debug, Subcommand)]
enum MirrorCmd {
    /// Print the mirror's counters and state.
    Status,
    /// Compare this twin with its twin; list every difference (exit status 1 if any).
    Verify,
    /// Fetch a complete copy of the twin's data again: the link restarts and the twin
    /// sends a snapshot, which brings every folder, message and flag here level with the
    /// twin's (messages only this twin holds stay). Works on a running server, or at its
    /// next start.
    Resync,
    /// Merge a split longer than `store.tombstone_days` anyway (refused otherwise: mail
    /// expunged early in it could come back). Run it on both twins.
    MergeLongSplit,
}

#[derive(Debug, Subcommand)]
enum CertCmd {
    /// Print the SHA-256 of the public key (SPKI) of the first certificate in a PEM
    /// file, for the twin's mirror.twin_cert_sha256. A twin's generated certificate is
    /// DATA_DIR/tls/cert.pem.
    Fingerprint {
        /// The PEM file (a certificate chain, leaf first).
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCmd {
    /// Report every problem in the config file (exit status 2 if any).
    Check,
    /// Print a commented config with every key at its default.
    Example,
}

fn main() -> ExitCode {
    // Everything twinmail creates (data directory, database with its WAL and SHM, status
    // file, certificates, a pair's files) is for its own user alone: mail, password
    // hashes and secrets. Set before any file is made, so no window shows them.
    rustix::process::umask(rustix::fs::Mode::RWXG | rustix::fs::Mode::RWXO);
    let cli = Cli::parse();
    if let Command::Config(ConfigCmd::Example) = cli.command {
        print!("{}", config::example());
        return ExitCode::SUCCESS;
    }
    if let Command::Cert(CertCmd::Fingerprint { file }) = &cli.command {
        return match tls::spki_fingerprint(file) {
            Ok(hex) => {
                println!("{hex}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("twinmail: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    if let Command::Sieve(sieve_cmd::SieveCmd::Check { file }) = &cli.command {
        // Checking needs no config and no store.
        return match sieve_cmd::read(file.as_ref()).and_then(|t| sieve_cmd::check(&t)) {
            Ok(()) => {
                println!("ok");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("twinmail: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    let config = match &cli.config {
        Some(path) => match Config::load(path) {
            Ok(c) => c,
            Err(problems) => {
                for p in &problems {
                    eprintln!("{p}");
                }
                eprintln!(
                    "twinmail: {} problem(s) in the config; nothing started",
                    problems.len()
                );
                return ExitCode::from(EXIT_CONFIG);
            }
        },
        None => Config::embedded(),
    };
    if let Command::Pair { dir, base_port } = &cli.command {
        return pair::run(dir, *base_port);
    }
    if let Command::Config(ConfigCmd::Check) = cli.command {
        println!("config ok");
        return ExitCode::SUCCESS;
    }
    init_logging(&config);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("twinmail: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command, config)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("twinmail: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, config: Config) -> anyhow::Result<ExitCode> {
    if let Command::Serve = command {
        return serve::serve(config).await;
    }
    let store = twinmail_store::Store::open(config.store_options()).await?;
    let result = match command {
        Command::User(c) => admin::user(&store, c).await.map(|()| ExitCode::SUCCESS),
        Command::Import(c) => {
            home_here(&store, &config, c.user()).await?;
            transfer::import(&store, c)
                .await
                .map(|()| ExitCode::SUCCESS)
        }
        Command::Export(c) => transfer::export(&store, c)
            .await
            .map(|()| ExitCode::SUCCESS),
        Command::Domain(c) => admin::domain(&store, c).await.map(|()| ExitCode::SUCCESS),
        Command::Alias(c) => admin::alias(&store, c).await.map(|()| ExitCode::SUCCESS),
        Command::Queue(c) => outbound::queue(&store, c).await.map(|()| ExitCode::SUCCESS),
        Command::Dkim(c) => outbound::dkim(&store, c).await.map(|()| ExitCode::SUCCESS),
        Command::Sieve(c) => sieve_cmd::sieve(&store, c)
            .await
            .map(|()| ExitCode::SUCCESS),
        Command::Mirror(c) => mirror_cmd(&store, &config, c).await,
        Command::Status => status(&store, &config).await,
        Command::HashPassword => {
            let password = admin::read_password("the admin")?;
            println!("{}", store.hash_password(&password).await?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve | Command::Config(_) | Command::Pair { .. } | Command::Cert(_) => {
            Ok(ExitCode::SUCCESS)
        }
    };
    store.close().await;
    result
}

/// Refuses to write an account's mail on a twin that is not its home: its UIDs are
/// assigned there (an admin command has no link to forward through).
async fn home_here(
    store: &twinmail_store::Store,
    config: &Config,
    user: &str,
) -> anyhow::Result<()> {
    let twin = &config.mirror.twin_id;
    if twin.is_empty() {
        return Ok(());
    }
    let Some(account) = store.account(user).await? else {
        return Ok(()); // the import reports the unknown account
    };
    let chosen = store.home_of(&account.name).await?;
    let home = twinmail_mirror::home_twin(&config.node.id, twin, &account.guid, chosen.as_deref());
    if home != config.node.id {
        anyhow::bail!(
            "{user} is homed on twin {home}: run the import there, where its UIDs are assigned"
        );
    }
    Ok(())
}

async fn status(store: &twinmail_store::Store, config: &Config) -> anyhow::Result<ExitCode> {
    println!(
        "twinmail {} — twin {} ({})",
        env!("CARGO_PKG_VERSION"),
        config.node.id,
        config.database().display()
    );
    println!("accounts: {}", store.accounts().await?.len());
    let (c, i, p) = (&config.smtp, &config.imap, &config.pop3);
    for (name, addrs) in [
        ("smtp", &c.listen),
        ("submission", &c.submission_listen),
        ("submissions", &c.submissions_listen),
        ("imap", &i.listen),
        ("imaps", &i.tls_listen),
        ("pop3", &p.listen),
        ("pop3s", &p.tls_listen),
        ("managesieve", &config.managesieve.listen),
    ] {
        for a in addrs {
            println!("listener {name}: {a}");
        }
    }
    for a in &config.autoconfig.listen {
        println!("autoconfig: http://{a}/mail/config-v1.1.xml");
    }
    for a in &config.autoconfig.tls_listen {
        println!("autoconfig: https://{a}/autodiscover/autodiscover.xml");
    }
    if let Some(a) = config
        .admin
        .listen
        .filter(|_| !config.admin.password_hash.is_empty())
    {
        println!("admin page: https://{a}/");
    }
    print_live(&config.status_file());
    if config.mirror.twin_id.is_empty() {
        println!("mirror: none (no twin configured)");
    } else {
        println!(
            "mirror: mode {}, twin {}",
            config.mirror.mode, config.mirror.twin_id
        );
        print_mirror(store).await?;
    }
    Ok(ExitCode::SUCCESS)
}

/// What the running server last wrote to its status file: traffic per protocol, recent
/// rejections, certificate expiry. Says so when the server is not running.
fn print_live(path: &std::path::Path) {
    let fresh = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .is_ok_and(|t| t.elapsed().is_ok_and(|e| e.as_secs() < 60));
    let status: Option<twinmail_admin::Status> = fresh
        .then(|| std::fs::read(path).ok())
        .flatten()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let Some(s) = status else {
        println!("server: not running (no fresh {})", path.display());
        return;
    };
    let now = twinmail_store::now_unix();
    println!(
        "server: up {} (since {}), busy {:.0}%",
        human::duration(s.uptime_secs),
        human::utc(now - s.uptime_secs as i64),
        s.busy_percent
    );
    if let Some(l) = s.listeners.iter().find(|l| l.cert_expires.is_some()) {
        println!(
            "TLS certificate expires {}{}",
            human::moment(l.cert_expires.unwrap_or_default(), now),
            if l.cert_generated {
                " (self-signed, generated)"
            } else {
                ""
            }
        );
    }
    println!(
        "{:<6} {:>5} {:>11} {:>8} {:>12} {:>9} {:>10} {:>9}  per min rcvd/dlvd/rej",
        "proto",
        "open",
        "connections",
        "refused",
        "auth failed",
        "received",
        "delivered",
        "rejected"
    );
    for p in &s.protocols {
        println!(
            "{:<6} {:>5} {:>11} {:>8} {:>12} {:>9} {:>10} {:>9}  {:.1}/{:.1}/{:.1}",
            p.name,
            p.open,
            p.connections,
            p.refused,
            p.auth_failures,
            p.received,
            p.delivered,
            p.rejected,
            p.received_per_min,
            p.delivered_per_min,
            p.rejected_per_min
        );
    }
    for r in s.recent_rejects.iter().take(5) {
        println!(
            "rejected {}: {} {}: {}",
            human::moment(r.at, now),
            r.protocol,
            r.command,
            r.reply
        );
    }
}

/// The mirror's status lines, with times for people.
async fn print_mirror(store: &twinmail_store::Store) -> anyhow::Result<()> {
    let status = store.mirror_status().await?.to_string();
    print!(
        "{}",
        human::mirror_lines(&status, twinmail_store::now_unix())
    );
    Ok(())
}

async fn mirror_cmd(
    store: &twinmail_store::Store,
    config: &Config,
    cmd: MirrorCmd,
) -> anyhow::Result<ExitCode> {
    match cmd {
        MirrorCmd::Status => {
            print_mirror(store).await?;
            Ok(ExitCode::SUCCESS)
        }
        MirrorCmd::Verify => {
            let Some(mut settings) = config.mirror_settings() else {
                anyhow::bail!("this server has no twin (mirror.twin_id is empty)");
            };
            // Shown to the twin as the running server shows it, for a twin that pins it.
            if let Ok(tls) = crate::tls::server_config(config) {
                settings.secret = settings.secret.with_identity(twinmail_mirror::Identity {
                    certs: tls.certs,
                    key: tls.key,
                });
            }
            let diffs = twinmail_mirror::verify(store, &settings).await?;
            for d in &diffs {
                println!("{d}");
            }
            if diffs.is_empty() {
                println!("the twins match");
                Ok(ExitCode::SUCCESS)
            } else {
                println!("{} difference(s)", diffs.len());
                Ok(ExitCode::from(1))
            }
        }
        MirrorCmd::Resync => {
            if config.mirror.twin_id.is_empty() {
                anyhow::bail!("this server has no twin (mirror.twin_id is empty)");
            }
            store.request_resync().await?;
            println!(
                "resync requested: the link to {} restarts and the twin sends a complete copy; \
                 `twinmail mirror status` shows it catching up",
                config.mirror.twin_id
            );
            Ok(ExitCode::SUCCESS)
        }
        MirrorCmd::MergeLongSplit => {
            store.allow_long_split().await?;
            println!(
                "the next link-up merges the split, however long it was; run this on both twins"
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::builder().parse(&config.log.level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    if config.log.format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}
