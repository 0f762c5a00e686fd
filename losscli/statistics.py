"""The statistics of the last pass (SPEC §5), one mergeable state each: `update` adds a
block of rows, `merge` adds another state of the same statistic, `finalize` gives what
is reported.

Each state is held per model (or per point prediction, or per pair of models) by the
last pass, so that a reader asks a model's state for its values and never knows how
another module lays out its sums. Every sum is compensated across blocks (`reduce.Sum`),
the moments of the differences merged by Chan's formula (`reduce.Moments`).
"""

from __future__ import annotations

import math

import numpy as np

from losscli.reduce import Extremes, Moments, Sum, wsum

ECE_BINS = 15


class LogLikelihood:
    """Σ w log q(y) of one model over the rows."""

    __slots__ = ("total",)

    def __init__(self) -> None:
        self.total = Sum(1)

    def update(self, ll: np.ndarray, w: np.ndarray | None) -> float:
        """Add the per-row log-likelihoods of a block; returns the block's Σ w log q."""
        part = wsum(ll, w)
        self.total.add(part)
        return part

    def add(self, part: float) -> None:
        """Add a block's Σ w log q already summed (0 for a block the model skips)."""
        self.total.add(part)

    def merge(self, other: LogLikelihood) -> LogLikelihood:
        self.total.merge(other.total)
        return self

    def finalize(self) -> float:
        """Σ w log q over every row (−nll)."""
        return float(self.total.value[0])


class Baseline(LogLikelihood):
    """Σ w log q(y) of a model's baseline (its family fitted to the target alone)."""

    __slots__ = ()


