#!/usr/bin/env bash
# Mirror benchmark: what the twin link costs and how fast it is, on one machine.
#
#   a. lag        a linked pair (`twinmail pair`). Each account has a home twin that
#                 alone assigns its UIDs; the other twin forwards its writes there and
#                 answers 250 once the result is back. Accounts are made until one is
#                 homed on each twin (one probe message each finds the home). Then SMTP
#                 into one twin at RATE msgs/s for LAG_SECS s, each message with a
#                 unique Subject, while an IMAPS client in IDLE on the other twin's INBOX
#                 notes when the EXISTS counting each message arrives (then fetches the
#                 new Subjects and IDLEs again). Lag = EXISTS there - SMTP 250 here,
#                 p50/p99/max, three ways: home-a (to a, account homed on a, seen on b),
#                 home-b (to b, homed on b, seen on a), forwarded (to b, homed on a, seen
#                 on a: negative, the home twin has it before the 250; the SMTP latency
#                 shows the forwarding cost). Target p99 < 20 ms for home-a and home-b.
#   b. rate       SENDERS parallel SMTP sessions of SIZE-byte messages (distinct) for
#                 RATE_SECS s into each twin of the same running pair for an account
#                 homed there (mirror on), into twin b for the account homed on a
#                 (forwarded), and into a standalone `twinmail serve` without a [mirror]
#                 section (mirror off); msgs/s of each and the ratios to standalone
#                 (target >= 0.8 mirror on). ROUNDS > 1 alternates the order and reports
#                 medians. Both twins run on this machine: the twin applying the stream
#                 competes for the same cores.
#                 Around the home-a and home-b measurements (and the drain after them)
#                 each twin's CPU time is read from /proc: the mirroring twin's CPU time
#                 per message as a fraction of the receiving twin's (target <= 0.35: the
#                 load is by no means doubled).
#   c. sync       a fresh pair whose twin b is not running: MIRROR_SYNC_N messages of
#                 SIZE bytes delivered by SMTP to twin a (FILL_SENDERS sessions), then b
#                 started with an empty data dir; timed from starting b until b's
#                 `twinmail mirror status` says "State: in sync" and b's INBOX (IMAPS
#                 STATUS) holds all N (polled every 0.5 s). Reports msgs/s and MB/s,
#                 then runs the store's own bench (`cargo bench -p twinmail-store
#                 --bench deliver`, STORE_BENCH_N messages) and prints initial-sync
#                 rate / store rate.
#
# Usage (from anywhere; needs python3):
#   bench/mirror.sh
#   MIRROR_SYNC_N=5000 LAG_SECS=10 RATE_SECS=10 bench/mirror.sh      # a quick run
#
# Environment:
#   PARTS="lag rate sync"  which parts to run
#   RATE=200            lag: messages per second offered
#   LAG_SECS=20         lag: seconds of sending
#   LAG_SENDERS=4       lag: SMTP sessions sharing the paced schedule
#   LAG_SIZE=10240      lag: bytes per message
#   SENDERS=4           rate: parallel SMTP sessions
#   SIZE=10240          bytes per message (rate and sync)
#   RATE_SECS=15        rate: seconds per measurement
#   ROUNDS=1            rate: measurements per side (median reported)
#   MIRROR_SYNC_N=100000  sync: messages in twin a before b starts
#   FILL_SENDERS=4      sync: parallel SMTP sessions filling twin a
#   SYNC_TIMEOUT=3600   sync: seconds to wait for b to catch up
#   STORE_BENCH_N=20000 sync: TWINMAIL_BENCH_MESSAGES of the store's deliver bench
#                       (0 skips it)
#   BASE_PORT=4600      first of 50 loopback ports (a free block of 50 is searched
#                       upwards from it in steps of 100)
#   TWINMAIL_BIN=       use this twinmail binary instead of building one
#   CARGO_TARGET_DIR=/tmp/tm-target   where the build goes (default here: /tmp/tm-target)
#   JOBS=1              cargo -j
#   KEEP=1              keep the temp dir (configs, logs, data) for a look afterwards
#
# Exit status: 0 when every part ran and every message arrived; 1 otherwise.
set -euo pipefail

