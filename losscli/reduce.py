"""Reductions over batches: small states with `update`, an associative `merge` and a
finished value (SPEC §5).

Every statistic losscli reports is built from these. A state holds fixed-size plain data
(numpy vectors, a few floats), so it pickles cheaply and an engine may update states on
any worker and merge them in any grouping. Sums are compensated (Neumaier) across
batches and second moments are merged by Chan's formula, so a result does not depend on
the batch size, order or partitioning beyond rounding (≈1e-15 relative).
"""

from __future__ import annotations

import math

import numpy as np


class Sum:
    """A vector of weighted sums, compensated across batches: value = s + c."""

    __slots__ = ("s", "c")

    def __init__(self, size: int = 1) -> None:
        self.s = np.zeros(size)
        self.c = np.zeros(size)

    def add(self, x) -> None:
        """Add one batch's partial sums (a float per component)."""
        x = np.asarray(x, dtype=np.float64)
        t = self.s + x
        with np.errstate(invalid="ignore"):
            self.c += np.where(np.abs(self.s) >= np.abs(x), (self.s - t) + x, (x - t) + self.s)
        self.s = t

    def merge(self, other: Sum) -> Sum:
        self.add(other.s)
        # an infinite partial sum leaves c NaN (inf − inf): it has no compensation to add,
        # and adding the NaN would turn an overflowed (infinite) total into NaN
        self.add(np.where(np.isfinite(other.s), other.c, 0.0))
        return self

    @property
    def value(self) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            # an infinite sum makes c NaN (inf − inf): the sum itself is the answer there
            return np.where(np.isfinite(self.s), self.s + self.c, self.s)


class Joint:
    """Several states reduced in one pass: each batch updates all, merges pair them."""

    __slots__ = ("states",)

    def __init__(self, *states) -> None:
        self.states = states

    def update(self, b) -> Joint:
        for st in self.states:
            st.update(b)
        return self

    def merge(self, other: Joint) -> Joint:
        for a, c in zip(self.states, other.states, strict=True):
            a.merge(c)
        return self


def wsum(x: np.ndarray, w: np.ndarray | None, axis: int = -1):
    """Σ w x over the last axis (Σ x without weights): one batch's partial sum. Each row
    of a 2-D x by its own dot product, so that a variable's sum does not depend on how
    many others share its block (a matrix product rounds by its shape)."""
    if w is None:
        return np.sum(x, axis=axis)
    if x.ndim == 1:
        return float(np.dot(x, w))
    rows = x.reshape(-1, x.shape[-1])
    out = np.fromiter((np.dot(row, w) for row in rows), dtype=np.float64, count=rows.shape[0])
    return out.reshape(x.shape[:-1])


class Moments:
    """Weighted count W, means and centred second moments M2 = Σ w (x − x̄)² of k
    variables, merged by Chan, Golub and LeVeque's pairwise formula (no cancellation
    when the mean is large against the spread)."""

    __slots__ = ("W", "mean", "m2")

    def __init__(self, k: int = 1) -> None:
        self.W = 0.0
        self.mean = np.zeros(k)
        self.m2 = np.zeros(k)

    def update(self, x: np.ndarray, w: np.ndarray | None) -> None:
        """x: (k, n) values of one batch (or (n,) for k = 1)."""
        x = np.atleast_2d(x)
        n = x.shape[1]
        if n == 0:
            return
        W = float(n) if w is None else float(np.sum(w))
        if not W > 0.0:
            return
        mean = wsum(x, w) / W
        d = x - mean[:, None]
        d *= d
        part = Moments(x.shape[0])
        part.W, part.mean, part.m2 = W, mean, wsum(d, w)
        self.merge(part)

    def merge(self, other: Moments) -> Moments:
        if other.W == 0.0:
            return self
        if self.W == 0.0:
            self.W, self.mean, self.m2 = other.W, other.mean.copy(), other.m2.copy()
            return self
        W = self.W + other.W
        delta = other.mean - self.mean
        self.mean = self.mean + delta * (other.W / W)
        self.m2 = self.m2 + other.m2 + delta * delta * (self.W * other.W / W)
        self.W = W
        return self

    @property
    def var(self) -> np.ndarray:
        """The weighted population variance M2 / W."""
        return self.m2 / self.W if self.W > 0 else np.full_like(self.m2, math.nan)


