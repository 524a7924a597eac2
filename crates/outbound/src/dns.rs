//! DNS as the outbound runner needs it (MX, then A/AAAA), behind a trait: hickory's
//! resolver in production, a map of static answers in tests (no network there).

use std::{collections::HashMap, net::IpAddr, sync::Arc};

use hickory_resolver::{TokioResolver, proto::rr::RData};

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
}

/// hickory's resolver, configured from the system (`/etc/resolv.conf`).
pub struct Hickory(TokioResolver);

impl Hickory {
    /// A resolver with the system's configuration.
    pub fn from_system() -> Result<Hickory, DnsError> {
        let r = TokioResolver::builder_tokio()
            .map_err(|e| DnsError::Temporary(e.to_string()))?
            .build()
            .map_err(|e| DnsError::Temporary(e.to_string()))?;
        Ok(Hickory(r))
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
                .0
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
                .0
                .lookup_ip(fqdn.as_str())
                .await
                .map_err(|e| dns_error(host, e))?;
            Ok(found.iter().collect())
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
}
