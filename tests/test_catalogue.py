"""The loss catalogue (SPEC §9.5): `losscli losses` and `--trained-with`.

The central check derives every framework loss in the catalogue from its family's per-row
negative log-likelihood: the framework's formula is written here, from its documentation,
and for every row the NLL's change between two predictions must be a fixed positive
multiple of the loss's change (terms in y alone, which frameworks drop, cancel)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import special

from losscli import catalogue
from losscli.batches import Converter
from losscli.catalogue import LOSSES, trained_with
from losscli.errors import UsageError
from losscli.noise import FAMILIES
from tests.test_render import cli

RNG_SEED = 20261207


# ---------------------------------------------------------------- the framework formulas
# Each takes y, the model's raw output (on the loss's own scale) and the loss's parameter
# values, and returns the per-row loss as the framework computes it (up to terms in y).

def squared(y, out, a):
    return (y - out) ** 2


def half_squared(y, out, a):
    return 0.5 * (y - out) ** 2


def absolute(y, out, a):
    return np.abs(y - out)


def poisson_mean(y, out, a):  # Keras Poisson, sklearn's half Poisson deviance
    return out - y * np.log(out)


def poisson_log(y, out, a):  # torch PoissonNLLLoss(log_input=True), CatBoost Poisson
    return np.exp(out) - y * out


def gamma_mean(y, out, a):  # half gamma deviance up to terms in y
    return np.log(out) + y / out


def tweedie_mean(y, out, a):
    p = a.get("tweedie_variance_power", a.get("variance_power"))
    return -y * out ** (1 - p) / (1 - p) + out ** (2 - p) / (2 - p)


def tweedie_log(y, out, a):  # CatBoost Tweedie: the raw output is the log-mean
    return tweedie_mean(y, np.exp(out), a)


def sklearn_tweedie(power):
    """scikit-learn's Tweedie deviance at its power (the documented cases)."""
    def dev(y, mu, a):
        if power == 0:
            return (y - mu) ** 2
        if power == 1:
            return 2 * (special.xlogy(y, y / mu) - y + mu)
        if power == 2:
            return 2 * (np.log(mu / y) + y / mu - 1)
        if power == 3:
            return (y - mu) ** 2 / (y * mu ** 2)
        return 2 * (y ** (2 - power) / ((1 - power) * (2 - power))
                    - y * mu ** (1 - power) / (1 - power) + mu ** (2 - power) / (2 - power))
    return dev


def bce_prob(y, out, a):
    return -(special.xlogy(y, out) + special.xlog1py(1 - y, -out))


def bce_logit(y, out, a):  # torch BCEWithLogitsLoss / xgboost binary:logitraw
    return np.logaddexp(0, out) - y * out


def labels_bce_logit_mean(y, out, a):
    """torch MultiLabelSoftMarginLoss, and BCEWithLogitsLoss on a label vector (reduction
    'mean'): each row's mean over the labels (axis 0) of the logit BCE."""
    return (np.logaddexp(0, out) - y * out).mean(axis=0)


def labels_bce_prob_mean(y, out, a):
    """CatBoost MultiLogloss, MultiCrossEntropy and MultiClassOneVsAll: −(1/M) Σ_j
    [c_j log p_j + (1 − c_j) log(1 − p_j)] per row, M the labels."""
    return bce_prob(y, out, a).mean(axis=0)


def labels_bce_prob_sum(y, out, a):
    """LightGBM multiclassova: one binary log loss per class column, summed."""
    return bce_prob(y, out, a).sum(axis=0)


def soft_margin(y, out, a):  # torch SoftMarginLoss with labels ±1
    return np.log1p(np.exp(-(2 * y - 1) * out))


def ce_probs(y, out, a):  # out: (K, n) class probabilities, y class indices
    return -np.log(out[y, np.arange(y.size)])


def ce_logits(y, out, a):  # out: (K, n) logits
    return -(out[y, np.arange(y.size)] - special.logsumexp(out, axis=0))


