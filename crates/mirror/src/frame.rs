//! The mirror's wire format, hand-written (no kept library frames this protocol):
//! a frame is a 4-byte big-endian length, a 1-byte type, then the body. Control frames
//! carry JSON; message bytes travel raw in `Chunk` frames of at most [`CHUNK`] bytes, so
//! message content can never be mistaken for a frame. The protocol version is agreed in
//! `Hello`; a peer speaking another version is refused with a clear error.

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use twinmail_store::{
    AccountFacts, BlobHash, Change, Command, DigestRow, Guid, MailboxDigest, Outcome, WriteError,
};

/// The protocol version this build speaks (2: forwarded writes are GUID-addressed commands
/// with request ids; positions carry the sender's log end).
pub const VERSION: u32 = 2;
/// Largest frame body accepted (a chunk plus headroom for JSON control frames).
pub const MAX_FRAME: usize = 4 * 1024 * 1024;
/// Message bytes per `Chunk` frame.
pub const CHUNK: usize = 256 * 1024;

/// Why a session connects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// The twin link: both logs flow both ways.
    Link,
    /// `twinmail mirror verify`: digests only, nothing applied.
    Verify,
    /// The accepting twin has just started: the dialing twin should dial now instead of
    /// waiting out its backoff. Nothing else is said on such a connection.
    Wake,
}

/// One frame.
#[derive(Clone, Debug, PartialEq)]
pub enum Frame {
    /// First frame from each side.
    Hello(Hello),
    /// HMAC proof of the shared secret, bound to this TLS session.
    Proof([u8; 32]),
    /// The peer refused us and says why (version mismatch, link already up, ...).
    Refused(String),
    /// The receiver tells the sender where it stands with the sender's log.
    Position(Position),
    /// One change from the sender's log; `blob_len` bytes follow in `Chunk` frames.
    Change(ChangeHeader),
    /// Message bytes.
    Chunk(Vec<u8>),
    /// The receiver applied the sender's log up to this sequence number.
    Ack(i64),
    /// Still here.
    Heartbeat,
    /// A snapshot (initial sync) starts; the log continues after `seq` when it ends.
    SnapshotBegin(i64),
    /// A page of the snapshot: changes without bytes.
    SnapshotPage(Vec<Change>),
    /// The receiver lacks these blobs of the last page.
    Want(Vec<BlobHash>),
    /// One wanted blob; its bytes follow in `Chunk` frames.
    Blob(BlobHeader),
    /// The snapshot is complete.
    SnapshotEnd(i64),
    /// `mirror verify` asks.
    Query(Query),
    /// ... and is answered.
    Answer(Answer),
    /// A write forwarded to the account's home twin; `blob_len` bytes follow in
    /// `RequestChunk` frames with the same id.
    Request(RequestHeader),
    /// Message bytes of a forwarded write: its request id, then bytes.
    RequestChunk(Guid, Vec<u8>),
    /// The home twin's answer to a forwarded write.
    Response(ResponseFrame),
}

/// A forwarded write.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestHeader {
    /// The command, with its request id (the same on every resend).
    pub command: Command,
    /// Message bytes that follow.
    pub blob_len: Option<u64>,
}

/// The answer to a forwarded write.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseFrame {
    /// The command's request id.
    pub id: Guid,
    /// What the home twin did, or why it did not.
    pub result: Result<Outcome, WriteError>,
    /// The home twin's log position once it was done: the forwarding twin answers its
    /// client when it has applied the log up to here.
    pub seq: i64,
}

/// The opening frame.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// Protocol version.
    pub version: u32,
    /// The sender's node id.
    pub node: String,
    /// The sender's database incarnation.
    pub incarnation: String,
    /// A fresh random nonce, hex.
    pub nonce: String,
    /// Why it connects.
    pub purpose: Purpose,
}

/// Where a receiver stands with the sender's log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// The sender incarnation it last synced from ("" if never).
    pub incarnation: String,
    /// The highest sequence it applied from it.
    pub applied: i64,
    /// The end of the receiver's *own* log as the session starts: once the sender has
    /// applied that far, it holds everything the receiver logged before the link came up,
    /// and may assign UIDs as a home twin again.
    #[serde(default)]
    pub log_end: i64,
}

/// A change and the size of the bytes that follow it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeHeader {
    /// Its sequence number in the sender's log.
    pub seq: i64,
    /// The change.
    pub change: Change,
    /// Bytes following in chunks (message adds only).
    pub blob_len: Option<u64>,
}

/// A blob and its size.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobHeader {
    /// Its hash.
    pub hash: BlobHash,
    /// Its length; the bytes follow in chunks.
    pub len: u64,
}

/// A question from `mirror verify`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "q", rename_all = "snake_case")]
pub enum Query {
    /// Accounts, domains, aliases and per-mailbox digests.
    Summary,
    /// The messages of one mailbox with UIDs in a range.
    Rows {
        /// The mailbox.
        mailbox: Guid,
        /// First UID.
        from: u32,
        /// Last UID.
        to: u32,
    },
}

