#!/usr/bin/env bash
# Regenerates crates/rsops-cli/startup-order.txt: the functions that short
# rsops runs execute (encrypt and decrypt of small YAML, JSON and dotenv
# files with the demo age key, plus --version and a --help), as symbol
# names. The build script hands the list to the linker, which places those
# functions side by side so that a short run faults in fewer code pages
# (docs/performance.md, "Start-up"). Names the build no longer defines are
# ignored by the linker, so a stale list only costs speed; rerun this after
# a toolchain or dependency update. Needs valgrind.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "startup-order.sh: needs valgrind" >&2; exit 1; }
cargo build --release -q -p rsops-cli
bin=$PWD/target/release/rsops
out=$PWD/crates/rsops-cli/startup-order.txt
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export SOPS_AGE_KEY_FILE=$PWD/testdata/demo-age-key.txt
recipient=$(sed -n 's/^# public key: //p' "$SOPS_AGE_KEY_FILE")
cp testdata/demo-secret.yaml "$work/a.yaml"
printf '{"db": {"user": "app", "password": "hunter2", "port": 5432}, "on": true}\n' >"$work/a.json"
printf 'USER=app\nPASSWORD=hunter2\n' >"$work/a.env"
cd "$work"
n=0
trace() {
    n=$((n + 1))
    valgrind -q --tool=callgrind --demangle=no --callgrind-out-file="cg.$n" "$bin" "$@" >/dev/null 2>&1 || true
}
for f in a.yaml a.json a.env; do
    trace encrypt --age "$recipient" "$f"
    "$bin" encrypt --age "$recipient" "$f" >"enc.$f"
    trace decrypt "enc.$f"
done
trace --version
trace decrypt --help
# Every function name callgrind saw that the binary defines, sorted.
grep -ohE '^c?fn=\([0-9]+\) [^ ]+' cg.* | sed 's/^[^ ]* //' | sort -u >seen
nm --defined-only "$bin" | awk '{print $3}' | sort -u >defined
{
    echo "# Functions short rsops runs execute; written by scripts/startup-order.sh."
    comm -12 seen defined
} >"$out"
echo "wrote $(($(wc -l <"$out") - 1)) names to ${out#"$OLDPWD"/}"
