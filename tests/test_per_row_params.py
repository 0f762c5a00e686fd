"""Parameters given per row (SPEC §8): every family's methods take a float or a per-row
array for each parameter, against scipy.stats frozen with the same per-row arrays; a
per-row array of equal values gives the scalar call's numbers; `fit_given` against
independent MLEs (scipy.optimize on scipy.stats.logpdf, or closed forms derived here);
`widen` and `param_form` by their definitions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize, stats

from losscli.noise import FAMILIES
from losscli.noise.discretised import Discretised

N = 240
RTOL = 1e-10


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _spread(rng: np.random.Generator, n: int = N, centre: float = 0.0) -> np.ndarray:
    """Positive per-row values around e^centre (a factor of ~5 either way)."""
    return np.exp(rng.normal(centre, 0.6, n))


def _real_case(rng):
    pred = rng.normal(2.0, 3.0, N)
    return pred, np.round(pred + rng.normal(0.0, 2.0, N))


def _positive_case(rng):
    pred = np.exp(rng.normal(1.5, 0.7, N))
    return pred, np.maximum(np.round(pred * np.exp(rng.normal(0.0, 0.4, N))), 1.0)


def _df_rows(rng):
    df = np.exp(rng.normal(1.2, 1.0, N))
    df[::9] = np.inf  # ν = ∞ per row is the Gaussian on those rows
    return df


class _Oracle:
    """Per-row scipy.stats: each method evaluated row by row from frozen distributions
    (the ν = ∞ rows of a Student-t are scipy's normal)."""

    def __init__(self, dists):
        self.dists = dists

    def _each(self, method, x):
        return np.array([getattr(d, method)(v) for d, v in zip(self.dists, x, strict=True)])

    def logpdf(self, x):
        return self._each("logpdf", x)

    def logcdf(self, x):
        return self._each("logcdf", x)

    def logsf(self, x):
        return self._each("logsf", x)

    def cdf(self, x):
        return self._each("cdf", x)

    def sf(self, x):
        return self._each("sf", x)


def _t_oracle(pred, df, scale):
    df = np.broadcast_to(df, pred.shape)
    scale = np.broadcast_to(scale, pred.shape)
    return _Oracle([stats.norm(m, s) if math.isinf(d) else stats.t(d, m, s)
                    for m, d, s in zip(pred, df, scale, strict=True)])


def _asymmetric_laplace(pred, tau, sigma):
    """τ(1 − τ)/σ · exp(−ρ_τ(y − ŷ)/σ) as scipy's laplace_asymmetric: κ = √(τ/(1 − τ)),
    scale σ/√(τ(1 − τ))."""
    return stats.laplace_asymmetric(kappa=np.sqrt(tau / (1 - tau)), loc=pred,
                                    scale=sigma / np.sqrt(tau * (1 - tau)))


# family, case (pred and integer targets), per-row params, scipy oracle (frozen, vectorised)
CONTINUOUS = {
    "gaussian/sigma": ("gaussian", _real_case, lambda r: {"sigma": _spread(r, centre=0.3)},
                       lambda p, q: stats.norm(p, q["sigma"])),
    "laplace/scale": ("laplace", _real_case, lambda r: {"scale": _spread(r, centre=0.3)},
                      lambda p, q: stats.laplace(p, q["scale"])),
    "student_t/scale": ("student_t", _real_case,
                        lambda r: {"df": 4.5, "scale": _spread(r, centre=0.3)},
                        lambda p, q: stats.t(q["df"], p, q["scale"])),
    "student_t/df": ("student_t", _real_case, lambda r: {"df": _df_rows(r), "scale": 1.7},
                     lambda p, q: _t_oracle(p, q["df"], q["scale"])),
    "student_t/df+scale": ("student_t", _real_case,
                           lambda r: {"df": _df_rows(r), "scale": _spread(r, centre=0.3)},
                           lambda p, q: _t_oracle(p, q["df"], q["scale"])),
    "lognormal/sigma": ("lognormal", _positive_case, lambda r: {"sigma": _spread(r, centre=-1.0)},
                        lambda p, q: stats.lognorm(s=q["sigma"], scale=p)),
    "gamma/shape": ("gamma", _positive_case, lambda r: {"shape": _spread(r, centre=1.5)},
                    lambda p, q: stats.gamma(a=q["shape"], scale=p / q["shape"])),
    "quantile/scale": ("quantile", _real_case,
                       lambda r: {"tau": 0.3, "scale": _spread(r, centre=0.3)},
                       lambda p, q: _asymmetric_laplace(p, q["tau"], q["scale"])),
    "quantile/tau+scale": ("quantile", _real_case,
                           lambda r: {"tau": r.uniform(0.05, 0.95, N),
                                      "scale": _spread(r, centre=0.3)},
                           lambda p, q: _asymmetric_laplace(p, q["tau"], q["scale"])),
}


def _interval_reference(dist, y, loc, lower=-math.inf):
    """log P(max(y − ½, lower) < Y ≤ y + ½) from scipy's c.d.f. differences, each side by
    its smaller tail in log space (so that neither loses digits to 1 − F)."""
    a = np.maximum(y - 0.5, lower)
    b = y + 0.5
    with np.errstate(divide="ignore"):
        lsa, lsb = dist.logsf(a), dist.logsf(b)
        lca, lcb = dist.logcdf(a), dist.logcdf(b)
        upper = lsa + np.log(-np.expm1(lsb - lsa))
        below = lcb + np.log(-np.expm1(lca - lcb))
        middle = np.log1p(-(dist.cdf(a) + dist.sf(b)))
    return np.where(a >= loc, upper, np.where(b <= loc, below, middle))


@pytest.mark.parametrize("case", sorted(CONTINUOUS))
def test_density_and_tails_per_row_match_scipy(case):
    name, data, make, oracle = CONTINUOUS[case]
    rng = _rng(1)
    fam = FAMILIES[name]()
    pred, y = data(rng)
    y = y + rng.uniform(-0.5, 0.5, N)  # continuous targets
    params = make(rng)
    dist = oracle(pred, params)
    np.testing.assert_allclose(fam.loglik(y, pred, params), dist.logpdf(y), rtol=RTOL)
    np.testing.assert_allclose(fam.logcdf(y, pred, params), dist.logcdf(y), rtol=RTOL)
    np.testing.assert_allclose(fam.logsf(y, pred, params), dist.logsf(y), rtol=RTOL)
    lo, hi = fam.pit_interval(y, pred, params)
    np.testing.assert_allclose(lo, dist.cdf(y), rtol=RTOL)
    np.testing.assert_array_equal(lo, hi)
    if not isinstance(dist, _Oracle):
        np.testing.assert_allclose(fam.to_scipy(pred, params).logpdf(y), dist.logpdf(y),
                                   rtol=1e-12)


@pytest.mark.parametrize("case", sorted(CONTINUOUS))
def test_unit_intervals_per_row_match_scipy(case):
    """interval_loglik (and the Discretised wrapper's loglik and PIT) on integer targets."""
    name, data, make, oracle = CONTINUOUS[case]
    rng = _rng(2)
    fam = FAMILIES[name]()
    pred, y = data(rng)
    params = make(rng)
    dist = oracle(pred, params)
    lower = fam.support.lower
    if lower == 0.0:
        y[:12] = 0.0  # the intervals [0, ½]
    ref = _interval_reference(dist, y, pred, lower)
    np.testing.assert_allclose(fam.interval_loglik(y, pred, params), ref, rtol=RTOL)
    disc = Discretised(fam)
    np.testing.assert_allclose(disc.loglik(y, pred, params), ref, rtol=RTOL)
    lo, hi = disc.pit_interval(y, pred, params)
    np.testing.assert_allclose(lo, np.where(y - 0.5 <= lower, 0.0,
                                            dist.cdf(np.maximum(y - 0.5, lower))),
                               rtol=RTOL, atol=1e-300)
    np.testing.assert_allclose(hi, dist.cdf(y + 0.5), rtol=RTOL)


def _scalar_params(params: dict, value: float, key: str) -> tuple[dict, dict]:
    """(params with `key` a per-row array of `value`, params with `key` = value)."""
    rows, scalar = dict(params), dict(params)
    rows[key] = np.full(N, value)
    scalar[key] = value
    return rows, scalar


def _close(a, b, rtol=1e-12):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    np.testing.assert_array_equal(np.isfinite(a), np.isfinite(b))
    fin = np.isfinite(b)
    np.testing.assert_allclose(a[fin], b[fin], rtol=rtol, atol=0.0)


@settings(max_examples=25, deadline=None)
@given(case=st.sampled_from(sorted(CONTINUOUS)), seed=st.integers(0, 10_000),
       value=st.floats(0.05, 40.0))
def test_equal_per_row_values_give_the_scalar_numbers(case, seed, value):
    name, data, make, _ = CONTINUOUS[case]
    rng = _rng(seed)
    fam = FAMILIES[name]()
    pred, y = data(rng)
    base = {k: (float(np.median(v[np.isfinite(v)])) if np.ndim(v) else v)
            for k, v in make(rng).items()}
    yc = y + rng.uniform(-0.5, 0.5, N)
    for key in fam.per_row_params(True):
        rows, scalar = _scalar_params(base, value, key)
        for method, target in (("loglik", yc), ("logcdf", yc), ("logsf", yc),
                               ("interval_loglik", y)):
            _close(getattr(fam, method)(target, pred, rows),
                   getattr(fam, method)(target, pred, scalar))
        for a, b in zip(fam.pit_interval(yc, pred, rows), fam.pit_interval(yc, pred, scalar),
                        strict=True):
            _close(a, b)
        disc = Discretised(fam)
        for a, b in zip(disc.pit_interval(y, pred, rows), disc.pit_interval(y, pred, scalar),
                        strict=True):
            _close(a, b)
        if fam.calibration:  # the families that declare a variance
            _close(fam.variance(pred, rows), fam.variance(pred, scalar))


# ------------------------------------------------------------------ declarations

SPREADS = {
    "gaussian": ("sigma", "scale"), "lognormal": ("sigma", "scale"),
    "laplace": ("scale", "scale"), "student_t": ("scale", "scale"),
    "negative_binomial": ("alpha", "scale"), "gamma": ("shape", "inverse"),
    "beta": ("precision", "inverse"),
    "poisson": None, "bernoulli": None, "categorical": None, "multilabel": None,
    "quantile": ("scale", "scale"),
    "huber": ("sigma", "scale"), "pseudo_huber": ("sigma", "scale"), "fair": None,
    "epsilon_insensitive": ("scale", "scale"),
    "zero_inflated_poisson": None, "zero_inflated_negative_binomial": None,
    "inverse_gaussian": None,
    "hurdle_gamma": ("shape", "inverse"), "hurdle_lognormal": ("sigma", "scale"),
    "log1p_normal": ("sigma", "scale"), "tweedie": ("dispersion", "scale"),
    "expectile": ("sigma", "scale"), "logcosh": ("scale", "scale"),
    "generalized_normal": ("scale", "scale"),
}


def test_every_family_declares_its_spread():
    assert set(SPREADS) == set(FAMILIES)
    for name, cls in FAMILIES.items():
        assert cls.spread == SPREADS[name], name
        if cls.spread is not None:
            assert cls.spread[0] in cls.nuisance, name


@pytest.mark.parametrize("name", sorted(n for n, s in SPREADS.items() if s is not None))
def test_widen_multiplies_or_divides_the_spread(name):
    fam = FAMILIES[name]()
    param, how = SPREADS[name]
    rows = np.array([0.5, 2.0, 3.0])
    for value in (1.5, rows):
        params = {param: value, "other": 7.0}
        out = fam.widen(params, 1.25)
        expected = np.asarray(value) * 1.25 if how == "scale" else np.asarray(value) / 1.25
        np.testing.assert_array_equal(out[param], expected)
        assert out["other"] == 7.0
        assert params[param] is value  # the input is not changed


@pytest.mark.parametrize("name", sorted(n for n, s in SPREADS.items() if s is None))
def test_widen_refuses_a_family_without_spread(name):
    with pytest.raises(ValueError, match="no spread parameter"):
        FAMILIES[name]().widen({}, 2.0)


def test_param_forms_by_their_definitions():
    x = np.array([-1.0, 0.0, 0.7])
    cases = {
        ("gaussian", "sigma"): ("sigma", x),
        ("gaussian", "log_sigma"): ("sigma", np.exp(x)),
        ("gaussian", "var"): ("sigma", np.sqrt(np.abs(x))),
        ("gaussian", "log_var"): ("sigma", np.sqrt(np.exp(x))),
        ("lognormal", "log_sigma"): ("sigma", np.exp(x)),
        ("laplace", "log_scale"): ("scale", np.exp(x)),
        ("student_t", "df"): ("df", x),
        ("student_t", "log_df"): ("df", np.exp(x)),
        ("student_t", "log_scale"): ("scale", np.exp(x)),
        ("negative_binomial", "log_alpha"): ("alpha", np.exp(x)),
        ("gamma", "log_shape"): ("shape", np.exp(x)),
        ("beta", "log_precision"): ("precision", np.exp(x)),
    }
    for (name, form), (param, expected) in cases.items():
        got = FAMILIES[name]().param_form(form)
        assert got is not None and got[0] == param, (name, form)
        arg = np.abs(x) if form == "var" else x
        np.testing.assert_allclose(got[1](arg), expected, rtol=1e-15)
    for name, form in [("gaussian", "mean"), ("gaussian", "log_mean"), ("lognormal", "var"),
                       ("laplace", "median"), ("poisson", "mean"), ("gaussian", "scale"),
                       ("student_t", "loc"), ("bernoulli", "p"), ("beta", "mean")]:
        assert FAMILIES[name]().param_form(form) is None, (name, form)


def test_per_row_params_never_the_location():
    for name, cls in FAMILIES.items():
        fam = cls()
        assert fam.per_row_params(True) == cls.nuisance, name
        assert cls.location not in fam.per_row_params(False), name
    assert FAMILIES["student_t"]().per_row_params(False) == ("df", "scale")
    assert FAMILIES["poisson"]().per_row_params(True) == ()


# ------------------------------------------------------------------ fit_given


def _weights(rng, n=N):
    return rng.uniform(0.2, 3.0, n)


def _argmax(nll, x0):
    """An independent 1-D MLE: scipy's bounded Brent on a window around x0, to 1e-12."""
    res = optimize.minimize_scalar(nll, bounds=(x0 - 3.0, x0 + 3.0), method="bounded",
                                   options={"xatol": 1e-12})
    assert res.success and abs(res.x - x0) < 2.9
    return float(res.x)


def _argmax_nd(nll, x0):
    res = optimize.minimize(nll, x0, method="Nelder-Mead",
                            options={"xatol": 1e-12, "fatol": 1e-15, "maxiter": 20_000,
                                     "maxfev": 40_000})
    return res.x


@pytest.mark.parametrize("weighted", [False, True])
def test_fit_given_nothing_free_and_everything_free(weighted):
    """Nothing free: {}; everything free with nothing given: exactly `fit`."""
    rng = _rng(5)
    w = _weights(rng) if weighted else None
    for name in ("gaussian", "laplace", "student_t", "lognormal"):
        fam = FAMILIES[name]()
        pred, y = (_positive_case if name == "lognormal" else _real_case)(rng)
        y = y + rng.uniform(-0.5, 0.5, N)
        assert fam.fit_given(y, w, pred, {k: _spread(rng) for k in fam.nuisance}, ()) == {}
        assert fam.fit_given(y, w, pred, {}, fam.nuisance) == fam.fit(y, w, pred)
        assert fam.fit_given(y, w, None, {}, fam.marginal_params) == fam.fit(y, w)
        disc = Discretised(fam)
        yi = np.round(y)
        assert disc.fit_given(yi, w, pred, {}, fam.nuisance) == disc.fit(yi, w, pred)


@pytest.mark.parametrize("weighted", [False, True])
def test_gaussian_marginal_mean_with_sigma_per_row(weighted):
    rng = _rng(6)
    w = _weights(rng) if weighted else np.ones(N)
    sigma = _spread(rng)
    y = rng.normal(1.0, sigma)
    fam = FAMILIES["gaussian"]()
    got = fam.fit_given(y, w if weighted else None, None, {"sigma": sigma}, ("mean",))
    ref = _argmax(lambda m: -np.dot(w, stats.norm.logpdf(y, m, sigma)), float(np.mean(y)))
    assert got["mean"] == pytest.approx(ref, rel=1e-6, abs=1e-9)
    # and the closed form derived: the precision-weighted mean
    prec = w / sigma ** 2
    assert got["mean"] == pytest.approx(float(np.dot(prec, y) / prec.sum()), rel=1e-12)


@pytest.mark.parametrize("weighted", [False, True])
def test_gaussian_and_lognormal_marginal_sigma_with_location_fixed(weighted):
    rng = _rng(7)
    w = _weights(rng) if weighted else np.ones(N)
    y = np.exp(rng.normal(0.4, 0.8, N))
    gauss, logn = FAMILIES["gaussian"](), FAMILIES["lognormal"]()
    got = gauss.fit_given(y, w if weighted else None, None, {"mean": 1.1}, ("sigma",))
    ref = _argmax(lambda s: -np.dot(w, stats.norm.logpdf(y, 1.1, math.exp(s))), 0.0)
    assert got["sigma"] == pytest.approx(math.exp(ref), rel=1e-6)
    got = logn.fit_given(y, w if weighted else None, None, {"median": 1.1}, ("sigma",))
    ref = _argmax(lambda s: -np.dot(w, stats.lognorm.logpdf(y, math.exp(s), scale=1.1)), 0.0)
    assert got["sigma"] == pytest.approx(math.exp(ref), rel=1e-6)


@pytest.mark.parametrize("weighted", [False, True])
def test_lognormal_marginal_median_with_sigma_per_row(weighted):
    rng = _rng(8)
    w = _weights(rng) if weighted else np.ones(N)
    sigma = _spread(rng, centre=-0.5)
    y = np.exp(rng.normal(0.7, sigma))
    fam = FAMILIES["lognormal"]()
    got = fam.fit_given(y, w if weighted else None, None, {"sigma": sigma}, ("median",))
    ref = _argmax(lambda lm: -np.dot(w, stats.lognorm.logpdf(y, sigma, scale=math.exp(lm))),
                  0.7)
    assert got["median"] == pytest.approx(math.exp(ref), rel=1e-6)


@pytest.mark.parametrize("weighted", [False, True])
def test_laplace_marginal_median_with_scale_per_row(weighted):
    """Σ w|y − m|/b is piecewise linear in m: its minimum is at a data point, found here
    by evaluating the likelihood at every y."""
    rng = _rng(9)
    w = _weights(rng) if weighted else np.ones(N)
    b = _spread(rng)
    y = rng.laplace(0.3, b)
    fam = FAMILIES["laplace"]()
    got = fam.fit_given(y, w if weighted else None, None, {"scale": b}, ("median",))
    ll = np.array([np.dot(w, stats.laplace.logpdf(y, m, b)) for m in y])
    assert got["median"] == y[np.argmax(ll)]


@pytest.mark.parametrize("weighted", [False, True])
def test_laplace_marginal_scale_with_median_fixed(weighted):
    rng = _rng(10)
    w = _weights(rng) if weighted else np.ones(N)
    y = rng.laplace(0.3, 1.4, N)
    fam = FAMILIES["laplace"]()
    got = fam.fit_given(y, w if weighted else None, None, {"median": 0.0}, ("scale",))
    ref = _argmax(lambda s: -np.dot(w, stats.laplace.logpdf(y, 0.0, math.exp(s))), 0.0)
    assert got["scale"] == pytest.approx(math.exp(ref), rel=1e-6)


@pytest.mark.parametrize("weighted", [False, True])
def test_student_t_df_with_scale_per_row(weighted):
    rng = _rng(11)
    n = 2000
    w = _weights(rng, n) if weighted else np.ones(n)
    pred = rng.normal(0.0, 3.0, n)
    scale = _spread(rng, n)
    y = pred + scale * rng.standard_t(4.0, n)
    fam = FAMILIES["student_t"]()
    got = fam.fit_given(y, w if weighted else None, pred, {"scale": scale}, ("df",))
    ref = _argmax(lambda s: -np.dot(w, stats.t.logpdf(y, math.exp(s), pred, scale)),
                  math.log(4.0))
    assert got["df"] == pytest.approx(math.exp(ref), rel=1e-6)
    # marginal mode: the location held at a fixed value, the same profile
    got = fam.fit_given(y - pred, w if weighted else None, None,
                        {"loc": 0.0, "scale": scale}, ("df",))
    assert got["df"] == pytest.approx(math.exp(ref), rel=1e-6)


def test_student_t_df_reaches_the_gaussian_limit():
    """Residuals lighter-tailed than any t (uniform): the normal beats every finite ν, so
    ν̂ = ∞."""
    rng = _rng(12)
    pred = rng.normal(0.0, 3.0, N)
    scale = _spread(rng)
    y = pred + scale * rng.uniform(-1.7, 1.7, N)
    fam = FAMILIES["student_t"]()
    assert fam.fit_given(y, None, pred, {"scale": scale}, ("df",)) == {"df": math.inf}
    normal = stats.norm.logpdf(y, pred, scale).sum()
    for df in (1.0, 10.0, 1e3, 1e5):
        assert stats.t.logpdf(y, df, pred, scale).sum() < normal


@pytest.mark.parametrize("weighted", [False, True])
def test_student_t_scale_with_df_fixed(weighted):
    rng = _rng(13)
    w = _weights(rng) if weighted else np.ones(N)
    pred = rng.normal(0.0, 3.0, N)
    y = pred + 1.3 * rng.standard_t(3.0, N)
    fam = FAMILIES["student_t"]()
    got = fam.fit_given(y, w if weighted else None, pred, {"df": 5.0}, ("scale",))
    ref = _argmax(lambda s: -np.dot(w, stats.t.logpdf(y, 5.0, pred, math.exp(s))), 0.0)
    assert got["scale"] == pytest.approx(math.exp(ref), rel=1e-6)
    # marginal: location and scale free, df fixed
    got = fam.fit_given(y - pred, w if weighted else None, None, {"df": 5.0}, ("loc", "scale"))
    loc, ls = _argmax_nd(lambda x: -np.dot(w, stats.t.logpdf(y - pred, 5.0, x[0],
                                                             math.exp(x[1]))),
                         np.array([0.0, 0.0]))
    assert got["loc"] == pytest.approx(loc, rel=1e-6, abs=1e-7)
    assert got["scale"] == pytest.approx(math.exp(ls), rel=1e-6)


@pytest.mark.parametrize("weighted", [False, True])
def test_discretised_fit_given_on_unit_intervals(weighted):
    """Marginal Gaussian on integer targets, σ per row, the mean free: the MLE of the
    unit-interval likelihood from scipy's c.d.f. differences."""
    rng = _rng(14)
    w = _weights(rng) if weighted else np.ones(N)
    sigma = _spread(rng, centre=0.5)
    y = np.round(rng.normal(3.0, sigma))
    disc = Discretised(FAMILIES["gaussian"]())
    got = disc.fit_given(y, w if weighted else None, None, {"sigma": sigma}, ("mean",))

    def nll(m):
        d = stats.norm(m, sigma)
        return -np.dot(w, _interval_reference(d, y, m))

    ref = _argmax(nll, 3.0)
    assert got["mean"] == pytest.approx(ref, rel=1e-6)


# ------------------------------------------------------------------ beta and the counts


def _beta_case(rng):
    pred = 1.0 / (1.0 + np.exp(-rng.normal(0.0, 1.0, N)))
    phi = _spread(rng, centre=2.0)
    return pred, phi, rng.beta(pred * phi, (1.0 - pred) * phi)


def test_beta_per_row_precision_matches_scipy():
    rng = _rng(20)
    pred, phi, y = _beta_case(rng)
    fam = FAMILIES["beta"]()
    params = {"precision": phi}
    dist = stats.beta(pred * phi, (1.0 - pred) * phi)
    np.testing.assert_allclose(fam.loglik(y, pred, params), dist.logpdf(y), rtol=RTOL)
    np.testing.assert_allclose(fam.logcdf(y, pred, params), dist.logcdf(y), rtol=RTOL)
    np.testing.assert_allclose(fam.logsf(y, pred, params), dist.logsf(y), rtol=RTOL)
    lo, hi = fam.pit_interval(y, pred, params)
    np.testing.assert_allclose(lo, dist.cdf(y), rtol=RTOL)
    np.testing.assert_array_equal(lo, hi)
    np.testing.assert_allclose(fam.variance(pred, params), dist.var(), rtol=1e-12)
    np.testing.assert_allclose(fam.to_scipy(pred, params).logpdf(y), dist.logpdf(y),
                               rtol=1e-12)
    assert fam.standardised(y, pred, params) is None
    one, scalar = _scalar_params({}, 7.5, "precision")
    for method in ("loglik", "logcdf", "logsf", "variance"):
        args = (pred, one) if method == "variance" else (y, pred, one)
        ref = (pred, scalar) if method == "variance" else (y, pred, scalar)
        _close(getattr(fam, method)(*args), getattr(fam, method)(*ref))


def _nb_case(rng):
    pred = np.exp(rng.normal(1.5, 1.0, N))
    alpha = _spread(rng, centre=-1.0)
    alpha[::5] = 0.0  # α = 0 per row is the Poisson on those rows
    r = np.where(alpha > 0, 1.0 / np.where(alpha > 0, alpha, 1.0), np.inf)
    lam = np.where(alpha > 0, rng.gamma(np.minimum(r, 1e6), pred / np.minimum(r, 1e6)), pred)
    return pred, alpha, rng.poisson(lam).astype(np.float64)


def _nb_oracle(pred, alpha):
    return _Oracle([stats.poisson(m) if a == 0.0 else stats.nbinom(1.0 / a, 1.0 / (1.0 + a * m))
                    for m, a in zip(pred, alpha, strict=True)])


class _CountOracle(_Oracle):
    def logpmf(self, x):
        return self._each("logpmf", x)

    def pmf(self, x):
        return self._each("pmf", x)


def test_negative_binomial_per_row_alpha_matches_scipy():
    rng = _rng(21)
    pred, alpha, y = _nb_case(rng)
    fam = FAMILIES["negative_binomial"]()
    params = {"alpha": alpha}
    dist = _CountOracle(_nb_oracle(pred, alpha).dists)
    np.testing.assert_allclose(fam.loglik(y, pred, params), dist.logpmf(y), rtol=RTOL)
    np.testing.assert_allclose(fam.cdf(y, pred, params), dist.cdf(y), rtol=RTOL)
    np.testing.assert_allclose(fam.cdf(y - 3.0, pred, params),
                               np.where(y < 3, 0.0, dist.cdf(y - 3.0)), rtol=RTOL)
    lo, hi = fam.pit_interval(y, pred, params)
    np.testing.assert_allclose(lo, np.where(y < 1, 0.0, dist.cdf(y - 1.0)), rtol=RTOL)
    np.testing.assert_allclose(hi, dist.cdf(y), rtol=RTOL)
    np.testing.assert_allclose(fam.zero_probability(pred, params), dist.pmf(np.zeros(N)),
                               rtol=RTOL)
    np.testing.assert_allclose(fam.variance(pred, params), pred + alpha * pred ** 2,
                               rtol=1e-15)
    assert fam.fit_warnings(params) == []
    with pytest.raises(ValueError, match="scalar"):
        fam.pmf_recurrence(pred, params)
    positive = {"alpha": np.where(alpha > 0, alpha, 0.3)}
    np.testing.assert_allclose(fam.to_scipy(pred, positive).logpmf(y),
                               _CountOracle(_nb_oracle(pred, positive["alpha"]).dists).logpmf(y),
                               rtol=1e-12)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), value=st.sampled_from([0.0, 1e-9, 1e-4, 0.05, 0.7, 30.0]))
