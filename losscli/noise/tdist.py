"""The standard Student-t distribution's numerics, in log space: its normaliser, tails
accurate far out, the probability of an interval (by Gauss–Legendre quadrature where a
bound proves it, from the tails elsewhere) and its log-density. ν = ∞ is the standard
normal. The family (losscli.noise.student_t) is built on these."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy import special

from losscli.noise import quadrature
from losscli.noise.logspace import LOG_HALF, log1mexp, stirling_delta

_SERIES_TERMS = 30

def log_norm(df: float) -> float:
    """log Γ((ν+1)/2) − log Γ(ν/2) − ½ log(νπ) = −log B(ν/2, ½) − ½ log ν.

    From ν = 20 on, with a = ν/2 and Stirling's correction S (logspace.
    stirling_delta), it is a log(1 + 1/(2a)) − ½ − ½ log 2π + S(a + ½) − S(a):
    betaln subtracts log Γ values of size ~a log a there, losing ~1e-9 at ν = 1e6.
    ν may be an array (finite ν per row): the same two forms, chosen per row.
    """
    if np.ndim(df):
        return _log_norm_rows(np.asarray(df, dtype=np.float64))
    if df >= 20.0:
        a = 0.5 * df
        return (a * math.log1p(0.5 / a) - 0.5 - 0.5 * math.log(2.0 * math.pi)
                + stirling_delta(a + 0.5) - stirling_delta(a))
    return -float(special.betaln(0.5 * df, 0.5)) - 0.5 * math.log(df)


# log_norm's large-ν series in a = ν/2: −½ log 2π + Σ c·a^(−k), k = 1, 3, 5, 7
# (lnΓ(a + ½) − lnΓ(a) − ½ ln a = −1/(8a) + 1/(192a³) − 1/(640a⁵) + 17/(14336a⁷) + O(a⁻⁹))
_NORM_SERIES = ((-1.0 / 8.0, 1), (1.0 / 192.0, 3), (-1.0 / 640.0, 5), (17.0 / 14336.0, 7))


def log_norm_derivatives(df: float) -> tuple[float, float]:
    """(d/dν, d²/dν²) of `log_norm` at a finite ν > 0: ½[ψ((ν+1)/2) − ψ(ν/2)] − 1/(2ν)
    and ¼[ψ′((ν+1)/2) − ψ′(ν/2)] + 1/(2ν²), within 1e-12 relative. From ν = 60 on, the
    derivatives of the series −½ log 2π − 1/(8a) + 1/(192a³) − 1/(640a⁵) + 17/(14336a⁷),
    a = ν/2 (truncation below 1e-12 relative there), which do not cancel as the ψ forms
    do (the derivatives are O(ν⁻²), the ψ terms O(ν⁻¹))."""
    if df >= 60.0:
        a = 0.5 * df
        d1 = sum(-c * k * a ** (-k - 1) for c, k in _NORM_SERIES)
        d2 = sum(c * k * (k + 1) * a ** (-k - 2) for c, k in _NORM_SERIES)
        return 0.5 * d1, 0.25 * d2
    h = 0.5 * df
    d1 = 0.5 * float(special.psi(h + 0.5) - special.psi(h)) - 0.5 / df
    d2 = 0.25 * float(special.polygamma(1, h + 0.5) - special.polygamma(1, h)) + 0.5 / df ** 2
    return d1, d2


def _log_norm_rows(df: np.ndarray) -> np.ndarray:
    out = np.empty(df.shape)
    big = df >= 20.0
    a = 0.5 * df[big]
    out[big] = (a * np.log1p(0.5 / a) - 0.5 - 0.5 * math.log(2.0 * math.pi)
                + stirling_delta(a + 0.5) - stirling_delta(a))
    d = df[~big]
    out[~big] = -special.betaln(0.5 * d, 0.5) - 0.5 * np.log(d)
    return out


def _split_inf(df: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(ν per row as an array of n, the mask of its infinite rows)."""
    df = np.broadcast_to(np.asarray(df, dtype=np.float64), (n,))
    return df, np.isinf(df)


