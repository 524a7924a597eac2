//! URLAUTH (RFC 4467) with URL-PARTIAL (RFC 5550): GENURLAUTH signs URLs of the user's
//! own messages, URLFETCH gives their data to whom the access identifier admits (NIL for
//! anything that does not verify), RESETKEY voids every URL signed before, and CATENATE
//! takes a URLAUTH URL only once it verifies.

mod common;

use common::{ALICE, BOB, Client, MIXED, Server, append_mixed, start};

fn tagged(lines: &[String]) -> &str {
    lines.last().map(String::as_str).unwrap_or_default()
}

/// Alice's `name` mailbox's local id and UIDVALIDITY.
async fn mailbox_of_alice(srv: &Server, name: &str) -> (i64, u32) {
    let a = srv.store.account(ALICE.0).await.unwrap().unwrap();
    let m = srv.store.mailbox(a.id, name).await.unwrap().unwrap();
    (m.id, m.uidvalidity)
}

/// A rump URL of alice's INBOX UID 1 with `rest` (section, partial, expire) before
/// `;URLAUTH=access`.
async fn rump(srv: &Server, rest: &str, access: &str) -> String {
    let (_, v) = mailbox_of_alice(srv, "INBOX").await;
    format!(
        "imap://alice%40example.com@localhost/INBOX;UIDVALIDITY={v}/;UID=1{rest};URLAUTH={access}"
    )
}

/// The URL GENURLAUTH answers for one rump (and checks the answer's shape).
async fn genurlauth(c: &mut Client, rump: &str) -> String {
    let r = c.cmd(&format!("GENURLAUTH \"{rump}\" INTERNAL")).await;
    assert_eq!(r.len(), 2, "{r:?}");
    assert_eq!(r[1], "A OK GENURLAUTH completed");
    let quoted = r[0]
        .strip_prefix("* GENURLAUTH \"")
        .and_then(|l| l.strip_suffix('"'))
        .unwrap_or_else(|| panic!("{r:?}"));
    let token = quoted
        .strip_prefix(&format!("{rump}:INTERNAL:"))
        .unwrap_or_else(|| panic!("{quoted}"));
    assert_eq!(token.len(), 40, "an HMAC-SHA1 in hex: {token}");
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()), "{token}");
    quoted.to_string()
}

/// URLFETCH of one URL: its data, or None for NIL.
async fn urlfetch(c: &mut Client, url: &str) -> Option<String> {
    let r = c.cmd(&format!("URLFETCH \"{url}\"")).await;
    assert_eq!(tagged(&r), "A OK URLFETCH completed", "{r:?}");
    let head = format!("* URLFETCH \"{url}\" ");
    let rest = r[0].strip_prefix(&head).unwrap_or_else(|| panic!("{r:?}"));
    if rest == "NIL" {
        assert_eq!(r.len(), 2, "{r:?}");
        return None;
    }
    let n: usize = rest
        .strip_prefix('{')
        .and_then(|l| l.strip_suffix('}'))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{r:?}"));
    // The literal's lines, up to the tagged reply (the last line ends the response).
    let data = r[1..r.len() - 1].join("\r\n");
    assert_eq!(data.len(), n, "{r:?}");
    Some(data)
}

/// A client of alice with MIXED as INBOX UID 1.
async fn alice_with_mixed(srv: &Server) -> Client {
    let mut c = srv.login(ALICE).await;
    append_mixed(&mut c).await;
    c
}

