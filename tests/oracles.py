"""Reference computations shared by the tests, written on scipy.stats alone."""

from __future__ import annotations

import numpy as np


def wsum(x, w) -> float:
    """Σ w x (Σ x without weights)."""
    return float(np.sum(x if w is None else w * x))


def interval_logprob(dist, y: np.ndarray, lower: float = -np.inf) -> np.ndarray:
    """log P(a < Y ≤ b), [a, b] = [max(y − ½, lower), y + ½], from a frozen scipy.stats
    distribution: c.d.f. differences below the median, survival-function differences
    above it (where 1 − F would lose every digit)."""
    a = np.maximum(y - 0.5, lower)
    b = y + 0.5
    upper = a >= dist.median()
    with np.errstate(divide="ignore"):
        p = np.where(upper, dist.sf(a) - dist.sf(b), dist.cdf(b) - dist.cdf(a))
        return np.log(p)


def interval_logprob_from_zero(dist, y: np.ndarray) -> np.ndarray:
    """interval_logprob on a support that starts at 0 (gamma, lognormal): [max(y − ½, 0),
    y + ½]."""
    return interval_logprob(dist, y, lower=0.0)
