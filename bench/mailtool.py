#!/usr/bin/env python3
"""Mail loading and POP3 retrieval for bench/pop3.sh and bench/imap.sh.

  mailtool.py append --port P --kind fixed|mixed|thread --count N [--size B] [--seen-every K]
                     [--mailbox NAME]
      APPENDs the deterministic test mail (imapclient.py) to INBOX (or NAME, created
      first), in order, one command at a time, and checks it then holds exactly N
      messages. "thread" is the SORT/THREAD corpus (imapclient.thread_corpus).
      Prints one JSON line: count, bytes, seconds, sha256 of the corpus.

  mailtool.py pop3 --port P --kind fixed --count N --size B [--server-pid PID]
      One POP3 session: USER/PASS, STAT, then RETR 1..N one after the other
      (no pipelining), then QUIT. Times the RETR loop, then checks every
      message against the corpus (byte count and SHA-256, after undoing the
      dot-stuffing). Prints one JSON line; exits 1 on any mismatch.

  mailtool.py table-pop3 RESULT.json...      the POP3 table (bench/pop3.sh)
"""

import argparse
import hashlib
import json
import socket
import sys
import time

import imapclient as ic


def corpus(kind, count, size, seed):
    if kind == "fixed":
        return [ic.fixed_size_message(i, size, seed) for i in range(1, count + 1)]
    if kind == "thread":
        return ic.thread_corpus(count, seed)
    return [ic.mixed_message(i, seed) for i in range(1, count + 1)]


def digest_all(msgs):
    h = hashlib.sha256()
    for m in msgs:
        h.update(hashlib.sha256(m).digest())
    return h.hexdigest()


# ---------------------------------------------------------------- append

def cmd_append(a):
    msgs = corpus(a.kind, a.count, a.size, a.seed)
    c = ic.Imap(a.host, a.port)
    c.login(a.user, a.password)
    mailbox = a.mailbox.encode()
    if mailbox != b"INBOX":
        c.command(b"CREATE " + mailbox)
    before = c.select(mailbox)
    if before:
        sys.exit(f"append: {a.mailbox} already holds {before} messages")
    caps = b" ".join(c.command(b"CAPABILITY")[0]).upper()
    plus = b"LITERAL+" in caps
    t0 = time.perf_counter()
    last_uid = 0
    for i, m in enumerate(msgs, 1):
        flags = b" (\\Seen)" if a.seen_every and i % a.seen_every != 0 else b""
        _, _, tagged = c.command(b"APPEND " + mailbox + flags, literal=m, literal_plus=plus)
        uid = ic.appenduid(tagged)
        if uid <= last_uid:
            sys.exit(f"append: UIDs not ascending ({last_uid} then {uid})")
        last_uid = uid
    secs = time.perf_counter() - t0
    c.command(b"NOOP")
    n = c.select(mailbox)
    uids = c.uid_search(b"ALL")
    c.logout()
    if n != a.count or len(uids) != a.count:
        sys.exit(f"append: {a.mailbox} holds {n} messages ({len(uids)} UIDs), expected {a.count}")
    out = {
        "count": a.count,
        "bytes": sum(len(m) for m in msgs),
        "seconds": round(secs, 3),
        "first_uid": uids[0],
        "last_uid": uids[-1],
        "sha256": digest_all(msgs),
        "literal_plus": plus,
    }
    print(json.dumps(out))


# ---------------------------------------------------------------- pop3

