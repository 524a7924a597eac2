#!/usr/bin/env python3
"""SORT and THREAD timing for bench/imap.sh.

  imapsort.py run --port P --name NAME --mailbox M [--reps N]
      One session: SELECT M, then each command of COMMANDS once (cold: the server
      has not sorted this mailbox yet) and N more times (warm). Prints one JSON line:
      per command the cold time, the median warm time (ms) and the SHA-256 of the
      untagged answer, to check both servers answered alike.

  imapsort.py table TWINMAIL.json DOVECOT.json
      The side-by-side table; x dcot is Dovecot's warm time over twinmail's (>= 1:
      twinmail at least as fast).
"""

import argparse
import hashlib
import json
import statistics
import sys
import time

import imapclient as ic

COMMANDS = [
    b"SORT (ARRIVAL) UTF-8 ALL",
    b"SORT (DATE) UTF-8 ALL",
    b"SORT (SUBJECT) UTF-8 ALL",
    b"SORT (FROM) UTF-8 ALL",
    b"THREAD REFERENCES UTF-8 ALL",
]


def timed(c, cmd):
    t0 = time.perf_counter()
    untagged, _, _ = c.command(cmd)
    ms = (time.perf_counter() - t0) * 1000
    answer = b"".join(l for l in untagged if l[:7].upper() in (b"* SORT ", b"* THREA"))
    return ms, answer


def cmd_run(a):
    c = ic.Imap(a.host, a.port)
    c.login(a.user, a.password)
    n = c.select(a.mailbox.encode())
    out = {"name": a.name, "messages": n, "reps": a.reps, "commands": {}}
    for cmd in COMMANDS:
        cold, answer = timed(c, cmd)
        warm = []
        for _ in range(a.reps):
            ms, again = timed(c, cmd)
            if again != answer:
                sys.exit(f"{a.name}: {cmd.decode()} answered differently on a repeat")
            warm.append(ms)
        out["commands"][cmd.decode()] = {
            "cold_ms": round(cold, 1),
            "warm_ms": round(statistics.median(warm), 1) if warm else None,
            "sha256": hashlib.sha256(answer).hexdigest(),
            "numbers": answer.count(b" ") - 1,
        }
    c.logout()
    print(json.dumps(out))


def cmd_table(a):
    tw = json.load(open(a.twinmail))
    dc = json.load(open(a.dovecot))
    print(f"SORT/THREAD on {tw['messages']} messages (warm: median of {tw['reps']} repeats)")
    head = f"{'command':<30} {'tw cold':>9} {'tw warm':>9} {'dc cold':>9} {'dc warm':>9} {'x dcot':>7}  same answer"
    print(head)
    print("-" * len(head))
    for cmd, t in tw["commands"].items():
        d = dc["commands"][cmd]
        ratio = d["warm_ms"] / t["warm_ms"] if t["warm_ms"] else float("nan")
        same = "yes" if t["sha256"] == d["sha256"] else "NO"
        print(
            f"{cmd.replace(' UTF-8 ALL', ''):<30} {t['cold_ms']:>9.1f} {t['warm_ms']:>9.1f} "
            f"{d['cold_ms']:>9.1f} {d['warm_ms']:>9.1f} {ratio:>7.2f}  {same}"
        )
    print("times in ms, from sending the command to reading its tagged OK (client included)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--host", default="127.0.0.1")
    r.add_argument("--port", type=int, required=True)
    r.add_argument("--user", default="bench@example.com")
    r.add_argument("--password", default="pw")
    r.add_argument("--name", required=True)
    r.add_argument("--mailbox", default="Threads")
    r.add_argument("--reps", type=int, default=5)
    t = sub.add_parser("table")
    t.add_argument("twinmail")
    t.add_argument("dovecot")
    a = ap.parse_args()
    {"run": cmd_run, "table": cmd_table}[a.cmd](a)


if __name__ == "__main__":
    main()
