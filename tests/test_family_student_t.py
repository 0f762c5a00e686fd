"""The Student-t family against independent oracles: scipy.stats, scipy.optimize and
quadrature of scipy's density."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, optimize, special, stats

import losscli.noise.student_t as student_t
from losscli.errors import FitError
from losscli.noise import tdist
from losscli.noise.gaussian import Gaussian
from losscli.noise.student_t import StudentT
from losscli.noise.sums import value_counts

FAM = StudentT()
LIMIT_WARNING = "the fit reached the Gaussian limit (df = ∞)"


def _data(seed: int, n: int = 2000, df: float = 3.0, scale: float = 1.5):
    rng = np.random.default_rng(seed)
    pred = rng.normal(2.0, 4.0, n)
    return pred + scale * rng.standard_t(df, n), pred


def _nelder_mead(fun, x0):
    """An independent MLE; `fun` is a mean NLL, so the tolerances are reachable."""
    res = optimize.minimize(fun, x0, method="Nelder-Mead",
                            options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 6000,
                                     "maxfev": 12000})
    assert res.success
    return res


def _disc_loglik(y: np.ndarray, loc, df: float, scale: float) -> np.ndarray:
    """log(F(y + ½) − F(y − ½)) from scipy, differencing the smaller tail."""
    d = stats.t(df, loc=loc, scale=scale) if math.isfinite(df) else stats.norm(loc, scale)
    a, b = y - 0.5, y + 0.5
    with np.errstate(divide="ignore"):
        return np.where(a >= loc, np.log(d.sf(a) - d.sf(b)),
                        np.where(b <= loc, np.log(d.cdf(b) - d.cdf(a)),
                                 np.log1p(-d.cdf(a) - d.sf(b))))


def _log_tail_by_quadrature(t: float, df: float) -> float:
    """log P(T ≤ t), t < 0: log f(t) + log ∫_{−∞}^t f(x)/f(t) dx with scipy's logpdf."""
    lf = stats.t.logpdf(t, df)
    val, _ = integrate.quad(lambda x: math.exp(stats.t.logpdf(x, df) - lf), -np.inf, t,
                            epsabs=0.0, epsrel=1e-12, limit=200)
    return lf + math.log(val)


def test_declared_facts():
    assert FAM.name == "student_t"
    assert FAM.nuisance == ("df", "scale")
    assert FAM.marginal_params == ("loc", "df", "scale")
    assert FAM.location == "loc" and FAM.prediction == "location"
    assert FAM.loss == "Student-t NLL (robust regression)"
    fw = FAM.frameworks
    assert (fw.pytorch, fw.sklearn, fw.xgboost, fw.lightgbm) == (None, None, None, None)
    (at,) = FAM.nests
    assert FAM.closed_form == () and at.family == "gaussian" and at.value == math.inf
    # df is counted also at its boundary ν = ∞ (SPEC §1.3)
    assert FAM.n_params({"df": math.inf, "scale": 1.0}, True) == 2
    assert FAM.n_params({"loc": 0.0, "df": math.inf, "scale": 1.0}, False) == 3
    assert FAM.fit_warnings({"df": math.inf, "scale": 1.0}) == [LIMIT_WARNING]
    assert FAM.fit_warnings({"df": 4.0, "scale": 1.0}) == []


@pytest.mark.parametrize("df", [0.7, 3.0, 25.0, 1e4, 1e7])
def test_loglik_matches_scipy_in_both_modes(df):
    y, pred = _data(1)
    params = {"df": df, "scale": 1.3}
    expected = stats.t.logpdf(y, df, loc=pred, scale=1.3)
    np.testing.assert_allclose(FAM.loglik(y, pred, params), expected, rtol=1e-9)
    np.testing.assert_allclose(FAM.to_scipy(pred, params).logpdf(y), expected, rtol=1e-12)
    marginal = {"loc": 0.4, "df": df, "scale": 2.0}
    np.testing.assert_allclose(FAM.loglik(y, FAM.marginal_pred(marginal), marginal),
                               stats.t.logpdf(y, df, loc=0.4, scale=2.0), rtol=1e-9)


