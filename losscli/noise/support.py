"""Supports: intervals of the real line, optionally the integers, declared as data.

A family's `support` (of y) and `pred_domain` (of ŷ) are these; their `description` is
used verbatim in skip reasons, errors and `losscli families`, and their `contains` mask
by the first pass to find the first row outside each.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

BLOCK = 1 << 20  # rows per block where a full-size temporary would cost a fresh 8 bytes/row


@dataclass(frozen=True)
class Support:
    """An interval of the real line, optionally restricted to the integers.

    `description` is used verbatim in skip reasons, errors and `losscli families`.
    """

    description: str
    lower: float = -math.inf
    upper: float = math.inf
    lower_open: bool = True
    upper_open: bool = True
    integer: bool = False

    def contains(self, x: np.ndarray) -> np.ndarray:
        """Boolean mask: which values lie in the support."""
        x = np.asarray(x, dtype=np.float64)
        mask = np.isfinite(x)
        if self.lower > -math.inf:
            mask &= (x > self.lower) if self.lower_open else (x >= self.lower)
        if self.upper < math.inf:
            mask &= (x < self.upper) if self.upper_open else (x <= self.upper)
        if self.integer:
            mask &= integral(x)
        return mask

    def holds(self, lo: float, hi: float, whole: bool) -> bool:
        """Whether every value of an array lies in the support, from its minimum lo, its
        maximum hi and whether all its values are whole numbers: no mask of the rows. False
        where lo or hi is not finite (a NaN or ±∞ among the values: the mask decides)."""
        if not (math.isfinite(lo) and math.isfinite(hi)):
            return False
        if self.lower > -math.inf and not (lo > self.lower if self.lower_open
                                           else lo >= self.lower):
            return False
        if self.upper < math.inf and not (hi < self.upper if self.upper_open
                                          else hi <= self.upper):
            return False
        return whole or not self.integer

    def first_outside(self, x: np.ndarray) -> int | None:
        """Index of the first value outside the support, or None."""
        bad = ~self.contains(x)
        if not bad.any():
            return None
        return int(np.argmax(bad))


REAL = Support("real numbers")
POSITIVE = Support("reals > 0", lower=0.0)
NONNEGATIVE = Support("reals ≥ 0", lower=0.0, lower_open=False)
UNIT_CLOSED = Support("probabilities in [0, 1]", 0.0, 1.0, False, False)
COUNTS = Support("integers ≥ 0", lower=0.0, lower_open=False, integer=True)


def integral(x: np.ndarray) -> np.ndarray:
    """Mask of the whole-number values of x, block by block (no full-size temporary)."""
    x = np.asarray(x, dtype=np.float64)
    mask = np.empty(x.shape, dtype=bool)
    flat, out = x.reshape(-1), mask.reshape(-1)
    for s in range(0, flat.size, BLOCK):
        v = flat[s:s + BLOCK]
        np.equal(v, np.floor(v), out=out[s:s + BLOCK])
    return mask