/// The full URL for `rump` as alice's INBOX key signs it now (for URLs GENURLAUTH would
/// refuse to sign: expired ones, ones naming a UIDVALIDITY the mailbox no longer has).
async fn signed_by_inbox_key(srv: &Server, rump: &str) -> String {
    let (id, _) = mailbox_of_alice(srv, "INBOX").await;
    let key = srv.store.access_key(id).await.unwrap().expect("a key");
    format!("{rump}:INTERNAL:{}", hex(&key.sign(rump.as_bytes())))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn genurlauth_then_urlfetch_round_trips_with_partial() {
    let srv = start().await;
    let mut c = alice_with_mixed(&srv).await;
    // Part 1's bytes 6..11 ("world"), for anyone.
    let r = rump(&srv, "/;SECTION=1/;PARTIAL=6.5", "anonymous").await;
    let url = genurlauth(&mut c, &r).await;
    assert_eq!(urlfetch(&mut c, &url).await.as_deref(), Some("world"));
    // The same mailbox keeps its key: the same rump signs to the same URL.
    assert_eq!(genurlauth(&mut c, &r).await, url);
    // Another user fetches it too (that is what the URL is for), and so does a whole
    // message URL for any logged-in user, read byte for byte.
    let whole = genurlauth(&mut c, &rump(&srv, "", "authuser").await).await;
    let mut b = srv.login(BOB).await;
    assert_eq!(urlfetch(&mut b, &url).await.as_deref(), Some("world"));
    assert_eq!(urlfetch(&mut b, &whole).await.as_deref(), Some(MIXED));
    // Several URLs: one response each, in order, NIL where one does not verify.
    let r = b
        .cmd(&format!(
            "URLFETCH {url} \"{url}0\" {{{}+}}\r\n{url}",
            url.len()
        ))
        .await;
    assert_eq!(
        r,
        [
            format!("* URLFETCH \"{url}\" {{5}}"),
            "world".to_string(),
            format!("* URLFETCH \"{url}0\" NIL"),
            format!("* URLFETCH \"{url}\" {{5}}"),
            "world".to_string(),
            "A OK URLFETCH completed".to_string(),
        ]
    );
    // Reading by URL sets no flags (RFC 4467 §7.3).
    c.cmd("SELECT INBOX").await;
    let r = c.cmd("FETCH 1 FLAGS").await;
    assert!(!r[0].contains("\\Seen"), "{r:?}");
}

#[tokio::test]
async fn urls_that_do_not_verify_are_nil() {
    let srv = start().await;
    let mut c = alice_with_mixed(&srv).await;
    let mut b = srv.login(BOB).await;
    let for_bob = genurlauth(
        &mut c,
        &rump(&srv, "/;SECTION=1", "user+bob%40example.com").await,
    )
    .await;
    let part = "hello world, this is part one";
    // Only bob may fetch a URL for bob.
    assert_eq!(urlfetch(&mut b, &for_bob).await.as_deref(), Some(part));
    assert_eq!(urlfetch(&mut c, &for_bob).await, None);
    // A token off by one digit, a token cut short, a URL changed after signing (another
    // UID, another access identifier, another user's name): NIL.
    let digit = for_bob.len() - 1;
    let flipped = if &for_bob[digit..] == "0" { "1" } else { "0" };
    let wrong = [
        format!("{}{flipped}", &for_bob[..digit]),
        for_bob[..for_bob.len() - 2].to_string(),
        for_bob.replace(";UID=1/", ";UID=2/"),
        for_bob.replace("user+bob%40example.com", "authuser"),
        for_bob.replace("alice%40example.com@", "bob%40example.com@"),
    ];
    for url in &wrong {
        assert_eq!(urlfetch(&mut b, url).await, None, "{url}");
    }
    // Submission URLs are for a submission server, which no IMAP session is here.
    let submit = genurlauth(&mut c, &rump(&srv, "", "submit+alice%40example.com").await).await;
    assert_eq!(urlfetch(&mut c, &submit).await, None);
    // Signed with the right key but expired, or made for an old UIDVALIDITY: NIL; with
    // an EXPIRE still ahead, the data.
    let expired = signed_by_inbox_key(
        &srv,
        &rump(&srv, ";EXPIRE=2001-02-03T04:05:06Z", "anonymous").await,
    )
    .await;
    assert_eq!(urlfetch(&mut b, &expired).await, None);
    let ahead = genurlauth(
        &mut c,
        &rump(
            &srv,
            "/;SECTION=1;EXPIRE=2999-01-01T00:00:00+01:00",
            "anonymous",
        )
        .await,
    )
    .await;
    assert_eq!(urlfetch(&mut b, &ahead).await.as_deref(), Some(part));
    let (_, v) = mailbox_of_alice(&srv, "INBOX").await;
    let old = signed_by_inbox_key(
        &srv,
        &rump(&srv, "", "anonymous").await.replace(
            &format!("UIDVALIDITY={v}"),
            &format!("UIDVALIDITY={}", v - 1),
        ),
    )
    .await;
    assert_eq!(urlfetch(&mut b, &old).await, None);
    // An expunged message: NIL.
    let anyone = genurlauth(&mut c, &rump(&srv, "", "anonymous").await).await;
    c.cmd("SELECT INBOX").await;
    c.cmd("STORE 1 +FLAGS (\\Deleted)").await;
    c.cmd("EXPUNGE").await;
    assert_eq!(urlfetch(&mut b, &anyone).await, None);
    // URLs naming no user, mailbox or message there is: NIL, as a wrong token is.
    for url in [
        anyone.replace("alice%40example.com@", "nobody%40example.com@"),
        anyone.replace("/INBOX;", "/Nowhere;"),
        "imap://alice%40example.com@localhost/INBOX/;UID=1".to_string(),
        "not a url".to_string(),
    ] {
        assert_eq!(urlfetch(&mut b, &url).await, None, "{url}");
    }
}

#[tokio::test]
async fn resetkey_voids_every_url_signed_before() {
    let srv = start().await;
    let mut c = alice_with_mixed(&srv).await;
    c.cmd("CREATE Work").await;
    let r = c
        .cmd(&format!("APPEND Work {{{}+}}\r\n{MIXED}", MIXED.len()))
        .await;
    assert!(tagged(&r).starts_with("A OK"), "{r:?}");
    let (_, work_v) = mailbox_of_alice(&srv, "Work").await;
    let work_rump = format!(
        "imap://alice%40example.com@localhost/Work;UIDVALIDITY={work_v}/;UID=1/;PARTIAL=0.4;URLAUTH=anonymous"
    );
    let inbox = genurlauth(&mut c, &rump(&srv, "/;PARTIAL=0.4", "anonymous").await).await;
    let work = genurlauth(&mut c, &work_rump).await;
    assert_eq!(urlfetch(&mut c, &inbox).await.as_deref(), Some("From"));
    assert_eq!(urlfetch(&mut c, &work).await.as_deref(), Some("From"));
    // One mailbox: its URLs stop working, the other's do not; it signs anew, differently.
    let r = c.cmd("RESETKEY INBOX").await;
    assert_eq!(r, ["A OK [URLMECH INTERNAL] Key reset"]);
    assert_eq!(urlfetch(&mut c, &inbox).await, None);
    assert_eq!(urlfetch(&mut c, &work).await.as_deref(), Some("From"));
    let again = genurlauth(&mut c, &rump(&srv, "/;PARTIAL=0.4", "anonymous").await).await;
    assert_ne!(again, inbox);
    assert_eq!(urlfetch(&mut c, &again).await.as_deref(), Some("From"));
    // Every mailbox.
    let r = c.cmd("RESETKEY").await;
    assert_eq!(r, ["A OK All keys reset"]);
    for url in [&again, &work] {
        assert_eq!(urlfetch(&mut c, url).await, None, "{url}");
    }
    let fresh = genurlauth(&mut c, &work_rump).await;
    assert_eq!(urlfetch(&mut c, &fresh).await.as_deref(), Some("From"));
    // The mechanism may be named; no other is known; a mailbox must exist.
    let r = c.cmd("RESETKEY inbox internal").await;
    assert_eq!(r, ["A OK [URLMECH INTERNAL] Key reset"]);
    let r = c.cmd("RESETKEY INBOX XSAMPLE").await;
    assert_eq!(r, ["A NO Unsupported URLAUTH mechanism"]);
    let r = c.cmd("RESETKEY Nowhere").await;
    assert_eq!(r, ["A NO No such mailbox"]);
}

#[tokio::test]
async fn genurlauth_signs_only_good_rumps_of_your_own_messages() {
    let srv = start().await;
    let mut b = srv.login(BOB).await;
    append_mixed(&mut b).await;
    let mut c = alice_with_mixed(&srv).await;
    let good = rump(&srv, "", "anonymous").await;
    let (_, v) = mailbox_of_alice(&srv, "INBOX").await;
    for (rump, why) in [
        (
            good.replace("alice%40example.com@", "bob%40example.com@"),
            "Not permitted to sign URLs of another user",
        ),
        (
            format!("/INBOX;UIDVALIDITY={v}/;UID=1;URLAUTH=anonymous"),
            "Invalid URLAUTH rump URL",
        ),
        (
            good.replace(&format!(";UIDVALIDITY={v}"), ""),
            "The URL must say the mailbox's UIDVALIDITY",
        ),
        (
            good.replace(
                &format!("UIDVALIDITY={v}"),
                &format!("UIDVALIDITY={}", v + 1),
            ),
            "UIDVALIDITY has changed",
        ),
        (good.replace(";UID=1", ";UID=2"), "no such message"),
        (
            good.replace(";URLAUTH", "/;SECTION=9;URLAUTH"),
            "no such part",
        ),
        (good.replace("/INBOX;", "/Nowhere;"), "No such mailbox"),
        (
            good.replace(";URLAUTH", ";EXPIRE=2001-01-01T00:00:00Z;URLAUTH"),
            "The URL has already expired",
        ),
        (
            format!("{good}:INTERNAL:{}", "0".repeat(40)),
            "The URL already carries a token",
        ),
        (
            good.replace("anonymous", "everyone"),
            "Invalid URLAUTH rump URL",
        ),
    ] {
        let r = c.cmd(&format!("GENURLAUTH \"{rump}\" INTERNAL")).await;
        assert_eq!(r, [format!("A NO {why}")], "{rump}");
    }
    let r = c.cmd(&format!("GENURLAUTH \"{good}\" XSAMPLE")).await;
    assert_eq!(r, ["A NO Unsupported URLAUTH mechanism"]);
    // One bad rump among good ones: nothing is signed.
    let r = c
        .cmd(&format!(
            "GENURLAUTH \"{good}\" INTERNAL \"{}\" INTERNAL",
            good.replace(";UID=1", ";UID=7")
        ))
        .await;
    assert_eq!(r, ["A NO no such message"]);
    // Two good ones: one response with both, in order.
    let r = c
        .cmd(&format!(
            "GENURLAUTH \"{good}\" INTERNAL \"{0}\" internal",
            good.replace("anonymous", "authuser")
        ))
        .await;
    assert_eq!(r.len(), 2, "{r:?}");
    let urls: Vec<&str> = r[0]
        .strip_prefix("* GENURLAUTH ")
        .unwrap()
        .split(' ')
        .collect();
    assert_eq!(urls.len(), 2, "{r:?}");
    assert!(urls[0].starts_with(&format!("\"{good}:INTERNAL:")), "{r:?}");
    assert!(urls[1].contains(";URLAUTH=authuser:INTERNAL:"), "{r:?}");
}

#[tokio::test]
async fn catenate_takes_a_urlauth_url_once_it_verifies() {
    let srv = start().await;
    let mut c = alice_with_mixed(&srv).await;
    let for_bob = genurlauth(
        &mut c,
        &rump(&srv, "/;SECTION=1", "user+bob%40example.com").await,
    )
    .await;
    let mut b = srv.login(BOB).await;
    // Bob builds a message in his own Drafts from alice's part, which the URL lets him
    // read; a URL for bob does not let alice do the same, nor does a forged token.
    let r = b
        .cmd(&format!(
            "APPEND Drafts CATENATE (TEXT {{14+}}\r\nSubject: x\r\n\r\n URL \"{for_bob}\")"
        ))
        .await;
    assert!(tagged(&r).starts_with("A OK [APPENDUID "), "{r:?}");
    let bob = srv.store.account(BOB.0).await.unwrap().unwrap();
    let drafts = srv.store.mailbox(bob.id, "Drafts").await.unwrap().unwrap();
    let msg = srv.store.messages(drafts.id).await.unwrap().remove(0);
    assert_eq!(
        srv.store.blob(&msg.blob).await.unwrap().unwrap(),
        b"Subject: x\r\n\r\nhello world, this is part one"
    );
    let forged = format!("{}0", &for_bob[..for_bob.len() - 1]);
    for (client, url) in [(&mut c, &for_bob), (&mut b, &forged)] {
        let r = client
            .cmd(&format!("APPEND Drafts CATENATE (URL \"{url}\")"))
            .await;
        assert_eq!(
            r,
            [format!(
                "A NO [BADURL {url}] CATENATE refused: URLAUTH verification failed"
            )]
        );
    }
}

#[tokio::test]
async fn hostile_arguments_are_bad_and_capped() {
    let srv = start().await;
    // Not before login.
    let mut anon = Client::connect_tls(&srv).await;
    let r = anon.cmd("URLFETCH x").await;
    assert_eq!(r, ["A BAD Log in first"]);
    let mut c = alice_with_mixed(&srv).await;
    let url = genurlauth(&mut c, &rump(&srv, "/;PARTIAL=0.1", "anonymous").await).await;
    // 64 URLs are answered; 65 are refused whole.
    let r = c
        .cmd(&format!("URLFETCH{}", format!(" {url}").repeat(64)))
        .await;
    assert_eq!(r.len(), 2 * 64 + 1, "{:?}", &r[..3]);
    assert_eq!(tagged(&r), "A OK URLFETCH completed");
    let r = c
        .cmd(&format!("URLFETCH{}", format!(" {url}").repeat(65)))
        .await;
    assert_eq!(r, ["A BAD Too many URLs in one command"]);
    let r = c.cmd(&format!("URLFETCH \"{}\"", "u".repeat(4096))).await;
    assert_eq!(r, ["A BAD URL too long"]);
    for bad in ["URLFETCH", "GENURLAUTH x", "URLFETCH (x)", "RESETKEY \"x"] {
        let r = c.cmd(bad).await;
        assert_eq!(r, ["A BAD Invalid arguments"], "{bad}");
    }
    // The session goes on.
    assert_eq!(urlfetch(&mut c, &url).await.as_deref(), Some("F"));
}
