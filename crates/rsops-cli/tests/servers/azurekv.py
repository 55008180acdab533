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

Microsoft Entra's token endpoint is mocked too, for
`AZURE_AUTHORITY_HOST=https://127.0.0.1:PORT`: `POST /TENANT/oauth2/v2.0/token`
with a client assertion (`grant_type=client_credentials`, scope of the
vault) hands out the vault token when the assertion is either
- the workload identity's federated token, DIR/federated-token, or
- a JWT signed (RS256) by the key of the TEST-ONLY client certificate
  written to DIR/client.pem (certificate, then PKCS#8 key), with `x5t` its
  SHA-1 thumbprint, `aud` the token URL, `iss` = `sub` = the client id
  (--client-id), a valid `exp`/`nbf`; the log line says whether `x5c`
  (the chain) came along.
Anything else is refused like Entra (401, AADSTS error text).

Each key NAME gets a TEST-ONLY RSA 2048 key with one version on first
use. Names behave: `denied` → 403 Forbidden, `broken` → 500, `slow` →
answers after --slow seconds, `missing` → 404 KeyNotFound, `unavailable`
→ 503 always, `flaky…` → 503 for the first two authorised requests of
that name, then normal.
"""

import argparse
import base64
import datetime
import hashlib
import json
import os
import secrets
import sys
import threading
import time
import urllib.parse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mockhttp  # noqa: E402
import testca  # noqa: E402

IDENTITY_HEADER = "test-identity-header"
ARGS = None
TOKEN = "mock-kv-token-" + secrets.token_hex(8)
KEYS = {}  # name -> (version, private key)
FLAKY = {}  # name -> 503s sent
LOCK = threading.Lock()
CLIENT_CERT = None  # the client certificate (x509)
FEDERATED_TOKEN = "federated-" + secrets.token_hex(16)


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
        if name == "unavailable" or (name.startswith("flaky") and self.flaky(name)):
            self.log_line("503")
            self.kv_error(503, "ServiceUnavailable", "Mock: the service is unavailable.")
            return True
        return False

    def flaky(self, name):
        with LOCK:
            sent = FLAKY.get(name, 0)
            if sent < 2:
                FLAKY[name] = sent + 1
                return True
            return False

    def entra_error(self, code, text):
        self.log_line(f"token refused: {text}")
        self.send_json(401, {
            "error": "invalid_client",
            "error_description": f"AADSTS{code}: {text}",
            "error_codes": [code],
        })

    def token_endpoint(self):
        """POST /TENANT/oauth2/v2.0/token with a client assertion."""
        length = int(self.headers.get("Content-Length") or 0)
        form = urllib.parse.parse_qs(self.rfile.read(length).decode())
        field = lambda k: form.get(k, [""])[0]  # noqa: E731
        tenant = urllib.parse.urlparse(self.path).path.split("/")[1]
        if tenant != ARGS.tenant:
            return self.entra_error(90002, f"Tenant {tenant} not found.")
        if field("grant_type") != "client_credentials":
            return self.entra_error(70003, "unsupported grant type")
        if field("scope") != f"https://0.0.1:{self.port}/.default":
            return self.entra_error(70011, f"invalid scope {field('scope')}")
        if field("client_id") != ARGS.client_id:
            return self.entra_error(700016, "unknown application")
        if field("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer":
            return self.entra_error(7000218, "no client assertion")
        assertion = field("client_assertion")
        if assertion == FEDERATED_TOKEN:
            how = "workload"
        else:
            problem = self.check_certificate_assertion(assertion)
            if problem:
                return self.entra_error(700027, problem)
            header = json.loads(unb64u(assertion.split(".")[0]))
            how = "certificate x5c=" + ("yes" if "x5c" in header else "no")
        self.log_line(f"token {how}")
        self.send_json(200, {"token_type": "Bearer", "expires_in": 3600, "ext_expires_in": 3600, "access_token": TOKEN})

    def check_certificate_assertion(self, assertion):
        """None when the JWT is signed by the client certificate's key."""
        try:
            head, claims, sig = assertion.split(".")
            header = json.loads(unb64u(head))
            body = json.loads(unb64u(claims))
            signature = unb64u(sig)
        except ValueError as e:
            return f"malformed assertion ({e})"
        der = CLIENT_CERT.public_bytes(serialization.Encoding.DER)
        if header.get("alg") != "RS256":
            return f"unexpected alg {header.get('alg')}"
        if header.get("x5t") != b64u(hashlib.sha1(der).digest()):
            return "x5t is not the certificate's thumbprint"
        if "x5c" in header and base64.b64decode(header["x5c"][0]) != der:
            return "x5c does not start with the certificate"
        try:
            CLIENT_CERT.public_key().verify(
                signature, f"{head}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        except Exception:  # noqa: BLE001 - any failure is a bad signature
            return "signature verification failed"
        now = time.time()
        aud = f"https://127.0.0.1:{self.port}/{ARGS.tenant}/oauth2/v2.0/token"
        if body.get("aud") != aud:
            return f"aud {body.get('aud')} is not {aud}"
        if body.get("iss") != ARGS.client_id or body.get("sub") != ARGS.client_id:
            return "iss/sub are not the client id"
        if not (body.get("nbf", now + 999) <= now + 60 and body.get("exp", 0) > now):
            return "the assertion is not valid now"
        if not body.get("jti"):
            return "no jti"
        return None

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
        if urllib.parse.urlparse(self.path).path.endswith("/oauth2/v2.0/token"):
            return self.token_endpoint()
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


def write_client_credentials():
    """DIR/client.pem (TEST-ONLY certificate and key), DIR/federated-token."""
    global CLIENT_CERT
    key = rsa.generate_private_key(65537, 2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rsops test client")])
    now = datetime.datetime.now(datetime.timezone.utc)
    CLIENT_CERT = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    with open(os.path.join(ARGS.dir, "client.pem"), "wb") as f:
        f.write(CLIENT_CERT.public_bytes(serialization.Encoding.PEM))
        f.write(key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ))
    with open(os.path.join(ARGS.dir, "federated-token"), "w") as f:
        f.write(FEDERATED_TOKEN)


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--tenant", default="72f988bf-86f1-41af-91ab-2d7cd011db47")
    p.add_argument("--client-id", default="3b3f6c2a-0d1e-4f5a-9b8c-7d6e5f4a3b2c")
    p.add_argument("--slow", type=float, default=0)
    ARGS = p.parse_args()
    write_client_credentials()
    _, cert, key = testca.make(ARGS.dir, dns_names=["localhost"], ips=["127.0.0.1"])
    mockhttp.serve(Handler, cert, key)


if __name__ == "__main__":
    main()
