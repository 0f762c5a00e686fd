#!/usr/bin/env python3
"""Paired benchmark of the default candidates (a script, not a test): the default
`compare-noise-models` next to the same command restricted with -f to the ten families of
SPEC §1.3 that apply to the target.

    .venv/bin/python benchmarks/defaults.py [--rows 10M] [-n 5] [--kinds counts,regression]
        [--data-dir DIR] [--losscli PATH] [--yardstick-dir DIR] [--timeout S] [--json]

The data files (KIND_ROWS.parquet in --data-dir, default benchmarks/.data/) are those of
benchmarks/bench.py, which writes the missing ones (`bench.py --data-only`). Per kind:

  A  losscli compare-noise-models FILE -t y -p y_pred --format json
  B  A with -f F1,F2,…: those of gaussian, laplace, student_t, poisson, negative_binomial,
     bernoulli, categorical, gamma, lognormal, beta that A fitted (a family named with -f
     that does not apply to the target is an error, so the others are left out)

One warm-up A (whose report gives B's families) and then -n pairs A B A B …; the figure is
the median of the pair-by-pair ratios A/B of wall time and of CPU time (user + system of
the child), so that a load on the machine weighs on both sides alike. The 1-minute load
average is read before and after each kind. Target: A/B wall ≤ 1.4.

The driver imports only the standard library. Exit status: 1 if a run failed, else 0 (a
ratio above the target does not change it).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import bench  # noqa: E402  (standard library only: the data files' names)

TEN = ("gaussian", "laplace", "student_t", "poisson", "negative_binomial", "bernoulli",
       "categorical", "gamma", "lognormal", "beta")
TARGET = 1.4


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def load1() -> float:
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def run_once(cmd: list[str], timeout: float) -> dict:
    """Wall time around the child and its CPU time (os.wait4), with its stdout."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        deadline = t0 + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.02)
        wall = time.monotonic() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rc": proc.returncode,
                "stdout": out.read().decode(errors="replace"),
                "stderr": err.read().decode(errors="replace")}


def data_file(a, kind: str) -> Path:
    """KIND_ROWS.parquet, written by bench.py when it is missing."""
    cmd = [sys.executable, str(HERE / "bench.py"), "--data-only", "--rows", a.rows,
           "--kinds", kind, "--formats", "parquet", "--data-dir", str(a.data_dir)]
    if a.yardstick_dir is not None:
        cmd += ["--yardstick-dir", a.yardstick_dir]
    subprocess.run(cmd, check=True, stdout=sys.stderr)
    path = a.data_dir / f"{kind}_{bench.rows_label(bench.parse_rows(a.rows))}.parquet"
    if not path.is_file():
        raise SystemExit(f"error: bench.py wrote no {path}")
    return path


def bench_kind(a, losscli: str, kind: str) -> dict:
    path = data_file(a, kind)
    cmd_a = [losscli, "compare-noise-models", str(path), "-t", "y", "-p", "y_pred",
             "--format", "json"]
    load_before = load1()
    log(f"[{kind}] warm-up: {shlex.join(cmd_a)}")
    warm = run_once(cmd_a, a.timeout)
    if warm["rc"] != 0:
        log(warm["stderr"])
        return {"kind": kind, "error": f"A failed (exit {warm['rc']})"}
    fitted = [m["family"] for m in json.loads(warm["stdout"])["models"]]
    ten = [f for f in TEN if f in fitted]
    cmd_b = cmd_a + ["-f", ",".join(ten)]
    log(f"[{kind}] B: -f {','.join(ten)}")
    pairs = []
    for i in range(a.n):
        ra, rb = run_once(cmd_a, a.timeout), run_once(cmd_b, a.timeout)
        if ra["rc"] or rb["rc"]:
            log(ra["stderr"] if ra["rc"] else rb["stderr"])
            return {"kind": kind, "error": "a run failed"}
        pairs.append((ra, rb))
        log(f"[{kind}] pair {i + 1}: A {ra['wall']:.2f} s ({ra['cpu']:.2f} cpu), "
            f"B {rb['wall']:.2f} s ({rb['cpu']:.2f} cpu), A/B {ra['wall'] / rb['wall']:.3f}")
    med = statistics.median
    return {
        "kind": kind, "rows": a.rows, "file": str(path), "new": [f for f in fitted
                                                                 if f not in TEN],
        "ten": ten, "pairs": len(pairs),
        "a_wall": med(p[0]["wall"] for p in pairs), "b_wall": med(p[1]["wall"] for p in pairs),
        "a_cpu": med(p[0]["cpu"] for p in pairs), "b_cpu": med(p[1]["cpu"] for p in pairs),
        "ratio_wall": med(p[0]["wall"] / p[1]["wall"] for p in pairs),
        "ratio_cpu": med(p[0]["cpu"] / p[1]["cpu"] for p in pairs),
        "load_before": load_before, "load_after": load1(),
    }


def table(results: list[dict]) -> str:
    lines = ["| kind | rows | A wall s | B wall s | A/B wall | A cpu s | B cpu s | A/B cpu "
             "| load 1 min | verdict |", "|" + "---|" * 10]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['kind']} | | | | failed: {r['error']} | | | | | |")
            continue
        ok = "PASS" if r["ratio_wall"] <= TARGET else "FAIL"
        lines.append(
            f"| {r['kind']} | {r['rows']} | {r['a_wall']:.2f} | {r['b_wall']:.2f} | "
            f"{r['ratio_wall']:.3f} | {r['a_cpu']:.2f} | {r['b_cpu']:.2f} | "
            f"{r['ratio_cpu']:.3f} | {r['load_before']:.1f} → {r['load_after']:.1f} | {ok} |")
    lines.append("")
    for r in results:
        if "error" not in r:
            lines.append(f"{r['kind']}: new defaults {', '.join(r['new']) or 'none'}; "
                         f"B -f {','.join(r['ten'])}")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", default="10M")
    p.add_argument("-n", type=int, default=5)
    p.add_argument("--kinds", default="counts,regression")
    p.add_argument("--data-dir", type=Path, default=HERE / ".data")
    p.add_argument("--losscli", default=None)
    p.add_argument("--yardstick-dir", default=None,
                   help="passed to bench.py (its gen_data.py writes the files)")
    p.add_argument("--timeout", type=float, default=3600.0)
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    losscli = a.losscli or str(Path(sys.executable).parent / "losscli")
    bench.compile_bytecode(losscli)
    if not Path(losscli).is_file():
        losscli = shutil.which("losscli") or ""
    if not losscli:
        raise SystemExit("error: losscli not found (--losscli PATH)")
    results = [bench_kind(a, losscli, k) for k in a.kinds.split(",") if k]
    print(json.dumps(results, indent=1) if a.json else table(results))
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