def _rows(v, rows):
    """A per-row value's rows (a scalar as it is)."""
    return v[rows] if np.ndim(v) else v


def log_tail(t: np.ndarray, df: float) -> np.ndarray:
    """log P(T ≤ −|t|) for T ~ t_ν, accurate far into the tail.

    scipy.special.stdtr where the probability is representable; in the tail (q = ν/t² ≤
    0.2) or wherever it would underflow (large ν), the series
    P = ½ I_x(a, ½) = ½ x^a (1 − x)^{−½} / (a B(a, ½)) · ₂F₁(½, 1; a + 1; −q),
    x = ν/(ν + t²), a = ν/2 (DLMF 8.17.8 and a Pfaff transformation), summed in log space.
    Its terms shrink by q (k − ½)/(a + k) < 0.2 per step in both regions, so 30 terms
    are exact to rounding. ν may be a finite array aligned with t (one per row).
    """
    if np.ndim(df):
        return _log_tail_rows(np.abs(np.asarray(t, dtype=np.float64)),
                              np.broadcast_to(np.asarray(df, dtype=np.float64), np.shape(t)))
    t = np.abs(np.asarray(t, dtype=np.float64))
    out = np.empty_like(t)
    a = 0.5 * df
    log_beta = float(special.betaln(a, 0.5))
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        q = df / (t * t)
    series = q <= 0.2
    if a > 250.0:  # only a large ν can underflow outside q ≤ 0.2 (see the docstring)
        rest = np.flatnonzero(~series)
        qr = q[rest]
        with np.errstate(divide="ignore", invalid="ignore"):
            lead = a * (np.log(qr) - np.log1p(qr)) + 0.5 * np.log1p(qr) - math.log(a) - log_beta
        series[rest[lead < -600.0]] = True
    if series.any():
        ts = t[series]
        qs = q[series]
        with np.errstate(divide="ignore"):
            log_q = math.log(df) - 2.0 * np.log(ts)
        l1q = np.log1p(qs)
        term = np.ones_like(qs)
        total = np.ones_like(qs)
        for k in range(1, _SERIES_TERMS + 1):
            term *= qs * (-(k - 0.5) / (a + k))
            total += term
        out[series] = (a * (log_q - l1q) + 0.5 * l1q - math.log(a) - log_beta
                       + np.log(total) + LOG_HALF)
    body = ~series
    if body.all():
        out = np.log(special.stdtr(df, -t))
    elif body.any():
        out[body] = np.log(special.stdtr(df, -t[body]))
    return out


def _log_tail_rows(t: np.ndarray, df: np.ndarray) -> np.ndarray:
    """`log_tail` with a finite ν per row: the same regions and formulas, row by row."""
    out = np.empty_like(t)
    a = 0.5 * df
    log_beta = special.betaln(a, 0.5)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        q = df / (t * t)
    series = q <= 0.2
    rest = np.flatnonzero(~series & (a > 250.0))
    if rest.size:
        qr, ar = q[rest], a[rest]
        with np.errstate(divide="ignore", invalid="ignore"):
            lead = (ar * (np.log(qr) - np.log1p(qr)) + 0.5 * np.log1p(qr) - np.log(ar)
                    - log_beta[rest])
        series[rest[lead < -600.0]] = True
    if series.any():
        ts, qs, as_ = t[series], q[series], a[series]
        with np.errstate(divide="ignore"):
            log_q = np.log(df[series]) - 2.0 * np.log(ts)
        l1q = np.log1p(qs)
        term = np.ones_like(qs)
        total = np.ones_like(qs)
        for k in range(1, _SERIES_TERMS + 1):
            term *= qs * (-(k - 0.5) / (as_ + k))
            total += term
        out[series] = (as_ * (log_q - l1q) + 0.5 * l1q - np.log(as_) - log_beta[series]
                       + np.log(total) + LOG_HALF)
    body = ~series
    if body.any():
        out[body] = np.log(special.stdtr(df[body], -t[body]))
    return out


