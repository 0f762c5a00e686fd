"""Reading the user's file: formats, column resolution, labels ↔ columns, dropped rows.

Only the columns a run needs are read (pyarrow's `include_columns` / `columns=`), and
every way the file can be wrong raises an InputError naming file, column, row and value.
Row numbers are 1-based data rows (the header is not counted).
"""

from __future__ import annotations

import csv
import fnmatch
import gzip
import io
import math
import os
import sys
from dataclasses import dataclass

import numpy as np

from losscli.dataset import Dataset
from losscli.errors import InputError, UsageError
from losscli.request import Request

TARGET_NAMES = ("y", "target", "label", "y_true", "actual")
PRED_NAMES = ("y_pred", "pred", "prediction", "yhat", "y_hat", "mu", "prob", "p")
PROB_PREFIXES = ("p_", "prob_", "proba_")
FORMATS = ("csv", "tsv", "parquet")
SUM_TOLERANCE = 1e-6


def detect_format(path: str, override: str | None) -> str:
    if override:
        return override
    name = path.lower()
    if path == "-":
        return "csv"
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith((".tsv", ".tsv.gz", ".tab")):
        return "tsv"
    if name.endswith((".csv", ".csv.gz", ".txt")):
        return "csv"
    raise UsageError(
        f"{path}: cannot tell the format from the extension; "
        f"use --input-format {{{','.join(FORMATS)}}}"
    )


# ------------------------------------------------------------------ raw access


@dataclass
class _Source:
    """An opened input: its column names and a reader of chosen columns."""

    path: str
    format: str
    names: list[str]
    data: bytes | None = None  # stdin's bytes

    def read(self, columns: list[str]):
        import pyarrow as pa

        try:
            if self.format == "parquet":
                import pyarrow.parquet as pq

                return pq.ParquetFile(self.path).read(columns=columns)
            import pyarrow.csv as pacsv

            src = pa.BufferReader(self.data) if self.data is not None else self.path
            return pacsv.read_csv(
                src,
                parse_options=pacsv.ParseOptions(delimiter=_delimiter(self.format)),
                convert_options=pacsv.ConvertOptions(
                    include_columns=columns, strings_can_be_null=True
                ),
            )
        except (pa.ArrowInvalid, pa.ArrowTypeError, OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot be read as {self.format.upper()}: "
                             f"{_first_line(str(exc))}", file=self.path) from None


def _delimiter(fmt: str) -> str:
    return "\t" if fmt == "tsv" else ","


def _first_line(text: str, limit: int = 200) -> str:
    """The first line of a library's message, printable (binary input can echo raw bytes)."""
    line = text.strip().splitlines()[0] if text.strip() else text
    line = "".join(c if c.isprintable() else repr(c)[1:-1] for c in line)
    return line if len(line) <= limit else line[:limit] + " …"


def check_file(path: str) -> None:
    """A missing or unreadable path is a data error (exit 1), whatever its extension."""
    if path == "-":
        return
    if not os.path.exists(path):
        raise InputError("no such file", file=path)
    if os.path.isdir(path):
        raise InputError("is a directory, not a data file", file=path)
    if not os.access(path, os.R_OK):
        raise InputError("permission denied", file=path)


def open_source(path: str, fmt: str) -> _Source:
    if path == "-":
        data = sys.stdin.buffer.read()
        return _Source(path, fmt, _csv_header(io.BytesIO(data), path, fmt), data)
    check_file(path)
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            names = list(pq.ParquetFile(path).schema_arrow.names)
        except (pa.ArrowInvalid, OSError) as exc:
            raise InputError(f"not a Parquet file ({_first_line(str(exc))})",
                             file=path) from None
        return _Source(path, fmt, names)
    opener = gzip.open if path.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as fh:
            names = _csv_header(fh, path, fmt)
    except (OSError, EOFError) as exc:
        raise InputError(f"cannot be read ({exc})", file=path) from None
    return _Source(path, fmt, names)


