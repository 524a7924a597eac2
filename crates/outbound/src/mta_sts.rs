//! MTA-STS (RFC 8461): a domain that publishes `_mta-sts.DOMAIN` TXT "v=STSv1; id=..."
//! and a policy at `https://mta-sts.DOMAIN/.well-known/mta-sts.txt` in mode "enforce"
//! gets mail only over STARTTLS with a certificate valid for an MX its policy names.
//! The policy is fetched with hyper over rustls (certificate checked, no redirects, at
//! most 64 KiB, 10 s) and kept for its max_age or until the TXT id changes, in memory
//! and in the store (so a restart forgets none: RFC 8461 §5.1 wants a policy enforced
//! while its host cannot be reached); "testing" policies are logged, not enforced.
//! Parsing and matching are ours (no kept crate).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use http_body_util::{BodyExt, Empty};
use hyper::{Request, body::Bytes};
use hyper_util::rt::TokioIo;
use tokio_rustls::TlsConnector;
use twinmail_store::{MtaStsPolicy, Store, now_unix};

use crate::dns::{Dns, DnsError};

/// Largest policy read.
const MAX_POLICY: usize = 64 * 1024;
/// Longest a policy is kept (RFC 8461 §3.2: max_age is at most 31557600).
const MAX_AGE: u64 = 31_557_600;

/// What a policy asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Deliver only over verified TLS to a listed MX.
    Enforce,
    /// Report (here: log) failures, deliver anyway.
    Testing,
    /// No policy.
    None,
}

/// A parsed policy (RFC 8461 §3.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// The mode.
    pub mode: Mode,
    /// The MX patterns: `mx.example.net` or `*.example.net` (one label).
    pub mx: Vec<String>,
    /// Seconds the policy may be kept.
    pub max_age: u64,
}

impl Policy {
    /// Parses a policy body; an error names what is wrong.
    pub fn parse(text: &str) -> Result<Policy, String> {
        let (mut version, mut mode, mut mx, mut max_age) = (None, None, Vec::new(), None);
        for line in text.lines() {
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            match key.trim() {
                "version" => version = Some(value.to_string()),
                "mode" => {
                    mode = Some(match value {
                        "enforce" => Mode::Enforce,
                        "testing" => Mode::Testing,
                        "none" => Mode::None,
                        other => return Err(format!("unknown mode {other:?}")),
                    })
                }
                "mx" => mx.push(value.to_ascii_lowercase()),
                "max_age" => max_age = value.parse::<u64>().ok(),
                _ => {}
            }
        }
        if version.as_deref() != Some("STSv1") {
            return Err("not an STSv1 policy".into());
        }
        let mode = mode.ok_or("no mode")?;
        let max_age = max_age.ok_or("no max_age")?.min(MAX_AGE);
        if mode != Mode::None && mx.is_empty() {
            return Err("no mx".into());
        }
        Ok(Policy { mode, mx, max_age })
    }

    /// Whether an MX host is one the policy names (RFC 8461 §4.1: a `*.` pattern
    /// stands for exactly one leftmost label).
    pub fn allows(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.mx.iter().any(|p| match p.strip_prefix("*.") {
            Some(suffix) => host
                .split_once('.')
                .is_some_and(|(label, rest)| !label.is_empty() && rest == suffix),
            None => *p == host,
        })
    }
}

/// Fetches the policy text of a policy host.
pub trait Fetch: Send + Sync + 'static {
    /// `GET https://HOST/.well-known/mta-sts.txt` from `addr`.
    fn get<'a>(
        &'a self,
        host: &'a str,
        addr: std::net::SocketAddr,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<String, String>> + Send + 'a>>;
}

/// The real fetch: HTTPS with the certificate checked against `connector`'s roots.
pub struct Https {
    /// TLS with certificate verification.
    pub connector: TlsConnector,
}

impl Fetch for Https {
    fn get<'a>(
        &'a self,
        host: &'a str,
        addr: std::net::SocketAddr,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<String, String>> + Send + 'a>>
    {
        Box::pin(async move {
            let fetch = async {
                let tcp = tokio::net::TcpStream::connect(addr)
                    .await
                    .map_err(|e| format!("connect: {e}"))?;
                let name = rustls::pki_types::ServerName::try_from(host.to_string())
                    .map_err(|e| format!("{host}: {e}"))?;
                let tls = self
                    .connector
                    .connect(name, tcp)
                    .await
                    .map_err(|e| format!("TLS: {e}"))?;
                let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
                    .await
                    .map_err(|e| e.to_string())?;
                let driver = tokio::spawn(conn);
                let req = Request::get("/.well-known/mta-sts.txt")
                    .header("Host", host)
                    .body(Empty::<Bytes>::new())
                    .map_err(|e| e.to_string())?;
                let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
                // No redirects (RFC 8461 §3.3): anything but 200 is no policy.
                if resp.status() != 200 {
                    driver.abort();
                    return Err(format!("HTTP status {}", resp.status()));
                }
                let body = http_body_util::Limited::new(resp.into_body(), MAX_POLICY)
                    .collect()
                    .await
                    .map_err(|e| e.to_string())?
                    .to_bytes();
                driver.abort();
                String::from_utf8(body.to_vec()).map_err(|_| "not UTF-8".to_string())
            };
            tokio::time::timeout(Duration::from_secs(10), fetch)
                .await
                .map_err(|_| "timed out".to_string())?
        })
    }
}

