//! The virus check: the message streamed to clamd with its INSTREAM command (clamd(8):
//! `zINSTREAM\0`, then chunks each prefixed by its length as a 4-byte big-endian number,
//! then a zero length; the answer is `stream: OK` or `stream: NAME FOUND`), over TCP or
//! a Unix socket. Infected mail is refused with 554 5.7.1 naming nothing internal (not
//! even the signature); clamd down gives 451 4.7.1, or the message passes, as configured.

use std::{path::PathBuf, sync::Arc, time::Duration, time::Instant};

use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    net::{TcpStream, UnixStream},
};
use twinmail_smtp::{Check, Envelope, Filter, Verdict};

use crate::{error::FilterError, stats::Counters};

/// Bytes per INSTREAM chunk.
const CHUNK: usize = 64 * 1024;
/// The longest answer we read: a status line with a signature name.
const MAX_ANSWER: usize = 4096;

/// Where a daemon listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SocketAddress {
    /// A TCP address, `host:port`.
    Tcp(String),
    /// A Unix socket's path.
    Unix(PathBuf),
}

impl SocketAddress {
    /// A path (starts with `/`) is a Unix socket, anything else `host:port`.
    pub fn parse(s: &str) -> SocketAddress {
        if s.starts_with('/') {
            SocketAddress::Unix(PathBuf::from(s))
        } else {
            SocketAddress::Tcp(s.to_string())
        }
    }
}

/// How the virus check is set up.
#[derive(Clone, Debug)]
pub struct ClamdSettings {
    /// Where clamd listens.
    pub address: SocketAddress,
    /// The longest a scan may take, connecting included.
    pub timeout: Duration,
    /// True: with clamd down or confused, mail passes unscanned; false: 451 4.7.1.
    pub fail_open: bool,
}

/// What clamd found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scan {
    /// Nothing.
    Clean,
    /// This signature matched.
    Infected(String),
}

/// Scans `data` with the clamd at `address`.
pub async fn scan(
    address: &SocketAddress,
    data: &[u8],
    timeout: Duration,
) -> Result<Scan, FilterError> {
    let work = async {
        match address {
            SocketAddress::Tcp(a) => instream(TcpStream::connect(a).await.map_err(io)?, data).await,
            SocketAddress::Unix(p) => {
                instream(UnixStream::connect(p).await.map_err(io)?, data).await
            }
        }
    };
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| FilterError::Timeout("clamd"))?
}

fn io(source: std::io::Error) -> FilterError {
    FilterError::Io {
        daemon: "clamd",
        source,
    }
}

/// The INSTREAM exchange on a connected stream.
async fn instream<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    data: &[u8],
) -> Result<Scan, FilterError> {
    s.write_all(b"zINSTREAM\0").await.map_err(io)?;
    for chunk in data.chunks(CHUNK) {
        // A chunk is at most CHUNK bytes: its length always fits.
        let len = u32::try_from(chunk.len()).unwrap_or(u32::MAX);
        s.write_all(&len.to_be_bytes()).await.map_err(io)?;
        s.write_all(chunk).await.map_err(io)?;
    }
    s.write_all(&0u32.to_be_bytes()).await.map_err(io)?;
    s.flush().await.map_err(io)?;
    let mut answer = Vec::new();
    let mut buf = [0u8; 512];
    loop {
        let n = s.read(&mut buf).await.map_err(io)?;
        answer.extend_from_slice(&buf[..n]);
        if n == 0 || answer.contains(&0) || answer.len() > MAX_ANSWER {
            break;
        }
    }
    let text = String::from_utf8_lossy(&answer);
    let text = text.trim_end_matches(['\0', '\n', '\r']);
    let status = text.strip_prefix("stream:").unwrap_or(text).trim();
    if status == "OK" {
        Ok(Scan::Clean)
    } else if let Some(name) = status.strip_suffix(" FOUND") {
        Ok(Scan::Infected(name.trim().to_string()))
    } else {
        // "INSTREAM size limit exceeded. ERROR" and the like.
        Err(FilterError::Protocol {
            daemon: "clamd",
            detail: status.chars().take(200).collect(),
        })
    }
}

/// The virus-check filter.
pub struct Clamd {
    /// How it is set up.
    settings: ClamdSettings,
    /// Outcomes and latency.
    counters: Arc<Counters>,
}

impl Clamd {
    /// A filter asking the clamd of `settings`.
    pub fn new(settings: ClamdSettings, counters: Arc<Counters>) -> Clamd {
        Clamd { settings, counters }
    }
}

impl Filter for Clamd {
    fn name(&self) -> &'static str {
        "clamd"
    }

    fn check<'a>(&'a self, envelope: &'a Envelope, message: &'a [u8]) -> Check<'a> {
        Box::pin(async move {
            let started = Instant::now();
            let s = &self.settings;
            let verdict = match scan(&s.address, message, s.timeout).await {
                Ok(Scan::Clean) => Verdict::accept(),
                Ok(Scan::Infected(name)) => {
                    tracing::info!(id = %envelope.id, signature = %name, "clamd: infected");
                    Verdict::Reject("554 5.7.1 Message refused: it contains a virus".into())
                }
                Err(e) => {
                    self.counters.error();
                    tracing::warn!(id = %envelope.id, error = %e, fail_open = s.fail_open, "clamd: no answer");
                    if s.fail_open {
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
