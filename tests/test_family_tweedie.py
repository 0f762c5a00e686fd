"""The Tweedie family (compound Poisson–gamma) against independent oracles: an mpmath
series in extended precision, statsmodels' Tweedie.loglike_obs, scipy quadrature and
scipy.optimize MLEs, scikit-learn's Tweedie deviance."""

from __future__ import annotations

import json
import math

import mpmath as mp
import numpy as np
import pytest
from scipy import integrate, optimize
from sklearn.metrics import mean_tweedie_deviance
from statsmodels.genmod import families as smf

import losscli.noise.tweedie as tw
from losscli.kinds import DESCRIPTIONS
from losscli.noise.tweedie import Tweedie

from .conftest import model, run_api, run_cli
from .test_streaming import assert_same

FAM = Tweedie()


def draw(rng, mu, phi: float, p: float) -> np.ndarray:
    """N ~ Poisson(λ) gamma(α, γ) summands: λ = μ^{2−p}/(φ(2 − p)), α = (2 − p)/(p − 1),
    γ = φ(p − 1)μ^{p−1}."""
    mu = np.asarray(mu, dtype=float)
    k = rng.poisson(mu ** (2 - p) / (phi * (2 - p)))
    return np.where(k > 0, rng.gamma(np.maximum(k * (2 - p) / (p - 1), 1e-300),
                                     phi * (p - 1) * mu ** (p - 1)), 0.0)


def mp_logpdf(y: float, mu: float, phi: float, p: float) -> float:
    """log q by the compound Poisson sum in 50-digit arithmetic: every term
    Poisson(n; λ) · gamma(nα, γ) density, n = 1 … far past the largest."""
    mp.mp.dps = 50
    y, mu, phi, p = (mp.mpf(v) for v in (y, mu, phi, p))
    lam = mu ** (2 - p) / (phi * (2 - p))
    if y == 0:
        return float(-lam)
    a = (2 - p) / (p - 1)
    g = phi * (p - 1) * mu ** (p - 1)
    peak = int(y ** (2 - p) / (phi * (2 - p)))
    # the terms around the largest, ±(20 standard deviations of its Gaussian shape + 60)
    half = int(20 * mp.sqrt(peak * (p - 1) + 1)) + 60
    ns = range(max(1, peak - half), peak + half)
    logs = [-lam + n * mp.log(lam) - mp.loggamma(n + 1) + (n * a - 1) * mp.log(y) - y / g
            - mp.loggamma(n * a) - n * a * mp.log(g) for n in ns]
    top = max(logs)
    # the window's ends are negligible (and the terms are log-concave in n beyond them)
    assert logs[-1] < top - 60 and (ns[0] == 1 or logs[0] < top - 60)
    return float(top + mp.log(mp.fsum(mp.exp(v - top) for v in logs)))


def sm_loglik(y, mu, phi, p, w=None) -> float:
    """Σ w log q by statsmodels' series (Tweedie.loglike_obs)."""
    fam = smf.Tweedie(var_power=p, link=smf.links.Log())
    with np.errstate(all="ignore"):
        return float(np.sum((1.0 if w is None else w) * fam.loglike_obs(y, mu, scale=phi)))


def test_declared_facts():
    assert FAM.nuisance == ("dispersion", "power")
    assert FAM.marginal_params == ("mean", "dispersion", "power")
    assert FAM.location == "mean" and FAM.prediction == "mean"
    assert "positive" in FAM.applies_to and "semicontinuous" in FAM.applies_to
    assert "count" not in FAM.applies_to and "binary" not in FAM.applies_to
    assert FAM.candidate
    assert FAM.frameworks.pytorch is None
    assert FAM.n_params({}, True) == 2 and FAM.n_params({}, False) == 3


