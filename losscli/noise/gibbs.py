"""What the location families matched to a loss share (SPEC §9.3): a loss L(r) of the
residual r = y − ŷ is the negative log-likelihood of the Gibbs density exp(−L(r)/τ)/Z,
a symmetric, log-concave density about ŷ with shape parameters fitted by ML."""

from __future__ import annotations

import functools
import math
from typing import Any, ClassVar

import numpy as np

from losscli import optimize
from losscli.errors import FitError
from losscli.noise.base import PILOT_ROWS, PILOT_SEED, ContinuousFamily, Params
from losscli.noise.laplace import weighted_median
from losscli.noise.quadrature import gauss_legendre
from losscli.noise.sums import total_weight, wsum
from losscli.noise.support import REAL
from losscli.reduce import seeded_rows

# the target kinds gaussian, laplace and student_t apply to (SPEC §9.3)
REAL_KINDS = ("binary", "count", "integer", "proportion", "positive", "real")
TAIL_NODES = 96
TAIL_PANELS = (0.0, 0.5, 0.8, 0.95, 1.0)
TAIL_BLOCK = 1 << 12
# where the numeric search stops short of a boundary limit (`GibbsLocation.limit_shape`):
# past it the density is its Gaussian limit's, below its inverse its Laplace limit's
LIMIT_SHAPE = 1e3
LIMIT_TIE = 1e-10  # relative: an interior fit that gains less than this is the limit


class _PastLimit(Exception):
    """The numeric search passed LIMIT_SHAPE."""


class AtLimit(FitError):
    """The likelihood rises towards the family's boundary limit (`nests`)."""


