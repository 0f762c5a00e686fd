"""The logcosh family (hyperbolic secant) against scipy.stats.hypsecant and
scipy.optimize on its log-density."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import optimize, stats

from losscli.noise import FAMILIES
from losscli.noise.discretised import Discretised
from losscli.noise.logcosh import LogCosh
from tests.conftest import model, run_api, run_cli
from tests.test_family_generalized_normal import CRPS_AT, _close, crps_by_quadrature

FAM = LogCosh()


def _data(seed, s=0.7, n=1500):
    rng = np.random.default_rng(seed)
    pred = rng.normal(1.0, 2.0, n)
    y = pred + stats.hypsecant(scale=s).rvs(n, random_state=rng)
    return y, pred, rng.integers(1, 4, n).astype(float)


@pytest.mark.parametrize("s", [0.05, 0.7, 30.0])
def test_loglik_cdf_sf_ppf_equal_scipy(s):
    y, pred, _ = _data(1, s)
    d = stats.hypsecant(loc=pred, scale=s)
    p = {"scale": s}
    np.testing.assert_allclose(FAM.loglik(y, pred, p), d.logpdf(y), rtol=1e-9)
    np.testing.assert_allclose(FAM.logcdf(y, pred, p), d.logcdf(y), rtol=1e-9)
    np.testing.assert_allclose(FAM.logsf(y, pred, p), d.logsf(y), rtol=1e-9)
    u = np.linspace(0.001, 0.999, 41)
    np.testing.assert_allclose(FAM.ppf(u, 0.3, p), stats.hypsecant(0.3, s).ppf(u), rtol=1e-9,
                               atol=1e-12)
    assert FAM.variance(np.zeros(1), p)[0] == pytest.approx(stats.hypsecant(scale=s).var(),
                                                            rel=1e-12)


@pytest.mark.parametrize("s", [0.3, 0.8, 4.0])
def test_crps_against_quadrature(s):
    d = stats.hypsecant(0.4, s)
    with np.errstate(over="ignore"):  # scipy's c.d.f. computes eˣ far in the upper tail
        want = [crps_by_quadrature(lambda x: float(d.cdf(x)), v, 0.4) for v in CRPS_AT]
    np.testing.assert_allclose(FAM.crps(CRPS_AT, 0.4, {"scale": s}), want, rtol=1e-9)


def test_far_tails_in_log_space():
    """ln F(z) → ln(2/π) + z as z → −∞ (where eᶻ underflows), and ln S likewise."""
    z = np.array([-800.0, -60.0])
    np.testing.assert_allclose(FAM.logcdf(z, 0.0, {"scale": 1.0}), math.log(2 / math.pi) + z,
                               rtol=1e-15)
    np.testing.assert_allclose(FAM.logsf(-z, 0.0, {"scale": 1.0}), math.log(2 / math.pi) + z,
                               rtol=1e-15)


def test_keras_log_cosh_is_the_nll_at_unit_scale():
    """Keras' LogCosh is log(cosh(r)): the nll at s = 1 less ln π."""
    r = np.linspace(-40, 40, 81)
    np.testing.assert_allclose(-FAM.loglik(r, 0.0, {"scale": 1.0}) - math.log(math.pi),
                               np.log(np.cosh(r)), rtol=1e-13, atol=1e-15)
    assert FAMILIES["logcosh"].frameworks.keras == "LogCosh"


def test_conditional_fit_equals_numeric_weighted_mle():
    y, pred, w = _data(2)
    res = optimize.minimize_scalar(
        lambda ls: -float(np.dot(w, stats.hypsecant(pred, math.exp(ls)).logpdf(y))),
        bounds=(-5, 5), method="bounded", options={"xatol": 1e-11})
    fit = FAM.fit(y, w, pred)
    assert fit.keys() == {"scale"}
    assert fit["scale"] == pytest.approx(math.exp(res.x), rel=1e-7)
    reps = w.astype(int)
    assert FAM.fit(np.repeat(y, reps), None, np.repeat(pred, reps)) == pytest.approx(fit,
                                                                                     rel=1e-12)


