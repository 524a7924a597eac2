#!/usr/bin/env python3
"""IMAP load generator for bench/imap.sh (the same one for every server).

  imapload.py run --port P --name NAME [--clients 10] [--duration 30] [--server-pid PID]
      CLIENTS processes, one IMAP session each (raw socket, bench/imapclient.py),
      log in, then all start together and loop for DURATION seconds:

        SELECT INBOX
        UID FETCH <20 consecutive UIDs from a random place> (FLAGS ENVELOPE)
        UID FETCH <random UID> BODY.PEEK[]
        UID STORE <random UID> +FLAGS (\\Flagged)
        UID STORE <same UID>  -FLAGS (\\Flagged)
        UID SEARCH UNSEEN
        APPEND INBOX (a ~600-byte message, synchronising literal)
        UID STORE <its UID> +FLAGS (\\Deleted)
        UID EXPUNGE <its UID>

      Every command is an op; its latency is from the first byte sent to the
      tagged reply read. A loop started before the deadline runs to its end
      (so every APPENDed message is expunged again). The random UIDs are
      drawn from the mailbox as it was before the run (UID SEARCH ALL).
      With --server-pid, the CPU of that process and its descendants is
      measured over the run. Prints one JSON line. Exits 1 if any command
      failed or the mailbox does not hold what it held before.

  imapload.py table RESULT.jsonl       the tables for bench/imap.sh
"""

import argparse
import array
import json
import multiprocessing as mp
import os
import random
import sys
import time

import imapclient as ic

OPS = (
    "select",
    "fetch_env",
    "fetch_body",
    "store+flag",
    "store-flag",
    "search",
    "append",
    "store+del",
    "uid_expunge",
)


def worker(idx, a, uids, ready_q, start_ev, start_at, result_q):
    rnd = random.Random(a.seed * 7919 + idx)
    lat = {op: array.array("d") for op in OPS}
    errors = []
    try:
        c = ic.Imap(a.host, a.port)
        # A server that bounds logins waiting for a password hash (per address and in
        # all) answers NO [UNAVAILABLE] past the bound: retry, as clients do.
        for attempt in range(100):
            try:
                c.login(a.user, a.password)
                break
            except Exception as e:  # noqa: BLE001 - retried or reported
                if "UNAVAILABLE" not in str(e) or attempt == 99:
                    raise
                time.sleep(0.05 + rnd.random() * 0.5)
    except Exception as e:  # noqa: BLE001 - reported to the parent
        ready_q.put((idx, f"login: {e}"))
        return
    ready_q.put((idx, None))
    start_ev.wait()
    t_start = start_at.value
    deadline = t_start + a.duration
    cpu0 = time.process_time()
    nuids = len(uids)
    span = min(20, nuids)
    loops = 0
    last_end = time.perf_counter()
    pc = time.perf_counter
    try:
        while pc() < deadline:
            t = pc()
            c.command(b"SELECT INBOX")
            t2 = pc()
            lat["select"].append(t2 - t)

            i = rnd.randrange(nuids - span + 1)
            t = pc()
            c.command(b"UID FETCH %d:%d (FLAGS ENVELOPE)" % (uids[i], uids[i + span - 1]))
            t2 = pc()
            lat["fetch_env"].append(t2 - t)

            u = uids[rnd.randrange(nuids)]
            t = pc()
            _, lits, _ = c.command(b"UID FETCH %d BODY.PEEK[]" % u)
            t2 = pc()
            lat["fetch_body"].append(t2 - t)
            if not lits or len(lits[-1]) < 100:
                raise ic.ImapError(f"UID FETCH {u} BODY.PEEK[]: no body ({[len(x) for x in lits]})")

            u = uids[rnd.randrange(nuids)]
            t = pc()
            c.command(b"UID STORE %d +FLAGS (\\Flagged)" % u)
            t2 = pc()
            lat["store+flag"].append(t2 - t)
            t = pc()
            c.command(b"UID STORE %d -FLAGS (\\Flagged)" % u)
            t2 = pc()
            lat["store-flag"].append(t2 - t)

            t = pc()
            c.command(b"UID SEARCH UNSEEN")
            t2 = pc()
            lat["search"].append(t2 - t)

            msg = ic.small_message(f"c{idx}", loops)
            t = pc()
            _, _, tagged = c.command(b"APPEND INBOX", literal=msg)
            t2 = pc()
            lat["append"].append(t2 - t)
            new = ic.appenduid(tagged)

            t = pc()
            c.command(b"UID STORE %d +FLAGS (\\Deleted)" % new)
            t2 = pc()
            lat["store+del"].append(t2 - t)
            t = pc()
            c.command(b"UID EXPUNGE %d" % new)
            t2 = pc()
            lat["uid_expunge"].append(t2 - t)
            last_end = t2
            loops += 1
    except Exception as e:  # noqa: BLE001 - reported to the parent
        errors.append(f"client {idx}: {type(e).__name__}: {e}")
    cpu1 = time.process_time()
    result_q.put(
        {
            "idx": idx,
            "loops": loops,
            "elapsed": last_end - t_start,
            "cpu": cpu1 - cpu0,
            "lat": {op: v.tobytes() for op, v in lat.items()},
            "errors": errors,
        }
    )
    c.logout()