@pytest.mark.parametrize("p", [1.01, 1.5, 1.99])
@pytest.mark.parametrize("phi", [0.01, 1.0, 10.0])
def test_loglik_equals_the_extended_precision_series(p, phi):
    y = np.array([0.0, 1e-3, 0.05, 0.5, 1.0, 1.3, 2.0, 4.0, 9.0])
    mu = np.array([1.3, 0.7, 2.0, 1.3, 0.4, 1.3, 5.0, 1.0, 3.0])
    got = FAM.loglik(y, mu, {"dispersion": phi, "power": p})
    want = np.array([mp_logpdf(*v, phi, p) for v in zip(y, mu, strict=True)])
    finite = np.isfinite(want)
    assert finite[0] and finite.sum() >= 7  # only densities below 1e-308 are −∞
    np.testing.assert_allclose(got[finite], want[finite], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("p", [1.01, 1.5, 1.99])
@pytest.mark.parametrize("phi", [0.01, 1.0, 10.0])
def test_loglik_equals_statsmodels_where_its_series_is_finite(p, phi):
    rng = np.random.default_rng(3)
    mu = rng.uniform(0.3, 4.0, 300)
    y = draw(rng, mu, phi, p)
    fam = smf.Tweedie(var_power=p, link=smf.links.Log())
    with np.errstate(all="ignore"):
        want = fam.loglike_obs(y, mu, scale=phi)  # overflows where x^α passes 1e308
    ok = np.isfinite(want)
    if (p, phi) == (1.01, 0.01):  # there statsmodels overflows on every row (the mpmath
        assert not ok.any()  # series above is the oracle)
        return
    assert ok.sum() > 100
    np.testing.assert_allclose(FAM.loglik(y, mu, {"dispersion": phi, "power": p})[ok],
                               want[ok], rtol=1e-9, atol=1e-11)


def test_per_row_parameters_equal_row_by_row():
    rng = np.random.default_rng(4)
    mu = rng.uniform(0.3, 4.0, 50)
    phi, p = rng.uniform(0.1, 3.0, 50), rng.uniform(1.05, 1.95, 50)
    y = draw(rng, mu, 1.0, 1.5)
    got = FAM.loglik(y, mu, {"dispersion": phi, "power": p})
    one = [FAM.loglik(y[[i]], mu[[i]], {"dispersion": phi[i], "power": p[i]})[0]
           for i in range(50)]
    np.testing.assert_allclose(got, one, rtol=1e-12)


@pytest.mark.parametrize(("mu", "phi", "p"), [(1.3, 1.0, 1.5), (0.2, 0.5, 1.2),
                                               (5.0, 2.0, 1.8), (2.0, 0.3, 1.05)])
def test_zero_probability_and_the_density_integrate_to_one(mu, phi, p):
    params = {"dispersion": phi, "power": p}
    p0 = math.exp(-mu ** (2 - p) / (phi * (2 - p)))
    assert FAM.loglik(np.array([0.0]), np.array([mu]), params)[0] == pytest.approx(
        math.log(p0), rel=1e-14)
    assert float(FAM.zero_probability(mu, params)) == pytest.approx(p0, rel=1e-14)

    def dens(v: float) -> float:
        return math.exp(FAM.loglik(np.array([v]), np.array([mu]), params)[0])

    sd = math.sqrt(phi * mu ** p)
    cuts = [0.0, mu / 4, mu, mu + 4 * sd, mu + 20 * sd, math.inf]
    total = sum(integrate.quad(dens, a, b, limit=400, epsabs=1e-13)[0]
                for a, b in zip(cuts, cuts[1:], strict=False))
    assert total == pytest.approx(1.0 - p0, abs=2e-8)
    # the c.d.f. at a point: e^{−λ} plus the integral of the density
    x = mu * 1.5
    part = sum(integrate.quad(dens, a, min(b, x), limit=400, epsabs=1e-13)[0]
               for a, b in zip(cuts, cuts[1:], strict=False) if a < x)
    assert float(FAM.cdf(np.array([x]), np.array([mu]), params)[0]) == pytest.approx(
        p0 + part, abs=2e-8)


def _mle(y, w, mu, start, given=None):
    """The independent MLE of (φ, p) (or the free one) on statsmodels' likelihood."""
    given = given or {}
    names = [k for k in ("dispersion", "power") if k not in given]

    def nll(x):
        v = dict(given)
        for k, t in zip(names, x, strict=True):
            v[k] = math.exp(t) if k == "dispersion" else t
        if not 1.0 < v["power"] < 2.0:
            return 1e300
        with np.errstate(all="ignore"):
            out = -sm_loglik(y, mu, v["dispersion"], v["power"], w)
        return out if math.isfinite(out) else 1e300

    x0 = [math.log(start["dispersion"]) if k == "dispersion" else start[k] for k in names]
    res = optimize.minimize(nll, x0, method="Nelder-Mead",
                            options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 5000})
    out = dict(zip(names, res.x, strict=True))
    if "dispersion" in out:
        out["dispersion"] = math.exp(out["dispersion"])
    return out


@pytest.mark.parametrize("weighted", [False, True])
def test_conditional_fit_equals_an_independent_mle(weighted):
    rng = np.random.default_rng(5)
    mu = rng.uniform(0.3, 5.0, 1500)
    y = draw(rng, mu, 1.4, 1.35)
    w = rng.integers(1, 4, y.size).astype(float) if weighted else None
    got = FAM.fit(y, w, mu)
    want = _mle(y, w, mu, {"dispersion": 1.0, "power": 1.5})
    for k in ("dispersion", "power"):
        assert got[k] == pytest.approx(want[k], rel=1e-4), k


