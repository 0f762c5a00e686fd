"""Diagnostics (SPEC §7) end to end, every number against an independent implementation.

Oracles: scipy.stats (c.d.f.s, kstest, kstwo, binomtest, chi2), statsmodels'
test_poisson_dispersion and test_poisson_zeros, scikit-learn's calibration_curve and
IsotonicRegression, model-diagnostics' decompose, and closed forms derived here. Never
numbers losscli printed. Data are seeded and written to tmp_path; the commands run in
process through the Python API (a few through the real entry point).
"""

from __future__ import annotations

import json
import math
import types
import warnings

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import statsmodels.api as sm
from model_diagnostics import scoring as md
from scipy import optimize, special, stats
from sklearn.calibration import calibration_curve
from sklearn.isotonic import IsotonicRegression
from statsmodels.discrete import _diagnostics_count as sm_count

import losscli
from tests.conftest import model, run_cli

N = 3000
COVERAGE = ((0.5, 0.25, 0.75), (0.8, 0.1, 0.9), (0.9, 0.05, 0.95), (0.95, 0.025, 0.975))
DIAG_KEYS = {"pit", "tests", "decomposition", "rootogram", "reliability_bins", "by_prediction",
             "plots"}
TEST_KEYS = {"kind", "statistic", "p_value", "null_distribution", "exact", "effect"}


# ------------------------------------------------------------------ running


def diagnose(path, **kw) -> dict:
    rep = losscli.diagnose(path, **kw).to_dict()
    json.loads(json.dumps(rep, allow_nan=False))  # strict JSON
    return rep


def only(rep: dict) -> dict:
    assert len(rep["models"]) == 1
    return rep["models"][0]


def find_test(diag: dict, kind: str) -> dict:
    found = [t for t in diag["tests"] if t["kind"] == kind]
    assert len(found) == 1, [t["kind"] for t in diag["tests"]]
    return found[0]


def write_parquet(path, **cols):
    pq.write_table(pa.table({k: np.asarray(v) for k, v in cols.items()}), path)
    return path


# ------------------------------------------------------------------ PIT oracles


def interval_masses(lo, hi, edges, w=None) -> np.ndarray:
    """The mass each set [edges[j], edges[j+1]) gets from rows uniform on [lo, hi] (all of
    a row at lo when hi = lo), by overlap lengths; the last set is closed at its top."""
    lo = np.asarray(lo, dtype=np.float64)
    hi = np.asarray(hi, dtype=np.float64)
    wt = np.ones(lo.size) if w is None else np.asarray(w, dtype=np.float64)
    a, b = edges[:-1][None, :], edges[1:][None, :]
    width = hi - lo
    spread = width > 0
    over = np.clip(np.minimum(hi[:, None], b) - np.maximum(lo[:, None], a), 0.0, None)
    share = np.where(spread[:, None], over / np.where(spread, width, 1.0)[:, None], 0.0)
    j = np.clip(np.searchsorted(edges, lo, side="right") - 1, 0, edges.size - 2)
    point = ~spread
    share[np.flatnonzero(point), j[point]] = 1.0
    return (wt[:, None] * share).sum(axis=0)


def expected_density(lo, hi, w=None) -> np.ndarray:
    W = lo.size if w is None else float(np.sum(w))
    return 20.0 * interval_masses(lo, hi, np.arange(21) / 20.0, w) / W


def exact_density(u, w=None) -> np.ndarray:
    """20·histogram/W with bin = min(⌊20u⌋, 19)."""
    wt = np.ones(u.size) if w is None else w
    b = np.minimum(np.floor(20.0 * u), 19).astype(int)
    return 20.0 * np.bincount(b, weights=wt, minlength=20) / wt.sum()


def interval_share(lo, hi, a: float, b: float) -> np.ndarray:
    width = hi - lo
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.clip((np.minimum(hi, b) - np.maximum(lo, a)) / width, 0.0, 1.0)
    return np.where(width > 0, share, ((lo >= a) & (lo <= b)).astype(float))


def check_pit(pit: dict, lo, hi, method: str, w=None) -> None:
    W = lo.size if w is None else float(np.sum(w))
    wt = np.ones(lo.size) if w is None else w
    assert pit["method"] == method
    assert pit["bins"] == 20
    want = exact_density(lo, w) if method == "exact" else expected_density(lo, hi, w)
    np.testing.assert_allclose(pit["density"], want, rtol=1e-12, atol=1e-12)
    assert [c["nominal"] for c in pit["coverage"]] == [c for c, _, _ in COVERAGE]
    for got, (_, a, b) in zip(pit["coverage"], COVERAGE, strict=True):
        share = float(np.sum(wt * interval_share(lo, hi, a, b))) / W
        assert got["observed"] == pytest.approx(share, rel=1e-12, abs=1e-14)


# ------------------------------------------------------------------ continuous families

def _gaussian(r, n):
    mu = r.normal(0.0, 2.0, n)
    return mu + r.normal(0.0, 1.3, n), mu


def _laplace(r, n):
    mu = r.normal(0.0, 2.0, n)
    return mu + r.laplace(0.0, 0.8, n), mu


def _student_t(r, n):
    mu = r.normal(0.0, 2.0, n)
    return mu + 0.7 * r.standard_t(4.0, n), mu


def _gamma(r, n):
    mu = np.exp(r.normal(0.5, 0.4, n))
    return r.gamma(3.0, mu / 3.0), mu


def _lognormal(r, n):
    mu = np.exp(r.normal(0.5, 0.4, n))
    return mu * np.exp(0.6 * r.normal(size=n)), mu


def _beta(r, n):
    mu = r.uniform(0.1, 0.9, n)
    return r.beta(8.0 * mu, 8.0 * (1.0 - mu)), mu


CONTINUOUS = {
    "gaussian": (_gaussian, lambda pred, p: stats.norm(loc=pred, scale=p["sigma"]),
                 lambda p: stats.norm(loc=p["mean"], scale=p["sigma"])),
    "laplace": (_laplace, lambda pred, p: stats.laplace(loc=pred, scale=p["scale"]),
                lambda p: stats.laplace(loc=p["median"], scale=p["scale"])),
    "student_t": (_student_t,
                  lambda pred, p: stats.t(df=p["df"], loc=pred, scale=p["scale"]),
                  lambda p: stats.t(df=p["df"], loc=p["loc"], scale=p["scale"])),
    "gamma": (_gamma, lambda pred, p: stats.gamma(a=p["shape"], scale=pred / p["shape"]),
              lambda p: stats.gamma(a=p["shape"], scale=p["mean"] / p["shape"])),
    "lognormal": (_lognormal, lambda pred, p: stats.lognorm(s=p["sigma"], scale=pred),
                  lambda p: stats.lognorm(s=p["sigma"], scale=p["median"])),
    "beta": (_beta, lambda pred, p: stats.beta(a=pred * p["precision"],
                                               b=(1.0 - pred) * p["precision"]),
             lambda p: stats.beta(a=p["mean"] * p["precision"],
                                  b=(1.0 - p["mean"]) * p["precision"])),
}


def continuous_case(write_csv, family: str, seed: int, n: int = N):
    make, _, _ = CONTINUOUS[family]
    y, mu = make(np.random.default_rng(seed), n)
    return write_csv(f"{family}.csv", y=y, y_pred=mu), y, mu


def fitted_u(family: str, m: dict, y, mu, marginal: bool) -> np.ndarray:
    _, cond, marg = CONTINUOUS[family]
    dist = marg(m["params"]) if marginal else cond(mu, m["params"])
    return dist.cdf(y)


@pytest.mark.parametrize("marginal", [False, True], ids=["conditional", "marginal"])
@pytest.mark.parametrize("family", [
    "gaussian",
    "laplace",
    "student_t", "gamma", "lognormal", "beta"])
def test_exact_pit_histogram_and_coverage_at_the_fitted_parameters(write_csv, family,
                                                                   marginal):
    path, y, mu = continuous_case(write_csv, family, seed=11)
    rep = diagnose(path, family=family, no_pred=marginal)
    assert rep["mode"] == ("marginal" if marginal else "conditional")
    m = only(rep)
    u = fitted_u(family, m, y, mu, marginal)
    pit = m["diagnostics"]["pit"]
    check_pit(pit, u, u, "exact")
    assert pit["seed"] is None


def test_laplace_decomposition_against_model_diagnostics(write_csv):
    """The median recalibrated by isotonic median regression: S = ln(4s) + 1 with s the
    mean PinballLoss(0.5)."""
    path, y, mu = continuous_case(write_csv, "laplace", seed=12)
    m = only(diagnose(path, family="laplace"))
    u = fitted_u("laplace", m, y, mu, marginal=False)
    check_pit(m["diagnostics"]["pit"], u, u, "exact")
    dec = m["diagnostics"]["decomposition"]
    got = md.decompose(y, mu, scoring_function=md.PinballLoss(level=0.5))
    s, s_mcb = float(got["score"][0]), float(got["miscalibration"][0])
    assert dec["scoring"] == "nll"
    assert dec["score"] == pytest.approx(math.log(4 * s) + 1, rel=1e-8)
    assert dec["score"] - dec["miscalibration"] == pytest.approx(
        math.log(4 * (s - s_mcb)) + 1, rel=1e-8)


