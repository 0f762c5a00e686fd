"""The p-values of the KS and binomial nulls (SPEC §7.4) without importing scipy.stats.

SPEC names `scipy.stats.kstwo.sf(D, n)` and `scipy.stats.binomtest(T, W, 0.002)`. Importing
scipy.stats takes about 0.3 s, as long as the diagnostics' whole pass on 10M rows, so the
p-values are evaluated here through the scipy.special functions those two evaluate, and
scipy.stats is imported only where they need more (the exact Kolmogorov distribution at
small n or small n·D²). The values are the same floats (tested against both) wherever they
are normal doubles; a p-value below the smallest normal double has underflowed and is 0.
"""

from __future__ import annotations

import math

from scipy import special

_TINY = 2.2250738585072014e-308  # the smallest normal double

# Relative tolerance on "as likely as the observed count" (scipy.stats.binomtest's, R's).
_RERR = 1.0 + 1e-7


def kolmogorov_sf(d: float, n: int) -> float:
    """P(D_n ≥ d) for the two-sided KS statistic of n observations (= kstwo.sf(d, n)).

    For n > 140 and n·d² ≥ 2.2 (p below about 0.025) it is Miller's approximation
    2·P(D⁺_n ≥ d) = 2·smirnov(n, d), whose error is below P(D⁺_n ≥ d)², so exact in double
    precision; n·d² ≥ 370 (with d < ½) gives 0 (Simard and L'Ecuyer 2011, §4). Elsewhere the
    exact distribution's algorithms of scipy.stats are used.
    """
    t = n * d
    if n > 140 and 1.0 < t < n - 1 and t * d >= 2.2:
        if d < 0.5 and t * d >= 370.0:
            return 0.0
        return min(max(2.0 * float(special.smirnov(n, d)), 0.0), 1.0)
    from scipy import stats

    return float(stats.kstwo.sf(d, n))


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
    return min(1.0, value) if value >= _TINY else 0.0
