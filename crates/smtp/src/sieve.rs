//! Sieve at delivery (RFC 5228 with the extensions twinmail-sieve knows): each recipient
//! whose account has an active script gets the message where the script says — kept
//! (where the filters would put it), filed, discarded, redirected, rejected — and a
//! vacation reply when one is due. Everyone else gets it where the filters decided.
//! Scripts run once, on the twin that took the message: the twin receives the finished
//! copies, the queued replies and the vacation record through the mirror and runs nothing.

use std::sync::Arc;

use twinmail_sieve::{Action, Input, Limits, Script, VacationReply};
use twinmail_store::{Account, Delivery, Flags, Guid, Placed, Role, Store, request_id};

use crate::{
    pipeline::{Envelope, Refused},
    srs::Srs,
};

/// What the filters decided for everyone: a folder (Junk) and flags.
pub(crate) struct Placement {
    /// The folder by role, if not the INBOX.
    pub folder: Option<Role>,
    /// Flags to set on arrival.
    pub flags: Flags,
}

/// One scripted recipient and what its script said.
struct Scripted {
    /// The account.
    account: Account,
    /// Its part of the delivery.
    delivery: Delivery,
    /// The script's actions (implicit keep included as a final keep).
    actions: Vec<Action>,
}

/// Delivers, running each recipient's active script; `srs` rewrites the sender of what
/// a script redirects.
pub(crate) async fn deliver(
    envelope: &Envelope,
    mut delivery: Delivery,
    message: Vec<u8>,
    default: Placement,
    srs: Option<&Srs>,
) -> Result<Vec<Placed>, Refused> {
    let store = delivery.store().clone();
    let total = delivery.accounts().count();
    let accounts: Vec<Account> = delivery.accounts().cloned().collect();
    let mut scripted = Vec::new();
    for account in accounts {
        let Some(text) = store
            .sieve_active(account.id)
            .await
            .map_err(Refused::Store)?
        else {
            continue;
        };
        let rcpt = delivery
            .address_of(account.id)
            .unwrap_or(&account.name)
            .to_string();
        let Some(part) = delivery.take(account.id) else {
            continue;
        };
        let actions = run(&store, envelope, &account, &rcpt, &text, &message).await;
        scripted.push(Scripted {
            account,
            delivery: part,
            actions,
        });
    }
    // A reject for the only recipient is said in SMTP, before anything is stored.
    if total == 1
        && let Some(reason) = scripted
            .iter()
            .flat_map(|s| &s.actions)
            .find_map(|a| match a {
                Action::Reject { reason, .. } => Some(reason.clone()),
                _ => None,
            })
    {
        let reason: String = reason
            .chars()
            .filter(|c| !c.is_control())
            .take(200)
            .collect();
        return Err(Refused::Filter(format!("550 5.7.1 {reason}")));
    }
    let mut placed = Vec::new();
    if delivery.accounts().next().is_some() {
        placed
            .extend(commit_default(delivery, message.clone(), &default, &Flags::default()).await?);
    }
    for s in scripted {
        placed.extend(carry_out(&store, envelope, s, &message, &default, srs).await?);
    }
    Ok(placed)
}

/// Runs a script; a script that fails to parse or run keeps the message (RFC 5228
/// §2.10.6: an error means implicit keep).
async fn run(
    store: &Store,
    envelope: &Envelope,
    account: &Account,
    rcpt: &str,
    text: &str,
    message: &[u8],
) -> Vec<Action> {
    let keep = || vec![Action::Keep { flags: Vec::new() }];
    let script = match parsed(account.id, text) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(account = %account.name, error = %e, "sieve: the active script does not parse; kept");
            return keep();
        }
    };
    let mut addresses = vec![account.name.clone()];
    if let Ok(aliases) = store.aliases_of(&account.name).await {
        addresses.extend(aliases);
    }
    let input = Input {
        envelope_from: &envelope.from,
        envelope_to: rcpt,
        message,
        size: message.len() as u64,
        user_addresses: &addresses,
    };
    match script.run(&input) {
        Ok(outcome) => outcome.actions,
        Err(e) => {
            tracing::warn!(account = %account.name, error = %e, "sieve: the script failed; kept");
            keep()
        }
    }
}

/// Most parsed scripts kept (one per account); past it the cache starts afresh.
const PARSED_SCRIPTS: usize = 4096;

/// An account's active script, parsed once per version of its text (parsing costs ten
/// times what running does), not once per message.
fn parsed(account_id: i64, text: &str) -> Result<Arc<Script>, twinmail_sieve::ParseError> {
    type Cache = std::collections::HashMap<i64, (String, Arc<Script>)>;
    static CACHE: std::sync::Mutex<Option<Cache>> = std::sync::Mutex::new(None);
    let lock = || CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((cached, script)) = lock().as_ref().and_then(|c| c.get(&account_id))
        && cached == text
    {
        return Ok(script.clone());
    }
    let script = Arc::new(Script::parse(text, &Limits::default())?);
    let mut guard = lock();
    let cache = guard.get_or_insert_with(Cache::new);
    if cache.len() >= PARSED_SCRIPTS {
        cache.clear();
    }
    cache.insert(account_id, (text.to_string(), script.clone()));
    Ok(script)
}

async fn commit_default(
    delivery: Delivery,
    message: Vec<u8>,
    default: &Placement,
    more: &Flags,
) -> Result<Vec<Placed>, Refused> {
    let flags = default.flags.union(more);
    if default.folder.is_none() && flags.is_empty() {
        return delivery.commit(message).await.map_err(Refused::Store);
    }
    delivery
        .commit_into(message, default.folder, flags)
        .await
        .map_err(Refused::Store)
}

