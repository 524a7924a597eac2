#!/usr/bin/env bash
# SMTP delivery benchmark: twinmail side by side with Debian's Postfix and Dovecot.
#
# Postfix's smtp-source offers the same load to four targets, one after the other,
# each alone on the machine (the others stopped):
#
#   twinmail         twinmail's MX listener; durable delivery (SQLite WAL,
#                    synchronous=FULL, 250 only after COMMIT)
#   dovecot-lmtp     smtp-source -L straight into dovecot-lmtpd, Maildir,
#                    mail_fsync = always (durable too)
#   postfix>dovecot  Postfix's smtpd, its queue, then its lmtp client into the same
#                    kind of Dovecot; timed from the first connection until the last
#                    message is in the Maildir
#   smtp-sink        Postfix's smtp-sink: reads and drops everything; the ceiling of
#                    the protocol and of smtp-source on this machine
#
# Then prints a table and the two targets: twinmail >= 3x dovecot-lmtp and
# twinmail >= 0.4x smtp-sink.
#
# Usage (as root, from anywhere):
#   bench/smtp.sh
#   MESSAGES=1000 bench/smtp.sh            # a quick run
#
# Environment:
#   MESSAGES=10000   messages per target
#   SESSIONS=20      parallel SMTP sessions (smtp-source -s)
#   SIZE=10240       payload bytes per message (smtp-source -l)
#   SOURCE_FLAGS=    extra smtp-source flags for every target, e.g. "-d" to keep
#                    each session's connection for many messages (by default
#                    smtp-source opens one connection per message)
#   TARGETS="twinmail dovecot-lmtp postfix-dovecot smtp-sink"   which to run, in order
#   ROUNDS=1         run the whole sequence this many times; the table shows each
#                    target's median round and lists every round's msgs/s (the
#                    figures of a shared 2-core VM vary run to run; 3 helps)
#   QUIET_WAIT=60    before each target, wait up to this many seconds for the
#                    machine to fall idle (<= 10% busy); the table's bg% column
#                    shows what it was, and a warning says when it was not
#   TWINMAIL_BIN=    use this twinmail binary instead of building one
#   KEEP=1           keep the temp dir (configs, logs, mail) for a look afterwards
#   STRICT=1         exit 3 when a target ratio is missed (default: report only)
#
# Exit status: 0 when every delivery arrived in full; 1 on any failure or short
# count; 3 with STRICT=1 when a target is missed.
#
# Everything talks to 127.0.0.1 only. Installs postfix, dovecot-core,
# dovecot-lmtpd and sqlite3 if missing (without starting their system services),
# and stops every daemon it started when it exits.
set -euo pipefail

MESSAGES=${MESSAGES:-10000}
SESSIONS=${SESSIONS:-20}
SIZE=${SIZE:-10240}
SOURCE_FLAGS=${SOURCE_FLAGS:-}
TARGETS=${TARGETS:-twinmail dovecot-lmtp postfix-dovecot smtp-sink}
ROUNDS=${ROUNDS:-1}
QUIET_WAIT=${QUIET_WAIT:-60}
KEEP=${KEEP:-}
STRICT=${STRICT:-}
SENDER=sender@remote.org
RCPT=bench@example.com
MAIL_USER=mail   # owner of the Dovecot Maildirs (exists on every Debian system)

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")

say() { printf '==> %s\n' "$*" >&2; }
die() {
    printf 'bench/smtp.sh: %s\n' "$*" >&2
    exit 1
}

[[ $(id -u) == 0 ]] || die "run as root (installs packages, runs Postfix and Dovecot)"
[[ $MESSAGES =~ ^[1-9][0-9]*$ ]] || die "MESSAGES must be a positive integer"
[[ $SESSIONS =~ ^[1-9][0-9]*$ ]] || die "SESSIONS must be a positive integer"
[[ $SIZE =~ ^[1-9][0-9]*$ ]] || die "SIZE must be a positive integer"
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer"
[[ $QUIET_WAIT =~ ^[0-9]+$ ]] || die "QUIET_WAIT must be a number of seconds"

