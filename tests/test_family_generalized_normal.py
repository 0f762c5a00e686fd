"""The generalized_normal family (Subbotin, the Lq loss) against scipy.stats.gennorm and
scipy.optimize on its log-density."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import integrate, optimize, stats

from losscli.noise import FAMILIES
from losscli.noise.discretised import Discretised
from losscli.noise.gaussian import Gaussian
from losscli.noise.generalized_normal import GeneralizedNormal, log_upper_gamma
from losscli.noise.laplace import Laplace
from tests.conftest import model, run_api, run_cli

FAM = GeneralizedNormal()


def _oracle(pred, q, s):
    return stats.gennorm(q, loc=pred, scale=s)


def _data(seed: int, q: float = 1.5, s: float = 0.8, n: int = 1500):
    rng = np.random.default_rng(seed)
    pred = rng.normal(1.0, 2.0, n)
    y = pred + stats.gennorm(q, scale=s).rvs(n, random_state=rng)
    return y, pred, rng.integers(1, 4, n).astype(float)


@pytest.mark.parametrize("q", [0.5, 1.0, 1.5, 2.0, 4.0, 12.0])
def test_loglik_cdf_sf_equal_scipy(q):
    y, pred, _ = _data(1, q)
    p = {"power": q, "scale": 0.8}
    d = _oracle(pred, q, 0.8)
    np.testing.assert_allclose(FAM.loglik(y, pred, p), d.logpdf(y), rtol=1e-9)
    np.testing.assert_allclose(FAM.logcdf(y, pred, p), d.logcdf(y), rtol=1e-9)
    np.testing.assert_allclose(FAM.logsf(y, pred, p), d.logsf(y), rtol=1e-9)
    u = np.linspace(0.001, 0.999, 37)
    np.testing.assert_allclose(FAM.ppf(u, 0.3, p), _oracle(0.3, q, 0.8).ppf(u), rtol=1e-9,
                               atol=1e-12)
    assert FAM.variance(np.zeros(2), p) == pytest.approx(_oracle(0, q, 0.8).var(), rel=1e-9)


def test_far_tails_in_log_space():
    """Where Q(1/q, x) underflows, log Q comes from its asymptotic series: against
    mpmath's incomplete gamma with 40 digits."""
    import mpmath

    mpmath.mp.dps = 40
    for a in (0.25, 0.5, 1.0, 2.5):
        x = np.array([150.0, 250.0, 900.0, 5000.0])
        want = [float(mpmath.log(mpmath.gammainc(a, xv, mpmath.inf, regularized=True)))
                for xv in x]
        np.testing.assert_allclose(log_upper_gamma(a, x), want, rtol=1e-13)
    p = {"power": 2.0, "scale": 1.0}
    z = np.array([-60.0, 60.0])
    assert np.all(np.isfinite(FAM.logcdf(z, 0.0, p)))
    assert np.all(np.isfinite(FAM.logsf(z, 0.0, p)))


def crps_by_quadrature(cdf, y: float, m: float) -> float:
    """CRPS(F, y) = ∫(F(x) − 1{y ≤ x})² dx by adaptive quadrature of an oracle c.d.f.,
    split at y and at the location m."""
    def quad(f, a, b):
        return integrate.quad(f, a, b, epsabs=1e-13, epsrel=1e-12, limit=400)[0]

    lo, hi = min(y, m), max(y, m)
    return (quad(lambda x: cdf(x) ** 2, -np.inf, lo)
            + quad(lambda x: (cdf(x) - (x >= y)) ** 2, lo, hi)
            + quad(lambda x: (1 - cdf(x)) ** 2, hi, np.inf))


CRPS_AT = np.array([-25.0, -2.0, -0.1, 0.4, 0.41, 1.5, 30.0])


@pytest.mark.parametrize("q,s", [(0.7, 0.9), (1.5, 0.9), (2.0, 1.0), (5.0, 2.0)])
def test_crps_against_quadrature(q, s):
    d = _oracle(0.4, q, s)
    want = [crps_by_quadrature(lambda x: float(d.cdf(x)), v, 0.4) for v in CRPS_AT]
    p = {"power": q, "scale": s}
    np.testing.assert_allclose(FAM.crps(CRPS_AT, 0.4, p), want, rtol=1e-9)
    # a power per row reads the same
    got = FAM.crps(CRPS_AT, 0.4, {"power": np.full(CRPS_AT.size, q), "scale": s})
    np.testing.assert_allclose(got, want, rtol=1e-9)


def _nll_oracle(theta, y, pred, w):
    """−Σ w log q from scipy's density; θ = (ln q, ln σ)."""
    return -float(np.dot(w, _oracle(pred, math.exp(theta[0]), math.exp(theta[1])).logpdf(y)))


