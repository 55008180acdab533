"""A tiny AWS KMS (Encrypt, Decrypt) that counts its calls, for the
many-files tests.

Usage: kms_counting.py GATE

Any key ARN works; a ciphertext is the key ID, a random nonce and the
plaintext (it is a mock: nothing is secret). A key whose ARN contains
`deny-decrypt` encrypts but refuses to decrypt, one whose ARN contains
`deny-encrypt` refuses to encrypt (AccessDeniedException).

Concurrency is shown without timing: until GATE calls have been in flight
at the same time, every call waits (at most 5 s, after which the gate opens
anyway); once they have, the gate stays open. A client that never has GATE
calls in flight at once is therefore slow and `max_in_flight` stays below
GATE; one that has answers at once.

`GET /stats` returns {"max_in_flight", "encrypt", "decrypt",
"distinct_decrypted", "most_decrypts_of_one"}; `GET /reset` zeroes the
counts and closes the gate.
"""

import base64
import json
import os
import sys
import threading

from mockhttp import JsonHandler, serve

GATE = int(sys.argv[1])
WAIT = 5.0
COND = threading.Condition()
STATE = {}


def reset():
    STATE.update(in_flight=0, max_in_flight=0, open=False, encrypt=0, decrypt=0, blobs={})


reset()


class Handler(JsonHandler):
    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        with COND:
            if self.path == "/reset":
                reset()
                COND.notify_all()
                self.send_json(200, {})
            elif self.path == "/stats":
                blobs = STATE["blobs"]
                self.send_json(200, {
                    "max_in_flight": STATE["max_in_flight"],
                    "encrypt": STATE["encrypt"],
                    "decrypt": STATE["decrypt"],
                    "distinct_decrypted": len(blobs),
                    "most_decrypts_of_one": max(blobs.values(), default=0),
                })
            else:
                self.send_json(404, {"error": "not found"})

    def do_POST(self):
        body = self.read_json()
        action = self.headers.get("X-Amz-Target", "").rsplit(".", 1)[-1]
        with COND:
            STATE["in_flight"] += 1
            STATE["max_in_flight"] = max(STATE["max_in_flight"], STATE["in_flight"])
            if STATE["in_flight"] >= GATE:
                STATE["open"] = True
                COND.notify_all()
            if not STATE["open"] and not COND.wait_for(lambda: STATE["open"], WAIT):
                STATE["open"] = True
                COND.notify_all()
        try:
            self.answer(action, body)
        finally:
            with COND:
                STATE["in_flight"] -= 1

    def answer(self, action, body):
        key = body.get("KeyId", "")
        if action == "Encrypt":
            with COND:
                STATE["encrypt"] += 1
            if "deny-encrypt" in key:
                self.send_json(400, {
                    "__type": "AccessDeniedException",
                    "message": "not authorized to perform: kms:Encrypt",
                })
                return
            blob = json.dumps({
                "k": key,
                "n": base64.b64encode(os.urandom(8)).decode(),
                "p": body["Plaintext"],
            }).encode()
            self.send_json(200, {
                "CiphertextBlob": base64.b64encode(blob).decode(),
                "KeyId": key,
                "EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
            })
        elif action == "Decrypt":
            with COND:
                STATE["decrypt"] += 1
                blob = body.get("CiphertextBlob", "")
                STATE["blobs"][blob] = STATE["blobs"].get(blob, 0) + 1
            if "deny-decrypt" in key:
                self.send_json(400, {
                    "__type": "AccessDeniedException",
                    "message": "not authorized to perform: kms:Decrypt",
                })
                return
            inner = json.loads(base64.b64decode(blob))
            self.send_json(200, {
                "Plaintext": inner["p"],
                "KeyId": inner["k"],
                "EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
            })
        else:
            self.send_json(400, {"__type": "UnsupportedOperationException", "message": action})


if __name__ == "__main__":
    serve(Handler)
