"""Count families by their p.m.f. recurrence: the rootogram and the PIT in one sweep.

For k = 0 … K the p.m.f. of every row follows P(Y = k) = P(Y = k − 1) · a(k) · s (one
multiply per row and k, no special function), so a block of rows gives the (K + 1) × n
table of probabilities: its weighted row sums are the rootogram's expected counts, its
cumulative sums the c.d.f. F(y − 1), F(y) of each row with y ≤ K. Rows above K (0.1 % of
the weight at most) take the family's c.d.f. The tail P(Y > K) is 1 − F(K) unless it is
small; where the block's tail is below 1e-4 of its weight, the rows' tails below 1e-3 are
summed forward from P(Y = K) until the terms vanish, so the cell keeps its relative
precision (1 − F(K) is exact to about K·1e-16 per row).
"""

from __future__ import annotations

import numpy as np

SMALL_TAIL = 1e-3
TAIL_SHARE = 1e-4  # a tail cell below this share of the weight is summed forward
MAX_TERMS = 100_000


def sweep(fam, y: np.ndarray, pred, params, top: int, w: np.ndarray | None
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(expected counts for k = 0 … top and P(Y > top) last, F(y − 1), F(y))."""
    n = y.size
    p0, s, a = fam.pmf_recurrence(pred, params)
    p0 = np.broadcast_to(p0, (n,))
    s = np.broadcast_to(s, (n,))
    table = np.empty((top + 1, n))
    table[0] = p0
    for k in range(1, top + 1):
        np.multiply(table[k - 1], s, out=table[k])
        table[k] *= a(k)
    expected = np.empty(top + 2)
    expected[:top + 1] = table.sum(axis=1) if w is None else table @ w
    last = table[top].copy()
    for k in range(1, top + 1):  # the c.d.f. in place, row by row (contiguous)
        table[k] += table[k - 1]
    tail = 1.0 - table[top]
    np.maximum(tail, 0.0, out=tail)
    weight = float(n) if w is None else float(w.sum())
    total = float(tail.sum()) if w is None else float(np.dot(tail, w))
    if total < TAIL_SHARE * weight:
        # 1 − F(K) is exact to ~K·1e-16 per row: relative to a tail this small, too coarse
        small = tail < SMALL_TAIL
        tail[small] = _forward_tail(last[small], s[small], a, top)
        total = float(tail.sum()) if w is None else float(np.dot(tail, w))
    expected[-1] = total
    k = y.astype(np.int64)
    inside = k <= top
    cols = np.arange(n)
    kk = np.minimum(k, top)
    hi = table[kk, cols]
    lo = np.where(k > 0, table[np.maximum(kk - 1, 0), cols], 0.0)
    if not inside.all():
        out = ~inside
        yo = y[out]
        po = pred[out] if np.ndim(pred) else pred
        lo[out] = fam.cdf(yo - 1.0, po, params)
        hi[out] = fam.cdf(yo, po, params)
    return expected, lo, hi


def _forward_tail(p_top: np.ndarray, s: np.ndarray, a, top: int) -> np.ndarray:
    """Σ_{k > top} P(Y = k), from P(Y = top) by the recurrence, each row until its next
    term is below 1e-17 of its sum."""
    acc = np.zeros(p_top.size)
    term = p_top.copy()
    live = np.arange(p_top.size)
    k = top
    while live.size and k < top + MAX_TERMS:
        k += 1
        term *= s[live] * a(k)
        acc[live] += term
        keep = term > 1e-17 * acc[live]
        if not keep.all():
            live, term = live[keep], term[keep]
    return acc
