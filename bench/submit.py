"""Submits MESSAGES messages of SIZE bytes over SESSIONS parallel SMTP sessions (one
connection each, STARTTLS, optional AUTH PLAIN); prints the seconds it took.

Used by bench/outbound.sh for both twinmail and Postfix.
usage: submit.py HOST PORT MESSAGES SESSIONS SIZE FROM RCPT [USER PASSWORD]
"""
import smtplib, ssl, sys, threading, time

host, port, total, sessions, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
sender, rcpt = sys.argv[6], sys.argv[7]
login = sys.argv[8:10] if len(sys.argv) > 9 else None
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
body = ("x" * 76 + "\r\n") * (size // 78)
errors = []


def worker(first, count):
    try:
        s = smtplib.SMTP(host, port, timeout=120)
        s.starttls(context=ctx)
        if login:
            s.login(*login)
        for i in range(first, first + count):
            msg = "From: %s\r\nTo: %s\r\nSubject: bench %d\r\nMessage-ID: <bench.%d@example.com>\r\n\r\n%s" % (
                sender, rcpt, i, i, body)
            s.sendmail(sender, [rcpt], msg.encode())
        s.quit()
    except Exception as e:  # noqa: BLE001 -- reported and counted as a failure
        errors.append(repr(e))


per = total // sessions
threads = [threading.Thread(target=worker, args=(k * per, per + (total % sessions if k == sessions - 1 else 0)))
           for k in range(sessions)]
t0 = time.monotonic()
for t in threads:
    t.start()
for t in threads:
    t.join()
print("%.3f" % (time.monotonic() - t0))
if errors:
    print("errors: %d, first: %s" % (len(errors), errors[0]), file=sys.stderr)
    sys.exit(1)
