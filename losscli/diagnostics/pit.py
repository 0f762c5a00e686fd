"""The probability integral transform as fixed-size sums (SPEC §7.3).

Each row's PIT is uniform on [l, r]: l = r = F(y) for a density (exact), [F(y − 1), F(y)]
for a discrete family and [F(y − ½), F(y + ½)] on the counting measure (non-randomised,
Czado, Gneiting and Held 2009). A histogram on the grid j/M gives each bin the share
|[l, r] ∩ bin|/(r − l) of the row's weight, or all of it to the bin holding l when r = l,
so it adds over batches and is exact at any size.
"""

from __future__ import annotations

import math

import numpy as np

COVERAGE = (0.5, 0.8, 0.9, 0.95)  # central intervals [½ − c/2, ½ + c/2]
TAIL = 0.001  # tail exceedance: u < 0.001 or u > 0.999
SLICE_TAIL = 0.05  # by_prediction's pit_lower / pit_upper


def grid(m: int) -> np.ndarray:
    return np.arange(m + 1, dtype=np.float64) / m


def histogram(lo: np.ndarray, hi: np.ndarray, w: np.ndarray | None, m: int) -> np.ndarray:
    """The mass of rows uniform on [lo, hi] (a point at lo when hi = lo) in the m bins
    [j/m, (j + 1)/m) (the last closed at 1): each row gives its first bin the share up to
    that bin's end, its last bin the share from that bin's start, and every bin strictly
    between 1/(m·width) of its weight (a difference array; only rows wider than a bin
    enter it, so a narrow row's large density never meets the cumulative sum)."""
    g = grid(m)
    wt = np.ones(lo.size) if w is None else w
    jl = _bin(g, lo, m)
    jr = np.maximum(_bin(g, hi, m, right=True), jl)
    width = hi - lo
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # shares as ratios of lengths: exact however narrow the row
        spread = (jr > jl) & np.isfinite(width)
        first = np.where(spread, wt * ((g[jl + 1] - lo) / width), wt)
        last = np.where(spread, wt * ((hi - g[jr]) / width), 0.0)
        inner = np.where(spread & (jr > jl + 1), wt / width, 0.0)  # wider than a bin
    out = np.bincount(jl, weights=first, minlength=m)[:m].astype(np.float64)
    out += np.bincount(jr, weights=last, minlength=m)[:m]
    diff = np.bincount(jl + 1, weights=inner, minlength=m + 1)[:m + 1] \
        - np.bincount(jr, weights=inner, minlength=m + 1)[:m + 1]
    out += np.cumsum(diff)[:m] / m
    return out


def _bin(g: np.ndarray, x: np.ndarray, m: int, right: bool = False) -> np.ndarray:
    """The bin j with g[j] ≤ x < g[j + 1] (right: g[j] < x ≤ g[j + 1]) on the grid g of
    m bins, clipped to 0 … m − 1: ⌊mx⌋ corrected by one comparison each way, which is
    what searchsorted on g gives."""
    j = np.clip(np.floor(x * m).astype(np.int64), 0, m - 1)
    if right:
        j -= (g[j] >= x) & (j > 0)
        j += (g[j + 1] < x) & (j < m - 1)
    else:
        j -= (g[j] > x) & (j > 0)
        j += (g[j + 1] <= x) & (j < m - 1)
    return j


def bin_of(u: np.ndarray, m: int) -> np.ndarray:
    """The bin of each point u on the grid of m bins (u = 1 in the last)."""
    return _bin(grid(m), u, m)


def below(lo: np.ndarray, hi: np.ndarray, t: float) -> np.ndarray:
    """Each row's PIT share below t (a point mass counts when it is < t)."""
    width = hi - lo
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.clip((t - lo) / width, 0.0, 1.0)
    return np.where(width > 0.0, share, (lo < t).astype(np.float64))


def above(lo: np.ndarray, hi: np.ndarray, t: float) -> np.ndarray:
    """Each row's PIT share above t (a point mass counts when it is > t)."""
    width = hi - lo
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.clip((hi - t) / width, 0.0, 1.0)
    return np.where(width > 0.0, share, (lo > t).astype(np.float64))


def coverage(mass1000: np.ndarray) -> list[dict]:
    """The PIT share in each central interval, from the 1,000-bin histogram (its
    bounds 0.25, 0.75, 0.1, … are grid points)."""
    total = float(mass1000.sum())
    out = []
    for c in COVERAGE:
        a = int(round((0.5 - c / 2) * 1000))
        b = int(round((0.5 + c / 2) * 1000))
        out.append({"nominal": c, "observed": math.fsum(mass1000[a:b]) / total})
    return out