# ---------------------------------------------------------------- clean-up

WORK=
POLICY_RC_MADE=
TWINMAIL_PID=
SINK_PID=
POSTFIX_DIR=
DOVECOT_CONFS=()

stop_pid() { # PID: TERM, wait up to 10 s, then KILL
    local pid=$1 i
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

stop_dovecot() { # CONF
    local conf=$1 pidf pid i
    pidf="$(dirname "$conf")/run/master.pid"
    [[ -s $pidf ]] || return 0
    pid=$(<"$pidf")
    doveadm -c "$conf" stop >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$pidf"
}

stop_postfix() {
    local dir=$POSTFIX_DIR pid kids k i
    [[ -n $dir ]] || return 0
    POSTFIX_DIR=
    pid=$(tr -dc 0-9 <"$dir/spool/pid/master.pid" 2>/dev/null || true)
    kids=
    [[ -n $pid ]] && kids=$(ps -o pid= --ppid "$pid" 2>/dev/null || true)
    postfix -c "$dir/etc" stop >/dev/null 2>&1 || true
    # master's children (smtpd, qmgr, lmtp, ...) leave with it; wait for all of them.
    for k in $pid $kids; do
        for ((i = 0; i < 100; i++)); do
            kill -0 "$k" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$k" 2>/dev/null || true
    done
}

# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    [[ -n $TWINMAIL_PID ]] && stop_pid "$TWINMAIL_PID"
    [[ -n $SINK_PID ]] && stop_pid "$SINK_PID"
    stop_postfix
    local c
    for c in "${DOVECOT_CONFS[@]}"; do stop_dovecot "$c"; done
    [[ -n $POLICY_RC_MADE ]] && rm -f /usr/sbin/policy-rc.d
    if [[ -n $WORK && -d $WORK ]]; then
        if [[ -n $KEEP ]]; then
            say "kept $WORK"
        else
            rm -rf "$WORK"
        fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- packages

need=()
[[ -x /usr/sbin/smtp-source && -x /usr/sbin/smtp-sink && -x /usr/sbin/postfix ]] || need+=(postfix)
[[ -x /usr/sbin/dovecot ]] || need+=(dovecot-core)
[[ -x /usr/lib/dovecot/lmtp ]] || need+=(dovecot-lmtpd)
command -v sqlite3 >/dev/null || need+=(sqlite3)
if ((${#need[@]})); then
    say "installing ${need[*]}"
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    # Keep the packages' scripts from starting system-wide Postfix or Dovecot.
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        POLICY_RC_MADE=1
    fi
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null; then
        apt-get update -q >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null
    fi
    if [[ -n $POLICY_RC_MADE ]]; then
        rm -f /usr/sbin/policy-rc.d
        POLICY_RC_MADE=
    fi
fi
id "$MAIL_USER" >/dev/null 2>&1 || die "no user $MAIL_USER"
id postfix >/dev/null 2>&1 || die "no user postfix (package postfix not installed right?)"

# ---------------------------------------------------------------- twinmail binary

if [[ -n ${TWINMAIL_BIN:-} ]]; then
    TWINMAIL=$TWINMAIL_BIN
elif [[ " $TARGETS " == *" twinmail "* ]]; then
    say "building twinmail (release)"
    cargo build --release -j2 -p twinmail --manifest-path "$ROOT/Cargo.toml" >&2
    TWINMAIL="${CARGO_TARGET_DIR:-$ROOT/target}/release/twinmail"
fi
if [[ " $TARGETS " == *" twinmail "* ]]; then
    [[ -x $TWINMAIL ]] || die "no twinmail binary at $TWINMAIL"
fi

# ---------------------------------------------------------------- helpers

WORK=$(mktemp -d /tmp/twinmail-bench.XXXXXX)
chmod 755 "$WORK" # Dovecot's mail user must reach its Maildirs below

USED_PORTS=" "
free_port() { # prints a port nothing listens on, distinct from earlier ones
    local p i
    for ((i = 0; i < 200; i++)); do
        p=$((20000 + RANDOM % 30000))
        [[ $USED_PORTS == *" $p "* ]] && continue
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            USED_PORTS+="$p "
            echo "$p"
            return 0
        fi
    done
    die "no free port found"
}

wait_port() { # PORT NAME [PID]: until 127.0.0.1:PORT accepts (30 s at most)
    local port=$1 name=$2 pid=${3:-} i
    for ((i = 0; i < 300; i++)); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
        if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
            die "$name exited before listening on 127.0.0.1:$port"
        fi
        sleep 0.1
    done
    die "$name does not listen on 127.0.0.1:$port after 30 s"
}

maildir_count() { # HOME_ROOT: messages delivered into $RCPT's Maildir
    local md="$1/$RCPT/Maildir" n=0 d
    for d in "$md/new" "$md/cur"; do
        [[ -d $d ]] && n=$((n + $(find "$d" -maxdepth 1 -type f | wc -l)))
    done
    echo "$n"
}

cpu_snapshot() { # busy and iowait jiffies of the whole machine: "busy iowait total"
    awk '/^cpu /{busy=$2+$3+$4+$7+$8+$9; print busy, $6, busy+$5+$6}' /proc/stat
}

proc_cpu() { # PID: user+system jiffies of one process (0 if gone)
    awk '{print $14+$15}' "/proc/$1/stat" 2>/dev/null || echo 0
}

# quiet_check NAME: waits (QUIET_WAIT seconds at most) for the machine to be
# idle before a target starts, nothing of ours running but the idle target;
# sets BG[NAME] to the busy share of the last second and warns above 10%.
quiet_check() {
    local a b ba ta bb tb pct deadline
    deadline=$((SECONDS + QUIET_WAIT))
    while :; do
        a=$(cpu_snapshot)
        sleep 1
        b=$(cpu_snapshot)
        read -r ba _ ta <<<"$a"
        read -r bb _ tb <<<"$b"
        pct=$(awk -v b="$((bb - ba))" -v t="$((tb - ta))" -v n="$(nproc)" 'BEGIN{printf "%.0f", (t ? 100*n*b/t : 0)}')
        ((pct <= 10 || SECONDS >= deadline)) && break
        sleep 1
    done
    BG[$1#$ROUND]=$pct
    if ((pct > 10)); then
        say "WARNING: the machine was ${pct}% busy (of $(($(nproc) * 100))%) before $1 started: other load skews this run"
    fi
}

SOURCE_CPU=
# run_source NAME ADDR [extra flags...]: runs smtp-source to the end, sets
# SOURCE_CPU (smtp-source's user+sys seconds).
run_source() {
    local name=$1 addr=$2
    shift 2
    local log="$WORK/r$ROUND/$name.smtp-source.log" tf="$WORK/r$ROUND/$name.time"
    local TIMEFORMAT='%3R %3U %3S'
    # shellcheck disable=SC2086 # SOURCE_FLAGS is a list of flags
    if ! { time smtp-source "$@" $SOURCE_FLAGS -s "$SESSIONS" -m "$MESSAGES" -l "$SIZE" \
        -f "$SENDER" -t "$RCPT" "$addr" >"$log" 2>&1; } 2>"$tf"; then
        cat "$log" >&2
        die "$name: smtp-source failed (a message was refused or the server went away)"
    fi
    local u s
    read -r _ u s <"$tf"
    SOURCE_CPU=$(awk -v u="$u" -v s="$s" 'BEGIN{printf "%.2f", u+s}')
}

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", b-a}'; }

declare -A SECS COUNT NOTE BUSY IOWAIT SRCCPU BG

# record NAME SECONDS COUNT CPU_BEFORE CPU_AFTER NOTE
record() {
    local name="$1#$ROUND" b0 w0 t0 b1 w1 t1
    SECS[$name]=$2
    COUNT[$name]=$3
    read -r b0 w0 t0 <<<"$4"
    read -r b1 w1 t1 <<<"$5"
    local ncpu
    ncpu=$(nproc)
    BUSY[$name]=$(awk -v b="$((b1 - b0))" -v t="$((t1 - t0))" -v n="$ncpu" 'BEGIN{printf "%.0f", (t ? 100*n*b/t : 0)}')
    IOWAIT[$name]=$(awk -v w="$((w1 - w0))" -v t="$((t1 - t0))" -v n="$ncpu" 'BEGIN{printf "%.0f", (t ? 100*n*w/t : 0)}')
    SRCCPU[$name]=$SOURCE_CPU
    NOTE[$name]=$6
}

SHORT=()
check_count() { # NAME GOT
    local r=
    ((ROUNDS > 1)) && r=" (round $ROUND)"
    if (($2 < MESSAGES)); then
        SHORT+=("$1$r: $2 of $MESSAGES delivered")
        say "$1$r: SHORT: $2 of $MESSAGES delivered"
    else
        say "$1$r: $2 delivered"
    fi
}

# start_dovecot NAME: Dovecot LMTP on a fresh port with fresh Maildirs; sets
# DOVECOT_PORT and DOVECOT_HOMES.
start_dovecot() {
    local name=$1 dir="$WORK/r$ROUND/$1"
    mkdir -p "$dir/home" "$dir/run" "$dir/state"
    chown "$MAIL_USER:" "$dir/home"
    DOVECOT_PORT=$(free_port)
    DOVECOT_HOMES="$dir/home"
    sed -e "s|@DIR@|$dir|g" -e "s|@PORT@|$DOVECOT_PORT|g" \
        -e "s|@USER@|$MAIL_USER|g" -e "s|@GROUP@|$(id -gn "$MAIL_USER")|g" \
        "$HERE/dovecot/dovecot.conf.in" >"$dir/dovecot.conf"
    doveconf -c "$dir/dovecot.conf" -n >/dev/null || die "$name: bad dovecot.conf"
    DOVECOT_CONFS+=("$dir/dovecot.conf")
    dovecot -c "$dir/dovecot.conf" || die "$name: dovecot did not start (see $dir/dovecot.log)"
    wait_port "$DOVECOT_PORT" "$name dovecot"
}

# ---------------------------------------------------------------- the targets

bench_twinmail() {
    local dir="$WORK/r$ROUND/twinmail" port pid t0 t1 c0 c1 p0 p1 n
    mkdir -p "$dir/data"
    port=$(free_port)
    cat >"$dir/twinmail.toml" <<EOF
[node]
id = "bench"
data_dir = "$dir/data"
hostname = "twinmail.bench.invalid"

[smtp]
listen = ["127.0.0.1:$port"]
submission_listen = []
submissions_listen = []
max_connections_per_ip = 100

[log]
level = "warn"
EOF
    "$TWINMAIL" -c "$dir/twinmail.toml" config check >&2
    "$TWINMAIL" -c "$dir/twinmail.toml" domain add example.com >/dev/null
    echo 'bench password' | "$TWINMAIL" -c "$dir/twinmail.toml" user add "$RCPT" >/dev/null
    "$TWINMAIL" -c "$dir/twinmail.toml" serve >"$dir/serve.log" 2>&1 &
    TWINMAIL_PID=$!
    pid=$TWINMAIL_PID
    wait_port "$port" twinmail "$pid"
    quiet_check twinmail
    say "twinmail: $MESSAGES messages on 127.0.0.1:$port"
    c0=$(cpu_snapshot)
    p0=$(proc_cpu "$pid")
    t0=$(now)
    run_source twinmail "127.0.0.1:$port"
    t1=$(now)
    c1=$(cpu_snapshot)
    p1=$(proc_cpu "$pid")
    local secs tw_cpu
    secs=$(elapsed "$t0" "$t1")
    tw_cpu=$(awk -v j="$((p1 - p0))" -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.2f", j/hz}')
    stop_pid "$pid"
    TWINMAIL_PID=
    n=$(sqlite3 "$dir/data/twinmail.db" "SELECT count(*) FROM messages;")
    record twinmail "$secs" "$n" "$c0" "$c1" "twinmail process: ${tw_cpu} s CPU"
    check_count twinmail "$n"
    if [[ -s $dir/serve.log ]]; then
        say "twinmail logged (warn and up):"
        head -20 "$dir/serve.log" >&2
    fi
}

bench_dovecot_lmtp() {
    local t0 t1 c0 c1 n
    start_dovecot dovecot-lmtp
    quiet_check dovecot-lmtp
    say "dovecot-lmtp: $MESSAGES messages on 127.0.0.1:$DOVECOT_PORT (LMTP)"
    c0=$(cpu_snapshot)
    t0=$(now)
    run_source dovecot-lmtp "127.0.0.1:$DOVECOT_PORT" -L
    t1=$(now)
    c1=$(cpu_snapshot)
    n=$(maildir_count "$DOVECOT_HOMES")
    record dovecot-lmtp "$(elapsed "$t0" "$t1")" "$n" "$c0" "$c1" ""
    check_count dovecot-lmtp "$n"
    stop_dovecot "${DOVECOT_CONFS[-1]}"
}

bench_postfix_dovecot() {
    local dir="$WORK/r$ROUND/postfix" port t0 t1 ts c0 c1 n last stall
    start_dovecot postfix-dovecot.dovecot
    port=$(free_port)
    mkdir -p "$dir/etc" "$dir/spool" "$dir/data"
    chown postfix: "$dir/data"
    sed -e "s|@PORT@|$port|g" "$HERE/postfix/master.cf.in" >"$dir/etc/master.cf"
    : >"$dir/etc/main.cf"
    # Postfix's defaults, except where this instance lives and where mail goes.
    postconf -c "$dir/etc" -e \
        "compatibility_level = 3.6" \
        "config_directory = $dir/etc" \
        "queue_directory = $dir/spool" \
        "data_directory = $dir/data" \
        "mail_owner = postfix" \
        "setgid_group = postdrop" \
        "myhostname = postfix.bench.invalid" \
        "mydestination = example.com" \
        "local_recipient_maps =" \
        "alias_maps =" \
        "alias_database =" \
        "local_transport = lmtp:inet:127.0.0.1:$DOVECOT_PORT" \
        "virtual_transport = lmtp:inet:127.0.0.1:$DOVECOT_PORT" \
        "inet_interfaces = 127.0.0.1" \
        "inet_protocols = ipv4" \
        "maillog_file_prefixes = $dir" \
        "maillog_file = $dir/maillog"
    postfix -c "$dir/etc" check || die "postfix check failed (see $dir/maillog)"
    POSTFIX_DIR=$dir
    postfix -c "$dir/etc" start >/dev/null 2>&1 || die "postfix did not start (see $dir/maillog)"
    wait_port "$port" postfix
    quiet_check postfix-dovecot
    say "postfix>dovecot: $MESSAGES messages on 127.0.0.1:$port, relayed to LMTP 127.0.0.1:$DOVECOT_PORT"
    c0=$(cpu_snapshot)
    t0=$(now)
    run_source postfix-dovecot "127.0.0.1:$port"
    ts=$(now)
    # Until every message is in the Maildir; give up after 120 s without progress.
    last=-1
    stall=$(now)
    while :; do
        n=$(maildir_count "$DOVECOT_HOMES")
        ((n >= MESSAGES)) && break
        if ((n != last)); then
            last=$n
            stall=$(now)
        elif awk -v a="$stall" -v b="$(now)" 'BEGIN{exit !(b-a > 120)}'; then
            say "postfix>dovecot: no progress for 120 s at $n messages"
            break
        fi
        sleep 0.05
    done
    t1=$(now)
    c1=$(cpu_snapshot)
    record postfix-dovecot "$(elapsed "$t0" "$t1")" "$n" "$c0" "$c1" \
        "smtpd accepted all in $(elapsed "$t0" "$ts") s"
    check_count postfix-dovecot "$n"
    stop_postfix
    stop_dovecot "${DOVECOT_CONFS[-1]}"
}

bench_smtp_sink() {
    local port t0 t1 c0 c1
    port=$(free_port)
    # -u: smtp-sink refuses to run as root; it only needs a user to drop to.
    smtp-sink -u nobody "127.0.0.1:$port" 1000 >"$WORK/r$ROUND/smtp-sink.log" 2>&1 &
    SINK_PID=$!
    wait_port "$port" smtp-sink "$SINK_PID"
    quiet_check smtp-sink
    say "smtp-sink: $MESSAGES messages on 127.0.0.1:$port"
    c0=$(cpu_snapshot)
    t0=$(now)
    run_source smtp-sink "127.0.0.1:$port"
    t1=$(now)
    c1=$(cpu_snapshot)
    # smtp-source exits non-zero on any reply but 2xx/3xx, so all were taken.
    record smtp-sink "$(elapsed "$t0" "$t1")" "$MESSAGES" "$c0" "$c1" "stores nothing"
    stop_pid "$SINK_PID"
    SINK_PID=
}

for t in $TARGETS; do
    case $t in
    twinmail | dovecot-lmtp | postfix-dovecot | smtp-sink) ;;
    *) die "unknown target $t" ;;
    esac
done
ORDER=()
for t in $TARGETS; do ORDER+=("$t"); done

for ((ROUND = 1; ROUND <= ROUNDS; ROUND++)); do
    ((ROUNDS > 1)) && say "round $ROUND of $ROUNDS"
    mkdir -p "$WORK/r$ROUND"
    chmod 755 "$WORK/r$ROUND"
    for t in "${ORDER[@]}"; do
        case $t in
        twinmail) bench_twinmail ;;
        dovecot-lmtp) bench_dovecot_lmtp ;;
        postfix-dovecot) bench_postfix_dovecot ;;
        smtp-sink) bench_smtp_sink ;;
        esac
    done
