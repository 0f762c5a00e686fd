"""A run: one data set being read (its input, columns and layout) and what pass 1 found
there. `open_engine` opens the engine a run asks for; `open_run` opens the input,
resolves the columns and runs pass 1; `Run.reduce` runs any further pass on the run's
engine, handing it the data's pieces (or tasks), the fold of one into a state, and the
state factory.

Nothing here knows where batches come from (the engine reduces pieces) or what a family
is called: it reads what the families declare.
"""

from __future__ import annotations

import contextlib
import copy
import functools
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from losscli import pieces, sources, text_reader
from losscli.batches import ROUNDED_DIGITS, Batch, Converter, label_index, layout
from losscli.columns import Columns, marginal_note, resolve_columns
from losscli.engines import local
from losscli.errors import InputError, plural
from losscli.noise import FAMILIES, blocks
from losscli.noise.support import Support
from losscli.reduce import Sample
from losscli.request import ALL_FAMILIES, DEFAULT_FIT_ROWS, Request
from losscli.rows import at_row, file_of, row_text
from losscli.scan import SAMPLE_COLUMN, SAMPLE_SEED, Scan, ScanSpec


def supports(families=None) -> list[Support]:
    """The target kinds' supports, every support and prediction domain the registry
    declares (of the `families` named, where given), and their versions closed at the
    lower bound (the counting base measure scores y = 0 on [0, ½])."""
    from losscli.kinds import RULES

    out: list[Support] = [s for s, _ in RULES.values()]
    for name, cls in FAMILIES.items():
        if families is not None and name not in families:
            continue
        for s in (cls.support, cls.pred_domain, cls.deviance_support, cls.loss_support):
            if s is None:
                continue
            for v in (s, Support(s.description, s.lower, s.upper, False, s.upper_open,
                                 s.integer)):
                if v not in out:
                    out.append(v)
    return out


@dataclass
class Run:
    """One data set being read: its input, columns, layout and what pass 1 found."""

    req: Request
    inp: sources.Input
    cols: Columns
    layout: Any
    converter: Converter
    fit_rows: int | None
    supports: list[Support]
    prototypes: dict[str, Any]
    fit_modes: tuple[bool, ...]
    scan: Scan | None = None
    passes: int = 0
    batches: int = 0  # batches in one pass over the data
    bytes_read: int = 0  # over every pass
    classes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    sample: dict[str, np.ndarray] = field(default_factory=dict)
    value_counts: tuple[np.ndarray, np.ndarray] | None = None
    progress: Any = None
    engine: Any = local.ENGINE

    # -- reading
    def reduce(self, make, label: str, extra: tuple[str, ...] = ()):
        """One pass: every batch converted and reduced into a state from `make`, on the
        run's engine; the pass, batch and byte counts and the progress display here.
        `extra`: columns read by this pass only (the scoring pass's --by column)."""
        self.passes += 1
        total = self.inp.total_rows
        total_bytes = self.inp.total_bytes
        done = {"rows": 0, "bytes": 0}
        first = self.passes == 1 or getattr(self, "_first", False)
        self._first = False

        def report(rows: int, nbytes: int, batches: int,
                   tasks: tuple[int, int] | None = None) -> None:
            done["rows"] += rows
            done["bytes"] += nbytes
            self.bytes_read += nbytes
            if first:  # every pass reads the same batches
                self.batches += batches
            if self.progress is None:
                return
            if tasks is not None:  # an engine of tasks: tasks done of planned
                self.progress(f"pass {self.passes}: {label} — task {tasks[0]:,} of "
                              f"{tasks[1]:,}")
            elif total:  # Parquet: the footers give the rows
                self.progress(f"pass {self.passes}: {label} — {done['rows']:,} of "
                              f"{total:,} rows")
            else:  # text: the bytes read of the files' size
                of = f" of {total_bytes / 2 ** 20:,.0f}" if total_bytes else ""
                self.progress(f"pass {self.passes}: {label} — "
                              f"{done['bytes'] / 2 ** 20:,.0f}{of} MiB")

        if self.progress is not None:
            self.progress(f"pass {self.passes}: {label}")
        columns = list(dict.fromkeys(self.cols.all() + list(extra)))
        if self.engine.grain == "tasks":
            def task_done(task: pieces.Task, rows: int, batches: int, k: int,
                          planned: int) -> None:
                nbytes = task.nbytes if task.nbytes is not None else task.file.size or 0
                report(rows, nbytes, batches, (k, planned))

            return self.engine.reduce_pass(
                pieces.tasks(self.inp, columns),
                functools.partial(fold, columns=columns, batch_rows=self.req.batch_rows,
                                  converter=self.converter, make=make), task_done)
        counted = {"bytes": 0}

        def count(nbytes: int) -> None:
            counted["bytes"] += nbytes

        def piece_done(piece: pieces.Piece) -> None:
            report(piece.rows or 0, counted["bytes"], 1)
            counted["bytes"] = 0

        return self.engine.reduce_pass(
            pieces.pieces(self.inp, columns, self.req.batch_rows, count),
            functools.partial(fold_piece, converter=self.converter, make=make), make,
            piece_done)

    def for_prediction(self, column: str | None) -> Run:
        """The run as the fits and checks of one point prediction see it (SPEC §10.2): for
        a further prediction, its column as `cols.pred`, its pass-1 facts and its sample
        values as "pred"; the run itself for the first (or a column that is none of
        them). Passes are run on the run itself, never on such a view."""
        if self.scan is None or column not in self.scan.others:
            return self
        facts = self.scan.others[column]
        scan = copy.copy(self.scan)
        scan.pred_outside, scan.pred_outside_n = facts.pred_outside, facts.pred_outside_n
        scan.beyond_half, scan.stats = facts.beyond_half, facts.stats
        sample = dict(self.sample)
        if sample:
            sample["pred"] = sample[SAMPLE_COLUMN + column]
        return replace(self, cols=replace(self.cols, pred=column), scan=scan, sample=sample)

    def counts_batch(self) -> Batch:
        """The target's value counts as one batch (a "row" per distinct value, its weight
        the value's): what a marginal pass reduces on integer targets or class labels."""
        values, weights = self.value_counts
        return Batch(file=file_of(self), offset=0, n_read=values.size,
                     y=values.astype(np.int64) if self.layout.labels else values,
                     w=weights, rows_known=False)

    @property
    def n(self) -> int:
        return self.scan.n

    @property
    def W(self) -> float:
        return float(self.scan.W.value[0])

    @property
    def conditional(self) -> bool:
        return bool(self.cols.pred or self.cols.probs or self.cols.logits
                    or self.cols.quantiles)

    @property
    def soft_labels(self) -> bool:
        """The target holds soft labels: given as such, or label columns not all 0/1 (each
        row's label entropy is then known, SPEC §1.5)."""
        return self.layout.soft or bool(self.layout.multilabel and not self.scan.integral)

    @property
    def sample_rows(self) -> int:
        return int(self.sample["y"].shape[-1]) if self.sample else 0