def nll_logprobs(y, out, a):  # torch NLLLoss and KLDivLoss against one-hot targets
    return -out[y, np.arange(y.size)]


def huber(delta_key, scale=1.0):
    def rho(y, out, a):
        d = a[delta_key] if delta_key else scale
        r = np.abs(y - out)
        return np.where(r <= d, 0.5 * r ** 2, d * (r - 0.5 * d))
    return rho


def smooth_l1(y, out, a):
    b = a["beta"]
    r = np.abs(y - out)
    return np.where(r < b, 0.5 * r ** 2 / b, r - 0.5 * b)


def pinball(key):
    def rho(y, out, a):
        t = a[key]
        r = y - out
        return r * (t - (r < 0))
    return rho


def pinball_log(key):
    def rho(y, out, a):
        return pinball(key)(y, np.exp(out), a)
    return rho


def expectile(key):
    def loss(y, out, a):
        t = a[key]
        r = y - out
        return np.abs(t - (r < 0)) * r ** 2
    return loss


def log_cosh(y, out, a):
    return np.log(np.cosh(y - out))


def pseudo_huber(y, out, a):
    d = a["huber_slope"]
    return d ** 2 * (np.sqrt(1 + ((y - out) / d) ** 2) - 1)


def fair(y, out, a):
    c = a["fair_c"]
    r = np.abs(y - out)
    return c * r - c ** 2 * np.log1p(r / c)


def eps_insensitive(y, out, a):
    return np.maximum(0.0, np.abs(y - out) - a["epsilon"])


def lq(y, out, a):
    return np.abs(y - out) ** a["q"]


def squared_log(y, out, a):
    return (np.log1p(out) - np.log1p(y)) ** 2


def gaussian_nll_var(y, out, a):  # torch GaussianNLLLoss, the variance given per row
    return 0.5 * (np.log(a["var"]) + (y - out) ** 2 / a["var"])


def rmse_uncertainty(y, out, a):  # CatBoost RMSEWithUncertainty, a1 = log σ per row
    return a["log_sigma"] + 0.5 * (y - out) ** 2 * np.exp(-2 * a["log_sigma"])


