//! `twinmail queue ...` and `twinmail dkim ...`: the outbound queue and signing keys.
//! Both act on the store, so a running server (and the twin, through the mirror) sees
//! the change at once.

use anyhow::Result;
use clap::Subcommand;
use twinmail_store::{QueueAction, Queued, RcptState, Store, now_unix};

/// `twinmail queue ...`
#[derive(Debug, Subcommand)]
pub enum QueueCmd {
    /// One line per queued message: id, age, size, sender, recipients pending, last reply.
    List,
    /// A queued message in full: every recipient with its state and last reply.
    Show {
        /// Its id (or a unique prefix of it).
        id: String,
    },
    /// Try again now: one message, or every message.
    Retry {
        /// Its id (or a unique prefix); none: all.
        id: Option<String>,
    },
    /// Remove a message without delivering it or telling its sender.
    Drop {
        /// Its id (or a unique prefix).
        id: String,
    },
    /// Keep a message from being tried until released.
    Hold {
        /// Its id (or a unique prefix).
        id: String,
    },
    /// Let a held message be tried again on its schedule.
    Release {
        /// Its id (or a unique prefix).
        id: String,
    },
}

/// `twinmail dkim ...`
#[derive(Debug, Subcommand)]
pub enum DkimCmd {
    /// Make an Ed25519 and an RSA-2048 signing key for DOMAIN (kept in the store, so
    /// both twins sign alike) and print the DNS TXT records to publish.
    Generate {
        /// The signing domain (one of the local domains, usually).
        domain: String,
        /// The selector prefix: the keys are SELECTOR-ed and SELECTOR-rsa.
        #[arg(long, default_value = "twinmail")]
        selector: String,
    },
    /// List the signing keys (never the private halves).
    List,
}

pub async fn queue(store: &Store, cmd: QueueCmd) -> Result<()> {
    let act = |id: String, action: QueueAction| async move {
        let q = store.queue_entry(&id).await?;
        store.control_queue(q.id, action).await?;
        println!("{} {}", q.id.to_hex(), done(action));
        anyhow::Ok(())
    };
    match cmd {
        QueueCmd::List => {
            let all = store.queue_list().await?;
            for q in &all {
                println!("{}", line(q));
            }
            println!("{} message(s)", all.len());
        }
        QueueCmd::Show { id } => show(&store.queue_entry(&id).await?),
        QueueCmd::Retry { id: Some(id) } => act(id, QueueAction::Retry).await?,
        QueueCmd::Retry { id: None } => {
            let all = store.queue_list().await?;
            for q in &all {
                store.control_queue(q.id, QueueAction::Retry).await?;
            }
            println!("{} message(s) to be tried now", all.len());
        }
        QueueCmd::Drop { id } => act(id, QueueAction::Drop).await?,
        QueueCmd::Hold { id } => act(id, QueueAction::Hold).await?,
        QueueCmd::Release { id } => act(id, QueueAction::Release).await?,
    }
    Ok(())
}

fn done(action: QueueAction) -> &'static str {
    match action {
        QueueAction::Hold => "held",
        QueueAction::Release => "released",
        QueueAction::Retry => "to be tried now",
        QueueAction::Drop => "dropped",
    }
}

/// `ID  age  size  <from>  pending/all  held  last reply`
fn line(q: &Queued) -> String {
    let pending = q.pending().count();
    format!(
        "{}  {:>6}  {:>8}  <{}>  {}/{} pending{}  {}",
        &q.id.to_hex()[..16],
        crate::human::duration((now_unix() - q.created_at).max(0) as u64),
        q.size,
        q.from,
        pending,
        q.recipients.len(),
        if q.held { "  HELD" } else { "" },
        q.last_reply
    )
}

fn show(q: &Queued) {
    println!("id: {}", q.id.to_hex());
    println!("from: <{}>", q.from);
    println!("size: {} bytes", q.size);
    println!(
        "queued: {} s ago, owned by twin {}",
        now_unix() - q.created_at,
        q.owner
    );
    println!("attempts: {}", q.attempts);
    println!(
        "next attempt: {}",
        if q.held {
            "held".to_string()
        } else {
            format!("in {} s", (q.next_attempt - now_unix()).max(0))
        }
    );
    for r in &q.recipients {
        let state = match r.state {
            RcptState::Pending => "pending",
            RcptState::Delivered => "delivered",
            RcptState::Failed => "failed",
        };
        println!("  {} {state} {}", r.rcpt, r.reply);
    }
}

pub async fn dkim(store: &Store, cmd: DkimCmd) -> Result<()> {
    match cmd {
        DkimCmd::Generate { domain, selector } => {
            for (algorithm, suffix) in [
                (twinmail_outbound::dkim::ED25519, "ed"),
                (twinmail_outbound::dkim::RSA, "rsa"),
            ] {
                let (private, txt) =
                    twinmail_outbound::dkim::generate(algorithm).map_err(anyhow::Error::msg)?;
                let name = format!("{selector}-{suffix}");
                store
                    .add_dkim_key(&domain, &name, algorithm, &private)
                    .await?;
                println!(
                    "{name}._domainkey.{domain}. IN TXT \"{}\"",
                    quoted_txt(&txt)
                );
            }
        }
        DkimCmd::List => {
            for k in store.dkim_keys(None).await? {
                println!("{} {} {}", k.domain, k.selector, k.algorithm);
            }
        }
    }
    Ok(())
}

/// A TXT value as zone files take it: split into quoted strings of at most 255 bytes.
fn quoted_txt(value: &str) -> String {
    value
        .as_bytes()
        .chunks(255)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("\" \"")
}
