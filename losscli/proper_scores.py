"""Proper scores beyond the log score (SPEC §8.3): the mean CRPS and the central
prediction intervals' coverage, width and interval score, as a reduction over batches.

A family supplies `crps(y, pred, params)` and `ppf(q, pred, params)` per row (None where
it has none); this module only weighs and sums them. Each batch's weighted sums are
numpy's pairwise sums and the batches' are added with compensation (reduce.Sum), so a
result does not depend on how the rows were split beyond rounding (≈1e-15 relative).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from losscli.noise.sums import wsum
from losscli.reduce import Sum

LEVELS = (0.5, 0.8, 0.9, 0.95)


def _wsum(x: np.ndarray, w: np.ndarray | None) -> float:
    """Σ w x by numpy's pairwise sum (as every statistic sums a batch); a row of weight 0
    adds nothing, even where x is infinite."""
    if w is not None and not np.isfinite(x).all():
        x = np.where(w != 0.0, x, 0.0)
    return wsum(x, w)


class ProperScores:
    """Weighted sums of CRPS and, per level, of the central interval's coverage
    1{l ≤ y ≤ u}, width u − l and interval score (u − l) + (2/α)(l − y)⁺ + (2/α)(y − u)⁺
    (Gneiting and Raftery 2007, eq. 43), [l, u] = [F⁻¹(α/2), F⁻¹(1 − α/2)], α = 1 − level.
    """

    __slots__ = ("levels", "weight", "crps", "cover", "width", "score", "no_crps",
                 "no_intervals")

    def __init__(self, levels: tuple[float, ...] = LEVELS) -> None:
        self.levels = tuple(float(v) for v in levels)
        if not all(0.0 < v < 1.0 for v in self.levels):
            raise ValueError(f"interval levels must lie in (0, 1): {levels}")
        k = len(self.levels)
        self.weight = Sum(1)
        self.crps = Sum(1)
        self.cover = Sum(k)
        self.width = Sum(k)
        self.score = Sum(k)
        self.no_crps = False  # the family declares no CRPS (crps = None)
        self.no_intervals = False  # … and no quantile function (ppf = None)

    def update(self, family: Any, y: np.ndarray, pred: Any, params: dict,
               w: np.ndarray | None = None) -> ProperScores:
        """Add one batch: targets y, the predictions and parameters as the family's
        `loglik` takes them (parameters floats or per-row arrays), weights w (None: 1)."""
        y = np.asarray(y, dtype=np.float64)
        if y.size == 0:
            return self
        if w is not None:
            w = np.asarray(w, dtype=np.float64)
        self.weight.add([float(y.size) if w is None else float(np.sum(w))])
        crps = getattr(family, "crps", None)
        if crps is None:
            self.no_crps = True
        else:
            c = np.broadcast_to(crps(y, pred, params), y.shape)
            self.crps.add([_wsum(c, w)])
        ppf = getattr(family, "ppf", None)
        if ppf is None:
            self.no_intervals = True
            return self
        cover, width, score = [], [], []
        qs = [q for level in self.levels for q in (0.5 * (1.0 - level), 0.5 * (1.0 + level))]
        many = getattr(family, "ppf_levels", None)
        bounds = many(qs, pred, params) if many is not None else [
            ppf(q, pred, params) for q in qs]
        for i, level in enumerate(self.levels):
            alpha = 1.0 - level
            lo = np.broadcast_to(bounds[2 * i], y.shape)
            hi = np.broadcast_to(bounds[2 * i + 1], y.shape)
            inside = (lo <= y) & (y <= hi)
            span = hi - lo
            penalty = np.maximum(lo - y, 0.0) + np.maximum(y - hi, 0.0)
            cover.append(_wsum(inside.astype(np.float64), w))
            width.append(_wsum(span, w))
            score.append(_wsum(span + (2.0 / alpha) * penalty, w))
        self.cover.add(cover)
        self.width.add(width)
        self.score.add(score)
        return self

    def merge(self, other: ProperScores) -> ProperScores:
        if other.levels != self.levels:
            raise ValueError("cannot merge proper scores over different interval levels")
        for name in ("weight", "crps", "cover", "width", "score"):
            getattr(self, name).merge(getattr(other, name))
        self.no_crps |= other.no_crps
        self.no_intervals |= other.no_intervals
        return self

    def finalize(self, W: float | None = None) -> dict:
        """{"crps": Σw CRPS/W or None, "intervals": [{"level", "coverage", "mean_width",
        "interval_score"}, …] or None}; W the total weight (by default the rows' own)."""
        W = float(self.weight.value[0]) if W is None else float(W)
        if not W > 0.0:
            return {"crps": None, "intervals": None}
        crps = None if self.no_crps else float(self.crps.value[0]) / W
        if self.no_intervals:
            return {"crps": crps, "intervals": None}
        cover, width, score = self.cover.value, self.width.value, self.score.value
        return {"crps": crps, "intervals": [
            {"level": level, "coverage": float(cover[i]) / W,
             "mean_width": float(width[i]) / W, "interval_score": float(score[i]) / W}
            for i, level in enumerate(self.levels)]}