def pct(sorted_vals, p):
    if not sorted_vals:
        return float("nan")
    k = min(len(sorted_vals) - 1, max(0, int(round(p / 100.0 * len(sorted_vals) + 0.5)) - 1))
    return sorted_vals[k]


def cmd_run(a):
    c = ic.Imap(a.host, a.port)
    c.login(a.user, a.password)
    exists = c.select(b"INBOX")
    uids = c.uid_search(b"ALL")
    c.logout()
    if not uids or exists != len(uids):
        sys.exit(f"imapload {a.name}: INBOX has {exists} messages, {len(uids)} UIDs")

    ctx = mp.get_context("fork")
    ready_q, result_q = ctx.Queue(), ctx.Queue()
    start_ev = ctx.Event()
    start_at = ctx.Value("d", 0.0)
    procs = [
        ctx.Process(target=worker, args=(i, a, uids, ready_q, start_ev, start_at, result_q), daemon=True)
        for i in range(a.clients)
    ]
    for p in procs:
        p.start()
    for _ in procs:
        idx, err = ready_q.get(timeout=120)
        if err:
            for p in procs:
                p.kill()
            sys.exit(f"imapload {a.name}: client {idx}: {err}")

    srv0 = ic.tree_cpu_seconds(a.server_pid) if a.server_pid else None
    m0 = ic.machine_cpu()
    start_at.value = time.perf_counter()
    start_ev.set()
    results = [result_q.get(timeout=a.duration + 300) for _ in procs]
    m1 = ic.machine_cpu()
    srv1 = ic.tree_cpu_seconds(a.server_pid) if a.server_pid else None
    for p in procs:
        p.join(timeout=60)

    lat_all = array.array("d")
    per_op = {}
    for op in OPS:
        v = array.array("d")
        for r in results:
            v.frombytes(r["lat"][op])
        lat_all.extend(v)
        s = sorted(v)
        per_op[op] = {"n": len(s), "p50_ms": pct(s, 50) * 1e3, "p99_ms": pct(s, 99) * 1e3,
                      "mean_ms": (sum(s) / len(s) * 1e3) if s else float("nan")}
    s_all = sorted(lat_all)
    elapsed = max(r["elapsed"] for r in results)
    errors = [e for r in results for e in r["errors"]]
    gen_cpu = sum(r["cpu"] for r in results)
    ncpu = os.cpu_count() or 1
    busy = (m1[0] - m0[0]) / max(1, m1[2] - m0[2]) * 100 * ncpu
    iowait = (m1[1] - m0[1]) / max(1, m1[2] - m0[2]) * 100 * ncpu

    # The mailbox must hold exactly what it held before (every APPEND expunged).
    c = ic.Imap(a.host, a.port)
    c.login(a.user, a.password)
    exists_after = c.select(b"INBOX")
    uids_after = c.uid_search(b"ALL")
    c.logout()
    intact = exists_after == len(uids) and uids_after == uids

    out = {
        "server": a.name,
        "clients": a.clients,
        "duration": a.duration,
        "elapsed": round(elapsed, 3),
        "ops": len(s_all),
        "loops": sum(r["loops"] for r in results),
        "ops_per_s": round(len(s_all) / elapsed, 1) if elapsed > 0 else 0,
        "p50_ms": round(pct(s_all, 50) * 1e3, 3),
        "p99_ms": round(pct(s_all, 99) * 1e3, 3),
        "per_op": per_op,
        "server_cpu": round(srv1 - srv0, 2) if srv0 is not None else None,
        "gen_cpu": round(gen_cpu, 2),
        "machine_busy_pct": round(busy, 1),
        "machine_iowait_pct": round(iowait, 1),
        "errors": errors,
        "mailbox_intact": intact,
        "messages": len(uids),
    }
    print(json.dumps(out))
    if errors:
        print(f"imapload {a.name}: {len(errors)} clients failed:", *errors, sep="\n  ", file=sys.stderr)
    if not intact:
        print(
            f"imapload {a.name}: INBOX changed: {exists_after} messages, "
            f"{len(uids_after)} UIDs after the run, {len(uids)} before",
            file=sys.stderr,
        )
    if errors or not intact:
        sys.exit(1)


