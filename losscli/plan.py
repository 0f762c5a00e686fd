"""The passes over the data (SPEC §5).

Pass 1 (`Scan`) validates every row, detects the target kind, and reduces what the fits
need: totals and moments of y, value counts of an integer target (or of class labels),
the first row outside each support, the closed-form fit statistics (`Family.fit_stats`)
and a seeded sample of `--fit-rows` rows. Closed-form fits then come from those moments,
fits that need an optimiser run on the sample (every row when there are at most
`--fit-rows`), marginal fits on integer targets on the value counts. The last pass
(`Scores`) scores every row under every fitted model: log-likelihood sums, baselines,
metrics and the Vuong sums of every pair of models. Marginal runs on integer targets or
class labels score the value counts instead, at a cost independent of the rows.

Nothing here knows where batches come from (the engine reduces pieces) or what a family
is called: it reads what the families declare.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from scipy import special

from losscli import entropy as entropy_mod
from losscli import sources
from losscli.batches import (
    OTHER_LABELS,
    ROUNDED_DIGITS,
    Batch,
    Converter,
    label_index,
    layout,
    zero_probability,
)
from losscli.columns import Columns, marginal_note, resolve_columns
from losscli.engines import local
from losscli.errors import NUMERIC_ERRORS, FitError, InputError, numeric_reason, plural
from losscli.kinds import detect_kind, numeric_kind
from losscli.noise import FAMILIES, blocks
from losscli.noise.base import ContinuousFamily, Params
from losscli.noise.discretised import Discretised
from losscli.noise.support import Support, integral
from losscli.reduce import Extremes, First, Joint, Moments, Sample, Sum, Traits, ValueCounts, wsum
from losscli.request import DEFAULT_FIT_ROWS, Request
from losscli.rows import at_row, file_of, row_text

# the numeric fits sum their blocks on the local engine's thread pool
blocks.install(local.map_ordered, local.workers())

SAMPLE_SEED = 20261125
BLOCK = 1 << 16  # rows per block inside a batch: keeps each model's temporaries small
MAX_EXPANDED_ROWS = 100_000_000  # whole-number weights expand for the spacing entropy
ECE_BINS = 15


def supports() -> list[Support]:
    """Every support and prediction domain the registry declares, and their versions
    closed at the lower bound (the counting base measure scores y = 0 on [0, ½])."""
    from losscli.kinds import RULES

    out: list[Support] = [s for s, _ in RULES.values()]
    for cls in FAMILIES.values():
        for s in (cls.support, cls.pred_domain, cls.deviance_support, cls.loss_support):
            if s is None:
                continue
            for v in (s, Support(s.description, s.lower, s.upper, False, s.upper_open,
                                 s.integer)):
                if v not in out:
                    out.append(v)
    return out


# ------------------------------------------------------------------ pass 1


@dataclass(frozen=True)
class ScanSpec:
    """What pass 1 reduces, fixed before it starts (small, picklable)."""

    labels: bool  # the target holds class labels
    supports: tuple[Support, ...]
    prototypes: dict[str, Any]  # family name → instance, for its closed-form statistics
    fit_modes: tuple[bool, ...]  # conditional and/or marginal statistics
    fit_rows: int
    cutoff: int | None = None  # the sample's key cutoff (Sample.cutoff_for)
    seed: int = SAMPLE_SEED  # the sample's (shifted by --seed)


class Scan:
    """Pass 1's state: everything the fits and the checks need, as fixed-size sums (and
    the seeded sample)."""

    def __init__(self, run: ScanSpec) -> None:
        self.run = run
        self.rows_read = 0
        self.file_rows: dict[str, int] = {}  # rows read per file
        self.dropped = 0
        self.first_dropped = First()
        self.zero_weight = 0
        self.clipped = 0
        self.rescaled: dict[tuple[str, str], list[int]] = {}  # → [rows, first row]
        self.negatives: dict[str, int] = {}  # --positive-label: other labels → first row
        self.first_clipped = First()
        self.batches = 0
        self.W = Sum()
        self.n = 0
        self.binary = True
        self.integral = True
        self.inside_unit = True  # every y in [0, 1] (proportions read as soft labels)
        self.ymin, self.ymax = math.inf, -math.inf
        self.y = Moments(1)
        self.counts = ValueCounts()
        self.labels: dict[str, list] = {}  # label → [weight, first 1-based row]
        self.outside = {s: First() for s in run.supports}  # y outside each support
        self.pred_outside = {s: First() for s in run.supports}
        self.outside_n = dict.fromkeys(run.supports, 0)  # how many rows, of y and ŷ
        self.pred_outside_n = dict.fromkeys(run.supports, 0)
        # what the y inside each support hold: the target kind without the rows outside
        self.inside = {s: Traits() for s in run.supports}
        self.beyond_half = False  # some |y − ŷ| > ½
        self.soft_entropy = Sum()
        self.stats: dict[tuple[str, bool], Moments] = {}
        self.sample = Sample(run.fit_rows, run.seed, run.cutoff)

    def update(self, b: Batch) -> Scan:
        run = self.run
        self.batches += 1
        self.rows_read += b.n_read
        self.file_rows[b.file] = self.file_rows.get(b.file, 0) + b.n_read
        self.dropped += b.dropped
        if b.first_dropped is not None:
            self.first_dropped.offer(*b.first_dropped)
        self.zero_weight += b.zero_weight
        self.clipped += b.clipped
        self._rescaled(b.rescaled)
        self._negatives(b.negatives)
        if b.first_clipped is not None:
            self.first_clipped.offer(b.first_clipped[0], b.first_clipped[2],
                                     b.first_clipped[1])
        n = b.n
        if n == 0:
            return self
        self.n += n
        w = b.w
        self.W.add(float(n) if w is None else float(np.sum(w)))
        y = b.y
        if run.labels:
            uniq, first, inverse = np.unique(y, return_index=True, return_inverse=True)
            weights = np.bincount(inverse, weights=w, minlength=uniq.size)
            for u, f, wt in zip(uniq.tolist(), first.tolist(), weights.tolist(), strict=True):
                self._label(u, wt, b.row(f))
            return self
        if y.ndim == 2:  # soft categorical labels (K, n)
            self.soft_entropy.add(wsum(special.entr(y).sum(axis=0), w))
            self._stats(b, y, None)
            return self
        rows = b.rows()
        lo, hi = float(y.min()), float(y.max())
        self.ymin, self.ymax = min(self.ymin, lo), max(self.ymax, hi)
        whole_rows = integral(y)
        whole = bool(np.all(whole_rows))
        self.integral &= whole
        self.binary &= whole and lo >= 0.0 and hi <= 1.0
        self.y.update(y, w)
        self.counts.update(y, w, whole)
        masks = {}
        traits = None  # per row: y < 0, y ≤ 0, y > 1, not whole (bool masks: cheap)
        for s in run.supports:
            ok = s.contains(y)
            masks[s] = ok
            if ok.all():
                self.inside[s].add(True, lo < 0.0, lo <= 0.0, hi > 1.0, not whole)
                continue
            i = int(np.argmax(~ok))
            self.outside[s].offer(int(rows[i]) + 1, float(y[i]))
            inside = int(np.count_nonzero(ok))
            self.outside_n[s] += n - inside
            if inside:
                if traits is None:
                    traits = (y < 0.0, y <= 0.0, y > 1.0, ~whole_rows)
                self.inside[s].add(True, *(bool(np.any(t & ok)) for t in traits))
        pred = b.pred
        if pred is not None:
            for s in run.supports:
                ok = s.contains(pred)
                if not ok.all():
                    i = int(np.argmax(~ok))
                    self.pred_outside[s].offer(int(rows[i]) + 1, float(pred[i]))
                    self.pred_outside_n[s] += n - int(np.count_nonzero(ok))
            if not self.beyond_half:
                with np.errstate(invalid="ignore", over="ignore"):
                    self.beyond_half = not bool(np.all(np.abs(y - pred) <= 0.5))
        if lo >= 0.0 and hi <= 1.0:
            self.soft_entropy.add(wsum(special.entr(y) + special.entr(1.0 - y), w))
        else:
            self.inside_unit = False
        self._stats(b, y, masks)
        columns = {"y": y}
        if pred is not None:
            columns["pred"] = pred
        if w is not None:
            columns["w"] = w
        self.sample.update(rows, columns)
        return self

    def _label(self, label: str, weight: float, row: int) -> None:
        """Add a label's weight and keep its first row."""
        cur = self.labels.get(label)
        if cur is None:
            self.labels[label] = [weight, row]
        else:
            cur[0] += weight
            cur[1] = min(cur[1], row)

    def _stats(self, b: Batch, y: np.ndarray, masks: dict | None) -> None:
        """The closed-form fit statistics of every family whose support holds here (one
        that fails anywhere does not apply, so its statistics are never read)."""
        run = self.run
        for name, fam in run.prototypes.items():
            for conditional in run.fit_modes:
                mode = "conditional" if conditional else "marginal"
                if mode not in fam.closed_form:
                    continue
                pred = b.pred if conditional else None
                if conditional and (pred is None or fam.input != "point"):
                    continue
                if masks is None and fam.input != "classes":
                    continue  # soft label vectors: only a class-probability family
                if masks is not None and not masks[fam.support].all():
                    continue
                if conditional and not fam.pred_domain.contains(pred).all():
                    continue
                with np.errstate(all="ignore"):
                    x = fam.fit_stats(y, pred)
                if x is None:
                    continue
                key = (name, conditional)
                if key not in self.stats:
                    self.stats[key] = Moments(np.atleast_2d(x).shape[0])
                self.stats[key].update(x, b.w)

    def _rescaled(self, found: dict) -> None:
        for key, (n, row) in found.items():
            have = self.rescaled.setdefault(key, [0, row])
            have[0] += n
            have[1] = min(have[1], row)

    def _negatives(self, found: dict) -> None:
        if not found:
            return
        both = dict(self.negatives)
        for label, row in found.items():
            both[label] = min(row, both.get(label, row))
        self.negatives = dict(sorted(both.items(), key=lambda kv: kv[1])[:OTHER_LABELS])

    def merge(self, other: Scan) -> Scan:
        self._negatives(other.negatives)
        self._rescaled(other.rescaled)
        self.batches += other.batches
        self.rows_read += other.rows_read
        for f, n in other.file_rows.items():
            self.file_rows[f] = self.file_rows.get(f, 0) + n
        self.dropped += other.dropped
        self.first_dropped.merge(other.first_dropped)
        self.zero_weight += other.zero_weight
        self.clipped += other.clipped
        self.first_clipped.merge(other.first_clipped)
        self.n += other.n
        self.W.merge(other.W)
        self.binary &= other.binary
        self.integral &= other.integral
        self.inside_unit &= other.inside_unit
        self.ymin, self.ymax = min(self.ymin, other.ymin), max(self.ymax, other.ymax)
        self.y.merge(other.y)
        self.counts.merge(other.counts)
        for u, (wt, row) in other.labels.items():
            self._label(u, wt, row)
        for s in self.outside:
            self.outside[s].merge(other.outside[s])
            self.pred_outside[s].merge(other.pred_outside[s])
            self.outside_n[s] += other.outside_n[s]
            self.pred_outside_n[s] += other.pred_outside_n[s]
            self.inside[s].merge(other.inside[s])
        self.beyond_half |= other.beyond_half
        self.soft_entropy.merge(other.soft_entropy)
        for k, m in other.stats.items():
            if k in self.stats:
                self.stats[k].merge(m)
            else:
                self.stats[k] = m
        self.sample.merge(other.sample)
        return self