def fold(task: pieces.Task, offset: int, columns: list[str], batch_rows: int | None,
         converter: Converter, make) -> tuple[Any, int, int]:
    """One task's batches reduced into one state: (state, rows read, batches). What an
    engine runs on a worker; it reads, converts and updates, and knows nothing else."""
    state = make()
    rows = batches = 0
    # a text task is a whole file: its first row is the file's
    first = task.file_offset if task.file_offset is not None else (
        task.offset if offset is None else offset)
    with np.errstate(all="ignore"):
        for start, table in pieces.read_task(task, columns, batch_rows, offset):
            state.update(converter.convert(table, task.file.path, start, first))
            rows += table.num_rows
            batches += 1
    return state, rows, batches


def fold_piece(piece: pieces.Piece, converter: Converter, make) -> Any:
    """One piece read, converted and reduced into a state from `make` (what the local
    engine runs on a thread of its pool)."""
    batch = converter.convert(piece.read(), piece.file.path, piece.offset,
                              piece.file_offset)
    state = make()
    with np.errstate(all="ignore"):
        state.update(batch)
    return state


@contextlib.contextmanager
def open_engine(name: str, scheduler: str | None = None, workers: int | None = None):
    """The engine a run asked for, open for the run's duration (a Dask cluster is
    connected or started here and always closed)."""
    if name == "local" and scheduler is None:
        yield local.ENGINE
        return
    from losscli.engines.dask import Dask

    with Dask(scheduler, workers, scheduler_file_address) as engine:
        yield engine


