"""Bernoulli noise: the negative log-likelihood behind binary cross-entropy / log loss."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special

from losscli.noise import crps as crps_forms
from losscli.noise.base import Family, Frameworks, Params
from losscli.noise.measures import COUNTING
from losscli.noise.sums import wmean
from losscli.noise.support import UNIT_CLOSED


def soft_loglik(target: np.ndarray, logq: np.ndarray) -> np.ndarray:
    """Σ_k t_k log q_k over axis 0, with 0 · log 0 = 0 (a class of no mass costs nothing)."""
    with np.errstate(invalid="ignore"):
        return np.where(target > 0.0, target * logq, 0.0).sum(axis=0)


def log_loss_score(p: np.ndarray, sw: np.ndarray, mean: np.ndarray, W: float) -> float:
    """−Σ [Σwy · log p + Σw(1 − y) · log(1 − p)] / W over groups of forecast p (soft labels
    too: it is then their cross-entropy); a group whose y are all 0 (or 1) at p = 0 (or 1)
    costs 0."""
    st = sw * mean
    return float(-(special.xlogy(st, p) + special.xlogy(sw - st, 1.0 - p)).sum() / W)


class Bernoulli(Family):
    """y ~ Bernoulli(p), p = ŷ = P(y = 1); soft labels y ∈ [0, 1] give the cross-entropy.

    log q = y log p + (1 − y) log(1 − p). The prediction is held as the class-major
    log-probability block [log(1 − p), log p] (from probabilities, or from a logit z by
    log σ(−z), log σ(z)). No nuisance; marginal MLE p = Σ w y / W.
    """

    name = "bernoulli"
    loss = "binary cross-entropy (log loss)"
    support = UNIT_CLOSED
    pred_domain = UNIT_CLOSED
    discrete = True
    measure = COUNTING
    prediction = "P(y = 1)"
    nuisance = ()
    marginal_params = ("p",)
    param_domains = {"p": "probability"}
    location = "p"
    input = "probability"
    closed_form = ("marginal",)
    applies_to = ("binary", "soft_binary")
    default_for = ("binary", "soft_binary", "proportion with prediction")
    requirement = "targets in {0, 1} or soft labels"
    soft_label_kinds = ("proportion",)
    frameworks = Frameworks(
        pytorch="torch.nn.BCEWithLogitsLoss",
        sklearn="HistGradientBoostingClassifier(loss='log_loss')",
        xgboost="binary:logistic",
        lightgbm="binary",
        catboost="Logloss",
        keras="keras.losses.BinaryCrossentropy",
    )

    def loglik(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        return soft_loglik(np.stack([1.0 - y, y]), pred)

    def fit(self, y: np.ndarray, w: np.ndarray | None, pred: Any = None) -> Params:
        return {} if pred is not None else {"p": wmean(y, w)}

    def marginal_pred(self, params: Params) -> np.ndarray:
        p = params["p"]
        with np.errstate(divide="ignore"):
            return np.log(np.array([[1.0 - p], [p]]))

    def fit_stats(self, y: np.ndarray, pred: Any) -> np.ndarray | None:
        return y[None, :] if pred is None else None  # p = the mean of y

    def fit_from_stats(self, stats: Any, conditional: bool) -> Params:
        return {"p": float(stats.mean[0])}

    # diagnostics
    pit_method = "nonrandomized"
    decomposition = "nll"
    calibration = True
    probability_forecast = True

    def pit_interval(self, y: np.ndarray, pred: Any, params: Params
                     ) -> tuple[np.ndarray, np.ndarray]:
        """[F(y − 1), F(y)] with F(0) = 1 − p: [0, 1 − p] for y = 0, [1 − p, 1] for y = 1."""
        q0 = np.broadcast_to(np.exp(pred[0]), np.shape(y))
        one = y >= 1.0
        return np.where(one, q0, 0.0), np.where(one, 1.0, q0)

    def forecast(self, y: np.ndarray, pred: Any) -> tuple[np.ndarray, np.ndarray]:
        """(p, y)."""
        return np.broadcast_to(np.exp(pred[1]), np.shape(y)), y

    def variance(self, f: np.ndarray, params: Params) -> np.ndarray:
        return f * (1.0 - f)

    def recalibrated_score(self, rc, sw, mean, m2, terms, W, value_counts) -> float:
        return log_loss_score(rc, sw, mean, W)

    def closed_se(self, params: Params, W: float, conditional: bool) -> dict:
        """Marginal: −∂²ℓ/∂p² = W/(p(1 − p)) at p̂ = ȳ (soft labels too): √(p(1 − p)/W)."""
        if conditional:
            return {}
        p = params["p"]
        return {"p": (p * (1.0 - p) / W) ** 0.5}

    def to_scipy(self, pred: Any, params: Params) -> Any:
        from scipy import stats

        return stats.bernoulli(p=np.exp(pred[1]))

    # -- proper scores (SPEC §8.3)
    def crps(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        """(y − p)²: F = 1 − p on [0, 1), so ∫(F − 1{y ≤ x})² dx is p² at y = 0 and
        (1 − p)² at y = 1 (the Brier score). A soft label t scores its expectation,
        t(1 − p)² + (1 − t)p² = (t − p)² + t(1 − t), as the Brier metric does."""
        p = np.exp(pred[1])
        t = crps_forms.arr(y)
        return np.square(t - p) + t * (1.0 - t)

    def ppf(self, q: float, pred: Any, params: Params) -> np.ndarray:
        """min{k : F(k) ≥ q}: 0 where q ≤ F(0) = 1 − p, else 1."""
        return np.where(q <= np.exp(pred[0]), 0.0, 1.0)
