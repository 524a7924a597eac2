//! The admin subcommands: users, domains and aliases, through the store (so they are
//! logged and will mirror like any other change).

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use twinmail_store::Store;

/// `twinmail user ...`
#[derive(Debug, Subcommand)]
pub enum UserCmd {
    /// Create an account (its password is read from standard input).
    Add {
        /// The login name, a full address in a local domain.
        name: String,
    },
    /// Set a new password (read from standard input).
    Passwd {
        /// The login name.
        name: String,
    },
    /// Disable an account: no login, no delivery; its mail is kept.
    Disable {
        /// The login name.
        name: String,
    },
    /// Re-enable a disabled account.
    Enable {
        /// The login name.
        name: String,
    },
    /// Delete an account and all its mail.
    Del {
        /// The login name.
        name: String,
    },
    /// Choose the twin an account is homed on (it assigns the account's UIDs while the
    /// twins are linked); without NODE the account goes back to the default spread.
    Home {
        /// The login name.
        name: String,
        /// The home twin's node id.
        node: Option<String>,
    },
    /// Show an account's storage use and limit, or set the limit: a size such as 500M or
    /// 2G (binary units: K, M, G, T), or "none" to lift it. Mail to a full account is
    /// refused at RCPT (552 5.2.2) and APPEND/COPY get [OVERQUOTA].
    Quota {
        /// The login name.
        name: String,
        /// The new limit.
        limit: Option<String>,
    },
    /// List accounts.
    List,
}

/// `twinmail domain ...`
#[derive(Debug, Subcommand)]
pub enum DomainCmd {
    /// Accept mail for a domain.
    Add {
        /// The domain.
        name: String,
    },
    /// Stop accepting mail for a domain (it must have no accounts or aliases left).
    Del {
        /// The domain.
        name: String,
    },
    /// List local domains.
    List,
}

/// `twinmail alias ...`
#[derive(Debug, Subcommand)]
pub enum AliasCmd {
    /// Deliver mail for ADDRESS (or, for `@domain`, any unknown user there) to TARGET: an
    /// account here, or an address in another domain it is forwarded to (the sender
    /// rewritten by SRS, so SPF passes there).
    Add {
        /// `user@domain`, or `@domain` for a catch-all.
        address: String,
        /// The receiving account, or an address elsewhere.
        target: String,
    },
    /// Remove one target of an alias.
    Del {
        /// `user@domain` or `@domain`.
        address: String,
        /// The receiving account.
        target: String,
    },
    /// List aliases.
    List,
}

/// Reads a password: from a prompt on a terminal (typed twice), else one line of stdin.
pub fn read_password(name: &str) -> Result<String> {
    let stdin = std::io::stdin();
    let mut line = String::new();
    if stdin.is_terminal() {
        eprint!("Password for {name}: ");
        std::io::stderr().flush()?;
        stdin.lock().read_line(&mut line)?;
        let mut again = String::new();
        eprint!("Again: ");
        std::io::stderr().flush()?;
        stdin.lock().read_line(&mut again)?;
        if line != again {
            bail!("the two passwords differ");
        }
    } else {
        stdin
            .lock()
            .read_line(&mut line)
            .context("reading the password from stdin")?;
    }
    let password = line.trim_end_matches(['\r', '\n']).to_string();
    if password.is_empty() {
        bail!("no password given on standard input");
    }
    Ok(password)
}

