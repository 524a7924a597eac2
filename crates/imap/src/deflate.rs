//! The session's stream: plain until COMPRESS DEFLATE (RFC 4978) turns it into raw
//! deflate (RFC 1951, no zlib header) both ways, for the rest of the connection.
//!
//! Rules of the house:
//! - Output is deflated as it is written and sent with a sync flush (RFC 4978 §4) at
//!   every flush: `Conn` flushes before each read and while a long response streams, so
//!   a burst of responses always reaches the client whole, and a client never waits for
//!   bytes the compressor holds back. IDLE's pushes go out the same way.
//! - Input: one read inflates at most as many bytes as the reader has room for (`Conn`
//!   asks for 16 KiB at most), so a compression bomb (a few KiB that inflate to GBs)
//!   comes out in reads of the usual size and meets the usual line and literal limits;
//!   nothing here holds more than one read of compressed input.
//! - Off, it costs one pointer: most sessions never compress, and each deflate state is
//!   a few hundred KiB (about 300 KiB at level 6 with a 32 KiB window both ways), so the
//!   number of compressed sessions is capped per server: a [`Slot`] is taken before the
//!   OK and given back when the stream (and with it the state) is dropped.
//!
//! Also the client side of the tests (the same stream, started at once): the protocol is
//! symmetric.

use std::{
    io,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    task::{Context, Poll, ready},
};

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Compressed bytes read from the socket per read when the inflater needs more.
const READ_RAW: usize = 4 * 1024;
/// Compressed output waiting for the socket above which a write waits for the socket
/// first: the output buffer stays about this size however much the session writes.
const OUT_HIGH: usize = 64 * 1024;
/// Output capacity kept after the buffer was drained; a larger one is given back.
const KEEP_OUT: usize = 16 * 1024;
/// The deflate level: zlib's default, what Dovecot uses.
const LEVEL: u32 = 6;

/// A stream that is plain or, once `start`ed, raw deflate both ways.
pub struct Wire<S> {
    /// The socket or TLS stream the (compressed) bytes travel on.
    inner: S,
    /// Both deflate states, from `start` on; `None` while the stream is plain.
    deflate: Option<Box<Deflate>>,
}

/// Why compression could not be started.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum DeflateError {
    /// COMPRESS was already negotiated on this connection (RFC 4978 §3: COMPRESSIONACTIVE).
    #[error("compression is already active")]
    AlreadyActive,
}

/// One of a server's compressed sessions, counted in its `counter` until dropped.
#[derive(Debug)]
pub struct Slot {
    /// The server's count of compressed sessions.
    counter: Arc<AtomicUsize>,
}

impl Slot {
    /// A slot, if fewer than `max` are taken.
    pub fn take(counter: &Arc<AtomicUsize>, max: usize) -> Option<Slot> {
        counter
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| Slot {
                counter: counter.clone(),
            })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.counter.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The compressor, the inflater and their buffers.
struct Deflate {
    /// Deflates what the session writes.
    compress: Compress,
    /// Inflates what the peer sends.
    decompress: Decompress,
    /// Compressed output not yet written to the stream (from `out_at` on).
    out: Vec<u8>,
    /// How much of `out` the stream has taken.
    out_at: usize,
    /// Bytes were deflated since the last sync flush: the next flush must emit one.
    unflushed: bool,
    /// Compressed input read from the stream and not yet inflated (from `in_at` on).
    input: Vec<u8>,
    /// How much of `input` the inflater has taken.
    in_at: usize,
    /// The peer's deflate stream ended (a final block) or the stream hit EOF: reads
    /// return nothing more.
    ended: bool,
    /// The server's count of this session (none on a client's side).
    _slot: Option<Slot>,
}

impl<S> Wire<S> {
    /// A plain stream.
    pub fn new(inner: S) -> Wire<S> {
        Wire {
            inner,
            deflate: None,
        }
    }

    /// Turns on deflate both ways from the next byte on. `pending` is what was already
    /// read from the stream after the COMPRESS command: it belongs to the compressed
    /// stream (RFC 4978 §3: the client compresses everything after the command).
    pub fn start(&mut self, pending: Vec<u8>) -> Result<(), DeflateError> {
        self.start_in(pending, None)
    }

    /// `start`, counted in `slot` until the stream is dropped.
    pub fn start_in(&mut self, pending: Vec<u8>, slot: Option<Slot>) -> Result<(), DeflateError> {
        if self.deflate.is_some() {
            return Err(DeflateError::AlreadyActive);
        }
        self.deflate = Some(Box::new(Deflate {
            compress: Compress::new(Compression::new(LEVEL), false),
            decompress: Decompress::new(false),
            out: Vec::new(),
            out_at: 0,
            unflushed: false,
            input: pending,
            in_at: 0,
            ended: false,
            _slot: slot,
        }));
        Ok(())
    }

    /// True once compression is on.
    pub fn compressing(&self) -> bool {
        self.deflate.is_some()
    }

    /// The stream itself (STARTTLS hands it to the TLS handshake; it can only be plain
    /// then, since COMPRESS needs a login and STARTTLS comes before one).
    pub fn into_inner(self) -> S {
        self.inner
    }

