#!/usr/bin/env python3
"""Whole-process benchmark: `losscli compare-noise-models` next to a near-limit yardstick.

Usage (run it with the project's interpreter, which has numpy, pyarrow and scipy):

    .venv/bin/python benchmarks/bench.py [--rows 10M] [-n 3] [--kinds regression,counts]
        [--formats parquet,csv] [--data-dir DIR] [--yardstick-dir DIR] [--losscli PATH]
        [--losscli-args 'EXTRA ARGS'] [--timeout S] [--profile] [--json]

What one run does:

1. Makes sure the data files exist in --data-dir (default benchmarks/.data/), one Parquet
   and one CSV file per kind, named KIND_ROWS.{parquet,csv} (e.g. counts_10M.parquet).
   Files already there with the right row count are reused. Every file has the columns
   y, y_pred, x1, x2, x3 (x1..x3 are unused, so reading only the needed columns pays):
     regression  y = signal + 2 t(3),  y_pred = signal + 0.5 N(0, 1)
     counts      y (int64) ~ NB2(mu = y_pred, alpha = 1) as a gamma-Poisson mixture,
                 y_pred = mu = exp(N(log 2.5, 0.8))
   If --yardstick-dir (default: ../shared/bench next to the repository) holds gen_data.py,
   that script writes the files, so that figures are comparable with the shared yardstick;
   otherwise this script does (1M-row chunks, one Parquet row group per chunk, fixed seed).
2. For each (kind, format) runs, paired and in turn, A = the whole process
       losscli compare-noise-models FILE -t y -p y_pred --format json [--losscli-args ...]
   and B = the yardstick, one warm-up pair and then -n measured pairs (A B A B ...),
   recording each run's wall time (time.monotonic around the child) and peak RSS (the
   child's ru_maxrss from os.wait4). B is `python <yardstick-dir>/limit.py FILE --kind KIND`
   if that file exists, else this script's own near-limit reference
   `python bench.py --limit FILE --kind KIND` (reads only y and y_pred with pyarrow, checks
   finiteness, computes the closed-form Gaussian mean NLL or the Poisson mean NLL).
   Note that the shared limit.py also fits an NB2 for counts, the built-in one does not.
3. Prints median wall, median peak and the medians of the pair-by-pair ratios A/B as a
   markdown table (or, with --json, as JSON on stdout). Progress goes to stderr.
   With --profile, losscli is run once more per case with LOSSCLI_TIMINGS=1 and its
   stderr is passed through.

If losscli cannot be found, a note says so and the yardstick figures are still measured and
shown (exit status 0); if a losscli or yardstick run fails, its stderr is shown, the other
side is still measured, and the exit status is 1.
To force the built-in yardstick and generator, pass --yardstick-dir ''.

The driver imports only the standard library, and generation and row counting run in child
processes: on Linux a child's ru_maxrss starts from its parent's RSS at spawn time, so a
large driver process would inflate every measured peak.

Internal entry points (used by the driver, runnable by hand):

    python bench.py --limit FILE --kind {regression,counts}     # built-in yardstick
    python bench.py --generate {regression,counts} ROWS STEM    # writes STEM.csv/.parquet
    python bench.py --count-rows FILE [FILE ...]                # JSON {file: rows}

(each must come first on the command line).
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
import threading
import time
from pathlib import Path

KINDS = ("regression", "counts")
FORMATS = ("parquet", "csv")
CHUNK_ROWS = 1_000_000
SEED = 20_240_611
NB2_ALPHA = 1.0

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
DEFAULT_DATA_DIR = HERE / ".data"
DEFAULT_YARDSTICK_DIR = REPO_ROOT.parent / "shared" / "bench"


# ------------------------------------------------------------------ small helpers


def parse_rows(text: str) -> int:
    """'10M' -> 10_000_000, '500k' -> 500_000, '1e6', '200_000' and '2.5M' work too."""
    s = text.strip().lower().replace("_", "").replace(",", "")
    scale = 1
    if s.endswith("k"):
        scale, s = 1_000, s[:-1]
    elif s.endswith("m"):
        scale, s = 1_000_000, s[:-1]
    try:
        value = float(s) * scale
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a row count: {text!r}") from None
    if value < 1 or value != int(value):
        raise argparse.ArgumentTypeError(f"not a positive whole row count: {text!r}")
    return int(value)


def rows_label(rows: int) -> str:
    if rows % 1_000_000 == 0:
        return f"{rows // 1_000_000}M"
    if rows % 1_000 == 0:
        return f"{rows // 1_000}k"
    return str(rows)


def csv_list(choices: tuple[str, ...]):
    def parse(text: str) -> list[str]:
        items = [t.strip() for t in text.split(",") if t.strip()]
        bad = [t for t in items if t not in choices]
        if bad or not items:
            raise argparse.ArgumentTypeError(
                f"expected a comma-separated subset of {','.join(choices)}, got {text!r}"
            )
        return list(dict.fromkeys(items))

    return parse


def log(msg: str = "") -> None:
    print(msg, file=sys.stderr, flush=True)


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


# ------------------------------------------------------------------ built-in yardstick


def limit_main(argv: list[str]) -> int:
    """Near-limit reference: read only y and y_pred, validate cheaply, closed-form mean NLL."""
    ap = argparse.ArgumentParser(
        prog="bench.py --limit", description="built-in near-limit yardstick"
    )
    ap.add_argument("--limit", metavar="FILE", required=True)
    ap.add_argument("--kind", choices=KINDS, required=True)
    a = ap.parse_args(argv)

    t_start = time.perf_counter()
    import numpy as np
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pa_pq
    from scipy import special

    path = a.limit
    wanted = ["y", "y_pred"]
    if path.endswith((".parquet", ".pq")):
        table = pa_pq.ParquetFile(path).read(columns=wanted)
    else:
        opts = pa_csv.ConvertOptions(include_columns=wanted)
        table = pa_csv.read_csv(path, convert_options=opts)
    n = table.num_rows
    y = np.asarray(table.column("y").to_numpy(), dtype=np.float64)
    mu = np.asarray(table.column("y_pred").to_numpy(), dtype=np.float64)
    del table
    if n == 0:
        raise SystemExit("error: no rows")
    for name, arr in (("y", y), ("y_pred", mu)):
        if not np.isfinite(arr).all():
            raise SystemExit(f"error: column {name} has non-finite values")

    if a.kind == "regression":
        resid = y - mu
        var = float(np.dot(resid, resid)) / n  # ML variance about the predictions
        result = {
            "family": "gaussian",
            "sigma": var**0.5,
            "mean_nll": 0.5 * (np.log(2.0 * np.pi * var) + 1.0),
        }
    else:
        if y.min() < 0 or not np.array_equal(y, np.floor(y)):
            raise SystemExit("error: counts must be whole numbers >= 0")
        if not (mu > 0).all():
            raise SystemExit("error: predicted means must be > 0")
        y_max = int(y.max())
        if y_max <= 1_000_000:  # log(y!) by table look-up: counts are small integers
            log_fact = special.gammaln(np.arange(y_max + 1, dtype=np.float64) + 1.0)
            sum_log_fact = float(log_fact[y.astype(np.intp)].sum())
        else:
            sum_log_fact = float(special.gammaln(y + 1.0).sum())
        total = float(mu.sum()) - float(special.xlogy(y, mu).sum()) + sum_log_fact
        result = {"family": "poisson", "mean_nll": total / n}

    result["mean_nll"] = float(result["mean_nll"])
    out = {"tool": "bench.py --limit", "file": path, "kind": a.kind, "rows": n}
    out.update(result)
    out["seconds_after_start"] = round(time.perf_counter() - t_start, 4)
    print(json.dumps(out))
    return 0


# ------------------------------------------------------------------ built-in generator


def generate_main(argv: list[str]) -> int:
    """Write STEM.parquet and STEM.csv with the same rows, in 1M-row chunks."""
    ap = argparse.ArgumentParser(prog="bench.py --generate")
    ap.add_argument("--generate", metavar="KIND", choices=KINDS, required=True)
    ap.add_argument("rows", type=parse_rows)
    ap.add_argument("stem")
    a = ap.parse_args(argv)

    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pa_pq

    kind, total, stem = a.generate, a.rows, a.stem
    rng = np.random.default_rng([SEED, KINDS.index(kind)])

    def chunk(n: int) -> pa.Table:
        if kind == "regression":
            signal = 20.0 + 5.0 * rng.standard_normal(n)
            y = signal + 2.0 * rng.standard_t(3.0, n)
            y_pred = signal + 0.5 * rng.standard_normal(n)
        else:
            y_pred = np.exp(rng.normal(np.log(2.5), 0.8, n))
            # gamma-Poisson: lambda ~ mu * Gamma(1/alpha, alpha) gives Var = mu + alpha mu^2
            rate = y_pred * rng.gamma(1.0 / NB2_ALPHA, NB2_ALPHA, n)
            y = rng.poisson(rate).astype(np.int64)
        return pa.table(
            {
                "y": y,
                "y_pred": y_pred,
                "x1": rng.standard_normal(n),
                "x2": rng.exponential(3.0, n),
                "x3": rng.uniform(0.0, 100.0, n),
            }
        )

    t0 = time.perf_counter()
    pq_path, csv_path = stem + ".parquet", stem + ".csv"
    no_header = pa_csv.WriteOptions(include_header=False)
    written = 0
    table = chunk(min(CHUNK_ROWS, total))
    with open(csv_path, "wb") as csv_file:
        csv_file.write((",".join(table.column_names) + "\n").encode())  # plain header line
        with (
            pa_pq.ParquetWriter(pq_path, table.schema) as pq_writer,
            pa_csv.CSVWriter(csv_file, table.schema, write_options=no_header) as csv_writer,
        ):
            while True:
                pq_writer.write_table(table, row_group_size=table.num_rows)  # 1 group/chunk
                csv_writer.write_table(table)
                written += table.num_rows
                if written >= total:
                    break
                table = chunk(min(CHUNK_ROWS, total - written))
    for p in (pq_path, csv_path):
        size = os.path.getsize(p) / 2**20
        print(f"{kind} {total} rows -> {p} ({size:.1f} MiB)", file=sys.stderr)
    print(f"  generated in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return 0


def count_rows_main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="bench.py --count-rows")
    ap.add_argument("--count-rows", metavar="FILE", nargs="+", required=True)
    a = ap.parse_args(argv)
    counts: dict[str, int] = {}
    for path in a.count_rows:
        if path.endswith((".parquet", ".pq")):
            import pyarrow.parquet as pa_pq

            counts[path] = pa_pq.ParquetFile(path).metadata.num_rows
            continue
        newlines, last = 0, b"\n"
        with open(path, "rb") as fh:
            while block := fh.read(1 << 24):
                newlines += block.count(b"\n")
                last = block[-1:]
        lines = newlines + (last != b"\n")
        counts[path] = max(lines - 1, 0)  # minus the header line
    print(json.dumps(counts))
    return 0


# ------------------------------------------------------------------ data cache


def file_stamp(path: Path) -> dict:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def ensure_dataset(kind: str, rows: int, data_dir: Path, yardstick_dir: Path | None) -> dict:
    """Return {format: path}, generating the pair of files unless valid ones are cached."""
    stem = data_dir / f"{kind}_{rows_label(rows)}"
    paths = {fmt: stem.with_name(f"{stem.name}.{fmt}") for fmt in FORMATS}
    manifest = stem.with_name(f"{stem.name}.manifest.json")

    if all(p.exists() for p in paths.values()):
        try:
            meta = json.loads(manifest.read_text())
        except (OSError, ValueError):
            meta = {}
        stamps_ok = meta.get("rows") == rows and all(
            meta.get("files", {}).get(fmt) == file_stamp(p) for fmt, p in paths.items()
        )
        if stamps_ok:
            log(
                f"[data] reusing {kind} files ({rows:,} rows, from {meta.get('generator')}) "
                f"in {data_dir}"
            )
            return paths
        log(f"[data] checking row counts of the existing {kind} files ...")
        cmd = [sys.executable, str(Path(__file__).resolve()), "--count-rows"]
        cmd += [str(p) for p in paths.values()]
        proc = subprocess.run(cmd, check=False, capture_output=True, text=True)
        counts = json.loads(proc.stdout) if proc.returncode == 0 else {}
        if all(counts.get(str(p)) == rows for p in paths.values()):
            generator = meta.get("generator", "unknown (found in the cache)")
            write_manifest(manifest, rows, paths, generator)
            log(f"[data] reusing {kind} files ({rows:,} rows) in {data_dir}")
            return paths
        log(f"[data] existing {kind} files have other row counts {counts}; regenerating")

    data_dir.mkdir(parents=True, exist_ok=True)
    tmp_stem = data_dir / f".tmp-{os.getpid()}-{stem.name}"
    gen_data = yardstick_dir / "gen_data.py" if yardstick_dir else None
    if gen_data is not None and gen_data.is_file():
        cmd = [sys.executable, str(gen_data), kind, str(rows), str(tmp_stem)]
        generator = str(gen_data)
    else:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--generate", kind]
        cmd += [str(rows), str(tmp_stem)]
        generator = "benchmarks/bench.py --generate"
    log(f"[data] generating {kind}, {rows:,} rows, with {generator} ...")
    tmp_paths = {fmt: tmp_stem.with_name(f"{tmp_stem.name}.{fmt}") for fmt in FORMATS}
    try:
        # the generator's own messages go to stderr, so that --json keeps stdout clean
        proc = subprocess.run(cmd, check=False, stdin=subprocess.DEVNULL, stdout=sys.stderr)
        if proc.returncode != 0 or not all(p.exists() for p in tmp_paths.values()):
            raise SystemExit(
                f"error: data generation failed (exit {proc.returncode}): {shlex.join(cmd)}"
            )
        for fmt, p in tmp_paths.items():
            os.replace(p, paths[fmt])
    finally:
        for p in tmp_paths.values():
            p.unlink(missing_ok=True)
    write_manifest(manifest, rows, paths, generator)
    return paths


def write_manifest(manifest: Path, rows: int, paths: dict, generator: str) -> None:
    meta = {
        "rows": rows,
        "generator": generator,
        "files": {fmt: file_stamp(p) for fmt, p in paths.items()},
    }
    manifest.write_text(json.dumps(meta, indent=1) + "\n")


# ------------------------------------------------------------------ measuring


def run_once(cmd: list[str], timeout: float | None, env: dict | None = None) -> dict:
    """Run cmd as a child; wall time around it, peak RSS from its rusage."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        timed_out = threading.Event()
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env)

        def kill() -> None:
            timed_out.set()
            proc.kill()

        timer = threading.Timer(timeout, kill) if timeout else None
        if timer:
            timer.start()
        # wait without reaping, so the timer can never signal a recycled pid ...
        os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
        wall = time.monotonic() - t0
        if timer:
            timer.cancel()
            timer.join()
        # ... then reap and take the child's resource usage
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return {
            "wall_s": wall,
            "cpu_s": usage.ru_utime + usage.ru_stime,
            "peak_mib": usage.ru_maxrss / 1024.0,  # ru_maxrss is in KiB on Linux
            "rc": proc.returncode,
            "timed_out": timed_out.is_set(),
            "stdout": out.read().decode(errors="replace"),
            "stderr": err.read().decode(errors="replace"),
        }