class First:
    """The first row (by global row number) where something happened, with its value and
    a label (e.g. the column): merges keep the smaller row."""

    __slots__ = ("row", "value", "label")

    def __init__(self) -> None:
        self.row: int | None = None
        self.value = None
        self.label: str | None = None

    def offer(self, row: int, value=None, label: str | None = None) -> None:
        if self.row is None or row < self.row:
            self.row, self.value, self.label = int(row), value, label

    def merge(self, other: First) -> First:
        if other.row is not None:
            self.offer(other.row, other.value, other.label)
        return self


class Traits:
    """What some values hold, as flags merged by "or": any value at all, a negative one, one
    ≤ 0, one > 1, one that is not a whole number. Enough to tell their target kind."""

    __slots__ = ("any", "negative", "nonpositive", "above_one", "fractional")

    def __init__(self) -> None:
        self.any = self.negative = self.nonpositive = self.above_one = \
            self.fractional = False

    def add(self, any_: bool, negative: bool, nonpositive: bool, above_one: bool,
            fractional: bool) -> None:
        self.any |= any_
        self.negative |= negative
        self.nonpositive |= nonpositive
        self.above_one |= above_one
        self.fractional |= fractional

    def merge(self, other: Traits) -> Traits:
        self.add(other.any, other.negative, other.nonpositive, other.above_one,
                 other.fractional)
        return self


class Extremes:
    """For each of k variables, the largest and the smallest value seen, each with its
    row's label (row number or target value) and weight; ties keep the earlier label."""

    __slots__ = ("hi", "lo")

    def __init__(self, k: int) -> None:
        # per variable: [value, label, weight]
        self.hi = np.tile(np.array([-np.inf, np.inf, 0.0]), (k, 1))
        self.lo = np.tile(np.array([np.inf, np.inf, 0.0]), (k, 1))

    def update(self, x: np.ndarray, labels: np.ndarray, w: np.ndarray | None) -> None:
        """x: (k, n) values; labels: (n,) row numbers or values; w: (n,) weights or None."""
        if x.shape[-1] == 0:
            return
        idx = np.arange(x.shape[0])
        for side, pick in ((self.hi, np.argmax), (self.lo, np.argmin)):
            j = pick(x, axis=1)
            part = np.empty_like(side)
            part[:, 0] = x[idx, j]
            part[:, 1] = labels[j]
            part[:, 2] = 1.0 if w is None else w[j]
            self._take(side, part, side is self.hi)

    @staticmethod
    def _take(side: np.ndarray, part: np.ndarray, high: bool) -> None:
        better = part[:, 0] > side[:, 0] if high else part[:, 0] < side[:, 0]
        tie = (part[:, 0] == side[:, 0]) & (part[:, 1] < side[:, 1])
        take = better | tie
        side[take] = part[take]

    def merge(self, other: Extremes) -> Extremes:
        self._take(self.hi, other.hi, True)
        self._take(self.lo, other.lo, False)
        return self