/// An answer to `mirror verify`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "a", rename_all = "snake_case")]
pub enum Answer {
    /// See [`Query::Summary`].
    Summary(Summary),
    /// See [`Query::Rows`].
    Rows {
        /// The rows.
        rows: Vec<DigestRow>,
    },
}

/// What a twin holds, in brief.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Local domains.
    pub domains: Vec<String>,
    /// Aliases (address, target).
    pub aliases: Vec<(String, String)>,
    /// Accounts.
    pub accounts: Vec<AccountFacts>,
    /// Mailboxes.
    pub mailboxes: Vec<MailboxDigest>,
}

/// A frame that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The connection failed or closed.
    #[error("connection: {0}")]
    Io(#[from] std::io::Error),
    /// A frame longer than [`MAX_FRAME`] or empty.
    #[error("frame length {0} out of bounds")]
    Length(usize),
    /// An unknown frame type.
    #[error("unknown frame type {0}")]
    Type(u8),
    /// A body that does not parse.
    #[error("bad frame body: {0}")]
    Body(String),
}

mod kind {
    pub const HELLO: u8 = 1;
    pub const PROOF: u8 = 2;
    pub const REFUSED: u8 = 3;
    pub const POSITION: u8 = 4;
    pub const CHANGE: u8 = 5;
    pub const CHUNK: u8 = 6;
    pub const ACK: u8 = 7;
    pub const HEARTBEAT: u8 = 8;
    pub const SNAPSHOT_BEGIN: u8 = 9;
    pub const SNAPSHOT_PAGE: u8 = 10;
    pub const WANT: u8 = 11;
    pub const BLOB: u8 = 12;
    pub const SNAPSHOT_END: u8 = 13;
    pub const QUERY: u8 = 14;
    pub const ANSWER: u8 = 15;
    pub const REQUEST: u8 = 16;
    pub const REQUEST_CHUNK: u8 = 17;
    pub const RESPONSE: u8 = 18;
}

fn json<T: Serialize>(v: &T) -> Vec<u8> {
    // Serialising these plain data types cannot fail.
    serde_json::to_vec(v).unwrap_or_default()
}

fn parse<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, FrameError> {
    serde_json::from_slice(body).map_err(|e| FrameError::Body(e.to_string()))
}

impl Frame {
    /// The frame's kind, for logs and errors: never its contents, which a peer chose.
    pub fn name(&self) -> &'static str {
        match self {
            Frame::Hello(_) => "hello",
            Frame::Proof(_) => "proof",
            Frame::Refused(_) => "refused",
            Frame::Position(_) => "position",
            Frame::Change(_) => "change",
            Frame::Chunk(_) => "chunk",
            Frame::Ack(_) => "ack",
            Frame::Heartbeat => "heartbeat",
            Frame::SnapshotBegin(_) => "snapshot-begin",
            Frame::SnapshotPage(_) => "snapshot-page",
            Frame::Want(_) => "want",
            Frame::Blob(_) => "blob",
            Frame::SnapshotEnd(_) => "snapshot-end",
            Frame::Query(_) => "query",
            Frame::Answer(_) => "answer",
            Frame::Request(_) => "request",
            Frame::RequestChunk(..) => "request-chunk",
            Frame::Response(_) => "response",
        }
    }

    /// The frame on the wire: length, type, body.
    pub fn encode(&self) -> Vec<u8> {
        let (k, body) = match self {
            Frame::Hello(h) => (kind::HELLO, json(h)),
            Frame::Proof(p) => (kind::PROOF, p.to_vec()),
            Frame::Refused(r) => (kind::REFUSED, json(r)),
            Frame::Position(p) => (kind::POSITION, json(p)),
            Frame::Change(c) => (kind::CHANGE, json(c)),
            Frame::Chunk(b) => (kind::CHUNK, b.clone()),
            Frame::Ack(s) => (kind::ACK, json(s)),
            Frame::Heartbeat => (kind::HEARTBEAT, Vec::new()),
            Frame::SnapshotBegin(s) => (kind::SNAPSHOT_BEGIN, json(s)),
            Frame::SnapshotPage(p) => (kind::SNAPSHOT_PAGE, json(p)),
            Frame::Want(w) => (kind::WANT, json(w)),
            Frame::Blob(b) => (kind::BLOB, json(b)),
            Frame::SnapshotEnd(s) => (kind::SNAPSHOT_END, json(s)),
            Frame::Query(q) => (kind::QUERY, json(q)),
            Frame::Answer(a) => (kind::ANSWER, json(a)),
            Frame::Request(r) => (kind::REQUEST, json(r)),
            Frame::RequestChunk(id, b) => {
                let mut body = id.0.to_vec();
                body.extend_from_slice(b);
                (kind::REQUEST_CHUNK, body)
            }
            Frame::Response(r) => (kind::RESPONSE, json(r)),
        };
        let mut out = Vec::with_capacity(5 + body.len());
        out.extend_from_slice(&(body.len() as u32 + 1).to_be_bytes());
        out.push(k);
        out.extend_from_slice(&body);
        out
    }

    /// Decodes a frame from its type byte and body (the length already stripped).
    pub fn decode(k: u8, body: &[u8]) -> Result<Frame, FrameError> {
        Ok(match k {
            kind::HELLO => Frame::Hello(parse(body)?),
            kind::PROOF => Frame::Proof(
                body.try_into()
                    .map_err(|_| FrameError::Body("a proof is 32 bytes".into()))?,
            ),
            kind::REFUSED => Frame::Refused(parse(body)?),
            kind::POSITION => Frame::Position(parse(body)?),
            kind::CHANGE => Frame::Change(parse(body)?),
            kind::CHUNK => Frame::Chunk(body.to_vec()),
            kind::ACK => Frame::Ack(parse(body)?),
            kind::HEARTBEAT if body.is_empty() => Frame::Heartbeat,
            kind::SNAPSHOT_BEGIN => Frame::SnapshotBegin(parse(body)?),
            kind::SNAPSHOT_PAGE => Frame::SnapshotPage(parse(body)?),
            kind::WANT => Frame::Want(parse(body)?),
            kind::BLOB => Frame::Blob(parse(body)?),
            kind::SNAPSHOT_END => Frame::SnapshotEnd(parse(body)?),
            kind::QUERY => Frame::Query(parse(body)?),
            kind::ANSWER => Frame::Answer(parse(body)?),
            kind::REQUEST => Frame::Request(parse(body)?),
            kind::REQUEST_CHUNK if body.len() >= 16 => {
                let (id, bytes) = body.split_at(16);
                let id = Guid::from_slice(id).map_err(|e| FrameError::Body(e.to_string()))?;
                Frame::RequestChunk(id, bytes.to_vec())
            }
            kind::RESPONSE => Frame::Response(parse(body)?),
            other => return Err(FrameError::Type(other)),
        })
    }

    /// Splits as many whole frames as `buf` holds off its front; what remains is an
    /// incomplete frame. Used by the fuzz target; the link reads with [`read`].
    pub fn decode_all(mut buf: &[u8]) -> (Vec<Result<Frame, FrameError>>, usize) {
        let mut out = Vec::new();
        let mut used = 0;
        while buf.len() >= 4 {
            let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
            if len == 0 || len > MAX_FRAME + 1 {
                out.push(Err(FrameError::Length(len)));
                return (out, used);
            }
            if buf.len() < 4 + len {
                break;
            }
            out.push(Frame::decode(buf[4], &buf[5..4 + len]));
            buf = &buf[4 + len..];
            used += 4 + len;
        }
        (out, used)
    }
}

