"""The quantile family (asymmetric Laplace) against independent oracles: scipy.stats'
laplace_asymmetric, scipy.optimize on the log-density, statsmodels QuantReg, quadrature."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
from scipy import integrate, optimize, special, stats

from losscli import compare, kinds
from losscli.errors import FitError
from losscli.noise import FAMILIES
from losscli.noise.discretised import Discretised
from losscli.noise.laplace import Laplace
from losscli.noise.quantile import Quantile, weighted_quantile
from losscli.reduce import Moments
from tests.conftest import model, run_api

FAM = Quantile()


def _rho(r, tau):
    """The pinball loss, written out: r(τ − 1{r < 0})."""
    return r * (tau - (r < 0))


def _oracle(pred, tau: float, scale):
    """scipy's asymmetric Laplace matched to τ(1 − τ)/σ · exp(−ρ_τ(r)/σ).

    scipy: f(x) = 1/(s(κ + 1/κ)) · e^{−κx/s} for x ≥ 0, e^{x/(κs)} below. Matching the
    two exponents, κ/s = τ/σ and 1/(κs) = (1 − τ)/σ, so s² = σ²/(τ(1 − τ)) and
    κ = τs/σ = √(τ/(1 − τ)); then 1/(s(κ + 1/κ)) = √(τ(1 − τ))/s = τ(1 − τ)/σ."""
    s = np.asarray(scale) / np.sqrt(tau * (1 - tau))
    return stats.laplace_asymmetric(kappa=np.sqrt(tau / (1 - tau)), loc=pred, scale=s)


def _draw(rng, pred, tau: float, scale, n: int) -> np.ndarray:
    """Below ŷ with probability τ; an exponential of rate (1 − τ)/σ below, τ/σ above."""
    below = rng.uniform(size=n) < tau
    return pred + np.where(below, -rng.exponential(scale / (1 - tau), n),
                           rng.exponential(scale / tau, n))


def _data(seed: int, tau: float = 0.8, scale: float = 0.6, n: int = 800):
    rng = np.random.default_rng(seed)
    pred = rng.normal(2.0, 3.0, n)
    return _draw(rng, pred, tau, scale, n), pred, rng.integers(1, 4, n).astype(float)


@pytest.mark.parametrize("tau", [0.05, 0.3, 0.5, 0.9, 0.999])
def test_the_mapping_to_scipy_is_the_density(tau):
    r = np.linspace(-30.0, 30.0, 301)
    sigma = 1.7
    written = math.log(tau * (1 - tau) / sigma) - _rho(r, tau) / sigma
    np.testing.assert_allclose(_oracle(0.0, tau, sigma).logpdf(r), written, rtol=1e-12,
                               atol=1e-12)


@pytest.mark.parametrize("tau", [0.05, 0.3, 0.5, 0.9])
def test_loglik_cdf_sf_equal_scipy(tau):
    y, pred, _ = _data(1, tau)
    p = {"tau": tau, "scale": 0.6}
    d = _oracle(pred, tau, 0.6)
    np.testing.assert_allclose(FAM.loglik(y, pred, p), d.logpdf(y), rtol=1e-10)
    np.testing.assert_allclose(FAM.logcdf(y, pred, p), d.logcdf(y), rtol=1e-10)
    np.testing.assert_allclose(FAM.logsf(y, pred, p), d.logsf(y), rtol=1e-10)
    np.testing.assert_allclose(FAM.cdf(y, pred, p), d.cdf(y), rtol=1e-12)
    lo, hi = FAM.pit_interval(y, pred, p)
    np.testing.assert_allclose(lo, d.cdf(y), rtol=1e-12)
    np.testing.assert_array_equal(lo, hi)
    assert FAM.to_scipy(pred, p).logpdf(y) == pytest.approx(d.logpdf(y), rel=1e-14)
    # the prediction is the τ-quantile
    np.testing.assert_allclose(FAM.cdf(pred, pred, p), tau, rtol=1e-14)


def test_per_row_scale_equals_scipy():
    y, pred, _ = _data(2)
    s = np.random.default_rng(3).uniform(0.2, 3.0, y.size)
    p = {"tau": 0.3, "scale": s}
    np.testing.assert_allclose(FAM.loglik(y, pred, p), _oracle(pred, 0.3, s).logpdf(y),
                               rtol=1e-10)


def test_tails_in_log_space():
    """Far in either tail the log c.d.f. and survival function are the exact linear
    forms ln τ + (1 − τ)z and ln(1 − τ) − τz (where 1 − F rounds to 0)."""
    tau, sigma = 0.2, 0.5
    p = {"tau": tau, "scale": sigma}
    z = np.array([-5000.0, -80.0])
    assert FAM.logcdf(z * sigma, 0.0, p) == pytest.approx(math.log(tau) + (1 - tau) * z,
                                                          rel=1e-14)
    z = np.array([80.0, 5000.0])
    assert FAM.logsf(z * sigma, 0.0, p) == pytest.approx(math.log(1 - tau) - tau * z,
                                                         rel=1e-14)
    assert np.all(np.isfinite(FAM.logsf(np.array([-1e4, 0.0, 1e4]), 0.0, p)))


def test_standardised_and_its_quantiles():
    tau = 0.85
    y, pred, _ = _data(4, tau)
    p = {"tau": tau, "scale": 0.6}
    g = _oracle(0.0, tau, 1.0)
    np.testing.assert_allclose(g.cdf(FAM.standardised(y, pred, p)), FAM.cdf(y, pred, p),
                               rtol=1e-12)
    q = np.linspace(0.001, 0.999, 999)
    np.testing.assert_allclose(FAM.standard_quantiles(q, p), g.ppf(q), rtol=1e-10,
                               atol=1e-12)


@pytest.mark.parametrize("tau", [0.1, 0.5, 0.75])
def test_variance_equals_scipy(tau):
    p = {"tau": tau, "scale": 1.3}
    assert FAM.variance(np.zeros(3), p) == pytest.approx(_oracle(0.0, tau, 1.3).var(),
                                                         rel=1e-12)


@pytest.mark.parametrize("tau", [0.02, 0.3, 0.5, 0.9])
def test_crps_against_quadrature(tau):
    """CRPS(F, y) = ∫(F(x) − 1{y ≤ x})² dx by adaptive quadrature of scipy's c.d.f."""
    sigma, m = 0.8, 0.4
    d = _oracle(m, tau, sigma)
    ys = np.array([-25.0, -2.0, -0.1, 0.4, 0.41, 1.5, 30.0])

    def quad(f, a, b):
        return integrate.quad(f, a, b, epsabs=1e-13, epsrel=1e-12, limit=400)[0]

    with np.errstate(over="ignore"):  # scipy's c.d.f. computes e^{−κx} on both sides
        # split at the mode, where the integrand has a kink
        want = [quad(lambda x: d.cdf(x) ** 2, -np.inf, min(v, m))
                + quad(lambda x, v=v: (d.cdf(x) - (x >= v)) ** 2, min(v, m), max(v, m))
                + quad(lambda x: d.sf(x) ** 2, max(v, m), np.inf) for v in ys]
    np.testing.assert_allclose(FAM.crps(ys, m, {"tau": tau, "scale": sigma}), want,
                               rtol=1e-8)


