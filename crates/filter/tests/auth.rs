//! Sender authentication with pre-filled DNS answers (no network here): SPF results for
//! MAIL FROM, DKIM signatures made with mail-auth's signer, DMARC policies, the
//! Authentication-Results field and what happens to messages that fail.

mod common;

use std::{sync::Arc, time::Duration};

use base64::Engine;
use mail_auth::{
    common::{crypto::Ed25519Key, headers::HeaderWriter},
    dkim::DkimSigner,
};
use twinmail_filter::{
    AuthParts, AuthSettings, Counters, DnsCaches, FilterSet, SenderAuth, Stage, offline_resolver,
};
use twinmail_smtp::{Edits, Filter, Kind, Verdict};
use twinmail_store::Role;

const HOST: &str = "mx.example.com";
const PEER: &str = "192.0.2.1";

fn settings(dmarc_reject: bool) -> AuthSettings {
    AuthSettings {
        authserv_id: HOST.into(),
        dmarc_reject,
        skip_local: true,
        timeout: Duration::from_secs(10),
    }
}

/// Caches with "no record" for the HELO name and for DMARC unless a test adds one.
fn caches() -> Arc<DnsCaches> {
    let c = DnsCaches::shared();
    c.add_txt_nxdomain("client.test");
    c.add_txt_nxdomain("_dmarc.sender.test");
    // DMARC's tree walk (RFC 9989 §4.10) asks every parent up to the top-level domain.
    c.add_txt_nxdomain("_dmarc.test");
    c
}

fn filter(caches: Arc<DnsCaches>, dmarc_reject: bool) -> SenderAuth {
    SenderAuth::new(
        settings(dmarc_reject),
        offline_resolver().unwrap(),
        caches,
        Arc::new(Counters::default()),
    )
}

const MESSAGE: &str = "From: User <user@sender.test>\r\nTo: alice@example.com\r\nSubject: hello\r\nMessage-ID: <1@sender.test>\r\n\r\nHello there.\r\n";

async fn check(f: &SenderAuth, from: &str, message: &str) -> Verdict {
    let env = common::envelope(PEER, "client.test", from);
    f.check(&env, message.as_bytes()).await
}

fn accepted(v: Verdict) -> Edits {
    match v {
        Verdict::Accept(e) => e,
        other => panic!("not accepted: {other:?}"),
    }
}

/// Our Authentication-Results field of the edits.
fn results(e: &Edits) -> String {
    let ar: Vec<&String> = e
        .prepend
        .iter()
        .filter(|h| h.starts_with("Authentication-Results: "))
        .collect();
    assert_eq!(ar.len(), 1, "{e:?}");
    assert!(
        ar[0].starts_with(&format!("Authentication-Results: {HOST};")),
        "{}",
        ar[0]
    );
    ar[0].clone()
}

/// The result of one method in an Authentication-Results field: the clause that names
/// `property` (e.g. "smtp.mailfrom").
fn clause(ar: &str, property: &str) -> String {
    ar.split(';')
        .map(str::trim)
        .find(|c| c.contains(property))
        .unwrap_or_else(|| panic!("no {property} in {ar}"))
        .to_string()
}

async fn spf_result(record: Option<&str>) -> String {
    let c = caches();
    match record {
        Some("NXDOMAIN") => c.add_txt_nxdomain("sender.test"),
        Some("SERVFAIL") => c.add_txt_failure("sender.test"),
        Some(r) => c.add_spf("sender.test", r),
        None => {}
    }
    let e = accepted(check(&filter(c, false), "user@sender.test", MESSAGE).await);
    clause(&results(&e), "smtp.mailfrom")
}

#[tokio::test]
async fn spf_pass_when_the_sender_domain_lists_the_client() {
    let c = spf_result(Some("v=spf1 ip4:192.0.2.0/24 -all")).await;
    assert!(c.starts_with("spf=pass"), "{c}");
}

#[tokio::test]
async fn spf_fail_softfail_and_neutral_follow_the_all_qualifier() {
    for (all, want) in [("-all", "fail"), ("~all", "softfail"), ("?all", "neutral")] {
        let c = spf_result(Some(&format!("v=spf1 ip4:198.51.100.7 {all}"))).await;
        assert!(c.starts_with(&format!("spf={want} ")), "{all}: {c}");
    }
}