def describe_failure(tag: str, run: dict) -> str:
    why = "timed out" if run["timed_out"] else f"exit code {run['rc']}"
    tail = "\n".join(run["stderr"].strip().splitlines()[-15:])
    return f"{tag} failed ({why})" + (f":\n{tail}" if tail else "")


def summarize(runs: list[dict]) -> dict:
    ok = [r for r in runs if r["rc"] == 0]
    return {
        "wall_s_median": median([r["wall_s"] for r in ok]),
        "peak_mib_median": median([r["peak_mib"] for r in ok]),
        "cpu_s_median": median([r["cpu_s"] for r in ok]),
        "runs": [
            {
                k: (round(v, 4) if isinstance(v, float) else v)
                for k, v in r.items()
                if k in ("wall_s", "cpu_s", "peak_mib", "rc", "timed_out")
            }
            for r in runs
        ],
    }


def bench_case(
    kind: str,
    fmt: str,
    path: Path,
    cmd_a: list[str] | None,
    cmd_b: list[str],
    a: argparse.Namespace,
) -> dict:
    tag = f"[{kind}/{fmt}]"
    runs_a: list[dict] = []
    runs_b: list[dict] = []
    error_a = error_b = None
    last_b_stdout = ""
    # pair 0 is the warm-up (also brings the file into the page cache)
    for i in range(a.n + 1):
        label = "warm-up" if i == 0 else f"run {i}/{a.n}"
        ra = None
        if cmd_a is not None and error_a is None:
            ra = run_once(cmd_a, a.timeout)
            if ra["rc"] != 0:
                error_a = describe_failure("losscli", ra)
                log(f"{tag} {error_a}\n{tag} losscli skipped for the rest of this case")
                ra = None
        rb = run_once(cmd_b, a.timeout)
        if rb["rc"] != 0:
            error_b = describe_failure("yardstick", rb)
            log(f"{tag} {error_b}")
            if i == 0:
                break
            rb = None
        else:
            last_b_stdout = rb["stdout"].strip()
        parts = []
        if ra:
            parts.append(f"losscli {ra['wall_s']:.3f} s {ra['peak_mib']:.0f} MiB")
        if rb:
            parts.append(f"yardstick {rb['wall_s']:.3f} s {rb['peak_mib']:.0f} MiB")
        log(f"{tag} {label}: " + (", ".join(parts) or "no successful run"))
        if i == 0:
            continue
        if ra:
            runs_a.append(ra)
        if rb:
            runs_b.append(rb)
        if ra and rb:
            ra["pair"] = rb["pair"] = i

    pairs = [(x, y) for x in runs_a for y in runs_b if x.get("pair") == y.get("pair")]
    result = {
        "kind": kind,
        "format": fmt,
        "file": str(path),
        "losscli_cmd": shlex.join(cmd_a) if cmd_a else None,
        "yardstick_cmd": shlex.join(cmd_b),
        "losscli": summarize(runs_a) | {"error": error_a},
        "yardstick": summarize(runs_b) | {"error": error_b, "last_output": last_b_stdout},
        "wall_ratio_median": median([x["wall_s"] / max(y["wall_s"], 1e-9) for x, y in pairs]),
        "peak_ratio_median": median([x["peak_mib"] / max(y["peak_mib"], 1e-9) for x, y in pairs]),
        "pairs": len(pairs),
    }

    if a.profile and cmd_a is not None:
        env = dict(os.environ, LOSSCLI_TIMINGS="1")
        rp = run_once(cmd_a, a.timeout, env=env)
        log(
            f"{tag} profile run (LOSSCLI_TIMINGS=1): {rp['wall_s']:.3f} s, "
            f"{rp['peak_mib']:.0f} MiB, exit code {rp['rc']}; losscli stderr:"
        )
        log(rp["stderr"].rstrip() or "(nothing on stderr)")
        result["profile"] = {
            "wall_s": round(rp["wall_s"], 4),
            "peak_mib": round(rp["peak_mib"], 1),
            "rc": rp["rc"],
            "stderr": rp["stderr"],
        }
    return result