def test_crps_at_a_half_is_the_laplace_crps():
    """τ = ½ is Laplace(b = 2σ): CRPS = b(|x| + e^{−|x|} − ¾), x = (y − m)/b."""
    y = np.linspace(-6.0, 6.0, 25)
    b = 2 * 0.7
    x = np.abs(y - 1.0) / b
    np.testing.assert_allclose(FAM.crps(y, 1.0, {"tau": 0.5, "scale": 0.7}),
                               b * (x + np.exp(-x) - 0.75), rtol=1e-12)


# ----------------------------------------------------------------------------- fits


def _weighted_nll(theta, y, pred, w):
    """−Σ w log q from scipy's density; θ = (logit τ, log σ)."""
    tau, s = special.expit(theta[0]), math.exp(theta[1])
    return -float(np.dot(w, _oracle(pred, tau, s).logpdf(y)))


def test_conditional_fit_equals_numeric_weighted_mle():
    y, pred, w = _data(5, tau=0.75, scale=0.9)
    res = optimize.minimize(_weighted_nll, [0.0, 0.0], args=(y, pred, w), method="Nelder-Mead",
                            options={"xatol": 1e-11, "fatol": 1e-13, "maxiter": 5000})
    fit = FAM.fit(y, w, pred)
    assert fit["tau"] == pytest.approx(special.expit(res.x[0]), rel=1e-6)
    assert fit["scale"] == pytest.approx(math.exp(res.x[1]), rel=1e-6)
    assert set(fit) == {"tau", "scale"}
    # weights are repetitions
    reps = w.astype(int)
    again = FAM.fit(np.repeat(y, reps), None, np.repeat(pred, reps))
    assert again == pytest.approx(fit, rel=1e-12)


