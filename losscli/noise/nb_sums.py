"""The negative binomial's (and Poisson's, α = 0) sums over its p.m.f. (SPEC §8.3): its
CRPS, ½E|X − X′| and quantiles, mostly by walking f(k + 1) = f(k)(μ + kαμ)/((1 + αμ)(k + 1))
from f(0) over the integers, with the special-function forms where a walk would be long."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import special

from losscli.noise.crps import (
    BLOCK_CELLS,
    arr,
    log_factorial_ratio,
    settle,
    small_at_zero,
)
from losscli.noise.logspace import stirling_delta

# the trapezoid rule for the NB's E|X − X′| (see `nb_half_gini_fourier`)
NB_STEP = 0.15
NB_REACH = 36.0
SERIES_TERMS = 800  # terms of the NB's ½E|X − X′| as a sum before the Fourier form
WALK_TERMS = 400  # terms of the NB's p.m.f. added towards a quantile before nbdtrik
# a walk drops its finished rows once fewer than this share of those it carries walk on
# (finishing rows go on being updated, never read, until then: cheaper than a copy a step)
COMPACT = 0.75


def log_nb_pmf(y: np.ndarray, mu: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """log P(Y = y) of NB2(μ, α > 0): A(y, α) − log y! + y log μ − (y + r) log(1 + αμ),
    r = 1/α, with A(y, α) = log Γ(y + r) − log Γ(r) + y log α by Stirling's series from
    r = 10 on, (y + r − ½) log1p(yα) − y + δ(y + r) − δ(r) (negative_binomial.log_rising,
    per row)."""
    r = 1.0 / alpha
    big = r >= 10.0
    with np.errstate(divide="ignore", invalid="ignore"):
        rb = np.where(big, r, 10.0)
        ab = 1.0 / rb
        stir = (y + rb - 0.5) * np.log1p(y * ab) - y + stirling_delta(y + rb) \
            - stirling_delta(rb)
        rs = np.where(big, 1.0, r)
        direct = special.gammaln(y + rs) - special.gammaln(rs) + special.xlogy(y, 1.0 / rs)
        a = np.where(big, stir, direct)
        return (a - special.gammaln(y + 1.0) + special.xlogy(y, mu)
                - (y + r) * np.log1p(alpha * mu))


def nb_half_gini(mu: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """½E|X − X′| of NB2(μ, α) (α = 0: Poisson): `nb_half_gini_series` where its sum
    ends within SERIES_TERMS terms, `nb_half_gini_fourier` on the other rows."""
    mu, alpha = np.broadcast_arrays(arr(mu), arr(alpha))
    out, done = nb_half_gini_series(mu.ravel(), alpha.ravel())
    rest = np.flatnonzero(~done)
    if rest.size:
        out[rest] = nb_half_gini_fourier(mu.ravel()[rest], alpha.ravel()[rest])
    return out.reshape(mu.shape)


def walk_start(mu: np.ndarray, alpha: np.ndarray, rows: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """What a walk over the p.m.f. starts from, on the rows (of `rows`, a mask) whose f(0)
    does not underflow: (their indices, log f(0) = −r log1p(αμ) (−μ at α = 0), and the
    recurrence's two factors per row, μ/(1 + αμ) and αμ/(1 + αμ), so that
    f(k + 1) = f(k)(a + kb)/(k + 1))."""
    am = alpha * mu
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        log_f0 = np.where(alpha > 0.0, -np.log1p(am) / np.where(alpha > 0.0, alpha, 1.0),
                          -mu)
        scale = mu / (1.0 + am)
    ok = (log_f0 > -600.0) & np.isfinite(log_f0) & (mu >= 0.0)
    idx = np.flatnonzero(ok if rows is None else ok & rows)
    return idx, log_f0[idx], scale[idx], alpha[idx] * scale[idx]


def nb_half_gini_series(mu: np.ndarray, alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(½E|X − X′|, the rows where it is final) of NB2(μ, α) on 1-D rows, by the sum over
    the integers ½E|X − X′| = Σ_k F(k) S(k), S = 1 − F (X ≤ k < X′ or X′ ≤ k < X).

    f(0) = (1 + αμ)^(−r) (e^(−μ) at α = 0) and f(k + 1) = f(k)(1 + kα)μ/((1 + αμ)(k + 1));
    F(k) accumulates f (positive terms), and S(k) = S(k − 1) − f(k) from
    S(0) = −expm1(−r log1p(αμ)), so F is accurate relatively (a sum of positive terms)
    and S absolutely (within k ulp(S(0))): every term F·S within a few ulps of itself
    plus k ulp(S(0)). Past the mode the ratio
    ρ = f(k + 1)/f(k) falls towards q = αμ/(1 + αμ) (or rises to it), so the terms left,
    Σ_{j>k} S(j) ≤ f(k)ρ*/(1 − ρ*)² with ρ* = max(ρ, q), are bounded; a row is final once
    that bound is below 1e-17 of its sum. Rows not final within SERIES_TERMS terms, or
    whose f(0) underflows, are left to the caller (`done` False)."""
    mu = np.asarray(mu, dtype=np.float64)
    alpha = np.asarray(alpha, dtype=np.float64)
    n = mu.size
    out = np.zeros(n)
    done = np.zeros(n, dtype=bool)
    idx, log_f0, sc, qq = walk_start(mu, alpha)  # qq = αμ/(1 + αμ), the tail's ratio
    f = np.exp(log_f0)
    s_tail = -np.expm1(log_f0)
    big_f = f.copy()
    total = big_f * s_tail
    ratio = np.empty_like(f)
    term = np.empty_like(f)
    live = np.ones(idx.size, dtype=bool)
    with np.errstate(invalid="ignore", over="ignore", under="ignore"):
        for k in range(SERIES_TERMS):
            # f(k + 1)/f(k) = (μ + kαμ)/((1 + αμ)(k + 1))
            np.multiply(qq, float(k), out=ratio)
            ratio += sc
            ratio *= 1.0 / (k + 1.0)
            f *= ratio
            big_f += f
            s_tail -= f
            np.multiply(big_f, s_tail, out=term)
            total += term
            if k % 8 == 7:
                rho = np.maximum(ratio, qq)
                left = f * rho / np.square(1.0 - rho)
                final = (ratio < 1.0) & (rho < 1.0) & (left <= 1e-17 * total)
                final |= s_tail <= 0.0
                final &= live
                if final.any():
                    out[idx[final]] = total[final]
                    done[idx[final]] = True
                    live &= ~final
                    n_live = int(np.count_nonzero(live))
                    if n_live < COMPACT * live.size:  # finished rows dropped in bulk
                        if not n_live:
                            break
                        idx, f, s_tail, big_f, total = (idx[live], f[live], s_tail[live],
                                                        big_f[live], total[live])
                        sc, qq = sc[live], qq[live]
                        ratio, term = ratio[live], term[live]
                        live = np.ones(idx.size, dtype=bool)
    return out, done


