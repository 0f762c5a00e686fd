"""Sums per distinct forecast: what the recalibration (CORP) and the quantile bins need.

Rows are grouped by their forecast f; each group keeps Σw, the weighted mean and the
centred sum of squares of the observation t (Chan's pairwise update, so no precision is
lost to Σwt² − (Σwt)²/Σw), and weighted sums of further per-row columns. Grouping is exact
while there are at most `max_unique` distinct forecasts; beyond, f is pooled into the
equal-count bins of a seeded sample (`binned`). Both add over batches in any order.
"""

from __future__ import annotations

import numpy as np

from losscli.diagnostics.pit import Thresholds

PERCENT = np.linspace(0, 1, 11) * 100  # sklearn calibration_curve's quantile grid
BUFFER = 1 << 18  # rows gathered before they are added to the dense bins


class Groups:
    """Σw, mean and M2 of t, and sums of `extra` columns, per forecast value (or bin).

    Exact: sorted distinct keys, each batch's groups held back and combined with the rest
    in one stable sort once they are as many as the groups kept (so a pass costs a few
    sorts, not one per batch). Binned: dense arrays over the bins, updated by bincount."""

    def __init__(self, n_extra: int, max_unique: int, edges, binned: bool = False,
                 cats: int = 0) -> None:
        self.keys = np.empty(0)
        self.sw = np.empty(0)
        self.mean = np.empty(0)
        self.m2 = np.empty(0)
        self.extra = np.empty((n_extra, 0))
        self.max_unique = max_unique
        self.cats = cats  # the last `cats` extras: Σw per row category 0 … cats − 1
        if edges is not None and not isinstance(edges, Thresholds):
            edges = Thresholds(edges, cells=4 * max(len(edges), 1))
        self.finder = edges  # the bins' inner edges, for when the forecasts are too many
        self.binned = False
        self.pending: list[tuple] = []
        self.pending_size = 0
        self.buffer: list[tuple] = []
        self.buffered = 0
        if binned:
            self._to_bins()

    @property
    def edges(self) -> np.ndarray | None:
        return None if self.finder is None else self.finder.t

    def update(self, f: np.ndarray, t: np.ndarray, w: np.ndarray | None,
               extra: list[np.ndarray], cats: np.ndarray | None = None) -> None:
        """Add rows (with `cats`, each row's category); in binned mode fewer than BUFFER
        are gathered first, since adding to the dense bins costs the bins' size however
        few rows come."""
        if self.binned and (self.buffer or f.size < BUFFER):
            self.buffer.append((f, t, w, extra, cats))
            self.buffered += f.size
            if self.buffered >= BUFFER:
                self._drain()
            return
        self._update(f, t, w, extra, cats)

    def settle(self) -> None:
        """Add the rows gathered so far (the end of a batch: the work stays on the thread
        or worker that read it)."""
        self._drain()

    def _drain(self) -> None:
        if not self.buffer:
            return
        parts, self.buffer, self.buffered = self.buffer, [], 0
        f = np.concatenate([p[0] for p in parts])
        t = np.concatenate([p[1] for p in parts])
        w = None if parts[0][2] is None else np.concatenate([p[2] for p in parts])
        extra = [np.concatenate([p[3][i] for p in parts]) for i in range(len(parts[0][3]))]
        cats = None if parts[0][4] is None else np.concatenate([p[4] for p in parts])
        self._update(f, t, w, extra, cats)

    def _update(self, f: np.ndarray, t: np.ndarray, w: np.ndarray | None,
                extra: list[np.ndarray], cats: np.ndarray | None = None) -> None:
        if self.binned:
            keys, inv = self._dense, self.finder.count(f)
        else:
            keys, inv = np.unique(f, return_inverse=True)
        size = keys.size

        def total(x: np.ndarray) -> np.ndarray:  # Σw·x per group
            return np.bincount(inv, weights=x if w is None else w * x, minlength=size)

        if self.cats:  # Σw per group and category in one count; Σw their sum
            per = np.bincount(inv * self.cats + cats, weights=w,
                              minlength=size * self.cats).reshape(size, self.cats)
            per = per.astype(np.float64)
            sw = per.sum(axis=1)
        else:
            sw = np.bincount(inv, weights=w, minlength=size).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = total(t) / sw
        d = t - mean[inv]
        m2 = total(np.square(d, out=d))
        ex = np.array([total(x) for x in extra]
                      + ([] if not self.cats else list(per.T))
                      ).reshape(len(extra) + self.cats, size)
        part = (keys, sw, mean, m2, ex)
        if self.binned:
            self._add_dense(*part)
        else:
            self.pending.append(part)
            self.pending_size += size
            if self.pending_size > max(self.keys.size, 1 << 20):
                self._flush()

    def merge(self, other: Groups) -> Groups:
        self._flush()
        other._flush()
        self._drain()
        other._drain()
        if other.binned and not self.binned:
            self._to_bins()
        if self.binned:
            if other.binned:
                self._add_dense(other.keys, other.sw, other.mean, other.m2, other.extra)
            else:
                self._add_parts([(self._bin(other.keys), other.sw, other.mean, other.m2,
                                  other.extra)])
        else:
            self.pending.append((other.keys, other.sw, other.mean, other.m2, other.extra))
            self._flush()
        return self

    def finish(self) -> Groups:
        """Combine what is held back; in binned mode drop the empty bins."""
        self._flush()
        self._drain()
        if self.binned:
            keep = self.sw > 0
            self.keys, self.sw, self.mean, self.m2 = (a[keep] for a in (
                self.keys, self.sw, self.mean, self.m2))
            self.extra = self.extra[:, keep]
        return self

    @property
    def _dense(self) -> np.ndarray:
        return np.arange(self.edges.size + 1, dtype=np.float64)

    def _flush(self) -> None:
        if not self.pending:
            return
        parts, self.pending, self.pending_size = self.pending, [], 0
        self._add_parts(parts)

    def _add_parts(self, parts: list[tuple]) -> None:
        """Combine groups with the same key (Chan's formula for M2), in one stable sort."""
        parts = [(self.keys, self.sw, self.mean, self.m2, self.extra), *parts]
        keys = np.concatenate([p[0] for p in parts])
        order = np.argsort(keys, kind="stable")
        keys = keys[order]
        sw = np.concatenate([p[1] for p in parts])[order]
        mean = np.concatenate([p[2] for p in parts])[order]
        m2 = np.concatenate([p[3] for p in parts])[order]
        ex = np.concatenate([p[4] for p in parts], axis=1)[:, order]
        first = np.r_[True, keys[1:] != keys[:-1]]
        if first.all():
            self.keys, self.sw, self.mean, self.m2, self.extra = keys, sw, mean, m2, ex
        else:
            inv = np.cumsum(first) - 1
            size = int(inv[-1]) + 1
            tot = np.bincount(inv, weights=sw, minlength=size)
            new_mean = np.bincount(inv, weights=sw * mean, minlength=size) / tot
            d = mean - new_mean[inv]
            self.m2 = np.bincount(inv, weights=m2 + sw * d * d, minlength=size)
            self.extra = np.array([np.bincount(inv, weights=x, minlength=size) for x in ex]
                                  ).reshape(ex.shape[0], size)
            self.keys, self.sw, self.mean = keys[first], tot, new_mean
        if not self.binned and self.keys.size > self.max_unique and self.edges is not None:
            self._to_bins()

    def _add_dense(self, keys, sw, mean, m2, extra) -> None:
        """Add groups already on the dense bin index (all bins, empty ones with sw 0; the
        kept mean is 0 in an empty bin, an added one may be NaN there): Chan's update,
        mean += δ·w₂/(w₁ + w₂), M2 += M2₂ + δ²·w₁·w₂/(w₁ + w₂)."""
        tot = self.sw + sw
        with np.errstate(invalid="ignore", divide="ignore"):
            share = sw / tot
            delta = mean - self.mean
        empty = ~(sw > 0)
        np.copyto(share, 0.0, where=empty)
        np.copyto(delta, 0.0, where=empty)
        self.m2 = self.m2 + m2 + delta * delta * self.sw * share
        self.mean = self.mean + delta * share
        self.sw = tot
        self.extra = self.extra + extra

    def _bin(self, f: np.ndarray) -> np.ndarray:
        """The bin of each forecast: the number of inner edges ≤ f."""
        return self.finder.count(f).astype(np.float64)

    def _to_bins(self) -> None:
        """Pool the exact groups into the sample's bins (dense from now on)."""
        keys, sw, mean, m2, extra = self.keys, self.sw, self.mean, self.m2, self.extra
        self.binned = True
        size = self.edges.size + 1
        self.keys = self._dense
        self.sw = np.zeros(size)
        self.mean = np.zeros(size)
        self.m2 = np.zeros(size)
        self.extra = np.zeros((extra.shape[0], size))
        b = self._bin(keys).astype(np.int64)
        tot = np.bincount(b, weights=sw, minlength=size)
        with np.errstate(invalid="ignore", divide="ignore"):
            bm = np.bincount(b, weights=sw * mean, minlength=size) / tot
        bm = np.where(tot > 0, bm, 0.0)
        d = mean - bm[b]
        bm2 = np.bincount(b, weights=m2 + sw * d * d, minlength=size)
        bex = np.array([np.bincount(b, weights=x, minlength=size) for x in extra]
                       ).reshape(extra.shape[0], size)
        self._add_dense(self.keys, tot, bm, bm2, bex)


