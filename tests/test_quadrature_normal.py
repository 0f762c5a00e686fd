"""The quadrature path of the discretised gaussian and lognormal likelihoods against mpmath.

Oracle, at 40 significant digits (more where y ± ½, the interval's width against σ or its
width in log y need them): log(Φ(z_b) − Φ(z_a)) by differences of mpmath.ncdf, taking the
tail that is small on each side (so that nothing cancels in 1 − Φ), with z_a, z_b formed
in mpmath from the float inputs; for the lognormal interval [0, y + ½] just log Φ(z_b).
The oracle is cross-checked against mpmath.quad of the density.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from losscli.noise import quadrature
from losscli.noise.base import ContinuousFamily
from losscli.noise.discretised import Discretised
from losscli.noise.gaussian import Gaussian, normal_bound, normal_log_interval
from losscli.noise.lognormal import LogNormal

RTOL = 1e-9
DPS = 40
N = Gaussian()
L = LogNormal()


# ---------------------------------------------------------------- oracles


def _digits(*xs: float) -> int:
    big = max([abs(float(x)) for x in xs if math.isfinite(float(x))] + [1.0])
    return DPS + int(math.log10(big)) + 5


def _log_prob(za, zb):
    """log(Φ(zb) − Φ(za)) (za < zb, mpmath numbers; za may be −∞), from the small tails."""
    if za == -mp.inf:
        return mp.log(mp.ncdf(zb)) if zb <= 0 else mp.log1p(-mp.ncdf(-zb))
    if zb <= 0:
        return mp.log(mp.ncdf(zb) - mp.ncdf(za))
    if za >= 0:
        return mp.log(mp.ncdf(-za) - mp.ncdf(-zb))
    return mp.log1p(-(mp.ncdf(za) + mp.ncdf(-zb)))


def gauss_oracle(y: float, m: float, sigma: float) -> float:
    """log P(y − ½ < Y ≤ y + ½), Y ~ N(m, σ²)."""
    with mp.workdps(_digits(y, m, sigma, 1.0 / sigma)):
        s = mp.mpf(sigma)
        za = (mp.mpf(y) - mp.mpf(0.5) - mp.mpf(m)) / s
        zb = (mp.mpf(y) + mp.mpf(0.5) - mp.mpf(m)) / s
        return float(_log_prob(za, zb))


def lognormal_oracle(y: float, m: float, sigma: float) -> float:
    """log P(max(y − ½, 0) < Y ≤ y + ½), log Y ~ N(log m, σ²)."""
    with mp.workdps(_digits(y, m, 1.0 / m, sigma, 1.0 / sigma)):
        s, lm = mp.mpf(sigma), mp.log(mp.mpf(m))
        a = mp.mpf(y) - mp.mpf(0.5)
        za = (mp.log(a) - lm) / s if a > 0 else -mp.inf
        zb = (mp.log(mp.mpf(y) + mp.mpf(0.5)) - lm) / s
        return float(_log_prob(za, zb))


def _quad_oracle(za: float, zb: float) -> float:
    """log ∫ φ over [za, zb] by mpmath.quad, relative to φ at the midpoint."""
    with mp.workdps(DPS):
        za, zb = mp.mpf(za), mp.mpf(zb)
        zm = (za + zb) / 2
        val = mp.quad(lambda z: mp.exp((zm * zm - z * z) / 2), [za, zm, zb])
        return float(-zm * zm / 2 - mp.log(2 * mp.pi) / 2 + mp.log(val))


def _gauss_expected(y, m, sigma) -> np.ndarray:
    m = np.broadcast_to(m, np.shape(y))
    return np.array([gauss_oracle(float(a), float(b), sigma) for a, b in zip(y, m, strict=True)])


def _lognormal_expected(y, m, sigma) -> np.ndarray:
    m = np.broadcast_to(m, np.shape(y))
    return np.array([lognormal_oracle(float(a), float(b), sigma)
                     for a, b in zip(y, m, strict=True)])


def _gauss(y, m, sigma) -> np.ndarray:
    y = np.asarray(y, dtype=np.float64)
    return N.interval_loglik(y, np.broadcast_to(np.asarray(m, dtype=np.float64), y.shape),
                             {"sigma": sigma})


def _lognormal(y, m, sigma) -> np.ndarray:
    y = np.asarray(y, dtype=np.float64)
    return L.interval_loglik(y, np.broadcast_to(np.asarray(m, dtype=np.float64), y.shape),
                             {"sigma": sigma})


def _path(z, delta) -> np.ndarray:
    """The rows that the quadrature scores: the bound holds and log P ≤ LOG_P_MAX."""
    z = np.asarray(z, dtype=np.float64)
    delta = np.broadcast_to(np.asarray(delta, dtype=np.float64), z.shape)
    ok = quadrature.proven(*normal_bound(z, delta))
    with np.errstate(over="ignore", invalid="ignore"):
        ok &= normal_log_interval(z, delta) <= quadrature.LOG_P_MAX
    return ok


def gauss_path(y, m, sigma) -> np.ndarray:
    return _path((np.asarray(y, dtype=np.float64) - m) / sigma, 0.5 / sigma)


def lognormal_path(y, m, sigma) -> np.ndarray:
    y = np.asarray(y, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        a = y - 0.5
        z = np.log(np.sqrt(a * (y + 0.5)) / m) / sigma
        delta = 0.5 * np.log1p(1.0 / a) / sigma
    return (y > 0.5) & _path(z, delta)


def _nb2_counts(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """y ~ NB2(μ, α = 1) with μ = exp(N(log 2.5, 0.8)): a typical count data set."""
    rng = np.random.default_rng(seed)
    mu = np.exp(rng.normal(math.log(2.5), 0.8, n))
    return rng.poisson(rng.gamma(1.0, mu)).astype(np.float64), mu


def test_the_oracle_agrees_with_quadrature_of_the_density():
    for za, zb in [(-0.3, 0.2), (1.0, 1.4), (-9.0, -8.5), (30.0, 30.01), (-2.0, 3.0)]:
        with mp.workdps(DPS):
            exact = float(_log_prob(mp.mpf(za), mp.mpf(zb)))
        assert exact == pytest.approx(_quad_oracle(za, zb), rel=1e-14)
    # the gaussian oracle is the lognormal's in log y
    with mp.workdps(DPS):
        za = (mp.log(mp.mpf(6.5)) - mp.log(mp.mpf(2.0))) / mp.mpf(0.7)
        zb = (mp.log(mp.mpf(7.5)) - mp.log(mp.mpf(2.0))) / mp.mpf(0.7)
        za, zb = float(za), float(zb)
    assert lognormal_oracle(7.0, 2.0, 0.7) == pytest.approx(_quad_oracle(za, zb), rel=1e-12)


# ---------------------------------------------------------------- the bound


def test_the_normal_bound_exceeds_the_actual_error_of_small_rules():
    # g = −zδ s − δ² s²/2 is entire; with few nodes the error is large enough to see
    seen = 0
    rhos = (1.3, 1.6, 2.0, 3.0, 4.0, 6.0, 8.0, 11.0, 16.0)
    for z in [0.0, 0.5, -3.0, 8.0, 40.0]:
        for delta in [0.02, 0.1, 0.3, 0.8, 1.5]:
            c, cur, rem = normal_bound(np.array([z]), delta)
            with mp.workdps(DPS):
                exact = mp.quad(lambda s, z=z, d=delta: mp.exp(-z * d * s - d * d * s * s / 2),
                                [-1, 0, 1])
            for n in (2, 3, 4, 6, 8):
                s, w = np.polynomial.legendre.leggauss(n)
                approx = float(np.dot(w, np.exp(-z * delta * s - delta * delta * s * s / 2)))
                err = float(abs(mp.mpf(approx) - exact) / exact)
                bound = float(np.exp(quadrature.log_error_bound(c, cur, rem, n, rhos))[0])
                if err > 1e-14:
                    seen += 1
                    assert err <= bound
    assert seen > 20


def test_normal_bound_accepts_exactly_what_the_bound_proves():
    z = np.linspace(-60.0, 60.0, 1201)
    for delta in [1e-6, 0.05, 0.25, 0.5, 1.0, 1.3]:
        c, cur, rem = normal_bound(z, delta)
        ok = quadrature.proven(c, cur, rem)
        np.testing.assert_array_equal(ok, quadrature.log_error_bound(c, cur, rem)
                                      <= quadrature.LOG_TOL)
    # nothing wider than δ² ≈ 1.1 (see normal_log_interval's rounding note)
    c, cur, rem = normal_bound(np.zeros(1), 1.06)
    assert not quadrature.proven(c, cur, rem).any()


# ---------------------------------------------------------------- gaussian

G_SIGMAS = [0.35, 0.7, 1.5, 4.0, 30.0, 1e4]


@pytest.mark.parametrize("sigma", G_SIGMAS)
def test_gauss_matches_mpmath_on_a_grid(sigma):
    y = np.arange(-12.0, 13.0)
    for m in [0.0, 0.25, -3.7, 1.5]:
        got = _gauss(y, m, sigma)
        np.testing.assert_allclose(got, _gauss_expected(y, m, sigma), rtol=RTOL)
    if sigma >= 1.5:
        assert gauss_path(y, 0.25, sigma).mean() > 0.5


@pytest.mark.parametrize("sigma", [0.6, 0.8, 1.5, 4.0, 30.0])
def test_gauss_matches_mpmath_on_both_sides_of_the_switch(sigma):
    # residuals on a fine grid, out to |c| = |z| δ = 8; at every change of path, the two
    # rows beside it
    r = np.linspace(0.0, sigma * max(60.0, 16.0 * sigma), 6001)
    path = gauss_path(r, 0.0, sigma)
    flips = np.flatnonzero(path[1:] != path[:-1])
    assert flips.size
    idx = np.unique(np.concatenate([flips, flips + 1]))
    got = _gauss(r[idx], 0.0, sigma)
    np.testing.assert_allclose(got, _gauss_expected(r[idx], 0.0, sigma), rtol=RTOL)


def test_gauss_far_tails_match_mpmath():
    # P down to 1e-300 and beyond (log P is scored far below the float range of P)
    for sigma, y in [(1.0, [-37.0, 30.0, 36.5, 37.5, 300.0]),
                     (1e3, [-3.7e4, 2.9e4, 3.6e4, 3.7e4]),  # quadrature: δ = 5e-4
                     (0.05, [-1.0, 1.0, 2.0, 20.0])]:
        y = np.array(y)
        expected = _gauss_expected(y, 0.0, sigma)
        assert expected.min() < math.log(1e-300)
        np.testing.assert_allclose(_gauss(y, 0.0, sigma), expected, rtol=RTOL)
    assert gauss_path(np.array([-3.7e4, 3.7e4]), 0.0, 1e3).all()


@pytest.mark.parametrize("sigma", [1e-3, 0.01, 0.2, 1e6, 1e12, 1e100])
def test_gauss_tiny_and_huge_sigma_match_mpmath(sigma):
    y = np.array([-3.0, 0.0, 1.0, 2.0, 7.0, 1e3, 1e8])
    got = _gauss(y, 0.1, sigma)
    np.testing.assert_allclose(got, _gauss_expected(y, 0.1, sigma), rtol=RTOL, atol=1e-300)
    if sigma >= 1e6:
        assert gauss_path(y, 0.1, sigma).all()


def test_gauss_non_integer_targets_match_mpmath():
    y = np.array([-2.3, -0.5, 0.1, 0.75, 3.3, 17.9])
    for sigma in [0.4, 2.0, 25.0]:
        got = _gauss(y, 1.1, sigma)
        np.testing.assert_allclose(got, _gauss_expected(y, 1.1, sigma), rtol=RTOL)


@settings(max_examples=150, deadline=None)
@given(st.floats(-2.0, 4.0), st.integers(-10**6, 10**6), st.floats(-45.0, 45.0),
       st.booleans())
def test_gauss_matches_mpmath_on_drawn_parameters(log_sigma, y, shift, near):
    sigma = 10.0 ** log_sigma
    # half the draws put ŷ within a few σ of y (the quadrature region), half anywhere
    m = y - shift * sigma if near else y - shift
    got = _gauss(np.array([float(y)]), np.array([m]), sigma)
    assert got[0] == pytest.approx(gauss_oracle(y, m, sigma), rel=RTOL, abs=1e-300)


def test_gauss_scalar_prediction_equals_array_prediction():
    y, _ = _nb2_counts(3, 5000)
    a = N.interval_loglik(y, 1.7, {"sigma": 2.5})
    b = N.interval_loglik(y, np.full(y.size, 1.7), {"sigma": 2.5})
    np.testing.assert_allclose(a, b, rtol=1e-14)


# ---------------------------------------------------------------- lognormal

L_SIGMAS = [0.03, 0.2, 0.6, 1.5, 5.0, 200.0]


@pytest.mark.parametrize("sigma", L_SIGMAS)
def test_lognormal_matches_mpmath_on_a_grid(sigma):
    y = np.concatenate([np.arange(0.0, 40.0), [100.0, 1e3, 1e5, 1e9]])
    for m in [0.3, 1.0, 2.5, 17.0, 1e4]:
        got = _lognormal(y, m, sigma)
        np.testing.assert_allclose(got, _lognormal_expected(y, m, sigma), rtol=RTOL,
                                   atol=1e-300)
    if 0.6 <= sigma <= 5.0:
        assert lognormal_path(y, 2.5, sigma).mean() > 0.5


@pytest.mark.parametrize("sigma", [0.05, 0.3, 1.0, 3.0])
def test_lognormal_matches_mpmath_on_both_sides_of_the_switch(sigma):
    y = np.arange(1.0, 400.0)
    for m in [0.7, 3.0, 40.0]:
        path = lognormal_path(y, m, sigma)
        flips = np.flatnonzero(path[1:] != path[:-1])
        idx = np.unique(np.concatenate([flips, flips + 1]))
        if not idx.size:
            continue
        got = _lognormal(y[idx], m, sigma)
        np.testing.assert_allclose(got, _lognormal_expected(y[idx], m, sigma), rtol=RTOL)
    # medians on a fine grid against one target: both sides of the switch in z
    ms = np.geomspace(1e-40, 1e40, 8001)
    seen = 0
    for yv in [1.0, 4.0, 30.0, 500.0]:
        path = lognormal_path(np.full(ms.size, yv), ms, sigma)
        flips = np.flatnonzero(path[1:] != path[:-1])
        seen += flips.size
        idx = np.unique(np.concatenate([flips, flips + 1]))
        got = _lognormal(np.full(idx.size, yv), ms[idx], sigma)
        np.testing.assert_allclose(got, _lognormal_expected(np.full(idx.size, yv), ms[idx],
                                                            sigma), rtol=RTOL)
    assert seen


@pytest.mark.parametrize("sigma", [0.01, 0.3, 1.0, 4.0, 1e3])
def test_lognormal_zero_matches_mpmath(sigma):
    # the interval [0, ½] (and [0, y + ½] for non-integer y ≤ ½): log Φ(z_b) alone
    y = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.3, 0.5])
    m = np.array([1e-200, 1e-3, 0.5, 3.0, 1e6, 2.0, 0.1])
    got = _lognormal(y, m, sigma)
    np.testing.assert_allclose(got, _lognormal_expected(y, m, sigma), rtol=RTOL, atol=1e-300)


def test_lognormal_far_tails_match_mpmath():
    for sigma, m, y in [(0.05, 2.0, [0.0, 1.0, 6.0, 20.0, 1e3]),
                        (1.0, 1e-20, [0.0, 1.0, 5.0, 1e6]),
                        (0.3, 1e9, [0.0, 1.0, 40.0, 1e3]),
                        (8.0, 1e-300, [0.0, 2.0, 1e4])]:
        y = np.array(y)
        expected = _lognormal_expected(y, m, sigma)
        assert expected.min() < math.log(1e-300)
        np.testing.assert_allclose(_lognormal(y, m, sigma), expected, rtol=RTOL)


@pytest.mark.parametrize("sigma", [1e-4, 1e-3, 0.02, 50.0, 1e4, 1e8])
def test_lognormal_tiny_and_huge_sigma_match_mpmath(sigma):
    y = np.array([0.0, 1.0, 2.0, 3.0, 10.0, 1e3, 1e7])
    got = _lognormal(y, 2.2, sigma)
    np.testing.assert_allclose(got, _lognormal_expected(y, 2.2, sigma), rtol=RTOL,
                               atol=1e-300)
    if sigma >= 50.0:
        assert lognormal_path(y[1:], 2.2, sigma).all()


def test_lognormal_non_integer_targets_match_mpmath():
    y = np.array([0.2, 0.5, 0.51, 0.75, 1.3, 2.5, 9.9, 123.4])
    for sigma in [0.1, 0.8, 3.0]:
        got = _lognormal(y, 1.8, sigma)
        np.testing.assert_allclose(got, _lognormal_expected(y, 1.8, sigma), rtol=RTOL)


@settings(max_examples=150, deadline=None)
@given(st.floats(-2.0, 2.5), st.integers(0, 10**6), st.floats(-8.0, 8.0), st.booleans())
@example(2.4375, 237854, 3.0, True)  # m = e^-700: √(ab)/m overflows
@example(2.4375, 3, -3.0, True)  # m = e^700: it underflows
def test_lognormal_matches_mpmath_on_drawn_parameters(log_sigma, y, shift, near):
    sigma = 10.0 ** log_sigma
    # the median a few σ from y on the log scale, or anywhere in [1e-8 y, 1e8 y]
    log_y = math.log(max(y, 0.5))
    log_m = log_y - shift * sigma if near else log_y - 2.3 * shift
    m = math.exp(min(max(log_m, -700.0), 700.0))
    got = _lognormal(np.array([float(y)]), np.array([m]), sigma)
    assert got[0] == pytest.approx(lognormal_oracle(y, m, sigma), rel=RTOL, abs=1e-300)


def test_lognormal_scalar_prediction_equals_array_prediction():
    y, _ = _nb2_counts(3, 5000)
    a = L.interval_loglik(y, 1.7, {"sigma": 0.9})
    b = L.interval_loglik(y, np.full(y.size, 1.7), {"sigma": 0.9})
    np.testing.assert_allclose(a, b, rtol=1e-14)


# ---------------------------------------------------------------- typical count data


@pytest.fixture(scope="module")
def counts():
    return _nb2_counts(5, 200_000)


@pytest.mark.parametrize("fitted", [False, True])
def test_typical_counts_mostly_take_the_quadrature_path_gauss(counts, fitted):
    y, mu = counts
    fam = Discretised(N)
    params = fam.fit(y[:20_000], None, mu[:20_000]) if fitted else {"sigma": 3.0}
    sigma = params["sigma"]
    assert gauss_path(y, mu, sigma).mean() > 0.95
    got = fam.loglik(y, mu, params)
    np.testing.assert_allclose(got, ContinuousFamily.interval_loglik(N, y, mu, params),
                               rtol=1e-10)
    idx = np.random.default_rng(6).choice(y.size, 60, replace=False)
    np.testing.assert_allclose(got[idx], _gauss_expected(y[idx], mu[idx], sigma), rtol=RTOL)


@pytest.mark.parametrize("fitted", [False, True])
def test_typical_counts_mostly_take_the_quadrature_path_lognormal(counts, fitted):
    y, mu = counts
    fam = Discretised(L)
    params = fam.fit(y[:20_000], None, mu[:20_000]) if fitted else {"sigma": 1.0}
    sigma = params["sigma"]
    path = lognormal_path(y, mu, sigma)
    positive = y >= 1
    assert path.mean() > 0.6  # every row but y = 0 (a third of these data), nearly
    assert path[positive].mean() > 0.95
    got = fam.loglik(y, mu, params)
    np.testing.assert_allclose(got, ContinuousFamily.interval_loglik(L, y, mu, params),
                               rtol=1e-10)
    idx = np.random.default_rng(7).choice(y.size, 60, replace=False)
    np.testing.assert_allclose(got[idx], _lognormal_expected(y[idx], mu[idx], sigma),
                               rtol=RTOL)
