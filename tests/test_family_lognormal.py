"""The log-normal family against scipy.stats.lognorm and independent optimisers.

Oracles: scipy.stats.lognorm(s=σ, scale=m) log-densities and CDFs; scipy.stats.lognorm.fit;
scipy.optimize on scipy.stats log-likelihood sums (density and unit-interval); closed
forms written here.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize, stats

from losscli.errors import FitError
from losscli.noise.discretised import Discretised
from losscli.noise.lognormal import LogNormal
from losscli.noise.sums import value_counts
from tests.oracles import interval_logprob_from_zero, wsum

RTOL_LL = 1e-9
RTOL_FIT = 1e-4
FAM = LogNormal()


@pytest.fixture
def data(rng):
    n = 300
    m = np.exp(rng.normal(1.0, 0.6, n))
    y = m * np.exp(rng.normal(0.0, 0.45, n))
    w = rng.integers(1, 5, n).astype(float)
    return y, m, w


@pytest.fixture
def counts(rng):
    n = 300
    m = np.exp(rng.normal(1.2, 0.5, n))
    y = np.round(m * np.exp(rng.normal(0.0, 0.8, n)))
    w = rng.integers(1, 5, n).astype(float)
    assert (y == 0).any()  # the interval [0, ½] is exercised
    return y, m, w


# ------------------------------------------------------------------ declared facts


def test_declared_facts():
    assert FAM.name == "lognormal" and FAM.location == "median" and FAM.prediction == "median"
    assert FAM.nuisance == ("sigma",) and FAM.marginal_params == ("median", "sigma")
    assert FAM.transform == "log"
    assert FAM.frameworks.pytorch == "torch.nn.MSELoss"
    assert FAM.frameworks.sklearn == "HistGradientBoostingRegressor(loss='squared_error')"
    assert FAM.frameworks.xgboost == "reg:squarederror"
    assert FAM.frameworks.lightgbm == "regression"
    assert FAM.support.contains(np.array([0.0, 1e-300, 5.0])).tolist() == [False, True, True]
    assert "conditional" in FAM.closed_form and Discretised(FAM).closed_form == ()


def test_to_scipy_median_is_pred():
    d = FAM.to_scipy(np.array([2.0, 7.0]), {"sigma": 0.8})
    np.testing.assert_allclose(d.median(), [2.0, 7.0], rtol=1e-14)
    # log y ~ N(log m, σ²): its 84th percentile is m·e^σ
    np.testing.assert_allclose(d.ppf(stats.norm.cdf(1.0)), np.array([2.0, 7.0]) * math.exp(0.8),
                               rtol=1e-12)


# ------------------------------------------------------------------ log-likelihood


@settings(max_examples=60, deadline=None)
@given(sigma=st.floats(1e-3, 10.0), m=st.floats(1e-4, 1e5), q=st.floats(1e-6, 1 - 1e-6))
def test_loglik_matches_scipy_logpdf(sigma, m, q):
    d = stats.lognorm(s=sigma, scale=m)
    y = d.ppf(np.array([q, 0.5, 1 - q]))
    y = y[(y > 0) & np.isfinite(y)]
    np.testing.assert_allclose(FAM.loglik(y, m, {"sigma": sigma}), d.logpdf(y), rtol=RTOL_LL,
                               atol=1e-12)


def test_loglik_conditional_rows_match_scipy(data):
    y, m, _ = data
    params = {"sigma": 0.6}
    expected = stats.lognorm(s=0.6, scale=m).logpdf(y)
    np.testing.assert_allclose(FAM.loglik(y, m, params), expected, rtol=RTOL_LL)
    np.testing.assert_allclose(FAM.to_scipy(m, params).logpdf(y), expected, rtol=1e-14)


# ------------------------------------------------------------------ Lebesgue fits


@pytest.mark.parametrize("weighted", [False, True])
def test_conditional_sigma_closed_form_and_scipy_optimum(data, weighted):
    y, m, w = data
    w = w if weighted else None

    def nll(log_s):
        return -wsum(stats.lognorm(s=math.exp(log_s), scale=m).logpdf(y), w)

    res = optimize.minimize_scalar(nll, bounds=(-4, 2), method="bounded",
                                   options={"xatol": 1e-10})
    fit = FAM.fit(y, w, m)
    assert set(fit) == {"sigma"}
    assert fit["sigma"] == pytest.approx(math.exp(res.x), rel=RTOL_FIT)
    r = np.log(y) - np.log(m)
    assert fit["sigma"] == pytest.approx(math.sqrt(np.average(r * r, weights=w)), rel=1e-13)


@pytest.mark.parametrize("weighted", [False, True])
def test_marginal_fit_matches_scipy_optimum(data, weighted):
    y, _, w = data
    w = w if weighted else None

    def nll(v):
        return -wsum(stats.lognorm(s=math.exp(v[1]), scale=math.exp(v[0])).logpdf(y), w)

    res = optimize.minimize(nll, [1.0, 0.0], method="Nelder-Mead",
                            options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 4000})
    fit = FAM.fit(y, w)
    assert fit["median"] == pytest.approx(math.exp(res.x[0]), rel=RTOL_FIT)
    assert fit["sigma"] == pytest.approx(math.exp(res.x[1]), rel=RTOL_FIT)
    assert FAM.marginal_pred(fit) == fit["median"]


def test_unweighted_marginal_matches_scipy_lognorm_fit(data):
    y = data[0]
    s, _, scale = stats.lognorm.fit(y, floc=0)
    fit = FAM.fit(y, None)
    assert fit["sigma"] == pytest.approx(s, rel=RTOL_FIT)
    assert fit["median"] == pytest.approx(scale, rel=RTOL_FIT)


@pytest.mark.parametrize("conditional", [False, True])
def test_weights_equal_repetition(data, conditional):
    y, m, w = data
    reps = w.astype(int)
    a = FAM.fit(y, w, m if conditional else None)
    b = FAM.fit(np.repeat(y, reps), None, np.repeat(m, reps) if conditional else None)
    assert a.keys() == b.keys()
    for name in a:
        assert a[name] == pytest.approx(b[name], rel=1e-12)


def test_perfect_predictions_have_zero_sigma():
    y = np.array([1.0, 2.0, 3.5])
    with pytest.raises(FitError, match="σ is 0"):
        FAM.fit(y, None, y.copy())
    with pytest.raises(FitError):
        FAM.fit(np.full(4, 2.5), None)


# ------------------------------------------------------------------ CDF


@pytest.mark.parametrize("sigma", [0.05, 0.7, 3.0])
def test_logcdf_logsf_match_scipy(sigma):
    m = 4.0
    d = stats.lognorm(s=sigma, scale=m)
    x = np.concatenate([d.ppf(np.array([1e-200, 1e-30, 1e-5, 0.3, 0.5, 0.9])),
                        d.isf(np.array([1e-5, 1e-30, 1e-200]))])
    x = x[np.isfinite(x) & (x > 0)]
    np.testing.assert_allclose(FAM.logcdf(x, m, {"sigma": sigma}), d.logcdf(x), rtol=RTOL_LL)
    np.testing.assert_allclose(FAM.logsf(x, m, {"sigma": sigma}), d.logsf(x), rtol=RTOL_LL)
    # the tails stay finite past where the CDF underflows
    far = np.array([m * math.exp(-45 * sigma), m * math.exp(45 * sigma)])
    assert FAM.logcdf(far[:1], m, {"sigma": sigma})[0] < -1000
    assert FAM.logsf(far[1:], m, {"sigma": sigma})[0] < -1000


def test_logcdf_logsf_at_zero():
    assert FAM.logcdf(np.array([0.0]), 3.0, {"sigma": 1.0}).tolist() == [-math.inf]
    assert FAM.logsf(np.array([0.0]), 3.0, {"sigma": 1.0}).tolist() == [0.0]


# ------------------------------------------------------------------ counting base measure


@pytest.mark.parametrize(("sigma", "m"), [(0.05, 30.0), (0.7, 5.0), (1.5, 3.0)])
def test_interval_probabilities_sum_to_one(sigma, m):
    y = np.arange(0.0, 200_000.0)
    ll = FAM.interval_loglik(y, m, {"sigma": sigma})
    assert np.all(np.isfinite(ll))
    # the mass above the grid, S(199 999.5), in closed form
    tail = stats.lognorm(s=sigma, scale=m).sf(y[-1] + 0.5)
    assert math.fsum(np.exp(ll)) + tail == pytest.approx(1.0, abs=1e-12)


def test_interval_loglik_matches_scipy(counts):
    y, m, _ = counts
    params = {"sigma": 0.8}
    expected = interval_logprob_from_zero(FAM.to_scipy(m, params), y)
    np.testing.assert_allclose(FAM.interval_loglik(y, m, params), expected, rtol=RTOL_LL)


@pytest.mark.parametrize("weighted", [False, True])
def test_counting_conditional_fit_matches_scipy_optimum(counts, weighted):
    y, m, w = counts
    w = w if weighted else None

    def nll(log_s):
        return -wsum(interval_logprob_from_zero(stats.lognorm(s=math.exp(log_s), scale=m), y), w)

    res = optimize.minimize_scalar(nll, bounds=(-4, 2), method="bounded",
                                   options={"xatol": 1e-10})
    fit = Discretised(FAM).fit(y, w, m)
    assert fit["sigma"] == pytest.approx(math.exp(res.x), rel=RTOL_FIT)


@pytest.mark.parametrize("weighted", [False, True])
def test_counting_marginal_fit_matches_scipy_optimum(counts, weighted):
    y, _, w = counts
    w = w if weighted else None
    values, vw = value_counts(y, w)

    def nll(v):
        dist = stats.lognorm(s=math.exp(v[1]), scale=math.exp(v[0]))
        return -wsum(interval_logprob_from_zero(dist, values), vw)

    res = optimize.minimize(nll, [1.0, 0.0], method="Nelder-Mead",
                            options={"xatol": 1e-10, "fatol": 1e-13, "maxiter": 4000})
    fit = Discretised(FAM).fit(*value_counts(y, w))
    assert fit["median"] == pytest.approx(math.exp(res.x[0]), rel=RTOL_FIT)
    assert fit["sigma"] == pytest.approx(math.exp(res.x[1]), rel=RTOL_FIT)


def test_counting_accepts_zero_targets_and_perfect_predictions():
    y = np.array([0.0, 0.0, 1.0, 3.0, 2.0])
    assert FAM.support.first_outside(y) == 0  # the density needs y > 0
    assert Discretised(FAM).support.first_outside(y) is None  # the interval [0, ½] does not
    # every y equals its prediction: the density fit fails, the discretised one starts
    # from the unit interval's log-scale spread
    exact = np.array([1.0, 2.0, 4.0])
    start = FAM.fit_start(exact, None, exact)
    assert start["sigma"] == pytest.approx(math.sqrt(np.mean(1 / (12 * exact**2))), rel=1e-12)
    pred = np.maximum(y, 1.0)
    fit = Discretised(FAM).fit(y, None, pred)
    ll = Discretised(FAM).loglik(y, pred, fit)
    assert np.all(np.isfinite(ll)) and np.all(ll <= 0)
