"""The loss catalogue (SPEC §9.5): every built-in loss of PyTorch, scikit-learn, XGBoost,
LightGBM, CatBoost and Keras, in the framework's own spelling, with the noise family it is
the negative log-likelihood of, what the model outputs, how the framework's parameters map
to the family's and their defaults — or why it is not a likelihood.

A loss L is an NLL when ∫exp(−L(y, ŷ)/τ)dy is finite for some τ: the noise model is then
exp(−L/τ)/Z(τ), and ŷ is the functional L is consistent for.

Written from the frameworks' own documentation and sources:
- PyTorch: pytorch/pytorch `torch/nn/modules/loss.py` (its `__all__` and docstrings).
- scikit-learn: scikit-learn/scikit-learn `sklearn/_loss/loss.py`,
  `sklearn/linear_model/_stochastic_gradient.py`, `sklearn/linear_model/_huber.py` and the
  estimator pages (HistGradientBoostingRegressor, GradientBoostingRegressor,
  TweedieRegressor, MLPRegressor, SGDRegressor, SVR) at scikit-learn.org/stable.
- XGBoost: dmlc/xgboost `doc/parameter.rst` (the `objective` list).
- LightGBM: microsoft/LightGBM `docs/Parameters.rst` (`objective`) and
  `src/objective/*.hpp`.
- CatBoost: catboost/catboost `catboost/private/libs/options/enums.h` (`ELossFunction`),
  `catboost/docs/en/concepts/loss-functions-regression.md` and
  `.../loss-functions-classification.md`.
- Keras: keras-team/keras `keras/src/losses/losses.py`.

This module is data and the lookup of `--trained-with FRAMEWORK:LOSS[@VALUE]`; it imports
nothing heavy, so that `losscli losses` starts fast.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from losscli.errors import UsageError

FRAMEWORKS = ("pytorch", "sklearn", "xgboost", "lightgbm", "catboost", "keras")
ALIASES = {"torch": "pytorch", "scikit-learn": "sklearn", "lgbm": "lightgbm",
           "tf.keras": "keras", "tensorflow": "keras"}


@dataclass(frozen=True)
class Loss:
    """One built-in loss. `params`: the framework's parameter → the family's; `default`:
    the framework's default values (a parameter without a default must be given);
    `scale`: the --pred-scale of the model's raw output; `class_weight`: the framework
    parameter that weights the positive class (the trained probability is then mapped
    back, SPEC §9.5); `by_power`: the first parameter is a Tweedie power that selects
    the family declaring it (`Family.tweedie_power`), tweedie between 1 and 2 (a
    loss that is several families); `nearest`: for a loss that is not a likelihood, the
    nearest likelihood loss of the same framework (its `--trained-with` string)."""

    framework: str
    loss: str
    family: str | None
    prediction: str | None
    params: dict[str, str] = field(default_factory=dict)
    default: dict[str, float] = field(default_factory=dict)
    likelihood: bool = True
    reason: str | None = None
    scale: str = "identity"
    class_weight: str | None = None
    by_power: bool = False
    nearest: str | None = None
    # arguments of the loss that change how its output is read: {arg: {value: scale}}
    scales: dict[str, dict[str, str]] = field(default_factory=dict)
    # the family's parameters the loss itself fixes (log-cosh is the hyperbolic secant
    # at scale 1): held whatever the framework's arguments
    holds: dict[str, float] = field(default_factory=dict)
    # the family when the target is several label columns (the loss applied to a label
    # vector: BCEWithLogitsLoss on multi-label targets, SPEC §9.4); None: `family` always
    labels: str | None = None

    @property
    def trained_with(self) -> str | None:
        """The `--trained-with` string of this loss; None where it cannot be audited."""
        if not self.likelihood or self.family is None:
            return None
        return f"{self.framework}:{self.loss}"

    def as_dict(self) -> dict:
        return {"framework": self.framework, "loss": self.loss,
                "likelihood": self.likelihood, "family": self.family,
                "prediction": self.prediction, "params": dict(self.params),
                "default": dict(self.default), "reason": self.reason,
                "trained_with": self.trained_with}


def _nll(fw, loss, family, prediction, **kw) -> Loss:
    return Loss(fw, loss, family, prediction, **kw)


def _no(fw, loss, reason, nearest=None) -> Loss:
    return Loss(fw, loss, None, None, likelihood=False, reason=reason, nearest=nearest)


def _unsupported(fw, loss, prediction, reason) -> Loss:
    """A likelihood loss whose noise model losscli has no family for."""
    return Loss(fw, loss, None, prediction, reason=reason)


MEAN = "mean"
MEDIAN = "median"
PROB = "probability P(y = 1)"
LOGIT = "logit of P(y = 1)"
CLASS_PROBS = "class probabilities"
CLASS_LOGITS = "class logits (softmax gives the probabilities)"
HUBER_LOC = "Huber M-location"

_NOT_PROPER = ("not a likelihood: {} is classification-calibrated but not strictly proper, "
               "its scores are not class probabilities")
_MARGIN = "not a likelihood: a margin loss, it targets sign(2p − 1), not p"
_NOT_PER_ROW = "not a per-row noise model: {}"
_MAPE = ("not a likelihood: exp(−|y − ŷ|/(b|y|)) tends to a constant as y grows, so it "
         "cannot be normalised over y (it is consistent for a weighted median)")
_EMBED = "not a likelihood: a similarity or embedding loss between inputs, not of y"
LABEL_PROBS = "one probability P(y_l = 1) per label (--target 'y_*' --probs 'p_*')"
LABEL_LOGITS = "one logit per label (--target 'y_*' --logits 'z_*')"
ONE_VS_ALL = ("one probability per class, each its own binary problem (not normalised): "
              "the one-hot class columns are the labels (--target 'y_*' --probs 'p_*')")
_NO_AFT = ("a likelihood (censored accelerated failure time: normal, logistic or extreme "
           "value on log t), but losscli has no censored survival family")

LOSSES: tuple[Loss, ...] = (
    # ------------------------------------------------------------ PyTorch (torch.nn)
    _nll("pytorch", "L1Loss", "laplace", MEDIAN),
    _nll("pytorch", "MSELoss", "gaussian", MEAN),
    _nll("pytorch", "CrossEntropyLoss", "categorical", CLASS_LOGITS,
         scale="logit"),
    _nll("pytorch", "NLLLoss", "categorical",
         "class log-probabilities (read as logits: softmax returns them)", scale="logit"),
    _nll("pytorch", "PoissonNLLLoss", "poisson",
         "log-rate (log_input=True, the default) or the mean (log_input=False)",
         default={"log_input": True}, scale="log",
         scales={"log_input": {"true": "log", "false": "identity"}}),
    _nll("pytorch", "GaussianNLLLoss", "gaussian",
         "mean, with the variance per row (--param var=COLUMN)"),
    _nll("pytorch", "KLDivLoss", "categorical",
         "class log-probabilities, soft targets (the KL is cross-entropy minus the "
         "targets' entropy)", scale="logit"),
    _nll("pytorch", "BCELoss", "bernoulli", PROB),
    _nll("pytorch", "BCEWithLogitsLoss", "bernoulli", LOGIT, scale="logit",
         class_weight="pos_weight", default={"pos_weight": 1.0}, labels="multilabel"),
    _nll("pytorch", "SoftMarginLoss", "bernoulli", "logit of P(y = 1), labels ±1",
         scale="logit"),
    _nll("pytorch", "MultiLabelSoftMarginLoss", "multilabel",
         LABEL_LOGITS + " (the loss is the labels' mean)", scale="logit"),
    _nll("pytorch", "HuberLoss", "huber", HUBER_LOC, params={"delta": "delta"},
         default={"delta": 1.0}),
    _nll("pytorch", "SmoothL1Loss", "huber", HUBER_LOC + " (SmoothL1 = Huber/β)",
         params={"beta": "delta"}, default={"beta": 1.0}),
    _no("pytorch", "CTCLoss", _NOT_PER_ROW.format("a sequence likelihood summed over "
                                                  "alignments")),
    _no("pytorch", "HingeEmbeddingLoss", _EMBED, "pytorch:BCEWithLogitsLoss"),
    _no("pytorch", "MultiLabelMarginLoss", _MARGIN, "pytorch:BCEWithLogitsLoss"),
    _no("pytorch", "CosineEmbeddingLoss", _EMBED),
    _no("pytorch", "MarginRankingLoss", _NOT_PER_ROW.format("a pairwise ranking loss")),
    _no("pytorch", "MultiMarginLoss", _MARGIN, "pytorch:CrossEntropyLoss"),
    _no("pytorch", "TripletMarginLoss", _EMBED),
    _no("pytorch", "TripletMarginWithDistanceLoss", _EMBED),
    # ------------------------------------------------------------ scikit-learn
    _nll("sklearn", "HistGradientBoostingRegressor(loss='squared_error')", "gaussian", MEAN),
    _nll("sklearn", "HistGradientBoostingRegressor(loss='absolute_error')", "laplace",
         MEDIAN),
    _nll("sklearn", "HistGradientBoostingRegressor(loss='gamma')", "gamma", MEAN),
    _nll("sklearn", "HistGradientBoostingRegressor(loss='poisson')", "poisson", MEAN),
    _nll("sklearn", "HistGradientBoostingRegressor(loss='quantile')", "quantile",
         "τ-quantile", params={"quantile": "tau"}),
    _nll("sklearn", "HistGradientBoostingClassifier(loss='log_loss')", "categorical",
         "class probabilities (predict_proba); P(y = 1) for two classes"),
    _nll("sklearn", "GradientBoostingRegressor(loss='squared_error')", "gaussian", MEAN),
    _nll("sklearn", "GradientBoostingRegressor(loss='absolute_error')", "laplace", MEDIAN),
    _nll("sklearn", "GradientBoostingRegressor(loss='huber')", "huber",
         HUBER_LOC + "; δ is the alpha = 0.9 quantile of the absolute residuals, "
         "so δ is fitted"),
    _nll("sklearn", "GradientBoostingRegressor(loss='quantile')", "quantile",
         "τ-quantile", params={"alpha": "tau"}, default={"alpha": 0.9}),
    _nll("sklearn", "GradientBoostingClassifier(loss='log_loss')", "categorical",
         "class probabilities (predict_proba); P(y = 1) for two classes"),
    _no("sklearn", "GradientBoostingClassifier(loss='exponential')",
        "not a likelihood: the exponential (AdaBoost) loss is a proper composite loss "
        "minimised at f = ½ logit p, not the NLL of a noise model",
        "sklearn:GradientBoostingClassifier(loss='log_loss')"),
    _nll("sklearn", "SGDRegressor(loss='squared_error')", "gaussian", MEAN),
    _nll("sklearn", "SGDRegressor(loss='huber')", "huber", HUBER_LOC,
         params={"epsilon": "delta"}, default={"epsilon": 0.1}),
    _nll("sklearn", "SGDRegressor(loss='epsilon_insensitive')", "epsilon_insensitive",
         "midpoint of the flat top", params={"epsilon": "epsilon"},
         default={"epsilon": 0.1}),
    _unsupported("sklearn", "SGDRegressor(loss='squared_epsilon_insensitive')",
                 "midpoint of the flat top",
                 "a likelihood (the flat-top Gaussian: a uniform core on [−ε, ε] with "
                 "Gaussian sides), but losscli has no family for it"),
    _nll("sklearn", "SGDClassifier(loss='log_loss')", "bernoulli", PROB),
    _no("sklearn", "SGDClassifier(loss='hinge')", _MARGIN,
        "sklearn:SGDClassifier(loss='log_loss')"),
    _no("sklearn", "SGDClassifier(loss='squared_hinge')", _MARGIN,
        "sklearn:SGDClassifier(loss='log_loss')"),
    _no("sklearn", "SGDClassifier(loss='modified_huber')",
        "not a likelihood: modified Huber is a proper composite loss (on |f| ≤ 1 it is "
        "4 × the Brier score at p = (f + 1)/2), not an NLL",
        "sklearn:SGDClassifier(loss='log_loss')"),
    _no("sklearn", "SGDClassifier(loss='perceptron')", _MARGIN,
        "sklearn:SGDClassifier(loss='log_loss')"),
    _nll("sklearn", "LinearRegression", "gaussian", MEAN),
    _nll("sklearn", "Ridge", "gaussian", MEAN + " (the penalty is a prior, not noise)"),
    _nll("sklearn", "Lasso", "gaussian", MEAN + " (the penalty is a prior, not noise)"),
    _nll("sklearn", "ElasticNet", "gaussian", MEAN + " (the penalty is a prior, not noise)"),
    _nll("sklearn", "HuberRegressor", "huber",
         HUBER_LOC + "; epsilon = 1.35 is δ/σ, not δ, so δ and σ are fitted"),
    _nll("sklearn", "QuantileRegressor", "quantile", "τ-quantile",
         params={"quantile": "tau"}, default={"quantile": 0.5}),
    _nll("sklearn", "PoissonRegressor", "poisson", MEAN),
    _nll("sklearn", "GammaRegressor", "gamma", MEAN),
    _nll("sklearn", "TweedieRegressor", "tweedie",
         "mean; power 0 is gaussian, 1 poisson, (1, 2) tweedie, 2 gamma, 3 "
         "inverse_gaussian (no distribution for 0 < power < 1)",
         params={"power": "power"}, default={"power": 0.0}, by_power=True),
    _nll("sklearn", "LogisticRegression", "categorical",
         "class probabilities (predict_proba); P(y = 1) for two classes"),
    _nll("sklearn", "SVR", "epsilon_insensitive", "midpoint of the flat top",
         params={"epsilon": "epsilon"}, default={"epsilon": 0.1}),
    _nll("sklearn", "LinearSVR", "epsilon_insensitive", "midpoint of the flat top",
         params={"epsilon": "epsilon"}, default={"epsilon": 0.0}),
    _no("sklearn", "SVC", _MARGIN, "sklearn:LogisticRegression"),
    _no("sklearn", "LinearSVC", _MARGIN, "sklearn:LogisticRegression"),
    _nll("sklearn", "MLPRegressor(loss='squared_error')", "gaussian", MEAN),
    _nll("sklearn", "MLPRegressor(loss='poisson')", "poisson", MEAN),
    _nll("sklearn", "MLPClassifier", "categorical",
         "class probabilities (predict_proba); P(y = 1) for two classes"),
    # ------------------------------------------------------------ XGBoost (objective)
    _nll("xgboost", "reg:squarederror", "gaussian", MEAN),
    _nll("xgboost", "reg:squaredlogerror", "log1p_normal", "exp(E ln(1 + y)) − 1"),
    _nll("xgboost", "reg:logistic", "bernoulli", PROB),
    _nll("xgboost", "binary:logistic", "bernoulli", PROB,
         class_weight="scale_pos_weight", default={"scale_pos_weight": 1.0}),
    _nll("xgboost", "binary:logitraw", "bernoulli", LOGIT, scale="logit",
         class_weight="scale_pos_weight", default={"scale_pos_weight": 1.0}),
    _nll("xgboost", "reg:pseudohubererror", "pseudo_huber", "location",
         params={"huber_slope": "delta"}, default={"huber_slope": 1.0}),
    _nll("xgboost", "reg:absoluteerror", "laplace", MEDIAN),
    _nll("xgboost", "reg:quantileerror", "quantile",
         "τ-quantile (a list of levels: one column per level, --quantiles)",
         params={"quantile_alpha": "tau"}),
    _nll("xgboost", "reg:expectileerror", "expectile",
         "τ-expectile (in the XGBoost versions that have it)",
         params={"expectile_alpha": "tau"}),
    _nll("xgboost", "count:poisson", "poisson", MEAN),
    _nll("xgboost", "reg:gamma", "gamma", MEAN),
    _nll("xgboost", "reg:tweedie", "tweedie", MEAN,
         params={"tweedie_variance_power": "power"},
         default={"tweedie_variance_power": 1.5}),
    _unsupported("xgboost", "survival:aft", "location of log t", _NO_AFT),
    _unsupported("xgboost", "multi:softmax", "the class only",
                 "a likelihood (categorical), but the model outputs only the class: score "
                 "the probabilities of multi:softprob"),
    _nll("xgboost", "multi:softprob", "categorical", CLASS_PROBS),
    _no("xgboost", "binary:hinge", _MARGIN, "xgboost:binary:logistic"),
    _no("xgboost", "survival:cox", _NOT_PER_ROW.format("the Cox partial likelihood")),
    _no("xgboost", "rank:ndcg", _NOT_PER_ROW.format("a listwise ranking loss")),
    _no("xgboost", "rank:map", _NOT_PER_ROW.format("a listwise ranking loss")),
    _no("xgboost", "rank:pairwise", _NOT_PER_ROW.format("a pairwise ranking loss")),
    # ------------------------------------------------------------ LightGBM (objective)
    _nll("lightgbm", "regression", "gaussian", MEAN),
    _unsupported("lightgbm", "regression(reg_sqrt=true)", "(E √y)²",
                 "a likelihood (Gaussian on √y), but losscli has no square-root family"),
    _nll("lightgbm", "regression_l1", "laplace", MEDIAN),
    _nll("lightgbm", "huber", "huber", HUBER_LOC + " (δ absolute, not a quantile)",
         params={"alpha": "delta"}, default={"alpha": 0.9}),
    _nll("lightgbm", "fair", "fair", "location", params={"fair_c": "c"},
         default={"fair_c": 1.0}),
    _nll("lightgbm", "poisson", "poisson", MEAN),
    _nll("lightgbm", "quantile", "quantile", "τ-quantile", params={"alpha": "tau"},
         default={"alpha": 0.9}),
    _nll("lightgbm", "gamma", "gamma", MEAN),
    _nll("lightgbm", "tweedie", "tweedie", MEAN,
         params={"tweedie_variance_power": "power"},
         default={"tweedie_variance_power": 1.5}),
    _nll("lightgbm", "binary", "bernoulli", PROB, class_weight="scale_pos_weight",
         default={"scale_pos_weight": 1.0}),
    _nll("lightgbm", "multiclass", "categorical", CLASS_PROBS),
    _nll("lightgbm", "multiclassova", "multilabel", ONE_VS_ALL),
    _nll("lightgbm", "cross_entropy", "bernoulli", PROB + " (labels in [0, 1])"),
    _unsupported("lightgbm", "cross_entropy_lambda", "λ, with p = 1 − exp(−λw)",
                 "a likelihood (Bernoulli with p = 1 − exp(−λ·weight)), but the model "
                 "outputs λ, not p: losscli has no such prediction scale"),
    _no("lightgbm", "mape", _MAPE, "lightgbm:regression_l1"),
    _no("lightgbm", "lambdarank", _NOT_PER_ROW.format("a listwise ranking loss")),
    _no("lightgbm", "rank_xendcg", _NOT_PER_ROW.format("a listwise ranking loss")),
    # ------------------------------------------------------------ CatBoost (loss_function)
    _nll("catboost", "RMSE", "gaussian", MEAN),
    _nll("catboost", "RMSEWithUncertainty", "gaussian",
         "mean, with log σ per row as the second output (--param log_sigma=COLUMN)"),
    _nll("catboost", "MAE", "laplace", MEDIAN),
    _nll("catboost", "Quantile", "quantile", "τ-quantile", params={"alpha": "tau"},
         default={"alpha": 0.5}),
    _nll("catboost", "MultiQuantile", "quantile",
         "one quantile per level (--quantiles)", params={"alpha": "tau"}),
    _nll("catboost", "LogLinQuantile", "quantile", "log of the τ-quantile",
         params={"alpha": "tau"}, default={"alpha": 0.5}, scale="log"),
    _nll("catboost", "Expectile", "expectile", "τ-expectile", params={"alpha": "tau"},
         default={"alpha": 0.5}),
    _nll("catboost", "Lq", "generalized_normal", "location", params={"q": "power"}),
    _nll("catboost", "Huber", "huber", HUBER_LOC, params={"delta": "delta"}),
    _nll("catboost", "LogCosh", "logcosh", "location (log cosh r: the scale is 1)",
         holds={"scale": 1.0}),
    _nll("catboost", "Poisson", "poisson", "log-rate", scale="log"),
    _nll("catboost", "Tweedie", "tweedie", "log of the mean", scale="log",
         params={"variance_power": "power"}),
    _unsupported("catboost", "SurvivalAft", "location of log t", _NO_AFT),
    _nll("catboost", "Logloss", "bernoulli", PROB, class_weight="scale_pos_weight",
         default={"scale_pos_weight": 1.0}),
    _nll("catboost", "CrossEntropy", "bernoulli", PROB + " (labels in [0, 1])"),
    _nll("catboost", "MultiClass", "categorical", CLASS_PROBS),
    _nll("catboost", "MultiClassOneVsAll", "multilabel", ONE_VS_ALL),
    _nll("catboost", "MultiLogloss", "multilabel", LABEL_PROBS),
    _nll("catboost", "MultiCrossEntropy", "multilabel", LABEL_PROBS + " (labels in [0, 1])"),
    _unsupported("catboost", "MultiRMSE", "mean vector",
                 "a likelihood (a multivariate Gaussian with identity covariance), but "
                 "losscli scores one target column"),
    _no("catboost", "MAPE", _MAPE, "catboost:MAE"),
    _no("catboost", "SMAPE", "not a likelihood: the symmetric MAPE cannot be normalised "
        "over y", "catboost:MAE"),
    _no("catboost", "Focal", _NOT_PROPER.format("focal loss"), "catboost:Logloss"),
    _no("catboost", "Cox", _NOT_PER_ROW.format("the Cox partial likelihood")),
    _no("catboost", "YetiRank", _NOT_PER_ROW.format("a ranking loss")),
    _no("catboost", "PairLogit", _NOT_PER_ROW.format("a pairwise ranking loss")),
    _no("catboost", "QueryRMSE", _NOT_PER_ROW.format("a per-query ranking loss")),
    _no("catboost", "LambdaMart", _NOT_PER_ROW.format("a listwise ranking loss")),
    # ------------------------------------------------------------ Keras (keras.losses)
    _nll("keras", "MeanSquaredError", "gaussian", MEAN),
    _nll("keras", "MeanAbsoluteError", "laplace", MEDIAN),
    _nll("keras", "MeanSquaredLogarithmicError", "log1p_normal", "exp(E ln(1 + y)) − 1"),
    _nll("keras", "Huber", "huber", HUBER_LOC, params={"delta": "delta"},
         default={"delta": 1.0}),
    _nll("keras", "LogCosh", "logcosh", "location (log cosh r: the scale is 1)",
         holds={"scale": 1.0}),
    _nll("keras", "Poisson", "poisson", MEAN),
    _nll("keras", "KLDivergence", "categorical", CLASS_PROBS + ", soft targets"),
    _nll("keras", "BinaryCrossentropy", "bernoulli",
         PROB + " (or its logit with from_logits=True)",
         scales={"from_logits": {"true": "logit", "false": "identity"}}),
    _nll("keras", "CategoricalCrossentropy", "categorical",
         CLASS_PROBS + " (or logits with from_logits=True)"),
    _nll("keras", "SparseCategoricalCrossentropy", "categorical",
         CLASS_PROBS + " (or logits with from_logits=True)"),
    _no("keras", "MeanAbsolutePercentageError", _MAPE, "keras:MeanAbsoluteError"),
    _no("keras", "BinaryFocalCrossentropy", _NOT_PROPER.format("focal loss"),
        "keras:BinaryCrossentropy"),
    _no("keras", "CategoricalFocalCrossentropy", _NOT_PROPER.format("focal loss"),
        "keras:CategoricalCrossentropy"),
    _no("keras", "CategoricalGeneralizedCrossEntropy",
        "not a likelihood: (1 − p^q)/q is a robust loss, not the NLL of a noise model",
        "keras:CategoricalCrossentropy"),
    _no("keras", "Hinge", _MARGIN, "keras:BinaryCrossentropy"),
    _no("keras", "SquaredHinge", _MARGIN, "keras:BinaryCrossentropy"),
    _no("keras", "CategoricalHinge", _MARGIN, "keras:CategoricalCrossentropy"),
    _no("keras", "CosineSimilarity", _EMBED),
    _no("keras", "Dice", "not a likelihood: an overlap (segmentation) score",
        "keras:BinaryCrossentropy"),
    _no("keras", "Tversky", "not a likelihood: an overlap (segmentation) score",
        "keras:BinaryCrossentropy"),
    _no("keras", "Circle", _EMBED),
    _no("keras", "CTC", _NOT_PER_ROW.format("a sequence likelihood summed over "
                                            "alignments")),
)


def catalogue(framework: str | None = None) -> list[Loss]:
    """The losses of one framework (any alias), or all of them, in catalogue order."""
    if framework is None:
        return list(LOSSES)
    fw = framework_name(framework)
    return [entry for entry in LOSSES if entry.framework == fw]


def framework_name(name: str) -> str:
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key not in FRAMEWORKS:
        raise UsageError(f"unknown framework {name!r}: use one of "
                         f"{', '.join(FRAMEWORKS)} (torch is an alias of pytorch)")
    return key


# ------------------------------------------------------------------ --trained-with


@dataclass(frozen=True)
class Trained:
    """What `--trained-with` sets: the family, the prediction's scale, the parameters
    held at the values trained with, and the positive-class weight w to undo (the
    trained probability q maps back to p = q/(w(1 − q) + q))."""

    spec: str
    entry: Loss
    family: str
    pred_scale: str
    fixed: dict[str, float]
    class_weight: float | None

    def family_for(self, labels: bool) -> str:
        """The family audited: on a target of several label columns (`labels`) the
        loss's multi-label family where it has one."""
        return self.entry.labels if labels and self.entry.labels else self.family


