//! GETMETADATA (RFC 5464 §4.2): annotations of a mailbox, or of the server (mailbox
//! `""`), as this account holds them (twinmail keeps `/private` and `/shared` entries per
//! account: no mailbox is shared between accounts). An entry asked for that does not
//! exist is answered NIL (as Dovecot does); DEPTH 1 / infinity adds the entries below
//! it; MAXSIZE leaves out longer values and says the longest in `[METADATA LONGENTRIES]`.

use imap_types::{
    core::{AString, LiteralMode, NString, NString8, Tag},
    extensions::binary::Literal8,
    extensions::metadata::{
        Depth, Entry, EntryValue, GetMetadataOption, MetadataCode, MetadataResponse,
    },
    mailbox::Mailbox,
    response::{Code, Data, Status},
};
use twinmail_net::Stream;

use crate::{
    command::store_failed,
    convert::{bad, no, nstring, nstring_text, ok, vec1},
    session::Session,
};

/// Where a METADATA command points: the server (`None`) or a mailbox of the account.
pub struct Target {
    /// The mailbox's row id; `None`: the server.
    pub mailbox_id: Option<i64>,
    /// Its name as the client gave it (`""` for the server).
    pub name: Option<String>,
}

/// The server (mailbox `""`) or an existing mailbox of the account; else the refusal.
pub async fn target<S: Stream>(
    s: &Session<S>,
    tag: &Tag<'static>,
    mailbox: &Mailbox<'_>,
) -> Result<(i64, Target), Status<'static>> {
    let Some(account) = s.state.account().cloned() else {
        return Err(bad(tag, "Log in first"));
    };
    if let Mailbox::Other(o) = mailbox
        && o.as_ref().is_empty()
    {
        let server = Target {
            mailbox_id: None,
            name: None,
        };
        return Ok((account.id, server));
    }
    // Annotations are the owner's own: a shared mailbox's are not another user's to read.
    let (account, m, _) =
        crate::command::existing_mailbox(s, tag, mailbox, false, crate::command::Need::Owner)
            .await?;
    Ok((
        account.id,
        Target {
            mailbox_id: Some(m.id),
            name: Some(m.name),
        },
    ))
}

/// An entry name as RFC 5464 §3.2 allows it, lower-cased: `/private/...` or
/// `/shared/...`, no `*` or `%`, no empty component, no trailing `/`, no controls.
pub fn entry_name(raw: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(raw).ok()?.to_ascii_lowercase();
    let rest = s
        .strip_prefix("/private")
        .or_else(|| s.strip_prefix("/shared"))?;
    let ok = (rest.is_empty() || rest.starts_with('/'))
        && !s.contains("//")
        && !s.ends_with('/')
        && !s.contains(['*', '%'])
        && !s.chars().any(char::is_control);
    ok.then_some(s)
}

/// A value as sent: NIL when absent, quoted when it is short text, a literal when not,
/// and a literal8 (RFC 3516) when it holds a NUL, which no plain literal may carry.
fn wire_value(value: Option<Vec<u8>>) -> NString8<'static> {
    match value {
        None => NString8::NString(NString(None)),
        Some(v) if v.contains(&0) => NString8::Literal8(Literal8 {
            data: v.into(),
            mode: LiteralMode::Sync,
        }),
        Some(v) => match String::from_utf8(v) {
            Ok(text) => NString8::NString(nstring_text(Some(&text))),
            Err(e) => NString8::NString(nstring(e.as_bytes())),
        },
    }
}

/// GETMETADATA [options] mailbox entries.
pub async fn getmetadata<S: Stream>(
    s: &mut Session<S>,
    tag: &Tag<'static>,
    options: &[GetMetadataOption],
    mailbox: &Mailbox<'_>,
    entries: &[Entry<'_>],
) -> Status<'static> {
    let (account_id, target) = match target(s, tag, mailbox).await {
        Ok(t) => t,
        Err(status) => return status,
    };
    let (mut max_size, mut depth) = (None, Depth::Null);
    for o in options {
        match o {
            GetMetadataOption::MaxSize(n) => max_size = Some(*n as usize),
            GetMetadataOption::Depth(d) => depth = d.clone(),
        }
    }
    let mut asked = Vec::with_capacity(entries.len());
    for e in entries {
        match entry_name(e.as_ref()) {
            Some(name) => asked.push(name),
            None => return bad(tag, "Invalid entry name"),
        }
    }
    let stored = match s.imap.store.metadata(account_id, target.mailbox_id).await {
        Ok(rows) => rows,
        Err(e) => return store_failed(tag, e),
    };
    let (mut out, mut longest) = (Vec::new(), 0usize);
    for name in &asked {
        let below = |entry: &str| match entry.strip_prefix(name.as_str()) {
            Some("") => Some(0),
            Some(rest) if rest.starts_with('/') => Some(rest.matches('/').count()),
            _ => None,
        };
        let mut found = false;
        for (entry, value) in &stored {
            let Some(level) = below(entry) else { continue };
            let wanted = match depth {
                Depth::Null => level == 0,
                Depth::One => level <= 1,
                Depth::Infinity => true,
            };
            if !wanted || out.iter().any(|(e, _)| e == entry) {
                continue;
            }
            found |= level == 0;
            if max_size.is_some_and(|max| value.len() > max) {
                longest = longest.max(value.len());
                continue;
            }
            out.push((entry.clone(), Some(value.clone())));
        }
        if !found && !out.iter().any(|(e, _)| e == name) && longest == 0 {
            out.push((name.clone(), None));
        }
    }
    let items: Vec<EntryValue<'static>> = out
        .into_iter()
        .filter_map(|(entry, value)| {
            Some(EntryValue {
                entry: Entry::try_from(AString::try_from(entry).ok()?).ok()?,
                value: wire_value(value),
            })
        })
        .collect();
    if let Some(items) = vec1(items) {
        let mailbox = match &target.name {
            Some(name) => s.wire_mailbox(name),
            None => match Mailbox::try_from("") {
                Ok(m) => m,
                Err(_) => return no(tag, None, "Server error".into()),
            },
        };
        s.data(Data::Metadata {
            mailbox,
            items: MetadataResponse::WithValues(items),
        });
    }
    if longest > 0 {
        return ok(
            tag,
            Some(Code::Metadata(MetadataCode::LongEntries(longest as u32))),
            "GETMETADATA completed",
        );
    }
    ok(tag, None, "GETMETADATA completed")
}