# ------------------------------------------------------------------ driver


def find_losscli(override: str | None) -> str | None:
    if override:
        found = shutil.which(override) or (override if Path(override).is_file() else None)
        return str(Path(found).absolute()) if found else None
    beside = Path(sys.executable).parent / "losscli"  # not resolved: keep the venv's bin/
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("losscli")


def fmt_num(value: float | None, digits: int, error: str | None = None) -> str:
    if value is None:
        return "failed" if error else "n/a"
    return f"{value:.{digits}f}"


def markdown_table(results: list[dict]) -> str:
    head = (
        "kind | format | losscli wall s | yardstick wall s | wall ratio"
        " | losscli peak MiB | yardstick peak MiB | peak ratio"
    )
    lines = ["| " + head + " |", "|" + "---|" * 8]
    for r in results:
        la, lb = r["losscli"], r["yardstick"]
        cells = [
            r["kind"],
            r["format"],
            fmt_num(la["wall_s_median"], 3, la["error"]),
            fmt_num(lb["wall_s_median"], 3, lb["error"]),
            fmt_num(r["wall_ratio_median"], 2),
            fmt_num(la["peak_mib_median"], 1, la["error"]),
            fmt_num(lb["peak_mib_median"], 1, lb["error"]),
            fmt_num(r["peak_ratio_median"], 2),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="bench.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument(
        "--rows",
        type=parse_rows,
        default=parse_rows("10M"),
        help="rows per file: 10M (default), 1M, 500k, 1e6, ...",
    )
    ap.add_argument(
        "-n",
        type=int,
        default=3,
        help="measured pairs per case, after one warm-up pair (default 3)",
    )
    ap.add_argument(
        "--kinds",
        type=csv_list(KINDS),
        default=list(KINDS),
        help="comma-separated subset of regression,counts",
    )
    ap.add_argument(
        "--formats",
        type=csv_list(FORMATS),
        default=list(FORMATS),
        help="comma-separated subset of parquet,csv",
    )
    ap.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA_DIR,
        help="cache of generated files (default benchmarks/.data/)",
    )
    ap.add_argument(
        "--yardstick-dir",
        default=str(DEFAULT_YARDSTICK_DIR),
        help="folder with gen_data.py / limit.py (default ../shared/bench next "
        "to the repository); '' to use this script's own",
    )
    ap.add_argument(
        "--losscli",
        default=None,
        help="losscli executable (default: the one beside this python, else PATH)",
    )
    ap.add_argument(
        "--losscli-args",
        default="",
        help="extra arguments appended to the losscli command (shell-split)",
    )
    ap.add_argument(
        "--timeout",
        type=float,
        default=900.0,
        help="seconds before a single run is killed (default 900)",
    )
    ap.add_argument(
        "--profile",
        action="store_true",
        help="also run losscli once per case with LOSSCLI_TIMINGS=1, show stderr",
    )
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    return ap


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    internal = {"--limit": limit_main, "--generate": generate_main, "--count-rows": count_rows_main}
    if argv and argv[0] in internal:  # the internal entry points take the flag first
        return internal[argv[0]](argv)

    ap = build_parser()
    a = ap.parse_args(argv)
    if a.n < 1:
        ap.error("-n must be at least 1")
    yardstick_dir = Path(a.yardstick_dir).resolve() if a.yardstick_dir else None
    data_dir = a.data_dir.resolve()

    probe = subprocess.run(
        [sys.executable, "-c", "import numpy, pyarrow.parquet, pyarrow.csv, scipy.special"],
        check=False,
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        raise SystemExit(
            f"error: {sys.executable} lacks numpy/pyarrow/scipy; run this script with the "
            f"project's interpreter (.venv/bin/python).\n{probe.stderr.strip()}"
        )

    losscli = find_losscli(a.losscli)
    if losscli is None:
        where = a.losscli or f"beside {sys.executable} or on PATH"
        log(
            f"NOTE: losscli not found ({where}); measuring the yardstick only.\n"
            "      Install the project into the venv (e.g. `.venv/bin/pip install -e .`) "
            "or pass --losscli PATH."
        )
    limit_py = yardstick_dir / "limit.py" if yardstick_dir else None
    if limit_py is not None and limit_py.is_file():
        yardstick_name = str(limit_py)
    else:
        limit_py = None
        yardstick_name = "bench.py --limit (built-in)"
    extra = shlex.split(a.losscli_args)

    datasets = {kind: ensure_dataset(kind, a.rows, data_dir, yardstick_dir) for kind in a.kinds}

    results = []
    for kind in a.kinds:
        for fmt in a.formats:
            path = datasets[kind][fmt]
            cmd_a = None
            if losscli:
                cmd_a = [
                    losscli,
                    "compare-noise-models",
                    str(path),
                    "-t",
                    "y",
                    "-p",
                    "y_pred",
                    "--format",
                    "json",
                    *extra,
                ]
            if limit_py is not None:
                cmd_b = [sys.executable, str(limit_py), str(path), "--kind", kind]
            else:
                cmd_b = [
                    sys.executable,
                    str(Path(__file__).resolve()),
                    "--limit",
                    str(path),
                    "--kind",
                    kind,
                ]
            log(f"[{kind}/{fmt}] A = {shlex.join(cmd_a) if cmd_a else '(losscli not found)'}")
            log(f"[{kind}/{fmt}] B = {shlex.join(cmd_b)}")
            results.append(bench_case(kind, fmt, path, cmd_a, cmd_b, a))

    if a.json:
        report = {
            "rows": a.rows,
            "pairs_per_case": a.n,
            "warmup_pairs": 1,
            "python": sys.executable,
            "losscli": losscli,
            "yardstick": yardstick_name,
            "data_dir": str(data_dir),
            "cpu_count": os.cpu_count(),
            "results": results,
        }
        print(json.dumps(report, indent=2))
    else:
        print(
            f"rows: {a.rows:,}; medians of {a.n} paired runs after 1 warm-up pair; "
            f"ratios are medians of the pair-by-pair losscli/yardstick ratios"
        )
        print(
            f"losscli: {losscli or 'NOT FOUND'}; yardstick: {yardstick_name}; "
            f"cpus: {os.cpu_count()}"
        )
        print()
        print(markdown_table(results))
    failed = any(r["losscli"]["error"] or r["yardstick"]["error"] for r in results)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
