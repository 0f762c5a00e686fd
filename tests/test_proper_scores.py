"""CRPS and quantiles per row (every family) and the proper-scores reduction (SPEC §8.3).

Oracles: CRPS(F, y) = ∫(F(x) − 1{y ≤ x})² dx by scipy quadrature of scipy.stats' c.d.f.;
on the counting measure Σ_k (F(k) − 1{y ≤ k})² summed directly (in mpmath at high
precision for the stress cases); properscoring and scoringrules where they are right;
quantiles against scipy.stats' ppf.
"""

from __future__ import annotations

import functools
import math

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from losscli.noise import FAMILIES
from losscli.noise.discretised import Discretised
from losscli.proper_scores import ProperScores

REL = 1e-9


def fam(name: str):
    return FAMILIES[name]()


def beta_quad_crps(a: float, b: float, y: float) -> float:
    """∫₀¹(F − 1{y ≤ x})² dx for Beta(a, b) in mpmath (tanh-sinh copes with the
    end-point singularities of the density that defeat QUADPACK)."""
    with mp.workdps(30):
        a, b, y = mp.mpf(a), mp.mpf(b), mp.mpf(y)

        def cdf(x):
            return mp.betainc(a, b, 0, x, regularized=True)

        left = mp.quad(lambda x: cdf(x) ** 2, [0, y])
        right = mp.quad(lambda x: (1 - cdf(x)) ** 2, [y, 1])
        return float(left + right)


def quad_crps(dist, y: float, lower: float = -math.inf, upper: float = math.inf) -> float:
    """∫(F − 1{y ≤ x})² dx by adaptive quadrature, split at y and at the quartiles."""
    if dist.dist.name == "beta":
        return beta_quad_crps(*dist.args, y) if dist.args else beta_quad_crps(
            dist.kwds["a"], dist.kwds["b"], y)
    def left(x):
        return dist.cdf(x) ** 2

    def right(x):
        return dist.sf(x) ** 2

    kw = dict(epsabs=0.0, epsrel=1e-13, limit=500)
    q1, q3 = float(dist.ppf(0.25)), float(dist.ppf(0.75))
    total = 0.0
    # F² on (lower, y]: pieces at the quartiles below y
    cuts = [c for c in (q1, q3) if lower < c < y]
    edges = [lower, *cuts, y]
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        total += integrate.quad(left, a, b, **kw)[0]
    cuts = [c for c in (q1, q3) if y < c < upper]
    edges = [y, *cuts, upper]
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        total += integrate.quad(right, a, b, **kw)[0]
    return total


# (family, prediction, parameters, targets)
CONTINUOUS = [
    ("gaussian", 1.3, {"sigma": 0.7}, [-2.0, 1.3, 1.5, 4.0]),
    ("gaussian", -5.0, {"sigma": 30.0}, [-100.0, 0.0, 80.0]),
    ("laplace", 0.5, {"scale": 2.0}, [-9.0, 0.5, 0.6, 7.0]),
    ("student_t", 0.0, {"df": 1.5, "scale": 1.0}, [-3.0, 0.0, 0.4, 10.0]),
    ("student_t", 2.0, {"df": 4.0, "scale": 0.5}, [-1.0, 2.0, 3.5]),
    ("student_t", 2.0, {"df": 5e4, "scale": 0.5}, [-1.0, 2.0, 3.5]),
    ("gamma", 2.0, {"shape": 0.5}, [0.001, 0.7, 2.0, 9.0]),
    ("gamma", 2.0, {"shape": 3.0}, [0.1, 2.0, 6.0]),
    ("gamma", 5.0, {"shape": 400.0}, [4.0, 5.0, 5.3, 7.0]),
    ("lognormal", 1.5, {"sigma": 0.05}, [1.4, 1.5, 1.6, 3.0]),
    ("lognormal", 1.5, {"sigma": 1.0}, [0.01, 1.5, 6.0]),
    ("beta", 0.3, {"precision": 2.0}, [0.001, 0.3, 0.9]),
    ("beta", 0.6, {"precision": 80.0}, [0.2, 0.6, 0.65, 0.99]),
    ("beta", 0.9, {"precision": 0.7}, [0.05, 0.5, 0.99]),
]


