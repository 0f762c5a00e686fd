"""Inverse Gaussian noise: the negative log-likelihood behind the Tweedie deviance at
power 3 (SPEC §9.4)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import special

from losscli.errors import FitError
from losscli.noise import crps as crps_forms
from losscli.noise import quadrature
from losscli.noise.base import ContinuousFamily, Frameworks, Params, log_param, take_params
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


def log_y_bound(h: np.ndarray, gm: np.ndarray, mu: np.ndarray, lam: Any) -> tuple:
    """c, C and Q of the quadrature bound (quadrature.proven takes them) for the inverse
    Gaussian intervals in t = log y (see `InverseGaussian.interval_loglik`), and α, β.

    g(s) = cs + q(s) with c = h(β − α − ½) and q(s) = −α(e^{hs} − 1 − hs) −
    β(e^{−hs} − 1 + hs) ≤ 0. On [−1, 1], e^u − 1 − u ≤ (u²/2)e^{|u|} gives
    q ≥ −C s²/2 with C = (α + β)h²e^h; on the disc |s| ≤ A (g is entire),
    |e^z − 1 − z| ≤ e^{|z|} − 1 − |z| gives |q| ≤ Q(A) = (α + β)(e^{hA} − 1 − hA).
    """
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        alpha = lam * gm / (2.0 * mu * mu)
        beta = lam / (2.0 * gm)
        ab = alpha + beta
        c = beta - alpha
        c -= 0.5
        c *= h
        curvature = ab * h * h * np.exp(h)

    def remainder(big_a: float, rows: slice | np.ndarray) -> np.ndarray:
        u = h[rows] * big_a
        return ab[rows] * (np.expm1(u) - u)

    return c, curvature, remainder, alpha, beta


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

    def interval_loglik(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        """log P(max(y − ½, 0) < Y ≤ y + ½): for y − ½ > 0 by Gauss–Legendre quadrature in
        t = log y where `log_y_bound` proves it within quadrature.TOL; on [0, y + ½] the
        one c.d.f. log F(y + ½); all other rows by the generic difference of the tails.

        T = log Y has the log density ℓ(t) = ½ log(λ/2π) − t/2 − λ(eᵗ − μ)²/(2μ²eᵗ),
        λ = 1/φ. On [log a, log b], a = y − ½, b = y + ½, with t_m = ½ log(ab) and
        h = ½ log(b/a) = ½ log1p(1/a): P = h e^{ℓ(t_m)} ∫_{−1}^{1} e^{g(s)} ds, with
        g(s) = ℓ(t_m + hs) − ℓ(t_m) = −hs/2 − α(e^{hs} − 1) − β(e^{−hs} − 1) exactly,
        α = λ√(ab)/(2μ²), β = λ/(2√(ab)); computed per node from E = expm1(hs) as
        −hs/2 − αE + βE/(1 + E) (no cancellation at small hs).

        Rounding: where the bound holds |c| and (α + β)h² are below about 20, so each
        node's g is within a few ulps of those magnitudes, ~1e-14 relative in P; ℓ(t_m)
        adds a few ulps of its own terms, which |log P| ≥ ½ bounds relatively.
        """
        y = np.asarray(y, dtype=np.float64)
        phi = params["dispersion"]
        rows = np.ndim(phi) > 0  # φ per row: the same formulas with λ per row
        if y.ndim != 1 or np.ndim(pred) > 1 or not (rows or 0.0 < phi < math.inf):
            return super().interval_loglik(y, pred, params)
        mu = np.broadcast_to(np.asarray(pred, dtype=np.float64), y.shape)
        lam_all = 1.0 / np.broadcast_to(np.asarray(phi, dtype=np.float64), y.shape) \
            if rows else 1.0 / phi

        def block(sl: slice, out: np.ndarray) -> np.ndarray:
            yb, mb = y[sl], mu[sl]
            lam = lam_all[sl] if rows else lam_all
            done = yb > 0.5  # y − ½ > 0: log a is finite
            zero = None
            if not done.all():
                zero = ~done
                zero &= yb > -0.5  # the intervals [0, y + ½]: log P = log F(y + ½)
                if zero.any():
                    out[zero] = self.logcdf(yb[zero] + 0.5, mb[zero],
                                            {"dispersion": 1.0 / lam[zero]} if rows
                                            else params)
                if not done.any():
                    return zero
                yb, mb = yb[done], mb[done]
                if rows:
                    lam = lam[done]
            a = yb - 0.5
            gm = yb + 0.5
            gm *= a
            np.sqrt(gm, out=gm)
            h = np.reciprocal(a)
            np.log1p(h, out=h)
            h *= 0.5
            c, curvature, remainder, alpha, beta = log_y_bound(h, gm, mb, lam)
            mask = quadrature.proven(c, curvature, remainder)
            if not mask.all():
                done[np.flatnonzero(done)[~mask]] = False
                h, gm, mb, alpha, beta = h[mask], gm[mask], mb[mask], alpha[mask], beta[mask]
                if rows:
                    lam = lam[mask]
            if not mask.any():
                return done if zero is None else done | zero

            def exponent(sl2: slice, s: np.ndarray, g: np.ndarray, tmp: np.ndarray) -> None:
                np.multiply(s, h[sl2], out=g)  # hs
                np.expm1(g, out=tmp)  # E
                g *= -0.5
                g -= alpha[sl2] * tmp
                np.divide(tmp, tmp + 1.0, out=tmp)
                tmp *= beta[sl2]
                g += tmp

            vals = quadrature.log_integral(exponent, h.size)
            vals += np.log(h)
            d = gm - mb
            d *= d
            d /= mb * mb * gm
            d *= -0.5 * lam
            vals += d
            vals -= 0.5 * np.log(gm)
            vals += 0.5 * np.log(lam) - HALF_LOG_2PI
            quadrature.store(out, done, vals)
            if zero is not None:
                done |= zero
            return done

        def fallback(rest: np.ndarray) -> np.ndarray:
            return super(InverseGaussian, self).interval_loglik(
                y[rest], mu[rest], take_params(params, rest) if rows else params)

        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return quadrature.evaluate(y.size, block, fallback)[0]

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