def test_conditional_fit_from_batched_moments_with_a_given_tau():
    y, pred, w = _data(6)
    st = None
    for idx in np.array_split(np.arange(y.size), 5):
        m = Moments(2)
        m.update(FAM.fit_stats(y[idx], pred[idx]), w[idx])
        st = m if st is None else st.merge(m)
    assert FAM.fit_from_stats(st, True) == pytest.approx(FAM.fit(y, w, pred), rel=1e-12)
    scale = float(np.dot(w, _rho(y - pred, 0.9)) / w.sum())
    assert FAM.fit_from_stats(st, True, {"tau": 0.9})["scale"] == pytest.approx(scale,
                                                                             rel=1e-12)


def test_fit_given_tau_is_the_mean_pinball_loss():
    y, pred, w = _data(7)
    got = FAM.fit_given(y, w, pred, {"tau": 0.9}, ("scale",))
    assert got.keys() == {"scale"}
    res = optimize.minimize_scalar(
        lambda ls: _weighted_nll([special.logit(0.9), ls], y, pred, w),
        bounds=(-5, 5), method="bounded", options={"xatol": 1e-11})
    assert got["scale"] == pytest.approx(math.exp(res.x), rel=1e-7)
    assert got["scale"] == pytest.approx(np.dot(w, _rho(y - pred, 0.9)) / w.sum(), rel=1e-12)


def test_fit_given_per_row_scale_fits_tau():
    y, pred, w = _data(8, tau=0.3)
    s = np.random.default_rng(9).uniform(0.3, 1.2, y.size)
    got = FAM.fit_given(y, w, pred, {"scale": s}, ("tau",))
    assert got.keys() == {"tau"}

    def nll(t):
        return -float(np.dot(w, _oracle(pred, t, s).logpdf(y)))

    res = optimize.minimize_scalar(nll, bounds=(1e-6, 1 - 1e-6), method="bounded",
                                   options={"xatol": 1e-12})
    assert got["tau"] == pytest.approx(res.x, rel=1e-7)
    assert FAM.fit_given(y, w, pred, {"scale": s, "tau": 0.2}, ()) == {}


def test_marginal_fit_with_a_given_quantile_is_the_conditional_fit_at_it():
    y, _, w = _data(21)
    assert FAM.fit_given(y, w, None, {"quantile": 1.5}, ("tau", "scale")) == pytest.approx(
        FAM.fit(y, w, np.full(y.size, 1.5)), rel=1e-12)
    assert FAM.fit_given(y, w, None, {"quantile": 1.5, "tau": 0.3}, ("scale",)) == {
        "scale": pytest.approx(np.dot(w, _rho(y - 1.5, 0.3)) / w.sum(), rel=1e-12)}


def test_fit_given_per_row_tau_fits_the_scale():
    y, pred, w = _data(22)
    tau = np.random.default_rng(23).uniform(0.05, 0.95, y.size)
    got = FAM.fit_given(y, w, pred, {"tau": tau}, ("scale",))
    res = optimize.minimize_scalar(
        lambda ls: -float(np.dot(w, _oracle(pred, tau, math.exp(ls)).logpdf(y))),
        bounds=(-5, 5), method="bounded", options={"xatol": 1e-11})
    assert got["scale"] == pytest.approx(math.exp(res.x), rel=1e-7)


