#!/usr/bin/env python3
"""Many idle IMAP sessions, for bench/imap-idle.sh.

  imapidle.py --port P --name NAME --conns 10000 [--procs 4] [--server-pid PID]

PROCS client processes (asyncio, raw sockets) open CONNS sessions between
them; each does LOGIN, SELECT INBOX, IDLE and waits in IDLE (at most
--handshakes sessions per process are between connect and "+ idling" at any
time). When every session idles (or failed), it waits --settle seconds and
reads the server's memory: VmRSS of --server-pid from /proc/PID/status, and
the count, VmRSS sum and PSS sum of it and all its descendants (Dovecot is
a process per session). With --notify it then APPENDs one message from a
separate session and times until every idling session has seen its
"* n EXISTS". Then every session ends (DONE, LOGOUT) and one fresh session
checks the server still answers (LOGIN, SELECT, NOOP, LOGOUT) and memory is
read again. Prints one JSON line; exits 1 unless every session idled and the
server answered afterwards.

  imapidle.py table RESULT.jsonl...    the table for bench/imap-idle.sh
"""

import argparse
import asyncio
import random
import json
import multiprocessing as mp
import os
import re
import resource
import sys
import time

import imapclient as ic

EXISTS = re.compile(rb"^\* \d+ EXISTS", re.I)


# ---------------------------------------------------------------- client processes

async def read_tagged(reader, tag):
    """Reads to the tagged reply of `tag` (no literals expected here)."""
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("closed by server")
        if line.startswith(tag + b" "):
            if line[len(tag) + 1 : len(tag) + 3].upper() != b"OK":
                raise ConnectionError(line.strip().decode(errors="replace"))
            return


