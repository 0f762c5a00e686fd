"""One batch of rows as validated float64 arrays: the unit every reduction updates on.

`Converter` turns a pyarrow Table of the needed columns into a `Batch`: numbers checked
(text in a numeric column is an error naming the file, column, global row and value),
rows with a missing or non-finite used value dropped and counted, frequency weights of 0
ignored, probabilities checked, clipped and turned into log-probabilities, logits through
log-softmax, soft labels aligned with the probability columns by class name, class labels
mapped to codes. Row numbers are 1-based data rows counted across every input file.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

from losscli.columns import Columns, class_names
from losscli.errors import InputError, UsageError, plural
from losscli.request import LABEL_KIND, Request

SUM_TOLERANCE = 1e-6
# probabilities written to d ≤ ROUNDED_DIGITS decimals may miss 1 by their rounding
ROUNDED_DIGITS = 6
# |x·10ᵈ − round(x·10ᵈ)| below this says x has at most d decimals: the float nearest a
# decimal of d ≤ 6 digits is within 1e-16·10⁶ of it; 1e-7 keeps 7-digit values out
DIGIT_SLACK = 1e-7


def decimals(block: np.ndarray) -> np.ndarray:
    """Per column of a (K, m) block: the fewest decimals d in 1..ROUNDED_DIGITS that write
    every value of that column exactly (as a rounded export writes them), else 0."""
    out = np.zeros(block.shape[1], dtype=np.int64)
    for d in range(ROUNDED_DIGITS, 0, -1):
        scaled = block * 10.0 ** d
        exact = (np.abs(scaled - np.rint(scaled)) <= DIGIT_SLACK).all(axis=0)
        out[exact] = d
    return out


def rounds_from_distribution(block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per column of a (K, m) block of values in [0, 1]: whether some probability vector
    rounds to it, and its decimals d (0: not written to d ≤ 6 decimals, never true).

    Each true p_k lies within h = ½·10⁻ᵈ of x_k and in [0, 1], so such a vector exists
    iff Σ max(x_k − h, 0) < 1 < Σ min(x_k + h, 1): |Σx − 1| < K·h at most. The bounds
    are strict (a value exactly halfway rounds either way), and a margin of 1e-9·h
    keeps float noise at a bound on the side of rejecting."""
    d = decimals(block)
    h = np.where(d > 0, 0.5 * 10.0 ** -d.astype(float), 0.0)
    low = np.maximum(block - h, 0.0).sum(axis=0)
    high = np.minimum(block + h, 1.0).sum(axis=0)
    margin = 1e-9 * h
    return (d > 0) & (low < 1.0 - margin) & (high > 1.0 + margin), d


@dataclass
class Batch:
    """Targets, predictions and weights of the kept rows of one piece.

    y       (n,) float64 numeric targets; (n,) int64 class codes for hard class labels
            (text labels before the classes are known); (K, n) float64 soft labels;
            (2L, n) float64 label pairs [1 − y_1 … 1 − y_L; y_1 … y_L] of a target of L
            label columns (each label a two-class soft label).
    pred    (n,) float64 point predictions (a mean, median, location or P(y = 1)).
    logq    (K, n) float64 class-major log-probabilities (K = 2 for a binary model;
            [log(1 − q_l); log q_l] (2L, n) for L labels).
    w       (n,) float64 frequency weights, or None for 1 each.
    """

    file: str
    offset: int  # global 0-based row number of the piece's first row
    n_read: int
    y: np.ndarray
    pred: np.ndarray | None = None
    logq: np.ndarray | None = None
    w: np.ndarray | None = None
    keep: np.ndarray | None = None  # local indices of the kept rows; None: all kept
    dropped: int = 0  # rows with a missing or non-finite used value
    first_dropped: tuple[int, str] | None = None  # (1-based global row, column)
    zero_weight: int = 0
    clipped: int = 0
    # rows whose probabilities were rescaled to sum 1: {(what, why): (count, first row)}
    rescaled: dict = field(default_factory=dict)
    # --positive-label: the other labels seen, with their first 1-based global row
    negatives: dict = field(default_factory=dict)
    first_clipped: tuple[int, str, float] | None = None  # (1-based row, column, value)
    rows_known: bool = True  # False for value counts: a "row" is a distinct value
    # per-row model inputs by column name (--param columns, further point predictions),
    # aligned with y; a further class-probability group's (K, n) log-probabilities by its
    # prediction's name (Columns.other_groups)
    columns: dict[str, np.ndarray] = field(default_factory=dict)
    # --by: (codes (n,) int64, values) with values[codes[i]] row i's value (None: null)
    by: tuple[np.ndarray, list] | None = None

    @property
    def n(self) -> int:
        return int(self.y.shape[-1])

    def rows(self) -> np.ndarray:
        """Global 0-based row numbers of the kept rows."""
        local = np.arange(self.n_read) if self.keep is None else self.keep
        return local + self.offset

    def row(self, i: int) -> int:
        """1-based global row number of the i-th kept row (for error messages)."""
        return self.offset + 1 + (i if self.keep is None else int(self.keep[i]))

    def block(self, lo: int, hi: int) -> Batch:
        """The kept rows lo:hi as a batch of their own, with their row numbers (the
        piece's counts of dropped, clipped and rescaled rows stay with the piece)."""
        if lo == 0 and hi == self.n:
            return self
        keep = np.arange(lo, hi) if self.keep is None else self.keep[lo:hi]
        return Batch(file=self.file, offset=self.offset, n_read=self.n_read,
                     y=self.y[..., lo:hi], pred=None if self.pred is None else self.pred[lo:hi],
                     logq=None if self.logq is None else self.logq[:, lo:hi],
                     w=None if self.w is None else self.w[lo:hi], keep=keep,
                     rows_known=self.rows_known,
                     columns={k: v[..., lo:hi] for k, v in self.columns.items()},
                     by=None if self.by is None else (self.by[0][lo:hi], self.by[1]))


