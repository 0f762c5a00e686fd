"""Categorical noise: the negative log-likelihood behind softmax cross-entropy."""

from __future__ import annotations

from typing import Any

import numpy as np

from losscli.noise.base import Family, Frameworks, Params
from losscli.noise.bernoulli import log_loss_score, soft_loglik
from losscli.noise.measures import COUNTING
from losscli.noise.support import UNIT_CLOSED


class Categorical(Family):
    """y ~ Categorical(q_1 … q_K), ŷ = the class-probability vector; soft labels allowed.

    log q = log q_{y} (hard label) or Σ_k t_k log q_k (soft label t). The prediction is a
    class-major log-probability block (K, n), from probabilities or log-softmax of logits.
    No nuisance; marginal MLE q_k = Σ w [y = k] / W, K − 1 free parameters.
    """

    name = "categorical"
    loss = "softmax cross-entropy"
    support = UNIT_CLOSED  # soft-label entries; hard labels are checked against the classes
    pred_domain = UNIT_CLOSED
    discrete = True
    measure = COUNTING
    prediction = "class-probability vector"
    nuisance = ()
    marginal_params = ("one probability per class",)
    location = None
    input = "classes"
    closed_form = ("marginal",)
    applies_to = ("categorical", "soft_categorical")
    default_for = ("categorical", "soft_categorical")
    requirement = "class labels"
    frameworks = Frameworks(
        pytorch="torch.nn.CrossEntropyLoss",
        sklearn="HistGradientBoostingClassifier(loss='log_loss')",
        xgboost="multi:softprob",
        lightgbm="multiclass",
        catboost="MultiClass",
        keras="keras.losses.CategoricalCrossentropy",
    )

    def loglik(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        if y.ndim == 2:
            return soft_loglik(y, pred)
        if pred.shape[1] == 1:
            return pred[y, 0]
        return np.take_along_axis(pred, y[None, :], axis=0)[0]

    def fit(self, y: np.ndarray, w: np.ndarray | None, pred: Any = None) -> Params:
        if pred is not None:
            return {}
        k = len(self.classes)
        if y.ndim == 2:
            probs = (y @ w if w is not None else y.sum(axis=1)) / (
                float(w.sum()) if w is not None else y.shape[1])
        else:
            counts = np.bincount(y, weights=w, minlength=k).astype(np.float64)
            probs = counts / counts.sum()
        return {c: float(p) for c, p in zip(self.classes, probs, strict=True)}

    def n_params(self, params: Params, conditional: bool) -> int:
        return 0 if conditional else max(len(self.classes) - 1, 0)

    def closed_se(self, params: Params, W: float, conditional: bool) -> dict:
        """Marginal: the inverse information of the multinomial is (diag p − ppᵀ)/W, whose
        diagonal is √(p_k(1 − p_k)/W) for every class (the K − 1 free and the last)."""
        return {c: (p * (1.0 - p) / W) ** 0.5 for c, p in params.items()}

    def boundary(self, params: Params) -> tuple[str, ...]:
        """The class probabilities at 0 or 1."""
        return tuple(c for c, p in params.items() if not 0.0 < p < 1.0)

    def marginal_pred(self, params: Params) -> np.ndarray:
        probs = np.array([params[c] for c in self.classes], dtype=np.float64)
        with np.errstate(divide="ignore"):
            return np.log(probs)[:, None]

    def fit_stats(self, y: np.ndarray, pred: Any) -> np.ndarray | None:
        """Soft labels (K, n): the class probabilities are their means. Hard labels are
        fitted on their value counts."""
        return y if pred is None and y.ndim == 2 else None

    def fit_from_stats(self, stats: Any, conditional: bool) -> Params:
        return {c: float(p) for c, p in zip(self.classes, stats.mean, strict=True)}

    # diagnostics: the top label (the most probable class, the first on ties)
    decomposition = "top_label_log_loss"
    calibration = True
    probability_forecast = True

    def forecast(self, y: np.ndarray, pred: Any) -> tuple[np.ndarray, np.ndarray]:
        """(p, t): the top probability and whether the label is its class."""
        top = np.argmax(pred, axis=0)
        p = np.exp(np.take_along_axis(pred, top[None, :], axis=0)[0])
        n = np.shape(y)[-1]
        p = np.broadcast_to(p, (n,))
        correct = (y == np.broadcast_to(top, (n,))).astype(np.float64)
        return p, correct

    def variance(self, f: np.ndarray, params: Params) -> np.ndarray:
        return f * (1.0 - f)

    def recalibrated_score(self, rc, sw, mean, m2, terms, W, value_counts) -> float:
        return log_loss_score(rc, sw, mean, W)

    def to_scipy(self, pred: Any, params: Params) -> Any:
        from scipy import stats

        return stats.multinomial(1, np.exp(pred[:, 0]))

    # -- proper scores (SPEC §8.3): classes have no order, so there is no c.d.f. over y
    # and no CRPS or central interval
    crps = None
    ppf = None
    crps_note = "the classes have no order, so there is no c.d.f. to score"


