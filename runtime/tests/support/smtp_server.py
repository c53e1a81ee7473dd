"""An SMTP server for the runtime's mail tests (runtime/tests/mail.rs):
aiosmtpd (PyPI) on 127.0.0.1, on a free port.

It prints one JSON line per event to stdout *before* it answers the
client, so a test that awaited the client's send can read what the server
saw:

    {"port": N}                                   listening (the first line)
    {"event": "rcpt", "address": "...", "answer": "250 OK"}
    {"event": "message", "mail_from": "...", "rcpt_tos": [...],
     "login": "user" | null, "password": "..." | null,
     "subject": "...", "from": "...", "to": "...", "message_id": "...",
     "content_type": "multipart/alternative",
     "text": "...", "html": "...", "html_unescaped": "..."}

The parts are read with Python's own MIME parser (`email`, policy
`default`), so a test asserts what a mail client would show.

How it answers a recipient is chosen by the address's local part:
    tempfail-once@...   451 the first time, 250 after
    reject@...          550 always
    anything else       250

Usage: python smtp_server.py [--auth]   (--auth: offer AUTH PLAIN/LOGIN
over plain text and accept any login, recording it)
"""

import asyncio
import email
import email.policy
import html
import json
import sys

from aiosmtpd.smtp import SMTP, AuthResult

SEEN = set()


def emit(record):
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()


def part(message, kind):
    body = message.get_body(preferencelist=(kind,))
    return None if body is None else body.get_content().replace("\r\n", "\n")


class Handler:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0]
        if local == "reject":
            answer = "550 5.1.1 no such mailbox here"
        elif local == "tempfail-once" and address not in SEEN:
            SEEN.add(address)
            answer = "451 4.3.0 try again later"
        else:
            envelope.rcpt_tos.append(address)
            answer = "250 OK"
        emit({"event": "rcpt", "address": address, "answer": answer})
        return answer

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        login = getattr(session, "auth_data", None)
        markup = part(message, "html")
        emit(
            {
                "event": "message",
                "mail_from": envelope.mail_from,
                "rcpt_tos": envelope.rcpt_tos,
                "login": login.login.decode() if login else None,
                "password": login.password.decode() if login else None,
                "subject": str(message["subject"]),
                "from": str(message["from"]),
                "to": str(message["to"]),
                "message_id": str(message["message-id"]),
                "content_type": message.get_content_type(),
                "text": part(message, "plain"),
                "html": markup,
                "html_unescaped": None if markup is None else html.unescape(markup),
            }
        )
        return "250 2.0.0 accepted"


def accept_any(server, session, envelope, mechanism, auth_data):
    return AuthResult(success=True, auth_data=auth_data)


async def main():
    auth = "--auth" in sys.argv[1:]
    options = {"authenticator": accept_any, "auth_require_tls": False} if auth else {}
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(Handler(), hostname="rookery-test-smtp", **options), host="127.0.0.1", port=0
    )
    emit({"port": server.sockets[0].getsockname()[1]})
    await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
