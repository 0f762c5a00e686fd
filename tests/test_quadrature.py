"""The quadrature path of the discretised student_t and gamma likelihoods against mpmath.

Oracles, at 40 significant digits (more where y ± ½ needs them): for student_t,
log(F(b) − F(a)) by mpmath.quad of the t density; for gamma, by mpmath's regularised
incomplete gamma function (each side's small tail), cross-checked against mpmath.quad of
the gamma density, which also stands in where mpmath's series do not converge (shapes of
~1e4 and more). The error bound is checked against the actual error of rules with few
nodes, where that error is large enough to see, and the path selectors on typical count
data.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from losscli.noise import gamma as gamma_module
from losscli.noise import quadrature
from losscli.noise import tdist as t_module
from losscli.noise.base import ContinuousFamily
from losscli.noise.gamma import Gamma
from losscli.noise.student_t import StudentT

RTOL = 1e-9
DPS = 40
T = StudentT()
G = Gamma()


# ---------------------------------------------------------------- oracles


def _digits(*xs: float) -> int:
    """40 digits, plus those that y ± ½ and y − ŷ need at the magnitudes involved."""
    big = max([abs(float(x)) for x in xs] + [1.0])
    return DPS + int(math.log10(big)) + 2


def t_oracle(y: float, m: float, df: float, scale: float) -> float:
    """log P(y − ½ < Y ≤ y + ½), Y ~ t_ν(m, σ), by mpmath.quad of the density."""
    with mp.workdps(_digits(y, m)):
        nu, s = mp.mpf(df), mp.mpf(scale)
        za = (mp.mpf(y) - mp.mpf(0.5) - mp.mpf(m)) / s
        zb = (mp.mpf(y) + mp.mpf(0.5) - mp.mpf(m)) / s
        zm = (za + zb) / 2
        log_c = mp.loggamma((nu + 1) / 2) - mp.loggamma(nu / 2) - mp.log(nu * mp.pi) / 2
        half = (nu + 1) / 2

        def log_f(z):
            return -half * mp.log1p(z * z / nu)

        lm = log_f(zm)  # the integrand relative to its midpoint value: nothing underflows
        pts = sorted({za, zm, zb} | ({mp.mpf(0)} if za < 0 < zb else set()))
        val, err = mp.quad(lambda z: mp.exp(log_f(z) - lm), pts, error=True)
        assert err < mp.mpf(10) ** (-30) * val
        return float(log_c + lm + mp.log(val))


def gamma_oracle(y: float, mu: float, k: float) -> float:
    """log P(max(y − ½, 0) < Y ≤ y + ½), Y ~ Gamma(k, mean μ), from mpmath's regularised
    incomplete gamma function, differencing the tail that is small on each side."""
    with mp.workdps(_digits(y, mu, k)):
        k_, mu_ = mp.mpf(k), mp.mpf(mu)
        a = max(mp.mpf(y) - mp.mpf(0.5), mp.mpf(0))
        b = mp.mpf(y) + mp.mpf(0.5)
        xa, xb = k_ * a / mu_, k_ * b / mu_

        def lower(x):
            return mp.gammainc(k_, 0, x, regularized=True)

        def upper(x):
            return mp.gammainc(k_, x, mp.inf, regularized=True)

        try:
            if xb <= k_:
                return float(mp.log(lower(xb) - lower(xa)))
            if xa >= k_:
                return float(mp.log(upper(xa) - upper(xb)))
            return float(mp.log1p(-(lower(xa) + upper(xb))))  # keeps P within 1e-40 of 1
        except (mp.libmp.NoConvergence, ValueError):  # mpmath's series at large shapes
            return gamma_quad_oracle(y, mu, k)


def gamma_quad_oracle(y: float, mu: float, k: float) -> float:
    """The same probability by mpmath.quad of the gamma density (relative to its value
    at the larger end or the mode: mpmath.quad's tolerance is absolute)."""
    with mp.workdps(_digits(y, mu, k)):
        k_, mu_ = mp.mpf(k), mp.mpf(mu)
        a = max(mp.mpf(y) - mp.mpf(0.5), mp.mpf(0))
        b = mp.mpf(y) + mp.mpf(0.5)
        rate = k_ / mu_
        mode = (k_ - 1) / rate if k_ > 1 else a

        def log_f(x):
            return (k_ - 1) * mp.log(x) - rate * x

        pts = sorted({a, (a + b) / 2, b} | ({mode} if a < mode < b else set()))
        top = log_f(min(max(mode, a), b)) if k_ > 1 else log_f(b)
        val, err = mp.quad(lambda x: mp.exp(log_f(x) - top), pts, error=True)
        assert err < mp.mpf(10) ** (-30) * val
        return float(k_ * mp.log(rate) - mp.loggamma(k_) + top + mp.log(val))


def _t_expected(y, m, df, scale) -> np.ndarray:
    m = np.broadcast_to(m, np.shape(y))
    return np.array([t_oracle(float(a), float(b), df, scale) for a, b in zip(y, m, strict=True)])


def _gamma_expected(y, mu, k) -> np.ndarray:
    mu = np.broadcast_to(mu, np.shape(y))
    return np.array([gamma_oracle(float(a), float(b), k) for a, b in zip(y, mu, strict=True)])


def _nb2_counts(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """y ~ NB2(μ, α = 1) with μ = exp(N(log 2.5, 0.8)): a typical count data set."""
    rng = np.random.default_rng(seed)
    mu = np.exp(rng.normal(math.log(2.5), 0.8, n))
    return rng.poisson(rng.gamma(1.0, mu)).astype(np.float64), mu


def _t_path(y, m, df, scale) -> np.ndarray:
    z = (np.asarray(y, dtype=np.float64) - m) / scale
    return t_module.quadrature_rows(z, np.full(z.shape, 0.5 / scale), df)


def _series_path(y, mu, k) -> np.ndarray:
    """Which intervals [0, y + ½] the power series of P(k, x) takes."""
    x = k * (np.asarray(y, dtype=np.float64) + 0.5) / mu
    return gamma_module._log_lower_series(k, x)[1]


# ---------------------------------------------------------------- the machinery


@pytest.mark.parametrize("n", [2, 4, 8, 16])
def test_gauss_legendre_nodes_and_weights_match_mpmath(n):
    s, w = quadrature.gauss_legendre(n)
    with mp.workdps(DPS):
        for si, wi in zip(s, w, strict=True):
            x = mp.findroot(lambda v: mp.legendre(n, v), mp.mpf(float(si)))
            dp = n * (x * mp.legendre(n, x) - mp.legendre(n - 1, x)) / (x * x - 1)
            assert abs(float(x) - si) <= 2e-16
            assert float(2 / ((1 - x * x) * dp * dp)) == pytest.approx(wi, rel=1e-14)


def test_the_bound_helpers_bound_what_they_say():
    x = np.concatenate([np.linspace(0.0, 3.0, 301), np.geomspace(3.0, 600.0, 200)])
    lower = quadrature.log_sinhc_lower(x)
    with mp.workdps(DPS):
        exact = [0.0 if v == 0 else float(mp.log(mp.sinh(v) / v)) for v in x]
    assert np.all(lower <= np.array(exact))
    assert np.all(np.array(exact) - lower < 0.85)  # and not far below
    # on the circle |u| = δ, where the maximum modulus of an analytic function lies
    rng = np.random.default_rng(1)
    for delta in [0.05, 0.4, 0.9, 0.99]:
        q1 = quadrature.log1p_remainder(np.array([delta]))[0]
        q2 = quadrature.expm1_remainder(np.array([3.0 * delta]))[0]
        for phase in rng.uniform(0.0, 2.0 * math.pi, 50):
            u = mp.mpc(delta * math.cos(phase), delta * math.sin(phase))
            assert float(abs(mp.log1p(u) - u)) <= q1 * (1 + 1e-12)
            assert float(abs(mp.expm1(3 * u) - 3 * u)) <= q2 * (1 + 1e-12)
    assert np.isinf(quadrature.log1p_remainder(np.array([1.0, 1.5]))).all()


def _exact_integral(log_g, dps=DPS) -> float:
    """∫_{−1}^{1} e^{g(s)} ds by mpmath."""
    with mp.workdps(dps):
        return mp.quad(lambda s: mp.exp(log_g(s)), [-1, 0, 1])


def _relative_errors(log_g_np, log_g_mp, ns):
    """|I_n − I| / I for each rule size n."""
    exact = _exact_integral(log_g_mp)
    out = []
    for n in ns:
        s, w = np.polynomial.legendre.leggauss(n)
        with np.errstate(over="ignore", invalid="ignore"):
            approx = float(np.dot(w, np.exp(log_g_np(s))))
        out.append(float(abs(mp.mpf(approx) - exact) / exact) if math.isfinite(approx)
                   else math.inf)
    return np.array(out)


FEW_NODES = (2, 3, 4, 5, 6, 8)
WIDE_RHOS = (1.1, 1.3, 1.6, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 11.0, 16.0)


@pytest.mark.parametrize("df", [0.4, 2.0, 5.0, 60.0, 1e5])
def test_t_bound_exceeds_the_actual_error_of_small_rules(df):
    # few nodes make the error large enough to see, so a bound that is too small shows
    seen = 0
    for z in [0.0, 0.7, -2.0, 6.0, 40.0]:
        for eta in [0.05, 0.2, 0.5, 1.5]:
            zs, es = np.array([z]), np.array([eta])
            alpha, beta = t_module.quadrature_parts(zs, es, df)
            a, b, half = float(alpha[0]), float(beta[0]), 0.5 * (df + 1.0)

            def g_np(s, a=a, b=b, half=half):
                return -half * np.log1p(a * s + b * s * s)

            def g_mp(s, a=a, b=b, half=half):
                return -half * mp.log1p(a * s + b * s * s)

            errors = _relative_errors(g_np, g_mp, FEW_NODES)
            for n, err in zip(FEW_NODES, errors, strict=True):
                bound = quadrature.log_error_bound(
                    *t_module.bound_parts(alpha, beta, df), n=n, rhos=WIDE_RHOS)[0]
                if np.isfinite(bound) and bound < 700.0:
                    assert err <= math.exp(bound) + 1e-15, (z, eta, n, err, math.exp(bound))
                    seen += err > 1e-12
    assert seen >= 5  # some errors were big enough to test the bound at all


@pytest.mark.parametrize("k", [0.05, 0.7, 3.0, 80.0, 5e4])
def test_gamma_bound_exceeds_the_actual_error_of_small_rules(k):
    seen = 0
    for y in [1.0, 2.0, 5.0, 40.0, 3000.0]:
        for mu in [0.3, 2.5, 30.0, 3000.0]:
            h, xm, d = (float(v[0]) for v in gamma_module._quadrature_parts(
                np.array([y]), np.array([mu]), k))

            def g_np(s, h=h, xm=xm):
                return k * h * s - xm * np.expm1(h * s)

            def g_mp(s, h=h, xm=xm):
                return k * h * s - xm * mp.expm1(h * s)

            errors = _relative_errors(g_np, g_mp, FEW_NODES)
            parts = tuple(np.array([v]) for v in (h, xm, d))
            for n, err in zip(FEW_NODES, errors, strict=True):
                bound = quadrature.log_error_bound(
                    *gamma_module._bound_parts(parts, k), n=n, rhos=WIDE_RHOS)[0]
                # (the test's own float64 rule overflows where the bound is huge anyway)
                if np.isfinite(bound) and bound < 700.0 and math.isfinite(err):
                    assert err <= math.exp(bound) + 1e-15, (y, mu, n, err, math.exp(bound))
                    seen += err > 1e-12
    assert seen >= 5


def test_proven_is_the_bound_below_the_tolerance():
    rng = np.random.default_rng(2)
    z = rng.normal(0.0, 10.0, 3000)
    eta = np.exp(rng.uniform(-4.0, 1.0, 3000))
    for df in [0.5, 3.0, 1e4]:
        alpha, beta = t_module.quadrature_parts(z, eta, df)
        parts = t_module.bound_parts(alpha, beta, df)
        bound = quadrature.log_error_bound(*parts)
        proven = quadrature.proven(*parts)
        assert np.array_equal(proven, bound <= quadrature.LOG_TOL)
        assert 0 < proven.sum() < proven.size


# ---------------------------------------------------------------- student_t


T_DFS = [0.5, 1.0, 3.0, 10.0, 100.0, 1e4, 1e8]
T_SCALES = [1.0, 1.5, 3.0, 10.0, 100.0]
T_Y = np.array([-40.0, -7.0, -3.0, -1.0, 0.0, 1.0, 2.0, 5.0, 12.0, 300.0])


@pytest.mark.parametrize("df", T_DFS)
def test_t_matches_mpmath_in_the_quadrature_region(df):
    m = 0.3
    taken = 0
    for scale in T_SCALES:
        params = {"df": df, "scale": scale}
        got = T.interval_loglik(T_Y, np.full(T_Y.size, m), params)
        np.testing.assert_allclose(got, _t_expected(T_Y, m, df, scale), rtol=RTOL)
        taken += _t_path(T_Y, m, df, scale).sum()
    assert taken >= 0.6 * len(T_SCALES) * T_Y.size


def _flips(mask: np.ndarray) -> np.ndarray:
    """Indices i where the path changes between i and i + 1."""
    return np.flatnonzero(mask[1:] != mask[:-1])


@pytest.mark.parametrize("df", [0.3, 1.0, 3.0, 30.0, 1e5])
def test_t_matches_mpmath_on_both_sides_of_the_switch(df):
    # y − ŷ = r fixed, σ across the switch, 1e-4 apart on the log scale
    scales = np.exp(np.arange(math.log(0.05), math.log(50.0), 1e-4))
    found = 0
    for r in [0.3, 2.7, 8.2, 40.6]:
        y = np.array([round(r) + 7.0])
        m = float(y[0]) - r
        mask = t_module.quadrature_rows((y[0] - m) / scales, 0.5 / scales, df)
        for i in _flips(mask)[:3]:
            found += 1
            for scale in scales[i:i + 2]:
                got = T.interval_loglik(y, np.array([m]), {"df": df, "scale": float(scale)})
                assert got[0] == pytest.approx(t_oracle(y[0], m, df, float(scale)), rel=RTOL)
    assert found >= 2


def test_t_switch_in_the_residual_at_a_fixed_scale():
    df, scale = 1.5, 0.9
    m = 0.25
    y = np.arange(-400.0, 401.0)
    mask = _t_path(y, m, df, scale)
    flips = _flips(mask)
    assert flips.size >= 2  # quadrature in the tails, not at the centre (a narrow t)
    rows = np.unique(np.concatenate([flips, flips + 1]))
    got = T.interval_loglik(y[rows], np.full(rows.size, m), {"df": df, "scale": scale})
    np.testing.assert_allclose(got, _t_expected(y[rows], m, df, scale), rtol=RTOL)


# ŷ a multiple of ½ and |y| < 2⁵², so that y − ŷ ± ½ is exact in binary
@pytest.mark.parametrize(("df", "scale", "m", "y"), [
    (1e4, 1.0, 0.5, [-37.0, 30.0, 36.0, 37.0]),  # near-Gaussian tails, P down to 1e-300
    (20.0, 1.0, 0.0, [-4e14, 1e9, 4e14]),  # P ~ |y|^{-(ν+1)}: about 1e-290
    (1.0, 0.5, 0.5, [-4e15, 1e12, 4e15]),  # Cauchy: far out, on the quadrature path
    (3.0, 1.5, 0.0, [-2e15, 1e5, 2e15]),
    (300.0, 2.0, -0.5, [-60.0, 55.0, 62.0]),
])
def test_t_far_tails_match_mpmath(df, scale, m, y):
    y = np.array(y)
    expected = _t_expected(y, m, df, scale)
    got = T.interval_loglik(y, np.full(y.size, m), {"df": df, "scale": scale})
    np.testing.assert_allclose(got, expected, rtol=RTOL)
    assert expected.min() < -70.0


def test_t_far_tails_below_1e_300_are_scored():
    y = np.array([-4.4e15, 1e15, 4.4e15])
    expected = _t_expected(y, 0.0, 20.0, 1.0)
    assert expected.max() < math.log(1e-300)
    got = T.interval_loglik(y, np.zeros(3), {"df": 20.0, "scale": 1.0})
    np.testing.assert_allclose(got, expected, rtol=RTOL)
    assert _t_path(y, 0.0, 20.0, 1.0).all()  # by quadrature, far beyond scipy's cdf


@pytest.mark.parametrize("df", [0.05, 0.2, 1e6, 1e10])
def test_t_small_and_huge_df_match_mpmath(df):
    y = np.array([-1e4, -30.0, -2.0, 0.0, 1.0, 3.0, 9.0, 1e3, 1e8])
    for scale in [0.3, 2.0, 40.0]:
        got = T.interval_loglik(y, np.full(y.size, 0.6), {"df": df, "scale": scale})
        np.testing.assert_allclose(got, _t_expected(y, 0.6, df, scale), rtol=RTOL)


# df up to 1e7, beyond DF_CAP (the far tails of the c.d.f. path come near 1e-9 at 1e9)
@settings(max_examples=150, deadline=None)
@given(st.floats(-1.3, 7.0), st.floats(-1.3, 3.0), st.integers(-10**6, 10**6),
       st.floats(-50.0, 50.0), st.booleans())
def test_t_matches_mpmath_on_drawn_parameters(log_df, log_scale, y, shift, near):
    df, scale = 10.0 ** log_df, 10.0 ** log_scale
    # half the draws put ŷ within a few σ of y, where the body of the distribution is
    m = y - shift * scale if near else y - shift
    got = T.interval_loglik(np.array([float(y)]), np.array([m]), {"df": df, "scale": scale})
    assert got[0] == pytest.approx(t_oracle(y, m, df, scale), rel=RTOL)


def test_t_scalar_prediction_equals_array_prediction():
    y, _ = _nb2_counts(3, 5000)
    params = {"df": 3.0, "scale": 1.5}
    a = T.interval_loglik(y, 1.7, params)  # the marginal table lookup
    b = T.interval_loglik(y, np.full(y.size, 1.7), params)
    np.testing.assert_allclose(a, b, rtol=1e-14)


# ---------------------------------------------------------------- gamma


def test_gamma_oracles_agree():
    for y, mu, k in [(0.0, 2.5, 0.7), (0.0, 0.05, 3.0), (1.0, 2.5, 1.5), (7.0, 2.5, 1.5),
                     (300.0, 2.5, 1.5), (2.0, 1000.0, 50.0), (1000.0, 1000.0, 1e4)]:
        assert gamma_oracle(y, mu, k) == pytest.approx(gamma_quad_oracle(y, mu, k), rel=1e-25)


G_SHAPES = [0.05, 0.3, 1.0, 1.5, 5.0, 50.0, 1e3]
G_MEANS = [0.8, 2.5, 10.0, 100.0]
G_Y = np.array([0.0, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0, 100.0, 400.0])


@pytest.mark.parametrize("k", G_SHAPES)
def test_gamma_matches_mpmath_in_the_quadrature_region(k):
    taken = 0
    for mu in G_MEANS:
        got = G.interval_loglik(G_Y, np.full(G_Y.size, mu), {"shape": k})
        np.testing.assert_allclose(got, _gamma_expected(G_Y, mu, k), rtol=RTOL)
        taken += gamma_module.quadrature_rows(G_Y, mu, k).sum()
    # (fewer where the distribution is narrow against the unit interval)
    assert taken >= (8 if k <= 50 else 1)


@pytest.mark.parametrize("k", [0.3, 1.5, 8.0, 300.0, 1e5])
def test_gamma_matches_mpmath_on_both_sides_of_the_switch(k):
    # y fixed, μ across the switch, 1e-4 apart on the log scale
    means = np.exp(np.arange(math.log(0.05), math.log(5e4), 1e-4))
    found = 0
    for y in [1.0, 2.0, 6.0, 50.0, 3000.0]:
        ys = np.full(means.size, y)
        for i in _flips(gamma_module.quadrature_rows(ys, means, k))[:4]:
            found += 1
            got = G.interval_loglik(ys[i:i + 2], means[i:i + 2], {"shape": k})
            np.testing.assert_allclose(
                got, _gamma_expected(ys[i:i + 2], means[i:i + 2], k), rtol=RTOL)
    assert found >= 2


@pytest.mark.parametrize("k", [0.1, 0.5, 1.5, 20.0, 500.0])
def test_gamma_zero_matches_mpmath_on_both_sides_of_the_series_switch(k):
    means = np.exp(np.arange(math.log(1e-3), math.log(1e5), 1e-3))
    ys = np.zeros(means.size)
    path = _series_path(ys, means, k)
    assert path.any() and not path.all()
    flips = _flips(path)
    for i in flips:
        got = G.interval_loglik(ys[i:i + 2], means[i:i + 2], {"shape": k})
        np.testing.assert_allclose(got, _gamma_expected(ys[i:i + 2], means[i:i + 2], k),
                                   rtol=RTOL)


@pytest.mark.parametrize("k", [0.01, 0.5, 1.5, 20.0, 500.0, 5e3, 1e6])
def test_gamma_zero_matches_mpmath(k):
    # y = 0 is the interval [0, ½]: P near 1 for a small mean, tiny for a large one
    mu = np.array([1e-3, 0.01, 0.3, 1.0, 2.5, 100.0, 1e4, 1e7])
    y = np.zeros(mu.size)
    got = G.interval_loglik(y, mu, {"shape": k})
    np.testing.assert_allclose(got, _gamma_expected(y, mu, k), rtol=RTOL)


@pytest.mark.parametrize(("k", "mu", "y"), [
    (1.5, 2.5, [200.0, 600.0, 1100.0]),  # upper tail, P down to 1e-300
    (0.3, 1.0, [500.0, 2000.0]),
    (50.0, 1000.0, [0.0, 1.0, 2.0, 3.0]),  # lower tail
    (200.0, 1000.0, [1.0, 40.0]),
    (1e4, 100.0, [60.0, 80.0, 125.0]),
])
def test_gamma_far_tails_match_mpmath(k, mu, y):
    y = np.array(y)
    expected = _gamma_expected(y, mu, k)
    assert expected.min() < -200.0
    got = G.interval_loglik(y, np.full(y.size, mu), {"shape": k})
    np.testing.assert_allclose(got, expected, rtol=RTOL)


@pytest.mark.parametrize("k", [1e4, 1e6, 9e6, 5e7, 1e9, 1e10])
def test_gamma_huge_shapes_match_mpmath(k):
    mu = 3e5
    sd = mu / math.sqrt(k)
    y = np.round(mu + sd * np.array([-6.0, -1.3, 0.0, 0.4, 2.0, 5.0]))
    got = G.interval_loglik(y, np.full(y.size, mu), {"shape": k})
    np.testing.assert_allclose(got, _gamma_expected(y, mu, k), rtol=RTOL)
    assert gamma_module.quadrature_rows(y, mu, k).all()


def test_gamma_non_integer_targets_match_mpmath():
    y = np.array([0.2, 0.5, 0.7, 1.2, 3.9, 17.5])
    for k, mu in [(0.4, 2.0), (2.5, 6.0)]:
        got = G.interval_loglik(y, np.full(y.size, mu), {"shape": k})
        np.testing.assert_allclose(got, _gamma_expected(y, mu, k), rtol=RTOL)


# shapes up to 1e3: beyond, where P is within ~1e-40 of 1, both the c.d.f. path the rows
# off the quadrature take (scipy's incomplete gamma function) and mpmath's lose the
# relative precision of log P (the huge shapes are tested above, on the quadrature path)
@settings(max_examples=150, deadline=None)
@given(st.floats(-2.0, 3.0), st.floats(-1.0, 4.0), st.floats(-3.0, 3.0),
       st.integers(0, 3))
def test_gamma_matches_mpmath_on_drawn_parameters(log_k, log_mu, spread, kind):
    k, mu = 10.0 ** log_k, 10.0 ** log_mu
    # y = 0 a quarter of the time, else around the mean (in sds) or anywhere (log scale)
    if kind == 0:
        y = 0.0
    elif kind == 1:
        y = max(0.0, round(mu + spread * mu / math.sqrt(k)))
    else:
        y = float(round(mu * math.exp(2.0 * spread)))
    got = G.interval_loglik(np.array([y]), np.array([mu]), {"shape": k})
    # (a log P below 1e-300 in size is 0 in double precision)
    assert got[0] == pytest.approx(gamma_oracle(y, mu, k), rel=RTOL, abs=1e-300)


def test_gamma_scalar_prediction_equals_array_prediction():
    y, _ = _nb2_counts(4, 5000)
    a = G.interval_loglik(y, 3.1, {"shape": 1.5})
    b = G.interval_loglik(y, np.full(y.size, 3.1), {"shape": 1.5})
    np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------- typical count data


@pytest.fixture(scope="module")
def counts():
    return _nb2_counts(5, 200_000)


def _fitted(fam, y, mu):
    return fam.fit_counting(y[:20_000], None, mu[:20_000])


@pytest.mark.parametrize("fitted", [False, True])
def test_typical_counts_mostly_take_the_quadrature_path_t(counts, fitted):
    y, mu = counts
    params = _fitted(T, y, mu) if fitted else {"df": 3.0, "scale": 1.5}
    path = _t_path(y, mu, params["df"], params["scale"])
    assert path.mean() > 0.95
    # the values on these rows, against the tails and against mpmath
    got = T.interval_loglik(y, mu, params)
    s = 0.5 / params["scale"]
    cdf = t_module.interval_cdf((y - mu) / params["scale"] - s,
                                 (y - mu) / params["scale"] + s, params["df"])
    np.testing.assert_allclose(got, cdf, rtol=1e-12)
    idx = np.random.default_rng(6).choice(y.size, 60, replace=False)
    np.testing.assert_allclose(got[idx], np.array(
        [t_oracle(y[i], mu[i], params["df"], params["scale"]) for i in idx]), rtol=RTOL)


@pytest.mark.parametrize("fitted", [False, True])
def test_typical_counts_mostly_take_the_quadrature_path_gamma(counts, fitted):
    y, mu = counts
    params = _fitted(G, y, mu) if fitted else {"shape": 1.5}
    k = params["shape"]
    quad = gamma_module.quadrature_rows(y, mu, k)
    positive = y >= 1
    assert quad.mean() > 0.6  # every row but y = 0 (a third of these data) and a few more
    assert quad[positive].mean() > 0.95
    assert not quad[~positive].any()
    assert _series_path(y[~positive], mu[~positive], k).mean() > 0.95
    got = G.interval_loglik(y, mu, params)
    np.testing.assert_allclose(got, ContinuousFamily.interval_loglik(G, y, mu, params),
                               rtol=1e-10)
    idx = np.random.default_rng(7).choice(y.size, 60, replace=False)
    np.testing.assert_allclose(got[idx], _gamma_expected(y[idx], mu[idx], k), rtol=RTOL)
