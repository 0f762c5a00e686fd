"""Special functions in log space that several families share."""

from __future__ import annotations

import math

import numpy as np
from scipy import special

LOG_HALF = -math.log(2.0)


def log1mexp(x: np.ndarray) -> np.ndarray:
    """log(1 − eˣ) for x ≤ 0, accurate on both sides of −ln 2 (Mächler 2012)."""
    x = np.asarray(x, dtype=np.float64)
    near = x > LOG_HALF
    out = np.empty_like(x)
    with np.errstate(divide="ignore"):
        xn = x[near]
        out[near] = np.log(-np.expm1(xn))
        far = ~near
        out[far] = np.log1p(-np.exp(x[far]))
    return out


def gammaln_int(y: np.ndarray) -> np.ndarray:
    """log Γ(y + 1) for integer-valued y ≥ 0: a table lookup when the range is small."""
    top = float(y.max()) if y.size else 0.0
    if top < 1_000_000 and y.size > 10_000:
        table = special.gammaln(np.arange(int(top) + 1, dtype=np.float64) + 1.0)
        return table[y.astype(np.int64)]
    return special.gammaln(y + 1.0)
