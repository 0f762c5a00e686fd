"""The KS and binomial p-values of the diagnostics equal scipy.stats' kstwo.sf and binomtest.

The oracles are scipy.stats and scipy.special.smirnov, and the Birnbaum–Tingey series in
40-digit mpmath; the module under test evaluates the p-values without importing scipy.stats.
"""

from __future__ import annotations

import math
import subprocess
import sys

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special, stats

from losscli.diagnostics import nulls
from losscli.noise.logspace import stirling_delta

TINY = 2.2250738585072014e-308


def underflowed(p: float) -> float:
    return p if p >= TINY else 0.0


def same(got: float, want: float, rel: float = 1e-12) -> bool:
    """Equal to `rel`; below 1e-290, where the series' terms are subnormal, both tiny."""
    want = underflowed(want)
    if want < 1e-290:
        return underflowed(got) < 1e-290
    return got == want or abs(got - want) <= rel * want


# n ≤ 140 (exact algorithms), n > 10⁵ (Pelz–Good and Miller); between, scipy's exact
# matrix algorithm is slow at small n·d², so those n are drawn only with n·d² ≥ 2.2.
SMALL_N = st.integers(1, 140)
LARGE_N = st.one_of(st.integers(100_001, 200_000), st.integers(10**6 + 1, 10**9))


@settings(max_examples=300, deadline=None)
@given(n=st.one_of(SMALL_N, LARGE_N), z=st.floats(0.01, 30.0))
def test_kolmogorov_sf_equals_kstwo(n, z):
    d = min(z / math.sqrt(n), 0.9999)
    assert same(nulls.kolmogorov_sf(d, n), float(stats.kstwo.sf(d, n)))


@settings(max_examples=100, deadline=None)
@given(n=st.integers(141, 5000), z=st.floats(1.49, 30.0))
def test_kolmogorov_sf_equals_kstwo_between(n, z):
    d = min(z / math.sqrt(n), 0.9999)
    assert same(nulls.kolmogorov_sf(d, n), float(stats.kstwo.sf(d, n)))


@pytest.mark.parametrize(("d", "n"), [(0.0, 10), (1.0, 10), (0.5, 1000), (0.6, 2000),
                                      (0.0007, 10**7), (0.0011, 10**7), (0.02, 10**7),
                                      (1 / 300, 150), (0.9, 141), (0.004, 10**6),
                                      (0.004, 10**6 + 1)])
def test_kolmogorov_sf_edges(d, n):
    assert same(nulls.kolmogorov_sf(d, n), float(stats.kstwo.sf(d, n)))


@settings(max_examples=100, deadline=None)
@given(n=st.one_of(st.integers(2, 3000), st.integers(3000, 200_000)),
       z=st.floats(0.05, 40.0), far=st.floats(0.0, 0.999))
def test_smirnov_exact_equals_scipy_special(n, z, far):
    d = max(z / math.sqrt(n), far) if far > 0.9 else z / math.sqrt(n)
    if not 0.0 < d < 1.0:
        return
    assert same(nulls.smirnov_exact(n, d), float(special.smirnov(n, d)), rel=1e-12)


@pytest.mark.parametrize(("n", "d"), [(150, 0.13), (2000, 0.06), (20000, 0.02)])
def test_smirnov_exact_equals_the_series_at_40_digits(n, d):
    mpmath.mp.dps = 40
    dm, nm = mpmath.mpf(d), mpmath.mpf(n)
    want = dm * mpmath.fsum(mpmath.binomial(n, j) * (dm + j / nm) ** (j - 1)
                            * (1 - dm - j / nm) ** (n - j)
                            for j in range(int(mpmath.floor(nm * (1 - dm))) + 1))
    assert nulls.smirnov_exact(n, d) == pytest.approx(float(want), rel=1e-13)


@st.composite
def binomial_cases(draw):
    n = draw(st.one_of(st.integers(1, 200), st.integers(201, 10**5), st.integers(10**6, 10**8)))
    p = draw(st.one_of(st.sampled_from([0.002, 0.5, 1e-6, 0.999]), st.floats(1e-4, 1 - 1e-4)))
    spread = math.sqrt(n * p * (1 - p)) + 1.0
    k = round(n * p + draw(st.floats(-12.0, 12.0)) * spread)
    return min(max(k, 0), n), n, p


@settings(max_examples=400, deadline=None)
@given(binomial_cases())
def test_binomial_two_sided_equals_binomtest(case):
    k, n, p = case
    want = underflowed(float(stats.binomtest(k, n, p).pvalue))
    assert nulls.binomial_two_sided(k, n, p) == want


@pytest.mark.parametrize(("k", "n", "p"), [(0, 1, 0.5), (1, 1, 0.5), (1, 2, 0.5), (20000, 10**7,
                         0.002), (22199, 10**7, 0.002), (17800, 10**7, 0.002), (0, 10**7, 0.002),
                         (10**7, 10**7, 0.002), (5, 12345678, 0.3), (3, 6, 0.5), (0, 3, 0.999)])
def test_binomial_two_sided_edges(k, n, p):
    assert nulls.binomial_two_sided(k, n, p) == underflowed(float(stats.binomtest(k, n, p).pvalue))


def test_the_p_values_of_a_clear_misfit_do_not_import_scipy_stats():
    code = ("import sys; from losscli.diagnostics import nulls; "
            "nulls.kolmogorov_sf(0.001, 10**7); nulls.kolmogorov_sf(0.004, 10**6); "
            " nulls.binomial_two_sided(22199, 10**7, 0.002); "
            "print('scipy.stats' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(("m", "n"), [(25, 168), (676, 2632), (1765, 162678), (29, 291),
                                      (3, 141), (500, 10**6)])
def test_kolmogorov_sf_at_whole_multiples_of_one_over_n(m, n):
    """D = m/n exactly (a PIT of 0 gives it) and its neighbouring doubles: the series' last
    term is fixed by n·D exactly, not by a rounded n(1 − D)."""
    for d in (m / n, math.nextafter(m / n, 0.0), math.nextafter(m / n, 1.0)):
        assert same(nulls.kolmogorov_sf(d, n), float(stats.kstwo.sf(d, n)))


def test_kolmogorov_sf_of_nan_is_nan():
    assert math.isnan(nulls.kolmogorov_sf(math.nan, 1000))


def test_binomial_tolerance_counts_outcomes_within_1e7_of_the_observed_pmf():
    # p chosen so that pmf(3) = pmf(0)·(1 + 5e-8): outcome 3 is "as likely" as 0
    k, n, p = 0, 1000, 0.001815637633980722
    assert nulls.binomial_two_sided(k, n, p) == float(stats.binomtest(k, n, p).pvalue)


@pytest.mark.parametrize("x", [1.0, 2.0, 7.0, 15.0, 16.0, 40.0, 1234.0, 1e6])
def test_stirling_error_equals_mpmath(x):
    mpmath.mp.dps = 40
    xm = mpmath.mpf(x)
    want = (mpmath.loggamma(xm + 1) - (xm + 0.5) * mpmath.log(xm) + xm
            - mpmath.log(2 * mpmath.pi) / 2)
    got = stirling_delta(np.array([x]))[0]
    assert stirling_delta(x) == pytest.approx(float(want), rel=1e-14)
    assert got == pytest.approx(float(want), rel=1e-14)