@dataclass
class Layout:
    """How the columns are read, fixed for the whole data set."""

    labels: bool = False  # the target holds class labels
    soft: bool = False  # the target holds soft labels
    classes: list[str] = field(default_factory=list)  # from the probability columns
    soft_order: list[int] | None = None  # soft columns permuted into the classes' order
    label_index: dict[str, int] | None = None  # label → class code, once known
    positive: str | None = None  # a text binary target: this label is 1, the other 0
    # a target of several label columns: the labels' names (the columns' suffixes); each
    # prediction column is then one label's P(y = 1) (or its logit)
    multilabel: list[str] = field(default_factory=list)


def grouped(sep: str) -> str:
    """A number written with `sep` between groups of three digits: 6,000 or -1,234.5
    (not 0,500: a leading 0 is a decimal comma's)."""
    return rf"\s*[-+]?[1-9]\d{{0,2}}(?:{re.escape(sep)}\d{{3}})+(?:\.\d*)?\s*"


def numeric(col, file: str, name: str, offset: int,
            thousands: str | None = None) -> np.ndarray:
    """A column as float64 (nulls NaN); text in it is an error naming the first row.
    With `thousands`, numbers grouped by it (6,000) are read without it (6000)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_boolean(col.type):
        col = col.cast(pa.int8())
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        if thousands:
            plain = pc.invert(pc.match_substring(col, thousands))
            ok = pc.or_(plain, pc.match_substring_regex(col, f"^{grouped(thousands)}$"))
            col = pc.if_else(pc.fill_null(ok, True),
                             pc.replace_substring(col, thousands, ""), col)
        try:
            col = pc.cast(col, pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            try:
                col = pc.cast(pc.utf8_trim_whitespace(col), pa.float64())
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                row, value = _first_non_number(col)
                raise InputError(f"text in a numeric column{_number_hint(value, thousands)}",
                                 file=file, column=name, row=offset + row,
                                 value=value) from None
    elif not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)
              or pa.types.is_decimal(col.type) or pa.types.is_null(col.type)):
        raise InputError(f"has type {col.type}, expected numbers", file=file, column=name)
    return _float64(col)


def _number_hint(value: str | None, thousands: str | None) -> str:
    """Why a number-like text is not read: a thousands separator, or a decimal comma."""
    value = value or ""
    if not thousands and re.fullmatch(grouped(","), value):
        return (" (it looks like a thousands separator: pass --thousands ',' to read "
                f"{value.strip()} as {value.strip().replace(',', '')}; a decimal comma must "
                "be converted: losscli reads '.' as the decimal mark)")
    if re.fullmatch(r"\s*[-+]?\d+,\d*\s*", value):
        return (" (it looks like a decimal comma: losscli reads numbers with '.' as the "
                "decimal mark)")
    if thousands and thousands in value:
        return f" (--thousands {thousands!r} reads groups of three digits only)"
    return ""


def _float64(col) -> np.ndarray:
    """A numeric column as float64, nulls as NaN, from the Arrow buffers directly:
    pyarrow's to_numpy() imports pandas (~0.5 s on every run)."""
    import pyarrow as pa

    col = col.cast(pa.float64(), safe=False)
    if col.null_count:
        col = col.fill_null(math.nan)
    chunks = col.chunks if hasattr(col, "chunks") else [col]
    parts = [np.frombuffer(c.buffers()[1], dtype=np.float64, count=len(c), offset=c.offset * 8)
             for c in chunks if len(c)]
    if not parts:
        return np.empty(0)
    return parts[0].copy() if len(parts) == 1 else np.concatenate(parts)


