#!/usr/bin/env python3
"""Paired benchmark of per-row parameters, --scores and the issue's other targets (a script,
not a test).

    .venv/bin/python benchmarks/params.py DATA_DIR [--rows 10M] [-n 3] [--cases LIST]
        [--losscli PATH] [--yardstick-dir DIR] [--timeout S] [--load N] [--data-only]

DATA_DIR receives the data files (nothing is written into the repository). Files already
there with the right row count are reused; generation has a fixed seed:

  gaussian_params_ROWS.parquet  y, y_pred, s, x1   y = y_pred + s·N(0, 1) with a per-row σ
                                s = exp(N(0, 0.5)) (given σ too narrow by 10 % on half the rows)
  nb_params_ROWS.parquet        y, y_pred, a, x1   y ~ NB2(μ = y_pred, α = a) as a
                                gamma-Poisson mixture, y_pred = exp(N(log 2.5, 0.8)),
                                a = exp(N(log 0.8, 0.5))
  regression_ROWS.parquet, counts_ROWS.parquet     written by benchmarks/bench.py --data-only
                                (the shared gen_data.py when --yardstick-dir holds it)

Each case runs A and B as whole processes in turn, one warm-up pair and then -n measured
pairs (A B A B ...), so that a load on the machine weighs on both sides alike. --load N
keeps N cores busy meanwhile (busy loops, each in its own session: with the kernel's
session autogroups a busy program then takes its share of the cores, and A, with two
threads, gets about one core, as B does). A case's
figure is the median of the pair-by-pair values; the 1-minute load average is read before
and after each case.

  case          A                                         B                          target
  param-gauss   evaluate -f gaussian --param sigma=s      evaluate -f gaussian       A/B ≤ 1.1
  param-nb      evaluate -f negative_binomial             the same without --param   A/B ≤ 1.1
                --param alpha=a
  scores-gauss  param-gauss's A with --scores             param-gauss's A            A/B ≤ 1.5
  scores-nb     param-nb's A with --scores                param-nb's A               A/B ≤ 1.5
  compare-reg   compare-noise-models regression file      limit.py --families all    A/B ≤ 1.0
  compare-cnt   compare-noise-models counts file          limit.py --families all    A/B ≤ 0.6
  diagnostics   compare-noise-models counts --diagnostics compare-noise-models       A/B ≤ 1.3
  plot          diagnostics' A with --plot DIR            diagnostics' A             A−B ≤ 2 s
  help          losscli --help                            python -c pass             A ≤ 0.15 s

Every losscli command reads -t y -p y_pred and writes --format json. The scores cases are
skipped with a message when the installed losscli has no --scores; the compare cases when
limit.py is not in --yardstick-dir (default: ../shared/bench next to the repository). The
help case also fails when `losscli --help` imports numpy, scipy or pyarrow.

Before the first run the losscli package's bytecode is written (bench.compile_bytecode),
as an installed copy has it: an editable install under PYTHONDONTWRITEBYTECODE would
otherwise compile every module at each start.

The driver imports only the standard library (a child's ru_maxrss starts from its parent's
RSS); data are written by child processes (`params.py --generate KIND ROWS OUT`).
Exit status: 1 if a run failed, else 0 (a FAIL verdict does not change it).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_YARDSTICK_DIR = HERE.parent.parent / "shared" / "bench"
SEED = 20_261_207
CHUNK_ROWS = 1_000_000
PARAM_KINDS = {"gaussian_params": "s", "nb_params": "a"}
CASES = ("param-gauss", "param-nb", "scores-gauss", "scores-nb", "compare-reg",
         "compare-cnt", "diagnostics", "plot", "help")
# run once after the help case: which heavy modules `losscli --help` leaves imported
HELP_PROBE = (
    "import contextlib, io, sys\n"
    "from losscli.cli import main\n"
    "sys.argv = ['losscli', '--help']\n"
    "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
    "    main()\n"
    "print(','.join(m for m in ('numpy', 'scipy', 'pyarrow') if m in sys.modules))\n"
)


def parse_rows(s: str) -> int:
    s = s.strip().lower().replace("_", "")
    mult = {"k": 1_000, "m": 1_000_000}.get(s[-1:], 1)
    return int(float(s.rstrip("km")) * mult)


# ------------------------------------------------------------------ data (child process)

def generate(kind: str, rows: int, out: Path) -> None:
    """Write OUT in 1M-row chunks, one row group each; chunk k uses seed (SEED, k)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    tmp = out.with_name(out.name + ".tmp")
    writer = None
    for k, start in enumerate(range(0, rows, CHUNK_ROWS)):
        n = min(CHUNK_ROWS, rows - start)
        rng = np.random.default_rng([SEED, k])
        if kind == "gaussian_params":
            y_pred = rng.normal(0.0, 3.0, n)
            s = np.exp(rng.normal(0.0, 0.5, n))
            # the given σ is 10 % too narrow on half the rows: recalibration has work to do
            true_s = s * np.where(rng.random(n) < 0.5, 1.1, 1.0)
            cols = {"y": y_pred + true_s * rng.standard_normal(n), "y_pred": y_pred, "s": s}
        else:
            mu = np.exp(rng.normal(np.log(2.5), 0.8, n))
            a = np.exp(rng.normal(np.log(0.8), 0.5, n))
            lam = mu * rng.gamma(1.0 / a, a)
            cols = {"y": rng.poisson(lam).astype(np.int64), "y_pred": mu, "a": a}
        cols["x1"] = rng.standard_normal(n)
        table = pa.table(cols)
        if writer is None:
            writer = pq.ParquetWriter(tmp, table.schema)
        writer.write_table(table)
    writer.close()
    os.replace(tmp, out)