def test_marginal_quantile_under_a_per_row_scale():
    """With σᵢ per row and τ held, the location minimises Σ w ρ_τ(y − m)/σᵢ: a convex
    piecewise-linear function of m, least at one of the targets."""
    y, _, w = _data(24, n=151)
    s = np.random.default_rng(25).uniform(0.3, 3.0, y.size)
    got = FAM.fit_given(y, w, None, {"tau": 0.7, "scale": s}, ("quantile",))

    def loss(m):
        return float(np.dot(w / s, _rho(y - m, 0.7)))

    best = min(y, key=loss)
    assert loss(got["quantile"]) == pytest.approx(loss(best), rel=1e-13)
    assert got["quantile"] == pytest.approx(best, rel=1e-12)
    # τ free as well: no closed form, the shared optimiser; it is never worse than the
    # closed form at a τ held near it
    both = FAM.fit_given(y, w, None, {"scale": s}, ("quantile", "tau"))
    near = FAM.fit_given(y, w, None, {"scale": s, "tau": round(both["tau"], 2)},
                         ("quantile",))

    def nll(p):
        return -float(np.dot(w, _oracle(p["quantile"], p["tau"], s).logpdf(y)))

    assert nll({**both}) <= nll({**near, "tau": round(both["tau"], 2)}) + 1e-9


def test_conditional_fit_needs_residuals_on_both_sides():
    pred = np.zeros(5)
    with pytest.raises(FitError, match="no target lies below its prediction.*τ goes to 0"):
        FAM.fit(np.arange(5.0), None, pred)
    with pytest.raises(FitError, match="no target lies above its prediction.*τ goes to 1"):
        FAM.fit(-np.arange(5.0), None, pred)
    with pytest.raises(FitError, match="every residual is 0"):
        FAM.fit(pred, None, pred)
    # with τ given, one side is enough
    assert FAM.fit_given(np.arange(5.0), None, pred, {"tau": 0.25}, ("scale",))["scale"] \
        == pytest.approx(0.25 * 2.0)


@pytest.mark.parametrize("tau", [0.1, 0.37, 0.5, 0.9])
def test_marginal_location_is_quantreg_intercept(tau):
    """The weighted τ-quantile against statsmodels' intercept-only quantile regression on
    the rows repeated by their weights (n·τ not a whole number: one minimiser)."""
    import statsmodels.api as sm

    rng = np.random.default_rng(10)
    y = rng.gamma(2.0, 1.5, 151)
    w = rng.integers(1, 4, y.size).astype(float)
    reps = np.repeat(y, w.astype(int))
    assert (tau * reps.size) % 1 != 0
    qr = sm.QuantReg(reps, np.ones((reps.size, 1))).fit(q=tau, max_iter=5000, p_tol=1e-12)
    got = FAM.fit_given(y, w, None, {"tau": tau}, ("quantile", "scale"))
    assert got["quantile"] == pytest.approx(float(qr.params[0]), rel=1e-6)
    assert got["scale"] == pytest.approx(np.mean(_rho(reps - got["quantile"], tau)), rel=1e-12)


def test_weighted_quantile_is_the_midpoint_of_the_minimisers():
    y = np.array([1.0, 2.0, 3.0, 4.0, 10.0])
    # τW = 2 exactly: every m in [2, 3] minimises Σ ρ_τ(y − m)
    assert weighted_quantile(y, None, 0.4) == 2.5
    assert weighted_quantile(y, None, 0.41) == 3.0
    # a zero weight leaves its row out of the interval's ends
    assert weighted_quantile(y, np.array([1.0, 1.0, 0.0, 2.0, 1.0]), 0.4) == 3.0
    assert weighted_quantile(y, np.array([1.0, 1.0, 0.0, 2.0, 1.0]), 0.2) == 1.5
    rng = np.random.default_rng(11)
    for n in (10, 11):
        v = rng.normal(size=n)
        assert weighted_quantile(v, None, 0.5) == np.median(v)