PARTS=${PARTS:-lag rate sync}
RATE=${RATE:-200}
LAG_SECS=${LAG_SECS:-20}
LAG_SENDERS=${LAG_SENDERS:-4}
LAG_SIZE=${LAG_SIZE:-10240}
SENDERS=${SENDERS:-4}
SIZE=${SIZE:-10240}
RATE_SECS=${RATE_SECS:-15}
ROUNDS=${ROUNDS:-1}
MIRROR_SYNC_N=${MIRROR_SYNC_N:-100000}
FILL_SENDERS=${FILL_SENDERS:-4}
SYNC_TIMEOUT=${SYNC_TIMEOUT:-3600}
STORE_BENCH_N=${STORE_BENCH_N:-20000}
BASE_PORT=${BASE_PORT:-4600}
JOBS=${JOBS:-1}
KEEP=${KEEP:-}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/tmp/tm-target}
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ under bench/
USER_NAME=demo@example.test

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
PY=(python3 "$HERE/mirrorlag.py")

say() { printf '==> %s\n' "$*" >&2; }
die() {
    printf 'bench/mirror.sh: %s\n' "$*" >&2
    exit 1
}

for v in RATE LAG_SECS LAG_SENDERS LAG_SIZE SENDERS SIZE RATE_SECS ROUNDS MIRROR_SYNC_N FILL_SENDERS SYNC_TIMEOUT BASE_PORT JOBS; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer"
done
[[ $STORE_BENCH_N =~ ^[0-9]+$ ]] || die "STORE_BENCH_N must be a number"
for p in $PARTS; do
    [[ $p == lag || $p == rate || $p == sync ]] || die "unknown part $p in PARTS"
done
command -v python3 >/dev/null || die "needs python3"

# ---------------------------------------------------------------- clean-up

WORK=
PIDS=()
FAILED=

