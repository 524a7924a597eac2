//! A Thunderbird-style session through Python's imaplib with a small zlib layer over its
//! socket, the way Thunderbird talks to Dovecot: LOGIN over TLS, COMPRESS DEFLATE, then
//! ENABLE CONDSTORE, SELECT, FETCH with MODSEQ, and IDLE that sees a message another
//! session APPENDs, all through the compressed stream.

mod common;

use common::{ALICE, start};

const SCRIPT: &str = r#"
import imaplib, ssl, sys, json, zlib, threading, time
port, ca = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=ca); ctx.check_hostname = False
imaplib.Commands['COMPRESS'] = ('AUTH', 'SELECTED')

class Deflating(imaplib.IMAP4_SSL):
    """imaplib with RFC 4978 COMPRESS=DEFLATE: raw deflate both ways, a sync flush
    after every write (as Thunderbird's nsMsgCompressOStream does)."""
    zin = zout = None
    wire_in = plain_in = 0
    def compress(self):
        typ, data = self._simple_command('COMPRESS', 'DEFLATE')
        if typ == 'OK':
            self.zin = zlib.decompressobj(-15)
            self.zout = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
            self.zbuf = b''
        return typ, data
    def send(self, data):
        if self.zout:
            data = self.zout.compress(data) + self.zout.flush(zlib.Z_SYNC_FLUSH)
        self.sock.sendall(data)
    def _fill(self):
        raw = self.file.read1(65536)
        if not raw:
            raise self.abort('socket closed')
        self.wire_in += len(raw)
        more = self.zin.decompress(raw)
        self.plain_in += len(more)
        self.zbuf += more
    def read(self, size):
        if not self.zin:
            return super().read(size)
        while len(self.zbuf) < size:
            self._fill()
        out, self.zbuf = self.zbuf[:size], self.zbuf[size:]
        return out
    def readline(self):
        if not self.zin:
            return super().readline()
        while b'\n' not in self.zbuf:
            self._fill()
        i = self.zbuf.index(b'\n') + 1
        out, self.zbuf = self.zbuf[:i], self.zbuf[i:]
        return out

out = {}
m = Deflating('127.0.0.1', port, ssl_context=ctx)
out['caps_before'] = 'COMPRESS=DEFLATE' in m.capabilities
typ, data = m.login('alice@example.com', 'alice-password')
out['login'] = typ
typ, data = m.capability()
out['caps'] = data[0].decode()
typ, data = m.compress()
out['compress'] = [typ, data[0].decode()]
typ, data = m._simple_command('ENABLE', 'CONDSTORE')
out['enable'] = [typ, [d.decode() for d in m.untagged_responses.pop('ENABLED', [])]]
typ, data = m.select('INBOX')
out['exists'] = int(data[0])
out['highestmodseq'] = [d.decode() for d in m.untagged_responses.get('OK', [])
                        if b'HIGHESTMODSEQ' in d]
typ, data = m.uid('FETCH', '1:*', '(UID FLAGS MODSEQ)')
out['fetch'] = [d.decode() for d in data]
typ, data = m.uid('STORE', '1', '+FLAGS', '(\\Seen)')
out['store'] = [d.decode() for d in data]
# IDLE; another (plain) session APPENDs meanwhile.
m.send(b'I1 IDLE\r\n')
out['idle_cont'] = m.readline().decode().strip()
def other():
    o = imaplib.IMAP4_SSL('127.0.0.1', port, ssl_context=ctx)
    o.login('alice@example.com', 'alice-password')
    o.append('INBOX', None, None, b'From: b@remote.org\r\nSubject: while idling\r\n\r\nhi\r\n')
    o.logout()
t = time.time()
threading.Timer(0.3, other).start()
out['idle_push'] = m.readline().decode().strip()
out['push_secs'] = time.time() - t
m.send(b'DONE\r\n')
done = m.readline().decode().strip()
while done.startswith('*'):
    done = m.readline().decode().strip()
out['idle_done'] = done
typ, data = m.uid('FETCH', '4', '(FLAGS MODSEQ BODY.PEEK[HEADER.FIELDS (SUBJECT)])')
out['new'] = [x.decode() if isinstance(x, bytes) else [y.decode() for y in x] for x in data]
typ, data = m._simple_command('COMPRESS', 'DEFLATE')
out['again'] = [typ, m.response('COMPRESSIONACTIVE')[0]]
m.logout()
out['wire_in'], out['plain_in'] = m.wire_in, m.plain_in
print(json.dumps(out), flush=True)
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thunderbird_style_compressed_session_with_condstore_and_idle() {
    twinmail_testkit::require(&["python3"]);
    let srv = start().await;
    srv.deliver(ALICE.0, 3).await;
    let ca = srv.dir.path().join("ca.pem");
    std::fs::write(&ca, srv.tls.cert_pem()).unwrap();
    let args = vec![srv.imaps.port().to_string(), ca.display().to_string()];
    let json = tokio::task::spawn_blocking(move || common::python(SCRIPT, &args))
        .await
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    println!("{v}");
    assert_eq!(v["caps_before"], false, "offered once logged in");
    assert_eq!(v["login"], "OK");
    assert!(v["caps"].as_str().unwrap().contains("COMPRESS=DEFLATE"));
    assert_eq!(v["compress"][0], "OK");
    assert_eq!(v["enable"][0], "OK");
    assert_eq!(v["enable"][1], serde_json::json!(["CONDSTORE"]));
    assert_eq!(v["exists"], 3);
    assert_eq!(v["highestmodseq"].as_array().unwrap().len(), 1, "{v}");
    let fetch = v["fetch"].to_string();
    assert_eq!(v["fetch"].as_array().unwrap().len(), 3, "{fetch}");
    assert!(fetch.contains("MODSEQ ("), "{fetch}");
    assert!(
        v["store"][0].as_str().unwrap().contains("\\Seen")
            && v["store"][0].as_str().unwrap().contains("MODSEQ"),
        "{}",
        v["store"]
    );
    assert!(v["idle_cont"].as_str().unwrap().starts_with('+'));
    assert_eq!(v["idle_push"], "* 4 EXISTS");
    assert!(v["push_secs"].as_f64().unwrap() < 3.0, "{}", v["push_secs"]);
    assert!(v["idle_done"].as_str().unwrap().starts_with("I1 OK"));
    let new = v["new"].to_string();
    assert!(
        new.contains("MODSEQ") && new.contains("Subject: while idling"),
        "{new}"
    );
    assert_eq!(v["again"][0], "NO");
    assert!(v["wire_in"].as_u64().unwrap() < v["plain_in"].as_u64().unwrap());
}