@pytest.mark.parametrize(("name", "pred", "params", "ys"), CONTINUOUS)
def test_closed_forms_equal_quadrature(name, pred, params, ys):
    f = fam(name)
    y = np.array(ys)
    got = f.crps(y, pred, params)
    dist = f.to_scipy(pred, params)
    lower, upper = f.support.lower, f.support.upper
    want = [quad_crps(dist, v, lower, upper) for v in ys]
    np.testing.assert_allclose(got, want, rtol=REL, atol=0)


@pytest.mark.parametrize(("name", "pred", "params", "ys"), CONTINUOUS)
def test_per_row_parameters(name, pred, params, ys):
    """Per-row parameters and predictions give each row its own scalar-parameter score."""
    f = fam(name)
    y = np.array(ys)
    n = y.size
    scale = np.linspace(0.8, 1.25, n)
    preds = np.full(n, pred) if name == "beta" else pred * scale
    rows = {k: (v if math.isinf(v) else v * scale[::-1]) for k, v in params.items()}
    got = f.crps(y, preds, rows)
    want = [float(f.crps(y[i:i + 1], preds[i], {k: v[i] for k, v in rows.items()})[0])
            for i in range(n)]
    np.testing.assert_allclose(got, want, rtol=1e-14)
    dist = [f.to_scipy(preds[i], {k: v[i] for k, v in rows.items()}) for i in range(n)]
    oracle = [quad_crps(d, v, f.support.lower, f.support.upper) for d, v in zip(dist, ys,
                                                                               strict=True)]
    np.testing.assert_allclose(got, oracle, rtol=REL, atol=0)


def test_student_t_limits():
    f = fam("student_t")
    y = np.array([-1.0, 0.0, 2.5])
    gauss = fam("gaussian").crps(y, 0.2, {"sigma": 1.7})
    np.testing.assert_allclose(f.crps(y, 0.2, {"df": math.inf, "scale": 1.7}), gauss,
                               rtol=1e-15)
    # ν = 1e9: the t's score tends to the normal's (difference O(1/ν))
    np.testing.assert_allclose(f.crps(y, 0.2, {"df": 1e9, "scale": 1.7}), gauss, rtol=1e-8)
    # ν ≤ ½: ∫F² diverges in the tails
    assert np.all(np.isinf(f.crps(y, 0.2, {"df": 0.5, "scale": 1.7})))
    per_row = f.crps(y, 0.2, {"df": np.array([0.3, 3.0, math.inf]), "scale": 1.7})
    assert math.isinf(per_row[0])
    assert per_row[2] == pytest.approx(gauss[2], rel=1e-15)


@functools.cache
def _t_half_tail(nu: float):
    """(2∫_{−∞}^0 F², F(−|t|)) for t_ν in mpmath at 30 digits: the first as 2∫F(−eᵘ)² eᵘ du,
    which decays like e^((1 − 2ν)u), on a long range."""
    with mp.workdps(30):
        nu = mp.mpf(nu)
        half = mp.mpf(1) / 2

        def lower(t):  # F(−|t|)
            return mp.betainc(nu / 2, half, 0, nu / (nu + t * t), regularized=True) / 2

        top = 90 / (2 * nu - 1) + 20
        return 2 * mp.quad(lambda u: lower(mp.e ** u) ** 2 * mp.e ** u,
                           mp.linspace(-90, top, 40)), lower


def t_crps_oracle(z: float, nu: float) -> float:
    """∫(F − 1{z ≤ x})² dx for t_ν in mpmath: 2∫_{−∞}^0 F² plus ∫_0^|z| (2F − 1), the
    score's derivative being 2F − 1 and F(t) = 1 − F(−t)."""
    c0, lower = _t_half_tail(nu)
    with mp.workdps(30):
        a = abs(mp.mpf(z))
        rest = mp.quad(lambda t: 1 - 2 * lower(t), [0, a]) if a > 0 else 0
        return float(c0 + rest)


