"""SPEC §10.1 `params_se`: √diag of the inverse observed information at the MLE, checked
against numdifftools' Hessian of −Σ w log q written here from scipy.stats, against the
closed forms derived below, at boundaries, and weighted against expanded rows."""

from __future__ import annotations

import math

import numdifftools as nd
import numpy as np
import pytest
from scipy import special, stats

import losscli

RNG = np.random.default_rng(20261207)
N = 400
X = RNG.normal(size=N)


def _real():
    pred = 1.0 + 0.5 * X
    return {"y": pred + 1.3 * RNG.standard_t(6, size=N), "pred": pred}


def _counts():
    mu = np.exp(1.0 + 0.3 * X)
    return {"y": RNG.negative_binomial(1 / 0.4, 1 / (1 + 0.4 * mu)).astype(float),
            "pred": mu}


def _positive():
    mu = np.exp(0.5 + 0.3 * X)
    return {"y": RNG.gamma(3.0, mu / 3.0), "pred": mu}


def _unit():
    m = special.expit(0.4 * X)
    return {"y": RNG.beta(m * 8, (1 - m) * 8), "pred": m}


def _nb(y, mu, a):
    return stats.nbinom.logpmf(y, 1 / a, 1 / (1 + a * mu))


def _aq(y, q, tau, s):  # SPEC §9.3's quantile density, as scipy's asymmetric Laplace
    return stats.laplace_asymmetric.logpdf(y, math.sqrt(tau / (1 - tau)), q,
                                           s / math.sqrt(tau * (1 - tau)))


# family, data, conditional?, parameter order, oracle log q(y | ŷ, θ) (marginal: θ alone)
CASES = [
    ("gaussian", _real, True, ("sigma",), lambda y, p, s: stats.norm.logpdf(y, p, s)),
    ("gaussian", _real, False, ("mean", "sigma"), lambda y, p, m, s: stats.norm.logpdf(y, m, s)),
    ("laplace", _real, True, ("scale",), lambda y, p, b: stats.laplace.logpdf(y, p, b)),
    ("student_t", _real, True, ("df", "scale"),
     lambda y, p, d, s: stats.t.logpdf(y, d, p, s)),
    ("student_t", _real, False, ("loc", "df", "scale"),
     lambda y, p, m, d, s: stats.t.logpdf(y, d, m, s)),
    ("negative_binomial", _counts, True, ("alpha",), lambda y, p, a: _nb(y, p, a)),
    ("negative_binomial", _counts, False, ("mean", "alpha"),
     lambda y, p, m, a: _nb(y, m, a)),
    ("poisson", _counts, False, ("mean",), lambda y, p, m: stats.poisson.logpmf(y, m)),
    ("gamma", _positive, True, ("shape",),
     lambda y, p, k: stats.gamma.logpdf(y, k, scale=p / k)),
    ("gamma", _positive, False, ("mean", "shape"),
     lambda y, p, m, k: stats.gamma.logpdf(y, k, scale=m / k)),
    ("lognormal", _positive, True, ("sigma",),
     lambda y, p, s: stats.lognorm.logpdf(y, s, scale=p)),
    ("lognormal", _positive, False, ("median", "sigma"),
     lambda y, p, m, s: stats.lognorm.logpdf(y, s, scale=m)),
    ("beta", _unit, True, ("precision",),
     lambda y, p, f: stats.beta.logpdf(y, p * f, (1 - p) * f)),
    ("beta", _unit, False, ("mean", "precision"),
     lambda y, p, m, f: stats.beta.logpdf(y, m * f, (1 - m) * f)),
    ("quantile", _real, True, ("tau", "scale"), lambda y, p, t, s: _aq(y, p, t, s)),
]


def _oracle_se(logq, y, pred, theta, w=None):
    w = np.ones_like(y) if w is None else w

    def nll(t):
        return -float(np.sum(w * logq(y, pred, *t)))

    theta = np.asarray(theta, dtype=float)
    # numdifftools' adaptive steps, from one well inside every parameter's domain
    step = nd.MaxStepGenerator(base_step=1e-2 * float(np.min(np.abs(theta))))
    hess = nd.Hessian(nll, step=step)(theta)
    return np.sqrt(np.diag(np.linalg.inv(hess)))


@pytest.mark.parametrize(("family", "data", "conditional", "names", "logq"), CASES,
                         ids=[f"{c[0]}-{'cond' if c[2] else 'marg'}" for c in CASES])