def test_infinite_df_is_exactly_the_gaussian():
    y, pred = _data(2)
    params = {"df": math.inf, "scale": 1.3}
    got = FAM.loglik(y, pred, params)
    assert np.array_equal(got, Gaussian().loglik(y, pred, {"sigma": 1.3}))
    np.testing.assert_allclose(got, stats.norm.logpdf(y, pred, 1.3), rtol=1e-12)
    np.testing.assert_allclose(FAM.logcdf(y, pred, params),
                               stats.norm.logcdf(y, pred, 1.3), rtol=1e-12)
    np.testing.assert_allclose(FAM.logsf(y, pred, params),
                               stats.norm.logsf(y, pred, 1.3), rtol=1e-12)
    assert FAM.to_scipy(pred, params).logpdf(y) == pytest.approx(got, rel=1e-12)


@pytest.mark.parametrize("df", [0.3, 1.0, 4.5, 60.0, 700.0, 1e5])
def test_logcdf_logsf_match_scipy(df):
    m, s = -0.7, 2.5
    x = m + s * np.concatenate([np.linspace(-40, 40, 801), np.geomspace(40, 1e6, 60)])
    params = {"df": df, "scale": s}
    lc, ls = FAM.logcdf(x, m, params), FAM.logsf(x, m, params)
    rc, rs = stats.t.logcdf(x, df, m, s), stats.t.logsf(x, df, m, s)
    ok_c, ok_s = rc > -700, rs > -700  # scipy takes log of a subnormal beyond
    assert ok_c.sum() > 400 and ok_s.sum() > 400
    # atol: where scipy rounds log(1 − 1e-312) to −0.0 we keep the −1e-312
    np.testing.assert_allclose(lc[ok_c], rc[ok_c], rtol=1e-9, atol=1e-300)
    np.testing.assert_allclose(ls[ok_s], rs[ok_s], rtol=1e-9, atol=1e-300)
    assert np.all(np.isfinite(lc)) and np.all(np.isfinite(ls))
    assert np.all(np.diff(lc) >= 0) and np.all(np.diff(ls) <= 0)


@pytest.mark.parametrize(("df", "t"), [(0.5, -1e4), (3.0, -30.0), (3.0, -1e4), (30.0, -1e3),
                                       (700.0, -100.0), (1e4, -100.0), (1e6, -40.0)])
def test_far_tail_matches_quadrature(df, t):
    # several of these are below scipy's smallest cdf (its logcdf is −inf there)
    got = FAM.logcdf(np.array([t]), 0.0, {"df": df, "scale": 1.0})[0]
    assert got == pytest.approx(_log_tail_by_quadrature(t, df), rel=1e-9)
    assert FAM.logsf(np.array([-t]), 0.0, {"df": df, "scale": 1.0})[0] == got


@settings(max_examples=300, deadline=None)
@given(st.floats(0.05, 1e7), st.floats(-1e6, 1e6), st.floats(1e-3, 1e3))
def test_cdf_and_sf_are_complements_and_bound_the_interval(df, x, scale):
    params = {"df": df, "scale": scale}
    xs = np.array([x])
    lc, ls = FAM.logcdf(xs, 0.0, params)[0], FAM.logsf(xs, 0.0, params)[0]
    assert lc <= 0.0 and ls <= 0.0
    assert np.logaddexp(lc, ls) == pytest.approx(0.0, abs=1e-13)
    y = np.array([float(np.round(x))])
    li = FAM.interval_loglik(y, 0.0, params)[0]
    upper = min(FAM.logcdf(y + 0.5, 0.0, params)[0], FAM.logsf(y - 0.5, 0.0, params)[0])
    assert np.isfinite(li) and li <= upper + 1e-12


@pytest.mark.parametrize("df", [0.5, 3.0, 40.0])
def test_extreme_tail_matches_its_leading_term(df):
    # P(T ≤ t) = f(t) |t| / ν · (1 + O(ν/t²)) as t → −∞
    t = -1e30
    lead = stats.t.logpdf(t, df) + math.log(-t / df)
    got = FAM.logcdf(np.array([t]), 0.0, {"df": df, "scale": 1.0})[0]
    assert got == pytest.approx(lead, rel=1e-12)