@pytest.mark.parametrize("nu", [0.55, 0.8, 1.0, 1.0000001, 1.2, 1.999, 2.0, 3.0])
def test_student_t_heavy_tails(nu):
    """Finite for ν > ½ (the mean need not exist), and accurate across ν = 1 and ν = 2."""
    f = fam("student_t")
    y = np.array([0.0, 0.7, -3.0, 50.0])
    got = f.crps(y, 0.0, {"df": nu, "scale": 1.0})
    np.testing.assert_allclose(got, [t_crps_oracle(v, nu) for v in y], rtol=REL, atol=0)
    scaled = f.crps(2.5 * y + 1.0, 1.0, {"df": np.full(4, nu), "scale": 2.5})
    np.testing.assert_allclose(scaled, 2.5 * got, rtol=1e-14)


def test_gaussian_matches_properscoring():
    import properscoring as ps

    rng = np.random.default_rng(3)
    y, mu, sig = rng.normal(size=50), rng.normal(size=50), rng.uniform(0.1, 3, size=50)
    np.testing.assert_allclose(fam("gaussian").crps(y, mu, {"sigma": sig}),
                               ps.crps_gaussian(y, mu, sig), rtol=1e-12)


def test_laplace_matches_properscoring_quadrature():
    import properscoring as ps

    y = np.array([-3.0, 0.2, 1.0, 5.0])
    got = fam("laplace").crps(y, 0.5, {"scale": 1.5})
    want = ps.crps_quadrature(y, stats.laplace(0.5, 1.5), xmin=-40.0, xmax=40.0)
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_bernoulli_is_brier_and_ensemble_crps():
    import properscoring as ps

    p = np.array([0.1, 0.5, 0.8, 0.999])
    y = np.array([0.0, 1.0, 1.0, 0.0])
    pred = np.log(np.stack([1.0 - p, p]))
    got = fam("bernoulli").crps(y, pred, {})
    np.testing.assert_allclose(got, (y - p) ** 2, rtol=1e-15)
    ens = [ps.crps_ensemble(y[i], [0.0, 1.0], weights=[1 - p[i], p[i]]) for i in range(4)]
    np.testing.assert_allclose(got, ens, rtol=1e-12)


def test_categorical_declares_no_crps():
    f = fam("categorical")
    assert f.crps is None and f.ppf is None


SCORINGRULES = [
    ("gaussian", 0.3, {"sigma": 1.2}, lambda sr, y: sr.crps_normal(y, 0.3, 1.2)),
    ("laplace", 0.3, {"scale": 1.2}, lambda sr, y: sr.crps_laplace(y, 0.3, 1.2)),
    ("student_t", 0.3, {"df": 3.5, "scale": 1.2},
     lambda sr, y: sr.crps_t(y, 3.5, 0.3, 1.2)),
    ("gamma", 2.5, {"shape": 1.7}, lambda sr, y: sr.crps_gamma(y, 1.7, 1.7 / 2.5)),
    ("lognormal", 2.5, {"sigma": 0.6},
     lambda sr, y: sr.crps_lognormal(y, math.log(2.5), 0.6)),
    ("beta", 0.4, {"precision": 6.0}, lambda sr, y: sr.crps_beta(y, 2.4, 3.6)),
    ("poisson", 4.2, {}, lambda sr, y: sr.crps_poisson(y, 4.2)),
    ("negative_binomial", 4.2, {"alpha": 0.3},
     lambda sr, y: sr.crps_negbinom(y, 1 / 0.3, mu=4.2)),
]


@pytest.mark.parametrize(("name", "pred", "params", "oracle"), SCORINGRULES)
def test_matches_scoringrules_at_ordinary_values(name, pred, params, oracle):
    sr = pytest.importorskip("scoringrules")
    y = np.array([0.0, 1.0, 2.0, 3.0, 7.0]) if fam(name).discrete else (
        np.array([0.05, 0.3, 0.5, 0.9]) if name == "beta" else np.array([0.2, 1.0, 2.5, 6.0]))
    np.testing.assert_allclose(fam(name).crps(y, pred, params), np.asarray(oracle(sr, y)),
                               rtol=1e-8)