def test_negative_binomial_equal_alphas_give_the_scalar_numbers(seed, value):
    rng = _rng(seed)
    pred, _, y = _nb_case(rng)
    y[:20] = 0.0
    fam = FAMILIES["negative_binomial"]()
    rows, scalar = _scalar_params({}, value, "alpha")
    _close(fam.loglik(y, pred, rows), fam.loglik(y, pred, scalar))
    _close(fam.cdf(y, pred, rows), fam.cdf(y, pred, scalar))
    _close(fam.zero_probability(pred, rows), fam.zero_probability(pred, scalar))
    _close(fam.variance(pred, rows), fam.variance(pred, scalar))
    for a, b in zip(fam.pit_interval(y, pred, rows), fam.pit_interval(y, pred, scalar),
                    strict=True):
        _close(a, b)


def test_gamma_and_student_t_have_no_standardised_form_with_per_row_shape():
    rng = _rng(22)
    pred, y = _positive_case(rng)
    assert FAMILIES["gamma"]().standardised(y, pred, {"shape": _spread(rng)}) is None
    assert FAMILIES["student_t"]().standardised(
        y, pred, {"df": _spread(rng), "scale": 1.0}) is None
    # a per-row scale keeps one c.d.f. G of z = (y − loc)/σᵢ
    scale = _spread(rng)
    fam = FAMILIES["student_t"]()
    z = fam.standardised(y, pred, {"df": 4.0, "scale": scale})
    np.testing.assert_allclose(stats.t.cdf(z, 4.0), stats.t.cdf(y, 4.0, pred, scale),
                               rtol=1e-12)
    gauss = FAMILIES["gaussian"]()
    z = gauss.standardised(y, pred, {"sigma": scale})
    np.testing.assert_allclose(stats.norm.cdf(z), stats.norm.cdf(y, pred, scale), rtol=1e-12)