@pytest.mark.parametrize("weighted", [False, True])
def test_conditional_fit_matches_independent_mle(weighted):
    y, pred = _data(3, df=3.0)
    w = np.random.default_rng(4).uniform(0.2, 3.0, y.size) if weighted else None
    ww = 1.0 if w is None else w
    res = _nelder_mead(
        lambda p: -np.mean(ww * stats.t.logpdf(y, math.exp(p[0]), loc=pred,
                                               scale=math.exp(p[1]))),
        [math.log(5.0), 0.0])
    params = FAM.fit(y, w, pred)
    assert set(params) == {"df", "scale"}
    assert params["df"] == pytest.approx(math.exp(res.x[0]), rel=1e-4)
    assert params["scale"] == pytest.approx(math.exp(res.x[1]), rel=1e-4)


@pytest.mark.parametrize(("weighted", "df"), [(False, 1.0), (False, 8.0), (True, 3.0)])
def test_marginal_fit_matches_independent_mle(weighted, df):
    rng = np.random.default_rng(5)
    y = 10.0 + 2.0 * rng.standard_t(df, 2500)
    w = rng.uniform(0.2, 3.0, y.size) if weighted else None
    ww = 1.0 if w is None else w
    res = _nelder_mead(
        lambda p: -np.mean(ww * stats.t.logpdf(y, math.exp(p[1]), loc=p[0],
                                               scale=math.exp(p[2]))),
        [np.median(y), math.log(5.0), math.log(2.0)])
    params = FAM.fit(y, w)
    assert params["loc"] == pytest.approx(res.x[0], abs=1e-4 * params["scale"])
    assert params["df"] == pytest.approx(math.exp(res.x[1]), rel=1e-4)
    assert params["scale"] == pytest.approx(math.exp(res.x[2]), rel=1e-4)


@pytest.mark.parametrize("mode", ["conditional", "marginal"])
def test_weights_equal_repetition(mode):
    y, pred = _data(6, 600, df=4.0)
    reps = np.random.default_rng(7).integers(1, 4, y.size)
    p = pred if mode == "conditional" else None
    fitted = FAM.fit(y, reps.astype(np.float64), p)
    repeated = FAM.fit(np.repeat(y, reps), None, None if p is None else np.repeat(pred, reps))
    assert fitted.keys() == repeated.keys()
    for k in fitted:
        assert fitted[k] == pytest.approx(repeated[k], rel=1e-7)


def test_subsampled_exploration_still_gives_the_full_mle(monkeypatch):
    y, pred = _data(8, 3000, df=5.0)
    direct = FAM.fit(y, None, pred), FAM.fit(y, None)
    monkeypatch.setattr(student_t, "SUBSAMPLE_ROWS", 400)
    sampled = FAM.fit(y, None, pred), FAM.fit(y, None)
    for a, b in zip(direct, sampled, strict=True):
        for k in a:
            assert b[k] == pytest.approx(a[k], rel=1e-7, abs=1e-9)


@pytest.mark.parametrize("mode", ["conditional", "marginal"])
def test_light_tails_reach_the_gaussian_limit(mode):
    rng = np.random.default_rng(9)
    pred = rng.normal(0.0, 3.0, 3000)
    y = pred + rng.uniform(-2.0, 2.0, pred.size)  # excess kurtosis −1.2
    p = pred if mode == "conditional" else None
    params = FAM.fit(y, None, p)
    gauss = Gaussian().fit(y, None, p)
    assert params["df"] == math.inf
    assert params["scale"] == gauss["sigma"]
    if p is None:
        assert params["loc"] == gauss["mean"]
    assert FAM.fit_warnings(params) == [LIMIT_WARNING]
    loc = pred if p is not None else params["loc"]
    ll = FAM.loglik(y, loc, params)
    assert np.array_equal(ll, Gaussian().loglik(y, loc, {"sigma": gauss["sigma"]}))
    # the oracle: every finite ν, with its best scale (and location), is less likely
    best_gauss = np.sum(stats.norm.logpdf(y, loc, gauss["sigma"]))
    for df in [1.0, 5.0, 50.0, 1e3, 1e5]:
        res = _nelder_mead(
            lambda q, df=df: -np.mean(stats.t.logpdf(
                y, df, loc=loc if p is not None else q[1], scale=math.exp(q[0]))),
            [math.log(gauss["sigma"]), 0.0] if p is not None
            else [math.log(gauss["sigma"]), gauss["mean"]])
        assert -res.fun * y.size < best_gauss