# ------------------------------------------------------------------ counting measure


def counting_crps(pmf, y: int, top: int) -> float:
    """Σ_{k ≤ top} (F(k) − 1{y ≤ k})² from a p.m.f. given as mpmath values, in mpmath."""
    total = mp.mpf(0)
    cdf = mp.mpf(0)
    for k in range(top + 1):
        cdf += pmf[k]
        total += (cdf - (1 if k >= y else 0)) ** 2
    return total


def poisson_pmf(mu, top):
    mu = mp.mpf(mu)
    out = [mp.e ** (-mu)]
    for k in range(1, top + 1):
        out.append(out[-1] * mu / k)
    return out


def nb_pmf(mu, alpha, top):
    mu, alpha = mp.mpf(mu), mp.mpf(alpha)
    r = 1 / alpha
    q = alpha * mu / (1 + alpha * mu)
    out = [(1 + alpha * mu) ** (-r)]
    for k in range(1, top + 1):
        out.append(out[-1] * (k - 1 + r) / k * q)
    return out


@pytest.mark.parametrize(("mu", "y"), [(3.0, 0), (3.0, 7), (0.05, 2), (40.0, 31)])
def test_poisson_against_counting_sum(mu, y):
    with mp.workdps(30):
        top = int(mu + 40 * math.sqrt(mu) + 40 + y)
        want = float(counting_crps(poisson_pmf(mu, top), y, top))
    assert float(fam("poisson").crps(np.array([float(y)]), mu, {})[0]) == pytest.approx(
        want, rel=REL)


@pytest.mark.parametrize(("mu", "alpha", "y"), [(3.0, 0.5, 2), (2.0, 3.0, 0), (8.0, 0.2, 30),
                                                 (0.3, 1.5, 4)])
def test_negative_binomial_against_counting_sum(mu, alpha, y):
    with mp.workdps(30):
        top = 4000
        want = float(counting_crps(nb_pmf(mu, alpha, top), y, top))
    got = fam("negative_binomial").crps(np.array([float(y)]), mu, {"alpha": alpha})[0]
    assert float(got) == pytest.approx(want, rel=REL)


def test_stress_poisson_150():
    """μ = y = 150, where scoringrules 0.10 returns inf (μ¹⁵⁰ overflows): 2.8596…"""
    with mp.workdps(40):
        want = float(counting_crps(poisson_pmf(150, 600), 150, 600))
    got = float(fam("poisson").crps(np.array([150.0]), 150.0, {})[0])
    assert math.isfinite(got) and got == pytest.approx(want, rel=1e-12)
    assert want == pytest.approx(2.85962, abs=1e-5)


@pytest.mark.parametrize(("mu", "alpha", "ys", "top"), [
    (1e4, 1e-3, [9000, 10000, 10400], 26000),
    (10.0, 1e-6, [0, 10, 25], 200),
])
def test_stress_negative_binomial(mu, alpha, ys, top):
    """Where scoringrules 0.10's ₂F₁ gives NaN: NB2 μ = 10⁴, α = 10⁻³ and μ = 10, α = 10⁻⁶."""
    with mp.workdps(40):
        pmf = nb_pmf(mu, alpha, top)
        want = [float(counting_crps(pmf, y, top)) for y in ys]
    got = fam("negative_binomial").crps(np.array(ys, dtype=float), mu, {"alpha": alpha})
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, want, rtol=1e-11)