async def session(a, sem, counters, stop, idx):
    idling, failed, notified, closed = counters
    writer = None
    try:
        async with sem:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(a.host, a.port, limit=1 << 16), a.handshake_timeout)

            async def handshake():
                greet = await reader.readline()
                if not greet.startswith(b"* OK"):
                    raise ConnectionError(f"greeting {greet!r}")
                # A server that bounds logins waiting for a password hash (per address and
                # in all) answers NO [UNAVAILABLE] past the bound: retry, as clients do.
                for attempt in range(100):
                    writer.write(b"a1 LOGIN " + ic.quote(a.user) + b" " + ic.quote(a.password) + b"\r\n")
                    try:
                        await read_tagged(reader, b"a1")
                        break
                    except ConnectionError as e:
                        if "UNAVAILABLE" not in str(e) or attempt == 99:
                            raise
                        await asyncio.sleep(0.05 + random.random() * 0.5)
                writer.write(b"a2 SELECT INBOX\r\n")
                await read_tagged(reader, b"a2")
                writer.write(b"a3 IDLE\r\n")
                while True:
                    line = await reader.readline()
                    if not line:
                        raise ConnectionError("closed during IDLE")
                    if line.startswith(b"+"):
                        return
                    if line.startswith(b"a3 "):
                        raise ConnectionError(line.strip().decode(errors="replace"))

            await asyncio.wait_for(handshake(), a.handshake_timeout)
        with idling.get_lock():
            idling.value += 1
    except Exception as e:  # noqa: BLE001
        with failed.get_lock():
            failed.value += 1
        if failed.value <= 5:
            print(f"{a.name} session {idx}: {type(e).__name__}: {e}", file=sys.stderr)
        if writer is not None:
            writer.close()
        return

    # Idle: watch for EXISTS until told to stop.
    seen = False
    reader_task = None
    stop_task = asyncio.ensure_future(stop.wait())
    try:
        while not stop.is_set():
            if reader_task is None:
                reader_task = asyncio.ensure_future(reader.readline())
            done, _ = await asyncio.wait({reader_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
            if reader_task in done:
                line = reader_task.result()
                reader_task = None
                if not line:
                    raise ConnectionError("closed while idling")
                if not seen and EXISTS.match(line):
                    seen = True
                    with notified.get_lock():
                        notified.value += 1
        # DONE, then LOGOUT.
        writer.write(b"DONE\r\n")
        if reader_task is not None:
            # A line may be in flight: finish that read, then read to a3's reply.
            line = await asyncio.wait_for(reader_task, a.handshake_timeout)
            reader_task = None
            if not line.startswith(b"a3 "):
                await asyncio.wait_for(read_tagged(reader, b"a3"), a.handshake_timeout)
        else:
            await asyncio.wait_for(read_tagged(reader, b"a3"), a.handshake_timeout)
        writer.write(b"a4 LOGOUT\r\n")
        await asyncio.wait_for(read_tagged(reader, b"a4"), a.handshake_timeout)
        with closed.get_lock():
            closed.value += 1
    except Exception as e:  # noqa: BLE001
        if closed.value == 0 and failed.value <= 5:
            print(f"{a.name} session {idx} at close: {type(e).__name__}: {e}", file=sys.stderr)
    finally:
        stop_task.cancel()
        if reader_task is not None:
            reader_task.cancel()
        writer.close()


async def client_main(a, n, first, counters, stop_mp):
    sem = asyncio.Semaphore(a.handshakes)
    stop = asyncio.Event()

    async def watch_stop():
        while not stop_mp.is_set():
            await asyncio.sleep(0.2)
        stop.set()

    watcher = asyncio.ensure_future(watch_stop())
    await asyncio.gather(*(session(a, sem, counters, stop, first + i) for i in range(n)))
    watcher.cancel()


def client_proc(a, n, first, counters, stop_mp):
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError):
        pass
    asyncio.run(client_main(a, n, first, counters, stop_mp))


# ---------------------------------------------------------------- parent

def memory(a):
    rss = ic.vm_rss_kib(a.server_pid)
    n, rss_sum, pss_sum = ic.tree_memory_kib(a.server_pid)
    return {"vmrss_kib": rss, "procs": n, "rss_sum_kib": rss_sum, "pss_sum_kib": pss_sum}


def still_answers(a):
    t0 = time.perf_counter()
    try:
        c = ic.Imap(a.host, a.port, timeout=30)
        c.login(a.user, a.password)
        c.select(b"INBOX")
        c.command(b"NOOP")
        c.logout()
        return True, round((time.perf_counter() - t0) * 1e3, 1), ""
    except Exception as e:  # noqa: BLE001
        return False, None, f"{type(e).__name__}: {e}"


def cmd_run(a):
    ctx = mp.get_context("fork")
    counters = tuple(ctx.Value("i", 0) for _ in range(4))
    idling, failed, notified, closed = counters
    stop_mp = ctx.Event()
    mem_before = memory(a)
    per = [a.conns // a.procs + (1 if i < a.conns % a.procs else 0) for i in range(a.procs)]
    procs, first = [], 0
    t0 = time.perf_counter()
    for n in per:
        p = ctx.Process(target=client_proc, args=(a, n, first, counters, stop_mp), daemon=True)
        p.start()
        procs.append(p)
        first += n
    last_print = 0.0
    while True:
        done = idling.value + failed.value
        el = time.perf_counter() - t0
        if el - last_print >= 10 or done >= a.conns:
            print(f"{a.name}: {idling.value} idling, {failed.value} failed after {el:.0f} s",
                  file=sys.stderr, flush=True)
            last_print = el
        if done >= a.conns:
            break
        if el > a.timeout or not any(p.is_alive() for p in procs):
            print(f"{a.name}: giving up after {el:.0f} s", file=sys.stderr)
            break
        time.sleep(0.5)
    ramp = time.perf_counter() - t0
    n_idle = idling.value

    time.sleep(a.settle)
    samples = []
    for _ in range(3):
        samples.append(memory(a))
        time.sleep(1)
    mem_idle = max(samples, key=lambda m: m["vmrss_kib"] + m["pss_sum_kib"])
    print(f"{a.name}: memory with {n_idle} idling: {json.dumps(mem_idle)}", file=sys.stderr, flush=True)

    notify_secs = None
    if a.notify and n_idle:
        try:
            c = ic.Imap(a.host, a.port)
            c.login(a.user, a.password)
            t = time.perf_counter()
            c.command(b"APPEND INBOX", literal=ic.small_message("idle", 0))
            while notified.value < n_idle and time.perf_counter() - t < a.notify_timeout:
                time.sleep(0.05)
            notify_secs = round(time.perf_counter() - t, 2)
            c.logout()
        except Exception as e:  # noqa: BLE001
            print(f"{a.name}: the APPEND for the notify check failed: {type(e).__name__}: {e}",
                  file=sys.stderr)
            notify_secs = float("nan")
        print(f"{a.name}: {notified.value} of {n_idle} idling sessions saw the new message "
              f"within {notify_secs} s", file=sys.stderr, flush=True)

    t = time.perf_counter()
    stop_mp.set()
    for p in procs:
        p.join(timeout=a.timeout)
        if p.is_alive():
            p.kill()
    close_secs = round(time.perf_counter() - t, 2)
    time.sleep(a.settle)
    ok, answer_ms, why = still_answers(a)
    mem_after = memory(a)
    out = {
        "server": a.name,
        "conns": a.conns,
        "procs": a.procs,
        "idling": n_idle,
        "failed": failed.value,
        "ramp_seconds": round(ramp, 1),
        "mem_before": mem_before,
        "mem_idle": mem_idle,
        "notified": notified.value if a.notify else None,
        "notify_seconds": notify_secs,
        "closed_cleanly": closed.value,
        "close_seconds": close_secs,
        "answers_after": ok,
        "answer_ms": answer_ms,
        "answer_error": why,
        "mem_after": mem_after,
        "note": a.note,
    }
    print(json.dumps(out))
    if n_idle < a.conns or not ok:
        print(f"{a.name}: FAILED: {n_idle} of {a.conns} sessions idled; answers afterwards: {ok} {why}",
              file=sys.stderr)
        sys.exit(1)


def cmd_table(a):
    rows = []
    for path in a.results:
        with open(path) as f:
            rows += [json.loads(x) for x in f if x.strip()]
    mib = lambda k: f"{k / 1024:.1f}"  # noqa: E731
    fmt = "{:<20} {:>7} {:>6} {:>7} {:>6} {:>10} {:>10} {:>9} {:>9} {:>10} {:>9} {:>7}"
    print(fmt.format("server", "idling", "failed", "ramp s", "procs", "RSS MiB", "RSS sum", "PSS sum",
                     "before", "notify s", "after MiB", "answers"))
    print(fmt.format("-" * 20, "-" * 7, "-" * 6, "-" * 7, "-" * 6, "-" * 10, "-" * 10, "-" * 9,
                     "-" * 9, "-" * 10, "-" * 9, "-" * 7))
    for r in rows:
        m = r["mem_idle"]
        notify = "-" if r["notify_seconds"] is None else f"{r['notified']}/{r['idling']} {r['notify_seconds']}"
        print(fmt.format(
            r["server"], r["idling"], r["failed"], f"{r['ramp_seconds']:.0f}", m["procs"],
            mib(m["vmrss_kib"]), mib(m["rss_sum_kib"]), mib(m["pss_sum_kib"]),
            mib(r["mem_before"]["pss_sum_kib"]), notify, mib(r["mem_after"]["pss_sum_kib"]),
            "yes" if r["answers_after"] else "NO",
        ))
    for r in rows:
        if r.get("note"):
            print(f"  {r['server']}: {r['note']}")
    tw = [r for r in rows if r["server"] == "twinmail"]
    if tw:
        rss = tw[0]["mem_idle"]["vmrss_kib"] / 1024
        print()
        print(f"twinmail VmRSS with {tw[0]['idling']} idling sessions: {rss:.1f} MiB"
              f"   target <= 200 MB: {'MET' if rss * 1.048576 <= 200 else 'MISSED'}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("run")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--user", default="bench@example.com")
    p.add_argument("--password", default="pw")
    p.add_argument("--name", required=True)
    p.add_argument("--note", default="")
    p.add_argument("--conns", type=int, default=10000)
    p.add_argument("--procs", type=int, default=4)
    p.add_argument("--handshakes", type=int, default=16, help="sessions in set-up at once, per process")
    p.add_argument("--handshake-timeout", type=float, default=300)
    p.add_argument("--server-pid", type=int, required=True)
    p.add_argument("--settle", type=float, default=5)
    p.add_argument("--timeout", type=float, default=1800, help="give up setting up after this many seconds")
    p.add_argument("--notify", action="store_true")
    p.add_argument("--notify-timeout", type=float, default=120)
    t = sub.add_parser("table")
    t.add_argument("results", nargs="+")
    a = ap.parse_args()
    if a.cmd == "run":
        os.nice(0)
        cmd_run(a)
    else:
        cmd_table(a)


if __name__ == "__main__":
    main()