def log_cdf_std(t: np.ndarray, df: float) -> np.ndarray:
    """log P(T ≤ t) of the standard t_ν (the standard normal when ν = ∞); ν may be an
    array aligned with t (ν = ∞ rows are normal)."""
    if np.ndim(df):
        t = np.asarray(t, dtype=np.float64)
        df, inf = _split_inf(df, t.size)
        if not inf.any():
            tail = log_tail(t, df)
            return np.where(t <= 0.0, tail, log1mexp(tail))
        out = np.empty(t.shape)
        out[inf] = special.log_ndtr(t[inf])
        fin = ~inf
        out[fin] = log_cdf_std(t[fin], df[fin])
        return out
    if math.isinf(df):
        return special.log_ndtr(t)
    t = np.asarray(t, dtype=np.float64)
    tail = log_tail(t, df)
    return np.where(t <= 0.0, tail, log1mexp(tail))


def interval_std(ta: np.ndarray, tb: np.ndarray, df: float) -> np.ndarray:
    """log P(ta < T ≤ tb) of the standard t_ν (ta < tb).

    By Gauss–Legendre quadrature of the density on the rows where `quadrature_rows`
    proves it within quadrature.TOL (see there), else from the tails (`interval_cdf`).
    """
    ta = np.asarray(ta, dtype=np.float64)
    tb = np.asarray(tb, dtype=np.float64)
    if np.ndim(df) and np.isinf(df).any():
        return interval_cdf(ta, tb, df)
    if np.ndim(df):  # ν per row (finite), the rows aligned with ta and tb
        def halves(sl: slice) -> tuple[np.ndarray, np.ndarray]:
            a, b = ta[sl], tb[sl]
            with np.errstate(over="ignore", invalid="ignore"):
                return 0.5 * (a + b), 0.5 * (b - a)

        return by_quadrature(ta.size, halves,
                             lambda rest: interval_cdf(ta[rest], tb[rest], df[rest]), df)
    if math.isinf(df):
        return interval_cdf(ta, tb, df)
    if ta.ndim != 1 or tb.shape != ta.shape:
        shape = np.broadcast_shapes(ta.shape, tb.shape)
        flat = interval_std(np.broadcast_to(ta, shape).ravel(),
                             np.broadcast_to(tb, shape).ravel(), df)
        return flat.reshape(shape)

    def midpoints(sl: slice) -> tuple[np.ndarray, np.ndarray]:
        a, b = ta[sl], tb[sl]
        with np.errstate(over="ignore", invalid="ignore"):
            z = a + b
            z *= 0.5
            eta = b - a
            eta *= 0.5
        return z, eta

    return by_quadrature(ta.size, midpoints, lambda rest: interval_cdf(ta[rest], tb[rest], df),
                          df)


def interval_residual(r: np.ndarray, scale: float, df: float) -> np.ndarray:
    """log P(r − ½ < σ T ≤ r + ½) for T ~ t_ν: `interval_std` of ((r ∓ ½)/σ), with the
    quadrature's midpoint r/σ and half-width ½/σ taken as they are rather than from the
    two ends (whose difference loses digits where |r|/σ is large), and the ends formed
    only for the rows that need the tails."""
    r = np.asarray(r, dtype=np.float64)
    if np.ndim(df):  # ν per row: the ν = ∞ rows as the scalar ν = ∞, the others by rows
        df, inf = _split_inf(df, r.size)
        if inf.any():
            out = np.empty(r.shape)
            out[inf] = interval_residual(r[inf], _rows(scale, inf), math.inf)
            fin = ~inf
            out[fin] = interval_residual(r[fin], _rows(scale, fin), df[fin])
            return out

    def ends(rows: np.ndarray | slice) -> tuple[np.ndarray, np.ndarray]:
        rr = r[rows]
        ta = rr - 0.5
        ta /= _rows(scale, rows)
        tb = rr + 0.5
        tb /= _rows(scale, rows)
        return ta, tb

    if r.ndim != 1 or (np.ndim(df) == 0 and math.isinf(df)):
        return interval_std(*ends(slice(None)), df)
    half = 0.5 / scale

    def midpoints(sl: slice) -> tuple[np.ndarray, np.ndarray]:
        z = r[sl] / _rows(scale, sl)
        return z, (half[sl] if np.ndim(half) else np.full(z.size, half))

    return by_quadrature(r.size, midpoints,
                         lambda rest: interval_cdf(*ends(rest), _rows(df, rest)), df)


