"""The Newton fits of the zero-inflated NB and of the discretised inverse Gaussian,
log1p-normal, gaussian, lognormal and gamma: their analytic derivatives against numerical
ones of independent log-likelihoods (statsmodels' zinegbin, scipy's c.d.f.s), their
optimum against a tight scipy MLE of the same oracle, their information (the se) against
the oracle's numerical Hessian, and the number of passes over the fit rows they take.

Oracles: ZINB = statsmodels zinegbin(mu=λ, alpha=α, p=2, w=π), λ = ŷ/(1 − π); the
discretised likelihood log(F(y + ½) − F(max(y − ½, lower))) with F from scipy.stats:
invgauss(mu=φμ, scale=1/φ), lognorm(s=σ, scale=1 + m, loc=−1) for log1p_normal, and
gamma(a=k, scale=μ/k).
"""

from __future__ import annotations

import math

import numdifftools as nd
import numpy as np
import pytest
from scipy import optimize, stats
from statsmodels.distributions.discrete import zinegbin

from losscli.noise import zero_inflated
from losscli.noise.discretised import Discretised
from losscli.noise.gamma import Gamma
from losscli.noise.gaussian import Gaussian
from losscli.noise.inverse_gaussian import InverseGaussian
from losscli.noise.log1p_normal import Log1pNormal
from losscli.noise.lognormal import LogNormal
from losscli.noise.zero_inflated import ZeroInflatedNegativeBinomial, _Rows

ZINB = ZeroInflatedNegativeBinomial()


def zinb_data(rng, n, pi=0.25, alpha=0.7):
    mu = np.exp(rng.normal(0.8, 0.6, n))
    lam = mu / (1.0 - pi) * rng.gamma(1.0 / alpha, alpha, n)
    y = np.where(rng.uniform(size=n) < pi, 0.0, rng.poisson(lam).astype(float))
    return y, mu


def zinb_total(y, w, mu, pi, alpha):
    """Σ w log q by statsmodels."""
    return float(np.dot(w, zinegbin(mu=mu / (1.0 - pi), alpha=alpha, p=2, w=pi).logpmf(y)))