# ------------------------------------------------------------------ fit_given: the others


@pytest.mark.parametrize("weighted", [False, True])
def test_gamma_fit_given(weighted):
    rng = _rng(23)
    w = _weights(rng) if weighted else np.ones(N)
    ww = w if weighted else None
    k = _spread(rng, centre=1.0)
    y = rng.gamma(k, 2.5 / k)
    fam = FAMILIES["gamma"]()
    got = fam.fit_given(y, ww, None, {"shape": k}, ("mean",))
    ref = _argmax(lambda lm: -np.dot(w, stats.gamma.logpdf(y, k, scale=math.exp(lm) / k)),
                  math.log(2.5))
    assert got["mean"] == pytest.approx(math.exp(ref), rel=1e-6)
    got = fam.fit_given(y, ww, None, {"mean": 2.0}, ("shape",))
    ref = _argmax(lambda lk: -np.dot(w, stats.gamma.logpdf(y, math.exp(lk),
                                                           scale=2.0 / math.exp(lk))), 0.5)
    assert got["shape"] == pytest.approx(math.exp(ref), rel=1e-6)
    pred = np.full(N, 2.5)
    assert fam.fit_given(y, ww, pred, {}, ("shape",)) == fam.fit(y, ww, pred)
    assert fam.fit_given(y, ww, pred, {"shape": k}, ()) == {}


