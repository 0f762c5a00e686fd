"""Inverse Gaussian noise: the negative log-likelihood behind the Tweedie deviance at
power 3 (SPEC §9.4)."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special

from losscli.errors import FitError
from losscli.noise import crps as crps_forms
from losscli.noise.base import ContinuousFamily, Frameworks, Params, log_param
from losscli.noise.logspace import HALF_LOG_2PI, log1mexp
from losscli.noise.sums import total_weight, wmean, wsum
from losscli.noise.support import POSITIVE

_NO_SPREAD = ("every target equals its predicted mean, so the inverse Gaussian dispersion "
              "φ is 0 and the likelihood is unbounded")


def _unit_deviance(y: np.ndarray, mu: Any) -> np.ndarray:
    """(y − μ)²/(μ² y): the inverse Gaussian unit deviance (Tweedie's at power 3)."""
    d = np.subtract(y, mu)
    d *= d
    d /= np.multiply(np.square(mu), y)
    return d


class InverseGaussian(ContinuousFamily):
    """y ~ IG(mean μ, dispersion φ): μ = ŷ, Var y = φμ³, y > 0.

    log q = −½ log(2πφ) − (3/2) log y − (y − μ)²/(2φμ²y). Conditional MLE:
    φ̂ = Σw(y − ŷ)²/(ŷ²y)/W (closed form). Marginal: μ̂ = ȳ = Σwy/W and
    φ̂ = Σw(1/y − 1/ȳ)/W. Minimising it over μ with φ fixed is minimising the unit
    deviance (y − μ)²/(μ²y), the Tweedie deviance at power 3. The c.d.f.
    F(x) = Φ(a) + e^(2/(φμ)) Φ(−b), a = (x/μ − 1)/√(φx), b = (x/μ + 1)/√(φx), is taken in
    log space. scipy: invgauss(mu=φμ, scale=1/φ) (shape λ = 1/φ).
    """

    name = "inverse_gaussian"
    loss = "inverse Gaussian deviance"
    support = POSITIVE
    pred_domain = POSITIVE
    prediction = "mean"
    nuisance = ("dispersion",)
    marginal_params = ("mean", "dispersion")
    location = "mean"
    param_domains = {"mean": "positive", "dispersion": "positive"}
    closed_form = ("marginal", "conditional")
    applies_to = ("count", "positive")
    tweedie_power = 3.0  # TweedieRegressor(power=3)
    frameworks = Frameworks(pytorch=None, sklearn="TweedieRegressor(power=3)",
                            xgboost=None, lightgbm=None)

    def loglik(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        phi = params["dispersion"]
        out = _unit_deviance(y, pred)
        out /= -2.0 * np.asarray(phi, dtype=np.float64)
        out -= 1.5 * np.log(y)
        out -= 0.5 * log_param(phi) + HALF_LOG_2PI
        return out

    def fit(self, y: np.ndarray, w: np.ndarray | None, pred: Any = None) -> Params:
        out: Params = {}
        W = total_weight(y.size, w)
        if pred is None:
            mean = out["mean"] = wmean(y, w)
            phi = wsum(1.0 / y, w) / W - 1.0 / mean
        else:
            phi = wsum(_unit_deviance(y, pred), w) / W
        if not phi > 0.0:
            raise FitError(_NO_SPREAD)
        out["dispersion"] = float(phi)
        return out

    def fit_given_closed(self, y: np.ndarray, w: np.ndarray | None, pred: Any,
                         given: Params, free: tuple[str, ...]) -> Params | None:
        """Marginal: φ given (a float or per row), Σw(y − μ)²/(φμ²y) is least at
        μ = Σ(w/φ)y/Σ(w/φ); μ given: φ̂ by the conditional form at ŷ = μ."""
        if pred is not None:
            return None
        if free == ("mean",):
            phi = given["dispersion"]
            if np.ndim(phi) == 0:
                return {"mean": wmean(y, w)}
            wp = (1.0 if w is None else w) / phi
            return {"mean": float(np.dot(wp, y)) / float(np.sum(wp))}
        if free == ("dispersion",):
            return self.fit(y, w, given["mean"])
        return None

    def fit_stats(self, y: np.ndarray, pred: Any) -> np.ndarray:
        """Marginal: y and 1/y; conditional: the unit deviance (y − ŷ)²/(ŷ²y)."""
        if pred is None:
            return np.stack([y, 1.0 / y])
        return _unit_deviance(y, pred)[None, :]

    def fit_from_stats(self, stats: Any, conditional: bool) -> Params:
        out: Params = {}
        if conditional:
            phi = float(stats.mean[0])
        else:
            mean = out["mean"] = float(stats.mean[0])
            phi = float(stats.mean[1]) - 1.0 / mean
        if not phi > 0.0:
            raise FitError(_NO_SPREAD)
        out["dispersion"] = phi
        return out

    def fit_start(self, y: np.ndarray, w: np.ndarray | None, pred: Any = None) -> Params:
        # y = 0 is scored on [0, ½]: the density's fit needs y > 0, so start from y ≥ ½
        ys = np.maximum(y, 0.5)
        try:
            return self.fit(ys, w, pred)
        except FitError:
            start: Params = {} if pred is not None else {"mean": wmean(ys, w)}
            mu = start.get("mean", pred)
            # about the variance of a unit interval, 1/12, over μ³
            start["dispersion"] = float(wmean(np.broadcast_to(
                1.0 / (12.0 * np.power(mu, 3.0)), ys.shape), w))
            return start

    # -- c.d.f.s in log space
    def _ab(self, x: np.ndarray, pred: Any, params: Params
            ) -> tuple[np.ndarray, np.ndarray, Any]:
        phi = np.asarray(params["dispersion"], dtype=np.float64)
        mu = np.asarray(pred, dtype=np.float64)
        x = np.asarray(x, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            s = 1.0 / np.sqrt(phi * x)
            r = x / mu
            return (r - 1.0) * s, (r + 1.0) * s, 2.0 / (phi * mu)

    def logcdf(self, x: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        """log(Φ(a) + e^(2/(φμ)) Φ(−b)) = logaddexp(log Φ(a), 2/(φμ) + log Φ(−b))."""
        a, b, c = self._ab(x, pred, params)
        with np.errstate(invalid="ignore"):
            return np.logaddexp(special.log_ndtr(a), c + special.log_ndtr(-b))

    def logsf(self, x: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        """log(Φ(−a) − e^(2/(φμ)) Φ(−b)) = log Φ(−a) + log(1 − e^d),
        d = 2/(φμ) + log Φ(−b) − log Φ(−a) < 0 (both tails in log space: far in the upper
        tail the two terms agree to leading order, and their ratio is what remains)."""
        a, b, c = self._ab(x, pred, params)
        with np.errstate(invalid="ignore"):
            la = special.log_ndtr(-a)
            d = c + special.log_ndtr(-b) - la
            d = np.where(np.isnan(d), -np.inf, np.minimum(d, 0.0))  # x = 0: d = −∞ − 0
            return la + log1mexp(d)

    def interval_spread_derivatives(self, a: np.ndarray, b: np.ndarray, pred: Any,
                                    params: Params, ll: np.ndarray
                                    ) -> tuple[np.ndarray, np.ndarray]:
        """(P′/P, P″/P) in s = log φ of P = F(b) − F(a). With F = Φ(a) + E,
        E = e^c Φ(−b), da/ds = −a/2, db/ds = −b/2, dc/ds = −c and e^c φ(b) = φ(a):
        ∂ₛF = φ(a)/√(φx) − cE, ∂ₛₛF = φ(a)((a − a³ − b + b³)/4 − bc) + (c + c²)E;
        every term over P as exp(its log − log P) (log P = ll); 0 at x = 0."""

        def parts(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            za, zb, c = self._ab(x, pred, params)
            za2 = za * za
            ra = np.exp(-0.5 * za2 - HALF_LOG_2PI - ll)
            re = np.exp(c + special.log_ndtr(-zb) - ll)
            half = 0.5 * (zb - za)  # 1/√(φx)
            d1 = ra * half - c * re
            # (a − a³ − b + b³)/4 = ((b − a)/2)(a² + ab + b² − 1)/2
            d2 = ra * (0.5 * half * (za2 + za * zb + zb * zb - 1.0) - zb * c) \
                + (c + c * c) * re
            inside = x > 0.0
            return np.where(inside, d1, 0.0), np.where(inside, d2, 0.0)

        d1a, d2a = parts(a)
        d1b, d2b = parts(b)
        return d1b - d1a, d2b - d2a

    # diagnostics
    calibration = True

    def variance(self, f: np.ndarray, params: Params) -> np.ndarray:
        phi = params["dispersion"]
        return np.multiply(phi, np.power(f, 3.0))

    # -- proper scores (SPEC §8.3)
    def crps(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        """The closed form of `crps_forms.inverse_gaussian` (mean μ = ŷ, dispersion φ)."""
        return crps_forms.inverse_gaussian(y, pred, params["dispersion"])

    def ppf(self, q: float, pred: Any, params: Params) -> np.ndarray:
        """F⁻¹(q) by scipy's invgauss (shape λ = 1/φ)."""
        from scipy import stats

        phi = np.asarray(params["dispersion"], dtype=np.float64)
        mu = np.asarray(pred, dtype=np.float64)
        with np.errstate(all="ignore"):
            return np.asarray(stats.invgauss.ppf(q, phi * mu, scale=1.0 / phi), dtype=np.float64)

    def to_scipy(self, pred: Any, params: Params) -> Any:
        from scipy import stats

        phi = np.asarray(params["dispersion"], dtype=np.float64)
        return stats.invgauss(mu=phi * np.asarray(pred, dtype=np.float64), scale=1.0 / phi)