@pytest.mark.parametrize("weighted", [False, True])
def test_marginal_fit_mean_is_the_weighted_mean_and_the_rest_an_independent_mle(weighted):
    rng = np.random.default_rng(6)
    y = draw(rng, np.full(1200, 2.5), 2.0, 1.6)
    w = rng.uniform(0.5, 2.0, y.size) if weighted else None
    got = FAM.fit(y, w)
    assert got["mean"] == pytest.approx(np.average(y, weights=w), rel=1e-14)
    want = _mle(y, w, np.full(y.size, got["mean"]), {"dispersion": 1.0, "power": 1.5})
    for k in ("dispersion", "power"):
        assert got[k] == pytest.approx(want[k], rel=1e-4), k
    # and jointly with the mean free the optimum is the same (the mean's score equation)
    def nll(x):
        return -sm_loglik(y, np.full(y.size, math.exp(x[0])), math.exp(x[1]), x[2], w)
    res = optimize.minimize(nll, [math.log(got["mean"]) + 0.05, math.log(want["dispersion"]),
                                  want["power"]], method="Nelder-Mead",
                            options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 5000})
    assert math.exp(res.x[0]) == pytest.approx(got["mean"], rel=1e-4)


def test_fit_near_power_one_with_a_small_dispersion():
    """Near p = 1 with a small φ the likelihood in φ has several modes (the lattice of
    Poisson counts): the grid finds the global one."""
    rng = np.random.default_rng(7)
    mu = rng.uniform(1.0, 3.0, 300)
    y = draw(rng, mu, 0.2, 1.08)
    got = FAM.fit(y, None, mu)
    want = _mle(y, None, mu, got)
    assert got["power"] == pytest.approx(want["power"], rel=1e-4)
    assert got["dispersion"] == pytest.approx(want["dispersion"], rel=1e-4)
    # no point of a grid beats it
    best = max(sm_loglik(y, mu, d, p) for p in np.linspace(1.02, 1.3, 12)
               for d in np.geomspace(0.02, 2.0, 15))
    assert sm_loglik(y, mu, got["dispersion"], got["power"]) >= best - 1e-9


def test_power_on_a_bound_is_kept_there_with_a_warning():
    rng = np.random.default_rng(8)
    mu = rng.uniform(1.0, 3.0, 500)
    y = rng.gamma(50.0, mu / 50.0)  # gamma noise, Var ∝ μ²: the power runs to 2
    got = FAM.fit(y, None, mu)
    assert got["power"] == 1.99
    assert FAM.fit_warnings(got) and "bound" in FAM.fit_warnings(got)[0]
    want = _mle(y, None, mu, got, given={"power": 1.99})
    assert got["dispersion"] == pytest.approx(want["dispersion"], rel=1e-4)


def test_deviance_is_sklearns_at_the_power():
    rng = np.random.default_rng(9)
    mu = rng.uniform(0.3, 5.0, 200)
    y = draw(rng, mu, 1.0, 1.4)
    for p in (1.2, 1.5, 1.8):
        assert np.mean(FAM.deviance(y, mu, {"power": p})) == pytest.approx(
            mean_tweedie_deviance(y, mu, power=p), rel=1e-12)


def test_ppf_inverts_the_cdf():
    mu = np.array([0.5, 1.3, 4.0])
    params = {"dispersion": 1.0, "power": 1.5}
    p0 = FAM.zero_probability(mu, params)
    for q in (0.1, 0.5, 0.9, 0.99):
        x = FAM.ppf(q, mu, params)
        inside = p0 < q
        assert np.all(x[~inside] == 0.0)
        np.testing.assert_allclose(FAM.cdf(x[inside], mu[inside], params), q, rtol=1e-10)


# ------------------------------------------------------------------ end to end


def _positive_file(write_csv, n: int = 400, seed: int = 10, weights: bool = False):
    rng = np.random.default_rng(seed)
    mu = rng.uniform(0.5, 4.0, 4 * n)
    y = draw(rng, mu, 0.8, 1.5)
    keep = np.flatnonzero(y > 0)[:n]
    cols = {"y": y[keep], "y_pred": mu[keep]}
    if weights:
        cols["w"] = rng.integers(1, 4, keep.size).astype(float)
    return write_csv("tweedie.csv", **cols), cols