def by_quadrature(n: int, midpoints: Callable[[slice], tuple[np.ndarray, np.ndarray]],
                   fallback: Callable[[np.ndarray], np.ndarray], df: float) -> np.ndarray:
    """log P of n intervals (z − η, z + η] of the standard t_ν, `midpoints(rows)` giving z
    and η: by quadrature where `quadrature_rows` proves it, else by `fallback(rows)`.
    ν may be a finite array of n (one per row)."""

    def block(sl: slice, out: np.ndarray) -> np.ndarray:
        z, eta = midpoints(sl)
        dfb = _rows(df, sl)
        alpha, beta = quadrature_parts(z, eta, dfb)
        mask = quadrature_mask(alpha, beta, dfb)
        if not mask.any():
            return mask
        if not mask.all():
            z, eta, alpha, beta = z[mask], eta[mask], alpha[mask], beta[mask]
            dfb = _rows(dfb, mask)
        return quadrature.store(out, mask, interval_quadrature(z, eta, dfb, alpha, beta))

    return quadrature.evaluate(n, block, fallback)[0]


def quadrature_parts(z: np.ndarray, eta: np.ndarray, df: float) -> tuple[np.ndarray, ...]:
    """α = 2 z η / (ν + z²) and β = η² / (ν + z²): across the interval z + η s, s ∈ [−1, 1],
    (ν + (z + η s)²) / (ν + z²) = 1 + α s + β s²."""
    with np.errstate(over="ignore", invalid="ignore"):
        d = z * z
        d += df
        beta = np.multiply(eta, eta)
        beta /= d
        alpha = 2.0 * z
        alpha *= eta
        alpha /= d
    return alpha, beta


def quadrature_rows(z: np.ndarray, eta: np.ndarray, df: float) -> np.ndarray:
    """Mask of the intervals (z − η, z + η] of the standard t_ν whose probability the
    quadrature (`quadrature.NODES` Gauss–Legendre nodes) gives within relative error
    quadrature.TOL.

    With α, β of `quadrature_parts` and u = α s + β s², the log-density relative to the
    midpoint is g(s) = −(ν+1)/2 · log(1 + u), so in the notation of the quadrature
    module c = g′(0) = −(ν+1) α / 2 and q(s) = g − c s = −(ν+1)/2 · [log(1 + u) − u + β s²].
    On the real interval log(1 + u) ≤ u, so q ≥ −(ν+1) β s²/2: C = (ν+1) β. On the disc
    |s| ≤ A, |u| ≤ δ = |α| A + β A²; where δ < 1, 1 + u stays in the right half-plane, so g
    is analytic there, and |q| ≤ Q(A) = (ν+1)/2 · [δ²/(2(1 − δ)) + β A²]
    (quadrature.log1p_remainder). In the Gaussian limit these tend to the normal's
    c = −zη, C = η², Q = η²A²/2. Wherever the bound holds, |g| ≤ |c| + Q is below ~40 on
    [−1, 1] and g is computed with a few ulps of relative error, so rounding moves P by
    less than 1e-13 relative.
    """
    z = np.asarray(z, dtype=np.float64)
    eta = np.broadcast_to(np.asarray(eta, dtype=np.float64), z.shape)
    return quadrature_mask(*quadrature_parts(z, eta, df), df)


def quadrature_mask(alpha: np.ndarray, beta: np.ndarray, df: float) -> np.ndarray:
    """`quadrature_rows` from α and β."""
    return quadrature.proven(*bound_parts(alpha, beta, df))