# ------------------------------------------------------------------ the run


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
    def reduce(self, make, label: str):
        """One pass: every batch converted and reduced into a state from `make`, on the
        run's engine; the pass, batch and byte counts and the progress display here."""
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
        return self.engine.reduce_pass(self, make, report)

    @property
    def n(self) -> int:
        return self.scan.n

    @property
    def W(self) -> float:
        return float(self.scan.W.value[0])

    @property
    def conditional(self) -> bool:
        return bool(self.cols.pred or self.cols.probs or self.cols.logits)

    @property
    def sample_rows(self) -> int:
        return int(self.sample["y"].shape[-1]) if self.sample else 0


def fold(task: sources.Task, offset: int, columns: list[str], batch_rows: int | None,
         converter: Converter, make) -> tuple[Any, int, int]:
    """One task's batches reduced into one state: (state, rows read, batches). What an
    engine runs on a worker; it reads, converts and updates, and knows nothing else."""
    state = make()
    rows = batches = 0
    # a text task is a whole file: its first row is the file's
    first = task.file_offset if task.file_offset is not None else (
        task.offset if offset is None else offset)
    with np.errstate(all="ignore"):
        for start, table in sources.read_task(task, columns, batch_rows, offset):
            state.update(converter.convert(table, task.file.path, start, first))
            rows += table.num_rows
            batches += 1
    return state, rows, batches


