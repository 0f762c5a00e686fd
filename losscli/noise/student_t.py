"""Student-t noise: the negative log-likelihood behind robust (Student-t) regression."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import special

from losscli import optimize
from losscli.errors import FitError, OutOfRange
from losscli.noise import blocks, tdist
from losscli.noise import crps as crps_forms
from losscli.noise.base import (
    ContinuousFamily,
    Frameworks,
    Information,
    Nesting,
    Params,
    log_param,
)
from losscli.noise.gaussian import HALF_LOG_2PI, Gaussian
from losscli.noise.laplace import weighted_median
from losscli.noise.sums import total_weight
from losscli.noise.support import REAL

# Beyond this many degrees of freedom the fit is reported as the Gaussian limit, df = ∞:
# the log-likelihood then differs from the Gaussian's by about W·(excess kurtosis)/(4ν).
DF_CAP = 1e6
# Below it the fit is taken to have diverged: with rows tied at one value, the likelihood
# grows without bound as df → 0 and scale → 0 there.
DF_MIN = 1e-2
# The fit explores on a strided sample of at most this many rows, then polishes on all rows.
SUBSAMPLE_ROWS = 100_000
_GAUSS = Gaussian()


class _Density:
    """The mean NLL of the t density at location `loc` and scale σ (each a float or per
    row) as a function of ν alone: f(ν) = [½(ν+1) Σw log(1 + z²/ν) + Σw log σ]/W −
    log_norm(ν), z = (y − loc)/σ; at ν = ∞ the Gaussian's. z² and Σw log σ do not
    depend on ν and are computed once."""

    def __init__(self, y: np.ndarray, w: np.ndarray | None, loc: Any, scale: Any,
                 W: float) -> None:
        with np.errstate(all="ignore"):
            z2 = np.subtract(y, loc)
            z2 /= scale
            z2 *= z2
            log_scale = np.log(scale) if np.ndim(scale) else math.log(scale)
        self.z2, self.w, self.W = z2, w, W
        self.log_scale = (float(np.sum(log_scale) if w is None else np.dot(w, log_scale))
                          if np.ndim(log_scale) else W * log_scale)
        self.quad = self._sum(z2)

    def _sum(self, x: np.ndarray) -> float:
        return float(x.sum() if self.w is None else np.dot(self.w, x))

    def __call__(self, df: float) -> float:
        if math.isinf(df):
            return (0.5 * self.quad + self.log_scale) / self.W + HALF_LOG_2PI
        t = np.log1p(self.z2 / df)
        return (0.5 * (df + 1.0) * self._sum(t) + self.log_scale) / self.W - tdist.log_norm(df)

    def slope(self, s: float) -> tuple[float, float]:
        """(−f′, −f″) in s = log ν: with u = z²/ν, A = Σw log1p u, B = Σw u/(1+u),
        C = Σw u(2+u)/(1+u)², νf′ = [½νA − ½(ν+1)B]/W − ν log_norm′ and ν²f″ =
        [½(ν+1)C − νB]/W − ν² log_norm″; d f/ds = νf′, d²f/ds² = νf′ + ν²f″."""
        df = math.exp(s)
        u = self.z2 / df
        r = 1.0 + u
        A = self._sum(np.log(r))
        r = np.reciprocal(r, out=r)
        u *= r  # u/(1+u)
        B = self._sum(u)
        np.subtract(2.0, u, out=r)  # with v = u/(1+u): u(2+u)/(1+u)² = v(2 − v)
        np.multiply(u, r, out=r)
        C = self._sum(r)
        d1, d2 = tdist.log_norm_derivatives(df)
        first = (0.5 * df * A - 0.5 * (df + 1.0) * B) / self.W - df * d1
        second = (0.5 * (df + 1.0) * C - df * B) / self.W - df * df * d2
        return -first, -(first + second)

    def strided(self, rows: int) -> _Density | None:
        """The same function of ν on every k-th row (about `rows` of them, for `slope`:
        its Σw log σ is left out); None if there are not twice as many."""
        k = self.z2.size // rows
        if k < 2:
            return None
        sub = object.__new__(_Density)
        sub.z2 = self.z2[::k]
        sub.w = None if self.w is None else self.w[::k]
        sub.W = float(sub.z2.size) if sub.w is None else float(np.sum(sub.w))
        sub.log_scale = 0.0
        sub.quad = sub._sum(sub.z2)
        return sub


def _newton_df(density: _Density, lo: float, hi: float) -> float | None:
    """The minimum of the density's mean NLL over s = log ν in [lo, hi] by safeguarded
    Newton steps on its closed-form derivatives: from the moment estimate ν = 2m/(m − 1)
    (m the mean z², E z² = ν/(ν − 2)), first on a strided sample of SUBSAMPLE_ROWS rows,
    then on all rows to a step below 1e-10. lo or hi where the minimum is at an end;
    None where Newton does not converge (the caller falls back to Brent)."""
    m = density.quad / density.W
    start = math.log(2.0 * m / (m - 1.0)) if m > 1.0 else hi - 1.0
    start = min(max(start, lo + 1.0), hi - 1.0)
    sub = density.strided(SUBSAMPLE_ROWS)
    with np.errstate(all="ignore"):
        if sub is not None:
            x, status = optimize.newton_root(sub.slope, start, lo, hi, tol=1e-4, max_step=2.0)
            if status == optimize.ROOT:
                start = x
        x, status = optimize.newton_root(density.slope, start, lo, hi, tol=1e-10,
                                         max_step=2.0)
    return {optimize.ROOT: x, optimize.ABOVE: hi, optimize.BELOW: lo}.get(status)


class StudentT(ContinuousFamily):
    """y ~ t_ν(loc, σ), loc = ŷ (the location), σ > 0 the scale, ν > 0 the degrees of
    freedom, y real.

    log q = log Γ((ν+1)/2) − log Γ(ν/2) − ½ log(νπ) − log σ − (ν+1)/2 · log(1 + z²/ν),
    z = (y − loc)/σ; computed as −log B(ν/2, ½) − ½ log ν − log σ − (ν+1)/2 · log1p(z²/ν)
    (B the Beta function, via betaln; from ν = 20 on by Stirling's series, see `tdist.log_norm`),
    which does not cancel at large ν.
    ν = ∞ is the Gaussian N(loc, σ²) (the Gaussian family's formula is used there).
    Conditional: (ν, σ) by numeric MLE; marginal: (loc, ν, σ). The loss is the Student-t
    negative log-likelihood of robust regression: as ν → ∞ it becomes squared error.
    """

    name = "student_t"
    loss = "Student-t NLL (robust regression)"
    support = REAL
    pred_domain = REAL
    prediction = "location"
    nuisance = ("df", "scale")
    marginal_params = ("loc", "df", "scale")
    location = "loc"
    param_domains = {"df": "positive", "scale": "positive", "loc": "real"}
    applies_to = ("binary", "count", "integer", "proportion", "positive", "real",
                  "semicontinuous")
    nests = (Nesting("gaussian", "df", math.inf),)
    spread = ("scale", "scale")
    counting_fit_precise = True  # damped Newton to a tiny step, on the interval likelihood
    # No framework has a built-in Student-t loss: torch.distributions.StudentT is a
    # distribution (its log_prob can build a custom loss), not a torch.nn loss;
    # scikit-learn's HistGradientBoostingRegressor offers squared_error, absolute_error,
    # gamma, poisson and quantile; XGBoost's robust objectives are pseudo-Huber and L1,
    # LightGBM's huber and fair — robust, but none is the t likelihood.
    frameworks = Frameworks(pytorch=None, sklearn=None, xgboost=None, lightgbm=None)

    # -- the primitive
    def loglik(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        df, scale = params["df"], params["scale"]
        if np.ndim(df):
            return self._loglik_rows(y, pred, df, scale)
        if math.isinf(df):
            return _GAUSS.loglik(y, pred, {"sigma": scale})
        ll = np.subtract(y, pred)
        ll /= scale
        ll *= ll
        ll /= df
        np.log1p(ll, out=ll)
        ll *= -0.5 * (df + 1.0)
        ll += tdist.log_norm(df) - log_param(scale)
        return ll

    def _loglik_rows(self, y: np.ndarray, pred: Any, df: np.ndarray, scale: Any) -> np.ndarray:
        """`loglik` with ν per row: the t formula on the finite rows, the Gaussian's on
        the ν = ∞ rows."""
        z = np.subtract(y, pred)
        df = np.broadcast_to(df, z.shape)
        scale = np.broadcast_to(scale, z.shape)
        z /= scale
        z *= z
        inf = np.isinf(df)
        out = np.empty(z.shape)
        out[inf] = -0.5 * z[inf] - (np.log(scale[inf]) + HALF_LOG_2PI)
        fin = ~inf
        d = df[fin]
        ll = z[fin] / d
        np.log1p(ll, out=ll)
        ll *= -0.5 * (d + 1.0)
        ll += tdist.log_norm(d) - np.log(scale[fin])
        out[fin] = ll
        return out

    def standardised(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray | None:
        """(y − loc)/σ, whose c.d.f. is the t_ν's; None when ν is per row (no one G)."""
        if np.ndim(params["df"]):
            return None
        return np.subtract(y, pred) / params["scale"]

    def standard_quantiles(self, q: np.ndarray, params: Params) -> np.ndarray:
        df = params["df"]
        return special.ndtri(q) if df is None or math.isinf(df) else special.stdtrit(df, q)

    def logcdf(self, x: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        return tdist.log_cdf_std(np.subtract(x, pred) / params["scale"], params["df"])

    def logsf(self, x: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        return tdist.log_cdf_std(np.subtract(pred, x) / params["scale"], params["df"])

    def interval_loglik(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        """log P(y − ½ < Y ≤ y + ½): by Gauss–Legendre quadrature of the density where a
        bound proves it accurate (intervals narrow against the scale), else from each
        endpoint's smaller tail (`tdist.interval_std`). (A marginal fit on integer
        targets scores each distinct value once, on the value counts.)
        """
        return tdist.interval_residual(np.subtract(y, pred), params["scale"], params["df"])

    # -- fitting
    def fit(self, y: np.ndarray, w: np.ndarray | None, pred: Any = None) -> Params:
        try:  # the Gaussian limit, exactly as the gaussian family fits it
            gauss = _GAUSS.fit(y, w, pred)
        except OutOfRange:
            raise
        except FitError:
            what = "residual is 0" if pred is not None else "target is equal"
            raise FitError(f"every {what}, so the Student-t scale σ is 0 "
                           "and the likelihood is unbounded") from None
        loc, df, scale = _fit_density(y, pred, w, gauss.get("mean", 0.0), gauss["sigma"])
        if pred is None:
            return {"loc": loc, "df": df, "scale": scale}
        return {"df": df, "scale": scale}

    def fit_given_profile(self, loglik: Any, y: np.ndarray, w: np.ndarray | None,
                          pred: Any, given: Params, free: tuple[str, ...]) -> Params | None:
        """ν alone free (the scale given, a float or per row; marginal: the location too):
        the 1-D maximum of `loglik` over log ν in [log DF_MIN, log DF_CAP], and the
        Gaussian limit ν = ∞ where that is at least as likely or the maximum is at the
        upper end (the `tail` test of SPEC §8.2). On the density, by Newton's method on
        the derivatives in closed form (`_newton_df`); on intervals, or where Newton
        fails, by bounded Brent. Other cases: None (the shared optimiser)."""
        if free != ("df",):
            return None
        p = pred if pred is not None else given["loc"]
        W = total_weight(y.size, w)
        scale = given["scale"]
        density = _Density(y, w, p, scale, W) if loglik == self.loglik else None

        def nll(df: float) -> float:
            with np.errstate(all="ignore"):
                if density is not None:
                    v = density(df)
                else:
                    ll = loglik(y, p, {"df": df, "scale": scale})
                    v = -(float(ll.sum()) if w is None else float(np.dot(w, ll))) / W
            return v if math.isfinite(v) else 1e300

        lo, hi = math.log(DF_MIN), math.log(DF_CAP)
        s_hat = None if density is None else _newton_df(density, lo, hi)
        if s_hat is None:
            s_hat, f_hat = optimize.minimize_bounded(lambda s: nll(math.exp(s)), lo, hi,
                                                     xatol=1e-10)
        else:
            f_hat = nll(math.exp(s_hat))
        if nll(math.inf) <= f_hat or s_hat > hi - 1e-3:
            return {"df": math.inf}
        if s_hat < lo + 1e-3:
            raise FitError("the Student-t likelihood has no maximum on these data: it "
                           "grows without bound as df goes to 0")
        return {"df": math.exp(s_hat)}

    def fit_start(self, y: np.ndarray, w: np.ndarray | None, pred: Any = None) -> Params:
        """The density's MLE, kept to a finite df and a scale of at least 0.05."""
        try:
            start = self.fit(y, w, pred)
        except FitError:
            start = {"loc": weighted_median(y, w)} if pred is None else {}
            start["df"], start["scale"] = 5.0, 0.5
        start["df"] = min(start["df"], 1e3)
        start["scale"] = max(start["scale"], 0.05)
        return start

    def fit_counting_with_information(self, y: np.ndarray, w: np.ndarray | None,
                                      pred: Any = None) -> tuple[Params, Information | None]:
        """MLE on the discretised likelihood (SPEC §1.6), by damped Newton from the
        density's MLE, first on strided samples of SUBSAMPLE_ROWS, 10·SUBSAMPLE_ROWS, …
        rows (each at least 4 times smaller than the data), then on all rows.

        Derivatives in loc and log σ are analytic (from the t density at the interval
        ends); those in log ν are central differences. The Gaussian limit (ν = ∞) is fitted
        too when the search heads there or ends above ν = 100, and kept when it is at
        least as likely. Conditional with ν finite, the Hessian in (log σ, log ν) at the fit
        (one more evaluation of the objective with its derivatives) is the information.
        """
        start = self.fit_start(y, w, pred)
        fit_loc = pred is None
        c0 = start["loc"] if fit_loc else pred
        s0 = start["scale"]
        a = np.subtract(y, c0)
        b = a + 0.5
        a -= 0.5
        a /= s0
        b /= s0
        theta = np.array(([0.0] if fit_loc else []) + [0.0, math.log(start["df"])])
        n = y.size
        status = "ok"
        rows = SUBSAMPLE_ROWS
        while 4 * rows <= n and status == "ok":  # samples at least 4 times smaller
            step = -(-n // rows)
            sub = _IntervalObjective(a[::step], b[::step], None if w is None else w[::step],
                                     fit_loc)
            theta_sub, status, _ = _maximise(sub, theta, fit_loc, counting=True)
            if status != "diverged":
                theta = theta_sub
            rows *= 10
        f_t = -math.inf
        if status == "ok":  # the sample found an interior maximum (or there is no sample)
            obj = _IntervalObjective(a, b, w, fit_loc)
            theta, status, f_obj = _maximise(obj, theta, fit_loc, counting=True)
            if status == "ok" and theta[-1] < math.log(DF_CAP) - 1e-9:
                f_t = f_obj
        df = math.exp(theta[-1])
        # The Gaussian limit, when the interior search went there or ended at a large ν
        # (a profile likelihood that peaks at small ν and again at ∞ would be exotic).
        if not math.isfinite(f_t) or df > 100.0:
            gauss = _IntervalObjective(a, b, w, fit_loc, gaussian=True)
            start_g = theta[:-1] if status != "diverged" else np.zeros(theta.size - 1)
            theta_g, _, f_g = _maximise(gauss, start_g, fit_loc, counting=True)
            if f_g >= f_t:
                theta, df = theta_g, math.inf
        out: Params = {}
        if fit_loc:
            out["loc"] = c0 + s0 * float(theta[0])
        out["df"] = df
        out["scale"] = s0 * math.exp(float(theta[1 if fit_loc else 0]))
        info = None
        if not fit_loc and math.isfinite(df) and math.isfinite(f_t):
            # θ = (log σ − log s0, log ν): the Hessian of the mean log P there, times W
            _, _, hess = obj(theta, True)
            if np.all(np.isfinite(hess)):
                info = (("scale", "df"), -obj.W * hess)
        return out, info

    def fit_warnings(self, params: Params) -> list[str]:
        """The Gaussian limit of a fitted df (a df given per row is not a fit: none)."""
        df = params.get("df", 0.0)
        if np.ndim(df) == 0 and math.isinf(df):
            return ["the fit reached the Gaussian limit (df = ∞)"]
        return []

    def to_scipy(self, pred: Any, params: Params) -> Any:
        from scipy import stats

        return stats.t(df=params["df"], loc=pred, scale=params["scale"])

    # -- proper scores (SPEC §8.3)
    def crps(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        """σ·CRPS_tν((y − loc)/σ) (`crps_forms.student_t`): the normal's at ν = ∞, finite
        for ν > ½ (F² has tails |x|^(−2ν)), ∞ for ν ≤ ½."""
        scale = crps_forms.arr(params["scale"])
        return scale * crps_forms.student_t((crps_forms.arr(y) - pred) / scale, params["df"])

    def ppf(self, q: float, pred: Any, params: Params) -> np.ndarray:
        """F⁻¹(q) = loc + σ t_ν⁻¹(q) (stdtrit; Φ⁻¹ at ν = ∞)."""
        df = crps_forms.arr(params["df"])
        inf = np.isinf(df)
        z = np.where(inf, special.ndtri(q), special.stdtrit(np.where(inf, 1.0, df), q))
        return crps_forms.arr(pred) + crps_forms.arr(params["scale"]) * z


# ---------------------------------------------------------------- fitting


def _c_derivs(df: float) -> tuple[float, float]:
    """First and second derivatives in s = log ν of c(s) = −log B(ν/2, ½) − ½ s.

    c' = (ν/2)[ψ((ν+1)/2) − ψ(ν/2)] − ½ and c'' = c' + ½ + (ν²/4)[ψ'((ν+1)/2) − ψ'(ν/2)];
    both cancel badly for large ν, where their asymptotic series are used instead
    (1/(4ν) − 1/(8ν³) + 1/(4ν⁵) and −1/(4ν) + 3/(8ν³) − 5/(4ν⁵)).
    """
    if df >= 100.0:
        i = 1.0 / df
        i2 = i * i
        return i * (0.25 - i2 * (0.125 - 0.25 * i2)), -i * (0.25 - i2 * (0.375 - 1.25 * i2))
    h = 0.5 * df
    d = float(special.digamma(h + 0.5) - special.digamma(h))
    tg = float(special.polygamma(1, h + 0.5) - special.polygamma(1, h))
    return h * d - 0.5, h * d + h * h * tg


def _dot(x: np.ndarray, w: np.ndarray | None) -> float:
    return float(x.sum()) if w is None else float(np.dot(w, x))


class _DensityObjective:
    """Mean log-likelihood of t_ν(m, σ) on the standardised values z = (x − c0)/s0, with
    its gradient and Hessian in θ = (m, log σ, log ν) (or (log σ, log ν), m = 0 fixed);
    x = y (marginal) or the residual y − ŷ (conditional, c0 = 0).

    Per row r = z − m, u = r²/(σ²ν), g = 1/(1 + u), v = u g; five weighted sums
    (Σ log1p u, Σ g, Σ g², Σ r g, Σ r g²) give everything in one pass over the rows,
    made in blocks of BLOCK rows so that the work arrays stay in cache (and small).
    """

    BLOCK = 1 << 15

    def __init__(self, y: np.ndarray, pred: np.ndarray | None, w: np.ndarray | None,
                 c0: float, s0: float) -> None:
        self.y, self.pred, self.w, self.c0, self.s0 = y, pred, w, c0, s0
        self.fit_loc = pred is None
        self.W = total_weight(y.size, w)
        self._last: tuple[bytes, tuple] | None = None
        size = min(self.BLOCK, y.size)
        self._r, self._u, self._t = (np.empty(size) for _ in range(3))

    def __call__(self, theta: np.ndarray, derivs: bool = True) -> tuple:
        key = theta.tobytes()
        if self._last is not None and self._last[0] == key:
            return self._last[1]
        res = self._evaluate(theta)
        self._last = (key, res)
        return res

    def _sums(self, shift: float, k: float) -> tuple[float, ...]:
        """Σ log1p u, Σ g, Σ g², Σ r g, Σ r g² (weighted), with r in the units of y."""
        y, pred, w = self.y, self.pred, self.w
        s_l = s_g = s_g2 = s_rg = s_rg2 = 0.0
        for lo in range(0, y.size, self.BLOCK):
            hi = min(lo + self.BLOCK, y.size)
            r, u, tmp = self._r[:hi - lo], self._u[:hi - lo], self._t[:hi - lo]
            np.subtract(y[lo:hi], shift, out=r)
            if pred is not None:
                r -= pred[lo:hi]
            wb = None if w is None else w[lo:hi]
            np.multiply(r, r, out=u)
            u *= k
            s_l += _dot(np.log1p(u, out=tmp), wb)
            u += 1.0
            g = np.reciprocal(u, out=u)
            wg = g if wb is None else np.multiply(wb, g, out=tmp)
            s_g += float(wg.sum())
            s_g2 += float(np.dot(wg, g))
            if self.fit_loc:
                s_rg += float(np.dot(wg, r))
                s_rg2 += float(np.dot(np.multiply(wg, g, out=tmp), r))
        return s_l, s_g, s_g2, s_rg, s_rg2

    def _evaluate(self, theta: np.ndarray) -> tuple:
        W, s0 = self.W, self.s0
        if self.fit_loc:
            m, tau, s = (float(v) for v in theta)
        else:
            m, (tau, s) = 0.0, (float(v) for v in theta)
        nu = math.exp(s)
        k = math.exp(-2.0 * tau - s)
        s_l, s_g, s_g2, s_rg, s_rg2 = self._sums(self.c0 + s0 * m, k / (s0 * s0))
        s_v = W - s_g
        s_vg = s_g - s_g2
        c = -float(special.betaln(0.5 * nu, 0.5)) - 0.5 * s
        c1, c2 = _c_derivs(nu)
        f = c - tau - 0.5 * (nu + 1.0) * s_l / W
        g_tau = -1.0 + (nu + 1.0) * s_v / W
        g_s = c1 + (-0.5 * nu * s_l + 0.5 * (nu + 1.0) * s_v) / W
        h_tt = -2.0 * (nu + 1.0) * s_vg / W
        h_ts = (nu * s_v - (nu + 1.0) * s_vg) / W
        h_ss = c2 + (-0.5 * nu * s_l + nu * s_v - 0.5 * (nu + 1.0) * s_vg) / W
        if not self.fit_loc:
            return f, np.array([g_tau, g_s]), np.array([[h_tt, h_ts], [h_ts, h_ss]])
        s_rg /= s0  # r in standardised units
        s_rg2 /= s0
        g_m = (nu + 1.0) * k * s_rg / W
        h_mm = -(nu + 1.0) * k * (s_g - 2.0 * s_vg) / W
        h_mt = -2.0 * (nu + 1.0) * k * s_rg2 / W
        h_ms = (nu * k * s_rg - (nu + 1.0) * k * s_rg2) / W
        grad = np.array([g_m, g_tau, g_s])
        hess = np.array([[h_mm, h_mt, h_ms], [h_mt, h_tt, h_ts], [h_ms, h_ts, h_ss]])
        return f, grad, hess


class _IntervalObjective:
    """Mean log-probability of the intervals (a_i, b_i] under t_ν(m, σ) (standardised
    units), with gradient and Hessian in θ = (m, log σ, log ν) or (log σ, log ν); with
    `gaussian` ν = ∞ and θ = (m, log σ) or (log σ,).

    In m and log σ the derivatives are analytic: ∂F(t)/∂m = −f(t)/σ, ∂F(t)/∂log σ = −t f(t),
    and f'(t) = h(t) f(t) with h = −(ν+1) t/(ν + t²) (−t for the Gaussian). In log ν they
    are central differences of step 1e-4, which costs two more evaluations. Rows are
    taken in blocks of BLOCK; log P at the last point is kept for the derivatives there.
    """

    STEP = 1e-4
    BLOCK = 1 << 16

    def __init__(self, a: np.ndarray, b: np.ndarray, w: np.ndarray | None, fit_loc: bool,
                 gaussian: bool = False) -> None:
        self.a, self.b, self.w, self.fit_loc, self.gaussian = a, b, w, fit_loc, gaussian
        self.W = total_weight(a.size, w)
        self._last: tuple[tuple, tuple] | None = None
        self._lp = np.empty(a.size)  # log P per row at the point `_lp_key`
        self._lp_key: tuple | None = None

    def _split(self, theta: np.ndarray) -> tuple[float, float, float]:
        vals = [float(v) for v in theta]
        m = vals.pop(0) if self.fit_loc else 0.0
        tau = vals.pop(0)
        df = math.inf if self.gaussian else math.exp(vals.pop(0))
        return m, tau, df

    def _rows(self, m: float, tau: float, df: float, derivs: int) -> tuple:
        """Mean log P and, for derivs ≥ 1, the mean gradient in (m, τ) (or τ), for
        derivs = 2 also the Hessian there."""
        sigma = math.exp(tau)
        w = self.w
        keep = derivs != 1  # the centre point, whose log P the derivatives reuse
        cached = keep and self._lp_key == (m, tau, df)
        k = 2 if self.fit_loc else 1

        def block(sl: slice) -> tuple[float, np.ndarray, np.ndarray]:
            lo, hi = sl.start, sl.stop
            f = 0.0
            grad = np.zeros(k)
            hess = np.zeros((k, k))
            wb = None if w is None else w[lo:hi]
            ta = (self.a[lo:hi] - m) / sigma
            tb = (self.b[lo:hi] - m) / sigma
            if cached:
                lp = self._lp[lo:hi]
            else:
                lp = tdist.interval_std(ta, tb, df)
                if keep:
                    self._lp[lo:hi] = lp
            f += _dot(lp, wb)
            if not derivs:
                return f, grad, hess
            with np.errstate(over="ignore", invalid="ignore"):
                pa = np.exp(tdist.log_density_std(ta, df) - lp)  # f(t_a)/P
                pb = np.exp(tdist.log_density_std(tb, df) - lp)
                if math.isinf(df):
                    ha, hb = -ta, -tb
                else:
                    ha = -(df + 1.0) * ta / (df + ta * ta)
                    hb = -(df + 1.0) * tb / (df + tb * tb)
                tha, thb = ta * ha, tb * hb
            # ℓ_x = P_x / P per row; ℓ_xy = P_xy / P − ℓ_x ℓ_y
            l_t = -(tb * pb - ta * pa)
            grad[-1] += _dot(l_t, wb)
            if derivs == 2:
                p_tt = tb * pb * (1.0 + thb) - ta * pa * (1.0 + tha)
                hess[-1, -1] += _dot(p_tt - l_t * l_t, wb)
            if self.fit_loc:
                l_m = -(pb - pa) / sigma
                grad[0] += _dot(l_m, wb)
                if derivs == 2:
                    p_mm = (pb * hb - pa * ha) / (sigma * sigma)
                    p_mt = (pb * (1.0 + thb) - pa * (1.0 + tha)) / sigma
                    hess[0, 0] += _dot(p_mm - l_m * l_m, wb)
                    hess[0, 1] += _dot(p_mt - l_m * l_t, wb)
            return f, grad, hess

        # blocks on every core; the sums are added in block order, so the result does not
        # depend on the number of threads
        parts = blocks.map_blocks(block, self.a.size, self.BLOCK)
        f = math.fsum(p[0] for p in parts)
        grad = np.sum([p[1] for p in parts], axis=0)
        hess = np.sum([p[2] for p in parts], axis=0)
        if keep and not cached:
            self._lp_key = (m, tau, df)
        hess[1:, :1] = hess[:1, 1:].T
        return f / self.W, grad / self.W, hess / self.W

    def __call__(self, theta: np.ndarray, derivs: bool = True) -> tuple:
        key = (theta.tobytes(), derivs)
        if self._last is not None and self._last[0] == key:
            return self._last[1]
        m, tau, df = self._split(theta)
        if not derivs:
            res: tuple = self._rows(m, tau, df, 0)[:1]
        elif self.gaussian:
            res = self._rows(m, tau, df, 2)
        else:
            f, g, h = self._rows(m, tau, df, 2)
            s, e = math.log(df), self.STEP
            fp, gp, _ = self._rows(m, tau, math.exp(s + e), 1)
            fm, gm, _ = self._rows(m, tau, math.exp(s - e), 1)
            k = g.size
            grad = np.append(g, (fp - fm) / (2 * e))
            hess = np.zeros((k + 1, k + 1))
            hess[:k, :k] = h
            hess[:k, k] = hess[k, :k] = (gp - gm) / (2 * e)
            hess[k, k] = (fp - 2.0 * f + fm) / (e * e)
            res = (f, grad, hess)
        self._last = (key, res)
        return res


def _maximise(fun: Callable, theta0: np.ndarray, fit_loc: bool,
              counting: bool = False) -> tuple[np.ndarray, str, float]:
    """Damped Newton ascent (optimize.newton_ascent) on θ = ([m,] log σ, [log ν]).

    Returns θ, a status and the objective at the last point evaluated (within rounding
    of its value at θ). The status is "ok"; "limit" when log ν reaches log DF_CAP with
    the objective still rising in it; or "diverged" when ν falls below DF_MIN or σ
    collapses (an unbounded likelihood).
    """
    has_df = theta0.size == (3 if fit_loc else 2)
    tau_i = 1 if fit_loc else 0
    log_cap, log_min = math.log(DF_CAP), math.log(DF_MIN)

    def stop(theta: np.ndarray) -> str | None:
        if has_df and theta[-1] < log_min:
            return optimize.DIVERGED
        # σ below a millionth of the starting (robust) scale: the density's likelihood
        # is running off to infinity at tied values; the discretised one is bounded (≤ 1)
        if theta[tau_i] < (-30.0 if counting else -14.0):
            return optimize.OK if counting else optimize.DIVERGED
        return None

    return optimize.newton_ascent(fun, theta0, cap=(theta0.size - 1, log_cap) if has_df
                                  else None, stop=stop)


def _fit_density(y: np.ndarray, pred: np.ndarray | None, w: np.ndarray | None, mean: float,
                 sigma: float) -> tuple[float, float, float]:
    """(loc, ν, σ) by ML, loc fitted when pred is None (else the residuals y − ŷ have
    location 0), given the Gaussian MLE (mean, sigma) of the same data.

    Newton from a robust start on a strided sample of SUBSAMPLE_ROWS rows, then on samples
    ten times larger, then on every row, each from the last answer (2–3 passes at the
    end); the Gaussian limit is taken when ν reaches DF_CAP with the likelihood still
    rising, or when it is at least as likely.
    """
    fit_loc = pred is None
    n = y.size
    var = sigma * sigma
    gauss_ll = -0.5 * math.log(2.0 * math.pi * var) - 0.5

    def sample(rows: int) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        step = max(1, -(-n // rows))
        return (y[::step], None if pred is None else pred[::step],
                None if w is None else w[::step])

    # a robust start on the smallest sample: the median and the median absolute deviation,
    # scaled for ν = 5
    ys, ps, ws = sample(SUBSAMPLE_ROWS)
    xs = ys if ps is None else ys - ps
    loc0 = weighted_median(xs, ws) if fit_loc else 0.0
    mad = weighted_median(np.abs(xs - loc0), ws)
    if not mad > 0.0:
        mad = sigma
    df0 = 5.0
    result: tuple[float, float, float, float] | None = (
        loc0, df0, mad / float(special.stdtrit(df0, 0.75)), -math.inf)

    def refit(start: tuple[float, float, float, float], rows: int | None):
        loc1, df1, sigma1, _ = start
        theta = np.array(([0.0] if fit_loc else []) + [0.0, math.log(df1)])
        return _fit_standardised(*(sample(rows) if rows else (y, pred, w)), loc1, sigma1,
                                 theta)

    rows = SUBSAMPLE_ROWS
    while 4 * rows <= n and result is not None:  # samples at least 4 times smaller
        result = refit(result, rows)
        rows *= 10
    if result is not None:
        result = refit(result, None)
    else:
        # a sample reached the Gaussian limit; on all rows try the interior only if the
        # excess kurtosis is positive (else ν = ∞ is a local maximum of the profile)
        r2 = np.subtract(y, mean) if pred is None else y - pred
        r2 *= r2
        kurt = _dot(r2 * r2, w) / total_weight(n, w) / (var * var) - 3.0
        del r2
        if kurt > 0.0:
            df_k = min(max(4.0 + 6.0 / kurt, 2.5), 1e3)
            result = refit((mean, df_k, math.sqrt(var * (df_k - 2.0) / df_k), 0.0), None)
    if result is None or result[3] <= gauss_ll:
        return mean, math.inf, sigma
    loc, df, sigma, _ = result
    return loc, df, sigma


def _fit_standardised(y: np.ndarray, pred: np.ndarray | None, w: np.ndarray | None,
                      loc0: float, sigma0: float,
                      theta: np.ndarray) -> tuple[float, float, float, float] | None:
    """Newton on z = (x − loc0)/σ0; (loc, ν, σ, mean log-likelihood), None at the limit."""
    fit_loc = pred is None
    obj = _DensityObjective(y, pred, w, loc0, sigma0)
    theta, status, f = _maximise(obj, theta, fit_loc)
    if status == "diverged":
        raise FitError("the Student-t likelihood has no maximum on these data: it grows "
                       "without bound as df and scale go to 0 at a value many rows share")
    if status == "limit":
        return None
    f -= math.log(sigma0)
    loc = loc0 + sigma0 * float(theta[0]) if fit_loc else 0.0
    tau, s = float(theta[-2]), float(theta[-1])
    if s >= math.log(DF_CAP):
        return None
    return loc, math.exp(s), sigma0 * math.exp(tau), f
