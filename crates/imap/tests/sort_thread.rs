//! SORT (RFC 5256, RFC 5957 SORT=DISPLAY, RFC 5267 ESORT) and THREAD (RFC 5256
//! ORDEREDSUBJECT and REFERENCES; REFS of draft-ietf-morg-inthread) as a client sees
//! them: every expected answer below is worked out by hand from the RFC's rules, not
//! copied from the server's output.

mod common;

use common::{ALICE, Client, Server, start};

/// One test message: (internal day in January 2020, header lines, body length).
type Msg = (u32, &'static str, usize);

/// Six messages. Sent dates: 1 Jan 5, 2 Jan 3 10:00, 3 none (INTERNALDATE Jan 3 12:00),
/// 4 Jan 1, 5 Jan 6, 6 Jan 7. Base subjects: APPLE (1, 3), BANANA (2, 4), CHERRY (5, 6).
/// Sizes fall from 1 to 6 (the bodies shrink by far more than the headers differ).
const SIX: [Msg; 6] = [
    (
        1,
        "Date: Sun, 05 Jan 2020 10:00:00 +0000\r\nSubject: Re: apple\r\nFrom: Zed <zed@x.org>\r\nTo: bob@y.org\r\nMessage-ID: <1@x>\r\n",
        1200,
    ),
    (
        2,
        "Date: Fri, 03 Jan 2020 10:00:00 +0000\r\nSubject: banana\r\nFrom: Amy <amy@x.org>\r\nTo: carol@y.org\r\nCc: dan@z.org\r\nMessage-ID: <2@x>\r\n",
        1000,
    ),
    (
        3,
        "Subject: [list] Apple (fwd)\r\nFrom: Aaron <mike@x.org>\r\nTo: Alice <alice@y.org>\r\nMessage-ID: <3@x>\r\nReferences: <1@x>\r\n",
        800,
    ),
    (
        4,
        "Date: Wed, 01 Jan 2020 10:00:00 +0000\r\nSubject: =?UTF-8?Q?Fwd=3A_Banana?=\r\nFrom: amy@x.org\r\nTo: bob@y.org\r\nCc: al@z.org\r\nMessage-ID: <4@x>\r\nIn-Reply-To: <2@x>\r\n",
        600,
    ),
    (
        5,
        "Date: Mon, 06 Jan 2020 10:00:00 +0000\r\nSubject: cherry\r\nFrom: =?UTF-8?Q?=C3=89mile?= <emile@x.org>\r\nTo: dave@y.org\r\nMessage-ID: <5@x>\r\nReferences: <gone@x>\r\n",
        400,
    ),
    (
        6,
        "Date: Tue, 07 Jan 2020 10:00:00 +0000\r\nSubject: Re: cherry\r\nFrom: zed@x.org\r\nTo: bob@y.org\r\nMessage-ID: <6@x>\r\nReferences: <gone@x>\r\n",
        200,
    ),
];

/// A seventh: an original "Apple" (no references), sent Jan 2.
const SEVENTH: Msg = (
    7,
    "Date: Thu, 02 Jan 2020 10:00:00 +0000\r\nSubject: Apple\r\nFrom: ann@x.org\r\nTo: bob@y.org\r\nMessage-ID: <7@x>\r\n",
    100,
);

async fn append(c: &mut Client, (day, header, body): Msg) {
    let msg = format!("{header}\r\n{}\r\n", "x".repeat(body));
    let r = c
        .cmd(&format!(
            "APPEND INBOX \"{day:02}-Jan-2020 12:00:00 +0000\" {{{}+}}\r\n{msg}",
            msg.len()
        ))
        .await;
    assert!(r.last().unwrap().starts_with("A OK"), "{r:?}");
}

/// Alice's INBOX with `msgs`, selected; a message appended and expunged first makes
/// every UID one more than its sequence number.
async fn mailbox(srv: &Server, msgs: &[Msg]) -> Client {
    let mut c = srv.login(ALICE).await;
    append(&mut c, (1, "Subject: gone\r\n", 1)).await;
    c.cmd("SELECT INBOX").await;
    c.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)").await;
    c.cmd("EXPUNGE").await;
    for &m in msgs {
        append(&mut c, m).await;
    }
    c.cmd("NOOP").await;
    c
}