stop_pid() { # PID: TERM, wait up to 20 s, then KILL
    local pid=$1 i
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 200; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
    local rc=$? p
    trap - EXIT INT TERM
    for p in "${PIDS[@]}"; do stop_pid "$p"; done
    if [[ -n $WORK && -d $WORK ]]; then
        if [[ -n $KEEP ]]; then say "kept $WORK"; else rm -rf "$WORK"; fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- build

if [[ -n ${TWINMAIL_BIN:-} ]]; then
    TWINMAIL=$TWINMAIL_BIN
else
    say "building twinmail (release) into $CARGO_TARGET_DIR"
    cargo build --release -j"$JOBS" -p twinmail --manifest-path "$ROOT/Cargo.toml" >&2
    TWINMAIL="$CARGO_TARGET_DIR/release/twinmail"
fi
[[ -x $TWINMAIL ]] || die "no twinmail binary at $TWINMAIL"
ulimit -n "$(ulimit -Hn)"

WORK=$(mktemp -d /tmp/twinmail-mirror.XXXXXX)
RESULTS=$WORK/results.jsonl
: >"$RESULTS"

# ---------------------------------------------------------------- ports

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
block_free() { # BASE: the 50 ports from BASE are all free
    local p
    for ((p = $1; p < $1 + 50; p++)); do port_free "$p" || return 1; done
}
for ((tries = 0; tries < 50; tries++)); do
    block_free "$BASE_PORT" && break
    BASE_PORT=$((BASE_PORT + 100))
done
block_free "$BASE_PORT" || die "no free block of 50 ports found"
# pair (lag, rate): a = BASE+0.., b = BASE+10..; standalone: BASE+20..;
# sync pair: a = BASE+30.., b = BASE+40.. (the port order of `twinmail pair`)
say "ports $BASE_PORT-$((BASE_PORT + 49))"
SMTP=0 IMAPS=4

wait_port() { # PORT NAME [PID]: until 127.0.0.1:PORT accepts (60 s at most)
    local port=$1 name=$2 pid=${3:-} i
    for ((i = 0; i < 600; i++)); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
        if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
            die "$name exited before listening on 127.0.0.1:$port"
        fi
        sleep 0.1
    done
    die "$name does not listen on 127.0.0.1:$port after 60 s"
}

# write_conf FILE ID BASE [TWIN_ID TWIN_BASE]: a twin's config in the style of
# `twinmail pair` (no [mirror] section without a twin)
write_conf() {
    local file=$1 id=$2 b=$3 tid=${4:-} tb=${5:-}
    cat >"$file" <<EOF
[node]
id = "$id"
data_dir = "$id-data"
hostname = "localhost"

[smtp]
listen = ["127.0.0.1:$((b + 0))"]
submission_listen = ["127.0.0.1:$((b + 1))"]
submissions_listen = ["127.0.0.1:$((b + 2))"]
max_connections_per_ip = 100

[imap]
listen = ["127.0.0.1:$((b + 3))"]
tls_listen = ["127.0.0.1:$((b + 4))"]

[pop3]
listen = ["127.0.0.1:$((b + 5))"]
tls_listen = ["127.0.0.1:$((b + 6))"]

[managesieve]
listen = []
EOF
    if [[ -n $tid ]]; then
        cat >>"$file" <<EOF

[mirror]
twin_id = "$tid"
twin = "127.0.0.1:$((tb + 7))"
listen = "127.0.0.1:$((b + 7))"
secret_file = "mirror.secret"
# the twin is down for a long while in this bench: redial it soon after it is back
max_backoff_secs = 1
EOF
    fi
    "$TWINMAIL" -c "$file" config check >/dev/null || die "bad config $file"
}

serve() { # CONF LOG: starts `twinmail serve`; sets SERVE_PID
    "$TWINMAIL" -c "$1" serve >"$2" 2>&1 &
    SERVE_PID=$!
    PIDS+=("$SERVE_PID")
}

mirror_state() { # CONF: the State: line of `twinmail mirror status`
    "$TWINMAIL" -c "$1" mirror status 2>&1 | sed -n 's/^State: //p'
}

log_problems() { # NAME LOG...: WARN/ERROR lines of twin logs, first 20
    local name=$1 n
    shift
    n=$(cat "$@" | grep -Ec 'WARN|ERROR|panicked' || true)
    if ((n)); then
        say "$name logged $n WARN/ERROR lines; the first 20:"
        cat "$@" | grep -E 'WARN|ERROR|panicked' | head -20 >&2
    fi
}

# ---------------------------------------------------------------- a, b: a running pair

if [[ " $PARTS " == *" lag "* || " $PARTS " == *" rate "* ]]; then
    PAIR=$WORK/pair
    say "starting twinmail pair --dir $PAIR --base-port $BASE_PORT"
    "$TWINMAIL" pair --dir "$PAIR" --base-port "$BASE_PORT" >"$WORK/pair.log" 2>&1 &
    PAIR_PID=$!
    PIDS+=("$PAIR_PID")
    for ((i = 0; i < 600; i++)); do
        [[ -s $PAIR/pair.json ]] && break
        kill -0 "$PAIR_PID" 2>/dev/null || { cat "$WORK/pair.log" >&2; die "twinmail pair exited"; }
        sleep 0.1
    done
    [[ -s $PAIR/pair.json ]] || die "no $PAIR/pair.json after 60 s"
    PASSWORD=$(python3 -c 'import json,sys; print(open(json.load(open(sys.argv[1]))["demo"]["password_file"]).read().strip())' "$PAIR/pair.json")
    A_SMTP=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["twins"][0]["ports"]["smtp"])' "$PAIR/pair.json")
    B_IMAPS=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["twins"][1]["ports"]["imaps"])' "$PAIR/pair.json")
    wait_port "$A_SMTP" "twin a smtp" "$PAIR_PID"
    # cpu_ticks TWIN: user+system clock ticks the twin's process has used so far
    cpu_ticks() {
        local pid
        pid=$(python3 -c 'import json,sys; print({t["id"]: t for t in json.load(open(sys.argv[1]))["twins"]}[sys.argv[2]]["pid"])' "$PAIR/pair.json" "$1")
        awk '{print $14 + $15}' "/proc/$pid/stat"
    }
    wait_port "$B_IMAPS" "twin b imaps" "$PAIR_PID"
    # b is in sync once it has taken a's snapshot (the demo account). a may say
    # "catching up" until b acknowledges a change after the snapshot: accepted here,
    # reported if it stays so.
    say "waiting for the pair to be linked and b in sync"
    for ((i = 0; i < 300; i++)); do
        sa=$(mirror_state "$PAIR/a.toml")
        sb=$(mirror_state "$PAIR/b.toml")
        [[ $sb == "in sync" && ($sa == "in sync" || $sa == "catching up") ]] && break
        sleep 0.1
    done
    [[ $sb == "in sync" && ($sa == "in sync" || $sa == "catching up") ]] ||
        die "pair not linked after 30 s (a: $sa; b: $sb)"
    sleep 2
    sa=$(mirror_state "$PAIR/a.toml")
    [[ $sa == "in sync" ]] || say "NOTE: twin a says \"$sa\" after b's initial sync, with nothing to send:" \
        "$("$TWINMAIL" -c "$PAIR/a.toml" mirror status | grep '^Link:')"

    # Each account has a home twin that alone assigns its UIDs; the other twin forwards
    # the account's writes there. Accounts made on twin a (mirrored to b) are probed with
    # one message each to a: a's "Mirror out ... sent add" counts it only if a is home.
    # One account homed on each twin is kept: ACCT_a, ACCT_b.
    sent_add() { "$TWINMAIL" -c "$1" mirror status | sed -n 's/^Mirror out: Que\/sent add=[0-9]*\/\([0-9]*\).*/\1/p'; }
    port_of() { # TWIN SERVICE
        python3 -c 'import json,sys; t={x["id"]: x for x in json.load(open(sys.argv[1]))["twins"]}; print(t[sys.argv[2]]["ports"][sys.argv[3]])' \
            "$PAIR/pair.json" "$1" "$2"
    }
    declare -A ACCT=()
    for ((i = 1; i <= 16; i++)); do
        [[ -n ${ACCT[a]:-} && -n ${ACCT[b]:-} ]] && break
        u="bench$i@example.test"
        echo "$PASSWORD" | "$TWINMAIL" -c "$PAIR/a.toml" user add "$u" >/dev/null
        for ((j = 0; j < 100; j++)); do # until b has it (the mirror polls its log each second)
            "$TWINMAIL" -c "$PAIR/b.toml" user list | grep -qx "$u" && break
            sleep 0.1
        done
        sleep 0.5
        before=$(sent_add "$PAIR/a.toml")
        "${PY[@]}" fill --smtp-port "$A_SMTP" --rcpt "$u" --count 1 --senders 1 >/dev/null ||
            die "probe delivery to $u on twin a failed"
        sleep 1
        if (($(sent_add "$PAIR/a.toml") > before)); then home=a; else home=b; fi
        [[ -n ${ACCT[$home]:-} ]] || ACCT[$home]=$u
    done
    [[ -n ${ACCT[a]:-} && -n ${ACCT[b]:-} ]] || die "no accounts homed on each twin after 16 tries"
    say "homed on twin a: ${ACCT[a]}; on twin b: ${ACCT[b]}"

    if [[ " $PARTS " == *" lag "* ]]; then
        # home-a: to a, seen on b; home-b: to b, seen on a; forwarded: to b for the
        # account homed on a (b forwards to a), seen on a
        for kind in home-a home-b forwarded; do
            case $kind in
            home-a) from=a to=b u=${ACCT[a]} ;;
            home-b) from=b to=a u=${ACCT[b]} ;;
            *) from=b to=a u=${ACCT[a]} ;;
            esac
            say "a. lag ($kind): $RATE msgs/s for $LAG_SECS s by SMTP to twin $from, IDLE on twin $to ($u)"
            "${PY[@]}" lag --name "$kind" --dir "$from -> $to" --smtp-port "$(port_of "$from" smtp)" \
                --imaps-port "$(port_of "$to" imaps)" --rcpt "$u" --user "$u" --password "$PASSWORD" \
                --rate "$RATE" --duration "$LAG_SECS" --senders "$LAG_SENDERS" --size "$LAG_SIZE" |
                tee -a "$RESULTS" >&2 || FAILED=1
        done
    fi

    if [[ " $PARTS " == *" rate "* ]]; then
        SOLO=$WORK/solo
        mkdir -p "$SOLO"
        write_conf "$SOLO/solo.toml" solo $((BASE_PORT + 20))
        "$TWINMAIL" -c "$SOLO/solo.toml" domain add example.test >/dev/null
        echo "$PASSWORD" | "$TWINMAIL" -c "$SOLO/solo.toml" user add "$USER_NAME" >/dev/null
        serve "$SOLO/solo.toml" "$SOLO/serve.log"
        SOLO_PID=$SERVE_PID
        wait_port $((BASE_PORT + 20 + SMTP)) "standalone smtp" "$SOLO_PID"
        for ((r = 0; r < ROUNDS; r++)); do
            order="home-a mirror-off home-b forwarded"
            ((r % 2)) && order="forwarded home-b mirror-off home-a"
            for side in $order; do
                case $side in
                home-a) port=$(port_of a smtp) u=${ACCT[a]} dir="to a" ;;
                home-b) port=$(port_of b smtp) u=${ACCT[b]} dir="to b" ;;
                forwarded) port=$(port_of b smtp) u=${ACCT[a]} dir="to b, home a" ;;
                *) port=$((BASE_PORT + 20 + SMTP)) u=$USER_NAME dir="" ;;
                esac
                say "b. rate ($side${dir:+, $dir}, round $((r + 1))/$ROUNDS): $SENDERS sessions x $SIZE B for $RATE_SECS s"
                cpu_a0=$(cpu_ticks a) cpu_b0=$(cpu_ticks b)
                rec=$("${PY[@]}" rate --name "$side" --dir "$dir" --smtp-port "$port" --rcpt "$u" \
                    --senders "$SENDERS" --size "$SIZE" --duration "$RATE_SECS") || FAILED=1
                echo "$rec" | tee -a "$RESULTS" >&2
                # let the twins drain before the next measurement
                for ((i = 0; i < 600; i++)); do
                    [[ $(mirror_state "$PAIR/a.toml") == "in sync" && $(mirror_state "$PAIR/b.toml") == "in sync" ]] && break
                    sleep 0.2
                done
                # CPU time of each twin over the measurement and the drain (from /proc):
                # the twin that took the mail by SMTP, and the one that got it mirrored.
                if [[ $side == home-a || $side == home-b ]]; then
                    python3 -c '
