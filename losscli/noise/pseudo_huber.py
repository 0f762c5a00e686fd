"""Symmetric hyperbolic noise: the negative log-likelihood behind the pseudo-Huber loss."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import special

from losscli.noise.base import Frameworks, Params
from losscli.noise.gibbs import GibbsLocation, weighted_residual_scale

LOG_2 = math.log(2.0)


class PseudoHuber(GibbsLocation):
    """y − ŷ ~ q(r) = exp(−(δ²/σ²)(√(1 + (r/δ)²) − 1)) / (2δ e^a K₁(a)), a = δ²/σ²;
    σ > 0, δ > 0 (the symmetric hyperbolic distribution, ∝ exp(−(δ/σ²)√(δ² + r²))).

    The exponent is the pseudo-Huber loss δ²(√(1 + (r/δ)²) − 1) over σ²: Gaussian with
    variance σ² near 0, exponential with rate δ/σ² far out. log q computed as
    −a·u²/(√(1 + u²) + 1) − log 2δ − log k1e(a), u = r/δ (no cancellation at small u;
    k1e(a) = e^a K₁(a) does not overflow). ŷ is the location. Conditional: σ, δ by
    numeric ML; marginal: `loc` too. C.d.f. by quadrature. scipy: genhyperbolic(p=1,
    a=δ²/σ², b=0, scale=δ).
    """

    name = "pseudo_huber"
    loss = "pseudo-Huber loss"
    nuisance = ("sigma", "delta")
    marginal_params = ("loc", "sigma", "delta")
    param_domains = {"sigma": "positive", "delta": "positive", "loc": "real"}
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
        u2 = u * u
        ll = u2 / (np.sqrt(1.0 + u2) + 1.0)
        ll *= -np.square(np.divide(d, s))
        return ll

    def log_norm(self, params: Params) -> Any:
        s, d = params["sigma"], params["delta"]
        a = np.square(np.divide(d, s))
        return np.log(2.0 * np.asarray(d, dtype=np.float64)) + np.log(special.k1e(a))

    def log_slope(self, z: np.ndarray, params: Params) -> np.ndarray:
        s, d = params["sigma"], params["delta"]
        u = np.divide(z, d)
        return (np.divide(d, np.square(s))) * u / np.sqrt(1.0 + u * u)

    def tail_length(self, params: Params) -> Any:
        s, d = params["sigma"], params["delta"]
        return s * np.maximum(1.0, np.divide(s, d))

    def shape_start(self, r: np.ndarray, w: np.ndarray | None) -> Params:
        _, b = weighted_residual_scale(r, w)
        sigma = b * math.sqrt(math.pi / 2.0)
        return {"sigma": sigma, "delta": 1.345 * sigma}

    def variance(self, f: np.ndarray, params: Params) -> np.ndarray:
        """σ² K₂(a)/K₁(a), a = δ²/σ² (the symmetric hyperbolic's variance)."""
        s, d = params["sigma"], params["delta"]
        a = np.square(np.divide(d, s))
        v = np.square(s) * special.kve(2, a) / special.k1e(a)
        return np.broadcast_to(v, np.shape(f)).astype(np.float64)

    def to_scipy(self, pred: Any, params: Params) -> Any:
        from scipy import stats

        s, d = params["sigma"], params["delta"]
        return stats.genhyperbolic(p=1.0, a=(d / s) ** 2, b=0.0, loc=pred, scale=d)