class GibbsLocation(ContinuousFamily):
    """A symmetric location family q(y) = p(y − ŷ; φ), fitted by numeric ML.

    Subclasses give `log_density(r, params)` (per row, log space) and `shape_start(r, w)`
    (a start for the nuisance φ from the residuals). Conditional: φ by ML given ŷ;
    marginal: the location `loc` too. The fit: Nelder–Mead on the log scale of the
    positive parameters (on a seeded sample of PILOT_ROWS rows when there are more),
    then Newton steps on every row in memory until a step is below 1e-8.
    """

    support = REAL
    pred_domain = REAL
    prediction = "location"
    location = "loc"
    applies_to = REAL_KINDS
    default_for = ()
    candidate = False  # compare-noise-models fits it only when named (SPEC §9.3)
    precise_fit = True  # `fit` ends with Newton steps to 1e-8 itself
    # what the likelihood tends to where the fit runs off (said in the FitError)
    limit_note: ClassVar[str] = ""

    def exponent(self, r: np.ndarray, params: Params) -> np.ndarray:
        """−L(r)/τ per row: the log density up to its normaliser."""
        raise NotImplementedError

    def log_norm(self, params: Params) -> Any:
        """log Z = log ∫exp(−L(r)/τ) dr, in closed form."""
        raise NotImplementedError

    def log_density(self, r: np.ndarray, params: Params) -> np.ndarray:
        """log p(r; φ) = −L(r)/τ − log Z per row."""
        ll = self.exponent(r, params)
        ll -= self.log_norm(params)
        return ll

    def knot(self, params: Params) -> float:
        """Where the loss changes form (or its natural width): quadrature splits there."""
        return float(self.tail_length(params))

    def to_scipy(self, pred: Any, params: Params) -> Any:
        """A scipy.stats distribution of exp(−L(r)/τ) normalised by adaptive quadrature
        (not by `log_norm`): a test oracle of the closed-form normaliser."""
        from scipy import integrate, stats

        fam, p = self, {k: float(v) for k, v in params.items()}
        k = max(self.knot(p), 1e-12)

        def f(t: float) -> float:
            return math.exp(float(fam.exponent(np.array([t]), p)[0]))

        half = (integrate.quad(f, 0.0, k, epsabs=0.0, epsrel=1e-13, limit=400)[0]
                + integrate.quad(f, k, np.inf, epsabs=0.0, epsrel=1e-13, limit=400)[0])
        log_z = math.log(2.0 * half)

        class Gibbs(stats.rv_continuous):
            def _logpdf(self, x: np.ndarray) -> np.ndarray:
                return fam.exponent(x, p) - log_z

            def _pdf(self, x: np.ndarray) -> np.ndarray:
                return np.exp(self._logpdf(x))

        return Gibbs(name=self.name)(loc=pred)

    def shape_start(self, r: np.ndarray, w: np.ndarray | None) -> Params:
        """A starting point of φ from the residuals r."""
        raise NotImplementedError

    def loglik(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            return self.log_density(np.subtract(y, pred), params)

    # -- fits
    def limit_shape(self, params: Params) -> float:
        """A scale-free shape that tends to ∞ at the family's boundary nesting (`nests`:
        the Gaussian at δ = ∞ or c = ∞); families without one return 0."""
        return 0.0

    def limit_params(self, nested: Params) -> Params:
        """This family's nuisance parameters at that limit, from the nested family's."""
        raise NotImplementedError

    def fit(self, y: np.ndarray, w: np.ndarray | None, pred: Any = None) -> Params:
        y = np.asarray(y, dtype=np.float64)
        names = self.nuisance if pred is not None else self.marginal_params
        return self._fit_or_limit(self.loglik, y, w, pred, names,
                                  lambda: self.fit_start(y, w, pred), counting=False)

    def fit_start(self, y: np.ndarray, w: np.ndarray | None, pred: Any = None) -> Params:
        """φ from `shape_start` on the residuals about ŷ (marginal: about the weighted
        median, the start of `loc`)."""
        loc = weighted_median(y, w) if pred is None else None
        r = np.subtract(y, pred if pred is not None else loc)
        if not np.any(r != 0.0):
            what = "residual is 0" if pred is not None else "target is equal"
            raise FitError(f"every {what}, so the {self.name} scale is 0 and the "
                           "likelihood is unbounded")
        start = self.shape_start(r, w)
        if pred is None:
            start["loc"] = loc
        return start

    def _fit_or_limit(self, loglik: Any, y: np.ndarray, w: np.ndarray | None, pred: Any,
                      names: tuple[str, ...], start: Any, counting: bool) -> Params:
        """The better of the interior maximum and the family's boundary limit (the nested
        family's fit, `limit_params`): the search stops once `limit_shape` passes
        LIMIT_SHAPE, where the density is its limit's to a few parts in 10⁸ within
        three scales (a point on the way that beats the limit resumes the search), and a
        run-off with no limit is a FitError."""
        limit = self._limit_fit(y, w, pred, counting)
        try:
            inner = self.numeric_fit(loglik, y, w, pred, start(), names, limit)
        except AtLimit:
            return limit
        if limit is None:
            return inner
        with np.errstate(all="ignore"):
            ll = [wsum(loglik(y, pred if pred is not None else p[self.location], p), w)
                  for p in (inner, limit)]
        # a shape whose likelihood is the limit's to rounding is the limit (Huber with δ
        # past every residual, say): the interior point must beat it by more than that
        return inner if ll[0] > ll[1] + LIMIT_TIE * max(1.0, abs(ll[1])) else limit

    def _limit_fit(self, y: np.ndarray, w: np.ndarray | None, pred: Any,
                   counting: bool) -> Params | None:
        at = next((n for n in self.nests if n.boundary and math.isinf(n.value)), None)
        if at is None:
            return None
        from losscli.noise import FAMILIES

        nested = FAMILIES[at.family]()
        try:
            g = nested.fit_counting(y, w, pred) if counting else nested.fit(y, w, pred)
        except FitError:
            return None
        out = self.limit_params(g)
        if pred is None:
            out = {"loc": float(nested.marginal_pred(g)), **out}
        return out

    def _near_limit(self, params: Params) -> Params:
        """`params` with a shape at its limit (∞) brought to LIMIT_SHAPE/10 (the shape is
        linear in that parameter): a search started there reaches the limit in a few
        steps when the likelihood keeps rising towards it."""
        for at in self.nests:
            if at.boundary and math.isinf(at.value) and math.isinf(params.get(at.param, 0.0)):
                unit = self.limit_shape({**params, at.param: 1.0})
                params = {**params, at.param: 0.1 * LIMIT_SHAPE / unit}
        return params

    def numeric_fit(self, loglik: Any, y: np.ndarray, w: np.ndarray | None, pred: Any,
                    start: Params, names: tuple[str, ...], limit: Params | None = None
                    ) -> Params:
        """The weighted MLE of `names` on Σ w `loglik` from `start` (see the class)."""
        if y.size > 4 * PILOT_ROWS:
            # a pilot on a seeded sample lands within sampling error of the optimum; the
            # Newton steps on every row below finish it
            idx = seeded_rows(y.size, PILOT_ROWS, PILOT_SEED)
            start = self._nelder_mead(loglik, y[idx], None if w is None else w[idx],
                                      None if pred is None else np.asarray(pred)[idx]
                                      if np.ndim(pred) else pred, start, names, limit)
        else:
            start = self._nelder_mead(loglik, y, w, pred, start, names, limit)
        params, _ = optimize.polish(self._total(loglik, y, w, pred), start, names,
                                    self.param_domains)
        return {k: float(params[k]) for k in names}

    def _total(self, loglik: Any, y: np.ndarray, w: np.ndarray | None, pred: Any) -> Any:
        def total(params: Params) -> float:
            p = pred if pred is not None else params[self.location]
            with np.errstate(all="ignore"):
                v = wsum(loglik(y, p, params), w)
            return v if math.isfinite(v) else -math.inf

        return total

    def _nelder_mead(self, loglik: Any, y: np.ndarray, w: np.ndarray | None, pred: Any,
                     start: Params, names: tuple[str, ...], limit: Params | None) -> Params:
        """Nelder–Mead in the log coordinates, stopped (FitError) when the search passes
        LIMIT_SHAPE, unless a point on the way beat the `limit`: the search then runs
        again from there with the limit as a wall."""
        total = self._total(loglik, y, w, pred)
        W = total_weight(y.size, w)
        domains = self.param_domains
        x0 = optimize.to_x(start, names, domains)
        best = [math.inf, x0]

        def f(x: np.ndarray, wall: bool = False) -> float:
            if np.any(np.abs(x - x0) > optimize.MAX_LOG_STEP):
                return 1e300
            params = optimize.from_x(x, start, names, domains)
            shape = self.limit_shape(params)
            if shape > LIMIT_SHAPE:
                if wall:
                    return 1e300
                raise _PastLimit
            if 0.0 < shape < 1.0 / LIMIT_SHAPE:
                return 1e300  # the other limit (a Laplace): a run-off, said below
            v = -total(params) / W
            if v < best[0]:
                best[:] = [v, np.array(x)]
            return v if math.isfinite(v) else 1e300

        try:
            x, fun = optimize.nelder_mead(f, x0, xatol=1e-7, fatol=1e-12)
        except _PastLimit:
            if limit is None or not best[0] < -total(limit) / W:
                raise AtLimit(f"the {self.name} likelihood rises towards its "
                              "boundary limit") from None
            x, fun = optimize.nelder_mead(lambda v: f(v, wall=True), best[1],
                                          xatol=1e-7, fatol=1e-12)
        if (not fun < 1e300 or np.any(np.abs(x - x0) > optimize.MAX_LOG_STEP - 1.0)
                or 0.0 < self.limit_shape(optimize.from_x(x, start, names, domains))
                < 2.0 / LIMIT_SHAPE):
            raise FitError(f"the {self.name} likelihood has no maximum inside the "
                           "parameter space (on these data the fit runs to a zero or "
                           f"infinite scale){self.limit_note}")
        return optimize.from_x(x, start, names, domains)

    def fit_counting_with_information(self, y: np.ndarray, w: np.ndarray | None,
                                      pred: Any = None) -> tuple[Params, None]:
        """The MLE on the unit intervals (SPEC §1.6), started from the density's. A
        marginal fit sees each distinct target once, weighted by its total weight (the
        same likelihood: weights are repetitions; a count column has few distinct values)."""
        y = np.asarray(y, dtype=np.float64)
        names = self.nuisance if pred is not None else self.marginal_params
        if pred is None:
            y, w = distinct_rows(y, w)

        def start() -> Params:
            try:
                out = self.fit(y, w, pred)
            except FitError:
                out = self.fit_start(y, w, pred)
            return self._near_limit({k: float(out[k]) for k in names})

        return self._fit_or_limit(self.interval_loglik, y, w, pred, names, start,
                                  counting=True), None

    def fit_warnings(self, params: Params) -> list[str]:
        """The boundary limit of a fitted shape (one given per row is not a fit: none)."""
        for at in self.nests:
            v = params.get(at.param)
            if at.boundary and v is not None and np.ndim(v) == 0 and v == at.value:
                value = "∞" if math.isinf(at.value) else f"{at.value:g}"
                return [f"the fit reached the {at.family.capitalize()} limit "
                        f"({at.param} = {value})"]
        return []

    # -- c.d.f.s from the standardised one: F(x) = G(x − ŷ), symmetric about ŷ
    def log_tail(self, z: np.ndarray, params: Params) -> np.ndarray:
        """log P(R > z) of the residual R = Y − ŷ (z any real): by `quadrature_tail` for
        z ≥ 0, and log(1 − P(R > −z)) below 0 (symmetry; P(R > −z) ≤ ½ there)."""
        z = np.asarray(z, dtype=np.float64)
        a = np.abs(z)
        out = np.empty(np.broadcast_shapes(a.shape, *(np.shape(v) for v in params.values())))
        a = np.broadcast_to(a, out.shape)
        rows = {k: np.broadcast_to(v, out.shape) for k, v in params.items()}
        for start in range(0, out.size, TAIL_BLOCK):  # blocks bound the (nodes × rows) work
            sl = slice(start, min(start + TAIL_BLOCK, out.size))
            out.flat[sl] = self.quadrature_tail(a.flat[sl],
                                                {k: v.flat[sl] for k, v in rows.items()})
        with np.errstate(divide="ignore"):
            return np.where(np.broadcast_to(z, out.shape) < 0.0, np.log1p(-np.exp(out)), out)

    def log_slope(self, z: np.ndarray, params: Params) -> np.ndarray:
        """c(z) = −d log p/dz ≥ 0 at z ≥ 0 (the local decay rate of the density)."""
        raise NotImplementedError

    def tail_length(self, params: Params) -> Any:
        """The width of the density where it is widest relative to its decay: the
        Gaussian width of the core or the exponential tail's 1/rate, whichever is larger."""
        raise NotImplementedError

    def quadrature_tail(self, z: np.ndarray, params: Params) -> np.ndarray:
        """log ∫_z^∞ p(t) dt for z ≥ 0, by Gauss–Legendre quadrature (TAIL_NODES nodes on
        each of the panels TAIL_PANELS of [0, 1]) after t = z + ℓu/(1 − u), ℓ = 1/(c(z) +
        1/L) (c the local decay rate, L `tail_length`): the integrand is then near
        e^{−u/(1−u)}/(1 − u)², smooth on [0, 1] whatever the regime. Its relative error
        against adaptive quadrature stays below 4e-10 over σ/δ from 1e-2 to 5e3 (tested)."""
        return self._log_tail_moment(np.asarray(z, dtype=np.float64), params, 0)

    def partial_tail(self, z: np.ndarray, params: Params) -> np.ndarray:
        """T(z) = ∫_z^∞ P(R > t) dt = E[(R − z)⁺] = ∫_z^∞ (t − z) p(t) dt for z ≥ 0 (per
        row), by the rule and substitution of `quadrature_tail` with the factor t − z = v
        (the integrand is then near u e^{−u/(1−u)}/(1 − u)³, smooth on [0, 1])."""
        return np.exp(self._log_tail_moment(np.asarray(z, dtype=np.float64), params, 1))

    def _log_tail_moment(self, z: np.ndarray, params: Params, k: int) -> np.ndarray:
        """log ∫_0^∞ vᵏ p(z + v) dv: with v = ℓu/(1 − u), dv = ℓ/(1 − u)² du, the integrand
        is p(z + v) ℓᵏ⁺¹ uᵏ/(1 − u)ᵏ⁺², taken relative to p(z) on the panels."""
        lz = self.log_density(z, params)
        ell = 1.0 / (self.log_slope(z, params) + 1.0 / self.tail_length(params))
        s, wts = gauss_legendre(TAIL_NODES)
        total = np.zeros(z.shape)
        col = {name: np.asarray(x)[None, :] if np.ndim(x) else x for name, x in params.items()}
        for a, b in zip(TAIL_PANELS[:-1], TAIL_PANELS[1:], strict=False):
            u = (0.5 * (b - a) * s + 0.5 * (a + b))[:, None]
            v = ell * (u / (1.0 - u))
            with np.errstate(all="ignore"):
                g = (self.log_density(z + v, col) - lz + (k + 1) * np.log(ell)
                     + k * np.log(u) - (k + 2) * np.log1p(-u))
                total += 0.5 * (b - a) * (wts @ np.exp(g))
        with np.errstate(divide="ignore"):
            return lz + np.log(total)

    def _rows(self, params: Params, size: int) -> tuple[list[Params], np.ndarray]:
        """The distinct parameter sets of `size` rows and each row's index among them (one
        set when every parameter is one number)."""
        keys = sorted(params)
        if not any(np.ndim(params[k]) for k in keys):
            return [{k: float(params[k]) for k in keys}], np.zeros(size, dtype=np.intp)
        table = np.stack([np.broadcast_to(np.asarray(params[k], np.float64), (size,))
                          for k in keys], axis=1)
        uniq, inv = np.unique(table, axis=0, return_inverse=True)
        return [dict(zip(keys, map(float, r), strict=True)) for r in uniq], inv.ravel()

    def half_gini(self, params: Params) -> float:
        """½E|R − R′| = 2(T(0) − ∫₀^∞ P(R > t)² dt) (E|R − R′| = 2∫F(1 − F), split at the
        centre and R symmetric) for one parameter set, cached. The integral of the squared
        tail by the rule of `quadrature_tail` after t = ℓu/(1 − u), ℓ = `tail_length`
        (the tail decays at most at the rate 1/ℓ, its square at twice that)."""
        return _half_gini(self, tuple(sorted((k, float(v)) for k, v in params.items())))

    def crps(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        """CRPS = E|X − y| − ½E|X − X′| of the symmetric law, a = |y − ŷ|: E|X − y| =
        a + 2T(a) (`partial_tail`), ½E|X − X′| by `half_gini`, once per distinct set of
        parameters."""
        a = np.abs(np.subtract(y, pred, dtype=np.float64))
        shape = np.broadcast_shapes(a.shape, *(np.shape(v) for v in params.values()))
        a = np.broadcast_to(a, shape).ravel()
        sets, inv = self._rows(params, a.size)
        half = np.array([self.half_gini(p) for p in sets])[inv]
        rows = {k: (np.broadcast_to(np.asarray(v, np.float64), shape).ravel()
                    if np.ndim(v) else v) for k, v in params.items()}
        tail = np.empty(a.size)
        for start in range(0, a.size, TAIL_BLOCK):
            sl = slice(start, min(start + TAIL_BLOCK, a.size))
            tail[sl] = self.partial_tail(a[sl], {k: v[sl] if np.ndim(v) else v
                                                 for k, v in rows.items()})
        return (a + 2.0 * tail - half).reshape(shape)

    def standard_quantile(self, q: float, params: Params) -> float:
        """a ≥ 0 with P(R > a) = min(q, 1 − q), by Newton steps on log P(R > a), which is
        concave (the density is log-concave): after the first step they approach the
        root from above and stop when a step is below 1e-14 of a."""
        t = min(q, 1.0 - q)
        if t >= 0.5:
            return 0.0
        target = math.log(t)
        scale = float(self.tail_length(params))
        a = scale * -math.log(2.0 * t)
        for _ in range(100):
            arr_a = np.array([a])
            lt = float(self.log_tail(arr_a, params)[0])
            hazard = math.exp(float(self.log_density(arr_a, params)[0]) - lt)
            step = (lt - target) / hazard
            a = max(a + step, 0.5 * a)
            if abs(step) <= 1e-14 * max(a, scale):
                break
        return a

    def ppf(self, q: float, pred: Any, params: Params) -> np.ndarray:
        """F⁻¹(q) = ŷ ± a, a from `standard_quantile` once per distinct parameter set."""
        shape = np.broadcast_shapes(np.shape(pred), *(np.shape(v) for v in params.values()))
        size = int(np.prod(shape))
        sets, inv = self._rows(params, size)
        a = np.array([self.standard_quantile(float(q), p) for p in sets])[inv]
        sign = -1.0 if q < 0.5 else 1.0
        return np.asarray(pred, dtype=np.float64) + sign * a.reshape(shape)

    def logcdf(self, x: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        return self.log_tail(np.subtract(pred, x), params)

    def logsf(self, x: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        return self.log_tail(np.subtract(x, pred), params)

    def cdf(self, x: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        return np.exp(self.logcdf(x, pred, params))

    # diagnostics: ŷ is the centre of a symmetric density, its median
    decomposition = "squared_error"
    recalibration = "median"


def distinct_rows(y: np.ndarray, w: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """(the distinct values of y, each one's total weight) when there are at most a
    quarter as many as rows, else (y, w) unchanged."""
    values, inverse = np.unique(y, return_inverse=True)
    if 4 * values.size > y.size:
        return y, w
    counts = np.bincount(inverse.ravel(), weights=w, minlength=values.size)
    return values, counts.astype(np.float64)


def weighted_residual_scale(r: np.ndarray, w: np.ndarray | None) -> tuple[float, float]:
    """(√(Σwr²/W), Σw|r|/W): the Gaussian and Laplace scales of the residuals."""
    W = total_weight(r.size, w)
    return math.sqrt(wsum(r * r, w) / W), wsum(np.abs(r), w) / W


@functools.lru_cache(maxsize=256)
def _half_gini(fam: GibbsLocation, key: tuple) -> float:
    params = dict(key)
    ell = float(fam.tail_length(params))
    s, wts = gauss_legendre(TAIL_NODES)
    total = 0.0
    for a, b in zip(TAIL_PANELS[:-1], TAIL_PANELS[1:], strict=False):
        u = 0.5 * (b - a) * s + 0.5 * (a + b)
        with np.errstate(all="ignore"):
            g = 2.0 * fam.log_tail(ell * u / (1.0 - u), params) + math.log(ell) - 2.0 * np.log1p(-u)
            total += 0.5 * (b - a) * float(wts @ np.exp(g))
    t0 = float(fam.partial_tail(np.zeros(1), params)[0])
    return 2.0 * (t0 - total)
