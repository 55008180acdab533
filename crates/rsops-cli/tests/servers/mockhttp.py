"""Shared plumbing of the mock HTTP servers used by the integration tests.

A mock defines a `http.server.BaseHTTPRequestHandler` subclass and calls
`serve(handler)`: the server binds 127.0.0.1 on a free port, prints
`PORT <n>` once it accepts connections (the test harness waits for that
line), and serves until it is killed. Run on its own, this module serves
`GET /health` only, which is what its self-test uses.
"""

import http.server
import json
import ssl
import sys


class JsonHandler(http.server.BaseHTTPRequestHandler):
    """A request handler with JSON helpers and quiet logging."""

    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # noqa: D401 - keep test output clean
        sys.stderr.write("mock: " + (fmt % args) + "\n")

    def read_json(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        return json.loads(body) if body else {}

    def send_json(self, status, obj, headers=None):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)


class HealthHandler(JsonHandler):
    def do_GET(self):
        if self.path == "/health":
            self.send_json(200, {"ok": True})
        else:
            self.send_json(404, {"error": "not found"})


def serve(handler, certfile=None, keyfile=None):
    """Serves `handler` on 127.0.0.1 (HTTPS when a certificate is given)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    if certfile:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(certfile, keyfile)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print("PORT", server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    serve(HealthHandler)