# every likelihood entry of the catalogue: its --trained-with string (with a value where
# the framework has no default) and the formula of its loss
FORMULAS = {
    ("pytorch", "L1Loss"): absolute,
    ("pytorch", "MSELoss"): squared,
    ("pytorch", "CrossEntropyLoss"): ce_logits,
    ("pytorch", "NLLLoss"): nll_logprobs,
    ("pytorch", "PoissonNLLLoss"): poisson_log,
    ("pytorch", "GaussianNLLLoss"): gaussian_nll_var,
    ("pytorch", "KLDivLoss"): nll_logprobs,
    ("pytorch", "BCELoss"): bce_prob,
    ("pytorch", "BCEWithLogitsLoss"): bce_logit,
    ("pytorch", "SoftMarginLoss"): soft_margin,
    ("pytorch", "MultiLabelSoftMarginLoss"): labels_bce_logit_mean,
    ("pytorch", "HuberLoss"): huber("delta"),
    ("pytorch", "SmoothL1Loss"): smooth_l1,
    ("sklearn", "HistGradientBoostingRegressor(loss='squared_error')"): half_squared,
    ("sklearn", "HistGradientBoostingRegressor(loss='absolute_error')"): absolute,
    ("sklearn", "HistGradientBoostingRegressor(loss='gamma')"): gamma_mean,
    ("sklearn", "HistGradientBoostingRegressor(loss='poisson')"): poisson_mean,
    ("sklearn", "HistGradientBoostingRegressor(loss='quantile')"): pinball("quantile"),
    ("sklearn", "HistGradientBoostingClassifier(loss='log_loss')"): ce_probs,
    ("sklearn", "GradientBoostingRegressor(loss='squared_error')"): half_squared,
    ("sklearn", "GradientBoostingRegressor(loss='absolute_error')"): absolute,
    ("sklearn", "GradientBoostingRegressor(loss='huber')"): huber(None, 1.1),
    ("sklearn", "GradientBoostingRegressor(loss='quantile')"): pinball("alpha"),
    ("sklearn", "GradientBoostingClassifier(loss='log_loss')"): ce_probs,
    ("sklearn", "SGDRegressor(loss='squared_error')"): half_squared,
    ("sklearn", "SGDRegressor(loss='huber')"): huber("epsilon"),
    ("sklearn", "SGDRegressor(loss='epsilon_insensitive')"): eps_insensitive,
    ("sklearn", "SGDClassifier(loss='log_loss')"): bce_prob,
    ("sklearn", "LinearRegression"): half_squared,
    ("sklearn", "Ridge"): half_squared,
    ("sklearn", "Lasso"): half_squared,
    ("sklearn", "ElasticNet"): half_squared,
    ("sklearn", "HuberRegressor"): huber(None, 1.35),  # σ = 1: δ = epsilon·σ
    ("sklearn", "QuantileRegressor"): pinball("quantile"),
    ("sklearn", "PoissonRegressor"): poisson_mean,
    ("sklearn", "GammaRegressor"): gamma_mean,
    ("sklearn", "TweedieRegressor"): sklearn_tweedie(0),
    ("sklearn", "LogisticRegression"): ce_probs,
    ("sklearn", "SVR"): eps_insensitive,
    ("sklearn", "LinearSVR"): eps_insensitive,
    ("sklearn", "MLPRegressor(loss='squared_error')"): half_squared,
    ("sklearn", "MLPRegressor(loss='poisson')"): poisson_mean,
    ("sklearn", "MLPClassifier"): ce_probs,
    ("xgboost", "reg:squarederror"): half_squared,
    ("xgboost", "reg:squaredlogerror"): squared_log,
    ("xgboost", "reg:logistic"): bce_prob,
    ("xgboost", "binary:logistic"): bce_prob,
    ("xgboost", "binary:logitraw"): bce_logit,
    ("xgboost", "reg:pseudohubererror"): pseudo_huber,
    ("xgboost", "reg:absoluteerror"): absolute,
    ("xgboost", "reg:quantileerror"): pinball("quantile_alpha"),
    ("xgboost", "reg:expectileerror"): expectile("expectile_alpha"),
    ("xgboost", "count:poisson"): poisson_mean,
    ("xgboost", "reg:gamma"): gamma_mean,
    ("xgboost", "reg:tweedie"): tweedie_mean,
    ("xgboost", "multi:softprob"): ce_probs,
    ("lightgbm", "regression"): half_squared,
    ("lightgbm", "regression_l1"): absolute,
    ("lightgbm", "huber"): huber("alpha"),
    ("lightgbm", "fair"): fair,
    ("lightgbm", "poisson"): poisson_mean,
    ("lightgbm", "quantile"): pinball("alpha"),
    ("lightgbm", "gamma"): gamma_mean,
    ("lightgbm", "tweedie"): tweedie_mean,
    ("lightgbm", "binary"): bce_prob,
    ("lightgbm", "multiclass"): ce_probs,
    ("lightgbm", "cross_entropy"): bce_prob,
    ("lightgbm", "multiclassova"): labels_bce_prob_sum,
    ("catboost", "RMSE"): squared,
    ("catboost", "RMSEWithUncertainty"): rmse_uncertainty,
    ("catboost", "MAE"): absolute,
    ("catboost", "Quantile"): pinball("alpha"),
    ("catboost", "MultiQuantile"): pinball("alpha"),
    ("catboost", "LogLinQuantile"): pinball_log("alpha"),
    ("catboost", "Expectile"): expectile("alpha"),
    ("catboost", "Lq"): lq,
    ("catboost", "Huber"): huber("delta"),
    ("catboost", "LogCosh"): log_cosh,
    ("catboost", "Poisson"): poisson_log,
    ("catboost", "Tweedie"): tweedie_log,
    ("catboost", "Logloss"): bce_prob,
    ("catboost", "CrossEntropy"): bce_prob,
    ("catboost", "MultiClass"): ce_probs,
    ("catboost", "MultiClassOneVsAll"): labels_bce_prob_mean,
    ("catboost", "MultiLogloss"): labels_bce_prob_mean,
    ("catboost", "MultiCrossEntropy"): labels_bce_prob_mean,
    ("keras", "MeanSquaredError"): squared,
    ("keras", "MeanAbsoluteError"): absolute,
    ("keras", "MeanSquaredLogarithmicError"): squared_log,
    ("keras", "Huber"): huber("delta"),
    ("keras", "LogCosh"): log_cosh,
    ("keras", "Poisson"): poisson_mean,
    ("keras", "KLDivergence"): ce_probs,
    ("keras", "BinaryCrossentropy"): bce_prob,
    ("keras", "CategoricalCrossentropy"): ce_probs,
    ("keras", "SparseCategoricalCrossentropy"): ce_probs,
}
# the value given with @VALUE where the framework has no default
VALUES = {("xgboost", "reg:quantileerror"): 0.3, ("xgboost", "reg:expectileerror"): 0.7,
          ("catboost", "Lq"): 3.0, ("catboost", "Huber"): 0.8,
          ("catboost", "MultiQuantile"): 0.25, ("catboost", "Tweedie"): 1.3,
          ("sklearn", "HistGradientBoostingRegressor(loss='quantile')"): 0.8}
