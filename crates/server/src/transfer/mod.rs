//! `twinmail import ...` and `twinmail export ...`: moving mail between an account and a
//! Maildir++ or an mbox file. Everything goes through the store's public API, so an
//! import is logged and mirrors to the twin like any other change. One message is in
//! memory at a time.

mod maildir;
mod mbox;

use std::path::PathBuf;

use anyhow::{Context, Result, anyhow};
use clap::Subcommand;
use twinmail_store::{Account, Mailbox, Store};

/// `twinmail import ...`
#[derive(Debug, Subcommand)]
pub enum ImportCmd {
    /// Import a Maildir++ (cur/ new/ tmp/ at the top are INBOX, `.Name` and
    /// `.Parent.Child` directories are folders, named in modified UTF-7).
    Maildir {
        /// The Maildir's top directory.
        path: PathBuf,
        /// The account to import into.
        #[arg(long)]
        user: String,
    },
    /// Import an mbox file (mboxrd or mboxo) into one folder.
    Mbox {
        /// The mbox file.
        path: PathBuf,
        /// The account to import into.
        #[arg(long)]
        user: String,
        /// The folder to import into (created if missing).
        #[arg(long, default_value = "INBOX")]
        folder: String,
    },
}

/// `twinmail export ...`
#[derive(Debug, Subcommand)]
pub enum ExportCmd {
    /// Export every folder of an account to a new Maildir++.
    Maildir {
        /// The Maildir to create (missing or an empty directory).
        path: PathBuf,
        /// The account to export.
        #[arg(long)]
        user: String,
    },
    /// Export one folder to a new mbox file (mboxrd).
    Mbox {
        /// The mbox file to create (must not exist).
        path: PathBuf,
        /// The account to export.
        #[arg(long)]
        user: String,
        /// The folder to export.
        #[arg(long, default_value = "INBOX")]
        folder: String,
    },
}

/// What an import or export moved, for the summary line.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    /// Messages imported or exported.
    pub messages: u64,
    /// Folders imported into or exported from.
    pub folders: u64,
    /// Entries an import left out (symbolic links, FIFOs, devices), each named on
    /// standard error as it was met.
    pub skipped: u64,
}

impl ImportCmd {
    /// The account imported into.
    pub fn user(&self) -> &str {
        match self {
            ImportCmd::Maildir { user, .. } | ImportCmd::Mbox { user, .. } => user,
        }
    }
}

pub async fn import(store: &Store, cmd: ImportCmd) -> Result<()> {
    let (tally, user) = match cmd {
        ImportCmd::Maildir { path, user } => {
            let account = account(store, &user).await?;
            let t = maildir::import(store, &account, &path)
                .await
                .with_context(|| format!("importing Maildir {}", path.display()))?;
            (t, user)
        }
        ImportCmd::Mbox { path, user, folder } => {
            let account = account(store, &user).await?;
            let t = mbox::import(store, &account, &path, &folder)
                .await
                .with_context(|| format!("importing mbox {}", path.display()))?;
            (t, user)
        }
    };
    println!(
        "imported {} messages into {} folders for {user}{}",
        tally.messages,
        tally.folders,
        match tally.skipped {
            0 => String::new(),
            n => format!("; skipped {n} symbolic links or special files (named above)"),
        }
    );
    Ok(())
}

pub async fn export(store: &Store, cmd: ExportCmd) -> Result<()> {
    let (tally, user) = match cmd {
        ExportCmd::Maildir { path, user } => {
            let account = account(store, &user).await?;
            let t = maildir::export(store, &account, &path)
                .await
                .with_context(|| format!("exporting to Maildir {}", path.display()))?;
            (t, user)
        }
        ExportCmd::Mbox { path, user, folder } => {
            let account = account(store, &user).await?;
            let t = mbox::export(store, &account, &path, &folder)
                .await
                .with_context(|| format!("exporting to mbox {}", path.display()))?;
            (t, user)
        }
    };
    println!(
        "exported {} messages from {} folders for {user}",
        tally.messages, tally.folders
    );
    Ok(())
}

/// The account named `user`, or a clear error.
async fn account(store: &Store, user: &str) -> Result<Account> {
    store
        .account(user)
        .await?
        .ok_or_else(|| anyhow!("no account {user:?}"))
}

/// The folder `name` of the account, created (with its parents) when missing.
async fn folder(store: &Store, account: &Account, name: &str) -> Result<Mailbox> {
    let name =
        twinmail_store::names::mailbox(name).with_context(|| format!("folder name {name:?}"))?;
    if let Some(m) = store.mailbox(account.id, &name).await? {
        return Ok(m);
    }
    store
        .create_mailbox(account.id, &name)
        .await
        .with_context(|| format!("creating folder {name:?}"))
}

/// An existing folder of the account, or a clear error.
async fn existing_folder(store: &Store, account: &Account, name: &str) -> Result<Mailbox> {
    store
        .mailbox(account.id, name)
        .await?
        .ok_or_else(|| anyhow!("{} has no folder {name:?}", account.name))
}

/// A message's bytes from the store; a missing blob means a damaged store.
async fn bytes_of(store: &Store, m: &twinmail_store::Message) -> Result<Vec<u8>> {
    store
        .blob(&m.blob)
        .await?
        .ok_or_else(|| anyhow!("message {} has no bytes in the store", m.guid))
}
