"""Gauss–Legendre quadrature of a density across a short interval, with a per-row proof
that it meets the c.d.f. difference to a relative error of at most TOL.

A unit-interval probability P = ∫_a^b p(x) dx is written, with m = (a + b)/2 and
h = (b − a)/2 (in whatever variable the family integrates), as

    P = p(m) · h · I,   I = ∫_{−1}^{1} e^{g(s)} ds,   g(s) = log p(m + h s) − log p(m),

so g(0) = 0 and nothing underflows; log P = log p(m) + log h + log I_n, where I_n is the
n-point Gauss–Legendre sum Σᵢ wᵢ e^{g(sᵢ)}.

The bound. Split g(s) = c s + q(s), c = g′(0) real. A family supplies, per row,

* c;
* a curvature constant C with q(s) ≥ −C s²/2 on the real interval [−1, 1];
* a function Q(A) with |q(s)| ≤ Q(A) on the disc |s| ≤ A, where g is analytic
  (Q = ∞ where the family cannot show analyticity there).

(1) Error of the rule. If f = e^g is analytic inside the Bernstein ellipse E_ρ (foci ±1,
semi-axis sum ρ > 1) and |f| ≤ M there, the n-point Gauss–Legendre error is
|I − I_n| ≤ (64/15) M / ((1 − ρ⁻²) ρ²ⁿ). This is Trefethen's bound (Approximation Theory
and Approximation Practice, Thm 19.3; SIAM Review 50 (2008) 67–87, Thm 4.5), which is
written there as (64/15) M ρ^{−2m}/(ρ² − 1) for a rule of m + 1 nodes: with m = n − 1 it
is the expression above. E_ρ lies in the disc |s| ≤ A, A = (ρ + 1/ρ)/2 its semi-major
axis, and Re s ≤ A on it, so M ≤ exp(|c| A + Q(A)) (c is real, |e^g| = e^{Re g}).

(2) A lower bound of I. Let μ be the probability measure ∝ e^{cs} ds on [−1, 1]. By
Jensen, I = Z ∫ e^q dμ ≥ Z exp(∫ q dμ) ≥ Z e^{−C/2} (since s² ≤ 1), where
Z = ∫_{−1}^{1} e^{cs} ds = 2 sinh|c| / |c|. This keeps the bound tight when the density
changes by a large factor across the interval (e^{cs}), which a bound by min f would not.

Together, for every ρ > 1,

    |I − I_n| / I ≤ (32/15) · exp(|c| A + Q(A) + C/2) · |c| / sinh|c| / ((1 − ρ⁻²) ρ²ⁿ),

and the row takes the quadrature when one of the candidates RHOS brings this to at most
TOL (log(sinh x / x) is bounded below as in `log_sinhc_lower`). With n = 8 nodes only
ρ > (32/15/TOL)^{1/16} ≈ 4.4 can succeed, hence the candidates; the criterion costs a
handful of operations per row and candidate, on rows taken a block at a time.

From P to log P: the relative error of P̂ is at most TOL = 1e-10, so |log P̂ − log P| ≤
1.0000001 · TOL; the result is kept only where log P̂ ≤ LOG_P_MAX = −½ (else the c.d.f.
path is used), so the truncation error relative to |log P| is at most 2.0000001e-10.
The rest of the 1e-9 budget is for rounding, which the families bound in their
docstrings (at most 4.4e-10 against |log P|, at the most extreme gamma shapes).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from functools import cache

import numpy as np

NODES = 8
TOL = 1e-10  # relative error of P that the bound must prove
LOG_TOL = math.log(TOL)
LOG_P_MAX = -0.5  # quadrature results above this go to the c.d.f. path (|log P| small)
# semi-axis sums ρ of the Bernstein ellipses tried, in order, until the bound holds
RHOS = (6.0, 8.0, 5.0, 11.0, 16.0)
BLOCK = 1 << 14  # rows per block: the temporaries stay in cache
_LOG_32_15 = math.log(32.0 / 15.0)
_local = threading.local()
# Q(A) for the rows given (a slice or an index array)
Remainder = Callable[[float, "slice | np.ndarray"], np.ndarray]




@cache
def gauss_legendre(n: int = NODES) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of the n-point Gauss–Legendre rule on [−1, 1] (read-only; computed
    once per n: numpy finds them as eigenvalues, O(n³) per call)."""
    s, w = np.polynomial.legendre.leggauss(n)
    s.setflags(write=False)
    w.setflags(write=False)
    return s, w


