"""Benchmark of the diagnostics' cost (a script, not a test).

For each kind (regression, counts) it runs, in turn and n times,

    A  losscli compare-noise-models FILE -t y -p y_pred --format json
    B  the same with --diagnostics
    C  the same with --diagnostics --plot DIR

and prints the median wall time and peak RSS of each, the pair-by-pair ratio B/A (bound:
1.3) and the difference C − B (bound: 2 s). The files are the Parquet files of bench.py
(benchmarks/.data/KIND_ROWS.parquet; write them with
`benchmarks/bench.py --rows 10M --formats parquet --data-only`).

    .venv/bin/python benchmarks/diagnostics.py [--rows 10M] [-n 3] [--kinds regression,counts]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run_once(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB) of one whole process."""
    t = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}")
    return wall, ru.ru_maxrss / 1024.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", default="10M")
    ap.add_argument("-n", type=int, default=3)
    ap.add_argument("--kinds", default="regression,counts")
    ap.add_argument("--data-dir", default=str(HERE / ".data"))
    ap.add_argument("--losscli", default=str(Path(sys.executable).with_name("losscli")))
    args = ap.parse_args()
    print(f"{'kind':<11}{'A wall':>8}{'B wall':>8}{'C wall':>8}{'B/A':>7}{'C−B s':>7}"
          f"{'A MiB':>8}{'B MiB':>8}{'C MiB':>8}")
    for kind in args.kinds.split(","):
        path = Path(args.data_dir) / f"{kind}_{args.rows}.parquet"
        if not path.exists():
            raise SystemExit(f"{path} is missing: run benchmarks/bench.py --rows {args.rows} "
                             "--formats parquet --data-only")
        base = [args.losscli, "compare-noise-models", str(path), "-t", "y", "-p", "y_pred",
                "--format", "json"]
        with tempfile.TemporaryDirectory() as tmp:
            cmds = {"A": base, "B": base + ["--diagnostics"],
                    "C": base + ["--diagnostics", "--plot", tmp]}
            res: dict[str, list[tuple[float, float]]] = {k: [] for k in cmds}
            run_once(cmds["C"])  # warm-up: caches, matplotlib's font cache
            for _ in range(args.n):
                for k, cmd in cmds.items():
                    res[k].append(run_once(cmd))
        ratio = statistics.median(b[0] / a[0] for a, b in zip(res["A"], res["B"], strict=True))
        extra = statistics.median(c[0] - b[0] for b, c in zip(res["B"], res["C"], strict=True))
        med = {k: (statistics.median(w for w, _ in v), statistics.median(p for _, p in v))
               for k, v in res.items()}
        print(f"{kind:<11}{med['A'][0]:>8.2f}{med['B'][0]:>8.2f}{med['C'][0]:>8.2f}"
              f"{ratio:>7.2f}{extra:>7.2f}{med['A'][1]:>8.0f}{med['B'][1]:>8.0f}"
              f"{med['C'][1]:>8.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
