"""The expectile family (asymmetric normal) against its density written out here,
normalised by quadrature, and scipy.optimize on it."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import integrate, optimize, special, stats

from losscli.errors import FitError
from losscli.noise import FAMILIES
from losscli.noise.discretised import Discretised
from losscli.noise.expectile import Expectile, weighted_expectile
from losscli.noise.gaussian import Gaussian
from tests.conftest import model, run_api, run_cli
from tests.test_family_generalized_normal import CRPS_AT, _close, crps_by_quadrature

FAM = Expectile()


def _logpdf(y, m, tau, sigma):
    """exp(−|τ − 1{r<0}| r²/σ²)/Z, Z = ½√π σ(τ^(−½) + (1 − τ)^(−½)), written out."""
    r = np.asarray(y, dtype=float) - m
    k = np.where(r < 0, 1 - tau, tau)
    z = 0.5 * math.sqrt(math.pi) * np.asarray(sigma) * (tau ** -0.5 + (1 - tau) ** -0.5)
    return -k * r * r / np.square(sigma) - np.log(z)


def _cdf(x, m, tau, sigma):
    """F by adaptive quadrature of the written density."""
    return integrate.quad(lambda v: math.exp(_logpdf(v, m, tau, sigma)), -np.inf, x,
                          epsabs=1e-15, epsrel=1e-13, limit=200)[0]


def _draw(rng, m, tau, sigma, n):
    a, b = sigma / math.sqrt(tau), sigma / math.sqrt(1 - tau)
    below = rng.uniform(size=n) < b / (a + b)
    return m + np.where(below, -np.abs(rng.normal(0, b / math.sqrt(2), n)),
                        np.abs(rng.normal(0, a / math.sqrt(2), n)))


def _data(seed, tau=0.8, sigma=1.2, n=1500):
    rng = np.random.default_rng(seed)
    pred = rng.normal(1.0, 2.0, n)
    return _draw(rng, pred, tau, sigma, n), pred, rng.integers(1, 4, n).astype(float)


@pytest.mark.parametrize("tau", [0.05, 0.3, 0.5, 0.9])
def test_written_density_is_normalised_and_equals_loglik(tau):
    p = {"tau": tau, "sigma": 1.7}
    total = integrate.quad(lambda v: math.exp(_logpdf(v, 0.4, tau, 1.7)), -np.inf, np.inf,
                           epsabs=1e-14, epsrel=1e-13)[0]
    assert total == pytest.approx(1.0, abs=1e-10)
    y, pred, _ = _data(1, tau)
    np.testing.assert_allclose(FAM.loglik(y, pred, p), _logpdf(y, pred, tau, 1.7), rtol=1e-9)
    s = np.random.default_rng(2).uniform(0.3, 3, y.size)  # a scale per row
    np.testing.assert_allclose(FAM.loglik(y, pred, {"tau": tau, "sigma": s}),
                               _logpdf(y, pred, tau, s), rtol=1e-9)
    assert FAM.to_scipy(pred, p).logpdf(y) == pytest.approx(_logpdf(y, pred, tau, 1.7),
                                                            rel=1e-12)


@pytest.mark.parametrize("tau", [0.1, 0.5, 0.85])
def test_cdf_sf_ppf_against_quadrature(tau):
    p = {"tau": tau, "sigma": 1.3}
    x = np.array([-6.0, -1.0, -0.2, 0.4, 0.41, 1.5, 7.0])
    want = np.array([_cdf(v, 0.4, tau, 1.3) for v in x])
    np.testing.assert_allclose(np.exp(FAM.logcdf(x, 0.4, p)), want, rtol=1e-10)
    np.testing.assert_allclose(-np.expm1(FAM.logsf(x, 0.4, p)), want, rtol=1e-9)
    # (the last point's F rounds too close to 1 to invert)
    np.testing.assert_allclose(FAM.ppf(want[:-1], 0.4, p), x[:-1], rtol=1e-9)
    # the far tails stay finite in log space
    assert np.all(np.isfinite(FAM.logcdf(np.array([-1e3]), 0.0, p)))
    assert np.all(np.isfinite(FAM.logsf(np.array([1e3]), 0.0, p)))
    # the variance against quadrature
    mean = integrate.quad(lambda v: v * math.exp(_logpdf(v, 0.0, tau, 1.3)), -np.inf, np.inf)[0]
    m2 = integrate.quad(lambda v: v * v * math.exp(_logpdf(v, 0.0, tau, 1.3)), -np.inf,
                        np.inf)[0]
    assert FAM.variance(np.zeros(1), p)[0] == pytest.approx(m2 - mean ** 2, rel=1e-9)


@pytest.mark.parametrize("tau,s", [(0.2, 1.3), (0.5, 0.7), (0.9, 2.0)])
def test_crps_against_quadrature(tau, s):
    d = FAM.to_scipy(0.4, {"tau": tau, "sigma": s})  # checked against quadrature above
    want = [crps_by_quadrature(lambda x: float(d.cdf(x)), v, 0.4) for v in CRPS_AT]
    np.testing.assert_allclose(FAM.crps(CRPS_AT, 0.4, {"tau": tau, "sigma": s}), want,
                               rtol=1e-9)


def test_the_prediction_is_the_tau_expectile():
    """E|τ − 1{Y<ŷ}|(Y − ŷ) = 0 under the model: the first-order condition of the loss."""
    tau, p = 0.8, {"tau": 0.8, "sigma": 1.1}
    v = integrate.quad(lambda x: (tau if x >= 0 else 1 - tau) * x
                       * math.exp(FAM.loglik(np.array([x]), 0.0, p)[0]), -np.inf, np.inf,
                       epsabs=1e-14)[0]
    assert abs(v) < 1e-12


def _nll_oracle(theta, y, pred, w):
    """−Σ w log q from the written density; θ = (logit τ, ln σ)."""
    return -float(np.dot(w, _logpdf(y, pred, special.expit(theta[0]), math.exp(theta[1]))))


def test_conditional_fit_equals_numeric_weighted_mle():
    y, pred, w = _data(3)
    res = optimize.minimize(_nll_oracle, [0.0, 0.0], args=(y, pred, w), method="Nelder-Mead",
                            options={"xatol": 1e-11, "fatol": 1e-12, "maxiter": 5000})
    fit = FAM.fit(y, w, pred)
    assert fit["tau"] == pytest.approx(special.expit(res.x[0]), rel=1e-6)
    assert fit["sigma"] == pytest.approx(math.exp(res.x[1]), rel=1e-6)
    reps = w.astype(int)
    assert FAM.fit(np.repeat(y, reps), None, np.repeat(pred, reps)) == pytest.approx(fit,
                                                                                     rel=1e-12)
    # at a given τ: σ² = 2Σw|τ − 1{r<0}|r²/W
    got = FAM.fit_given(y, w, pred, {"tau": 0.3}, ("sigma",))
    r = y - pred
    assert got["sigma"] == pytest.approx(
        math.sqrt(2 * np.dot(w, np.where(r < 0, 0.7, 0.3) * r * r) / w.sum()), rel=1e-12)
    # at a given σ: τ by the shared optimiser
    got = FAM.fit_given(y, w, pred, {"sigma": 1.0}, ("tau",))
    res = optimize.minimize_scalar(lambda t: _nll_oracle([t, 0.0], y, pred, w),
                                   bounds=(-8, 8), method="bounded", options={"xatol": 1e-11})
    assert got["tau"] == pytest.approx(special.expit(res.x), rel=1e-6)


@pytest.mark.parametrize("tau", [0.25, 0.5, 0.8])
def test_marginal_fit_equals_numeric_weighted_mle(tau):
    rng = np.random.default_rng(4)
    y = _draw(rng, 3.0, tau, 1.4, 1200)
    w = rng.integers(1, 4, y.size).astype(float)

    def nll(t):
        return -float(np.dot(w, _logpdf(y, t[0], special.expit(t[1]), math.exp(t[2]))))

    res = optimize.minimize(nll, [float(np.mean(y)), 0.0, 0.0], method="Nelder-Mead",
                            options={"xatol": 1e-11, "fatol": 1e-12, "maxiter": 20000})
    fit = FAM.fit(y, w)
    assert fit["expectile"] == pytest.approx(res.x[0], rel=1e-4)
    assert fit["tau"] == pytest.approx(special.expit(res.x[1]), rel=1e-4)
    assert fit["sigma"] == pytest.approx(math.exp(res.x[2]), rel=1e-4)
    assert nll([fit["expectile"], special.logit(fit["tau"]), math.log(fit["sigma"])]) \
        <= res.fun + 1e-8
    reps = w.astype(int)
    assert FAM.fit(np.repeat(y, reps), None) == pytest.approx(fit, rel=1e-9)


def test_weighted_expectile_solves_its_first_order_condition():
    rng = np.random.default_rng(5)
    y = rng.gamma(2.0, 1.5, 301)
    w = rng.integers(0, 4, y.size).astype(float)
    for tau in (0.02, 0.3, 0.5, 0.97):
        m = weighted_expectile(y, w, tau)
        root = optimize.brentq(lambda v, tau=tau: tau * np.dot(w, np.maximum(y - v, 0))
                               - (1 - tau) * np.dot(w, np.maximum(v - y, 0)), y.min(), y.max(),
                               xtol=1e-14)
        assert m == pytest.approx(root, rel=1e-12)
    assert weighted_expectile(y, w, 0.5) == pytest.approx(np.dot(w, y) / w.sum(), rel=1e-13)


def test_fit_fails_in_words_without_residuals_on_both_sides():
    with pytest.raises(FitError, match="no target lies below its prediction"):
        FAM.fit(np.arange(1.0, 6.0), None, np.zeros(5))
    with pytest.raises(FitError, match="every target is equal"):
        FAM.fit(np.ones(4), None)


def test_at_a_half_it_is_gaussian_with_the_same_sigma():
    """τ = ½: exp(−r²/(2σ²))/(½√π σ·2√2) = exp(−r²/(2σ²))/(√(2π) σ), N(ŷ, σ²)."""
    y, pred, _ = _data(6, tau=0.5)
    g = Gaussian()
    sg = g.fit(y, None, pred)["sigma"]
    np.testing.assert_allclose(FAM.loglik(y, pred, {"tau": 0.5, "sigma": sg}),
                               g.loglik(y, pred, {"sigma": sg}), rtol=1e-13)
    assert FAM.fit_given(y, None, pred, {"tau": 0.5}, ("sigma",))["sigma"] == pytest.approx(
        sg, rel=1e-12)
    got = FAM.fit_given(y, None, None, {"tau": 0.5}, ("expectile", "sigma"))
    gm = g.fit(y, None)
    assert got["expectile"] == pytest.approx(gm["mean"], rel=1e-12)
    assert got["sigma"] == pytest.approx(gm["sigma"], rel=1e-12)
    (at,) = FAMILIES["expectile"].nests
    assert (at.family, at.param, at.value, at.boundary) == ("gaussian", "tau", 0.5, False)


def test_discretised_loglik_equals_cdf_differences():
    y = np.arange(-9.0, 10.0)
    for tau, s in ((0.7, 1.3), (0.2, 4.0)):
        d = FAM.to_scipy(0.3, {"tau": tau, "sigma": s})
        # each interval from the tail that is small there
        want = np.log(np.where(y < 0.3, d.cdf(y + 0.5) - d.cdf(y - 0.5),
                               d.sf(y - 0.5) - d.sf(y + 0.5)))
        got = Discretised(FAM).loglik(y, 0.3, {"tau": tau, "sigma": s})
        np.testing.assert_allclose(got, want, rtol=1e-9)
    # the halfnorm oracle's c.d.f. against quadrature of the written density
    assert d.cdf(np.array([1.7]))[0] == pytest.approx(_cdf(1.7, 0.3, 0.2, 4.0), rel=1e-11)


def test_discretised_fit_equals_numeric_mle():
    rng = np.random.default_rng(7)
    pred = rng.uniform(-4, 4, 600)
    y = np.round(_draw(rng, pred, 0.75, 2.0, 600))

    def nll(t):
        d = FAM.to_scipy(pred, {"tau": special.expit(t[0]), "sigma": math.exp(t[1])})
        return -float(np.sum(np.log(d.cdf(y + 0.5) - d.cdf(y - 0.5))))

    res = optimize.minimize(nll, [0.0, 0.5], method="Nelder-Mead",
                            options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 4000})
    fit = Discretised(FAM).fit(y, None, pred)
    assert fit["tau"] == pytest.approx(special.expit(res.x[0]), rel=1e-4)
    assert fit["sigma"] == pytest.approx(math.exp(res.x[1]), rel=1e-4)


@pytest.mark.parametrize("integer", [False, True])
def test_compare_reports_the_interior_lr_test(write_csv, integer):
    rng = np.random.default_rng(8)
    pred = rng.normal(0, 3, 900)
    y = _draw(rng, pred, 0.75, 2.0, 900)
    path = write_csv("e.csv", y=np.round(y) if integer else y, y_pred=pred)
    rep = run_api("compare-noise-models", path, families=("gaussian", "expectile"))
    (t,) = [t for t in rep["tests"] if t["kind"] == "likelihood_ratio"]
    assert (t["null"], t["alternative"]) == ("gaussian", "expectile")
    lr = 2 * (model(rep, "gaussian")["nll"] - model(rep, "expectile")["nll"])
    assert t["statistic"] == pytest.approx(lr, rel=1e-9)
    assert t["p_value"] == pytest.approx(stats.chi2.sf(lr, 1), rel=1e-9)
    assert not [t for t in rep["tests"] if t["kind"] == "vuong"]
    default = run_api("compare-noise-models", path)
    assert "expectile" not in [m["family"] for m in default["models"]]


def test_evaluate_and_batch_rows(write_csv):
    rng = np.random.default_rng(9)
    pred = rng.normal(0, 3, 300)
    y = _draw(rng, pred, 0.3, 1.0, 300)
    path = write_csv("e.csv", y=y, y_pred=pred)
    m = model(run_api("evaluate", path, families=("expectile",)), "expectile")
    res = optimize.minimize(_nll_oracle, [0.0, 0.0], args=(y, pred, np.ones(y.size)),
                            method="Nelder-Mead", options={"xatol": 1e-11, "fatol": 1e-12})
    assert m["params"]["tau"] == pytest.approx(special.expit(res.x[0]), rel=1e-4)
    assert m["nll"] == pytest.approx(res.fun, rel=1e-9)
    args = ["compare-noise-models", str(path), "-f", "gaussian,expectile", "--format", "json"]
    a, b = run_cli(*args), run_cli(*args, "--batch-rows", "7")
    assert a.returncode == 0 and b.returncode == 0, b.stderr
    ja, jb = json.loads(a.stdout), json.loads(b.stdout)
    # params_se comes from a numerical Hessian: finite differences of a likelihood whose
    # sums round differently per batch size agree to ~1e-9, not to the last digits
    for ma, mb in zip(ja["models"], jb["models"], strict=True):
        for k, v in ma.pop("params_se").items():
            assert v == pytest.approx(mb["params_se"][k], rel=1e-7)
        mb.pop("params_se")
    assert _close(ja["models"], jb["models"]) and _close(ja["tests"], jb["tests"])
    held = model(run_api("evaluate", path, families=("expectile",), fix=("expectile.tau=0.9",)),
                 "expectile")
    assert held["fixed"] == {"tau": 0.9}
    r = y - pred
    assert held["params"]["sigma"] == pytest.approx(
        math.sqrt(2 * np.mean(np.where(r < 0, 0.1, 0.9) * r * r)), rel=1e-9)
