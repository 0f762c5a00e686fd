"""Laplace noise: the negative log-likelihood behind absolute error (MAE)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from losscli.errors import FitError
from losscli.noise import crps as crps_forms
from losscli.noise.base import ContinuousFamily, Frameworks, Params, log_param
from losscli.noise.logspace import LOG_HALF
from losscli.noise.sums import total_weight, wsum
from losscli.noise.support import REAL
from losscli.optimize import minimize_params

LOG_2 = math.log(2.0)


def weighted_median(y: np.ndarray, w: np.ndarray | None) -> float:
    """The midpoint of the interval of minimisers of Σ w |y − m| (SPEC §1.3).

    Unweighted this is exactly `np.median` (the mean of the two middle values for even n).
    Weighted: in sorted order, the first value whose cumulative weight reaches W/2; when
    the cumulative weight hits W/2 exactly, every m between that value and the next one
    with weight minimises the sum, and the midpoint is returned. "Exactly" allows the
    rounding of the cumulative sum (n·ε·W), so weights of 0.1 behave like equal weights;
    integer weights are compared exactly.

    Large inputs are not sorted whole: weighted quantiles 0.5 ± 1% of a strided sample
    bracket the answer, one pass sums the weight below the bracket, and only the rows
    inside it are sorted (the full sort is the fallback when the bracket misses).
    """
    if w is None:
        return float(np.median(y))
    total = float(np.sum(w))
    if not total > 0.0:
        raise FitError("the weights sum to 0, so the median is undefined")
    tol = y.size * np.finfo(np.float64).eps * total
    if y.size > 200_000:
        step = y.size // 50_000
        ys, ws = y[::step], w[::step]
        order = np.argsort(ys)
        cs = np.cumsum(ws[order])
        lo_i, hi_i = np.searchsorted(cs, cs[-1] * np.array([0.49, 0.51]))
        lo = float(ys[order[lo_i]])
        hi = float(ys[order[min(hi_i, ys.size - 1)]])
        inside = (y >= lo) & (y <= hi)
        below = float(np.dot(w, y < lo))
        yi, wi = y[inside], w[inside]
        if below < 0.5 * total - tol and below + float(wi.sum()) > 0.5 * total + tol:
            if lo == hi:  # the cumulative weight crosses W/2 inside a run of ties
                return lo
            return _sorted_median(yi, wi, below, total, tol)
    return _sorted_median(y, w, 0.0, total, tol)


def _sorted_median(y: np.ndarray, w: np.ndarray, below: float, total: float,
                   tol: float) -> float:
    """Weighted median of all rows, from the rows (y, w) that contain it and the weight
    `below` of the rows under them."""
    order = np.argsort(y)
    ys = y[order]
    cw = np.cumsum(w[order])
    cw += below
    half = 0.5 * total
    k = int(np.searchsorted(cw, half - tol, side="left"))
    j = int(np.searchsorted(cw, half + tol, side="right"))
    if j > k and j < ys.size:  # the cumulative weight sits on W/2: a flat stretch
        return 0.5 * (float(ys[k]) + float(ys[j]))
    return float(ys[min(k, ys.size - 1)])


class Laplace(ContinuousFamily):
    """y ~ Laplace(m, b), m = ŷ (the median), b > 0 the scale, y real.

    log q = −log(2b) − |y − m| / b.
    Conditional MLE: b = Σ w |y − ŷ| / W. Marginal: m = the weighted median (the midpoint
    of the minimisers of Σ w |y − m|, numpy's median when unweighted), then b about m.
    Minimising it over m with b fixed is minimising the absolute error.
    On integer targets the probability of [y − ½, y + ½] has the closed form
    e^{−|r|/b} sinh(1/(2b)) for |r| ≥ ½ and 1 − e^{−1/(2b)} cosh(r/b) inside (r = y − m).
    """

    name = "laplace"
    loss = "absolute error (MAE)"
    support = REAL
    pred_domain = REAL
    prediction = "median"
    nuisance = ("scale",)
    marginal_params = ("median", "scale")
    location = "median"
    param_domains = {"scale": "positive", "median": "real"}
    closed_form = ("conditional",)
    spread = ("scale", "scale")
    applies_to = ("binary", "count", "integer", "proportion", "positive", "real",
                  "semicontinuous")
    frameworks = Frameworks(
        pytorch="torch.nn.L1Loss",
        sklearn="HistGradientBoostingRegressor(loss='absolute_error')",
        xgboost="reg:absoluteerror",
        lightgbm="regression_l1",
        catboost="MAE",
        keras="keras.losses.MeanAbsoluteError",
    )

    def loglik(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        b = params["scale"]
        ll = np.subtract(y, pred)
        np.abs(ll, out=ll)
        ll /= -b
        ll -= log_param(b) + LOG_2
        return ll

    def fit_given_closed(self, y: np.ndarray, w: np.ndarray | None, pred: Any,
                         given: Params, free: tuple[str, ...]) -> Params | None:
        """Marginal, b given (a float or per row): Σ w|y − m|/b is minimised by the
        weighted median with weights w/b; m given: b = Σ w|y − m| / W (today's
        conditional fit at ŷ = m)."""
        if pred is not None:
            return None
        if free == ("median",):
            b = given["scale"]
            if np.ndim(b) == 0:
                return {"median": weighted_median(y, w)}
            return {"median": weighted_median(y, (1.0 if w is None else w) / b)}
        if free == ("scale",):
            return self.fit(y, w, given["median"])
        return None

    def fit(self, y: np.ndarray, w: np.ndarray | None, pred: Any = None) -> Params:
        out: Params = {}
        if pred is None:
            pred = out["median"] = weighted_median(y, w)
        r = np.subtract(y, pred)
        np.abs(r, out=r)
        b = wsum(r, w) / total_weight(y.size, w)
        if not b > 0.0:
            where = "every residual is 0" if "median" not in out else "every target is equal"
            raise FitError(f"{where}, so the Laplace scale b is 0 and the likelihood is unbounded")
        out["scale"] = b
        return out

    def fit_stats(self, y: np.ndarray, pred: Any) -> np.ndarray | None:
        """Conditional: |y − ŷ| (b is its mean). The marginal median needs sorted data:
        it comes from the value counts or the seeded sample."""
        if pred is None:
            return None
        r = np.subtract(y, pred)
        return np.abs(r, out=r)[None, :]

    def fit_from_stats(self, stats: Any, conditional: bool) -> Params:
        b = float(stats.mean[0])
        if not b > 0.0:
            raise FitError("every residual is 0, so the Laplace scale b is 0 and the "
                           "likelihood is unbounded")
        return {"scale": b}

    def numeric_params(self, conditional: bool) -> tuple[str, ...]:
        # marginal: the median is not a smooth optimum (it comes from the value counts or
        # the sample, SPEC §5) and the scale given it is exact: nothing to polish
        return self.nuisance if conditional else ()

    def fit_start(self, y: np.ndarray, w: np.ndarray | None, pred: Any = None) -> Params:
        try:
            start = self.fit(y, w, pred)
        except FitError:
            start = {"median": weighted_median(y, w)} if pred is None else {}
            start["scale"] = 0.5
        # the discretised likelihood is bounded; keep the start away from a zero scale
        start["scale"] = max(start["scale"], 0.05)
        return start

    def fit_counting_with_information(self, y: np.ndarray, w: np.ndarray | None,
                                      pred: Any = None) -> tuple[Params, None]:
        """MLE on the discretised likelihood; conditional: a 1-D search on sufficient stats.

        Rows with |r| ≥ ½ contribute −|r|/b + log sinh(1/(2b)) each, so they enter only
        through their total weight and Σ w|r|; only rows inside (−½, ½) are revisited
        per evaluation.
        """
        if pred is None:  # marginal: the value counts, small; the generic fit will do
            return super().fit_counting_with_information(y, w)
        start = self.fit_start(y, w, pred)
        r = np.abs(np.subtract(y, pred))
        inside = r < 0.5
        W = total_weight(y.size, w)
        if w is None:
            w_in = None
            w_out = float(y.size - np.count_nonzero(inside))
            abs_out = float(r.sum() - r[inside].sum())
        else:
            w_in = w[inside]
            w_out = W - float(w_in.sum())
            abs_out = wsum(r, w) - wsum(r[inside], w_in)
        r_in = r[inside]
        del r

        def mean_nll(params: Params) -> float:
            b = params["scale"]
            ll = w_out * _log_sinh(0.5 / b) - abs_out / b
            if r_in.size:
                ll += wsum(_log_inside(r_in, b), w_in)
            return -ll / W

        return minimize_params(mean_nll, start, self.nuisance, self.param_domains), None

    def standardised(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        return np.subtract(y, pred) / params["scale"]

    def standard_quantiles(self, q: np.ndarray, params: Params) -> np.ndarray:
        """log 2q below ½, −log 2(1 − q) above."""
        with np.errstate(divide="ignore"):
            return np.where(q < 0.5, np.log(2.0 * q), -np.log(2.0 * (1.0 - q)))

    def logcdf(self, x: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        return _log_lower(np.subtract(x, pred) / params["scale"])

    def logsf(self, x: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        return _log_lower(np.subtract(pred, x) / params["scale"])

    def interval_loglik(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        """log P(y − ½ < Y ≤ y + ½) in closed form (equal to log(F(b) − F(a)))."""
        b = params["scale"]
        r = np.abs(np.subtract(y, pred))
        out = r / -b
        if np.ndim(b):  # b per row: the same formulas, row by row
            out += _log_sinh_rows(0.5 / b)
            inside = r < 0.5
            if inside.any():
                out[inside] = _log_inside_rows(r[inside], np.broadcast_to(b, r.shape)[inside])
            return out
        out += _log_sinh(0.5 / b)
        inside = r < 0.5
        if inside.any():
            out[inside] = _log_inside(r[inside], b)
        return out

    # diagnostics: the median is recalibrated by isotonic median regression
    decomposition = "nll"
    recalibration = "median"

    # the marginal median: Σ w|y − m| has a kink at every target, no second derivative
    nonsmooth = ("median",)

    def closed_se(self, params: Params, W: float, conditional: bool) -> dict:
        """−∂²ℓ/∂b² = −W/b² + 2Σw|r|/b³ = W/b² at b̂ = Σw|r|/W: b/√W (the median held)."""
        return {"scale": params["scale"] / math.sqrt(W)}

    def to_scipy(self, pred: Any, params: Params) -> Any:
        from scipy import stats

        return stats.laplace(loc=pred, scale=params["scale"])

    # -- proper scores (SPEC §8.3)
    def crps_lower(self, c: Any, pred: Any, params: Params) -> np.ndarray:
        """(b/2)·∫_{−∞}^{2z} F² of the standard asymmetric Laplace law at τ = ½, z =
        (c − m)/b (the Laplace law of scale b is that law of scale b/2; closed form)."""
        b = crps_forms.arr(params["scale"])
        z = (crps_forms.arr(c) - pred) / b
        return 0.5 * b * crps_forms.asymmetric_laplace_lower_square(2.0 * z, 0.5)

    def crps(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        """b·(|z| + e^(−|z|) − ¾), z = (y − m)/b (`crps_forms.laplace`)."""
        b = crps_forms.arr(params["scale"])
        return b * crps_forms.laplace((crps_forms.arr(y) - pred) / b)

    def ppf(self, q: float, pred: Any, params: Params) -> np.ndarray:
        """F⁻¹(q) = m + b log(2q) below ½, m − b log(2(1 − q)) above."""
        b = crps_forms.arr(params["scale"])
        z = math.log(2.0 * q) if q < 0.5 else -math.log(2.0 * (1.0 - q))
        return crps_forms.arr(pred) + b * z


def _log_lower(z: np.ndarray) -> np.ndarray:
    """log F(z) of the standard Laplace: z − log 2 below 0, log(1 − e^{−z}/2) above."""
    z = np.asarray(z, dtype=np.float64)
    with np.errstate(over="ignore"):
        upper = np.log1p(-0.5 * np.exp(-np.maximum(z, 0.0)))
    return np.where(z < 0.0, z + LOG_HALF, upper)


def _log_sinh(x: float) -> float:
    """log sinh(x) for x > 0, without overflow for large x."""
    if x > 20.0:
        return x - LOG_2 + math.log1p(-math.exp(-2.0 * x))
    return math.log(math.sinh(x))


def _log_inside(r: np.ndarray, b: float) -> np.ndarray:
    """log P for an interval that contains m: log(1 − q), 0 ≤ r < ½, h = 1/(2b), where
    q = e^{−h} cosh(r/b) = (e^{(r−½)/b} + e^{(−r−½)/b})/2 is the mass outside it.

    log1p(−q) where q < ½ (P near 1); elsewhere P = (1 − e^{−h}) − 2(e^{−h/2} sinh(r/(2b)))²,
    whose second term is at most half the first, so nothing cancels when b is large and
    P ≈ 1/(2b). (q < ½ always when h > 700, where sinh would overflow.)
    """
    q = np.exp((r - 0.5) / b)
    q += np.exp((-r - 0.5) / b)
    q *= 0.5
    h = 0.5 / b
    if h > 700.0:
        return np.log1p(-q)
    s = np.sinh(r * (0.5 / b))
    s *= math.exp(-0.5 * h)
    s *= s
    s *= -2.0
    s += -math.expm1(-h)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(q < 0.5, np.log1p(-q), np.log(s))


def _log_sinh_rows(x: np.ndarray) -> np.ndarray:
    """`_log_sinh` of an array."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(over="ignore"):
        return np.where(x > 20.0, x - LOG_2 + np.log1p(-np.exp(-2.0 * x)), np.log(np.sinh(x)))


def _log_inside_rows(r: np.ndarray, b: np.ndarray) -> np.ndarray:
    """`_log_inside` with a scale per row (the same two forms, chosen per row)."""
    q = np.exp((r - 0.5) / b)
    q += np.exp((-r - 0.5) / b)
    q *= 0.5
    h = 0.5 / b
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        s = np.sinh(r * h)
        s *= np.exp(-0.5 * h)
        s *= s
        s *= -2.0
        s -= np.expm1(-h)
        # where h > 700 sinh overflows, but there q < ½ and log1p(−q) is taken
        return np.where(q < 0.5, np.log1p(-q), np.log(s))