@pytest.mark.parametrize("weighted", [False, True])
def test_beta_fit_given(weighted):
    rng = _rng(24)
    w = _weights(rng) if weighted else np.ones(N)
    ww = w if weighted else None
    _, phi, y = _beta_case(rng)
    y = rng.beta(0.3 * phi, 0.7 * phi)
    fam = FAMILIES["beta"]()
    got = fam.fit_given(y, ww, None, {"precision": phi}, ("mean",))
    ref = _argmax(lambda t: -np.dot(w, stats.beta.logpdf(y, phi / (1 + math.exp(-t)),
                                                        phi / (1 + math.exp(t)))), -0.8)
    assert got["mean"] == pytest.approx(1.0 / (1.0 + math.exp(-ref)), rel=1e-6)
    got = fam.fit_given(y, ww, None, {"mean": 0.3}, ("precision",))
    ref = _argmax(lambda lp: -np.dot(w, stats.beta.logpdf(y, 0.3 * math.exp(lp),
                                                         0.7 * math.exp(lp))), 2.0)
    assert got["precision"] == pytest.approx(math.exp(ref), rel=1e-6)


@pytest.mark.parametrize("weighted", [False, True])
def test_negative_binomial_fit_given(weighted):
    rng = _rng(25)
    w = _weights(rng) if weighted else np.ones(N)
    ww = w if weighted else None
    pred, alpha, y = _nb_case(rng)
    fam = FAMILIES["negative_binomial"]()

    def nll_mean(alphas):
        return lambda lm: -np.dot(w, _CountOracle(_nb_oracle(np.full(N, math.exp(lm)),
                                                              alphas).dists).logpmf(y))

    got = fam.fit_given(y, ww, None, {"alpha": alpha}, ("mean",))
    ref = _argmax(nll_mean(alpha), math.log(float(np.mean(y))))
    assert got["mean"] == pytest.approx(math.exp(ref), rel=1e-6)
    got = fam.fit_given(y, ww, None, {"alpha": 0.4}, ("mean",))
    assert got["mean"] == pytest.approx(float(np.dot(w, y) / w.sum()), rel=1e-12)
    mean = float(np.dot(w, y) / w.sum())
    got = fam.fit_given(y, ww, None, {"mean": mean}, ("alpha",))
    ref = _argmax(lambda la: -np.dot(w, stats.nbinom.logpmf(
        y, 1.0 / math.exp(la), 1.0 / (1.0 + math.exp(la) * mean))), 0.0)
    assert got["alpha"] == pytest.approx(math.exp(ref), rel=1e-6)
    assert fam.fit_given(y, ww, pred, {}, ("alpha",)) == fam.fit(y, ww, pred)
    assert fam.fit_given(y, ww, pred, {"alpha": alpha}, ()) == {}