#[tokio::test]
async fn spf_none_without_a_record() {
    let c = spf_result(Some("NXDOMAIN")).await;
    assert!(c.starts_with("spf=none"), "{c}");
}

#[tokio::test]
async fn spf_temperror_when_dns_fails() {
    let c = spf_result(Some("SERVFAIL")).await;
    assert!(c.starts_with("spf=temperror"), "{c}");
    // Not in the caches at all: the (offline) resolver fails, also a temporary error.
    let c = spf_result(None).await;
    assert!(c.starts_with("spf=temperror"), "{c}");
}

#[tokio::test]
async fn spf_permerror_for_a_broken_record() {
    // RFC 7208 §6.1: a redirect to a domain without an SPF record is a permerror.
    let c = caches();
    c.add_spf("sender.test", "v=spf1 redirect=nospf.test");
    c.add_txt_nxdomain("nospf.test");
    let e = accepted(check(&filter(c, false), "user@sender.test", MESSAGE).await);
    let c = clause(&results(&e), "smtp.mailfrom");
    assert!(c.starts_with("spf=permerror"), "{c}");
}

#[tokio::test]
async fn spf_of_the_helo_name_is_reported_too() {
    let c = caches();
    c.add_spf("sender.test", "v=spf1 -all");
    c.add_spf("relay.test", "v=spf1 ip4:192.0.2.1 -all");
    let env = common::envelope(PEER, "relay.test", "user@sender.test");
    let e = accepted(filter(c, false).check(&env, MESSAGE.as_bytes()).await);
    let ar = results(&e);
    assert!(clause(&ar, "smtp.helo").starts_with("spf=pass"), "{ar}");
    assert!(clause(&ar, "smtp.mailfrom").starts_with("spf=fail"), "{ar}");
}

/// A message signed by sender.test (selector s1) with a fresh Ed25519 key, whose public
/// half is put in the caches.
fn signed(c: &DnsCaches, message: &str) -> String {
    let pkcs8 = Ed25519Key::generate_pkcs8().unwrap();
    let key = Ed25519Key::from_pkcs8_der(&pkcs8).unwrap();
    let public = base64::engine::general_purpose::STANDARD.encode(key.public_key());
    c.add_dkim_key(
        "s1._domainkey.sender.test",
        &format!("v=DKIM1; k=ed25519; p={public}"),
    );
    let signature = DkimSigner::from_key(key)
        .domain("sender.test")
        .selector("s1")
        .headers(["From", "To", "Subject", "Message-ID"])
        .sign(message.as_bytes())
        .unwrap();
    format!("{}{message}", signature.to_header())
}

#[tokio::test]
async fn dkim_pass_for_a_signed_message_and_fail_once_it_is_changed() {
    // A changed signed header breaks the signature: fail. (A changed body only breaks the
    // body hash, which mail-auth reports as neutral.)
    let c = caches();
    c.add_spf("sender.test", "v=spf1 -all");
    let m = signed(&c, MESSAGE);
    let f = filter(c, false);
    let e = accepted(check(&f, "user@sender.test", &m).await);
    let ar = results(&e);
    let dkim = clause(&ar, "header.d=sender.test");
    assert!(dkim.starts_with("dkim=pass"), "{ar}");
    let changed = m.replace("Subject: hello", "Subject: changed");
    let e = accepted(check(&f, "user@sender.test", &changed).await);
    let ar = results(&e);
    assert!(
        clause(&ar, "header.d=sender.test").starts_with("dkim=fail"),
        "{ar}"
    );
}

#[tokio::test]
async fn every_signature_is_reported() {
    let c = caches();
    c.add_spf("sender.test", "v=spf1 -all");
    let once = signed(&c, MESSAGE);
    // A second signature, by a domain whose key is not published.
    let m = format!(
        "DKIM-Signature: v=1; a=ed25519-sha256; d=other.test; s=s2; c=relaxed/relaxed; h=From; bh=AAAA; b=AAAA\r\n{once}"
    );
    c.add_txt_nxdomain("s2._domainkey.other.test");
    let e = accepted(check(&filter(c, false), "user@sender.test", &m).await);
    let ar = results(&e);
    assert_eq!(ar.matches("dkim=").count(), 2, "{ar}");
    assert!(
        clause(&ar, "header.d=sender.test").starts_with("dkim=pass"),
        "{ar}"
    );
}