# the family's own nuisance values the NLL is taken at (any value: the map stays affine)
NUISANCE = {"gaussian": {"sigma": 1.7}, "laplace": {"scale": 0.6},
            "gamma": {"shape": 2.5}, "huber": {"sigma": 1.3, "delta": 1.1},
            "quantile": {"scale": 0.9}, "expectile": {"sigma": 1.2},
            "logcosh": {"scale": 1.0}, "pseudo_huber": {"sigma": 0.8},
            "generalized_normal": {"scale": 1.4}, "fair": {"tau": 0.7},
            "epsilon_insensitive": {"scale": 0.5}, "tweedie": {"dispersion": 1.9},
            "log1p_normal": {"sigma": 0.45}, "inverse_gaussian": {"dispersion": 0.3}}
# the framework's value of a parameter whose default is not a number of the family's
# (sklearn's GradientBoosting huber δ is a residual quantile; HuberRegressor's is ε·σ)
FRAMEWORK_ARGS = {("sklearn", "GradientBoostingRegressor(loss='huber')"): {},
                  ("sklearn", "HuberRegressor"): {}}


def _data(family: str, rng, n: int = 400, scale: str = "identity"):
    """y and two predictions per row on the family's natural ranges (positive where the
    loss reads a log)."""
    if family in ("bernoulli",):
        y = rng.integers(0, 2, n).astype(float)
        return y, rng.uniform(0.05, 0.95, n), rng.uniform(0.05, 0.95, n)
    if family == "multilabel":  # 3 labels (L, n); the family scores [1 − y; y]
        y = rng.integers(0, 2, (3, n)).astype(float)
        return y, rng.uniform(0.05, 0.95, (3, n)), rng.uniform(0.05, 0.95, (3, n))
    if family == "categorical":
        y = rng.integers(0, 3, n)
        a = rng.dirichlet(np.ones(3), n).T
        b = rng.dirichlet(np.ones(3), n).T
        return y, a, b
    if family == "poisson":
        y = rng.poisson(4.0, n).astype(float)
        return y, rng.uniform(0.5, 9, n), rng.uniform(0.5, 9, n)
    if family in ("gamma", "tweedie", "inverse_gaussian", "log1p_normal") or scale == "log":
        y = rng.gamma(2.0, 1.5, n)
        return y, rng.uniform(0.3, 6, n), rng.uniform(0.3, 6, n)
    y = rng.normal(0, 2, n)
    return y, y + rng.normal(0, 1.5, n), y + rng.normal(0, 3, n)


def _raw(out, scale: str, family: str):
    """The model's raw output whose reading on `scale` is the prediction `out`."""
    if scale == "log":
        return np.log(out)
    if scale == "logit":
        return np.log(out) if family == "categorical" else special.logit(out)
    return out


