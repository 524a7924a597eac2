//! Sender authentication on the inbound MX (RFC 7208 SPF, RFC 6376 DKIM, RFC 8617 ARC,
//! RFC 7489 DMARC) through mail-auth, reported in one `Authentication-Results` field
//! (RFC 8601) with our authserv-id on top of the message. Fields from outside that claim
//! our authserv-id are cut out (RFC 8601 §5): only we may speak for us.
//!
//! Submission is not checked: its senders logged in. A DMARC failure under `p=reject`
//! is refused (550 5.7.1) when configured, else filed into Junk, as is a failure under
//! `p=quarantine`.

use std::{sync::Arc, time::Instant};

use mail_auth::{
    AuthenticatedMessage, AuthenticationResults, DmarcOutput, DmarcResult, MessageAuthenticator,
    SpfOutput, common::headers::HeaderWriter, dmarc::Policy, dmarc::verify::DmarcParameters,
    spf::verify::SpfParameters,
};
use twinmail_smtp::{Check, Edits, Envelope, Filter, Kind, Verdict};
use twinmail_store::Role;

use crate::{
    dns::DnsCaches,
    headers::{self, trim},
    stats::Counters,
};

/// DKIM signatures verified per message at most; a message with more gets none verified.
const MAX_SIGNATURES: usize = 10;

/// How sender authentication is set up.
#[derive(Clone, Debug)]
pub struct AuthSettings {
    /// Our authserv-id: the name that starts our Authentication-Results fields, the
    /// server's host name (`node.hostname`).
    pub authserv_id: String,
    /// True: a DMARC failure under the sender's `p=reject` is refused with 550 5.7.1;
    /// false: it is filed into Junk.
    pub dmarc_reject: bool,
    /// True: mail from loopback addresses (local programs) is not looked up; it gets an
    /// Authentication-Results field saying `none`.
    pub skip_local: bool,
    /// The longest all lookups of one message may take; past it the message gets
    /// `temperror` for everything and goes on (counted as an error).
    pub timeout: std::time::Duration,
}

/// The sender-authentication filter.
pub struct SenderAuth {
    /// How it is set up.
    settings: AuthSettings,
    /// mail-auth over hickory: the DNS lookups of every check.
    resolver: MessageAuthenticator,
    /// The lookups' answers, kept for their TTLs.
    caches: Arc<DnsCaches>,
    /// Outcomes and latency.
    counters: Arc<Counters>,
}

impl SenderAuth {
    /// A filter resolving through `resolver`, caching in `caches`.
    pub fn new(
        settings: AuthSettings,
        resolver: MessageAuthenticator,
        caches: Arc<DnsCaches>,
        counters: Arc<Counters>,
    ) -> SenderAuth {
        SenderAuth {
            settings,
            resolver,
            caches,
            counters,
        }
    }

    /// The checks themselves.
    async fn run(&self, envelope: &Envelope, message: &[u8]) -> Verdict {
        let host = self.settings.authserv_id.as_str();
        let ip = envelope.peer;
        let helo = envelope.helo.as_str();
        let mut edits = Edits {
            remove: ours(message, host),
            ..Edits::default()
        };
        let dns = &*self.caches;
        let r = &self.resolver;
        // SPF: the HELO identity always, the MAIL FROM identity when there is one (RFC
        // 7208 §2.4: for a null reverse-path the HELO result is the MAIL FROM result).
        let spf_helo = r
            .verify_spf(dns.params(SpfParameters::verify_ehlo(ip, helo, host)))
            .await;
        let from = envelope.from.as_str();
        let spf_from: SpfOutput = if from.is_empty() {
            spf_helo.clone()
        } else {
            r.verify_spf(dns.params(SpfParameters::verify_mail_from(ip, helo, host, from)))
                .await
        };
        let mail_from_domain = from.rsplit_once('@').map_or(helo, |(_, d)| d);
        let Some(parsed) = AuthenticatedMessage::parse(message) else {
            // Nothing to verify signatures in: say what SPF said.
            let ar = AuthenticationResults::new(host)
                .with_spf_ehlo_result(&spf_helo, ip, helo)
                .with_spf_mailfrom_result(&spf_from, ip, from, helo);
            edits.prepend.push(field(ar.to_header()));
            return Verdict::Accept(edits);
        };
        // Each signature costs a key lookup and a verification: past a few, a message is
        // more likely an attack on us than mail (RFC 6376 §6.1 lets a verifier limit them).
        let dkim = if parsed.dkim_headers.len() > MAX_SIGNATURES {
            tracing::info!(id = %envelope.id, signatures = parsed.dkim_headers.len(), "auth: too many DKIM signatures, none verified");
            Vec::new()
        } else {
            r.verify_dkim(dns.params(&parsed)).await
        };
        let arc = r.verify_arc(dns.params(&parsed)).await;
        let dmarc = r
            .verify_dmarc(dns.params(DmarcParameters::new(
                &parsed,
                &dkim,
                mail_from_domain,
                &spf_from,
            )))
            .await;
        let ar = AuthenticationResults::new(host)
            .with_dkim_results(&dkim, parsed.from())
            .with_spf_ehlo_result(&spf_helo, ip, helo)
            .with_spf_mailfrom_result(&spf_from, ip, from, helo)
            .with_arc_result(&arc, ip);
        let (result, failed) = dmarc_result(&dmarc);
        edits.prepend.push(format!(
            "{};\r\n\tdmarc={result} header.from={} policy.dmarc={}",
            field(ar.to_header()),
            pvalue(dmarc.domain()),
            dmarc.policy()
        ));
        if failed {
            match dmarc.policy() {
                Policy::Reject if self.settings.dmarc_reject => {
                    return Verdict::Reject(
                        "550 5.7.1 Message refused: the sender's domain does not authorise it (DMARC)"
                            .into(),
                    );
                }
                Policy::Reject | Policy::Quarantine => {
                    edits.folder = Some(Role::Junk);
                }
                _ => {}
            }
        }
        Verdict::Accept(edits)
    }
}

