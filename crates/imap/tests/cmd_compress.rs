//! COMPRESS=DEFLATE (RFC 4978): offered once logged in, deflate both ways after the OK,
//! refused twice with COMPRESSIONACTIVE, IDLE's pushes flushed through the compressor at
//! once, a compression bomb ends the session with memory bounded, compressed sessions
//! capped per server, and the figure: what a
//! FETCH of 200 headers costs on the wire with and without it.

mod common;

use std::{
    io::Write,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    task::{Context, Poll},
    time::{Duration, Instant},
};

use common::{ALICE, BOB, Client, Server, start};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use twinmail_imap::deflate::Wire;
use twinmail_testkit::Io;

fn tagged(lines: &[String]) -> &str {
    lines.last().map(String::as_str).unwrap_or_default()
}

/// Counts the bytes read from the stream beneath it (what the server sent on the wire,
/// above TLS).
struct Counting<S> {
    /// The stream.
    inner: S,
    /// Bytes read so far, shared with the test.
    read: Arc<AtomicU64>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Counting<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counting<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Sends COMPRESS DEFLATE, checks the OK, and compresses the client's side too; with a
/// counter of the bytes read beneath the compressor.
async fn compress(c: Client) -> (Client, Arc<AtomicU64>) {
    let mut c = c;
    assert_eq!(c.cmd("COMPRESS DEFLATE").await, ["A OK DEFLATE active"]);
    let read = Arc::new(AtomicU64::new(0));
    let counter = read.clone();
    let c = Client(c.0.map_io(move |io| {
        let mut wire = Wire::new(Counting {
            inner: io,
            read: counter,
        });
        wire.start(Vec::new()).unwrap();
        Box::new(wire) as Box<dyn Io>
    }));
    (c, read)
}

#[tokio::test]
async fn compress_is_offered_after_login_and_compresses_both_ways() {
    let srv = start().await;
    srv.deliver(ALICE.0, 3).await;
    let mut c = Client::connect_tls(&srv).await;
    let caps = c.cmd("CAPABILITY").await;
    assert!(!caps[0].contains("COMPRESS"), "{caps:?}");
    assert_eq!(
        tagged(&c.cmd("COMPRESS DEFLATE").await),
        "A BAD Log in first"
    );
    let r = c.cmd(&format!("LOGIN {} {}", ALICE.0, ALICE.1)).await;
    assert!(tagged(&r).contains("COMPRESS=DEFLATE"), "{r:?}");
    let (mut c, read) = compress(c).await;
    let r = c.cmd("SELECT INBOX").await;
    assert!(r.iter().any(|l| l == "* 3 EXISTS"), "{r:?}");
    let r = c
        .cmd("FETCH 1:3 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        .await;
    assert!(r.iter().any(|l| l == "Subject: message 2"), "{r:?}");
    assert!(tagged(&r).starts_with("A OK"), "{r:?}");
    // An APPEND with a literal travels compressed too.
    let m = "Subject: packed\r\n\r\nsqueezed\r\n";
    let r = c
        .cmd(&format!("APPEND INBOX {{{}+}}\r\n{m}", m.len()))
        .await;
    assert!(tagged(&r).starts_with("A OK [APPENDUID"), "{r:?}");
    assert!(read.load(Ordering::Relaxed) > 0);
    assert_eq!(c.cmd("LOGOUT").await[0], "* BYE twinmail logging out");
    assert!(c.0.closed().await);
}

#[tokio::test]
async fn compress_twice_is_refused_and_an_unknown_mechanism_is_bad() {
    let srv = start().await;
    let mut c = srv.login(ALICE).await;
    assert_eq!(
        c.cmd("COMPRESS LZMA").await,
        ["A BAD Malformed command"],
        "imap-codec decodes DEFLATE only"
    );
    assert_eq!(tagged(&c.cmd("COMPRESS").await), "A BAD Malformed command");
    let (mut c, _) = compress(c).await;
    assert_eq!(
        c.cmd("COMPRESS DEFLATE").await,
        ["A NO [COMPRESSIONACTIVE] DEFLATE active via COMPRESS"]
    );
    assert_eq!(c.cmd("NOOP").await, ["A OK NOOP completed"]);
}

/// Past `max_compressed_sessions` COMPRESS is NO [LIMIT] and the session goes on plain;
/// a compressed session that ends gives its place back.
#[tokio::test]
async fn compressed_sessions_are_capped_and_a_refused_one_goes_on_plain() {
    let srv = common::start_with(|s| s.max_compressed_sessions = 1).await;
    let (mut first, _) = compress(srv.login(ALICE).await).await;
    let mut second = srv.login(BOB).await;
    assert_eq!(
        second.cmd("COMPRESS DEFLATE").await,
        ["A NO [LIMIT] Too many compressed sessions now; go on without compression"]
    );
    assert_eq!(
        second.cmd("NOOP").await,
        ["A OK NOOP completed"],
        "still plain"
    );
    assert_eq!(first.cmd("LOGOUT").await[0], "* BYE twinmail logging out");
    assert!(first.0.closed().await);
    // The first session's place is free once it is gone (its task ends just after).
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let r = second.cmd("COMPRESS DEFLATE").await;
        if r == ["A OK DEFLATE active"] {
            break;
        }
        assert!(Instant::now() < until, "{r:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn compress_over_starttls_and_in_the_selected_state() {
    let srv = start().await;
    let mut c = Client::connect(&srv).await;
    assert!(c.cmd("STARTTLS").await[0].starts_with("A OK"));
    let mut c = Client(c.0.starttls(&srv.tls).await);
    let r = c.cmd(&format!("LOGIN {} {}", ALICE.0, ALICE.1)).await;
    assert!(tagged(&r).starts_with("A OK"), "{r:?}");
    assert!(tagged(&c.cmd("SELECT INBOX").await).starts_with("A OK"));
    let (mut c, _) = compress(c).await;
    let r = c.cmd("STATUS INBOX (MESSAGES)").await;
    assert_eq!(r[0], "* STATUS INBOX (MESSAGES 0)");
}

#[tokio::test]
async fn an_idle_push_comes_through_the_compressor_at_once() {
    let srv = start().await;
    let c = srv.login(ALICE).await;
    let (mut c, _) = compress(c).await;
    c.cmd("SELECT INBOX").await;
    c.0.send_line("I IDLE").await;
    assert!(c.line().await.starts_with('+'));
    // Another session delivers: the push must not sit in the compressor.
    let mut other = srv.login(ALICE).await;
    let m = "Subject: pushed\r\n\r\nnew\r\n";
    let r = other
        .cmd(&format!("APPEND INBOX {{{}+}}\r\n{m}", m.len()))
        .await;
    assert!(tagged(&r).starts_with("A OK"), "{r:?}");
    let t = Instant::now();
    let push = tokio::time::timeout(Duration::from_secs(5), c.line()).await;
    assert_eq!(push.ok().as_deref(), Some("* 1 EXISTS"));
    assert!(t.elapsed() < Duration::from_secs(2));
    c.0.send_line("DONE").await;
    let mut done = c.line().await;
    while done.starts_with("* ") {
        done = c.line().await;
    }
    assert!(done.starts_with("I OK"), "{done}");
}

/// This process's resident memory, in KiB (Linux).
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// About 2 MB of raw deflate that inflate to "A NOOP " and 2 GiB of 'a' without a line
/// end: one MiB block, deflated once after the dictionary holds nothing but 'a', repeats
/// byte for byte.
fn bomb() -> Vec<u8> {
    let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    let mib = vec![b'a'; 1 << 20];
    z.write_all(b"A NOOP ").unwrap();
    z.write_all(&mib).unwrap();
    z.flush().unwrap();
    let mut bytes = std::mem::take(z.get_mut());
    z.write_all(&mib).unwrap();
    z.flush().unwrap();
    let block = std::mem::take(z.get_mut());
    z.write_all(&mib).unwrap();
    z.flush().unwrap();
    assert_eq!(*z.get_ref(), block, "the block repeats");
    for _ in 0..2047 {
        bytes.extend_from_slice(&block);
    }
    bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compression_bomb_ends_the_session_with_memory_bounded() {
    let srv = start().await;
    let bomb = bomb();
    assert!(bomb.len() < 4 << 20, "{} bytes", bomb.len());
    let before = rss_kib();
    let c = srv.login(ALICE).await;
    // The bytes go beneath the client's compressor: they are compressed already.
    let raw = Arc::new(tokio::sync::Mutex::new(None));
    let slot = raw.clone();
    let mut c = c;
    assert_eq!(c.cmd("COMPRESS DEFLATE").await, ["A OK DEFLATE active"]);
    let mut c = Client(c.0.map_io(move |io| {
        let (r, w) = tokio::io::split(io);
        *slot.try_lock().unwrap() = Some(w);
        let mut wire = Wire::new(ReadOnly(r));
        wire.start(Vec::new()).unwrap();
        Box::new(wire) as Box<dyn Io>
    }));
    let mut w = raw.lock().await.take().unwrap();
    let t = Instant::now();
    let sender = tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        // The server hangs up partway: a write error is the expected end.
        let _ = w.write_all(&bomb).await;
        let _ = w.flush().await;
    });
    assert_eq!(c.line().await, "* BYE Command too long");
    assert!(c.0.closed().await, "closed after the BYE");
    let took = t.elapsed();
    let _ = sender.await;
    let grown = rss_kib().saturating_sub(before);
    println!("bomb: 2 GiB nominal, session closed after {took:?}, RSS grew {grown} KiB");
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert!(grown < 32 * 1024, "RSS grew {grown} KiB");
    // Everyone else is served as before.
    let mut other = srv.login(BOB).await;
    assert_eq!(other.cmd("NOOP").await, ["A OK NOOP completed"]);

    // A non-synchronising literal over the limit ends a compressed session at once too.
    let c = srv.login(ALICE).await;
    let (mut c, _) = compress(c).await;
    c.0.send(b"A APPEND INBOX {4000000000+}\r\nxx").await;
    assert_eq!(c.line().await, "* BYE Command too long");
    assert!(c.0.closed().await);
}

/// The read half of a split stream, as a stream whose writes go nowhere (the test writes
/// through the other half).
struct ReadOnly<R>(R);

impl<R: AsyncRead + Unpin> AsyncRead for ReadOnly<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<R: Unpin> AsyncWrite for ReadOnly<R> {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        b: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Poll::Ready(Ok(b.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// A message as a mail client finds it in an INBOX: a real-looking header (trace
/// fields, DKIM, authentication results, list headers) over a short body.
fn realistic(i: usize) -> String {
    format!(
        "Return-Path: <bounces+{i}@lists.example.org>\r\n\
Received: from mx{m}.example.org (mx{m}.example.org [192.0.2.{m}])\r\n\tby mail.example.com (twinmail) with ESMTPS id {i:08x}\r\n\tfor <alice@example.com>; Tue, 1 Dec 2026 10:{mm:02}:{ss:02} +0000\r\n\
Received: from app{m}.example.org (localhost [127.0.0.1])\r\n\tby mx{m}.example.org (Postfix) with ESMTP id 4F{i:06X}\r\n\tfor <alice@example.com>; Tue, 1 Dec 2026 10:{mm:02}:{ss:02} +0000\r\n\
DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.org; s=sel2026;\r\n\tt=17648{i:05}; bh={bh}; h=From:To:Subject:Date:Message-ID:List-Id;\r\n\tb={b}\r\n\
Authentication-Results: mail.example.com; dkim=pass header.d=example.org;\r\n\tspf=pass smtp.mailfrom=lists.example.org; dmarc=pass header.from=example.org\r\n\
From: \"Project {m} Updates\" <updates@example.org>\r\n\
To: Alice Example <alice@example.com>\r\n\
Subject: [project-{m}] Weekly digest #{i}: {subject}\r\n\
Date: Tue, 1 Dec 2026 10:{mm:02}:{ss:02} +0000\r\n\
Message-ID: <digest.{i}.{bh8}@lists.example.org>\r\n\
List-Id: Project {m} <project-{m}.lists.example.org>\r\n\
List-Unsubscribe: <https://lists.example.org/unsubscribe/{bh8}>, <mailto:unsub-{i}@lists.example.org>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\
\r\n\
Digest {i}: three new threads, two releases.\r\n",
        m = i % 7,
        mm = i % 60,
        ss = (i * 7) % 60,
        subject = [
            "release notes",
            "meeting minutes",
            "bug triage",
            "security advisory"
        ][i % 4],
        bh = pseudo_b64(i, 44),
        bh8 = &pseudo_b64(i + 1000, 12),
        b = pseudo_b64(i + 7, 340),
    )
}

/// `len` base64-looking characters that differ per `seed` (signatures do not compress).
fn pseudo_b64(seed: usize, len: usize) -> String {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut x = (seed as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            alphabet[(x % 64) as usize] as char
        })
        .collect()
}

/// Logs in, compresses or not, SELECTs, and FETCHes the headers of all 200 messages as
/// Thunderbird does on a fresh folder; the bytes the server sent for the FETCH (above
/// TLS) and how long it took.
async fn fetch_headers(srv: &Server, compressed: bool) -> (u64, Duration, usize) {
    let c = srv.login(ALICE).await;
    let (mut c, read) = if compressed {
        compress(c).await
    } else {
        // The same counter beneath a plain stream.
        let read = Arc::new(AtomicU64::new(0));
        let counter = read.clone();
        let c = Client(c.0.map_io(move |io| {
            Box::new(Counting {
                inner: io,
                read: counter,
            }) as Box<dyn Io>
        }));
        (c, read)
    };
    c.cmd("SELECT INBOX").await;
    let before = read.load(Ordering::Relaxed);
    let t = Instant::now();
    let r = c
        .cmd("UID FETCH 1:* (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER])")
        .await;
    let took = t.elapsed();
    assert!(tagged(&r).starts_with("A OK"), "{:?}", &r[r.len() - 1..]);
    let lines = r.len();
    (read.load(Ordering::Relaxed) - before, took, lines)
}

#[tokio::test]
async fn figure_fetching_200_headers_costs_a_fraction_of_the_bytes_compressed() {
    let srv = start().await;
    for i in 0..200 {
        let mut d = srv.store.delivery();
        d.add_recipient(ALICE.0).await.unwrap();
        d.commit(realistic(i).into_bytes()).await.unwrap();
    }
    let (plain, plain_took, plain_lines) = fetch_headers(&srv, false).await;
    let (packed, packed_took, packed_lines) = fetch_headers(&srv, true).await;
    assert_eq!(plain_lines, packed_lines, "the same responses either way");
    println!(
        "FETCH 200 headers: {plain} bytes plain in {plain_took:?}, {packed} bytes with \
         COMPRESS=DEFLATE in {packed_took:?} ({:.1}% of plain)",
        packed as f64 * 100.0 / plain as f64
    );
    assert!(plain > 200 * 1500, "{plain}");
    assert!(packed * 3 < plain, "{packed} of {plain}");
}