class ClassifierMetrics:
    """Σw correct, Σw Brier, and per ECE bin Σw, Σw correct, Σw confidence of one model
    that predicts class probabilities.

    Soft labels are scored as the nll scores them: a row with label t (one-hot for a
    hard label) counts as K rows, one of each class k weighted t_k, and each metric is
    the hard-label metric of those rows. With q the predicted probabilities and
    k̂ = argmax q (the first on ties): correct = t_k̂ (the expected accuracy);
    Brier = Σ_k (q_k − t_k)² + 1 − Σ_k t_k² (binary: half that, (q − t)² + t(1 − t), as
    scikit-learn's brier_score_loss); ECE = Σ_bins |Σw correct − Σw q_k̂| / Σw over 15
    equal-width bins (i/15, (i+1)/15] of the confidence q_k̂, so a prediction equal to
    its soft label has ECE 0. On hard labels these are the usual metrics."""

    __slots__ = ("sums", "spread")

    def __init__(self) -> None:
        self.sums = Sum(2 + 3 * ECE_BINS)
        self.spread = Spread(("accuracy", "brier"))  # the per-row terms' moments (se)

    def update(self, y: np.ndarray, logq: np.ndarray, w: np.ndarray | None,
               binary: bool, labels: int = 0) -> None:
        """Add a block: labels y (class indices, soft labels (K, n), or binary targets
        with `binary`), log-probabilities logq (K, n) or (K, 1). `labels` = L > 0: y and
        logq are the label pairs (2L, n) of L independent labels; each row is then scored
        as the mean of its L binary rows (accuracy = 1 − the Hamming loss, Brier the mean
        of the labels' binary Brier scores, ECE over every label's probability)."""
        if labels:
            self._update_labels(y, logq, w, labels)
            return
        self._update(y, logq, w, binary)

    def _update_labels(self, y: np.ndarray, logq: np.ndarray, w: np.ndarray | None,
                       L: int) -> None:
        n = y.shape[-1]
        logq = np.broadcast_to(logq, (2 * L, n))
        yb = y[L:].reshape(-1)  # label-major: label l's rows are l·n … (l + 1)·n − 1
        lq = np.stack([logq[:L].reshape(-1), logq[L:].reshape(-1)])
        wb = np.tile(np.ones(n) if w is None else w, L) / L
        correct, brier_rows, out = self._terms(yb, lq, wb, True)
        # the L binary rows of a row, averaged: its share of labels right, its mean Brier
        correct = correct.reshape(L, n).mean(axis=0)
        brier_rows = brier_rows.reshape(L, n).mean(axis=0)
        out[0] = wsum(correct, w)
        out[1] = wsum(brier_rows, w)
        self.sums.add(out)
        self.spread.update(np.stack([correct, brier_rows]), w)

    def _update(self, y: np.ndarray, logq: np.ndarray, w: np.ndarray | None,
                binary: bool) -> None:
        correct, brier_rows, out = self._terms(y, logq, w, binary)
        self.sums.add(out)
        self.spread.update(np.stack([correct, brier_rows]), w)

    def _terms(self, y: np.ndarray, logq: np.ndarray, w: np.ndarray | None,
               binary: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per row: correct and Brier terms; and the block's sums (Σw correct, Σw Brier,
        the ECE bins)."""
        n = y.shape[-1]
        q = np.exp(np.broadcast_to(logq, (logq.shape[0], n)))
        if binary:
            target = np.stack([1.0 - y, y])
        elif y.ndim == 2:
            target = y
        else:
            target = np.zeros_like(q)
            target[y.astype(np.int64), np.arange(n)] = 1.0
        # binary: p ≥ ½ predicts 1 (SPEC §10.1); else the first class of largest q
        top = (q[1] >= q[0]).astype(np.int64) if binary else np.argmax(q, axis=0)
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
        return correct, brier_rows, out

    def merge(self, other: ClassifierMetrics) -> ClassifierMetrics:
        self.sums.merge(other.sums)
        self.spread.merge(other.spread)
        return self

    def finalize(self, W: float) -> dict:
        """{"accuracy", "brier", "ece"} over total weight W."""
        s = self.sums.value
        w_b = s[2:2 + ECE_BINS]
        acc_b = s[2 + ECE_BINS:2 + 2 * ECE_BINS]
        conf_b = s[2 + 2 * ECE_BINS:]
        return {"accuracy": s[0] / W, "brier": s[1] / W,
                "ece": float(np.abs(acc_b - conf_b).sum() / w_b.sum())}


class PointErrors:
    """Σ w |r| and Σ w r² of the residuals r = y − ŷ of one point prediction."""

    __slots__ = ("sums", "spread")

    def __init__(self) -> None:
        self.sums = Sum(2)
        self.spread = Spread(("mae", "mse"))  # the per-row terms' moments (se)

    def update(self, y: np.ndarray, yhat, w: np.ndarray | None) -> None:
        r = np.subtract(y, yhat)
        terms = np.empty((2, r.shape[-1]))
        np.abs(r, out=terms[0])
        np.square(r, out=terms[1])
        part = np.empty(2)
        part[0] = wsum(terms[0], w)
        part[1] = wsum(terms[1], w)
        self.sums.add(part)
        self.spread.update(terms, w)

    def merge(self, other: PointErrors) -> PointErrors:
        self.sums.merge(other.sums)
        self.spread.merge(other.spread)
        return self

    def finalize(self, W: float, sst: float) -> dict:
        """{"mse", "rmse", "mae", "r2"} over total weight W; r2 = 1 − Σw r² / sst with
        sst = Σw (y − ȳ)² (None unless sst is finite and positive)."""
        abs_sum, sq_sum = self.sums.value
        mse = sq_sum / W
        return {"mse": mse, "rmse": math.sqrt(mse) if mse >= 0 else math.nan,
                "mae": abs_sum / W,
                "r2": 1.0 - sq_sum / sst if sst > 0 and math.isfinite(sst) else None}


class Deviance:
    """Σ w d(y, ŷ) and Σ w d(y, ȳ) of one model's family deviance d (ȳ the weighted mean
    of the target: the null model)."""

    __slots__ = ("sums",)

    def __init__(self) -> None:
        self.sums = Sum(2)

    def update(self, model_rows: np.ndarray, null_rows: np.ndarray,
               w: np.ndarray | None) -> None:
        """Add a block's per-row deviances of the model and of the null model."""
        part = np.empty(2)
        part[0] = wsum(model_rows, w)
        part[1] = wsum(null_rows, w)
        self.sums.add(part)

    def merge(self, other: Deviance) -> Deviance:
        self.sums.merge(other.sums)
        return self

    def finalize(self, W: float) -> dict:
        """{"mean_deviance": D(y, ŷ)/W, "d2": 1 − D(y, ŷ)/D(y, ȳ) (None when D(y, ȳ) ≤ 0)}."""
        dev, null = self.sums.value
        return {"mean_deviance": dev / W, "d2": 1.0 - dev / null if null > 0 else None}


