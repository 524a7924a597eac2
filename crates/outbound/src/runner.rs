//! The queue runner: takes the messages due (this twin's own; the twin's too once it has
//! been gone longer than the lease), delivers local recipients into the store and the rest
//! to each domain's MX (or the smarthost), one connection per domain carrying all of its
//! messages, signs with DKIM, and records each attempt as one logged change, with the
//! bounce or delay notice it causes in the same transaction.

use std::{
    collections::BTreeMap,
    net::{IpAddr, SocketAddr},
    sync::Arc,
};

use tokio::sync::Semaphore;
use twinmail_store::{
    Attempt, Bounce, Change, Queued, RcptOutcome, RcptState, Store, StoreError, now_unix,
    request_id,
};

use crate::{
    Settings, Stats,
    client::{self, Dial, Outgoing, Reply, TlsMode},
    dkim,
    dns::{Dns, DnsError},
    dsn,
    mta_sts::{self, Mode, MtaSts},
};

/// The outbound runner of one twin.
#[derive(Clone)]
pub struct Runner {
    /// The store holding the queue.
    store: Store,
    /// MX and address lookups.
    dns: Arc<dyn Dns>,
    /// Behaviour.
    settings: Arc<Settings>,
    /// Counters for the status page.
    stats: Arc<Stats>,
    /// MTA-STS policies.
    mta_sts: Arc<MtaSts>,
    /// Per destination: the start of its current minute and the messages sent in it.
    rates: Arc<std::sync::Mutex<std::collections::HashMap<String, (std::time::Instant, u32)>>>,
}

/// One message's recipients in one domain: what a connection to that domain carries.
struct Leg {
    /// The message's index among the pass's jobs.
    job: usize,
    /// Its recipients in the domain.
    rcpts: Vec<String>,
    /// The envelope sender.
    from: String,
    /// The (signed) bytes.
    bytes: Arc<Vec<u8>>,
}

/// One message being tried in a pass.
struct Job {
    /// The queued message.
    queued: Queued,
    /// Its bytes, DKIM-signed.
    bytes: Arc<Vec<u8>>,
    /// Outcomes so far in this pass.
    outcomes: Vec<RcptOutcome>,
}