def _pred(raw, scale: str, family: str):
    """The family's prediction from the raw output read on `scale` (its own maths, not
    the tool's)."""
    if family == "categorical":
        logp = (raw - special.logsumexp(raw, axis=0)) if scale == "logit" else np.log(raw)
        return logp
    if family == "bernoulli":
        p = special.expit(raw) if scale == "logit" else raw
        return np.log(np.stack([1 - p, p]))
    if family == "multilabel":  # [log(1 − p_l); log p_l]
        p = special.expit(raw) if scale == "logit" else raw
        return np.log(np.concatenate([1 - p, p]))
    return np.exp(raw) if scale == "log" else raw


def _spec(key) -> str:
    fw, loss = key
    value = VALUES.get(key)
    return f"{fw}:{loss}" + (f"@{value}" if value is not None else "")


LIKELIHOOD = [e for e in LOSSES if e.likelihood and e.family is not None]


def test_the_catalogue_covers_the_six_frameworks():
    likelihood = [e for e in LOSSES if e.likelihood]
    assert len(likelihood) >= 98
    assert sum(not e.likelihood for e in LOSSES) >= 28
    assert {e.framework for e in LOSSES} == set(catalogue.FRAMEWORKS)
    keys = [(e.framework, e.loss) for e in LOSSES]
    assert len(keys) == len(set(keys))
    for e in LOSSES:
        assert (e.reason is None) == (e.likelihood and e.family is not None), e.loss
        if e.family is not None:
            assert e.family in FAMILIES, e.family
            for family_param in e.params.values():
                cls = FAMILIES[e.family]
                assert family_param in (*cls.nuisance, *cls.marginal_params), (
                    e.loss, family_param)
        if not e.likelihood and e.nearest is not None:
            near = trained_with(e.nearest)  # the nearest loss can be audited
            assert near.entry.framework == e.framework


@pytest.mark.parametrize("entry", LIKELIHOOD, ids=lambda e: f"{e.framework}:{e.loss}")
def test_each_framework_loss_is_an_affine_map_of_its_familys_nll(entry):
    key = (entry.framework, entry.loss)
    formula = FORMULAS[key]
    t = trained_with(_spec(key))
    family = FAMILIES[t.family]()
    if t.family == "categorical":
        family = FAMILIES[t.family](classes=["a", "b", "c"])
    rng = np.random.default_rng(RNG_SEED)
    y, out1, out2 = _data(t.family, rng, scale=t.pred_scale)
    args = dict(FRAMEWORK_ARGS.get(key, {**entry.default, **_framework_values(entry, t)}))
    params = {**NUISANCE.get(t.family, {}), **t.fixed}
    if key == ("pytorch", "GaussianNLLLoss"):
        params["sigma"] = rng.uniform(0.5, 2, y.size)
        args["var"] = params["sigma"] ** 2
    if key == ("catboost", "RMSEWithUncertainty"):
        params["sigma"] = rng.uniform(0.5, 2, y.size)
        args["log_sigma"] = np.log(params["sigma"])
    if key == ("sklearn", "GradientBoostingRegressor(loss='huber')"):
        params["delta"] = 1.1
    if key == ("sklearn", "HuberRegressor"):
        params["delta"] = 1.35
    raw1, raw2 = (_raw(o, t.pred_scale, t.family) for o in (out1, out2))
    scored = y.astype(np.int64) if t.family == "categorical" else (
        np.concatenate([1 - y, y]) if t.family == "multilabel" else y)
    nll1 = -family.loglik(scored, _pred(raw1, t.pred_scale, t.family), params)
    nll2 = -family.loglik(scored, _pred(raw2, t.pred_scale, t.family), params)
    yy = y.astype(np.int64) if t.family == "categorical" else y
    d_loss = formula(yy, raw1, args) - formula(yy, raw2, args)
    d_nll = nll1 - nll2
    a = float(d_loss @ d_nll / (d_loss @ d_loss))
    assert a > 0
    np.testing.assert_allclose(d_nll, a * d_loss, rtol=1e-9,
                               atol=1e-9 * float(np.max(np.abs(d_nll))))