def test_families_without_parameters_fit_given():
    rng = _rng(26)
    y = rng.poisson(3.0, N).astype(np.float64)
    fam = FAMILIES["poisson"]()
    assert fam.fit_given(y, None, np.full(N, 3.0), {}, ()) == {}
    assert fam.fit_given(y, None, None, {}, ("mean",)) == fam.fit(y, None)
    assert fam.fit_given(y, None, None, {"mean": 2.0}, ()) == {}


@pytest.mark.parametrize("weighted", [False, True])
def test_student_t_scale_with_df_per_row(weighted):
    rng = _rng(27)
    w = _weights(rng) if weighted else np.ones(N)
    pred = rng.normal(0.0, 3.0, N)
    df = _spread(rng, centre=1.5)
    y = pred + 1.3 * rng.standard_t(df)
    fam = FAMILIES["student_t"]()
    got = fam.fit_given(y, w if weighted else None, pred, {"df": df}, ("scale",))
    ref = _argmax(lambda s: -np.dot(w, stats.t.logpdf(y, df, pred, math.exp(s))), 0.0)
    assert got["scale"] == pytest.approx(math.exp(ref), rel=1e-6)


@pytest.mark.parametrize("weighted", [False, True])
def test_discretised_student_t_df_with_scale_per_row(weighted):
    """The `tail` fit on integer targets: ν on the unit intervals, σ per row; interior
    for t₃ noise, the Gaussian limit for uniform noise."""
    rng = _rng(28)
    n = 1500
    w = _weights(rng, n) if weighted else np.ones(n)
    ww = w if weighted else None
    pred = rng.normal(0.0, 5.0, n)
    scale = _spread(rng, n, centre=1.0)
    disc = Discretised(FAMILIES["student_t"]())
    y = np.round(pred + scale * rng.standard_t(3.0, n))
    got = disc.fit_given(y, ww, pred, {"scale": scale}, ("df",))

    def nll(s):
        return -np.dot(w, _interval_reference(stats.t(math.exp(s), pred, scale), y, pred))

    ref = _argmax(nll, math.log(3.0))
    assert got["df"] == pytest.approx(math.exp(ref), rel=1e-6)
    y = np.round(pred + scale * rng.uniform(-1.7, 1.7, n))
    assert disc.fit_given(y, ww, pred, {"scale": scale}, ("df",)) == {"df": math.inf}
    normal = np.dot(w, _interval_reference(stats.norm(pred, scale), y, pred))
    for df in (1.0, 10.0, 1e3):
        assert np.dot(w, _interval_reference(stats.t(df, pred, scale), y, pred)) < normal