@pytest.mark.parametrize("q", [0.8, 1.5, 3.0])
def test_conditional_fit_equals_numeric_weighted_mle(q):
    y, pred, w = _data(2, q)
    res = optimize.minimize(_nll_oracle, [0.0, 0.0], args=(y, pred, w), method="Nelder-Mead",
                            options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 5000})
    fit = FAM.fit(y, w, pred)
    assert fit.keys() == {"power", "scale"}
    assert fit["power"] == pytest.approx(math.exp(res.x[0]), rel=1e-4)
    assert fit["scale"] == pytest.approx(math.exp(res.x[1]), rel=1e-4)
    reps = w.astype(int)
    again = FAM.fit(np.repeat(y, reps), None, np.repeat(pred, reps))
    assert again == pytest.approx(fit, rel=1e-7)


def test_marginal_fit_equals_numeric_weighted_mle():
    y, _, w = _data(3, 1.7, 1.2)
    y = y - _data(3, 1.7, 1.2)[1] + 4.0  # the noise around 4
    med = float(np.median(y))

    def nll(t):
        return -float(np.dot(w, _oracle(t[0], math.exp(t[1]), math.exp(t[2])).logpdf(y)))

    res = optimize.minimize(nll, [med, 0.5, 0.0], method="Nelder-Mead",
                            options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20000})
    fit = FAM.fit(y, w)
    assert fit["loc"] == pytest.approx(res.x[0], rel=1e-4)
    assert fit["power"] == pytest.approx(math.exp(res.x[1]), rel=1e-4)
    assert fit["scale"] == pytest.approx(math.exp(res.x[2]), rel=1e-4)
    assert nll([fit["loc"], math.log(fit["power"]), math.log(fit["scale"])]) <= res.fun + 1e-7


def test_scale_at_a_given_power_is_closed_form():
    y, pred, w = _data(4)
    got = FAM.fit_given(y, w, pred, {"power": 1.5}, ("scale",))
    r = np.abs(y - pred)
    assert got["scale"] == pytest.approx((1.5 * np.dot(w, r ** 1.5) / w.sum()) ** (1 / 1.5),
                                         rel=1e-12)
    res = optimize.minimize_scalar(lambda ls: _nll_oracle([math.log(1.5), ls], y, pred, w),
                                   bounds=(-5, 5), method="bounded", options={"xatol": 1e-11})
    assert got["scale"] == pytest.approx(math.exp(res.x), rel=1e-7)


def test_nests_gaussian_at_two_and_laplace_at_one():
    """q = 2: exp(−(r/σ)²) is N(0, σ²/2), so σ = √2 σ_gauss; q = 1: Laplace with b = σ."""
    y, pred, _ = _data(5)
    sg = 0.7
    np.testing.assert_allclose(FAM.loglik(y, pred, {"power": 2.0, "scale": math.sqrt(2) * sg}),
                               Gaussian().loglik(y, pred, {"sigma": sg}), rtol=1e-13)
    np.testing.assert_allclose(FAM.loglik(y, pred, {"power": 1.0, "scale": sg}),
                               Laplace().loglik(y, pred, {"scale": sg}), rtol=1e-13)
    # the fits at a held power are the nested families' fits
    got = FAM.fit_given(y, None, pred, {"power": 2.0}, ("scale",))
    assert got["scale"] == pytest.approx(math.sqrt(2) * Gaussian().fit(y, None, pred)["sigma"],
                                         rel=1e-12)
    got = FAM.fit_given(y, None, pred, {"power": 1.0}, ("scale",))
    assert got["scale"] == pytest.approx(Laplace().fit(y, None, pred)["scale"], rel=1e-12)
    assert {(at.family, at.value, at.boundary) for at in FAMILIES["generalized_normal"].nests} \
        == {("gaussian", 2.0, False), ("laplace", 1.0, False)}


def test_discretised_loglik_equals_cdf_differences():
    y = np.arange(-12.0, 13.0)
    for q, s in ((1.5, 2.3), (0.7, 0.4), (2.0, 40.0)):
        d = _oracle(0.3, q, s)
        want = np.log(d.cdf(y + 0.5) - d.cdf(y - 0.5))
        got = Discretised(FAM).loglik(y, 0.3, {"power": q, "scale": s})
        np.testing.assert_allclose(got, want, rtol=1e-9)


def test_discretised_fit_equals_numeric_mle():
    rng = np.random.default_rng(6)
    pred = rng.uniform(-4, 4, 600)
    y = np.round(pred + stats.gennorm(1.3, scale=1.8).rvs(600, random_state=rng))
    w = rng.integers(1, 3, y.size).astype(float)

    def nll(t):
        d = _oracle(pred, math.exp(t[0]), math.exp(t[1]))
        return -float(np.dot(w, np.log(d.cdf(y + 0.5) - d.cdf(y - 0.5))))

    res = optimize.minimize(nll, [0.0, 0.0], method="Nelder-Mead",
                            options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 4000})
    fit = Discretised(FAM).fit(y, w, pred)
    assert fit["power"] == pytest.approx(math.exp(res.x[0]), rel=1e-4)
    assert fit["scale"] == pytest.approx(math.exp(res.x[1]), rel=1e-4)


# ---------------------------------------------------------------------- end to end


