//! DNS as the outbound runner needs it (MX, then A/AAAA), behind a trait: hickory's
//! resolver in production, a map of static answers in tests (no network there).

use std::{collections::HashMap, net::IpAddr, sync::Arc};

use hickory_resolver::{TokioResolver, proto::rr::RData};

use crate::dane::Tlsa;

/// A DNS answer that is not a list of records.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnsError {
    /// The name has no such records (or does not exist): a permanent answer.
    #[error("no such record: {0}")]
    NotFound(String),
    /// The lookup failed for now (timeout, SERVFAIL): try again later.
    #[error("DNS lookup failed for now: {0}")]
    Temporary(String),
}

/// A boxed future, for the object-safe [`Dns`].
pub type DnsFuture<'a, T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, DnsError>> + Send + 'a>>;

/// The lookups delivery needs.
pub trait Dns: Send + Sync + 'static {
    /// The MX records of `domain`: (preference, exchange host without the final dot).
    fn mx<'a>(&'a self, domain: &'a str) -> DnsFuture<'a, Vec<(u16, String)>>;
    /// The addresses of `host` (A and AAAA).
    fn ips<'a>(&'a self, host: &'a str) -> DnsFuture<'a, Vec<IpAddr>>;
    /// The TXT records of `name`, each as one string.
    fn txt<'a>(&'a self, name: &'a str) -> DnsFuture<'a, Vec<String>>;
    /// The DNSSEC-validated TLSA records of `_port._tcp.host` (RFC 7672 §2.2); empty
    /// when there are none or they are not validated (then DANE does not apply).
    fn tlsa<'a>(&'a self, host: &'a str, port: u16) -> DnsFuture<'a, Vec<Tlsa>>;
}

/// hickory's resolver, configured from the system (`/etc/resolv.conf`), with a second
/// one that validates DNSSEC for TLSA lookups.
pub struct Hickory {
    /// Plain lookups.
    plain: TokioResolver,
    /// DNSSEC-validating lookups (TLSA).
    validating: TokioResolver,
}

impl Hickory {
    /// Resolvers with the system's configuration.
    pub fn from_system() -> Result<Hickory, DnsError> {
        let build = |validate: bool| {
            let mut b =
                TokioResolver::builder_tokio().map_err(|e| DnsError::Temporary(e.to_string()))?;
            b.options_mut().validate = validate;
            b.build().map_err(|e| DnsError::Temporary(e.to_string()))
        };
        Ok(Hickory {
            plain: build(false)?,
            validating: build(true)?,
        })
    }
}

fn dns_error(name: &str, e: hickory_resolver::net::NetError) -> DnsError {
    if e.is_no_records_found() || e.is_nx_domain() {
        DnsError::NotFound(name.to_string())
    } else {
        DnsError::Temporary(e.to_string())
    }
}

impl Dns for Hickory {
    fn mx<'a>(&'a self, domain: &'a str) -> DnsFuture<'a, Vec<(u16, String)>> {
        Box::pin(async move {
            let fqdn = format!("{}.", domain.trim_end_matches('.'));
            let found = self
                .plain
                .mx_lookup(fqdn.as_str())
                .await
                .map_err(|e| dns_error(domain, e))?;
            Ok(found
                .answers()
                .iter()
                .filter_map(|r| match &r.data {
                    RData::MX(mx) => Some((
                        mx.preference,
                        mx.exchange.to_ascii().trim_end_matches('.').to_string(),
                    )),
                    _ => None,
                })
                .collect())
        })
    }

    fn ips<'a>(&'a self, host: &'a str) -> DnsFuture<'a, Vec<IpAddr>> {
        Box::pin(async move {
            let fqdn = format!("{}.", host.trim_end_matches('.'));
            let found = self
                .plain
                .lookup_ip(fqdn.as_str())
                .await
                .map_err(|e| dns_error(host, e))?;
            Ok(found.iter().collect())
        })
    }

    fn txt<'a>(&'a self, name: &'a str) -> DnsFuture<'a, Vec<String>> {
        Box::pin(async move {
            let fqdn = format!("{}.", name.trim_end_matches('.'));
            let found = self
                .plain
                .txt_lookup(fqdn.as_str())
                .await
                .map_err(|e| dns_error(name, e))?;
            Ok(found
                .answers()
                .iter()
                .filter_map(|r| match &r.data {
                    RData::TXT(t) => Some(
                        t.txt_data
                            .iter()
                            .map(|p| String::from_utf8_lossy(p).into_owned())
                            .collect(),
                    ),
                    _ => None,
                })
                .collect())
        })
    }

    fn tlsa<'a>(&'a self, host: &'a str, port: u16) -> DnsFuture<'a, Vec<Tlsa>> {
        Box::pin(async move {
            let name = format!("_{port}._tcp.{}.", host.trim_end_matches('.'));
            let found = match self.validating.tlsa_lookup(name.as_str()).await {
                Ok(f) => f,
                Err(e) if e.is_no_records_found() || e.is_nx_domain() => return Ok(Vec::new()),
                Err(e) => return Err(DnsError::Temporary(e.to_string())),
            };
            Ok(found
                .answers()
                .iter()
                .filter(|r| r.proof == hickory_resolver::proto::dnssec::Proof::Secure)
                .filter_map(|r| match &r.data {
                    RData::TLSA(t) => Some(Tlsa {
                        usage: t.cert_usage.into(),
                        selector: t.selector.into(),
                        matching: t.matching.into(),
                        data: t.cert_data.clone(),
                    }),
                    _ => None,
                })
                .collect())
        })
    }
}

/// Fixed answers (tests, and `[outbound] static_mx` in a lab): names not in the maps do
/// not exist.
#[derive(Clone, Default)]
pub struct StaticDns {
    /// MX answers by domain.
    pub mx: HashMap<String, Vec<(u16, String)>>,
    /// Address answers by host.
    pub ips: HashMap<String, Vec<IpAddr>>,
    /// TXT answers by name.
    pub txt: HashMap<String, Vec<String>>,
    /// Validated TLSA answers by `_port._tcp.host`.
    pub tlsa: HashMap<String, Vec<Tlsa>>,
    /// Names whose lookups fail for now (a DNS outage).
    pub failing: Arc<std::sync::Mutex<Vec<String>>>,
}

impl StaticDns {
    fn answer<T: Clone>(&self, map: &HashMap<String, T>, name: &str) -> Result<T, DnsError> {
        let name = name.to_ascii_lowercase();
        if self
            .failing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&name)
        {
            return Err(DnsError::Temporary(format!("{name}: SERVFAIL")));
        }
        map.get(&name)
            .cloned()
            .ok_or_else(|| DnsError::NotFound(name.clone()))
    }
}

impl Dns for StaticDns {
    fn mx<'a>(&'a self, domain: &'a str) -> DnsFuture<'a, Vec<(u16, String)>> {
        Box::pin(async move { self.answer(&self.mx, domain) })
    }

    fn ips<'a>(&'a self, host: &'a str) -> DnsFuture<'a, Vec<IpAddr>> {
        Box::pin(async move { self.answer(&self.ips, host) })
    }

    fn txt<'a>(&'a self, name: &'a str) -> DnsFuture<'a, Vec<String>> {
        Box::pin(async move { self.answer(&self.txt, name) })
    }

    fn tlsa<'a>(&'a self, host: &'a str, port: u16) -> DnsFuture<'a, Vec<Tlsa>> {
        Box::pin(async move {
            match self.answer(&self.tlsa, &format!("_{port}._tcp.{host}")) {
                Err(DnsError::NotFound(_)) => Ok(Vec::new()),
                other => other,
            }
        })
    }
}