def open_run(req: Request, progress=None, engine=None) -> Run:
    """Open the input, resolve the columns, and run pass 1."""
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
    prototypes = {name: cls(lay.classes) for name, cls in FAMILIES.items()}
    conditional = bool(cols.pred or cols.probs or cols.logits)
    run = Run(req=req, inp=inp, cols=cols, layout=lay, converter=Converter(req, cols, lay),
              fit_rows=req.fit_rows or DEFAULT_FIT_ROWS, supports=supports(),
              prototypes=prototypes,
              fit_modes=(True, False) if conditional else (False,), progress=progress,
              engine=engine or local.ENGINE, warnings=list(inp.warnings))
    spec = ScanSpec(labels=lay.labels, supports=tuple(run.supports),
                    prototypes=prototypes, fit_modes=run.fit_modes, fit_rows=run.fit_rows,
                    cutoff=_cutoff(run.fit_rows, inp), seed=SAMPLE_SEED + req.seed)
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

        with sources._parquet(f.source) as pf:
            return pf.schema_arrow
    types = sources._column_types(f, cols.all())
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
        with sources._parquet(f.source) as pf:
            schema = pf.schema_arrow
        types = {n: schema.field(n).type for n in unused}
    else:
        types = sources._column_types(f, unused)  # numbers come back as float64
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
        if scan.integral and not lay.soft:
            run.value_counts = scan.counts.result()
    for fam in run.prototypes.values():
        fam.classes = list(run.classes)
    if scan.sample.keys.size:
        run.sample = scan.sample.finish()


# ------------------------------------------------------------------ models


@dataclass
class Model:
    """A family fitted on this run, and how its prediction is read."""

    name: str
    family: Any
    params: Params
    conditional: bool
    fit_rows: int
    warnings: list[str] = field(default_factory=list)
    baseline: Model | None = None  # the same family fitted to the target alone
    baseline_error: str | None = None
    from_sample: bool = False  # fitted on the seeded sample (not every row)


def make_family(run: Run, name: str, counting: bool):
    """The family object for this run: discretised when the base measure is counting."""
    fam = FAMILIES[name](run.classes)
    if counting and isinstance(fam, ContinuousFamily):
        return Discretised(fam)
    return fam