impl Runner {
    /// A runner over `store`'s queue.
    pub fn new(store: Store, dns: Arc<dyn Dns>, settings: Settings, stats: Arc<Stats>) -> Runner {
        let connector = match &settings.roots {
            Some(roots) => client::verified_connector(roots.clone()),
            None => mail_send::smtp::tls::build_tls_connector(false).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "outbound: no system roots; MTA-STS policies cannot be fetched");
                client::verified_connector(Arc::new(rustls::RootCertStore::empty()))
            }),
        };
        let mta_sts = Arc::new(
            MtaSts::new(
                Arc::new(mta_sts::Https { connector }),
                settings.mta_sts_port,
            )
            .with_store(store.clone()),
        );
        Runner {
            store,
            dns,
            settings: Arc::new(settings),
            stats,
            mta_sts,
            rates: Arc::default(),
        }
    }

    /// Runs until the process ends: a pass whenever something is queued here, and every
    /// `poll` otherwise.
    pub async fn run(self) {
        let mut changes = self.store.subscribe();
        loop {
            match self.pass().await {
                Ok(n) if n > 0 => continue,
                Ok(_) => {}
                // Still catching up with the twin's log (after a start): next time.
                Err(StoreError::Unavailable(why)) => {
                    tracing::debug!(why = %why, "outbound: queue pass put off")
                }
                Err(e) => tracing::error!(error = %e, "outbound: queue pass failed"),
            }
            let sleep = tokio::time::sleep(self.settings.poll);
            tokio::pin!(sleep);
            loop {
                tokio::select! {
                    _ = &mut sleep => break,
                    ev = changes.recv() => match ev {
                        Ok(ev) if matches!(ev.change, Change::Queued { .. } | Change::QueueControl { .. }) => break,
                        Ok(_) => {}
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => break,
                        Err(_) => return,
                    },
                }
            }
        }
    }

    /// One pass over the messages due now; how many were tried.
    pub async fn pass(&self) -> Result<usize, StoreError> {
        // Back from a crash, the twin may have delivered (and recorded) some of this
        // twin's queue meanwhile: hear of that first.
        self.store.twin_ready().await?;
        let now = now_unix();
        let take_over = match self.store.twin_gone_since().await? {
            Some(since) => now - since >= self.settings.lease.as_secs() as i64,
            None => false,
        };
        let due = self
            .store
            .queue_due(now, take_over, self.settings.batch)
            .await?;
        if due.is_empty() {
            return Ok(0);
        }
        let mut jobs = Vec::with_capacity(due.len());
        for q in due {
            if q.owner != self.store.node() {
                tracing::info!(id = %q.id.to_hex(), owner = %q.owner, "outbound: taking over a message of the twin's (gone past the lease)");
                self.stats.count_takeover();
            }
            let Some(raw) = self.store.blob(&q.blob).await? else {
                tracing::error!(id = %q.id.to_hex(), "outbound: queued bytes missing");
                continue;
            };
            let bytes = self.sign(&q, raw).await;
            jobs.push(Job {
                queued: q,
                bytes: Arc::new(bytes),
                outcomes: Vec::new(),
            });
        }
        self.deliver_local(&mut jobs).await?;
        self.deliver_remote(&mut jobs).await;
        // Recorded side by side, so one commit (one fsync) takes many.
        let n = jobs.len();
        let mut records = tokio::task::JoinSet::new();
        for job in jobs {
            let this = self.clone();
            records.spawn(async move { this.record(job, now).await });
        }
        let mut result = Ok(n);
        while let Some(r) = records.join_next().await {
            if let Ok(Err(e)) = r {
                result = Err(e);
            }
        }
        result
    }

    /// The bytes with a DKIM signature per key of the signing domain (unsigned when it
    /// has none, or a key is unusable: logged, never a reason to hold mail back).
    async fn sign(&self, q: &Queued, raw: Vec<u8>) -> Vec<u8> {
        let Some(domain) = dkim::signing_domain(&raw, &q.from) else {
            return raw;
        };
        let keys = match self.store.dkim_keys(Some(&domain)).await {
            Ok(k) if !k.is_empty() => k,
            Ok(_) => return raw,
            Err(e) => {
                tracing::error!(error = %e, "outbound: reading DKIM keys failed");
                return raw;
            }
        };
        match dkim::sign(&keys, &raw) {
            Ok(signed) => signed,
            Err(e) => {
                tracing::error!(error = %e, "outbound: DKIM signing failed; sent unsigned");
                raw
            }
        }
    }

    /// Recipients in a local domain (a notification to a local sender, mostly) go
    /// straight into the store, once (the delivery is named by the message and recipient).
    async fn deliver_local(&self, jobs: &mut [Job]) -> Result<(), StoreError> {
        for job in jobs.iter_mut() {
            let pending: Vec<String> = job.queued.pending().map(str::to_string).collect();
            for rcpt in pending {
                let domain = rcpt.rsplit_once('@').map(|(_, d)| d).unwrap_or("");
                if !self.store.is_local_domain(domain).await? {
                    continue;
                }
                let mut delivery = self.store.delivery();
                let reply = match delivery.add_recipient(&rcpt).await {
                    Ok(()) => {
                        delivery.identify(request_id(&[
                            b"queue-local",
                            &job.queued.id.0,
                            rcpt.as_bytes(),
                        ]));
                        match delivery.commit(job.bytes.to_vec()).await {
                            Ok(_) => Reply {
                                state: RcptState::Delivered,
                                text: "250 2.0.0 delivered here".into(),
                            },
                            Err(e) if e.is_client_error() => Reply {
                                state: RcptState::Failed,
                                text: format!("550 5.2.0 {e}"),
                            },
                            Err(e) => Reply::deferred(format!("451 4.3.0 {e}")),
                        }
                    }
                    Err(StoreError::NotFound(_)) => Reply {
                        state: RcptState::Failed,
                        text: "550 5.1.1 no such user here".into(),
                    },
                    Err(e) => Reply::deferred(format!("451 4.3.0 {e}")),
                };
                job.outcomes.push(RcptOutcome {
                    rcpt,
                    state: reply.state,
                    reply: reply.text,
                });
            }
        }
        Ok(())
    }

    /// The remaining recipients, by domain: a domain's messages share up to
    /// `per_destination` connections (at most `max_connections` in all), each carrying
    /// many messages.
    async fn deliver_remote(&self, jobs: &mut [Job]) {
        let mut by_domain: BTreeMap<String, Vec<(usize, Vec<String>)>> = BTreeMap::new();
        for (i, job) in jobs.iter().enumerate() {
            let done: Vec<&str> = job.outcomes.iter().map(|o| o.rcpt.as_str()).collect();
            for rcpt in job.queued.pending().filter(|r| !done.contains(r)) {
                let domain = match &self.settings.relay {
                    Some(_) => String::new(),
                    None => rcpt
                        .rsplit_once('@')
                        .map(|(_, d)| d.to_ascii_lowercase())
                        .unwrap_or_default(),
                };
                let list = by_domain.entry(domain).or_default();
                match list.last_mut() {
                    Some((j, rcpts)) if *j == i => rcpts.push(rcpt.to_string()),
                    _ => list.push((i, vec![rcpt.to_string()])),
                }
            }
        }
        let limit = Arc::new(Semaphore::new(self.settings.max_connections.max(1)));
        let mut tasks = tokio::task::JoinSet::new();
        for (domain, mut list) in by_domain {
            // Past the destination's rate, the rest wait for their next retry.
            for (i, rcpts) in self.over_rate(&domain, &mut list) {
                for rcpt in rcpts {
                    jobs[i].outcomes.push(RcptOutcome {
                        rcpt,
                        state: RcptState::Pending,
                        reply: format!(
                            "451 4.4.5 over the rate set for {} ({} messages a minute)",
                            if domain.is_empty() {
                                "the smarthost"
                            } else {
                                &domain
                            },
                            self.settings.per_destination_rate
                        ),
                    });
                }
            }
            if list.is_empty() {
                continue;
            }
            // Up to `per_destination` connections share a domain's messages.
            let n = self.settings.per_destination.clamp(1, list.len().max(1));
            let mut shares: Vec<Vec<Leg>> = (0..n).map(|_| Vec::new()).collect();
            for (k, (i, rcpts)) in list.into_iter().enumerate() {
                shares[k % n].push(Leg {
                    job: i,
                    rcpts,
                    from: jobs[i].queued.from.clone(),
                    bytes: jobs[i].bytes.clone(),
                });
            }
            for legs in shares {
                let (this, limit, domain) = (self.clone(), limit.clone(), domain.clone());
                tasks.spawn(async move {
                    let _permit = limit.acquire_owned().await;
                    let replies = this.to_domain(&domain, &legs).await;
                    (legs, replies)
                });
            }
        }
        while let Some(done) = tasks.join_next().await {
            let Ok((legs, replies)) = done else { continue };
            for (leg, replies) in legs.into_iter().zip(replies) {
                for (rcpt, reply) in leg.rcpts.into_iter().zip(replies) {
                    jobs[leg.job].outcomes.push(RcptOutcome {
                        rcpt,
                        state: reply.state,
                        reply: reply.text,
                    });
                }
            }
        }
    }

    /// Takes out of `list` the messages past the destination's rate this minute, and
    /// returns them; counts the rest as sent.
    fn over_rate(
        &self,
        domain: &str,
        list: &mut Vec<(usize, Vec<String>)>,
    ) -> Vec<(usize, Vec<String>)> {
        let rate = self.settings.per_destination_rate;
        if rate == 0 {
            return Vec::new();
        }
        let mut rates = self.rates.lock().unwrap_or_else(|e| e.into_inner());
        let now = std::time::Instant::now();
        let (start, sent) = rates.entry(domain.to_string()).or_insert((now, 0));
        if now.duration_since(*start) >= std::time::Duration::from_secs(60) {
            (*start, *sent) = (now, 0);
        }
        let allowed = rate.saturating_sub(*sent) as usize;
        let over = if list.len() > allowed {
            list.split_off(allowed)
        } else {
            Vec::new()
        };
        *sent += list.len() as u32;
        over
    }

    /// Delivers a domain's messages: its MX hosts in preference order (the domain itself
    /// without MX; RFC 5321 §5.1), each address of each, until one takes the connection.
    async fn to_domain(&self, domain: &str, legs: &[Leg]) -> Vec<Vec<Reply>> {
        let all = |r: Reply| -> Vec<Vec<Reply>> {
            legs.iter()
                .map(|l| vec![r.clone(); l.rcpts.len()])
                .collect()
        };
        let (hosts, enforce) = match self.hosts(domain).await {
            Ok(h) => h,
            Err(r) => return all(r),
        };
        let outgoing: Vec<Outgoing<'_>> = legs
            .iter()
            .map(|l| Outgoing {
                from: &l.from,
                recipients: &l.rcpts,
                bytes: &l.bytes,
            })
            .collect();
        let mut last = Reply::deferred(format!("451 4.4.1 no mail server of {domain} answered"));
        for (host, addrs) in hosts {
            // DANE applies to MX hosts with validated TLSA records; a lookup that fails
            // for now passes this host over rather than risk sending in clear.
            let dane = match &self.settings.relay {
                Some(_) => Vec::new(),
                None => match self.dns.tlsa(&host, self.settings.port).await {
                    Ok(records) => records.into_iter().filter(|r| r.usable()).collect(),
                    Err(e) => {
                        last = Reply::deferred(format!("451 4.7.5 TLSA lookup for {host}: {e}"));
                        continue;
                    }
                },
            };
            for addr in addrs {
                let (tls, auth) = match &self.settings.relay {
                    Some(r) => (r.tls, r.auth.clone()),
                    // MTA-STS "enforce": verified TLS to a listed MX, or nothing.
                    None if enforce => (TlsMode::Required, None),
                    None => (TlsMode::Opportunistic, None),
                };
                let dial = Dial {
                    addr,
                    host: host.clone(),
                    helo: self.settings.hostname.clone(),
                    tls,
                    timeout: self.settings.timeout,
                    auth,
                    roots: self.settings.roots.clone(),
                    dane: dane.clone(),
                };
                self.stats.count_connection();
                match client::deliver(&dial, &outgoing).await {
                    Ok(replies) => return replies,
                    Err(client::ConnectError::Refused(r)) => {
                        tracing::info!(host = %host, %addr, reply = %r.text, "outbound: refused at connect");
                        // A 5xx greeting or EHLO refuses this host, not the mail:
                        // another MX may take it.
                        last = Reply::deferred(r.text);
                    }
                    Err(e) => {
                        tracing::info!(host = %host, %addr, error = %e, "outbound: connection failed");
                        last = Reply::deferred(format!("451 4.4.1 {host} [{addr}]: {e}"));
                    }
                }
            }
        }
        all(last)
    }

    /// The hosts to try for a domain, each with its addresses, and whether its MTA-STS
    /// policy is enforced (only the MXes it names are left then).
    async fn hosts(&self, domain: &str) -> Result<(Vec<(String, Vec<SocketAddr>)>, bool), Reply> {
        if let Some(r) = &self.settings.relay {
            let addrs = self.addresses(&r.host, r.port).await?;
            return Ok((vec![(r.host.clone(), addrs)], false));
        }
        let mut hosts = self.mx_hosts(domain).await?;
        let Some(policy) = self.mta_sts.policy(self.dns.as_ref(), domain).await else {
            return Ok((hosts, false));
        };
        let listed = |h: &(String, Vec<SocketAddr>)| policy.allows(&h.0);
        match policy.mode {
            Mode::Enforce => {
                hosts.retain(listed);
                if hosts.is_empty() {
                    return Err(Reply::deferred(format!(
                        "451 4.7.5 MTA-STS: no MX of {domain} is one its policy names"
                    )));
                }
                Ok((hosts, true))
            }
            Mode::Testing => {
                if !hosts.iter().all(listed) {
                    tracing::info!(domain, "MTA-STS (testing): an MX the policy does not name");
                }
                Ok((hosts, false))
            }
            Mode::None => Ok((hosts, false)),
        }
    }

    /// A domain's MX hosts in preference order (or the domain itself), with addresses.
    async fn mx_hosts(&self, domain: &str) -> Result<Vec<(String, Vec<SocketAddr>)>, Reply> {
        let port = self.settings.port;
        let mut mx = match self.dns.mx(domain).await {
            Ok(mx) => mx,
            Err(DnsError::NotFound(_)) => {
                // No MX: the domain itself is the implicit MX (RFC 5321 §5.1).
                return match self.dns.ips(domain).await {
                    Ok(ips) if !ips.is_empty() => Ok(vec![(
                        domain.to_string(),
                        ips.into_iter()
                            .map(|ip| SocketAddr::new(ip, port))
                            .collect(),
                    )]),
                    Ok(_) | Err(DnsError::NotFound(_)) => Err(Reply {
                        state: RcptState::Failed,
                        text: format!("550 5.1.2 {domain}: no such domain (no MX, no address)"),
                    }),
                    Err(DnsError::Temporary(e)) => Err(Reply::deferred(format!("451 4.4.3 {e}"))),
                };
            }
            Err(DnsError::Temporary(e)) => return Err(Reply::deferred(format!("451 4.4.3 {e}"))),
        };
        if mx.iter().any(|(_, h)| h.is_empty() || h == ".") {
            // A null MX (RFC 7505): the domain takes no mail.
            return Err(Reply {
                state: RcptState::Failed,
                text: format!("556 5.1.10 {domain} accepts no mail (null MX)"),
            });
        }
        by_preference(&mut mx);
        let mut out = Vec::with_capacity(mx.len());
        for (_, host) in mx {
            if let Ok(addrs) = self.addresses(&host, port).await {
                out.push((host, addrs));
            }
        }
        if out.is_empty() {
            return Err(Reply::deferred(format!(
                "451 4.4.4 no address for any mail server of {domain}"
            )));
        }
        Ok(out)
    }

    async fn addresses(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, Reply> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, port)]);
        }
        match self.dns.ips(host).await {
            Ok(ips) if !ips.is_empty() => Ok(ips
                .into_iter()
                .map(|ip| SocketAddr::new(ip, port))
                .collect()),
            Ok(_) => Err(Reply::deferred(format!("451 4.4.4 {host} has no address"))),
            Err(e) => Err(Reply::deferred(format!("451 4.4.4 {e}"))),
        }
    }

    /// Records the attempt: given up past the queue's lifetime, a notice to the sender
    /// (bounce, or once a delay notice), the next attempt's time.
    async fn record(&self, job: Job, now: i64) -> Result<(), StoreError> {
        let Job {
            queued: q,
            mut outcomes,
            ..
        } = job;
        let age = now - q.created_at;
        let expired = age >= self.settings.max_age.as_secs() as i64;
        for o in outcomes.iter_mut() {
            if o.state == RcptState::Pending && expired {
                o.state = RcptState::Failed;
                o.reply = format!(
                    "{} (given up after {} days)",
                    o.reply,
                    self.settings.max_age.as_secs() / 86_400
                );
            }
        }
        for o in &outcomes {
            self.stats.count_outcome(o);
        }
        let failed: Vec<dsn::Line<'_>> = outcomes
            .iter()
            .filter(|o| o.state == RcptState::Failed)
            .map(|o| dsn::Line {
                rcpt: &o.rcpt,
                reply: &o.reply,
            })
            .collect();
        let still: Vec<dsn::Line<'_>> = outcomes
            .iter()
            .filter(|o| o.state == RcptState::Pending)
            .map(|o| dsn::Line {
                rcpt: &o.rcpt,
                reply: &o.reply,
            })
            .collect();
        let late = !q.delay_notified
            && !still.is_empty()
            && age >= self.settings.delay_notice.as_secs() as i64;
        // No notice to the null sender (a notice about a notice), ever.
        let notice = if q.from.is_empty() {
            None
        } else if !failed.is_empty() {
            Some((dsn::Kind::Failed, &failed))
        } else if late {
            Some((dsn::Kind::Delayed, &still))
        } else {
            None
        };
        let mut bounce = None;
        if let Some((kind, lines)) = notice {
            let original = self.store.blob(&q.blob).await?.unwrap_or_default();
            let bytes = dsn::build(
                kind,
                &self.settings.hostname,
                &q.from,
                q.created_at,
                lines,
                &original,
            );
            let tag: &[u8] = match kind {
                dsn::Kind::Failed => b"failed",
                dsn::Kind::Delayed => b"delayed",
            };
            let attempt = (q.attempts + 1).to_string();
            bounce = Some(Bounce {
                id: request_id(&[b"dsn", &q.id.0, tag, attempt.as_bytes()]),
                to: q.from.clone(),
                bytes: Arc::new(bytes),
            });
            self.stats.count_notice(kind);
        }
        let wait = self.settings.backoff(q.attempts + 1).as_secs() as i64;
        let attempt = Attempt {
            id: q.id,
            outcomes,
            next_attempt: now + wait,
            delay_notified: q.delay_notified || late,
        };
        self.store.record_attempt(attempt, bounce).await
    }
}

/// MX records in preference order, hosts of equal preference in random order, so that a
/// domain's load spreads over them (RFC 5321 §5.1).
fn by_preference(mx: &mut [(u16, String)]) {
    use std::hash::BuildHasher;
    let shuffle = std::collections::hash_map::RandomState::new();
    mx.sort_by_cached_key(|(pref, host)| (*pref, shuffle.hash_one(host)));
}

#[cfg(test)]
mod tests {
    #[test]
    fn equal_preferences_are_tried_in_random_order_lower_ones_first() {
        let mut firsts = std::collections::BTreeSet::new();
        for _ in 0..64 {
            let mut mx = vec![
                (20, "c.test".to_string()),
                (10, "a.test".to_string()),
                (10, "b.test".to_string()),
            ];
            super::by_preference(&mut mx);
            assert_eq!(mx[2].1, "c.test");
            firsts.insert(mx[0].1.clone());
        }
        assert_eq!(firsts.len(), 2, "both equal hosts come first sometimes");
    }
}
