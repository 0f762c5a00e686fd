#!/usr/bin/env python3
"""Paired benchmark of several predictions (SPEC §10.2): two predictions against one in
`compare-noise-models` (a script, not a test).

    .venv/bin/python benchmarks/predictions.py [DATA_DIR] [--rows 2M] [-n 3]
        [--format parquet|csv] [--hac-lag L] [--losscli PATH] [--data-only]

DATA_DIR (default benchmarks/.data, git-ignored) receives `predictions_ROWS.FORMAT`
(reused when its row count is right; fixed seed): y ~ NB2(μ, α = 0.5) with
μ = exp(N(log 3, 0.7)); pred_b = μ, pred_a = μ·exp(N(0, 0.3)); x1 unused.

  A  compare-noise-models FILE -t y -p pred_a -p pred_b [--hac-lag L] --format json
  B  compare-noise-models FILE -t y -p pred_a --format json           target A/B ≤ 1.9

A and B run as whole processes in turn, one warm-up pair and then -n measured pairs
(A B A B ...), so that a load on the machine weighs on both sides alike; the figure is
the median of the pair-by-pair ratios. The 1-minute load average is printed before and
after. The driver imports only the standard library; the data are written by a child
process (`predictions.py --generate ROWS OUT`).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 20_261_207
TARGET = 1.9


def parse_rows(s: str) -> int:
    s = s.strip().lower().replace("_", "")
    scale = {"k": 10 ** 3, "m": 10 ** 6}.get(s[-1:], 1)
    return int(float(s[:-1] if scale > 1 else s) * scale)


def generate(rows: int, out: str) -> None:
    """Write the data file (run in a child process: numpy and pyarrow stay out of the
    driver)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    rng = np.random.default_rng(SEED)
    mu = np.exp(rng.normal(np.log(3.0), 0.7, rows))
    alpha = 0.5
    y = rng.poisson(rng.gamma(1.0 / alpha, alpha * mu))
    table = pa.table({"y": y.astype(np.float64), "pred_a": mu * np.exp(rng.normal(0, 0.3, rows)),
                      "pred_b": mu, "x1": rng.normal(size=rows)})
    tmp = out + ".tmp"
    if out.endswith(".csv"):
        pcsv.write_csv(table, tmp)
    else:
        pq.write_table(table, tmp, row_group_size=1 << 20)
    os.replace(tmp, out)


def rows_of(path: Path) -> int | None:
    """The file's data rows (None when it cannot be read)."""
    code = ("import sys, pyarrow.parquet as pq, pyarrow.csv as pc\n"
            "p = sys.argv[1]\n"
            "print(pq.ParquetFile(p).metadata.num_rows if p.endswith('.parquet') else "
            "pc.read_csv(p).num_rows)")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                         text=True)
    return int(out.stdout) if out.returncode == 0 else None


def timed(cmd: list[str]) -> tuple[float, dict]:
    start = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if out.returncode != 0:
        sys.exit(f"failed ({out.returncode}): {' '.join(cmd)}\n{out.stderr}")
    return wall, json.loads(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data_dir", nargs="?", default=str(HERE / ".data"))
    ap.add_argument("--rows", default="2M")
    ap.add_argument("-n", type=int, default=3)
    ap.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    ap.add_argument("--hac-lag", type=int, default=0)
    ap.add_argument("--losscli", default=str(Path(sys.executable).parent / "losscli"))
    ap.add_argument("--data-only", action="store_true")
    ap.add_argument("--generate", nargs=2, metavar=("ROWS", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.generate:
        generate(int(args.generate[0]), args.generate[1])
        return
    rows = parse_rows(args.rows)
    folder = Path(args.data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"predictions_{args.rows}.{args.format}"
    if not path.exists() or rows_of(path) != rows:
        print(f"writing {path} ({rows:,} rows)", file=sys.stderr)
        subprocess.run([sys.executable, __file__, "--generate", str(rows), str(path)],
                       check=True)
    if args.data_only:
        return
    base = [args.losscli, "compare-noise-models", str(path), "-t", "y", "--format", "json"]
    lag = ["--hac-lag", str(args.hac_lag)] if args.hac_lag else []
    a_cmd = base + ["-p", "pred_a", "-p", "pred_b"] + lag
    b_cmd = base + ["-p", "pred_a"]
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    timed(a_cmd), timed(b_cmd)  # warm-up pair (the file in the page cache)
    ratios, walls_a, walls_b = [], [], []
    for _ in range(args.n):
        wa, rep_a = timed(a_cmd)
        wb, rep_b = timed(b_cmd)
        walls_a.append(wa)
        walls_b.append(wb)
        ratios.append(wa / wb)
        print(f"  pair: A {wa:6.2f} s  B {wb:6.2f} s  A/B {wa / wb:.3f}", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    ratio = statistics.median(ratios)
    print(f"{rows:,} rows, {args.format}: two predictions {statistics.median(walls_a):.2f} s, "
          f"one {statistics.median(walls_b):.2f} s; median A/B = {ratio:.3f} "
          f"(target ≤ {TARGET}): {'PASS' if ratio <= TARGET else 'FAIL'}")
    tests = rep_a["prediction_tests"]
    print(f"passes A {rep_a['input']['passes']}, B {rep_b['input']['passes']}; "
          f"{len(tests)} prediction tests, e.g. {tests[0]['family']}: "
          f"Δ = {tests[0]['delta_cross_entropy']:.4f}, z = {tests[0]['statistic']:.1f}")


if __name__ == "__main__":
    main()
