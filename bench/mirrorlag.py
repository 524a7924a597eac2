"""The clients of bench/mirror.sh: SMTP senders, an IMAP IDLE watcher on the twin, and
the table.

  lag    SMTP to twin a at a fixed rate (unique Subject each), an IMAPS client in IDLE
         on twin b's INBOX; per message: when a's 250 arrived, when b's EXISTS covering
         it arrived, and when its Subject was fetched on b. Prints one JSON line.
  rate   SENDERS parallel SMTP sessions deliver SIZE-byte messages for DURATION
         seconds, several messages per session. Prints one JSON line.
  fill   COUNT messages over SENDERS parallel SMTP sessions, as fast as they go.
         Prints one JSON line.
  count  MESSAGES of INBOX over IMAPS (STATUS). Prints the number.
  table  The table of bench/mirror.sh from the JSON lines of the others.

Standard library only (Debian's python3). Talks to 127.0.0.1 only; TLS certificates
are not verified (the twins' are self-signed).
"""

import argparse
import json
import multiprocessing as mp
import re
import socket
import ssl
import sys
import threading
import time

# ---------------------------------------------------------------- messages

FILLER = b"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def message(tag, i, size, rcpt):
    """An RFC 5322 message of about `size` bytes, dot-safe, CRLF lines, distinct body."""
    head = (
        f"From: bench <bench@remote.invalid>\r\nTo: <{rcpt}>\r\n"
        f"Subject: {tag}-{i}\r\nMessage-ID: <{tag}-{i}@remote.invalid>\r\n"
        f"Date: Thu, 26 Nov 2026 12:00:00 +0000\r\n\r\n"
    ).encode()
    body = bytearray()
    n = i * 7919 + 1
    while len(head) + len(body) < size:
        k = n % len(FILLER)
        body += (FILLER[k:] + FILLER[:k])[:60] + b" %d\r\n" % n
        n = (n * 1103515245 + 12345) & 0x7FFFFFFF
    return head + bytes(body)


# ---------------------------------------------------------------- SMTP

class SmtpError(Exception):
    pass


