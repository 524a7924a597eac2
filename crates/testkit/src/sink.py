"""A recording SMTP sink for twinmail's outbound tests: aiosmtpd on 127.0.0.1, port 0.

Prints its port on the first line of stdout, then appends one JSON line per accepted
message to --log: the envelope, whether TLS was on, and the bytes exactly as received
after un-stuffing (base64). Behaviour for tests:
  --tls CERT KEY        offer STARTTLS with this certificate
  --reject ADDR         answer RCPT TO:<ADDR> with 550 5.1.1 (repeatable)
  --tempfail N          answer the first N RCPTs with 451 4.3.0
  --port P              listen on P instead of any free port
"""
import argparse, asyncio, base64, json, ssl, sys

from aiosmtpd.smtp import SMTP

p = argparse.ArgumentParser()
p.add_argument("--log", required=True)
p.add_argument("--tls", nargs=2)
p.add_argument("--reject", action="append", default=[])
p.add_argument("--tempfail", type=int, default=0)
p.add_argument("--port", type=int, default=0)
args = p.parse_args()
state = {"tempfail": args.tempfail}


class Recorder:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in args.reject:
            return "550 5.1.1 No such user here"
        if state["tempfail"] > 0:
            state["tempfail"] -= 1
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        record = {
            "from": envelope.mail_from,
            "rcpts": envelope.rcpt_tos,
            "tls": session.ssl is not None,
            "data": base64.b64encode(envelope.original_content).decode(),
        }
        with open(args.log, "a") as f:
            f.write(json.dumps(record) + "\n")
        return "250 2.0.0 Ok: recorded"


async def main():
    ctx = None
    if args.tls:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(args.tls[0], args.tls[1])
    handler = Recorder()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, tls_context=ctx, decode_data=False, enable_SMTPUTF8=True,
                     hostname="sink.test"),
        "127.0.0.1", args.port)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()

asyncio.run(main())
