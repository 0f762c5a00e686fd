"""The one optimiser the numeric fits share, and Newton steps over a stream.

`minimize_params` fits a family on rows in memory (the seeded sample, or value counts):
positive parameters on the log scale, Brent's method for one parameter (or two
central-difference Newton steps from a pilot fit), Nelder–Mead for several.
`Stencil` and `newton_step` polish a fit on rows that are not in memory: each Newton
step is one pass that reduces the log-likelihood at the points of a central-difference
stencil around θ, from which the gradient and Hessian follow.
One-dimensional problems a family states itself: `root` (a sign change in a bracket),
`root_decreasing` (a decreasing function, bracketed from a start), `newton_root` (a
safeguarded Newton iteration on a score with its derivative) and `minimize_bounded` (a
minimum in an interval).
Several parameters, with the gradient and Hessian a family derives: `newton_ascent`
(damped Newton for an objective that need not be concave everywhere) and
`newton_maximise` (Newton with step halving, for a concave one on a feasible set).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from losscli.errors import FitError

Params = dict[str, Any]
# a numeric fit that moves a parameter by more than e^20 from its start has run off to a
# boundary of the parameter space (a degenerate scale), where c.d.f.s lose all precision
MAX_LOG_STEP = 20.0
# the stencil's step in the fitted coordinates: the central differences' error, O(h²),
# leaves the polished optimum within ~1e-8 relative of the exact one
STENCIL_STEP = 1e-5


def _scipy():
    """scipy.optimize, imported on first use: it loads much of scipy (≈0.2 s), and a run
    whose fits are closed forms or Newton steps never needs it."""
    from scipy import optimize

    return optimize


def to_x(params: Params, names: tuple[str, ...], domains: dict[str, str]) -> np.ndarray:
    """The fitted coordinates: log of the positive parameters, the others as they are."""
    return np.array([math.log(params[k]) if domains.get(k) == "positive" else params[k]
                     for k in names], dtype=np.float64)


def from_x(x: np.ndarray, start: Params, names: tuple[str, ...],
           domains: dict[str, str]) -> Params:
    p = {k: v for k, v in start.items() if k not in names}
    for k, v in zip(names, x, strict=True):
        p[k] = math.exp(v) if domains.get(k) == "positive" else float(v)
    return p


def stencil(x: np.ndarray, h: float = STENCIL_STEP) -> list[np.ndarray]:
    """x, x ± h eᵢ and x ± h eᵢ ± h eⱼ (i < j): the points of a central-difference
    gradient and Hessian (1 + 2p + 2p(p − 1) of them)."""
    p = x.size
    eye = np.eye(p) * h
    points = [x.copy()]
    for i in range(p):
        points += [x + eye[i], x - eye[i]]
    for i in range(p):
        for j in range(i + 1, p):
            points += [x + eye[i] + eye[j], x + eye[i] - eye[j],
                       x - eye[i] + eye[j], x - eye[i] - eye[j]]
    return points


CONVERGED, STEPPED, REFUSED = "converged", "stepped", "refused"


def newton_step(x: np.ndarray, values: np.ndarray,
                h: float = STENCIL_STEP) -> tuple[np.ndarray, str]:
    """One Newton step towards the maximum of f from its values at `stencil(x)`:
    (new x, CONVERGED when the step was below 1e-8, STEPPED, or REFUSED with x unchanged
    where the values are not finite, the Hessian is not negative definite or the step
    would leave the neighbourhood of x). With no parameter there is nothing to step:
    (x, CONVERGED)."""
    if x.size == 0:
        return x, CONVERGED
    with np.errstate(all="ignore"):  # non-finite values are caught below and refused
        return _newton_step(x, np.asarray(values, dtype=np.float64), h)


def stencil_derivatives(values: np.ndarray, p: int, h: float = STENCIL_STEP
                        ) -> tuple[np.ndarray, np.ndarray]:
    """(gradient, Hessian) of f at x by central differences from its values at
    `stencil(x)` (p parameters)."""
    f0 = values[0]
    grad = np.empty(p)
    hess = np.empty((p, p))
    k = 1
    for i in range(p):
        fp, fm = values[k], values[k + 1]
        grad[i] = (fp - fm) / (2 * h)
        hess[i, i] = (fp - 2 * f0 + fm) / (h * h)
        k += 2
    for i in range(p):
        for j in range(i + 1, p):
            fpp, fpm, fmp, fmm = values[k:k + 4]
            hess[i, j] = hess[j, i] = (fpp - fpm - fmp + fmm) / (4 * h * h)
            k += 4
    return grad, hess


def _newton_step(x: np.ndarray, values: np.ndarray, h: float) -> tuple[np.ndarray, str]:
    grad, hess = stencil_derivatives(values, x.size, h)
    if not (np.all(np.isfinite(grad)) and np.all(np.isfinite(hess))):
        return x, REFUSED
    try:
        np.linalg.cholesky(-hess)
    except np.linalg.LinAlgError:
        return x, REFUSED
    step = np.linalg.solve(hess, -grad)
    if np.max(np.abs(step)) > 1.0:  # far from the start: not a polish, keep the fit
        return x, REFUSED
    return x + step, CONVERGED if np.max(np.abs(step)) < 1e-8 else STEPPED


MAX_NEWTON = 8


def polish(total, params: Params, names: tuple[str, ...], domains: dict[str, str]
           ) -> tuple[Params, str]:
    """Newton steps on Σ w log q (`total(params)`, over rows in memory) from `params`
    until a step is below 1e-8 in the fitted coordinates: (params, CONVERGED), or the
    last params and REFUSED / STEPPED when it could not or did not get there. No names:
    nothing to polish, (params, CONVERGED)."""
    if not names:
        return params, CONVERGED
    status = STEPPED
    for _ in range(MAX_NEWTON):
        x = to_x(params, names, domains)
        if not np.all(np.isfinite(x)):
            return params, REFUSED
        values = np.array([total(from_x(p, params, names, domains)) for p in stencil(x)])
        new, status = newton_step(x, values)
        if status == REFUSED:
            return params, status
        params = from_x(new, params, names, domains)
        if status == CONVERGED:
            break
    return params, status


def _parabola_refine(f, x0: float, h: float) -> float | None:
    """Two Newton steps by central differences from a start within ~h of the optimum:
    the vertex of the parabola through x0 ± h, then through x1 ± h/10. Six evaluations;
    the error left is of order (h/10)² · f‴/f″. None when the start is not near enough
    (the curvature is not positive or the vertex leaves the bracket)."""
    x = x0
    for width in (h, h / 10.0):
        lo, mid, hi = f(np.array([x - width])), f(np.array([x])), f(np.array([x + width]))
        curvature = hi - 2.0 * mid + lo
        if not (curvature > 0.0 and max(lo, mid, hi) < 1e300):
            return None
        shift = -width * (hi - lo) / (2.0 * curvature)
        if abs(shift) > 3.0 * width:
            return None
        x += shift
    return x


def minimize_params(
    objective, start: Params, names: tuple[str, ...], domains: dict[str, str],
    step: float = 0.05, refine: bool = False, xatol: float = 1e-10, fatol: float = 1e-14,
) -> Params:
    """Minimise `objective(params)` over `names`, positive parameters on the log scale.

    One parameter: with `refine` (a start from a pilot fit) two central-difference
    Newton steps, else Brent's method after a downhill bracket search from the start.
    Several: Nelder–Mead, by default with tight tolerances (looser `xatol`, `fatol` for a
    search that Newton steps finish).
    """
    def f(x: np.ndarray) -> float:
        if np.any(np.abs(x - x0) > MAX_LOG_STEP):  # far outside any sensible fit
            return 1e300
        try:
            val = objective(from_x(np.atleast_1d(x), start, names, domains))
        except (OverflowError, FloatingPointError, ZeroDivisionError):
            return 1e300
        return val if math.isfinite(val) else 1e300

    x0 = to_x(start, names, domains)
    if not np.all(np.isfinite(x0)):
        raise FitError("the starting point of the numeric fit is not finite")
    refined = _parabola_refine(f, x0[0], step) if len(names) == 1 and refine else None
    if refined is not None:
        x = np.array([refined])
    elif len(names) == 1:
        # Brent's method from a downhill bracket search: no window for the optimum to
        # sit on the edge of, and ~10–15 evaluations from a start near the optimum
        res = _scipy().minimize_scalar(
            lambda v: f(np.array([v])), bracket=(x0[0], x0[0] + step), method="brent",
            options={"xtol": 1e-5},
        )
        x = np.array([res.x])
    else:
        res = _scipy().minimize(
            f, x0, method="Nelder-Mead",
            options={"xatol": xatol, "fatol": fatol, "maxiter": 4000, "maxfev": 8000},
        )
        x = res.x
    if np.any(np.abs(x - x0) > MAX_LOG_STEP - 1.0) or not f(x) < 1e300:
        raise FitError(
            "the likelihood has no maximum inside the parameter space (on these data "
            "the fit runs to a zero or infinite scale)")
    return from_x(x, start, names, domains)


def nelder_mead(f, x0: np.ndarray, xatol: float, fatol: float) -> tuple[np.ndarray, float]:
    """Nelder–Mead from x0 to these tolerances, for a caller that reads the edge of the
    search itself: (x, f(x))."""
    res = _scipy().minimize(f, x0, method="Nelder-Mead",
                            options={"xatol": xatol, "fatol": fatol, "maxiter": 4000,
                                     "maxfev": 8000})
    return res.x, float(res.fun)


# ------------------------------------------------------------------ one dimension


def root(f, lo: float, hi: float, xtol: float, rtol: float) -> float:
    """The root of f in [lo, hi], where f changes sign, by Brent's method (brentq): within
    xtol + rtol·|x| of it."""
    return float(_scipy().brentq(f, lo, hi, xtol=xtol, rtol=rtol))


def root_decreasing(f, x0: float, below: str, above: str, xtol: float, rtol: float,
                    max_steps: int = 60) -> float:
    """The root of a decreasing f: bracketed by unit steps from x0, then `root`.
    FitError(below) when no root lies within `max_steps` steps below x0 (f < 0 there
    throughout), FitError(above) likewise above it."""
    lo = hi = x0
    f_lo = f_hi = f(x0)
    steps = 0
    while f_lo < 0.0:
        hi, f_hi = lo, f_lo
        lo -= 1.0
        f_lo = f(lo)
        steps += 1
        if steps > max_steps:
            raise FitError(below)
    while f_hi > 0.0:
        lo, f_lo = hi, f_hi
        hi += 1.0
        f_hi = f(hi)
        steps += 1
        if steps > max_steps:
            raise FitError(above)
    if lo == hi:
        return lo
    return root(f, lo, hi, xtol, rtol)


def minimize_bounded(f, lo: float, hi: float, xatol: float) -> tuple[float, float]:
    """(x, f(x)) at the minimum of f on [lo, hi], by Brent's bounded method to within
    about xatol in x (the ends themselves are never evaluated: a minimum at an end is
    approached from inside)."""
    res = _scipy().minimize_scalar(f, bounds=(lo, hi), method="bounded",
                                   options={"xatol": xatol})
    return float(res.x), float(res.fun)


ROOT, BELOW, ABOVE, NOT_FINITE, NOT_CONVERGED = (
    "root", "below", "above", "not finite", "not converged")


def newton_root(score, x0: float, lower: float = -math.inf, upper: float = math.inf, *,
                tol: float, bracket_tol: float = 0.0, max_step: float = math.inf,
                walk: float = 2.0, max_iter: int = 100) -> tuple[float, str]:
    """The root of a score g that is positive below it and negative above, by Newton's
    method safeguarded with the bracket of the sign changes seen; `score(x)` → (g, g′).

    Each step is −g/g′ capped at ±max_step where g′ < 0; elsewhere a walk of `walk`
    towards the sign change; a step that leaves the bracket bisects it. Iterates stay in
    [lower, upper]. Returns (x, status): ROOT with x the last Newton iterate once a
    Newton step is below `tol` (or g = 0 at x, or the bracket is narrower than
    `bracket_tol`); BELOW when g < 0 at x = lower (the root is at or below the lower
    bound), ABOVE when g > 0 at x = upper; NOT_FINITE where g or g′ is not finite;
    NOT_CONVERGED after `max_iter` steps (x the last iterate).
    """
    x = x0
    lo, hi = -math.inf, math.inf  # g > 0 at lo, g < 0 at hi
    for _ in range(max_iter):
        g, dg = score(x)
        if not (math.isfinite(g) and math.isfinite(dg)):
            return x, NOT_FINITE
        if g == 0.0:
            return x, ROOT
        if g > 0.0:
            lo = x
            if x >= upper:
                return x, ABOVE
        else:
            hi = x
            if x <= lower:
                return x, BELOW
        newton = dg < 0.0
        step = max(-max_step, min(max_step, -g / dg)) if newton else math.copysign(walk, g)
        new = x + step
        # out of the bracket (a step too small to move x has converged instead)
        if not lo < new < hi and new != x and math.isfinite(lo) and math.isfinite(hi):
            new, newton = 0.5 * (lo + hi), False
        new = min(max(new, lower), upper)
        if (newton and abs(new - x) < tol) or hi - lo < bracket_tol:
            return new, ROOT
        x = new
    return x, NOT_CONVERGED


# ------------------------------------------------------------------ Newton on several parameters

OK, LIMIT, DIVERGED = "ok", "limit", "diverged"


def newton_ascent(fun, x0: np.ndarray, *, cap: tuple[int, float] | None = None,
                  stop=None, tol: float = 1e-4, max_step: float = 2.0,
                  max_iter: int = 200) -> tuple[np.ndarray, str, float]:
    """Damped Newton ascent on f from `fun(x, True)` → (f, gradient, Hessian) and
    `fun(x, False)` → (f, …).

    The Hessian's eigenvalues are made negative (|λ|, floored at 1e-12 of the largest),
    steps are capped at `max_step` and backtracked until f rises (Armijo). Converged
    when a Newton step (every eigenvalue negative) is below `tol`: the error left is
    about its square. `cap` = (i, c) keeps x[i] ≤ c; `stop(x)` → a status to return
    after a step (None to go on). Returns x, a status and f at the last point evaluated
    (within rounding of its value at x): OK; LIMIT when x[i] reached c with f still
    rising in it; DIVERGED where f or its derivatives are not finite; or stop's status.
    """
    x = x0.astype(np.float64).copy()
    f, g, h = fun(x, True)
    for _ in range(max_iter):
        if not (math.isfinite(f) and np.all(np.isfinite(g)) and np.all(np.isfinite(h))):
            return x, DIVERGED, f
        lam, vec = np.linalg.eigh(h)
        floor = 1e-12 * max(1.0, float(np.max(np.abs(lam))))
        newton = bool(np.all(lam < -floor))
        step = vec @ ((vec.T @ g) / np.maximum(np.abs(lam), floor))
        big = float(np.max(np.abs(step)))
        if newton and big < tol:
            return x + step, OK, f
        if big > max_step:
            step *= max_step / big
        if cap is not None and x[cap[0]] + step[cap[0]] > cap[1]:
            i, c = cap
            room = c - x[i]
            if room <= 1e-9:  # at the cap: stop if f still rises there
                if g[i] > 0.0:
                    return x, LIMIT, f
                step[i] = 0.0
            else:
                step *= room / step[i]
        slope = float(g @ step)
        t = 1.0
        while True:
            cand = x + t * step
            f_new = fun(cand, False)[0]
            if math.isfinite(f_new) and f_new >= f + 1e-4 * t * slope:
                break
            t *= 0.5
            if t < 1e-10:
                return x, OK, f  # no ascent left at this precision
        x = cand
        f, g, h = fun(x, True)
        status = stop(x) if stop is not None else None
        if status is not None:
            return x, status, f
    return x, OK, f


def newton_maximise(f, derivs, x0: np.ndarray, inside, rtol: float = 1e-12,
                    max_iter: int = 200) -> np.ndarray:
    """The maximum of a concave f by Newton's method: `derivs(x)` → (gradient, Hessian);
    each step is halved until the point is `inside` the feasible set and f does not
    fall (by more than 1e-15 relative); stops once a step moves every coordinate by at
    most rtol of its size (or after max_iter steps, or where no halving helps)."""
    x = np.array(x0, dtype=np.float64)
    fx = f(x)
    for _ in range(max_iter):
        grad, hess = derivs(x)
        step = -np.linalg.solve(hess, grad)
        scale = 1.0
        while True:
            x1 = x + scale * step
            if inside(x1):
                f1 = f(x1)
                if f1 >= fx - 1e-15 * abs(fx):
                    break
            scale *= 0.5
            if scale < 1e-12:
                x1, f1 = x, fx
                break
        done = bool(np.all(np.abs(x1 - x) <= rtol * np.abs(x)))
        x, fx = x1, f1
        if done:
            break
    return x
