#!/usr/bin/env python3
"""Whole-process benchmark: `losscli compare-noise-models` next to a near-limit yardstick.

Usage (run it with the project's interpreter, which has numpy, pyarrow and scipy):

    .venv/bin/python benchmarks/bench.py [--rows 10M[,100M,...]] [-n 3]
        [--kinds regression,counts] [--formats parquet,csv]
        [--parquet-rows LIST] [--csv-rows LIST] [--yardstick-rows all|none|LIST]
        [--yardstick-families all|mission] [--data-dir DIR] [--yardstick-dir DIR]
        [--losscli PATH] [--losscli-args 'EXTRA ARGS'] [--batch-rows N] [--timeout S]
        [--sample-interval S] [--json-rtol R] [--profile] [--dry-run] [--data-only] [--json]

The figures for "stream 10^8 rows in flat memory" (100M- and 10M-row Parquet, 10M-row CSV,
both kinds, with the derived checks under the table) come from

    .venv/bin/python benchmarks/bench.py --rows 10M,100M

What one run does:

1. Plans the cases: every kind in --kinds, every format in --formats, and for each format
   its row counts: --parquet-rows (default: every --rows value) and --csv-rows (default:
   only the smallest --rows value, since a CSV file is large and slow to write). --rows
   takes a comma-separated list (10M,100M; write 10_000_000 rather than 10,000,000).
2. Makes sure the data files exist in --data-dir (default benchmarks/.data/), named
   KIND_ROWS.FORMAT (e.g. counts_10M.parquet, regression_100M.parquet), and writes only
   the files the plan needs. Files already there with the right row count are reused.
   Every file has the columns y, y_pred, x1, x2, x3 (x1..x3 are unused, so reading only
   the needed columns pays):
     regression  y = signal + 2 t(3),  y_pred = signal + 0.5 N(0, 1)
     counts      y (int64) ~ NB2(mu = y_pred, alpha = 1) as a gamma-Poisson mixture,
                 y_pred = mu = exp(N(log 2.5, 0.8))
   If --yardstick-dir (default: ../shared/bench next to the repository) holds gen_data.py,
   that script writes the files, so that figures are comparable with the shared yardstick;
   otherwise this script does. Both write 1M-row chunks, one Parquet row group per chunk,
   with a fixed seed, so a CSV and a Parquet file of the same kind and row count hold the
   same rows even when they are written at different times.
3. For each case runs, paired and in turn, A = the whole process
       losscli compare-noise-models FILE -t y -p y_pred --format json [--losscli-args ...]
   and B = the yardstick, one warm-up pair and then -n measured pairs (A B A B ...).
   B is `python <yardstick-dir>/limit.py FILE --kind KIND --families all` (--families
   from --yardstick-families) if that file exists, else this script's own near-limit
   reference `python bench.py --limit FILE --kind KIND` (reads only y and y_pred with
   pyarrow, checks finiteness, computes the closed-form Gaussian mean NLL or the Poisson
   mean NLL; it has no --families). B runs only at the --yardstick-rows row counts
   (default all); elsewhere A runs alone.
   Each run records its wall time (time.monotonic around the child), its process-tree
   peak and the child's ru_maxrss (from os.wait4: the largest single process of the tree,
   as bench_pair.py reports it). The tree peak is measured the way treepeak.py does it:
   every --sample-interval seconds (default 0.05) the driver sums the resident set sizes
   (VmRSS) of the child and all its descendants alive at that moment, and keeps the
   largest sum. A peak between two samples can be missed, so the tree peak is never
   reported below ru_maxrss.
4. Prints the median wall, median tree peak, median ru_maxrss and the medians of the
   pair-by-pair ratios A/B (wall and tree peak) as a markdown table, and under it the
   derived figures of the issue (see below). With --json, everything goes to stdout as
   JSON instead. Progress goes to stderr.
   With --profile, losscli is run once more per case with LOSSCLI_TIMINGS=1 and its
   stderr is passed through. With --dry-run, the plan (data files, whether they are
   cached or how they would be written, and the A and B commands) is printed and nothing
   is written or run; with --data-only, the data files are written (or checked) and
   nothing is run.

Derived figures (losscli medians; PASS / FAIL against the issue's bounds, n/a when a
figure is missing):
  - peak at each larger row count / peak at the smallest, same kind and format: within 10 %
  - wall at each larger row count / wall at the smallest: <= 1.1 x the row ratio (<= 11
    for 100M / 10M)
  - tree peak at the largest Parquet row count: <= 1 GiB; every CSV tree peak: < 1 GiB
  - losscli / limit.py wall at 10M Parquet: counts <= 0.6, regression <= 1.5 (the bounds
    are for the shared limit.py with --families all); the tree-peak ratio is shown too
  - CSV JSON vs Parquet JSON of the same kind and row count (the last measured losscli
    output of each): equal once input.path/format/bytes_read/batches/passes and the
    warnings that name the file are left out, and the largest relative difference of
    all numbers (relative to the larger magnitude) within --json-rtol (default 1e-9).

If losscli cannot be found, a note says so and the yardstick figures are still measured and
shown (exit status 0); if a losscli or yardstick run fails, its stderr is shown, that side
is skipped for the rest of its case, the other side is still measured, the table says
"failed", and the exit status is 1. On a timeout the child's whole process group is killed.
To force the built-in yardstick and generator, pass --yardstick-dir ''.

The driver imports only the standard library, and generation and row counting run in child
processes: on Linux a child's ru_maxrss starts from its parent's RSS at spawn time, so a
large driver process would inflate every measured peak.

Internal entry points (used by the driver, runnable by hand):

    python bench.py --limit FILE --kind {regression,counts}     # built-in yardstick
    python bench.py --generate {regression,counts} ROWS STEM [--formats parquet,csv]
                                                                # writes STEM.parquet/.csv
    python bench.py --count-rows FILE [FILE ...]                # JSON {file: rows}

(each must come first on the command line).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import shutil
import signal
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
GIB_MIB = 1024.0

# the bounds ("stream 10^8 rows in flat memory")
PEAK_SCALING_TOLERANCE = 0.10  # peak at N rows within 10 % of the peak at the smallest N
WALL_SCALING_SLACK = 1.1  # wall(N1) / wall(N0) <= 1.1 * N1 / N0
LIMIT_RATIO_ROWS = 10_000_000  # the losscli / limit.py bounds are for 10M-row Parquet
LIMIT_WALL_RATIO_BOUND = {"counts": 0.6, "regression": 1.5}
# input fields that legitimately differ between a CSV and a Parquet file of the same rows
INPUT_FIELDS_IGNORED = ("path", "format", "bytes_read", "batches", "passes")

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


def parse_rows_list(text: str) -> list[int]:
    """'10M,100M' -> [10_000_000, 100_000_000] (sorted, without repeats)."""
    items = [t for t in text.split(",") if t.strip()]
    if not items:
        raise argparse.ArgumentTypeError(f"no row count in {text!r}")
    return sorted({parse_rows(t) for t in items})


def parse_yardstick_rows(text: str) -> list[int] | str:
    s = text.strip().lower()
    return s if s in ("all", "none") else parse_rows_list(text)


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


def compile_bytecode(losscli: str | None) -> None:
    """Write the bytecode of the losscli package that the `losscli` script runs, as an
    installed package has it (pip compiles it on install). Without it, an editable install
    under PYTHONDONTWRITEBYTECODE compiles every module at each start (about 0.3 s on a
    2-CPU machine), a cost no installed copy pays and the one-file yardstick barely has."""
    try:
        first = Path(losscli).read_text(errors="replace").splitlines()[0] if losscli else ""
    except (OSError, IndexError):
        return
    if not first.startswith("#!"):
        return
    python = first[2:].strip().split()[0]
    found = subprocess.run([python, "-c", "import os, losscli; "
                            "print(os.path.dirname(losscli.__file__))"],
                           capture_output=True, text=True, check=False)
    if found.returncode == 0:
        package = found.stdout.strip()
        subprocess.run([python, "-m", "compileall", "-q", package], capture_output=True,
                       check=False)
        log(f"bytecode: compiled {package} (as an installed package has it)")


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def shown_path(path: Path) -> str:
    """A path relative to the working directory when it is below it (shorter output)."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


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
    """Write STEM.parquet and/or STEM.csv with the same rows, in 1M-row chunks."""
    ap = argparse.ArgumentParser(prog="bench.py --generate")
    ap.add_argument("--generate", metavar="KIND", choices=KINDS, required=True)
    ap.add_argument("rows", type=parse_rows)
    ap.add_argument("stem")
    ap.add_argument("--formats", type=csv_list(FORMATS), default=list(FORMATS))
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
    paths = {fmt: f"{stem}.{fmt}" for fmt in a.formats}
    no_header = pa_csv.WriteOptions(include_header=False)
    written = 0
    table = chunk(min(CHUNK_ROWS, total))
    pq_writer = csv_file = csv_writer = None
    try:
        if "parquet" in paths:
            pq_writer = pa_pq.ParquetWriter(paths["parquet"], table.schema)
        if "csv" in paths:
            csv_file = open(paths["csv"], "wb")  # closed below
            csv_file.write((",".join(table.column_names) + "\n").encode())  # plain header
            csv_writer = pa_csv.CSVWriter(csv_file, table.schema, write_options=no_header)
        while True:
            if pq_writer is not None:
                pq_writer.write_table(table, row_group_size=table.num_rows)  # 1 group/chunk
            if csv_writer is not None:
                csv_writer.write_table(table)
            written += table.num_rows
            if written >= total:
                break
            table = chunk(min(CHUNK_ROWS, total - written))
    finally:
        for closable in (pq_writer, csv_writer, csv_file):  # the CSV writer before its file
            if closable is not None:
                closable.close()
    for p in paths.values():
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


