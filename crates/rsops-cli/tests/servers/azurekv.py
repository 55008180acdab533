"""A mock Azure Key Vault (keys: get, encrypt, decrypt with RSA-OAEP-256)
with an App Service managed-identity token endpoint, for rsops and the
reference sops.

    azurekv.py --dir DIR [--tenant T] [--slow SECONDS]

Serves HTTPS on 127.0.0.1 with a certificate (SAN IP:127.0.0.1) from a
test CA written to DIR/ca.pem (clients trust it with `SSL_CERT_FILE`).
Key URLs are `https://127.0.0.1:PORT/keys/NAME[/VERSION]`.

Authentication is Key Vault's challenge: a request without token gets
`401` with `WWW-Authenticate: Bearer authorization="https://login.
microsoftonline.com/TENANT", resource="https://0.0.1:PORT"` (the Go and
Rust clients require the vault's host to end with "." + the resource's
host, and 127.0.0.1:PORT ends with .0.0.1:PORT). Tokens come from
`GET /msi/token?api-version=2019-08-01&resource=…` with header
`X-IDENTITY-HEADER: DIR's identity header` (an App Service managed
identity: `IDENTITY_ENDPOINT=https://127.0.0.1:PORT/msi/token`,
`IDENTITY_HEADER=test-identity-header`). Every request is logged to
DIR/requests.log.

Each key NAME gets a TEST-ONLY RSA 2048 key with one version on first
use. Names behave: `denied` → 403 Forbidden, `broken` → 500, `slow` →
answers after --slow seconds, `missing` → 404 KeyNotFound.
"""

import argparse
import base64
import os
import secrets
import sys
import threading
import time
import urllib.parse

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mockhttp  # noqa: E402
import testca  # noqa: E402

IDENTITY_HEADER = "test-identity-header"
ARGS = None
TOKEN = "mock-kv-token-" + secrets.token_hex(8)
KEYS = {}  # name -> (version, private key)
LOCK = threading.Lock()


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def key_for(name):
    with LOCK:
        if name not in KEYS:
            KEYS[name] = (secrets.token_hex(16), rsa.generate_private_key(65537, 2048))
        return KEYS[name]


OAEP = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


class Handler(mockhttp.JsonHandler):
    @property
    def port(self):
        return self.server.server_address[1]

    def log_line(self, note):
        with LOCK, open(os.path.join(ARGS.dir, "requests.log"), "a") as f:
            f.write(f"{self.command} {self.path} {note}\n")

    def kv_error(self, status, code, message):
        self.send_json(status, {"error": {"code": code, "message": message}})

    def authorised(self):
        auth = self.headers.get("Authorization", "")
        if auth == "Bearer " + TOKEN:
            return True
        self.log_line("challenge" if not auth else "bad-token")
        body = b'{"error":{"code":"Unauthorized","message":"AKV10000: Request is missing a Bearer or PoP token."}}'
        # Drain any body the client sent.
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.send_response(401)
        self.send_header(
            "WWW-Authenticate",
            f'Bearer authorization="https://login.microsoftonline.com/{ARGS.tenant}", '
            f'resource="https://0.0.1:{self.port}"',
        )
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        return False

    def route(self):
        """(name, version, operation) of /keys/NAME[/VERSION[/OP]]."""
        path = urllib.parse.urlparse(self.path).path
        parts = [p for p in path.split("/") if p != ""]
        if len(parts) < 2 or parts[0] != "keys":
            return None
        return parts[1], (parts[2] if len(parts) > 2 else ""), (parts[3] if len(parts) > 3 else "")

    def misbehave(self, name):
        if name == "denied":
            self.kv_error(403, "Forbidden", "The user, group or application does not have keys encrypt permission on key vault.")
            return True
        if name == "broken":
            self.kv_error(500, "InternalServerError", "Mock internal error.")
            return True
        if name == "missing":
            self.kv_error(404, "KeyNotFound", f"A key with (name/id) {name} was not found in this key vault.")
            return True
        if name == "slow":
            time.sleep(ARGS.slow)
        return False

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        if url.path == "/msi/token":
            self.log_line("msi")
            q = urllib.parse.parse_qs(url.query)
            if self.headers.get("X-IDENTITY-HEADER") != IDENTITY_HEADER:
                return self.send_json(401, {"error": "bad identity header"})
            resource = q.get("resource", [""])[0]
            if resource != f"https://0.0.1:{self.port}":
                return self.send_json(400, {"error": f"unexpected resource {resource}"})
            return self.send_json(200, {
                "access_token": TOKEN,
                "expires_on": str(int(time.time()) + 3600),
                "resource": resource,
                "token_type": "Bearer",
                "client_id": "00000000-0000-0000-0000-000000000000",
            })
        if not self.authorised():
            return
        self.log_line("authorised")
        r = self.route()
        if r is None or r[2]:
            return self.kv_error(404, "NotFound", "unknown path")
        name, version, _ = r
        if self.misbehave(name):
            return
        ver, key = key_for(name)
        if version and version != ver:
            return self.kv_error(404, "KeyNotFound", f"no version {version} of {name}")
        nums = key.public_key().public_numbers()
        n = nums.n.to_bytes((nums.n.bit_length() + 7) // 8, "big")
        self.send_json(200, {
            "key": {
                "kid": f"https://127.0.0.1:{self.port}/keys/{name}/{ver}",
                "kty": "RSA",
                "key_ops": ["encrypt", "decrypt"],
                "n": b64u(n),
                "e": b64u(nums.e.to_bytes(3, "big")),
            },
            "attributes": {"enabled": True},
        })

    def do_POST(self):
        if not self.authorised():
            return
        self.log_line("authorised")
        r = self.route()
        body = self.read_json()
        if r is None or r[2] not in ("encrypt", "decrypt"):
            return self.kv_error(404, "NotFound", "unknown path")
        name, version, op = r
        if self.misbehave(name):
            return
        ver, key = key_for(name)
        if version != ver:
            return self.kv_error(404, "KeyNotFound", f"no version {version} of {name}")
        if body.get("alg") != "RSA-OAEP-256":
            return self.kv_error(400, "BadParameter", f"unsupported alg {body.get('alg')}")
        value = unb64u(body.get("value", ""))
        kid = f"https://127.0.0.1:{self.port}/keys/{name}/{ver}"
        if op == "encrypt":
            out = key.public_key().encrypt(value, OAEP)
        else:
            try:
                out = key.decrypt(value, OAEP)
            except ValueError:
                return self.kv_error(400, "BadParameter", "Decryption failed.")
        self.send_json(200, {"kid": kid, "value": b64u(out)})


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--tenant", default="72f988bf-86f1-41af-91ab-2d7cd011db47")
    p.add_argument("--slow", type=float, default=0)
    ARGS = p.parse_args()
    _, cert, key = testca.make(ARGS.dir, dns_names=["localhost"], ips=["127.0.0.1"])
    mockhttp.serve(Handler, cert, key)


if __name__ == "__main__":
    main()
