"""The Gibbs density of the Fair loss (LightGBM `fair`)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import special

from losscli.noise.base import Frameworks, Nesting, Params
from losscli.noise.gibbs import GibbsLocation, weighted_residual_scale

LOG_2 = math.log(2.0)
LOG_2PI = math.log(2.0 * math.pi)


def fair_log_norm(c: Any, tau: Any) -> Any:
    """log Z, Z = 2c e^a a^(−a−1) Γ(a + 1, a), a = c²/τ (∫exp(−a(u − ln(1 + u))) over
    r = ±cu is 2c e^a ∫_1^∞ v^a e^{−av} dv), written without the cancelling terms as
    log 2 + ½ log 2πτ + log Q(a + 1, a) + s(a), s(a) = log Γ(a + 1) − (a + ½) log a + a −
    ½ log 2π (Stirling's remainder, by its series for a ≥ 50). At c = ∞ (Q → ½, s → 0)
    it is the Gaussian's ½ log 2πτ."""
    tau = np.asarray(tau, dtype=np.float64)
    a = np.square(c) / tau
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        big = np.maximum(a, 50.0)
        series = (1.0 / 12.0 - (1.0 / 360.0 - 1.0 / (1260.0 * big * big)) / (big * big)) / big
        direct = (special.gammaln(a + 1.0) - (a + 0.5) * np.log(a) + a - 0.5 * LOG_2PI)
        rest = np.where(a >= 50.0, series, direct) + np.log(special.gammaincc(a + 1.0, a))
        rest = np.where(np.isinf(a), -LOG_2, rest)
    return LOG_2 + 0.5 * (LOG_2PI + np.log(tau)) + rest


def fair_g(u: np.ndarray) -> np.ndarray:
    """(u − ln(1 + u))/u² for u ≥ 0 (½ at 0; the series ½ − u/3 + u²/4 − u³/5 below 1e-3,
    where the difference would cancel)."""
    u = np.asarray(u, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = u - np.log1p(u)
        out /= u * u
    small = u < 1e-3
    if small.any():
        v = u[small]
        out[small] = 0.5 - v * (1.0 / 3.0 - v * (0.25 - 0.2 * v))
    return out


class Fair(GibbsLocation):
    """y − ŷ ~ q(r) = exp(−(c²/τ)(|r|/c − ln(1 + |r|/c)))/Z, Z = 2c e^a a^(−a−1) Γ(a+1, a),
    a = c²/τ; c > 0, τ > 0 (the temperature).

    The exponent is LightGBM's Fair loss c|r| − c² ln(1 + |r|/c) over τ: Gaussian with
    variance τ near 0, exponential with rate c/τ (times a power) far out; no named
    distribution. c = ∞ is the Gaussian with variance τ, on the boundary of c's space
    (the fit's limit; LR test ½χ²₀ + ½χ²₁). ŷ is the location. Conditional: c, τ by
    numeric ML; marginal: `loc` too. C.d.f. by quadrature.
    """

    name = "fair"
    loss = "Fair loss"
    nuisance = ("c", "tau")
    marginal_params = ("loc", "c", "tau")
    param_domains = {"c": "positive", "tau": "positive", "loc": "real"}
    nests = (Nesting("gaussian", "c", math.inf),)
    spread = None
    limit_note = ("; on tails heavier than the Fair density's, its likelihood rises "
                  "towards the Laplace limit c → 0 (c/τ fixed): the laplace family")
    frameworks = Frameworks(pytorch=None, sklearn=None, xgboost=None,
                            lightgbm="fair(fair_c=c)")

    def exponent(self, r: np.ndarray, params: Params) -> np.ndarray:
        """−(c²/τ)(u − ln(1 + u)) = −(r²/τ) g(u), u = |r|/c (`fair_g`; −r²/2τ at c = ∞)."""
        c, tau = params["c"], params["tau"]
        ll = fair_g(np.abs(np.divide(r, c)))
        ll *= np.square(r)
        ll /= -np.asarray(tau, dtype=np.float64)
        return ll

    def log_norm(self, params: Params) -> Any:
        return fair_log_norm(params["c"], params["tau"])

    def log_slope(self, z: np.ndarray, params: Params) -> np.ndarray:
        c, tau = params["c"], params["tau"]
        return np.divide(z, tau) / (1.0 + np.divide(z, c))

    def limit_shape(self, params: Params) -> float:
        return float(np.divide(params["c"], np.sqrt(params["tau"])))

    def limit_params(self, nested: Params) -> Params:
        return {"c": math.inf, "tau": nested["sigma"] ** 2}

    def tail_length(self, params: Params) -> Any:
        c, tau = params["c"], params["tau"]
        return np.sqrt(tau) * np.maximum(1.0, np.sqrt(tau) / c)

    def shape_start(self, r: np.ndarray, w: np.ndarray | None) -> Params:
        _, b = weighted_residual_scale(r, w)
        sigma = b * math.sqrt(math.pi / 2.0)
        return {"c": sigma, "tau": sigma * sigma}