class Smtp:
    """One plain SMTP session (the MX listener: no TLS, no AUTH)."""

    def __init__(self, host, port, timeout=120.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.f = self.sock.makefile("rb")
        self.reply(2)
        self.cmd(b"EHLO bench.remote.invalid", 2)

    def reply(self, want):
        while True:
            line = self.f.readline()
            if not line:
                raise SmtpError("connection closed by server")
            if line[3:4] != b"-":
                break
        if line[:1] != str(want).encode():
            raise SmtpError(f"reply {line!r}")
        return line

    def cmd(self, line, want):
        self.sock.sendall(line + b"\r\n")
        return self.reply(want)

    def send(self, sender, rcpt, data):
        self.cmd(b"MAIL FROM:<" + sender.encode() + b">", 2)
        self.cmd(b"RCPT TO:<" + rcpt.encode() + b">", 2)
        self.cmd(b"DATA", 3)
        self.sock.sendall(data + b".\r\n")
        self.reply(2)

    def close(self):
        try:
            self.cmd(b"QUIT", 2)
        except Exception:
            pass
        self.sock.close()


SENDER = "bench@remote.invalid"

# ---------------------------------------------------------------- IMAP over TLS

LITERAL_RE = re.compile(rb"\{(\d+)\}\r\n$")
EXISTS_RE = re.compile(rb"^\* (\d+) EXISTS\r\n$", re.I)
FETCH_RE = re.compile(rb"^\* (\d+) FETCH ", re.I)
SUBJECT_RE = re.compile(rb"^Subject: (\S+)", re.I | re.M)


class ImapError(Exception):
    pass


def tls_connect(host, port, timeout):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    raw = socket.create_connection((host, port), timeout=timeout)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return ctx.wrap_socket(raw, server_hostname=host)


class Imap:
    """A blocking IMAPS session. Every untagged `* N EXISTS` is timestamped on arrival
    (time.monotonic(), which all processes of this machine share) into `exists`."""

    def __init__(self, host, port, timeout=60.0):
        self.sock = tls_connect(host, port, timeout)
        self.buf = b""
        self.n = 0
        self.exists = []  # (monotonic time, count)
        greeting = self.line()
        if not greeting.startswith(b"* OK"):
            raise ImapError(f"greeting {greeting!r}")

    def raw_line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line, self.buf = self.buf[: i + 2], self.buf[i + 2:]
                return line
            d = self.sock.recv(1 << 16)
            if not d:
                raise ImapError("connection closed by server")
            self.buf += d

    def literal(self, n):
        while len(self.buf) < n:
            d = self.sock.recv(1 << 16)
            if not d:
                raise ImapError("connection closed by server")
            self.buf += d
        lit, self.buf = self.buf[:n], self.buf[n:]
        return lit

    def line(self):
        """One response line with its literals inlined (as `{n}\\r\\n` + bytes)."""
        line = self.raw_line()
        t = time.monotonic()
        while True:
            m = LITERAL_RE.search(line)
            if not m:
                break
            line += self.literal(int(m.group(1)))
            line += self.raw_line()
        m = EXISTS_RE.match(line)
        if m:
            self.exists.append((t, int(m.group(1))))
        return line

    def send(self, text):
        self.sock.sendall(text.encode() if isinstance(text, str) else text)

    def command(self, text):
        self.n += 1
        tag = f"t{self.n}"
        self.send(f"{tag} {text}\r\n")
        return self.until(tag)

    def until(self, tag):
        lines = []
        while True:
            line = self.line()
            if line.startswith(tag.encode() + b" "):
                if line.split(b" ", 2)[1].upper() != b"OK":
                    raise ImapError(f"{line!r}")
                return lines
            lines.append(line)

    def login(self, user, password):
        q = lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
        self.command(f"LOGIN {q(user)} {q(password)}")


def imap_count(host, port, user, password):
    im = Imap(host, port)
    im.login(user, password)
    for line in im.command("STATUS INBOX (MESSAGES)"):
        m = re.search(rb"MESSAGES (\d+)", line)
        if m:
            return int(m.group(1))
    raise ImapError("no STATUS reply")


# ---------------------------------------------------------------- lag

def watcher(a, tag, ready, stop_at, out_q):
    """On twin b: IDLE on INBOX; on EXISTS, leave IDLE, fetch the new messages' Subject,
    IDLE again. Reports {subject: (exists_time, fetched_time)}."""
    im = Imap(a.host, a.imaps_port)
    im.login(a.user, a.password)
    im.command("SELECT INBOX")
    have = im.exists[-1][1] if im.exists else 0
    seen = {}
    ready.set()
    while True:
        im.n += 1
        idle_tag = f"t{im.n}"
        im.send(f"{idle_tag} IDLE\r\n")
        while True:
            line = im.line()
            if line.startswith(b"+"):
                break
            if line.startswith(idle_tag.encode() + b" "):
                raise ImapError(f"IDLE refused: {line!r}")
        im.sock.settimeout(0.2)
        while True:
            if im.exists and im.exists[-1][1] > have:
                break
            if time.monotonic() > stop_at.value or len(seen) >= a.expect > 0:
                break
            try:
                im.line()
            except (socket.timeout, ssl.SSLError, TimeoutError):
                continue
        im.sock.settimeout(60)
        im.send("DONE\r\n")
        im.until(idle_tag)
        total = im.exists[-1][1] if im.exists else have
        if total > have:
            lines = im.command(f"FETCH {have + 1}:{total} (BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
            t_fetched = time.monotonic()
            for line in lines:
                m = FETCH_RE.match(line)
                if not m:
                    continue
                seq = int(m.group(1))
                s = SUBJECT_RE.search(line)
                if not s:
                    continue
                subj = s.group(1).decode()
                if not subj.startswith(tag + "-"):
                    continue
                # visible = the first EXISTS that counted this sequence number
                t_exists = next((t for t, c in im.exists if c >= seq), t_fetched)
                seen[subj] = (t_exists, t_fetched)
            have = total
        if time.monotonic() > stop_at.value or len(seen) >= a.expect > 0:
            break
    im.send("t0 LOGOUT\r\n")
    out_q.put(seen)


def paced_senders(a, tag, n, t0):
    """n messages to twin a, message i due at t0 + i/rate, over a.senders sessions.
    Returns {subject: (due, sent_250_time)} and the count of failures."""
    lock = threading.Lock()
    nxt = [0]
    done = {}
    errors = []

    def run():
        s = Smtp(a.host, a.smtp_port)
        while True:
            with lock:
                i = nxt[0]
                nxt[0] += 1
            if i >= n:
                break
            due = t0 + i / a.rate
            data = message(tag, i, a.size, a.rcpt)
            d = due - time.monotonic()
            if d > 0:
                time.sleep(d)
            t_start = time.monotonic()
            try:
                s.send(SENDER, a.rcpt, data)
            except Exception as e:  # one failure must not stop the run
                errors.append(repr(e))
                s = Smtp(a.host, a.smtp_port)
                continue
            done[f"{tag}-{i}"] = (due, time.monotonic(), t_start)
        s.close()

    threads = [threading.Thread(target=run) for _ in range(a.senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return done, errors


def pct(vals, p):
    if not vals:
        return float("nan")
    k = min(len(vals) - 1, max(0, int(round(p / 100.0 * len(vals) + 0.5)) - 1))
    return vals[k]


def cmd_lag(a):
    sys.setswitchinterval(0.0005)
    tag = f"lag{int(time.time())}"
    n = int(a.rate * a.duration)
    a.expect = n
    ready = mp.Event()
    stop_at = mp.Value("d", time.monotonic() + 3600)
    q = mp.Queue()
    w = mp.Process(target=watcher, args=(a, tag, ready, stop_at, q))
    w.start()
    if not ready.wait(60):
        raise SystemExit("the IMAP watcher on twin b did not start")
    t0 = time.monotonic() + 0.5
    sent, errors = paced_senders(a, tag, n, t0)
    t_end = time.monotonic()
    stop_at.value = t_end + a.settle
    seen = q.get(timeout=a.settle + 120)
    w.join()
    lags, flags = [], []
    late = 0
    smtp_ms = sorted((t250 - ts) * 1000 for _, t250, ts in sent.values())
    for subj, (due, t250, t_start) in sent.items():
        if t_start - due > 0.05:
            late += 1
        if subj in seen:
            te, tf = seen[subj]
            lags.append((te - t250) * 1000)
            flags.append((tf - t250) * 1000)
    lags.sort()
    flags.sort()
    missing = len(sent) - len(lags)
    rec = {
        "test": "lag", "name": a.name, "dir": a.dir, "senders": a.senders, "rate": a.rate, "duration": a.duration, "offered": n,
        "delivered": len(sent), "smtp_errors": len(errors), "first_errors": errors[:3],
        "send_secs": round(t_end - t0, 2), "late_sends": late,
        "visible": len(lags), "missing_on_b": missing,
        "p50": pct(lags, 50), "p99": pct(lags, 99), "max": lags[-1] if lags else float("nan"),
        "min": lags[0] if lags else float("nan"),
        "fetch_p50": pct(flags, 50), "fetch_p99": pct(flags, 99),
        "fetch_max": flags[-1] if flags else float("nan"),
        "smtp_p50": pct(smtp_ms, 50), "smtp_p99": pct(smtp_ms, 99),
        "smtp_max": smtp_ms[-1] if smtp_ms else float("nan"),
    }
    print(json.dumps(rec))


# ---------------------------------------------------------------- rate and fill

def rate_worker(a, idx, start_at, stop_at, out_q):
    tag = f"rate{idx}-{int(time.time())}-{a.name}"
    s = Smtp(a.host, a.smtp_port)
    n = errs = 0
    nbytes = 0
    d = start_at - time.monotonic()
    if d > 0:
        time.sleep(d)
    per = 0
    while time.monotonic() < stop_at:
        data = message(tag, n + errs, a.size, a.rcpt)  # distinct bytes: no blob dedup
        try:
            s.send(SENDER, a.rcpt, data)
            n += 1
            nbytes += len(data)
            per += 1
        except Exception:
            errs += 1
            s = Smtp(a.host, a.smtp_port)
            per = 0
            continue
        if per >= a.per_session:
            s.close()
            s = Smtp(a.host, a.smtp_port)
            per = 0
    end = time.monotonic()
    s.close()
    out_q.put((n, nbytes, errs, end))


def cmd_rate(a):
    q = mp.Queue()
    start_at = time.monotonic() + 1.0
    stop_at = start_at + a.duration
    ps = [mp.Process(target=rate_worker, args=(a, i, start_at, stop_at, q)) for i in range(a.senders)]
    for p in ps:
        p.start()
    res = [q.get() for _ in ps]
    for p in ps:
        p.join()
    n = sum(r[0] for r in res)
    nbytes = sum(r[1] for r in res)
    secs = max(r[3] for r in res) - start_at
    print(json.dumps({
        "test": "rate", "name": a.name, "dir": a.dir, "senders": a.senders, "size": a.size,
        "messages": n, "bytes": nbytes, "errors": sum(r[2] for r in res),
        "seconds": round(secs, 3), "msgs_per_s": n / secs,
    }))


def fill_worker(a, idx, out_q):
    s = Smtp(a.host, a.smtp_port)
    n = nbytes = errs = 0
    per = 0
    i = idx
    while i < a.count:
        data = message("fill", i, a.size, a.rcpt)
        try:
            s.send(SENDER, a.rcpt, data)
        except Exception:
            errs += 1
            if errs > 100:
                break
            s = Smtp(a.host, a.smtp_port)
            per = 0
            continue
        n += 1
        nbytes += len(data)
        i += a.senders
        per += 1
        if per >= a.per_session:
            s.close()
            s = Smtp(a.host, a.smtp_port)
            per = 0
    s.close()
    out_q.put((n, nbytes, errs))


def cmd_fill(a):
    q = mp.Queue()
    t0 = time.monotonic()
    ps = [mp.Process(target=fill_worker, args=(a, i, q)) for i in range(a.senders)]
    for p in ps:
        p.start()
    res = [q.get() for _ in ps]
    for p in ps:
        p.join()
    secs = time.monotonic() - t0
    n = sum(r[0] for r in res)
    print(json.dumps({
        "test": "fill", "messages": n, "bytes": sum(r[1] for r in res),
        "errors": sum(r[2] for r in res), "seconds": round(secs, 2), "msgs_per_s": n / secs,
    }))
    if n != a.count:
        sys.exit(1)


def cmd_count(a):
    print(imap_count(a.host, a.imaps_port, a.user, a.password))


# ---------------------------------------------------------------- table

def cmd_table(a):
    recs = []
    for path in a.results:
        with open(path) as f:
            recs += [json.loads(line) for line in f if line.strip().startswith("{")]
    by = {}
    for r in recs:
        by.setdefault(r["test"] + ":" + r.get("name", ""), []).append(r)
    rows = []

    def row(what, value, target="", note=""):
        rows.append((what, value, target, note))

    lag_rows = (("lag:home-a", "mirror lag, account homed on a"),
                ("lag:home-b", "mirror lag, account homed on b"),
                ("lag:home", "mirror lag, to the account's home twin"),
                ("lag:forwarded", "forwarded: SMTP to the non-home twin"))
    for key, what in lag_rows:
        for r in by.get(key, [])[-1:]:
            row(f"a. {what}", r.get("dir", ""), "", "SMTP to -> IDLE on")
            home = key != "lag:forwarded"
            target = f"< 20 ms: {'met' if r['p99'] < 20 else 'MISSED'}" if home else ""
            row("   lag 250 -> EXISTS on the other twin p50/p99/max",
                f"{r['p50']:.1f}/{r['p99']:.1f}/{r['max']:.1f} ms", target,
                "p99" if target else "negative: the other twin has it before the 250")
            row("   ... to Subject fetched there p50/p99/max",
                f"{r['fetch_p50']:.1f}/{r['fetch_p99']:.1f}/{r['fetch_max']:.1f} ms")
            row("   SMTP DATA -> 250 p50/p99/max",
                f"{r['smtp_p50']:.1f}/{r['smtp_p99']:.1f}/{r['smtp_max']:.1f} ms")
            row("   messages (offered/250/seen on the other twin)",
                f"{r['offered']}/{r['delivered']}/{r['visible']}", "",
                f"{r['rate']:g}/s for {r['duration']:g} s, {r['senders']} sessions; {r['smtp_errors']} SMTP "
                f"errors; {r['late_sends']} sent > 50 ms late")
    med = lambda rs: sorted(x["msgs_per_s"] for x in rs)[len(rs) // 2]
    off = by.get("rate:mirror-off", [])
    roff = med(off) if off else None
    for key, what in (("rate:mirror-on", "b. SMTP rate, pair, account's home twin"),
                      ("rate:home-a", "b. SMTP rate, pair, twin a (account homed on a)"),
                      ("rate:home-b", "   SMTP rate, pair, twin b (account homed on b)"),
                      ("rate:forwarded", "   SMTP rate, pair, to b, homed on a (forwarded)")):
        rs = by.get(key, [])
        if not rs:
            continue
        r = med(rs)
        s0 = rs[-1]
        note = f"{s0['senders']} sessions, {s0['size']} B, {s0['seconds']:.0f} s, {sum(x['errors'] for x in rs)} errors"
        if len(rs) > 1:
            note += "; rounds " + " ".join(f"{x['msgs_per_s']:.0f}" for x in rs)
        row(what, f"{r:.0f} msgs/s", "", note)
        if roff:
            ratio = r / roff
            tgt = f">= 0.8: {'met' if ratio >= 0.8 else 'MISSED'}" if key != "rate:forwarded" else ""
            row("   ratio to standalone", f"{ratio:.2f}", tgt)
    if off:
        row("   SMTP rate, standalone (no [mirror])", f"{roff:.0f} msgs/s", "",
            f"{sum(x['errors'] for x in off)} errors"
            + ("; rounds " + " ".join(f"{x['msgs_per_s']:.0f}" for x in off) if len(off) > 1 else ""))
    for key in ("cpu:home-a", "cpu:home-b"):
        for r in by.get(key, [])[-1:]:
            row(f"   CPU per message, {key[4:]}: mirroring / receiving twin", f"{r['ratio']:.2f}",
                f"<= 0.35: {'met' if r['ratio'] <= 0.35 else 'MISSED'}",
                f"{r['mirroring_ms']:.2f} / {r['receiving_ms']:.2f} ms over {r['messages']} msgs")
    fill = by.get("fill:", [])
    sync = by.get("sync:", [])
    if fill:
        f = fill[-1]
        row("c. fill twin a alone (SMTP)", f"{f['msgs_per_s']:.0f} msgs/s", "",
            f"{f['messages']} msgs, {f['bytes'] / 1e6:.0f} MB in {f['seconds']:.0f} s")
    if sync:
        s = sync[-1]
        if s.get("ok"):
            rate = s["messages"] / s["seconds"]
            row("   initial sync to a fresh twin b", f"{rate:.0f} msgs/s", "",
                f"{s['messages']} msgs in {s['seconds']:.1f} s (from starting b)")
            row("   initial sync", f"{s['bytes'] / 1e6 / s['seconds']:.1f} MB/s")
        else:
            rate = None
            row("   initial sync to a fresh twin b", "FAILED", "", s.get("why", ""))
        st = s.get("store_rate")
        if st:
            row("   store delivery bench (20 tasks, 10 KB)", f"{st:.0f} msgs/s", "",
                f"cargo bench --bench deliver, {s.get('store_n')} msgs")
            if rate:
                row("   ratio initial sync / store delivery", f"{rate / st:.2f}")
    w = [max(len(r[i]) for r in rows + [("", "", "", "")]) for i in range(4)]
    hdr = ("measurement", "result", "target", "notes")
    w = [max(w[i], len(hdr[i])) for i in range(4)]
    fmt = "| {:<%d} | {:>%d} | {:<%d} | {:<%d} |" % tuple(w)
    print(fmt.format(*hdr))
    print("|" + "|".join("-" * (x + 2) for x in w) + "|")
    for r in rows:
        print(fmt.format(*r))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    def common(p, smtp=True, imap=False):
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--dir", default="", help="a label: which twin to which")
        if smtp:
            p.add_argument("--smtp-port", type=int, required=True)
            p.add_argument("--rcpt", default="demo@example.test")
            p.add_argument("--size", type=int, default=10240)
            p.add_argument("--senders", type=int, default=4)
        if imap:
            p.add_argument("--imaps-port", type=int, required=True)
            p.add_argument("--user", default="demo@example.test")
            p.add_argument("--password", required=True)

    p = sub.add_parser("lag")
    common(p, imap=True)
    p.add_argument("--name", default="home")
    p.add_argument("--rate", type=float, default=200)
    p.add_argument("--duration", type=float, default=20)
    p.add_argument("--settle", type=float, default=10, help="seconds to wait for stragglers on b")
    p = sub.add_parser("rate")
    common(p)
    p.add_argument("--name", required=True)
    p.add_argument("--duration", type=float, default=15)
    p.add_argument("--per-session", type=int, default=100)
    p = sub.add_parser("fill")
    common(p)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--per-session", type=int, default=1000)
    p = sub.add_parser("count")
    common(p, smtp=False, imap=True)
    t = sub.add_parser("table")
    t.add_argument("results", nargs="+")
    a = ap.parse_args()
    {"lag": cmd_lag, "rate": cmd_rate, "fill": cmd_fill, "count": cmd_count, "table": cmd_table}[a.cmd](a)


if __name__ == "__main__":
    main()