import json, sys
rec = json.loads(sys.argv[1]); side = sys.argv[2]; hz = float(sys.argv[3])
a = (int(sys.argv[5]) - int(sys.argv[4])) / hz
b = (int(sys.argv[7]) - int(sys.argv[6])) / hz
n = max(rec["messages"], 1)
took, got = (a, b) if side == "home-a" else (b, a)
print(json.dumps({"test": "cpu", "name": side, "messages": rec["messages"],
    "receiving_ms": took * 1000 / n, "mirroring_ms": got * 1000 / n,
    "ratio": got / took if took else 0}))' "$rec" "$side" "$(getconf CLK_TCK)" \
                        "$cpu_a0" "$(cpu_ticks a)" "$cpu_b0" "$(cpu_ticks b)" | tee -a "$RESULTS" >&2
                fi
            done
        done
        stop_pid "$SOLO_PID"
        log_problems "the standalone twinmail" "$SOLO/serve.log"
    fi
    say "pair status after a/b:"
    "$TWINMAIL" -c "$PAIR/a.toml" mirror status | sed 's/^/    a: /' >&2
    "$TWINMAIL" -c "$PAIR/b.toml" mirror status | sed 's/^/    b: /' >&2
    stop_pid "$PAIR_PID"
    log_problems "the pair" "$WORK/pair.log"
