#!/usr/bin/env bash
# IMAP idle-session memory: CONNS sessions (LOGIN, SELECT INBOX, IDLE) held
# open against twinmail, then against Debian's Dovecot 2.3, one after the other.
#
# For each server: the same COUNT-message INBOX as bench/imap.sh is APPENDed
# first (so SELECT has real work and real state to keep); bench/imapidle.py
# (PROCS asyncio client processes, raw sockets) opens the sessions, waits until
# all idle, waits a few seconds more, then reads the server's memory:
# twinmail's VmRSS from /proc/PID/status; for Dovecot (a process per session)
# the sum of VmRSS and the sum of PSS over the master and all its children (the
# RSS sum counts every shared page once per process; PSS is the fair figure).
# Then one APPEND from another session, timed until every idling session has
# seen its EXISTS; then all sessions close (DONE, LOGOUT) and a fresh session
# checks the server still answers. twinmail target: VmRSS <= 200 MB.
# All sessions are of one user (twinmail: [imap] max_sessions_per_user,
# max_connections and max_connections_per_ip raised to 20000; Dovecot:
# mail_max_userip_connections = 20000).
#
# Dovecot 2.3 runs one imap process per session by default (service imap
# client_limit = 1). To hold CONNS sessions its limits are raised in
# extra.conf (printed with the table): service imap process_limit, the default
# client limit of its helper services (log, anvil, stats, ...), and
# mail_max_userip_connections (in dovecot/imap-pop3.conf.in).
#
# Usage (as root, from anywhere):
#   bench/imap-idle.sh
#   CONNS=1000 COUNT=200 bench/imap-idle.sh        # a quick run
#
# Environment:
#   CONNS=10000      idle sessions per server
#   PROCS=4          client processes (each holds CONNS/PROCS sessions)
#   COUNT=2000       messages in INBOX (0: an empty INBOX)
#   SERVERS="twinmail twinmail-cheaphash dovecot"   which to run, in order;
#                    twinmail-cheaphash is twinmail with the bench user's password
#                    hashed at argon2id's cheapest cost (64 KiB, 1 pass) instead of
#                    the default 19 MiB, 2 passes (TW_HASH sets twinmail's)
#   DOVECOT_IMAP_CLIENT_LIMIT=1  sessions per Dovecot imap process (1 is Dovecot's
#                    default; more means fewer processes)
#   DOVECOT_HIBERNATE=           seconds; if set, imap_hibernate_timeout: Dovecot
#                    moves sessions that IDLE that long into imap-hibernate
#   and those of bench/mailbench-lib.sh: TWINMAIL_BIN, KEEP, QUIET_WAIT, TW_HASH
#   STRICT=1         exit 3 when twinmail's VmRSS is above 200 MB
#
# Exit status: 0 when every session idled on every server and twinmail still
# answered afterwards; 1 otherwise; 3 with STRICT=1 when the target is missed.
set -euo pipefail

BENCH_NAME=imap-idle
# shellcheck source=bench/mailbench-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/mailbench-lib.sh"

CONNS=${CONNS:-10000}
PROCS=${PROCS:-4}
COUNT=${COUNT:-2000}
SERVERS=${SERVERS:-twinmail twinmail-cheaphash dovecot}
DOVECOT_IMAP_CLIENT_LIMIT=${DOVECOT_IMAP_CLIENT_LIMIT:-1}
DOVECOT_HIBERNATE=${DOVECOT_HIBERNATE:-}
STRICT=${STRICT:-}
[[ $CONNS =~ ^[1-9][0-9]*$ ]] || die "CONNS must be a positive integer"
[[ $PROCS =~ ^[1-9][0-9]*$ ]] || die "PROCS must be a positive integer"
[[ $COUNT =~ ^[0-9]+$ ]] || die "COUNT must be an integer"
[[ $DOVECOT_IMAP_CLIENT_LIMIT =~ ^[1-9][0-9]*$ ]] || die "DOVECOT_IMAP_CLIENT_LIMIT must be a positive integer"
[[ -z $DOVECOT_HIBERNATE || $DOVECOT_HIBERNATE =~ ^[1-9][0-9]*$ ]] || die "DOVECOT_HIBERNATE must be seconds"
for s in $SERVERS; do
    [[ $s == twinmail || $s == twinmail-cheaphash || $s == dovecot ]] || die "unknown server $s"
done
TW_IMAP_LIMITS="max_connections = 20000
max_connections_per_ip = 20000
max_sessions_per_user = 20000"

bench_init

# Each client process needs CONNS/PROCS descriptors; twinmail needs CONNS + a few.
nofile=$(ulimit -n)
((CONNS / PROCS + 100 < nofile)) || die "CONNS/PROCS sessions per client process do not fit in ulimit -n $nofile: raise PROCS"
((CONNS + 200 < nofile)) || say "WARNING: twinmail's ulimit -n is $nofile, below CONNS + 200"
say "ulimit -n: $nofile (hard limit $(ulimit -Hn))"
inotify=$(cat /proc/sys/fs/inotify/max_user_instances 2>/dev/null || echo '?')

