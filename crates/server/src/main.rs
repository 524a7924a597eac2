//! `twinmail`: the mail server binary. Parses the command line, loads the config, and
//! wires the store and the listeners together.
#![forbid(unsafe_code)]

mod admin;
mod config;
mod serve;
mod tls;

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
    /// Check or print configuration.
    #[command(subcommand)]
    Config(ConfigCmd),
}

#[derive(Debug, Subcommand)]
enum ConfigCmd {
    /// Report every problem in the config file (exit status 2 if any).
    Check,
    /// Print a commented config with every key at its default.
    Example,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Config(ConfigCmd::Example) = cli.command {
        print!("{}", config::example());
        return ExitCode::SUCCESS;
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
        Command::User(c) => admin::user(&store, c).await,
        Command::Domain(c) => admin::domain(&store, c).await,
        Command::Alias(c) => admin::alias(&store, c).await,
        Command::Serve | Command::Config(_) => Ok(()),
    };
    store.close().await;
    result.map(|()| ExitCode::SUCCESS)
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
