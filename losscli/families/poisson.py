"""Poisson noise: the negative log-likelihood behind Poisson loss / Poisson deviance."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special

from losscli.families.base import (
    COUNTS,
    NONNEGATIVE,
    Family,
    Frameworks,
    Params,
    gammaln_int,
    wmean,
)


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
    prediction = "mean"
    nuisance = ()
    marginal_params = ("mean",)
    location = "mean"
    frameworks = Frameworks(
        pytorch="torch.nn.PoissonNLLLoss(log_input=False)",
        sklearn="HistGradientBoostingRegressor(loss='poisson')",
        xgboost="count:poisson",
        lightgbm="poisson",
    )

    def loglik(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        ll = special.xlogy(y, pred)
        ll -= pred
        ll -= gammaln_int(y)
        return ll

    def fit(self, y: np.ndarray, w: np.ndarray | None, pred: Any = None) -> Params:
        return {} if pred is not None else {"mean": wmean(y, w)}

    def numeric_fit(self, conditional: bool, counting: bool) -> bool:
        return False

    def to_scipy(self, pred: Any, params: Params) -> Any:
        from scipy import stats

        return stats.poisson(mu=pred)