class ValueCounts:
    """Distinct values of an integer-valued column and their total weights.

    Dense (a weighted bincount from `lo`) while the range is small, sparse (sorted values
    and weights) beyond; abandoned (`ok` False) when a value is not a whole number or
    the distinct values pass `limit`, because then they are no longer a small summary.
    """

    __slots__ = ("ok", "lo", "dense", "values", "weights", "limit")

    DENSE_RANGE = 1 << 22

    def __init__(self, limit: int = 4_000_000) -> None:
        self.ok = True
        self.lo = 0
        self.dense: np.ndarray | None = None
        self.values = np.zeros(0)
        self.weights = np.zeros(0)
        self.limit = limit

    def update(self, y: np.ndarray, w: np.ndarray | None, integral: bool) -> None:
        if not self.ok:
            return
        if not integral:
            self._abandon()
            return
        if y.size == 0:
            return
        lo, hi = float(y.min()), float(y.max())
        if hi - lo < self.DENSE_RANGE and abs(lo) < 2 ** 52 and abs(hi) < 2 ** 52:
            counts = np.bincount((y - lo).astype(np.int64), weights=w).astype(np.float64)
            self._merge_dense(int(lo), counts)
        else:
            values, inverse = np.unique(y, return_inverse=True)
            self._merge_sparse(values, np.bincount(inverse, weights=w).astype(np.float64))

    def _abandon(self) -> None:
        self.ok = False
        self.dense = None
        self.values = self.weights = np.zeros(0)

    def _merge_dense(self, lo: int, counts: np.ndarray) -> None:
        if self.dense is None:
            if self.values.size:  # already sparse: stay sparse
                keep = np.flatnonzero(counts)
                self._merge_sparse(keep.astype(np.float64) + lo, counts[keep])
                return
            self.lo, self.dense = lo, counts
            return
        new_lo = min(self.lo, lo)
        new_hi = max(self.lo + self.dense.size, lo + counts.size)
        if new_hi - new_lo >= self.DENSE_RANGE:
            self._to_sparse()
            keep = np.flatnonzero(counts)
            self._merge_sparse(keep.astype(np.float64) + lo, counts[keep])
            return
        out = np.zeros(new_hi - new_lo)
        out[self.lo - new_lo:self.lo - new_lo + self.dense.size] += self.dense
        out[lo - new_lo:lo - new_lo + counts.size] += counts
        self.lo, self.dense = new_lo, out

    def _to_sparse(self) -> None:
        if self.dense is not None:
            keep = np.flatnonzero(self.dense)
            self.values = keep.astype(np.float64) + self.lo
            self.weights = self.dense[keep]
            self.dense = None

    def _merge_sparse(self, values: np.ndarray, weights: np.ndarray) -> None:
        self._to_sparse()
        allv = np.concatenate([self.values, values])
        allw = np.concatenate([self.weights, weights])
        uniq, inverse = np.unique(allv, return_inverse=True)
        self.values, self.weights = uniq, np.bincount(inverse, weights=allw)
        if self.values.size > self.limit:
            self._abandon()

    def merge(self, other: ValueCounts) -> ValueCounts:
        if not (self.ok and other.ok):
            self._abandon()
            return self
        if other.dense is not None:
            self._merge_dense(other.lo, other.dense)
        elif other.values.size:
            self._merge_sparse(other.values, other.weights)
        return self

    def result(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(values, weights) of the values with weight > 0, sorted; None if abandoned."""
        if not self.ok:
            return None
        if self.dense is not None:
            keep = np.flatnonzero(self.dense)
            return keep.astype(np.float64) + self.lo, self.dense[keep]
        keep = self.weights > 0
        return self.values[keep], self.weights[keep]


# ------------------------------------------------------------------ the seeded sample

_MASK = (1 << 64) - 1


def row_keys(rows: np.ndarray, seed: int) -> np.ndarray:
    """A pseudo-random uint64 key per global row number (splitmix64 of row + seed).

    The key depends on the row alone, never on the batch it arrived in, so the sample
    of the rows with the smallest keys is the same however the data are split."""
    with np.errstate(over="ignore"):
        z = rows.astype(np.uint64) + np.uint64((seed * 0x9E3779B97F4A7C15) & _MASK)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def smallest(keys: np.ndarray, size: int) -> np.ndarray:
    """Positions of the `size` smallest keys, in no particular order (every position when
    there are at most `size`). Keys of distinct rows are distinct (splitmix64 is a
    bijection), so the set is well defined."""
    if keys.size <= size:
        return np.arange(keys.size)
    return np.argpartition(keys, size - 1)[:size]


def seeded_rows(n: int, size: int, seed: int) -> np.ndarray:
    """The seeded sample of rows 0 … n − 1 held in memory: the positions, in row order, of
    the `size` rows whose `row_keys` are smallest — the rows `Sample(size, seed)` keeps of
    them, however they are batched."""
    return np.sort(smallest(row_keys(np.arange(n), seed), size))


class Sample:
    """A seeded sample of at most `size` rows: the rows whose keys are smallest.

    Mergeable (the smallest keys of a union are the smallest of the parts' smallest),
    independent of batching, and every row when there are at most `size` of them.
    `columns` are per-row arrays (y, pred, w, …); `rows` their global row numbers.
    """

    __slots__ = ("size", "seed", "cutoff", "keys", "rows", "columns", "seen")

    def __init__(self, size: int | None, seed: int, cutoff: int | None = None) -> None:
        self.size = size
        self.seed = seed
        # rows whose key is at or above the cutoff never enter: with the total rows known,
        # a cutoff that keeps ~1.5 × size of them bounds every partial state's sample, and
        # the result is the same as long as `size` rows fall below it (`exact` says so)
        self.cutoff = None if cutoff is None else np.uint64(cutoff)
        self.keys = np.zeros(0, dtype=np.uint64)
        self.rows = np.zeros(0, dtype=np.int64)
        self.columns: dict[str, np.ndarray] = {}
        self.seen = 0

    def update(self, rows: np.ndarray, columns: dict[str, np.ndarray]) -> None:
        self.seen += rows.size
        keys = row_keys(rows, self.seed)
        if self.cutoff is not None:
            below = keys < self.cutoff
            if not below.all():
                keys, rows = keys[below], rows[below]
                columns = {k: v[..., below] for k, v in columns.items()}
        if self.size is not None and self.keys.size >= self.size:
            # once full, only rows below the current largest kept key can enter
            take = keys < self.keys.max()
            if not take.any():
                return
            keys, rows = keys[take], rows[take]
            columns = {k: v[..., take] for k, v in columns.items()}
        other = Sample(self.size, self.seed)
        other.keys, other.rows, other.columns = keys, rows, columns
        self._combine(other)

    def _combine(self, other: Sample) -> None:
        if not self.columns:
            self.columns = {k: np.zeros(v.shape[:-1] + (0,), v.dtype)
                            for k, v in other.columns.items()}
        keys = np.concatenate([self.keys, other.keys])
        rows = np.concatenate([self.rows, other.rows])
        cols = {k: np.concatenate([self.columns[k], other.columns[k]], axis=-1)
                for k in self.columns}
        if self.size is not None and keys.size > self.size:
            keep = smallest(keys, self.size)
            keys, rows = keys[keep], rows[keep]
            cols = {k: v[..., keep] for k, v in cols.items()}
        self.keys, self.rows, self.columns = keys, rows, cols

    def merge(self, other: Sample) -> Sample:
        self.seen += other.seen
        if other.keys.size:
            self._combine(other)
        return self

    def finish(self) -> dict[str, np.ndarray]:
        """The sampled columns in row order (so fits see them as the file has them)."""
        order = np.argsort(self.rows, kind="stable")
        out = {k: v[..., order] for k, v in self.columns.items()}
        out["rows"] = self.rows[order]
        return out

    @property
    def complete(self) -> bool:
        """Whether the sample holds every row seen."""
        return self.keys.size == self.seen

    @property
    def exact(self) -> bool:
        """Whether the cutoff lost nothing: the sample is full, or holds every row."""
        return self.cutoff is None or self.keys.size == self.size or self.complete

    @staticmethod
    def cutoff_for(size: int | None, total: int | None) -> int | None:
        """A key cutoff below which about 1.5 × `size` of `total` rows fall (None when
        that is every row, or the total is not known)."""
        if size is None or not total:
            return None
        q = (1.5 * size + 10.0 * size ** 0.5 + 1000.0) / total
        return None if q >= 1.0 else int(q * 2.0 ** 64)