def parquet_rows(path: Path) -> int | None:
    if not path.exists():
        return None
    code = ("import sys, pyarrow.parquet as pq; "
            "print(pq.ParquetFile(sys.argv[1]).metadata.num_rows)")
    p = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                       text=True)
    return int(p.stdout) if p.returncode == 0 else None


def ensure_data(data_dir: Path, rows: int, label: str, yardstick_dir: Path,
                kinds: set[str]) -> dict[str, Path]:
    data_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for kind in PARAM_KINDS:
        path = data_dir / f"{kind}_{label}.parquet"
        paths[kind] = path
        if kind in kinds and parquet_rows(path) != rows:
            log(f"writing {path}")
            subprocess.run([sys.executable, __file__, "--generate", kind, str(rows),
                            str(path)], check=True)
    wanted = [k for k in ("regression", "counts") if k in kinds]
    for kind in ("regression", "counts"):
        paths[kind] = data_dir / f"{kind}_{label}.parquet"
    if wanted:
        cmd = [sys.executable, str(HERE / "bench.py"), "--rows", str(rows), "--formats",
               "parquet", "--kinds", ",".join(wanted), "--data-dir", str(data_dir),
               "--yardstick-dir", str(yardstick_dir), "--data-only"]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        for kind in wanted:  # bench.py names files by its own row label
            got = sorted(data_dir.glob(f"{kind}_*.parquet"), key=os.path.getmtime)
            if not paths[kind].exists() and got:
                paths[kind] = got[-1]
    return paths


# ------------------------------------------------------------------ timing