class Pop3:
    def __init__(self, host, port):
        self.sock = socket.create_connection((host, port), timeout=120)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.status()

    def _fill(self):
        d = self.sock.recv(1 << 18)
        if not d:
            raise EOFError("POP3 server closed the connection")
        self.buf += d

    def status(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line = bytes(self.buf[: i + 2])
                del self.buf[: i + 2]
                if not line.startswith(b"+OK"):
                    raise RuntimeError(f"POP3: {line!r}")
                return line
            self._fill()

    def cmd(self, line):
        self.sock.sendall(line + b"\r\n")
        return self.status()

    def multiline(self):
        """The rest of a multi-line reply, dot-stuffing undone, ending CRLF."""
        scan = 0
        while True:
            # The terminator is CRLF . CRLF; an empty body is just ".\r\n".
            if self.buf[:3] == b".\r\n":
                del self.buf[:3]
                return b""
            i = self.buf.find(b"\r\n.\r\n", scan)
            if i >= 0:
                body = bytes(self.buf[: i + 2])
                del self.buf[: i + 5]
                break
            scan = max(0, len(self.buf) - 4)
            self._fill()
        if body.startswith(b".."):
            body = body[1:]
        return body.replace(b"\r\n..", b"\r\n.")


def cmd_pop3(a):
    msgs = corpus(a.kind, a.count, a.size, a.seed)
    want = sorted(hashlib.sha256(m).digest() for m in msgs)
    want_bytes = sum(len(m) for m in msgs)

    srv0 = ic.tree_cpu_seconds(a.server_pid) if a.server_pid else None
    cpu0 = time.process_time()
    t_session = time.perf_counter()
    p = Pop3(a.host, a.port)
    p.cmd(b"USER " + a.user.encode())
    p.cmd(b"PASS " + a.password.encode())
    stat = p.cmd(b"STAT").split()
    n, octets = int(stat[1]), int(stat[2])
    if n != a.count:
        sys.exit(f"pop3: STAT says {n} messages, expected {a.count}")
    got = []
    t0 = time.perf_counter()
    for i in range(1, n + 1):
        p.cmd(b"RETR %d" % i)
        got.append(p.multiline())
    t1 = time.perf_counter()
    p.cmd(b"QUIT")
    p.sock.close()
    t_end = time.perf_counter()
    cpu1 = time.process_time()
    time.sleep(0.3)  # let Dovecot's pop3 process exit and be reaped (its CPU then counts)
    srv1 = ic.tree_cpu_seconds(a.server_pid) if a.server_pid else None

    got_bytes = sum(len(m) for m in got)
    ok = sorted(hashlib.sha256(m).digest() for m in got) == want
    out = {
        "server": a.name,
        "messages": n,
        "stat_octets": octets,
        "bytes": got_bytes,
        "expected_bytes": want_bytes,
        "content_ok": ok,
        "retr_seconds": round(t1 - t0, 4),
        "session_seconds": round(t_end - t_session, 4),
        "mb_per_s": round(got_bytes / 1e6 / (t1 - t0), 2),
        "client_cpu": round(cpu1 - cpu0, 3),
        "server_cpu": round(srv1 - srv0, 3) if srv0 is not None else None,
    }
    print(json.dumps(out))
    if got_bytes != want_bytes or not ok or octets != want_bytes:
        print(
            f"pop3 {a.name}: VERIFICATION FAILED: got {got_bytes} bytes (STAT {octets}), "
            f"expected {want_bytes}; contents {'match' if ok else 'DIFFER'}",
            file=sys.stderr,
        )
        sys.exit(1)


def cmd_table_pop3(a):
    runs = {}
    order = []
    for path in a.results:
        with open(path) as f:
            for line in f:
                if line.strip():
                    r = json.loads(line)
                    if r["server"] not in runs:
                        order.append(r["server"])
                    runs.setdefault(r["server"], []).append(r)
    med = {}
    for s in order:
        rs = sorted(runs[s], key=lambda r: r["retr_seconds"])
        med[s] = rs[(len(rs) - 1) // 2] if len(rs) % 2 else rs[len(rs) // 2 - 1]
        # (lower median for an even count: the figures below are of a real run)
    fmt = "{:<10} {:>6} {:>11} {:>9} {:>8} {:>8} {:>9} {:>9}  {}"
    print(fmt.format("server", "msgs", "bytes", "seconds", "MB/s", "x dcot", "srv cpu", "cli cpu", "all rounds (s)"))
    print(fmt.format("-" * 10, "-" * 6, "-" * 11, "-" * 9, "-" * 8, "-" * 8, "-" * 9, "-" * 9, "-" * 14))
    ref = med.get("dovecot")
    for s in order:
        r = med[s]
        vs = f"{ref['retr_seconds'] / r['retr_seconds']:.2f}" if ref else "-"
        rounds = " ".join(f"{x['retr_seconds']:.3f}" for x in runs[s])
        print(
            fmt.format(
                s,
                r["messages"],
                r["bytes"],
                f"{r['retr_seconds']:.3f}",
                f"{r['mb_per_s']:.1f}",
                vs,
                "-" if r["server_cpu"] is None else f"{r['server_cpu']:.2f}",
                f"{r['client_cpu']:.2f}",
                rounds,
            )
        )
    if "twinmail" in med and ref:
        ratio = ref["retr_seconds"] / med["twinmail"]["retr_seconds"]
        print()
        print(f"twinmail / dovecot (throughput): {ratio:.2f}x")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("append", "pop3"):
        p = sub.add_parser(name)
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--port", type=int, required=True)
        p.add_argument("--user", default="bench@example.com")
        p.add_argument("--password", default="pw")
        p.add_argument("--kind", choices=("fixed", "mixed", "thread"), default="fixed")
        p.add_argument("--count", type=int, required=True)
        p.add_argument("--size", type=int, default=51200)
        p.add_argument("--seed", type=int, default=1)
        if name == "append":
            p.add_argument("--seen-every", type=int, default=0,
                           help="flag all but every K-th message \\Seen (0: none)")
            p.add_argument("--mailbox", default="INBOX", help="where to append (created unless INBOX)")
        else:
            p.add_argument("--name", required=True)
            p.add_argument("--server-pid", type=int)
    t = sub.add_parser("table-pop3")
    t.add_argument("results", nargs="+")
    a = ap.parse_args()
    {"append": cmd_append, "pop3": cmd_pop3, "table-pop3": cmd_table_pop3}[a.cmd](a)


if __name__ == "__main__":
    main()
