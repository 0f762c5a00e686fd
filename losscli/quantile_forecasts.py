"""Quantile forecasts (SPEC §8.4): each column holds a predicted quantile of y at a level.

The levels come from the column names (`level_of`) or are given in column order
(`levels_of`). `QuantileForecasts` is a mergeable state (update, merge, finalize) of the
weighted sums behind the `quantiles` block: the pinball loss and coverage per level,
the central intervals of each symmetric pair of levels, the weighted interval score and
the weight of rows whose quantiles cross. Sums are compensated across batches
(`reduce.Sum`), so the block does not depend on how the rows were batched.
"""

from __future__ import annotations

import re

import numpy as np

from losscli.errors import UsageError
from losscli.reduce import Sum

# the number that ends a column name: digits with a point are the level itself,
# digits without one a percentage
_TRAILING = re.compile(r"(\d*\.\d+|\d+)$")
_HINT = "give the levels in column order with --quantile-levels, e.g. 0.05,0.5,0.95"
PAIR_TOL = 1e-9  # levels τ and 1 − τ written in decimal differ from 1 − τ by rounding


def level_of(column: str) -> float:
    """The level that ends a column's name: `q_0.05` → 0.05, `q0.9` → 0.9, `p90` → 0.90,
    `q05` → 0.05 (digits without a point are a percentage). A name that ends otherwise,
    or in a level outside (0, 1), is a usage error naming the column."""
    m = _TRAILING.search(column)
    if m is None:
        raise UsageError(f"--quantiles: column {column!r} has no level at the end of its "
                         f"name (like q_0.05, q0.9, p90 or q05); {_HINT}")
    text = m.group(1)
    level = float(text) if "." in text else int(text) / 100.0
    if not 0.0 < level < 1.0:
        what = f"{text}%" if "." not in text else text
        raise UsageError(f"--quantiles: column {column!r} ends in {what}, not a level "
                         f"inside (0, 1); {_HINT}")
    return level


def levels_of(columns: list[str], given: list[float] | None = None) -> list[float]:
    """The level of each column, in column order: `given` (--quantile-levels) when there
    is one, else read from the names. Every level in (0, 1), each at most once."""
    if given is None:
        levels = [level_of(c) for c in columns]
    else:
        if len(given) != len(columns):
            raise UsageError(f"--quantile-levels gives {len(given)} levels for "
                             f"{len(columns)} --quantiles columns ({', '.join(columns)}); "
                             "give one level per column, in column order")
        for c, v in zip(columns, given, strict=True):
            if not 0.0 < v < 1.0:
                raise UsageError(f"--quantile-levels: {v!r} (for column {c!r}) is not a "
                                 "level inside (0, 1)")
        levels = [float(v) for v in given]
    seen: dict[float, str] = {}
    for c, v in zip(columns, levels, strict=True):
        if v in seen:
            raise UsageError(f"--quantiles: columns {seen[v]!r} and {c!r} both have level "
                             f"{v:g}; each level once")
        seen[v] = c
    return levels