def test_evaluate_fits_the_sample_mle_and_reports_the_deviance(write_csv):
    path, cols = _positive_file(write_csv)
    rep = run_api("evaluate", path, target="y", pred="y_pred", families=("tweedie",))
    m = model(rep, "tweedie")
    assert m["base_measure"] == "lebesgue"
    want = FAM.fit(cols["y"], None, cols["y_pred"])
    assert m["params"]["power"] == pytest.approx(want["power"], rel=1e-9)
    nll = -FAM.loglik(cols["y"], cols["y_pred"], m["params"]).sum()
    assert m["nll"] == pytest.approx(nll, rel=1e-10)
    assert m["metrics"]["mean_deviance"] == pytest.approx(
        mean_tweedie_deviance(cols["y"], cols["y_pred"], power=m["params"]["power"]),
        rel=1e-10)


def test_weights_equal_repetition_end_to_end(write_csv, tmp_path):
    path, cols = _positive_file(write_csv, n=150, weights=True)
    reps = cols["w"].astype(int)
    rep_path = write_csv("rep.csv", y=np.repeat(cols["y"], reps),
                         y_pred=np.repeat(cols["y_pred"], reps))
    a = model(run_api("evaluate", path, target="y", pred="y_pred", weight="w",
                      families=("tweedie",)), "tweedie")
    b = model(run_api("evaluate", rep_path, target="y", pred="y_pred",
                      families=("tweedie",)), "tweedie")
    for k in ("dispersion", "power"):
        assert a["params"][k] == pytest.approx(b["params"][k], rel=1e-6)
    assert a["nll"] == pytest.approx(b["nll"], rel=1e-6)


def test_fixed_power_fits_the_dispersion_alone(write_csv):
    path, cols = _positive_file(write_csv)
    rep = run_api("evaluate", path, target="y", pred="y_pred", families=("tweedie",),
                  fix=("tweedie.power=1.5",))
    m = model(rep, "tweedie")
    assert m["fixed"] == {"power": 1.5} and set(m["params"]) == {"dispersion"}
    assert m["n_params"] == 1
    want = _mle(cols["y"], None, cols["y_pred"], {"dispersion": 1.0},
                given={"power": 1.5})
    assert m["params"]["dispersion"] == pytest.approx(want["dispersion"], rel=1e-4)
    # marginal mode: the mean is ȳ and φ the MLE at p = 1.5
    rep = run_api("evaluate", write_csv("y.csv", y=cols["y"]), target="y", pred=None,
                  families=("tweedie",), fix=("tweedie.power=1.5",))
    m = model(rep, "tweedie")
    assert m["params"]["mean"] == pytest.approx(np.mean(cols["y"]), rel=1e-13)
    want = _mle(cols["y"], None, np.full(cols["y"].size, np.mean(cols["y"])),
                {"dispersion": 1.0}, given={"power": 1.5})
    assert m["params"]["dispersion"] == pytest.approx(want["dispersion"], rel=1e-4)


def test_a_power_outside_one_to_two_is_a_usage_error(write_csv):
    path, _ = _positive_file(write_csv, n=50)
    r = run_cli("evaluate", path, "-t", "y", "-p", "y_pred", "-f", "tweedie",
                "--fix", "tweedie.power=2.5")
    assert r.returncode == 2
    err = r.stderr.decode().strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "(1, 2)" in err[0]


def test_batch_rows_give_the_same_report(write_csv):
    path, _ = _positive_file(write_csv, n=120)
    fams = ("gamma", "tweedie")  # on positive targets tweedie joins when named
    a = run_api("compare-noise-models", path, target="y", pred="y_pred", families=fams)
    b = run_api("compare-noise-models", path, target="y", pred="y_pred", batch_rows=7,
                families=fams)
    assert_same(a, b)
    assert "tweedie" in [m["family"] for m in b["models"]]


def test_compare_ranks_it_and_names_the_fitted_power(write_csv):
    path, _ = _positive_file(write_csv, n=300)
    rep = run_api("compare-noise-models", path, target="y", pred="y_pred")
    names = [m["family"] for m in rep["models"]]
    # on positive targets a candidate only when named (its series costs ~100× gamma's)
    assert "tweedie" not in names and "gamma" in names
    rep = run_api("compare-noise-models", path, target="y", pred="y_pred",
                  families=("tweedie",))
    r = rep["recommendation"]
    p = model(rep, "tweedie")["params"]["power"]
    assert r["family"] == "tweedie"
    assert r["sklearn"] == f"TweedieRegressor(power={p:.2f},link='log')"
    assert r["xgboost"] == f"reg:tweedie(tweedie_variance_power={p:.2f})"
    assert r["lightgbm"] == f"tweedie(tweedie_variance_power={p:.2f})"
    assert r["pytorch"] is None