/// Largest frame accepted before the peer has proved the secret: a hello or a proof.
pub const MAX_HANDSHAKE_FRAME: usize = 1024;

/// Reads one frame.
pub async fn read<R: AsyncRead + Unpin>(r: &mut R) -> Result<Frame, FrameError> {
    read_limited(r, MAX_FRAME).await
}

/// Reads one frame whose body is at most `max` bytes (the length is checked before any
/// byte of the body is read or buffered).
pub async fn read_limited<R: AsyncRead + Unpin>(
    r: &mut R,
    max: usize,
) -> Result<Frame, FrameError> {
    let len = r.read_u32().await? as usize;
    if len == 0 || len > max + 1 {
        return Err(FrameError::Length(len));
    }
    let k = r.read_u8().await?;
    let mut body = vec![0; len - 1];
    r.read_exact(&mut body).await?;
    Frame::decode(k, &body)
}

/// Writes one frame (not flushed).
pub async fn write<W: AsyncWrite + Unpin>(w: &mut W, f: &Frame) -> std::io::Result<()> {
    w.write_all(&f.encode()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_junk_is_an_error() {
        let frames = [
            Frame::Hello(Hello {
                version: VERSION,
                node: "a".into(),
                incarnation: "x".into(),
                nonce: "00".into(),
                purpose: Purpose::Link,
            }),
            Frame::Proof([7; 32]),
            Frame::Ack(42),
            Frame::Heartbeat,
            Frame::Chunk(b"\x00\x00\x00\x05\x08looks like a frame".to_vec()),
            Frame::Position(Position {
                incarnation: String::new(),
                applied: 0,
                log_end: 9,
            }),
            Frame::RequestChunk(Guid([3; 16]), b"\x00\x00\x00\x05bytes".to_vec()),
        ];
        let mut wire = Vec::new();
        for f in &frames {
            wire.extend(f.encode());
        }
        let (got, used) = Frame::decode_all(&wire);
        assert_eq!(used, wire.len());
        let got: Vec<Frame> = got.into_iter().map(|f| f.unwrap()).collect();
        assert_eq!(got, frames);
        assert!(matches!(
            Frame::decode_all(&[0, 0, 0, 2, 99, 0]).0[0],
            Err(FrameError::Type(99))
        ));
        assert!(matches!(
            Frame::decode_all(&[0xff, 0, 0, 0, 1]).0[0],
            Err(FrameError::Length(_))
        ));
        assert!(Frame::decode(kind::PROOF, b"short").is_err());
        assert!(Frame::decode(kind::CHANGE, b"{\"seq\":1}").is_err());
    }
}