#[tokio::test]
async fn dmarc_pass_through_an_aligned_signature_delivers_to_inbox() {
    let c = caches();
    c.add_spf("sender.test", "v=spf1 -all");
    c.add_dmarc("_dmarc.sender.test", "v=DMARC1; p=reject");
    let m = signed(&c, MESSAGE);
    let e = accepted(check(&filter(c, true), "user@sender.test", &m).await);
    let ar = results(&e);
    assert!(
        clause(&ar, "policy.dmarc").starts_with("dmarc=pass"),
        "{ar}"
    );
    assert_eq!(e.folder, None);
}

#[tokio::test]
async fn dmarc_pass_through_aligned_spf() {
    let c = caches();
    c.add_spf("sender.test", "v=spf1 ip4:192.0.2.1 -all");
    c.add_dmarc("_dmarc.sender.test", "v=DMARC1; p=reject");
    let e = accepted(check(&filter(c, true), "user@sender.test", MESSAGE).await);
    let ar = results(&e);
    assert!(
        clause(&ar, "policy.dmarc").starts_with("dmarc=pass"),
        "{ar}"
    );
    assert_eq!(e.folder, None);
}

#[tokio::test]
async fn dmarc_reject_failure_is_filed_into_junk_by_default() {
    let c = caches();
    c.add_spf("sender.test", "v=spf1 -all");
    c.add_dmarc("_dmarc.sender.test", "v=DMARC1; p=reject");
    let e = accepted(check(&filter(c, false), "user@sender.test", MESSAGE).await);
    let ar = results(&e);
    assert!(
        clause(&ar, "policy.dmarc").starts_with("dmarc=fail"),
        "{ar}"
    );
    assert_eq!(e.folder, Some(Role::Junk));
}

#[tokio::test]
async fn dmarc_reject_failure_is_refused_when_configured() {
    let c = caches();
    c.add_spf("sender.test", "v=spf1 -all");
    c.add_dmarc("_dmarc.sender.test", "v=DMARC1; p=reject");
    match check(&filter(c, true), "user@sender.test", MESSAGE).await {
        Verdict::Reject(r) => {
            assert!(r.starts_with("550 5.7.1 "), "{r}");
        }
        other => panic!("not refused: {other:?}"),
    }
}

#[tokio::test]
async fn dmarc_quarantine_failure_goes_to_junk_and_none_to_inbox() {
    for (policy, folder) in [("quarantine", Some(Role::Junk)), ("none", None)] {
        let c = caches();
        c.add_spf("sender.test", "v=spf1 -all");
        c.add_dmarc("_dmarc.sender.test", &format!("v=DMARC1; p={policy}"));
        let e = accepted(check(&filter(c, true), "user@sender.test", MESSAGE).await);
        assert!(clause(&results(&e), "policy.dmarc").starts_with("dmarc=fail"));
        assert_eq!(e.folder, folder, "p={policy}");
    }
}

#[tokio::test]
async fn dmarc_none_without_a_record() {
    let c = caches();
    c.add_spf("sender.test", "v=spf1 -all");
    let e = accepted(check(&filter(c, true), "user@sender.test", MESSAGE).await);
    assert!(clause(&results(&e), "policy.dmarc").starts_with("dmarc=none"));
    assert_eq!(e.folder, None);
}

#[tokio::test]
async fn arc_none_for_a_message_without_a_chain() {
    let c = caches();
    c.add_spf("sender.test", "v=spf1 -all");
    let e = accepted(check(&filter(c, false), "user@sender.test", MESSAGE).await);
    assert!(clause(&results(&e), "smtp.remote-ip").starts_with("arc=none"));
}

