#!/usr/bin/env bash
# Outbound benchmark (issue 15): MESSAGES messages of SIZE bytes submitted over SESSIONS
# sessions, then delivered to a local Postfix smtp-sink; messages/s end to end (first
# submission to the sink's last 250), twinmail side by side with Postfix in one run:
#
#   twinmail   submission (STARTTLS + AUTH) -> its durable, mirrored-by-design queue
#              (SQLite, fsync before 250) -> its runner, smarthost mode, to the sink
#   postfix    smtpd (STARTTLS, relaying for 127.0.0.1 without AUTH: Postfix's SASL
#              needs Dovecot or Cyrus) -> its queue -> its smtp client, relayhost = the sink
#
# The sink (`smtp-sink -M MESSAGES`) quits once it has every message: that is the end.
# Then, with DEFERRED=N (default 0: skipped), twinmail's memory with N messages deferred
# (the sink down): RSS at a tenth of N and at N.
#
# Usage (as root): bench/outbound.sh; MESSAGES=1000 bench/outbound.sh for a quick run.
# Environment: MESSAGES=10000 SESSIONS=20 SIZE=10240 DEFERRED=0 TWINMAIL_BIN= KEEP=1
# Installs postfix if missing (without starting its system service).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
MESSAGES=${MESSAGES:-10000}
SESSIONS=${SESSIONS:-20}
SIZE=${SIZE:-10240}
DEFERRED=${DEFERRED:-0}
KEEP=${KEEP:-}
export PYTHONDONTWRITEBYTECODE=1

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'outbound.sh: %s\n' "$*" >&2; exit 1; }
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
wait_port() {
    local i
    for ((i = 0; i < 200; i++)); do
        (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    die "$2 did not listen on $1"
}
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", b-a}'; }

WORK=$(mktemp -d /tmp/twinmail-outbound.XXXXXX)
chmod 755 "$WORK"
PIDS=()
POSTFIX_DIR=
cleanup() {
    local rc=$? p
    trap - EXIT
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    [[ -n $POSTFIX_DIR ]] && postfix -c "$POSTFIX_DIR/etc" stop >/dev/null 2>&1 || true
    if [[ -n $KEEP ]]; then say "kept $WORK"; else rm -rf "$WORK"; fi
    exit "$rc"
}
trap cleanup EXIT

if [[ ! -x /usr/sbin/smtp-sink || ! -x /usr/sbin/postfix ]]; then
    say "installing postfix"
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q postfix >/dev/null || {
        apt-get update -q >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q postfix >/dev/null
    }
    rm -f /usr/sbin/policy-rc.d
fi

if [[ -n ${TWINMAIL_BIN:-} ]]; then
    TWINMAIL=$TWINMAIL_BIN
else
    say "building twinmail (release)"
    cargo build --release -j2 -p twinmail --manifest-path "$ROOT/Cargo.toml" >&2
    TWINMAIL="${CARGO_TARGET_DIR:-$ROOT/target}/release/twinmail"
fi

# A sink that quits after $1 messages; sets SINK_PORT and SINK_PID.
start_sink() {
    SINK_PORT=$(free_port)
    smtp-sink -u postfix -M "$1" "127.0.0.1:$SINK_PORT" 256 &
    SINK_PID=$!
    PIDS+=("$SINK_PID")
    wait_port "$SINK_PORT" smtp-sink
}

# Waits for the sink to quit (every message in); gives up after 300 s.
wait_sink() {
    local i
    for ((i = 0; i < 6000; i++)); do
        kill -0 "$SINK_PID" 2>/dev/null || return 0
        sleep 0.05
    done
    die "$1: the sink did not get all $MESSAGES messages in 300 s"
}

RESULTS=()

bench_twinmail() {
    local dir="$WORK/twinmail" sub t0 t1 ts
    mkdir -p "$dir"
    start_sink "$MESSAGES"
    sub=$(free_port)
    cat >"$dir/twinmail.toml" <<TOML
[node]
id = "bench"
data_dir = "data"
hostname = "localhost"
[store]
password_memory_kib = 64
password_passes = 1
[smtp]
listen = []
submission_listen = ["127.0.0.1:$sub"]
submissions_listen = []
max_connections_per_ip = 1000
[imap]
listen = []
tls_listen = []
[pop3]
listen = []
tls_listen = []
[managesieve]
listen = []
[limits]
exempt_loopback = true
[outbound]
relay_host = "127.0.0.1:$SINK_PORT"
relay_tls = "none"
[log]
level = "warn"
TOML
    "$TWINMAIL" -c "$dir/twinmail.toml" domain add example.com >/dev/null
    printf 'pw\n' | "$TWINMAIL" -c "$dir/twinmail.toml" user add bench@example.com >/dev/null
    "$TWINMAIL" -c "$dir/twinmail.toml" serve >"$dir/serve.log" 2>&1 &
    TW_PID=$!
    PIDS+=("$TW_PID")
    wait_port "$sub" twinmail
    say "twinmail: $MESSAGES x $SIZE B over $SESSIONS sessions"
    t0=$(now)
    ts=$(python3 "$HERE/submit.py" 127.0.0.1 "$sub" "$MESSAGES" "$SESSIONS" "$SIZE" \
        bench@example.com rcpt@remote.invalid bench@example.com pw)
    wait_sink twinmail
    t1=$(now)
    RESULTS+=("twinmail $(elapsed "$t0" "$t1") $ts")
    if ((DEFERRED > 0)); then
        deferred "$dir"
    fi
    kill "$TW_PID"
    wait "$TW_PID" 2>/dev/null || true
}

# twinmail's RSS with DEFERRED messages queued and the sink gone.
deferred() {
    local dir=$1 tenth=$((DEFERRED / 10))
    say "twinmail: queueing $DEFERRED messages with the remote end down"
    python3 "$HERE/submit.py" 127.0.0.1 "$sub" "$tenth" "$SESSIONS" "$SIZE" \
        bench@example.com rcpt@remote.invalid bench@example.com pw >/dev/null
    sleep 5
    local r1 r2
    r1=$(awk '/VmRSS/{print $2}' "/proc/$TW_PID/status")
    python3 "$HERE/submit.py" 127.0.0.1 "$sub" "$((DEFERRED - tenth))" "$SESSIONS" "$SIZE" \
        bench@example.com rcpt@remote.invalid bench@example.com pw >/dev/null
    sleep 5
    r2=$(awk '/VmRSS/{print $2}' "/proc/$TW_PID/status")
    printf 'deferred queue: RSS %s KiB with %s messages, %s KiB with %s\n' "$r1" "$tenth" "$r2" "$DEFERRED"
}

bench_postfix() {
    local dir="$WORK/postfix" port t0 t1 ts
    start_sink "$MESSAGES"
    port=$(free_port)
    mkdir -p "$dir/etc" "$dir/spool" "$dir/data"
    chown postfix: "$dir/data"
    sed -e "s|@PORT@|$port|g" "$HERE/postfix/master.cf.in" >"$dir/etc/master.cf"
    # smtpd's STARTTLS needs the TLS session cache manager.
    echo "tlsmgr    unix  -       -       n       1000?   1       tlsmgr" >>"$dir/etc/master.cf"
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
        -keyout "$dir/etc/key.pem" -out "$dir/etc/cert.pem" 2>/dev/null
    : >"$dir/etc/main.cf"
    postconf -c "$dir/etc" -e \
        "compatibility_level = 3.6" \
        "config_directory = $dir/etc" \
        "queue_directory = $dir/spool" \
        "data_directory = $dir/data" \
        "mail_owner = postfix" \
        "setgid_group = postdrop" \
        "myhostname = postfix.bench.invalid" \
        "mydestination =" \
        "mynetworks = 127.0.0.0/8" \
        "relayhost = [127.0.0.1]:$SINK_PORT" \
        "smtpd_tls_cert_file = $dir/etc/cert.pem" \
        "smtpd_tls_key_file = $dir/etc/key.pem" \
        "smtpd_tls_security_level = may" \
        "inet_interfaces = 127.0.0.1" \
        "inet_protocols = ipv4" \
        "maillog_file_prefixes = $dir" \
        "maillog_file = $dir/maillog"
    postfix -c "$dir/etc" check || die "postfix check failed"
    POSTFIX_DIR=$dir
    postfix -c "$dir/etc" start >/dev/null 2>&1 || die "postfix did not start (see $dir/maillog)"
    wait_port "$port" postfix
    say "postfix: $MESSAGES x $SIZE B over $SESSIONS sessions"
    t0=$(now)
    ts=$(python3 "$HERE/submit.py" 127.0.0.1 "$port" "$MESSAGES" "$SESSIONS" "$SIZE" \
        bench@example.com rcpt@remote.invalid)
    wait_sink postfix
    t1=$(now)
    RESULTS+=("postfix $(elapsed "$t0" "$t1") $ts")
    postfix -c "$dir/etc" stop >/dev/null 2>&1 || true
    POSTFIX_DIR=
}

bench_twinmail
bench_postfix

echo
echo "outbound: $MESSAGES messages x $SIZE B, $SESSIONS sessions, $(nproc) CPUs"
printf '%-10s %10s %12s %12s\n' target "seconds" "msgs/s" "submit s"
tw=0
pf=0
for r in "${RESULTS[@]}"; do
    read -r name secs sub <<<"$r"
    rate=$(awk -v n="$MESSAGES" -v s="$secs" 'BEGIN{printf "%.0f", n/s}')
    printf '%-10s %10s %12s %12s\n' "$name" "$secs" "$rate" "$sub"
    [[ $name == twinmail ]] && tw=$rate
    [[ $name == postfix ]] && pf=$rate
done
awk -v t="$tw" -v p="$pf" 'BEGIN{ if (p > 0) printf "twinmail / postfix: %.2fx (target >= 1.0x)\n", t/p }'