def _profile_oracle(y, w):
    """The marginal profile nll(τ) = ln g(τ) − ln τ(1 − τ) + 1, g(τ) = min_m Σwρ_τ(y −
    m)/W by brute force over m in the targets (a convex piecewise-linear function of m
    has its minimum at a kink); its minimum by a grid, then bounded Brent around the best
    grid point."""
    W = w.sum()

    def g(t):
        return min(np.dot(w, _rho(y - m, t)) for m in y) / W

    def nll(t):
        return math.log(g(t)) - math.log(t * (1 - t)) + 1

    grid = np.linspace(0.005, 0.995, 199)
    k = int(np.argmin([nll(t) for t in grid]))
    res = optimize.minimize_scalar(nll, bounds=(grid[max(k - 1, 0)], grid[min(k + 1, 198)]),
                                   method="bounded", options={"xatol": 1e-12})
    return res.x, res.fun, nll


@pytest.mark.parametrize("seed,tau", [(12, 0.25), (13, 0.5), (14, 0.8)])
def test_marginal_profile_tau_against_grid_and_brent(seed, tau):
    rng = np.random.default_rng(seed)
    y = _draw(rng, 1.0, tau, 0.7, 150)
    w = rng.integers(1, 4, y.size).astype(float)
    got = FAM.fit(y, w)
    t, best, nll = _profile_oracle(y, w)
    assert nll(got["tau"]) <= best + 1e-12  # never worse than the oracle's optimum
    assert got["tau"] == pytest.approx(t, abs=1e-6)
    # and the parameters reported are that τ's quantile and mean pinball loss
    assert got["quantile"] == weighted_quantile(y, w, got["tau"])
    assert got["scale"] == pytest.approx(np.dot(w, _rho(y - got["quantile"], got["tau"]))
                                         / w.sum(), rel=1e-12)
    reps = w.astype(int)
    assert FAM.fit(np.repeat(y, reps), None) == pytest.approx(got, rel=1e-9)


def test_rows_of_weight_zero_change_nothing():
    rng = np.random.default_rng(20)
    y = _draw(rng, 0.0, 0.4, 1.0, 100)
    w = rng.integers(1, 4, y.size).astype(float)
    extra = np.array([y.min() - 5.0, y.max() + 5.0, 0.123])
    yz = np.concatenate([y, extra])
    wz = np.concatenate([w, np.zeros(3)])
    assert FAM.fit(yz, wz) == pytest.approx(FAM.fit(y, w), rel=1e-12)
    # nor where the limit τ → 0 at the smallest target of positive weight is the best
    e = rng.exponential(1.0, 300)
    with pytest.raises(FitError, match="τ goes to 0"):
        FAM.fit(np.concatenate([[-3.0], e]), np.concatenate([[0.0], np.ones(e.size)]))


def test_marginal_fit_with_a_given_scale():
    rng = np.random.default_rng(15)
    y = _draw(rng, 0.0, 0.7, 1.0, 120)
    got = FAM.fit_given(y, None, None, {"scale": 0.8}, ("quantile", "tau"))

    def nll(t):
        g = min(np.sum(_rho(y - m, t)) for m in y) / y.size
        return g / 0.8 - math.log(t * (1 - t))

    grid = np.linspace(0.005, 0.995, 199)
    k = int(np.argmin([nll(t) for t in grid]))
    res = optimize.minimize_scalar(nll, bounds=(grid[k - 1], grid[k + 1]), method="bounded",
                                   options={"xatol": 1e-12})
    assert got["tau"] == pytest.approx(res.x, abs=1e-6)
    assert got.keys() == {"quantile", "tau"}


def test_marginal_fit_fails_where_an_exponential_fits_better():
    """Exponential targets: τ → 0 with the quantile at the smallest target tends to the
    exponential itself, better than any τ inside (0, 1): no maximum."""
    y = np.random.default_rng(16).exponential(1.0, 400)
    with pytest.raises(FitError, match="τ goes to 0"):
        FAM.fit(y, None)
    with pytest.raises(FitError, match="every target is equal"):
        FAM.fit(np.ones(4), None)
    # with τ given the fit is fine
    assert FAM.fit_given(y, None, None, {"tau": 0.5}, ("quantile", "scale"))["quantile"] \
        == np.median(y)


