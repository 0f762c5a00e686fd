"""Tweedie noise (compound Poisson–gamma, 1 < p < 2): the likelihood behind the Tweedie
deviance."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import special

from losscli.errors import FitError
from losscli.noise import crps as crps_forms
from losscli.noise.base import ContinuousFamily, Frameworks, Params
from losscli.noise.sums import total_weight, wmean, wsum
from losscli.noise.support import NONNEGATIVE, POSITIVE
from losscli.optimize import CONVERGED, minimize_params, polish
from losscli.reduce import seeded_rows

# the fitted power stays within these bounds (SPEC §9.1); at a bound the fit says so
POWER_MIN, POWER_MAX = 1.01, 1.99
# a series term is dropped once it and the geometric bound of every later one are below
# e^TAIL_LOG relative to the largest term (about 1e-17: below a double's rounding)
TAIL_LOG = -39.0
# the grid that starts a fit: powers, and factors of the Pearson dispersion at each
POWER_GRID = (1.01, 1.05, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7, 1.8, 1.9, 1.99)
DISPERSION_FACTORS = tuple(2.0 ** k for k in range(-6, 4))
GRID_ROWS = 5_000  # rows of the grid search (a seeded subsample)
SEARCH_ROWS = 20_000  # rows of the Nelder–Mead search before the Newton polish
SEARCH_XATOL = 1e-4  # its tolerance in (log φ, p)
# at most this many seeded rows of those given fit φ and p (the mean is every row's)
FIT_ROWS = 100_000
SEED = 11
# thinned sums (see `log_series`): at least STRIDE_SD terms per σ of the bell, and only
# where the ±HALF_SD σ window is above n = 1 (no edge inside it)
STRIDE_SD = 4.0
HALF_SD = 10.0
_TABLE_MAX = 1 << 22  # the largest series index tabulated (beyond it gammaln per term)


def _power_ok(p: Any) -> Any:
    return (np.asarray(p) > 1.0) & (np.asarray(p) < 2.0)


def log_series(y: np.ndarray, phi: Any, p: Any) -> np.ndarray:
    """log Σ_{n≥1} xⁿ / (n! Γ(nα)) for y > 0 (Wright's function W(α, 0, x), summed in log
    space), α = (2 − p)/(p − 1), x = y^α / ((2 − p) φ^{1+α} (p − 1)^α).

    Each term z_n = n log x − log n! − log Γ(nα) is concave in n with its maximum near
    n* = y^{2−p}/(φ(2 − p)) (Dunn and Smyth 2005). From n₀ = round(n*) the terms are summed
    outwards, relative to z_{n₀}, for every row at once (a loop over terms, not rows); a row
    leaves a direction once its term is decreasing and the term times the geometric bound
    r/(1 − r) of all later ones (r the last ratio, which concavity makes an upper bound of
    every later one) is below e^TAIL_LOG. log n! + log Γ(nα) comes from a table when p is
    one number.

    A row whose terms spread over many indices (σ = √(n₀(p − 1)), the width of the bell of
    e^{z_n}, at least 2·STRIDE_SD) and whose window of ±(HALF_SD σ + 3) terms lies above
    n = 1 sums every s-th term only, s = ⌊σ/STRIDE_SD⌋, times s: by Poisson summation the
    two sums differ by the terms' discrete Fourier transform at 2π/s, about
    e^{−2π²(σ/s)²} ≤ e^{−300} of the sum for a bell this smooth (a sum over every index is
    a lattice of step 1 under the same bell). Both carry the rounding of z_n ~ n log x
    (~1e-11 absolute at n ~ 1e4); the thinned sum averages fewer terms' rounding, so s
    stays a quarter of σ rather than the half that would resolve the bell."""
    y = np.asarray(y, dtype=np.float64)
    shape = np.broadcast_shapes(y.shape, np.shape(phi), np.shape(p))
    y = np.broadcast_to(y, shape).ravel()
    lphi = np.broadcast_to(np.log(phi), shape).ravel()
    scalar_p = np.ndim(p) == 0
    pa = float(p) if scalar_p else np.broadcast_to(np.asarray(p, np.float64), shape).ravel()
    alpha = (2.0 - pa) / (pa - 1.0)
    ly = np.log(y)
    logc = alpha * ly - np.log(2.0 - pa) - (1.0 + alpha) * lphi - alpha * np.log(pa - 1.0)
    # n* = y^{2−p}/(φ(2 − p)), in logs
    lnstar = (2.0 - pa) * ly - lphi - np.log(2.0 - pa)
    n0 = np.maximum(np.rint(np.exp(np.minimum(lnstar, 40.0))), 1.0)
    table = None
    if scalar_p:
        top = float(n0.max()) if n0.size else 1.0
        if top < _TABLE_MAX:
            # wide enough for ±12 standard deviations around the largest n₀; beyond it
            # the terms fall back to gammaln
            size = int(top + 12.0 * math.sqrt(top * (pa - 1.0)) + 64.0)
            k = np.arange(size + 1, dtype=np.float64)
            with np.errstate(divide="ignore"):
                table = special.gammaln(k + 1.0) + special.gammaln(k * alpha)

    def z(n: np.ndarray, lc: np.ndarray, al: Any) -> np.ndarray:
        """z_n (−∞ at n = 0); n ≥ 0 integers."""
        if table is not None and (not n.size or n.max() < table.size):
            out = table.take(n)
        else:
            nf = n.astype(np.float64)
            with np.errstate(divide="ignore"):
                out = special.gammaln(nf + 1.0) + special.gammaln(nf * al)
        np.subtract(n * lc, out, out=out)
        return out

    n0i = n0.astype(np.intp)
    stride = strides(n0, pa)
    m = z(n0i, logc, alpha)
    total = np.ones_like(y)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for step in (1, -1):
            total += _direction(z, n0i, logc, alpha, m, step, scalar_p,
                                stride.astype(np.intp))
    out = m + np.log(total * stride)
    return out.reshape(shape)


def strides(n0: np.ndarray, p: Any) -> np.ndarray:
    """The step s of the thinned sum around n₀ (1: every term): ⌊σ/STRIDE_SD⌋ for
    σ = √(n₀(p − 1)), where the window n₀ ± (HALF_SD σ + 3) lies above n = 1."""
    sd = np.sqrt(n0 * (np.asarray(p) - 1.0))
    s = np.floor(sd / STRIDE_SD)
    return np.where((s > 1.0) & (n0 - HALF_SD * sd - 3.0 >= 1.0), s, 1.0)


def _direction(z, n0: np.ndarray, lc: np.ndarray, al: Any, ref: np.ndarray, step: int,
               scalar_p: bool, stride: np.ndarray) -> np.ndarray:
    """Σ exp(z_n − ref) over n = n₀ + d, n₀ + 2d, … (d = step · the row's stride; down to
    n = 1), per row, until the terms are decreasing and their geometric tail bound is below
    e^TAIL_LOG; the rows that are done leave the active arrays every 4 terms."""
    out = np.zeros(n0.size)
    rows = np.arange(n0.size)
    n = n0.copy()
    d = stride * step
    part = np.zeros(n0.size)
    prev = ref
    it = 0
    while rows.size:
        n += d
        if step < 0:
            np.maximum(n, 0, out=n)  # z₀ = −∞: adds nothing
        zn = z(n, lc, al)
        rel = zn - ref
        part += np.exp(rel)
        it += 1
        if it % 4 == 0:
            lr = zn - prev  # log of the last ratio of consecutive terms
            bound = rel + lr - np.log(-np.expm1(np.minimum(lr, -1e-300)))
            done = (lr < 0.0) & (bound < TAIL_LOG)
            if step < 0:
                done |= n <= 1
            if done.any():
                out[rows[done]] = part[done]
                keep = ~done
                rows, n, part, lc, ref = rows[keep], n[keep], part[keep], lc[keep], ref[keep]
                d = d[keep]
                zn = zn[keep]
                if not scalar_p:
                    al = al[keep]
        prev = zn
    return out


class Tweedie(ContinuousFamily):
    """y ~ Tweedie(μ, φ, p), 1 < p < 2: Y = Σ_{j≤N} G_j, N ~ Poisson(λ), G_j ~ Gamma(α, γ)
    with λ = μ^{2−p}/(φ(2 − p)), α = (2 − p)/(p − 1), γ = φ(p − 1)μ^{p−1}; E y = μ = ŷ,
    Var y = φμᵖ.

    P(Y = 0) = e^{−λ}; for y > 0, log q = −λ − y/γ − log y + log W(α, 0, x) with the series
    of `log_series` (x = λ(y/γ)^α, free of μ). Minimising it over μ with φ, p fixed is
    minimising the Tweedie deviance at power p. Conditional: φ and p by 2-D ML, p within
    [1.01, 1.99]; marginal: μ = Σwy/W exactly (the score equation of a mean in an
    exponential dispersion family), then φ and p. Each fit searches a grid (the
    likelihood in φ can be multimodal near p = 1) on a seeded subsample, then runs
    Nelder–Mead and Newton steps on the rows it is given, at most FIT_ROWS of them
    (a seeded subsample beyond: every evaluation sums a series per row).
    Source: Dunn and Smyth (2005).
    """

    name = "tweedie"
    loss = "Tweedie deviance"
    support = NONNEGATIVE
    pred_domain = POSITIVE
    prediction = "mean"
    nuisance = ("dispersion", "power")
    marginal_params = ("mean", "dispersion", "power")
    location = "mean"
    param_domains = {"mean": "positive", "dispersion": "positive", "power": "between_1_2"}
    applies_to = ("positive", "semicontinuous")
    # a default candidate where its atom at 0 matters; on positive targets only when named
    # (its series density costs ~100× gamma's per row)
    candidate_kinds = ("semicontinuous",)
    zero_mass = True  # P(Y = 0) = e^(−λ): scored as it is on atom_at_zero
    deviance_params = True
    # ρ: the power, as XGBoost's docs name it (tweedie-nloglik@ρ)
    framework_values = {"ρ": "power"}
    frameworks = Frameworks(
        pytorch=None,
        sklearn="TweedieRegressor(power=ρ,link='log')",
        xgboost="reg:tweedie(tweedie_variance_power=ρ)",
        lightgbm="tweedie(tweedie_variance_power=ρ)",
        catboost="Tweedie:variance_power=ρ",
    )
    spread = ("dispersion", "scale")
    calibration = True
    fit_subsample = (FIT_ROWS, SEED + 2)

    # -- the likelihood
    def loglik(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        phi, p = params["dispersion"], params["power"]
        y = np.asarray(y, dtype=np.float64)
        mu = np.asarray(pred, dtype=np.float64)
        with np.errstate(all="ignore"):
            if not np.all(_power_ok(p)) or not np.all(np.asarray(phi) > 0.0):
                return np.full(np.broadcast_shapes(y.shape, mu.shape, np.shape(phi),
                                                   np.shape(p)), np.nan)
            lmu = np.log(mu)
            lam = np.exp((2.0 - p) * lmu) / (phi * (2.0 - p))
            out = -lam
            out = np.broadcast_to(out, np.broadcast_shapes(y.shape, np.shape(out))).copy()
            pos = y > 0.0
            if pos.any():
                yp = y[pos] if y.ndim else y
                take = _taker(pos, out.shape)
                phr, pr = take(phi), take(p)
                gam_inv = 1.0 / (phr * (pr - 1.0) * np.exp((pr - 1.0) * take(lmu)))
                out[pos] += log_series(yp, phr, pr) - yp * gam_inv - np.log(yp)
        return out

    @staticmethod
    def deviance(y: np.ndarray, mu: Any, params: Params | None = None) -> np.ndarray:
        """The Tweedie unit deviance at power p:
        2[y^{2−p}/((1 − p)(2 − p)) − yμ^{1−p}/(1 − p) + μ^{2−p}/(2 − p)]."""
        p = params["power"]
        y = np.asarray(y, dtype=np.float64)
        return 2.0 * (np.power(y, 2.0 - p) / ((1.0 - p) * (2.0 - p))
                      - y * np.power(mu, 1.0 - p) / (1.0 - p)
                      + np.power(mu, 2.0 - p) / (2.0 - p))

    def zero_probability(self, pred: Any, params: Params) -> np.ndarray:
        """e^{−λ}, λ = μ^{2−p}/(φ(2 − p))."""
        p, phi = params["power"], params["dispersion"]
        return np.exp(-np.power(pred, 2.0 - p) / (phi * (2.0 - p)))

    def variance(self, f: np.ndarray, params: Params) -> np.ndarray:
        return params["dispersion"] * np.power(f, params["power"])

    # -- fits
    def fit(self, y: np.ndarray, w: np.ndarray | None, pred: Any = None) -> Params:
        free = self.nuisance if pred is not None else self.marginal_params
        return self._fit(y, w, pred, {}, free)

    def fit_given_closed(self, y: np.ndarray, w: np.ndarray | None, pred: Any,
                         given: Params, free: tuple[str, ...]) -> Params | None:
        """Every free subset: the mean (marginal) is Σwy/W where φ and p are one number
        each (else the shared optimiser), the others by `_fit`."""
        if pred is None and "mean" in free and any(np.ndim(given.get(k, 0.0))
                                                   for k in ("dispersion", "power")):
            return None
        return self._fit(y, w, pred, given, free)

    def _fit(self, y: np.ndarray, w: np.ndarray | None, pred: Any, given: Params,
             free: tuple[str, ...]) -> Params:
        y = np.asarray(y, dtype=np.float64)
        out: Params = {}
        if pred is None:
            mu = given["mean"] if "mean" in given else wmean(y, w)
            if "mean" in free:
                out["mean"] = float(mu)
            if not float(mu) > 0.0:
                raise FitError("every target is 0, so the Tweedie mean is 0")
            pred = mu
        names = tuple(k for k in ("dispersion", "power") if k in free)
        if not names:
            return out
        if y.size > self.fit_subsample[0]:
            # φ and p from a seeded subsample: each evaluation sums a series per row
            rows = seeded_rows(y.size, *self.fit_subsample)
            y, w = y[rows], None if w is None else w[rows]
            pred = pred[rows] if np.ndim(pred) else pred
            given = {k: v[rows] if np.ndim(v) else v for k, v in given.items()}
        W = total_weight(y.size, w)

        def total(params: Params, rows: Any = None) -> float:
            yy, ww = (y, w) if rows is None else (y[rows], None if w is None else w[rows])
            pp = pred if rows is None or not np.ndim(pred) else pred[rows]
            with np.errstate(all="ignore"):
                return wsum(self.loglik(yy, pp, params), ww)

        start = self._grid(y, w, pred, given, names, total)
        search = None if y.size <= SEARCH_ROWS else seeded_rows(y.size, SEARCH_ROWS, SEED)
        ws = W if search is None else total_weight(search.size,
                                                   None if w is None else w[search])
        # a search to ~1e-4 (Newton's basin): the polish below finishes it to 1e-8
        found = minimize_params(lambda q: -total(_clip(q), search) / ws, start, names,
                                self.param_domains, xatol=SEARCH_XATOL, fatol=1e-10)
        found = _clip(found)
        if "power" in names and not POWER_MIN < found["power"] < POWER_MAX:
            # on a bound: the power stays there and φ alone is fitted and polished
            names = tuple(k for k in names if k != "power")
            if names:
                found = minimize_params(lambda q: -total(q, search) / ws, found, names,
                                        self.param_domains)
        params, status = polish(total, found, names, self.param_domains)
        if "power" in names and not POWER_MIN <= params["power"] <= POWER_MAX:
            # the search stopped just inside a bound and Newton went past it: the bound
            found, names = _clip(params), tuple(k for k in names if k != "power")
            if names:
                found = minimize_params(lambda q: -total(q, search) / ws, found, names,
                                        self.param_domains)
            params, status = polish(total, found, names, self.param_domains)
        if status != CONVERGED:
            # from the subsample's optimum Newton could not finish: search every row
            params = _clip(minimize_params(lambda q: -total(_clip(q)) / W, found, names,
                                           self.param_domains))
        names = tuple(k for k in ("dispersion", "power") if k in free)
        for k in names:
            out[k] = float(params[k])
        return out

    def _grid(self, y, w, pred, given, names, total) -> Params:
        """The best point of a grid of powers and of dispersions around the Pearson
        estimate Σw(y − μ)²/μᵖ / W at each power, on a seeded subsample."""
        rows = None if y.size <= GRID_ROWS else seeded_rows(y.size, GRID_ROWS, SEED + 1)
        ys = y if rows is None else y[rows]
        ps = pred if rows is None or not np.ndim(pred) else pred[rows]
        wsub = w if rows is None or w is None else w[rows]
        powers = POWER_GRID if "power" in names else (given["power"],)
        best, best_val = None, -math.inf
        for p in powers:
            if "dispersion" in names:
                with np.errstate(all="ignore"):
                    pearson = wmean(np.square(ys - ps) / np.power(ps, p), wsub)
                if not (pearson > 0.0 and math.isfinite(pearson)):
                    pearson = 1.0
                phis = [pearson * f for f in DISPERSION_FACTORS]
            else:
                phis = [given["dispersion"]]
            for phi in phis:
                params = {**given, "dispersion": phi, "power": p}
                val = total(params, rows)
                if math.isfinite(val) and val > best_val:
                    best, best_val = params, val
        if best is None:
            raise FitError("the Tweedie likelihood is not finite anywhere on its start grid")
        return best

    def fit_warnings(self, params: Params) -> list[str]:
        p = params.get("power")
        if p is None or np.ndim(p):
            return []
        if p <= POWER_MIN or p >= POWER_MAX:
            return [f"the fitted power reached the bound {p:g} of [{POWER_MIN}, {POWER_MAX}]"]
        return []

    # -- the c.d.f.: e^{−λ} + Σₙ Poisson(n; λ) P(nα, y/γ)
    def _cdf_sf(self, x: np.ndarray, pred: Any, params: Params) -> tuple[np.ndarray, np.ndarray]:
        """F(x) and 1 − F(x), each summed from its own side (no cancellation)."""
        phi, p = params["dispersion"], params["power"]
        x = np.asarray(x, dtype=np.float64)
        shape = np.broadcast_shapes(x.shape, np.shape(pred), np.shape(phi), np.shape(p))
        x, mu, phi, p = (np.broadcast_to(np.asarray(v, np.float64), shape).ravel()
                         for v in (x, pred, phi, p))
        lam = np.power(mu, 2.0 - p) / (phi * (2.0 - p))
        alpha = (2.0 - p) / (p - 1.0)
        t = np.maximum(x, 0.0) / (phi * (p - 1.0) * np.power(mu, p - 1.0))
        cdf = np.exp(-lam)
        sf = np.zeros_like(cdf)
        half = np.ceil(12.0 * np.sqrt(lam) + 30.0)
        lo = np.maximum(np.floor(lam - half), 1.0)
        hi = lam + half
        n = lo.copy()
        rows = np.arange(x.size)
        while rows.size:
            pw = np.exp(n * np.log(lam[rows]) - lam[rows] - special.gammaln(n + 1.0))
            a = n * alpha[rows]
            cdf[rows] += pw * special.gammainc(a, t[rows])
            sf[rows] += pw * special.gammaincc(a, t[rows])
            n = n + 1.0
            more = n <= hi[rows]
            rows, n = rows[more], n[more]
        neg = x < 0.0
        cdf[neg], sf[neg] = 0.0, 1.0
        return cdf.reshape(shape), sf.reshape(shape)

    def cdf(self, x: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        return self._cdf_sf(x, pred, params)[0]

    def logcdf(self, x: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        with np.errstate(divide="ignore"):
            return np.log(self._cdf_sf(x, pred, params)[0])

    def logsf(self, x: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        with np.errstate(divide="ignore"):
            return np.log(self._cdf_sf(x, pred, params)[1])

    # -- proper scores (SPEC §8.3)
    def crps(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        """E|X − y| − ½E|X − X′| over the Poisson mixture of gammas
        (`crps_forms.tweedie`); its atom at 0 is the mixture's n = 0 term."""
        return crps_forms.tweedie(y, pred, params["dispersion"], params["power"])

    def ppf(self, q: float, pred: Any, params: Params) -> np.ndarray:
        """F⁻¹(q) by bisection on log y between bounds that bracket it (0 where the atom
        P(Y = 0) ≥ q), to 1e-12 relative."""
        mu = np.atleast_1d(np.asarray(pred, dtype=np.float64))
        shape = np.broadcast_shapes(mu.shape, np.shape(params["dispersion"]),
                                    np.shape(params["power"]))
        mu = np.broadcast_to(mu, shape)
        p0 = self.zero_probability(mu, params)
        sd = np.sqrt(self.variance(mu, params))
        lo = np.log(np.maximum(mu * 1e-12, 1e-300)) * np.ones(shape)
        hi = np.log(mu + 40.0 * sd + 1.0) * np.ones(shape)
        # widen the upper end until it brackets q
        for _ in range(60):
            above = self.cdf(np.exp(hi), mu, params) < q
            if not above.any():
                break
            hi = np.where(above, hi + 1.0, hi)
        for _ in range(100):
            mid = 0.5 * (lo + hi)
            below = self.cdf(np.exp(mid), mu, params) < q
            lo = np.where(below, mid, lo)
            hi = np.where(below, hi, mid)
            if np.max(hi - lo) < 1e-13:
                break
        return np.where(p0 >= q, 0.0, np.exp(hi))

    def to_scipy(self, pred: Any, params: Params) -> Any:
        """scipy has no Tweedie distribution: its log-density from scipy's log Wright
        function instead of `log_series` (a test oracle, finite where W(α, 0, x) is)."""
        return _WrightTweedie(np.asarray(pred, dtype=np.float64), params["dispersion"],
                              params["power"])