async fn check(c: &mut Client, cases: &[(&str, &str, &str)]) {
    for (cmd, reply, done) in cases {
        assert_eq!(c.cmd(cmd).await, [*reply, *done], "{cmd}");
    }
}

#[tokio::test]
async fn sort_orders_by_each_key_ties_by_mailbox_order() {
    let srv = start().await;
    let mut c = mailbox(&srv, &SIX).await;
    let caps = c.cmd("CAPABILITY").await;
    for cap in [" SORT ", " SORT=DISPLAY", " ESORT"] {
        assert!(caps[0].contains(cap), "{cap} in {caps:?}");
    }
    const OK: &str = "A OK SORT completed";
    check(
        &mut c,
        &[
            ("SORT (ARRIVAL) UTF-8 ALL", "* SORT 1 2 3 4 5 6", OK),
            ("SORT (REVERSE ARRIVAL) UTF-8 ALL", "* SORT 6 5 4 3 2 1", OK),
            // Message 3 has no Date: its INTERNALDATE (Jan 3 12:00) stands in.
            ("SORT (DATE) UTF-8 ALL", "* SORT 4 2 3 1 5 6", OK),
            ("SORT (SIZE) UTF-8 ALL", "* SORT 6 5 4 3 2 1", OK),
            // Base subjects: "Re: apple" and "[list] Apple (fwd)" are both APPLE, the
            // encoded "Fwd: Banana" is BANANA; ties stay in mailbox order.
            ("SORT (SUBJECT) UTF-8 ALL", "* SORT 1 3 2 4 5 6", OK),
            ("SORT (SUBJECT DATE) UTF-8 ALL", "* SORT 3 1 4 2 5 6", OK),
            // REVERSE turns only the key it precedes around.
            (
                "SORT (REVERSE SUBJECT DATE) UTF-8 ALL",
                "* SORT 5 6 4 2 3 1",
                OK,
            ),
            (
                "SORT (REVERSE SUBJECT REVERSE DATE) UTF-8 ALL",
                "* SORT 6 5 2 4 1 3",
                OK,
            ),
            // FROM, TO and CC compare the first address's local part, case-insensitively;
            // no Cc sorts as the empty string, first.
            ("SORT (FROM) UTF-8 ALL", "* SORT 2 4 5 3 1 6", OK),
            ("SORT (REVERSE FROM) UTF-8 ALL", "* SORT 1 6 3 5 2 4", OK),
            ("SORT (TO) UTF-8 ALL", "* SORT 3 1 4 6 2 5", OK),
            ("SORT (CC) UTF-8 ALL", "* SORT 1 3 5 6 4 2", OK),
            // RFC 5957: the display name, else the address; "Émile" folds to E + accent.
            ("SORT (DISPLAYFROM) UTF-8 ALL", "* SORT 3 2 4 5 1 6", OK),
            ("SORT (DISPLAYTO) UTF-8 ALL", "* SORT 3 1 4 6 2 5", OK),
            ("SORT (FROM SIZE) UTF-8 ALL", "* SORT 4 2 5 3 6 1", OK),
            (
                "SORT (FROM SUBJECT SIZE) UTF-8 ALL",
                "* SORT 4 2 5 3 1 6",
                OK,
            ),
            // UID SORT answers UIDs (one above the sequence numbers here).
            ("UID SORT (DATE) UTF-8 ALL", "* SORT 5 3 4 2 6 7", OK),
            ("UID SORT (DATE) us-ascii 2:3", "* SORT 3 4", OK),
            // Search criteria choose the messages.
            ("SORT (DATE) UTF-8 FROM amy", "* SORT 4 2", OK),
            (
                "SORT (SUBJECT) US-ASCII NOT SUBJECT cherry",
                "* SORT 1 3 2 4",
                OK,
            ),
            ("SORT (SUBJECT) UTF-8 DELETED", "* SORT", OK),
        ],
    )
    .await;

    // ESORT (RFC 5267): MIN and MAX are the first and last in sort order; ALL is in
    // sort order too.
    const ESORT_OK: &str = "A OK SORT completed";
    check(
        &mut c,
        &[
            (
                "SORT RETURN (MIN MAX COUNT ALL) (DATE) UTF-8 ALL",
                "* ESEARCH (TAG \"A\") MIN 4 MAX 6 COUNT 6 ALL 4,2:3,1,5:6",
                ESORT_OK,
            ),
            (
                "UID SORT RETURN (COUNT) (SUBJECT) UTF-8 ALL",
                "* ESEARCH (TAG \"A\") UID COUNT 6",
                ESORT_OK,
            ),
            (
                "SORT RETURN () (REVERSE ARRIVAL) UTF-8 ALL",
                "* ESEARCH (TAG \"A\") ALL 6,5,4,3,2,1",
                ESORT_OK,
            ),
        ],
    )
    .await;

    // SEARCHRES's `$` in SORT's criteria.
    c.cmd("SEARCH RETURN (SAVE) FROM amy").await;
    check(&mut c, &[("SORT (DATE) UTF-8 $", "* SORT 4 2", OK)]).await;

    // An unknown charset is NO [BADCHARSET]; broken syntax is BAD; neither ends the
    // session.
    let r = c.cmd("SORT (DATE) KOI8-R ALL").await;
    assert!(r[0].starts_with("A NO [BADCHARSET"), "{r:?}");
    for bad in [
        "SORT DATE UTF-8 ALL",
        "SORT (BOGUS) UTF-8 ALL",
        "SORT () UTF-8 ALL",
        "SORT (DATE) ALL",
        "SORT (DATE)",
        "SORT (REVERSE) UTF-8 ALL",
        "SORT (DATE UTF-8 ALL",
        "SORT RETURN (SAVE) (DATE) UTF-8 ALL",
        "SORT RETURN (BOGUS) (DATE) UTF-8 ALL",
        "UID SORT",
    ] {
        let r = c.cmd(bad).await;
        assert_eq!(r.len(), 1, "{bad}: {r:?}");
        assert!(r[0].starts_with("A BAD"), "{bad}: {r:?}");
    }
    check(
        &mut c,
        &[("SORT (ARRIVAL) UTF-8 ALL", "* SORT 1 2 3 4 5 6", OK)],
    )
    .await;

    // A message that arrives after SORT has learnt the mailbox is sorted in too.
    append(&mut c, SEVENTH).await;
    c.cmd("NOOP").await;
    check(
        &mut c,
        &[("SORT (DATE) UTF-8 ALL", "* SORT 4 7 2 3 1 5 6", OK)],
    )
    .await;
}

