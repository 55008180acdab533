#!/usr/bin/env bash
# Builds rsops and decrypts the demo Kubernetes Secret (encrypted by the real
# sops) with the bundled TEST-ONLY age key, then encrypts it again.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "==> building rsops (release; the first build takes a few minutes)" >&2
cargo build --release -p rsops-cli
rsops="${CARGO_TARGET_DIR:-target}/release/rsops"
export SOPS_AGE_KEY_FILE=testdata/demo-age-key.txt
echo "== rsops decrypt testdata/demo-secret.enc.yaml"
"$rsops" decrypt testdata/demo-secret.enc.yaml
echo "== rsops encrypt testdata/demo-secret.yaml (rules from .sops.yaml)"
"$rsops" encrypt testdata/demo-secret.yaml
