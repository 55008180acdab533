"""A mock of the HashiCorp Vault (and OpenBao) transit engine, for tests.

Serves `PUT` (and `POST`) `/v1/<engine path>/encrypt/<key>` and
`/v1/<engine path>/decrypt/<key>` the way Vault does: JSON bodies
`{"plaintext": <base64>}` / `{"ciphertext": "vault:v1:..."}`, answers
`{"data": {...}}`, errors `{"errors": ["..."]}`.

Ciphertexts are keyed by the server secret (`--secret`) and bound to the
engine path and key name, so files encrypted by one client decrypt with any
other talking to a mock with the same secret, and a ciphertext presented to
another key fails like Vault's ("cipher: message authentication failed").
The construction (HMAC-SHA256 keystream and tag) is test scaffolding only.

Options:
  --token T        the token every request must carry in X-Vault-Token
  --namespace NS   require X-Vault-Namespace: NS
  --status N       answer every transit request with HTTP status N
  --delay S        sleep S seconds before answering
  --tls CERT KEY   serve HTTPS with this certificate and key
  --client-ca CA   (with --tls) require a client certificate signed by CA
  --log PATH       append one JSON line per request (method, path, headers)
  --kv MOUNT:VERSION  also serve a KV secrets engine (1 or 2) at MOUNT
                   (repeatable), for `publish`
  --kv-dump PATH   after each KV write, write every KV secret (and how many
                   times each was written) to PATH as JSON
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import ssl
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mockhttp  # noqa: E402

ARGS = None


def keystream(secret, label, nonce, length):
    out = b""
    counter = 0
    while len(out) < length:
        out += hmac.new(secret, label + nonce + counter.to_bytes(4, "big"), hashlib.sha256).digest()
        counter += 1
    return out[:length]


def seal(secret, label, plaintext):
    nonce = os.urandom(16)
    body = bytes(a ^ b for a, b in zip(plaintext, keystream(secret, label, nonce, len(plaintext))))
    tag = hmac.new(secret, b"tag" + label + nonce + body, hashlib.sha256).digest()[:16]
    return "vault:v1:" + base64.b64encode(nonce + body + tag).decode()


def unseal(secret, label, ciphertext):
    if not ciphertext.startswith("vault:v1:"):
        raise ValueError("invalid ciphertext: no prefix")
    raw = base64.b64decode(ciphertext[len("vault:v1:"):], validate=True)
    if len(raw) < 32:
        raise ValueError("invalid ciphertext: too short")
    nonce, body, tag = raw[:16], raw[16:-16], raw[-16:]
    want = hmac.new(secret, b"tag" + label + nonce + body, hashlib.sha256).digest()[:16]
    if not hmac.compare_digest(tag, want):
        raise PermissionError("cipher: message authentication failed")
    return bytes(a ^ b for a, b in zip(body, keystream(secret, label, nonce, len(body))))


# KV secrets: {(mount, path): {"data": {...}, "writes": n}}.
KV = {}


def kv_route(raw_path):
    """(mount, version, secret path) of a KV request, or None."""
    parts = raw_path.split("?", 1)[0].strip("/").split("/")
    if len(parts) < 3 or parts[0] != "v1":
        return None
    for spec in ARGS.kv:
        mount, version = spec.rsplit(":", 1)
        mount_parts = mount.strip("/").split("/")
        n = len(mount_parts)
        if parts[1:1 + n] != mount_parts:
            continue
        rest = parts[1 + n:]
        if version == "2":
            if len(rest) < 2 or rest[0] != "data":
                return None
            rest = rest[1:]
        return mount, int(version), "/".join(rest)
    return None


def kv_dump():
    if not ARGS.kv_dump:
        return
    out = {f"{m}:{p}": v for (m, p), v in KV.items()}
    tmp = ARGS.kv_dump + ".tmp"
    with open(tmp, "w") as f:
        json.dump(out, f)
    os.replace(tmp, ARGS.kv_dump)


def kv_read(handler, route):
    mount, version, path = route
    secret = KV.get((mount, path))
    if secret is None:
        return handler.errors(404)
    if version == 1:
        return handler.send_json(200, {"data": secret["data"]})
    meta = {"version": secret["writes"], "destroyed": False}
    return handler.send_json(200, {"data": {"data": secret["data"], "metadata": meta}})


def kv_write(handler, route, body):
    mount, version, path = route
    if version == 2:
        if not isinstance(body.get("data"), dict):
            return handler.errors(400, "no data provided")
        data = body["data"]
    else:
        data = body
    secret = KV.setdefault((mount, path), {"data": None, "writes": 0})
    secret["data"] = data
    secret["writes"] += 1
    kv_dump()
    if version == 1:
        handler.send_response(204)
        handler.send_header("Content-Length", "0")
        handler.end_headers()
        return None
    return handler.send_json(200, {"data": {"version": secret["writes"]}})


class Handler(mockhttp.JsonHandler):
    def log_request_line(self):
        if ARGS.log:
            entry = {
                "method": self.command,
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
            }
            with open(ARGS.log, "a") as f:
                f.write(json.dumps(entry) + "\n")

    def errors(self, status, *messages):
        self.send_json(status, {"errors": list(messages)})

    def do_PUT(self):
        self.log_request_line()
        try:
            body = self.read_json()
        except ValueError:
            return self.errors(400, "failed to parse JSON input")
        if ARGS.delay:
            time.sleep(ARGS.delay)
        if ARGS.status:
            if ARGS.status >= 500:
                return self.errors(ARGS.status, "internal error")
            return self.errors(ARGS.status, "permission denied")
        if self.headers.get("X-Vault-Token") != ARGS.token:
            return self.errors(403, "permission denied")
        if ARGS.namespace is not None and self.headers.get("X-Vault-Namespace") != ARGS.namespace:
            return self.errors(403, "permission denied (namespace)")
        route = kv_route(self.path)
        if route is not None:
            return kv_write(self, route, body)
        parts = self.path.split("?", 1)[0].strip("/").split("/")
        if len(parts) < 4 or parts[0] != "v1" or parts[-2] not in ("encrypt", "decrypt"):
            return self.errors(404, "no handler for route " + repr(self.path))
        engine, op, key = "/".join(parts[1:-2]), parts[-2], parts[-1]
        label = (engine + "\0" + key).encode()
        secret = ARGS.secret.encode()
        if op == "encrypt":
            try:
                plaintext = base64.b64decode(body.get("plaintext", ""), validate=True)
            except ValueError:
                return self.errors(400, "failed to base64-decode plaintext")
            return self.send_json(200, {"data": {"ciphertext": seal(secret, label, plaintext), "key_version": 1}})
        try:
            plaintext = unseal(secret, label, body.get("ciphertext", ""))
        except PermissionError as e:
            return self.errors(400, str(e))
        except ValueError as e:
            return self.errors(400, str(e))
        return self.send_json(200, {"data": {"plaintext": base64.b64encode(plaintext).decode()}})

    do_POST = do_PUT

    def do_GET(self):
        self.log_request_line()
        if ARGS.status:
            return self.errors(ARGS.status, "internal error")
        if self.headers.get("X-Vault-Token") != ARGS.token:
            return self.errors(403, "permission denied")
        route = kv_route(self.path)
        if route is None:
            return self.errors(404, "no handler for route " + repr(self.path))
        return kv_read(self, route)


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--token", default="test-token")
    p.add_argument("--secret", default="vault-mock-secret")
    p.add_argument("--namespace")
    p.add_argument("--status", type=int, default=0)
    p.add_argument("--delay", type=float, default=0)
    p.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    p.add_argument("--client-ca")
    p.add_argument("--log")
    p.add_argument("--kv", action="append", default=[])
    p.add_argument("--kv-dump")
    ARGS = p.parse_args()
    if ARGS.tls and ARGS.client_ca:
        serve_mutual_tls(ARGS.tls[0], ARGS.tls[1], ARGS.client_ca)
    elif ARGS.tls:
        mockhttp.serve(Handler, ARGS.tls[0], ARGS.tls[1])
    else:
        mockhttp.serve(Handler)


def serve_mutual_tls(cert, key, client_ca):
    import http.server

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(client_ca)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print("PORT", server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