def check_family(run: Run, fam, name: str) -> None:
    """The family can take this target and prediction: a FitError (its skip reason) when
    the columns do not give what it needs, an InputError naming the first row outside its
    support or its prediction's domain."""
    cols = run.cols
    path = file_of(run)
    if fam.input == "classes":
        if not (run.layout.labels or run.layout.soft):
            raise InputError(f"{name} needs {fam.requirement}; the target is "
                             f"{detect_kind(run)}", file=path, column=cols.target)
        if run.conditional and not (cols.probs or cols.logits):
            raise FitError("needs class-probability columns (--probs or "
                           f"--logits), not the point prediction {cols.pred!r}")
        return
    if run.layout.labels:
        raise InputError(f"{name} needs numeric targets; the target holds class labels "
                         f"({', '.join(run.classes[:5])})", file=path, column=cols.target)
    k = len(cols.probs or cols.logits)
    if fam.input == "probability" and k > 2:
        raise FitError(f"needs one probability column, got {k}")
    if fam.input == "point" and run.conditional and not (cols.pred or len(cols.probs) == 1):
        raise FitError("needs a point prediction (--pred), not class probabilities")
    first = run.scan.outside[fam.support]
    if first.row is not None:
        raise InputError(f"outside {name}'s support ({fam.support.description})"
                         + _how_many(run.scan.outside_n[fam.support], run.n),
                         column=cols.target, value=_shown(first.value),
                         **at_row(run, first.row))
    if run.conditional and (fam.input == "point" or cols.pred):
        domain = fam.pred_domain
        first = run.scan.pred_outside[domain]
        if first.row is not None:
            raise InputError(
                f"prediction outside {name}'s domain for the {fam.prediction} "
                f"({domain.description})" + _how_many(run.scan.pred_outside_n[domain], run.n)
                + _scale_hint(domain, first.value, bool(cols.pred), fam.prediction),
                column=(cols.pred or cols.probs[0]), value=_shown(first.value),
                **at_row(run, first.row))


FEW_ROWS = 10  # at most this many rows, or 1 % of them, outside a support are "a few"