def test_bce_with_logits_on_a_label_vector_is_the_multilabel_nll():
    """torch BCEWithLogitsLoss on several label columns: the multilabel family, whose
    nll is L times the loss's mean over the labels (a positive affine map)."""
    t = trained_with("torch:BCEWithLogitsLoss")
    assert t.family_for(False) == "bernoulli"
    assert t.family_for(True) == "multilabel"
    assert trained_with("catboost:MultiLogloss").family_for(False) == "multilabel"
    rng = np.random.default_rng(RNG_SEED)
    y, p1, p2 = _data("multilabel", rng)
    z1, z2 = special.logit(p1), special.logit(p2)
    fam = FAMILIES["multilabel"]()
    scored = np.concatenate([1 - y, y])
    d_nll = (-fam.loglik(scored, _pred(z1, "logit", "multilabel"), {})
             + fam.loglik(scored, _pred(z2, "logit", "multilabel"), {}))
    d_loss = labels_bce_logit_mean(y, z1, {}) - labels_bce_logit_mean(y, z2, {})
    np.testing.assert_allclose(d_nll, 3.0 * d_loss, rtol=1e-9, atol=1e-12)


def _framework_values(entry, t) -> dict:
    """The framework's parameter values the run holds (back from the family's)."""
    back = {fam: fw for fw, fam in entry.params.items()}
    return {back[k]: v for k, v in t.fixed.items() if k in back}


@pytest.mark.parametrize("power, family, formula_power", [
    (0, "gaussian", 0), (1, "poisson", 1), (1.5, "tweedie", 1.5), (2, "gamma", 2),
    (3, "inverse_gaussian", 3)])
def test_tweedie_regressor_is_the_family_its_power_names(power, family, formula_power):
    t = trained_with(f"sklearn:TweedieRegressor@{power}")
    assert t.family == family
    assert t.fixed == ({"power": 1.5} if family == "tweedie" else {})
    if family not in FAMILIES:
        return
    rng = np.random.default_rng(3)
    y, m1, m2 = _data("gamma" if family != "poisson" else "poisson", rng)
    if family == "gaussian":
        y = rng.gamma(2.0, 1.5, 400)
    params = {**NUISANCE.get(family, {}), **t.fixed}
    fam = FAMILIES[family]()
    d_nll = -fam.loglik(y, m1, params) + fam.loglik(y, m2, params)
    dev = sklearn_tweedie(formula_power)
    d_loss = dev(y, m1, {}) - dev(y, m2, {})
    a = float(d_loss @ d_nll / (d_loss @ d_loss))
    assert a > 0
    np.testing.assert_allclose(d_nll, a * d_loss, rtol=1e-9, atol=1e-9)


# ---------------------------------------------------------------- --trained-with parsing


def test_trained_with_reads_values_arguments_and_aliases():
    t = trained_with("xgboost:reg:tweedie@1.5")
    assert (t.family, t.fixed, t.pred_scale) == ("tweedie", {"power": 1.5}, "identity")
    assert trained_with("xgboost:reg:tweedie").fixed == {"power": 1.5}  # the default
    t = trained_with("lightgbm:huber@0.9")
    assert (t.family, t.fixed) == ("huber", {"delta": 0.9})
    assert trained_with("lightgbm:huber").fixed == {"delta": 0.9}
    t = trained_with("torch:PoissonNLLLoss(log_input=True)")
    assert (t.family, t.pred_scale) == ("poisson", "log")
    assert trained_with("torch:PoissonNLLLoss(log_input=False)").pred_scale == "identity"
    assert trained_with("torch:PoissonNLLLoss").pred_scale == "log"  # PyTorch's default
    t = trained_with("sklearn:GradientBoostingRegressor(loss='quantile', alpha=0.8)")
    assert (t.family, t.fixed) == ("quantile", {"tau": 0.8})
    t = trained_with("torch:BCEWithLogitsLoss(pos_weight=3)")
    assert (t.family, t.pred_scale, t.class_weight) == ("bernoulli", "logit", 3.0)
    assert trained_with("torch:BCEWithLogitsLoss").class_weight is None  # weight 1
    assert trained_with("catboost:Lq:q=3").fixed == {"power": 3.0}
    assert trained_with("CatBoost:Huber:delta=2").fixed == {"delta": 2.0}
    assert trained_with("torch:huberloss(delta = 2)").fixed == {"delta": 2.0}
    assert trained_with("keras:LogCosh").fixed == {"scale": 1.0}
    assert trained_with("sklearn:SGDRegressor(loss='huber', epsilon=0.5)").fixed == {
        "delta": 0.5}


