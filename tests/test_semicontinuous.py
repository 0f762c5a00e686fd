"""Semicontinuous targets (SPEC §9.1, §9.2, §9.4): the atom-at-zero base measure, the real
families censored at 0 (Tobit), hurdle_gamma, hurdle_lognormal and log1p_normal.

Oracles: scipy.stats log-densities and c.d.f.s (a zero's censored term is logcdf(0)),
scipy.optimize.minimize on weighted sums of those, scipy.stats.*.fit on expanded rows,
scipy.stats.differential_entropy and the binary entropy written here.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import optimize, special, stats

from losscli.kinds import numeric_kind
from losscli.noise import FAMILIES
from losscli.noise.censored import Censored
from losscli.noise.discretised import Discretised
from losscli.noise.hurdle import HurdleGamma, HurdleLogNormal
from losscli.noise.log1p_normal import Log1pNormal
from losscli.noise.measures import ATOM_AT_ZERO, COUNTING, LEBESGUE
from losscli.noise.on_measure import family_on
from tests.conftest import SAMPLES, model, run_api, run_cli
from tests.oracles import interval_logprob
from tests.test_streaming import assert_same

RTOL_LL = 1e-9
RTOL_FIT = 1e-4
COMPARE = "compare-noise-models"


def _claims(rng, n=400, pi=0.35, shape=2.0):
    """Zeros with probability π, else a gamma with mean m/(1 − π): a hurdle gamma."""
    m = np.exp(rng.normal(1.0, 0.4, n))
    y = np.where(rng.uniform(size=n) < pi, 0.0, rng.gamma(shape, m / (1 - pi) / shape))
    w = rng.integers(1, 4, n).astype(float)
    assert (y == 0).any() and (y > 0).any()
    return y, m, w


def _oracle_dist(name, pred, params):
    """The scipy.stats twin of a family (the density the censoring is applied to)."""
    if name == "gaussian":
        return stats.norm(pred, params["sigma"])
    if name == "laplace":
        return stats.laplace(pred, params["scale"])
    if name == "student_t":
        return stats.t(params["df"], pred, params["scale"])
    if name == "log1p_normal":
        return stats.lognorm(s=params["sigma"], scale=1.0 + np.asarray(pred), loc=-1.0)
    raise KeyError(name)


def _tobit(name, y, pred, params):
    """log F(0) at y = 0, log f(y) above, from scipy.stats."""
    d = _oracle_dist(name, pred, params)
    return np.where(y == 0, d.logcdf(0.0), d.logpdf(y))


def _hurdle(name, y, pred, params):
    pi = params["pi"]
    loc = np.asarray(pred) / (1 - pi)
    if name == "hurdle_gamma":
        k = params["shape"]
        d = stats.gamma(k, scale=loc / k)
    else:
        d = stats.lognorm(s=params["sigma"], scale=loc)
    with np.errstate(divide="ignore"):
        return np.where(y == 0, math.log(pi), math.log1p(-pi) + d.logpdf(np.where(y > 0, y, 1.0)))


CENSORED = {"gaussian": {"sigma": 1.7}, "laplace": {"scale": 1.2},
            "student_t": {"df": 3.5, "scale": 1.1}, "log1p_normal": {"sigma": 0.8}}
HURDLES = {"hurdle_gamma": {"pi": 0.3, "shape": 1.8}, "hurdle_lognormal": {"pi": 0.3, "sigma": 0.7}}


# ------------------------------------------------------------------ the measure, the kind


def test_the_measure_censors_densities_and_keeps_point_masses():
    assert ATOM_AT_ZERO.name == "atom_at_zero" and not ATOM_AT_ZERO.discrete
    assert ATOM_AT_ZERO.entropy_method(False, False) == "atom-spacing"
    assert LEBESGUE.entropy_method(False, False) == "spacing"
    for name in ("gaussian", "laplace", "student_t", "log1p_normal", "quantile"):
        fam = family_on(ATOM_AT_ZERO, FAMILIES[name]())
        assert isinstance(fam, Censored) and fam.censors, name
        assert fam.measure is ATOM_AT_ZERO and "censored at 0" in fam.loss
    # gamma's density has no mass below 0 to censor: left as it is (its support skips it)
    assert not isinstance(family_on(ATOM_AT_ZERO, FAMILIES["gamma"]()), Censored)
    # the hurdles are declared on the measure
    assert family_on(ATOM_AT_ZERO, HurdleGamma()).__class__ is HurdleGamma
    assert isinstance(family_on(COUNTING, Log1pNormal()), Discretised)

    class MassAtZero(HurdleGamma):
        """A family with a point mass at 0 declared on the Lebesgue measure (as a family
        that is a density on positive targets, tweedie, is)."""

        measure = LEBESGUE

    fam = family_on(ATOM_AT_ZERO, MassAtZero())
    assert isinstance(fam, Censored) and not fam.censors and fam.measure is ATOM_AT_ZERO
    y, m, _ = _claims(np.random.default_rng(0), 50)
    params = HURDLES["hurdle_gamma"]
    np.testing.assert_allclose(fam.loglik(y, m, params), _hurdle("hurdle_gamma", y, m, params),
                               rtol=RTOL_LL)


@pytest.mark.parametrize(("whole", "negative", "nonpositive", "above_one", "kind"), [
    (False, False, True, True, "semicontinuous"),  # zeros and non-integers
    (True, False, True, True, "count"),  # all integers
    (False, False, False, True, "positive"),  # no zeros
    (False, False, True, False, "proportion"),  # zeros and fractions, all in [0, 1]
    (False, True, True, True, "real"),  # negatives
])
def test_numeric_kind(whole, negative, nonpositive, above_one, kind):
    assert numeric_kind(whole, negative, nonpositive, above_one) == kind


def test_kind_detection_from_files(write_csv):
    cases = {"semicontinuous": [0.0, 0.0, 1.5, 3.25, 7.0, 0.5],
             "count": [0.0, 0.0, 1.0, 3.0, 7.0, 2.0],
             "positive": [0.25, 1.5, 3.25, 7.0, 0.5, 2.0]}
    for kind, y in cases.items():
        rep = run_api("evaluate", write_csv(f"{kind}.csv", y=y))
        assert rep["target_kind"] == kind


def test_target_kind_override(write_csv, rng):
    y = rng.gamma(2.0, 1.5, 60)
    rep = run_api(COMPARE, write_csv("pos.csv", y=y), target_kind="semicontinuous")
    assert rep["target_kind"] == "semicontinuous" and rep["base_measure"] == "atom_at_zero"
    assert "hurdle_gamma" in {m["family"] for m in rep["models"]}
    y2, _, _ = _claims(rng, 60)
    rep = run_api("evaluate", write_csv("semi.csv", y=y2), target_kind="real")
    assert rep["base_measure"] == "lebesgue"
    g = model(rep, "gaussian")
    assert g["loss"] == "squared error (MSE)"
    # the data must allow the kind: a negative value
    path = write_csv("neg.csv", y=np.r_[y2, -1.0])
    proc = run_cli("evaluate", path, "--target-kind", "semicontinuous")
    err = proc.stderr.decode()
    assert proc.returncode == 1 and err.count("\n") == 1 and err.startswith("error:")
    assert "row 61" in err and "-1" in err


# ------------------------------------------------------------------ log-likelihoods


@pytest.mark.parametrize("name", CENSORED)
def test_censored_loglik_equals_scipy(name, rng):
    y, m, _ = _claims(rng, 300)
    fam = Censored(FAMILIES[name]())
    params = CENSORED[name]
    np.testing.assert_allclose(fam.loglik(y, m, params), _tobit(name, y, m, params),
                               rtol=RTOL_LL)
    # a scalar prediction (marginal mode) and rows without zeros
    np.testing.assert_allclose(fam.loglik(y, 2.5, params), _tobit(name, y, 2.5, params),
                               rtol=RTOL_LL)
    pos = y > 0
    np.testing.assert_allclose(fam.loglik(y[pos], m[pos], params),
                               _oracle_dist(name, m[pos], params).logpdf(y[pos]), rtol=RTOL_LL)


@pytest.mark.parametrize("name", HURDLES)
def test_hurdle_loglik_equals_scipy(name, rng):
    y, m, _ = _claims(rng, 300)
    fam = FAMILIES[name]()
    params = HURDLES[name]
    np.testing.assert_allclose(fam.loglik(y, m, params), _hurdle(name, y, m, params),
                               rtol=RTOL_LL)
    # P(0) + ∫ f = 1 and the c.d.f. at a positive y: π + (1 − π) G(y)
    assert fam.zero_probability(np.array([2.0]), params)[0] == pytest.approx(0.3)
    loc = 2.0 / 0.7
    g = (stats.gamma(1.8, scale=loc / 1.8) if name == "hurdle_gamma"
         else stats.lognorm(s=0.7, scale=loc)).cdf(1.3)
    assert math.exp(fam.logcdf(np.array([1.3]), np.array([2.0]), params)[0]) == \
        pytest.approx(0.3 + 0.7 * g, rel=1e-12)


def test_log1p_normal_loglik_equals_scipy(rng):
    fam = Log1pNormal()
    m = rng.uniform(0.0, 5.0, 200)
    y = (1 + m) * np.exp(0.6 * rng.standard_normal(200)) - 1
    params = {"sigma": 0.6}
    d = stats.lognorm(s=0.6, scale=1 + m, loc=-1.0)
    np.testing.assert_allclose(fam.loglik(y, m, params), d.logpdf(y), rtol=RTOL_LL)
    np.testing.assert_allclose(fam.logcdf(y, m, params), d.logcdf(y), rtol=RTOL_LL)
    np.testing.assert_allclose(fam.logsf(y, m, params), d.logsf(y), rtol=RTOL_LL)
    # on the integers: log(F(y + ½) − F(max(y − ½, −1)))
    k = np.round(np.maximum(y, 0.0))
    np.testing.assert_allclose(Discretised(fam).loglik(k, m, params),
                               interval_logprob(d, k, lower=-1.0), rtol=RTOL_LL)
    assert fam.frameworks.xgboost == "reg:squaredlogerror"
    assert fam.frameworks.keras == "MeanSquaredLogarithmicError"
    assert fam.frameworks.pytorch is None and fam.transform is None
    assert set(fam.applies_to) == {"count", "positive", "semicontinuous"} and fam.candidate


# ------------------------------------------------------------------ fits


def _mle(nll, x0):
    """BFGS from x0, then Nelder–Mead from there (a tolerance below the rounding noise of
    the sum would let Nelder–Mead spin to its evaluation limit)."""
    res = optimize.minimize(nll, x0, method="BFGS", options={"gtol": 1e-9})
    res = optimize.minimize(nll, res.x, method="Nelder-Mead",
                            options={"xatol": 1e-10, "fatol": 1e-12, "maxfev": 4000})
    return res.x


def _params_of(name, x, conditional):
    """Oracle coordinates → parameters: positive ones on the log scale."""
    names = {"gaussian": ("mean", "sigma"), "laplace": ("median", "scale"),
             "student_t": ("loc", "df", "scale"), "log1p_normal": ("median", "sigma")}[name]
    if conditional:
        names = names[1:]
        x = list(x)
    else:
        x = list(x)
    out = {}
    for k, v in zip(names, x, strict=True):
        out[k] = v if k in ("mean", "median", "loc") else math.exp(v)
    return out


@pytest.mark.parametrize("name", ["gaussian", "student_t", "log1p_normal", "laplace"])
@pytest.mark.parametrize("conditional", [True, False])
def test_censored_fit_equals_an_independent_mle(name, conditional, rng):
    y, m, w = _claims(rng, 300)
    fam = Censored(FAMILIES[name]())
    pred = m if conditional else None

    def nll(x):
        p = _params_of(name, x, conditional)
        loc = m if conditional else p.pop(next(iter(p)))
        with np.errstate(all="ignore"):
            v = -np.sum(w * _tobit(name, y, loc, p))
        return v if np.isfinite(v) else 1e300

    start = {"gaussian": [1.0], "laplace": [0.5], "student_t": [1.0, 0.5],
             "log1p_normal": [0.0]}[name]
    x0 = start if conditional else [float(np.median(y))] + start
    fitted = fam.fit(y, w, pred)
    oracle = _params_of(name, _mle(nll, x0), conditional)
    assert set(fitted) == set(oracle)
    for k in oracle:
        assert fitted[k] == pytest.approx(oracle[k], rel=RTOL_FIT), (name, k)
    # the censored fit is not the density's: σ of the Tobit differs from the plain one
    if name == "gaussian":
        assert not math.isclose(fitted["sigma"], FAMILIES[name]().fit(y, w, pred)["sigma"],
                                rel_tol=1e-3)


@pytest.mark.parametrize("name", HURDLES)
def test_hurdle_conditional_fit_equals_an_independent_mle(name, rng):
    y, m, w = _claims(rng, 300)
    fam = FAMILIES[name]()
    spread = fam.nuisance[1]

    def nll(x):
        p = {"pi": special.expit(x[0]), spread: math.exp(x[1])}
        with np.errstate(all="ignore"):
            v = -np.sum(w * _hurdle(name, y, m, p))
        return v if np.isfinite(v) else 1e300

    x = _mle(nll, [0.0, 0.0])
    fitted = fam.fit(y, w, m)
    assert set(fitted) == {"pi", spread}
    assert fitted["pi"] == pytest.approx(special.expit(x[0]), rel=RTOL_FIT)
    assert fitted[spread] == pytest.approx(math.exp(x[1]), rel=RTOL_FIT)


def test_hurdle_marginal_fits_equal_scipy(rng):
    y, _, w = _claims(rng, 300)
    reps = w.astype(int)
    pos = np.repeat(y, reps)
    zeros = float(np.mean(pos == 0))
    pos = pos[pos > 0]
    a, _, scale = stats.gamma.fit(pos, floc=0, method="MLE")
    fit = HurdleGamma().fit(y, w)
    assert fit["pi"] == pytest.approx(zeros, rel=1e-12)
    assert fit["mean"] == pytest.approx(a * scale, rel=RTOL_FIT)
    assert fit["shape"] == pytest.approx(a, rel=RTOL_FIT)
    s, _, med = stats.lognorm.fit(pos, floc=0)
    fit = HurdleLogNormal().fit(y, w)
    assert fit["pi"] == pytest.approx(zeros, rel=1e-12)
    assert fit["median"] == pytest.approx(med, rel=RTOL_FIT)
    assert fit["sigma"] == pytest.approx(s, rel=RTOL_FIT)
    # ŷ implied by the marginal fit: the overall mean (1 − π)·mean
    assert HurdleGamma().marginal_pred(HurdleGamma().fit(y, w)) == pytest.approx(
        np.average(y, weights=w), rel=RTOL_FIT)


def test_log1p_normal_fits_in_closed_form(rng):
    fam = Log1pNormal()
    m = rng.uniform(0.0, 5.0, 200)
    y = (1 + m) * np.exp(0.6 * rng.standard_normal(200)) - 1
    s, _, scale = stats.lognorm.fit(1 + y, floc=0)
    fit = fam.fit(y, None)
    assert fit["median"] == pytest.approx(scale - 1, rel=RTOL_FIT)
    assert fit["sigma"] == pytest.approx(s, rel=RTOL_FIT)
    res = optimize.minimize_scalar(
        lambda ls: -stats.lognorm(s=math.exp(ls), scale=1 + m, loc=-1).logpdf(y).sum(),
        bracket=(-2, 1), tol=1e-12)
    assert fam.fit(y, None, m)["sigma"] == pytest.approx(math.exp(res.x), rel=RTOL_FIT)


@pytest.mark.parametrize("name", [*HURDLES, "gaussian", "student_t"])
def test_weights_equal_repetition(name, rng):
    y, m, w = _claims(rng, 120)
    fam = family_on(ATOM_AT_ZERO, FAMILIES[name]())
    reps = w.astype(int)
    for pred in (m, None):
        a = fam.fit(y, w, pred)
        b = fam.fit(np.repeat(y, reps), None, None if pred is None else np.repeat(pred, reps))
        for k in a:
            assert a[k] == pytest.approx(b[k], rel=1e-6), (name, k)


# ------------------------------------------------------------------ entropy


def test_atom_spacing_entropy_by_hand(write_csv):
    y = np.array([0.0, 0.0, 0.0, 0.0, 0.5, 1.7, 2.2, 3.1, 4.9, 0.8, 1.1, 6.4, 2.6, 0.0, 3.7,
                  1.45, 9.2, 0.3, 0.0, 5.5])
    pred = np.linspace(0.5, 4.0, y.size)
    pi = np.mean(y == 0)
    h_pi = -pi * math.log(pi) - (1 - pi) * math.log(1 - pi)
    pos = y[y > 0]
    marginal = h_pi + (1 - pi) * stats.differential_entropy(pos)
    rep = run_api("evaluate", write_csv("h.csv", y=y), families=("hurdle_gamma",))
    m = rep["models"][0]
    assert m["entropy_method"] == "atom-spacing"
    assert m["entropy"] == pytest.approx(marginal, rel=1e-12)
    assert m["kl"] == pytest.approx(m["cross_entropy"] - marginal, rel=1e-12)
    # given ŷ: the positives' residual entropy, the smaller of H(y − ŷ) and
    # H(log(y/ŷ)) + mean log y (SPEC §1.5)
    pp = pred[y > 0]
    h_pos = min(stats.differential_entropy(pos - pp),
                stats.differential_entropy(np.log(pos / pp)) + np.mean(np.log(pos)))
    rep = run_api("evaluate", write_csv("hc.csv", y=y, y_pred=pred), families=("gaussian",))
    m = rep["models"][0]
    assert m["entropy"] == pytest.approx(h_pi + (1 - pi) * h_pos, rel=1e-12)


# ------------------------------------------------------------------ end to end


def test_compare_on_the_claims_sample():
    rep = run_api(COMPARE, SAMPLES / "claims.csv")
    assert rep["target_kind"] == "semicontinuous" and rep["base_measure"] == "atom_at_zero"
    names = [m["family"] for m in rep["models"]]
    assert names[0] == "hurdle_gamma"
    assert {"hurdle_lognormal", "gaussian", "laplace", "student_t", "log1p_normal"} <= set(names)
    assert {m["base_measure"] for m in rep["models"]} == {"atom_at_zero"}
    best = rep["models"][0]
    assert best["params"]["pi"] == pytest.approx(0.6, abs=0.03)
    assert best["params"]["shape"] == pytest.approx(1.5, rel=0.1)
    assert model(rep, "gaussian")["loss"] == "squared error (MSE), censored at 0 (Tobit)"
    skipped = {s["family"]: s["reason"] for s in rep["skipped"]}
    assert "reals > 0" in skipped["gamma"] and "semicontinuous" in skipped["gamma"]
    rec = rep["recommendation"]
    assert rec["family"] == "hurdle_gamma" and rec["pytorch"] is None
    alt = rec["alternative"]
    assert alt is not None and any(alt[k] for k in ("pytorch", "sklearn", "xgboost", "lightgbm"))
    assert "no framework has a built-in loss" in alt["reason"]
    # the nested pair gets its LR test on this measure too
    kinds = {(t["null"], t["alternative"]): t["kind"] for t in rep["tests"]}
    assert kinds[("gaussian", "student_t")] != "vuong"


def test_compare_nll_equals_the_oracle_at_the_fitted_params(write_csv, rng):
    y, m, _ = _claims(rng, 300)
    rep = run_api(COMPARE, write_csv("c.csv", y=y, y_pred=m))
    for name in ("gaussian", "laplace", "student_t", "log1p_normal"):
        mod = model(rep, name)
        assert mod["nll"] == pytest.approx(-_tobit(name, y, m, mod["params"]).sum(),
                                           rel=1e-9), name
    for name in HURDLES:
        mod = model(rep, name)
        assert mod["nll"] == pytest.approx(-_hurdle(name, y, m, mod["params"]).sum(),
                                           rel=1e-9), name
    # evaluate censors the same way (SPEC §9.1: in evaluate and compare alike)
    ev = run_api("evaluate", write_csv("c.csv", y=y, y_pred=m), families=("gaussian",))
    assert ev["base_measure"] == "atom_at_zero"
    assert ev["models"][0]["nll"] == pytest.approx(model(rep, "gaussian")["nll"], rel=1e-12)


def test_weights_equal_repetition_end_to_end(write_csv, rng):
    y, m, w = _claims(rng, 150)
    reps = w.astype(int)
    a = run_api(COMPARE, write_csv("w.csv", y=y, y_pred=m, w=w), weight="w")
    b = run_api(COMPARE, write_csv("r.csv", y=np.repeat(y, reps), y_pred=np.repeat(m, reps)))
    for name in ("hurdle_gamma", "hurdle_lognormal", "gaussian", "log1p_normal"):
        ma, mb = model(a, name), model(b, name)
        assert ma["nll"] == pytest.approx(mb["nll"], rel=1e-6), name
        assert ma["entropy"] == pytest.approx(mb["entropy"], rel=1e-12), name
        for k in ma["params"]:
            assert ma["params"][k] == pytest.approx(mb["params"][k], rel=1e-5), (name, k)


def _strip(rep):
    rep = json.loads(json.dumps(rep))
    for k in ("batches", "passes", "bytes_read"):
        rep["input"].pop(k, None)
    rep.pop("elapsed_seconds", None)
    return rep


def test_batch_rows_give_the_same_json(write_csv, rng):
    y, m, _ = _claims(rng, 200)
    path = write_csv("b.csv", y=y, y_pred=m)
    a = _strip(run_api(COMPARE, path))
    b = _strip(run_api(COMPARE, path, batch_rows=7))
    # the same keys, texts and fits; the sums' last bits depend on their order
    assert_same(a, b)
    assert a["warnings"] == b["warnings"]


def test_diagnostics_leave_out_what_does_not_apply(write_csv, rng):
    y, m, _ = _claims(rng, 200)
    rep = run_api("evaluate", write_csv("d.csv", y=y, y_pred=m),
                  families=("gaussian", "hurdle_gamma", "log1p_normal"), diagnostics=True,
                  scores=True)
    for mod in rep["models"]:
        d = mod["diagnostics"]
        assert d["pit"]["method"] == "nonrandomized"
        assert sum(d["pit"]["density"]) / 20 == pytest.approx(1.0)
        assert not {t["kind"] for t in d["tests"]} & {"pit_uniformity", "tail_exceedance"}
        assert math.isfinite(mod["scores"]["crps"]) and mod["scores"]["intervals"]
    text = "\n".join(rep["warnings"])
    for name in ("gaussian", "hurdle_gamma", "log1p_normal"):
        assert f"{name}: no pit_uniformity or tail_exceedance test" in text
        assert f"{name}: scores.crps is null" not in text


def test_log1p_normal_on_counts_and_positive_targets(write_csv, rng):
    counts = rng.poisson(3.0, 200).astype(float)
    rep = run_api(COMPARE, write_csv("n.csv", y=counts))
    assert model(rep, "log1p_normal")["base_measure"] == "counting"
    pos = rng.gamma(2.0, 1.5, 200)
    rep = run_api(COMPARE, write_csv("p.csv", y=pos))
    assert model(rep, "log1p_normal")["base_measure"] == "lebesgue"
    s, _, scale = stats.lognorm.fit(1 + pos, floc=0)
    assert model(rep, "log1p_normal")["params"]["sigma"] == pytest.approx(s, rel=RTOL_FIT)


def test_bad_input(write_csv, rng):
    y, m, _ = _claims(rng, 50)
    # a density on y > 0 named on a semicontinuous target: the first zero, exit 1
    proc = run_cli("evaluate", write_csv("z.csv", y=y), "-f", "gamma")
    err = proc.stderr.decode()
    first = int(np.argmax(y == 0)) + 2  # the header is line 1, data rows count from 1
    assert proc.returncode == 1 and err.count("\n") == 1 and err.startswith("error:")
    assert "gamma" in err and f"row {first - 1}" in err
    # a negative target named for a hurdle family
    y2 = y.copy()
    y2[9] = -2.5
    proc = run_cli("evaluate", write_csv("n.csv", y=y2), "-f", "hurdle_gamma")
    err = proc.stderr.decode()
    assert proc.returncode == 1 and err.count("\n") == 1 and "row 10" in err and "-2.5" in err
    assert "Traceback" not in err
    # a prediction outside the hurdle's domain (ŷ > 0)
    m2 = m.copy()
    m2[3] = 0.0
    proc = run_cli("evaluate", write_csv("p.csv", y=y, y_pred=m2), "-f", "hurdle_lognormal")
    err = proc.stderr.decode()
    assert proc.returncode == 1 and err.count("\n") == 1 and "row 4" in err


def test_a_marginal_censored_location_far_from_its_start():
    """On claims.csv (60 % zeros, amounts in the hundreds) the Tobit mean lies far below
    the plain mean the fit starts from: the fit still reaches the MLE, and so does the
    baseline of the conditional fit."""
    import pandas as pd

    y = pd.read_csv(SAMPLES / "claims.csv")["y"].to_numpy()
    fit = Censored(FAMILIES["gaussian"]()).fit(y, None)

    def nll(x):
        return -np.sum(_tobit("gaussian", y, x[0] * 1000.0, {"sigma": math.exp(x[1])}))

    x = _mle(nll, [0.0, math.log(np.std(y))])
    assert fit["mean"] < 0.0
    assert fit["mean"] == pytest.approx(x[0] * 1000.0, rel=RTOL_FIT)
    assert fit["sigma"] == pytest.approx(math.exp(x[1]), rel=RTOL_FIT)
    rep = run_api(COMPARE, SAMPLES / "claims.csv")
    assert all(m["baseline_cross_entropy"] is not None for m in rep["models"])
    assert not [w for w in rep["warnings"] if "baseline" in w]