#[tokio::test]
async fn results_claiming_our_name_are_cut_and_others_kept() {
    let c = caches();
    c.add_spf("sender.test", "v=spf1 -all");
    let m = format!(
        "Authentication-Results: {HOST}; spf=pass smtp.mailfrom=user@sender.test\r\n\
         Authentication-Results: relay.other.test; spf=pass\r\n{MESSAGE}"
    );
    let e = accepted(check(&filter(c, false), "user@sender.test", &m).await);
    assert_eq!(e.remove.len(), 1);
    assert!(m[e.remove[0].clone()].starts_with(&format!("Authentication-Results: {HOST};")));
}

#[tokio::test]
async fn submission_and_local_mail_are_not_looked_up() {
    // No answers at all in the caches: any lookup would be a temperror.
    let f = filter(DnsCaches::shared(), true);
    let mut env = common::envelope(PEER, "client.test", "user@sender.test");
    env.kind = Kind::Submission;
    assert_eq!(f.check(&env, MESSAGE.as_bytes()).await, Verdict::accept());
    let env = common::envelope("127.0.0.1", "localhost", "user@sender.test");
    let e = accepted(f.check(&env, MESSAGE.as_bytes()).await);
    assert_eq!(
        e.prepend,
        vec![format!("Authentication-Results: {HOST}; none")]
    );
}

/// Over SMTP: the Authentication-Results field is stored with the message, a DMARC
/// failure lands in Junk (or is refused with 550 when so configured).
#[tokio::test]
async fn over_smtp_results_are_stored_and_dmarc_failures_filed_or_refused() {
    for reject in [false, true] {
        let c = DnsCaches::shared();
        c.add_txt_nxdomain("client.test");
        c.add_spf("sender.test", "v=spf1 ip4:127.0.0.1 -all");
        c.add_spf("forged.test", "v=spf1 -all");
        c.add_dmarc("_dmarc.sender.test", "v=DMARC1; p=reject");
        c.add_dmarc("_dmarc.forged.test", "v=DMARC1; p=reject");
        c.add_txt_nxdomain("_dmarc.test");
        let auth = AuthParts {
            settings: AuthSettings {
                skip_local: false,
                ..settings(reject)
            },
            resolver: offline_resolver().unwrap(),
            caches: c,
        };
        let set = FilterSet::build(&[Stage::Auth], Some(auth), None, None);
        let mx = common::mx(&set).await;
        // A Junk folder the user deleted is made again for the message that needs it.
        let a = mx
            .store
            .account("alice@example.com")
            .await
            .unwrap()
            .unwrap();
        mx.store.delete_mailbox(a.id, "Junk").await.unwrap();
        let good = MESSAGE;
        let reply = common::send(mx.mx, "user@sender.test", "alice@example.com", good).await;
        assert!(reply.starts_with("250 "), "{reply}");
        let forged = MESSAGE.replace("sender.test", "forged.test");
        let reply = common::send(mx.mx, "user@forged.test", "alice@example.com", &forged).await;
        let inbox = mx.folder("alice@example.com", "INBOX").await;
        let junk = mx.folder("alice@example.com", "Junk").await;
        assert_eq!(inbox.len(), 1);
        let stored = String::from_utf8_lossy(&inbox[0]);
        assert!(
            stored.starts_with(
                "Return-Path: <user@sender.test>\r\nAuthentication-Results: mx.example.com;"
            ),
            "{stored}"
        );
        assert!(stored.contains("dmarc=pass"), "{stored}");
        if reject {
            assert!(reply.starts_with("550 5.7.1 "), "{reply}");
            assert!(junk.is_empty());
        } else {
            assert!(reply.starts_with("250 "), "{reply}");
            assert_eq!(junk.len(), 1);
            assert!(String::from_utf8_lossy(&junk[0]).contains("dmarc=fail"));
        }
        let stats = set.stats();
        assert_eq!(stats[0].name, "auth");
        assert_eq!(stats[0].accepted, 1);
        assert_eq!(stats[0].junked + stats[0].rejected, 1);
    }
}