def bound_parts(alpha: np.ndarray, beta: np.ndarray, df: float) -> tuple:
    """c, C and Q of `quadrature_rows`, as quadrature.proven takes them."""
    half = 0.5 * (df + 1.0)
    with np.errstate(over="ignore", invalid="ignore"):
        c = -half * alpha
        curvature = (df + 1.0) * beta
        abs_alpha = np.abs(alpha)

    def remainder(big_a: float, rows: slice | np.ndarray) -> np.ndarray:
        quad_term = beta[rows] * (big_a * big_a)
        delta = abs_alpha[rows] * big_a
        delta += quad_term
        out = quadrature.log1p_remainder(delta)
        out += quad_term
        out *= _rows(half, rows)
        return out

    return c, curvature, remainder


def interval_quadrature(z: np.ndarray, eta: np.ndarray, df: float,
                         alpha: np.ndarray | None = None,
                         beta: np.ndarray | None = None) -> np.ndarray:
    """log P(z − η < T ≤ z + η) = log f(z) + log η + log Σᵢ wᵢ (1 + α sᵢ + β sᵢ²)^{−(ν+1)/2}
    by Gauss–Legendre quadrature (accurate where `quadrature_rows` says so)."""
    if alpha is None or beta is None:
        alpha, beta = quadrature_parts(z, eta, df)
    half = -0.5 * (df + 1.0)

    def exponent(sl: slice, s: np.ndarray, out: np.ndarray, tmp: np.ndarray) -> None:
        np.multiply(s, alpha[sl], out=out)
        np.multiply(s * s, beta[sl], out=tmp)
        out += tmp
        np.log1p(out, out=out)
        out *= _rows(half, sl)

    out = quadrature.log_integral(exponent, z.size)
    with np.errstate(divide="ignore", invalid="ignore"):
        out += math.log(eta) if np.ndim(eta) == 0 else np.log(eta)
        out += log_density_std(z, df)
    return out


def interval_cdf(ta: np.ndarray, tb: np.ndarray, df: float) -> np.ndarray:
    """log P(ta < T ≤ tb) of the standard t_ν (ta < tb), from each end's smaller tail;
    ν may be an array aligned with ta (ν = ∞ rows normal)."""
    if np.ndim(df):
        ta = np.asarray(ta, dtype=np.float64)
        tb = np.asarray(tb, dtype=np.float64)
        df, inf = _split_inf(df, ta.size)
        la = np.empty(ta.shape)
        lb = np.empty(ta.shape)
        la[inf] = special.log_ndtr(-np.abs(ta[inf]))
        lb[inf] = special.log_ndtr(-np.abs(tb[inf]))
        fin = ~inf
        la[fin] = log_tail(ta[fin], df[fin])
        lb[fin] = log_tail(tb[fin], df[fin])
    elif math.isinf(df):
        la, lb = special.log_ndtr(-np.abs(ta)), special.log_ndtr(-np.abs(tb))
    else:
        la, lb = log_tail(ta, df), log_tail(tb, df)
    out = np.empty_like(la)
    lower = tb <= 0.0  # F(b) − F(a): both are lower tails, la ≤ lb
    upper = ta >= 0.0  # S(a) − S(b): both are upper tails, lb ≤ la
    mid = ~(lower | upper)  # 1 − F(a) − S(b)
    out[lower] = lb[lower] + log1mexp(la[lower] - lb[lower])
    out[upper] = la[upper] + log1mexp(lb[upper] - la[upper])
    out[mid] = np.log1p(-(np.exp(la[mid]) + np.exp(lb[mid])))
    return out


def log_density_std(t: np.ndarray, df: float) -> np.ndarray:
    if np.ndim(df):  # finite ν per row
        return log_norm(df) - 0.5 * (df + 1.0) * np.log1p(t * t / df)
    if math.isinf(df):
        return -0.5 * t * t - 0.5 * math.log(2.0 * math.pi)
    return log_norm(df) - 0.5 * (df + 1.0) * np.log1p(t * t / df)