/// Does what one recipient's script said.
async fn carry_out(
    store: &Store,
    envelope: &Envelope,
    s: Scripted,
    message: &[u8],
    default: &Placement,
    srs: Option<&Srs>,
) -> Result<Vec<Placed>, Refused> {
    let mut placed = Vec::new();
    let key = s.delivery.key().unwrap_or_else(Guid::random);
    for action in s.actions {
        match action {
            Action::Keep { flags } => {
                let flags = Flags::new(flags.iter().map(String::as_str));
                placed.extend(
                    commit_default(s.delivery.clone(), message.to_vec(), default, &flags).await?,
                );
            }
            Action::FileInto { mailbox, flags, .. } => {
                let flags = default
                    .flags
                    .union(&Flags::new(flags.iter().map(String::as_str)));
                placed.extend(
                    s.delivery
                        .clone()
                        .commit_to(message.to_vec(), &mailbox, flags)
                        .await
                        .map_err(Refused::Store)?,
                );
            }
            Action::Redirect { address, .. } => {
                // Queued like mail a user sends (the runner delivers a local address
                // into its mailbox), from the sender rewritten by SRS in the account's
                // domain (SPF passes where it goes); named by the delivery, so a
                // client's retry queues it once.
                let id = request_id(&[
                    b"sieve-redirect",
                    &key.0,
                    &s.account.guid.0,
                    address.as_bytes(),
                ]);
                let domain = s.account.name.rsplit_once('@').map_or("", |(_, d)| d);
                let from = match srs {
                    Some(srs) => srs.forward(&envelope.from, domain, crate::srs::today()),
                    None => envelope.from.clone(),
                };
                store
                    .enqueue(id, &from, &[address], Arc::new(message.to_vec()))
                    .await
                    .map_err(Refused::Store)?;
            }
            Action::Vacation(reply) => vacation(store, &s.account, &reply, key).await?,
            Action::Reject { reason, .. } => {
                // One of several recipients: the others have it; this one does not,
                // and the sender is told by a notice (none to the null sender).
                tracing::info!(account = %s.account.name, "sieve: rejected for one of several recipients");
                if !envelope.from.is_empty() {
                    let id = request_id(&[b"sieve-reject", &key.0, &s.account.guid.0]);
                    let notice = rejection(&s.account.name, &envelope.from, &reason);
                    store
                        .enqueue(
                            id,
                            "",
                            std::slice::from_ref(&envelope.from),
                            Arc::new(notice),
                        )
                        .await
                        .map_err(Refused::Store)?;
                }
            }
            Action::Discard => {}
        }
    }
    Ok(placed)
}

/// Queues a vacation reply when none went to this sender within the script's days.
async fn vacation(
    store: &Store,
    account: &Account,
    reply: &VacationReply,
    key: Guid,
) -> Result<(), Refused> {
    let due = store
        .vacation_due(account.guid, &reply.handle, &reply.reply_to, reply.days)
        .await
        .map_err(Refused::Store)?;
    if !due {
        return Ok(());
    }
    let from = reply.from.clone().unwrap_or_else(|| account.name.clone());
    let mut out = format!(
        "From: {from}\r\nTo: {}\r\nSubject: {}\r\nAuto-Submitted: auto-replied (vacation)\r\n\
         Precedence: bulk\r\nMessage-ID: <{}@{}>\r\nDate: {}\r\n",
        reply.reply_to,
        one_line(&reply.subject),
        Guid::random().to_hex(),
        account
            .name
            .rsplit_once('@')
            .map_or("localhost", |(_, d)| d),
        crate::date::rfc5322(twinmail_store::now_unix()),
    );
    if let Some(id) = &reply.in_reply_to {
        out.push_str(&format!("In-Reply-To: {id}\r\nReferences: {id}\r\n"));
    }
    out.push_str("MIME-Version: 1.0\r\n");
    if reply.mime {
        out.push_str(&crlf(&reply.reason));
    } else {
        out.push_str(
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n",
        );
        out.push_str(&crlf(&reply.reason));
    }
    if !out.ends_with("\r\n") {
        out.push_str("\r\n");
    }
    // The null sender: nothing answers an automatic reply (RFC 3834 §3.3).
    let id = request_id(&[b"sieve-vacation", &key.0, &account.guid.0]);
    store
        .enqueue(
            id,
            "",
            std::slice::from_ref(&reply.reply_to),
            Arc::new(out.into_bytes()),
        )
        .await
        .map_err(Refused::Store)?;
    Ok(())
}

/// A notice that `rcpt`'s filter refused the message.
fn rejection(rcpt: &str, to: &str, reason: &str) -> Vec<u8> {
    let domain = rcpt.rsplit_once('@').map_or("localhost", |(_, d)| d);
    format!(
        "From: Mail Delivery System <MAILER-DAEMON@{domain}>\r\nTo: {to}\r\n\
         Subject: Message rejected by {rcpt}\r\nAuto-Submitted: auto-replied\r\n\
         Date: {}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         Your message to <{rcpt}> was rejected by the recipient's filter:\r\n\r\n{}\r\n",
        crate::date::rfc5322(twinmail_store::now_unix()),
        crlf(reason)
    )
    .into_bytes()
}

fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Text with every line end CRLF.
fn crlf(s: &str) -> String {
    s.replace("\r\n", "\n")
        .replace('\r', "\n")
        .replace('\n', "\r\n")
}
