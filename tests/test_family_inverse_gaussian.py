"""The inverse Gaussian family against scipy.stats.invgauss and independent optimisers.

scipy's invgauss(m, scale=s) is s·Z with Z of mean m and shape 1, so its mean is m·s and
its variance m³s². Mean μ and Var = φμ³ give m·s = μ and m³s² = φ(ms)³, i.e. s = 1/φ
and m = μφ: `ig` below. MLEs by scipy.optimize on its log-density (and on its unit
intervals log(F(y + ½) − F(y − ½)) on integers); the unit deviance against sklearn's
Tweedie deviance at power 3.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import optimize, stats

from losscli.noise.discretised import Discretised
from losscli.noise.inverse_gaussian import InverseGaussian
from losscli.request import family_names
from tests.conftest import model, run_api, run_cli

FAM = InverseGaussian()
RTOL_LL = 1e-9
RTOL_FIT = 1e-4


def ig(mu, phi):
    return stats.invgauss(mu=np.multiply(mu, phi), scale=1.0 / np.asarray(phi))


@pytest.fixture
def data(rng):
    n = 400
    mu = np.exp(rng.normal(0.5, 0.4, n))
    phi = 0.3
    y = rng.wald(mu, 1.0 / phi)
    w = rng.integers(1, 4, n).astype(float)
    return y, mu, w


def test_oracle_parametrisation():
    d = ig(np.array([2.0, 5.0]), 0.3)
    np.testing.assert_allclose(d.mean(), [2.0, 5.0], rtol=1e-13)
    np.testing.assert_allclose(d.var(), 0.3 * np.array([2.0, 5.0]) ** 3, rtol=1e-12)


def test_declared_facts():
    assert FAM.nuisance == ("dispersion",) and FAM.marginal_params == ("mean", "dispersion")
    assert FAM.frameworks.sklearn == "TweedieRegressor(power=3)"
    assert FAM.frameworks.pytorch is None and FAM.frameworks.xgboost is None
    assert "positive" in FAM.applies_to and "count" in FAM.applies_to and FAM.candidate
    assert family_names(["invgauss", "Inverse-Gaussian"]) == ("inverse_gaussian",)


def test_unit_deviance_is_sklearn_tweedie_power_3(data):
    from sklearn.metrics import mean_tweedie_deviance

    y, mu, _ = data
    # log q = −(y − μ)²/(2φμ²y) + terms free of μ: the deviance TweedieRegressor(power=3)
    # minimises is 2φ × (the μ-part of the nll), up to terms free of μ
    ll1 = FAM.loglik(y, mu, {"dispersion": 1.0})
    ll0 = FAM.loglik(y, y, {"dispersion": 1.0})
    assert np.mean(2.0 * (ll0 - ll1)) == pytest.approx(mean_tweedie_deviance(y, mu, power=3),
                                                       rel=1e-12)


@pytest.mark.parametrize("phi", [1e-3, 0.3, 5.0, 200.0])
def test_loglik_matches_scipy(rng, phi):
    mu = np.exp(rng.normal(0.0, 1.0, 300))
    y = ig(mu, phi).ppf(rng.uniform(1e-6, 1 - 1e-6, 300))
    np.testing.assert_allclose(FAM.loglik(y, mu, {"dispersion": phi}), ig(mu, phi).logpdf(y),
                               rtol=RTOL_LL)


@pytest.mark.parametrize("phi,mu", [(0.05, 1.0), (0.3, 2.0), (4.0, 0.5), (40.0, 3.0)])
def test_logcdf_logsf_match_scipy(phi, mu):
    d = ig(mu, phi)
    x = mu * np.geomspace(0.01, 30.0, 25)
    np.testing.assert_allclose(FAM.logcdf(x, mu, {"dispersion": phi}), d.logcdf(x),
                               rtol=RTOL_LL)
    np.testing.assert_allclose(FAM.logsf(x, mu, {"dispersion": phi}), d.logsf(x),
                               rtol=RTOL_LL)
    # on the integers too (the unit intervals' ends)
    k = np.arange(1.0, 30.0) - 0.5
    np.testing.assert_allclose(FAM.logcdf(k, mu, {"dispersion": phi}), d.logcdf(k),
                               rtol=RTOL_LL)
    np.testing.assert_allclose(FAM.logsf(k, mu, {"dispersion": phi}), d.logsf(k),
                               rtol=RTOL_LL, atol=1e-300)


def test_logcdf_logsf_at_zero():
    p = {"dispersion": 0.5}
    assert FAM.logcdf(np.array([0.0]), 2.0, p)[0] == -np.inf
    assert FAM.logsf(np.array([0.0]), 2.0, p)[0] == 0.0


def test_discretised_loglik_matches_scipy_on_integers(rng):
    mu = np.exp(rng.normal(1.0, 0.5, 300))
    y = np.round(rng.wald(mu, 1.0 / 0.4))
    p = {"dispersion": 0.4}
    d = ig(mu, 0.4)
    want = np.log(d.cdf(y + 0.5) - d.cdf(np.maximum(y - 0.5, 0.0)))
    np.testing.assert_allclose(Discretised(FAM).loglik(y, mu, p), want, rtol=1e-9)


def _mle(y, w, mu, counting=False):
    """The weighted MLE of φ (and μ when `mu` is None) by Nelder–Mead on scipy's
    log-density (or its unit intervals), in logs."""
    def nll(x):
        phi = math.exp(x[0])
        m = math.exp(x[1]) if mu is None else mu
        d = ig(np.broadcast_to(m, y.shape), phi)
        if counting:
            ll = np.log(d.cdf(y + 0.5) - d.cdf(np.maximum(y - 0.5, 0.0)))
        else:
            ll = d.logpdf(y)
        return -float(np.dot(w, ll))

    x0 = [0.0] + ([math.log(np.average(y, weights=w))] if mu is None else [])
    res = optimize.minimize(nll, x0, method="Nelder-Mead",
                            options={"xatol": 1e-11, "fatol": 1e-13, "maxiter": 10000})
    out = {"dispersion": math.exp(res.x[0])}
    if mu is None:
        out["mean"] = math.exp(res.x[1])
    return out


@pytest.mark.parametrize("marginal", [False, True])
def test_fit_matches_scipy_mle(data, marginal):
    y, mu, w = data
    got = FAM.fit(y, w, None if marginal else mu)
    want = _mle(y, w, None if marginal else mu)
    assert set(got) == set(want)
    for k in want:
        assert got[k] == pytest.approx(want[k], rel=RTOL_FIT), k


def test_closed_forms(data):
    y, mu, w = data
    W = w.sum()
    assert FAM.fit(y, w, mu)["dispersion"] == pytest.approx(
        np.sum(w * (y - mu) ** 2 / (mu**2 * y)) / W, rel=1e-13)
    ybar = np.average(y, weights=w)
    m = FAM.fit(y, w)
    assert m["mean"] == pytest.approx(ybar, rel=1e-14)
    assert m["dispersion"] == pytest.approx(np.sum(w * (1 / y - 1 / ybar)) / W, rel=1e-12)


@pytest.mark.parametrize("marginal", [False, True])
def test_counting_fit_matches_scipy_mle(rng, marginal):
    n = 300
    mu = np.exp(rng.normal(1.2, 0.4, n))
    y = np.round(rng.wald(mu, 1.0 / 0.3))
    assert (y == 0).any()
    w = rng.integers(1, 4, n).astype(float)
    got = Discretised(FAM).fit(y, w, None if marginal else mu)
    want = _mle(y, w, None if marginal else mu, counting=True)
    for k in want:
        assert got[k] == pytest.approx(want[k], rel=RTOL_FIT), k


def test_weights_equal_repetition(data):
    y, mu, w = data
    reps = w.astype(int)
    for pred in (mu, None):
        a = FAM.fit(y, w, pred)
        b = FAM.fit(np.repeat(y, reps), None, None if pred is None else np.repeat(pred, reps))
        for k in a:
            assert a[k] == pytest.approx(b[k], rel=1e-12)


def test_variance_is_phi_mu_cubed():
    np.testing.assert_allclose(FAM.variance(np.array([1.0, 2.0]), {"dispersion": 0.5}),
                               [0.5, 4.0])


# ------------------------------------------------------------------ the CLI


@pytest.fixture
def ig_file(write_csv):
    rng = np.random.default_rng(11)
    mu = np.exp(rng.normal(0.5, 0.4, 2000))
    y = rng.wald(mu, 1.0 / 0.8)
    return write_csv("ig.csv", y=y, p=mu), y, mu


def test_evaluate_end_to_end(ig_file):
    path, y, mu = ig_file
    proc = run_cli("evaluate", path, "-t", "y", "-p", "p", "-f", "invgauss", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    m = model(json.loads(proc.stdout), "inverse_gaussian")
    phi = np.mean((y - mu) ** 2 / (mu**2 * y))
    assert m["params"]["dispersion"] == pytest.approx(phi, rel=1e-12)
    assert m["nll"] == pytest.approx(-ig(mu, phi).logpdf(y).sum(), rel=1e-10)


def test_compare_ranks_it_first_on_its_own_data(ig_file):
    path, _, _ = ig_file
    rep = run_api("compare-noise-models", path, target="y", pred="p")
    assert rep["target_kind"] == "positive"
    assert rep["models"][0]["family"] == "inverse_gaussian"
    assert rep["recommendation"]["sklearn"] == "TweedieRegressor(power=3)"


def test_compare_on_counts_discretises_it(write_csv):
    rng = np.random.default_rng(12)
    mu = np.exp(rng.normal(1.5, 0.4, 800))
    y = np.round(rng.wald(mu, 1.0 / 0.3)).astype(int)
    rep = run_api("compare-noise-models", write_csv("c.csv", y=y, p=mu), target="y", pred="p")
    assert rep["base_measure"] == "counting"
    m = model(rep, "inverse_gaussian")
    want = _mle(y.astype(float), np.ones(y.size), mu, counting=True)
    assert m["params"]["dispersion"] == pytest.approx(want["dispersion"], rel=RTOL_FIT)


def test_a_target_outside_the_support_is_one_error_line(write_csv):
    path = write_csv("bad.csv", y=[1.5, 2.5, -0.5, 3.5], p=[1.0, 2.0, 1.0, 2.0])
    before = path.read_bytes()
    proc = run_cli("evaluate", path, "-t", "y", "-p", "p", "-f", "inverse_gaussian")
    err = proc.stderr.decode().strip().splitlines()
    assert proc.returncode == 1 and len(err) == 1 and err[0].startswith("error:")
    assert "row" in err[0] and "-0.5" in err[0]
    assert path.read_bytes() == before


def _mp_log_interval(y, mu, phi):
    """log(F(b) − F(a)) by mpmath at 400 digits, F(x) = Φ(a(x)) + e^{2λ/μ} Φ(−b(x)),
    λ = 1/φ, a(x) = √(λ/x)(x/μ − 1), b(x) = √(λ/x)(x/μ + 1) (the digits outlast the
    cancellation down to P ~ 1e-350; None below that)."""
    import mpmath as mp

    with mp.workdps(400):
        lam, m = 1 / mp.mpf(phi), mp.mpf(mu)

        def cdf(x):
            x = mp.mpf(x)
            if x <= 0:
                return mp.mpf(0)
            r = mp.sqrt(lam / x)
            return mp.ncdf(r * (x / m - 1)) + mp.exp(2 * lam / m) * mp.ncdf(-r * (x / m + 1))

        p = cdf(y + 0.5) - cdf(max(y - 0.5, 0.0))
        return float(mp.log(p)) if p > mp.mpf(10) ** -350 else None


def test_interval_quadrature_in_log_y_against_mpmath(rng):
    """The quadrature in log y (and the tails where its bound fails) against mpmath, over
    counts 0–2000, means 0.05–300 and dispersions 1e-3–30; most rows take the quadrature."""
    from losscli.noise import quadrature
    from losscli.noise.inverse_gaussian import log_y_bound

    n = 150
    y = np.concatenate([np.arange(0.0, 12.0), np.round(np.exp(rng.uniform(0, 7.6, n - 12)))])
    mu = np.exp(rng.uniform(math.log(0.05), math.log(300), n))
    mu[::3] = np.maximum(y[::3], 0.3) * np.exp(rng.normal(0, 0.3, mu[::3].size))
    phi = np.exp(rng.uniform(math.log(1e-3), math.log(30), n))

    def check(got, want):
        want = np.array([np.nan if v is None else v for v in want])
        known = ~np.isnan(want)
        assert known.mean() > 0.7
        np.testing.assert_allclose(got[known], want[known], rtol=1e-9)

    check(FAM.interval_loglik(y, mu, {"dispersion": phi}),
          [_mp_log_interval(*t) for t in zip(y, mu, phi, strict=True)])
    for one in (0.02, 0.7, 4.0):  # one dispersion for every row
        check(FAM.interval_loglik(y[:30], mu[:30], {"dispersion": one}),
              [_mp_log_interval(a, b, one) for a, b in zip(y[:30], mu[:30], strict=True)])
    inside = y > 0.5
    a = y[inside] - 0.5
    gm = np.sqrt(a * (y[inside] + 0.5))
    c, curv, rem, _, _ = log_y_bound(0.5 * np.log1p(1 / a), gm, mu[inside], 1 / phi[inside])
    assert quadrature.proven(c, curv, rem).mean() > 0.5