#[tokio::test]
async fn thread_refs() {
    let srv = start().await;
    let mut msgs = SIX.to_vec();
    msgs.push(SEVENTH);
    let mut c = mailbox(&srv, &msgs).await;
    let caps = c.cmd("CAPABILITY").await;
    assert!(caps[0].contains(" THREAD=REFS"), "{caps:?}");
    const OK: &str = "A OK THREAD completed";
    check(
        &mut c,
        &[
            // Linked as REFERENCES links them (3 under 1, 4 under 2, 5 and 6 under a
            // dummy for the missing <gone@x>), but no subject grouping: "Apple" (7)
            // stays apart from "Re: apple" (1). Message n arrived on Jan n, so the
            // threads go by their newest arrival: 3 (Jan 3), 4 (Jan 4), 6 (Jan 6), 7.
            // REFERENCES orders by sent date and puts 7 first; REFS does not look at it.
            (
                "THREAD REFS UTF-8 ALL",
                "* THREAD (1 3)(2 4)((5)(6))(7)",
                OK,
            ),
            (
                "UID THREAD REFS UTF-8 ALL",
                "* THREAD (2 4)(3 5)((6)(7))(8)",
                OK,
            ),
            // Without 1 and 6, the dummies over 3 and 5 hold one child each and go.
            (
                "THREAD REFS UTF-8 NOT FROM zed",
                "* THREAD (3)(2 4)(5)(7)",
                OK,
            ),
            ("THREAD refs UTF-8 SUBJECT nothing", "* THREAD", OK),
        ],
    )
    .await;
    let r = c.cmd("THREAD REFX UTF-8 ALL").await;
    assert_eq!(r, ["A NO Unknown threading algorithm"]);
}

