//! `twinmail sieve ...`: an account's Sieve scripts (stored in the store, so they mirror
//! to the twin). Every script is parsed before it is stored: a script with an error is
//! refused with its line and column, as ManageSieve's PUTSCRIPT does.

use std::{io::Read, path::PathBuf};

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use twinmail_store::Store;

/// `twinmail sieve ...`
#[derive(Debug, Subcommand)]
pub enum SieveCmd {
    /// Store a script for USER (from FILE, or standard input), after checking it.
    Put {
        /// The account.
        user: String,
        /// The script's name.
        name: String,
        /// The script file; none: standard input.
        file: Option<PathBuf>,
    },
    /// Print a script.
    Get {
        /// The account.
        user: String,
        /// The script's name.
        name: String,
    },
    /// List USER's scripts; the active one is marked.
    List {
        /// The account.
        user: String,
    },
    /// Make NAME the script that runs on delivery; without NAME, none runs.
    Activate {
        /// The account.
        user: String,
        /// The script's name.
        name: Option<String>,
    },
    /// Delete a script (not the active one).
    Delete {
        /// The account.
        user: String,
        /// The script's name.
        name: String,
    },
    /// Check a script file without storing it: "ok", or each error with its line.
    Check {
        /// The script file; none: standard input.
        file: Option<PathBuf>,
    },
}

/// A script from a file, or standard input.
pub fn read(file: Option<&PathBuf>) -> Result<String> {
    match file {
        Some(f) => std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display())),
        None => {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s)?;
            Ok(s)
        }
    }
}

/// Parses a script as delivery will; the error as a line for people.
pub fn check(text: &str) -> Result<()> {
    match twinmail_sieve::Script::parse(text, &twinmail_sieve::Limits::default()) {
        Ok(_) => Ok(()),
        Err(e) => bail!("{e}"),
    }
}

pub async fn sieve(store: &Store, cmd: SieveCmd) -> Result<()> {
    match cmd {
        SieveCmd::Put { user, name, file } => {
            let text = read(file.as_ref())?;
            check(&text)?;
            store.sieve_put(&user, &name, &text).await?;
            println!("stored {name} for {user}");
        }
        SieveCmd::Get { user, name } => match store.sieve_get(&user, &name).await? {
            Some(text) => print!("{text}"),
            None => bail!("{user} has no script {name}"),
        },
        SieveCmd::List { user } => {
            for (name, active) in store.sieve_list(&user).await? {
                println!("{name}{}", if active { " (active)" } else { "" });
            }
        }
        SieveCmd::Activate { user, name } => {
            store.sieve_activate(&user, name.as_deref()).await?;
            match name {
                Some(n) => println!("{n} is {user}'s active script"),
                None => println!("no script runs for {user}"),
            }
        }
        SieveCmd::Delete { user, name } => {
            store.sieve_delete(&user, &name).await?;
            println!("deleted {name}");
        }
        SieveCmd::Check { file } => {
            check(&read(file.as_ref())?)?;
            println!("ok");
        }
    }
    Ok(())
}