def test_zinb_derivatives_match_numdifftools_of_statsmodels(rng):
    y, mu = zinb_data(rng, 3000)
    w = rng.uniform(0.5, 2.0, y.size)
    rows = _Rows(y, w, mu)
    x0 = np.array([0.3, math.log(0.5)])

    def f(x):
        return zinb_total(y, w, mu, -math.expm1(-x[0]), math.exp(x[1]))

    ll, grad, hess = rows.derivatives(*x0)
    assert ll == pytest.approx(f(x0), rel=1e-10)
    np.testing.assert_allclose(grad, nd.Gradient(f, step=1e-5)(x0), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(hess, nd.Hessian(f, step=1e-4)(x0), rtol=1e-6)


def test_zinb_derivatives_near_the_poisson_limit(rng):
    """α·λ below the series' switch (1e-3) in some rows and above it in others."""
    y, mu = zinb_data(rng, 2000, alpha=0.01)
    w = np.ones(y.size)
    rows = _Rows(y, w, mu)
    u0, s0 = 0.25, math.log(1e-3)
    assert np.any(1e-3 * mu < 1e-3) and np.any(1e-3 * mu > 1e-3)

    def f(x):
        return zinb_total(y, w, mu, -math.expm1(-x[0]), math.exp(x[1]))

    _, grad, hess = rows.derivatives(u0, s0)
    want_g = nd.Gradient(f)([u0, s0])
    want_h = nd.Hessian(f)([u0, s0])
    np.testing.assert_allclose(grad, want_g, rtol=1e-6)
    np.testing.assert_allclose(hess, want_h, rtol=1e-5)


def _zinb_mle(y, mu):
    def nll(v):
        return -zinb_total(y, np.ones(y.size), mu, 1.0 / (1.0 + math.exp(-v[0])),
                           math.exp(v[1]))

    res = optimize.minimize(nll, [-1.0, math.log(0.5)], method="Nelder-Mead",
                            options={"xatol": 1e-11, "fatol": 1e-13, "maxiter": 20000})
    return 1.0 / (1.0 + math.exp(-res.x[0])), math.exp(res.x[1])


def _count_passes(monkeypatch):
    """Counts the calls of _Rows' per-row evaluations (each one pass over the rows)."""
    calls = {"n": 0}
    for name in ("loglik", "score", "derivatives"):
        orig = getattr(_Rows, name)

        def counted(self, *a, _orig=orig, **k):
            calls["n"] += 1
            return _orig(self, *a, **k)

        monkeypatch.setattr(_Rows, name, counted)
    return calls


def test_zinb_fit_is_the_mle_in_few_passes(rng, monkeypatch):
    y, mu = zinb_data(rng, 4000)
    calls = _count_passes(monkeypatch)
    got = ZINB.fit(y, None, mu)
    # the profile search over log α took hundreds of score evaluations
    assert calls["n"] <= 40
    pi, alpha = _zinb_mle(y, mu)
    assert got["pi"] == pytest.approx(pi, rel=1e-6)
    assert got["alpha"] == pytest.approx(alpha, rel=1e-6)


def test_zinb_fit_on_many_rows_from_the_pilot(rng, monkeypatch):
    """More than 4 × PILOT_ROWS rows: the pilot on a seeded sample starts Newton."""
    y, mu = zinb_data(rng, 4 * zero_inflated.PILOT_ROWS + 1000)
    calls = _count_passes(monkeypatch)
    got = ZINB.fit(y, None, mu)
    assert calls["n"] <= 60
    rows = _Rows(y, None, mu)
    _, grad, _ = rows.derivatives(-math.log1p(-got["pi"]), math.log(got["alpha"]))
    # at the MLE the score vanishes (relative to the rows' count)
    assert np.max(np.abs(grad)) < 1e-6 * y.size


def test_zinb_fit_with_pi_on_its_boundary(rng):
    """NB data with fewer zeros than NB gives: π̂ = 0 and α̂ the NB fit."""
    alpha = 0.5
    mu = np.exp(rng.normal(1.0, 0.4, 3000))
    y = rng.poisson(mu * rng.gamma(1.0 / alpha, alpha, mu.size)).astype(float)
    y[(y == 0.0) & (rng.uniform(size=y.size) < 0.5)] = 1.0
    got = ZINB.fit(y, None, mu)
    assert got["pi"] == 0.0
    want = optimize.minimize_scalar(
        lambda s: -stats.nbinom(1.0 / math.exp(s), 1.0 / (1.0 + math.exp(s) * mu)
                                ).logpmf(y).sum(), bracket=(-2.0, 0.0), tol=1e-12).x
    assert got["alpha"] == pytest.approx(math.exp(want), rel=1e-6)


def test_zinb_information_matches_numdifftools_of_statsmodels(rng):
    y, mu = zinb_data(rng, 3000)
    w = rng.uniform(0.5, 2.0, y.size)
    params = {"pi": 0.22, "alpha": 0.6}
    got = ZINB.information(y, w, mu, params, ("pi", "alpha"))
    want = -nd.Hessian(lambda v: zinb_total(y, w, mu, v[0], v[1]))(
        [params["pi"], params["alpha"]])
    np.testing.assert_allclose(got, want, rtol=1e-6)
    one = ZINB.information(y, w, mu, params, ("alpha",))
    assert one[0, 0] == pytest.approx(want[1, 1], rel=1e-6)
    assert ZINB.information(y, w, None, {**params, "mean": 2.0}, ("pi", "alpha")) is None


# ------------------------------------------------------------------ discretised families


def ig_interval(y, mu, phi):
    d = stats.invgauss(mu=phi * mu, scale=1.0 / phi)
    return np.log(d.cdf(y + 0.5) - d.cdf(np.maximum(y - 0.5, 0.0)))


def l1p_interval(y, m, sigma):
    d = stats.lognorm(s=sigma, scale=1.0 + m, loc=-1.0)
    return np.log(d.cdf(y + 0.5) - d.cdf(y - 0.5))


def gauss_interval(y, mu, sigma):
    """From the nearer tail on each side of the mean (1 − Φ would round to 0)."""
    d = stats.norm(loc=mu, scale=sigma)
    upper = y > mu
    return np.log(np.where(upper, d.sf(y - 0.5) - d.sf(y + 0.5),
                           d.cdf(y + 0.5) - d.cdf(y - 0.5)))


def lognormal_interval(y, m, sigma):
    """lognormal on the counts: y = 0 is [0, ½] (its lower end, where z = −∞)."""
    d = stats.lognorm(s=sigma, scale=m)
    return np.log(d.cdf(y + 0.5) - d.cdf(np.maximum(y - 0.5, 0.0)))


def gamma_interval(y, mu, shape):
    """gamma on the counts (shape k, mean μ): y = 0 is [0, ½]."""
    d = stats.gamma(a=shape, scale=mu / shape)
    return np.log(d.cdf(y + 0.5) - d.cdf(np.maximum(y - 0.5, 0.0)))


CASES = [(InverseGaussian(), "dispersion", ig_interval, 0.6),
         (Log1pNormal(), "sigma", l1p_interval, 0.7),
         (Gaussian(), "sigma", gauss_interval, 2.5),
         (LogNormal(), "sigma", lognormal_interval, 0.9),
         (Gamma(), "shape", gamma_interval, 1.6)]


def count_data(rng, n):
    mu = np.exp(rng.normal(1.0, 0.6, n))
    y = rng.poisson(mu * rng.gamma(2.0, 0.5, n)).astype(float)
    return y, mu


@pytest.mark.parametrize(("fam", "name", "oracle", "theta"), CASES,
                         ids=[c[1] for c in CASES])
def test_interval_derivatives_match_numdifftools_of_scipy(rng, fam, name, oracle, theta):
    y, mu = count_data(rng, 400)
    ll, g, h = fam.interval_spread_sums(y, None, mu, {name: theta})

    def f(s):
        return float(oracle(y, mu, math.exp(s[0])).sum())

    s0 = np.array([math.log(theta)])
    assert ll == pytest.approx(f(s0), rel=1e-10)
    assert g == pytest.approx(float(nd.Derivative(f, step=1e-4)(s0)), rel=1e-6)
    assert h == pytest.approx(float(nd.Derivative(f, n=2, step=1e-3)(s0)), rel=1e-5)


@pytest.mark.parametrize(("fam", "name", "oracle", "theta"), CASES,
                         ids=[c[1] for c in CASES])
def test_discretised_fit_is_the_mle_in_few_passes(rng, monkeypatch, fam, name, oracle,
                                                  theta):
    y, mu = count_data(rng, 3000)
    w = rng.integers(1, 4, y.size).astype(float)
    calls = {"rows": 0}
    orig = type(fam).interval_loglik

    def counted(self, yy, *a, **k):
        calls["rows"] += np.size(yy)
        return orig(self, yy, *a, **k)

    monkeypatch.setattr(type(fam), "interval_loglik", counted)
    got = Discretised(fam).fit(y, w, mu)[name]
    # Brent or parabola steps, then a polish by stencils, took about twenty passes (the
    # gamma's central differences on the rows off its quadrature count as rows read)
    assert calls["rows"] <= 10 * y.size
    monkeypatch.undo()
    want = math.exp(optimize.minimize_scalar(
        lambda s: -float(np.dot(w, oracle(y, mu, math.exp(s)))),
        bracket=(math.log(theta) - 0.5, math.log(theta)), tol=1e-12).x)
    assert got == pytest.approx(want, rel=1e-7)


@pytest.mark.parametrize(("fam", "name", "oracle", "theta"), CASES,
                         ids=[c[1] for c in CASES])
def test_discretised_information_matches_numdifftools_of_scipy(rng, fam, name, oracle,
                                                               theta):
    y, mu = count_data(rng, 400)
    got = Discretised(fam).information(y, None, mu, {name: theta}, (name,))
    want = -float(nd.Derivative(lambda t: float(oracle(y, mu, t).sum()), n=2,
                                step=1e-3 * theta)(theta))
    assert got.shape == (1, 1)
    assert got[0, 0] == pytest.approx(want, rel=1e-5)
    # marginal: the shared central differences
    assert Discretised(fam).information(y, None, None, {name: theta, "mean": 2.0},
                                        (name,)) is None
