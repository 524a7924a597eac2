#!/usr/bin/env bash
# IMAP load benchmark: twinmail side by side with Debian's Dovecot 2.3 imap.
#
# Both servers run on 127.0.0.1 at once (idle but for the one being measured).
# The same COUNT messages (2-50 KB, log-uniform sizes; about a third multipart:
# text+html alternatives and base64 attachments; all but every 10th \Seen) are
# APPENDed over IMAP to each server's INBOX, in the same order (Dovecot:
# Maildir, mail_fsync = always, as durable as twinmail's SQLite commits).
# Then bench/imapload.py runs CLIENTS concurrent sessions for DURATION seconds
# against each server in turn (ROUNDS times, alternating which goes first):
# SELECT; UID FETCH 20 x (FLAGS ENVELOPE); UID FETCH BODY.PEEK[]; UID STORE
# +FLAGS/-FLAGS \Flagged; UID SEARCH UNSEEN; APPEND; UID STORE +FLAGS \Deleted;
# UID EXPUNGE. Every command is an op. Prints ops/s, p50/p99 latency and the
# ratio twinmail/dovecot (target >= 1), and per-command latencies.
#
# Then SORT and THREAD: SORT_COUNT messages of bench/imapclient.py's thread corpus
# (replies with References and In-Reply-To, Re:/Fwd:/[list] subjects, random dates)
# are APPENDed to a mailbox "Threads" on each server, and bench/imapsort.py times
# SORT (ARRIVAL), (DATE), (SUBJECT), (FROM) and THREAD REFERENCES once cold and
# SORT_REPS times warm on each, checks both servers gave the same answers, and
# prints the times and Dovecot's warm time over twinmail's (target >= 1).
#
# Usage (as root, from anywhere):
#   bench/imap.sh
#   COUNT=200 DURATION=5 ROUNDS=1 bench/imap.sh     # a quick run
#
# Environment:
#   COUNT=2000     messages in each INBOX
#   CLIENTS=10     concurrent IMAP sessions
#   DURATION=30    seconds per run
#   ROUNDS=3       runs per server; the table shows each server's median run
#                  (0: no load runs, only the SORT/THREAD part)
#   SORT_COUNT=20000  messages in "Threads" for SORT/THREAD (0: skip that part)
#   SORT_REPS=5    warm repeats of each SORT/THREAD command
#   and those of bench/mailbench-lib.sh: TWINMAIL_BIN, KEEP, QUIET_WAIT, TW_HASH
#   STRICT=1       exit 3 when twinmail/dovecot < 1 (default: report only)
#
# Exit status: 0 when every command succeeded and both mailboxes ended as they
# began; 1 otherwise; 3 with STRICT=1 when the target is missed.
set -euo pipefail

BENCH_NAME=imap
# shellcheck source=bench/mailbench-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/mailbench-lib.sh"