PAIR_GROUP_VALUES = 1 << 17  # values of a pair block reduced at a time (pairs × rows)


class PairDifferences:
    """The per-row log-likelihood differences d = log q_a(y) − log q_b(y) of one pair of
    models: their weighted moments (W, d̄, M2 = Σ w (d − d̄)²) and the rows of largest and
    smallest d, each as (d, label, weight), the label a row number or a value.

    A block's moments and extremes are those of `reduce.Moments` and `reduce.Extremes`
    over the whole block, reduced over groups of pairs at once (`update_all`); each pair
    merges its own as floats by the same formulas (Chan et al.'s for the moments; for
    the extremes the larger, or smaller, d wins and a tie keeps the smaller label), so
    the per-pair cost of a block is a few float operations."""

    __slots__ = ("W", "mean", "m2", "hi", "lo")

    def __init__(self) -> None:
        self.W = 0.0
        self.mean = 0.0
        self.m2 = 0.0
        self.hi = (-math.inf, math.inf, 0.0)
        self.lo = (math.inf, math.inf, 0.0)

    def update(self, d: np.ndarray, labels: np.ndarray, w: np.ndarray | None) -> None:
        """Add a block: differences d (n,), labels (n,), weights w (n,) or None (kept
        with the extremes too)."""
        PairDifferences.update_all([self], d[None, :], labels, w, w)

    @staticmethod
    def update_all(pairs: list[PairDifferences], d: np.ndarray, labels: np.ndarray,
                   w: np.ndarray | None, label_w: np.ndarray | None) -> None:
        """Add a block to several pairs at once: d (k, n) the differences of pairs[k],
        w the rows' weights; `label_w` the weight kept with an extreme (None: 1)."""
        # in groups of pairs that stay in cache across the passes of the moments and
        # extremes (a whole block of many pairs does not); each pair's sums run over the
        # whole block, so a pair's figures do not depend on the pairs beside it
        group = max(1, PAIR_GROUP_VALUES // max(d.shape[-1], 1))
        for g in range(0, len(pairs), group):
            rows = d[g:g + group]
            part = Moments(rows.shape[0])
            part.update(rows, w)
            ext = Extremes(rows.shape[0])
            ext.update(rows, labels, label_w)
            W = part.W
            for pair, mean, m2, hi, lo in zip(pairs[g:g + group], part.mean.tolist(),
                                              part.m2.tolist(), ext.hi.tolist(),
                                              ext.lo.tolist(), strict=True):
                pair._merge(W, mean, m2, hi, lo)

    def _merge(self, W: float, mean: float, m2: float, hi, lo) -> None:
        if W != 0.0:  # as reduce.Moments.merge
            if self.W == 0.0:
                self.W, self.mean, self.m2 = W, mean, m2
            else:
                total = self.W + W
                delta = mean - self.mean
                self.mean = self.mean + delta * (W / total)
                self.m2 = self.m2 + m2 + delta * delta * (self.W * W / total)
                self.W = total
        # as reduce.Extremes: a larger (smaller) d wins, a tie keeps the smaller label
        if hi[0] > self.hi[0] or (hi[0] == self.hi[0] and hi[1] < self.hi[1]):
            self.hi = tuple(hi)
        if lo[0] < self.lo[0] or (lo[0] == self.lo[0] and lo[1] < self.lo[1]):
            self.lo = tuple(lo)

    def merge(self, other: PairDifferences) -> PairDifferences:
        self._merge(other.W, other.mean, other.m2, other.hi, other.lo)
        return self

    def finalize(self) -> tuple[float, float, float]:
        """(W, d̄, M2): what Vuong's test reads."""
        return self.W, self.mean, self.m2

    def extreme_rows(self) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
        """((d, label, w) of the largest d, (d, label, w) of the smallest d); d = ∓∞ and
        label ∞ while no row was seen."""
        return self.hi, self.lo


class SerialDifferences:
    """The autocovariance sums of k per-row series (the log-score differences of k pairs
    of models) in row order, up to lag L: what the Newey–West variance reads (SPEC
    §10.2). Rows arrive in pieces (batches, blocks, Dask tasks) in any order of merging;
    each piece is a segment of the data set's rows [start, end) (read rows, dropped ones
    included) holding n, Σd, the lagged cross-products Σₜ dₜdₜ₋ₕ (h = 1..L) within it,
    and its first and last L values. Two segments whose rows adjoin join exactly: the
    products across the seam come from the earlier one's last and the later one's first
    L values, so any split of the rows gives the same sums."""

    __slots__ = ("k", "lag", "segments")

    def __init__(self, k: int, lag: int) -> None:
        self.k, self.lag = k, lag
        self.segments: list[_Segment] = []

    def segment(self, start: int, end: int) -> _Segment:
        """An empty segment of the rows [start, end), to `extend` and then `add`."""
        return _Segment(start, end, self.k, self.lag)

    def add(self, seg: _Segment) -> None:
        """A piece's segment, joined with its neighbours already here."""
        self.segments.append(seg)
        self._join()

    def merge(self, other: SerialDifferences) -> SerialDifferences:
        self.segments.extend(other.segments)
        self._join()
        return self

    def _join(self) -> None:
        self.segments.sort(key=lambda s: s.start)
        out: list[_Segment] = []
        for seg in self.segments:
            if out and out[-1].end == seg.start:
                out[-1].join(seg)
            else:
                out.append(seg)
        self.segments = out

    def lagged(self, dbar: np.ndarray) -> np.ndarray:
        """(k, L): Σₜ eₜeₜ₋ₕ with e = d − d̄ (d̄ per series, from every row), for
        h = 1..L. Needs every row in one segment (a ValueError otherwise)."""
        if len(self.segments) > 1:
            raise ValueError("the rows of the serial sums do not adjoin")
        out = np.zeros((self.k, self.lag))
        if not self.segments:
            return out
        seg = self.segments[0]
        n, s1 = seg.n, seg.s1
        for h in range(1, min(self.lag, n - 1) + 1):
            first = seg.head[:, :h].sum(axis=1)
            last = seg.tail[:, seg.tail.shape[1] - h:].sum(axis=1)
            # Σ (dₜ − d̄)(dₜ₋ₕ − d̄) over t = h..n−1, expanded into the kept sums
            out[:, h - 1] = (seg.cross[:, h - 1] - dbar * (s1 - first) - dbar * (s1 - last)
                             + (n - h) * dbar * dbar)
        return out


class _Segment:
    """Adjoining rows [start, end) of SerialDifferences: n, Σd (k,), Σₜ dₜdₜ₋ₗ (k, L),
    the first and last min(n, L) values (k, ·)."""

    __slots__ = ("start", "end", "n", "s1", "cross", "head", "tail")

    def __init__(self, start: int, end: int, k: int, lag: int) -> None:
        self.start, self.end = start, end
        self.n = 0
        self.s1 = np.zeros(k)
        self.cross = np.zeros((k, lag))
        self.head = np.zeros((k, 0))
        self.tail = np.zeros((k, 0))

    def extend(self, d: np.ndarray) -> None:
        """Append rows d (k, m) after the segment's last row."""
        d = np.asarray(d, dtype=np.float64)
        lag = self.cross.shape[1]
        part = _Segment(self.start, self.end, d.shape[0], lag)
        m = d.shape[1]
        part.n = m
        part.s1 = d.sum(axis=1)
        for h in range(1, min(lag, m - 1) + 1):
            part.cross[:, h - 1] = np.einsum("ij,ij->i", d[:, h:], d[:, :-h])
        part.head = d[:, :lag].copy()
        part.tail = d[:, max(m - lag, 0):].copy()
        self._append(part)

    def join(self, later: _Segment) -> None:
        """The rows of `later` (which start where these end) appended."""
        self._append(later)
        self.end = later.end

    def _append(self, b: _Segment) -> None:
        lag = self.cross.shape[1]
        if b.n == 0:
            return
        if self.n:
            a_tail, b_head = self.tail, b.head
            for h in range(1, lag + 1):
                # pairs (t in b, t − h in a): b's i-th row with a's (h − i)-th from last
                i = np.arange(min(h, b_head.shape[1]))
                i = i[h - i <= a_tail.shape[1]]
                if i.size:
                    self.cross[:, h - 1] += np.einsum(
                        "ij,ij->i", b_head[:, i], a_tail[:, a_tail.shape[1] - (h - i)])
        self.cross += b.cross
        self.s1 = self.s1 + b.s1
        self.n += b.n
        self.head = np.concatenate([self.head, b.head], axis=1)[:, :lag]
        both = np.concatenate([self.tail, b.tail], axis=1)
        self.tail = both[:, max(both.shape[1] - lag, 0):]
class Spread:
    """The weighted moments (W, x̄, M2 = Σ w (x − x̄)²) of a model's per-row terms, merged
    by Chan's formula (`reduce.Moments`): what a mean's standard error reads. The terms are
    named when the state is made (e.g. "cross_entropy", "information_gain", "mse")."""

    __slots__ = ("names", "moments")

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names
        self.moments = Moments(len(names))

    def update(self, x: np.ndarray, w: np.ndarray | None) -> None:
        """Add a block: x (k, n), row k the terms named names[k]."""
        if self.names:
            self.moments.update(x, w)

    def merge(self, other: Spread) -> Spread:
        self.moments.merge(other.moments)
        return self

    def se(self, name: str) -> float | None:
        """se = s/√W of the mean of the terms `name`, s² = M2/(W − 1) (frequency weights:
        the expanded rows' sample variance); None where W ≤ 1 or the term is not kept."""
        if name not in self.names:
            return None
        return mean_se(self.moments.W, float(self.moments.m2[self.names.index(name)]))


def mean_se(W: float, m2: float) -> float | None:
    """The standard error s/√W of a weighted mean, s² = M2/(W − 1); None where W ≤ 1."""
    if not W > 1.0:
        return None
    return math.sqrt(max(m2, 0.0) / (W - 1.0) / W)


class Slices:
    """Per distinct value of a column (`--by`) and per model: the weighted moments
    (W, x̄, M2) of the per-row −log q and the mean of ℓ_model − ℓ_baseline (SPEC §10.3).

    Kept as a dict value → slot and arrays W (G,), mean (G, 2m), m2 (G, 2m), column 2i the
    cross-entropy terms of model i and 2i + 1 its information-gain terms; a block's
    per-value moments come from `np.bincount` and merge into the slots by Chan's formula,
    so states merge exactly whatever the partitioning. More than `limit` distinct values
    is an input error naming `file` and `column` (the state stays small)."""

    __slots__ = ("k", "limit", "file", "column", "slot", "W", "mean", "m2")

    def __init__(self, k: int, limit: int, file: str, column: str) -> None:
        self.k, self.limit, self.file, self.column = k, limit, file, column
        self.slot: dict = {}
        self.W = np.zeros(0)
        self.mean = np.zeros((0, k))
        self.m2 = np.zeros((0, k))

    def update(self, codes: np.ndarray, values: list, x: np.ndarray,
               w: np.ndarray | None) -> None:
        """Add a block: codes (n,) index `values` (the block's distinct values), x (k, n)."""
        g = len(values)
        if g == 0 or codes.size == 0:
            return
        wts = np.ones(codes.size) if w is None else w
        W = np.bincount(codes, weights=wts, minlength=g)
        sums = np.stack([np.bincount(codes, weights=wts * row, minlength=g) for row in x])
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = (sums / W).T  # (g, k)
        dev = x - mean[codes].T
        m2 = np.stack([np.bincount(codes, weights=wts * r * r, minlength=g) for r in dev]).T
        seen = W > 0
        self._merge([v for v, s in zip(values, seen, strict=True) if s], W[seen],
                    mean[seen], m2[seen])

    def _merge(self, values: list, W: np.ndarray, mean: np.ndarray, m2: np.ndarray) -> None:
        new = [v for v in values if v not in self.slot]
        if new:
            if len(self.slot) + len(new) > self.limit:
                from losscli.errors import InputError

                raise InputError(
                    f"--by: the column has more than {self.limit:,} distinct values "
                    "(--max-slices); slice by a coarser column", file=self.file,
                    column=self.column)
            for v in new:
                self.slot[v] = len(self.slot)
            grow = len(new)
            self.W = np.concatenate([self.W, np.zeros(grow)])
            self.mean = np.concatenate([self.mean, np.zeros((grow, self.k))])
            self.m2 = np.concatenate([self.m2, np.zeros((grow, self.k))])
        at = np.array([self.slot[v] for v in values], dtype=np.int64)
        mine = self.W[at]
        total = mine + W
        delta = mean - self.mean[at]
        share = np.where(total > 0, W / np.where(total > 0, total, 1.0), 0.0)[:, None]
        cross = np.where(total > 0, mine * W / np.where(total > 0, total, 1.0), 0.0)[:, None]
        # as reduce.Moments.merge; a slot seen for the first time takes the block's values
        self.mean[at] = np.where(mine[:, None] > 0, self.mean[at] + delta * share, mean)
        self.m2[at] = np.where(mine[:, None] > 0, self.m2[at] + m2 + delta * delta * cross, m2)
        self.W[at] = total

    def merge(self, other: Slices) -> Slices:
        if other.slot:
            values = list(other.slot)
            idx = [other.slot[v] for v in values]
            self._merge(values, other.W[idx], other.mean[idx], other.m2[idx])
        return self

    def finalize(self) -> tuple[list, np.ndarray, np.ndarray, np.ndarray]:
        """(values, W, mean, m2) in descending W, ties by value (numbers numerically, text
        by code point; a null last). Integers and text met together (a text file whose
        blocks were read with different types) are all text."""
        values = list(self.slot)
        state = self
        if any(isinstance(v, str) for v in values) and any(isinstance(v, int) for v in values):
            state = Slices(self.k, self.limit, self.file, self.column)
            for v, i in self.slot.items():
                state._merge([None if v is None else str(v)], self.W[[i]], self.mean[[i]],
                             self.m2[[i]])
        return state._ordered()

    def _ordered(self):
        values = list(self.slot)
        order = sorted(range(len(values)), key=lambda i: (
            -self.W[self.slot[values[i]]], values[i] is None,
            0 if values[i] is None else values[i]))
        idx = [self.slot[values[i]] for i in order]
        return ([values[i] for i in order], self.W[idx], self.mean[idx], self.m2[idx])
