"""Gaussian noise: the negative log-likelihood behind squared error (MSE)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import special

from losscli.errors import FitError, OutOfRange
from losscli.noise import crps as crps_forms
from losscli.noise import quadrature
from losscli.noise.base import ContinuousFamily, Frameworks, Params, log_param, take_params
from losscli.noise.sums import block_sums, total_weight, wmean
from losscli.noise.support import REAL

HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def normal_score(s: float) -> float:
    """The mean Gaussian nll at the MLE σ² = s (the mean squared residual)."""
    return 0.5 * math.log(2.0 * math.pi * s) + 0.5 if s > 0.0 else math.nan


class Gaussian(ContinuousFamily):
    """y ~ N(μ, σ²), μ = ŷ (the mean).

    log q = −½ log(2π) − log σ − (y − μ)² / (2σ²).
    Conditional MLE: σ² = Σ w (y − ŷ)² / W. Marginal: μ = Σ w y / W, σ² about μ.
    Minimising it over μ with σ fixed is minimising the squared error.
    """

    name = "gaussian"
    loss = "squared error (MSE)"
    support = REAL
    pred_domain = REAL
    prediction = "mean"
    nuisance = ("sigma",)
    marginal_params = ("mean", "sigma")
    location = "mean"
    param_domains = {"sigma": "positive", "mean": "real"}
    closed_form = ("marginal", "conditional")
    tail = ("student_t", {"sigma": "scale"}, "df")  # ŷ and σᵢ kept, ν fitted
    spread = ("sigma", "scale")
    param_forms = {"var": ("sigma", "sqrt"), "log_var": ("sigma", "exp_half")}
    applies_to = ("binary", "count", "integer", "proportion", "positive", "real",
                  "semicontinuous")
    default_for = ("integer", "proportion", "positive", "semicontinuous", "real")
    tweedie_power = 0.0  # TweedieRegressor(power=0)
    frameworks = Frameworks(
        pytorch="torch.nn.MSELoss",
        sklearn="HistGradientBoostingRegressor(loss='squared_error')",
        xgboost="reg:squarederror",
        lightgbm="regression",
        catboost="RMSE",
        keras="keras.losses.MeanSquaredError",
    )

    def loglik(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        sigma = params["sigma"]
        z = (y - pred) / sigma
        z *= z
        z *= -0.5
        z -= log_param(sigma) + HALF_LOG_2PI
        return z

    def interval_spread_derivatives(self, a: np.ndarray, b: np.ndarray, pred: Any,
                                    params: Params, ll: np.ndarray
                                    ) -> tuple[np.ndarray, np.ndarray]:
        """(P′/P, P″/P) in s = log σ of P(a < Y ≤ b), z = (x − ŷ)/σ
        (`normal_spread_derivatives`)."""
        sigma = params["sigma"]
        return normal_spread_derivatives(np.subtract(a, pred) / sigma,
                                         np.subtract(b, pred) / sigma, ll)

    def recalibration_closed(self, y: np.ndarray, w: np.ndarray | None, pred: Any,
                             given: Params, free: tuple[str, ...]) -> float | None:
        """Conditional, nothing else fitted: ĉ² = Σw((y − ŷ)/σᵢ)² / W, the root of
        d/dc Σw[log cσᵢ + ((y − ŷ)/cσᵢ)²/2] = 0."""
        if pred is None or free:
            return None
        z = np.subtract(y, pred)
        z /= given["sigma"]
        z *= z
        W = float(y.size) if w is None else float(np.sum(w))
        return math.sqrt((float(z.sum()) if w is None else float(np.dot(w, z))) / W)

    def fit_given_closed(self, y: np.ndarray, w: np.ndarray | None, pred: Any,
                         given: Params, free: tuple[str, ...]) -> Params | None:
        """Marginal, σ given (a float or per row): μ = Σ(w y/σ²) / Σ(w/σ²); μ given:
        σ² = Σ w (y − μ)² / W (today's conditional fit at ŷ = μ)."""
        if pred is not None:
            return None
        if free == ("mean",):
            prec = np.reciprocal(np.square(given["sigma"]))
            if np.ndim(prec) == 0:
                return {"mean": wmean(y, w)}
            wp = prec if w is None else w * prec
            return {"mean": float(np.dot(wp, y)) / float(np.sum(wp))}
        if free == ("sigma",):
            return self.fit(y, w, given["mean"])
        return None

    def fit(self, y: np.ndarray, w: np.ndarray | None, pred: Any = None) -> Params:
        out: Params = {}
        if pred is None:
            pred = out["mean"] = wmean(y, w)
        with np.errstate(over="ignore", invalid="ignore"):
            per_row = np.ndim(pred) == 1
            (ss,) = block_sums(
                lambda sl: (np.square(y[sl] - (pred[sl] if per_row else pred)),), y.size, w)
            var = ss / total_weight(y.size, w)
            spread = bool(np.any(y != pred)) if per_row else None
        return self._with_sigma(out, var, spread)

    def fit_stats(self, y: np.ndarray, pred: Any) -> np.ndarray:
        """Marginal: y (σ² is its variance); conditional: (y − ŷ)² (σ² is its mean) and
        |y − ŷ|, which tells residuals whose squares underflow float64 from none."""
        if pred is None:
            return y[None, :]
        r = np.subtract(y, pred)
        a = np.abs(r)
        return np.stack([np.square(r, out=r), a])

    def fit_from_stats(self, stats: Any, conditional: bool) -> Params:
        out: Params = {}
        if conditional:
            return self._with_sigma(out, float(stats.mean[0]), float(stats.mean[1]) > 0.0)
        out["mean"] = float(stats.mean[0])
        return self._with_sigma(out, float(stats.var[0]), None)

    def _with_sigma(self, out: Params, var: float, spread: bool | None) -> Params:
        """σ from σ²; `spread`: whether some residual is not 0 (None: not known)."""
        if not math.isfinite(var):
            raise OutOfRange("the squared residuals overflow float64 (values near 1e154 "
                             "or beyond): rescale the target and predictions")
        if not var > 0.0:
            if spread:
                raise OutOfRange("the squared residuals underflow float64 (differences "
                                 "near 1e-154 or below): rescale the target and predictions")
            if spread is None:
                raise FitError("every target is equal (or their spread underflows "
                               "float64), so the Gaussian scale σ is 0 and the likelihood "
                               "is unbounded")
            raise FitError("every residual is 0, so the Gaussian scale σ is 0 "
                           "and the likelihood is unbounded")
        out["sigma"] = math.sqrt(var)
        return out

    def fit_start(self, y: np.ndarray, w: np.ndarray | None, pred: Any = None) -> Params:
        try:
            start = self.fit(y, w, pred)
        except FitError:
            start = {"mean": wmean(y, w)} if pred is None else {}
            start["sigma"] = 0.5
        # the discretised likelihood is bounded; keep the start away from a zero scale
        start["sigma"] = max(start["sigma"], 0.05)
        return start

    def standardised(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        return (y - pred) / params["sigma"]

    def standard_quantiles(self, q: np.ndarray, params: Params) -> np.ndarray:
        return special.ndtri(q)

    def logcdf(self, x: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        return special.log_ndtr((x - pred) / params["sigma"])

    def logsf(self, x: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        return special.log_ndtr((pred - x) / params["sigma"])

    def interval_loglik(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        """log P(y − ½ < Y ≤ y + ½): by Gauss–Legendre quadrature of the density where
        `normal_bound` proves it within quadrature.TOL, else the generic difference of
        the smaller tails (two log Φ per row).

        With z₀ = (y − μ)/σ and δ = ½/σ the interval is z₀ + δ s, s ∈ [−1, 1], in
        standard units, and P = δ φ(z₀) ∫_{−1}^{1} e^{g(s)} ds with
        g(s) = log φ(z₀ + δ s) − log φ(z₀) = −z₀ δ s − δ² s²/2 exactly: in the notation
        of the quadrature module c = −z₀ δ, q(s) = −δ² s²/2, so C = δ² and, g being
        entire, Q(A) = δ² A²/2 on the disc |s| ≤ A.
        """
        y = np.asarray(y, dtype=np.float64)
        sigma = params["sigma"]
        rows = np.ndim(sigma) > 0  # σ per row: δ per row, the same quadrature
        if y.ndim != 1 or np.ndim(pred) > 1 or not (rows or 0.0 < sigma < math.inf):
            return super().interval_loglik(y, pred, params)
        mu = np.broadcast_to(np.asarray(pred, dtype=np.float64), y.shape)
        delta = 0.5 / sigma

        def block(sl: slice, out: np.ndarray) -> np.ndarray:
            z = np.subtract(y[sl], mu[sl])
            z /= sigma[sl] if rows else sigma
            d = delta[sl] if rows else delta
            mask = quadrature.proven(*normal_bound(z, d))
            if not mask.any():
                return mask
            if not mask.all():
                z = z[mask]
                d = d[mask] if rows else d
            return quadrature.store(out, mask, normal_log_interval(z, d))

        def fallback(rest: np.ndarray) -> np.ndarray:
            return super(Gaussian, self).interval_loglik(
                y[rest], mu[rest], take_params(params, rest) if rows else params)

        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return quadrature.evaluate(y.size, block, fallback)[0]

    # diagnostics
    decomposition = "nll"
    calibration = True

    def variance(self, f: np.ndarray, params: Params) -> np.ndarray:
        sigma = params["sigma"]
        if np.ndim(sigma):
            return np.broadcast_to(np.square(sigma), np.shape(f)).copy()
        return np.full(np.shape(f), float(sigma) ** 2)

    def recalibrated_score(self, rc, sw, mean, m2, terms, W, value_counts) -> float:
        """½ log(2π s) + ½ with s = Σw(y − rc)²/W, σ refitted."""
        return normal_score((m2 + sw * (mean - rc) ** 2).sum() / W)

    def closed_se(self, params: Params, W: float, conditional: bool) -> dict:
        """−∂²ℓ/∂σ² = 2W/σ² at σ̂; marginal: −∂²ℓ/∂μ² = W/σ², no cross term at μ̂."""
        s = params["sigma"]
        out = {"sigma": s / math.sqrt(2.0 * W)}
        if not conditional:
            out["mean"] = s / math.sqrt(W)
        return out

    def to_scipy(self, pred: Any, params: Params) -> Any:
        from scipy import stats

        return stats.norm(loc=pred, scale=params["sigma"])

    # -- proper scores (SPEC §8.3)
    def crps_lower(self, c: Any, pred: Any, params: Params) -> np.ndarray:
        """σ·∫_{−∞}^{(c − μ)/σ} Φ² (`crps_forms.normal_lower_square`)."""
        sigma = crps_forms.arr(params["sigma"])
        return sigma * crps_forms.normal_lower_square((crps_forms.arr(c) - pred) / sigma)

    def crps(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        """σ·CRPS_N(0,1)((y − μ)/σ), in y's units (`crps_forms.normal`)."""
        sigma = crps_forms.arr(params["sigma"])
        return sigma * crps_forms.normal((crps_forms.arr(y) - pred) / sigma)

    def ppf(self, q: float, pred: Any, params: Params) -> np.ndarray:
        """F⁻¹(q) = μ + σ Φ⁻¹(q)."""
        return crps_forms.arr(pred) + crps_forms.arr(params["sigma"]) * special.ndtri(q)


# ------------------------------------------------------- quadrature of normal intervals


def normal_spread_derivatives(za: np.ndarray, zb: np.ndarray, ll: np.ndarray
                              ) -> tuple[np.ndarray, np.ndarray]:
    """(P′/P, P″/P) in s = log σ of P = Φ(z_b) − Φ(z_a), z = (x − c)/σ at the interval's
    ends (dz/ds = −z): P′ = −[zφ(z)]ᵃᵇ, P″ = [zφ(z)(1 − z²)]ᵃᵇ, each φ(z)/P as
    exp(log φ(z) − log P) (log P = ll); an infinite end adds 0 (zφ(z) → 0)."""

    def parts(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        end = ~np.isfinite(z)
        z = np.where(end, 0.0, z)  # zφ(z) and z³φ(z) are 0 there
        zr = z * np.exp(-0.5 * z * z - HALF_LOG_2PI - ll)
        return zr, zr * (1.0 - z * z)

    ra, qa = parts(za)
    rb, qb = parts(zb)
    return ra - rb, qb - qa


def normal_bound(z: np.ndarray, delta: float | np.ndarray) -> tuple:
    """c, C and Q of the quadrature bound (quadrature.proven takes them) for the
    standard-normal intervals (z − δ, z + δ], δ > 0 a scalar or one per row.

    Across the interval z + δ s the log-density relative to the midpoint is
    g(s) = −z δ s − δ² s²/2 exactly, so c = g′(0) = −z δ, q(s) = −δ² s²/2 ≥ −C s²/2 with
    C = δ², and |q| ≤ Q(A) = δ² A²/2 on the disc |s| ≤ A (g is entire).
    """
    with np.errstate(over="ignore", invalid="ignore"):
        c = np.multiply(z, -delta)
        curvature = np.multiply(delta, delta)
        if np.ndim(curvature) == 0:
            curvature = np.full(c.shape, curvature)

    def remainder(big_a: float, rows: slice | np.ndarray) -> np.ndarray:
        return curvature[rows] * (0.5 * big_a * big_a)

    return c, curvature, remainder


def normal_log_interval(z: np.ndarray, delta: float | np.ndarray) -> np.ndarray:
    """log P(z − δ < Z ≤ z + δ), Z standard normal, as
    log φ(z) + log δ + log Σᵢ wᵢ exp(−z δ sᵢ − δ² sᵢ²/2) (accurate where `normal_bound`
    proves the quadrature).

    Rounding: where the bound holds (|c| A + Q(A) + C/2 − log(sinh|c|/|c|) ≤ 20.6 for
    one of the candidates, A ≥ 2.6), |c| < 3 and δ² < 1.1, so each node's g is
    computed to a few ulps of |c| + C/2 < 3.6, about 1e-15 relative in P;
    log φ(z) = −z²/2 − ½ log 2π and log δ add a few ulps of their own magnitudes, which
    |log P| ≥ ½ bounds relatively (quadrature.LOG_P_MAX). The rounding of z itself (of
    y − μ) is that of any evaluation from y and μ.
    """
    scalar = np.ndim(delta) == 0
    with np.errstate(over="ignore", invalid="ignore"):
        c = np.multiply(z, -delta)
        half_c2 = 0.5 * np.multiply(delta, delta)

    def exponent(sl: slice, s: np.ndarray, out: np.ndarray, tmp: np.ndarray) -> None:
        np.multiply(s, c[sl], out=out)
        if scalar:
            out -= (s * s) * half_c2
        else:
            np.multiply(s * s, half_c2[sl], out=tmp)
            out -= tmp

    out = quadrature.log_integral(exponent, z.size)
    with np.errstate(divide="ignore", invalid="ignore"):
        out += math.log(delta) if scalar else np.log(delta)
        lz = np.multiply(z, z)
        lz *= -0.5
        lz -= HALF_LOG_2PI
        out += lz
    return out