RESULTS="$WORK/idle-results.jsonl"
: >"$RESULTS"
FAILED=0
run_idle() { # NAME PORT PID NOTE
    local out
    quiet_check "$1 idle"
    say "$1: $CONNS sessions from $PROCS client processes"
    if out=$(python3 "$HERE/imapidle.py" run --name "$1" --port "$2" --server-pid "$3" --note "$4" \
        --user "$BENCH_USER" --password "$BENCH_PASS" --conns "$CONNS" --procs "$PROCS" --notify); then
        :
    else
        FAILED=1
    fi
    [[ -n $out ]] && printf '%s\n' "$out" >>"$RESULTS"
}

MAIL_ARGS=(--kind mixed --count "$COUNT" --seen-every 10)
DC_EXTRA=
for s in $SERVERS; do
    case $s in
    twinmail)
        start_twinmail twinmail "$TW_IMAP_LIMITS"
        say "twinmail: IMAP 127.0.0.1:$TW_IMAP_PORT (pid $TW_PID)"
        ((COUNT)) && load_mail "$TW_IMAP_PORT" twinmail "${MAIL_ARGS[@]}" >/dev/null
        run_idle twinmail "$TW_IMAP_PORT" "$TW_PID" "password hash: argon2id $TW_HASH cost"
        stop_twinmail
        ;;
    twinmail-cheaphash)
        # The same with the bench user's password hashed at argon2id's cheapest
        # cost: shows how much of twinmail's memory the logins' hashing leaves behind.
        saved=$TW_HASH
        TW_HASH=cheap
        start_twinmail twinmail-cheaphash "$TW_IMAP_LIMITS"
        TW_HASH=$saved
        say "twinmail-cheaphash: IMAP 127.0.0.1:$TW_IMAP_PORT (pid $TW_PID)"
        ((COUNT)) && load_mail "$TW_IMAP_PORT" twinmail-cheaphash "${MAIL_ARGS[@]}" >/dev/null
        run_idle twinmail-cheaphash "$TW_IMAP_PORT" "$TW_PID" "password hash: argon2id m=64 KiB, t=1"
        stop_twinmail
        ;;
    dovecot)
        # Room for CONNS imap processes and for their connections to Dovecot's
        # helper services (log, anvil, stats-writer, config, auth ...).
        procs=$((CONNS / DOVECOT_IMAP_CLIENT_LIMIT + 100))
        DC_EXTRA="default_client_limit = $((CONNS + 1000))
service imap {
  process_limit = $procs
  client_limit = $DOVECOT_IMAP_CLIENT_LIMIT
}"
        if [[ -n $DOVECOT_HIBERNATE ]]; then
            DC_EXTRA+="
imap_hibernate_timeout = ${DOVECOT_HIBERNATE}s
service imap-hibernate {
  unix_listener imap-hibernate {
    mode = 0660
    group = $(id -gn "$MAIL_USER")
  }
}
service imap {
  unix_listener imap-master {
    user = \$default_internal_user
  }
}"
        fi
        start_dovecot dovecot "$DC_EXTRA"
        say "dovecot: IMAP 127.0.0.1:$DC_IMAP_PORT (master pid $DC_PID)"
        if grep -q Warning "$DC_DIR/doveconf.err" 2>/dev/null; then
            say "doveconf warns:"
            cat "$DC_DIR/doveconf.err" >&2
        fi
        ((COUNT)) && load_mail "$DC_IMAP_PORT" dovecot "${MAIL_ARGS[@]}" >/dev/null
        note="imap client_limit $DOVECOT_IMAP_CLIENT_LIMIT, process_limit $procs"
        [[ -n $DOVECOT_HIBERNATE ]] && note+=", imap_hibernate_timeout ${DOVECOT_HIBERNATE}s"
        note+="; inotify max_user_instances $inotify"
        run_idle dovecot "$DC_IMAP_PORT" "$DC_PID" "$note"
        stop_dovecot_now
        ;;
    esac
done

echo
echo "IMAP idle sessions: $CONNS x (LOGIN, SELECT INBOX [$COUNT messages], IDLE) per server," \
    "$PROCS client processes, $(nproc) cores, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "dovecot $(dovecot --version 2>/dev/null | cut -d' ' -f1)"
echo
set +e
python3 "$HERE/imapidle.py" table "$RESULTS" | tee "$WORK/table.txt"
set -e
echo
echo "idling: sessions in IDLE at once; ramp s: seconds to set them all up; procs: server processes;"
echo "RSS MiB: VmRSS of the server's main process (twinmail: the server; Dovecot: its master);"
echo "RSS sum / PSS sum: over that process and all its children, MiB; before / after MiB: PSS sum"
echo "before the sessions opened and after they all closed; notify s: sessions that saw one new"
echo "message / idling, and the seconds until the last did; answers: a fresh session worked afterwards."
if [[ " $SERVERS " == *" dovecot "* ]]; then
    echo
    echo "Dovecot limits raised for this run (extra.conf):"
    printf '%s\n' "$DC_EXTRA" | sed 's/^/  /'
fi

if ((FAILED)); then
    echo "FAILED: not every session idled, or a server did not answer afterwards (see above)" >&2
    exit 1
fi
if [[ -n $STRICT ]] && grep -q 'MISSED' "$WORK/table.txt"; then
    exit 3
fi
exit 0