def test_nb_half_gini_series_and_fourier_forms_agree_with_a_counting_sum():
    """½E|X − X′| = Σ_k F(k)(1 − F(k)): the series (most rows) and the Fourier form
    (long tails, f(0) underflowing) against that sum from scipy's c.d.f. and s.f., and
    each form against the other where both apply."""
    from scipy import stats

    from losscli.noise.nb_sums import nb_half_gini, nb_half_gini_fourier, nb_half_gini_series

    cases = [(2.5, 0.8), (0.01, 3.0), (40.0, 0.05), (1e-5, 0.0), (7.0, 0.0), (30.0, 4.0),
             (800.0, 0.0), (3.0, 40.0), (150.0, 0.02)]
    mu = np.array([c[0] for c in cases])
    alpha = np.array([c[1] for c in cases])
    series, done = nb_half_gini_series(mu, alpha)
    assert done.any() and not done.all()  # both forms are exercised
    got = nb_half_gini(mu, alpha)
    k = np.arange(0, 200_000)
    for i, (m, a) in enumerate(cases):
        if a > 0:
            r = 1.0 / a
            cdf, sf = stats.nbinom.cdf(k, r, r / (r + m)), stats.nbinom.sf(k, r, r / (r + m))
        else:
            cdf, sf = stats.poisson.cdf(k, m), stats.poisson.sf(k, m)
        assert got[i] == pytest.approx(float(np.sum(cdf * sf)), rel=1e-11), (m, a)
    with mp.workdps(40):  # a tiny mean, where scipy's F(1 − F) rounds: mpmath's sum
        pmf = nb_pmf(1e-8, 1e-8, 40)
        cdf = [mp.fsum(pmf[:j + 1]) for j in range(41)]
        want = float(mp.fsum(c * (1 - c) for c in cdf))
    assert nb_half_gini(np.array([1e-8]), np.array([1e-8]))[0] == pytest.approx(want, rel=1e-12)
    rng = np.random.default_rng(4)
    mu = np.exp(rng.uniform(math.log(1e-4), math.log(300), 4000))
    alpha = np.exp(rng.uniform(math.log(1e-5), math.log(30), 4000))
    series, done = nb_half_gini_series(mu, alpha)
    np.testing.assert_allclose(series[done], nb_half_gini_fourier(mu[done], alpha[done]),
                               rtol=1e-11)


def test_nb_quantiles_by_the_walk_match_scipy():
    """min{k : F(k) ≥ q} by adding the p.m.f. (most rows) and by nbdtrik (the rest, and
    on its own every row) against scipy's nbinom.ppf and poisson.ppf, row by row."""
    from scipy import stats

    from losscli.noise.nb_sums import nb_ppf, nb_ppf_inverse, nb_ppf_levels

    rng = np.random.default_rng(6)
    mu = np.exp(rng.uniform(math.log(1e-4), math.log(2000), 3000))
    alpha = np.exp(rng.uniform(math.log(1e-6), math.log(40), 3000))
    alpha[::5] = 0.0
    r = 1.0 / np.where(alpha > 0, alpha, 1.0)
    for q in (0.025, 0.25, 0.5, 0.9, 0.975):
        want = np.where(alpha > 0, stats.nbinom.ppf(q, r, r / (r + mu)),
                        stats.poisson.ppf(q, mu))
        np.testing.assert_array_equal(nb_ppf(q, mu, alpha), want)
        np.testing.assert_array_equal(nb_ppf_inverse(q, mu, alpha), want)  # the fallback
    qs = [0.975, 0.025, 0.5, 0.9, 0.1, 0.25]  # several levels in one walk, any order
    for q, got in zip(qs, nb_ppf_levels(qs, mu, alpha), strict=True):
        np.testing.assert_array_equal(got, nb_ppf(q, mu, alpha))


def test_negative_binomial_per_row_and_poisson_limit():
    f = fam("negative_binomial")
    y = np.array([0.0, 3.0, 12.0, 5.0])
    mu = np.array([1.0, 3.5, 9.0, 5.0])
    alpha = np.array([0.0, 0.2, 1e-9, 2.0])
    got = f.crps(y, mu, {"alpha": alpha})
    want = [float(f.crps(y[i:i + 1], mu[i], {"alpha": float(alpha[i])})[0]) for i in range(4)]
    np.testing.assert_allclose(got, want, rtol=1e-14)
    pois = fam("poisson").crps(y, mu, {})
    assert got[0] == pytest.approx(pois[0], rel=1e-14)
    assert got[2] == pytest.approx(pois[2], rel=1e-7)


