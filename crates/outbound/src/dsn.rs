//! Delivery status notifications (RFC 3464) to the envelope sender of a message that
//! failed for good or is late, built with mail-builder: a human part, the
//! machine-readable `message/delivery-status`, and the original's headers.

use mail_builder::{
    MessageBuilder,
    headers::{content_type::ContentType, raw::Raw},
    mime::MimePart,
};

/// Whether the notification says the message failed or is only late.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Undeliverable: given up.
    Failed,
    /// Still trying (sent once, after the configured delay).
    Delayed,
}

/// One recipient's line in a notification.
pub struct Line<'a> {
    /// The recipient.
    pub rcpt: &'a str,
    /// The last reply for it.
    pub reply: &'a str,
}

/// Builds the notification's bytes.
pub fn build(
    kind: Kind,
    reporting_host: &str,
    to: &str,
    arrival: i64,
    lines: &[Line<'_>],
    original: &[u8],
) -> Vec<u8> {
    let (subject, action, intro) = match kind {
        Kind::Failed => (
            "Undelivered Mail Returned to Sender",
            "failed",
            "Your message could not be delivered to one or more recipients. This is final: \
             it will not be tried again.",
        ),
        Kind::Delayed => (
            "Delayed Mail (still being retried)",
            "delayed",
            "Your message has not been delivered yet to one or more recipients. It is still \
             being tried: you need not send it again.",
        ),
    };
    let mut human = format!("This is the mail system at {reporting_host}.\r\n\r\n{intro}\r\n\r\n");
    let mut status = format!(
        "Reporting-MTA: dns; {reporting_host}\r\nArrival-Date: {}\r\n",
        rfc5322(arrival)
    );
    for l in lines {
        human.push_str(&format!("<{}>: {}\r\n", l.rcpt, l.reply));
        let code = status_code(l.reply, kind);
        status.push_str(&format!(
            "\r\nFinal-Recipient: rfc822; {}\r\nAction: {action}\r\nStatus: {code}\r\nDiagnostic-Code: smtp; {}\r\n",
            l.rcpt, l.reply
        ));
    }
    let headers = header_section(original);
    let daemon = format!("MAILER-DAEMON@{reporting_host}");
    let report = MimePart::new(
        ContentType::new("multipart/report").attribute("report-type", "delivery-status"),
        vec![
            MimePart::new("text/plain", human),
            MimePart::new("message/delivery-status", status),
            MimePart::new(
                "text/rfc822-headers",
                String::from_utf8_lossy(headers).into_owned(),
            ),
        ],
    );
    MessageBuilder::new()
        .from(("Mail Delivery System", daemon.as_str()))
        .to(to)
        .subject(subject)
        .header("Auto-Submitted", Raw::new("auto-replied"))
        .body(report)
        .write_to_vec()
        .unwrap_or_default()
}

/// The enhanced status code of a reply ("550 5.1.1 ..." → 5.1.1), or a generic one.
fn status_code(reply: &str, kind: Kind) -> String {
    reply
        .split_whitespace()
        .nth(1)
        .filter(|c| {
            let parts: Vec<&str> = c.split('.').collect();
            parts.len() == 3
                && matches!(parts[0], "2" | "4" | "5")
                && parts
                    .iter()
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        })
        .map(str::to_string)
        .unwrap_or_else(|| match kind {
            Kind::Failed => "5.0.0".into(),
            Kind::Delayed => "4.0.0".into(),
        })
}

/// The original's header section (up to the empty line).
fn header_section(message: &[u8]) -> &[u8] {
    let end = message
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 2)
        .unwrap_or(message.len());
    &message[..end]
}

fn rfc5322(t: i64) -> String {
    mail_builder::headers::date::Date::new(t).to_rfc822()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_notice_names_each_recipient_with_its_status() {
        let dsn = build(
            Kind::Failed,
            "mx.example.com",
            "alice@example.com",
            1_700_000_000,
            &[Line {
                rcpt: "nobody@example.net",
                reply: "550 5.1.1 No such user",
            }],
            b"From: alice@example.com\r\nSubject: hi\r\n\r\nbody\r\n",
        );
        let text = String::from_utf8(dsn).unwrap();
        assert!(text.contains("multipart/report"), "{text}");
        assert!(
            text.contains("report-type=\"delivery-status\"")
                || text.contains("report-type=delivery-status"),
            "{text}"
        );
        assert!(
            text.contains("Final-Recipient: rfc822; nobody@example.net"),
            "{text}"
        );
        assert!(text.contains("Status: 5.1.1"), "{text}");
        assert!(text.contains("Auto-Submitted: auto-replied"), "{text}");
        assert!(text.contains("Subject: hi"), "{text}");
        assert!(
            !text.contains("body\r\n--"),
            "the body is not returned: {text}"
        );
    }
}
