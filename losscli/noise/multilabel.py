"""Multi-label noise: independent Bernoullis, the likelihood behind binary cross-entropy
summed over several labels (multi-label classification)."""

from __future__ import annotations

from typing import Any

import numpy as np

from losscli.noise.base import Family, Frameworks, Params
from losscli.noise.bernoulli import soft_loglik
from losscli.noise.measures import COUNTING
from losscli.noise.support import UNIT_CLOSED


def pairs(block: np.ndarray) -> int:
    """L of a label-pair block (2L, n): [1 − y_1 … 1 − y_L; y_1 … y_L]."""
    return block.shape[0] // 2


class Multilabel(Family):
    """y = (y_1 … y_L), y_l ~ Bernoulli(q_l) independently, ŷ = (q_1 … q_L) = P(y_l = 1);
    each label 0/1 or a soft label in [0, 1].

    log q(y) = Σ_l [y_l log q_l + (1 − y_l) log(1 − q_l)]: the sum of the labels' binary
    cross-entropies (PyTorch BCEWithLogitsLoss on a label vector, CatBoost MultiLogloss).
    Each label is a two-class categorical, so the target is held as the label-pair block
    [1 − y; y] (2L, n) and the prediction as [log(1 − q); log q] (from probabilities by
    log1p, from logits z by log σ(−z), log σ(z)); the log-likelihood is the soft-label
    cross-entropy of the two blocks, 0 · log 0 = 0. The classes are the label names.
    No nuisance; marginal MLE q_l = Σ w y_l / W, L parameters.
    """

    name = "multilabel"
    loss = "binary cross-entropy summed over labels"
    support = UNIT_CLOSED  # each label; the labels' columns are checked when read
    pred_domain = UNIT_CLOSED
    discrete = True
    measure = COUNTING
    prediction = "P(y_l = 1) per label"
    nuisance = ()
    marginal_params = ("one probability per label",)
    location = None
    input = "labels"
    closed_form = ("marginal",)
    applies_to = ("multilabel",)
    default_for = ("multilabel",)
    requirement = "several label columns (--target 'y_*')"
    independent_labels = True
    frameworks = Frameworks(
        pytorch="torch.nn.BCEWithLogitsLoss",
        sklearn=None,
        xgboost=None,
        lightgbm=None,
        catboost="MultiLogloss",
        keras=None,
    )
    # diagnostics: no PIT (a row is a vector), no CORP decomposition or calibration tests
    # (one forecast per label, not per row); `by_prediction` bins the rows on the mean
    # predicted probability against the share of labels that are 1
    decomposition = None

    def loglik(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        return soft_loglik(y, pred)

    def label_loglik(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        """(L, n): each label's y_l log q_l + (1 − y_l) log(1 − q_l); the rows sum to
        `loglik`."""
        L = pairs(y)
        with np.errstate(invalid="ignore"):
            neg = np.where(y[:L] > 0.0, y[:L] * pred[:L], 0.0)
            pos = np.where(y[L:] > 0.0, y[L:] * pred[L:], 0.0)
        return neg + pos

    def fit(self, y: np.ndarray, w: np.ndarray | None, pred: Any = None) -> Params:
        if pred is not None:
            return {}
        labels = y[pairs(y):]
        q = (labels @ w / float(w.sum())) if w is not None else labels.mean(axis=1)
        return {c: float(p) for c, p in zip(self.classes, q, strict=True)}

    def n_params(self, params: Params, conditional: bool) -> int:
        return 0 if conditional else len(self.classes)

    def closed_se(self, params: Params, W: float, conditional: bool) -> dict:
        """Marginal: each label's q̂_l = ȳ_l has −∂²ℓ/∂q_l² = W/(q_l(1 − q_l)) (soft labels
        too) and no cross terms: √(q_l(1 − q_l)/W)."""
        if conditional:
            return {}
        return {c: (p * (1.0 - p) / W) ** 0.5 for c, p in params.items()}

    def boundary(self, params: Params) -> tuple[str, ...]:
        """The label probabilities at 0 or 1."""
        return tuple(c for c, p in params.items() if not 0.0 < p < 1.0)

    def marginal_pred(self, params: Params) -> np.ndarray:
        q = np.array([params[c] for c in self.classes], dtype=np.float64)
        with np.errstate(divide="ignore"):
            return np.concatenate([np.log1p(-q), np.log(q)])[:, None]

    def fit_stats(self, y: np.ndarray, pred: Any) -> np.ndarray | None:
        """Marginal: the label probabilities are the labels' means."""
        if pred is not None or y.ndim != 2 or y.shape[0] != 2 * len(self.classes):
            return None
        return y[pairs(y):]

    def fit_from_stats(self, stats: Any, conditional: bool) -> Params:
        return {c: float(p) for c, p in zip(self.classes, stats.mean, strict=True)}

    def forecast(self, y: np.ndarray, pred: Any) -> tuple[np.ndarray, np.ndarray]:
        """(mean_l q_l, mean_l y_l): the expected and the observed share of labels that
        are 1."""
        L = pairs(y)
        n = y.shape[-1]
        q = np.exp(np.broadcast_to(pred[L:], (L, n)))
        return q.mean(axis=0), y[L:].mean(axis=0)

    def to_scipy(self, pred: Any, params: Params) -> Any:
        """The labels' Bernoullis, one per row of q (L, n)."""
        from scipy import stats

        return stats.bernoulli(p=np.exp(pred[pairs(pred):]))

    crps = None
    ppf = None