#[tokio::test]
async fn sort_needs_a_selected_mailbox() {
    let srv = start().await;
    let mut c = srv.login(ALICE).await;
    let r = c.cmd("SORT (DATE) UTF-8 ALL").await;
    assert_eq!(r, ["A BAD No mailbox selected"]);
    let r = c.cmd("THREAD REFERENCES UTF-8 ALL").await;
    assert_eq!(r, ["A BAD No mailbox selected"]);
}

#[tokio::test]
async fn thread_references_and_ordered_subject() {
    let srv = start().await;
    let mut msgs = SIX.to_vec();
    msgs.push(SEVENTH);
    let mut c = mailbox(&srv, &msgs).await;
    let caps = c.cmd("CAPABILITY").await;
    for cap in [" THREAD=ORDEREDSUBJECT", " THREAD=REFERENCES"] {
        assert!(caps[0].contains(cap), "{cap} in {caps:?}");
    }
    const OK: &str = "A OK THREAD completed";
    check(
        &mut c,
        &[
            // 3 references 1, 4 answers 2; 5 and 6 answer a message that is not here,
            // so a dummy holds them together (shown as a list of their threads); "Re:
            // apple" (1) joins the original "Apple" (7) by subject. Threads by date:
            // 7 (Jan 2), 2 (Jan 3), the dummy (its first child, Jan 6).
            (
                "THREAD REFERENCES UTF-8 ALL",
                "* THREAD (7 1 3)(2 4)((5)(6))",
                OK,
            ),
            (
                "UID THREAD REFERENCES UTF-8 ALL",
                "* THREAD (8 2 4)(3 5)((6)(7))",
                OK,
            ),
            // Without 1 and 6, 3's parent is missing: its dummy has one child and is
            // pruned, and 3 ("(fwd)", a forward) goes under 7 by subject; 5's dummy too.
            (
                "THREAD REFERENCES UTF-8 NOT FROM zed",
                "* THREAD (7 3)(2 4)(5)",
                OK,
            ),
            // ORDEREDSUBJECT: by base subject, each group's earliest message the parent
            // of the rest (one child follows it, several are listed), threads by date.
            (
                "THREAD ORDEREDSUBJECT UTF-8 ALL",
                "* THREAD (4 2)(7 (3)(1))(5 6)",
                OK,
            ),
            (
                "UID THREAD ORDEREDSUBJECT US-ASCII 1:3",
                "* THREAD (3)(4 2)",
                OK,
            ),
            ("THREAD REFERENCES UTF-8 DELETED", "* THREAD", OK),
        ],
    )
    .await;
    let r = c.cmd("THREAD BOGUS UTF-8 ALL").await;
    assert_eq!(r, ["A NO Unknown threading algorithm"]);
    let r = c.cmd("THREAD REFERENCES KOI8-R ALL").await;
    assert!(r[0].starts_with("A NO [BADCHARSET"), "{r:?}");
    for bad in [
        "THREAD REFERENCES ALL",
        "THREAD (REFERENCES) UTF-8 ALL",
        "THREAD",
        "UID THREAD REFERENCES UTF-8",
        "THREAD REFERENCES UTF-8 BOGUS",
    ] {
        let r = c.cmd(bad).await;
        assert_eq!(r.len(), 1, "{bad}: {r:?}");
        assert!(r[0].starts_with("A BAD"), "{bad}: {r:?}");
    }
}

