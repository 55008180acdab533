"""A mock of the AWS IAM Identity Center (SSO) portal's GetRoleCredentials,
for `AWS_ENDPOINT_URL_SSO=http://127.0.0.1:PORT`.

    sso_portal.py --token TOKEN --log FILE

`GET /federation/credentials?role_name=R&account_id=A` with header
`x-amz-sso_bearer_token: TOKEN` (the cached token of `aws sso login`)
answers TEST-ONLY temporary credentials; another token gets 401. Each
request is logged to FILE as `role account`.
"""

import argparse
import os
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mockhttp  # noqa: E402

ARGS = None


class Handler(mockhttp.JsonHandler):
    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        if url.path != "/federation/credentials":
            return self.send_json(404, {"message": "unknown path"})
        if self.headers.get("x-amz-sso_bearer_token") != ARGS.token:
            return self.send_json(401, {"message": "Session token not found or invalid"})
        q = urllib.parse.parse_qs(url.query)
        with open(ARGS.log, "a") as f:
            f.write(f"{q.get('role_name', [''])[0]} {q.get('account_id', [''])[0]}\n")
        self.send_json(200, {"roleCredentials": {
            "accessKeyId": "ASIASSOTEST",
            "secretAccessKey": "sso-test-secret",
            "sessionToken": "sso-test-session",
            "expiration": int(time.time() * 1000) + 3600 * 1000,
        }})


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--token", required=True)
    p.add_argument("--log", required=True)
    ARGS = p.parse_args()
    mockhttp.serve(Handler)


if __name__ == "__main__":
    main()
