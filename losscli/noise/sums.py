"""Weighted sums over rows held in memory (the seeded sample, value counts), and the
value counts of an integer-valued column. Streamed data use the states of
`losscli.reduce` instead."""

from __future__ import annotations

import numpy as np

from losscli.noise.support import BLOCK


def block_sums(fn, n: int, w: np.ndarray | None) -> np.ndarray:
    """Σ_i w_i fn(rows)_i for each output of fn, accumulated block by block, so that a
    quantity such as (y − ŷ)² never exists as a full-size array."""
    total = None
    for s in range(0, n, BLOCK):
        sl = slice(s, min(s + BLOCK, n))
        wb = None if w is None else w[sl]
        part = np.array([float(np.sum(v)) if wb is None else float(np.dot(wb, v))
                         for v in fn(sl)])
        total = part if total is None else total + part
    return total if total is not None else np.zeros(0)


def wsum(x: np.ndarray, w: np.ndarray | None) -> float:
    """Σ w_i x_i (Σ x_i without weights)."""
    return float(np.sum(x)) if w is None else float(np.dot(w, x))


def total_weight(n: int, w: np.ndarray | None) -> float:
    return float(n) if w is None else float(np.sum(w))


def wmean(x: np.ndarray, w: np.ndarray | None) -> float:
    return wsum(x, w) / total_weight(np.shape(x)[-1], w)


def value_counts(y: np.ndarray, w: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values of an integer-valued y and their total weights.

    A marginal fit on integer targets depends on the data only through these, so it
    costs the same on 100 rows as on 100 million.
    """
    lo, hi = float(y.min()), float(y.max())
    if hi - lo < 4 * y.size + 1_000_000:
        counts = np.bincount((y - lo).astype(np.int64), weights=w)
        keep = np.flatnonzero(counts)
        return keep.astype(np.float64) + lo, counts[keep].astype(np.float64)
    values, inverse = np.unique(y, return_inverse=True)
    return values, np.bincount(inverse, weights=w).astype(np.float64)