def test_gaussian_limit_on_a_large_sample_checks_all_rows(monkeypatch):
    monkeypatch.setattr(student_t, "SUBSAMPLE_ROWS", 300)
    rng = np.random.default_rng(10)
    y = rng.uniform(-1.0, 1.0, 3000)
    params = FAM.fit(y, None)
    assert params["df"] == math.inf and params["scale"] == Gaussian().fit(y, None)["sigma"]


def test_heavy_tails_the_sample_missed_are_found_on_all_rows(monkeypatch):
    monkeypatch.setattr(student_t, "SUBSAMPLE_ROWS", 300)  # a stride of 10 rows
    rng = np.random.default_rng(19)
    y = rng.uniform(-1.0, 1.0, 3000)
    y[5::10][:60] = rng.choice([-1.0, 1.0], 60) * rng.uniform(4.0, 9.0, 60)  # off-stride
    assert student_t.StudentT().fit(y[::10], None)["df"] == math.inf  # what the sample says
    params = FAM.fit(y, None)
    res = _nelder_mead(
        lambda p: -np.mean(stats.t.logpdf(y, math.exp(p[1]), loc=p[0], scale=math.exp(p[2]))),
        [0.0, math.log(params["df"]) + 0.2, math.log(params["scale"]) - 0.1])
    assert params["df"] == pytest.approx(math.exp(res.x[1]), rel=1e-4)
    assert params["scale"] == pytest.approx(math.exp(res.x[2]), rel=1e-4)
    assert params["loc"] == pytest.approx(res.x[0], abs=1e-4 * params["scale"])


def test_unbounded_likelihoods_are_fit_errors():
    y, pred = _data(11, 500)
    with pytest.raises(FitError, match="every residual is 0"):
        FAM.fit(pred.copy(), None, pred)
    with pytest.raises(FitError, match="every target is equal"):
        FAM.fit(np.full(10, 3.0), None)
    r = np.random.default_rng(12).standard_t(4.0, 2000)
    r[:1200] = 0.0  # 60% of the rows tie: unbounded for ν < 1.5 as σ → 0
    with pytest.raises(FitError, match="no maximum"):
        FAM.fit(r, None)
    # the counting start survives both, with a finite df and a scale ≥ 0.05
    assert FAM.fit_start(pred.copy(), None, pred) == {"df": 5.0, "scale": 0.5}
    start = FAM.fit_start(np.round(y), None, np.round(y) + 0.01)
    assert math.isfinite(start["df"]) and start["scale"] >= 0.05


# ---------------------------------------------------------------- counting base measure


@pytest.mark.parametrize(("df", "scale", "m"), [(3.0, 0.7, 0.3), (0.8, 2.0, -0.5),
                                                (40.0, 0.05, 0.0), (2e3, 6.0, 0.45),
                                                (math.inf, 1.5, 0.2)])
def test_interval_loglik_matches_scipy(df, scale, m):
    y = np.arange(-60.0, 61.0)
    params = {"df": df, "scale": scale}
    got = FAM.interval_loglik(y, m, params)
    expected = _disc_loglik(y, m, df, scale)
    ok = expected > -700.0
    assert ok.sum() > 10 and np.all(np.isfinite(got))
    np.testing.assert_allclose(got[ok], expected[ok], rtol=1e-9)
    pred = np.full(y.size, m)
    np.testing.assert_allclose(FAM.interval_loglik(y, pred, params), got, rtol=1e-13)


@pytest.mark.parametrize(("df", "scale"), [(3.0, 0.4), (1.5, 3.0), (30.0, 25.0),
                                           (math.inf, 2.0)])
def test_discretised_probabilities_sum_to_one(df, scale):
    grid = np.arange(-200_000, 200_001, dtype=np.float64)
    total = np.exp(FAM.interval_loglik(grid, 0.37, {"df": df, "scale": scale})).sum()
    # what the grid covers, (−200000.5, 200000.5], from scipy
    d = stats.t(df, 0.37, scale) if math.isfinite(df) else stats.norm(0.37, scale)
    covered = 1.0 - d.cdf(-200_000.5) - d.sf(200_000.5)
    assert total == pytest.approx(covered, abs=1e-12)