done

# Each target's figures are those of its median round (by msgs/s).
RANGE=()
for t in "${ORDER[@]}"; do
    pick=$(for ((r = 1; r <= ROUNDS; r++)); do
        awk -v n="${COUNT[$t#$r]}" -v s="${SECS[$t#$r]}" -v r="$r" 'BEGIN{printf "%.3f %d\n", (s > 0 ? n/s : 0), r}'
    done | sort -n | tee "$WORK/$t.rates" | sed -n "$(((ROUNDS + 1) / 2))p" | cut -d' ' -f2)
    k="$t#$pick"
    SECS[$t]=${SECS[$k]}
    COUNT[$t]=${COUNT[$k]}
    BUSY[$t]=${BUSY[$k]}
    IOWAIT[$t]=${IOWAIT[$k]}
    SRCCPU[$t]=${SRCCPU[$k]}
    BG[$t]=${BG[$k]}
    NOTE[$t]=${NOTE[$k]}
    if ((ROUNDS > 1)); then
        RANGE+=("$(printf '%-16s %s' "$t" "$(awk '{printf "%s%.1f", (NR > 1 ? "  " : ""), $1}' "$WORK/$t.rates")")")
    fi
done

# ---------------------------------------------------------------- the table

rate() { awk -v n="${COUNT[$1]}" -v s="${SECS[$1]}" 'BEGIN{printf "%.1f", (s > 0 ? n/s : 0)}'; }