def test_cli_on_a_file_with_zeros(write_csv):
    """A target with zeros and non-integers is semicontinuous where that kind exists;
    elsewhere the same run on its positive rows."""
    rng = np.random.default_rng(11)
    mu = rng.uniform(0.3, 3.0, 400)
    y = draw(rng, mu, 1.0, 1.4)
    assert (y == 0).any()
    if "semicontinuous" not in DESCRIPTIONS:
        keep = y > 0
        y, mu = y[keep], mu[keep]
    path = write_csv("zeros.csv", y=y, y_pred=mu)
    r = run_cli("evaluate", path, "-t", "y", "-p", "y_pred", "-f", "tweedie",
                "--format", "json")
    assert r.returncode == 0, r.stderr.decode()
    m = model(json.loads(r.stdout), "tweedie")
    want = FAM.fit(y, None, mu)
    assert m["params"]["power"] == pytest.approx(want["power"], rel=1e-9)
    assert m["nll"] == pytest.approx(-FAM.loglik(y, mu, m["params"]).sum(), rel=1e-10)
    # on a semicontinuous target it is a default candidate, scored with its own atom
    rep = run_api("compare-noise-models", path, target="y", pred="y_pred")
    assert rep["target_kind"] == "semicontinuous" and rep["base_measure"] == "atom_at_zero"
    t = model(rep, "tweedie")
    assert t["nll"] == pytest.approx(-FAM.loglik(y, mu, t["params"]).sum(), rel=1e-10)


def test_a_negative_target_is_one_error_line(write_csv):
    path = write_csv("neg.csv", y=[1.0, 2.0, -0.5, 3.0], y_pred=[1.0, 2.0, 1.0, 2.0])
    r = run_cli("evaluate", path, "-t", "y", "-p", "y_pred", "-f", "tweedie")
    assert r.returncode == 1
    err = r.stderr.decode().strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "-0.5" in err[0]


# ------------------------------------------------------------------ cost


@pytest.mark.parametrize(("y", "mu", "phi", "p"), [(3.9, 3.8, 0.01, 1.99),
                                                   (0.5, 0.4, 0.01, 1.99),
                                                   (5.0, 4.0, 0.001, 1.5),
                                                   (40.0, 30.0, 0.002, 1.2)])
def test_a_wide_series_sums_every_sth_term_and_keeps_its_accuracy(y, mu, phi, p):
    """Where the terms spread over hundreds of indices only every s-th is summed (times
    s): the log-density still equals the 50-digit sum over every term."""
    n0 = max(round(y ** (2 - p) / (phi * (2 - p))), 1)
    assert tw.strides(np.array([float(n0)]), p)[0] >= 5
    got = FAM.loglik(np.array([y]), np.array([mu]), {"dispersion": phi, "power": p})[0]
    assert got == pytest.approx(mp_logpdf(y, mu, phi, p), rel=1e-9, abs=1e-11)


def test_params_se_is_the_information_of_the_rows_the_fit_keeps(write_csv, monkeypatch):
    """Beyond `fit_subsample` rows the fit keeps a seeded subsample of them: fit_rows
    says how many, and params_se is the inverse Hessian of −Σ log q over those rows
    (numdifftools on statsmodels' likelihood)."""
    import numdifftools as nd

    from losscli.reduce import seeded_rows

    monkeypatch.setattr(Tweedie, "fit_subsample", (250, 5))
    rng = np.random.default_rng(12)
    mu = rng.uniform(0.5, 4.0, 700)
    y = draw(rng, mu, 0.8, 1.5)
    keep = y > 0
    y, mu = y[keep], mu[keep]
    path = write_csv("sub.csv", y=y, y_pred=mu)
    m = model(run_api("evaluate", path, target="y", pred="y_pred", families=("tweedie",)),
              "tweedie")
    rows = seeded_rows(y.size, 250, 5)
    assert m["fit_rows"] == 250
    want = FAM.fit(y[rows], None, mu[rows])
    for k in ("dispersion", "power"):
        assert m["params"][k] == pytest.approx(want[k], rel=1e-9), k
    theta = np.array([m["params"]["dispersion"], m["params"]["power"]])
    hess = nd.Hessian(lambda t: -sm_loglik(y[rows], mu[rows], t[0], t[1]))(theta)
    se = np.sqrt(np.diag(np.linalg.inv(hess)))
    assert m["params_se"]["dispersion"] == pytest.approx(se[0], rel=1e-4)
    assert m["params_se"]["power"] == pytest.approx(se[1], rel=1e-4)