def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@contextlib.contextmanager
def busy(n: int):
    """n processes of a busy loop, each in its own session (so the scheduler treats it as
    another program, not as part of the benchmark's process group), stopped on exit."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"],
                              start_new_session=True) for _ in range(n)]
    if procs:
        log(f"load: {n} busy process(es) for the whole run")
        time.sleep(1.0)
    try:
        yield
    finally:
        for p in procs:
            p.kill()
            p.wait()


def load1() -> float:
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


class RunFailed(Exception):
    pass


def run_once(cmd: list[str], timeout: float) -> dict:
    """Wall seconds, peak RSS (MiB, ru_maxrss) and stderr of one whole process."""
    with tempfile.TemporaryFile() as err:
        t = time.monotonic()
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=err, start_new_session=True)
        # wait4 gives the child's ru_maxrss; a timer kills the whole group on a timeout
        timer = threading.Timer(timeout, os.killpg, (p.pid, signal.SIGKILL))
        timer.start()
        try:
            _, status, ru = os.wait4(p.pid, 0)
        finally:
            timer.cancel()
        p.returncode = rc = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - t
        err.seek(0)
        text = err.read().decode(errors="replace")
    peak = ru.ru_maxrss / 1024.0
    if rc != 0:
        raise RunFailed(f"exit {rc}: {shlex.join(cmd)}\n{text[-2000:]}")
    return {"wall": wall, "peak": peak, "stderr": text}


def paired(a: list[str], b: list[str], n: int, timeout: float) -> dict:
    """One warm-up pair, then n pairs A B A B ...; medians and pair-by-pair figures."""
    load_before = load1()
    run_once(a, timeout)
    run_once(b, timeout)
    ra, rb = [], []
    for _ in range(n):
        ra.append(run_once(a, timeout))
        rb.append(run_once(b, timeout))
    return {
        "a_wall": statistics.median(r["wall"] for r in ra),
        "b_wall": statistics.median(r["wall"] for r in rb),
        "a_peak": statistics.median(r["peak"] for r in ra),
        "b_peak": statistics.median(r["peak"] for r in rb),
        "ratio": statistics.median(x["wall"] / y["wall"] for x, y in zip(ra, rb, strict=True)),
        "diff": statistics.median(x["wall"] - y["wall"] for x, y in zip(ra, rb, strict=True)),
        "load": (load_before, load1()),
        "a_stderr": ra[-1]["stderr"],
    }


# ------------------------------------------------------------------ cases

def has_option(losscli: str, command: str, option: str) -> bool:
    p = subprocess.run([losscli, command, "--help"], capture_output=True, text=True,
                       env={**os.environ, "COLUMNS": "200"})
    return option in p.stdout


def plan(a, paths: dict[str, Path], plot_dir: str) -> list[dict]:
    """Each case: name, A, B, figure (ratio|diff|a_wall), bound, or skip (a reason)."""
    lc = a.losscli
    g, nb = str(paths["gaussian_params"]), str(paths["nb_params"])
    io = ["-t", "y", "-p", "y_pred", "--format", "json"]
    g_const = [lc, "evaluate", g, *io, "-f", "gaussian"]
    g_param = [*g_const, "--param", "sigma=s"]
    nb_const = [lc, "evaluate", nb, *io, "-f", "negative_binomial"]
    nb_param = [*nb_const, "--param", "alpha=a"]
    limit = Path(a.yardstick_dir) / "limit.py"
    cmp_cnt = [lc, "compare-noise-models", str(paths["counts"]), *io]
    diag = [*cmp_cnt, "--diagnostics"]
    no_scores = None if has_option(lc, "evaluate", "--scores") else (
        "the installed losscli has no --scores")
    no_param = None if has_option(lc, "evaluate", "--param") else (
        "the installed losscli has no --param")
    no_limit = None if limit.is_file() else f"no limit.py in {a.yardstick_dir}"

    def lim(kind: str) -> list[str]:
        return [sys.executable, str(limit), str(paths[kind]), "--kind", kind,
                "--families", "all"]

    return [
        {"name": "param-gauss", "a": g_param, "b": g_const, "fig": "ratio", "bound": 1.1,
         "skip": no_param},
        {"name": "param-nb", "a": nb_param, "b": nb_const, "fig": "ratio", "bound": 1.1,
         "skip": no_param},
        {"name": "scores-gauss", "a": [*g_param, "--scores"], "b": g_param, "fig": "ratio",
         "bound": 1.5, "skip": no_param or no_scores},
        {"name": "scores-nb", "a": [*nb_param, "--scores"], "b": nb_param, "fig": "ratio",
         "bound": 1.5, "skip": no_param or no_scores},
        {"name": "compare-reg", "b": lim("regression"), "fig": "ratio", "bound": 1.0,
         "a": [lc, "compare-noise-models", str(paths["regression"]), *io], "skip": no_limit},
        {"name": "compare-cnt", "a": cmp_cnt, "b": lim("counts"), "fig": "ratio",
         "bound": 0.6, "skip": no_limit},
        {"name": "diagnostics", "a": diag, "b": cmp_cnt, "fig": "ratio", "bound": 1.3,
         "skip": None},
        {"name": "plot", "a": [*diag, "--plot", plot_dir], "b": diag, "fig": "diff",
         "bound": 2.0, "skip": None},
        {"name": "help", "a": [lc, "--help"],
         "b": [sys.executable, "-c", "pass"], "fig": "a_wall", "bound": 0.15, "skip": None},
    ]


FIG_LABEL = {"ratio": "A/B", "diff": "A−B s", "a_wall": "A s"}


def verdict(case: dict, res: dict) -> str:
    ok = res[case["fig"]] <= case["bound"]
    if case["name"] == "help":
        python = str(Path(case["a"][0]).with_name("python"))
        p = subprocess.run([python, "-c", HELP_PROBE], capture_output=True, text=True)
        heavy = p.stdout.strip() if p.returncode == 0 else f"probe failed: {p.stderr[-300:]}"
        res["note"] = f"imports: {heavy or 'none'} of numpy/scipy/pyarrow"
        ok = ok and not heavy
    return "PASS" if ok else "FAIL"


def main() -> int:
    if sys.argv[1:2] == ["--generate"]:
        generate(sys.argv[2], int(sys.argv[3]), Path(sys.argv[4]))
        return 0
    ap = argparse.ArgumentParser(prog="params.py", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data_dir", type=Path, help="where the data files are written/reused")
    ap.add_argument("--rows", default="10M", help="rows per data file (default 10M)")
    ap.add_argument("-n", type=int, default=3, help="measured pairs per case (default 3)")
    ap.add_argument("--cases", default=",".join(CASES),
                    help=f"comma-separated subset of {','.join(CASES)}")
    ap.add_argument("--losscli", default=str(Path(sys.executable).with_name("losscli")))
    ap.add_argument("--yardstick-dir", default=str(DEFAULT_YARDSTICK_DIR))
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per run")
    ap.add_argument("--data-only", action="store_true", help="write the data, run nothing")
    ap.add_argument("--json", action="store_true", help="also print the results as JSON")
    ap.add_argument("--load", type=int, default=0, metavar="N",
                    help="keep N cores busy while the pairs run (N processes of a busy "
                         "loop, each in its own session as another program would be)")
    a = ap.parse_args()
    cases = a.cases.split(",")
    if bad := [c for c in cases if c not in CASES]:
        ap.error(f"unknown case(s) {','.join(bad)}; choose from {','.join(CASES)}")
    rows = parse_rows(a.rows)
    needs = {"param-gauss": "gaussian_params", "param-nb": "nb_params",
             "scores-gauss": "gaussian_params", "scores-nb": "nb_params",
             "compare-reg": "regression", "compare-cnt": "counts", "diagnostics": "counts",
             "plot": "counts"}
    kinds = {needs[c] for c in cases if c in needs}
    paths = ensure_data(a.data_dir, rows, a.rows, Path(a.yardstick_dir), kinds)
    if a.data_only:
        return 0
    sys.path.insert(0, str(HERE))
    import bench  # the standard library only

    bench.compile_bytecode(a.losscli)
    print(f"cpus: {os.cpu_count()}  rows: {rows:,}  pairs: {a.n} (+1 warm-up)  "
          f"losscli: {a.losscli}")
    failed = 0
    out = []
    with tempfile.TemporaryDirectory() as plot_dir, busy(a.load):
        for case in plan(a, paths, plot_dir):
            if case["name"] not in cases:
                continue
            row = {"case": case["name"], "a": shlex.join(case["a"]),
                   "b": shlex.join(case["b"]), "figure": FIG_LABEL[case["fig"]],
                   "bound": case["bound"]}
            out.append(row)
            if case["skip"]:
                row["verdict"] = "skipped"
                log(f"{case['name']}: skipped: {case['skip']}")
                row["note"] = case["skip"]
                continue
            log(f"{case['name']}: A = {row['a']}\n{' ' * len(case['name'])}  B = {row['b']}")
            try:
                res = paired(case["a"], case["b"], a.n, a.timeout)
            except RunFailed as e:
                failed += 1
                row["verdict"] = "failed"
                log(f"{case['name']}: failed: {e}")
                continue
            row["verdict"] = verdict(case, res)
            res.pop("a_stderr")
            row.update(res)
            row["value"] = res[case["fig"]]
            log(f"{case['name']}: {row['figure']} = {row['value']:.3f} (bound "
                f"{case['bound']:g}): {row['verdict']}; A {res['a_wall']:.2f} s, B "
                f"{res['b_wall']:.2f} s; load1 {res['load'][0]:.1f}→{res['load'][1]:.1f}")
    print(f"\n{'case':<13}{'A s':>8}{'B s':>8}{'A MiB':>7}{'B MiB':>7}{'figure':>8}"
          f"{'value':>8}{'bound':>7}  {'verdict':<8}load1 before→after")
    for r in out:
        if "value" not in r:
            print(f"{r['case']:<13}{'':>38}{r['figure']:>8}{'':>8}{r['bound']:>7.2f}  "
                  f"{r['verdict']:<8}{r.get('note', '')}")
            continue
        lb, la = r["load"]
        print(f"{r['case']:<13}{r['a_wall']:>8.2f}{r['b_wall']:>8.2f}{r['a_peak']:>7.0f}"
              f"{r['b_peak']:>7.0f}{r['figure']:>8}{r['value']:>8.3f}{r['bound']:>7.2f}  "
              f"{r['verdict']:<8}{lb:.1f}→{la:.1f}  {r.get('note', '')}")
    if a.json:
        print(json.dumps(out, indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
