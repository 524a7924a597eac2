# shellcheck shell=bash
# shellcheck disable=SC2034 # the variables set here are used by the scripts that source it
# Shared by bench/pop3.sh, bench/imap.sh and bench/imap-idle.sh (sourced, not run):
# packages, the twinmail binary, a temp dir, free ports, starting twinmail and
# Dovecot on 127.0.0.1 with IMAP and POP3, and stopping all of it on exit.
#
# The sourcing script sets BENCH_NAME first, then calls bench_init.
#
# Environment read here:
#   TWINMAIL_BIN=   use this twinmail binary instead of building one
#   CARGO_TARGET_DIR (cargo's own) where the build goes; default ROOT/target
#   KEEP=1          keep the temp dir (configs, logs, mail) for a look afterwards
#   QUIET_WAIT=60   before each measurement, wait up to this many seconds for the
#                   machine to fall idle (<= 10% busy)
#   TW_HASH=default argon2id cost of the bench user's password hash in twinmail:
#                   "default" (19 MiB, 2 passes: what `user add` does in production)
#                   or "cheap" (64 KiB, 1 pass); Dovecot's static password costs nothing
#   TW_SERVE_ENV=   VAR=value words put in `twinmail serve`'s environment, for a
#                   diagnosis (e.g. "MALLOC_ARENA_MAX=2"); empty for the real figures

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
KEEP=${KEEP:-}
QUIET_WAIT=${QUIET_WAIT:-60}
TW_HASH=${TW_HASH:-default}
TW_SERVE_ENV=${TW_SERVE_ENV:-}
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ under bench/
MAIL_USER=mail # owner of Dovecot's Maildirs (exists on every Debian system)
BENCH_USER=bench@example.com
BENCH_PASS=pw

say() { printf '==> %s\n' "$*" >&2; }
die() {
    printf '%s: %s\n' "$BENCH_NAME" "$*" >&2
    exit 1
}

# ---------------------------------------------------------------- clean-up

WORK=
POLICY_RC_MADE=
PIDS=()          # processes to stop on exit (twinmail, clients)
DOVECOT_CONFS=() # Dovecot instances to stop on exit

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