def ks_exact(u: np.ndarray, w: np.ndarray | None) -> float:
    """D = sup |F̂(u) − u| of the weighted ECDF (ties grouped)."""
    order = np.argsort(u, kind="stable")
    u = u[order]
    wt = np.ones(u.size) if w is None else w[order]
    cum = np.cumsum(wt)
    total = cum[-1]
    last = np.r_[u[1:] != u[:-1], True]  # the last row of each group of equal u
    ends = cum[last] / total
    starts = np.r_[0.0, ends[:-1]]
    uu = u[last]
    return float(max(np.max(ends - uu), np.max(uu - starts)))


def ks_grid(mass1000: np.ndarray) -> float:
    """D read on the grid j/1000: max |F̂(j/1000) − j/1000|."""
    cdf = np.cumsum(mass1000) / mass1000.sum()
    g = grid(1000)[1:]
    return float(np.max(np.abs(cdf - g)))


class Thresholds:
    """Sorted thresholds t_1 ≤ … ≤ t_m and a fast count of those ≤ z (searchsorted(t, z,
    "right")). [t_1, t_m] is cut into equal cells by one monotone map x ↦ cell(x), applied
    alike to the thresholds and to z, so a threshold in an earlier cell than z's is ≤ z and
    one in a later cell is > z; the table gives the thresholds in earlier cells and only
    those sharing z's cell are compared, at most `passes` of them. The cells are refined
    (×4, to at most `max_cells`) until `passes` comparisons suffice. The table is not
    pickled (a worker rebuilds it)."""

    MAX_PASSES = 8  # beyond (thresholds crowded into one cell): searchsorted itself

    def __init__(self, t: np.ndarray, cells: int = 1 << 16, passes: int = 2,
                 max_cells: int = 1 << 20) -> None:
        self.t = np.asarray(t, dtype=np.float64)
        self.cells = max(1, cells)
        self.target = passes
        self.max_cells = max(max_cells, self.cells)
        self.lo, hi = (float(self.t[0]), float(self.t[-1])) if self.t.size else (0.0, 0.0)
        self.span = hi - self.lo
        self.table: np.ndarray | None = None
        self.passes = 0
        self._build()

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["table"] = None
        state["padded"] = None
        return state

    def _cell(self, x: np.ndarray, cells: int, scale: float) -> np.ndarray:
        c = np.subtract(x, self.lo)
        with np.errstate(invalid="ignore"):  # ±∞ · 0 where every threshold is equal
            np.multiply(c, scale, out=c)
        np.fmax(c, 0.0, out=c)  # NaN → cell 0
        np.fmin(c, cells - 1.0, out=c)
        return c.astype(np.int64)

    def _build(self) -> None:
        """The table, refined until `passes` comparisons suffice; assigned last, so a
        thread that sees it sees the cells it was built for."""
        cells = self.cells
        while True:
            scale = cells / self.span if self.span > 0 else 0.0
            per_cell = np.bincount(self._cell(self.t, cells, scale), minlength=cells)
            passes = int(per_cell.max()) if self.t.size else 0
            if passes <= self.target or 4 * cells > self.max_cells:
                break
            cells *= 4
        self.cells, self.scale, self.passes = cells, scale, passes
        # NaN after the last threshold: a comparison past the end is false
        self.padded = np.r_[self.t, np.full(max(passes, 1), np.nan)]
        self.table = np.r_[0, np.cumsum(per_cell)[:-1]]  # thresholds in earlier cells

    def count(self, z: np.ndarray) -> np.ndarray:
        if self.table is None:
            self._build()
        if self.passes > self.MAX_PASSES:
            order = np.argsort(z, kind="stable")
            out = np.empty(z.size, dtype=np.int64)
            out[order] = np.searchsorted(self.t, z[order], side="right")
            return out
        with np.errstate(invalid="ignore"):
            first = self.table[self._cell(z, self.cells, self.scale)]
            j = first.copy() if self.passes > 1 else first
            for q in range(self.passes):
                j += self.padded[q:][first] <= z
        nan = np.isnan(z)
        if nan.any():  # after every threshold, as searchsorted puts NaN
            j[nan] = self.t.size
        return j