def data_paths(data_dir: Path, kind: str, rows: int) -> tuple[dict[str, Path], Path]:
    stem = f"{kind}_{rows_label(rows)}"
    paths = {fmt: data_dir / f"{stem}.{fmt}" for fmt in FORMATS}
    return paths, data_dir / f"{stem}.manifest.json"


def read_manifest(manifest: Path) -> dict:
    try:
        meta = json.loads(manifest.read_text())
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def cached_generator(meta: dict, fmt: str, path: Path, rows: int) -> str | None:
    """The generator recorded for a cached file whose stamp still matches, else None."""
    entry = meta.get("files", {}).get(fmt)
    if meta.get("rows") != rows or not isinstance(entry, dict) or not path.exists():
        return None
    stamp = file_stamp(path)
    if any(entry.get(k) != v for k, v in stamp.items()):
        return None
    return entry.get("generator") or meta.get("generator") or "unknown"


def write_manifest(manifest: Path, rows: int, entries: dict[str, dict]) -> None:
    meta = {"rows": rows, "files": entries}
    manifest.write_text(json.dumps(meta, indent=1) + "\n")


def generator_cmd(
    kind: str, rows: int, tmp_stem: Path, fmts: list[str], yardstick_dir: Path | None
) -> tuple[list[str], str]:
    gen_data = yardstick_dir / "gen_data.py" if yardstick_dir else None
    if gen_data is not None and gen_data.is_file():
        # gen_data.py writes both formats in one pass for an OUT without an extension
        out = str(tmp_stem) if len(fmts) == len(FORMATS) else f"{tmp_stem}.{fmts[0]}"
        return [sys.executable, str(gen_data), kind, str(rows), out], str(gen_data)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--generate", kind, str(rows)]
    cmd += [str(tmp_stem), "--formats", ",".join(fmts)]
    return cmd, "benchmarks/bench.py --generate"


