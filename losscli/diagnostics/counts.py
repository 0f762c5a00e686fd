"""Count families by their p.m.f. recurrence: the rootogram and the PIT in one sweep.

For k = 0 … K the p.m.f. of every row follows P(Y = k) = P(Y = k − 1) · a(k) · s (one
multiply per row and k, no special function); a zero-inflated family's from k = 2 on,
from the P(Y = 1) it states (`Family.pmf_one`). With the block's rows ordered by y, the
rows with y ≥ k are a suffix: one vector of P(Y = k) is kept, its weighted sum is the
rootogram's expected count at k, and it is added to the running c.d.f. of that suffix
only, so F(y − 1) and F(y) of the rows with y = k are read as k passes (the c.d.f. costs
Σ(y + 1) additions, not n·K). Rows above K (0.1 % of the weight at most) take the
family's c.d.f. The tail P(Y > K) is W − Σ_k E_k unless it is small: where the block's
tail is below 1e-4 of its weight, each row's 1 − F(K) is formed and those below 1e-3 are
summed forward from P(Y = K) until the terms vanish, so the cell keeps its relative
precision (1 − F(K) is exact to about K·1e-16 per row).
"""

from __future__ import annotations

import numpy as np

SMALL_TAIL = 1e-3
TAIL_SHARE = 1e-4  # a tail cell below this share of the weight is summed forward
MAX_TERMS = 100_000


BLOCK = 1 << 16  # rows per sweep: its vectors stay in the core's cache


def sweep(fam, y: np.ndarray, pred, params, top: int, w: np.ndarray | None
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(expected counts for k = 0 … top and P(Y > top) last, F(y − 1), F(y))."""
    if y.size <= BLOCK:
        return _sweep(fam, y, pred, params, top, w)
    expected = np.zeros(top + 2)
    lo = np.empty(y.size)
    hi = np.empty(y.size)
    for a in range(0, y.size, BLOCK):
        sl = slice(a, min(a + BLOCK, y.size))
        e, lo[sl], hi[sl] = _sweep(fam, y[sl], pred[sl] if np.ndim(pred) else pred, params,
                                   top, None if w is None else w[sl])
        expected += e
    return expected, lo, hi


def _sweep(fam, y: np.ndarray, pred, params, top: int, w: np.ndarray | None
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = y.size
    p0, s, a = fam.pmf_recurrence(pred, params)
    p1 = fam.pmf_one(pred, params)  # where P(Y = 1) does not follow from P(Y = 0)
    k = y.astype(np.int64)
    capped = np.minimum(k, top + 1)
    order = np.argsort(capped.astype(np.int16 if top < 32_000 else np.int64), kind="stable")
    starts = np.searchsorted(capped[order], np.arange(top + 2))  # first row with y ≥ j
    cur = np.broadcast_to(p0, (n,))[order]  # P(Y = j), rows in the order of y
    s = np.broadcast_to(s, (n,))[order]
    if p1 is not None:
        p1 = np.broadcast_to(p1, (n,))[order]
    ws = None if w is None else w[order]
    cdf = np.zeros(n)  # F(j − 1) on the rows with y ≥ j
    lo_s = np.empty(n)
    hi_s = np.empty(n)
    expected = np.empty(top + 2)
    for j in range(top + 1):
        if j == 1 and p1 is not None:
            cur = p1.copy()
        elif j:
            np.multiply(cur, s, out=cur)
            cur *= a(j)
        expected[j] = cur.sum() if ws is None else np.dot(cur, ws)
        b0, b1 = starts[j], starts[j + 1]
        lo_s[b0:b1] = cdf[b0:b1]
        suffix = cdf[b0:]
        np.add(suffix, cur[b0:], out=suffix)
        hi_s[b0:b1] = cdf[b0:b1]
    weight = float(n) if w is None else float(w.sum())
    total = max(weight - float(np.sum(expected[:-1])), 0.0)
    if total < TAIL_SHARE * weight:
        total = _small_tail(np.broadcast_to(p0, (n,))[order], s, a, top, cur, ws, p1)
    expected[-1] = total
    lo = np.empty(n)
    hi = np.empty(n)
    lo[order] = lo_s
    hi[order] = hi_s
    if starts[-1] < n:  # rows above K: the family's c.d.f.
        out = k > top
        yo = y[out]
        po = pred[out] if np.ndim(pred) else pred
        lo[out] = fam.cdf(yo - 1.0, po, params)
        hi[out] = fam.cdf(yo, po, params)
    return expected, lo, hi


def _small_tail(p0: np.ndarray, s: np.ndarray, a, top: int, p_top: np.ndarray,
                w: np.ndarray | None, p1: np.ndarray | None = None) -> float:
    """Σw P(Y > top) with each row's 1 − F(top) (F summed in the sweep's order) and the
    rows whose tail is below SMALL_TAIL summed forward instead; `p1`: P(Y = 1) where it
    does not follow from P(Y = 0) by the recurrence."""
    cur = p0.copy()
    cdf = p0.copy()
    for j in range(1, top + 1):
        if j == 1 and p1 is not None:
            cur = p1.copy()
        else:
            np.multiply(cur, s, out=cur)
            cur *= a(j)
        cdf += cur
    tail = np.maximum(1.0 - cdf, 0.0)
    small = tail < SMALL_TAIL
    tail[small] = _forward_tail(p_top[small], s[small], a, top)
    return float(tail.sum()) if w is None else float(np.dot(tail, w))


def _forward_tail(p_top: np.ndarray, s: np.ndarray, a, top: int) -> np.ndarray:
    """Σ_{k > top} P(Y = k), from P(Y = top) by the recurrence, each row until its next
    term is below 1e-17 of its sum. The rows still summing are compacted only when a
    quarter of them are done (a finished row's further terms are below 1e-17 of it)."""
    acc = np.zeros(p_top.size)
    live = np.arange(p_top.size)
    term = p_top.copy()
    ratio = s.copy()
    part = np.zeros(p_top.size)
    k = top
    while live.size and k < top + MAX_TERMS:
        k += 1
        term *= ratio
        term *= a(k)
        part += term
        going = term > 1e-17 * part
        done = live.size - int(np.count_nonzero(going))
        if done and (4 * done >= live.size or done == live.size):
            acc[live[~going]] = part[~going]
            live, term, ratio, part = live[going], term[going], ratio[going], part[going]
    acc[live] = part
    return acc