fi

# ---------------------------------------------------------------- c: initial sync

if [[ " $PARTS " == *" sync "* ]]; then
    SYNC=$WORK/sync
    mkdir -p "$SYNC"
    SA=$((BASE_PORT + 30)) SB=$((BASE_PORT + 40))
    (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$SYNC/mirror.secret")
    write_conf "$SYNC/a.toml" a "$SA" b "$SB"
    write_conf "$SYNC/b.toml" b "$SB" a "$SA"
    PASSWORD=sync-bench-pw
    "$TWINMAIL" -c "$SYNC/a.toml" domain add example.test >/dev/null
    echo "$PASSWORD" | "$TWINMAIL" -c "$SYNC/a.toml" user add "$USER_NAME" >/dev/null
    serve "$SYNC/a.toml" "$SYNC/a.log"
    A_PID=$SERVE_PID
    wait_port $((SA + SMTP)) "sync twin a smtp" "$A_PID"
    say "c. filling twin a (b not running) with $MIRROR_SYNC_N x $SIZE B over $FILL_SENDERS sessions"
    fill=$("${PY[@]}" fill --smtp-port $((SA + SMTP)) --count "$MIRROR_SYNC_N" --size "$SIZE" \
        --senders "$FILL_SENDERS") || { echo "$fill" >&2; die "filling twin a failed"; }
    echo "$fill" | tee -a "$RESULTS" >&2
    fill_bytes=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["bytes"])' "$fill")
    du -sh "$SYNC/a-data" | sed 's/^/    twin a data: /' >&2

    say "c. starting twin b with an empty data dir"
    t0=$(date +%s.%N)
    serve "$SYNC/b.toml" "$SYNC/b.log"
    B_PID=$SERVE_PID
    # (not a second process on b's store before b has created it: see the report)
    wait_port $((SB + IMAPS)) "sync twin b imaps" "$B_PID"
    ok='' why='' sa='' sb='' count=0
    deadline=$((SECONDS + SYNC_TIMEOUT))
    while ((SECONDS < deadline)); do
        kill -0 "$B_PID" 2>/dev/null || { why="twin b exited"; break; }
        kill -0 "$A_PID" 2>/dev/null || { why="twin a exited"; break; }
        sb=$(mirror_state "$SYNC/b.toml")
        if [[ $sb == "in sync" ]]; then
            count=$("${PY[@]}" count --imaps-port $((SB + IMAPS)) --password "$PASSWORD" 2>/dev/null || echo 0)
            if ((count >= MIRROR_SYNC_N)); then ok=1; break; fi
        fi
        sleep 0.5
    done
    t1=$(date +%s.%N)
    sa=$(mirror_state "$SYNC/a.toml")
    [[ -n $ok || -n $why ]] || why="not in sync after $SYNC_TIMEOUT s (a: $sa; b: $sb; b INBOX: $count)"
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b - a}')
    say "c. b in sync after $secs s (b INBOX: $count)"
    "$TWINMAIL" -c "$SYNC/a.toml" mirror status | sed 's/^/    a: /' >&2
    "$TWINMAIL" -c "$SYNC/b.toml" mirror status | sed 's/^/    b: /' >&2
    stop_pid "$B_PID"
    stop_pid "$A_PID"
    log_problems "sync twin a" "$SYNC/a.log"
    log_problems "sync twin b" "$SYNC/b.log"
    [[ -n $ok ]] || FAILED=1

    store_rate='' store_n=''
    if ((STORE_BENCH_N > 0)); then
        say "c. the store's delivery bench (TWINMAIL_BENCH_MESSAGES=$STORE_BENCH_N)"
        [[ -n $KEEP ]] || rm -rf "$SYNC/a-data" "$SYNC/b-data" # room on the disk for the bench
        TWINMAIL_BENCH_MESSAGES=$STORE_BENCH_N cargo bench -j"$JOBS" -p twinmail-store --bench deliver \
            --manifest-path "$ROOT/Cargo.toml" >"$WORK/store-bench.out" 2>"$WORK/store-bench.err" ||
            { tail -20 "$WORK/store-bench.err" >&2; die "cargo bench failed"; }
        sed 's/^/    /' "$WORK/store-bench.out" >&2
        store_rate=$(sed -n 's/^store:.* \([0-9.]*\) msgs\/s.*/\1/p' "$WORK/store-bench.out")
        store_n=$STORE_BENCH_N
    fi
    python3 -c '
import json, sys
ok, why, n, nbytes, secs, rate, sn = sys.argv[1:8]
rec = {"test": "sync", "ok": bool(ok), "why": why, "messages": int(n), "bytes": int(nbytes),
       "seconds": float(secs)}
if rate:
    rec["store_rate"] = float(rate)
    rec["store_n"] = int(sn)
print(json.dumps(rec))' "$ok" "$why" "$MIRROR_SYNC_N" "$fill_bytes" "$secs" "$store_rate" "$store_n" |
        tee -a "$RESULTS" >&2
fi

# ---------------------------------------------------------------- table

echo
echo "twinmail mirror bench ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, loadavg $(cut -d' ' -f1-3 /proc/loadavg))"
"${PY[@]}" table "$RESULTS"
if grep -q '"missing_on_b": [1-9]' "$RESULTS"; then FAILED=1; fi
[[ -z $FAILED ]] || { say "some part failed or lost messages (see above)"; exit 1; }
