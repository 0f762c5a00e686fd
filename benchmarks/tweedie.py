#!/usr/bin/env python3
"""The cost of the tweedie family: whole runs of `losscli compare-noise-models`.

Usage (the project's interpreter: it has numpy and pyarrow):

    .venv/bin/python benchmarks/tweedie.py [--rows 1M] [-n 1] [--cases LIST]
        [--data-dir DIR] [--losscli 'COMMAND'] [--timeout S] [--json]

Writes (or reuses) three Parquet files of --rows rows in --data-dir (default
benchmarks/.data/, git-ignored), columns y and y_pred, from a fixed seed:

  regression_tw_ROWS.parquet      y = ŷ + 2 t(3), ŷ = 50 + 10 N(0, 1) (real: a few y < 0)
  positive_ROWS.parquet           y ~ gamma(shape 2, mean ŷ), ŷ = exp(N(log 2.5, 0.6))
  semicontinuous_ROWS.parquet     y ~ Tweedie(ŷ, φ = 1, p = 1.5) (about 5 % zeros)

and times each case -n times, in turn, as a whole process:
`losscli compare-noise-models FILE -t y -p y_pred --format json [-f FAMILIES]`. It prints
the median wall time and the median CPU time (user + system of the child, from
os.wait4: on a shared machine the steadier figure), the exit status, and the fitted
tweedie parameters where there are some. Cases (--cases, comma-separated):

  regression-tweedie   regression, -f tweedie (exit 1 there: y < 0 is outside its support)
  regression-all       regression, -f all
  positive-tweedie     positive, -f tweedie
  positive-gamma       positive, -f gamma
  positive-default     positive, the default candidates
  positive-all         positive, -f all
  semi-tweedie         semicontinuous, -f tweedie
  semi-default         semicontinuous, the default candidates

--losscli is the command that runs losscli, shell-split (default: the losscli next to the
interpreter), e.g. `--losscli 'env PYTHONPATH=OTHER_CHECKOUT .venv/bin/python -m losscli'`
to time another version of the code on the same files.

This is a benchmark, not a test: it asserts nothing.
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
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 20251207
CHUNK = 1_000_000

CASES = {
    "regression-tweedie": ("regression_tw", ["-f", "tweedie"]),
    "regression-all": ("regression_tw", ["-f", "all"]),
    "positive-tweedie": ("positive", ["-f", "tweedie"]),
    "positive-gamma": ("positive", ["-f", "gamma"]),
    "positive-default": ("positive", []),
    "positive-all": ("positive", ["-f", "all"]),
    "semi-tweedie": ("semicontinuous", ["-f", "tweedie"]),
    "semi-default": ("semicontinuous", []),
}


def parse_rows(text: str) -> int:
    text = text.strip().replace("_", "")
    mult = {"k": 1_000, "m": 1_000_000}.get(text[-1:].lower(), 1)
    return int(float(text[:-1] if mult > 1 else text) * mult)


def label(rows: int) -> str:
    return f"{rows // 1_000_000}M" if rows % 1_000_000 == 0 else str(rows)


def write_file(kind: str, rows: int, path: Path) -> None:
    """The data of one kind, in 1M-row chunks (one row group each), from SEED."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng([SEED, len(kind)])
    tmp = path.with_suffix(".tmp")
    writer = None
    done = 0
    while done < rows:
        n = min(CHUNK, rows - done)
        if kind == "regression_tw":
            pred = 50.0 + 10.0 * rng.standard_normal(n)
            y = pred + 2.0 * rng.standard_t(3.0, n)
        else:
            pred = np.exp(rng.normal(np.log(2.5), 0.6, n))
            if kind == "positive":
                y = rng.gamma(2.0, pred / 2.0)
            else:  # compound Poisson–gamma, φ = 1, p = 1.5
                p, phi = 1.5, 1.0
                k = rng.poisson(pred ** (2 - p) / (phi * (2 - p)))
                y = np.where(k > 0, rng.gamma(np.maximum(k * (2 - p) / (p - 1), 1e-300),
                                              phi * (p - 1) * pred ** (p - 1)), 0.0)
        table = pa.table({"y": y, "y_pred": pred})
        if writer is None:
            writer = pq.ParquetWriter(tmp, table.schema)
        writer.write_table(table)
        done += n
    writer.close()
    tmp.replace(path)


def ensure(kind: str, rows: int, data_dir: Path) -> Path:
    path = data_dir / f"{kind}_{label(rows)}.parquet"
    if path.exists():
        import pyarrow.parquet as pq

        if pq.ParquetFile(path).metadata.num_rows == rows:
            return path
    data_dir.mkdir(parents=True, exist_ok=True)
    print(f"writing {path}", file=sys.stderr)
    write_file(kind, rows, path)
    return path


def run_once(cmd: list[str], timeout: float) -> dict:
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    wall = time.monotonic() - start
    return {"wall": wall, "rc": proc.returncode, "stdout": out, "stderr": err}


def children_cpu() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def find_losscli(override: str | None) -> list[str]:
    if override:
        return shlex.split(override)
    local = Path(sys.executable).parent / "losscli"
    if local.exists():
        return [str(local)]
    found = shutil.which("losscli")
    if not found:
        sys.exit("error: losscli not found (pass --losscli PATH)")
    return [found]


def tweedie_params(stdout: bytes) -> str:
    try:
        rep = json.loads(stdout)
    except ValueError:
        return ""
    for m in rep.get("models", []):
        if m.get("family") == "tweedie":
            return ", ".join(f"{k}={v:.6g}" for k, v in m["params"].items())
    return ""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", default="1M")
    ap.add_argument("-n", type=int, default=1)
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--data-dir", type=Path, default=HERE / ".data")
    ap.add_argument("--losscli")
    ap.add_argument("--timeout", type=float, default=1800.0)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    rows = parse_rows(a.rows)
    exe = find_losscli(a.losscli)
    results = []
    for case in a.cases.split(","):
        kind, extra = CASES[case]
        path = ensure(kind, rows, a.data_dir)
        cmd = [*exe, "compare-noise-models", str(path), "-t", "y", "-p", "y_pred",
               "--format", "json", *extra]
        walls, cpus, last = [], [], None
        for _ in range(a.n):
            before = children_cpu()
            last = run_once(cmd, a.timeout)
            cpus.append(children_cpu() - before)
            walls.append(last["wall"])
        row = {"case": case, "rows": rows, "wall": statistics.median(walls),
               "cpu": statistics.median(cpus), "rc": last["rc"],
               "tweedie": tweedie_params(last["stdout"])}
        if last["rc"] not in (0,):
            row["error"] = last["stderr"].decode(errors="replace").strip().splitlines()[-1:]
        results.append(row)
        print(f"{case}: wall {row['wall']:.1f} s, cpu {row['cpu']:.1f} s, exit {row['rc']}",
              file=sys.stderr)
    if a.json:
        json.dump({"cpus": os.cpu_count(), "results": results}, sys.stdout, indent=2)
        print()
        return 0
    print(f"{os.cpu_count()} CPUs, {label(rows)} rows, median of {a.n}")
    print()
    print("| case | wall s | cpu s | exit | tweedie |")
    print("|---|---|---|---|---|")
    for r in results:
        note = r["tweedie"] or ("; ".join(r.get("error", [])) if r["rc"] else "")
        print(f"| {r['case']} | {r['wall']:.1f} | {r['cpu']:.1f} | {r['rc']} | {note} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