def scheduler_file_address(scheduler: str) -> str:
    """The scheduler's address: `--scheduler` checked (a usage error when malformed), or
    read from a scheduler file."""
    import json

    from losscli.errors import InputError
    from losscli.request import scheduler_address

    value = scheduler_address(scheduler)
    if "://" in value:
        return value
    try:
        with open(value, encoding="utf-8") as fh:
            address = json.load(fh)["address"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        reason = "no 'address' in it" if isinstance(exc, (KeyError, TypeError)) else exc
        raise InputError(f"not a Dask scheduler file ({reason})", file=value) from None
    return scheduler_address(str(address))



def open_run(req: Request, progress=None, engine=None) -> Run:
    """Open the input, resolve the columns, and run pass 1."""
    # the numeric fits sum their blocks on the local engine's thread pool
    blocks.install(local.map_ordered, local.workers())
    _plain_pages()
    inp = sources.open_input(req.paths, req.input_format, req.delimiter, req.encoding,
                             req.thousands)
    first = inp.files[0]
    cols = resolve_columns(req, first.names, first.path)
    for f in inp.files[1:]:
        missing = [c for c in cols.all() if c not in f.names]
        if missing:
            raise InputError(f"has no column {missing[0]!r} (the first file, {first.path}, "
                             "has it): one data set has the same columns", file=f.path)
    schema = _schema(inp, cols)
    lay = layout(req, cols, schema, first.path)
    wanted = _fitted_families(req)
    prototypes = {name: cls(lay.classes) for name, cls in FAMILIES.items()
                  if wanted is None or name in wanted}
    conditional = bool(cols.pred or cols.probs or cols.logits or cols.quantiles)
    run = Run(req=req, inp=inp, cols=cols, layout=lay, converter=Converter(req, cols, lay),
              fit_rows=req.fit_rows or DEFAULT_FIT_ROWS, supports=supports(wanted),
              prototypes=prototypes,
              fit_modes=(True, False) if conditional else (False,), progress=progress,
              engine=engine or local.ENGINE, warnings=list(inp.warnings))
    spec = ScanSpec(labels=lay.labels, supports=tuple(run.supports),
                    prototypes=prototypes, fit_modes=run.fit_modes, fit_rows=run.fit_rows,
                    cutoff=_cutoff(run.fit_rows, inp), seed=SAMPLE_SEED + req.seed,
                    other_preds=tuple(cols.other_preds),
                    other_groups=tuple(cols.other_groups))
    if not conditional and not req.no_pred:
        unused = _unused_numeric(inp, cols)
        if unused:
            run.warnings.append(marginal_note(unused))
    scan = run.reduce(lambda: Scan(spec), "reading and checking")
    if not scan.sample.exact:  # too many rows dropped for the cutoff: read it again
        spec = replace(spec, cutoff=None)
        run.batches = 0  # counted again (passes and bytes count the extra pass)
        run._first = True
        scan = run.reduce(lambda: Scan(spec), "reading and checking")
    run.scan = scan
    _finish_scan(run)
    return run


def _fitted_families(req: Request) -> set[str] | None:
    """The families a run can fit, whose closed-form statistics and support checks pass 1
    gathers: those named (--family, and the family of --trained-with); with none named,
    every default candidate of some target kind (pass 1 finds the kind); None (every
    family) with --family all."""
    if ALL_FAMILIES in req.families:
        return None
    if req.families:
        named = set(req.families)
    else:
        named = {name for name, cls in FAMILIES.items() if cls.candidate or cls.default_for}
    if req.trained_with:
        named |= {req.trained.family, req.trained.entry.labels} - {None}
    return named


def _plain_pages() -> None:
    """numpy asks the kernel for transparent huge pages for every large array; where the
    kernel then compacts memory on the first touch (madvise defrag, the common default),
    each fresh array of a 10M-row column costs several times its fill. Plain pages are
    steadier for a run's columns."""
    try:
        np._core.multiarray._set_madvise_hugepage(False)
    except AttributeError:  # a numpy without the switch: nothing to change
        pass


def _cutoff(fit_rows: int, inp: sources.Input) -> int | None:
    """The sample's key cutoff from the rows the footers give, or from half the rows
    estimated from text files' sizes (an estimate too high only means a second first
    pass; one too low only a larger sample in each partial state)."""
    if inp.total_rows is not None:
        return Sample.cutoff_for(fit_rows, inp.total_rows)
    est = inp.estimated_rows
    return None if est is None else Sample.cutoff_for(fit_rows, est // 2)


def _schema(inp: sources.Input, cols: Columns):
    """The Arrow types of the needed columns (Parquet footer, or a text file's first
    block), which fix how the target is read."""
    import pyarrow as pa

    f = inp.files[0]
    if f.format == "parquet":

        with sources.parquet_file(f.source) as pf:
            return pf.schema_arrow
    types = text_reader.column_types(f, cols.all())
    return pa.schema([(c, types[c]) for c in cols.all()])


def _unused_numeric(inp: sources.Input, cols: Columns) -> list[str]:
    """The numeric columns of the first file that the run does not read (from the Parquet
    footer, or the types of a text file's first block)."""
    import pyarrow as pa

    f = inp.files[0]
    used = set(cols.all())
    unused = [n for n in f.names if n not in used]
    if not unused:
        return []
    if f.format == "parquet":
        with sources.parquet_file(f.source) as pf:
            schema = pf.schema_arrow
        types = {n: schema.field(n).type for n in unused}
    else:
        types = text_reader.column_types(f, unused)  # numbers come back as float64
    return [n for n in unused if pa.types.is_integer(types[n])
            or pa.types.is_floating(types[n]) or pa.types.is_decimal(types[n])]


def _finish_scan(run: Run) -> None:
    scan = run.scan
    path = run.inp.files[0].path if len(run.inp.files) == 1 else ", ".join(run.inp.spec)
    if scan.rows_read == 0:
        text = all(f.format != "parquet" for f in run.inp.files)
        raise InputError("has a header but no data rows" if text else
                         "has no data rows (its schema names the columns, but it holds 0 "
                         "rows)", file=path)
    if scan.dropped:
        if scan.dropped == scan.rows_read:
            raise InputError(f"no rows left: {_all(scan.rows_read)} a missing or "
                             "non-finite value", file=path)
        row, column = scan.first_dropped.row, scan.first_dropped.value
        run.warnings.append(f"{scan.dropped:,} of {plural(scan.rows_read, 'row')} dropped: "
                            f"missing or non-finite values (first: {row_text(run, row)}, "
                            f"column {column!r})")
    for (what, why), (n, row) in sorted(scan.rescaled.items()):
        if why == "rounded":
            run.warnings.append(
                f"{n:,} of {plural(scan.rows_read, 'row')}: {what} written to at most "
                f"{ROUNDED_DIGITS} decimals miss 1 by their rounding alone; rescaled to sum "
                f"1 (first: {row_text(run, row)})")
        else:
            run.warnings.append(
                f"{n:,} of {plural(scan.rows_read, 'row')}: {what} rescaled to sum 1 "
                f"(--renormalize; first: {row_text(run, row)})")
    if scan.zero_weight:
        if scan.n == 0:
            raise InputError("the weights sum to 0", file=path, column=run.cols.weight)
        run.warnings.append(f"{plural(scan.zero_weight, 'row')} with weight 0 ignored")
    if not run.W > 0.0:
        raise InputError("the weights sum to 0", file=path, column=run.cols.weight)
    lay = run.layout
    if lay.positive is not None:
        _check_positive(run, path)
    if lay.labels:
        uniques = list(scan.labels)
        first_rows = {u: v[1] for u, v in scan.labels.items()}
        try:
            lay.label_index = label_index(uniques, first_rows, lay.classes, path,
                                          run.cols.target)
        except InputError as exc:
            if exc.row is None or len(run.inp.files) == 1:
                raise
            raise InputError(exc.message, column=exc.column, value=exc.value,
                             **at_row(run, exc.row)) from None
        run.classes = lay.classes or sorted(uniques)
        codes = np.array([lay.label_index[u] for u in uniques], dtype=np.int64)
        weights = np.array([scan.labels[u][0] for u in uniques])
        order = np.argsort(codes, kind="stable")
        run.value_counts = codes[order], weights[order]
    else:
        run.classes = list(lay.classes)
        if scan.integral and not (lay.soft or lay.multilabel):
            run.value_counts = scan.counts.result()
    for fam in run.prototypes.values():
        fam.classes = list(run.classes)
    if scan.sample.keys.size:
        run.sample = scan.sample.finish()


def _check_positive(run: Run, path: str) -> None:
    """--positive-label: the label occurs, and the target has one other label."""
    scan, label = run.scan, run.layout.positive
    others = list(scan.negatives)
    if scan.ymax < 1.0:
        from losscli.request import did_you_mean

        raise InputError(f"--positive-label {label!r} is not a value of the target"
                         f"{did_you_mean(label, others)} (values: "
                         f"{', '.join(map(repr, others))}{', …' if len(others) >= 3 else ''})",
                         file=path, column=run.cols.target)
    if len(others) > 1:
        third = others[1]
        raise InputError(f"a third label: a binary target has the positive label {label!r} "
                         f"and one other ({others[0]!r})", column=run.cols.target,
                         value=third, **at_row(run, scan.negatives[third]))


def _all(n: int) -> str:
    return "the only row has" if n == 1 else f"all {n:,} rows have"