# ------------------------------------------------------------------ discrete families


def _poisson_data(r, n, spread=0.5):
    mu = np.exp(r.normal(1.0, spread, n))
    return r.poisson(mu).astype(float), mu


def _nb_data(r, n, alpha=0.7):
    mu = np.exp(r.normal(1.0, 0.5, n))
    return r.negative_binomial(1.0 / alpha, 1.0 / (1.0 + alpha * mu)).astype(float), mu


def _binary(r, n):
    p = r.uniform(0.05, 0.95, n)
    return (r.random(n) < p).astype(float), p


def nb_dist(mu, alpha):
    if alpha == 0.0:
        return stats.poisson(mu=mu)
    return stats.nbinom(n=1.0 / alpha, p=1.0 / (1.0 + alpha * np.asarray(mu)))


def test_poisson_nonrandomized_pit_conditional(write_csv):
    y, mu = _poisson_data(np.random.default_rng(21), N)
    path = write_csv("po.csv", y=y, y_pred=mu)
    m = only(diagnose(path, family="poisson", seed=5))
    pit = m["diagnostics"]["pit"]
    check_pit(pit, stats.poisson.cdf(y - 1, mu), stats.poisson.cdf(y, mu), "nonrandomized")
    assert pit["seed"] == 5


def test_negative_binomial_nonrandomized_pit_conditional(write_csv):
    y, mu = _nb_data(np.random.default_rng(22), N)
    path = write_csv("nb.csv", y=y, y_pred=mu)
    m = only(diagnose(path, family="negative_binomial"))
    d = nb_dist(mu, m["params"]["alpha"])
    check_pit(m["diagnostics"]["pit"], d.cdf(y - 1), d.cdf(y), "nonrandomized")


@pytest.mark.parametrize("marginal", [False, True], ids=["conditional", "marginal"])
def test_bernoulli_nonrandomized_pit(write_csv, marginal):
    y, p = _binary(np.random.default_rng(23), N)
    path = write_csv("b.csv", y=y, p=p)
    m = only(diagnose(path, family="bernoulli", no_pred=marginal))
    q = np.full(N, m["params"]["p"]) if marginal else p
    lo, hi = stats.bernoulli.cdf(y - 1, q), stats.bernoulli.cdf(y, q)
    check_pit(m["diagnostics"]["pit"], lo, hi, "nonrandomized")


def test_point_masses_at_zero_and_one_fall_in_the_first_and_last_bins(write_csv):
    """F(y − 1) = F(y) in float64 far in a tail: at 1 (y far above μ) the point belongs to
    the last bin, at 0 (y far below μ) to the first."""
    r = np.random.default_rng(26)
    mu = r.uniform(0.5, 3.0, 400)
    y = r.poisson(mu).astype(float)
    y[:5], mu[:5] = 80.0, 1.0  # F(79) = F(80) = 1
    y[5:9], mu[5:9] = 0.0, 900.0  # F(−1) = 0 = F(0) = e^(−900)
    path = write_csv("points.csv", y=y, y_pred=mu)
    lo, hi = stats.poisson.cdf(y - 1, mu), stats.poisson.cdf(y, mu)
    assert (lo[:5] == 1.0).all() and (hi[:5] == 1.0).all()
    assert (lo[5:9] == 0.0).all() and (hi[5:9] == 0.0).all()
    m = only(diagnose(path, family="poisson"))
    pit = m["diagnostics"]["pit"]
    check_pit(pit, lo, hi, "nonrandomized")
    assert sum(pit["density"]) == pytest.approx(20.0, rel=1e-12)


@pytest.mark.parametrize("family", ["poisson", "negative_binomial"])
def test_marginal_count_pit(write_csv, family):
    y, _ = _nb_data(np.random.default_rng(24), N, alpha=0.4)
    path = write_csv("mc.csv", y=y)
    m = only(diagnose(path, family=family))
    p = m["params"]
    d = stats.poisson(mu=p["mean"]) if family == "poisson" else nb_dist(p["mean"], p["alpha"])
    check_pit(m["diagnostics"]["pit"], d.cdf(y - 1), d.cdf(y), "nonrandomized")


def test_continuous_families_on_counts_spread_over_unit_intervals(write_csv):
    """compare-noise-models on integer targets scores a density on [y − ½, y + ½] (the
    lower end clipped to the support: gamma's y = 0 rows start at 0)."""
    r = np.random.default_rng(25)
    mu = np.exp(r.normal(0.8, 0.5, N))
    y = r.poisson(mu).astype(float)
    assert (y == 0).any()
    path = write_csv("counts.csv", y=y, y_pred=mu)
    rep = losscli.compare_noise_models(path, family=["poisson", "gaussian", "gamma"],
                                       diagnostics=True).to_dict()
    assert rep["base_measure"] == "counting"
    g = model(rep, "gaussian")
    d = stats.norm(loc=mu, scale=g["params"]["sigma"])
    check_pit(g["diagnostics"]["pit"], d.cdf(y - 0.5), d.cdf(y + 0.5), "nonrandomized")
    gm = model(rep, "gamma")
    k = gm["params"]["shape"]
    d = stats.gamma(a=k, scale=mu / k)
    lo = np.where(y - 0.5 <= 0.0, 0.0, d.cdf(np.maximum(y - 0.5, 0.0)))
    check_pit(gm["diagnostics"]["pit"], lo, d.cdf(y + 0.5), "nonrandomized")
    # no uniformity or tail test on a non-randomised PIT; squared-error decomposition
    for m in (g, gm):
        kinds = {t["kind"] for t in m["diagnostics"]["tests"]}
        assert not kinds & {"pit_uniformity", "tail_exceedance"}
        assert m["diagnostics"]["decomposition"]["scoring"] == "squared_error"


def test_discretised_lognormal_on_counts_with_zeros_decomposes_the_counts(write_csv):
    """lognormal forecasts log y; on the counting measure its squared-error decomposition
    is of ŷ against y itself (log 0 = −∞ would make it NaN), equal to model-diagnostics',
    and its log-scale calibration test is not run on counts."""
    r = np.random.default_rng(26)
    mu = np.exp(r.normal(0.8, 0.5, N))
    y = r.poisson(mu).astype(float)
    assert (y == 0).any()
    path = write_csv("counts0.csv", y=y, y_pred=mu)
    rep = losscli.compare_noise_models(path, family=["lognormal"], diagnostics=True).to_dict()
    assert not rep["warnings"]
    m = model(rep, "lognormal")
    dec = _check_identity(m)
    assert dec["scoring"] == "squared_error"
    got = _md(y, mu, md.SquaredError())
    for key in ("score", "miscalibration", "discrimination", "uncertainty"):
        assert dec[key] == pytest.approx(got[key], rel=1e-8, abs=1e-15), key
    assert "calibration_in_the_large" not in {t["kind"] for t in m["diagnostics"]["tests"]}


# ------------------------------------------------------------------ KS and tails


def test_ks_uniformity_equals_scipy_kstest(write_csv):
    path, y, mu = continuous_case(write_csv, "gaussian", seed=31)
    m = only(diagnose(path, family="gaussian"))
    u = fitted_u("gaussian", m, y, mu, marginal=False)
    ks = find_test(m["diagnostics"], "pit_uniformity")
    want = stats.kstest(u, "uniform").statistic
    assert ks["statistic"] == pytest.approx(want, rel=1e-12, abs=1e-15)
    assert ks["p_value"] == pytest.approx(stats.kstwo.sf(ks["statistic"], N), rel=1e-12)
    assert ks["effect"] == {"name": "ks_distance", "value": ks["statistic"]}
    assert ks["null_distribution"] == f"Kolmogorov({N})"
    assert ks["exact"] is False  # σ is fitted


@pytest.mark.parametrize("family", ["student_t", "beta"])
def test_ks_uniformity_other_families(write_csv, family):
    path, y, mu = continuous_case(write_csv, family, seed=32)
    for marginal in (False, True):
        m = only(diagnose(path, family=family, no_pred=marginal))
        u = fitted_u(family, m, y, mu, marginal)
        ks = find_test(m["diagnostics"], "pit_uniformity")
        assert ks["statistic"] == pytest.approx(stats.kstest(u, "uniform").statistic,
                                                rel=1e-12)


