#!/usr/bin/env python3
"""Times rsops against the reference sops on the workloads of gen.py.

Usage: bench.py --rsops BIN [--sops BIN] --work DIR [--smoke] [--out FILE]
                [--doc docs/performance.md]

For each workload and operation it runs each tool several times (wall
time of the whole process, median) and records the peak RSS of each run
(os.wait4), checks that both tools agree on the decrypted output, and
writes a Markdown table (rsops, sops, ratio, peak memory) to --out and,
with --doc, between the `<!-- bench:begin -->` / `<!-- bench:end -->`
markers of that file. The raw measurements are written next to --out as
JSON. Any tool failure or disagreement makes the script exit non-zero;
timings never do.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

AGE_RECIPIENT = None  # set in main from the key file


class BenchError(Exception):
    pass


WORK = None  # the workload directory: every command runs there


def run_once(cmd, env, stdout_path=None, cwd=None):
    """Runs cmd (in `cwd`, default the workload directory, so that no
    `.sops.yaml` of the repository applies); returns (seconds, peak RSS in
    KiB)."""
    cwd = cwd or WORK
    out = open(stdout_path, "wb") if stdout_path else subprocess.DEVNULL
    try:
        start = time.perf_counter()
        p = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.PIPE, cwd=cwd)
        err = p.stderr.read()
        _, status, usage = os.wait4(p.pid, 0)
        elapsed = time.perf_counter() - start
    finally:
        if stdout_path:
            out.close()
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise BenchError("%s failed (exit %d): %s" % (" ".join(cmd[:3]), p.returncode, err.decode(errors="replace")[:300]))
    return elapsed, usage.ru_maxrss


def measure(runs, fn):
    """Runs fn() `runs` times; returns (median seconds, max peak KiB, all times)."""
    times, peaks = [], []
    for _ in range(runs):
        t, m = fn()
        times.append(t)
        peaks.append(m)
    return statistics.median(times), max(peaks), times


def env_for(key_file):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOPS_")}
    env["SOPS_AGE_KEY_FILE"] = key_file
    env["SOPS_DISABLE_VERSION_CHECK"] = "true"
    return env


def fmt_time(s):
    if s is None:
        return "—"
    if s < 1:
        return "%.1f ms" % (s * 1000)
    return "%.2f s" % s


def fmt_mem(kib):
    if kib is None:
        return "—"
    return "%.0f MB" % (kib / 1024)


def file_ops(args, env, work, name, runs_rsops, runs_sops, with_sops):
    """Encrypt and decrypt one file with both tools."""
    src = os.path.join(work, name)
    size = os.path.getsize(src)
    rows = []
    base, ext = os.path.splitext(name)
    r_enc = os.path.join(work, "out", base + ".rsops-enc" + ext)
    s_enc = os.path.join(work, "out", base + ".sops-enc" + ext)
    r_dec = os.path.join(work, "out", base + ".rsops-dec" + ext)
    s_dec = os.path.join(work, "out", base + ".sops-dec" + ext)
    enc = lambda tool: [tool, "encrypt", "--age", AGE_RECIPIENT, src]
    b_out = os.path.join(work, "out", base + ".baseline" + ext)
    r = measure(runs_rsops, lambda: run_once(enc(args.rsops), env, r_enc))
    b = measure(runs_rsops, lambda: run_once(enc(args.baseline), env, b_out)) if args.baseline else None
    s = measure(runs_sops, lambda: run_once(enc(args.sops), env, s_enc)) if with_sops else None
    rows.append(row(name, "encrypt", size, r, s, b))
    enc_size = os.path.getsize(r_enc)
    r = measure(runs_rsops, lambda: run_once([args.rsops, "decrypt", r_enc], env, r_dec))
    b = measure(runs_rsops, lambda: run_once([args.baseline, "decrypt", r_enc], env, b_out)) if args.baseline else None
    s = measure(runs_sops, lambda: run_once([args.sops, "decrypt", r_enc], env, s_dec)) if with_sops else None
    rows.append(row(name, "decrypt", enc_size, r, s, b))
    check_same(r_dec, s_dec if with_sops else None, name)
    if with_sops:
        # rsops must also read what sops wrote.
        run_once([args.rsops, "decrypt", s_enc], env, r_dec)
        check_same(r_dec, s_dec, name + " (sops-encrypted)")
    return rows


def check_same(ours, theirs, what):
    if theirs is None:
        return
    with open(ours, "rb") as a, open(theirs, "rb") as b:
        if a.read() != b.read():
            raise BenchError("rsops and sops disagree on the decryption of %s" % what)


def row(workload, op, size, r, s, b=None):
    return {
        "baseline_s": b[0] if b else None,
        "workload": workload,
        "op": op,
        "input_bytes": size,
        "rsops_s": r[0],
        "rsops_peak_kib": r[1],
        "rsops_runs": r[2],
        "sops_s": s[0] if s else None,
        "sops_peak_kib": s[1] if s else None,
        "sops_runs": s[2] if s else [],
    }


def many_files(args, env, work, runs_rsops, runs_sops, with_sops):
    """200 small files: one process per file (both tools) and rsops -i FILE..."""
    small = os.path.join(work, "small")
    names = sorted(f for f in os.listdir(small) if f.endswith(".yaml"))
    total = sum(os.path.getsize(os.path.join(small, f)) for f in names)
    n = len(names)
    rows = []
    enc_dir = os.path.join(work, "small-enc")
    shutil.rmtree(enc_dir, ignore_errors=True)
    shutil.copytree(small, enc_dir)
    run_once([args.rsops, "encrypt", "-i", "--age", AGE_RECIPIENT] + names, env, cwd=enc_dir)

    def per_process(tool, op):
        def go():
            t, peak = 0.0, 0
            for f in names:
                path = os.path.join(small if op == "encrypt" else enc_dir, f)
                cmd = [tool, op] + (["--age", AGE_RECIPIENT] if op == "encrypt" else []) + [path]
                dt, m = run_once(cmd, env)
                t += dt
                peak = max(peak, m)
            return t, peak
        return go

    def in_one_process(op, tool=None):
        def go():
            scratch = os.path.join(work, "small-scratch")
            shutil.rmtree(scratch, ignore_errors=True)
            shutil.copytree(small if op == "encrypt" else enc_dir, scratch)
            cmd = [tool or args.rsops, op, "-i"] + (["--age", AGE_RECIPIENT] if op == "encrypt" else []) + names
            return run_once(cmd, env, cwd=scratch)
        return go

    for op in ("encrypt", "decrypt"):
        r = measure(runs_rsops, per_process(args.rsops, op))
        b = measure(runs_rsops, per_process(args.baseline, op)) if args.baseline else None
        s = measure(runs_sops, per_process(args.sops, op)) if with_sops else None
        rows.append(row("%d small files, one process each" % n, op, total, r, s, b))
        r = measure(runs_rsops, in_one_process(op))
        b = measure(runs_rsops, in_one_process(op, args.baseline)) if args.baseline else None
        rows.append(row("%d small files, `rsops %s -i` (sops: one process each)" % (n, op), op, total, r, s, b))
    # Correctness: the in-place decryption gives back the originals.
    scratch = os.path.join(work, "small-scratch")
    for f in names:
        with open(os.path.join(small, f), "rb") as a, open(os.path.join(scratch, f), "rb") as b:
            if a.read() != b.read():
                raise BenchError("rsops decrypt -i did not restore %s" % f)
    return rows


def table(rows):
    with_base = any(r.get("baseline_s") for r in rows)
    base_head = " baseline (median) | rsops ÷ baseline |" if with_base else ""
    base_rule = "---:|---:|" if with_base else ""
    lines = [
        "| workload | op | input | rsops (median) |" + base_head
        + " sops (median) | sops ÷ rsops | rsops peak RSS | RSS ÷ input | sops peak RSS |",
        "|---|---|---:|---:|" + base_rule + "---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        ratio = "%.1f×" % (r["sops_s"] / r["rsops_s"]) if r["sops_s"] else "—"
        size = r["input_bytes"]
        size_s = "%.1f MB" % (size / 1e6) if size >= 1e5 else "%.1f KB" % (size / 1e3)
        mem_ratio = "%.1f×" % (r["rsops_peak_kib"] * 1024 / size) if size >= 1e6 else "—"
        base = ""
        if with_base:
            b = r.get("baseline_s")
            base = " %s | %s |" % (fmt_time(b), "%.2f" % (r["rsops_s"] / b) if b else "—")
        lines.append(
            "| %s | %s | %s | %s |%s %s | %s | %s | %s | %s |"
            % (
                r["workload"], r["op"], size_s, fmt_time(r["rsops_s"]), base, fmt_time(r["sops_s"]),
                ratio, fmt_mem(r["rsops_peak_kib"]), mem_ratio, fmt_mem(r["sops_peak_kib"]),
            )
        )
    return "\n".join(lines)


def main():
    global AGE_RECIPIENT, WORK
    ap = argparse.ArgumentParser()
    ap.add_argument("--rsops", required=True)
    ap.add_argument("--sops")
    ap.add_argument("--baseline", help="another rsops build to time next to --rsops (e.g. the previous main)")
    ap.add_argument("--work", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--out")
    ap.add_argument("--doc")
    args = ap.parse_args()
    with open(args.key) as f:
        for line in f:
            if line.startswith("# public key: "):
                AGE_RECIPIENT = line.split(": ", 1)[1].strip()
    if not AGE_RECIPIENT:
        raise SystemExit("no '# public key:' line in %s" % args.key)
    env = env_for(args.key)
    WORK = args.work
    with_sops = bool(args.sops)
    os.makedirs(os.path.join(args.work, "out"), exist_ok=True)

    if args.smoke:
        plan = [("config-1k.yaml", 1, 1), ("config-1k.json", 1, 1), ("config-100k.yaml", 1, 1),
                ("k8s-secrets.yaml", 1, 1), ("big.env", 1, 1), ("blob.bin", 1, 1)]
        many_runs = (1, 1)
    else:
        plan = [
            ("config-1k.yaml", 10, 5), ("config-1k.json", 10, 5),
            ("config-100k.yaml", 5, 3), ("config-100k.json", 5, 3),
            ("config-1m.yaml", 5, 3), ("config-1m.json", 5, 3),
            ("config-10m.yaml", 5, 1), ("config-10m.json", 5, 1),
            ("config-50m.yaml", 3, 0), ("config-50m.json", 3, 0),
            ("k8s-secrets.yaml", 5, 3), ("big.env", 5, 3), ("blob.bin", 5, 3),
        ]
        many_runs = (3, 1)
    rows = []
    for name, rr, sr in plan:
        print("bench: %s" % name, file=sys.stderr, flush=True)
        rows += file_ops(args, env, args.work, name, rr, max(sr, 1), with_sops and sr > 0)
    print("bench: small files", file=sys.stderr, flush=True)
    rows += many_files(args, env, args.work, many_runs[0], many_runs[1], with_sops)

    md = table(rows)
    header = "Run of %s on %s (%d cores), %s; rsops %s; sops %s%s.\n\n" % (
        datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        platform.machine(), os.cpu_count() or 0, platform.platform(),
        version(args.rsops), version(args.sops) if args.sops else "not run",
        "; baseline %s" % args.baseline if args.baseline else "",
    )
    print(md)
    if args.out:
        with open(args.out, "w") as f:
            f.write(header + md + "\n")
        with open(os.path.splitext(args.out)[0] + ".json", "w") as f:
            json.dump(rows, f, indent=1)
    if args.doc:
        with open(args.doc) as f:
            doc = f.read()
        begin, end = "<!-- bench:begin -->", "<!-- bench:end -->"
        if begin in doc and end in doc:
            pre, rest = doc.split(begin, 1)
            _, post = rest.split(end, 1)
            with open(args.doc, "w") as f:
                f.write(pre + begin + "\n" + header + md + "\n" + end + post)


def version(binary):
    try:
        env = dict(os.environ, SOPS_DISABLE_VERSION_CHECK="true")
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10, env=env)
        return out.stdout.strip().splitlines()[0] if out.stdout else "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


if __name__ == "__main__":
    try:
        main()
    except BenchError as e:
        print("bench: error: %s" % e, file=sys.stderr)
        sys.exit(1)
