"""The beta family against scipy.stats.beta and independent optimisers.

Oracles: scipy.stats.beta(a=μφ, b=(1 − μ)φ) log-densities and CDFs; scipy.stats.beta.fit;
scipy.optimize on scipy.stats log-likelihood sums; closed forms written here.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, optimize, stats

from losscli.errors import FitError
from losscli.noise.beta import Beta
from tests.oracles import wsum

RTOL_LL = 1e-9
RTOL_FIT = 1e-4
FAM = Beta()


@pytest.fixture
def data(rng):
    n = 300
    mu = 1.0 / (1.0 + np.exp(-rng.normal(0.0, 1.0, n)))
    y = rng.beta(mu * 12.0, (1.0 - mu) * 12.0)
    w = rng.integers(1, 5, n).astype(float)
    return y, mu, w



# ------------------------------------------------------------------ declared facts


def test_declared_facts():
    assert FAM.name == "beta" and FAM.location == "mean" and FAM.prediction == "mean"
    assert FAM.nuisance == ("precision",) and FAM.marginal_params == ("mean", "precision")
    fw = FAM.frameworks
    assert (fw.pytorch, fw.sklearn, fw.xgboost, fw.lightgbm) == (None, None, None, None)
    assert FAM.transform is None and not FAM.discrete
    edge = np.array([0.0, 1e-12, 0.5, 1 - 1e-12, 1.0])
    assert FAM.support.contains(edge).tolist() == [False, True, True, True, False]
    assert FAM.pred_domain.contains(edge).tolist() == [False, True, True, True, False]
    # the conditional fit steps over every row; the marginal one uses two sums
    assert FAM.closed_form == ("marginal",)  # the conditional precision needs an optimiser


def test_to_scipy_mean_and_variance():
    mu = np.array([0.2, 0.7])
    d = FAM.to_scipy(mu, {"precision": 9.0})
    np.testing.assert_allclose(d.mean(), mu, rtol=1e-14)
    np.testing.assert_allclose(d.var(), mu * (1 - mu) / 10.0, rtol=1e-13)


# ------------------------------------------------------------------ log-likelihood


@settings(max_examples=60, deadline=None)
@given(mu=st.floats(1e-3, 1 - 1e-3), phi=st.floats(0.05, 1e4), q=st.floats(1e-4, 1 - 1e-4))
def test_loglik_matches_scipy_logpdf(mu, phi, q):
    d = stats.beta(mu * phi, (1 - mu) * phi)
    y = d.ppf(np.array([q, 0.5, 1 - q]))
    y = y[(y > 0) & (y < 1)]
    np.testing.assert_allclose(FAM.loglik(y, mu, {"precision": phi}), d.logpdf(y),
                               rtol=RTOL_LL, atol=1e-12)


def test_loglik_conditional_rows_match_scipy(data):
    y, mu, _ = data
    params = {"precision": 7.5}
    expected = stats.beta(mu * 7.5, (1 - mu) * 7.5).logpdf(y)
    np.testing.assert_allclose(FAM.loglik(y, mu, params), expected, rtol=RTOL_LL)
    np.testing.assert_allclose(FAM.to_scipy(mu, params).logpdf(y), expected, rtol=1e-14)


def test_density_integrates_to_one():
    params = {"precision": 4.0}
    total, _ = integrate.quad(lambda v: math.exp(FAM.loglik(np.array([v]), 0.3, params)[0]),
                              0, 1, epsabs=1e-13, limit=200)
    assert total == pytest.approx(1.0, abs=1e-9)


# ------------------------------------------------------------------ fits


@pytest.mark.parametrize("weighted", [False, True])
def test_conditional_precision_matches_scipy_optimum(data, weighted):
    y, mu, w = data
    w = w if weighted else None

    def nll(log_phi):
        phi = math.exp(log_phi)
        return -wsum(stats.beta(mu * phi, (1 - mu) * phi).logpdf(y), w)

    res = optimize.minimize_scalar(nll, bounds=(-2, 8), method="bounded",
                                   options={"xatol": 1e-10})
    fit = FAM.fit(y, w, mu)
    assert set(fit) == {"precision"}
    assert fit["precision"] == pytest.approx(math.exp(res.x), rel=RTOL_FIT)


@pytest.mark.parametrize("phi", [0.2, 2.0, 300.0])
def test_conditional_precision_across_scales(rng, phi):
    """The bracket search finds the root whether φ is small or large."""
    mu = rng.uniform(0.2, 0.8, 400)
    y = rng.beta(mu * phi, (1 - mu) * phi)
    y = np.clip(y, 1e-12, 1 - 1e-12)  # φ = 0.2 piles mass at the ends

    def nll(log_phi):
        p = math.exp(log_phi)
        return -stats.beta(mu * p, (1 - mu) * p).logpdf(y).sum()

    res = optimize.minimize_scalar(nll, bounds=(math.log(phi) - 3, math.log(phi) + 3),
                                   method="bounded", options={"xatol": 1e-10})
    assert FAM.fit(y, None, mu)["precision"] == pytest.approx(math.exp(res.x), rel=RTOL_FIT)


@pytest.mark.parametrize("weighted", [False, True])
def test_marginal_fit_matches_scipy_optimum(data, weighted):
    y, _, w = data
    w = w if weighted else None

    def nll(v):
        a, b = np.exp(v)
        return -wsum(stats.beta(a, b).logpdf(y), w)

    res = optimize.minimize(nll, [0.0, 0.0], method="Nelder-Mead",
                            options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 4000})
    a, b = np.exp(res.x)
    fit = FAM.fit(y, w)
    assert fit["mean"] == pytest.approx(a / (a + b), rel=RTOL_FIT)
    assert fit["precision"] == pytest.approx(a + b, rel=RTOL_FIT)
    assert FAM.marginal_pred(fit) == fit["mean"]


def test_unweighted_marginal_matches_scipy_beta_fit(data):
    y = data[0]
    a, b, _, _ = stats.beta.fit(y, floc=0, fscale=1)
    fit = FAM.fit(y, None)
    assert fit["mean"] == pytest.approx(a / (a + b), rel=RTOL_FIT)
    assert fit["precision"] == pytest.approx(a + b, rel=RTOL_FIT)


@pytest.mark.parametrize("conditional", [False, True])
def test_weights_equal_repetition(data, conditional):
    y, mu, w = data
    reps = w.astype(int)
    a = FAM.fit(y, w, mu if conditional else None)
    b = FAM.fit(np.repeat(y, reps), None, np.repeat(mu, reps) if conditional else None)
    assert a.keys() == b.keys()
    for name in a:
        assert a[name] == pytest.approx(b[name], rel=1e-9)


def test_degenerate_fits_fail_loudly():
    y = np.array([0.2, 0.5, 0.7])
    with pytest.raises(FitError, match="precision"):
        FAM.fit(y, None, y.copy())
    with pytest.raises(FitError, match="same"):
        FAM.fit(np.full(4, 0.3), None)


def test_targets_on_the_closed_ends_are_outside_the_support():
    y = np.array([0.2, 1.0, 0.5])
    assert FAM.support.first_outside(y) == 1
    assert FAM.support.description == "reals in (0, 1)"


# ------------------------------------------------------------------ CDF


@pytest.mark.parametrize(("mu", "phi"), [(0.3, 0.5), (0.5, 4.0), (0.8, 200.0)])
def test_logcdf_logsf_match_scipy(mu, phi):
    d = stats.beta(mu * phi, (1 - mu) * phi)
    x = np.concatenate([d.ppf(np.array([1e-30, 1e-5, 0.3, 0.5, 0.9])),
                        d.isf(np.array([1e-5, 1e-12]))])
    x = x[(x > 0) & (x < 1)]
    params = {"precision": phi}
    np.testing.assert_allclose(FAM.logcdf(x, mu, params), d.logcdf(x), rtol=RTOL_LL)
    np.testing.assert_allclose(FAM.logsf(x, mu, params), d.logsf(x), rtol=RTOL_LL)
    assert FAM.logcdf(np.array([0.0, 1.0]), mu, params).tolist() == [-math.inf, 0.0]
    assert FAM.logsf(np.array([0.0, 1.0]), mu, params).tolist() == [0.0, -math.inf]