def _csv_header(fh, path: str, fmt: str) -> list[str]:
    raw = fh.readline()
    if not raw.strip():
        if raw.strip(b"\r\n") or fh.read(1):
            raise InputError("the first line is blank; it must be the header", file=path)
        raise InputError("the file is empty (no header line)", file=path)
    if b"\x00" in raw:
        raise InputError(f"is binary, not {fmt.upper()} text", file=path)
    try:
        line = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"is not UTF-8 {fmt.upper()} text", file=path) from None
    names = next(csv.reader([line], delimiter=_delimiter(fmt)))
    names = [n.strip() for n in names]
    return names


# ------------------------------------------------------------------ columns


def _match(patterns: tuple[str, ...], names: list[str], path: str, option: str) -> list[str]:
    """Columns named by a comma list of names or globs, in file order per pattern."""
    out: list[str] = []
    for pattern in (p.strip() for spec in patterns for p in spec.split(",")):
        if not pattern:
            continue
        if any(ch in pattern for ch in "*?["):
            hits = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
        else:
            hits = [n for n in names if n == pattern]
        if not hits:
            raise InputError(
                f"no column matches {option} {pattern!r}; columns are: "
                f"{', '.join(names)}{_delimiter_hint(names)}", file=path)
        out.extend(h for h in hits if h not in out)
    return out


def _delimiter_hint(names: list[str]) -> str:
    if len(names) == 1:
        if "\t" in names[0]:
            return " (the header splits on tabs: is this TSV? use --input-format tsv)"
        for sep in (";", "|"):
            if sep in names[0]:
                return (f" (the header splits on {sep!r}: the delimiter seems to be {sep!r}; "
                        "losscli reads ',' (CSV) or tab (TSV): convert the file)")
    return ""


def _auto(names: list[str], candidates: tuple[str, ...], what: str, option: str,
          path: str, exclude: set[str]) -> str | None:
    lower = {n.lower(): n for n in names if n not in exclude}
    hits = [lower[c] for c in candidates if c in lower]
    if len(hits) > 1:
        raise InputError(
            f"ambiguous {what} column: candidates {', '.join(hits)}; choose one with {option}",
            file=path)
    return hits[0] if hits else None


@dataclass
class Columns:
    target: str
    pred: str | None
    probs: list[str]
    logits: list[str]
    soft: list[str]
    weight: str | None

    def all(self) -> list[str]:
        cols = [self.target] if self.target else []
        cols += [self.pred] if self.pred else []
        cols += self.probs + self.logits + self.soft
        cols += [self.weight] if self.weight else []
        return list(dict.fromkeys(cols))


def resolve_columns(req: Request, names: list[str], path: str) -> Columns:
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise InputError(f"the header names column {dup!r} twice", file=path)
    for option, value in (("--target", req.target), ("--pred", req.pred),
                          ("--weight", req.weight)):
        if value is not None and not value.strip():
            raise UsageError(f"{option} needs a column name, not an empty string")
    for option, values in (("--probs", req.probs), ("--logits", req.logits),
                           ("--soft-target", req.soft_target)):
        if values and not any(v.strip(" ,") for v in values):
            raise UsageError(f"{option} needs column names or a glob, not an empty string")
    soft = _match(req.soft_target, names, path, "--soft-target")
    probs = _match(req.probs, names, path, "--probs")
    logits = _match(req.logits, names, path, "--logits")
    weight = _match((req.weight,), names, path, "--weight")[0] if req.weight else None
    pred = _match((req.pred,), names, path, "--pred")[0] if req.pred else None
    target = _match((req.target,), names, path, "--target")[0] if req.target else None
    taken = set(soft + probs + logits + ([weight] if weight else []))
    if target is None and not soft:
        target = _auto(names, TARGET_NAMES, "target", "--target/-t", path, taken)
        if target is None:
            raise InputError(
                f"no target column found (looked for {', '.join(TARGET_NAMES)}); "
                f"name it with --target/-t; columns are: {', '.join(names)}"
                f"{_delimiter_hint(names)}", file=path)
    if target:
        taken.add(target)
    explicit_pred = bool(req.pred or req.probs or req.logits)
    if not explicit_pred:
        pred = _auto(names, PRED_NAMES, "prediction", "--pred/-p", path, taken)
        auto_probs = [n for n in names if n.lower().startswith(PROB_PREFIXES)
                      and n not in taken]
        if pred and auto_probs:
            raise InputError(
                f"ambiguous prediction: a prediction column {pred!r} and probability columns "
                f"{', '.join(auto_probs)}; choose with --pred/-p or --probs", file=path)
        if auto_probs and not pred:
            prefixes = {next(p for p in PROB_PREFIXES if n.lower().startswith(p))
                        for n in auto_probs}
            if len(prefixes) > 1:
                raise InputError(
                    f"ambiguous probability columns {', '.join(auto_probs)}; "
                    "choose with --probs", file=path)
            probs = auto_probs
    if sum(bool(x) for x in (pred, probs, logits)) > 1:
        raise UsageError("give one kind of prediction: --pred, --probs or --logits")
    return Columns(target or "", pred, probs, logits, soft, weight)