    /// Bytes in and out of the compressor so far: (plain, compressed), for figures.
    pub fn totals(&self) -> Option<(u64, u64)> {
        self.deflate
            .as_ref()
            .map(|d| (d.compress.total_in(), d.compress.total_out()))
    }
}

impl Deflate {
    /// Deflates `input` into `out`, with `flush`, however much room that takes.
    fn deflate(&mut self, mut input: &[u8], flush: FlushCompress) -> io::Result<()> {
        loop {
            if self.out.capacity() - self.out.len() < 1024 {
                self.out.reserve(input.len() / 2 + 4096);
            }
            let before = self.compress.total_in();
            self.compress
                .compress_vec(input, &mut self.out, flush)
                .map_err(io::Error::other)?;
            // Never more than `input.len()`, a usize.
            let used = (self.compress.total_in() - before) as usize;
            input = &input[used..];
            // A full output may hide more to come (the sync flush's end, say).
            if input.is_empty() && self.out.len() < self.out.capacity() {
                return Ok(());
            }
        }
    }

    /// Writes `out` to the stream until it is all taken.
    fn poll_drain<S: AsyncWrite + Unpin>(
        &mut self,
        inner: &mut S,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        while self.out_at < self.out.len() {
            let n = ready!(Pin::new(&mut *inner).poll_write(cx, &self.out[self.out_at..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.out_at += n;
        }
        self.out_at = 0;
        if self.out.capacity() > KEEP_OUT {
            self.out = Vec::new();
        } else {
            self.out.clear();
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Wire<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let Some(d) = this.deflate.as_mut() else {
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        };
        loop {
            if d.ended || buf.remaining() == 0 {
                return Poll::Ready(Ok(()));
            }
            // Called even with no input left: the inflater may still hold output that
            // did not fit in the last read.
            let (before_in, before_out) = (d.decompress.total_in(), d.decompress.total_out());
            let status = d
                .decompress
                .decompress(
                    &d.input[d.in_at..],
                    buf.initialize_unfilled(),
                    FlushDecompress::None,
                )
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            // Both bounded by the slices given, which are usizes.
            let used = (d.decompress.total_in() - before_in) as usize;
            let made = (d.decompress.total_out() - before_out) as usize;
            d.in_at += used;
            buf.advance(made);
            if status == Status::StreamEnd {
                d.ended = true;
            }
            if made > 0 || d.ended {
                return Poll::Ready(Ok(()));
            }
            if used > 0 {
                continue;
            }
            // The inflater has taken all it can: read more compressed input.
            d.input.drain(..d.in_at);
            d.in_at = 0;
            if d.input.len() > 4 * READ_RAW {
                // The inflater makes progress on every byte it is given: this is not
                // a deflate stream.
                return Poll::Ready(Err(io::ErrorKind::InvalidData.into()));
            }
            let mut raw = [0u8; READ_RAW];
            let mut raw = ReadBuf::new(&mut raw);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut raw))?;
            if raw.filled().is_empty() {
                d.ended = true;
                return Poll::Ready(Ok(()));
            }
            d.input.extend_from_slice(raw.filled());
            if d.input.capacity() > 2 * KEEP_OUT && d.input.len() < KEEP_OUT {
                d.input.shrink_to(KEEP_OUT);
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Wire<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let Some(d) = this.deflate.as_mut() else {
            return Pin::new(&mut this.inner).poll_write(cx, buf);
        };
        if d.out.len() - d.out_at > OUT_HIGH {
            ready!(d.poll_drain(&mut this.inner, cx))?;
        }
        d.deflate(buf, FlushCompress::None)?;
        d.unflushed = true;
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(d) = this.deflate.as_mut() {
            if d.unflushed {
                d.deflate(&[], FlushCompress::Sync)?;
                d.unflushed = false;
            }
            ready!(d.poll_drain(&mut this.inner, cx))?;
        }
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.as_mut().poll_flush(cx))?;
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt, duplex};

    use super::Wire;

    #[tokio::test]
    async fn both_ways_and_every_flush_delivers_the_burst() {
        let (a, b) = duplex(1 << 20);
        let (mut a, mut b) = (Wire::new(a), Wire::new(b));
        a.start(Vec::new()).unwrap();
        b.start(Vec::new()).unwrap();
        assert!(a.start(Vec::new()).is_err(), "twice");
        for round in 0..50 {
            let line = format!("* {round} FETCH (FLAGS (\\Seen))\r\n").repeat(round + 1);
            a.write_all(line.as_bytes()).await.unwrap();
            a.flush().await.unwrap();
            let mut got = vec![0u8; line.len()];
            b.read_exact(&mut got).await.unwrap();
            assert_eq!(got, line.as_bytes());
        }
        b.write_all(b"A NOOP\r\n").await.unwrap();
        b.flush().await.unwrap();
        let mut got = [0u8; 8];
        a.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"A NOOP\r\n");
    }

    #[tokio::test]
    async fn a_bomb_comes_out_one_read_at_a_time() {
        // 100 MB of one byte deflate to about 100 KB.
        use std::io::Write;
        let mut bomb = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        let same = vec![b'a'; 1 << 20];
        for _ in 0..100 {
            bomb.write_all(&same).unwrap();
        }
        bomb.flush().unwrap();
        let raw = bomb.get_ref().clone();
        assert!(raw.len() < 200_000, "{}", raw.len());
        let (mut a, b) = duplex(1 << 16);
        let mut b = Wire::new(b);
        b.start(Vec::new()).unwrap();
        let writer = tokio::spawn(async move {
            a.write_all(&raw).await.unwrap();
            a
        });
        let mut buf = vec![0u8; 16 * 1024];
        let mut total = 0u64;
        while total < 100 << 20 {
            let n = b.read(&mut buf).await.unwrap();
            assert!(n > 0 && n <= buf.len());
            total += n as u64;
        }
        assert_eq!(total, 100 << 20);
        drop(writer.await.unwrap());
    }
}
