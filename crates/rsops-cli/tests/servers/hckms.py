"""A mock of HuaweiCloud KMS `encrypt-data` / `decrypt-data`, for tests.

Serves `POST /v1.0/<project id>/kms/encrypt-data` and `.../decrypt-data`
and checks every request's SDK-HMAC-SHA256 signature (the scheme of the
HuaweiCloud SDKs: canonical request, string to sign, HMAC-SHA256 with the
secret key) against `--ak`/`--sk`, the `X-Sdk-Date` age, and the project
id in the path against `--project`.

Ciphertexts are keyed by the server secret (`--secret`) and bound to the key
id, so files encrypted by one client decrypt with any other talking to a
mock with the same secret. The construction (HMAC-SHA256 keystream and tag)
is test scaffolding only.

Options:
  --ak AK --sk SK      the access key pair requests must be signed with
  --project ID         the project id requests must name
  --token T            require X-Security-Token: T (temporary credentials)
  --status N           answer every request with HTTP status N
  --delay S            sleep S seconds before answering
  --log PATH           append one JSON line per request
"""

import argparse
import base64
import datetime
import hashlib
import hmac
import json
import os
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mockhttp  # noqa: E402

ARGS = None
UNRESERVED = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-~.")


def escape(s):
    return "".join(chr(c) if c in UNRESERVED else "%%%02X" % c for c in s.encode())


def canonical_request(method, raw_path, headers, signed, body):
    path, _, query = raw_path.partition("?")
    uri = "/".join(escape(urllib.parse.unquote(seg)) for seg in path.split("/"))
    if not uri.endswith("/"):
        uri += "/"
    pairs = sorted(
        (escape(k.lower()), escape(v))
        for k, v in urllib.parse.parse_qsl(query, keep_blank_values=True)
    )
    canonical_query = "&".join("%s=%s" % kv for kv in pairs)
    lines = []
    for name in signed:
        for value in sorted(headers.get_all(name) or []):
            lines.append(name + ":" + value.strip())
    return "\n".join(
        [
            method,
            uri,
            canonical_query,
            "\n".join(lines) + "\n",
            ";".join(signed),
            hashlib.sha256(body).hexdigest(),
        ]
    )


def keystream(secret, label, nonce, length):
    out = b""
    counter = 0
    while len(out) < length:
        out += hmac.new(secret, label + nonce + counter.to_bytes(4, "big"), hashlib.sha256).digest()
        counter += 1
    return out[:length]


def seal(secret, key_id, plaintext):
    label = key_id.encode()
    nonce = os.urandom(16)
    body = bytes(a ^ b for a, b in zip(plaintext, keystream(secret, label, nonce, len(plaintext))))
    tag = hmac.new(secret, b"tag" + label + nonce + body, hashlib.sha256).digest()[:16]
    return base64.b64encode(nonce + body + tag).decode() + key_id.encode().hex()


def unseal(secret, key_id, ciphertext):
    suffix = key_id.encode().hex()
    if not ciphertext.endswith(suffix):
        raise PermissionError("the ciphertext does not belong to key " + key_id)
    raw = base64.b64decode(ciphertext[: -len(suffix)], validate=True)
    nonce, body, tag = raw[:16], raw[16:-16], raw[-16:]
    label = key_id.encode()
    want = hmac.new(secret, b"tag" + label + nonce + body, hashlib.sha256).digest()[:16]
    if len(raw) < 32 or not hmac.compare_digest(tag, want):
        raise PermissionError("Failed to decrypt the ciphertext.")
    return bytes(a ^ b for a, b in zip(body, keystream(secret, label, nonce, len(body))))