def class_names(columns: list[str]) -> list[str]:
    """Class names from probability columns: the suffix after a shared prefix."""
    if len(columns) == 1:
        return [columns[0]]
    for prefix in PROB_PREFIXES + ("t_", "soft_", "logit_", "logits_", "z_"):
        if all(c.lower().startswith(prefix) for c in columns):
            return [c[len(prefix):] for c in columns]
    # a shared prefix counts only up to its last separator: score_cat, score_car → cat, car
    common = os.path.commonprefix(columns)
    cut = max(common.rfind(sep) for sep in "_-.:") + 1
    return [c[cut:] or c for c in columns]


# ------------------------------------------------------------------ values


def _numeric(table, name: str, path: str) -> np.ndarray:
    """A column as float64; text in it is an error naming the first offending row."""
    import pyarrow as pa
    import pyarrow.compute as pc

    col = table.column(name)
    if pa.types.is_boolean(col.type):
        col = col.cast(pa.int8())
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        try:
            col = pc.cast(pc.utf8_trim_whitespace(col), pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            row, value = _first_non_number(col)
            raise InputError("text in a numeric column", file=path, column=name,
                             row=row, value=value) from None
    elif not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)
              or pa.types.is_decimal(col.type) or pa.types.is_null(col.type)):
        raise InputError(f"has type {col.type}, expected numbers", file=path, column=name)
    return _float64(col)