echo
median=
((ROUNDS > 1)) && median=", median of $ROUNDS rounds"
echo "SMTP delivery: $MESSAGES messages x $SIZE bytes, $SESSIONS sessions" \
    "(smtp-source${SOURCE_FLAGS:+ $SOURCE_FLAGS}), $(nproc) cores, $(date -u '+%Y-%m-%d %H:%M UTC')$median"
echo "postfix $(postconf -d -h mail_version 2>/dev/null), dovecot $(dovecot --version 2>/dev/null | cut -d' ' -f1)"
echo
FMT='%-16s %7s %9s %9s %7s %8s %6s %6s %8s %5s  %s\n'
# shellcheck disable=SC2059 # FMT is ours
printf "$FMT" target msgs seconds msgs/s MB/s "x twin" "cpu%" "iow%" "src cpu" "bg%" notes
# shellcheck disable=SC2059
printf "$FMT" ---------------- ------- --------- --------- ------- -------- ------ ------ -------- ----- -----
tw_rate=
[[ -n ${SECS[twinmail]:-} ]] && tw_rate=$(rate twinmail)
for t in "${ORDER[@]}"; do
    r=$(rate "$t")
    mbs=$(awk -v n="${COUNT[$t]}" -v l="$SIZE" -v s="${SECS[$t]}" 'BEGIN{printf "%.2f", (s > 0 ? n*l/1e6/s : 0)}')
    vs=-
    [[ -n $tw_rate ]] && vs=$(awk -v a="$r" -v b="$tw_rate" 'BEGIN{printf "%.2f", (b > 0 ? a/b : 0)}')
    label=$t
    [[ $t == postfix-dovecot ]] && label='postfix>dovecot'
    # shellcheck disable=SC2059
    printf "$FMT" "$label" "${COUNT[$t]}" "${SECS[$t]}" "$r" "$mbs" "$vs" \
        "${BUSY[$t]}" "${IOWAIT[$t]}" "${SRCCPU[$t]}" "${BG[$t]}" "${NOTE[$t]}"