def cmd_table(a):
    runs, order = {}, []
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
        rs = sorted(runs[s], key=lambda r: r["ops_per_s"])
        med[s] = rs[(len(rs) - 1) // 2]  # the median run (lower median for an even count)
    ref = med.get("dovecot")
    fmt = "{:<10} {:>8} {:>7} {:>9} {:>7} {:>8} {:>8} {:>8} {:>8} {:>6} {:>5}  {}"
    print(fmt.format("server", "ops", "secs", "ops/s", "x dcot", "p50 ms", "p99 ms",
                     "srv cpu", "gen cpu", "busy%", "iow%", "all rounds (ops/s)"))
    print(fmt.format("-" * 10, "-" * 8, "-" * 7, "-" * 9, "-" * 7, "-" * 8, "-" * 8,
                     "-" * 8, "-" * 8, "-" * 6, "-" * 5, "-" * 18))
    for s in order:
        r = med[s]
        vs = f"{r['ops_per_s'] / ref['ops_per_s']:.2f}" if ref and ref["ops_per_s"] else "-"
        print(fmt.format(
            s, r["ops"], f"{r['elapsed']:.1f}", f"{r['ops_per_s']:.1f}", vs,
            f"{r['p50_ms']:.2f}", f"{r['p99_ms']:.2f}",
            "-" if r["server_cpu"] is None else f"{r['server_cpu']:.1f}",
            f"{r['gen_cpu']:.1f}", f"{r['machine_busy_pct']:.0f}", f"{r.get('machine_iowait_pct', 0):.0f}",
            " ".join(f"{x['ops_per_s']:.0f}" for x in runs[s]),
        ))
    print()
    # Per-command latency of the median runs.
    head = ["command"]
    for s in order:
        head += [f"{s} n", f"{s} p50", f"{s} p99"]
    w = max(12, *(len(h) for h in head[1:]))
    print(f"{'command':<12}" + "".join(f" {h:>{w}}" for h in head[1:]))
    print("-" * 12 + "".join(" " + "-" * w for _ in head[1:]))
    for op in OPS:
        row = f"{op:<12}"
        for s in order:
            p = med[s]["per_op"][op]
            row += f" {p['n']:>{w}} {p['p50_ms']:>{w}.2f} {p['p99_ms']:>{w}.2f}"
        print(row)
    if "twinmail" in med and ref:
        print()
        print(f"twinmail / dovecot (ops/s): {med['twinmail']['ops_per_s'] / ref['ops_per_s']:.2f}x"
              f"   target >= 1: {'MET' if med['twinmail']['ops_per_s'] >= ref['ops_per_s'] else 'MISSED'}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("run")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--user", default="bench@example.com")
    p.add_argument("--password", default="pw")
    p.add_argument("--name", required=True)
    p.add_argument("--clients", type=int, default=10)
    p.add_argument("--duration", type=float, default=30.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--server-pid", type=int)
    t = sub.add_parser("table")
    t.add_argument("results", nargs="+")
    a = ap.parse_args()
    {"run": cmd_run, "table": cmd_table}[a.cmd](a)


if __name__ == "__main__":
    main()