pub async fn user(store: &Store, cmd: UserCmd) -> Result<()> {
    match cmd {
        UserCmd::Add { name } => {
            let password = read_password(&name)?;
            let a = store.create_account(&name, &password).await?;
            println!("created {} ({})", a.name, a.guid);
        }
        UserCmd::Passwd { name } => {
            let password = read_password(&name)?;
            store.set_password(&name, &password).await?;
            println!("password changed for {name}");
        }
        UserCmd::Disable { name } => {
            store.set_disabled(&name, true).await?;
            println!("disabled {name}");
        }
        UserCmd::Enable { name } => {
            store.set_disabled(&name, false).await?;
            println!("enabled {name}");
        }
        UserCmd::Del { name } => {
            store.delete_account(&name).await?;
            println!("deleted {name}");
        }
        UserCmd::Home { name, node } => {
            store.set_home(&name, node.as_deref()).await?;
            match node {
                Some(n) => println!("{name} is homed on twin {n}"),
                None => println!("{name} is homed by the default spread"),
            }
        }
        UserCmd::Quota { name, limit } => {
            if let Some(limit) = limit {
                store.set_quota(&name, parse_size(&limit)?).await?;
            }
            let Some(account) = store.account(&name).await? else {
                bail!("no account {name}");
            };
            let q = store.quota(account.id).await?;
            let limit = match q.limit_bytes {
                Some(l) => format!(
                    "of {} ({:.1}%)",
                    human(l),
                    q.used_bytes as f64 * 100.0 / l.max(1) as f64
                ),
                None => "(no limit)".into(),
            };
            println!(
                "{name}: {} used {limit}, {} messages",
                human(q.used_bytes),
                q.messages
            );
        }
        UserCmd::List => {
            for a in store.accounts().await? {
                let state = if a.disabled { " (disabled)" } else { "" };
                let home = match store.home_of(&a.name).await? {
                    Some(h) => format!(" (home {h})"),
                    None => String::new(),
                };
                let quota = match store.quota(a.id).await?.limit_bytes {
                    Some(l) => format!(" (quota {})", human(l)),
                    None => String::new(),
                };
                println!("{}{state}{home}{quota}", a.name);
            }
        }
    }
    Ok(())
}

/// "500M", "2G", "1048576", "none".
fn parse_size(text: &str) -> Result<Option<u64>> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("none") || t.eq_ignore_ascii_case("unlimited") {
        return Ok(None);
    }
    let (digits, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let shift = match unit
        .trim()
        .to_ascii_uppercase()
        .trim_end_matches(['B', 'I'])
    {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => bail!("{text:?}: give a size such as 500M or 2G, or none"),
    };
    let n: u64 = digits
        .parse()
        .with_context(|| format!("{text:?}: give a size such as 500M or 2G, or none"))?;
    n.checked_mul(1 << shift)
        .map(Some)
        .with_context(|| format!("{text:?} is too large"))
}

/// Bytes in binary units, one decimal.
fn human(bytes: u64) -> String {
    let units = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let (mut v, mut i) = (bytes as f64, 0);
    while v >= 1024.0 && i + 1 < units.len() {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{v:.1} {}", units[i])
    }
}

pub async fn domain(store: &Store, cmd: DomainCmd) -> Result<()> {
    match cmd {
        DomainCmd::Add { name } => {
            store.add_domain(&name).await?;
            println!("added domain {name}");
        }
        DomainCmd::Del { name } => {
            store.delete_domain(&name).await?;
            println!("deleted domain {name}");
        }
        DomainCmd::List => {
            for d in store.domains().await? {
                println!("{d}");
            }
        }
    }
    Ok(())
}

pub async fn alias(store: &Store, cmd: AliasCmd) -> Result<()> {
    match cmd {
        AliasCmd::Add { address, target } => {
            store.add_alias(&address, &target).await?;
            println!("{address} -> {target}");
        }
        AliasCmd::Del { address, target } => {
            store.delete_alias(&address, &target).await?;
            println!("removed {address} -> {target}");
        }
        AliasCmd::List => {
            for (a, t) in store.aliases().await? {
                println!("{a} -> {t}");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("500M").unwrap(), Some(500 << 20));
        assert_eq!(parse_size("2G").unwrap(), Some(2 << 30));
        assert_eq!(parse_size("2GiB").unwrap(), Some(2 << 30));
        assert_eq!(parse_size("1048576").unwrap(), Some(1 << 20));
        assert_eq!(parse_size("none").unwrap(), None);
        assert!(parse_size("12X").is_err());
        assert!(parse_size("").is_err());
        assert!(parse_size("99999999999T").is_err());
        assert_eq!(human(1536), "1.5 KiB");
        assert_eq!(human(10), "10 bytes");
    }
}
