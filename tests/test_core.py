"""The four founding families end to end, against independent implementations.

Oracles: statsmodels OLS/GLM log-likelihoods, scikit-learn metrics, scipy.stats, and closed
forms derived here. Never numbers losscli printed.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import optimize, special, stats
from sklearn import metrics as skm

from tests.conftest import model, run_api

RTOL_LL = 1e-9
RTOL_FIT = 1e-4


@pytest.fixture
def regression(write_csv, rng):
    n = 400
    x = rng.normal(size=n)
    y = 1.0 + 2.0 * x + rng.standard_t(4, size=n)
    X = sm.add_constant(x)
    fit = sm.OLS(y, X).fit()
    return write_csv("reg.csv", y=y, y_pred=fit.fittedvalues, x=x), y, fit


@pytest.fixture
def counts(write_csv, rng):
    n = 500
    x = rng.normal(size=n)
    y = rng.poisson(np.exp(0.5 + 0.4 * x))
    fit = sm.GLM(y, sm.add_constant(x), family=sm.families.Poisson()).fit()
    return write_csv("counts.csv", y=y, y_pred=fit.fittedvalues, x=x), y, fit


# ------------------------------------------------------------------ gaussian


def test_gaussian_conditional_matches_statsmodels_ols(regression):
    path, y, ols = regression
    rep = run_api("evaluate", path, families=("gaussian",))
    m = model(rep, "gaussian")
    # OLS's llf uses the ML variance SSR/n: the conditional Gaussian of the fitted values
    assert m["nll"] == pytest.approx(-ols.llf, rel=RTOL_LL)
    assert m["params"]["sigma"] == pytest.approx(math.sqrt(ols.ssr / len(y)), rel=1e-12)
    assert m["n_params"] == 1
    assert m["aic"] == pytest.approx(2 + 2 * m["nll"], rel=1e-12)
    assert m["bic"] == pytest.approx(math.log(len(y)) + 2 * m["nll"], rel=1e-12)
    assert rep["mode"] == "conditional" and rep["base_measure"] == "lebesgue"


def test_gaussian_marginal_matches_scipy_norm(regression):
    path, y, _ = regression
    rep = run_api("evaluate", path, pred=None, families=("gaussian",), probs=())
    # the file has y_pred, so request marginal by naming only the target in a new file
    m = model(rep, "gaussian")
    assert rep["mode"] == "conditional"
    loc, scale = stats.norm.fit(y)  # the ML fit
    marginal = run_api("evaluate", _only_y(path, y), families=("gaussian",))
    mm = model(marginal, "gaussian")
    assert marginal["mode"] == "marginal"
    assert mm["params"]["mean"] == pytest.approx(loc, rel=1e-12)
    assert mm["params"]["sigma"] == pytest.approx(scale, rel=1e-12)
    assert mm["nll"] == pytest.approx(-stats.norm.logpdf(y, loc, scale).sum(), rel=RTOL_LL)
    assert mm["n_params"] == 2
    # the conditional baseline is the marginal fit on the same rows
    assert m["baseline_cross_entropy"] == pytest.approx(mm["cross_entropy"], rel=1e-12)
    assert m["information_gain"] == pytest.approx(
        mm["cross_entropy"] - m["cross_entropy"], rel=1e-12)


def _only_y(path, y):
    out = path.with_name("only_y.csv")
    out.write_text("y\n" + "\n".join(repr(float(v)) for v in y) + "\n")
    return out


def test_gaussian_metrics_match_sklearn(regression):
    path, y, ols = regression
    m = model(run_api("evaluate", path, families=("gaussian",)), "gaussian")["metrics"]
    yhat = ols.fittedvalues
    assert m["mse"] == pytest.approx(skm.mean_squared_error(y, yhat), rel=1e-12)
    assert m["rmse"] == pytest.approx(math.sqrt(skm.mean_squared_error(y, yhat)), rel=1e-12)
    assert m["mae"] == pytest.approx(skm.mean_absolute_error(y, yhat), rel=1e-12)
    assert m["r2"] == pytest.approx(skm.r2_score(y, yhat), rel=1e-12)


def test_spacing_entropy_is_scipys_on_residuals(regression):
    path, y, ols = regression
    m = model(run_api("evaluate", path, families=("gaussian",)), "gaussian")
    h = stats.differential_entropy(y - ols.fittedvalues)
    assert m["entropy_method"] == "spacing"
    assert m["entropy"] == pytest.approx(h, rel=1e-12)
    assert m["kl"] == pytest.approx(m["cross_entropy"] - h, rel=1e-12)


# ------------------------------------------------------------------ poisson


def test_poisson_conditional_matches_statsmodels_glm(counts):
    path, y, glm = counts
    rep = run_api("evaluate", path)
    m = model(rep, "poisson")
    assert rep["target_kind"] == "count"
    assert m["nll"] == pytest.approx(-glm.llf, rel=RTOL_LL)
    assert m["n_params"] == 0
    assert m["entropy_method"] == "hard-labels" and m["entropy"] == 0.0
    assert m["kl"] == m["cross_entropy"]
    mu = glm.fittedvalues
    assert m["metrics"]["mean_deviance"] == pytest.approx(
        skm.mean_poisson_deviance(y, mu), rel=1e-10)
    assert m["metrics"]["d2"] == pytest.approx(skm.d2_tweedie_score(y, mu, power=1), rel=1e-10)
    # normalised entropy: CE over the constant-mean model's CE
    base = -stats.poisson.logpmf(y, y.mean()).mean()
    assert m["baseline_cross_entropy"] == pytest.approx(base, rel=RTOL_LL)
    assert m["normalized_entropy"] == pytest.approx(m["cross_entropy"] / base, rel=1e-9)


def test_poisson_marginal_plug_in_entropy_and_kl(write_csv):
    y = np.array([0, 1, 1, 2, 2, 2, 3, 5, 0, 1])
    rep = run_api("evaluate", write_csv("c.csv", y=y))
    m = model(rep, "poisson")
    mu = y.mean()
    assert m["params"]["mean"] == pytest.approx(mu, rel=1e-15)
    assert m["nll"] == pytest.approx(-stats.poisson.logpmf(y, mu).sum(), rel=RTOL_LL)
    _, c = np.unique(y, return_counts=True)
    f = c / c.sum()
    h = -(f * np.log(f)).sum()
    assert m["entropy_method"] == "plug-in"
    assert m["entropy"] == pytest.approx(h, rel=1e-12)
    assert m["kl"] >= 0
    # KL(P̂‖Q) computed directly over the support
    vals = np.unique(y)
    kl = (f * (np.log(f) - stats.poisson.logpmf(vals, mu))).sum()
    assert m["kl"] == pytest.approx(kl, rel=1e-9)


# ------------------------------------------------------------------ bernoulli


@pytest.fixture
def binary(write_csv, rng):
    n = 300
    p = rng.uniform(0.02, 0.98, n)
    y = (rng.random(n) < p).astype(int)
    return write_csv("bin.csv", y=y, p=p), y, p


def test_bernoulli_matches_sklearn(binary):
    path, y, p = binary
    rep = run_api("evaluate", path)
    m = model(rep, "bernoulli")
    assert rep["target_kind"] == "binary"
    assert m["cross_entropy"] == pytest.approx(skm.log_loss(y, p), rel=RTOL_LL)
    assert m["metrics"]["brier"] == pytest.approx(skm.brier_score_loss(y, p), rel=1e-12)
    assert m["metrics"]["accuracy"] == pytest.approx(
        skm.accuracy_score(y, (p > 0.5).astype(int)), rel=1e-12)
    base = skm.log_loss(y, np.full(len(y), y.mean()))
    assert m["baseline_cross_entropy"] == pytest.approx(base, rel=RTOL_LL)
    assert m["normalized_entropy"] == pytest.approx(m["cross_entropy"] / base, rel=1e-9)


def test_bernoulli_logits_are_stable(write_csv):
    z = np.array([-1e4, -50.0, -3.0, 0.0, 2.0, 40.0, 1e4])
    y = np.array([0, 1, 0, 1, 1, 0, 1])
    rep = run_api("evaluate", write_csv("z.csv", y=y, z=z), logits=("z",))
    ll = np.where(y == 1, special.log_expit(z), special.log_expit(-z))
    assert model(rep, "bernoulli")["nll"] == pytest.approx(-ll.sum(), rel=RTOL_LL)
    assert rep["input"]["clipped"] == 0


def test_ece_closed_form(write_csv):
    # four rows; confidences 0.9 (correct), 0.9 (wrong), 0.6 (correct), 0.7 (correct)
    y = np.array([1, 0, 1, 0])
    p = np.array([0.9, 0.9, 0.6, 0.3])
    m = model(run_api("evaluate", write_csv("e.csv", y=y, p=p)), "bernoulli")["metrics"]
    # bins (0.8667, 0.9333]: acc 1/2, conf 0.9; (0.5333, 0.6]: acc 1, conf 0.6;
    # (0.6667, 0.7333]: acc 1, conf 0.7
    expected = (2 / 4) * abs(0.5 - 0.9) + (1 / 4) * abs(1 - 0.6) + (1 / 4) * abs(1 - 0.7)
    assert m["ece"] == pytest.approx(expected, rel=1e-12)


def test_clipping_is_counted_and_eps_zero_is_exact(write_csv):
    y = np.array([1, 0, 1, 0])
    p = np.array([1.0, 0.0, 0.5, 0.25])
    path = write_csv("clip.csv", y=y, p=p)
    rep = run_api("evaluate", path)
    eps = np.finfo(float).eps
    assert rep["input"]["clipped"] == 2
    pc = np.clip(p, eps, 1 - eps)
    expected = -np.mean(y * np.log(pc) + (1 - y) * np.log1p(-pc))
    assert model(rep, "bernoulli")["cross_entropy"] == pytest.approx(expected, rel=1e-9)
    rep0 = run_api("evaluate", path, eps=0.0)
    assert rep0["input"]["clipped"] == 0
    assert model(rep0, "bernoulli")["cross_entropy"] == pytest.approx(
        -(np.log(0.5) + np.log(0.75)) / 4, rel=1e-12)


def test_soft_binary_labels(write_csv, rng):
    t = rng.uniform(0, 1, 50)
    q = rng.uniform(0.05, 0.95, 50)
    rep = run_api("evaluate", write_csv("s.csv", t=t, q=q), soft_target=("t",), probs=("q",))
    m = model(rep, "bernoulli")
    ce = -np.mean(t * np.log(q) + (1 - t) * np.log1p(-q))
    h = np.mean(stats.entropy(np.stack([t, 1 - t])))
    assert rep["target_kind"] == "soft_binary"
    assert m["cross_entropy"] == pytest.approx(ce, rel=RTOL_LL)
    assert m["entropy_method"] == "soft-labels"
    assert m["entropy"] == pytest.approx(h, rel=1e-12)
    assert m["kl"] == pytest.approx(
        np.mean(t * np.log(t / q) + (1 - t) * np.log((1 - t) / (1 - q))), rel=1e-9)


# ------------------------------------------------------------------ categorical


@pytest.fixture
def multiclass(write_csv, rng):
    n, classes = 400, ["cat", "dog", "emu"]
    logits = rng.normal(size=(n, 3))
    P = special.softmax(logits, axis=1)
    labels = np.array([rng.choice(3, p=row) for row in P])
    cols = {"label": np.array(classes)[labels]}
    cols.update({f"p_{c}": P[:, k] for k, c in enumerate(classes)})
    return write_csv("mc.csv", **cols), labels, P, logits


def test_categorical_matches_sklearn(multiclass):
    path, labels, P, _ = multiclass
    rep = run_api("evaluate", path)
    m = model(rep, "categorical")
    assert rep["target_kind"] == "categorical"
    assert m["cross_entropy"] == pytest.approx(
        skm.log_loss(labels, P, labels=[0, 1, 2]), rel=RTOL_LL)
    onehot = np.eye(3)[labels]
    assert m["metrics"]["brier"] == pytest.approx(((P - onehot) ** 2).sum(1).mean(), rel=1e-12)
    assert m["metrics"]["accuracy"] == pytest.approx(
        skm.accuracy_score(labels, P.argmax(1)), rel=1e-12)
    freq = np.bincount(labels, minlength=3) / len(labels)
    assert m["baseline_cross_entropy"] == pytest.approx(
        -np.log(freq[labels]).mean(), rel=RTOL_LL)


def test_categorical_logits_log_softmax(multiclass, write_csv):
    _, labels, _, logits = multiclass
    path = write_csv("lg.csv", y=labels, **{f"z_{k}": logits[:, k] for k in range(3)})
    rep = run_api("evaluate", path, logits=("z_*",))
    ll = special.log_softmax(logits, axis=1)[np.arange(len(labels)), labels]
    assert model(rep, "categorical")["nll"] == pytest.approx(-ll.sum(), rel=RTOL_LL)


def test_categorical_marginal_params_and_kl(write_csv):
    labels = np.array(["a", "b", "b", "c", "c", "c"])
    rep = run_api("evaluate", write_csv("l.csv", label=labels))
    m = model(rep, "categorical")
    assert m["params"] == pytest.approx({"a": 1 / 6, "b": 2 / 6, "c": 3 / 6})
    assert m["n_params"] == 2
    assert m["entropy_method"] == "plug-in"
    # the marginal fit is the empirical distribution: KL = 0
    assert m["kl"] == pytest.approx(0.0, abs=1e-12)


# ------------------------------------------------------------------ discretised gaussian


def test_discretised_gaussian_fit_matches_independent_mle(counts):
    path, y, glm = counts
    rep = run_api("compare-noise-models", path)
    assert rep["base_measure"] == "counting"
    m = model(rep, "gaussian")
    mu = glm.fittedvalues

    def nll(log_s):
        s = math.exp(log_s)
        p = stats.norm.cdf(y + 0.5, mu, s) - stats.norm.cdf(y - 0.5, mu, s)
        with np.errstate(divide="ignore"):
            return -np.log(p).sum()

    res = optimize.minimize_scalar(nll, bounds=(-1, 3), method="bounded",
                                   options={"xatol": 1e-12})
    assert m["params"]["sigma"] == pytest.approx(math.exp(res.x), rel=RTOL_FIT)
    assert m["nll"] == pytest.approx(nll(math.log(m["params"]["sigma"])), rel=1e-9)


def test_interval_probabilities_sum_to_one_and_match_scipy():
    from losscli.noise.gaussian import Gaussian

    g = Gaussian()
    grid = np.arange(-400.0, 401.0)
    for mu, sigma in [(0.3, 0.2), (7.7, 3.0), (-20.0, 40.0)]:
        lp = g.interval_loglik(grid, mu, {"sigma": sigma})
        assert np.exp(lp).sum() == pytest.approx(1.0, abs=1e-12)
        mid = np.abs(grid - mu) < 3 * sigma + 1
        ref = np.log(stats.norm.cdf(grid[mid] + 0.5, mu, sigma)
                     - stats.norm.cdf(grid[mid] - 0.5, mu, sigma))
        assert np.allclose(lp[mid], ref, rtol=1e-9)
    # far tail: log(S(a) - S(b)) with scipy's logsf, where 1 - F would underflow
    lp = g.interval_loglik(np.array([30.0]), 0.0, {"sigma": 1.0})
    a, b = stats.norm.logsf(29.5), stats.norm.logsf(30.5)
    assert lp[0] == pytest.approx(a + math.log1p(-math.exp(b - a)), rel=1e-12)


# ------------------------------------------------------------------ model selection


def test_vuong_statistic_by_hand(counts):
    path, y, glm = counts
    rep = run_api("compare-noise-models", path, families=("gaussian", "poisson"))
    mu = glm.fittedvalues
    sigma = model(rep, "gaussian")["params"]["sigma"]
    ll_p = stats.poisson.logpmf(y, mu)
    ll_g = np.log(stats.norm.cdf(y + 0.5, mu, sigma) - stats.norm.cdf(y - 0.5, mu, sigma))
    best = rep["best"]
    d = (ll_p - ll_g) if best == "poisson" else (ll_g - ll_p)
    z = math.sqrt(len(d)) * d.mean() / d.std()
    (t,) = [t for t in rep["tests"] if t["kind"] == "vuong"]
    assert t["alternative"] == best
    assert t["statistic"] == pytest.approx(z, rel=1e-7)
    assert t["p_value"] == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-6)


def test_ranking_weights_and_recommendation(counts):
    path, _, _ = counts
    rep = run_api("compare-noise-models", path)
    aics = [m["aic"] for m in rep["models"]]
    assert aics == sorted(aics)
    assert [m["rank"] for m in rep["models"]] == list(range(1, len(aics) + 1))
    rel = np.exp(-(np.array(aics) - min(aics)) / 2)
    assert [m["akaike_weight"] for m in rep["models"]] == pytest.approx(list(rel / rel.sum()))
    best = rep["models"][0]
    assert rep["best"] == best["family"] == rep["recommendation"]["family"]
    for m in rep["models"]:
        assert m["delta_cross_entropy"] == pytest.approx(
            m["cross_entropy"] - best["cross_entropy"], abs=1e-15)
    skipped = {s["family"] for s in rep["skipped"]}
    assert {"bernoulli", "categorical"} <= skipped


def test_bits_are_nats_over_ln2(counts):
    path, _, _ = counts
    nats = run_api("compare-noise-models", path)
    bits = run_api("compare-noise-models", path, unit="bits")
    assert bits["unit"] == "bits"
    for a, b in zip(nats["models"], bits["models"], strict=True):
        for k in ("nll", "cross_entropy", "entropy", "kl", "baseline_cross_entropy",
                  "information_gain", "delta_cross_entropy"):
            assert b[k] == pytest.approx(a[k] / math.log(2), rel=1e-12, abs=1e-300)
        assert b["aic"] == a["aic"]  # criteria stay on the nats scale


@pytest.mark.parametrize("n", [5, 50, 999, 1001, 4000, 20001])
def test_differential_entropy_is_scipys(n, rng):
    from losscli.entropy import differential_entropy

    x = rng.standard_t(3, size=n)
    assert differential_entropy(x) == pytest.approx(stats.differential_entropy(x), rel=1e-12)
