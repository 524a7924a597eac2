"""Shared pieces of the IMAP/POP3 benchmarks (bench/pop3.sh, bench/imap.sh,
bench/imap-idle.sh): a small blocking IMAP client on a raw socket, the
deterministic test-mail generator, and /proc readers for CPU and memory.

Standard library only (Debian 12's python3). Nothing here talks to anything
but the host and port it is given (127.0.0.1 in every script).
"""

import os
import random
import re
import socket
import time

# ---------------------------------------------------------------- raw IMAP client

LITERAL_RE = re.compile(rb"\{(\d+)\+?\}\r\n$")
APPENDUID_RE = re.compile(rb"\[APPENDUID (\d+) (\d+)\]", re.I)
EXISTS_RE = re.compile(rb"^\* (\d+) EXISTS", re.I)


class ImapError(Exception):
    pass


class Imap:
    """One IMAP session: send a command, read to its tagged reply.

    Literals in replies are read by their byte count (never scanned for
    CRLF), so a FETCH of a message body costs one copy. Replies are kept
    as raw lines; callers pick out what they need.
    """

    def __init__(self, host, port, timeout=120.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.pos = 0
        self.n = 0
        greeting = self.readline()
        if not greeting.startswith(b"* OK") and not greeting.startswith(b"* PREAUTH"):
            raise ImapError(f"greeting: {greeting!r}")
        self.greeting = greeting

    # -- reading
    def _fill(self):
        if self.pos:
            del self.buf[: self.pos]
            self.pos = 0
        d = self.sock.recv(1 << 18)
        if not d:
            raise ImapError("connection closed by server")
        self.buf += d

    def readline(self):
        scan = self.pos
        while True:
            i = self.buf.find(b"\r\n", scan)
            if i >= 0:
                line = bytes(self.buf[self.pos : i + 2])
                self.pos = i + 2
                return line
            pending = len(self.buf) - self.pos
            self._fill()  # may move the pending bytes to the front
            scan = self.pos + max(0, pending - 1)

    def readexact(self, n):
        while len(self.buf) - self.pos < n:
            self._fill()
        d = bytes(self.buf[self.pos : self.pos + n])
        self.pos += n
        return d

    def read_response_line(self):
        """One response, literals included: (line with literals replaced by
        b'{n}', list of literal payloads)."""
        line = self.readline()
        lits = []
        m = LITERAL_RE.search(line)
        if m is None:
            return line, lits
        parts = []
        while m is not None:
            n = int(m.group(1))
            parts.append(line[: m.start()] + b"{%d}" % n)
            lits.append(self.readexact(n))
            line = self.readline()
            m = LITERAL_RE.search(line)
        parts.append(line)
        return b"".join(parts), lits

    # -- commands
    def send(self, data):
        self.sock.sendall(data)

    def next_tag(self):
        self.n += 1
        return b"a%d" % self.n

    def command(self, cmd, literal=None, literal_plus=False):
        """Runs one command; returns (untagged lines, literal payloads, tagged
        line). Raises ImapError unless the tagged reply is OK."""
        tag = self.next_tag()
        if literal is None:
            self.send(tag + b" " + cmd + b"\r\n")
        elif literal_plus:
            self.send(tag + b" " + cmd + b" {%d+}\r\n" % len(literal) + literal + b"\r\n")
        else:
            self.send(tag + b" " + cmd + b" {%d}\r\n" % len(literal))
            untagged = []
            while True:
                line, _ = self.read_response_line()
                if line.startswith(b"+"):
                    break
                if line.startswith(tag + b" "):
                    raise ImapError(f"{cmd[:40]!r}: {line!r}")
                untagged.append(line)
            self.send(literal + b"\r\n")
        return self.finish(tag, cmd)

    def finish(self, tag, cmd=b""):
        untagged, lits = [], []
        prefix = tag + b" "
        while True:
            line, ls = self.read_response_line()
            if line.startswith(prefix):
                if line[len(prefix) : len(prefix) + 2].upper() != b"OK":
                    raise ImapError(f"{cmd[:40]!r}: {line.strip()!r}")
                return untagged, lits, line
            untagged.append(line)
            lits.extend(ls)

    def login(self, user, password):
        return self.command(b"LOGIN " + quote(user) + b" " + quote(password))

    def select(self, mailbox=b"INBOX"):
        untagged, _, _ = self.command(b"SELECT " + mailbox)
        exists = None
        for line in untagged:
            m = EXISTS_RE.match(line)
            if m:
                exists = int(m.group(1))
        return exists

    def uid_search(self, criteria):
        untagged, _, _ = self.command(b"UID SEARCH " + criteria)
        uids = []
        for line in untagged:
            if line[:9].upper() == b"* SEARCH ":
                uids.extend(int(x) for x in line[9:].split())
            elif line[:8].upper() == b"* SEARCH":
                pass
        return uids

    def logout(self):
        try:
            self.command(b"LOGOUT")
        except (ImapError, OSError):
            pass
        self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def quote(s):
    if isinstance(s, str):
        s = s.encode()
    return b'"' + s.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def appenduid(tagged_line):
    m = APPENDUID_RE.search(tagged_line)
    if not m:
        raise ImapError(f"no APPENDUID in {tagged_line!r}")
    return int(m.group(2))


# ---------------------------------------------------------------- test mail

WORDS = (
    "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike "
    "november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee "
    "zulu mail server twin mirror store message folder inbox report meeting budget "
    "invoice quarterly schedule project release deploy review comment update status "
    "weekly notes agenda minutes summary draft final version change request approve "
    "the a of and to in is for on that with as by at from this be are or it an was"
).split()


def _text_lines(rnd, nbytes, width=72):
    """ASCII lines (CRLF-terminated, none starting with '.') totalling about nbytes."""
    out = []
    total = 0
    while total < nbytes:
        words = []
        n = 0
        while n < width - 12:
            w = rnd.choice(WORDS)
            words.append(w)
            n += len(w) + 1
        line = " ".join(words).capitalize() + ".\r\n"
        out.append(line)
        total += len(line)
    return out


def _headers(i, seed, subject, ctype):
    day = 1 + i % 28
    hh, mm, ss = (i * 7) % 24, (i * 13) % 60, (i * 31) % 60
    return (
        f"Date: Mon, {day:02d} Jan 2024 {hh:02d}:{mm:02d}:{ss:02d} +0000\r\n"
        f'From: "Sender {i % 97}" <sender{i % 97}@remote.example>\r\n'
        f"To: Bench <bench@example.com>\r\n"
        f"Subject: {subject}\r\n"
        f"Message-ID: <{seed}.{i}@bench.invalid>\r\n"
        f"MIME-Version: 1.0\r\n"
        f"{ctype}"
    )


def fixed_size_message(i, size, seed=1):
    """A text/plain message of exactly `size` bytes (CRLF line ends)."""
    rnd = random.Random(seed * 1_000_003 + i)
    subject = " ".join(rnd.choice(WORDS) for _ in range(5))
    head = _headers(i, seed, f"{subject} {i}", "Content-Type: text/plain; charset=us-ascii\r\n") + "\r\n"
    budget = size - len(head)
    if budget < 4:
        raise ValueError("size too small")
    body = "".join(_text_lines(rnd, budget))
    body = body[:budget]
    # End on CRLF; pad the last line with 'x' so the total is exact.
    body = body[: budget - 2]
    body = body.rstrip("\r\n")
    body = body + "x" * (budget - 2 - len(body)) + "\r\n"
    msg = (head + body).encode("ascii")
    assert len(msg) == size, (len(msg), size)
    assert b"\r\n." not in msg
    return msg


def mixed_message(i, seed=1):
    """2-50 KB: ~65% text/plain, ~20% multipart/alternative (text + html),
    ~15% multipart/mixed with a base64 attachment."""
    rnd = random.Random(seed * 1_000_003 + i)
    # log-uniform between 2 KB and 50 KB
    target = int(2048 * (25 ** rnd.random()))
    subject = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(2, 7)))
    kind = rnd.random()
    if kind < 0.65:
        head = _headers(i, seed, subject, "Content-Type: text/plain; charset=us-ascii\r\n") + "\r\n"
        body = "".join(_text_lines(rnd, max(64, target - len(head))))
        return (head + body).encode("ascii")
    boundary = f"=_bench_{seed}_{i}_{rnd.randrange(1 << 30):x}"
    if kind < 0.85:
        ctype = f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n'
        head = _headers(i, seed, subject, ctype) + "\r\n"
        half = max(64, (target - len(head)) // 2)
        text = "".join(_text_lines(rnd, half))
        html = "".join("<p>" + ln[:-2] + "</p>\r\n" for ln in _text_lines(rnd, half - 200))
        body = (
            "This is a multi-part message in MIME format.\r\n"
            f"--{boundary}\r\n"
            "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
            f"{text}"
            f"--{boundary}\r\n"
            "Content-Type: text/html; charset=us-ascii\r\n\r\n"
            f"<html><body>\r\n{html}</body></html>\r\n"
            f"--{boundary}--\r\n"
        )
        return (head + body).encode("ascii")
    ctype = f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n'
    head = _headers(i, seed, subject, ctype) + "\r\n"
    text = "".join(_text_lines(rnd, 600))
    att_len = max(512, int((target - len(head) - 800) * 3 / 4))
    raw = rnd.randbytes(att_len)
    import base64

    b64 = base64.b64encode(raw).decode("ascii")
    b64 = "".join(b64[k : k + 76] + "\r\n" for k in range(0, len(b64), 76))
    body = (
        "This is a multi-part message in MIME format.\r\n"
        f"--{boundary}\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
        f"{text}"
        f"--{boundary}\r\n"
        f'Content-Type: application/octet-stream; name="file{i}.bin"\r\n'
        "Content-Transfer-Encoding: base64\r\n"
        f'Content-Disposition: attachment; filename="file{i}.bin"\r\n\r\n'
        f"{b64}"
        f"--{boundary}--\r\n"
    )
    return (head + body).encode("ascii")


def thread_corpus(count, seed=1):
    """The SORT/THREAD corpus: `count` text/plain messages of 1-6 KB, about 60% of
    them replies to one of the 300 messages before them (a "Re:", "RE:", "Fwd:" or
    "Re: Re:" subject; In-Reply-To and up to 10 References, as mail clients write
    them), the rest new threads; 10% carry a "[bench]" list tag, 5% an RFC 2047
    encoded subject, 5% an encoded sender name, 3% no Date. Dates are random within
    2024, so DATE order is not arrival order; 500 senders."""
    rnd = random.Random(seed * 7919 + 17)
    out, meta = [], []
    for i in range(1, count + 1):
        if meta and rnd.random() < 0.6:
            base, refs, parent = meta[rnd.randrange(max(0, len(meta) - 300), len(meta))]
            refs = (refs + [parent])[-10:]
            subject = rnd.choice(["Re: ", "Re: ", "RE: ", "Fwd: ", "Re: Re: "]) + base
        else:
            base = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(2, 6))).capitalize()
            base += f" {rnd.randrange(100000)}"
            refs, subject = [], base
        if rnd.random() < 0.1:
            subject = "[bench] " + subject
        if rnd.random() < 0.05:
            subject = "=?UTF-8?Q?" + subject.replace(":", "=3A").replace(" ", "_") + "?="
        mid = f"<{seed}.t{i}@bench.invalid>"
        meta.append((base, refs, mid))
        k = rnd.randrange(500)
        name = f'"Sender {k}"' if rnd.random() >= 0.05 else f"=?UTF-8?Q?S=C3=A9nder_{k}?="
        head = ""
        if rnd.random() >= 0.03:
            day, secs = 1 + rnd.randrange(28), rnd.randrange(86400)
            month = rnd.choice(["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"])
            head += f"Date: {day:02d} {month} 2024 {secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d} +0000\r\n"
        head += (
            f"From: {name} <sender{k}@remote.example>\r\n"
            "To: Bench <bench@example.com>\r\n"
            f"Subject: {subject}\r\n"
            f"Message-ID: {mid}\r\n"
        )
        if refs:
            head += f"In-Reply-To: {refs[-1]}\r\nReferences: {' '.join(refs)}\r\n"
        head += "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
        body = "".join(_text_lines(rnd, rnd.randint(1024, 6144)))
        out.append((head + body).encode("ascii"))
    return out


