"""Huber's least-favourable noise: the negative log-likelihood behind the Huber loss."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import special

from losscli.noise import crps as crps_forms
from losscli.noise.base import Frameworks, Nesting, Params
from losscli.noise.gaussian import Gaussian
from losscli.noise.gibbs import GibbsLocation, weighted_residual_scale

LOG_2 = math.log(2.0)
SQRT_2PI = math.sqrt(2.0 * math.pi)
_GAUSS = Gaussian()


def huber_rho(r: Any, delta: Any) -> np.ndarray:
    """ρ_δ(r) = r²/2 for |r| ≤ δ, δ|r| − δ²/2 beyond (δ = ∞: r²/2)."""
    a = np.abs(np.asarray(r, dtype=np.float64))
    with np.errstate(invalid="ignore", over="ignore"):
        return np.where(a <= delta, 0.5 * a * a, delta * (a - 0.5 * delta))


def log_z(k: Any) -> Any:
    """log z(k), z(k) = √(2π)(2Φ(k) − 1) + (2/k)e^{−k²/2}: the normaliser Z = σ z(k) of
    exp(−ρ_δ(r)/σ²), k = δ/σ (the core ∫_{|r|≤δ} e^{−r²/2σ²} dr = σ√(2π)(2Φ(k) − 1), each
    tail ∫_δ^∞ e^{−(δr − δ²/2)/σ²} dr = (σ²/δ)e^{−δ²/2σ²}). Decreasing in k, to √(2π) at
    k = ∞ (the Gaussian's)."""
    k = np.asarray(k, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        core = np.log(SQRT_2PI * special.erf(k / math.sqrt(2.0)))
        tail = LOG_2 - np.log(k) - 0.5 * k * k
    out = np.logaddexp(core, tail)
    return float(out) if out.ndim == 0 else out


class Huber(GibbsLocation):
    """y − ŷ ~ Huber's least-favourable distribution: q(r) = exp(−ρ_δ(r)/σ²)/Z,
    ρ_δ the Huber loss, Z = σ[√(2π)(2Φ(k) − 1) + (2/k)e^{−k²/2}], k = δ/σ; σ > 0,
    δ > 0. A Gaussian centre on |r| ≤ δ and exponential tails of rate δ/σ² beyond.

    ŷ is the Huber M-location (minimising Σρ_δ(y − ŷ) at fixed δ is training with the
    Huber loss). Conditional: σ and δ by numeric ML; marginal: `loc` too. Once δ exceeds
    every |r| the likelihood rises with δ (z(k) decreases), so the maximum is either
    inside or the Gaussian limit δ = ∞ (reported as null with a warning; a boundary of δ's
    space: the LR test against gaussian is ½χ²₀ + ½χ²₁). Source: Huber (1964), the
    least-favourable distribution of the ε-contaminated normal; VGAM `dhuber`.
    """

    name = "huber"
    loss = "Huber loss"
    prediction = "Huber M-location"
    nuisance = ("sigma", "delta")
    marginal_params = ("loc", "sigma", "delta")
    param_domains = {"sigma": "positive", "delta": "positive", "loc": "real"}
    nests = (Nesting("gaussian", "delta", math.inf),)
    limit_note = ("; on tails heavier than its density's, the likelihood rises towards "
                  "the Laplace limit δ → 0 (δ/σ² fixed): the laplace family")
    spread = ("sigma", "scale")
    frameworks = Frameworks(
        # one word each (tables never break a name); δ is the fitted or held value
        pytorch="torch.nn.HuberLoss(delta=δ)",
        sklearn="SGDRegressor(loss='huber',epsilon=δ)",
        xgboost=None,
        lightgbm="huber(alpha=δ)",
        catboost="Huber:delta=δ",
        keras="Huber(delta=δ)",
    )

    def exponent(self, r: np.ndarray, params: Params) -> np.ndarray:
        ll = huber_rho(r, params["delta"])
        ll /= -np.square(params["sigma"])
        return ll

    def log_norm(self, params: Params) -> Any:
        s, d = params["sigma"], params["delta"]
        return np.log(s) + log_z(np.divide(d, s))

    def knot(self, params: Params) -> float:
        return float(min(params["delta"], 1e6 * params["sigma"]))

    def shape_start(self, r: np.ndarray, w: np.ndarray | None) -> Params:
        _, b = weighted_residual_scale(r, w)
        sigma = b * math.sqrt(math.pi / 2.0)  # the Gaussian σ of a mean |r| b
        return {"sigma": sigma, "delta": 1.345 * sigma}

    def fit_start(self, y: np.ndarray, w: np.ndarray | None, pred: Any = None) -> Params:
        start = super().fit_start(y, w, pred)
        start["sigma"] = max(start["sigma"], 0.05)  # off a zero scale (unit intervals)
        return start

    def limit_shape(self, params: Params) -> float:
        return float(np.divide(params["delta"], params["sigma"]))

    def limit_params(self, nested: Params) -> Params:
        return {"sigma": nested["sigma"], "delta": math.inf}

    # -- c.d.f.: Gaussian centre, exponential tails
    def log_tail(self, z: np.ndarray, params: Params) -> np.ndarray:
        """log P(R > z): for z ≥ δ (σ²/δ)e^{−(δz − δ²/2)/σ²}/Z; for 0 ≤ z < δ the
        centre's σ√(2π)(Φ(−z/σ) − Φ(−k)) plus the tail at δ, over Z; below 0 by symmetry."""
        s, d = params["sigma"], params["delta"]
        z = np.asarray(z, dtype=np.float64)
        a = np.abs(z)
        lz = np.log(s) + log_z(np.divide(d, s))
        with np.errstate(all="ignore"):
            beyond = 2.0 * np.log(s) - np.log(d) - (d * a - 0.5 * d * d) / np.square(s) - lz
            at_d = 2.0 * np.log(s) - np.log(d) - 0.5 * np.square(np.divide(d, s)) - lz
            centre = np.log(SQRT_2PI * s * (special.ndtr(-a / s) - special.ndtr(-np.divide(d, s))))
            centre = np.logaddexp(centre - lz, at_d)
            gauss = special.log_ndtr(-a / s)
            up = np.where(np.isinf(d), gauss, np.where(a >= d, beyond, centre))
            return np.where(z < 0.0, np.log1p(-np.exp(up)), up)

    def standardised(self, y: np.ndarray, pred: Any, params: Params) -> None:
        return None

    def variance(self, f: np.ndarray, params: Params) -> np.ndarray:
        """E r² = ∫r²q: σ²[√(2π)(2Φ(k) − 1) − 2kφ(k)√(2π) + 2e^{−k²/2}(k² + 2 + 2/k²)/k]/z(k)
        (the centre's second moment plus the tails'), σ² at δ = ∞."""
        s, d = params["sigma"], params["delta"]
        k = np.divide(d, s)
        with np.errstate(all="ignore"):
            e = np.exp(-0.5 * k * k)
            core = SQRT_2PI * special.erf(k / math.sqrt(2.0)) - 2.0 * k * e
            tails = 2.0 * e * (k * k + 2.0 + 2.0 / (k * k)) / k
            v = np.where(np.isinf(k), 1.0, (core + tails) / np.exp(log_z(k))) * np.square(s)
        return np.broadcast_to(v, np.shape(f)).astype(np.float64)

    def crps(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        """CRPS = E|X − y| − ½E|X − X′| in closed form (a = |y − ŷ|, k = δ/σ, Z = σz(k),
        ψ(x) = φ(x) − xΦ(−x) = ∫_x^∞ Φ(−u) du): Z·P(R > t) = C + DΦ(−t/σ) on the centre,
        C = (σ²/δ)e^{−k²/2} − DΦ(−k), D = σ√(2π); E|X − y| = a + 2T(a),
        T(a) = ∫_a^∞ P(R > t) dt = (σ²/δ)²e^{−(δa − δ²/2)/σ²}/Z beyond δ, and inside
        T(δ) + (C(δ − a) + Dσ(ψ(a/σ) − ψ(k)))/Z; E|X − X′| = 4(T(0) − I₂),
        I₂ = ∫_0^∞ P(R > t)² dt = [C²δ + 2CDσ(ψ(0) − ψ(k)) + D²σJ(k)]/Z²
        + (σ²/δ)²e^{−k²}σ²/(2δ)/Z², J(k) = ∫_0^k Φ(−u)² du = kΦ(−k)² + φ(0)
        − 2φ(k)Φ(−k) − erf(k)/(2√π) (by parts). δ = ∞: the Gaussian's."""
        s, d = params["sigma"], params["delta"]
        if np.ndim(d) == 0 and math.isinf(d):
            return s * crps_forms.normal(np.subtract(y, pred) / s)
        a = np.abs(np.subtract(y, pred))
        k = np.divide(d, s)
        zz = s * np.exp(log_z(k))
        big_d = SQRT_2PI * s
        tail_c = np.square(s) / d
        ek = np.exp(-0.5 * k * k)
        c = tail_c * ek - big_d * special.ndtr(-k)

        def psi(x: Any) -> Any:
            return np.exp(-0.5 * np.square(x)) / SQRT_2PI - x * special.ndtr(-x)

        t_d = tail_c * tail_c * ek / zz
        with np.errstate(over="ignore", under="ignore"):
            beyond = tail_c * tail_c * np.exp(-(d * a - 0.5 * d * d) / np.square(s)) / zz
        inside = t_d + (c * (d - a) + big_d * s * (psi(a / s) - psi(k))) / zz
        t = np.where(a >= d, beyond, inside)
        t0 = t_d + (c * d + big_d * s * (psi(0.0) - psi(k))) / zz
        phi0 = 1.0 / SQRT_2PI
        j = (k * special.ndtr(-k) ** 2 + phi0 - 2.0 * ek / SQRT_2PI * special.ndtr(-k)
             - special.erf(k) / (2.0 * math.sqrt(math.pi)))
        i2 = (c * c * d + 2.0 * c * big_d * s * (psi(0.0) - psi(k)) + big_d ** 2 * s * j
              + tail_c * tail_c * np.exp(-k * k) * np.square(s) / (2.0 * d)) / (zz * zz)
        return a + 2.0 * t - 2.0 * (t0 - i2)

    def ppf(self, q: float, pred: Any, params: Params) -> np.ndarray:
        """F⁻¹(q): the tails inverted in closed form, the centre by ndtri."""
        s, d = params["sigma"], params["delta"]
        t = min(q, 1.0 - q)  # the lower tail probability
        lz = np.log(s) + log_z(np.divide(d, s))
        with np.errstate(all="ignore"):
            p_d = np.exp(2.0 * np.log(s) - np.log(d) - 0.5 * np.square(np.divide(d, s)) - lz)
            # beyond δ: t = (σ²/δ)e^{−(δa − δ²/2)/σ²}/Z
            a_tail = (0.5 * d * d - np.square(s) * (math.log(t) + lz - 2.0 * np.log(s)
                                                    + np.log(d))) / d
            # in the centre: t = p_d + σ√(2π)(Φ(−a/σ) − Φ(−k))/Z
            a_core = -s * special.ndtri((t - p_d) * np.exp(lz) / (SQRT_2PI * s)
                                        + special.ndtr(-np.divide(d, s)))
            a = np.where(np.isinf(d), -s * special.ndtri(t),
                         np.where(t <= p_d, a_tail, a_core))
        a = np.where(q < 0.5, -a, a)
        return np.asarray(pred, dtype=np.float64) + a