def plan_dataset(
    kind: str, rows: int, fmts: list[str], data_dir: Path, yardstick_dir: Path | None
) -> list[str]:
    """For --dry-run: one line per needed file saying what ensure_dataset would do."""
    paths, manifest = data_paths(data_dir, kind, rows)
    meta = read_manifest(manifest)
    lines, missing = [], []
    for fmt in fmts:
        p = paths[fmt]
        generator = cached_generator(meta, fmt, p, rows)
        if generator:
            lines.append(f"  {shown_path(p)}: cached ({rows:,} rows, from {generator})")
        elif p.exists():
            lines.append(f"  {shown_path(p)}: present, row count to be checked")
        else:
            missing.append(fmt)
    if missing:
        tmp_stem = data_dir / f".tmp-PID-{kind}_{rows_label(rows)}"
        cmd, _ = generator_cmd(kind, rows, tmp_stem, missing, yardstick_dir)
        for fmt in missing:
            lines.append(f"  {shown_path(paths[fmt])}: missing, to be written by")
        lines.append(f"      {shlex.join(cmd)}")
    return lines


def ensure_dataset(
    kind: str, rows: int, fmts: list[str], data_dir: Path, yardstick_dir: Path | None
) -> dict[str, dict]:
    """Return {format: {"path", "generator"}} for fmts, writing the files that are missing
    or stale; the others are reused."""
    paths, manifest = data_paths(data_dir, kind, rows)
    meta = read_manifest(manifest)
    entries = {  # keep what is still valid, needed now or not
        fmt: meta["files"][fmt] | {"generator": gen}
        for fmt in FORMATS
        if (gen := cached_generator(meta, fmt, paths[fmt], rows))
    }
    unknown = [fmt for fmt in fmts if fmt not in entries and paths[fmt].exists()]
    if unknown:
        log(f"[data] checking row counts of {', '.join(shown_path(paths[f]) for f in unknown)}")
        cmd = [sys.executable, str(Path(__file__).resolve()), "--count-rows"]
        cmd += [str(paths[fmt]) for fmt in unknown]
        proc = subprocess.run(cmd, check=False, capture_output=True, text=True)
        counts = json.loads(proc.stdout) if proc.returncode == 0 else {}
        for fmt in unknown:
            got = counts.get(str(paths[fmt]))
            if got == rows:
                generator = meta.get("generator", "unknown (found in the cache)")
                entries[fmt] = file_stamp(paths[fmt]) | {"generator": generator}
            else:
                log(f"[data] {shown_path(paths[fmt])} has {got} rows, not {rows:,}; rewriting")
    for fmt in fmts:
        if fmt in entries:
            log(
                f"[data] reusing {shown_path(paths[fmt])} ({rows:,} rows, from "
                f"{entries[fmt]['generator']})"
            )

    missing = [fmt for fmt in fmts if fmt not in entries]
    if missing:
        data_dir.mkdir(parents=True, exist_ok=True)
        tmp_stem = data_dir / f".tmp-{os.getpid()}-{kind}_{rows_label(rows)}"
        cmd, generator = generator_cmd(kind, rows, tmp_stem, missing, yardstick_dir)
        log(f"[data] writing {kind} {'+'.join(missing)}, {rows:,} rows, with {generator} ...")
        tmp_paths = {fmt: tmp_stem.with_name(f"{tmp_stem.name}.{fmt}") for fmt in missing}
        try:
            # the generator's own messages go to stderr, so that --json keeps stdout clean
            t0 = time.monotonic()
            proc = subprocess.run(cmd, check=False, stdin=subprocess.DEVNULL, stdout=sys.stderr)
            if proc.returncode != 0 or not all(p.exists() for p in tmp_paths.values()):
                raise SystemExit(
                    f"error: data generation failed (exit {proc.returncode}): {shlex.join(cmd)}"
                )
            for fmt, p in tmp_paths.items():
                os.replace(p, paths[fmt])
                entries[fmt] = file_stamp(paths[fmt]) | {"generator": generator}
            log(f"[data] written in {time.monotonic() - t0:.0f} s")
        finally:
            for p in tmp_paths.values():
                p.unlink(missing_ok=True)
    write_manifest(manifest, rows, entries)
    return {fmt: {"path": paths[fmt], "generator": entries[fmt]["generator"]} for fmt in fmts}


