//! A buffered connection: unread input, pending output, reads with a timeout that also
//! end on server shutdown, and an optional deadline: an idle timeout alone lets a client
//! that sends a byte every few seconds keep a session (or one command) going forever, so
//! the session sets a deadline for the phase or command under way and no read outlasts it. Output is flushed before every blocking read, which is what
//! PIPELINING needs (RFC 2920: reply to a batch of commands when the client waits).

use std::time::Duration;

use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    sync::watch,
    time::Instant,
};

/// Bytes read at most per read call: also the bound on unparsed input held here.
const READ_CHUNK: usize = 16 * 1024;
/// Bytes read per call while a client only sends commands: an idle connection (IDLE, by
/// the ten thousand) then holds about this much, not a full chunk.
const SMALL_READ: usize = 1024;
/// Output capacity kept after a flush; a larger buffer (a big FETCH) is given back.
const KEEP_OUTPUT: usize = 16 * 1024;

/// Why a read produced no data.
#[derive(Debug, PartialEq, Eq)]
pub enum Stop {
    /// The client closed the connection.
    Eof,
    /// The client said nothing for too long.
    Timeout,
    /// The server is shutting down.
    Shutdown,
    /// The socket failed.
    Io(std::io::ErrorKind),
}

/// A stream with an input buffer and an output buffer.
pub struct Conn<S> {
    /// The socket or TLS stream.
    pub stream: S,
    /// Input read but not yet consumed; `pos` marks the consumed prefix.
    buf: Vec<u8>,
    /// Consumed prefix of `buf`.
    pos: usize,
    /// Replies not yet sent.
    out: Vec<u8>,
    /// Flips to true when the server shuts down.
    shutdown: watch::Receiver<bool>,
    /// How much the next read asks for: doubles while reads come back full (a message
    /// streaming in), halves back while they come back small (commands).
    next_read: usize,
    /// No read waits past this instant (a read that would is a `Stop::Timeout`); set and
    /// cleared by the session for the phase, command or literal under way.
    deadline: Option<Instant>,
    /// How long `read_line` allows one line from its first byte to its end, if limited.
    line_deadline: Option<Duration>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    pub fn new(stream: S, shutdown: watch::Receiver<bool>) -> Conn<S> {
        Conn {
            stream,
            buf: Vec::with_capacity(1024),
            pos: 0,
            out: Vec::with_capacity(512),
            shutdown,
            next_read: SMALL_READ,
            deadline: None,
            line_deadline: None,
        }
    }

    /// Limits how long `read_line` waits for the rest of a line once it has begun.
    pub fn set_line_deadline(&mut self, limit: Option<Duration>) {
        self.line_deadline = limit;
    }

    /// Sets (or with `None` clears) the instant no read may wait past.
    pub fn set_deadline(&mut self, at: Option<Instant>) {
        self.deadline = at;
    }

    /// The unread input.
    pub fn input(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    /// Marks `n` bytes of input as read.
    pub fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.buf.len());
    }

    /// Forgets unread input (after STARTTLS: nothing sent in plaintext may be acted on).
    pub fn discard_input(&mut self) {
        self.buf.clear();
        self.pos = 0;
    }

    /// Queues one reply line (CRLF added).
    pub fn reply(&mut self, line: &str) {
        self.out.extend_from_slice(line.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    /// Queues bytes as they are (a message body already in wire form).
    pub fn reply_raw(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }

    /// Bytes queued and not yet sent.
    pub fn pending_output(&self) -> usize {
        self.out.len()
    }

    /// Sends queued replies.
    pub async fn flush(&mut self) -> Result<(), Stop> {
        if self.out.is_empty() {
            return Ok(());
        }
        self.stream
            .write_all(&self.out)
            .await
            .map_err(|e| Stop::Io(e.kind()))?;
        self.stream.flush().await.map_err(|e| Stop::Io(e.kind()))?;
        if self.out.capacity() > KEEP_OUTPUT {
            self.out = Vec::with_capacity(512);
        } else {
            self.out.clear();
        }
        Ok(())
    }

    /// Flushes replies, then reads more input.
    pub async fn fill(&mut self, timeout: Duration) -> Result<(), Stop> {
        self.flush().await?;
        if self.pos == self.buf.len() {
            self.buf.clear();
        } else {
            self.buf.drain(..self.pos);
        }
        self.pos = 0;
        let want = self.next_read;
        if self.buf.is_empty() && self.buf.capacity() > 2 * want {
            self.buf = Vec::with_capacity(want);
        }
        self.buf.reserve(want);
        let limit = self.buf.len() + want;
        let read = async {
            let mut take = (&mut self.stream).take((limit - self.buf.len()) as u64);
            take.read_buf(&mut self.buf).await
        };
        let mut shutdown = self.shutdown.clone();
        let until = Instant::now() + timeout;
        let until = self.deadline.map_or(until, |d| d.min(until));
        tokio::select! {
            r = tokio::time::timeout_at(until, read) => match r {
                Err(_) => Err(Stop::Timeout),
                Ok(Err(e)) => Err(Stop::Io(e.kind())),
                Ok(Ok(0)) => Err(Stop::Eof),
                Ok(Ok(n)) => {
                    self.next_read = if n == want {
                        (want * 2).min(READ_CHUNK)
                    } else if n < want / 4 {
                        (want / 2).max(SMALL_READ)
                    } else {
                        want
                    };
                    Ok(())
                }
            },
            _ = async {
                if shutdown.wait_for(|&s| s).await.is_err() {
                    // The server dropped its handle without shutting down: never fires.
                    std::future::pending::<()>().await;
                }
            } => Err(Stop::Shutdown),
        }
    }

    /// Reads one line (SASL continuation), without its CRLF; lines over `max` bytes are
    /// consumed and reported as `Ok(None)`. Once the line has begun, it must end within
    /// the line deadline (`set_line_deadline`), if there is one.
    pub async fn read_line(
        &mut self,
        timeout: Duration,
        max: usize,
    ) -> Result<Option<Vec<u8>>, Stop> {
        let mut line = Vec::new();
        let mut too_long = false;
        let mut started: Option<Instant> = None;
        loop {
            let input = self.input();
            match input.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    if !too_long && line.len() + i <= max {
                        line.extend_from_slice(&input[..i]);
                    } else {
                        too_long = true;
                    }
                    self.consume(i + 1);
                    if line.last() == Some(&b'\r') {
                        line.pop();
                    }
                    return Ok(if too_long { None } else { Some(line) });
                }
                None => {
                    if line.len() + input.len() <= max {
                        line.extend_from_slice(input);
                    } else {
                        too_long = true;
                    }
                    let n = input.len();
                    self.consume(n);
                    let outer = self.deadline;
                    if n > 0 || started.is_some() {
                        let by = *started.get_or_insert_with(Instant::now);
                        if let Some(limit) = self.line_deadline {
                            let by = by + limit;
                            self.deadline = Some(outer.map_or(by, |d| d.min(by)));
                        }
                    }
                    let filled = self.fill(timeout).await;
                    self.deadline = outer;
                    filled?;
                }
            }
        }
    }
}
