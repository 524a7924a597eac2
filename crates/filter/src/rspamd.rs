//! The spam check: the message posted to rspamd's `/checkv2` (rspamd's HTTP protocol,
//! "Normal worker" in its docs) with the envelope in request headers (IP, Helo, From,
//! Rcpt, User, Queue-Id), and rspamd's action applied:
//!
//! | action | what we do |
//! |---|---|
//! | `no action` | deliver, with an `X-Spam-Status: No` field |
//! | `add header` | X-Spam fields, `$Junk`, filed into Junk |
//! | `rewrite subject` | X-Spam fields, the subject rspamd gave (or `*** SPAM ***` prefixed) |
//! | `greylist`, `soft reject` | 451 4.7.1 |
//! | `reject` | 550 5.7.1 |
//!
//! Unreachable or unreadable rspamd: 451 4.7.1, or deliver unchecked, as configured;
//! counted either way. Spam fields that came with the message are cut out, so that only
//! ours are seen. HTTP is hyper's client over plain TCP or a Unix socket: rspamd listens
//! on loopback, so no TLS (and nothing that could pull aws-lc).

use std::{collections::BTreeMap, sync::Arc, time::Duration, time::Instant};

use http_body_util::{BodyExt, Full};
use hyper::{Request, body::Bytes};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::{TcpStream, UnixStream},
};
use twinmail_smtp::{Check, Edits, Envelope, Filter, Verdict};
use twinmail_store::Role;

use crate::{SocketAddress, error::FilterError, headers, stats::Counters};

/// The longest answer we read.
const MAX_ANSWER: usize = 1024 * 1024;

/// How the spam check is set up.
#[derive(Clone, Debug)]
pub struct RspamdSettings {
    /// Where rspamd's normal worker listens (`127.0.0.1:11333` by default in rspamd).
    pub address: SocketAddress,
    /// The longest a check may take, connecting included.
    pub timeout: Duration,
    /// True: with rspamd down or confused, mail passes unchecked; false: 451 4.7.1.
    pub fail_open: bool,
}

/// The parts of rspamd's answer we use.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct RspamdReply {
    /// What rspamd advises: `no action`, `add header`, `rewrite subject`, `greylist`,
    /// `soft reject`, `reject`.
    pub action: String,
    /// The message's score.
    #[serde(default)]
    pub score: f64,
    /// The score at which rspamd would reject.
    #[serde(default)]
    pub required_score: f64,
    /// The symbols that matched, by name.
    #[serde(default)]
    pub symbols: BTreeMap<String, serde_json::Value>,
    /// The subject to use for `rewrite subject`, when rspamd gives one.
    #[serde(default)]
    pub subject: Option<String>,
}

/// Asks rspamd about `message`.
pub async fn check(
    settings: &RspamdSettings,
    envelope: &Envelope,
    message: &[u8],
) -> Result<RspamdReply, FilterError> {
    let work = async {
        match &settings.address {
            SocketAddress::Tcp(a) => {
                let s = TcpStream::connect(a).await.map_err(io)?;
                post(s, a, envelope, message).await
            }
            SocketAddress::Unix(p) => {
                let s = UnixStream::connect(p).await.map_err(io)?;
                post(s, "localhost", envelope, message).await
            }
        }
    };
    tokio::time::timeout(settings.timeout, work)
        .await
        .map_err(|_| FilterError::Timeout("rspamd"))?
}

fn io(source: std::io::Error) -> FilterError {
    FilterError::Io {
        daemon: "rspamd",
        source,
    }
}

fn protocol(detail: impl std::fmt::Display) -> FilterError {
    FilterError::Protocol {
        daemon: "rspamd",
        detail: detail.to_string(),
    }
}

/// One HTTP/1.1 exchange on a connected stream.
async fn post<S: AsyncRead + AsyncWrite + Send + Unpin + 'static>(
    stream: S,
    host: &str,
    envelope: &Envelope,
    message: &[u8],
) -> Result<RspamdReply, FilterError> {
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(protocol)?;
    // The connection is driven beside the request; it ends with the exchange.
    let driver = tokio::spawn(conn);
    let mut req = Request::post("/checkv2")
        .header("Host", host)
        .header("IP", envelope.peer.to_string())
        .header("Helo", clean(&envelope.helo))
        .header("From", clean(&envelope.from))
        .header("Queue-Id", clean(&envelope.id));
    for r in &envelope.recipients {
        req = req.header("Rcpt", clean(r));
    }
    if let Some(user) = &envelope.user {
        req = req.header("User", clean(user));
    }
    let req = req
        .body(Full::new(Bytes::copy_from_slice(message)))
        .map_err(protocol)?;
    let resp = sender.send_request(req).await.map_err(protocol)?;
    if !resp.status().is_success() {
        driver.abort();
        return Err(protocol(format!("HTTP status {}", resp.status())));
    }
    let body = http_body_util::Limited::new(resp.into_body(), MAX_ANSWER)
        .collect()
        .await
        .map_err(protocol)?
        .to_bytes();
    driver.abort();
    serde_json::from_slice(&body).map_err(protocol)
}

/// A header value without control characters (an envelope value could hold none that
/// passed the SMTP parser; this keeps it so whatever changes there).
fn clean(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).collect()
}

/// The spam-check filter.
pub struct Rspamd {
    /// How it is set up.
    settings: RspamdSettings,
    /// Outcomes and latency.
    counters: Arc<Counters>,
}