# ------------------------------------------------------------------ measuring


def process_children() -> dict[int, list[int]]:
    """{parent pid: [child pids]} over every process in /proc (as treepeak.py does it)."""
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            kids.setdefault(int(fields[1]), []).append(int(entry))
        except (OSError, IndexError, ValueError):
            continue
    return kids


def rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0  # gone, or a zombie (no VmRSS line)


def tree_rss_kib(root: int) -> int:
    kids = process_children()
    total, todo, seen = 0, [root], set()
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        total += rss_kib(pid)
        todo.extend(kids.get(pid, []))
    return total


class TreePeak(threading.Thread):
    """Samples the summed RSS of a process tree until stopped; keeps the largest sum."""

    def __init__(self, pid: int, interval: float) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak_kib = 0
        self.samples = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.peak_kib = max(self.peak_kib, tree_rss_kib(self.pid))
            self.samples += 1
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def kill_group(pid: int) -> None:
    # the child leads its own process group and is not reaped yet, so the id is still ours
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run_once(
    cmd: list[str], timeout: float | None, interval: float, env: dict | None = None
) -> dict:
    """Run cmd as a child: wall time around it, process-tree peak RSS sampled from /proc,
    and the child's rusage (ru_maxrss: the largest single process of the tree)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        timed_out = threading.Event()
        t0 = time.monotonic()
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env=env,
            start_new_session=True,
        )
        sampler = TreePeak(proc.pid, interval)
        sampler.start()

        def kill() -> None:
            timed_out.set()
            kill_group(proc.pid)

        timer = threading.Timer(timeout, kill) if timeout else None
        if timer:
            timer.start()
        try:
            # wait without reaping, so the timer can never signal a recycled pid ...
            os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
        except BaseException:  # e.g. Ctrl-C: the child is in its own session, stop it too
            kill_group(proc.pid)
            os.waitpid(proc.pid, 0)
            proc.returncode = -signal.SIGKILL
            sampler.stop()
            raise
        finally:
            if timer:
                timer.cancel()
                timer.join()
        wall = time.monotonic() - t0
        sampler.stop()
        # ... then reap and take the child's resource usage
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        maxrss_mib = usage.ru_maxrss / 1024.0  # ru_maxrss is in KiB on Linux
        sampled_mib = sampler.peak_kib / 1024.0
        return {
            "wall_s": wall,
            "cpu_s": usage.ru_utime + usage.ru_stime,
            "tree_peak_mib": max(sampled_mib, maxrss_mib),
            "sampled_tree_peak_mib": sampled_mib,
            "maxrss_mib": maxrss_mib,
            "samples": sampler.samples,
            "rc": proc.returncode,
            "timed_out": timed_out.is_set(),
            "stdout": out.read().decode(errors="replace"),
            "stderr": err.read().decode(errors="replace"),
        }


def describe_failure(tag: str, run: dict) -> str:
    why = "timed out" if run["timed_out"] else f"exit code {run['rc']}"
    tail = "\n".join(run["stderr"].strip().splitlines()[-15:])
    return f"{tag} failed ({why})" + (f":\n{tail}" if tail else "")


RUN_FIELDS = (
    "pair",
    "wall_s",
    "cpu_s",
    "tree_peak_mib",
    "sampled_tree_peak_mib",
    "maxrss_mib",
    "samples",
    "rc",
    "timed_out",
)


def summarize(runs: list[dict]) -> dict:
    ok = [r for r in runs if r["rc"] == 0]
    return {
        "wall_s_median": median([r["wall_s"] for r in ok]),
        "tree_peak_mib_median": median([r["tree_peak_mib"] for r in ok]),
        "maxrss_mib_median": median([r["maxrss_mib"] for r in ok]),
        "cpu_s_median": median([r["cpu_s"] for r in ok]),
        "runs": [
            {k: (round(r[k], 4) if isinstance(r[k], float) else r[k]) for k in RUN_FIELDS}
            for r in runs
        ],
    }


def one_line(run: dict) -> str:
    return (
        f"{run['wall_s']:.3f} s, tree peak {run['tree_peak_mib']:.0f} MiB "
        f"(max RSS {run['maxrss_mib']:.0f})"
    )


def bench_case(case: dict, cmd_a: list[str] | None, cmd_b: list[str] | None, a) -> dict:
    tag = f"[{case['kind']}/{case['format']}/{rows_label(case['rows'])}]"
    sides = {"losscli": cmd_a, "yardstick": cmd_b}
    runs: dict[str, list[dict]] = {"losscli": [], "yardstick": []}
    errors: dict[str, str | None] = {"losscli": None, "yardstick": None}
    last_stdout: dict[str, str] = {"losscli": "", "yardstick": ""}
    # pair 0 is the warm-up (also brings the file into the page cache)
    for i in range(a.n + 1):
        label = "warm-up" if i == 0 else f"run {i}/{a.n}"
        parts = []
        for side, cmd in sides.items():
            if cmd is None or errors[side]:
                continue
            r = run_once(cmd, a.timeout, a.sample_interval)
            if r["rc"] != 0:
                errors[side] = describe_failure(side, r)
                log(f"{tag} {errors[side]}\n{tag} {side} skipped for the rest of this case")
                continue
            parts.append(f"{side} {one_line(r)}")
            last_stdout[side] = r["stdout"]
            if i > 0:
                r["pair"] = i
                runs[side].append(r)
        log(f"{tag} {label}: " + ("; ".join(parts) or "no successful run"))
        if not any(cmd is not None and not errors[side] for side, cmd in sides.items()):
            break

    by_pair = {r["pair"]: r for r in runs["yardstick"]}
    pairs = [(x, by_pair[x["pair"]]) for x in runs["losscli"] if x["pair"] in by_pair]

    def ratio(key: str) -> float | None:
        return median([x[key] / max(y[key], 1e-9) for x, y in pairs])

    result = case | {
        "file": str(case["file"]),
        "losscli_cmd": shlex.join(cmd_a) if cmd_a else None,
        "yardstick_cmd": shlex.join(cmd_b) if cmd_b else None,
        "losscli": summarize(runs["losscli"])
        | {"run": cmd_a is not None, "error": errors["losscli"]},
        "yardstick": summarize(runs["yardstick"])
        | {
            "run": cmd_b is not None,
            "error": errors["yardstick"],
            "last_output": last_stdout["yardstick"].strip(),
        },
        "wall_ratio_median": ratio("wall_s"),
        "peak_ratio_median": ratio("tree_peak_mib"),
        "maxrss_ratio_median": ratio("maxrss_mib"),
        "pairs": len(pairs),
        # for the CSV / Parquet comparison; not part of the printed report
        "_losscli_stdout": last_stdout["losscli"] if runs["losscli"] else None,
    }

    if a.profile and cmd_a is not None:
        env = dict(os.environ, LOSSCLI_TIMINGS="1")
        rp = run_once(cmd_a, a.timeout, a.sample_interval, env=env)
        log(
            f"{tag} profile run (LOSSCLI_TIMINGS=1): {one_line(rp)}, exit code {rp['rc']}; "
            "losscli stderr:"
        )
        log(rp["stderr"].rstrip() or "(nothing on stderr)")
        result["profile"] = {
            "wall_s": round(rp["wall_s"], 4),
            "tree_peak_mib": round(rp["tree_peak_mib"], 1),
            "maxrss_mib": round(rp["maxrss_mib"], 1),
            "rc": rp["rc"],
            "stderr": rp["stderr"],
        }
    return result


# ------------------------------------------------------------------ CSV vs Parquet output


def comparable_report(text: str, path: str) -> dict:
    """losscli's JSON without what depends on the file rather than on its rows."""
    report = json.loads(text)
    if not isinstance(report, dict):
        raise ValueError("the output is not a JSON object")
    if isinstance(report.get("input"), dict):
        report["input"] = {
            k: v for k, v in report["input"].items() if k not in INPUT_FIELDS_IGNORED
        }
    if isinstance(report.get("warnings"), list):
        names = {path, Path(path).name}
        report["warnings"] = [
            w for w in report["warnings"] if not (isinstance(w, str) and any(n in w for n in names))
        ]
    return report


