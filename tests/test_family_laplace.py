"""The Laplace family against independent oracles: scipy.stats, scipy.optimize, numpy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize, stats

from losscli.errors import FitError
from losscli.noise.discretised import Discretised
from losscli.noise.laplace import Laplace, weighted_median
from losscli.noise.sums import value_counts

FAM = Laplace()


def _data(seed: int, n: int = 2000, scale: float = 1.7) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    pred = rng.normal(3.0, 4.0, n)
    return pred + rng.laplace(0.0, scale, n), pred


def _disc_loglik(y: np.ndarray, loc, scale: float) -> np.ndarray:
    """log(F(y + ½) − F(y − ½)) from scipy, differencing the smaller tail."""
    d = stats.laplace(loc=loc, scale=scale)
    a, b = y - 0.5, y + 0.5
    with np.errstate(divide="ignore"):
        return np.where(a >= loc, np.log(d.sf(a) - d.sf(b)),
                        np.where(b <= loc, np.log(d.cdf(b) - d.cdf(a)),
                                 np.log1p(-d.cdf(a) - d.sf(b))))


def test_declared_facts():
    assert FAM.name == "laplace"
    assert FAM.nuisance == ("scale",)
    assert FAM.marginal_params == ("median", "scale")
    assert FAM.location == "median" and FAM.prediction == "median"
    assert FAM.loss == "absolute error (MAE)"
    assert FAM.frameworks.pytorch == "torch.nn.L1Loss"
    assert FAM.frameworks.sklearn == "HistGradientBoostingRegressor(loss='absolute_error')"
    assert FAM.frameworks.xgboost == "reg:absoluteerror"
    assert FAM.frameworks.lightgbm == "regression_l1"
    assert "conditional" in FAM.closed_form and Discretised(FAM).closed_form == ()
    assert FAM.n_params({"scale": 1.0}, True) == 1
    assert FAM.n_params({"median": 0.0, "scale": 1.0}, False) == 2


def test_loglik_matches_scipy_in_both_modes():
    y, pred = _data(1)
    params = {"scale": 1.7}
    expected = stats.laplace.logpdf(y, loc=pred, scale=1.7)
    np.testing.assert_allclose(FAM.loglik(y, pred, params), expected, rtol=1e-9)
    np.testing.assert_allclose(FAM.to_scipy(pred, params).logpdf(y), expected, rtol=1e-12)
    marginal = FAM.fit(y, None)
    np.testing.assert_allclose(
        FAM.loglik(y, FAM.marginal_pred(marginal), marginal),
        stats.laplace.logpdf(y, loc=marginal["median"], scale=marginal["scale"]), rtol=1e-9)


@pytest.mark.parametrize("scale", [1e-3, 0.4, 30.0])
def test_logcdf_logsf_match_scipy_and_the_closed_tail(scale):
    m = 0.25
    x = m + scale * np.concatenate([np.linspace(-30, 30, 601), [-1e3, 1e3]])
    params = {"scale": scale}
    lc, ls = FAM.logcdf(x, m, params), FAM.logsf(x, m, params)
    body = np.abs(x - m) <= 30 * scale
    np.testing.assert_allclose(lc[body], stats.laplace.logcdf(x[body], m, scale), rtol=1e-9)
    np.testing.assert_allclose(ls[body], stats.laplace.logsf(x[body], m, scale), rtol=1e-9)
    # far tails, where scipy's log(cdf) underflows: F(x) = e^{(x − m)/b}/2 exactly
    z = (x[-2] - m) / scale
    assert lc[-2] == pytest.approx(z - math.log(2.0), rel=1e-12)
    assert ls[-1] == pytest.approx(-(x[-1] - m) / scale - math.log(2.0), rel=1e-12)


@pytest.mark.parametrize("weighted", [False, True])
def test_conditional_scale_matches_independent_mle(weighted):
    y, pred = _data(2)
    w = np.random.default_rng(3).uniform(0.2, 3.0, y.size) if weighted else None
    ww = 1.0 if w is None else w
    res = optimize.minimize_scalar(
        lambda lb: -np.sum(ww * stats.laplace.logpdf(y, loc=pred, scale=math.exp(lb))),
        bounds=(-5, 5), method="bounded", options={"xatol": 1e-12})
    assert FAM.fit(y, w, pred)["scale"] == pytest.approx(math.exp(res.x), rel=1e-4)


@pytest.mark.parametrize("n", [2001, 2000])
def test_marginal_fit_is_numpy_median_and_scipy_mle(n):
    y, _ = _data(4, n)
    params = FAM.fit(y, None)
    assert params["median"] == np.median(y)  # exactly, also for even n
    loc, scale = stats.laplace.fit(y)
    assert params["scale"] == pytest.approx(scale, rel=1e-4)
    # and against a generic optimiser of the scipy log-likelihood
    res = optimize.minimize(
        lambda p: -np.sum(stats.laplace.logpdf(y, loc=p[0], scale=math.exp(p[1]))),
        [np.mean(y), math.log(np.std(y))], method="Nelder-Mead",
        options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 4000})
    assert res.success
    nll = -np.sum(FAM.loglik(y, params["median"], params))
    assert nll <= res.fun + 1e-8 * abs(res.fun)
    assert params["scale"] == pytest.approx(math.exp(res.x[1]), rel=1e-4)


def test_weighted_marginal_fit_matches_independent_mle():
    y, _ = _data(5, 1500)
    w = np.random.default_rng(6).uniform(0.1, 2.0, y.size)
    params = FAM.fit(y, w)
    objective = lambda m: np.sum(w * np.abs(y - m))  # noqa: E731
    values = np.array([objective(m) for m in y])
    assert objective(params["median"]) <= values.min() * (1 + 1e-12)
    scale = np.sum(w * np.abs(y - params["median"])) / w.sum()
    res = optimize.minimize_scalar(
        lambda lb: -np.sum(w * stats.laplace.logpdf(y, params["median"], math.exp(lb))),
        bounds=(-5, 5), method="bounded", options={"xatol": 1e-12})
    assert params["scale"] == pytest.approx(scale, rel=1e-12)
    assert params["scale"] == pytest.approx(math.exp(res.x), rel=1e-4)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(-6, 6), st.integers(0, 4)), min_size=1, max_size=12)
       .filter(lambda rows: sum(c for _, c in rows) > 0))
def test_weighted_median_is_the_midpoint_of_the_minimisers(rows):
    y = np.array([float(v) for v, _ in rows])
    w = np.array([float(c) for _, c in rows])
    m = weighted_median(y, w)
    # brute force: Σ w|y − m| is piecewise linear with kinks at the data, so its minimisers
    # form an interval between two data values; the answer is its midpoint
    values = np.array([np.sum(w * np.abs(y - v)) for v in y])
    best = y[values <= values.min() + 1e-9]
    assert m == 0.5 * (best.min() + best.max())
    # integer weights are repetitions: numpy's median of the repeated data
    assert m == np.median(np.repeat(y, w.astype(int)))


def test_weighted_median_equal_float_weights_is_numpy_median():
    y, _ = _data(7, 10)
    assert weighted_median(y, np.full(10, 0.1)) == np.median(y)


def test_weighted_median_on_large_input_uses_repetition_oracle():
    rng = np.random.default_rng(8)
    y = rng.standard_t(2.0, 300_001)
    w = rng.integers(1, 4, y.size).astype(np.float64)
    assert weighted_median(y, w) == np.median(np.repeat(y, w.astype(int)))
    # an exact tie at W/2: two values of equal weight share the middle
    y2 = np.concatenate([np.full(150_000, -1.0), np.full(150_000, 2.0), [0.5, 0.7]])
    w2 = np.concatenate([np.ones(300_000), [0.0, 0.0]])
    assert weighted_median(y2, w2) == 0.5


@pytest.mark.parametrize("pred_mode", ["conditional", "marginal"])
def test_weights_equal_repetition(pred_mode):
    y, pred = _data(9, 400)
    reps = np.random.default_rng(10).integers(1, 4, y.size)
    p = pred if pred_mode == "conditional" else None
    p_rep = np.repeat(pred, reps) if p is not None else None
    fitted = FAM.fit(y, reps.astype(np.float64), p)
    repeated = FAM.fit(np.repeat(y, reps), None, p_rep)
    assert fitted.keys() == repeated.keys()
    for k in fitted:
        assert fitted[k] == pytest.approx(repeated[k], rel=1e-12)


def test_zero_scale_is_a_fit_error_and_the_counting_start_stays_off_zero():
    y = np.array([1.0, 2.0, 3.0])
    with pytest.raises(FitError, match="scale b is 0"):
        FAM.fit(y, None, y.copy())
    with pytest.raises(FitError, match="every target is equal"):
        FAM.fit(np.full(5, 2.0), None)
    assert FAM.fit_start(y, None, y.copy()) == {"scale": 0.5}
    assert FAM.fit_start(np.full(5, 2.0), None) == {"median": 2.0, "scale": 0.5}
    assert FAM.fit_start(y, None, y + 0.001)["scale"] == 0.05


@pytest.mark.parametrize("scale", [1e-3, 0.05, 0.7, 6.0, 1e3])
@pytest.mark.parametrize("m", [0.3, 0.5, -0.49, 0.0])
def test_interval_loglik_matches_scipy(scale, m):
    y = np.round(np.linspace(-40, 40, 81) * max(1.0, scale / 10))
    got = FAM.interval_loglik(y, m, {"scale": scale})
    expected = _disc_loglik(y, m, scale)
    finite = expected > -700.0  # below, scipy's probabilities are subnormal
    assert finite.sum() >= 2
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got[finite], expected[finite], rtol=1e-9)


@pytest.mark.parametrize("scale", [1e-3, 0.3, 4.0, 200.0])
def test_discretised_probabilities_sum_to_one(scale):
    grid = np.arange(-200_000, 200_001, dtype=np.float64)
    total = np.exp(FAM.interval_loglik(grid, 0.37, {"scale": scale})).sum()
    assert total == pytest.approx(1.0, abs=1e-12)


def test_counting_conditional_fit_matches_independent_mle():
    y, pred = _data(11, 1500, scale=1.2)
    y = np.round(y)
    res = optimize.minimize_scalar(
        lambda lb: -np.sum(_disc_loglik(y, pred, math.exp(lb))),
        bounds=(-5, 5), method="bounded", options={"xatol": 1e-12})
    assert FAM.fit_counting(y, None, pred)["scale"] == pytest.approx(math.exp(res.x), rel=1e-4)
    w = np.random.default_rng(12).uniform(0.5, 2.0, y.size)
    res_w = optimize.minimize_scalar(
        lambda lb: -np.sum(w * _disc_loglik(y, pred, math.exp(lb))),
        bounds=(-5, 5), method="bounded", options={"xatol": 1e-12})
    assert FAM.fit_counting(y, w, pred)["scale"] == pytest.approx(math.exp(res_w.x), rel=1e-4)


def test_counting_marginal_fit_on_value_counts_matches_independent_mle():
    rng = np.random.default_rng(13)
    y = np.round(rng.laplace(2.3, 1.6, 1500))
    values, counts = value_counts(y, None)
    params = FAM.fit_counting(values, counts)
    res = optimize.minimize(
        lambda p: -np.sum(_disc_loglik(y, p[0], math.exp(p[1]))),
        [params["median"] + 0.2, math.log(params["scale"]) + 0.1], method="Nelder-Mead",
        options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 4000})
    assert params["median"] == pytest.approx(res.x[0], abs=1e-4 * params["scale"])
    assert params["scale"] == pytest.approx(math.exp(res.x[1]), rel=1e-4)


def test_weighted_median_of_many_ties_on_large_input():
    rng = np.random.default_rng(14)
    y = rng.poisson(3.0, 400_000).astype(np.float64)
    w = rng.integers(1, 3, y.size).astype(np.float64)
    assert weighted_median(y, w) == np.median(np.repeat(y, w.astype(int)))
