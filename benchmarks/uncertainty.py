#!/usr/bin/env python3
"""Paired benchmark of the uncertainty reductions and `--by` slices (a script, not a test).

    .venv/bin/python benchmarks/uncertainty.py DATA_DIR [--rows 2M] [-n 3]

DATA_DIR receives `counts_by_ROWS.parquet` (y ~ Poisson(ŷ), ŷ = exp(N(1, 0.6)), and a
column g of 100 integer values; fixed seed; reused when present). Each case runs
compare-noise-models in this process, A and B in turn (one warm-up pair, then -n
measured pairs), so a load on the machine weighs on both alike; a case's figure is the
median of the pair-by-pair ratios A/B, of wall time and of the process's CPU time (the
latter less sensitive to other load on the machine).

  case          A                                  B                                 target
  uncertainty   compare-noise-models               the same with the se moments      ≤ 1.05
                                                   switched off (Spread.update a no-op)
  by            compare-noise-models --by g        compare-noise-models              ≤ 1.3
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np


def rows_arg(text: str) -> int:
    text = text.upper()
    scale = {"K": 10**3, "M": 10**6}.get(text[-1], 1)
    return int(float(text.rstrip("KM")) * scale)


def data(folder: str, n: int) -> str:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = os.path.join(folder, f"counts_by_{n}.parquet")
    if not os.path.exists(path):
        r = np.random.default_rng(20261207)
        mu = np.exp(r.normal(1.0, 0.6, n))
        table = pa.table({"y": r.poisson(mu).astype(np.float64), "y_pred": mu,
                          "g": r.integers(0, 100, n)})
        pq.write_table(table, path, row_group_size=1 << 20)
    return path


def run(path: str, **kw) -> tuple[float, float]:
    """(wall seconds, CPU seconds of every thread of the process) of one run."""
    from losscli import api
    from losscli.request import Request

    t, c = time.perf_counter(), time.process_time()
    api.compare_noise_models(Request(command="compare-noise-models", path=path, **kw))
    return time.perf_counter() - t, time.process_time() - c


def without_spread(fn):
    """Run fn with the standard-error moments switched off."""
    from losscli import statistics as st

    real = st.Spread.update
    st.Spread.update = lambda self, x, w: None
    try:
        return fn()
    finally:
        st.Spread.update = real


def paired(a, b, n: int):
    """Median A/B of wall time and of CPU time over n pairs (after a warm-up pair)."""
    a(), b()  # warm-up
    pairs = [(a(), b()) for _ in range(n)]
    wall = statistics.median(x[0] / y[0] for x, y in pairs)
    cpu = statistics.median(x[1] / y[1] for x, y in pairs)
    return wall, cpu, pairs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("folder")
    ap.add_argument("--rows", type=rows_arg, default=2_000_000)
    ap.add_argument("-n", type=int, default=3)
    args = ap.parse_args()
    path = data(args.folder, args.rows)
    for name, a, b, target in (
        ("uncertainty", lambda: run(path), lambda: without_spread(lambda: run(path)), 1.05),
        ("by", lambda: run(path, by="g"), lambda: run(path), 1.3),
    ):
        load = os.getloadavg()[0]
        wall, cpu, pairs = paired(a, b, args.n)
        times = ", ".join(f"{x[0]:.1f}/{y[0]:.1f} (cpu {x[1]:.1f}/{y[1]:.1f})"
                          for x, y in pairs)
        print(f"{name:12s} A/B wall {wall:.3f}, cpu {cpu:.3f} (target ≤ {target}; pairs "
              f"A/B s: {times}; load {load:.1f} → {os.getloadavg()[0]:.1f})",
              file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