#[tokio::test]
async fn a_flood_of_signatures_is_not_verified() {
    let c = caches();
    c.add_spf("sender.test", "v=spf1 -all");
    // Eleven signatures whose keys would each need a lookup (none is cached: any lookup
    // would show as a dkim result).
    let sigs: String = (0..11)
        .map(|i| format!("DKIM-Signature: v=1; a=ed25519-sha256; d=sender.test; s=k{i}; c=relaxed/relaxed; h=From; bh=AAAA; b=AAAA\r\n"))
        .collect();
    let e = accepted(
        check(
            &filter(c, false),
            "user@sender.test",
            &format!("{sigs}{MESSAGE}"),
        )
        .await,
    );
    let ar = results(&e);
    assert!(!ar.contains("dkim="), "{ar}");
}

/// A message sealed (ARC, RFC 8617) by relay.test with a fresh Ed25519 key, whose public
/// half is put in the caches.
async fn sealed(c: &DnsCaches, message: &str) -> String {
    use mail_auth::{AuthenticatedMessage, AuthenticationResults, arc::ArcSealer};
    let pkcs8 = Ed25519Key::generate_pkcs8().unwrap();
    let key = Ed25519Key::from_pkcs8_der(&pkcs8).unwrap();
    let public = base64::engine::general_purpose::STANDARD.encode(key.public_key());
    c.add_dkim_key(
        "arc._domainkey.relay.test",
        &format!("v=DKIM1; k=ed25519; p={public}"),
    );
    let parsed = AuthenticatedMessage::parse(message.as_bytes()).unwrap();
    let resolver = offline_resolver().unwrap();
    let arc = resolver.verify_arc(&parsed).await;
    let results = AuthenticationResults::new("relay.test")
        .with_arc_result(&arc, "198.51.100.1".parse().unwrap());
    let set = ArcSealer::from_key(key)
        .domain("relay.test")
        .selector("arc")
        .headers(["From", "To", "Subject"])
        .seal(&parsed, &results, &arc)
        .unwrap();
    format!("{}{message}", set.to_header())
}

#[tokio::test]
async fn arc_pass_for_a_sealed_message_and_fail_once_it_is_changed() {
    let c = caches();
    c.add_spf("sender.test", "v=spf1 -all");
    let m = sealed(&c, MESSAGE).await;
    let f = filter(c, false);
    let e = accepted(check(&f, "user@sender.test", &m).await);
    let ar = results(&e);
    assert!(
        clause(&ar, "smtp.remote-ip").starts_with("arc=pass"),
        "{ar}"
    );
    let changed = m.replace("Subject: hello", "Subject: changed");
    let e = accepted(check(&f, "user@sender.test", &changed).await);
    let ar = results(&e);
    assert!(
        clause(&ar, "smtp.remote-ip").starts_with("arc=fail"),
        "{ar}"
    );
}

/// What the outbound runner signs (an Ed25519 and an RSA key of one domain, made as
/// `twinmail dkim generate` makes them) passes here, and DMARC with it.
#[tokio::test]
async fn signatures_made_by_the_outbound_signer_verify() {
    use twinmail_outbound::dkim;
    let c = caches();
    c.add_spf("sender.test", "v=spf1 -all");
    c.add_dmarc("_dmarc.sender.test", "v=DMARC1; p=reject");
    let mut keys = Vec::new();
    for (algorithm, selector) in [(dkim::ED25519, "ed"), (dkim::RSA, "rsa")] {
        let (private_key, record) = dkim::generate(algorithm).unwrap();
        c.add_dkim_key(&format!("{selector}._domainkey.sender.test"), &record);
        keys.push(twinmail_store::DkimKey {
            domain: "sender.test".into(),
            selector: selector.into(),
            algorithm: algorithm.into(),
            private_key,
        });
    }
    let signed = dkim::sign(&keys, MESSAGE.as_bytes()).unwrap();
    let signed = String::from_utf8(signed).unwrap();
    let e = accepted(check(&filter(c, true), "user@sender.test", &signed).await);
    let ar = results(&e);
    assert!(clause(&ar, "header.s=ed").starts_with("dkim=pass"), "{ar}");
    assert!(clause(&ar, "header.s=rsa").starts_with("dkim=pass"), "{ar}");
    assert!(
        clause(&ar, "policy.dmarc").starts_with("dmarc=pass"),
        "{ar}"
    );
}
