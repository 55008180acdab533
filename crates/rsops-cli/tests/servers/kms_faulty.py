"""A misbehaving AWS KMS endpoint for the failure tests.

Usage: kms_faulty.py MODE

MODE is one of
  denied    every call: 400 AccessDeniedException
  error500  every call: 500 KMSInternalException
  throttle  every call: 400 ThrottlingException
  slow      every call: no answer for 60 seconds
`GET /stats` returns {"requests": <KMS calls received>}.
"""

import sys
import threading
import time

from mockhttp import JsonHandler, serve

MODE = sys.argv[1]
LOCK = threading.Lock()
COUNT = [0]

REPLIES = {
    "denied": (400, "AccessDeniedException",
               "User: arn:aws:iam::123456789012:user/test is not authorized to perform: kms:Decrypt"),
    "error500": (500, "KMSInternalException", "internal failure"),
    "throttle": (400, "ThrottlingException", "Rate exceeded"),
}


class Handler(JsonHandler):
    def do_GET(self):
        if self.path == "/stats":
            with LOCK:
                self.send_json(200, {"requests": COUNT[0]})
        else:
            self.send_json(404, {"error": "not found"})

    def do_POST(self):
        self.read_json_body()
        with LOCK:
            COUNT[0] += 1
        if MODE == "slow":
            time.sleep(60)
            self.send_json(500, {"__type": "KMSInternalException", "message": "too late"})
            return
        status, code, message = REPLIES[MODE]
        self.send_json(status, {"__type": code, "message": message})

    def read_json_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)


if __name__ == "__main__":
    serve(Handler)