/// A cached policy: the TXT id it was fetched under, the policy, and when it expires
/// (Unix seconds).
type Cached = (String, Policy, i64);

/// Policies by domain, with the TXT id they were fetched under and when they expire.
pub struct MtaSts {
    /// How policies are fetched.
    fetch: Arc<dyn Fetch>,
    /// The policy hosts' HTTPS port (443).
    port: u16,
    /// The cache.
    cache: Mutex<HashMap<String, Cached>>,
    /// Where policies are kept across restarts, if anywhere.
    store: Option<Store>,
    /// Set once the kept policies are in the cache.
    loaded: tokio::sync::OnceCell<()>,
}

impl MtaSts {
    /// A policy cache fetching with `fetch` on `port`.
    pub fn new(fetch: Arc<dyn Fetch>, port: u16) -> MtaSts {
        MtaSts {
            fetch,
            port,
            cache: Mutex::default(),
            store: None,
            loaded: tokio::sync::OnceCell::new(),
        }
    }

    /// Keeps policies in `store` too, and starts from the ones kept there.
    pub fn with_store(mut self, store: Store) -> MtaSts {
        self.store = Some(store);
        self
    }

    /// Reads the kept policies into the cache, once.
    async fn load(&self) {
        let Some(store) = &self.store else { return };
        self.loaded
            .get_or_init(|| async {
                let kept = match store.mta_sts_policies().await {
                    Ok(kept) => kept,
                    Err(e) => {
                        tracing::warn!(error = %e, "MTA-STS: reading kept policies");
                        return;
                    }
                };
                let mut cache = self.lock();
                for p in kept {
                    if let Ok(policy) = Policy::parse(&p.policy) {
                        cache.insert(p.domain, (p.id, policy, p.expires_at));
                    }
                }
            })
            .await;
    }

    /// The domain's policy in force: `None` when it publishes none (or it cannot be had
    /// and none is cached: delivery goes on as without one, RFC 8461 §5.1).
    pub async fn policy(&self, dns: &dyn Dns, domain: &str) -> Option<Policy> {
        self.load().await;
        let domain = domain.to_ascii_lowercase();
        let id = match dns.txt(&format!("_mta-sts.{domain}")).await {
            Ok(records) => records.iter().find_map(|r| sts_id(r)),
            Err(DnsError::NotFound(_)) => None,
            Err(DnsError::Temporary(_)) => return self.cached(&domain, None),
        };
        let Some(id) = id else {
            // No record: a cached, unexpired policy still stands (§5.1).
            return self.cached(&domain, None);
        };
        if let Some(p) = self.cached(&domain, Some(&id)) {
            return Some(p);
        }
        let host = format!("mta-sts.{domain}");
        let addr = match dns.ips(&host).await {
            Ok(ips) if !ips.is_empty() => std::net::SocketAddr::new(ips[0], self.port),
            _ => return self.cached(&domain, None),
        };
        let fetched = self.fetch.get(&host, addr).await;
        match fetched.and_then(|text| Policy::parse(&text).map(|p| (p, text))) {
            Ok((policy, text)) => {
                let until = now_unix().saturating_add(policy.max_age as i64);
                self.lock()
                    .insert(domain.clone(), (id.clone(), policy.clone(), until));
                if let Some(store) = &self.store {
                    let kept = MtaStsPolicy {
                        domain,
                        id,
                        policy: text,
                        expires_at: until,
                    };
                    if let Err(e) = store.save_mta_sts_policy(kept).await {
                        tracing::warn!(error = %e, "MTA-STS: keeping a policy");
                    }
                }
                Some(policy)
            }
            Err(e) => {
                tracing::info!(domain = %domain, error = %e, "MTA-STS: no policy fetched");
                self.cached(&domain, None)
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Cached>> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A cached policy still in force (for this id, when given).
    fn cached(&self, domain: &str, id: Option<&str>) -> Option<Policy> {
        let cache = self.lock();
        let (cached_id, policy, until) = cache.get(domain)?;
        (now_unix() < *until && id.is_none_or(|i| i == cached_id)).then(|| policy.clone())
    }
}

/// The id of an "v=STSv1; id=..." record.
fn sts_id(record: &str) -> Option<String> {
    let mut fields = record.split(';').map(str::trim);
    if fields.next()? != "v=STSv1" {
        return None;
    }
    fields.find_map(|f| f.strip_prefix("id=").map(str::to_string))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_parse_and_match_as_rfc_8461_says() {
        let p = Policy::parse(
            "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmx: backupmx.example.com\r\nmax_age: 604800\r\n",
        )
        .unwrap();
        assert_eq!(p.mode, Mode::Enforce);
        assert_eq!(p.max_age, 604_800);
        assert!(p.allows("mail.example.com"));
        assert!(p.allows("MX1.example.net."));
        assert!(!p.allows("a.b.example.net"), "one label only");
        assert!(!p.allows("example.net"));
        assert!(!p.allows("evil.com"));
        assert!(Policy::parse("version: STSv1\nmode: enforce\nmax_age: 1\n").is_err());
        assert!(Policy::parse("mode: enforce\nmx: a\nmax_age: 1\n").is_err());
        assert_eq!(
            sts_id("v=STSv1; id=20160831085700Z;"),
            Some("20160831085700Z".into())
        );
        assert_eq!(sts_id("v=spf1 -all"), None);
    }
}