def test_se_is_the_inverse_observed_information(family, data, conditional, names, logq):
    d = data()
    cols = d if conditional else {"y": d["y"]}
    m = losscli.evaluate(cols, family=family).to_dict()["models"][0]
    assert set(m["params_se"]) == set(names)
    theta = [m["params"][k] for k in names]
    want = _oracle_se(logq, d["y"], d["pred"], theta)
    got = np.array([m["params_se"][k] for k in names])
    np.testing.assert_allclose(got, want, rtol=2e-4)


def test_laplace_median_has_no_se_and_the_scale_is_b_over_root_w():
    d = _real()
    rep = losscli.evaluate({"y": d["y"]}, family="laplace").to_dict()
    m = rep["models"][0]
    assert m["params_se"]["median"] is None
    assert any("params_se.median is null" in w and "not differentiable" in w
               for w in rep["warnings"])
    b = m["params"]["scale"]
    assert m["params_se"]["scale"] == pytest.approx(b / math.sqrt(N), rel=1e-12)
    # the oracle: the Hessian in b alone, the median held
    want = _oracle_se(lambda y, p, s: stats.laplace.logpdf(y, m["params"]["median"], s),
                      d["y"], None, [b])
    assert m["params_se"]["scale"] == pytest.approx(want[0], rel=1e-6)


def test_closed_forms():
    d = _real()
    W = float(N)
    g = losscli.evaluate(d, family="gaussian").to_dict()["models"][0]
    assert g["params_se"]["sigma"] == pytest.approx(
        g["params"]["sigma"] / math.sqrt(2 * W), rel=1e-12)
    gm = losscli.evaluate({"y": d["y"]}, family="gaussian").to_dict()["models"][0]
    assert gm["params_se"]["mean"] == pytest.approx(gm["params"]["sigma"] / math.sqrt(W),
                                                    rel=1e-12)
    lap = losscli.evaluate(d, family="laplace").to_dict()["models"][0]
    assert lap["params_se"]["scale"] == pytest.approx(lap["params"]["scale"] / math.sqrt(W),
                                                      rel=1e-12)
    c = _counts()
    po = losscli.evaluate({"y": c["y"]}, family="poisson").to_dict()["models"][0]
    assert po["params_se"]["mean"] == pytest.approx(math.sqrt(np.mean(c["y"]) / W),
                                                    rel=1e-12)
    pos = _positive()
    ga = losscli.evaluate(pos, family="gamma").to_dict()["models"][0]
    k = ga["params"]["shape"]
    assert ga["params_se"]["shape"] == pytest.approx(
        (W * (special.polygamma(1, k) - 1 / k)) ** -0.5, rel=1e-12)
    b = (RNG.random(N) < 0.3).astype(float)
    be = losscli.evaluate({"y": b}, family="bernoulli").to_dict()["models"][0]
    p = b.mean()
    assert be["params_se"]["p"] == pytest.approx(math.sqrt(p * (1 - p) / W), rel=1e-12)


def test_categorical_marginal_probabilities():
    labels = RNG.choice(np.array(["a", "b", "c"]), size=N, p=[0.5, 0.3, 0.2])
    m = losscli.evaluate({"y": labels}, family="categorical").to_dict()["models"][0]
    p = {k: float(np.mean(labels == k)) for k in "abc"}
    # the oracle: the Hessian over the K − 1 free probabilities, the last 1 − Σ; its
    # variance is 1ᵀΣ1
    counts = np.array([np.sum(labels == k) for k in "abc"], dtype=float)

    def nll(t):
        return -float(np.sum(counts * np.log(np.append(t, 1 - np.sum(t)))))

    cov = np.linalg.inv(nd.Hessian(nll)(np.array([p["a"], p["b"]])))
    want = {"a": math.sqrt(cov[0, 0]), "b": math.sqrt(cov[1, 1]),
            "c": math.sqrt(cov.sum())}
    for k in "abc":
        assert m["params_se"][k] == pytest.approx(math.sqrt(p[k] * (1 - p[k]) / N),
                                                  rel=1e-12)
        assert m["params_se"][k] == pytest.approx(want[k], rel=1e-6)