impl Filter for SenderAuth {
    fn name(&self) -> &'static str {
        "auth"
    }

    fn check<'a>(&'a self, envelope: &'a Envelope, message: &'a [u8]) -> Check<'a> {
        Box::pin(async move {
            if envelope.kind != Kind::Mx {
                return Verdict::accept();
            }
            let started = Instant::now();
            let host = self.settings.authserv_id.as_str();
            let verdict = if self.settings.skip_local && envelope.peer.is_loopback() {
                none(message, host)
            } else {
                match tokio::time::timeout(self.settings.timeout, self.run(envelope, message)).await
                {
                    Ok(v) => v,
                    Err(_) => {
                        self.counters.error();
                        tracing::warn!(id = %envelope.id, "auth: DNS lookups took too long");
                        let mut edits = Edits {
                            remove: ours(message, host),
                            ..Edits::default()
                        };
                        edits.prepend.push(format!(
                            "Authentication-Results: {host};\r\n\tspf=temperror;\r\n\tdkim=temperror;\r\n\tdmarc=temperror"
                        ));
                        Verdict::Accept(edits)
                    }
                }
            };
            self.counters.record(&verdict, started);
            verdict
        })
    }
}

/// Our forged fields cut and an Authentication-Results field saying nothing was checked.
fn none(message: &[u8], host: &str) -> Verdict {
    Verdict::Accept(Edits {
        remove: ours(message, host),
        prepend: vec![format!("Authentication-Results: {host}; none")],
        ..Edits::default()
    })
}

/// The DMARC result (RFC 7489 §11.2) and whether the message failed a published policy.
/// Written here rather than by mail-auth, which says `none` for a message that neither
/// passed nor had an aligned identifier fail, though the domain publishes a record.
fn dmarc_result(d: &DmarcOutput) -> (&'static str, bool) {
    let results = [d.spf_result(), d.dkim_result()];
    if results.contains(&&DmarcResult::Pass) {
        ("pass", false)
    } else if results
        .iter()
        .any(|r| matches!(r, DmarcResult::TempError(_)))
    {
        ("temperror", false)
    } else if results
        .iter()
        .any(|r| matches!(r, DmarcResult::PermError(_)))
    {
        ("permerror", false)
    } else if d.dmarc_record().is_some() {
        ("fail", true)
    } else {
        ("none", false)
    }
}

/// A domain as an RFC 8601 pvalue: only the characters a domain may hold.
fn pvalue(domain: &str) -> String {
    domain
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .collect()
}

/// A header line as mail-auth writes it, without its final CRLF (the pipeline adds it).
fn field(header: String) -> String {
    header.trim_end_matches(['\r', '\n']).to_string()
}

/// The Authentication-Results fields that claim to be ours (their authserv-id, the value
/// up to the first `;`, is `host`), as ranges to cut.
fn ours(message: &[u8], host: &str) -> Vec<std::ops::Range<usize>> {
    headers::fields(message)
        .into_iter()
        .filter(|f| f.name.eq_ignore_ascii_case(b"authentication-results"))
        .filter(|f| {
            let id = f.value.split(|&b| b == b';').next().unwrap_or_default();
            // The authserv-id may carry a version and comments: its first word decides.
            let id = trim(id)
                .split(|b| b.is_ascii_whitespace() || *b == b'(')
                .next()
                .unwrap_or_default();
            id.eq_ignore_ascii_case(host.as_bytes())
        })
        .map(|f| f.range)
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_our_authserv_id_is_cut() {
        let m = b"Authentication-Results: mx.example.com; spf=pass\r\n\
            Authentication-Results: other.example; spf=fail\r\n\
            authentication-results:  MX.example.com (forged)\r\n\t; dkim=pass\r\n\
            Subject: x\r\n\r\nbody\r\n";
        let cut = super::ours(m, "mx.example.com");
        assert_eq!(cut.len(), 2);
        assert_eq!(
            &m[cut[0].clone()],
            b"Authentication-Results: mx.example.com; spf=pass\r\n"
        );
        assert!(m[cut[1].clone()].ends_with(b"; dkim=pass\r\n"));
    }
}