def small_message(tag, n):
    """The small message the IMAP load generator APPENDs (about 600 bytes)."""
    body = "".join(
        f"Line {k} of a small message appended by the load generator.\r\n" for k in range(8)
    )
    return (
        f"Date: Tue, 02 Jan 2024 10:00:00 +0000\r\n"
        f"From: Load <load@remote.example>\r\n"
        f"To: Bench <bench@example.com>\r\n"
        f"Subject: small {tag} {n}\r\n"
        f"Message-ID: <{tag}.{n}.{time.time_ns()}@load.invalid>\r\n"
        f"\r\n{body}"
    ).encode("ascii")


# ---------------------------------------------------------------- /proc

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid):
    with open(f"/proc/{pid}/stat", "rb") as f:
        s = f.read()
    # comm may hold spaces and parentheses: split after the last ')'
    rest = s[s.rindex(b")") + 2 :].split()
    return rest  # rest[0] is field 3 (state)


def process_tree(root):
    """PIDs of root and every live descendant."""
    children = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            ppid = int(_stat_fields(name)[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(name))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, ()))
    return out


def tree_cpu_seconds(root):
    """CPU seconds (user+system) used so far by root and its descendants,
    including descendants that have exited and been reaped."""
    total = 0
    for pid in process_tree(root):
        try:
            f = _stat_fields(pid)
        except OSError:
            continue
        # fields 14-17 (utime stime cutime cstime) are rest[11:15]
        total += sum(int(x) for x in f[11:15])
    return total / CLK_TCK


def vm_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def tree_memory_kib(root):
    """(processes, sum of VmRSS, sum of PSS) over root and its descendants, KiB.
    PSS shares each shared page among the processes mapping it, so its sum is
    the real footprint of a multi-process server; the RSS sum counts shared
    libraries once per process."""
    n = rss = pss = 0
    for pid in process_tree(root):
        try:
            r = vm_rss_kib(pid)
            p = 0
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        p = int(line.split()[1])
                        break
        except OSError:
            continue
        n += 1
        rss += r
        pss += p
    return n, rss, pss


def machine_cpu():
    """(busy, iowait, total) jiffies of the whole machine so far."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    total = sum(v[:8])
    return total - v[3] - v[4], v[4], total
