//! COMPRESS (RFC 4978): `COMPRESS DEFLATE` turns on raw deflate both ways once its OK
//! is sent (the session does that, `Session::start_compression`; the stream is
//! `deflate::Wire`). Valid once logged in (the validity table), on TLS too: RFC 4978 §8
//! leaves the order to the client, and Thunderbird compresses over TLS. An unknown
//! mechanism is a syntax error (imap-codec decodes only DEFLATE): BAD. Past the server's
//! `max_compressed_sessions` the answer is NO [LIMIT]: the session goes on plain.

use imap_types::{
    core::Tag,
    extensions::compress::CompressionAlgorithm,
    response::{Code, Status},
};
use twinmail_net::Stream;

use crate::{
    convert::{bad, no, ok},
    session::Session,
};

pub fn compress<S: Stream>(
    s: &mut Session<S>,
    tag: &Tag<'static>,
    algorithm: &CompressionAlgorithm,
) -> Status<'static> {
    if !matches!(algorithm, CompressionAlgorithm::Deflate) {
        s.errors += 1;
        return bad(tag, "Unknown compression mechanism");
    }
    if s.compress.is_some() || s.conn.stream.compressing() {
        // RFC 4978 §3: a second COMPRESS is refused with this code.
        return no(
            tag,
            Some(Code::CompressionActive),
            "DEFLATE active via COMPRESS".into(),
        );
    }
    let max = s.imap.settings.max_compressed_sessions;
    let Some(slot) = crate::deflate::Slot::take(&s.imap.compressing, max) else {
        // Each compressed session holds a few hundred KiB: past the cap, the client goes
        // on uncompressed (RFC 4978 §3 allows a NO).
        return no(
            tag,
            Some(Code::Other(imap_types::response::CodeOther::unvalidated(
                &b"LIMIT"[..],
            ))),
            "Too many compressed sessions now; go on without compression".into(),
        );
    };
    s.compress = Some(slot);
    ok(tag, None, "DEFLATE active")
}