def test_t_numerics_with_df_per_row_equal_the_scalar_ones_row_by_row():
    """The standard t's tails (body, far-tail series, the large-ν underflow region),
    normaliser and unit intervals with ν per row: each row as the scalar ν gives it."""
    from losscli.noise import tdist

    rng = _rng(29)
    n = 400
    df = np.exp(rng.uniform(math.log(0.3), math.log(5e6), n))
    t = rng.choice([-1.0, 1.0], n) * np.exp(rng.uniform(-3.0, math.log(1e4), n))
    scale = _spread(rng, n)

    def each(fn, *cols):
        return np.array([fn(*args) for args in zip(*cols, strict=True)])

    _close(tdist.log_tail(t, df), each(lambda a, d: tdist.log_tail(np.array([a]), d)[0],
                                       t, df), rtol=1e-13)
    _close(tdist.log_norm(df), each(tdist.log_norm, df), rtol=1e-13)
    _close(tdist.interval_std(t - 0.5, t + 0.5, df),
           each(lambda a, d: tdist.interval_std(np.array([a - 0.5]), np.array([a + 0.5]),
                                                d)[0], t, df), rtol=1e-12)
    _close(tdist.interval_residual(t, scale, df),
           each(lambda a, s, d: tdist.interval_residual(np.array([a]), s, d)[0],
                t, scale, df), rtol=1e-12)