@pytest.mark.parametrize("weighted", [False, True])
def test_counting_conditional_fit_matches_independent_mle(weighted):
    y, pred = _data(14, 1500, df=3.0, scale=2.0)
    y = np.round(y)
    w = np.random.default_rng(15).uniform(0.5, 2.0, y.size) if weighted else None
    ww = 1.0 if w is None else w
    res = _nelder_mead(
        lambda p: -np.mean(ww * _disc_loglik(y, pred, math.exp(p[0]), math.exp(p[1]))),
        [math.log(4.0), math.log(2.0)])
    params = FAM.fit_counting(y, w, pred)
    assert params["df"] == pytest.approx(math.exp(res.x[0]), rel=1e-4)
    assert params["scale"] == pytest.approx(math.exp(res.x[1]), rel=1e-4)


def test_counting_marginal_fit_on_value_counts_matches_independent_mle():
    rng = np.random.default_rng(16)
    y = np.round(5.0 + 3.0 * rng.standard_t(6.0, 1200))
    values, counts = value_counts(y, None)
    params = FAM.fit_counting(values, counts)
    res = _nelder_mead(
        lambda p: -np.mean(_disc_loglik(y, p[0], math.exp(p[1]), math.exp(p[2]))),
        [np.median(y), math.log(5.0), math.log(3.0)])
    assert params["loc"] == pytest.approx(res.x[0], abs=1e-4 * params["scale"])
    assert params["df"] == pytest.approx(math.exp(res.x[1]), rel=1e-4)
    assert params["scale"] == pytest.approx(math.exp(res.x[2]), rel=1e-4)


def test_counting_fit_on_a_subsample_then_all_rows(monkeypatch):
    y, pred = _data(17, 1500, df=4.0, scale=1.5)
    y = np.round(y)
    direct = FAM.fit_counting(y, None, pred)
    monkeypatch.setattr(student_t, "SUBSAMPLE_ROWS", 200)  # 1500 > 4 · 200
    sampled = FAM.fit_counting(y, None, pred)
    for k in direct:
        assert sampled[k] == pytest.approx(direct[k], rel=1e-7)


def test_counting_fit_reaches_the_gaussian_limit():
    rng = np.random.default_rng(18)
    pred = rng.normal(5.0, 3.0, 1500)
    y = np.round(pred + rng.uniform(-5.0, 5.0, pred.size))
    params = FAM.fit_counting(y, None, pred)
    assert params["df"] == math.inf
    res = optimize.minimize_scalar(
        lambda ls: -np.sum(_disc_loglik(y, pred, math.inf, math.exp(ls))),
        bounds=(-3, 3), method="bounded", options={"xatol": 1e-12})
    assert params["scale"] == pytest.approx(math.exp(res.x), rel=1e-4)
    ll_limit = np.sum(FAM.interval_loglik(y, pred, params))
    for df in [2.0, 20.0, 2e3]:  # any finite ν, at its best scale, is less likely
        res_df = optimize.minimize_scalar(
            lambda ls, df=df: -np.sum(_disc_loglik(y, pred, df, math.exp(ls))),
            bounds=(-3, 3), method="bounded", options={"xatol": 1e-12})
        assert -res_df.fun < ll_limit


def test_series_constant_matches_gamma_function_form():
    # the normalising constant, written with log Beta, against its definition
    for df in [0.3, 2.0, 17.0, 1e3]:
        definition = (special.gammaln((df + 1) / 2) - special.gammaln(df / 2)
                      - 0.5 * math.log(df * math.pi))
        assert tdist.log_norm(df) == pytest.approx(definition, rel=1e-12)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("per_row", [False, True])
def test_profile_density_nll_matches_scipy(weighted, per_row):
    """The ν-profile's mean NLL (z² and Σw log σ computed once) is scipy's t (and, at
    ν = ∞, normal) mean NLL at every ν."""
    rng = np.random.default_rng(41)
    n = 3000
    loc = rng.normal(0.0, 3.0, n)
    scale = np.exp(rng.normal(0.0, 0.5, n)) if per_row else 1.7
    y = loc + scale * rng.standard_t(4.0, n)
    w = rng.uniform(0.2, 3.0, n) if weighted else None
    ww = w if weighted else np.ones(n)
    W = float(ww.sum())
    nll = student_t._Density(y, w, loc, scale, W)
    for df in (0.7, 3.0, 40.0, 1e5):
        ref = -np.dot(ww, stats.t.logpdf(y, df, loc, scale)) / W
        assert nll(df) == pytest.approx(ref, rel=1e-12)
    ref = -np.dot(ww, stats.norm.logpdf(y, loc, scale)) / W
    assert nll(math.inf) == pytest.approx(ref, rel=1e-12)