def test_boundary_estimates_have_null_se_and_the_others_are_held_there():
    # under-dispersed counts: α̂ = 0, the mean's se then the Poisson's √(ȳ/W)
    y = RNG.binomial(6, 0.5, size=N).astype(float)
    rep = losscli.evaluate({"y": y}, family="negative_binomial").to_dict()
    m = rep["models"][0]
    assert m["params"]["alpha"] == 0
    assert m["params_se"]["alpha"] is None
    assert m["params_se"]["mean"] == pytest.approx(math.sqrt(y.mean() / N), rel=1e-5)
    assert any("params_se.alpha is null" in w for w in rep["warnings"])
    # light tails: ν̂ = ∞, the scale's se then the Gaussian's σ/√(2W)
    r = RNG.uniform(-1, 1, size=N)
    t = losscli.evaluate({"y": r, "pred": np.zeros(N)}, family="student_t").to_dict()
    m = t["models"][0]
    assert m["params"]["df"] is None
    assert m["params_se"]["df"] is None
    s = m["params"]["scale"]
    assert m["params_se"]["scale"] == pytest.approx(s / math.sqrt(2 * N), rel=1e-5)
    # p at a bound
    zeros = losscli.evaluate({"y": np.zeros(N)}, family="bernoulli").to_dict()
    assert zeros["models"][0]["params_se"] == {"p": None}


def test_weighted_equals_expanded():
    d = _real()
    w = RNG.integers(1, 4, size=N)
    y, pred = d["y"], d["pred"]
    weighted = losscli.evaluate({"y": y, "pred": pred, "w": w.astype(float)},
                                family="student_t", weight="w").to_dict()["models"][0]
    expanded = losscli.evaluate({"y": np.repeat(y, w), "pred": np.repeat(pred, w)},
                                family="student_t").to_dict()["models"][0]
    for k in ("df", "scale"):
        assert weighted["params_se"][k] == pytest.approx(expanded["params_se"][k], rel=1e-5)
    want = _oracle_se(lambda yy, p, dd, s: stats.t.logpdf(yy, dd, p, s), y, pred,
                      [weighted["params"]["df"], weighted["params"]["scale"]], w)
    np.testing.assert_allclose([weighted["params_se"]["df"], weighted["params_se"]["scale"]],
                               want, rtol=2e-4)


def test_fixed_and_per_row_parameters_have_no_se():
    d = _real()
    m = losscli.evaluate(d, family="student_t", fix={"df": 5}).to_dict()["models"][0]
    assert set(m["params_se"]) == {"scale"}
    want = _oracle_se(lambda y, p, s: stats.t.logpdf(y, 5, p, s), d["y"], d["pred"],
                      [m["params"]["scale"]])
    assert m["params_se"]["scale"] == pytest.approx(want[0], rel=2e-4)
    s = np.full(N, 1.3)
    m = losscli.evaluate({**d, "s": s}, family="student_t",
                         param={"scale": "s"}).to_dict()["models"][0]
    assert set(m["params_se"]) == {"df"}
    want = _oracle_se(lambda y, p, df: stats.t.logpdf(y, df, p, s), d["y"], d["pred"],
                      [m["params"]["df"]])
    assert m["params_se"]["df"] == pytest.approx(want[0], rel=2e-4)


def test_a_fit_on_a_sample_has_the_information_of_the_sample():
    n = 2000
    y = RNG.standard_t(5, size=n)
    full = losscli.evaluate({"y": y, "pred": np.zeros(n)},
                            family="student_t").to_dict()["models"][0]
    part = losscli.evaluate({"y": y, "pred": np.zeros(n)}, family="student_t",
                            fit_rows=200).to_dict()["models"][0]
    assert part["fit_rows"] == 200
    # the information grows with the rows: ten times fewer rows, √10 times the se
    ratio = part["params_se"]["scale"] / full["params_se"]["scale"]
    assert 2.0 < ratio < 5.0


def test_the_table_shows_each_parameter_with_its_se():
    d = _real()
    rep = losscli.evaluate(d, family="gaussian")
    se = rep.to_dict()["models"][0]["params_se"]["sigma"]
    from losscli.render_grid import num

    assert f"± {num(se)}" in str(rep)


def test_discretised_families_use_the_interval_likelihood():
    c = _counts()
    rep = losscli.compare_noise_models(c, family=["gaussian", "poisson"]).to_dict()
    g = next(m for m in rep["models"] if m["family"] == "gaussian")
    assert g["base_measure"] == "counting"
    s = g["params"]["sigma"]

    def logq(y, p, sigma):
        return np.log(stats.norm.cdf(y + 0.5, p, sigma) - stats.norm.cdf(y - 0.5, p, sigma))

    want = _oracle_se(logq, c["y"], c["pred"], [s])
    assert g["params_se"]["sigma"] == pytest.approx(want[0], rel=2e-4)
    # not the density's closed form
    assert abs(g["params_se"]["sigma"] / (s / math.sqrt(2 * N)) - 1) > 1e-3


