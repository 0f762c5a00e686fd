"""Poisson noise: the negative log-likelihood behind Poisson loss / Poisson deviance."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import special

from losscli.noise import crps as crps_forms
from losscli.noise.base import Family, Frameworks, Params
from losscli.noise.logspace import gammaln_int, xlogy
from losscli.noise.measures import COUNTING
from losscli.noise.sums import wmean
from losscli.noise.support import COUNTS, NONNEGATIVE


class Poisson(Family):
    """y ~ Poisson(μ), μ = ŷ (the mean), y ∈ {0, 1, 2, …}.

    log q = y log μ − μ − log Γ(y + 1). No nuisance; marginal MLE μ = Σ w y / W.
    Minimising it over μ is minimising the Poisson deviance 2[y log(y/μ) − (y − μ)].
    """

    name = "poisson"
    loss = "Poisson NLL / Poisson deviance"
    support = COUNTS
    pred_domain = NONNEGATIVE
    discrete = True
    measure = COUNTING
    prediction = "mean"
    nuisance = ()
    marginal_params = ("mean",)
    param_domains = {"mean": "nonnegative"}
    location = "mean"
    closed_form = ("marginal",)
    applies_to = ("binary", "count")
    default_for = ("count",)
    tweedie_power = 1.0  # TweedieRegressor(power=1)
    frameworks = Frameworks(
        pytorch="torch.nn.PoissonNLLLoss(log_input=False)",
        sklearn="HistGradientBoostingRegressor(loss='poisson')",
        xgboost="count:poisson",
        lightgbm="poisson",
        catboost="Poisson",
        keras="keras.losses.Poisson",
    )

    def loglik(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        ll = xlogy(y, pred)
        ll -= pred
        ll -= gammaln_int(y)
        return ll

    def fit(self, y: np.ndarray, w: np.ndarray | None, pred: Any = None) -> Params:
        return {} if pred is not None else {"mean": wmean(y, w)}

    def fit_stats(self, y: np.ndarray, pred: Any) -> np.ndarray | None:
        return y[None, :] if pred is None else None  # μ = the mean of y

    def fit_from_stats(self, stats: Any, conditional: bool) -> Params:
        return {"mean": float(stats.mean[0])}

    @staticmethod
    def deviance(y: np.ndarray, mu: Any) -> np.ndarray:
        """The Poisson unit deviance 2 [y log(y/μ) − y + μ], 0 · log 0 = 0: one log of
        the ratio per row where y > 0 and every y/μ is positive and finite (μ > 0 finite),
        else scipy's xlogy(y, y) − xlogy(y, μ)."""
        y = np.asarray(y, dtype=np.float64)
        with np.errstate(all="ignore"):
            ratio = np.divide(y, mu)
        if y.ndim == 1 and ratio.shape == y.shape and y.size:
            lo = float(np.min(mu)) if np.ndim(mu) else float(mu)
            hi = float(np.max(ratio))
            if lo > 0.0 and math.isfinite(hi) and math.isfinite(
                    float(np.max(mu)) if np.ndim(mu) else lo):
                pos = y > 0.0
                np.log(ratio, out=ratio, where=pos)
                ratio[~pos] = 0.0
                ratio *= y
                ratio -= y
                ratio += mu
                ratio *= 2.0
                return ratio
        return 2.0 * (special.xlogy(y, y) - special.xlogy(y, mu) - y + mu)

    # diagnostics
    pit_method = "nonrandomized"
    decomposition = "nll"
    calibration = True
    dispersion_test = "dean"
    zero_test = True
    rootogram = True

    def cdf(self, k: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        """P(Y ≤ k) = Q(k + 1, μ), the regularised upper incomplete gamma (0 for k < 0)."""
        k = np.asarray(k, dtype=np.float64)
        return np.where(k < 0, 0.0, special.pdtr(np.maximum(k, 0.0), pred))

    def variance(self, f: np.ndarray, params: Params) -> np.ndarray:
        return f

    def zero_probability(self, pred: Any, params: Params) -> np.ndarray:
        return np.exp(-np.asarray(pred, dtype=np.float64))

    def pmf_recurrence(self, pred: Any, params: Params) -> tuple[np.ndarray, np.ndarray, Any]:
        """P(Y = 0) = e^(−μ), P(Y = k) = P(Y = k − 1) · μ/k."""
        mu = np.asarray(pred, dtype=np.float64)
        return np.exp(-mu), mu, lambda k: 1.0 / k

    def row_terms(self, y: np.ndarray) -> np.ndarray:
        return gammaln_int(y)[None, :]

    def recalibrated_score(self, rc, sw, mean, m2, terms, W, value_counts) -> float:
        """−Σ [Σwy · log μ − Σw · μ] + Σw log y!, over W."""
        st = sw * mean
        return float((-(special.xlogy(st, rc) - sw * rc).sum() + terms[0]) / W)

    def closed_se(self, params: Params, W: float, conditional: bool) -> dict:
        """Marginal: −∂²ℓ/∂μ² = Σwy/μ² = W/ȳ at μ̂ = ȳ: √(ȳ/W)."""
        return {} if conditional else {"mean": (params["mean"] / W) ** 0.5}

    def to_scipy(self, pred: Any, params: Params) -> Any:
        from scipy import stats

        return stats.poisson(mu=pred)

    # -- proper scores (SPEC §8.3): on the counting measure
    def crps(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        """Σ_k (F(k) − 1{y ≤ k})², in closed form (`crps_forms.poisson`)."""
        return crps_forms.poisson(y, pred)

    def ppf(self, q: float, pred: Any, params: Params) -> np.ndarray:
        """min{k : F(k) ≥ q} (`crps_forms.poisson_ppf`)."""
        return crps_forms.poisson_ppf(q, pred)