def nb_half_gini_fourier(mu: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """½E|X − X′| of NB2(μ, α) (α = 0: Poisson), by the Fourier form of E|D| for an
    integer D = X − X′, E|D| = (1/2π)∫_{−π}^{π}(1 − |φ_X(t)|²)/(1 − cos t) dt, with
    |φ_X(t)|² = (1 + c sin²(t/2))^(−r), c = 4αμ(1 + αμ), r = 1/α (e^(−4μ sin²(t/2)) at
    α = 0). With θ = t/2:

        ½E|X − X′| = (1/2π) ∫_0^{π/2} [1 − (1 + c sin²θ)^(−r)] / sin²θ dθ,

    the integral form of the ₂F₁(r + 1, ½; 2; −c) of the closed form (Wei and Held 2014),
    whose direct evaluation fails for large r and c. It is taken by the trapezoid rule in
    x with θ = (π/2)/(1 + e^(−x)): the integrand is analytic and of modulus at most its
    real maximum in the strip |Im x| < π/4 (there |1 + c sin²θ| ≥ 1), so a step h errs by
    about e^(−π²/(2h)) (5e-15 at h = 0.15); it decays like e^(−|x − x₀|) on both sides of
    its peak x₀ = log(1/(π sd)) (sd² = μ + αμ²), so x ∈ [min(x₀, 0) − 36, 36] leaves out
    less than e^(−36). At most ~560 nodes per row, whatever μ and α."""
    mu, alpha = np.broadcast_arrays(arr(mu), arr(alpha))
    n = mu.size
    out = np.empty(n)
    mu_f, al_f = mu.ravel(), alpha.ravel()
    var = mu_f + al_f * mu_f * mu_f
    with np.errstate(divide="ignore"):
        x0 = np.minimum(-np.log(math.pi * np.sqrt(var)), 0.0)
    x0 = np.clip(np.where(np.isfinite(x0), x0, 0.0), -300.0, 0.0)
    # every row's nodes lie on one grid x_j = j h, so sin²θ and the Jacobian over sin²θ
    # are computed once
    first = np.floor((x0 - NB_REACH) / NB_STEP).astype(np.int64)
    lo, hi = (int(first.min()), int(math.ceil(NB_REACH / NB_STEP))) if n else (0, 0)
    x = np.arange(lo, hi + 1, dtype=np.float64) * NB_STEP
    sig = special.expit(x)
    s2 = np.square(np.sin((0.5 * math.pi) * sig))
    weight = (0.5 * math.pi) * sig * special.expit(-x) / s2
    rows = max(1, BLOCK_CELLS // max(x.size, 1))
    order = np.argsort(first, kind="stable")  # blocks of rows with similar ranges
    for s in range(0, n, rows):
        idx = order[s:s + rows]
        j0 = int(first[idx].min()) - lo
        m, a = mu_f[idx, None], al_f[idx, None]
        sq = s2[None, j0:]
        with np.errstate(divide="ignore", invalid="ignore"):
            pois = a == 0.0
            a1 = np.where(pois, 1.0, a)
            expo = np.where(pois, 4.0 * m * sq,
                            np.log1p((4.0 * a1 * m * (1.0 + a1 * m)) * sq) / a1)
            g = -np.expm1(-expo)
        g *= weight[None, j0:]
        g[np.arange(j0 + lo, hi + 1)[None, :] < first[idx, None]] = 0.0
        out[idx] = g.sum(axis=1) * (NB_STEP / (2.0 * math.pi))
    return out.reshape(mu.shape)


def negative_binomial(y: np.ndarray, mu: Any, alpha: Any) -> np.ndarray:
    """CRPS of NB2(μ, α) at an integer y ≥ 0 on the counting measure:

        (y − μ)(2F(y) − 1) + 2μ(1 + αy) f(y) − ½E|X − X′|,

    from E[X 1{X ≤ y}] = μ F_{r+1}(y − 1) and I_p(r, y + 1) − I_p(r + 1, y) =
    f(y)(1 + y/r); F(y) = 1 − I_q(y + 1, r), q = αμ/(1 + αμ) (computed without 1 − p);
    f(y) from `log_nb_pmf`; F(y) and f(y) by `nb_cdf_walk` where it applies (most
    rows: one pass over the p.m.f. up to y); ½E|X − X′| by `nb_half_gini`. α = 0 is
    Poisson's."""
    shape = np.broadcast_shapes(np.shape(y), np.shape(mu), np.shape(alpha))
    y, mu, alpha = (np.ascontiguousarray(v, dtype=np.float64).ravel() for v in
                    np.broadcast_arrays(arr(y), arr(mu), arr(alpha)))
    F, f, done = nb_cdf_walk(y, mu, alpha)
    rest = np.flatnonzero(~done)
    if rest.size:
        yr, mr, ar = y[rest], mu[rest], alpha[rest]
        pois = ar == 0.0
        am = ar * mr
        with np.errstate(divide="ignore", invalid="ignore"):
            a_safe = np.where(pois, 1.0, ar)
            F[rest] = np.where(pois, special.pdtr(yr, mr),
                               special.betaincc(yr + 1.0, 1.0 / a_safe, am / (1.0 + am)))
            f[rest] = np.exp(np.where(pois, log_factorial_ratio(yr, mr),
                                      log_nb_pmf(yr, mr, a_safe)))
    out = ((y - mu) * (2.0 * F - 1.0) + 2.0 * mu * (1.0 + alpha * y) * f
           - nb_half_gini(mu, alpha))
    return small_at_zero(out, y, mu, alpha, _nb_sf).reshape(shape)


def nb_cdf_walk(y: np.ndarray, mu: np.ndarray, alpha: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(F(y), f(y), the rows done) of NB2(μ, α) (Poisson at α = 0) at integers
    0 ≤ y ≤ WALK_TERMS on 1-D rows, by adding the p.m.f. from f(0) with the recurrence
    of `nb_half_gini_series`: F within ~y ulps relatively (a sum of positive terms), f
    within ~2y. Rows whose f(0) underflows, or with y outside that range, are left."""
    n = y.size
    big_f_out, f_out = np.zeros(n), np.zeros(n)
    done = np.zeros(n, dtype=bool)
    idx, log_f0, sc, asc = walk_start(mu, alpha, (y >= 0.0) & (y <= WALK_TERMS)
                                      & (y == np.floor(y)))
    f = np.exp(log_f0)
    big_f = f.copy()
    yy = y[idx]
    with np.errstate(invalid="ignore", over="ignore", under="ignore"):
        for k in range(WALK_TERMS + 1):
            hit = yy == k
            if hit.any():
                rows = idx[hit]
                big_f_out[rows], f_out[rows] = big_f[hit], f[hit]
                done[rows] = True
                keep = yy > k  # the rows still walking (a finished one never hits again)
                live = int(np.count_nonzero(keep))
                if live < COMPACT * keep.size:
                    if not live:
                        break
                    idx, f, big_f, yy, sc, asc = (idx[keep], f[keep], big_f[keep],
                                                  yy[keep], sc[keep], asc[keep])
            f *= (sc + k * asc) * (1.0 / (k + 1.0))
            big_f += f
    return big_f_out, f_out, done


def _nb_sf(k: np.ndarray, mu: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """P(X > k) = I_q(k + 1, r), q = αμ/(1 + αμ) (Poisson's Q at α = 0)."""
    pois = alpha == 0.0
    a = np.where(pois, 1.0, alpha)
    am = a * mu
    return np.where(pois, special.pdtrc(k, mu), special.betainc(k + 1.0, 1.0 / a, am / (1.0 + am)))


def nb_ppf(q: float, mu: Any, alpha: Any) -> np.ndarray:
    """min{k : F(k) ≥ q} for NB2(μ, α) (Poisson's at α = 0): `nb_ppf_levels` at q."""
    return nb_ppf_levels([q], mu, alpha)[0]


def nb_ppf_levels(qs: Any, mu: Any, alpha: Any) -> list[np.ndarray]:
    """[min{k : F(k) ≥ q} for q in qs] for NB2(μ, α): one walk over the p.m.f. for every
    level, adding f(k) to F until it reaches each q in turn. F is a sum of positive terms,
    within ~k ulps relatively, so a level is decided only where q lies clear of F(k − 1)
    and F(k) by 1e-12 (relative); `nb_ppf_inverse` takes the rows a level leaves
    undecided, whose f(0) underflows, or not reached within WALK_TERMS terms."""
    mu, alpha = np.broadcast_arrays(arr(mu), arr(alpha))
    shape = mu.shape
    mu, alpha = mu.ravel(), alpha.ravel()
    qs = [float(q) for q in qs]
    order = sorted(range(len(qs)), key=lambda j: qs[j])
    levels = np.array([qs[j] for j in order])
    n, m = mu.size, levels.size
    out = np.zeros((m, n))
    done = np.zeros((m, n), dtype=bool)
    idx, log_f0, sc, asc = walk_start(mu, alpha)
    f = np.exp(log_f0)
    big_f = f.copy()
    prev = np.zeros_like(f)
    nxt = np.zeros(idx.size, dtype=np.intp)  # each row's lowest level not reached yet
    target = np.full(idx.size, levels[0])
    with np.errstate(invalid="ignore", over="ignore", under="ignore"):
        for k in range(WALK_TERMS + 1):
            reached = big_f >= target
            if reached.any():
                while reached.any():
                    at = np.flatnonzero(reached)
                    lv = nxt[at]
                    tol = 1e-12 * levels[lv]
                    clear = (big_f[at] - levels[lv] > tol) & (levels[lv] - prev[at] > tol)
                    out[lv[clear], idx[at[clear]]] = float(k)
                    done[lv[clear], idx[at[clear]]] = True
                    nxt[at] += 1
                    target[at] = np.where(nxt[at] < m, levels[np.minimum(nxt[at], m - 1)],
                                          np.inf)
                    reached = big_f >= target
                keep = nxt < m
                live = int(np.count_nonzero(keep))
                if live < COMPACT * keep.size:  # finished rows (target ∞) dropped in bulk
                    if not live:
                        break
                    idx, f, big_f, prev, sc, asc, nxt, target = (
                        v[keep] for v in (idx, f, big_f, prev, sc, asc, nxt, target))
            f *= (sc + k * asc) * (1.0 / (k + 1.0))
            prev, big_f = big_f, prev  # F(k) becomes the previous; F(k + 1) = F(k) + f
            np.add(prev, f, out=big_f)
    result: list[np.ndarray] = [np.empty(0)] * m
    for i, j in enumerate(order):
        rest = np.flatnonzero(~done[i])
        if rest.size:
            out[i, rest] = nb_ppf_inverse(levels[i], mu[rest], alpha[rest])
        result[j] = out[i].reshape(shape)
    return result


def nb_ppf_inverse(q: float, mu: Any, alpha: Any) -> np.ndarray:
    """min{k : F(k) ≥ q} for NB2(μ, α): ⌈nbdtrik(q, r, p)⌉ checked on F (Poisson's at
    α = 0)."""
    mu, alpha = np.broadcast_arrays(arr(mu), arr(alpha))
    pois = alpha == 0.0
    a_safe = np.where(pois, 1.0, alpha)
    r = 1.0 / a_safe
    am = a_safe * mu
    with np.errstate(invalid="ignore"):
        k = np.where(pois, special.pdtrik(q, mu), special.nbdtrik(q, r, 1.0 / (1.0 + am)))
    k = np.ceil(k)
    k = np.where(np.isfinite(k) & (mu > 0.0), np.maximum(k, 0.0), 0.0)

    mu_b, pois_b, r_b = mu.ravel(), pois.ravel(), r.ravel()
    qq = (am / (1.0 + am)).ravel()

    def cdf(kk: np.ndarray, rows: np.ndarray) -> np.ndarray:
        return np.where(pois_b[rows], special.pdtr(kk, mu_b[rows]),
                        special.betaincc(kk + 1.0, r_b[rows], qq[rows]))

    return settle(k.ravel(), cdf, q).reshape(k.shape)
