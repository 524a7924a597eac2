//! The DNS answers mail-auth asks for, cached with their TTLs. mail-auth resolves through
//! hickory and hands each answer to a cache of ours with its expiry; the same caches can
//! be filled beforehand (tests, which have no network, or a fixed local zone).

use std::{
    borrow::Borrow,
    collections::HashMap,
    hash::Hash,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use mail_auth::{
    Error, MX, MessageAuthenticator, Parameters, RecordSet, ResolverCache, Txt,
    common::{parse::TxtRecordParser, verify::DomainKey},
    dmarc::Dmarc,
    hickory_resolver::proto::op::ResponseCode,
    spf::Spf,
};

use crate::FilterError;

/// Entries each cache holds at most: past it, expired entries go, then everything.
const MAX_ENTRIES: usize = 50_000;

/// A map whose entries expire; bounded so that a flood of lookups cannot grow it.
pub struct TtlCache<K, V> {
    /// Each answer with the instant it stops being valid.
    map: Mutex<HashMap<K, (V, Instant)>>,
}

impl<K, V> Default for TtlCache<K, V> {
    fn default() -> Self {
        TtlCache {
            map: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Hash + Eq, V: Clone> ResolverCache<K, V> for TtlCache<K, V> {
    fn get<Q>(&self, name: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.get(name)
            .filter(|(_, until)| *until > Instant::now())
            .map(|(v, _)| v.clone())
    }

    fn remove<Q>(&self, name: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(name).map(|(v, _)| v)
    }

    fn insert(&self, key: K, value: V, valid_until: Instant) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_ENTRIES {
            let now = Instant::now();
            map.retain(|_, (_, until)| *until > now);
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
        }
        map.insert(key, (value, valid_until));
    }
}

/// The five caches mail-auth's lookups go through.
#[derive(Default)]
pub struct DnsCaches {
    /// TXT answers, parsed (SPF, DKIM keys, DMARC), by name with the final dot.
    pub txt: TtlCache<Box<str>, Txt>,
    /// MX answers (SPF `mx`).
    pub mx: TtlCache<Box<str>, RecordSet<MX>>,
    /// A answers (SPF `a`, `mx`, `exists`).
    pub ipv4: TtlCache<Box<str>, RecordSet<Ipv4Addr>>,
    /// AAAA answers.
    pub ipv6: TtlCache<Box<str>, RecordSet<Ipv6Addr>>,
    /// PTR answers (SPF `ptr`).
    pub ptr: TtlCache<IpAddr, RecordSet<Box<str>>>,
}

/// What pre-filled answers are valid for: long enough for any test or run.
const PREFILLED: Duration = Duration::from_secs(24 * 3600);

/// The name as mail-auth looks it up: lower case, with the final dot.
fn fqdn(name: &str) -> Box<str> {
    let name = name.to_ascii_lowercase();
    if name.ends_with('.') {
        name.into()
    } else {
        format!("{name}.").into()
    }
}

impl DnsCaches {
    /// New, empty caches, shared by every check.
    pub fn shared() -> Arc<DnsCaches> {
        Arc::new(DnsCaches::default())
    }

    /// mail-auth's lookup parameters around `params`, with these caches.
    #[allow(clippy::type_complexity)]
    pub(crate) fn params<P>(
        &self,
        params: P,
    ) -> Parameters<
        '_,
        P,
        TtlCache<Box<str>, Txt>,
        TtlCache<Box<str>, RecordSet<MX>>,
        TtlCache<Box<str>, RecordSet<Ipv4Addr>>,
        TtlCache<Box<str>, RecordSet<Ipv6Addr>>,
        TtlCache<IpAddr, RecordSet<Box<str>>>,
    > {
        Parameters::new(params)
            .with_txt_cache(&self.txt)
            .with_mx_cache(&self.mx)
            .with_ipv4_cache(&self.ipv4)
            .with_ipv6_cache(&self.ipv6)
            .with_ptr_cache(&self.ptr)
    }

    fn put_txt(&self, name: &str, txt: Txt) {
        self.txt.insert(fqdn(name), txt, Instant::now() + PREFILLED);
    }

    /// Pre-fills an SPF record (`v=spf1 ...`) for `name`.
    pub fn add_spf(&self, name: &str, record: &str) {
        self.put_txt(name, Spf::parse(record.as_bytes()).into());
    }

    /// Pre-fills a DKIM key record (`v=DKIM1; k=...; p=...`) for `selector._domainkey.domain`.
    pub fn add_dkim_key(&self, name: &str, record: &str) {
        self.put_txt(name, DomainKey::parse(record.as_bytes()).into());
    }

    /// Pre-fills a DMARC record (`v=DMARC1; p=...`) for `_dmarc.domain`.
    pub fn add_dmarc(&self, name: &str, record: &str) {
        self.put_txt(name, Dmarc::parse(record.as_bytes()).into());
    }

    /// Pre-fills "no such name" for TXT lookups of `name`.
    pub fn add_txt_nxdomain(&self, name: &str) {
        let e = Error::Dns(mail_auth::DnsError::RecordNotFound(ResponseCode::NXDomain));
        self.put_txt(name, Txt::Error(e));
    }

    /// Pre-fills a failed lookup (server failure, time-out) for TXT lookups of `name`.
    pub fn add_txt_failure(&self, name: &str) {
        let e = Error::Dns(mail_auth::DnsError::Resolver("SERVFAIL".into()));
        self.put_txt(name, Txt::Error(e));
    }

    /// Pre-fills the A records of `name`.
    pub fn add_a(&self, name: &str, addrs: &[Ipv4Addr]) {
        let set = RecordSet {
            rrset: addrs.into(),
            dnssec_status: Default::default(),
        };
        self.ipv4
            .insert(fqdn(name), set, Instant::now() + PREFILLED);
    }
}

/// mail-auth resolving through the system's resolver configuration (/etc/resolv.conf),
/// each query given 5 seconds and 2 tries. Failed lookups (NXDOMAIN above all: DMARC's
/// tree walk asks `_dmarc.` of every parent domain) are not kept by mail-auth's caches
/// but by hickory's own response cache (8,192 answers by default).
pub fn system_resolver() -> Result<MessageAuthenticator, FilterError> {
    let (config, mut opts) = mail_auth::hickory_resolver::system_conf::read_system_conf()
        .map_err(|e| FilterError::Resolver(e.to_string()))?;
    opts.timeout = Duration::from_secs(5);
    opts.attempts = 2;
    MessageAuthenticator::new(config, opts).map_err(|e| FilterError::Resolver(e.to_string()))
}

/// mail-auth with no name server at all: every lookup not answered from the caches
/// fails at once (as a temporary error). For tests, whose answers are all pre-filled.
pub fn offline_resolver() -> Result<MessageAuthenticator, FilterError> {
    let config = mail_auth::hickory_resolver::config::ResolverConfig::from_parts(
        None,
        Vec::new(),
        Vec::new(),
    );
    let mut opts = mail_auth::hickory_resolver::config::ResolverOpts::default();
    opts.timeout = Duration::from_millis(50);
    opts.attempts = 1;
    MessageAuthenticator::new(config, opts).map_err(|e| FilterError::Resolver(e.to_string()))
}
