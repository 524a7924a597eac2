//! The "vacation" extension (RFC 5230): the rules the message alone decides (no reply
//! to lists, bulk mail, automatic senders, or mail not addressed to the user), the
//! default handle, days and subject. Whether a reply went to this sender within `days`
//! is the caller's to decide: it owns the once-per-days database.

use sha2::{Digest, Sha256};

use crate::{Input, message::MessageView};

/// Why a vacation action was dropped without a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VacationSuppressed {
    /// The envelope sender is empty (a bounce): RFC 5230 §4.6 and RFC 3834 §2.
    NullSender,
    /// The sender is an automatic one (`MAILER-DAEMON`, `owner-*`, `*-request`, ...):
    /// RFC 5230 §4.6.
    AutomaticSender,
    /// The message came through a mailing list (a `List-*` header, RFC 2369/2919).
    MailingList,
    /// `Precedence: bulk`, `list` or `junk`.
    Bulk,
    /// `Auto-Submitted` other than `no` (RFC 3834 §5).
    AutoSubmitted,
    /// None of the user's addresses is in To, Cc, Bcc or their Resent- forms
    /// (RFC 5230 §4.5).
    NotAddressedToUser,
    /// The sender is the user (no replies to oneself).
    FromUser,
}

/// Senders' local parts that never get a reply (RFC 5230 §4.6 names the kinds).
const AUTOMATIC_LOCAL_PARTS: [&str; 5] = [
    "mailer-daemon",
    "listserv",
    "majordomo",
    "postmaster",
    "noreply",
];

/// Whether the message rules out a reply, and why. `extra` are the `:addresses`.
pub(crate) fn suppressed(
    msg: &MessageView<'_>,
    input: &Input<'_>,
    extra: &[String],
) -> Option<VacationSuppressed> {
    let sender = input
        .envelope_from
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>');
    if sender.is_empty() {
        return Some(VacationSuppressed::NullSender);
    }
    let local = sender
        .rsplit_once('@')
        .map_or(sender, |(l, _)| l)
        .to_ascii_lowercase();
    if AUTOMATIC_LOCAL_PARTS.contains(&local.as_str())
        || local.starts_with("owner-")
        || local.ends_with("-request")
        || local.starts_with("bounce")
    {
        return Some(VacationSuppressed::AutomaticSender);
    }
    const LIST_HEADERS: [&str; 7] = [
        "list-id",
        "list-help",
        "list-subscribe",
        "list-unsubscribe",
        "list-post",
        "list-owner",
        "list-archive",
    ];
    if LIST_HEADERS.iter().any(|h| msg.has(h)) {
        return Some(VacationSuppressed::MailingList);
    }
    if msg.values("precedence").any(|p| {
        let p = p.trim();
        ["bulk", "list", "junk"]
            .iter()
            .any(|b| p.eq_ignore_ascii_case(b))
    }) {
        return Some(VacationSuppressed::Bulk);
    }
    if msg.values("auto-submitted").any(|v| {
        !v.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .eq_ignore_ascii_case("no")
    }) {
        return Some(VacationSuppressed::AutoSubmitted);
    }
    let mine = |a: &str| {
        a.eq_ignore_ascii_case(input.envelope_to)
            || input
                .user_addresses
                .iter()
                .any(|u| u.eq_ignore_ascii_case(a))
            || extra.iter().any(|u| u.eq_ignore_ascii_case(a))
    };
    if mine(sender) {
        return Some(VacationSuppressed::FromUser);
    }
    const RECIPIENT_HEADERS: [&str; 6] =
        ["to", "cc", "bcc", "resent-to", "resent-cc", "resent-bcc"];
    if !RECIPIENT_HEADERS
        .iter()
        .any(|h| msg.addresses(h).any(&mine))
    {
        return Some(VacationSuppressed::NotAddressedToUser);
    }
    None
}

/// The default handle (RFC 5230 §4.2): the same for the same `:subject`, `:from`,
/// `:mime` and reason, so changing the text of the reply starts a new period.
pub(crate) fn default_handle(
    subject: Option<&str>,
    from: Option<&str>,
    mime: bool,
    reason: &str,
) -> String {
    let mut h = Sha256::new();
    for part in [
        subject.unwrap_or(""),
        from.unwrap_or(""),
        if mime { "mime" } else { "" },
        reason,
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

/// Days between replies to one sender: default 7, kept within 1..=30 (RFC 5230 §4.1
/// lets a site bound it).
pub(crate) fn days(requested: Option<u64>) -> u32 {
    requested.unwrap_or(7).clamp(1, 30) as u32
}

/// The reply's subject when `:subject` is not given (RFC 5230 §4.3): "Auto:" and the
/// original subject.
pub(crate) fn default_subject(original: Option<&str>) -> String {
    match original.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => format!("Auto: {s}"),
        None => "Automated reply".to_string(),
    }
}