def compare_json(x, y, where: str = "") -> tuple[float, str, list[str]]:
    """(largest relative difference of the numbers, where it is, structural differences)."""
    worst, worst_at, diffs = 0.0, "", []

    def walk(u, v, at: str) -> None:
        nonlocal worst, worst_at
        u_num = isinstance(u, (int, float)) and not isinstance(u, bool)
        v_num = isinstance(v, (int, float)) and not isinstance(v, bool)
        if u_num and v_num:
            scale = max(abs(u), abs(v))
            rel = abs(u - v) / scale if scale else 0.0
            if math.isnan(rel):
                rel = math.inf
            if rel > worst:
                worst, worst_at = rel, at
            return
        if isinstance(u, dict) and isinstance(v, dict):
            for k in sorted(set(u) | set(v), key=str):
                sub = f"{at}.{k}" if at else str(k)
                if k not in u or k not in v:
                    diffs.append(f"{sub} only in the {'CSV' if k in u else 'Parquet'} output")
                else:
                    walk(u[k], v[k], sub)
            return
        if isinstance(u, list) and isinstance(v, list):
            if len(u) != len(v):
                diffs.append(f"{at}: {len(u)} items (CSV) vs {len(v)} (Parquet)")
            for i, (p, q) in enumerate(zip(u, v, strict=False)):
                walk(p, q, f"{at}[{i}]")
            return
        if u != v:
            diffs.append(f"{at}: {json.dumps(u)[:60]} (CSV) vs {json.dumps(v)[:60]} (Parquet)")

    walk(x, y, where)
    return worst, worst_at, diffs


# ------------------------------------------------------------------ derived figures


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "FAIL")


def why_missing(r: dict | None, side: str = "losscli") -> str:
    if r is None:
        return "case not run"
    s = r[side]
    if not s["run"]:
        return f"{side} not run"
    return f"{side} failed" if s["error"] else "no figure"