DISCRETISED = [
    ("gaussian", 3.0, {"sigma": 2.5}),
    ("gaussian", 3.0, {"sigma": 0.3}),
    ("gaussian", 10.0, {"sigma": 5000.0}),  # wider than the window: Euler–Maclaurin
    ("laplace", 1.0, {"scale": 4.0}),
    ("student_t", 2.0, {"df": 3.0, "scale": 1.5}),
    ("student_t", 0.3, {"df": 2.0, "scale": 1.0}),  # heavy tails: a window of ~14000 terms
    ("gamma", 4.0, {"shape": 0.7}),
    ("gamma", 30.0, {"shape": 9.0}),
    ("lognormal", 3.0, {"sigma": 0.8}),
]


def counting_oracle(dist, lower, y, reach):
    """Σ_{k<y} F(k + ½)² + Σ_{k≥y} S(k + ½)² over k from max(lower, −reach) to reach, for
    each y (the terms are positive: numpy's pairwise sums lose nothing at 1e-9)."""
    k = np.arange(max(lower, -reach), reach, dtype=np.float64)
    g, s = dist.cdf(k + 0.5), dist.sf(k + 0.5)
    g, s = g * g, s * s
    return [float(np.sum(g[k < v]) + np.sum(s[k >= v])) for v in np.atleast_1d(y)]


@pytest.mark.parametrize(("name", "pred", "params"), DISCRETISED)
def test_discretised_against_direct_sum(name, pred, params):
    f = fam(name)
    d = Discretised(f)
    y = np.array([0.0, 2.0, 3.0, 9.0, 40.0, 3000.0])
    if d.support.lower == -math.inf:
        y = np.concatenate([y, [-7.0, -500.0]])
    got = d.crps(y, pred, params)
    reach = int(max(60 * params.get("sigma", 1.0), 3_000_000 if name == "student_t" else 20_000))
    dist = f.to_scipy(pred, params)
    want = counting_oracle(dist, d.support.lower, y, reach)
    np.testing.assert_allclose(got, want, rtol=REL, atol=0)


@pytest.mark.parametrize(("name", "params"), [
    ("gamma", {"shape": 2.0}),
    ("gamma", {"shape": np.array([0.7, 2.0, 9.0])}),
    ("student_t", {"df": np.array([2.0, 5.0, math.inf]), "scale": np.array([1.0, 0.4, 2.0])}),
    ("gaussian", {"sigma": np.array([0.3, 2.0, 9000.0])}),  # the last by Euler–Maclaurin
])
def test_discretised_per_row(name, params):
    d = Discretised(fam(name))
    y = np.array([0.0, 4.0, 7.0])
    mu = np.array([2.0, 5.0, 6.0])
    got = d.crps(y, mu, params)
    rows = [{k: (float(v[i]) if np.ndim(v) else v) for k, v in params.items()} for i in range(3)]
    want = [float(d.crps(y[i:i + 1], mu[i], rows[i])[0]) for i in range(3)]
    np.testing.assert_allclose(got, want, rtol=1e-14)
    oracle = [counting_oracle(fam(name).to_scipy(mu[i], rows[i]), d.support.lower, y[i],
                              600_000)[0] for i in range(3)]
    np.testing.assert_allclose(got, oracle, rtol=REL, atol=0)
    for q in (0.05, 0.95):
        k = d.ppf(q, mu, params)
        np.testing.assert_array_equal(k, [float(d.ppf(q, mu[i], rows[i])) for i in range(3)])


# ------------------------------------------------------------------ quantiles


QUANTILE_CASES = [
    ("gaussian", np.array([0.0, 2.0]), {"sigma": np.array([1.0, 3.0])}),
    ("laplace", 0.5, {"scale": 2.0}),
    ("student_t", np.array([0.0, 1.0]), {"df": np.array([2.5, math.inf]), "scale": 1.5}),
    ("gamma", np.array([1.0, 20.0]), {"shape": np.array([0.4, 30.0])}),
    ("lognormal", 2.0, {"sigma": np.array([0.2, 1.5])}),
    ("beta", np.array([0.2, 0.7]), {"precision": 5.0}),
    ("poisson", np.array([0.3, 4.0, 150.0, 2e4]), {}),
    ("negative_binomial", np.array([0.3, 4.0, 150.0, 1e4]),
     {"alpha": np.array([0.5, 0.0, 1e-6, 1e-3])}),
]