def test_gamma_numerics_with_shape_per_row_equal_the_scalar_ones_row_by_row():
    """log P(k, x), log Q(k, x) (both tails, the underflow series and continued fraction)
    and the unit intervals (quadrature, the [0, ½] series, the c.d.f. path) with k per row:
    each row as the scalar k gives it."""
    from losscli.noise import gamma

    rng = _rng(30)
    n = 300
    k = np.exp(rng.uniform(math.log(0.05), math.log(5e4), n))
    x = k * np.exp(rng.uniform(-8.0, 3.0, n))
    x[::10] = k[::10] * 1e-3  # deep in the lower tail
    x[5::10] = k[5::10] + 40.0 * np.sqrt(k[5::10]) + 800.0  # deep in the upper tail

    def each(fn, *cols):
        return np.array([fn(*args) for args in zip(*cols, strict=True)])

    _close(gamma.log_gammainc(k, x), each(lambda a, v: gamma.log_gammainc(a, v), k, x),
           rtol=1e-13)
    _close(gamma.log_gammaincc(k, x), each(lambda a, v: gamma.log_gammaincc(a, v), k, x),
           rtol=1e-13)
    fam = FAMILIES["gamma"]()
    mu = np.exp(rng.uniform(0.0, 4.0, n))
    y = np.round(mu * np.exp(rng.normal(0.0, 0.5, n)))
    y[:20] = 0.0
    got = fam.interval_loglik(y, mu, {"shape": k})
    ref = each(lambda a, m, s: fam.interval_loglik(np.array([a]), np.array([m]),
                                                    {"shape": s})[0], y, mu, k)
    _close(got, ref, rtol=1e-12)


