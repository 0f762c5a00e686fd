"""The p-values of the KS and binomial nulls (SPEC §7.4) without importing scipy.stats.

SPEC names `scipy.stats.kstwo.sf(D, n)` and `scipy.stats.binomtest(T, W, 0.002)`. Importing
scipy.stats takes about 0.3 s, as long as the diagnostics' whole pass on 10M rows, so the
p-values are evaluated here through the scipy.special functions those two evaluate, and
scipy.stats is imported only where they need more (the exact Kolmogorov distribution at
small n or small n·D²). They equal scipy's (tested against both: the binomial's as floats,
the KS p-value to 7e-13); a p-value below the smallest normal double has underflowed and
is 0.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
from scipy import special

from losscli.noise.logspace import stirling_delta

_TINY = 2.2250738585072014e-308  # the smallest normal double

EXACT_SMIRNOV_MAX_N = 1_000_000  # scipy.special.smirnov sums the exact series up to here

# Relative tolerance on "as likely as the observed count" (scipy.stats.binomtest's, R's).
_RERR = 1.0 + 1e-7


def kolmogorov_sf(d: float, n: int) -> float:
    """P(D_n ≥ d) for the two-sided KS statistic of n observations (= kstwo.sf(d, n)).

    For n > 140 and n·d² ≥ 2.2 (p below about 0.025) kstwo.sf returns Miller's
    approximation 2·P(D⁺_n ≥ d) (its relative error is below 2e-6 there), and 0 for
    n·d² ≥ 370 with d < ½ (Simard and L'Ecuyer 2011, §4). P(D⁺_n ≥ d) is
    scipy.special.smirnov beyond 10⁶ observations and `smirnov_exact` up to there (the
    same series, 10× faster than smirnov's; equal to 7e-13 relative above 1e-290). Elsewhere
    the exact distribution's algorithms of scipy.stats are used.
    """
    t = n * d
    if n > 140 and 1.0 < t < n - 1 and t * d >= 2.2:
        if d < 0.5 and t * d >= 370.0:
            return 0.0
        one = smirnov_exact(n, d) if n <= EXACT_SMIRNOV_MAX_N else float(special.smirnov(n, d))
        p = min(max(2.0 * one, 0.0), 1.0)
        return 0.0 if p < _TINY else p
    from scipy import stats

    p = float(stats.kstwo.sf(d, n))
    return 0.0 if p < _TINY else p  # (NaN stays NaN)


def smirnov_exact(n: int, d: float) -> float:
    """P(D⁺_n ≥ d), 0 < d < 1, by the Birnbaum–Tingey series

        d · Σ_{j=0}^{⌊n(1−d)⌋} C(n, j) a_j^(j−1) (1 − a_j)^(n−j),   a_j = d + j/n.

    Term j is the binomial p.m.f. b(j; n, a_j) over a_j, evaluated in Loader's saddle-point
    form: log b = δ(n) − δ(j) − δ(n−j) − D(j, j + nd) − D(n−j, n−j−nd) + ½·log(n/(2πj(n−j))),
    δ the Stirling error, D(x, M) = x·log(x/M) + M − x the deviance, computed from the exact
    differences x − M = ∓nd (the means n·a_j are not rounded), so that a term keeps its
    relative precision where its logarithm is large."""
    t = n * d
    last = n - 1 - math.floor(Fraction(d) * n)  # the last j with a_j < 1, from n·d exactly
    j = np.arange(1.0, last + 1.0)
    k = n - j
    log_b = (stirling_delta(float(n)) - stirling_delta(j) - stirling_delta(k)
             - _deviance(j, j + t, -t) - _deviance(k, k - t, t)
             + 0.5 * np.log(n / (2.0 * math.pi * j * k)))
    terms = np.exp(log_b) / (d + j / n)
    return d * (math.exp(n * math.log1p(-d)) / d + float(np.sum(terms)))


def _deviance(x: np.ndarray, m: np.ndarray, diff: float) -> np.ndarray:
    """D(x, M) = x·log(x/M) + M − x for x > 0, given x − M = diff; where |diff| < 0.1(x + M)
    by the series 2x·Σ_{k≥1} v^(2k+1)/(2k+1) + diff·v, v = diff/(x + M) (no cancellation)."""
    out = np.empty_like(x)
    near = np.abs(diff) < 0.1 * (x + m)
    xs = x[near]
    v = diff / (xs + m[near])
    v2 = v * v
    s = diff * v
    ej = 2.0 * xs * v
    for k in range(1, 12):  # v² < 0.01: 11 terms reach 1e-22 of the first
        ej = ej * v2
        s = s + ej / (2 * k + 1)
    out[near] = s
    xf, mf = x[~near], m[~near]
    with np.errstate(divide="ignore"):  # M = 0 (a_j = 1): the term is 0
        out[~near] = xf * np.log(xf / mf) + mf - xf
    return out


def binomial_two_sided(k: int, n: int, p: float) -> float:
    """The two-sided binomial p-value of k successes in n trials (= binomtest(k, n, p)).

    p-value = Σ P(X = j) over every j with P(X = j) ≤ (1 + 1e-7)·P(X = k): the tail beyond
    k plus the far tail, whose edge is found by bisection on the p.m.f., which is
    non-increasing on [⌈np⌉, n] and non-decreasing on [0, ⌊np⌋].
    """
    ufuncs = special._ufuncs  # noqa: SLF001 — the binomial p.m.f., c.d.f. and s.f.
    pmf = getattr(ufuncs, "_binom_pmf", None)
    cdf = getattr(ufuncs, "_binom_cdf", None)
    sf = getattr(ufuncs, "_binom_sf", None)
    if pmf is None or cdf is None or sf is None:  # an older scipy: scipy.stats has them
        from scipy import stats

        return float(stats.binomtest(k, n, p).pvalue)

    def below(j: int) -> float:
        return float(cdf(j, n, p)) if j >= 0 else 0.0  # P(X ≤ j)

    def above(j: int) -> float:
        return float(sf(j, n, p)) if j < n else 0.0  # P(X > j)

    if k == p * n:
        return 1.0
    bound = float(pmf(k, n, p)) * _RERR
    if k < p * n:
        # the first j in [⌈np⌉, n] with pmf(j) ≤ bound, n + 1 if none
        lo, hi = math.ceil(p * n), n + 1
        while lo < hi:
            mid = (lo + hi) // 2
            if float(pmf(mid, n, p)) <= bound:
                hi = mid
            else:
                lo = mid + 1
        value = below(k) + above(lo - 1)
    else:
        # the last j in [0, ⌊np⌋] with pmf(j) ≤ bound, −1 if none
        lo, hi = -1, math.floor(p * n)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if float(pmf(mid, n, p)) <= bound:
                lo = mid
            else:
                hi = mid - 1
        value = below(lo) + above(k - 1)
    return 0.0 if value < _TINY else min(1.0, value)