def _file(write_csv, seed=7, n=1200, q=1.4, integer=False):
    rng = np.random.default_rng(seed)
    pred = rng.normal(0, 3, n)
    y = pred + stats.gennorm(q, scale=1.5).rvs(n, random_state=rng)
    return write_csv("g.csv", y=np.round(y) if integer else y, y_pred=pred)


@pytest.mark.parametrize("integer", [False, True])
def test_compare_reports_both_interior_lr_tests(write_csv, integer):
    path = _file(write_csv, integer=integer)
    rep = run_api("compare-noise-models", path,
                  families=("gaussian", "laplace", "generalized_normal"))
    assert rep["base_measure"] == ("counting" if integer else "lebesgue")
    tests = {t["null"]: t for t in rep["tests"] if t["kind"] == "likelihood_ratio"}
    assert set(tests) == {"gaussian", "laplace"}
    for null, t in tests.items():
        assert t["alternative"] == "generalized_normal"
        lr = 2 * (model(rep, null)["nll"] - model(rep, "generalized_normal")["nll"])
        assert lr > 0
        assert t["statistic"] == pytest.approx(lr, rel=1e-9)
        assert t["p_value"] == pytest.approx(stats.chi2.sf(lr, 1), rel=1e-9)
    # no Vuong test between nested families
    assert not [t for t in rep["tests"] if t["kind"] == "vuong"
                and "generalized_normal" in (t["null"], t["alternative"])
                and {t["null"], t["alternative"]} & {"gaussian", "laplace"}]
    default = run_api("compare-noise-models", path)
    assert "generalized_normal" not in [m["family"] for m in default["models"]]


def test_evaluate_fit_equals_oracle_and_fix_holds_the_power(write_csv):
    path = _file(write_csv, seed=8)
    import pandas as pd

    df = pd.read_csv(path)
    y, pred = df["y"].to_numpy(), df["y_pred"].to_numpy()
    rep = run_api("evaluate", path, families=("generalized_normal",))
    m = model(rep, "generalized_normal")
    res = optimize.minimize(_nll_oracle, [0.0, 0.0], args=(y, pred, np.ones(y.size)),
                            method="Nelder-Mead",
                            options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 5000})
    assert m["params"]["power"] == pytest.approx(math.exp(res.x[0]), rel=1e-4)
    assert m["nll"] == pytest.approx(res.fun, rel=1e-9)
    held = model(run_api("evaluate", path, families=("generalized_normal",),
                         fix=("generalized_normal.power=1.5",)), "generalized_normal")
    assert held["fixed"] == {"power": 1.5} and held["n_params"] == 1
    s = (1.5 * np.mean(np.abs(y - pred) ** 1.5)) ** (1 / 1.5)
    assert held["params"]["scale"] == pytest.approx(s, rel=1e-9)
    assert held["nll"] == pytest.approx(-_oracle(pred, 1.5, s).logpdf(y).sum(), rel=1e-9)
    # marginal mode with the power held: the location and scale fitted
    only_y = write_csv("y.csv", y=y)
    marg = model(run_api("evaluate", only_y, families=("generalized_normal",),
                         fix=("generalized_normal.power=1.5",)), "generalized_normal")
    assert marg["fixed"] == {"power": 1.5} and marg["n_params"] == 2

    def nll(t):
        return -float(_oracle(t[0], 1.5, math.exp(t[1])).logpdf(y).sum())

    res = optimize.minimize(nll, [float(np.median(y)), 0.0], method="Nelder-Mead",
                            options={"xatol": 1e-10, "fatol": 1e-12})
    assert marg["params"]["loc"] == pytest.approx(res.x[0], rel=1e-4, abs=1e-6)
    assert marg["params"]["scale"] == pytest.approx(math.exp(res.x[1]), rel=1e-4)


def test_batch_rows_give_the_same_json(write_csv):
    path = _file(write_csv, seed=9, n=300)
    args = ["compare-noise-models", str(path), "-f", "gaussian,laplace,generalized_normal",
            "--format", "json"]
    a = run_cli(*args)
    b = run_cli(*args, "--batch-rows", "7")
    assert a.returncode == 0 and b.returncode == 0, b.stderr
    ja, jb = json.loads(a.stdout), json.loads(b.stdout)
    ja.get("input", {}).pop("batch_rows", None)
    jb.get("input", {}).pop("batch_rows", None)
    # the same numbers up to the rounding of sums taken in other batches (the gaussian's
    # and laplace's closed forms differ in the last place too)
    assert _close(ja["models"], jb["models"]) and _close(ja["tests"], jb["tests"])


def _close(a, b) -> bool:
    """Equal structures whose floats agree to 1e-12 relative (1e-14 absolute near 0, the
    rounding of the sums a difference is taken of)."""
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_close(u, v) for u, v in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return a == pytest.approx(b, rel=1e-12, abs=1e-14)
    return a == b


def test_target_outside_the_support_is_one_error_line(write_csv):
    path = write_csv("bad.csv", y=["1.0", "inf", "2.0"], y_pred=[0.0, 0.0, 0.0])
    out = run_cli("evaluate", str(path), "-f", "generalized_normal")
    assert out.returncode == 1
    err = out.stderr.decode().strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "Traceback" not in err[0]