@pytest.mark.parametrize("name,param", [("gaussian", "sigma"), ("laplace", "scale"),
                                        ("lognormal", "sigma"), ("student_t", "scale"),
                                        ("student_t", "df")])
def test_unit_intervals_per_row_equal_the_scalar_ones_row_by_row(name, param):
    """Spreads from 1e-3 to 1e3 per row (every path: quadrature, the tails, the closed
    forms): each row as the scalar parameter gives it."""
    rng = _rng(31)
    n = 200
    fam = FAMILIES[name]()
    base = {"df": 3.0, "scale": 2.0} if name == "student_t" else {}
    values = np.exp(rng.uniform(math.log(1e-3), math.log(1e3), n))
    mu = np.exp(rng.uniform(-1.0, 5.0, n)) if name == "lognormal" else rng.normal(0, 30, n)
    y = np.round(mu * np.exp(rng.normal(0.0, 0.3, n))) if name == "lognormal" else \
        np.round(mu + rng.normal(0.0, 5.0, n))
    if name == "lognormal":
        y[:10] = 0.0
    params = {**base, param: values}
    got = fam.interval_loglik(y, mu, params)
    ref = np.array([fam.interval_loglik(np.array([a]), np.array([m]), {**base, param: v})[0]
                    for a, m, v in zip(y, mu, values, strict=True)])
    _close(got, ref, rtol=1e-12)
    for a, b in zip(Discretised(fam).pit_interval(y, mu, params),
                    zip(*[Discretised(fam).pit_interval(np.array([a]), np.array([m]),
                                                        {**base, param: v})
                          for a, m, v in zip(y, mu, values, strict=True)], strict=True),
                    strict=True):
        _close(a, np.concatenate(b), rtol=1e-12)


@pytest.mark.parametrize("weighted", [False, True])
def test_gaussian_recalibration_factor_is_the_weighted_mle(weighted):
    """ĉ maximises Σw log N(y; ŷ, cσᵢ): scipy's Brent on scipy.stats' log-density agrees, and
    so does the root of the score, ĉ² = Σw((y − ŷ)/σᵢ)² / W, derived here."""
    rng = _rng(31)
    w = _weights(rng) if weighted else np.ones(N)
    pred = rng.normal(0.0, 3.0, N)
    sigma = _spread(rng, centre=0.0)
    y = pred + 1.4 * sigma * rng.standard_normal(N)
    fam = FAMILIES["gaussian"]()
    got = fam.recalibration_closed(y, w if weighted else None, pred, {"sigma": sigma}, ())
    ref = _argmax(lambda s: -np.dot(w, stats.norm.logpdf(y, pred, math.exp(s) * sigma)), 0.0)
    assert got == pytest.approx(math.exp(ref), rel=1e-6)
    assert got == pytest.approx(math.sqrt(np.dot(w, ((y - pred) / sigma) ** 2) / w.sum()),
                                rel=1e-13)
    assert fam.recalibration_closed(y, None, None, {"sigma": sigma}, ("mean",)) is None