def test_ks_with_integer_weights_is_the_test_on_the_expanded_rows(write_csv):
    r = np.random.default_rng(33)
    y, mu = _gaussian(r, 1500)
    w = r.integers(1, 4, y.size).astype(float)
    path = write_csv("gw.csv", y=y, y_pred=mu, w=w)
    m = only(diagnose(path, family="gaussian", weight="w"))
    u = stats.norm.cdf(y, mu, m["params"]["sigma"])
    ue = np.repeat(u, w.astype(int))
    ks = find_test(m["diagnostics"], "pit_uniformity")
    want = stats.kstest(ue, "uniform")
    assert ks["statistic"] == pytest.approx(want.statistic, rel=1e-12)
    assert ks["p_value"] == pytest.approx(stats.kstwo.sf(want.statistic, ue.size), rel=1e-10)
    assert ks["null_distribution"] == f"Kolmogorov({ue.size})"
    check_pit(m["diagnostics"]["pit"], u, u, "exact", w=w)


def test_ks_beyond_fit_rows_is_read_on_the_grid_with_a_warning(write_csv):
    path, y, mu = continuous_case(write_csv, "gaussian", seed=34)
    rep = diagnose(path, family="gaussian", fit_rows=500)
    m = only(rep)
    u = fitted_u("gaussian", m, y, mu, marginal=False)
    exact = stats.kstest(u, "uniform").statistic
    ks = find_test(m["diagnostics"], "pit_uniformity")
    # D on the grid j/1000 is within one cell: D_grid ≤ D ≤ D_grid + 1/1000
    assert ks["statistic"] <= exact + 1e-12
    assert exact - ks["statistic"] <= 1e-3 + 1e-12
    assert ks["p_value"] == pytest.approx(stats.kstwo.sf(ks["statistic"], N), rel=1e-12)
    assert any("grid" in w for w in rep["warnings"])


def test_tail_exceedance_is_a_binomial_test(write_csv):
    r = np.random.default_rng(35)
    mu = r.normal(0, 2, N)
    y = mu + r.standard_t(3.0, N)  # heavier tails than the fitted normal
    path = write_csv("tails.csv", y=y, y_pred=mu)
    m = only(diagnose(path, family="gaussian"))
    u = stats.norm.cdf(y, mu, m["params"]["sigma"])
    T = int(np.sum((u < 0.001) | (u > 0.999)))
    assert T > 0
    t = find_test(m["diagnostics"], "tail_exceedance")
    assert t["statistic"] == T
    assert t["p_value"] == pytest.approx(stats.binomtest(T, N, 0.002).pvalue, rel=1e-12)
    assert t["effect"] == {"name": "observed_to_expected",
                           "value": pytest.approx(T / (0.002 * N), rel=1e-12)}
    assert t["null_distribution"] == f"Binomial({N}, 0.002)"


# ------------------------------------------------------------------ count tests


def _results(y, mu):
    """What statsmodels' count diagnostics read of a Poisson results object."""
    return types.SimpleNamespace(model=types.SimpleNamespace(endog=y), predict=lambda: mu,
                                 resid_response=y - mu, fittedvalues=mu)


def _normal_p(z):
    return 2.0 * stats.norm.sf(abs(z))


def test_dean_a_b_c_equal_statsmodels_at_given_means(write_csv):
    r = np.random.default_rng(41)
    mu = np.exp(r.normal(1.0, 0.5, N))
    y = r.poisson(mu * r.gamma(8.0, 1 / 8.0, N)).astype(float)  # mildly overdispersed
    path = write_csv("dean.csv", y=y, y_pred=mu)
    diag = only(diagnose(path, family="poisson"))["diagnostics"]
    res = sm_count.test_poisson_dispersion(_results(y, mu))
    ratio = float(np.sum((y - mu) ** 2 / mu)) / N
    for i, kind in enumerate(("dispersion_dean_a", "dispersion_dean_b", "dispersion_dean_c")):
        t = find_test(diag, kind)
        assert t["statistic"] == pytest.approx(float(res.statistic[i]), rel=1e-8)
        assert t["p_value"] == pytest.approx(float(res.pvalue[i]), rel=1e-8, abs=1e-300)
        assert t["null_distribution"] == "N(0,1)"
        assert t["effect"]["name"] == "pearson_ratio"
        assert t["effect"]["value"] == pytest.approx(ratio, rel=1e-10)
    assert [find_test(diag, k)["exact"] for k in
            ("dispersion_dean_a", "dispersion_dean_b", "dispersion_dean_c")] == \
        [False, True, True]
    # the closed forms of SPEC §7.4, for the order of statsmodels' statistics
    s2 = math.sqrt(2 * np.sum(mu ** 2))
    assert find_test(diag, "dispersion_dean_b")["statistic"] == pytest.approx(
        np.sum((y - mu) ** 2 - y) / s2, rel=1e-10)
    assert find_test(diag, "dispersion_dean_c")["statistic"] == pytest.approx(
        np.sum(((y - mu) ** 2 - y) / mu) / math.sqrt(2 * N), rel=1e-10)