def _canon(text: str) -> str:
    """A loss name compared without case, spaces or quotes."""
    return re.sub(r"[\s'\"]", "", text).lower()


def _arguments(text: str) -> dict[str, str]:
    """`k=v, k2=v2` (or CatBoost's `k=v;k2=v2`) as {k: v}, lower-case keys."""
    out = {}
    for part in re.split(r"[,;]", text):
        if not part.strip():
            continue
        if "=" not in part:
            raise UsageError(f"--trained-with: {part.strip()!r} is not NAME=VALUE")
        k, v = part.split("=", 1)
        out[k.strip().lower()] = v.strip().strip("'\"")
    return out


def _number(text: str, what: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise UsageError(f"--trained-with: {what} must be a number, not {text!r}") from None
    if not math.isfinite(v):
        raise UsageError(f"--trained-with: {what} must be finite, not {text!r}")
    return v


def _find(fw: str, text: str) -> tuple[Loss, dict[str, str]]:
    """The entry whose name `text` is, with the arguments written after it: in
    parentheses (`HuberLoss(delta=2)`, `SGDRegressor(loss='huber', epsilon=0.5)`) or after
    a colon (CatBoost's `Lq:q=3`). Names compare without case, spaces or quotes; the
    longest matching name wins."""
    key = _canon(text)
    entries = catalogue(fw)
    for entry in sorted(entries, key=lambda e: -len(e.loss)):
        name = _canon(entry.loss)
        if key == name:
            return entry, {}
        if name.endswith(")"):  # SGDRegressor(loss=huber) with more arguments
            head = name[:-1]
            if key.startswith(head + ",") and key.endswith(")"):
                return entry, _arguments(key[len(head) + 1:-1])
        elif key.startswith(name + "(") and key.endswith(")"):
            return entry, _arguments(key[len(name) + 1:-1])
        elif fw == "catboost" and key.startswith(name + ":"):
            return entry, _arguments(key[len(name) + 1:])
    from losscli.errors import did_you_mean

    raise UsageError(f"--trained-with: {fw} has no built-in loss {text!r}"
                     + did_you_mean(text, [e.loss for e in entries])
                     + f" (losscli losses --framework {fw} lists them)")


def trained_with(spec: str) -> Trained:
    """Resolve `FRAMEWORK:LOSS[@VALUE]` (SPEC §9.5). VALUE sets the loss's first
    parameter; arguments written with the loss set any of them. A loss that is not a
    likelihood, or whose noise model has no family here, is a usage error saying why."""
    if ":" not in spec:
        raise UsageError(f"--trained-with {spec!r}: write FRAMEWORK:LOSS[@VALUE], e.g. "
                         "xgboost:reg:tweedie@1.5 or torch:HuberLoss")
    fw_text, rest = spec.split(":", 1)
    fw = framework_name(fw_text)
    value = None
    if "@" in rest:
        rest, value = rest.rsplit("@", 1)
    entry, args = _find(fw, rest.strip())
    if not entry.likelihood:
        nearest = f"; the nearest likelihood loss is {entry.nearest}" if entry.nearest \
            else ""
        raise UsageError(f"--trained-with {spec}: {entry.loss} is {entry.reason}{nearest}")
    if entry.family is None:
        raise UsageError(f"--trained-with {spec}: {entry.loss} is {entry.reason}")
    scale = entry.scale
    values: dict[str, float] = dict(entry.default)
    for k, v in args.items():
        if k in entry.scales:
            choice = entry.scales[k].get(v.lower())
            if choice is None:
                raise UsageError(f"--trained-with {spec}: {k} must be one of "
                                 f"{', '.join(entry.scales[k])}")
            scale = choice
        elif k in entry.params or k == entry.class_weight:
            values[k] = _number(v, k)
        else:
            known = [*entry.params, *entry.scales] + ([entry.class_weight]
                                                      if entry.class_weight else [])
            raise UsageError(f"--trained-with {spec}: {entry.loss} takes no argument {k!r}"
                             + (f" (it takes {', '.join(known)})" if known else ""))
    if value is not None:
        first = next(iter(entry.params), None) or entry.class_weight
        if first is None:
            raise UsageError(f"--trained-with {spec}: {entry.loss} has no parameter to "
                             "set with @VALUE")
        values[first] = _number(value, first)
    family = entry.family
    fixed = dict(entry.holds)
    for k, v in values.items():
        if k in entry.params:
            fixed[entry.params[k]] = v
    if entry.by_power:
        p = fixed.get(next(iter(entry.params.values())))
        if p is not None and not 1.0 < p < 2.0:
            from losscli.noise import FAMILIES

            named = {cls.tweedie_power: name for name, cls in FAMILIES.items()
                     if cls.tweedie_power is not None}
            if p not in named:
                powers = ", ".join(f"{v:g} is {k}" for v, k in sorted(named.items()))
                raise UsageError(f"--trained-with {spec}: power {p:g} has no noise family "
                                 f"here ({powers}, between 1 and 2 tweedie; none exists "
                                 "for 0 < power < 1)")
            family, fixed = named[p], {}
    w = values.get(entry.class_weight) if entry.class_weight else None
    if w is not None and w <= 0:
        raise UsageError(f"--trained-with {spec}: {entry.class_weight} must be > 0")
    return Trained(spec, entry, family, scale, fixed, None if w in (None, 1.0) else w)
