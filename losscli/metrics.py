"""Family metrics of the point prediction (SPEC §1.5), all weighted by frequency weights.

Classification (bernoulli, categorical): accuracy of the most probable class; Brier
score Σ_k (q_k − t_k)² (binary: (p − y)²); ECE over 15 equal-width bins (i/15, (i+1)/15]
of the top-class confidence, Σ_b (W_b / W) |accuracy_b − confidence_b|.
Everything else: mse, rmse, mae, r2 = 1 − Σw(y − ŷ)² / Σw(y − ȳ)²; for poisson and gamma
also the mean deviance (as scikit-learn's mean_poisson_deviance / mean_gamma_deviance)
and d2 = 1 − D(y, ŷ) / D(y, ȳ).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from losscli.families.base import block_sums, total_weight, wmean

ECE_BINS = 15


def classification(y: np.ndarray, logq: np.ndarray, w: np.ndarray | None,
                   binary: bool) -> dict[str, float]:
    """y: (n,) P(y=1) or codes, or (K, n) soft labels; logq: (K, n) or (K, 1)."""
    n = y.shape[-1]
    q = np.exp(np.broadcast_to(logq, (logq.shape[0], n)))
    if binary:
        target = np.stack([1.0 - y, y])
    elif y.ndim == 2:
        target = y
    else:
        target = np.zeros_like(q)
        target[y, np.arange(n)] = 1.0
    predicted = np.argmax(q, axis=0)
    # soft labels count a row correct when the most probable classes agree
    truth = np.argmax(target, axis=0)
    correct = (predicted == truth).astype(np.float64)
    diff = q - target
    brier_rows = (diff * diff).sum(axis=0)
    if binary:
        brier_rows *= 0.5  # (p − y)² counted once, as scikit-learn's brier_score_loss
    conf = q.max(axis=0)
    bins = np.clip(np.ceil(conf * ECE_BINS).astype(np.int64) - 1, 0, ECE_BINS - 1)
    wts = np.ones(n) if w is None else w
    w_b = np.bincount(bins, weights=wts, minlength=ECE_BINS)
    acc_b = np.bincount(bins, weights=wts * correct, minlength=ECE_BINS)
    conf_b = np.bincount(bins, weights=wts * conf, minlength=ECE_BINS)
    ece = float(np.abs(acc_b - conf_b).sum() / w_b.sum())
    return {"accuracy": wmean(correct, w), "brier": wmean(brier_rows, w), "ece": ece}


def regression(y: np.ndarray, yhat, w: np.ndarray | None) -> dict[str, float | None]:
    with np.errstate(over="ignore", invalid="ignore"):  # overflow → inf → null, with a warning
        return _regression(y, yhat, w)


def _regression(y: np.ndarray, yhat, w: np.ndarray | None) -> dict[str, float | None]:
    n = y.shape[-1]
    W = total_weight(n, w)
    per_row = np.ndim(yhat) == 1

    def residual_sums(sl: slice):
        r = y[sl] - (yhat[sl] if per_row else yhat)
        return np.abs(r), np.square(r, out=r), y[sl]

    abs_sum, sq_sum, y_sum = block_sums(residual_sums, n, w)
    ybar = y_sum / W
    # Σ w (y − ȳ)² in a second pass: the one-pass Σ w y² − W ȳ² cancels catastrophically
    (sst,) = block_sums(lambda sl: (np.square(y[sl] - ybar),), n, w)
    mse = sq_sum / W
    r2 = 1.0 - sq_sum / sst if sst > 0 and math.isfinite(sst) else None
    return {"mse": mse, "rmse": math.sqrt(mse), "mae": abs_sum / W, "r2": r2}


def poisson_deviance_rows(y: np.ndarray, mu) -> np.ndarray:
    """2 [y log(y/μ) − y + μ] per row."""
    return 2.0 * (special.xlogy(y, y) - special.xlogy(y, mu) - y + mu)


def gamma_deviance_rows(y: np.ndarray, mu) -> np.ndarray:
    """2 [log(μ/y) + y/μ − 1] per row."""
    return 2.0 * (np.log(mu / y) + y / mu - 1.0)


DEVIANCES = {"poisson": poisson_deviance_rows, "gamma": gamma_deviance_rows}


def deviance(family: str, y: np.ndarray, yhat, w: np.ndarray | None) -> dict[str, float | None]:
    """Mean deviance and D²; null for the gamma deviance when some y ≤ 0 (undefined there:
    the discretised gamma accepts y = 0, the deviance does not)."""
    if family == "gamma" and not (y.min() > 0 and np.min(yhat) > 0):
        return {"mean_deviance": None, "d2": None}
    rows = DEVIANCES[family]
    dev = wmean(rows(y, yhat), w)
    null = wmean(rows(y, wmean(y, w)), w)
    return {"mean_deviance": dev, "d2": 1.0 - dev / null if null > 0 else None}