def _intercept_only_poisson(y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = sm.Poisson(y, np.ones((y.size, 1))).fit(method="newton", disp=0, tol=1e-14,
                                                       maxiter=100)
    assert res.predict()[0] == pytest.approx(y.mean(), rel=1e-12)
    return res


def test_dean_and_zero_test_marginal_equal_statsmodels_intercept_only(write_csv):
    r = np.random.default_rng(42)
    y = r.poisson(2.5 * r.gamma(6.0, 1 / 6.0, N)).astype(float)
    path = write_csv("marg.csv", y=y, y_pred=np.full(N, 2.5))
    rep = diagnose(path, family="poisson", no_pred=True)
    assert rep["mode"] == "marginal"
    m = only(rep)
    assert m["params"]["mean"] == pytest.approx(y.mean(), rel=1e-12)
    diag = m["diagnostics"]
    res = _intercept_only_poisson(y)
    disp = sm_count.test_poisson_dispersion(res)
    stat = [find_test(diag, k)["statistic"] for k in
            ("dispersion_dean_a", "dispersion_dean_b", "dispersion_dean_c")]
    for i in range(3):
        assert stat[i] == pytest.approx(float(disp.statistic[i]), rel=1e-8)
    assert stat[0] == pytest.approx(stat[1], rel=1e-10)
    assert stat[1] == pytest.approx(stat[2], rel=1e-10)
    zeros = sm_count.test_poisson_zeros(res)
    z = find_test(diag, "zero_inflation")
    assert z["statistic"] == pytest.approx(float(zeros.statistic), rel=1e-8)
    assert z["p_value"] == pytest.approx(float(zeros.pvalue), rel=1e-8)
    assert z["exact"] is False
    ratio = float(np.sum((y - y.mean()) ** 2 / y.mean())) / (N - 1)
    assert find_test(diag, "dispersion_dean_b")["effect"]["value"] == pytest.approx(ratio,
                                                                                  rel=1e-10)


def test_zero_inflation_conditional_closed_forms(write_csv):
    r = np.random.default_rng(43)
    mu = np.exp(r.normal(0.3, 0.6, N))
    y = np.where(r.random(N) < 0.03, 0.0, r.poisson(mu)).astype(float)  # a few extra zeros
    path = write_csv("zeros.csv", y=y, y_pred=mu)
    for family in ("poisson", "negative_binomial"):
        m = only(diagnose(path, family=family))
        if family == "poisson":
            p0 = stats.poisson.pmf(0, mu)
        else:
            p0 = nb_dist(mu, m["params"]["alpha"]).pmf(0)
        n0 = float(np.sum(y == 0))
        zstat = (n0 - p0.sum()) / math.sqrt(np.sum(p0 * (1 - p0)))
        t = find_test(m["diagnostics"], "zero_inflation")
        assert t["statistic"] == pytest.approx(zstat, rel=1e-9)
        assert t["p_value"] == pytest.approx(_normal_p(zstat), rel=1e-8)
        assert t["effect"] == {"name": "observed_to_expected",
                               "value": pytest.approx(n0 / p0.sum(), rel=1e-10)}
        assert t["exact"] is (family == "poisson")


def test_negative_binomial_pearson_dispersion_conditional(write_csv):
    y, mu = _nb_data(np.random.default_rng(44), N, alpha=0.5)
    path = write_csv("nbp.csv", y=y, y_pred=mu)
    m = only(diagnose(path, family="negative_binomial"))
    a = m["params"]["alpha"]
    x2 = float(np.sum((y - mu) ** 2 / (mu + a * mu ** 2)))
    t = find_test(m["diagnostics"], "dispersion_pearson")
    assert t["statistic"] == pytest.approx(x2, rel=1e-10)
    p = 2 * min(stats.chi2.cdf(x2, N), stats.chi2.sf(x2, N))
    assert t["p_value"] == pytest.approx(p, rel=1e-9)
    assert t["null_distribution"] == f"chi2({N})"
    assert t["effect"] == {"name": "pearson_ratio", "value": pytest.approx(x2 / N, rel=1e-10)}


def test_negative_binomial_pearson_dispersion_marginal(write_csv):
    y, _ = _nb_data(np.random.default_rng(45), N, alpha=0.5)
    path = write_csv("nbm.csv", y=y)
    m = only(diagnose(path, family="negative_binomial"))
    mean, a = m["params"]["mean"], m["params"]["alpha"]
    x2 = float(np.sum((y - mean) ** 2 / (mean + a * mean ** 2)))
    t = find_test(m["diagnostics"], "dispersion_pearson")
    assert t["statistic"] == pytest.approx(x2, rel=1e-10)
    p = 2 * min(stats.chi2.cdf(x2, N - 1), stats.chi2.sf(x2, N - 1))
    assert t["p_value"] == pytest.approx(p, rel=1e-9)
    assert t["null_distribution"] == f"chi2({N - 1})"
    assert t["effect"]["value"] == pytest.approx(x2 / (N - 1), rel=1e-10)
    # the zero test at known parameters (no intercept-only correction for NB)
    p0 = nb_dist(mean, a).pmf(0)
    n0 = float(np.sum(y == 0))
    z = (n0 - N * p0) / math.sqrt(N * p0 * (1 - p0))
    assert find_test(m["diagnostics"], "zero_inflation")["statistic"] == pytest.approx(z,
                                                                                     rel=1e-9)


# ------------------------------------------------------------------ probability forecasts


def test_bernoulli_calibration_in_the_large_and_spiegelhalter(write_csv):
    r = np.random.default_rng(51)
    p = r.uniform(0.05, 0.95, N)
    y = (r.random(N) < np.clip(p + 0.03, 0, 1)).astype(float)  # slightly under-forecast
    path = write_csv("cal.csv", y=y, p=p)
    diag = only(diagnose(path, family="bernoulli"))["diagnostics"]
    z = np.sum(y - p) / math.sqrt(np.sum(p * (1 - p)))
    t = find_test(diag, "calibration_in_the_large")
    assert t["statistic"] == pytest.approx(z, rel=1e-10)
    assert t["p_value"] == pytest.approx(_normal_p(z), rel=1e-8)
    assert t["effect"] == {"name": "mean_residual", "value": pytest.approx(np.mean(y - p),
                                                                           rel=1e-10)}
    assert t["exact"] is True
    num = np.sum((y - p) * (1 - 2 * p))
    zs = num / math.sqrt(np.sum((1 - 2 * p) ** 2 * p * (1 - p)))
    s = find_test(diag, "spiegelhalter")
    assert s["statistic"] == pytest.approx(zs, rel=1e-10)
    assert s["p_value"] == pytest.approx(_normal_p(zs), rel=1e-8)
    assert s["effect"] == {"name": "brier_excess", "value": pytest.approx(num / N, rel=1e-10)}
    assert s["exact"] is True
    # Spiegelhalter's numerator is the Brier score's excess over its expectation
    brier = np.mean((y - p) ** 2)
    assert num / N == pytest.approx(brier - np.mean(p * (1 - p)), rel=1e-10)


def _multiclass(r, n):
    q = r.dirichlet(np.ones(3), n)
    pick = np.minimum((r.random(n)[:, None] > np.cumsum(q, 1)).sum(1), 2)
    lab = np.array(["a", "b", "c"])[pick]
    return lab, q


def test_categorical_top_label_tests(write_csv):
    lab, q = _multiclass(np.random.default_rng(52), N)
    path = write_csv("mc.csv", y=lab, p_a=q[:, 0], p_b=q[:, 1], p_c=q[:, 2])
    m = only(diagnose(path))
    assert m["family"] == "categorical"
    diag = m["diagnostics"]
    assert diag["pit"] is None
    p = q.max(axis=1)
    t = (np.array(["a", "b", "c"])[q.argmax(axis=1)] == lab).astype(float)
    z = np.sum(t - p) / math.sqrt(np.sum(p * (1 - p)))
    assert find_test(diag, "calibration_in_the_large")["statistic"] == pytest.approx(z, rel=1e-9)
    zs = np.sum((t - p) * (1 - 2 * p)) / math.sqrt(np.sum((1 - 2 * p) ** 2 * p * (1 - p)))
    assert find_test(diag, "spiegelhalter")["statistic"] == pytest.approx(zs, rel=1e-9)
    pt, pp = calibration_curve(t, p, n_bins=10, strategy="quantile")
    rel = diag["reliability_bins"]
    np.testing.assert_allclose(rel["prob_true"], pt, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(rel["prob_pred"], pp, rtol=1e-12)
    dec = diag["decomposition"]
    assert dec["scoring"] == "top_label_log_loss"
    got = md.decompose(t, p, scoring_function=md.LogLoss())
    for key in ("score", "miscalibration", "discrimination", "uncertainty"):
        assert dec[key] == pytest.approx(float(got[key][0]), rel=1e-8, abs=1e-12), key


# ------------------------------------------------------------------ rootogram


def _top(y) -> int:
    for k in range(int(y.max()) + 1):
        if np.sum(y <= k) >= 0.999 * y.size:
            return min(100, k)
    raise AssertionError


@pytest.mark.parametrize("family", ["poisson", "negative_binomial"])
def test_rootogram_expected_counts_from_scipy(write_csv, family):
    y, mu = _nb_data(np.random.default_rng(61), N, alpha=0.3)
    path = write_csv("root.csv", y=y, y_pred=mu)
    m = only(diagnose(path, family=family))
    root = m["diagnostics"]["rootogram"]
    K = _top(y)
    assert root["tail_from"] == K + 1
    assert root["k"] == list(range(K + 2))
    d = stats.poisson(mu=mu) if family == "poisson" else nb_dist(mu, m["params"]["alpha"])
    want = [float(np.sum(d.pmf(k))) for k in range(K + 1)] + [float(np.sum(d.sf(K)))]
    np.testing.assert_allclose(root["expected"], want, rtol=1e-9)
    obs = [float(np.sum(y == k)) for k in range(K + 1)] + [float(np.sum(y > K))]
    assert root["observed"] == obs
    assert sum(root["expected"]) == pytest.approx(N, rel=1e-9)


def test_rootogram_small_tail_summed_forward_with_weights(write_csv):
    """Poisson under overdispersed counts: its P(Y > K) is far below 1e-4 of the weight,
    so the tail cell is summed forward; rows above K take the c.d.f.; weighted rows."""
    r = np.random.default_rng(64)
    mu = r.uniform(0.5, 3.0, N)
    y = r.negative_binomial(0.5, 0.5 / (0.5 + mu)).astype(float)
    w = r.integers(1, 4, N).astype(float)
    path = write_csv("tail.csv", y=y, y_pred=mu, w=w)
    m = only(diagnose(path, family="poisson", weight="w"))
    root = m["diagnostics"]["rootogram"]
    K = root["tail_from"] - 1
    assert np.sum(y > K) > 0
    want = [float(np.sum(w * stats.poisson.pmf(k, mu))) for k in range(K + 1)]
    want.append(float(np.sum(w * stats.poisson.sf(K, mu))))
    assert want[-1] < 1e-4 * w.sum()
    np.testing.assert_allclose(root["expected"], want, rtol=1e-9)
    check_pit(m["diagnostics"]["pit"], stats.poisson.cdf(y - 1, mu),
              stats.poisson.cdf(y, mu), "nonrandomized", w)


def test_rootogram_is_capped_at_100(write_csv):
    r = np.random.default_rng(62)
    mu = r.uniform(20, 200, N)
    y = r.poisson(mu).astype(float)
    path = write_csv("big.csv", y=y, y_pred=mu)
    root = only(diagnose(path, family="poisson"))["diagnostics"]["rootogram"]
    assert root["tail_from"] == 101
    want = [float(np.sum(stats.poisson.pmf(k, mu))) for k in range(101)]
    want.append(float(np.sum(stats.poisson.sf(100, mu))))
    np.testing.assert_allclose(root["expected"], want, rtol=1e-9, atol=1e-250)
    assert root["observed"][-1] == float(np.sum(y > 100))


def test_rootogram_marginal(write_csv):
    y, _ = _poisson_data(np.random.default_rng(63), N)
    path = write_csv("rm.csv", y=y)
    m = only(diagnose(path, family="poisson"))
    K = _top(y)
    root = m["diagnostics"]["rootogram"]
    mean = m["params"]["mean"]
    want = [N * stats.poisson.pmf(k, mean) for k in range(K + 1)]
    want.append(N * stats.poisson.sf(K, mean))
    np.testing.assert_allclose(root["expected"], want, rtol=1e-9)


# ------------------------------------------------------------------ reliability bins


@pytest.mark.parametrize("rounded", [False, True], ids=["distinct", "ties"])
def test_reliability_bins_equal_sklearn_calibration_curve(write_csv, rounded):
    r = np.random.default_rng(71)
    p = r.uniform(0.02, 0.98, N)
    if rounded:
        p = np.round(p, 1)
        p = np.where(p == 0.0, 0.1, np.where(p == 1.0, 0.9, p))
    y = (r.random(N) < p).astype(float)
    path = write_csv("rel.csv", y=y, p=p)
    diag = only(diagnose(path, family="bernoulli"))["diagnostics"]
    rel = diag["reliability_bins"]
    pt, pp = calibration_curve(y, p, n_bins=10, strategy="quantile")
    assert rel["strategy"] == "quantile" and rel["n_bins"] == 10
    np.testing.assert_allclose(rel["prob_true"], pt, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(rel["prob_pred"], pp, rtol=1e-12)
    edges = np.percentile(p, np.linspace(0, 1, 11) * 100)
    b = np.searchsorted(edges[1:-1], p)
    cnt = np.bincount(b, minlength=10)
    assert rel["count"] == [float(c) for c in cnt[cnt > 0]]
    # by_prediction: the same bins
    by = diag["by_prediction"]
    assert [row["count"] for row in by] == rel["count"]
    np.testing.assert_allclose([row["mean_pred"] for row in by], pp, rtol=1e-12)
    np.testing.assert_allclose([row["mean_y"] for row in by], pt, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("binned", [False, True], ids=["exact", "binned"])
def test_by_prediction_slices_of_an_exact_pit(write_csv, binned):
    """A density's PIT shares per slice (each row counted below 0.05, between or at or
    above 0.95) against scipy's c.d.f.; binned groups keep the shares' totals."""
    r = np.random.default_rng(73)
    mu = r.normal(0.0, 2.0, N)
    y = mu + r.standard_t(5, N)
    w = r.integers(1, 4, N).astype(float)
    path = write_csv("tslices.csv", y=y, y_pred=mu, w=w)
    kw = {"corp_max_unique": 100} if binned else {}
    m = only(diagnose(path, family="gaussian", weight="w", **kw))
    by = m["diagnostics"]["by_prediction"]
    u = stats.norm.cdf(y, mu, m["params"]["sigma"])
    below, above = (u < 0.05).astype(float), (u >= 0.95).astype(float)
    count = np.array([row["count"] for row in by])
    assert count.sum() == w.sum()
    for key, share in (("pit_lower", below), ("pit_upper", above), ("mean_y", y)):
        got = np.array([row[key] for row in by])
        assert float(np.dot(got, count)) == pytest.approx(float(np.dot(share, w)), rel=1e-12)
    if binned:
        return
    edges = np.percentile(np.repeat(mu, w.astype(int)), np.linspace(0, 1, 11) * 100)
    b = np.searchsorted(edges[1:-1], mu)
    for j, row in enumerate(by):
        s = b == j
        assert row["count"] == float(w[s].sum())
        assert row["pit_lower"] == pytest.approx(np.average(below[s], weights=w[s]), rel=1e-12)
        assert row["pit_upper"] == pytest.approx(np.average(above[s], weights=w[s]), rel=1e-12)
        assert row["mean_y"] == pytest.approx(np.average(y[s], weights=w[s]), rel=1e-12)


def test_by_prediction_slices_of_a_count_model(write_csv):
    y, mu = _poisson_data(np.random.default_rng(72), N)
    path = write_csv("slices.csv", y=y, y_pred=mu)
    by = only(diagnose(path, family="poisson"))["diagnostics"]["by_prediction"]
    edges = np.percentile(mu, np.linspace(0, 1, 11) * 100)
    b = np.searchsorted(edges[1:-1], mu)
    lo, hi = stats.poisson.cdf(y - 1, mu), stats.poisson.cdf(y, mu)
    below = interval_share(lo, hi, -1.0, 0.05)
    above = interval_share(lo, hi, 0.95, 2.0)
    assert len(by) == 10
    for j, row in enumerate(by):
        s = b == j
        assert row["count"] == float(s.sum())
        assert row["mean_pred"] == pytest.approx(mu[s].mean(), rel=1e-12)
        assert row["mean_y"] == pytest.approx(y[s].mean(), rel=1e-12)
        assert row["pit_lower"] == pytest.approx(below[s].mean(), rel=1e-10, abs=1e-14)
        assert row["pit_upper"] == pytest.approx(above[s].mean(), rel=1e-10, abs=1e-14)
        assert row["dispersion_ratio"] == pytest.approx(
            np.mean((y[s] - mu[s]) ** 2 / mu[s]), rel=1e-10)


# ------------------------------------------------------------------ decomposition


def _md(y, f, fn) -> dict:
    got = md.decompose(y, f, weights=None, scoring_function=fn)
    return {k: float(got[k][0]) for k in ("score", "miscalibration", "discrimination",
                                          "uncertainty")}


def _check_identity(m: dict) -> dict:
    dec = m["diagnostics"]["decomposition"]
    assert dec["method"] == "exact"
    assert dec["score"] == pytest.approx(
        dec["miscalibration"] - dec["discrimination"] + dec["uncertainty"], rel=1e-12,
        abs=1e-12)
    assert dec["miscalibration"] >= 0 and dec["discrimination"] >= 0
    if dec["scoring"] == "nll":
        assert dec["score"] == pytest.approx(m["cross_entropy"], rel=1e-12)
        assert dec["uncertainty"] == pytest.approx(m["baseline_cross_entropy"], rel=1e-12)
        assert dec["discrimination"] - dec["miscalibration"] == pytest.approx(
            m["information_gain"], rel=1e-9, abs=1e-12)
    return dec


def _isotonic(f, y) -> np.ndarray:
    return IsotonicRegression(increasing=True).fit_transform(f, y)


def _gamma_score(s_md: float, mean_log_y: float) -> float:
    """The mean gamma nll at the MLE shape, from the mean gamma deviance s_md."""
    d = 0.5 * s_md
    t = optimize.brentq(lambda t: t - special.digamma(math.exp(t)) - d, -40, 40, xtol=1e-15)
    k = math.exp(t)
    return k * (d + 1) - k * math.log(k) + math.lgamma(k) + mean_log_y


def _normal_score(s: float) -> float:
    return 0.5 * math.log(2 * math.pi * s) + 0.5


def test_decomposition_poisson_against_model_diagnostics(write_csv):
    r = np.random.default_rng(81)
    mu = np.exp(r.normal(2.0, 0.4, N))
    y = r.poisson(1.1 * mu ** 0.9).astype(float)  # miscalibrated
    path = write_csv("dp.csv", y=y, y_pred=mu)
    m = only(diagnose(path, family="poisson"))
    dec = _check_identity(m)
    assert dec["scoring"] == "nll"
    rc = _isotonic(mu, y)
    assert rc.min() > 0  # no block of zeros (model-diagnostics would merge it)
    got = _md(y, mu, md.PoissonDeviance())
    assert dec["miscalibration"] == pytest.approx(0.5 * got["miscalibration"], rel=1e-8)
    assert dec["discrimination"] == pytest.approx(0.5 * got["discrimination"], rel=1e-8)
    const = np.mean(y - special.xlogy(y, y) + special.gammaln(y + 1))
    assert dec["score"] == pytest.approx(0.5 * got["score"] + const, rel=1e-10)
    assert dec["uncertainty"] == pytest.approx(0.5 * got["uncertainty"] + const, rel=1e-10)
    s_rc = -np.mean(stats.poisson.logpmf(y, rc))
    assert dec["score"] - dec["miscalibration"] == pytest.approx(s_rc, rel=1e-10)


def test_decomposition_poisson_with_a_block_of_zeros(write_csv):
    """The lowest isotonic block has mean 0: its rows score 0 (no clipping, no merging)."""
    r = np.random.default_rng(80)
    mu = np.exp(r.normal(0.0, 1.0, N))
    y = r.poisson(mu).astype(float)
    path = write_csv("dz.csv", y=y, y_pred=mu)
    m = only(diagnose(path, family="poisson"))
    dec = _check_identity(m)
    rc = _isotonic(mu, y)
    assert rc.min() == 0.0
    s_rc = -np.mean(stats.poisson.logpmf(y, rc))
    assert dec["score"] - dec["miscalibration"] == pytest.approx(s_rc, rel=1e-10)
    assert dec["uncertainty"] - dec["discrimination"] == pytest.approx(s_rc, rel=1e-10)


def test_decomposition_bernoulli_against_model_diagnostics(write_csv):
    r = np.random.default_rng(82)
    p = r.uniform(0.05, 0.95, N)
    y = (r.random(N) < p ** 1.3).astype(float)
    path = write_csv("db.csv", y=y, p=p)
    m = only(diagnose(path, family="bernoulli"))
    dec = _check_identity(m)
    got = _md(y, p, md.LogLoss())
    for key in ("score", "miscalibration", "discrimination", "uncertainty"):
        assert dec[key] == pytest.approx(got[key], rel=1e-8), key


def test_decomposition_gaussian_against_model_diagnostics_and_sklearn(write_csv):
    r = np.random.default_rng(83)
    mu = r.normal(0, 2, N)
    y = 0.3 + 0.8 * mu + r.normal(0, 1, N)
    path = write_csv("dg.csv", y=y, y_pred=mu)
    m = only(diagnose(path, family="gaussian"))
    dec = _check_identity(m)
    got = _md(y, mu, md.SquaredError())
    assert dec["score"] == pytest.approx(_normal_score(got["score"]), rel=1e-10)
    assert dec["uncertainty"] == pytest.approx(_normal_score(got["uncertainty"]), rel=1e-10)
    s_rc = got["score"] - got["miscalibration"]
    assert dec["score"] - dec["miscalibration"] == pytest.approx(_normal_score(s_rc),
                                                                 rel=1e-8)
    rc = _isotonic(mu, y)
    assert dec["miscalibration"] == pytest.approx(
        _normal_score(np.mean((y - mu) ** 2)) - _normal_score(np.mean((y - rc) ** 2)),
        rel=1e-8)


def test_decomposition_gamma_against_model_diagnostics(write_csv):
    r = np.random.default_rng(84)
    mu = np.exp(r.normal(0.5, 0.5, N))
    y = r.gamma(2.5, 1.2 * mu ** 0.8 / 2.5)
    path = write_csv("dgam.csv", y=y, y_pred=mu)
    m = only(diagnose(path, family="gamma"))
    dec = _check_identity(m)
    got = _md(y, mu, md.GammaDeviance())
    mly = float(np.mean(np.log(y)))
    assert dec["score"] == pytest.approx(_gamma_score(got["score"], mly), rel=1e-8)
    assert dec["uncertainty"] == pytest.approx(_gamma_score(got["uncertainty"], mly), rel=1e-8)
    s_rc = got["score"] - got["miscalibration"]
    assert dec["score"] - dec["miscalibration"] == pytest.approx(_gamma_score(s_rc, mly),
                                                                 rel=1e-8)


def test_decomposition_lognormal_on_log_y(write_csv):
    r = np.random.default_rng(85)
    mu = np.exp(r.normal(0.5, 0.5, N))
    y = 1.2 * mu ** 0.8 * np.exp(0.5 * r.normal(size=N))
    path = write_csv("dln.csv", y=y, y_pred=mu)
    m = only(diagnose(path, family="lognormal"))
    dec = _check_identity(m)
    ly, lf = np.log(y), np.log(mu)
    got = _md(ly, lf, md.SquaredError())
    mly = float(ly.mean())
    assert dec["score"] == pytest.approx(_normal_score(got["score"]) + mly, rel=1e-10)
    assert dec["uncertainty"] == pytest.approx(_normal_score(got["uncertainty"]) + mly,
                                               rel=1e-10)
    s_rc = got["score"] - got["miscalibration"]
    assert dec["score"] - dec["miscalibration"] == pytest.approx(
        _normal_score(s_rc) + mly, rel=1e-8)
    # calibration in the large on the log scale
    sigma = m["params"]["sigma"]
    z = np.sum(ly - lf) / math.sqrt(N * sigma ** 2)
    t = find_test(m["diagnostics"], "calibration_in_the_large")
    assert t["statistic"] == pytest.approx(z, rel=1e-9)


@pytest.mark.parametrize("family", ["student_t", "beta"])
def test_decomposition_squared_error_families(write_csv, family):
    path, y, mu = continuous_case(write_csv, family, seed=86)
    m = only(diagnose(path, family=family))
    dec = _check_identity(m)
    assert dec["scoring"] == "squared_error"
    got = _md(y, mu, md.SquaredError())
    for key in ("score", "miscalibration", "discrimination", "uncertainty"):
        assert dec[key] == pytest.approx(got[key], rel=1e-8, abs=1e-15), key
    rc = _isotonic(mu, y)
    assert dec["miscalibration"] == pytest.approx(
        np.mean((y - mu) ** 2) - np.mean((y - rc) ** 2), rel=1e-8)


def test_decomposition_negative_binomial_refits_alpha(write_csv):
    r = np.random.default_rng(87)
    mu = np.exp(r.normal(1.2, 0.5, N))
    a = 0.6
    m_true = 1.15 * mu ** 0.9
    y = r.negative_binomial(1 / a, 1 / (1 + a * m_true)).astype(float)
    path = write_csv("dnb.csv", y=y, y_pred=mu)
    m = only(diagnose(path, family="negative_binomial"))
    dec = _check_identity(m)
    rc = _isotonic(mu, y)

    def mean_nll(log_alpha):
        return -float(np.mean(nb_dist(rc, math.exp(log_alpha)).logpmf(y)))

    best = optimize.minimize_scalar(mean_nll, bounds=(-8, 3), method="bounded",
                                    options={"xatol": 1e-10})
    assert dec["score"] - dec["miscalibration"] == pytest.approx(best.fun, rel=1e-8)


def test_log_loss_miscalibration_with_ties_equals_sklearn_isotonic(write_csv):
    r = np.random.default_rng(88)
    n = 20_000
    p = np.round(r.uniform(0.06, 0.94, n), 1)
    y = (r.random(n) < p).astype(float)
    path = write_csv("ties.csv", y=y, p=p)
    m = only(diagnose(path, family="bernoulli"))
    dec = _check_identity(m)
    rc = _isotonic(p, y)

    def logloss(q):
        return -float(np.mean(special.xlogy(y, q) + special.xlogy(1 - y, 1 - q)))

    assert dec["miscalibration"] == pytest.approx(logloss(p) - logloss(rc), abs=1e-12)
    assert dec["discrimination"] == pytest.approx(
        logloss(np.full(n, y.mean())) - logloss(rc), abs=1e-12)


def test_decomposition_in_bits(write_csv):
    y, mu = _poisson_data(np.random.default_rng(89), N)
    path = write_csv("bits.csv", y=y, y_pred=mu)
    nats = only(diagnose(path, family="poisson"))["diagnostics"]["decomposition"]
    bits = only(diagnose(path, family="poisson", unit="bits"))["diagnostics"]["decomposition"]
    for key in ("score", "miscalibration", "discrimination", "uncertainty"):
        assert bits[key] == pytest.approx(nats[key] / math.log(2), rel=1e-12), key


# ------------------------------------------------------------------ invariances


def _leaves(x, where=""):
    if isinstance(x, dict):
        for k, v in x.items():
            yield from _leaves(v, f"{where}.{k}")
    elif isinstance(x, list):
        for i, v in enumerate(x):
            yield from _leaves(v, f"{where}[{i}]")
    else:
        yield where, x


def assert_same_numbers(a, b, rel=1e-12, abs_=1e-14) -> None:
    la, lb = list(_leaves(a)), list(_leaves(b))
    assert [k for k, _ in la] == [k for k, _ in lb]
    for (k, x), (_, y) in zip(la, lb, strict=True):
        if isinstance(x, float) or isinstance(y, float):
            assert x == pytest.approx(y, rel=rel, abs=abs_), k
        else:
            assert x == y, k


def _diags(rep) -> list:
    return [m["diagnostics"] for m in rep["models"]]


def test_batches_do_not_change_the_diagnostics(write_csv):
    r = np.random.default_rng(91)
    y, mu = _poisson_data(r, N)
    path = write_csv("batch.csv", y=y, y_pred=mu)
    fams = ["poisson", "negative_binomial", "gaussian"]
    whole = diagnose(path, family=fams)
    split = diagnose(path, family=fams, batch_rows=1000)
    assert split["input"]["batches"] == 3
    assert_same_numbers(_diags(whole), _diags(split))
    yc, muc = _gaussian(r, N)
    path = write_csv("batchc.csv", y=yc, y_pred=muc)
    assert_same_numbers(_diags(diagnose(path, family="gaussian")),
                        _diags(diagnose(path, family="gaussian", batch_rows=1000)))


@pytest.mark.parametrize("kind", ["counts", "gaussian", "binary"])
def test_integer_weights_equal_the_expanded_file(write_csv, kind):
    r = np.random.default_rng(92)
    n = 1500
    if kind == "counts":
        y, f = _nb_data(r, n, alpha=0.3)
        fams, cols = ["poisson", "negative_binomial"], ("y", "y_pred")
    elif kind == "gaussian":
        y, f = _gaussian(r, n)
        fams, cols = ["gaussian"], ("y", "y_pred")
    else:
        y, f = _binary(r, n)
        fams, cols = ["bernoulli"], ("y", "p")
    w = r.integers(1, 4, n)
    weighted = write_csv("w.csv", **{cols[0]: y, cols[1]: f, "w": w.astype(float)})
    expanded = write_csv("e.csv", **{cols[0]: np.repeat(y, w), cols[1]: np.repeat(f, w)})
    a = diagnose(weighted, family=fams, weight="w")
    b = diagnose(expanded, family=fams)
    assert_same_numbers(_diags(a), _diags(b), rel=1e-9, abs_=1e-12)


def test_csv_and_parquet_give_the_same_diagnostics(write_csv, tmp_path):
    y, mu = _poisson_data(np.random.default_rng(93), N)
    csv = write_csv("same.csv", y=y, y_pred=mu)
    parquet = write_parquet(tmp_path / "same.parquet", y=y, y_pred=mu)
    fams = ["poisson", "negative_binomial"]
    assert_same_numbers(_diags(diagnose(csv, family=fams)),
                        _diags(diagnose(parquet, family=fams)))


def test_the_same_seed_gives_byte_identical_json(write_csv):
    path, _, _ = continuous_case(write_csv, "gamma", seed=94)
    args = ("diagnose", path, "-f", "gamma", "-f", "lognormal", "--format", "json",
            "--fit-rows", "500", "--seed", "7")
    one, two = run_cli(*args), run_cli(*args)
    assert one.returncode == 0, one.stderr.decode()
    assert one.stdout == two.stdout
    assert json.loads(one.stdout)["command"] == "diagnose"


def test_beyond_corp_max_unique_the_decomposition_is_binned(write_csv):
    r = np.random.default_rng(95)
    mu = r.normal(0, 2, N)
    y = 0.2 + 0.9 * mu + r.normal(0, 1, N)
    path = write_csv("corp.csv", y=y, y_pred=mu)
    exact = diagnose(path, family="gaussian")
    binned = diagnose(path, family="gaussian", corp_max_unique=100)
    de = only(exact)["diagnostics"]["decomposition"]
    db = only(binned)["diagnostics"]["decomposition"]
    assert de["method"] == "exact" and db["method"] == "binned"
    assert any("65,536" in w and "bins" in w for w in binned["warnings"])
    assert not any("65,536" in w for w in exact["warnings"])
    for key in ("score", "uncertainty"):
        assert db[key] == pytest.approx(de[key], rel=1e-12)
    for key in ("miscalibration", "discrimination"):
        assert db[key] == pytest.approx(de[key], rel=1e-3, abs=1e-6)
    assert db["score"] == pytest.approx(
        db["miscalibration"] - db["discrimination"] + db["uncertainty"], rel=1e-12)


# ------------------------------------------------------------------ keys


def _check_diag_shape(diag: dict) -> None:
    assert set(diag) == DIAG_KEYS
    for t in diag["tests"]:
        assert set(t) == TEST_KEYS
        assert set(t["effect"]) == {"name", "value"}
    kinds = [t["kind"] for t in diag["tests"]]
    assert len(kinds) == len(set(kinds))


def test_keys_of_diagnosed_models_and_of_the_rest(write_csv):
    y, mu = _nb_data(np.random.default_rng(101), 800, alpha=0.5)
    path = write_csv("keys.csv", y=y, y_pred=mu)
    plain = losscli.evaluate(path, family=["poisson", "gaussian"]).to_dict()
    assert all("diagnostics" not in m for m in plain["models"])
    ev = losscli.evaluate(path, family=["poisson", "gaussian"], diagnostics=True).to_dict()
    for m in ev["models"]:
        _check_diag_shape(m["diagnostics"])
    assert ev["command"] == "evaluate"
    cmp_ = losscli.compare_noise_models(path, diagnostics=True).to_dict()
    best = cmp_["best"]
    for m in cmp_["models"]:
        if m["family"] == best:
            _check_diag_shape(m["diagnostics"])
        else:
            assert m["diagnostics"] is None
    named = losscli.compare_noise_models(path, family=["poisson", "negative_binomial"],
                                         diagnostics=True).to_dict()
    assert all(m["diagnostics"] is not None for m in named["models"])
    dbest = diagnose(path, best=True)
    assert dbest["command"] == "diagnose" and "best" in dbest
    assert [m["diagnostics"] is not None for m in dbest["models"]] == \
        [m["family"] == dbest["best"] for m in dbest["models"]]
    plain_cmp = losscli.compare_noise_models(path).to_dict()
    assert all("diagnostics" not in m for m in plain_cmp["models"])


def test_keys_through_the_entry_point(write_csv):
    y, mu = _poisson_data(np.random.default_rng(102), 500)
    path = write_csv("cli.csv", y=y, y_pred=mu)
    out = run_cli("evaluate", path, "--diagnostics", "--format", "json")
    assert out.returncode == 0, out.stderr.decode()
    rep = json.loads(out.stdout)
    _check_diag_shape(only(rep)["diagnostics"])
    out = run_cli("compare-noise-models", path, "--diagnostics", "--format", "json")
    rep = json.loads(out.stdout)
    assert [m["diagnostics"] is None for m in rep["models"]] == \
        [m["family"] != rep["best"] for m in rep["models"]]
    out = run_cli("evaluate", path, "--format", "json")
    assert all("diagnostics" not in m for m in json.loads(out.stdout)["models"])


def test_null_parts_by_family_and_mode(write_csv):
    lab, q = _multiclass(np.random.default_rng(103), 600)
    path = write_csv("cat.csv", y=lab, p_a=q[:, 0], p_b=q[:, 1], p_c=q[:, 2])
    cat = only(diagnose(path))["diagnostics"]
    _check_diag_shape(cat)
    assert cat["pit"] is None and cat["rootogram"] is None
    assert cat["reliability_bins"] is not None
    path, _, _ = continuous_case(write_csv, "gaussian", seed=104, n=600)
    marg = only(diagnose(path, family="gaussian", no_pred=True))["diagnostics"]
    _check_diag_shape(marg)
    assert marg["decomposition"] is None and marg["by_prediction"] is None
    assert marg["reliability_bins"] is None
    assert {t["kind"] for t in marg["tests"]} == {"pit_uniformity", "tail_exceedance"}
    cond = only(diagnose(path, family="gaussian"))["diagnostics"]
    assert cond["rootogram"] is None and cond["reliability_bins"] is None
    assert cond["by_prediction"] is not None
    assert all(row["dispersion_ratio"] is None for row in cond["by_prediction"])
    assert [t["kind"] for t in cond["tests"]] == ["pit_uniformity", "tail_exceedance",
                                                  "calibration_in_the_large"]


def test_exact_flags_follow_the_spec(write_csv):
    y, mu = _poisson_data(np.random.default_rng(105), 600)
    path = write_csv("flags.csv", y=y, y_pred=mu)
    po = only(diagnose(path, family="poisson"))["diagnostics"]
    assert {t["kind"]: t["exact"] for t in po["tests"]} == {
        "dispersion_dean_a": False, "dispersion_dean_b": True, "dispersion_dean_c": True,
        "zero_inflation": True, "calibration_in_the_large": True}
    nb = only(diagnose(path, family="negative_binomial"))["diagnostics"]
    assert {t["kind"]: t["exact"] for t in nb["tests"]} == {
        "dispersion_pearson": False, "zero_inflation": False,
        "calibration_in_the_large": False}


# ------------------------------------------------------------------ more closed forms


def test_calibration_in_the_large_uses_each_familys_variance(write_csv):
    """Σ(y − ŷ)/√ΣV with V = ŷ²/k (gamma), ŷ(1 − ŷ)/(1 + φ) (beta), μ + αμ² (NB)."""
    path, y, mu = continuous_case(write_csv, "gamma", seed=111)
    m = only(diagnose(path, family="gamma"))
    z = np.sum(y - mu) / math.sqrt(np.sum(mu ** 2 / m["params"]["shape"]))
    t = find_test(m["diagnostics"], "calibration_in_the_large")
    assert t["statistic"] == pytest.approx(z, rel=1e-9)
    assert t["exact"] is False
    path, y, mu = continuous_case(write_csv, "beta", seed=112)
    m = only(diagnose(path, family="beta"))
    z = np.sum(y - mu) / math.sqrt(np.sum(mu * (1 - mu) / (1 + m["params"]["precision"])))
    assert find_test(m["diagnostics"], "calibration_in_the_large")["statistic"] == \
        pytest.approx(z, rel=1e-9)
    y, mu = _nb_data(np.random.default_rng(113), N)
    path = write_csv("nbc.csv", y=y, y_pred=mu)
    m = only(diagnose(path, family="negative_binomial"))
    a = m["params"]["alpha"]
    z = np.sum(y - mu) / math.sqrt(np.sum(mu + a * mu ** 2))
    assert find_test(m["diagnostics"], "calibration_in_the_large")["statistic"] == \
        pytest.approx(z, rel=1e-9)
    by = m["diagnostics"]["by_prediction"]
    edges = np.percentile(mu, np.linspace(0, 1, 11) * 100)
    b = np.searchsorted(edges[1:-1], mu)
    ratio = (y - mu) ** 2 / (mu + a * mu ** 2)
    np.testing.assert_allclose([row["dispersion_ratio"] for row in by],
                               [ratio[b == j].mean() for j in range(10)], rtol=1e-10)


def test_an_underflowing_p_value_is_zero(write_csv):
    r = np.random.default_rng(114)
    mu = np.full(N, 20.0)
    y = r.negative_binomial(0.5, 1 / (1 + 2 * 20.0), N).astype(float)
    path = write_csv("under.csv", y=y, y_pred=mu)
    diag = only(diagnose(path, family="poisson"))["diagnostics"]
    b = find_test(diag, "dispersion_dean_b")
    assert b["statistic"] > 100 and b["p_value"] == 0.0


def test_fractional_weights_null_the_p_values_that_need_whole_ones(write_csv):
    r = np.random.default_rng(115)
    y, mu = _gaussian(r, 1500)
    w = r.uniform(0.5, 2.0, y.size)
    path = write_csv("frac.csv", y=y, y_pred=mu, w=w)
    rep = diagnose(path, family="gaussian", weight="w")
    m = only(rep)
    diag = m["diagnostics"]
    u = stats.norm.cdf(y, mu, m["params"]["sigma"])
    # D of the weighted ECDF, written out
    order = np.argsort(u)
    us, ws = u[order], w[order]
    cum = np.cumsum(ws) / ws.sum()
    d = max(np.max(cum - us), np.max(us - (cum - ws / ws.sum())))
    ks = find_test(diag, "pit_uniformity")
    assert ks["statistic"] == pytest.approx(d, rel=1e-12)
    assert ks["p_value"] is None
    tail = find_test(diag, "tail_exceedance")
    assert tail["statistic"] == pytest.approx(float(np.sum(w * ((u < 1e-3) | (u > 1 - 1e-3)))),
                                              rel=1e-12, abs=1e-12)
    assert tail["p_value"] is None
    cal = find_test(diag, "calibration_in_the_large")
    z = np.sum(w * (y - mu)) / math.sqrt(np.sum(w) * m["params"]["sigma"] ** 2)
    assert cal["statistic"] == pytest.approx(z, rel=1e-9)
    assert cal["p_value"] == pytest.approx(_normal_p(z), rel=1e-8)
    assert diag["by_prediction"] is None
    check_pit(diag["pit"], u, u, "exact", w=w)
    assert any("whole-number weights" in x and "KS" in x for x in rep["warnings"])
    assert any("whole-number weights" in x and "by_prediction" in x for x in rep["warnings"])


def test_a_test_with_zero_variance_is_null_with_a_warning(write_csv):
    r = np.random.default_rng(116)
    p = np.full(500, 0.5)
    y = (r.random(500) < p).astype(float)
    path = write_csv("half.csv", y=y, p=p)
    rep = diagnose(path, family="bernoulli")
    sp = find_test(only(rep)["diagnostics"], "spiegelhalter")  # (1 − 2p) = 0 on every row
    assert sp["statistic"] is None and sp["p_value"] is None
    assert sp["effect"]["value"] == 0.0
    assert any("spiegelhalter" in x for x in rep["warnings"])


def test_top_label_is_the_first_class_on_ties(write_csv):
    q = np.array([[0.4, 0.4, 0.2]] * 10 + [[0.2, 0.3, 0.5]] * 10)
    lab = np.array(["b"] * 5 + ["a"] * 5 + ["c"] * 10)
    path = write_csv("tie.csv", y=lab, p_a=q[:, 0], p_b=q[:, 1], p_c=q[:, 2])
    diag = only(diagnose(path))["diagnostics"]
    p = np.r_[np.full(10, 0.4), np.full(10, 0.5)]
    t = np.r_[np.zeros(5), np.ones(5), np.ones(10)]  # class a is the top label of the ties
    z = np.sum(t - p) / math.sqrt(np.sum(p * (1 - p)))
    assert find_test(diag, "calibration_in_the_large")["statistic"] == pytest.approx(z,
                                                                                     rel=1e-12)
    assert [row["mean_y"] for row in diag["by_prediction"]] == pytest.approx([0.5, 1.0])


def test_squared_error_decomposition_stays_in_y_squared_units_in_bits(write_csv):
    path, _, _ = continuous_case(write_csv, "student_t", seed=117)
    nats = only(diagnose(path, family="student_t"))["diagnostics"]["decomposition"]
    bits = only(diagnose(path, family="student_t", unit="bits"))["diagnostics"]
    assert bits["decomposition"] == nats


def test_laplace_beyond_fit_rows_has_no_decomposition(write_csv):
    path, y, mu = continuous_case(write_csv, "laplace", seed=118)
    rep = diagnose(path, family="laplace", fit_rows=500)
    m = only(rep)
    assert m["diagnostics"]["decomposition"] is None
    assert any("decomposition" in x for x in rep["warnings"])
    u = fitted_u("laplace", m, y, mu, marginal=False)
    check_pit(m["diagnostics"]["pit"], u, u, "exact")


def test_student_t_at_the_gaussian_limit(write_csv):
    path, y, mu = continuous_case(write_csv, "gaussian", seed=122)
    m = only(diagnose(path, family="student_t"))
    assert m["params"]["df"] is None  # ν = ∞ on these normal errors
    assert m["params"]["scale"] == pytest.approx(math.sqrt(np.mean((y - mu) ** 2)), rel=1e-6)
    u = stats.norm.cdf(y, mu, m["params"]["scale"])
    check_pit(m["diagnostics"]["pit"], u, u, "exact")
    ks = find_test(m["diagnostics"], "pit_uniformity")
    assert ks["statistic"] == pytest.approx(stats.kstest(u, "uniform").statistic, rel=1e-12)


# ------------------------------------------------------------------ soft labels


def _soft_decomposition_oracle(t, p) -> dict:
    """S = s(LogLoss) + the mean label entropy (SPEC §7.5): the soft labels' cross-entropy."""
    got = _md(t, p, md.LogLoss())
    h = float(np.mean(special.entr(t) + special.entr(1 - t)))
    return {"score": got["score"] + h, "uncertainty": got["uncertainty"] + h,
            "miscalibration": got["miscalibration"], "discrimination": got["discrimination"]}


def test_soft_binary_labels_decompose_and_get_no_pit_or_tests(write_csv):
    r = np.random.default_rng(121)
    p = r.uniform(0.05, 0.95, N)
    t = np.clip(p + r.normal(0, 0.15, N), 0.0, 1.0)
    path = write_csv("soft.csv", soft_y=t, p=p)
    rep = diagnose(path, soft_target="soft_y", pred="p")
    assert rep["target_kind"] == "soft_binary"
    m = only(rep)
    diag = m["diagnostics"]
    _check_diag_shape(diag)
    assert diag["pit"] is None and diag["tests"] == [] and diag["reliability_bins"] is None
    dec = _check_identity(m)
    for key, want in _soft_decomposition_oracle(t, p).items():
        assert dec[key] == pytest.approx(want, rel=1e-8, abs=1e-12), key


def test_a_proportion_target_under_bernoulli_is_diagnosed_as_soft_labels(write_csv):
    r = np.random.default_rng(122)
    p = r.uniform(0.05, 0.95, N)
    t = np.clip(p + r.normal(0, 0.15, N), 0.0, 1.0)
    path = write_csv("prop.csv", y=t, p=p)
    rep = diagnose(path, family="bernoulli")
    assert rep["target_kind"] == "proportion"
    m = only(rep)
    assert m["entropy_method"] == "soft-labels"
    dec = m["diagnostics"]["decomposition"]
    for key, want in _soft_decomposition_oracle(t, p).items():
        assert dec[key] == pytest.approx(want, rel=1e-8, abs=1e-12), key
    diag = m["diagnostics"]
    assert diag["pit"] is None
    assert diag["tests"] == []
    assert diag["reliability_bins"] is None


def test_soft_categorical_labels_are_diagnosed_without_pit_tests_or_decomposition(write_csv):
    r = np.random.default_rng(123)
    q = r.dirichlet(np.ones(3), 600)
    t = r.dirichlet(np.ones(3), 600)
    path = write_csv("softcat.csv", t_a=t[:, 0], t_b=t[:, 1], t_c=t[:, 2], p_a=q[:, 0],
                     p_b=q[:, 1], p_c=q[:, 2])
    rep = diagnose(path, soft_target=["t_a", "t_b", "t_c"], probs=["p_a", "p_b", "p_c"])
    assert rep["target_kind"] == "soft_categorical"
    diag = only(rep)["diagnostics"]
    _check_diag_shape(diag)
    assert diag["pit"] is None and diag["tests"] == []
    assert diag["decomposition"] is None and diag["reliability_bins"] is None