def test_at_a_half_it_is_laplace_with_twice_the_scale():
    y, pred, _ = _data(17, tau=0.5)
    lap = Laplace()
    b = lap.fit(y, None, pred)["scale"]
    p = {"tau": 0.5, "scale": b / 2}
    np.testing.assert_allclose(FAM.loglik(y, pred, p), lap.loglik(y, pred, {"scale": b}),
                               rtol=1e-13)
    got = FAM.fit_given(y, None, None, {"tau": 0.5}, ("quantile", "scale"))
    lm = lap.fit(y, None)
    assert got["quantile"] == lm["median"]
    assert got["scale"] == pytest.approx(lm["scale"] / 2, rel=1e-12)


def test_discretised_loglik_on_integers():
    tau, s = 0.7, 1.3
    y = np.arange(-8.0, 9.0)
    p = {"tau": tau, "scale": s}
    d = _oracle(0.3, tau, s)
    want = np.log(d.cdf(y + 0.5) - d.cdf(y - 0.5))
    np.testing.assert_allclose(Discretised(FAM).loglik(y, 0.3, p), want, rtol=1e-10)


def _mp_interval(y, m, tau, s):
    """P(y − ½ < Y ≤ y + ½) with 50 digits, from the c.d.f. written out."""
    import mpmath

    mpmath.mp.dps = 50
    tau, s, m = mpmath.mpf(tau), mpmath.mpf(s), mpmath.mpf(m)

    def cdf(x):
        z = (mpmath.mpf(x) - m) / s
        return tau * mpmath.exp((1 - tau) * z) if z < 0 else 1 - (1 - tau) * mpmath.exp(-tau * z)

    def sf(x):  # the upper tail written out, so that a far tail keeps its digits
        z = (mpmath.mpf(x) - m) / s
        return (1 - tau) * mpmath.exp(-tau * z) if z >= 0 else 1 - tau * mpmath.exp((1 - tau) * z)

    a, b = y - 0.5, y + 0.5
    return float(mpmath.log(sf(a) - sf(b) if a >= m else cdf(b) - cdf(a)))


@pytest.mark.parametrize("tau,s", [(0.7, 1.3), (0.1, 0.05), (0.5, 1e6), (0.95, 3e4)])
def test_interval_loglik_to_fifty_digits(tau, s):
    y = np.array([-40.0, -3.0, -1.0, 0.0, 1.0, 2.0, 7.0, 60.0])
    got = FAM.interval_loglik(y, 0.3, {"tau": tau, "scale": s})
    want = [_mp_interval(v, 0.3, tau, s) for v in y]
    np.testing.assert_allclose(got, want, rtol=1e-12)
    # per-row scales, and the discretised family reads the same
    sr = np.linspace(0.5, 3.0, y.size)
    got = Discretised(FAM).loglik(y, 0.3, {"tau": tau, "scale": sr})
    want = [_mp_interval(v, 0.3, tau, b) for v, b in zip(y, sr, strict=True)]
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_outside_tau_space_is_nan_not_an_exception():
    for tau in (0.0, 1.0, -0.2, 1.3):
        p = {"tau": tau, "scale": 1.0}
        assert np.isnan(FAM.loglik(np.zeros(2), 0.0, p)).all()
        assert np.isnan(FAM.logcdf(np.zeros(2), 0.0, p)).all()
        assert np.isnan(FAM.logsf(np.zeros(2), 0.0, p)).all()
        assert np.isnan(FAM.interval_loglik(np.zeros(2), 0.0, p)).all()


def _disc_nll(y, pred, w, tau, s):
    d = _oracle(pred, tau, s)
    return -float(np.dot(w, np.log(d.cdf(y + 0.5) - d.cdf(y - 0.5))))