@pytest.mark.parametrize(("name", "pred", "params"), QUANTILE_CASES)
@pytest.mark.parametrize("q", [0.025, 0.05, 0.25, 0.5, 0.9, 0.975])
def test_ppf_matches_scipy(name, pred, params, q):
    f = fam(name)
    got = np.atleast_1d(f.ppf(q, pred, params))
    n = np.size(got)
    for i in range(n):
        row = {k: (v[i] if np.ndim(v) else v) for k, v in params.items()}
        want = f.to_scipy(pred[i] if np.ndim(pred) else pred, row).ppf(q)
        if f.discrete:
            assert got[i] == want
        else:
            assert got[i] == pytest.approx(want, rel=1e-10)


def test_bernoulli_ppf():
    p = np.array([0.1, 0.6, 0.97])
    pred = np.log(np.stack([1.0 - p, p]))
    f = fam("bernoulli")
    for q in (0.025, 0.5, 0.975):
        np.testing.assert_array_equal(f.ppf(q, pred, {}), stats.bernoulli(p).ppf(q))


@pytest.mark.parametrize(("name", "pred", "params"), DISCRETISED[:-1])
def test_discretised_ppf_is_smallest_k_with_cdf_above_q(name, pred, params):
    f = fam(name)
    d = Discretised(f)
    dist = f.to_scipy(pred, params)
    for q in (0.025, 0.25, 0.5, 0.975):
        k = float(d.ppf(q, pred, params))
        assert dist.cdf(k + 0.5) >= q
        if k > d.support.lower:
            assert dist.cdf(k - 0.5) < q


# ------------------------------------------------------------------ the reduction


def _scores(name, y, pred, params, w=None, batches=1):
    ps = ProperScores()
    for idx in np.array_split(np.arange(y.size), batches):
        p = pred[idx] if np.ndim(pred) else pred
        ps.update(fam(name), y[idx], p, params, None if w is None else w[idx])
    return ps


def test_interval_score_hand_example():
    """N(0, 1) at level 0.9: [l, u] = ±1.6449; y = 0 (inside), 3 (above), −2 (below)."""
    ps = ProperScores(levels=(0.9,))
    y = np.array([0.0, 3.0, -2.0])
    ps.update(fam("gaussian"), y, 0.0, {"sigma": 1.0}, np.array([1.0, 2.0, 1.0]))
    out = ps.finalize(4.0)
    u = stats.norm.ppf(0.95)
    width = 2 * u
    scores = [width, width + (2 / 0.1) * (3.0 - u), width + (2 / 0.1) * (2.0 - u)]
    (iv,) = out["intervals"]
    assert iv["level"] == 0.9
    assert iv["coverage"] == pytest.approx(1 / 4, rel=1e-15)
    assert iv["mean_width"] == pytest.approx(width, rel=1e-15)
    assert iv["interval_score"] == pytest.approx(
        (scores[0] + 2 * scores[1] + scores[2]) / 4, rel=1e-14)
    crps = [stats.norm.expect(lambda x, v=v: abs(x - v)) - 1 / math.sqrt(math.pi)
            for v in y]
    assert out["crps"] == pytest.approx((crps[0] + 2 * crps[1] + crps[2]) / 4, rel=1e-9)


def test_discrete_interval_coverage_counts_the_end_points():
    """Poisson(4): F⁻¹(0.25) = 3 and F⁻¹(0.75) = 5, so y = 3 and y = 5 are covered."""
    ps = ProperScores(levels=(0.5,))
    ps.update(fam("poisson"), np.array([2.0, 3.0, 5.0, 6.0]), 4.0, {})
    (iv,) = ps.finalize()["intervals"]
    assert iv["coverage"] == 0.5
    assert iv["mean_width"] == 2.0
    assert iv["interval_score"] == pytest.approx(2.0 + (4.0 * 1 + 4.0 * 1) / 4)