def test_a_fit_polished_on_every_row_has_the_information_of_every_row(monkeypatch):
    """--fit-rows all on more rows than the sample holds: Newton passes over every row,
    whose last pass gives the Hessian (here a 300-row sample of 1,500 rows)."""
    import losscli.run

    monkeypatch.setattr(losscli.run, "DEFAULT_FIT_ROWS", 300)
    n = 1500
    y = RNG.standard_t(5, size=n) * 2.0
    pred = np.zeros(n)
    m = losscli.evaluate({"y": y, "pred": pred}, family="student_t",
                         fit_rows="all").to_dict()["models"][0]
    assert m["fit_rows"] == n
    want = _oracle_se(lambda yy, p, d, s: stats.t.logpdf(yy, d, p, s), y, pred,
                      [m["params"]["df"], m["params"]["scale"]])
    np.testing.assert_allclose([m["params_se"]["df"], m["params_se"]["scale"]], want,
                               rtol=1e-4)


def _interval(dist):
    """log P of the unit interval around y (its lower end clipped at 0 for y = 0)."""
    def logq(y, p, theta):
        d = dist(p, theta)
        return np.log(d.cdf(y + 0.5) - d.cdf(np.maximum(y - 0.5, 0.0)))

    return logq


# the discretised fits by Newton's method on the interval score hand their last step's
# information to params_se: it must be the oracle's Hessian at the fit, on the fit's rows
NEWTON_COUNTING = [
    ("gamma", "shape", _interval(lambda p, k: stats.gamma(a=k, scale=p / k))),
    ("inverse_gaussian", "dispersion",
     _interval(lambda p, f: stats.invgauss(mu=f * p, scale=1.0 / f))),
    ("lognormal", "sigma", _interval(lambda p, s: stats.lognorm(s=s, scale=p))),
]


@pytest.mark.parametrize(("family", "name", "logq"), NEWTON_COUNTING,
                         ids=[c[0] for c in NEWTON_COUNTING])
@pytest.mark.parametrize("fit_rows", [None, 250])
def test_a_newton_counting_fit_brings_its_information(family, name, logq, fit_rows,
                                                      monkeypatch):
    from losscli import information
    from losscli.reduce import seeded_rows
    from losscli.scan import SAMPLE_SEED

    def no_differences(*a, **k):
        raise AssertionError("the se took a Hessian of its own")

    monkeypatch.setattr(information, "observed_information", no_differences)
    c = _counts()
    rep = losscli.compare_noise_models(c, family=[family, "poisson"], fit_rows=fit_rows)
    m = next(m for m in rep.to_dict()["models"] if m["family"] == family)
    assert m["base_measure"] == "counting"
    rows = np.arange(N) if fit_rows is None else seeded_rows(N, fit_rows, SAMPLE_SEED)
    assert m["fit_rows"] == rows.size
    want = _oracle_se(logq, c["y"][rows], c["pred"][rows], [m["params"][name]])
    assert m["params_se"][name] == pytest.approx(want[0], rel=1e-5)


@pytest.mark.parametrize("fit_rows", [None, 250])
def test_the_discretised_t_fit_brings_its_information(fit_rows, monkeypatch):
    """ν and σ on the unit intervals: the Hessian of the fit's last Newton point (σ's
    derivatives analytic, ν's central differences), against numdifftools of scipy's t."""
    from losscli import information
    from losscli.reduce import seeded_rows
    from losscli.scan import SAMPLE_SEED

    def no_differences(*a, **k):
        raise AssertionError("the se took a Hessian of its own")

    monkeypatch.setattr(information, "observed_information", no_differences)
    c = _counts()
    rep = losscli.compare_noise_models(c, family=["student_t", "poisson"], fit_rows=fit_rows)
    m = next(m for m in rep.to_dict()["models"] if m["family"] == "student_t")
    rows = np.arange(N) if fit_rows is None else seeded_rows(N, fit_rows, SAMPLE_SEED)
    assert m["fit_rows"] == rows.size and math.isfinite(m["params"]["df"])

    def logq(y, p, d, s):
        t = stats.t(d, p, s)
        return np.log(t.cdf(y + 0.5) - t.cdf(y - 0.5))

    want = _oracle_se(logq, c["y"][rows], c["pred"][rows],
                      [m["params"]["df"], m["params"]["scale"]])
    np.testing.assert_allclose([m["params_se"]["df"], m["params_se"]["scale"]], want,
                               rtol=1e-5)