def _float64(col) -> np.ndarray:
    """A numeric column as float64, nulls as NaN, read from the Arrow buffers directly:
    pyarrow's to_numpy() imports pandas (~0.5 s on every run)."""
    import pyarrow as pa

    col = col.cast(pa.float64(), safe=False)
    if col.null_count:
        col = col.fill_null(math.nan)
    parts = [np.frombuffer(c.buffers()[1], dtype=np.float64, count=len(c), offset=c.offset * 8)
             for c in col.chunks if len(c)]
    if not parts:
        return np.empty(0)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _first_non_number(col) -> tuple[int, str]:
    # only on the error path: scan chunk by chunk, then the failing chunk's values
    import pyarrow as pa
    import pyarrow.compute as pc

    offset = 0
    for chunk in col.chunks:
        try:
            pc.cast(pc.utf8_trim_whitespace(chunk), pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            for i, v in enumerate(chunk.to_pylist()):
                if v is None:
                    continue
                try:
                    float(v)
                except ValueError:
                    return offset + i + 1, v
        offset += len(chunk)
    return 0, ""


def _labels(table, name: str) -> tuple[np.ndarray, np.ndarray]:
    """A label column as text: (labels, missing mask). Integral floats print as ints."""
    import pyarrow as pa

    col = table.column(name)
    missing = np.asarray(col.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    if pa.types.is_floating(col.type):
        vals = np.asarray(col.to_numpy(), dtype=np.float64)
        missing |= ~np.isfinite(vals)
        ok = np.where(missing, 0.0, vals)
        if np.all(ok == np.floor(ok)):
            return ok.astype(np.int64).astype(str), missing
        return vals.astype(str), missing
    if pa.types.is_boolean(col.type):
        col = col.cast(pa.int8())
    arr = col.cast(pa.string()).fill_null("").to_numpy(zero_copy_only=False)
    return np.asarray(arr, dtype=str), missing


def load(req: Request) -> Dataset:
    """Read the columns `req` needs from its file and return the rows that are usable."""
    check_file(req.path)
    fmt = detect_format(req.path, req.input_format)
    src = open_source(req.path, fmt)
    cols = resolve_columns(req, src.names, req.path)
    table = src.read(cols.all())
    n = table.num_rows
    if n == 0:
        raise InputError("has a header but no data rows", file=req.path)
    path = req.path

    # which target representation: labels when text, or mapped onto class columns
    prob_cols = cols.probs or cols.logits
    import pyarrow as pa

    target_is_text = bool(cols.target) and not (
        pa.types.is_integer(table.column(cols.target).type)
        or pa.types.is_floating(table.column(cols.target).type)
        or pa.types.is_boolean(table.column(cols.target).type))
    if cols.target and target_is_text and (
            req.target_kind not in (None, "categorical") or (cols.pred and not cols.soft)):
        # a numeric kind was asked for, or a point prediction of a numeric target:
        # report the first text value
        _numeric(table, cols.target, path)
    labels = bool(cols.target) and not cols.soft and (
        target_is_text or len(prob_cols) >= 2 or req.target_kind == "categorical")

    bad = np.zeros(n, dtype=bool)  # rows with a missing or non-finite used value
    arrays: dict[str, np.ndarray] = {}
    for name in cols.all():
        if name == cols.target and labels:
            text, missing = _labels(table, name)
            arrays[name] = text
            bad |= missing
            continue
        a = _numeric(table, name, path)
        arrays[name] = a
        bad |= ~np.isfinite(a)
    del table

    warnings: list[str] = []
    missing = int(bad.sum())
    if missing:
        first = int(np.argmax(bad))
        which = next(c for c in cols.all() if _row_bad(arrays[c], first))
        if req.strict:
            raise InputError("missing or non-finite value (--strict)", file=path,
                             column=which, row=first + 1, value=str(arrays[which][first]))
        warnings.append(f"{missing} of {n} rows dropped: missing or non-finite values "
                        f"(first: row {first + 1}, column {which!r})")
        if bad.all():
            raise InputError(f"no rows left: all {n} rows have a missing or non-finite value",
                             file=path)
    if cols.weight:
        # a frequency weight of 0 is a row that is not there: it must not steer the
        # target kind or a support check (negative weights are an error further down)
        zero = (arrays[cols.weight] == 0.0) & ~bad
        if zero.any() and not (zero | bad).all():
            bad |= zero
            warnings.append(f"{int(zero.sum())} rows with weight 0 ignored")
    dropped = int(bad.sum())
    if dropped:
        keep = ~bad
        arrays = {k: v[keep] for k, v in arrays.items()}

    ds = Dataset(path=path, format=fmt, rows_read=n, rows_dropped=dropped,
                 target=cols.target or ",".join(cols.soft), y=np.empty(0),
                 weight=cols.weight, warnings=warnings,
                 kept_rows=np.flatnonzero(~bad) if dropped else None)
    if cols.weight:
        w = arrays[cols.weight]
        i = np.flatnonzero(w < 0)
        if i.size:
            raise InputError("negative frequency weight", file=path, column=cols.weight,
                             row=_orig_row(bad, int(i[0])), value=float(w[i[0]]))
        if not w.sum() > 0:
            raise InputError("the weights sum to 0", file=path, column=cols.weight)
        ds.w = w

    classes = class_names(prob_cols) if len(prob_cols) >= 2 else []
    if cols.soft:
        _load_soft(ds, cols, arrays, req, bad)
        classes = classes or (class_names(cols.soft) if len(cols.soft) >= 2 else [])
    elif labels:
        _load_labels(ds, cols, arrays, classes, bad)
    else:
        ds.y = arrays[cols.target]
    if ds.soft and len(cols.soft) >= 2:
        ds.classes = classes
        if prob_cols and len(prob_cols) != len(cols.soft):
            raise InputError(f"{len(cols.soft)} soft-target columns but {len(prob_cols)} "
                             "prediction columns; give them in the same class order",
                             file=path)
        soft_names = class_names(cols.soft)
        if prob_cols and soft_names != classes:
            # align by class name when both sides name the same classes
            if sorted(soft_names) != sorted(classes):
                raise InputError(
                    f"the soft-target classes ({', '.join(soft_names)}) are not the "
                    f"prediction's ({', '.join(classes)})", file=path,
                    column=",".join(cols.soft))
            ds.y = ds.y[[soft_names.index(c) for c in classes]]

    if cols.pred:
        ds.prediction = [cols.pred]
        ds.pred = arrays[cols.pred]
    elif cols.probs:
        ds.prediction = cols.probs
        _load_probs(ds, [arrays[c] for c in cols.probs], cols.probs, req, bad)
    elif cols.logits:
        ds.prediction = cols.logits
        _load_logits(ds, [arrays[c] for c in cols.logits])
    check_zero_probability(ds)
    return ds


def check_zero_probability(ds: Dataset) -> None:
    """A probability of exactly 0 on an observed class (possible with --eps 0) makes the
    log-loss infinite: an error naming the first such row, not an infinite result."""
    logq = ds.logq
    if logq is None or not np.isneginf(logq).any():
        return
    y = ds.y
    if ds.soft:  # soft labels: any class with mass > 0 and probability 0
        mass = y if y.ndim == 2 else np.stack([1.0 - y, y])
        if mass.shape != logq.shape:
            return
        hit = (mass > 0) & np.isneginf(logq)
        k, i = np.unravel_index(int(np.argmax(hit)), hit.shape) if hit.any() else (0, -1)
    else:
        mapped = ds.labels and len(ds.prediction) == logq.shape[0]  # labels ↔ columns
        if not (mapped or (not ds.labels and np.isin(y, (0.0, 1.0)).all())):
            return  # the family reports targets it cannot take
        codes = y.astype(np.int64)
        if codes.size == 0 or codes.max() >= logq.shape[0]:
            return
        hit = np.isneginf(np.take_along_axis(logq, codes[None, :], axis=0)[0])
        i = int(np.argmax(hit)) if hit.any() else -1
        k = int(codes[i]) if i >= 0 else 0
    if i < 0:
        return
    per_class = len(ds.prediction) == logq.shape[0]  # else one column holding P(y = 1)
    column = ds.prediction[k] if per_class else ds.prediction[0]
    value = float(np.exp(logq[k, i] if per_class else logq[1, i]))
    raise InputError(
        "probability 0 for the observed class: the log-loss is infinite; "
        "use --eps > 0 to clip probabilities", file=ds.path, column=column,
        row=ds.file_row(int(i)), value=value)


def _row_bad(a: np.ndarray, i: int) -> bool:
    v = a[i]
    return (isinstance(v, str) and v == "") or (not isinstance(v, str) and not np.isfinite(v))


def _orig_row(bad: np.ndarray, i_kept: int) -> int:
    """1-based file row of the i-th kept row."""
    if not bad.any():
        return i_kept + 1
    return int(np.flatnonzero(~bad)[i_kept]) + 1


def _load_labels(ds: Dataset, cols: Columns, arrays: dict, classes: list[str],
                 bad: np.ndarray) -> None:
    text = arrays[cols.target]
    ds.labels = True
    uniq, codes = np.unique(text, return_inverse=True)
    if not classes:  # marginal mode: the observed labels, sorted
        ds.classes = [str(u) for u in uniq]
        ds.y = codes.astype(np.int64)
        return
    index = {c: k for k, c in enumerate(classes)}
    if not all(str(u) in index for u in uniq):
        # integer labels 0..K-1 map to the columns by position, when no label names one
        # (a partial match by name is an error, never a silent switch to position)
        if not any(str(u) in index for u in uniq) and all(
                u.lstrip("-").isdigit() and 0 <= int(u) < len(classes) for u in uniq):
            index = {str(k): k for k in range(len(classes))}
        else:
            missing = next(str(u) for u in uniq if str(u) not in index)
            row = _orig_row(bad, int(np.argmax(text == missing)))
            raise InputError(
                f"label has no probability column (classes: {', '.join(classes)})",
                file=ds.path, column=cols.target, row=row, value=missing)
    lut = np.array([index[str(u)] for u in uniq], dtype=np.int64)
    ds.classes = classes
    ds.y = lut[codes]


def _check_sums(block: np.ndarray, names: list[str], req: Request, bad: np.ndarray,
                what: str) -> np.ndarray:
    """Rows of a class-major block must lie in [0, 1] and sum to 1 within 1e-6."""
    path = req.path
    low = block < 0.0
    high = block > 1.0
    if low.any() or high.any():
        k, i = np.unravel_index(int(np.argmax(low | high)), block.shape)
        raise InputError(f"{what} outside [0, 1]", file=path, column=names[k],
                         row=_orig_row(bad, int(i)), value=float(block[k, i]))
    if block.shape[0] == 1:
        return block
    sums = block.sum(axis=0)
    off = np.abs(sums - 1.0) > SUM_TOLERANCE
    if off.any():
        if req.renormalize:
            if not (sums > 0).all():
                i = int(np.argmax(~(sums > 0)))
                raise InputError(f"{what} sum to 0, cannot renormalise", file=path,
                                 column=",".join(names), row=_orig_row(bad, i))
            return block / sums
        i = int(np.argmax(off))
        raise InputError(
            f"{what} sum to {sums[i]:.10g}, not 1 (tolerance {SUM_TOLERANCE:g}); "
            "fix them or pass --renormalize", file=path, column=",".join(names),
            row=_orig_row(bad, i))
    return block


def _load_probs(ds: Dataset, arrays: list[np.ndarray], names: list[str], req: Request,
                bad: np.ndarray) -> None:
    """Probabilities → clipped to [ε, 1 − ε] (counted) → class-major log-probabilities."""
    block = _check_sums(np.stack(arrays), names, req, bad, "probabilities")
    eps = req.eps
    if eps > 0:
        clip = (block < eps) | (block > 1.0 - eps)
        ds.clipped = int(clip.sum())
        if ds.clipped:
            np.clip(block, eps, 1.0 - eps, out=block)
    with np.errstate(divide="ignore"):
        if block.shape[0] == 1:  # one column, P(y = 1): log1p keeps log(1 − p) exact
            p = block[0]
            ds.pred = p
            ds.logq = np.stack([np.log1p(-p), np.log(p)])
        else:
            ds.logq = np.log(block, out=block)


def _load_logits(ds: Dataset, arrays: list[np.ndarray]) -> None:
    from scipy import special

    if len(arrays) == 1:  # a binary logit z: log σ(−z), log σ(z)
        z = arrays[0]
        ds.logq = np.stack([special.log_expit(-z), special.log_expit(z)])
    else:
        ds.logq = special.log_softmax(np.stack(arrays), axis=0)


def _load_soft(ds: Dataset, cols: Columns, arrays: dict, req: Request,
               bad: np.ndarray) -> None:
    block = _check_sums(np.stack([arrays[c] for c in cols.soft]), cols.soft, req, bad,
                        "soft labels")
    ds.soft = True
    ds.y = block[0] if block.shape[0] == 1 else block