@pytest.mark.parametrize("df", [0.05, 1.0, 7.5, 59.9, 60.0, 300.0, 1e4, 1e6])
def test_log_norm_derivatives_match_mpmath(df):
    """log_norm′ and log_norm″ (ψ forms below ν = 60, the series above) against mpmath's
    numerical derivatives of lnΓ((ν+1)/2) − lnΓ(ν/2) − ½ ln(νπ) at 40 digits."""
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 40

    def L(v):
        return mpmath.loggamma((v + 1) / 2) - mpmath.loggamma(v / 2) - mpmath.log(v * mpmath.pi) / 2

    d1, d2 = tdist.log_norm_derivatives(df)
    assert d1 == pytest.approx(float(mpmath.diff(L, mpmath.mpf(df))), rel=1e-11)
    assert d2 == pytest.approx(float(mpmath.diff(L, mpmath.mpf(df), 2)), rel=1e-11)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("df", [0.8, 5.0, 2e3])
def test_profile_density_slope_is_the_derivative(weighted, df):
    """`slope` (−f′, −f″ in s = log ν, closed forms) against numdifftools' derivatives of
    the profile's mean NLL, which is scipy's (the test above)."""
    nd = pytest.importorskip("numdifftools")
    rng = np.random.default_rng(42)
    n = 3000
    loc = rng.normal(0.0, 3.0, n)
    scale = np.exp(rng.normal(0.0, 0.5, n))
    y = loc + scale * rng.standard_t(4.0, n)
    w = rng.uniform(0.2, 3.0, n) if weighted else None
    W = float(n if w is None else w.sum())
    dens = student_t._Density(y, w, loc, scale, W)

    def f(s):
        return dens(math.exp(float(s)))

    s = math.log(df)
    g, dg = dens.slope(s)
    assert -g == pytest.approx(float(nd.Derivative(f, n=1)(s)), rel=1e-7, abs=1e-12)
    assert -dg == pytest.approx(float(nd.Derivative(f, n=2)(s)), rel=1e-6, abs=1e-10)


@pytest.mark.parametrize("true_df", [2.5, 30.0])
def test_df_profile_by_newton_on_a_strided_sample_then_all_rows(monkeypatch, true_df):
    """ν alone by Newton (the strided start on a shrunk SUBSAMPLE_ROWS, then every row):
    the root of the score derived here (d/dν of log t_ν(z) = ½ψ((ν+1)/2) − ½ψ(ν/2) −
    1/(2ν) − ½ log(1 + z²/ν) + (ν+1)z²/(2ν(ν + z²)), by brentq) is the same ν, scipy's
    bounded Brent on scipy's log-density agrees to its flat optimum's precision, and the
    Brent fallback is not used."""
    monkeypatch.setattr(student_t, "SUBSAMPLE_ROWS", 500)
    rng = np.random.default_rng(43)
    n = 20_000
    loc = rng.normal(0.0, 3.0, n)
    scale = np.exp(rng.normal(0.0, 0.5, n))
    y = loc + scale * rng.standard_t(true_df, n)

    def no_brent(*args, **kwargs):
        raise AssertionError("the Brent fallback ran")

    monkeypatch.setattr(student_t.optimize, "minimize_bounded", no_brent)
    got = FAM.fit_given(y, None, loc, {"scale": scale}, ("df",))["df"]
    z2 = ((y - loc) / scale) ** 2

    def score(v):
        return float(np.sum(0.5 * special.digamma((v + 1) / 2) - 0.5 * special.digamma(v / 2)
                            - 0.5 / v - 0.5 * np.log1p(z2 / v)
                            + (v + 1) * z2 / (2 * v * (v + z2))))

    root = optimize.brentq(score, 0.5, 1e4, xtol=1e-14, rtol=1e-15)
    assert got == pytest.approx(root, rel=1e-9)
    brent = optimize.minimize_scalar(
        lambda s: -stats.t.logpdf(y, math.exp(s), loc, scale).sum() / n,
        bounds=(math.log(0.1), math.log(1e5)), method="bounded",
        options={"xatol": 1e-12})
    assert got == pytest.approx(math.exp(brent.x), rel=1e-5)