class Handler(mockhttp.JsonHandler):
    def fail(self, status, code, message):
        self.send_json(status, {"error": {"error_code": code, "error_msg": message}},
                       {"X-Request-Id": "mock-request-id"})

    def check_signature(self, body):
        auth = self.headers.get("Authorization", "")
        prefix = "SDK-HMAC-SHA256 "
        if not auth.startswith(prefix):
            return "missing or unknown Authorization scheme"
        fields = {}
        for part in auth[len(prefix):].split(","):
            k, _, v = part.strip().partition("=")
            fields[k] = v
        if fields.get("Access") != ARGS.ak:
            return "unknown access key"
        date = self.headers.get("X-Sdk-Date", "")
        try:
            t = datetime.datetime.strptime(date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
        except ValueError:
            return "bad X-Sdk-Date"
        if abs((datetime.datetime.now(datetime.timezone.utc) - t).total_seconds()) > 900:
            return "X-Sdk-Date too far from now"
        signed = fields.get("SignedHeaders", "").split(";")
        if "x-sdk-date" not in signed:
            return "x-sdk-date is not signed"
        canonical = canonical_request(self.command, self.path, self.headers, signed, body)
        to_sign = "SDK-HMAC-SHA256\n%s\n%s" % (date, hashlib.sha256(canonical.encode()).hexdigest())
        want = hmac.new(ARGS.sk.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(want, fields.get("Signature", "")):
            return "signature mismatch"
        if ARGS.token is not None and self.headers.get("X-Security-Token") != ARGS.token:
            return "missing or wrong security token"
        return None

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if ARGS.log:
            with open(ARGS.log, "a") as f:
                f.write(json.dumps({
                    "method": self.command,
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                }) + "\n")
        if ARGS.delay:
            time.sleep(ARGS.delay)
        if ARGS.status:
            return self.fail(ARGS.status, "KMS.0001", "mock failure")
        problem = self.check_signature(raw)
        if problem:
            return self.fail(401, "APIGW.0301", "Incorrect IAM authentication information: " + problem)
        parts = self.path.split("?", 1)[0].strip("/").split("/")
        if len(parts) != 4 or parts[0] != "v1.0" or parts[2] != "kms":
            return self.fail(404, "APIGW.0101", "The API does not exist or has not been published in the environment")
        project, op = parts[1], parts[3]
        if project != ARGS.project or self.headers.get("X-Project-Id") not in (None, project):
            return self.fail(403, "KMS.0303", "project mismatch")
        try:
            body = json.loads(raw)
        except ValueError:
            return self.fail(400, "KMS.0201", "Invalid request body")
        secret = ARGS.secret.encode()
        key_id = body.get("key_id") or ""
        if body.get("encryption_algorithm", "SYMMETRIC_DEFAULT") != "SYMMETRIC_DEFAULT":
            return self.fail(400, "KMS.0205", "unsupported encryption_algorithm")
        if op == "encrypt-data":
            plain = body.get("plain_text", "")
            if not key_id or not plain:
                return self.fail(400, "KMS.0205", "key_id and plain_text are required")
            return self.send_json(200, {"key_id": key_id, "cipher_text": seal(secret, key_id, plain.encode())})
        if op == "decrypt-data":
            try:
                plain = unseal(secret, key_id, body.get("cipher_text", ""))
            except (PermissionError, ValueError) as e:
                return self.fail(400, "KMS.0210", str(e))
            return self.send_json(200, {
                "key_id": key_id,
                "plain_text": plain.decode(),
                "plain_text_base64": base64.b64encode(plain).decode(),
            })
        return self.fail(404, "APIGW.0101", "The API does not exist or has not been published in the environment")


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--ak", default="TESTAK")
    p.add_argument("--sk", default="test-secret-key")
    p.add_argument("--project", default="0123456789abcdef0123456789abcdef")
    p.add_argument("--secret", default="hckms-mock-secret")
    p.add_argument("--token")
    p.add_argument("--status", type=int, default=0)
    p.add_argument("--delay", type=float, default=0)
    p.add_argument("--log")
    ARGS = p.parse_args()
    mockhttp.serve(Handler)


if __name__ == "__main__":
    main()