@pytest.mark.parametrize("spec, words", [
    ("keras:Hinge", ["margin loss", "keras:BinaryCrossentropy"]),
    ("catboost:Focal", ["not strictly proper", "catboost:Logloss"]),
    ("lightgbm:mape", ["cannot be normalised", "lightgbm:regression_l1"]),
    ("xgboost:survival:aft", ["no censored survival family"]),
    ("xgboost:reg:squarederrr", ["no built-in loss", "reg:squarederror"]),
    ("sklearn:TweedieRegressor@0.5", ["no noise family", "0 < power < 1"]),
    ("jax:mse", ["unknown framework", "pytorch"]),
    ("MSELoss", ["FRAMEWORK:LOSS"]),
    ("torch:HuberLoss@wide", ["must be a number"]),
    ("torch:HuberLoss(alpha=2)", ["takes no argument 'alpha'", "delta"]),
    ("torch:BCEWithLogitsLoss(pos_weight=0)", ["pos_weight must be > 0"]),
    ("torch:HuberLoss@inf", ["must be finite"]),
])
def test_trained_with_refuses_with_the_reason(spec, words):
    with pytest.raises(UsageError) as info:
        trained_with(spec)
    for w in words:
        assert w in str(info.value), (spec, str(info.value))


def test_class_weighted_probabilities_map_back():
    """q = wp/(wp + 1 − p) is the weighted optimum: p = 0.1 at w = 3 trains to 0.25."""
    q = np.array([0.25, 0.5, 0.9])
    p = Converter._unweighted(q, "identity", 3.0)
    np.testing.assert_allclose(p, q / (3 * (1 - q) + q), rtol=1e-15)
    assert p[0] == pytest.approx(0.1, rel=1e-15)
    np.testing.assert_allclose(Converter._unweighted(special.logit(q), "logit", 3.0), p,
                               rtol=1e-12)


# ---------------------------------------------------------------- end to end


def test_losses_lists_the_catalogue_as_json():
    r = cli("losses", "--format", "json")
    assert r.returncode == 0, r.stderr.decode()
    rep = json.loads(r.stdout)
    assert rep["command"] == "losses"
    rows = rep["losses"]
    assert len(rows) == len(LOSSES)
    assert set(rows[0]) == {"framework", "loss", "likelihood", "family", "prediction",
                            "params", "default", "reason", "trained_with"}
    tweedie = next(r for r in rows if r["loss"] == "reg:tweedie")
    assert tweedie["params"] == {"tweedie_variance_power": "power"}
    assert tweedie["default"] == {"tweedie_variance_power": 1.5}
    assert tweedie["trained_with"] == "xgboost:reg:tweedie"
    r = cli("losses", "--framework", "torch", "--format", "json")
    assert {x["framework"] for x in json.loads(r.stdout)["losses"]} == {"pytorch"}
    r = cli("losses", "--framework", "jax")
    assert r.returncode == 2 and b"unknown framework" in r.stderr
    r = cli("losses", "--framework", "keras")
    assert r.returncode == 0 and b"MeanSquaredLogarithmicError" in r.stdout


