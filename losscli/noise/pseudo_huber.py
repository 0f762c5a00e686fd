"""Symmetric hyperbolic noise: the negative log-likelihood behind the pseudo-Huber loss."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import special

from losscli.noise.base import Frameworks, Nesting, Params
from losscli.noise.gibbs import GibbsLocation, weighted_residual_scale

HALF_LOG_HALF_PI = 0.5 * math.log(0.5 * math.pi)


class PseudoHuber(GibbsLocation):
    """y − ŷ ~ q(r) = exp(−(δ²/σ²)(√(1 + (r/δ)²) − 1)) / (2δ e^a K₁(a)), a = δ²/σ²;
    σ > 0, δ > 0 (the symmetric hyperbolic distribution, ∝ exp(−(δ/σ²)√(δ² + r²))).

    The exponent is the pseudo-Huber loss δ²(√(1 + (r/δ)²) − 1) over σ²: Gaussian with
    variance σ² near 0, exponential with rate δ/σ² far out. log q computed as
    −(r/σ)²/(√(1 + u²) + 1) − log 2δ − log k1e(a), u = r/δ (no cancellation at small u;
    k1e(a) = e^a K₁(a) does not overflow). δ = ∞ is the Gaussian with variance σ², on
    the boundary of δ's space (the fit's limit; LR test ½χ²₀ + ½χ²₁). ŷ is the
    location. Conditional: σ, δ by numeric ML; marginal: `loc` too. C.d.f. by
    quadrature. scipy: genhyperbolic(p=1, a=δ²/σ², b=0, scale=δ).
    """

    name = "pseudo_huber"
    loss = "pseudo-Huber loss"
    nuisance = ("sigma", "delta")
    marginal_params = ("loc", "sigma", "delta")
    param_domains = {"sigma": "positive", "delta": "positive", "loc": "real"}
    nests = (Nesting("gaussian", "delta", math.inf),)
    limit_note = ("; on tails heavier than its density's, the likelihood rises towards "
                  "the Laplace limit δ → 0 (δ/σ² fixed): the laplace family")
    spread = ("sigma", "scale")
    frameworks = Frameworks(
        pytorch=None,
        sklearn=None,
        xgboost="reg:pseudohubererror(huber_slope=δ)",
        lightgbm=None,
    )

    def exponent(self, r: np.ndarray, params: Params) -> np.ndarray:
        s, d = params["sigma"], params["delta"]
        u = np.divide(r, d)
        ll = np.sqrt(1.0 + u * u)
        ll += 1.0
        np.divide(np.square(np.divide(r, s)), ll, out=ll)
        ll *= -1.0
        return ll

    def log_norm(self, params: Params) -> Any:
        """log 2δ + log K₁(a) + a = log 2σ + log(√a k1e(a)); at δ = ∞ (√a k1e(a) →
        √(π/2)) the Gaussian's log σ√(2π)."""
        s, d = params["sigma"], params["delta"]
        a = np.square(np.divide(d, s))
        with np.errstate(divide="ignore", invalid="ignore"):
            shape = np.where(np.isinf(a), HALF_LOG_HALF_PI,
                             0.5 * np.log(a) + np.log(special.k1e(a)))
        return np.log(2.0 * np.asarray(s, dtype=np.float64)) + shape

    def log_slope(self, z: np.ndarray, params: Params) -> np.ndarray:
        s, d = params["sigma"], params["delta"]
        u = np.divide(z, d)
        return np.divide(z, np.square(s)) / np.sqrt(1.0 + u * u)

    def tail_length(self, params: Params) -> Any:
        s, d = params["sigma"], params["delta"]
        return s * np.maximum(1.0, np.divide(s, d))

    def shape_start(self, r: np.ndarray, w: np.ndarray | None) -> Params:
        _, b = weighted_residual_scale(r, w)
        sigma = b * math.sqrt(math.pi / 2.0)
        return {"sigma": sigma, "delta": 1.345 * sigma}

    def limit_shape(self, params: Params) -> float:
        return float(np.divide(params["delta"], params["sigma"]))

    def limit_params(self, nested: Params) -> Params:
        return {"sigma": nested["sigma"], "delta": math.inf}

    def variance(self, f: np.ndarray, params: Params) -> np.ndarray:
        """σ² K₂(a)/K₁(a), a = δ²/σ² (the symmetric hyperbolic's variance; σ² at δ = ∞)."""
        s, d = params["sigma"], params["delta"]
        a = np.square(np.divide(d, s))
        with np.errstate(invalid="ignore"):
            v = np.square(s) * np.where(np.isinf(a), 1.0, special.kve(2, a) / special.k1e(a))
        return np.broadcast_to(v, np.shape(f)).astype(np.float64)

    def to_scipy(self, pred: Any, params: Params) -> Any:
        from scipy import stats

        s, d = params["sigma"], params["delta"]
        if math.isinf(d):
            return stats.norm(loc=pred, scale=s)
        return stats.genhyperbolic(p=1.0, a=(d / s) ** 2, b=0.0, loc=pred, scale=d)