stop_dovecot() { # CONF
    local conf=$1 pidf pid i
    pidf="$(dirname "$conf")/run/master.pid"
    [[ -s $pidf ]] || return 0
    pid=$(<"$pidf")
    doveadm -c "$conf" stop >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true
    # Dovecot's master takes its children with it; with thousands of imap
    # processes that can take a while.
    for ((i = 0; i < 600; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$pidf"
}

# shellcheck disable=SC2317 # called from the EXIT trap
bench_cleanup() {
    local rc=$? p c
    trap - EXIT INT TERM
    for p in "${PIDS[@]}"; do stop_pid "$p"; done
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

# ---------------------------------------------------------------- set-up

bench_init() {
    [[ $(id -u) == 0 ]] || die "run as root (installs packages, runs Dovecot)"
    [[ $QUIET_WAIT =~ ^[0-9]+$ ]] || die "QUIET_WAIT must be a number of seconds"
    [[ $TW_HASH == default || $TW_HASH == cheap ]] || die "TW_HASH must be default or cheap"
    trap bench_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM

    local need=()
    [[ -x /usr/sbin/dovecot ]] || need+=(dovecot-core)
    [[ -x /usr/lib/dovecot/imap ]] || need+=(dovecot-imapd)
    [[ -x /usr/lib/dovecot/pop3 ]] || need+=(dovecot-pop3d)
    command -v python3 >/dev/null || need+=(python3)
    if ((${#need[@]})); then
        say "installing ${need[*]}"
        # Keep the packages' scripts from starting a system-wide Dovecot.
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

    if [[ -n ${TWINMAIL_BIN:-} ]]; then
        TWINMAIL=$TWINMAIL_BIN
    else
        say "building twinmail (release)"
        cargo build --release -j2 -p twinmail --manifest-path "$ROOT/Cargo.toml" >&2
        TWINMAIL="${CARGO_TARGET_DIR:-$ROOT/target}/release/twinmail"
    fi
    [[ -x $TWINMAIL ]] || die "no twinmail binary at $TWINMAIL"

    # As many descriptors as we may have: twinmail and the idle clients need
    # one per session.
    ulimit -n "$(ulimit -Hn)"

    WORK=$(mktemp -d "/tmp/twinmail-$BENCH_NAME.XXXXXX")
    chmod 755 "$WORK" # Dovecot's mail user must reach its Maildirs below
}

USED_PORTS=" "
free_port() { # prints a port nothing listens on, distinct from earlier ones
    local p i
    for ((i = 0; i < 200; i++)); do
        p=$((20000 + RANDOM % 12000)) # below the ephemeral range (32768-)
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

cpu_snapshot() { # "busy total" jiffies of the whole machine
    awk '/^cpu /{busy=$2+$3+$4+$7+$8+$9; print busy, busy+$5+$6}' /proc/stat
}

# quiet_check LABEL: waits (QUIET_WAIT seconds at most) for the machine to be
# idle; sets BG_PCT to the busy share of the last second and warns above 10%.
BG_PCT=0
quiet_check() {
    local a b ba ta bb tb deadline
    deadline=$((SECONDS + QUIET_WAIT))
    while :; do
        a=$(cpu_snapshot)
        sleep 1
        b=$(cpu_snapshot)
        read -r ba ta <<<"$a"
        read -r bb tb <<<"$b"
        BG_PCT=$(awk -v b="$((bb - ba))" -v t="$((tb - ta))" -v n="$(nproc)" 'BEGIN{printf "%.0f", (t ? 100*n*b/t : 0)}')
        ((BG_PCT <= 10 || SECONDS >= deadline)) && break
        sleep 1
    done
    if ((BG_PCT > 10)); then
        say "WARNING: the machine was ${BG_PCT}% busy (of $(($(nproc) * 100))%) before $1: other load skews this run"
    fi
}

# start_twinmail NAME [EXTRA_IMAP_TOML]: twinmail with IMAP and POP3 (no TLS
# listeners, no SMTP) on fresh ports and a fresh data dir, the bench user
# added; sets TW_PID, TW_IMAP_PORT, TW_POP3_PORT, TW_CONF, TW_DIR.
start_twinmail() {
    local name=$1 extra=${2:-}
    TW_DIR="$WORK/$name"
    TW_CONF="$TW_DIR/twinmail.toml"
    mkdir -p "$TW_DIR/data"
    TW_IMAP_PORT=$(free_port)
    TW_POP3_PORT=$(free_port)
    local hash=
    if [[ $TW_HASH == cheap ]]; then
        hash=$'password_memory_kib = 64\npassword_passes = 1'
    fi
    cat >"$TW_CONF" <<EOF
[node]
id = "bench"
data_dir = "$TW_DIR/data"
hostname = "twinmail.bench.invalid"

[store]
$hash

[smtp]
listen = []
submission_listen = []
submissions_listen = []

[imap]
listen = ["127.0.0.1:$TW_IMAP_PORT"]
tls_listen = []
plaintext_auth_on_loopback = true
$extra

[pop3]
listen = ["127.0.0.1:$TW_POP3_PORT"]
tls_listen = []
plaintext_auth_on_loopback = true

[managesieve]
listen = []

[log]
level = "warn"
EOF
    "$TWINMAIL" -c "$TW_CONF" config check >&2 || die "bad twinmail config $TW_CONF"
    "$TWINMAIL" -c "$TW_CONF" domain add example.com >/dev/null
    echo "$BENCH_PASS" | "$TWINMAIL" -c "$TW_CONF" user add "$BENCH_USER" >/dev/null
    # shellcheck disable=SC2086 # TW_SERVE_ENV is a list of VAR=value words
    env $TW_SERVE_ENV "$TWINMAIL" -c "$TW_CONF" serve >"$TW_DIR/serve.log" 2>&1 &
    TW_PID=$!
    PIDS+=("$TW_PID")
    wait_port "$TW_IMAP_PORT" "twinmail imap" "$TW_PID"
    wait_port "$TW_POP3_PORT" "twinmail pop3" "$TW_PID"
}

stop_twinmail() {
    stop_pid "$TW_PID"
    if [[ -s $TW_DIR/serve.log ]]; then
        say "twinmail logged (warn and up; first 20 lines of $TW_DIR/serve.log):"
        head -20 "$TW_DIR/serve.log" >&2
    fi
}

# start_dovecot NAME [EXTRA_CONF_TEXT]: Dovecot with IMAP and POP3 on fresh
# ports with a fresh Maildir; sets DC_PID (master), DC_IMAP_PORT, DC_POP3_PORT,
# DC_CONF, DC_DIR.
start_dovecot() {
    local name=$1 extra=${2:-}
    DC_DIR="$WORK/$name"
    mkdir -p "$DC_DIR/home" "$DC_DIR/run" "$DC_DIR/state"
    chmod 755 "$DC_DIR"
    chown "$MAIL_USER:" "$DC_DIR/home"
    DC_IMAP_PORT=$(free_port)
    DC_POP3_PORT=$(free_port)
    DC_CONF="$DC_DIR/dovecot.conf"
    sed -e "s|@DIR@|$DC_DIR|g" -e "s|@IMAP_PORT@|$DC_IMAP_PORT|g" -e "s|@POP3_PORT@|$DC_POP3_PORT|g" \
        -e "s|@USER@|$MAIL_USER|g" -e "s|@GROUP@|$(id -gn "$MAIL_USER")|g" \
        "$HERE/dovecot/imap-pop3.conf.in" >"$DC_CONF"
    printf '%s\n' "$extra" >"$DC_DIR/extra.conf"
    doveconf -c "$DC_CONF" -n >"$DC_DIR/doveconf-n.txt" 2>"$DC_DIR/doveconf.err" ||
        { cat "$DC_DIR/doveconf.err" >&2; die "$name: bad dovecot.conf"; }
    DOVECOT_CONFS+=("$DC_CONF")
    dovecot -c "$DC_CONF" || die "$name: dovecot did not start (see $DC_DIR/dovecot.log)"
    wait_port "$DC_IMAP_PORT" "$name dovecot imap"
    wait_port "$DC_POP3_PORT" "$name dovecot pop3"
    DC_PID=$(<"$DC_DIR/run/master.pid")
}

stop_dovecot_now() {
    stop_dovecot "$DC_CONF"
    if [[ -s $DC_DIR/dovecot.log ]]; then
        # (doveadm stop itself logs "Killed with signal 15"; that is not news.
        # Past the kernel's inotify instance limit every imap process warns
        # once: counted, not listed.)
        local skip='master: Warning: Killed with signal 15|Warning: Inotify instance limit' n
        if grep -Eqv "$skip" "$DC_DIR/dovecot.log"; then
            say "dovecot logged (warnings and up; first 20 lines of $DC_DIR/dovecot.log):"
            grep -Ev "$skip" "$DC_DIR/dovecot.log" | head -20 >&2
        fi
        n=$(grep -c 'Warning: Inotify instance limit' "$DC_DIR/dovecot.log" || true)
        if ((n)); then
            say "dovecot: $n imap processes logged \"Inotify instance limit for user ... exceeded\"" \
                "(fs.inotify.max_user_instances = $(cat /proc/sys/fs/inotify/max_user_instances)):" \
                "they fall back to checking the mailbox every mailbox_idle_check_interval (30 s)"
        fi
    fi
}

# load_mail PORT NAME ARGS...: APPENDs the test mail over IMAP (mailtool.py
# append); prints its JSON line on stdout.
load_mail() {
    local port=$1 name=$2
    shift 2
    python3 "$HERE/mailtool.py" append --port "$port" --user "$BENCH_USER" --password "$BENCH_PASS" "$@" ||
        die "$name: loading mail failed"
}

json_field() { # JSON_LINE FIELD
    python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"
}