def equal_count_edges(ordered: np.ndarray, bins: int) -> np.ndarray:
    """The inner edges of `bins` equal-count bins of a sorted sample (its quantiles j/bins,
    linearly interpolated; duplicates removed)."""
    h = (ordered.size - 1) * (np.arange(1, bins) / bins)
    lo = np.floor(h).astype(np.int64)
    hi = np.minimum(lo + 1, ordered.size - 1)
    q = ordered[lo] + (h - lo) * (ordered[hi] - ordered[lo])
    return np.unique(q)


def expanded_percentiles(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """numpy.percentile(x, linspace(0, 1, 11)·100) of the array x that repeats each sorted
    value counts[i] (whole) times, without building it: the same virtual index
    (N − 1)·q and the same interpolation as numpy's 'linear' method."""
    n = float(counts.sum())
    cum = np.cumsum(counts)
    q = PERCENT / 100
    h = (n - 1) * q
    prev = np.floor(h)
    nxt = prev + 1
    top = h >= n - 1
    prev[top] = n - 1
    nxt[top] = n - 1
    gamma = h - prev
    a = values[np.searchsorted(cum, prev, side="right")]
    b = values[np.searchsorted(cum, nxt, side="right")]
    diff = b - a
    out = a + diff * gamma
    late = gamma >= 0.5
    out[late] = (b - diff * (1 - gamma))[late]
    return out


def quantile_bins(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """sklearn's bin of each value: searchsorted(edges[1:-1], value)."""
    return np.searchsorted(edges[1:-1], values)


def isotonic_median(f: np.ndarray, t: np.ndarray, w: np.ndarray | None
                    ) -> tuple[np.ndarray, np.ndarray, float]:
    """The weighted isotonic median regression of t on f, ties in f pooled: pool adjacent
    violators, each block fitted by its weighted lower median (any median gives the same
    Σw|t − m|). Returns the distinct f, their fitted medians and Σw|t − fit|.

    It needs the rows (a block's median is not a sum), so it runs on rows in memory; the
    blocks are merged as sorted arrays: a pool costs its size, so the whole costs up to
    the rows times the largest block (seconds at 10⁵ rows)."""
    wt = np.ones(f.size) if w is None else np.asarray(w, dtype=np.float64)
    order = np.lexsort((t, f))
    f, t, wt = f[order], t[order], wt[order]
    keys, starts = np.unique(f, return_index=True)
    bounds = np.r_[starts, f.size]
    vals: list[np.ndarray] = []
    wts: list[np.ndarray] = []
    meds: list[float] = []
    sizes: list[int] = []  # distinct forecasts per block
    for g in range(keys.size):
        v = t[bounds[g]:bounds[g + 1]]
        u = wt[bounds[g]:bounds[g + 1]]
        k = 1
        m = _lower_median(v, u)
        while meds and meds[-1] > m:
            pv, pu = vals.pop(), wts.pop()
            meds.pop()
            k += sizes.pop()
            both = np.concatenate([pv, v])
            o = np.argsort(both, kind="stable")
            v, u = both[o], np.concatenate([pu, u])[o]
            m = _lower_median(v, u)
        vals.append(v)
        wts.append(u)
        meds.append(m)
        sizes.append(k)
    fit = np.repeat(np.array(meds), sizes)
    loss = float(sum(float(np.dot(u, np.abs(v - m)))
                     for v, u, m in zip(vals, wts, meds, strict=True)))
    return keys, fit, loss


def _lower_median(v: np.ndarray, u: np.ndarray) -> float:
    """The smallest sorted value whose cumulative weight reaches half the total."""
    cum = np.cumsum(u)
    return float(v[int(np.searchsorted(cum, 0.5 * cum[-1], side="left"))])