def _first_non_number(col) -> tuple[int, str]:
    """1-based row and text of the first value that is not a number (error path only)."""
    offset = 0
    chunks = col.chunks if hasattr(col, "chunks") else [col]
    for chunk in chunks:
        for i, v in enumerate(chunk.to_pylist()):
            if v is None:
                continue
            try:
                float(v)
            except ValueError:
                return offset + i + 1, v
        offset += len(chunk)
    return 0, ""


def is_text(arrow_type) -> bool:
    import pyarrow as pa

    return not (pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type)
                or pa.types.is_boolean(arrow_type) or pa.types.is_decimal(arrow_type))


def labels_of(col) -> tuple[np.ndarray, np.ndarray]:
    """A label column as text: (labels, missing mask). Integral numbers print as ints."""
    import pyarrow as pa

    missing = np.asarray(col.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    if pa.types.is_floating(col.type) or pa.types.is_integer(col.type):
        vals = _float64(col)
        missing |= ~np.isfinite(vals)
        ok = np.where(missing, 0.0, vals)
        # each value on its own (never per batch): a whole number prints as an integer
        whole = ok == np.floor(ok)
        text = ok.astype(str)
        if whole.any():
            text[whole] = ok[whole].astype(np.int64).astype(str)
        return text, missing
    if pa.types.is_boolean(col.type):
        col = col.cast(pa.int8())
    arr = col.cast(pa.string()).fill_null("").to_numpy(zero_copy_only=False)
    return np.asarray(arr, dtype=str), missing


def slice_keys(col, file: str, name: str, offset: int) -> tuple[np.ndarray, list]:
    """A `--by` column as (codes, values): values[codes[i]] is row i's value, an int
    (integer columns, and whole numbers in a float column) or text; a null (or NaN) is
    the value None, a slice of its own. A float that is not whole is an error."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    if pa.types.is_floating(col.type) or pa.types.is_decimal(col.type):
        x = _float64(col)
        bad = np.isfinite(x) & (x != np.floor(x))
        if bad.any():
            i = int(np.argmax(bad))
            raise InputError("--by needs a column of text or integers", file=file,
                             column=name, row=offset + i + 1, value=float(x[i]))
        ok = np.isfinite(x)
        col = pa.array(np.where(ok, x, 0.0).astype(np.int64), mask=~ok)
    elif not pa.types.is_integer(col.type):
        col = col.cast(pa.string())
    enc = pc.dictionary_encode(col)
    values = enc.dictionary.to_pylist()
    codes = enc.indices.fill_null(len(values)).to_numpy(zero_copy_only=False)
    if enc.null_count:
        values.append(None)
    return np.asarray(codes, dtype=np.int64), values


def layout(req: Request, cols: Columns, schema, path: str) -> Layout:
    """Decide once how the target and predictions are read (from the column types)."""
    prob_cols = cols.probs or cols.logits
    target_text = bool(cols.target) and is_text(schema.field(cols.target).type)
    out = Layout()
    if cols.labels:
        if req.positive_label is not None:
            raise UsageError("--positive-label names the positive class of one target "
                             "column; label columns hold 0/1 or soft labels")
        out.multilabel = class_names(cols.labels)
        out.classes = list(out.multilabel)
        return out
    if req.positive_label is not None:
        if cols.soft or not cols.target:
            raise UsageError("--positive-label names the positive class of a target "
                             "column, not of soft labels")
        if len(prob_cols) >= 2:
            raise UsageError(f"--positive-label makes a binary target; the prediction has "
                             f"{len(prob_cols)} class columns (give one probability column "
                             "with --pred/-p, or use the labels as classes)")
        out.positive = req.positive_label
        return out
    if target_text and (req.target_kind not in (None, LABEL_KIND)
                        or (cols.pred and not cols.soft)):
        # a numeric kind was asked for, or a point prediction of a numeric target: the
        # target is read as numbers, and its first text value is the error
        target_text = False
        out.labels = False
    else:
        out.labels = bool(cols.target) and not cols.soft and (
            target_text or len(prob_cols) >= 2 or req.target_kind == LABEL_KIND)
    out.soft = bool(cols.soft)
    out.classes = class_names(prob_cols) if len(prob_cols) >= 2 else []
    if cols.soft:
        out.classes = out.classes or (class_names(cols.soft) if len(cols.soft) >= 2 else [])
        if len(cols.soft) >= 2 and prob_cols:
            if len(prob_cols) != len(cols.soft):
                raise InputError(f"{len(cols.soft)} soft-target columns but {len(prob_cols)} "
                                 "prediction columns; give them in the same class order",
                                 file=path)
            soft_names = class_names(cols.soft)
            if soft_names != out.classes:
                # aligned by class name when both sides name the same classes
                if sorted(soft_names) != sorted(out.classes):
                    raise InputError(
                        f"the soft-target classes ({', '.join(soft_names)}) are not the "
                        f"prediction's ({', '.join(out.classes)})", file=path,
                        column=",".join(cols.soft))
                out.soft_order = [soft_names.index(c) for c in out.classes]
    return out


def label_index(uniques: list[str], first_rows: dict[str, int], classes: list[str],
                path: str, column: str) -> dict[str, int]:
    """Class code of every observed label: by name when the labels name the probability
    columns, by position for integer labels 0..K−1 when none names one (a partial match by
    name is an error, never a silent switch to position). Without probability columns
    the classes are the observed labels, sorted."""
    if not classes:
        return {u: k for k, u in enumerate(sorted(uniques))}
    index = {c: k for k, c in enumerate(classes)}
    if all(u in index for u in uniques):
        return index
    if not any(u in index for u in uniques) and all(
            u.lstrip("-").isdigit() and 0 <= int(u) < len(classes) for u in uniques):
        return {str(k): k for k in range(len(classes))}
    missing = min((u for u in uniques if u not in index), key=lambda u: first_rows[u])
    raise InputError(f"label has no probability column (classes: {', '.join(classes)})",
                     file=path, column=column, row=first_rows[missing], value=missing)


class Converter:
    """Arrow tables of the needed columns → Batches, under one Request and Layout."""

    def __init__(self, req: Request, cols: Columns, lay: Layout) -> None:
        self.req, self.cols, self.layout = req, cols, lay

    def convert(self, table, file: str, offset: int, file_offset: int = 0) -> Batch:
        """The batch of `table`, whose first row is the data set's 0-based row `offset`
        (`file_offset`: its file's first); an error names the row in both counts."""
        try:
            return self._convert(table, file, offset)
        except InputError as exc:
            raise exc.in_file(file_offset + 1) if file_offset else exc from None

    def _convert(self, table, file: str, offset: int) -> Batch:
        req, cols, lay = self.req, self.cols, self.layout
        n = table.num_rows
        bad = np.zeros(n, dtype=bool)  # rows with a missing or non-finite used value
        arrays: dict[str, np.ndarray] = {}
        negatives: dict[str, int] = {}
        if cols.target and not lay.labels and lay.positive is None \
                and is_text(table.column(cols.target).type):
            try:
                numeric(table.column(cols.target), file, cols.target, offset,
                        req.thousands)  # names the text
            except InputError as exc:
                if not cols.pred or exc.message != "text in a numeric column":
                    raise
                raise InputError(f"{exc.message} (for a binary target written as text, "
                                 "e.g. yes/no, name its positive value with "
                                 "--positive-label)", file=file, column=exc.column,
                                 row=exc.row, value=exc.value) from None
        for name in cols.all():
            if name == cols.target and lay.positive is not None:
                text, missing = labels_of(table.column(name))
                arrays[name] = np.where(missing, np.nan,
                                        (text == lay.positive).astype(np.float64))
                bad |= missing
                negatives = _other_labels(text, missing | (text == lay.positive), offset)
                continue
            if name == cols.target and lay.labels:
                text, missing = labels_of(table.column(name))
                arrays[name] = text
                bad |= missing
                continue
            a = numeric(table.column(name), file, name, offset, req.thousands)
            arrays[name] = a
            bad |= ~np.isfinite(a)
        batch = Batch(file=file, offset=offset, n_read=n, y=np.empty(0), negatives=negatives)
        missing = int(bad.sum())
        if missing:
            first = int(np.argmax(bad))
            which = next(c for c in cols.all() if _row_bad(arrays[c], first))
            if req.strict:
                raise InputError("missing or non-finite value (--strict)", file=file,
                                 column=which, row=offset + first + 1,
                                 value=str(arrays[which][first]))
            batch.dropped = missing
            batch.first_dropped = (offset + first + 1, which)
        if cols.weight:
            # a frequency weight of 0 is a row that is not there: it must not steer the
            # target kind or a support check (negative weights are an error below)
            zero = (arrays[cols.weight] == 0.0) & ~bad
            if zero.any():
                bad |= zero
                batch.zero_weight = int(zero.sum())
        if bad.any():
            keep = np.flatnonzero(~bad)
            batch.keep = keep
            arrays = {k: v[keep] for k, v in arrays.items()}
        if cols.weight:
            w = arrays[cols.weight]
            i = np.flatnonzero(w < 0)
            if i.size:
                raise InputError("negative frequency weight", file=file, column=cols.weight,
                                 row=batch.row(int(i[0])), value=float(w[i[0]]))
            batch.w = w
        if cols.soft:
            block = self._check_sums(np.stack([arrays[c] for c in cols.soft]), cols.soft,
                                     batch, "soft labels")
            if lay.soft_order is not None:
                block = block[lay.soft_order]
            batch.y = block[0] if block.shape[0] == 1 else block
        elif lay.multilabel:
            block = np.stack([arrays[c] for c in cols.labels])
            self._check_range(block, cols.labels, batch, "a label")
            batch.y = np.concatenate([1.0 - block, block])
        elif lay.labels:
            text = arrays[cols.target]
            if lay.label_index is None:
                batch.y = text  # classes not known yet (the first pass collects them)
            else:
                uniq, inverse = np.unique(text, return_inverse=True)
                lut = np.array([lay.label_index[str(u)] for u in uniq], dtype=np.int64)
                batch.y = lut[inverse] if uniq.size else np.zeros(0, dtype=np.int64)
        else:
            batch.y = arrays[cols.target]
        if cols.pred:
            batch.pred = self._scaled(arrays[cols.pred], batch)
        elif cols.probs:
            self._probs(batch, [arrays[c] for c in cols.probs], cols.probs)
        elif cols.logits:
            self._logits(batch, [arrays[c] for c in cols.logits])
        for name, group in cols.other_groups.items():  # the further predictions (§10.2)
            batch.columns[name] = (self._probs if cols.probs else self._logits)(
                batch, [arrays[c] for c in group], group, own=False)
        others = cols.other_preds
        for c in cols.inputs:
            batch.columns[c] = self._scaled(arrays[c], batch, c) if c in others else arrays[c]
        if cols.by is not None and cols.by in table.column_names:  # the scoring pass
            codes, values = slice_keys(table.column(cols.by), file, cols.by, offset)
            batch.by = (codes if batch.keep is None else codes[batch.keep], values)
        return batch

    def _scaled(self, x: np.ndarray, batch: Batch, column: str | None = None
                ) -> np.ndarray:
        """ŷ from the prediction column as --pred-scale reads it: x, exp x or 1/(1 + e⁻ˣ).
        A log-mean whose exponential overflows float64 is an error naming its row."""
        scale = self.req.pred_scale
        w = self.req.class_weight
        if w is not None:  # trained with the positive class weighted by w: q = wp/(wp + 1 − p)
            return self._unweighted(x, scale, w)
        if scale == "identity":
            return x
        if scale == "logit":
            from scipy import special

            return special.expit(x)
        with np.errstate(over="ignore"):
            out = np.exp(x)
        bad = np.isinf(out)
        if bad.any():
            i = int(np.argmax(bad))
            raise InputError("--pred-scale log: exp of this log-mean overflows float64 "
                             "(is the column the prediction itself? drop --pred-scale)",
                             file=batch.file, column=column or self.cols.pred,
                             row=batch.row(i),
                             value=float(x[i]))
        return out

    @staticmethod
    def _unweighted(x: np.ndarray, scale: str, w: float) -> np.ndarray:
        """P(y = 1) from a probability (or its logit) trained with the positive class
        weighted by w: the weighted optimum has odds w·p/(1 − p), so p = q/(w(1 − q) + q),
        i.e. logit p = logit q − ln w (SPEC §9.5)."""
        from scipy import special

        if scale == "logit":
            return special.expit(x - np.log(w))
        with np.errstate(divide="ignore", invalid="ignore"):
            return x / (w * (1.0 - x) + x)

    @staticmethod
    def _check_range(block: np.ndarray, names: list[str], batch: Batch, what: str) -> None:
        """Every value of a (K, n) block lies in [0, 1]: else an error naming the first
        row's first column outside."""
        bad = (block < 0.0) | (block > 1.0)
        if bad.any():
            i = int(np.argmax(bad.any(axis=0)))
            k = int(np.argmax(bad[:, i]))
            raise InputError(f"{what} outside [0, 1]", file=batch.file, column=names[k],
                             row=batch.row(i), value=float(block[k, i]))

    def _check_sums(self, block: np.ndarray, names: list[str], batch: Batch,
                    what: str) -> np.ndarray:
        """Rows of a class-major block must lie in [0, 1] and sum to 1 within 1e-6."""
        file = batch.file
        self._check_range(block, names, batch, what)
        if block.shape[0] == 1:
            return block
        sums = block.sum(axis=0)
        off = np.flatnonzero(np.abs(sums - 1.0) > SUM_TOLERANCE)
        if not off.size:
            return block
        # rows written to few decimals that some distribution rounds to: their sum
        # misses 1 by rounding alone; rescaled and counted (README: strict probability
        # tolerance)
        rounded, digits = rounds_from_distribution(block[:, off])
        beyond = off[~rounded]
        if beyond.size and not self.req.renormalize:
            i, d = int(beyond[0]), int(digits[np.argmax(~rounded)])
            allowed = (f"not by rounding to {plural(d, 'decimal')} alone"
                       if d else f"tolerance {SUM_TOLERANCE:g}")
            raise InputError(
                f"{what} sum to {sums[i]:.10g}, not 1 ({allowed}); "
                "fix them or pass --renormalize", file=file, column=",".join(names),
                row=batch.row(i))
        if (sums[off] <= 0).any():
            i = int(off[np.argmax(sums[off] <= 0)])
            raise InputError(f"{what} sum to 0, cannot renormalise", file=file,
                             column=",".join(names), row=batch.row(i))
        for why, rows in (("rounded", off[rounded]), ("renormalize", beyond)):
            if rows.size:
                batch.rescaled[(what, why)] = (int(rows.size), batch.row(int(rows[0])))
        if self.req.renormalize:
            return block / sums  # every row, as asked
        block[:, off] /= sums[off]
        return block

    def _probs(self, batch: Batch, arrays: list[np.ndarray], names: list[str],
               own: bool = True) -> np.ndarray:
        """Probabilities → clipped to [ε, 1 − ε] (counted) → class-major log-probabilities:
        the batch's `logq` (`own`), else returned (a further prediction's). One column, or
        one per label of several label columns: each is a P(y = 1) of its own (in [0, 1],
        no sum), held as [log(1 − p); log p]."""
        independent = len(arrays) == 1 or bool(self.layout.multilabel)
        block = np.stack(arrays)
        if independent:
            self._check_range(block, names, batch, "a probability")
            if self.req.class_weight is not None and self.layout.multilabel:
                block = self._unweighted(block, "identity", self.req.class_weight)
        else:
            block = self._check_sums(block, names, batch, "probabilities")
        eps = self.req.eps
        if eps > 0:
            clip = (block < eps) | (block > 1.0 - eps)
            clipped = int(clip.sum())
            if clipped:
                batch.clipped += clipped
                i = int(np.argmax(clip.any(axis=0)))  # the first row, then its first column
                k = int(np.argmax(clip[:, i]))
                if batch.first_clipped is None or batch.row(i) < batch.first_clipped[0]:
                    batch.first_clipped = (batch.row(i), names[k], float(block[k, i]))
                np.clip(block, eps, 1.0 - eps, out=block)
        with np.errstate(divide="ignore"):
            if independent:  # P(y = 1) per column: log1p keeps log(1 − p) exact
                if block.shape[0] == 1:
                    batch.pred = block[0]
                logq = np.concatenate([np.log1p(-block), np.log(block)])
            else:
                logq = np.log(block, out=block)
        if own:
            batch.logq = logq
        return logq

    def _logits(self, batch: Batch, arrays: list[np.ndarray], names: list[str] = (),
                own: bool = True) -> np.ndarray:
        from scipy import special

        if len(arrays) == 1 or self.layout.multilabel:
            # binary logits z (one per label): log σ(−z), log σ(z)
            z = np.stack(arrays)
            if self.req.class_weight is not None and self.layout.multilabel:
                z = z - np.log(self.req.class_weight)  # each label's weighted odds undone
            logq = np.concatenate([special.log_expit(-z), special.log_expit(z)])
        else:
            logq = special.log_softmax(np.stack(arrays), axis=0)
        if own:
            batch.logq = logq
        return logq


def probability_block(batch: Batch, column: str, eps: float) -> tuple[np.ndarray, int]:
    """A point prediction used as P(y = 1): checked in [0, 1] (an error
    naming the first row outside), clipped to [ε, 1 − ε] (counted), as the log-probability
    block [log(1 − p), log p]."""
    p = batch.pred
    bad = (p < 0.0) | (p > 1.0)
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError("a probability outside [0, 1]", file=batch.file,
                         column=column, row=batch.row(i), value=float(p[i]))
    clipped = 0
    if eps > 0:
        clip = (p < eps) | (p > 1.0 - eps)
        clipped = int(clip.sum())
        p = np.clip(p, eps, 1.0 - eps) if clipped else p
    with np.errstate(divide="ignore"):
        return np.stack([np.log1p(-p), np.log(p)]), clipped


def zero_probability(batch: Batch, logq: np.ndarray, prediction: list[str]
                     ) -> tuple[int, int, str, float] | None:
    """Rows where the observed class has probability exactly 0 (possible with --eps 0):
    (how many, 1-based global row of the first, its column, its value), or None."""
    if not np.isneginf(logq).any():
        return None
    y = batch.y
    if y.ndim == 2 or (y.dtype.kind == "f" and not np.all((y == 0.0) | (y == 1.0))):
        mass = y if y.ndim == 2 else np.stack([1.0 - y, y])
        if mass.shape != np.broadcast_shapes(mass.shape, logq.shape):
            return None
        hit2 = (mass > 0) & np.isneginf(logq)
        rows = hit2.any(axis=0)
        if not rows.any():
            return None
        i = int(np.argmax(rows))
        k = int(np.argmax(hit2[:, i]))
    else:
        codes = y.astype(np.int64)
        if codes.size == 0 or codes.max() >= logq.shape[0] or codes.min() < 0:
            return None
        rows = np.isneginf(np.take_along_axis(logq, codes[None, :], axis=0)[0])
        if not rows.any():
            return None
        i = int(np.argmax(rows))
        k = int(codes[i])
    per_class = len(prediction) == logq.shape[0]
    if per_class:
        column, value = prediction[k], float(np.exp(logq[k, i]))
    else:  # a column per label (or one) holding P(y = 1): logq is [log(1 − q); log q]
        L = len(prediction)
        column, value = prediction[k % L], float(np.exp(logq[L + k % L, i]))
    return int(rows.sum()), batch.row(i) if batch.rows_known else 0, column, value


OTHER_LABELS = 3  # --positive-label: the other labels kept (a binary target has one)


def _other_labels(text: np.ndarray, skip: np.ndarray, offset: int) -> dict[str, int]:
    """The first OTHER_LABELS distinct labels not skipped, by first row: {label: 1-based
    global row}."""
    idx = np.flatnonzero(~skip)
    if not idx.size:
        return {}
    uniq, first = np.unique(text[idx], return_index=True)
    order = np.argsort(first, kind="stable")[:OTHER_LABELS]
    return {str(uniq[k]): offset + int(idx[first[k]]) + 1 for k in order}


def _row_bad(a: np.ndarray, i: int) -> bool:
    v = a[i]
    return (isinstance(v, str) and v == "") or (not isinstance(v, str) and not np.isfinite(v))


__all__ = ["Batch", "Converter", "Layout", "UsageError", "label_index", "layout"]