/// Hostile threads: a long reply chain, a message referencing itself, references in
/// a loop and a forest of duplicate Message-IDs answer, and fast.
#[tokio::test]
async fn thread_survives_loops_chains_and_duplicates() {
    let srv = start().await;
    let mut c = srv.login(ALICE).await;
    let n = 300;
    for i in 0..n {
        // Each references its predecessor and (a loop) its successor; every tenth one
        // repeats message 0's id and references itself.
        let id = if i % 10 == 0 { 0 } else { i };
        let header = format!(
            "Subject: chain\r\nMessage-ID: <c{id}@x>\r\nReferences: <c{}@x> <c{id}@x> <c{}@x>\r\n\r\nx\r\n",
            i.max(1) - 1,
            i + 1
        );
        let r = c
            .cmd(&format!("APPEND INBOX {{{}+}}\r\n{header}", header.len()))
            .await;
        assert!(r.last().unwrap().starts_with("A OK"), "{r:?}");
    }
    c.cmd("SELECT INBOX").await;
    for cmd in [
        "THREAD REFERENCES UTF-8 ALL",
        "THREAD ORDEREDSUBJECT UTF-8 ALL",
    ] {
        let r = c.cmd(cmd).await;
        assert_eq!(r.len(), 2, "{cmd}: {r:?}");
        assert!(r[0].starts_with("* THREAD ("), "{r:?}");
        assert_eq!(r[1], "A OK THREAD completed");
        // Every message is in the answer exactly once.
        let mut seen: Vec<u32> = r[0]["* THREAD ".len()..]
            .split(|ch: char| !ch.is_ascii_digit())
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().unwrap())
            .collect();
        seen.sort_unstable();
        assert_eq!(seen, (1..=n).collect::<Vec<u32>>(), "{cmd}");
    }
}

/// imapclient (PyPI), a second client library, sorts and threads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imapclient_sorts_and_threads() {
    twinmail_testkit::require(&["imapclient"]);
    let srv = start().await;
    let mut msgs = SIX.to_vec();
    msgs.push(SEVENTH);
    let c = mailbox(&srv, &msgs).await;
    drop(c);
    let script = r#"
import ssl, sys
from imapclient import IMAPClient
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
c = IMAPClient('127.0.0.1', port=int(sys.argv[1]), ssl=True, ssl_context=ctx)
c.login('alice@example.com', 'alice-password')
print(sorted(cap.decode() for cap in c.capabilities() if cap.startswith((b'SORT', b'THREAD', b'ESORT'))))
c.select_folder('INBOX')
print(c.sort(['DATE']))
print(c.sort(['REVERSE SUBJECT', 'ARRIVAL'], ['NOT', 'FROM', 'zed']))
print(c.thread())
print(c.thread('ORDEREDSUBJECT'))
print(c.thread('REFS'))
c.logout()
"#;
    let out = std::process::Command::new(twinmail_testkit::PYTHON_VENV)
        .arg("-c")
        .arg(script)
        .arg(srv.imaps.port().to_string())
        .output()
        .expect("the venv's python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // imapclient uses UIDs (one above the sequence numbers here).
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "['ESORT', 'SORT', 'SORT=DISPLAY', 'THREAD=ORDEREDSUBJECT', 'THREAD=REFERENCES', 'THREAD=REFS']",
            // Sent dates: 4 Jan 1, 7 Jan 2, 2 Jan 3 10:00, 3 Jan 3 12:00, 1, 5, 6.
            "[5, 8, 3, 4, 2, 6, 7]",
            // Without 1 and 6: CHERRY 5; BANANA 2, 4; APPLE 3, 7.
            "[6, 3, 5, 4, 8]",
            "((8, 2, 4), (3, 5), ((6,), (7,)))",
            "((5, 3), (8, (4,), (2,)), (6, 7))",
            "((2, 4), (3, 5), ((6,), (7,)), (8,))",
        ],
        "{stdout}"
    );
}