class QuantileForecasts:
    """Weighted sums over rows of predicted quantiles Q (k, n) and targets y.

    Per level τ (ascending): Σw ρ_τ(y − q) (the pinball loss, ρ_τ(r) = r(τ − 1{r<0})) and
    Σw 1{y ≤ q}. Per symmetric pair τ < ½ < 1 − τ, the central interval [l, u] of level
    1 − α, α = 2τ: Σw 1{l ≤ y ≤ u}, Σw(u − l) and Σw IS_α, the interval score
    IS_α = (u − l) + (2/α)(l − y)⁺ + (2/α)(y − u)⁺ (Gneiting and Raftery 2007). With the
    median m among the levels, the weighted interval score of Bracher et al. (2021),
    WIS = (½|y − m| + Σ_k (α_k/2) IS_{α_k}) / (K + ½) over the K pairs, is linear in these
    sums (|y − m| = 2ρ_½(y − m)). Crossings: Σw of the rows where some quantile is
    strictly below the quantile of a lower level.
    """

    def __init__(self, levels: list[float], columns: list[str]) -> None:
        if len(levels) != len(columns) or not levels:
            raise ValueError("one level per column, at least one")
        self.order = np.argsort(np.asarray(levels, dtype=np.float64), kind="stable")
        self.levels = [float(levels[i]) for i in self.order]
        self.columns = [columns[i] for i in self.order]
        k = len(self.levels)
        # (lower index, upper index) into the ascending levels, narrowest interval first
        pairs = []
        for i, t in enumerate(self.levels):
            if t < 0.5:
                j = next((j for j in range(k) if abs(self.levels[j] - (1.0 - t)) <= PAIR_TOL),
                         None)
                if j is not None:
                    pairs.append((i, j))
        self.pairs = sorted(pairs, key=lambda p: -self.levels[p[0]])
        self.median = next((i for i, t in enumerate(self.levels) if abs(t - 0.5) <= PAIR_TOL),
                           None)
        self.tau = np.asarray(self.levels)[:, None]
        self.pinball = Sum(k)
        self.coverage = Sum(k)
        self.interval = Sum(3 * len(self.pairs))  # coverage, width, score per pair
        self.crossed = Sum(1)

    def update(self, y: np.ndarray, Q: np.ndarray, w: np.ndarray | None = None
               ) -> QuantileForecasts:
        """Add a batch: targets y (n,), quantiles Q (k, n) in the columns' order."""
        y = np.asarray(y, dtype=np.float64)
        q = np.asarray(Q, dtype=np.float64)[self.order]
        if y.size == 0:
            return self

        def total(x: np.ndarray) -> np.ndarray:
            return x.sum(axis=-1) if w is None else x @ w

        r = y - q
        self.pinball.add(total(r * (self.tau - (r < 0.0))))
        self.coverage.add(total((y <= q).astype(np.float64)))
        if self.pairs:
            lo = q[[i for i, _ in self.pairs]]
            hi = q[[j for _, j in self.pairs]]
            alpha = 2.0 * self.tau[[i for i, _ in self.pairs]]
            inside = ((lo <= y) & (y <= hi)).astype(np.float64)
            width = hi - lo
            score = width + (2.0 / alpha) * (np.maximum(lo - y, 0.0)
                                              + np.maximum(y - hi, 0.0))
            self.interval.add(total(np.concatenate([inside, width, score])))
        crossed = np.any(np.diff(q, axis=0) < 0.0, axis=0).astype(np.float64)
        self.crossed.add([total(crossed)])
        return self

    def merge(self, other: QuantileForecasts) -> QuantileForecasts:
        self.pinball.merge(other.pinball)
        self.coverage.merge(other.coverage)
        self.interval.merge(other.interval)
        self.crossed.merge(other.crossed)
        return self

    def finalize(self, W: float) -> dict:
        """The `quantiles` block (SPEC §8.4) over total weight W: means per level in
        ascending order, the intervals narrowest first, `wis` null without the median."""
        if not W > 0.0:
            nan = float("nan")
            pin = cov = np.full(len(self.levels), nan)
            iv = np.full(3 * len(self.pairs), nan)
        else:
            pin = self.pinball.value / W
            cov = self.coverage.value / W
            iv = self.interval.value / W
        p = len(self.pairs)
        intervals = [{
            "level": round(1.0 - 2.0 * self.levels[i], 12),
            "lower": self.columns[i], "upper": self.columns[j],
            "coverage": float(iv[n]), "mean_width": float(iv[p + n]),
            "interval_score": float(iv[2 * p + n]),
        } for n, (i, j) in enumerate(self.pairs)]
        wis = None
        if self.median is not None:
            terms = 2.0 * pin[self.median] * 0.5  # ½ mean |y − m|
            terms += sum(self.levels[i] * iv[2 * p + n]  # (α/2) mean IS_α, α/2 = τ
                         for n, (i, _) in enumerate(self.pairs))
            wis = float(terms / (p + 0.5))
        return {
            "levels": list(self.levels),
            "columns": list(self.columns),
            "pinball": [float(v) for v in pin],
            "coverage": [float(v) for v in cov],
            "intervals": intervals,
            "wis": wis,
            "crossings": float(self.crossed.value[0]),
        }
