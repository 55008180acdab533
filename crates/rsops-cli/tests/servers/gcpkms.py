"""A mock of the GCP Cloud KMS REST API (encrypt/decrypt), for rsops and
the reference sops.

    gcpkms.py --dir DIR --token TOKEN [--slow SECONDS]

Serves plain HTTP on 127.0.0.1 (rsops: `SOPS_GCP_KMS_ENDPOINT=http://…`).
The same port is also an HTTPS proxy: a `CONNECT host:443` request is
answered by terminating TLS with a certificate for cloudkms.googleapis.com
issued by a test CA written to DIR/ca.pem, so a client with
`HTTPS_PROXY=http://127.0.0.1:PORT` and `SSL_CERT_FILE=DIR/ca.pem` talks to
this mock while believing it talks to Google (the reference sops, with
`SOPS_GCP_KMS_CLIENT_TYPE=rest`). Every request is logged to
DIR/requests.log (method, path, whether it came through the proxy).

Requests must carry `Authorization: Bearer TOKEN`, or a self-signed JWT of
the TEST-ONLY service account the mock writes to DIR/sa.json at start-up
(checked with its key). `GET /computeMetadata/v1/instance/service-accounts/default/token`
with `Metadata-Flavor: Google` hands out TOKEN (a metadata server, for
`GCE_METADATA_HOST`).

Keys behave by their name (the last segment of the resource id): `denied`
→ 403, `broken` → 500, `slow` → answers after --slow seconds,
`unavailable` → 503 always, `flaky…` → 503 for the first two requests of
each method on that key, then normal; any other name works. The ciphertext is a tag of the key's resource id followed by
the plaintext, so decrypting with another key fails (400).
"""

import argparse
import base64
import hashlib
import json
import os
import socketserver
import ssl
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mockhttp  # noqa: E402
import testca  # noqa: E402

ARGS = None
TLS = None
SA_KEY_PEM = None
LOG_LOCK = threading.Lock()
FLAKY = {}  # "resource:method" -> requests seen


