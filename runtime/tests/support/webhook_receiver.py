"""A webhook receiver for the runtime's tests (runtime/tests/webhooks.rs).

Verifies every POST with the official Standard Webhooks library,
`standardwebhooks.Webhook(secret).verify(body, headers)`, once for each
secret it was given (each `Webhook` knows that one secret only), and
prints one JSON line per request to stdout *before* it answers:

    {"path": "/ok", "verified": {"new": true, "old": false},
     "errors": {"old": "No matching signature found"},
     "headers": {"webhook-id": ...}, "payload": {...}}

The first line is {"port": N}: it is listening on 127.0.0.1:N.

More secrets can be given on stdin, one `NAME=whsec_...` a line (an
endpoint's secret is made by the app under test, after the receiver
started); each is acknowledged with {"secret": NAME} on stdout.

How it answers is chosen by the path:
    /ok/...            200 "ok"
    /status/<code>     <code> "status <code>"
    /sleep/<seconds>   waits, then 200
    /hang              never answers (holds the connection open)
    /redirect          302 to /ok/redirected
    /big               200 with a 1 MiB body
    /fail/<n>/...      500 to the first <n> requests to that path, then 200

Usage: python webhook_receiver.py NAME=whsec_... [NAME=whsec_... ...]
"""

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook

SECRETS = {}
PRINT = threading.Lock()
# Requests seen per path, for /fail/<n>/...
SEEN = {}


def emit(record):
    with PRINT:
        sys.stdout.write(json.dumps(record) + "\n")
        sys.stdout.flush()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body, extra=()):
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        headers = {k.lower(): v for k, v in self.headers.items()}
        verified, errors, payload = {}, {}, None
        with PRINT:
            secrets = dict(SECRETS)
        for name, secret in secrets.items():
            try:
                payload = Webhook(secret).verify(body, headers)
                verified[name] = True
            except Exception as e:  # the library's verification errors
                verified[name] = False
                errors[name] = str(e)
        emit(
            {
                "path": self.path,
                "verified": verified,
                "errors": errors,
                "headers": {k: v for k, v in headers.items() if k.startswith("webhook-")},
                "user_agent": headers.get("user-agent"),
                "payload": payload,
            }
        )
        try:
            self.behave()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the sender gave up first: what the timeout tests expect

    def behave(self):
        parts = self.path.strip("/").split("/")
        if parts[0] == "status":
            code = int(parts[1])
            self.answer(code, f"status {code}".encode(), [("Retry-After", "7")] if code == 503 else ())
        elif parts[0] == "sleep":
            time.sleep(float(parts[1]))
            self.answer(200, b"late")
        elif parts[0] == "hang":
            threading.Event().wait()
        elif parts[0] == "redirect":
            self.answer(302, b"", [("Location", "/ok/redirected")])
        elif parts[0] == "big":
            self.answer(200, b"x" * (1 << 20))
        elif parts[0] == "fail":
            with PRINT:
                SEEN[self.path] = SEEN.get(self.path, 0) + 1
                seen = SEEN[self.path]
            if seen <= int(parts[1]):
                self.answer(500, f"failure {seen}".encode())
            else:
                self.answer(200, b"ok")
        else:
            self.answer(200, b"ok")


def read_secrets():
    for line in sys.stdin:
        line = line.strip()
        if "=" in line:
            name, secret = line.split("=", 1)
            with PRINT:
                SECRETS[name] = secret
            emit({"secret": name})


def main():
    for arg in sys.argv[1:]:
        name, secret = arg.split("=", 1)
        SECRETS[name] = secret
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    emit({"port": server.server_address[1]})
    threading.Thread(target=read_secrets, daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