class _WrightTweedie:
    """logpdf (log P(Y = 0) at 0) by scipy.special.log_wright_bessel."""

    def __init__(self, mu: np.ndarray, phi: Any, p: Any) -> None:
        self.mu, self.phi, self.p = mu, phi, p

    def logpdf(self, y: np.ndarray) -> np.ndarray:
        mu, phi, p = self.mu, self.phi, self.p
        lam = np.power(mu, 2.0 - p) / (phi * (2.0 - p))
        alpha = (2.0 - p) / (p - 1.0)
        gam = phi * (p - 1.0) * np.power(mu, p - 1.0)
        y = np.asarray(y, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            x = lam * np.power(y / gam, alpha)
            pos = -lam - y / gam - np.log(y) + special.log_wright_bessel(alpha, 0.0, x)
        return np.where(y > 0.0, pos, -lam)


def _taker(mask: np.ndarray, shape: tuple[int, ...]):
    """A function that takes a value's entries at `mask` (a scalar as it is)."""
    def take(v: Any) -> Any:
        if np.ndim(v) == 0:
            return v
        return np.broadcast_to(v, shape)[mask]
    return take


def _clip(params: Params) -> Params:
    """The parameters with the power kept within [POWER_MIN, POWER_MAX]."""
    if "power" in params and np.ndim(params["power"]) == 0:
        p = params["power"]
        if p < POWER_MIN or p > POWER_MAX:
            return {**params, "power": min(max(p, POWER_MIN), POWER_MAX)}
    return params