def test_marginal_fit_equals_numeric_weighted_mle():
    y, pred, w = _data(3, 1.3)
    y = y - pred + 5.0

    def nll(t):
        return -float(np.dot(w, stats.hypsecant(t[0], math.exp(t[1])).logpdf(y)))

    res = optimize.minimize(nll, [float(np.median(y)), 0.0], method="Nelder-Mead",
                            options={"xatol": 1e-11, "fatol": 1e-12, "maxiter": 5000})
    fit = FAM.fit(y, w)
    assert fit["loc"] == pytest.approx(res.x[0], rel=1e-4)
    assert fit["scale"] == pytest.approx(math.exp(res.x[1]), rel=1e-4)
    assert nll([fit["loc"], math.log(fit["scale"])]) <= res.fun + 1e-8
    reps = w.astype(int)
    assert FAM.fit(np.repeat(y, reps), None) == pytest.approx(fit, rel=1e-7)
    # with the location held, the scale is the conditional fit at it
    assert FAM.fit_given(y, w, None, {"loc": 4.0}, ("scale",)) == pytest.approx(
        FAM.fit(y, w, np.full(y.size, 4.0)), rel=1e-12)


def test_discretised_loglik_and_fit():
    y = np.arange(-9.0, 10.0)
    for s in (0.3, 1.7, 50.0):
        d = stats.hypsecant(0.3, s)
        want = np.log(np.where(y < 0.3, d.cdf(y + 0.5) - d.cdf(y - 0.5),
                               d.sf(y - 0.5) - d.sf(y + 0.5)))
        np.testing.assert_allclose(Discretised(FAM).loglik(y, 0.3, {"scale": s}), want,
                                   rtol=1e-9)
    rng = np.random.default_rng(4)
    pred = rng.uniform(-4, 4, 600)
    yi = np.round(pred + stats.hypsecant(scale=1.5).rvs(600, random_state=rng))

    def nll(ls):
        d = stats.hypsecant(pred, math.exp(ls))
        return -float(np.sum(np.log(d.cdf(yi + 0.5) - d.cdf(yi - 0.5))))

    res = optimize.minimize_scalar(nll, bounds=(-3, 3), method="bounded",
                                   options={"xatol": 1e-11})
    assert Discretised(FAM).fit(yi, None, pred)["scale"] == pytest.approx(math.exp(res.x),
                                                                         rel=1e-4)


@pytest.mark.parametrize("integer", [False, True])
def test_compare_and_evaluate_end_to_end(write_csv, integer):
    rng = np.random.default_rng(5)
    pred = rng.normal(0, 3, 400)
    y = pred + stats.hypsecant(scale=1.2).rvs(400, random_state=rng)
    y = np.round(y) if integer else y
    path = write_csv("c.csv", y=y, y_pred=pred)
    rep = run_api("compare-noise-models", path, families=("gaussian", "laplace", "logcosh"))
    assert rep["base_measure"] == ("counting" if integer else "lebesgue")
    assert {m["family"] for m in rep["models"]} == {"gaussian", "laplace", "logcosh"}
    assert not [t for t in rep["tests"] if t["kind"] == "likelihood_ratio"]  # nests none
    if not integer:
        m = model(run_api("evaluate", path, families=("logcosh",)), "logcosh")
        d = stats.hypsecant(pred, m["params"]["scale"])
        assert m["nll"] == pytest.approx(-d.logpdf(y).sum(), rel=1e-9)
    args = ["compare-noise-models", str(path), "-f", "gaussian,logcosh", "--format", "json"]
    a, b = run_cli(*args), run_cli(*args, "--batch-rows", "7")
    assert a.returncode == 0 and b.returncode == 0, b.stderr
    ja, jb = json.loads(a.stdout), json.loads(b.stdout)
    assert _close(ja["models"], jb["models"]) and _close(ja["tests"], jb["tests"])