done
echo
echo "msgs/s and MB/s: messages delivered (payload bytes, 10^6) per wall-clock second;"
echo "cpu% / iow%: whole machine busy / in iowait over the run, out of $(($(nproc) * 100))%;"
echo "src cpu: CPU seconds used by smtp-source itself;"
echo "bg%: the machine's busy share in the second before the target started (should be ~0:"
echo "     anything else running on the machine skews the figures)."
if ((ROUNDS > 1)); then
    echo
    echo "median of $ROUNDS rounds shown; msgs/s of every round, sorted:"
    printf '  %s\n' "${RANGE[@]}"
fi
echo

MISSED=0
target_line() { # NAME OTHER GOAL
    local other=$2 goal=$3 ratio verdict
    if [[ -z $tw_rate || -z ${SECS[$other]:-} ]]; then return 0; fi
    ratio=$(awk -v a="$tw_rate" -v b="$(rate "$other")" 'BEGIN{printf "%.2f", (b > 0 ? a/b : 0)}')
    if awk -v r="$ratio" -v g="$goal" 'BEGIN{exit !(r >= g)}'; then
        verdict=MET
    else
        verdict=MISSED
        MISSED=1
    fi
    printf '%-36s %6sx   target >= %-4s %s\n' "$1" "$ratio" "${goal}x" "$verdict"
}
target_line "twinmail / dovecot-lmtp" dovecot-lmtp 3
target_line "twinmail / smtp-sink" smtp-sink 0.4

if ((${#SHORT[@]})); then
    printf 'SHORT DELIVERY: %s\n' "${SHORT[@]}" >&2
    exit 1
fi
if [[ -n $STRICT && $MISSED == 1 ]]; then
    exit 3
fi
exit 0