def tag(name):
    return hashlib.sha256(b"gcpkms-mock:" + name.encode()).digest()[:16]


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def jwt_ok(token):
    """A service-account self-signed JWT, checked with --sa-key."""
    try:
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding

        header_b64, claims_b64, sig_b64 = token.split(".")
        key = serialization.load_pem_private_key(SA_KEY_PEM, None)
        key.public_key().verify(
            b64url_decode(sig_b64),
            (header_b64 + "." + claims_b64).encode(),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
        claims = json.loads(b64url_decode(claims_b64))
        return claims.get("iss") == ARGS.sa_email and claims.get("exp", 0) > time.time()
    except Exception as e:  # noqa: BLE001 - any problem means "not authorised"
        sys.stderr.write(f"mock: bad JWT: {e}\n")
        return False


class Handler(mockhttp.JsonHandler):
    proxied = False

    def log_request_line(self, via):
        with LOG_LOCK, open(os.path.join(ARGS.dir, "requests.log"), "a") as f:
            f.write(f"{self.command} {self.path} {via}\n")

    def do_CONNECT(self):
        self.log_request_line("connect")
        self.send_response(200, "Connection established")
        self.end_headers()
        self.wfile.flush()
        conn = TLS.wrap_socket(self.connection, server_side=True)
        self.connection = conn
        self.rfile = conn.makefile("rb", -1)
        self.wfile = socketserver._SocketWriter(conn)
        self.proxied = True
        self.close_connection = False

    def do_GET(self):
        self.log_request_line("proxy" if self.proxied else "direct")
        if self.path.startswith("/computeMetadata/v1/"):
            if self.headers.get("Metadata-Flavor") != "Google":
                return self.send_json(403, {"error": "missing Metadata-Flavor"})
            if "/token" in self.path:
                return self.send_json(
                    200,
                    {"access_token": ARGS.token, "expires_in": 3600, "token_type": "Bearer"},
                    {"Metadata-Flavor": "Google"},
                )
            if self.path.endswith("/universe/universe-domain"):
                body = b"googleapis.com"
                self.send_response(200)
                self.send_header("Metadata-Flavor", "Google")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            return self.send_json(404, {"error": "not found"})
        self.send_json(404, {"error": {"code": 404, "message": "not found", "status": "NOT_FOUND"}})

    def oauth_token(self):
        """Google's OAuth 2.0 token endpoint for a service-account JWT
        (the `token_uri` of DIR/sa.json once a test points it here)."""
        length = int(self.headers.get("Content-Length") or 0)
        form = urllib.parse.parse_qs(self.rfile.read(length).decode())
        assertion = form.get("assertion", [""])[0]
        if not jwt_ok(assertion):
            return self.send_json(400, {"error": "invalid_grant", "error_description": "Invalid JWT"})
        self.send_json(200, {"access_token": ARGS.token, "expires_in": 3600, "token_type": "Bearer"})

    def flaky(self, what):
        """True for the first two requests of `what`."""
        with LOG_LOCK:
            sent = FLAKY.get(what, 0)
            FLAKY[what] = sent + 1
            return sent < 2

    def log_line(self, text):
        with LOG_LOCK, open(os.path.join(ARGS.dir, "requests.log"), "a") as f:
            f.write(text + "\n")

    def error(self, code, status, message):
        self.send_json(code, {"error": {"code": code, "message": message, "status": status}})

    def do_POST(self):
        self.log_request_line("proxy" if self.proxied else "direct")
        path = self.path.split("?")[0]
        if path == "/token":
            return self.oauth_token()
        body = self.read_json()
        if not path.startswith("/v1/") or ":" not in path:
            return self.error(404, "NOT_FOUND", f"unknown path {path}")
        name, method = path[len("/v1/"):].rsplit(":", 1)
        auth = self.headers.get("Authorization", "")
        token = auth[len("Bearer "):] if auth.startswith("Bearer ") else ""
        if not (token == ARGS.token or jwt_ok(token)):
            return self.error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
        key = name.rsplit("/", 1)[-1]
        if key == "denied":
            return self.error(
                403, "PERMISSION_DENIED",
                f"Permission 'cloudkms.cryptoKeyVersions.useToEncrypt' denied on resource '{name}'",
            )
        if key == "broken":
            return self.error(500, "INTERNAL", "Internal error encountered.")
        if key == "slow":
            time.sleep(ARGS.slow)
        if key == "unavailable" or (key.startswith("flaky") and self.flaky(name + ":" + method)):
            self.log_line(f"503 {key}")
            return self.error(503, "UNAVAILABLE", "The service is currently unavailable.")
        if body.get("name") not in (None, name):
            return self.error(400, "INVALID_ARGUMENT", "name does not match the URL")
        if method == "encrypt":
            plaintext = base64.b64decode(body.get("plaintext", ""))
            ct = tag(name) + plaintext
            return self.send_json(200, {"name": name + "/cryptoKeyVersions/1",
                                        "ciphertext": base64.b64encode(ct).decode()})
        if method == "decrypt":
            ct = base64.b64decode(body.get("ciphertext", ""))
            if ct[:16] != tag(name):
                return self.error(400, "INVALID_ARGUMENT", "Decryption failed: the ciphertext is invalid.")
            return self.send_json(200, {"plaintext": base64.b64encode(ct[16:]).decode()})
        return self.error(404, "NOT_FOUND", f"unknown method {method}")


def write_service_account():
    """A TEST-ONLY service account key (RSA 2048), as DIR/sa.json."""
    global SA_KEY_PEM
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    SA_KEY_PEM = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    sa = {
        "type": "service_account",
        "project_id": "rsops-test",
        "private_key_id": "0123456789abcdef",
        "private_key": SA_KEY_PEM.decode(),
        "client_email": ARGS.sa_email,
        "client_id": "1234567890",
        "auth_uri": "http://127.0.0.1:9/auth",
        # Tests replace the port with the mock's own.
        "token_uri": "http://127.0.0.1:9/token",
    }
    with open(os.path.join(ARGS.dir, "sa.json"), "w") as f:
        json.dump(sa, f)


def main():
    global ARGS, TLS, SA_KEY_PEM
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--sa-email", default="sops-test@rsops-test.iam.gserviceaccount.com")
    p.add_argument("--slow", type=float, default=0)
    ARGS = p.parse_args()
    _, cert, key = testca.make(ARGS.dir, dns_names=["cloudkms.googleapis.com"], ips=["127.0.0.1"])
    TLS = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    TLS.load_cert_chain(cert, key)
    write_service_account()
    mockhttp.serve(Handler)


if __name__ == "__main__":
    main()