def near_miss(run: Run, fam, name: str, kind: str) -> InputError | None:
    """For a family the target kind rules out: an InputError naming the first row outside
    its support and how many there are, when only a few rows are (at most FEW_ROWS or
    1 %, and fewer than half) and without them the target would be of a kind the
    family applies to; else None. A few bad rows then explain the family's absence."""
    from losscli.kinds import COUNTING_KINDS

    if fam.input == "classes" or run.layout.labels or run.layout.soft:
        return None
    scan = run.scan
    n = run.n
    supports = [fam.support]
    if fam.support.lower_open:  # the counting base measure scores y = lower on [lower, ½]
        supports.append(replace(fam.support, lower_open=False))
    best = None
    for s in supports:
        count, first, inside = scan.outside_n.get(s), scan.outside.get(s), scan.inside.get(s)
        if first is None or first.row is None or not inside.any:
            continue
        if not (count <= max(FEW_ROWS, n // 100) and 2 * count < n):
            continue
        would_be = numeric_kind(not inside.fractional, inside.negative, inside.nonpositive,
                                inside.above_one)
        if would_be not in type(fam).applies_to:
            continue
        if s is not fam.support and would_be not in COUNTING_KINDS:
            continue  # the closed support only holds on the counting base measure
        if best is None or count < best[0]:
            best = (count, s, first, would_be)
    if best is None:
        return None
    count, s, first, would_be = best
    what = s.description if s is fam.support else \
        f"{s.description}, or {s.lower:g} on integer targets"
    return InputError(
        f"outside {name}'s support ({what}){_how_many(count, n)}; without "
        f"{'it' if count == 1 else 'them'} the target would be {would_be}, not {kind}",
        column=run.cols.target, value=_shown(first.value), **at_row(run, first.row))


def _how_many(count: int, n: int) -> str:
    return f" ({count:,} of {n:,} rows)" if count else ""


def _shown(value):
    """A value as the message shows it: whole floats without their ".0"."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2 ** 53:
        return int(value)
    return value


def _scale_hint(domain: Support, value, point: bool, prediction: str) -> str:
    """A guess at why predictions leave their domain: negative means (counts, positive
    targets) are often log-means; negative probabilities are often logits."""
    if not point or not isinstance(value, float) or not value < 0.0:
        return ""
    if domain.lower >= 0.0 and math.isinf(domain.upper):
        return "; the prediction has negative values: is it on the log scale (a log-mean " \
               f"or linear predictor)? Give the {prediction} itself"
    if domain.lower >= 0.0 and domain.upper <= 1.0:
        return "; the prediction has negative values: is it a logit? Pass it with --logits"
    return ""


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


def fit(run: Run, name: str, fam, conditional: bool) -> Model:
    """Fit by weighted ML: closed forms from pass 1's moments (every row), marginal fits
    on the value counts, everything else on the seeded sample (every row when there are
    at most --fit-rows)."""
    n = run.n
    mode = "conditional" if conditional else "marginal"
    if conditional:
        if not fam.nuisance:
            return Model(name, fam, {}, True, n)
        if fam.unbounded_within_half and not run.scan.beyond_half:
            raise FitError(
                "every prediction lies within ½ of its integer target, so the discretised "
                "likelihood keeps rising as the spread goes to 0: no maximum with a spread "
                "> 0 (the limit is a point mass at the prediction)")
        if mode in fam.closed_form and (name, True) in run.scan.stats:
            params = fam.fit_from_stats(run.scan.stats[(name, True)], True)
            return Model(name, fam, params, True, n)
        s = _sample_inputs(run, fam)
        model = Model(name, fam, fam.fit(s["y"], s.get("w"), s["pred"]), True, s["rows"],
                      from_sample=True)
        return _polished(model, s["y"], s.get("w"), s["pred"])
    if run.value_counts is not None:
        values, weights = run.value_counts
        if fam.unbounded_within_half and (
                values.size == 1 or (values.size == 2 and values[1] - values[0] == 1)):
            # one value, or two neighbours: a location at (or near) their midpoint with a
            # vanishing spread reproduces the empirical distribution exactly
            raise FitError(
                "the target takes only " + ("one value" if values.size == 1 else
                                            "two neighbouring integer values")
                + ", so the discretised likelihood keeps rising as the spread "
                "goes to 0: no maximum with a spread > 0")
        model = Model(name, fam, fam.fit(values, weights), False, n)
        return model if mode in fam.closed_form else _polished(model, values, weights, None)
    if mode in fam.closed_form and (name, False) in run.scan.stats:
        return Model(name, fam, fam.fit_from_stats(run.scan.stats[(name, False)], False),
                     False, n)
    s = _sample_inputs(run, fam)
    model = Model(name, fam, fam.fit(s["y"], s.get("w")), False, s["rows"], from_sample=True)
    return _polished(model, s["y"], s.get("w"), None)


def _polished(model: Model, y: np.ndarray, w: np.ndarray | None, pred) -> Model:
    """A numeric fit on rows in memory, finished by Newton steps to 1e-8 (the family's own
    optimiser stops near 1e-6). Boundary fits (df = ∞, α = 0) are kept as they are."""
    from losscli import optimize

    fam = model.family
    names = fam.numeric_params(model.conditional)
    if fam.precise_fit or not names or fam.fit_warnings(model.params):
        return model
    n = y.shape[-1]
    size = blocks.split_size(n, 1 << 17)

    def total(params: Params) -> float:
        p = pred if model.conditional else fam.marginal_pred(params)

        def block(sl: slice) -> float:
            pb = p[sl] if np.ndim(p) == 1 else p
            return float(wsum(fam.loglik(y[sl], pb, params), None if w is None else w[sl]))

        return math.fsum(blocks.map_blocks(block, n, size))

    params, status = optimize.polish(total, model.params, names, fam.param_domains)
    if status == optimize.CONVERGED:
        model.params = params
    return model


def _sample_inputs(run: Run, fam) -> dict:
    """The seeded sample as the family's fit takes it (rows: how many it holds)."""
    s = run.sample
    if not s:
        raise FitError("no rows to fit on")
    out = {"y": s["y"], "pred": s.get("pred"), "rows": run.n if run.scan.sample.complete
           else int(s["y"].size)}
    if "w" in s:
        out["w"] = s["w"]
    return out


def marginal_pred(model: Model) -> Any:
    return model.family.marginal_pred(model.params)


# ------------------------------------------------------------------ --fit-rows all

MAX_NEWTON_PASSES = 8


class Polish:
    """One Newton pass's state: Σ w log q at every stencil point of every model."""

    def __init__(self, jobs: list[tuple[Model, list[Params]]]) -> None:
        self.jobs = jobs
        self.sums = Sum(sum(len(points) for _, points in jobs))

    def update(self, b: Batch) -> Polish:
        part = []
        for model, points in self.jobs:
            fam = model.family
            for params in points:
                pred = b.pred if model.conditional else fam.marginal_pred(params)
                part.append(wsum(fam.loglik(b.y, pred, params), b.w))
        self.sums.add(np.array(part))
        return self

    def merge(self, other: Polish) -> Polish:
        self.sums.merge(other.sums)
        return self


def polish(run: Run, models: list[Model]) -> None:
    """With --fit-rows all on more rows than the sample holds: Newton steps from the
    sample's fit whose gradient and Hessian are reductions over every row (one pass per
    step, every model at once), until each step is below 1e-8; then fit_rows = every
    row. Fits on a boundary of their space (df = ∞, α = 0) are kept as they are, and so
    are fits with no numeric parameter (laplace's marginal median, which needs sorted
    data), with a warning that they stay the sample's."""
    from losscli import optimize

    if run.req.fit_rows is not None or run.scan.sample.complete:
        return
    todo = [m for m in models if m.from_sample and not m.family.fit_warnings(m.params)]
    for m in todo:
        if not m.family.numeric_params(m.conditional):
            m.warnings.append(f"{m.name}: nothing in its fit is a smooth optimum for "
                              "--fit-rows all to polish (a median needs sorted data): the "
                              f"fit is the sample's, on {m.fit_rows:,} rows")
    todo = [m for m in todo if m.family.numeric_params(m.conditional)]
    for _ in range(MAX_NEWTON_PASSES):
        jobs = []
        for m in todo:
            names = m.family.numeric_params(m.conditional)
            x = optimize.to_x(m.params, names, m.family.param_domains)
            if not np.all(np.isfinite(x)):
                continue
            jobs.append((m, [optimize.from_x(p, m.params, names, m.family.param_domains)
                             for p in optimize.stencil(x)], names, x))
        if not jobs:
            break
        state = run.reduce(lambda jobs=jobs: Polish([(m, pts) for m, pts, _, _ in jobs]),
                           "polishing the fits on every row")
        values = state.sums.value
        k = 0
        todo = []
        for m, points, names, x in jobs:
            new, status = optimize.newton_step(x, values[k:k + len(points)])
            k += len(points)
            m.params = optimize.from_x(new, m.params, names, m.family.param_domains)
            if status == optimize.CONVERGED:
                m.fit_rows = run.n  # now the fit on every row
            elif status == optimize.STEPPED:
                todo.append(m)
            else:
                m.warnings.append(f"{m.name}: the Newton polish on every row stopped (no "
                                  "concave maximum near the sample's fit): the fit is the "
                                  f"sample's, on {m.fit_rows:,} rows")
        if not todo:
            break
    for m in todo:
        m.warnings.append(f"{m.name}: the Newton polish on every row did not converge in "
                          f"{MAX_NEWTON_PASSES} passes: the fit is the sample's, on "
                          f"{m.fit_rows:,} rows")


# ------------------------------------------------------------------ the last pass


class Scores:
    """The last pass's state for the models of a run (all sums compensated)."""

    def __init__(self, plan: ScorePlan) -> None:
        self.plan = plan
        m = len(plan.models)
        self.ll = Sum(m)
        self.baseline = Sum(m)
        self.bad = [First() for _ in range(m)]
        self.failed: list[str | None] = [None] * m  # why a model could not be scored
        self.zero = [0] * m  # rows whose observed class has probability 0 (--eps 0)
        self.zero_first = [First() for _ in range(m)]
        self.clipped = 0
        self.first_clipped = First()
        self.cls = Sum(m * (2 + 3 * ECE_BINS))  # classifier metrics
        self.point = Sum(2 * len(plan.point_keys))  # Σw|r|, Σw r² per point prediction
        self.dev = Sum(2 * m)  # Σw d(y, ŷ), Σw d(y, ȳ)
        self.pairs = Moments(len(plan.pairs))
        # each pair's rows of largest and smallest difference: does one row dominate?
        self.pair_extremes = Extremes(len(plan.pairs))

    def update(self, b: Batch) -> Scores:
        for s in range(0, b.n, BLOCK):
            self._block(_slice(b, s, min(s + BLOCK, b.n)))
        return self

    def _block(self, b: Batch) -> None:
        plan = self.plan
        y, w = b.y, b.w
        lls = []
        m = len(plan.models)
        ll_part = np.zeros(m)
        bl_part = np.zeros(m)
        cls_part = np.zeros(m * (2 + 3 * ECE_BINS))
        dev_part = np.zeros(2 * m)
        for i, model in enumerate(plan.models):
            fam = model.family
            pred = self._pred(model, b, i)
            if self.failed[i] is not None:
                lls.append(np.zeros(b.n))
                continue
            try:
                ll = fam.loglik(y, pred, model.params)
                total = wsum(ll, w)
            except InputError:
                raise
            except NUMERIC_ERRORS as exc:  # this family cannot score these rows
                self.failed[i] = numeric_reason(exc)
                lls.append(np.zeros(b.n))
                continue
            ll_part[i] = total
            if not math.isfinite(total):
                bad = ~np.isfinite(ll)
                j = int(np.argmax(bad))
                yv = y[..., j]
                pv = pred[j] if np.ndim(pred) == 1 else None
                self.bad[i].offer(b.row(j) if b.rows_known else 0,
                                  (float(yv) if np.ndim(yv) == 0 and not self.plan.labels
                                   else None, None if pv is None else float(pv)))
            lls.append(ll)
            if model.baseline is not None and plan.baseline_on_rows:
                bm = model.baseline
                bl_part[i] = wsum(bm.family.loglik(y, marginal_pred(bm), bm.params), w)
            if fam.input != "point":
                cls_part[i * (2 + 3 * ECE_BINS):(i + 1) * (2 + 3 * ECE_BINS)] = \
                    _class_sums(y, pred, w, fam.input == "probability")
            elif fam.deviance is not None and plan.deviance_ok[i]:
                yhat = fam.point_prediction(pred)
                dev_part[2 * i] = wsum(fam.deviance(y, yhat), w)
                dev_part[2 * i + 1] = wsum(fam.deviance(y, plan.ybar), w)
        self.ll.add(ll_part)
        self.baseline.add(bl_part)
        self.cls.add(cls_part)
        self.dev.add(dev_part)
        if plan.point_keys:
            part = np.zeros(2 * len(plan.point_keys))
            for k, source in enumerate(plan.point_keys.values()):
                yhat = b.pred if source is None else source
                r = np.subtract(y, yhat)
                part[2 * k] = wsum(np.abs(r), w)
                part[2 * k + 1] = wsum(np.square(r, out=r), w)
            self.point.add(part)
        if plan.pairs:
            block = np.empty((len(plan.pairs), b.n))
            for k, (i, j) in enumerate(plan.pairs):
                np.subtract(lls[i], lls[j], out=block[k])
            self.pairs.update(block, w)
            # rows by 1-based number; on value counts a "row" is a value and its weight
            # many rows, so there each is labelled by its value and weighs one
            if b.rows_known:
                self.pair_extremes.update(block, b.rows() + 1.0, w)
            else:
                self.pair_extremes.update(block, np.asarray(y, dtype=np.float64), None)

    def _pred(self, model: Model, b: Batch, i: int) -> Any:
        fam = model.family
        if not model.conditional:
            return marginal_pred(model)
        if fam.input == "point":
            return b.pred
        if b.logq is not None:
            logq = b.logq
        else:
            from losscli.batches import probability_block

            column = self.plan.prediction[0]
            logq, clipped = probability_block(b, column, self.plan.eps)
            self.clipped += clipped
            if clipped and b.rows_known:
                eps = self.plan.eps
                j = int(np.argmax((b.pred < eps) | (b.pred > 1.0 - eps)))
                self.first_clipped.offer(b.row(j), float(b.pred[j]), column)
        hit = zero_probability(b, logq, self.plan.prediction)
        if hit is not None:  # --eps 0 and a probability of 0 on an observed class
            self.zero[i] += hit[0]
            self.zero_first[i].offer(hit[1], hit[3], hit[2])
        return logq

    def merge(self, other: Scores) -> Scores:
        self.ll.merge(other.ll)
        self.baseline.merge(other.baseline)
        for a, c in zip(self.bad, other.bad, strict=True):
            a.merge(c)
        self.failed = [a or c for a, c in zip(self.failed, other.failed, strict=True)]
        self.zero = [a + c for a, c in zip(self.zero, other.zero, strict=True)]
        for a, c in zip(self.zero_first, other.zero_first, strict=True):
            a.merge(c)
        self.clipped += other.clipped
        self.first_clipped.merge(other.first_clipped)
        self.cls.merge(other.cls)
        self.point.merge(other.point)
        self.dev.merge(other.dev)
        self.pairs.merge(other.pairs)
        self.pair_extremes.merge(other.pair_extremes)
        return self


def _slice(b: Batch, lo: int, hi: int) -> Batch:
    if lo == 0 and hi == b.n:
        return b
    keep = np.arange(lo, hi) if b.keep is None else b.keep[lo:hi]
    return Batch(file=b.file, offset=b.offset, n_read=b.n_read, y=b.y[..., lo:hi],
                 pred=None if b.pred is None else b.pred[lo:hi],
                 logq=None if b.logq is None else b.logq[:, lo:hi],
                 w=None if b.w is None else b.w[lo:hi], keep=keep, rows_known=b.rows_known)


def _class_sums(y: np.ndarray, logq: np.ndarray, w: np.ndarray | None,
                binary: bool) -> np.ndarray:
    """Σw correct, Σw Brier, and per ECE bin Σw, Σw correct, Σw confidence.

    Soft labels are scored as the nll scores them: a row with label t (one-hot for a
    hard label) counts as K rows, one of each class k weighted t_k, and each metric is
    the hard-label metric of those rows. With q the predicted probabilities and
    k̂ = argmax q (the first on ties): correct = t_k̂ (the expected accuracy);
    Brier = Σ_k (q_k − t_k)² + 1 − Σ_k t_k² (binary: half that, (q − t)² + t(1 − t), as
    scikit-learn's brier_score_loss); ECE = Σ_bins |Σw correct − Σw q_k̂| / Σw over 15
    equal-width bins (i/15, (i+1)/15] of the confidence q_k̂, so a prediction equal to
    its soft label has ECE 0. On hard labels these are the usual metrics."""
    n = y.shape[-1]
    q = np.exp(np.broadcast_to(logq, (logq.shape[0], n)))
    if binary:
        target = np.stack([1.0 - y, y])
    elif y.ndim == 2:
        target = y
    else:
        target = np.zeros_like(q)
        target[y.astype(np.int64), np.arange(n)] = 1.0
    top = np.argmax(q, axis=0)
    correct = np.take_along_axis(target, top[None, :], axis=0)[0].astype(np.float64)
    diff = q - target
    # Σ_k E[(q_k − 1{Y=k})²] = Σ_k (q_k − t_k)² + Σ_k t_k (1 − t_k); 0 for a one-hot t
    brier_rows = (diff * diff + target * (1.0 - target)).sum(axis=0)
    if binary:
        brier_rows *= 0.5
    conf = q.max(axis=0)
    bins = np.clip(np.ceil(conf * ECE_BINS).astype(np.int64) - 1, 0, ECE_BINS - 1)
    wts = np.ones(n) if w is None else w
    out = np.empty(2 + 3 * ECE_BINS)
    out[0] = wsum(correct, w)
    out[1] = wsum(brier_rows, w)
    out[2:2 + ECE_BINS] = np.bincount(bins, weights=wts, minlength=ECE_BINS)
    out[2 + ECE_BINS:2 + 2 * ECE_BINS] = np.bincount(bins, weights=wts * correct,
                                                     minlength=ECE_BINS)
    out[2 + 2 * ECE_BINS:] = np.bincount(bins, weights=wts * conf, minlength=ECE_BINS)
    return out


@dataclass
class ScorePlan:
    """What the last pass computes: the models, their point predictions, the pairs."""

    models: list[Model]
    pairs: list[tuple[int, int]]
    point_keys: dict[str, Any]  # key → None (the prediction column) or a fitted location
    deviance_ok: list[bool]
    ybar: float
    baseline_on_rows: bool
    prediction: list[str]
    labels: bool
    eps: float
    rows_known: bool = True  # False on value counts: a "row" is a distinct value


def score(run: Run, models: list[Model], pairs: bool, also=None
          ) -> tuple[Scores, ScorePlan, Any]:
    """The last pass: every model scored on every row (or on the value counts); `also`
    makes a further state reduced in the same pass (None without it)."""
    on_counts = not run.conditional and run.value_counts is not None
    point_keys: dict[str, Any] = {}
    deviance_ok = []
    for m in models:
        fam = m.family
        if fam.input == "point":
            point_keys.setdefault(_point_key(m), None if m.conditional
                                  else fam.point_prediction(marginal_pred(m)))
        ok = fam.deviance is not None
        if ok and fam.deviance_support is not None:
            ok = run.scan.outside[fam.deviance_support].row is None and (
                not m.conditional
                or run.scan.pred_outside[fam.deviance_support].row is None)
        deviance_ok.append(ok)
    cols = run.cols
    plan = ScorePlan(
        models=models,
        pairs=[(i, j) for i in range(len(models)) for j in range(i + 1, len(models))]
        if pairs else [],
        point_keys=point_keys, deviance_ok=deviance_ok,
        ybar=float(run.scan.y.mean[0]) if run.scan.y.W > 0 else math.nan,
        baseline_on_rows=run.value_counts is None,
        prediction=[cols.pred] if cols.pred else list(cols.probs or cols.logits),
        labels=run.layout.labels, eps=run.req.eps, rows_known=not on_counts)

    def make():
        return Scores(plan) if also is None else Joint(Scores(plan), also())

    if on_counts:
        state = make()
        with np.errstate(all="ignore"):
            state.update(value_count_batch(run))
    else:
        state = run.reduce(make, "scoring")
    if also is None:
        return state, plan, None
    return state.states[0], plan, state.states[1]


def value_count_batch(run: Run) -> Batch:
    """The target's value counts as one batch (a "row" per distinct value, its weight the
    value's): what a marginal pass reduces on integer targets or class labels."""
    values, weights = run.value_counts
    return Batch(file=file_of(run), offset=0, n_read=values.size,
                 y=values.astype(np.int64) if run.layout.labels else values, w=weights,
                 rows_known=False)


def _point_key(m: Model) -> str:
    return "prediction" if m.conditional else f"{m.name}.location"


def baseline_on_counts(run: Run, model: Model) -> float:
    """Σ w log q of the baseline model over the value counts."""
    values, weights = run.value_counts
    bm = model.baseline
    with np.errstate(all="ignore"):
        return float(np.dot(weights, bm.family.loglik(values, marginal_pred(bm), bm.params)))


# ------------------------------------------------------------------ entropy


class Entropies:
    """H(P) by the method SPEC §1.5 names; it depends on the data, the mode and the base
    measure, not on the family, so each is computed once per run."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self._cache: dict[tuple[bool, bool], tuple[float | None, str, str | None]] = {}

    def get(self, conditional: bool, discrete: bool) -> tuple[float | None, str, str | None]:
        key = (conditional, discrete)
        if key not in self._cache:
            self._cache[key] = self._compute(conditional, discrete)
        return self._cache[key]

    def _compute(self, conditional: bool, discrete: bool):
        run = self.run
        scan = run.scan
        if run.layout.soft or (discrete and not run.layout.labels and not scan.integral
                               and scan.inside_unit):
            # soft labels given as such, or a proportion target read as soft labels
            return float(scan.soft_entropy.value[0]) / run.W, "soft-labels", None
        if discrete and conditional:
            return 0.0, "hard-labels", None
        if discrete:
            if run.value_counts is None:
                return None, "plug-in", "the target has too many distinct values"
            f = run.value_counts[1] / run.value_counts[1].sum()
            return float(special.entr(f).sum()), "plug-in", None
        s = run.sample
        y, pred = s["y"], s.get("pred") if conditional else None
        why_sample = None
        if "w" in s:
            w = s["w"]
            if not (np.all(integral(w)) and w.sum() <= MAX_EXPANDED_ROWS):
                return None, "spacing", ("the spacing entropy estimate needs unweighted rows "
                                         "or whole-number frequency weights")
            reps = w.astype(np.int64)
            y = np.repeat(y, reps)
            pred = None if pred is None else np.repeat(pred, reps)
        if not scan.sample.complete:
            why_sample = (f"the spacing entropy is estimated on a seeded sample of "
                          f"{run.sample_rows:,} rows (--fit-rows)")
        h, why = entropy_mod.spacing(y, pred)
        return h, "spacing", why or why_sample