def derived_figures(results: list[dict], a, yardstick_is_shared: bool) -> list[dict]:
    out: list[dict] = []

    def add(check: str, case: str, value: str, bound: str, ok: bool | None, **nums) -> None:
        out.append(
            {"check": check, "case": case, "value": value, "bound": bound, "verdict": verdict(ok)}
            | nums
        )

    index = {(r["kind"], r["format"], r["rows"]): r for r in results}
    groups: dict[tuple[str, str], list[int]] = {}
    for r in results:
        groups.setdefault((r["kind"], r["format"]), []).append(r["rows"])

    # 1, 2: scaling with the row count, same kind and format, against the smallest count
    for (kind, fmt), rows_list in groups.items():
        rows_list = sorted(rows_list)
        base = index[(kind, fmt, rows_list[0])]
        for rows in rows_list[1:]:
            r = index[(kind, fmt, rows)]
            case = f"{kind} {fmt}"
            big, small = rows_label(rows), rows_label(rows_list[0])
            p1, p0 = r["losscli"]["tree_peak_mib_median"], base["losscli"]["tree_peak_mib_median"]
            if p1 is not None and p0 is not None:
                q = p1 / p0
                add(
                    f"peak {big} / peak {small}",
                    case,
                    f"{p1:.1f} / {p0:.1f} MiB = {q:.3f}",
                    f"within {PEAK_SCALING_TOLERANCE:.0%} of 1",
                    abs(q - 1.0) <= PEAK_SCALING_TOLERANCE,
                    ratio=q,
                )
            else:
                miss = why_missing(r if p1 is None else base)
                add(f"peak {big} / peak {small}", case, miss, "within 10 % of 1", None)
            w1, w0 = r["losscli"]["wall_s_median"], base["losscli"]["wall_s_median"]
            bound = WALL_SCALING_SLACK * rows / rows_list[0]
            if w1 is not None and w0 is not None:
                q = w1 / w0
                add(
                    f"wall {big} / wall {small}",
                    case,
                    f"{w1:.2f} / {w0:.2f} s = {q:.2f}",
                    f"<= {bound:g}",
                    q <= bound,
                    ratio=q,
                )
            else:
                miss = why_missing(r if w1 is None else base)
                add(f"wall {big} / wall {small}", case, miss, f"<= {bound:g}", None)

    # 3: absolute peaks: the largest Parquet count, and every CSV case
    for r in results:
        largest = max(groups[(r["kind"], r["format"])])
        if r["format"] == "parquet" and r["rows"] != largest:
            continue
        strict = r["format"] == "csv"
        p = r["losscli"]["tree_peak_mib_median"]
        bound = "< 1 GiB" if strict else "<= 1 GiB"
        check = f"losscli tree peak at {rows_label(r['rows'])}"
        case = f"{r['kind']} {r['format']}"
        if p is None:
            add(check, case, why_missing(r), bound, None)
        else:
            ok = p < GIB_MIB if strict else p <= GIB_MIB
            add(check, case, f"{p:.1f} MiB", bound, ok, mib=p)

    # 4: losscli / limit.py at 10M Parquet
    for r in results:
        if r["format"] != "parquet" or r["rows"] != LIMIT_RATIO_ROWS:
            continue
        case = f"{r['kind']} parquet"
        w, pk = r["wall_ratio_median"], r["peak_ratio_median"]
        bound_value = LIMIT_WALL_RATIO_BOUND[r["kind"]]
        applies = yardstick_is_shared and a.yardstick_families == "all"
        bound = f"<= {bound_value}" + ("" if applies else " (for limit.py --families all)")
        check = f"losscli / limit.py wall at {rows_label(r['rows'])}"
        if w is None:
            miss = why_missing(r, "yardstick" if r["losscli"]["wall_s_median"] else "losscli")
            add(check, case, miss, bound, None)
        else:
            add(check, case, f"{w:.2f}", bound, (w <= bound_value) if applies else None, ratio=w)
        check = f"losscli / limit.py tree peak at {rows_label(r['rows'])}"
        add(check, case, "n/a" if pk is None else f"{pk:.2f}", "(shown only)", None, ratio=pk)

    # 5: CSV JSON equals Parquet JSON, same kind and rows
    for r in results:
        if r["format"] != "csv" or (r["kind"], "parquet", r["rows"]) not in index:
            continue
        rp = index[(r["kind"], "parquet", r["rows"])]
        check = f"CSV JSON = Parquet JSON at {rows_label(r['rows'])}"
        case = r["kind"]
        bound = f"same JSON, numbers within rtol {a.json_rtol:g}"
        if r["_losscli_stdout"] is None or rp["_losscli_stdout"] is None:
            miss = why_missing(r if r["_losscli_stdout"] is None else rp)
            add(check, case, miss, bound, None)
            continue
        try:
            jc = comparable_report(r["_losscli_stdout"], r["file"])
            jp = comparable_report(rp["_losscli_stdout"], rp["file"])
        except ValueError as exc:  # json.JSONDecodeError is a ValueError
            add(check, case, f"output is not a JSON report ({exc})", bound, False)
            continue
        worst, at, diffs = compare_json(jc, jp)
        if jc == jp:
            value = "identical"
        elif diffs:
            value = f"{len(diffs)} non-numeric difference(s): " + "; ".join(diffs[:3])
        else:
            value = "same structure and strings"
        value += f"; max rel diff {worst:.3g}" + (f" at {at}" if worst else "")
        if r.get("generator") != rp.get("generator"):
            value += " (files from different generators)"
        ok = not diffs and worst <= a.json_rtol
        add(check, case, value, bound, ok, max_rel_diff=worst, max_at=at, differences=diffs)
    return out


# ------------------------------------------------------------------ driver