@cache
def ellipses(n: int = NODES, rhos: tuple[float, ...] = RHOS) -> tuple[tuple[float, float], ...]:
    """(A, log of (32/15)/((1 − ρ⁻²) ρ²ⁿ)) for each candidate ρ, A = (ρ + 1/ρ)/2."""
    return tuple((0.5 * (r + 1.0 / r), _LOG_32_15 - 2.0 * n * math.log(r) - math.log1p(-r ** -2))
                 for r in rhos)


def _work(n: int, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Two (n, rows) work arrays, reused by the calling thread (no fresh pages per block)."""
    buf = getattr(_local, "buf", None)
    if buf is None or buf.shape[1] < n * rows:
        buf = _local.buf = np.empty((2, n * max(rows, BLOCK)))
    return buf[0, :n * rows].reshape(n, rows), buf[1, :n * rows].reshape(n, rows)


def log_integral(exponent: Callable[[slice, np.ndarray, np.ndarray, np.ndarray], None],
                 rows: int, n: int = NODES) -> np.ndarray:
    """log Σᵢ wᵢ e^{g(sᵢ)} per row, ≈ log ∫_{−1}^{1} e^{g(s)} ds.

    `exponent(sl, s, out, tmp)` writes g at the nodes s (shape (n, 1)) for the rows `sl`
    into `out` (shape (n, rows in sl)); `tmp` is scratch of the same shape. Rows are taken
    BLOCK at a time so that the work stays in cache.
    """
    w = gauss_legendre(n)[1]
    out = np.empty(rows)
    for sl, g, _ in _exponents(exponent, rows, n):
        np.exp(g, out=g)
        np.dot(w, g, out=out[sl])
    np.log(out, out=out)
    return out


def _exponents(exponent: Callable[[slice, np.ndarray, np.ndarray, np.ndarray], None],
               rows: int, n: int):
    """(the rows sl, g at the nodes for them, scratch of the same shape) for each BLOCK of
    rows, g written by `exponent`; the arrays are reused from one block to the next."""
    s = gauss_legendre(n)[0][:, None]
    for start in range(0, rows, BLOCK):
        sl = slice(start, min(start + BLOCK, rows))
        g, tmp = _work(n, sl.stop - start)
        exponent(sl, s, g, tmp)
        yield sl, g, tmp


def moments(exponent: Callable[[slice, np.ndarray, np.ndarray, np.ndarray], None],
            rows: int, n: int = NODES) -> tuple[np.ndarray, np.ndarray]:
    """(⟨g⟩, ⟨g²⟩) per row: the means of the exponent g of `log_integral` (whose
    `exponent` it takes) under the density across the interval,
    ⟨f⟩ = ∫ f e^g ds / ∫ e^g ds, each integral by the same rule.

    The derivative of log P in a parameter θ of the density is ⟨∂θ log p⟩, and its second
    needs ⟨(∂θ log p)²⟩: a family whose ∂θ log p is affine in g (the gamma's shape) has
    its score and curvature of an interval from these, where its c.d.f. has no closed
    derivative. g and g² are entire where g is, so the integrands g e^g and g² e^g are
    analytic where e^g is and the rule proven for P meets them to a like accuracy; they
    set a Newton step and an information, not a reported probability.
    """
    w = gauss_legendre(n)[1][:, None]
    m1 = np.empty(rows)
    m2 = np.empty(rows)
    for sl, g, e in _exponents(exponent, rows, n):
        np.exp(g, out=e)
        e *= w
        total = e.sum(axis=0)
        e *= g
        m1[sl] = e.sum(axis=0)
        e *= g
        m2[sl] = e.sum(axis=0)
        m1[sl] /= total
        m2[sl] /= total
    return m1, m2


def log_sinhc_lower(x: np.ndarray) -> np.ndarray:
    """A lower bound of log(sinh x / x), x ≥ 0: m − 1 − log m, m = max(x, 1).

    It is 0 for x ≤ 1 (sinh x ≥ x), and for x ≥ 1, sinh x = eˣ(1 − e⁻²ˣ)/2 ≥ eˣ(1 − e⁻²)/2
    gives log(sinh x / x) ≥ x − log x − log 2 + log(1 − e⁻²) ≥ x − log x − 1.
    """
    m = np.maximum(x, 1.0)
    out = np.log(m)
    np.subtract(m, out, out=out)
    out -= 1.0
    return out


def log1p_remainder(delta: np.ndarray) -> np.ndarray:
    """A bound of |log(1 + u) − u| over |u| ≤ δ: Σ_{j≥2} δʲ/j ≤ δ²/(2(1 − δ)); ∞ for δ ≥ 1,
    where log(1 + u) may be singular."""
    den = np.subtract(1.0, delta)
    np.maximum(den, 0.0, out=den)
    den *= 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.multiply(delta, delta)
        out /= den
    return out


def expm1_remainder(r: np.ndarray) -> np.ndarray:
    """A bound of |eʷ − 1 − w| over |w| ≤ r: Σ_{j≥2} rʲ/j! = eʳ − 1 − r."""
    out = np.expm1(r)
    out -= r
    return out


def log_error_bound(c: np.ndarray, curvature: np.ndarray, remainder: Remainder,
                    n: int = NODES, rhos: tuple[float, ...] = RHOS) -> np.ndarray:
    """Per row, the log of the bound of the module docstring on |I − I_n| / I, minimised
    over `rhos`.

    `c` is g′(0), `curvature` the constant C (q ≥ −C s²/2 on [−1, 1]) and
    `remainder(A, rows)` the bound Q(A) of |q| on the disc |s| ≤ A for the rows `rows` (a
    slice or an index array; ∞ where g is not shown analytic there). NaN rows give a bound
    of ∞ or NaN, which no tolerance accepts.
    """
    ac = np.abs(c)
    best = np.full(ac.shape, np.inf)
    with np.errstate(over="ignore", invalid="ignore"):
        for big_a, const in ellipses(n, rhos):
            np.fmin(best, _candidate(ac, remainder, big_a, const, slice(None)), out=best)
        best += _base(ac, curvature)
    return best


def _base(ac: np.ndarray, curvature: np.ndarray) -> np.ndarray:
    """C/2 − log(sinh|c|/|c|) (its lower bound), the part of the bound that no ρ changes."""
    with np.errstate(over="ignore", invalid="ignore"):
        base = 0.5 * curvature
        base -= log_sinhc_lower(ac)
    return base


def _candidate(ac: np.ndarray, remainder: Remainder, big_a: float, const: float,
               rows: slice | np.ndarray) -> np.ndarray:
    val = remainder(big_a, rows)
    val += ac * big_a
    val += const
    return val


def proven(c: np.ndarray, curvature: np.ndarray, remainder: Remainder, n: int = NODES,
           rhos: tuple[float, ...] = RHOS) -> np.ndarray:
    """Mask of the rows where the bound proves |I − I_n| / I ≤ TOL for some candidate ρ:
    the rows where log_error_bound(…) ≤ log TOL. The first candidate is tried on every
    row, the others only on the rows still unproven (and not NaN)."""
    ac = np.abs(c)
    (a0, k0), *others = ellipses(n, rhos)
    with np.errstate(over="ignore", invalid="ignore"):
        limit = LOG_TOL - _base(ac, curvature)
        ok = _candidate(ac, remainder, a0, k0, slice(None)) <= limit
        if not others or ok.all():
            return ok
        rows = np.flatnonzero(~ok & ~np.isnan(limit))
        for big_a, const in others:
            if not rows.size:
                break
            hit = _candidate(ac[rows], remainder, big_a, const, rows) <= limit[rows]
            ok[rows[hit]] = True
            rows = rows[~hit]
    return ok


def evaluate(rows: int, block: Callable[[slice, np.ndarray], np.ndarray],
             fallback: Callable[[np.ndarray], np.ndarray],
             size: int = BLOCK) -> tuple[np.ndarray, np.ndarray]:
    """Per-row log P, by quadrature (or another proven method) where it is proven and by
    `fallback` elsewhere.

    `block(sl, out)` writes the results it can prove for the rows `sl` into `out` (a view
    of those rows) and returns their mask (see `store`); the other rows are evaluated
    together by `fallback(indices)`. Returns the values and the mask of the rows done by
    `block`.
    """
    out = np.empty(rows)
    path = np.empty(rows, dtype=bool)
    for start in range(0, rows, size):
        sl = slice(start, min(start + size, rows))
        path[sl] = block(sl, out[sl])
    rest = np.flatnonzero(~path)
    if rest.size:
        out[rest] = fallback(rest)
    return out, path


def store(out: np.ndarray, mask: np.ndarray, vals: np.ndarray) -> np.ndarray:
    """out[mask] = vals where vals ≤ LOG_P_MAX; returns the mask of the rows stored (the
    others, whose |log P| is too small for the relative error to hold, stay with the
    caller's fallback). `mask` is updated in place."""
    ok = vals <= LOG_P_MAX
    if ok.all():
        if mask.all():
            out[...] = vals
        else:
            out[mask] = vals
        return mask
    idx = np.flatnonzero(mask)
    mask[idx[~ok]] = False
    out[mask] = vals[ok]
    return mask