def test_discretised_fit_with_a_given_tau():
    rng = np.random.default_rng(19)
    pred = rng.uniform(0, 8, 400)
    y = np.round(_draw(rng, pred, 0.8, 1.5, 400))
    w = rng.integers(1, 4, y.size).astype(float)
    got = Discretised(FAM).fit_given(y, w, pred, {"tau": 0.8}, ("scale",))
    assert got.keys() == {"scale"}
    res = optimize.minimize_scalar(lambda ls: _disc_nll(y, pred, w, 0.8, math.exp(ls)),
                                   bounds=(-3, 3), method="bounded", options={"xatol": 1e-10})
    assert got["scale"] == pytest.approx(math.exp(res.x), rel=1e-4)
    both = Discretised(FAM).fit(y, w, pred)
    res = optimize.minimize(lambda t: _disc_nll(y, pred, w, special.expit(t[0]),
                                                math.exp(t[1])),
                            [0.0, 0.0], method="Nelder-Mead",
                            options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 4000})
    assert both["tau"] == pytest.approx(special.expit(res.x[0]), rel=1e-4)
    assert both["scale"] == pytest.approx(math.exp(res.x[1]), rel=1e-4)


# ------------------------------------------------------------- declarations, nesting


def test_declarations():
    cls = FAMILIES["quantile"]
    assert cls is Quantile and not cls.candidate and cls.default_for == ()
    assert cls.applies_to == Laplace.applies_to
    assert cls.frameworks.pytorch is None
    assert "quantile" in cls.frameworks.sklearn and cls.frameworks.xgboost.startswith(
        "reg:quantileerror") and cls.frameworks.lightgbm.startswith("quantile")
    (at,) = cls.nests
    assert at.family == "laplace" and at.value == 0.5
    assert not at.boundary
    assert FAMILIES["student_t"].nests[0].boundary


def test_compare_fits_it_only_when_named():
    names, skipped = kinds.candidates("real")
    assert "quantile" not in names and "quantile" not in dict(skipped)
    names, _ = kinds.candidates("real", ["quantile"])
    assert "quantile" in names
    _, skipped = kinds.candidates("categorical", ["quantile"])
    assert "quantile" in dict(skipped)


def _scored(family: str, nll: float, params: dict):
    fam = FAMILIES[family]()
    return SimpleNamespace(family=fam, model=SimpleNamespace(params=params),
                           result=SimpleNamespace(nll=nll, family=family))


def test_lr_test_is_regular_for_an_interior_nesting_and_mixed_on_a_boundary():
    lr = 2 * (10.0 - 8.7)
    t = compare.likelihood_ratio(_scored("laplace", 10.0, {}),
                                 _scored("quantile", 8.7, {"tau": 0.6, "scale": 1.0}),
                                 FAMILIES["quantile"].nests[0])
    assert t["statistic"] == pytest.approx(lr)
    assert t["p_value"] == pytest.approx(stats.chi2.sf(lr, 1), rel=1e-12)
    t = compare.likelihood_ratio(_scored("poisson", 10.0, {}),
                                 _scored("negative_binomial", 8.7, {"alpha": 0.2}),
                                 FAMILIES["negative_binomial"].nests[0])
    assert t["p_value"] == pytest.approx(0.5 * stats.chi2.sf(lr, 1), rel=1e-12)


def test_compare_with_laplace_reports_the_interior_lr_test(write_csv):
    rng = np.random.default_rng(18)
    pred = rng.normal(0, 2, 600)
    path = write_csv("q.csv", y=_draw(rng, pred, 0.7, 1.0, 600), y_pred=pred)
    rep = run_api("compare-noise-models", path, families=("laplace", "quantile"))
    (test,) = [t for t in rep["tests"] if t["kind"] == "likelihood_ratio"]
    assert (test["null"], test["alternative"]) == ("laplace", "quantile")
    lr = 2 * (model(rep, "laplace")["nll"] - model(rep, "quantile")["nll"])
    assert test["statistic"] == pytest.approx(lr, rel=1e-9)
    assert test["p_value"] == pytest.approx(stats.chi2.sf(lr, 1), rel=1e-9)
    default = run_api("compare-noise-models", path)
    assert "quantile" not in [m["family"] for m in default["models"]]
    assert "quantile" not in [s["family"] for s in default["skipped"]]
