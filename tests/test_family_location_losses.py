"""The location families matched to a loss (SPEC §9.3): huber, pseudo_huber, fair,
epsilon_insensitive, each against a density written here, scipy quadrature and an
independent numeric MLE; and `-f all`."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import integrate, optimize, special, stats

from losscli.noise import FAMILIES
from tests.conftest import model, run_api, run_cli

# -- the densities, written independently of the package
from tests.test_streaming import assert_same


def huber_logpdf(r, sigma, delta):
    a = np.abs(r)
    rho = np.where(a <= delta, a * a / 2, delta * a - delta * delta / 2)
    k = delta / sigma
    z = sigma * (math.sqrt(2 * math.pi) * (2 * special.ndtr(k) - 1) + 2 / k * math.exp(-k * k / 2))
    return -rho / sigma ** 2 - math.log(z)


def pseudo_huber_logpdf(r, sigma, delta):
    a = delta ** 2 / sigma ** 2
    z = 2 * delta * math.exp(a) * special.kv(1, a)
    return -a * (np.sqrt(1 + (r / delta) ** 2) - 1) - math.log(z)


def fair_logpdf(r, c, tau):
    a = c * c / tau
    u = np.abs(r) / c
    z = 2 * c * math.exp(a) * a ** (-a - 1) * special.gamma(a + 1) * special.gammaincc(a + 1, a)
    return -a * (u - np.log(1 + u)) - math.log(z)


def eps_logpdf(r, eps, tau):
    return -np.maximum(0, np.abs(r) - eps) / tau - math.log(2 * eps + 2 * tau)


ORACLES = {
    "huber": (huber_logpdf, ("sigma", "delta")),
    "pseudo_huber": (pseudo_huber_logpdf, ("sigma", "delta")),
    "fair": (fair_logpdf, ("c", "tau")),
    "epsilon_insensitive": (eps_logpdf, ("epsilon", "scale")),
}
SHAPES = [(0.7, 0.4), (1.3, 2.5), (0.4, 5.0), (2.0, 0.3)]


def _oracle(name, r, p):
    fn, names = ORACLES[name]
    return fn(r, *(p[k] for k in names))


@pytest.mark.parametrize("name", list(ORACLES))
@pytest.mark.parametrize("shape", SHAPES)
def test_density_integrates_to_one_and_equals_the_formula(name, shape):
    fam = FAMILIES[name]()
    p = dict(zip(ORACLES[name][1], shape, strict=True))
    total, _ = integrate.quad(lambda t: math.exp(fam.loglik(np.array([t]), 0.3, p)[0]),
                              -np.inf, np.inf, epsabs=0, epsrel=1e-12, limit=400,
                              points=None)
    assert total == pytest.approx(1.0, rel=1e-9)
    r = np.linspace(-12, 12, 97)
    np.testing.assert_allclose(fam.loglik(r + 0.3, 0.3, p), _oracle(name, r, p), rtol=1e-9)


def test_limits_gaussian_laplace_and_scipy():
    r = np.linspace(-6, 6, 41)
    h = FAMILIES["huber"]()
    np.testing.assert_allclose(h.loglik(r, 0.0, {"sigma": 1.7, "delta": 1e6}),
                               stats.norm.logpdf(r, scale=1.7), rtol=1e-12)
    np.testing.assert_allclose(h.loglik(r, 0.0, {"sigma": 1.7, "delta": math.inf}),
                               stats.norm.logpdf(r, scale=1.7), rtol=1e-12)
    e = FAMILIES["epsilon_insensitive"]()
    np.testing.assert_allclose(e.loglik(r, 0.5, {"epsilon": 0.0, "scale": 0.8}),
                               stats.laplace.logpdf(r, 0.5, 0.8), rtol=1e-12)
    ph = FAMILIES["pseudo_huber"]()
    p = {"sigma": 0.9, "delta": 1.4}
    np.testing.assert_allclose(ph.loglik(r, 0.2, p), ph.to_scipy(0.2, p).logpdf(r), rtol=1e-9)


@pytest.mark.parametrize("name", list(ORACLES))
@pytest.mark.parametrize("shape", [(0.7, 0.4), (1.3, 2.5), (0.3, 0.05)])
def test_logcdf_logsf_equal_quadrature(name, shape):
    fam = FAMILIES[name]()
    p = dict(zip(ORACLES[name][1], shape, strict=True))
    x = np.array([-9.0, -3.2, -1.0, -0.35, 0.0, 0.2, 0.5, 1.1, 2.7, 7.5])
    got_sf = fam.logsf(x, 0.0, p)
    got_cdf = fam.logcdf(x, 0.0, p)
    for xi, s, c in zip(x, got_sf, got_cdf, strict=True):
        def f(t):
            return math.exp(_oracle(name, np.array([t]), p)[0])
        upper = integrate.quad(f, xi, np.inf, epsabs=0, epsrel=1e-13, limit=400)[0]
        lower = integrate.quad(f, -np.inf, xi, epsabs=0, epsrel=1e-13, limit=400)[0]
        assert s == pytest.approx(math.log(upper), rel=1e-9, abs=1e-12)
        assert c == pytest.approx(math.log(lower), rel=1e-9, abs=1e-12)


def test_huber_and_epsilon_ppf_invert_the_cdf():
    for name, p in [("huber", {"sigma": 0.8, "delta": 0.6}),
                    ("epsilon_insensitive", {"epsilon": 0.5, "scale": 0.7})]:
        fam = FAMILIES[name]()
        for q in (1e-6, 0.01, 0.2, 0.45, 0.5, 0.7, 0.99):
            x = fam.ppf(q, np.array([1.0]), p)
            assert math.exp(fam.logcdf(x, 1.0, p)[0]) == pytest.approx(q, rel=1e-9)


@pytest.mark.parametrize("name, p", [("huber", {"sigma": 0.8, "delta": 0.6}),
                                     ("huber", {"sigma": 1.5, "delta": 3.0}),
                                     ("epsilon_insensitive", {"epsilon": 0.5, "scale": 0.7}),
                                     ("epsilon_insensitive", {"epsilon": 2.0, "scale": 0.2})])
def test_crps_equals_the_integral_of_the_squared_cdf_difference(name, p):
    fam = FAMILIES[name]()
    ys = np.array([-4.0, -0.9, 0.1, 0.45, 1.3, 6.0])
    got = fam.crps(ys, 0.2, p)

    # the oracle's c.d.f. on a fine grid (Simpson's cumulative rule; the grid holds the
    # kinks ŷ ± δ or ŷ ± ε and the ys), then ∫(F − 1{x ≥ y})² by the same rule
    half = p.get("delta", p.get("epsilon"))
    knots = np.unique(np.concatenate([[-40.0, 40.0, 0.2 - half, 0.2 + half], ys]))
    x = np.unique(np.concatenate([np.linspace(a, b, 20001)
                                  for a, b in zip(knots[:-1], knots[1:], strict=True)]))
    dens = np.exp(_oracle(name, x - 0.2, p))
    cdf = np.concatenate([[0.0], integrate.cumulative_simpson(dens, x=x)])
    for y, g in zip(ys, got, strict=True):
        lo, hi = x <= y, x >= y  # the step at y is a grid point: integrate each side
        ref = (integrate.simpson(cdf[lo] ** 2, x=x[lo])
               + integrate.simpson((1.0 - cdf[hi]) ** 2, x=x[hi]))
        assert g == pytest.approx(ref, rel=1e-7)
    gauss = fam.crps(ys, 0.2, {**p, "delta": math.inf}) if name == "huber" else None
    if gauss is not None:
        z = (ys - 0.2) / p["sigma"]
        ref = p["sigma"] * (z * (2 * stats.norm.cdf(z) - 1) + 2 * stats.norm.pdf(z)
                            - 1 / math.sqrt(math.pi))
        np.testing.assert_allclose(gauss, ref, rtol=1e-12)


def _draw(rng, n):
    pred = rng.normal(0.0, 2.0, n)
    return pred + 0.8 * rng.standard_t(3, n), pred


def _mle(name, y, w, pred, start):
    """scipy's Nelder–Mead on the oracle's weighted nll (log of the positive params)."""
    names = ORACLES[name][1]
    marginal = pred is None
    lo = 1e-300

    def nll(x):
        loc = x[0] if marginal else pred
        v = np.exp(x[1:] if marginal else x)
        p = dict(zip(names, v, strict=True))
        if name == "epsilon_insensitive":
            p["epsilon"] = max(p["epsilon"], lo)
        return -np.dot(w, _oracle(name, y - loc, p)) / w.sum()

    x0 = ([start["loc"]] if marginal else []) + [math.log(start[k]) for k in names]
    res = optimize.minimize(nll, x0, method="Nelder-Mead",
                            options={"xatol": 1e-11, "fatol": 1e-15, "maxiter": 20000,
                                     "maxfev": 40000})
    out = dict(zip(names, np.exp(res.x[1:] if marginal else res.x), strict=True))
    if marginal:
        out["loc"] = res.x[0]
    return out, res.fun


@pytest.mark.parametrize("name", list(ORACLES))
@pytest.mark.parametrize("marginal", [False, True])
def test_fit_equals_an_independent_mle(name, marginal):
    rng = np.random.default_rng(3)
    y, pred = _draw(rng, 700)
    w = rng.uniform(0.5, 2.0, y.size)
    fam = FAMILIES[name]()
    got = fam.fit(y, w, None if marginal else pred)
    # the oracle starts away from the answer
    start = {k: v * 1.1 for k, v in got.items()}
    ref, fref = _mle(name, y, w, None if marginal else pred, start)
    loc = got.get("loc", None) if marginal else pred
    fgot = -np.dot(w, _oracle(name, y - loc, got)) / w.sum()
    assert fgot <= fref + 1e-10
    for k, v in ref.items():
        assert got[k] == pytest.approx(v, rel=1e-4, abs=1e-8), k


@pytest.mark.parametrize("name", list(ORACLES))
def test_weights_equal_repetition(name):
    rng = np.random.default_rng(5)
    y, pred = _draw(rng, 300)
    k = rng.integers(1, 4, y.size)
    fam = FAMILIES[name]()
    a = fam.fit(y, k.astype(float), pred)
    b = fam.fit(np.repeat(y, k), None, np.repeat(pred, k))
    for key in a:
        # fair's optimum lies on a long, flat ridge towards its Laplace limit (c → 0 at
        # c/τ fixed): two numeric fits agree to the optimiser's precision there
        assert a[key] == pytest.approx(b[key], rel=1e-4 if name == "fair" else 1e-6)


def test_huber_on_gaussian_noise_reaches_the_gaussian_limit():
    rng = np.random.default_rng(7)
    pred = rng.normal(size=400)
    y = pred + rng.normal(0, 1.5, 400)
    got = FAMILIES["huber"]().fit(y, None, pred)
    assert math.isinf(got["delta"])
    assert got["sigma"] == pytest.approx(math.sqrt(np.mean((y - pred) ** 2)), rel=1e-12)


# -- end to end


@pytest.fixture
def heavy(write_csv):
    rng = np.random.default_rng(11)
    y, pred = _draw(rng, 500)
    return write_csv("heavy.csv", y=y, y_pred=pred)


@pytest.mark.parametrize("null, alt", [("gaussian", "huber"),
                                       ("laplace", "epsilon_insensitive")])
def test_boundary_lr_tests(heavy, null, alt):
    rep = run_api("compare-noise-models", heavy, families=(null, alt))
    (t,) = [t for t in rep["tests"] if t["kind"] == "likelihood_ratio"]
    assert (t["null"], t["alternative"]) == (null, alt)
    lr = max(2 * (model(rep, null)["nll"] - model(rep, alt)["nll"]), 0.0)
    assert t["statistic"] == pytest.approx(lr, rel=1e-9)
    expected = 0.5 * stats.chi2.sf(lr, 1) if lr > 0 else 1.0
    assert t["p_value"] == pytest.approx(expected, rel=1e-9)
    default = run_api("compare-noise-models", heavy)
    assert alt not in [m["family"] for m in default["models"]]


def test_all_runs_every_applicable_family(heavy):
    rep = run_api("compare-noise-models", heavy, families=("all",))
    fitted = {m["family"] for m in rep["models"]} | {s["family"] for s in rep["skipped"]}
    applicable = {n for n, c in FAMILIES.items() if "real" in c.applies_to}
    assert applicable <= {m["family"] for m in rep["models"]}
    assert fitted == set(FAMILIES)
    ev = run_api("evaluate", heavy, families=("all",))
    assert {m["family"] for m in ev["models"]} == applicable


def test_all_on_a_real_sample_file():
    from tests.conftest import SAMPLES

    path = SAMPLES / "regression.csv"
    if not path.exists():
        pytest.skip("no regression sample")
    rep = run_api("compare-noise-models", path, families=("all",))
    for name in ("huber", "pseudo_huber", "fair", "epsilon_insensitive", "quantile"):
        assert name in {m["family"] for m in rep["models"]}


def test_fix_huber_delta(heavy):
    rep = run_api("compare-noise-models", heavy, families=("huber",), fix=("huber.delta=1",))
    m = model(rep, "huber")
    assert m["fixed"] == {"delta": 1.0}
    y = np.loadtxt(heavy, delimiter=",", skiprows=1)
    r = y[:, 0] - y[:, 1]
    res = optimize.minimize_scalar(lambda s: -huber_logpdf(r, math.exp(s), 1.0).sum(),
                                   bracket=(-1, 1), tol=1e-12)
    assert m["params"]["sigma"] == pytest.approx(math.exp(res.x), rel=1e-4)


def test_batch_rows_gives_the_same_json(heavy):
    for name in ("huber", "epsilon_insensitive", "fair"):
        a = run_api("evaluate", heavy, families=(name,))
        b = run_api("evaluate", heavy, families=(name,), batch_rows=7)
        a.pop("timing", None)
        b.pop("timing", None)
        assert_same({"models": a["models"]}, {"models": b["models"]})


def test_cli_evaluate_and_unknown_family(heavy):
    p = run_cli("evaluate", heavy, "-f", "pseudo_huber", "--format", "json")
    assert p.returncode == 0, p.stderr
    rep = json.loads(p.stdout)
    assert model(rep, "pseudo_huber")["params"]["sigma"] > 0
    p = run_cli("evaluate", heavy, "-f", "hubber")
    assert p.returncode == 2
    assert p.stderr.decode().startswith("error:") and "or all" in p.stderr.decode()


def test_integer_targets_are_discretised(write_csv):
    rng = np.random.default_rng(2)
    pred = rng.uniform(2, 8, 300)
    y = np.round(pred + rng.logistic(0.0, 1.2, 300))
    path = write_csv("ints.csv", y=y, y_pred=pred)
    for name in ORACLES:
        rep = run_api("compare-noise-models", path, families=(name,))
        assert rep["base_measure"] == "counting"
        m = model(rep, name)
        fam = FAMILIES[name]()
        params = {k: (math.inf if v is None else v) for k, v in m["params"].items()}
        ll = []
        for yi, pi in zip(y, pred, strict=True):
            def f(t, pi=pi, name=name, params=params):
                return math.exp(_oracle(name, np.array([t - pi]), params)[0])
            ll.append(math.log(integrate.quad(f, yi - 0.5, yi + 0.5, epsabs=0,
                                              epsrel=1e-12)[0]))
        assert m["nll"] == pytest.approx(-sum(ll), rel=1e-8), name
        del fam


def test_bad_target_is_one_error_line(write_csv):
    path = write_csv("bad.csv", y=["1.5", "2", "x", "4"], y_pred=[1.0, 2.0, 3.0, 4.0])
    p = run_cli("evaluate", path, "-f", "huber")
    assert p.returncode == 1
    lines = p.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "row" in lines[0]


def test_fair_names_its_laplace_limit_when_the_fit_runs_off():
    from losscli.errors import FitError

    rng = np.random.default_rng(9)
    pred = rng.normal(size=400)
    y = pred + rng.standard_cauchy(400)
    try:
        got = FAMILIES["fair"]().fit(y, None, pred)
    except FitError as exc:
        assert "Laplace limit" in str(exc)
    else:  # an interior maximum: it must beat the Laplace fit at the same location
        r = y - pred
        b = np.mean(np.abs(r))
        assert fair_logpdf(r, got["c"], got["tau"]).sum() >= stats.laplace.logpdf(r, 0, b).sum()
