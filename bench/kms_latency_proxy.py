"""An HTTP proxy that adds a fixed delay to every request: stands in for
the round trip to a remote AWS KMS in the many-files benchmark.

Usage: kms_latency_proxy.py UPSTREAM_URL DELAY_MS

Listens on a free loopback port, prints `PORT <n>`, and forwards each
request to UPSTREAM_URL (e.g. moto) after sleeping DELAY_MS. Counts the
requests; `GET /__stats` returns the count.
"""

import http.client
import http.server
import sys
import threading
import time
import urllib.parse

UPSTREAM = urllib.parse.urlsplit(sys.argv[1])
DELAY = float(sys.argv[2]) / 1000.0
LOCK = threading.Lock()
COUNT = [0]
LOCAL = threading.local()


def upstream():
    conn = getattr(LOCAL, "conn", None)
    if conn is None:
        conn = http.client.HTTPConnection(UPSTREAM.hostname, UPSTREAM.port, timeout=60)
        LOCAL.conn = conn
    return conn


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Without TCP_NODELAY, the body written after the headers waits for
    # the client's delayed ACK of the headers (up to 40 ms on Linux) on
    # every reused connection: a second, hidden latency that would hit
    # clients keeping connections alive and not those opening a new one.
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        if self.path == "/__stats":
            with LOCK:
                body = str(COUNT[0]).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.forward()

    def do_POST(self):
        self.forward()

    def forward(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        with LOCK:
            COUNT[0] += 1
        time.sleep(DELAY)
        headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
        for attempt in range(2):
            try:
                conn = upstream()
                conn.request(self.command, self.path, body=body, headers=headers)
                reply = conn.getresponse()
                data = reply.read()
                break
            except (http.client.HTTPException, OSError):
                LOCAL.conn = None
                if attempt:
                    raise
        self.send_response(reply.status)
        for k, v in reply.getheaders():
            if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


if __name__ == "__main__":
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    print("PORT", server.server_address[1], flush=True)
    server.serve_forever()