COUNT=${COUNT:-2000}
CLIENTS=${CLIENTS:-10}
DURATION=${DURATION:-30}
ROUNDS=${ROUNDS:-3}
SORT_COUNT=${SORT_COUNT:-20000}
SORT_REPS=${SORT_REPS:-5}
STRICT=${STRICT:-}
if ! [[ $COUNT =~ ^[1-9][0-9]*$ ]] || ((COUNT < 20)); then die "COUNT must be an integer >= 20"; fi
[[ $CLIENTS =~ ^[1-9][0-9]*$ ]] || die "CLIENTS must be a positive integer"
[[ $DURATION =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "DURATION must be a number of seconds"
[[ $ROUNDS =~ ^[0-9]+$ ]] || die "ROUNDS must be a number"
[[ $SORT_COUNT =~ ^[0-9]+$ ]] || die "SORT_COUNT must be a number"
[[ $SORT_REPS =~ ^[1-9][0-9]*$ ]] || die "SORT_REPS must be a positive integer"
((ROUNDS + SORT_COUNT > 0)) || die "nothing to do with ROUNDS=0 and SORT_COUNT=0"

bench_init

start_twinmail twinmail "max_connections = 20000
max_connections_per_ip = 20000
max_sessions_per_user = 20000"
start_dovecot dovecot
say "twinmail: IMAP 127.0.0.1:$TW_IMAP_PORT (pid $TW_PID)"
say "dovecot:  IMAP 127.0.0.1:$DC_IMAP_PORT (master pid $DC_PID)"

if ((ROUNDS > 0)); then
    MAIL_ARGS=(--kind mixed --count "$COUNT" --seen-every 10)
    say "appending $COUNT mixed messages to twinmail"
    tw_load=$(load_mail "$TW_IMAP_PORT" twinmail "${MAIL_ARGS[@]}")
    say "  $(json_field "$tw_load" seconds) s, $(json_field "$tw_load" bytes) bytes"
    say "appending $COUNT mixed messages to dovecot"
    dc_load=$(load_mail "$DC_IMAP_PORT" dovecot "${MAIL_ARGS[@]}")
    say "  $(json_field "$dc_load" seconds) s"
    [[ $(json_field "$tw_load" sha256) == "$(json_field "$dc_load" sha256)" ]] || die "the two servers got different mail"
fi

RESULTS="$WORK/imap-results.jsonl"
: >"$RESULTS"
FAILED=0
run_load() { # NAME PORT PID
    local out
    quiet_check "$1 IMAP round $r"
    say "$1 round $r: $CLIENTS clients for $DURATION s"
    if out=$(python3 "$HERE/imapload.py" run --name "$1" --port "$2" --server-pid "$3" \
        --user "$BENCH_USER" --password "$BENCH_PASS" --clients "$CLIENTS" --duration "$DURATION"); then
        :
    else
        FAILED=1
    fi
    if [[ -n $out ]]; then
        printf '%s\n' "$out" >>"$RESULTS"
        say "$1 round $r: $(json_field "$out" ops_per_s) ops/s, p50 $(json_field "$out" p50_ms) ms, p99 $(json_field "$out" p99_ms) ms"
    fi
}
for ((r = 1; r <= ROUNDS; r++)); do
    if ((r % 2)); then
        run_load twinmail "$TW_IMAP_PORT" "$TW_PID"
        run_load dovecot "$DC_IMAP_PORT" "$DC_PID"
    else
        run_load dovecot "$DC_IMAP_PORT" "$DC_PID"
        run_load twinmail "$TW_IMAP_PORT" "$TW_PID"
    fi
done

SORT_TABLE=
if ((SORT_COUNT > 0)); then
    SORT_ARGS=(--kind thread --count "$SORT_COUNT" --mailbox Threads)
    say "appending $SORT_COUNT threaded messages to twinmail's Threads"
    tw_sort=$(load_mail "$TW_IMAP_PORT" twinmail "${SORT_ARGS[@]}")
    say "  $(json_field "$tw_sort" seconds) s"
    say "appending $SORT_COUNT threaded messages to dovecot's Threads"
    dc_sort=$(load_mail "$DC_IMAP_PORT" dovecot "${SORT_ARGS[@]}")
    say "  $(json_field "$dc_sort" seconds) s"
    [[ $(json_field "$tw_sort" sha256) == "$(json_field "$dc_sort" sha256)" ]] || die "the two servers got different mail"
    for server in twinmail dovecot; do
        quiet_check "$server SORT/THREAD"
        port=$TW_IMAP_PORT
        [[ $server == dovecot ]] && port=$DC_IMAP_PORT
        say "$server: SORT/THREAD, once cold and $SORT_REPS times warm"
        python3 "$HERE/imapsort.py" run --name "$server" --port "$port" --user "$BENCH_USER" \
            --password "$BENCH_PASS" --mailbox Threads --reps "$SORT_REPS" >"$WORK/sort-$server.json" ||
            FAILED=1
    done
    if [[ -s $WORK/sort-twinmail.json && -s $WORK/sort-dovecot.json ]]; then
        SORT_TABLE=$(python3 "$HERE/imapsort.py" table "$WORK/sort-twinmail.json" "$WORK/sort-dovecot.json")
    fi
fi

stop_twinmail
stop_dovecot_now

if ((ROUNDS > 0)); then
[[ -s $RESULTS ]] || die "no results"
echo
echo "IMAP load: $COUNT messages ($(json_field "$tw_load" bytes) bytes) in INBOX, $CLIENTS clients x" \
    "${DURATION} s, $(nproc) cores, $(date -u '+%Y-%m-%d %H:%M UTC'), median of $ROUNDS rounds"
echo "dovecot $(dovecot --version 2>/dev/null | cut -d' ' -f1) (Maildir, mail_fsync=always);" \
    "APPEND load (1 session): twinmail $(json_field "$tw_load" seconds) s, dovecot $(json_field "$dc_load" seconds) s"
echo
set +e
python3 "$HERE/imapload.py" table "$RESULTS" | tee "$WORK/table.txt"
set -e
echo
echo "ops: commands completed (9 per loop); p50/p99: latency over all commands, ms;"
echo "srv cpu: CPU seconds of the server (Dovecot: all its processes) over the run;"
echo "gen cpu: CPU seconds of the load generator's clients; busy% / iow%: whole machine busy / in"
echo "iowait over the run, of $(($(nproc) * 100))%; x dcot: ops/s relative to dovecot."
fi
if [[ -n $SORT_TABLE ]]; then
    echo
    echo "$SORT_TABLE"
    if [[ -n $STRICT ]] && awk 'NR > 3 && $(NF - 1) + 0 < 1 && $(NF - 1) ~ /^[0-9.]+$/ { bad = 1 } END { exit !bad }' <<<"$SORT_TABLE"; then
        echo "SORT/THREAD: MISSED (twinmail slower than dovecot)" >>"$WORK/table.txt"
    fi
fi

if ((FAILED)); then
    echo "FAILED: a command failed or a mailbox did not end as it began (see above)" >&2
    exit 1
fi
if [[ -n $STRICT ]] && grep -q 'MISSED' "$WORK/table.txt"; then
    exit 3
fi
exit 0
