"""A mock of the Google Cloud Storage JSON upload API, for `publish` tests.

Serves `POST /upload/storage/v1/b/<bucket>/o` with `uploadType=media`
(object name in the `name` query parameter, the body is the content) and
`uploadType=multipart` (a `multipart/related` body: JSON metadata with the
`name`, then the content), the two single-request uploads of the JSON API,
and answers with the object's metadata as JSON.

Each object is written to DIR/<bucket>/<object name> (the name's `/` make
directories); one JSON line per upload (bucket, name, uploadType, whether
an Authorization header came) is appended to DIR/uploads.log.

Usage: gcs.py DIR [--status N]   (--status: answer every upload with N)
"""

import argparse
import email.parser
import email.policy
import json
import os
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mockhttp  # noqa: E402

ARGS = None


def multipart_parts(content_type, body):
    """(metadata dict, content bytes) of a multipart/related body."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
    )
    parts = [p.get_payload(decode=True) for p in message.iter_parts()]
    if len(parts) != 2:
        raise ValueError("expected 2 parts, got %d" % len(parts))
    return json.loads(parts[0]), parts[1]


class Handler(mockhttp.JsonHandler):
    def read_body(self):
        """The request body, with a Content-Length or chunked (Go's client)."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        segments = [urllib.parse.unquote(s) for s in url.path.strip("/").split("/")]
        body = self.read_body()
        if segments[:4] != ["upload", "storage", "v1", "b"] or len(segments) != 6 or segments[5] != "o":
            return self.send_json(404, {"error": {"code": 404, "message": "no route " + url.path}})
        if ARGS.status:
            return self.send_json(ARGS.status, {"error": {"code": ARGS.status, "message": "mock failure"}})
        bucket = segments[4]
        kind = (query.get("uploadType") or [""])[0]
        if kind == "media":
            name = (query.get("name") or [""])[0]
            content = body
        elif kind == "multipart":
            try:
                meta, content = multipart_parts(self.headers.get("Content-Type", ""), body)
            except ValueError as e:
                return self.send_json(400, {"error": {"code": 400, "message": str(e)}})
            name = meta.get("name") or (query.get("name") or [""])[0]
        else:
            return self.send_json(400, {"error": {"code": 400, "message": "unsupported uploadType " + kind}})
        if not name:
            return self.send_json(400, {"error": {"code": 400, "message": "Required: name"}})
        target = os.path.join(ARGS.dir, bucket, name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as f:
            f.write(content)
        with open(os.path.join(ARGS.dir, "uploads.log"), "a") as f:
            entry = {
                "bucket": bucket,
                "name": name,
                "uploadType": kind,
                "authorization": "Authorization" in self.headers,
            }
            f.write(json.dumps(entry) + "\n")
        return self.send_json(200, {"kind": "storage#object", "bucket": bucket, "name": name, "size": str(len(content))})


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("dir")
    p.add_argument("--status", type=int, default=0)
    ARGS = p.parse_args()
    mockhttp.serve(Handler)


if __name__ == "__main__":
    main()
