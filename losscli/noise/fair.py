"""The Gibbs density of the Fair loss (LightGBM `fair`)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import special

from losscli.noise.base import Frameworks, Params
from losscli.noise.gibbs import GibbsLocation, weighted_residual_scale

LOG_2 = math.log(2.0)


def fair_log_norm(c: Any, tau: Any) -> Any:
    """log Z, Z = 2c e^a a^(−a−1) Γ(a + 1, a), a = c²/τ: ∫exp(−a(u − ln(1 + u))) over
    r = ±cu is 2c e^a ∫_1^∞ v^a e^{−av} dv. Γ(a + 1, a) = Q(a + 1, a)Γ(a + 1) in logs."""
    a = np.square(c) / np.asarray(tau, dtype=np.float64)
    return (LOG_2 + np.log(c) + a - (a + 1.0) * np.log(a)
            + np.log(special.gammaincc(a + 1.0, a)) + special.gammaln(a + 1.0))


class Fair(GibbsLocation):
    """y − ŷ ~ q(r) = exp(−(c²/τ)(|r|/c − ln(1 + |r|/c)))/Z, Z = 2c e^a a^(−a−1) Γ(a+1, a),
    a = c²/τ; c > 0, τ > 0 (the temperature).

    The exponent is LightGBM's Fair loss c|r| − c² ln(1 + |r|/c) over τ: Gaussian with
    variance τ near 0, exponential with rate c/τ (times a power) far out; no named
    distribution. ŷ is the location. Conditional: c, τ by numeric ML; marginal: `loc`
    too. C.d.f. by quadrature.
    """

    name = "fair"
    loss = "Fair loss"
    nuisance = ("c", "tau")
    marginal_params = ("loc", "c", "tau")
    param_domains = {"c": "positive", "tau": "positive", "loc": "real"}
    spread = None
    limit_note = ("; on tails heavier than the Fair density's, its likelihood rises "
                  "towards the Laplace limit c → 0 (c/τ fixed): the laplace family")
    frameworks = Frameworks(pytorch=None, sklearn=None, xgboost=None,
                            lightgbm="fair(fair_c=c)")

    def exponent(self, r: np.ndarray, params: Params) -> np.ndarray:
        c, tau = params["c"], params["tau"]
        u = np.abs(np.divide(r, c))
        ll = u - np.log1p(u)
        ll *= -np.square(c) / np.asarray(tau, dtype=np.float64)
        return ll

    def log_norm(self, params: Params) -> Any:
        return fair_log_norm(params["c"], params["tau"])

    def log_slope(self, z: np.ndarray, params: Params) -> np.ndarray:
        c, tau = params["c"], params["tau"]
        u = np.divide(z, c)
        return np.divide(c, tau) * u / (1.0 + u)

    def tail_length(self, params: Params) -> Any:
        c, tau = params["c"], params["tau"]
        return np.sqrt(tau) * np.maximum(1.0, np.sqrt(tau) / c)

    def shape_start(self, r: np.ndarray, w: np.ndarray | None) -> Params:
        _, b = weighted_residual_scale(r, w)
        sigma = b * math.sqrt(math.pi / 2.0)
        return {"c": sigma, "tau": sigma * sigma}
