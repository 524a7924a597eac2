#!/usr/bin/env bash
# POP3 download benchmark: twinmail side by side with Debian's Dovecot 2.3 pop3.
#
# Both servers run on 127.0.0.1 at once (idle but for the one being measured).
# The same COUNT messages of exactly SIZE bytes are APPENDed over IMAP to each
# server's INBOX (same bytes, same path; Dovecot stores Maildir with
# mail_fsync = always). Then, ROUNDS times and alternating servers, one POP3
# session (bench/mailtool.py pop3: raw socket, USER/PASS, STAT, RETR 1..COUNT
# one after the other, QUIT) downloads them all; the RETR loop is timed and
# every message is checked against what was appended (bytes and SHA-256).
#
# Usage (as root, from anywhere):
#   bench/pop3.sh
#   COUNT=100 ROUNDS=1 bench/pop3.sh        # a quick run
#
# Environment:
#   COUNT=1000     messages in each INBOX
#   SIZE=51200     bytes per message (headers included, CRLF line ends)
#   ROUNDS=5       POP3 sessions per server; the table shows each server's median
#   and those of bench/mailbench-lib.sh: TWINMAIL_BIN, KEEP, QUIET_WAIT, TW_HASH
#
# Exit status: 0 when every session got every message intact; 1 otherwise.
set -euo pipefail

BENCH_NAME=pop3
# shellcheck source=bench/mailbench-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/mailbench-lib.sh"

COUNT=${COUNT:-1000}
SIZE=${SIZE:-51200}
ROUNDS=${ROUNDS:-5}
[[ $COUNT =~ ^[1-9][0-9]*$ ]] || die "COUNT must be a positive integer"
[[ $SIZE =~ ^[1-9][0-9]*$ ]] || die "SIZE must be a positive integer"
((SIZE >= 512)) || die "SIZE must be at least 512"
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer"

bench_init

start_twinmail twinmail
start_dovecot dovecot
say "twinmail: POP3 127.0.0.1:$TW_POP3_PORT, IMAP 127.0.0.1:$TW_IMAP_PORT (pid $TW_PID)"
say "dovecot:  POP3 127.0.0.1:$DC_POP3_PORT, IMAP 127.0.0.1:$DC_IMAP_PORT (master pid $DC_PID)"

MAIL_ARGS=(--kind fixed --count "$COUNT" --size "$SIZE")
say "appending $COUNT x $SIZE bytes to twinmail"
tw_load=$(load_mail "$TW_IMAP_PORT" twinmail "${MAIL_ARGS[@]}")
say "  $(json_field "$tw_load" seconds) s"
say "appending $COUNT x $SIZE bytes to dovecot"
dc_load=$(load_mail "$DC_IMAP_PORT" dovecot "${MAIL_ARGS[@]}")
say "  $(json_field "$dc_load" seconds) s"
[[ $(json_field "$tw_load" sha256) == "$(json_field "$dc_load" sha256)" ]] || die "the two servers got different mail"

RESULTS="$WORK/pop3-results.jsonl"
: >"$RESULTS"
FAILED=0
run_pop3() { # NAME PORT PID
    local out
    quiet_check "$1 POP3 round $r"
    if out=$(python3 "$HERE/mailtool.py" pop3 --name "$1" --port "$2" --server-pid "$3" \
        --user "$BENCH_USER" --password "$BENCH_PASS" "${MAIL_ARGS[@]}"); then
        :
    else
        FAILED=1
    fi
    if [[ -z $out ]]; then
        FAILED=1
        say "$1 round $r: FAILED (no result)"
        return 0
    fi
    printf '%s\n' "$out" >>"$RESULTS"
    say "$1 round $r: $(json_field "$out" retr_seconds) s, $(json_field "$out" mb_per_s) MB/s, $(json_field "$out" bytes) bytes"
}
for ((r = 1; r <= ROUNDS; r++)); do
    # Alternate which server goes first, so neither always follows the other.
    if ((r % 2)); then
        run_pop3 twinmail "$TW_POP3_PORT" "$TW_PID"
        run_pop3 dovecot "$DC_POP3_PORT" "$DC_PID"
    else
        run_pop3 dovecot "$DC_POP3_PORT" "$DC_PID"
        run_pop3 twinmail "$TW_POP3_PORT" "$TW_PID"
    fi
done

stop_twinmail
stop_dovecot_now

echo
echo "POP3 download: $COUNT messages x $SIZE bytes, one session RETRing all," \
    "$(nproc) cores, $(date -u '+%Y-%m-%d %H:%M UTC'), median of $ROUNDS rounds"
echo "dovecot $(dovecot --version 2>/dev/null | cut -d' ' -f1) (Maildir, mail_fsync=always);" \
    "APPEND load: twinmail $(json_field "$tw_load" seconds) s, dovecot $(json_field "$dc_load" seconds) s"
echo
[[ -s $RESULTS ]] || die "no results"
python3 "$HERE/mailtool.py" table-pop3 "$RESULTS"
echo
echo "seconds: the RETR loop of one session (login excluded); MB/s: retrieved bytes (10^6) per second;"
echo "x dcot: throughput relative to dovecot; srv cpu / cli cpu: CPU seconds of the server"
echo "(Dovecot: all its processes) and of the client over the whole session."
echo "bytes: retrieved and dot-unstuffed, checked equal to what was appended (and SHA-256 per message)."

if ((FAILED)); then
    echo "VERIFICATION FAILED (see above)" >&2
    exit 1
fi
exit 0