def _bernoulli_file(tmp_path, w=3.0):
    rng = np.random.default_rng(5)
    p = rng.uniform(0.02, 0.6, 3000)
    y = (rng.uniform(size=p.size) < p).astype(int)
    q = w * p / (w * p + 1 - p)  # what a model trained with weight w outputs
    path = tmp_path / "binary.csv"
    path.write_text("y,logit\n" + "\n".join(f"{a},{b!r}" for a, b in
                                             zip(y, special.logit(q).tolist(), strict=True)) + "\n")
    return path, y, p


def test_evaluate_undoes_the_positive_class_weight(tmp_path):
    path, y, p = _bernoulli_file(tmp_path)
    r = cli("evaluate", path, "-p", "logit", "--format", "json",
            "--trained-with", "torch:BCEWithLogitsLoss(pos_weight=3)")
    assert r.returncode == 0, r.stderr.decode()
    rep = json.loads(r.stdout)
    assert rep["input"]["trained_with"] == "torch:BCEWithLogitsLoss(pos_weight=3)"
    (m,) = rep["models"]
    ce = -np.mean(special.xlogy(y, p) + special.xlog1py(1 - y, -p))
    assert m["family"] == "bernoulli"
    assert m["cross_entropy"] == pytest.approx(ce, rel=1e-9)


def test_compare_marks_the_loss_trained_with(tmp_path):
    rng = np.random.default_rng(11)
    yhat = rng.normal(0, 3, 4000)
    y = yhat + rng.laplace(0, 1.0, yhat.size)
    path = tmp_path / "reg.csv"
    path.write_text("y,pred\n" + "\n".join(f"{a!r},{b!r}" for a, b in
                                           zip(y.tolist(), yhat.tolist(), strict=True))
                    + "\n")
    plain = json.loads(cli("compare-noise-models", path, "--format", "json").stdout)
    r = cli("compare-noise-models", path, "--format", "json",
            "--trained-with", "xgboost:reg:quantileerror@0.9")
    assert r.returncode == 0, r.stderr.decode()
    rep = json.loads(r.stdout)
    by = {m["family"]: m for m in rep["models"]}
    assert by["quantile"]["trained"] is True
    assert by["quantile"]["fixed"] == {"tau": 0.9}
    assert all(m["trained"] is False for f, m in by.items() if f != "quantile")
    # the other candidates are those of the plain comparison, with the same numbers
    assert set(by) == {m["family"] for m in plain["models"]} | {"quantile"}
    for m in plain["models"]:
        assert by[m["family"]]["nll"] == pytest.approx(m["nll"], rel=1e-12)
    # the pinball loss at τ = 0.9 scores y − ŷ by the asymmetric Laplace at τ = 0.9
    r_ = y - yhat
    s = np.mean(r_ * (0.9 - (r_ < 0)))
    nll = -np.sum(np.log(0.9 * 0.1 / s) - r_ * (0.9 - (r_ < 0)) / s)
    assert by["quantile"]["nll"] == pytest.approx(nll, rel=1e-9)
    table = cli("compare-noise-models", path, "--trained-with",
                "xgboost:reg:quantileerror@0.9", env={"COLUMNS": "100"}).stdout.decode()
    assert "trained with" in table


def test_trained_with_errors_before_reading(tmp_path):
    path = tmp_path / "missing.csv"  # never read: the option is refused first
    r = cli("evaluate", path, "--trained-with", "keras:Hinge")
    assert r.returncode == 2
    assert r.stderr.decode().count("\n") == 1 and "Traceback" not in r.stderr.decode()
    assert "margin loss" in r.stderr.decode()


def test_class_weight_needs_one_prediction_column(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("y,p_0,p_1\n0,0.7,0.3\n1,0.2,0.8\n")
    r = cli("evaluate", path, "--probs", "p_0,p_1",
            "--trained-with", "xgboost:binary:logistic@3")
    assert r.returncode == 2 and "--pred/-p" in r.stderr.decode()


def test_every_value_is_finite_in_the_json():
    for e in LOSSES:
        for v in e.default.values():
            assert isinstance(v, bool) or math.isfinite(v)