def find_losscli(override: str | None) -> str | None:
    if override:
        found = shutil.which(override) or (override if Path(override).is_file() else None)
        return str(Path(found).absolute()) if found else None
    beside = Path(sys.executable).parent / "losscli"  # not resolved: keep the venv's bin/
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("losscli")


def fmt_num(value: float | None, digits: int, side: dict | None = None) -> str:
    if value is not None:
        return f"{value:.{digits}f}"
    if side is not None and not side["run"]:
        return "not run"
    return "failed" if side is not None and side["error"] else "n/a"


def markdown_table(results: list[dict]) -> str:
    head = (
        "kind | format | rows | losscli wall s | yardstick wall s | wall ratio"
        " | losscli tree peak MiB | yardstick tree peak MiB | peak ratio"
        " | losscli max RSS MiB | yardstick max RSS MiB"
    )
    lines = ["| " + head + " |", "|" + "---|" * 11]
    for r in results:
        la, lb = r["losscli"], r["yardstick"]
        cells = [
            r["kind"],
            r["format"],
            rows_label(r["rows"]),
            fmt_num(la["wall_s_median"], 3, la),
            fmt_num(lb["wall_s_median"], 3, lb),
            fmt_num(r["wall_ratio_median"], 2),
            fmt_num(la["tree_peak_mib_median"], 1, la),
            fmt_num(lb["tree_peak_mib_median"], 1, lb),
            fmt_num(r["peak_ratio_median"], 2),
            fmt_num(la["maxrss_mib_median"], 1, la),
            fmt_num(lb["maxrss_mib_median"], 1, lb),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def derived_table(derived: list[dict]) -> str:
    lines = ["| check | case | value | bound | verdict |", "|---|---|---|---|---|"]
    for d in derived:
        cells = [d["check"], d["case"], d["value"].replace("|", "\\|"), d["bound"], d["verdict"]]
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
        type=parse_rows_list,
        default=parse_rows_list("10M"),
        help="comma-separated rows per file: 10M (default), 10M,100M, 1M, 500k, 1e6, ...",
    )
    ap.add_argument(
        "--parquet-rows",
        type=parse_rows_list,
        default=None,
        help="row counts of the Parquet cases (default: every --rows value)",
    )
    ap.add_argument(
        "--csv-rows",
        type=parse_rows_list,
        default=None,
        help="row counts of the CSV cases (default: the smallest --rows value)",
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
        "--yardstick-rows",
        type=parse_yardstick_rows,
        default="all",
        help="row counts at which the yardstick runs: all (default), none, or a list",
    )
    ap.add_argument(
        "--yardstick-families",
        choices=("all", "mission"),
        default="all",
        help="--families passed to the shared limit.py (default all)",
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
        "--batch-rows",
        default=None,
        metavar="N",
        help="pass --batch-rows N to losscli",
    )
    ap.add_argument(
        "--timeout",
        type=float,
        default=900.0,
        help="seconds before a single run is killed (default 900)",
    )
    ap.add_argument(
        "--sample-interval",
        type=float,
        default=0.05,
        help="seconds between two samples of the process-tree RSS (default 0.05)",
    )
    ap.add_argument(
        "--json-rtol",
        type=float,
        default=1e-9,
        help="largest relative difference of the CSV and Parquet JSON numbers that "
        "still counts as equal (default 1e-9)",
    )
    ap.add_argument(
        "--profile",
        action="store_true",
        help="also run losscli once per case with LOSSCLI_TIMINGS=1, show stderr",
    )
    ap.add_argument(
        "--dry-run",
        action="store_true",
        help="print the data files and the commands that would run, and stop",
    )
    ap.add_argument(
        "--data-only",
        action="store_true",
        help="write (or check) the data files the plan needs, and stop",
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
    if a.sample_interval <= 0:
        ap.error("--sample-interval must be > 0")
    yardstick_dir = Path(a.yardstick_dir).resolve() if a.yardstick_dir else None
    data_dir = a.data_dir.resolve()
    rows_by_format = {
        "parquet": a.parquet_rows or a.rows,
        "csv": a.csv_rows or a.rows[:1],
    }
    cases = [
        {"kind": kind, "format": fmt, "rows": rows}
        for kind in a.kinds
        for rows in sorted({r for f in a.formats for r in rows_by_format[f]})
        for fmt in a.formats
        if rows in rows_by_format[fmt]
    ]
    needed: dict[tuple[str, int], list[str]] = {}
    for c in cases:
        needed.setdefault((c["kind"], c["rows"]), []).append(c["format"])

    if not a.dry_run:
        probe = subprocess.run(
            [sys.executable, "-c", "import numpy, pyarrow.parquet, pyarrow.csv, scipy.special"],
            check=False,
            capture_output=True,
            text=True,
        )
        if probe.returncode != 0:
            raise SystemExit(
                f"error: {sys.executable} lacks numpy/pyarrow/scipy; run this script with "
                f"the project's interpreter (.venv/bin/python).\n{probe.stderr.strip()}"
            )

    losscli = find_losscli(a.losscli)
    compile_bytecode(losscli)
    if losscli is None:
        where = a.losscli or f"beside {sys.executable} or on PATH"
        log(
            f"NOTE: losscli not found ({where}); measuring the yardstick only.\n"
            "      Install the project into the venv (e.g. `.venv/bin/pip install -e .`) "
            "or pass --losscli PATH."
        )
    limit_py = yardstick_dir / "limit.py" if yardstick_dir else None
    if limit_py is not None and limit_py.is_file():
        yardstick_name = f"{limit_py} --families {a.yardstick_families}"
    else:
        limit_py = None
        yardstick_name = "bench.py --limit (built-in)"
    extra = shlex.split(a.losscli_args)
    if a.batch_rows is not None:
        extra += ["--batch-rows", str(a.batch_rows)]

    def commands(c: dict, path: Path) -> tuple[list[str] | None, list[str] | None]:
        cmd_a = None
        if losscli:
            cmd_a = [losscli, "compare-noise-models", str(path), "-t", "y", "-p", "y_pred"]
            cmd_a += ["--format", "json", *extra]
        if a.yardstick_rows == "none" or (
            a.yardstick_rows != "all" and c["rows"] not in a.yardstick_rows
        ):
            return cmd_a, None
        if limit_py is not None:
            cmd_b = [sys.executable, str(limit_py), str(path), "--kind", c["kind"]]
            cmd_b += ["--families", a.yardstick_families]
        else:
            cmd_b = [sys.executable, str(Path(__file__).resolve()), "--limit", str(path)]
            cmd_b += ["--kind", c["kind"]]
        return cmd_a, cmd_b

    if a.dry_run:
        print(f"data files ({shown_path(data_dir)}):")
        for (kind, rows), fmts in needed.items():
            print("\n".join(plan_dataset(kind, rows, fmts, data_dir, yardstick_dir)))
        print(
            f"\ncases ({len(cases)}; one warm-up pair and {a.n} measured pairs each, A B A B ...):"
        )
        for c in cases:
            path = data_paths(data_dir, c["kind"], c["rows"])[0][c["format"]]
            cmd_a, cmd_b = commands(c, path)
            print(f"[{c['kind']}/{c['format']}/{rows_label(c['rows'])}]")
            print(f"  A = {shlex.join(cmd_a) if cmd_a else '(losscli not found)'}")
            print(f"  B = {shlex.join(cmd_b) if cmd_b else '(not run at this row count)'}")
        return 0

    datasets = {
        key: ensure_dataset(key[0], key[1], fmts, data_dir, yardstick_dir)
        for key, fmts in needed.items()
    }
    if a.data_only:
        for (kind, rows), files in datasets.items():
            for data in files.values():
                size = data["path"].stat().st_size / 2**20
                print(f"{shown_path(data['path'])}: {kind}, {rows:,} rows, {size:.1f} MiB")
        return 0

    results = []
    for c in cases:
        data = datasets[(c["kind"], c["rows"])][c["format"]]
        case = c | {"file": data["path"], "generator": data["generator"]}
        cmd_a, cmd_b = commands(c, data["path"])
        tag = f"[{c['kind']}/{c['format']}/{rows_label(c['rows'])}]"
        log(f"{tag} A = {shlex.join(cmd_a) if cmd_a else '(losscli not found)'}")
        log(f"{tag} B = {shlex.join(cmd_b) if cmd_b else '(not run at this row count)'}")
        results.append(bench_case(case, cmd_a, cmd_b, a))

    derived = derived_figures(results, a, yardstick_is_shared=limit_py is not None)
    for r in results:
        del r["_losscli_stdout"]
    if a.json:
        report = {
            "rows": rows_by_format,
            "pairs_per_case": a.n,
            "warmup_pairs": 1,
            "python": sys.executable,
            "losscli": losscli,
            "yardstick": yardstick_name,
            "data_dir": str(data_dir),
            "cpu_count": os.cpu_count(),
            "sample_interval_s": a.sample_interval,
            "results": results,
            "derived": derived,
        }
        print(json.dumps(report, indent=2, default=str))
    else:
        counts = ", ".join(
            f"{fmt} {','.join(rows_label(r) for r in rows_by_format[fmt])}" for fmt in a.formats
        )
        print(
            f"rows: {counts}; medians of {a.n} paired run(s) after 1 warm-up pair; "
            f"ratios are medians of the pair-by-pair losscli/yardstick ratios; "
            f"tree peak = summed RSS of the process tree sampled every {a.sample_interval:g} s "
            f"(never below max RSS = the child's ru_maxrss)"
        )
        print(
            f"losscli: {losscli or 'NOT FOUND'}; yardstick: {yardstick_name}; "
            f"cpus: {os.cpu_count()}"
        )
        print()
        failures = {
            side: sum(1 for r in results if r[side]["error"]) for side in ("losscli", "yardstick")
        }
        for side, count in failures.items():
            if count:
                other = "yardstick" if side == "losscli" else "losscli"
                print(
                    f"NOTE: {side} FAILED in {count} of {len(results)} case(s) (its error is "
                    f"under the tables); the {other} was still measured."
                )
        print(markdown_table(results))
        print()
        print('Derived figures for "stream 10^8 rows in flat memory" (losscli medians):')
        print()
        print(derived_table(derived))
        for r in results:
            for side in ("losscli", "yardstick"):
                if r[side]["error"]:
                    tag = f"{r['kind']}/{r['format']}/{rows_label(r['rows'])}"
                    print(f"\n{tag}: {r[side]['error']}")
    failed = any(r["losscli"]["error"] or r["yardstick"]["error"] for r in results)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