impl Rspamd {
    /// A filter asking the rspamd of `settings`.
    pub fn new(settings: RspamdSettings, counters: Arc<Counters>) -> Rspamd {
        Rspamd { settings, counters }
    }
}

/// Spam fields that only we may add.
const OURS: [&str; 4] = ["x-spam", "x-spam-status", "x-spam-score", "x-spam-symbols"];

/// What to do with rspamd's answer.
pub(crate) fn verdict(reply: &RspamdReply, message: &[u8]) -> Verdict {
    let fields = headers::fields(message);
    let mut edits = Edits {
        remove: fields
            .iter()
            .filter(|f| {
                OURS.iter()
                    .any(|o| f.name.eq_ignore_ascii_case(o.as_bytes()))
            })
            .map(|f| f.range.clone())
            .collect(),
        ..Edits::default()
    };
    let status = |spam: &str| {
        format!(
            "X-Spam-Status: {spam}, score={:.2} required={:.2}",
            reply.score, reply.required_score
        )
    };
    let symbols = || {
        let names: Vec<&str> = reply.symbols.keys().map(String::as_str).collect();
        format!("X-Spam-Symbols: {}", names.join(",\r\n\t"))
    };
    match reply.action.as_str() {
        "reject" => Verdict::Reject("550 5.7.1 Message refused as spam".into()),
        "greylist" | "soft reject" => {
            Verdict::TempFail("451 4.7.1 Message deferred, try again later".into())
        }
        "add header" => {
            edits.prepend = vec!["X-Spam: Yes".into(), status("Yes"), symbols()];
            edits.folder = Some(Role::Junk);
            edits.flags = vec!["$Junk".into()];
            Verdict::Accept(edits)
        }
        "rewrite subject" => {
            let old = headers::first(&fields, "subject");
            let subject = match (&reply.subject, old) {
                (Some(s), _) => clean(s),
                (None, Some(f)) => format!(
                    "*** SPAM *** {}",
                    String::from_utf8_lossy(headers::trim(f.value))
                ),
                (None, None) => "*** SPAM ***".into(),
            };
            if let Some(f) = old {
                edits.remove.push(f.range.clone());
            }
            edits.prepend = vec![
                "X-Spam: Yes".into(),
                status("Yes"),
                symbols(),
                format!("Subject: {subject}"),
            ];
            Verdict::Accept(edits)
        }
        _ => {
            edits.prepend = vec![status("No")];
            Verdict::Accept(edits)
        }
    }
}

impl Filter for Rspamd {
    fn name(&self) -> &'static str {
        "rspamd"
    }

    fn check<'a>(&'a self, envelope: &'a Envelope, message: &'a [u8]) -> Check<'a> {
        Box::pin(async move {
            let started = Instant::now();
            let verdict = match check(&self.settings, envelope, message).await {
                Ok(reply) => {
                    tracing::debug!(id = %envelope.id, action = %reply.action, score = reply.score, "rspamd");
                    verdict(&reply, message)
                }
                Err(e) => {
                    self.counters.error();
                    tracing::warn!(id = %envelope.id, error = %e, fail_open = self.settings.fail_open, "rspamd: no answer");
                    if self.settings.fail_open {
                        Verdict::accept()
                    } else {
                        Verdict::TempFail(
                            "451 4.7.1 Message cannot be checked now, try again later".into(),
                        )
                    }
                }
            };
            self.counters.record(&verdict, started);
            verdict
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An answer captured from rspamd 3.4 (Debian bookworm) for a message matching a
    /// custom 8-point rule, with add_header at 6.
    const ADD_HEADER: &str = r#"{"is_skipped":false,"score":8.0,"required_score":15.0,"action":"add header","symbols":{"TWINMAIL_TEST_SPAM":{"name":"TWINMAIL_TEST_SPAM","score":8.0,"metric_score":8.0}},"messages":{},"message-id":"undef","time_real":0.000410}"#;

    #[test]
    fn add_header_files_into_junk_and_replaces_forged_spam_fields() {
        let reply: RspamdReply = serde_json::from_str(ADD_HEADER).unwrap();
        let m = b"X-Spam-Status: No, forged\r\nSubject: hi\r\n\r\nbody\r\n";
        let Verdict::Accept(e) = verdict(&reply, m) else {
            panic!("refused")
        };
        assert_eq!(e.folder, Some(Role::Junk));
        assert_eq!((e.remove.len(), e.remove[0].clone()), (1, 0..27));
        assert!(
            e.prepend
                .contains(&"X-Spam-Status: Yes, score=8.00 required=15.00".to_string())
        );
    }

    #[test]
    fn rewrite_subject_replaces_the_subject() {
        let reply = RspamdReply {
            action: "rewrite subject".into(),
            score: 9.0,
            required_score: 15.0,
            symbols: BTreeMap::new(),
            subject: None,
        };
        let m = b"Subject: hello\r\n\r\nbody\r\n";
        let Verdict::Accept(e) = verdict(&reply, m) else {
            panic!("refused")
        };
        assert_eq!((e.remove.len(), e.remove[0].clone()), (1, 0..16));
        assert!(
            e.prepend
                .contains(&"Subject: *** SPAM *** hello".to_string())
        );
        assert_eq!(e.folder, None);
    }
}