def test_weights_equal_repetition():
    rng = np.random.default_rng(5)
    y = rng.poisson(3.0, size=40).astype(float)
    mu = rng.uniform(1.0, 6.0, size=40)
    reps = rng.integers(0, 4, size=40)
    weighted = _scores("negative_binomial", y, mu, {"alpha": 0.4}, reps.astype(float))
    repeated = _scores("negative_binomial", np.repeat(y, reps), np.repeat(mu, reps),
                       {"alpha": 0.4})
    a, b = weighted.finalize(), repeated.finalize()
    assert a["crps"] == pytest.approx(b["crps"], rel=1e-13)
    for x, z in zip(a["intervals"], b["intervals"], strict=True):
        for key in ("coverage", "mean_width", "interval_score"):
            assert x[key] == pytest.approx(z[key], rel=1e-13)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 60), st.integers(1, 12), st.integers(0, 2**32 - 1))
def test_one_batch_equals_many(n, batches, seed):
    rng = np.random.default_rng(seed)
    y = rng.normal(size=n) * 3
    mu = rng.normal(size=n)
    sigma = rng.uniform(0.2, 4.0, size=n)
    w = rng.uniform(0.0, 3.0, size=n)
    params = {"df": 4.0, "scale": 1.3}
    one = _scores("student_t", y, mu, params, w).finalize()
    many = ProperScores()
    parts = np.array_split(np.arange(n), batches)
    states = []
    for idx in parts:
        s = ProperScores()
        s.update(fam("gaussian"), y[idx], mu[idx], {"sigma": sigma[idx]}, w[idx])
        states.append(s)
    # merged in a tree, not in row order
    while len(states) > 1:
        states = [states[i].merge(states[i + 1]) if i + 1 < len(states) else states[i]
                  for i in range(0, len(states), 2)]
    many = states[0].finalize()
    single = ProperScores()
    single.update(fam("gaussian"), y, mu, {"sigma": sigma}, w)
    one = single.finalize()
    assert many["crps"] == pytest.approx(one["crps"], rel=1e-14, abs=1e-300)
    for x, z in zip(one["intervals"], many["intervals"], strict=True):
        for key in ("coverage", "mean_width", "interval_score"):
            assert x[key] == pytest.approx(z[key], rel=1e-14, abs=1e-300)


def test_family_without_crps_reports_none():
    ps = ProperScores()
    pred = np.log(np.array([[0.2, 0.5], [0.8, 0.5]]))
    ps.update(fam("categorical"), np.array([0, 1]), pred, {})
    assert ps.finalize() == {"crps": None, "intervals": None}


def test_infinite_crps_at_zero_weight_is_left_out():
    ps = ProperScores()
    ps.update(fam("student_t"), np.array([0.0, 1.0]), 0.0,
              {"df": np.array([0.5, 3.0]), "scale": 1.0}, np.array([0.0, 1.0]))
    out = ps.finalize()
    want = float(fam("student_t").crps(np.array([1.0]), 0.0, {"df": 3.0, "scale": 1.0})[0])
    assert out["crps"] == pytest.approx(want, rel=1e-15)


@pytest.mark.parametrize("mu", [1e-9, 1e-4, 0.009, 0.02])
def test_small_mean_at_zero_keeps_relative_accuracy(mu):
    """At y = 0 the score is ≈ μ², far below the closed forms' terms (≈ μ)."""
    with mp.workdps(50):
        want_p = float(counting_crps(poisson_pmf(mu, 60), 0, 60))
        want_nb = float(counting_crps(nb_pmf(mu, 2.0, 400), 0, 400))
    y = np.zeros(1)
    assert float(fam("poisson").crps(y, mu, {})[0]) == pytest.approx(want_p, rel=REL)
    got = fam("negative_binomial").crps(y, np.array([mu]), {"alpha": np.array([2.0])})
    assert float(got[0]) == pytest.approx(want_nb, rel=REL)
