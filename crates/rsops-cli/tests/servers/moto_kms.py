"""moto (AWS KMS, STS, IAM) on 127.0.0.1 for the AWS KMS tests.

Usage: moto_kms.py STATE_FILE [REGION...]

Starts moto's server on a free loopback port, creates one symmetric KMS key
in each REGION (default: us-east-1, then eu-west-3), an alias
`alias/sops-test` to the first key, and an IAM role `sops-role`, writes
them to STATE_FILE, one `name value` line each:

    endpoint http://127.0.0.1:PORT
    key ARN          (one line per region, in order)
    alias ARN
    role ARN

and then prints `PORT <n>` (the test harness waits for that line). The
credentials are moto's: any access key is accepted.
"""

import json
import os
import sys
import time

os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL"):
    os.environ.pop(name, None)

import logging  # noqa: E402

import boto3  # noqa: E402
from moto.server import ThreadedMotoServer  # noqa: E402


def main():
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    state_file = sys.argv[1]
    regions = sys.argv[2:] or ["us-east-1", "eu-west-3"]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    keys = []
    for region in regions:
        kms = boto3.client("kms", region_name=region, endpoint_url=endpoint)
        keys.append(kms.create_key(Description="rsops test key")["KeyMetadata"]["Arn"])
    kms = boto3.client("kms", region_name=regions[0], endpoint_url=endpoint)
    kms.create_alias(AliasName="alias/sops-test", TargetKeyId=keys[0])
    account = keys[0].split(":")[4]
    alias = f"arn:aws:kms:{regions[0]}:{account}:alias/sops-test"
    iam = boto3.client("iam", region_name="us-east-1", endpoint_url=endpoint)
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
    }
    role = iam.create_role(RoleName="sops-role", AssumeRolePolicyDocument=json.dumps(trust))
    lines = [f"endpoint {endpoint}"] + [f"key {k}" for k in keys]
    lines += [f"alias {alias}", f"role {role['Role']['Arn']}"]
    tmp = state_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, state_file)
    print("PORT", port, flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
