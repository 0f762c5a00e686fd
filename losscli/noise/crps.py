"""The continuous ranked probability score CRPS(F, y) = ∫(F(x) − 1{y ≤ x})² dx of each
family, per row, and its quantile function F⁻¹ (SPEC §8.3).

Every closed form below is written as CRPS = E|X − y| − ½ E|X − X′| (Gneiting and Raftery
2007, eq. 21) with E|X − y| = (y − μ)(2F(y) − 1) + 2 E[(X − y) 1{…}] rearranged so that no
two large terms cancel: for the mean-parametrised families E|X − y| − (y − μ)(2F(y) − 1)
is a positive multiple of the density (or p.m.f.) at y. Parameters may be floats or per-row
float64 arrays aligned with y; the families' `crps` and `ppf` methods call these.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import special

from losscli.noise.logspace import HALF_LOG_2PI, log1mexp, stirling_delta

INV_SQRT_PI = 1.0 / math.sqrt(math.pi)
SQRT_HALF = math.sqrt(0.5)
# Gauss–Legendre nodes on [0, 1] for Φ(a) − Φ(b) over short intervals
_GL_X, _GL_W = np.polynomial.legendre.leggauss(16)
_GL_X = 0.5 * (_GL_X + 1.0)
_GL_W = 0.5 * _GL_W
BLOCK_CELLS = 1 << 21  # rows × nodes per block of a per-row quadrature


def arr(x: Any) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


# ------------------------------------------------------------------ helpers in log space


def log_beta_half(a: Any) -> np.ndarray:
    """log B(a, ½) for a > 0: from a = 10 on by Stirling's series,
    −a log(1 + 1/(2a)) + ½ + ½ log(π/a) − δ(a + ½) + δ(a), which does not subtract log Γ
    values of size a log a (betaln loses ~1e-9 at a = 1e6); betaln below."""
    a = arr(a)
    big = a >= 10.0
    with np.errstate(divide="ignore", invalid="ignore"):
        ab = np.where(big, a, 10.0)
        stir = (-ab * np.log1p(0.5 / ab) + 0.5 + 0.5 * np.log(math.pi / ab)
                - stirling_delta(ab + 0.5) + stirling_delta(ab))
        small = special.betaln(np.where(big, 1.0, a), 0.5)
    return np.where(big, stir, small)


def log_factorial_ratio(y: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """log(μʸ e^(−μ) / y!) for integer y ≥ 0: the Poisson log-p.m.f., as
    −[y log1p(u) − (y − μ)] − ½ log(2πy) − δ(y), u = (y − μ)/μ, from y = 10 on (Stirling:
    no cancellation between y log μ and log y!, error ≈ eps·|y − μ|), directly below."""
    y, mu = np.broadcast_arrays(arr(y), arr(mu))
    big = (y >= 10.0) & (mu > 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        direct = special.xlogy(y, mu) - mu - special.gammaln(y + 1.0)
        yb = np.where(big, y, 10.0)
        mb = np.where(big, mu, 10.0)
        d = yb - mb
        dev = yb * np.log1p(d / mb) - d
        stir = -dev - 0.5 * np.log(2.0 * math.pi * yb) - stirling_delta(yb)
    return np.where(big, stir, direct)


def phi_diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Φ(a) − Φ(b) for a ≥ b without cancellation: by 16-point Gauss–Legendre quadrature
    of the density when (a − b)(1 + |a|) < ½ (the difference is then small against Φ),
    else from the tails on the side where they are small."""
    a, b = np.broadcast_arrays(arr(a), arr(b))
    w = a - b
    short = w * (1.0 + np.abs(a)) < 0.5
    out = np.where(b >= 0.0, special.ndtr(-b) - special.ndtr(-a),
                   special.ndtr(a) - special.ndtr(b))
    if short.any():
        bs, ws = b[short], w[short]
        x = bs[:, None] + ws[:, None] * _GL_X[None, :]
        dens = np.exp(-0.5 * x * x) @ _GL_W
        out[short] = ws * dens / math.sqrt(2.0 * math.pi)
    return out


# ------------------------------------------------------------------ continuous families


def normal(z: np.ndarray) -> np.ndarray:
    """CRPS of N(0, 1) at z: z erf(z/√2) + 2φ(z) − 1/√π (Gneiting et al. 2005, eq. 5)."""
    return z * special.erf(z * SQRT_HALF) + 2.0 * np.exp(-0.5 * z * z - HALF_LOG_2PI) \
        - INV_SQRT_PI


def laplace(z: np.ndarray) -> np.ndarray:
    """CRPS of the standard Laplace at z: |z| + e^(−|z|) − ¾ (Jordan, Krüger and Lerch
    2019, scoringRules; from E|X − z| = |z| + e^(−|z|) and E|X − X′| = 3/2)."""
    a = np.abs(z)
    return a + np.exp(-a) - 0.75


def student_t(z: np.ndarray, df: Any) -> np.ndarray:
    """CRPS of the standard t_ν at z. For ν > 1 (Jordan, Krüger and Lerch 2019):

        z(2F(z) − 1) + 2 f(z)(ν + z²)/(ν − 1) − 2√ν B(½, ν − ½) / ((ν − 1) B(½, ν/2)²),

    with |z|·P(|T| ≤ |z|) = |z| I_{z²/(ν+z²)}(½, ν/2) for the first term and the Beta
    functions in log space (`log_beta_half`). ν = ∞ is the normal's. For ½ < ν ≤ 1 the
    mean is infinite and that kernel form fails, but ∫(F − 1{z ≤ x})² dx is finite (F² has
    tails |x|^(−2ν)): `student_t_heavy`, which also serves 1 < ν < 2, where the closed
    form's second and third terms, both ~1/(ν − 1), cancel. ν ≤ ½ gives ∞."""
    z, df = np.broadcast_arrays(arr(z), arr(df))
    out = np.full(z.shape, np.inf)
    gauss = np.isinf(df)
    if gauss.any():
        out[gauss] = normal(z[gauss])
    ok = (df >= T_HEAVY) & ~gauss
    if ok.any():
        zz, nu = z[ok], df[ok]
        z2 = zz * zz
        first = np.abs(zz) * special.betainc(0.5, 0.5 * nu, z2 / (nu + z2))
        log_f = -log_beta_half(0.5 * nu) - 0.5 * np.log(nu) - 0.5 * (nu + 1.0) * np.log1p(
            z2 / nu)
        second = 2.0 * np.exp(log_f) * (nu + z2) / (nu - 1.0)
        third = np.exp(math.log(2.0) + 0.5 * np.log(nu) + log_beta_half(nu - 0.5)
                       - np.log(nu - 1.0) - 2.0 * log_beta_half(0.5 * nu))
        out[ok] = first + second - third
    heavy = (df > 0.5) & (df < T_HEAVY)
    if heavy.any():
        out[heavy] = student_t_heavy(z[heavy], df[heavy])
    return out


T_HEAVY = 2.0  # below this ν, `student_t_heavy`
T_STEP = 0.25
T_FROM, T_TO = -40.0, 20.0


def student_t_heavy(z: np.ndarray, nu: np.ndarray) -> np.ndarray:
    """CRPS of the standard t_ν at z for ν > ½, from d CRPS/dz = 2F(z) − 1:

        CRPS(z) = C(ν) + |z| P(|T| ≤ |z|) − 2 f(0) ν (L/2) exprel(−(ν − 1)L/2),

    L = log(1 + z²/ν) (the last term is 2∫₀^|z| t f(t) dt in closed form, ν log(1 + z²)/π at
    ν = 1), and C(ν) = CRPS(0) = 2∫_{−∞}^0 F(t)² dt. With t = −eᵘ that is 2∫ F(−eᵘ)² eᵘ du;
    its tail is A² e^((1 − 2ν)u)(1 + O(e^(−2u))), A = f(0) ν^((ν − 1)/2), so
    G(u) = A² e^((1 − 2ν)u) (1 + e^(−2u))^(−ν), whose integral is ½A² B(ν − ½, ½), is
    taken out and the rest (decaying like eᵘ and e^(−(1 + 2ν)u), analytic in |Im u| < π/2)
    integrated by the trapezoid rule on [−40, 20], step ¼ (error ~e^(−π²/h) ≈ 1e-17)."""
    z, nu = np.broadcast_arrays(arr(z), arr(nu))
    vals, inv = np.unique(nu, return_inverse=True)
    log_f0 = -log_beta_half(0.5 * vals) - 0.5 * np.log(vals)
    u = np.arange(T_FROM, T_TO + 0.5 * T_STEP, T_STEP)
    const = np.empty(vals.size)
    rows = max(1, BLOCK_CELLS // u.size)
    for s in range(0, vals.size, rows):
        v = vals[s:s + rows, None]
        lf0 = log_f0[s:s + rows, None]
        x = special.expit(np.log(v) - 2.0 * u[None, :])  # ν/(ν + t²), t = −eᵘ
        f_sq = np.square(0.5 * special.betainc(0.5 * v, 0.5, x)) * np.exp(u)[None, :]
        log_a2 = 2.0 * lf0 + (v - 1.0) * np.log(v)
        g = np.exp(log_a2 + (1.0 - 2.0 * v) * u[None, :]
                   - v * np.log1p(np.exp(-2.0 * u))[None, :])
        rest = (f_sq - g).sum(axis=1) * T_STEP
        half = 0.5 * np.exp(log_a2[:, 0] + special.betaln(v[:, 0] - 0.5, 0.5))
        const[s:s + rows] = 2.0 * (half + rest)
    a = np.abs(z)
    z2 = a * a
    big_l = np.log1p(z2 / nu)
    first = a * special.betainc(0.5, 0.5 * nu, z2 / (nu + z2))
    tail = np.exp(log_f0[inv]) * nu * big_l * special.exprel(-0.5 * (nu - 1.0) * big_l)
    return const[inv] + first - tail


def gamma(y: np.ndarray, mu: Any, k: Any) -> np.ndarray:
    """CRPS of Gamma(shape k, mean μ) at y ≥ 0 (Scheuerer and Möller 2015's
    y(2F_k(y) − 1) − μ(2F_{k+1}(y) − 1) − μ/(k B(½, k)), rearranged with
    P(k + 1, x) = P(k, x) − xᵏe⁻ˣ/Γ(k + 1), x = ky/μ):

        (y − μ)(2P(k, x) − 1) + 2μ xᵏe⁻ˣ/Γ(k + 1) − μ / (k B(½, k)),

    the middle term as exp(k[log1p(v) − v] − ½ log(2πk) − δ(k)), v = y/μ − 1, from k = 10
    on (no cancellation between k log x and log Γ(k + 1))."""
    y, mu, k = np.broadcast_arrays(arr(y), arr(mu), arr(k))
    x = y * (k / mu)
    with np.errstate(divide="ignore", invalid="ignore"):
        big = k >= 10.0
        kb = np.where(big, k, 10.0)
        v = y / mu - 1.0
        stir = kb * (np.log1p(v) - v) - 0.5 * np.log(2.0 * math.pi * kb) - stirling_delta(kb)
        direct = special.xlogy(k, x) - x - special.gammaln(k + 1.0)
        log_g = np.where(big, stir, direct)
    return ((y - mu) * (2.0 * special.gammainc(k, x) - 1.0) + 2.0 * mu * np.exp(log_g)
            - mu * np.exp(-np.log(k) - log_beta_half(k)))


def lognormal(y: np.ndarray, m: Any, s: Any) -> np.ndarray:
    """CRPS of the log-normal with median m and log-scale σ at y ≥ 0 (Baran and Lerch
    2015's y(2Φ(z) − 1) − 2M[Φ(z − σ) + Φ(σ/√2) − 1], z = log(y/m)/σ, M = m e^(σ²/2)),
    rearranged as

        (y − M) erf(z/√2) + 2M[Φ(z) − Φ(z − σ)] − M erf(σ/2)

    with y − M = M expm1(σz − σ²/2) and Φ(z) − Φ(z − σ) by `phi_diff`: at small σ the
    terms are of the size of the score (≈ mσ), not of m."""
    y, m, s = np.broadcast_arrays(arr(y), arr(m), arr(s))
    big_m = m * np.exp(0.5 * s * s)
    with np.errstate(divide="ignore", invalid="ignore"):
        lr = np.log(y / m)
        z = lr / s
        ymm = np.where(y > 0.0, big_m * np.expm1(lr - 0.5 * s * s), -big_m)
        erfz = np.where(y > 0.0, special.erf(z * SQRT_HALF), -1.0)
    z = np.where(y > 0.0, z, -np.inf)
    zc = np.where(np.isfinite(z), z, 0.0)
    diff = np.where(np.isfinite(z), phi_diff(zc, zc - s), 0.0)
    return ymm * erfz + 2.0 * big_m * diff - big_m * special.erf(0.5 * s)


KI_SPLIT = 2.0  # below it `scaled_bickley` subtracts ∫₀ˣK₀ from π/2
KI_STEP = 0.2
_KI_T = np.arange(0.0, 7.0 + 0.5 * KI_STEP, KI_STEP)


def scaled_bickley(x: Any) -> np.ndarray:
    """eˣ Ki₁(x) for x ≥ 0, Ki₁(x) = ∫₀^{π/2} e^(−x sec θ) dθ = ∫ₓ^∞ K₀(t) dt (the Bickley
    function). Below x = 2 as eˣ(π/2 − ∫₀ˣK₀) (scipy's iti0k0; the difference keeps more
    than 15 digits there). From x = 2 on, with sec θ = cosh w and sinh(w/2) = t/√(2x),

        eˣ Ki₁(x) = √(2/x) ∫₀^∞ e^(−t²) / ((1 + t²/x) √(1 + t²/(2x))) dt,

    by the trapezoid rule (step 0.2, t ≤ 7): the integrand is even and analytic in
    |Im t| < √x, so the error is below e^(d² − 2πd/0.2) at d = 1.4, about 1e-17."""
    x = arr(x)
    small = x < KI_SPLIT
    xs = np.where(small, x, KI_SPLIT)
    near = np.exp(xs) * (0.5 * math.pi - special.iti0k0(xs)[1])
    xb = np.where(small, KI_SPLIT, x)[..., None]
    t2 = np.square(_KI_T)
    g = np.exp(-t2) / ((1.0 + t2 / xb) * np.sqrt(1.0 + t2 / (2.0 * xb)))
    far = np.sqrt(2.0 / xb[..., 0]) * KI_STEP * (g.sum(axis=-1) - 0.5 * g[..., 0])
    return np.where(small, near, far)


def inverse_gaussian(y: np.ndarray, mu: Any, phi: Any) -> np.ndarray:
    """CRPS of the inverse Gaussian IG(mean μ, shape λ = 1/φ) at y ≥ 0, κ = λ/μ = 1/(φμ),
    a = (y/μ − 1)/√(φy), b = (y/μ + 1)/√(φy), F(y) = Φ(a) + e^(2κ)Φ(−b):

        (y − μ)(2F(y) − 1) + 4μ e^(2κ)Φ(−b) − (2μ/π) e^(2κ) Ki₁(2κ).

    E|X − y| = (y − μ)(2F(y) − 1) + 2(μF(y) − E[X 1{X ≤ y}]) with the partial mean
    E[X 1{X ≤ y}] = μ(Φ(a) − e^(2κ)Φ(−b)). For E|X − X′| = 4E[X F(X)] − 2μ, substituting
    s = √x turns f(x) dx into φ(a) da − e^(2κ)φ(b) db (b² = a² + 4κ), so that
    E[e^(2κ)Φ(−b(X))] = e^(2κ)∫Φ(−√(a² + 4κ))φ(a) da = e^(2κ) P(N₁N₂ ≥ 2κ)/2 (N₁, N₂
    independent standard normals) = e^(2κ) Ki₁(2κ)/(2π), and ½E|X − X′| =
    4μ E[e^(2κ)Φ(−b(X))]. e^(2κ)Φ(−b) is taken in log space (b ≥ 2√κ) and 2F − 1 as
    F − (1 − F), each tail from its own side (`InverseGaussian.logcdf`/`logsf`'s forms)."""
    y, mu, phi = np.broadcast_arrays(arr(y), arr(mu), arr(phi))
    kappa = 1.0 / (phi * mu)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = 1.0 / np.sqrt(phi * y)
        r = y / mu
        a, b = (r - 1.0) * s, (r + 1.0) * s
        log_tail = 2.0 * kappa + special.log_ndtr(-b)  # log e^(2κ)Φ(−b)
        log_tail = np.where(y > 0.0, log_tail, -np.inf)
        cdf = np.exp(np.logaddexp(special.log_ndtr(a), log_tail))
        la = special.log_ndtr(-a)
        d = np.where(np.isnan(log_tail - la), -np.inf, np.minimum(log_tail - la, 0.0))
        sf = np.exp(la + log1mexp(d))
    cdf = np.where(y > 0.0, cdf, 0.0)
    sf = np.where(y > 0.0, sf, 1.0)
    return ((y - mu) * (cdf - sf) + 4.0 * mu * np.exp(log_tail)
            - (2.0 / math.pi) * mu * scaled_bickley(2.0 * kappa))


def beta(y: np.ndarray, mu: Any, phi: Any) -> np.ndarray:
    """CRPS of Beta(a = μφ, b = (1 − μ)φ) at y ∈ [0, 1] (Taillardat et al. 2016's
    y(2F(y) − 1) + μ(1 − 2F_{a+1,b}(y)) − 2B(2a, 2b)/(φ B(a, b)²), rearranged with
    I_y(a + 1, b) = I_y(a, b) − yᵃ(1 − y)ᵇ/(a B(a, b))):

        (y − μ)(2F(y) − 1) + 2 yᵃ(1 − y)ᵇ / (φ B(a, b)) − 2 B(2a, 2b) / (φ B(a, b)²)."""
    y, mu, phi = np.broadcast_arrays(arr(y), arr(mu), arr(phi))
    a = mu * phi
    b = (1.0 - mu) * phi
    lb = special.betaln(a, b)
    with np.errstate(divide="ignore"):
        log_dens = special.xlogy(a, y) + special.xlog1py(b, -y) - lb
    half_gini = np.exp(special.betaln(2.0 * a, 2.0 * b) - 2.0 * lb)
    return ((y - mu) * (2.0 * special.betainc(a, b, y) - 1.0)
            + 2.0 * (np.exp(log_dens) - half_gini) / phi)


# ------------------------------------------------------------------ compound Poisson–gamma

TW_STEP = 0.15  # trapezoid step of `tweedie_half_gini` in x
TW_REACH = 36.0


def tweedie_half_gini(lam: Any, alpha: Any, gam: Any) -> np.ndarray:
    """½E|X − X′| of X = Σ_{j≤N} G_j, N ~ Poisson(λ), G_j ~ Gamma(α, scale γ), by the
    Fourier form E|D| = (2/π)∫₀^∞ (1 − |φ_X(t)|²)/t² dt with |φ_X(t)|² =
    exp(−2λ(1 − Re(1 − iγt)^(−α))) and γt = tan θ, Re(1 − iγt)^(−α) = cos^α θ cos αθ:

        ½E|X − X′| = (γ/π) ∫₀^{π/2} [1 − e^(−2λh(θ))] / sin²θ dθ,  h = 1 − cos^α θ cos αθ,

    h as −expm1(α log cos θ) cos αθ + 2 sin²(αθ/2) (log cos θ = log1p(−2 sin²(θ/2)): no
    cancellation where θ is small). As `nb_sums.nb_half_gini_fourier`, by the trapezoid rule
    in x with θ = (π/2)/(1 + e^(−x)), x ∈ [min(x₀, 0) − 36, 36], x₀ = −log(π sd/γ) (sd² =
    λα(α + 1)γ² the variance); the integrand decays like e^(−|x − x₀|) on both sides. The
    step is 0.15 up to α = 8 and 0.15·8/α beyond, where cos αθ oscillates within the
    integrand (p near 1: α = 99 at p = 1.01); against adaptive quadrature its relative error
    stays below 1e-9 over λ from 1e-3 to 1e5 and p from 1.01 to 1.99 (tested)."""
    lam, alpha, gam = np.broadcast_arrays(arr(lam), arr(alpha), arr(gam))
    shape = lam.shape
    lam, alpha, gam = lam.ravel(), alpha.ravel(), gam.ravel()
    n = lam.size
    out = np.empty(n)
    with np.errstate(divide="ignore"):
        x0 = np.minimum(-np.log(math.pi * np.sqrt(lam * alpha * (alpha + 1.0))), 0.0)
    x0 = np.clip(np.where(np.isfinite(x0), x0, 0.0), -300.0, 0.0)
    # cos αθ turns α/8 times faster than θ does in x (dθ/dx ≤ π/8): the step shrinks with it
    step = TW_STEP / max(1.0, float(alpha.max()) / 8.0) if n else TW_STEP
    first = np.floor((x0 - TW_REACH) / step).astype(np.int64)
    lo, hi = (int(first.min()), int(math.ceil(TW_REACH / step))) if n else (0, 0)
    x = np.arange(lo, hi + 1, dtype=np.float64) * step
    sig = special.expit(x)
    theta = (0.5 * math.pi) * sig
    half = np.sin(0.5 * theta)
    log_cos = np.log1p(-2.0 * half * half)
    s2 = np.square(np.sin(theta))
    weight = (0.5 * math.pi) * sig * special.expit(-x) / s2
    one_alpha = (_tweedie_h(alpha[0], theta, log_cos)
                 if n and np.all(alpha == alpha[0]) else None)
    rows = max(1, BLOCK_CELLS // max(x.size, 1))
    order = np.argsort(first, kind="stable")
    for s in range(0, n, rows):
        idx = order[s:s + rows]
        j0 = int(first[idx].min()) - lo
        lm = lam[idx, None]
        if one_alpha is not None:  # h(θ) is the same for every row: computed once
            h = one_alpha[None, j0:]
        else:
            h = _tweedie_h(alpha[idx, None], theta[None, j0:], log_cos[None, j0:])
        with np.errstate(over="ignore", invalid="ignore"):
            g = -np.expm1(-2.0 * lm * h)
        g *= weight[None, j0:]
        g[np.arange(j0 + lo, hi + 1)[None, :] < first[idx, None]] = 0.0
        out[idx] = g.sum(axis=1) * (step / math.pi) * gam[idx]
    return out.reshape(shape)


def _tweedie_h(alpha: Any, theta: np.ndarray, log_cos: np.ndarray) -> np.ndarray:
    """h = 1 − cos^α θ cos αθ = −expm1(α log cos θ) cos αθ + 2 sin²(αθ/2)."""
    b = alpha * theta
    return -np.expm1(alpha * log_cos) * np.cos(b) + 2.0 * np.square(np.sin(0.5 * b))


def tweedie(y: np.ndarray, mu: Any, phi: Any, p: Any) -> np.ndarray:
    """CRPS of Tweedie(μ, φ, p), 1 < p < 2, at y ≥ 0: E|X − y| − ½E|X − X′| with
    X = Σ_{j≤N} G_j (λ = μ^(2−p)/(φ(2 − p)), G ~ Gamma(α = (2 − p)/(p − 1), scale
    γ = φ(p − 1)μ^(p−1))). Given N = n ≥ 1, X is Gamma(nα, γ), so E|X − y| =
    e^(−λ) y + Σ_n Pois(n; λ) E|S_n − y| with the gamma's E|S − y| = (y − m)(2P(k, x) − 1)
    + 2m xᵏe⁻ˣ/Γ(k + 1) (k = nα, m = kγ, x = y/γ; see `gamma`), over n within λ ± (12√λ
    + 30) (the Poisson weights left out are below e^(−70)); ½E|X − X′| by
    `tweedie_half_gini`."""
    y, mu, phi, p = np.broadcast_arrays(arr(y), arr(mu), arr(phi), arr(p))
    shape = y.shape
    y, mu, phi, p = y.ravel(), mu.ravel(), phi.ravel(), p.ravel()
    lam = np.power(mu, 2.0 - p) / (phi * (2.0 - p))
    alpha = (2.0 - p) / (p - 1.0)
    gam = phi * (p - 1.0) * np.power(mu, p - 1.0)
    xx = y / gam
    out = np.exp(-lam) * y
    span = np.ceil(12.0 * np.sqrt(lam) + 30.0)
    n = np.maximum(np.floor(lam - span), 1.0)
    top = lam + span
    rows = np.arange(y.size)
    while rows.size:
        lr = lam[rows]
        w = np.exp(n * np.log(lr) - lr - special.gammaln(n + 1.0))
        k = n * alpha[rows]
        m = k * gam[rows]
        x = xx[rows]
        with np.errstate(divide="ignore", invalid="ignore"):
            log_g = special.xlogy(k, x) - x - special.gammaln(k + 1.0)
        term = (y[rows] - m) * (2.0 * special.gammainc(k, x) - 1.0) + 2.0 * m * np.exp(log_g)
        out[rows] += w * term
        n = n + 1.0
        more = n <= top[rows]
        rows, n = rows[more], n[more]
    return (out - tweedie_half_gini(lam, alpha, gam)).reshape(shape)


# ------------------------------------------------------------------ censored laws

LOWER_STEP = 0.15  # trapezoid step of `lower_square` in v = log t
LOWER_BELOW = 28.0  # the window starts e^28 below the row's scale
LOWER_TAIL = 1e-13  # … and ends beyond the quantile of this level


def lower_square(family: Any, c: Any, pred: Any, params: dict) -> np.ndarray:
    """∫_{−∞}^c F(x)² dx per row, from the family's `logcdf` and `ppf`: with x = c − t,
    t = eᵛ, it is ∫ F(c − eᵛ)² eᵛ dv, taken by the trapezoid rule (step 0.15) in v. The
    integrand is F(c)² eᵛ (1 + O(eᵛ/s)) for eᵛ ≪ s, s the interquartile range, so the
    window starts at log s − 28 (leaving out about e^(−28) of the integral); it ends one unit
    of v beyond log(c − F⁻¹(1e-13) + s), past which F² < 1e-26. For a c.d.f. analytic
    near the real axis below c (the Student t, the log-normal of log(1 + y)) the
    rule's error falls like e^(−2πd/h), d the half-width of the strip; a family whose
    c.d.f. has a kink there (a Laplace law at its median) gives a closed form instead."""
    c = arr(c)
    shape = np.broadcast_shapes(c.shape, np.shape(pred),
                                *(np.shape(v) for v in params.values()))
    rows = int(np.prod(shape))
    cb = np.broadcast_to(c, shape).ravel()
    with np.errstate(all="ignore"):
        lo_q = np.broadcast_to(family.ppf(LOWER_TAIL, pred, params), shape).ravel()
        iqr = (np.broadcast_to(family.ppf(0.75, pred, params), shape).ravel()
               - np.broadcast_to(family.ppf(0.25, pred, params), shape).ravel())
    iqr = np.where(np.isfinite(iqr) & (iqr > 0.0), iqr, 1.0)
    reach = np.where(np.isfinite(lo_q), np.maximum(cb - lo_q, 0.0), 0.0) + iqr
    v_lo = np.log(iqr) - LOWER_BELOW
    count = np.ceil((np.log(reach) + 1.0 - v_lo) / LOWER_STEP).astype(np.int64) + 1
    out = np.zeros(rows)
    pb = np.broadcast_to(arr(pred), shape).ravel()
    pars = {k: np.broadcast_to(arr(v), shape).ravel() for k, v in params.items() if np.ndim(v)}
    take = max(1, BLOCK_CELLS // max(int(count.max()) if rows else 1, 1))
    for start in range(0, rows, take):
        idx = np.arange(start, min(start + take, rows))
        v = v_lo[idx, None] + LOWER_STEP * np.arange(int(count[idx].max()))[None, :]
        grid = v.shape
        sub = {**params, **{k: np.broadcast_to(val[idx, None], grid).ravel()
                            for k, val in pars.items()}}
        with np.errstate(all="ignore"):
            lf = family.logcdf((cb[idx, None] - np.exp(v)).ravel(),
                               np.broadcast_to(pb[idx, None], grid).ravel(), sub)
            g = np.exp(2.0 * lf.reshape(grid) + v)
        # the nodes past a row's own count are beyond its window: they add below 1e-26
        out[idx] = np.where(np.isfinite(g), g, 0.0).sum(axis=1) * LOWER_STEP
    return out.reshape(shape)


def normal_lower_square(c: np.ndarray) -> np.ndarray:
    """∫_{−∞}^c Φ(x)² dx = cΦ(c)² + 2φ(c)Φ(c) − Φ(√2 c)/√π (its derivative is Φ(c)²; all
    three terms vanish at −∞)."""
    c = arr(c)
    big_phi = special.ndtr(c)
    dens = np.exp(-0.5 * c * c - HALF_LOG_2PI)
    return c * big_phi * big_phi + 2.0 * dens * big_phi - INV_SQRT_PI * special.ndtr(
        math.sqrt(2.0) * c)


def asymmetric_laplace_lower_square(z: np.ndarray, tau: Any) -> np.ndarray:
    """∫_{−∞}^z F(x)² dx for the standard asymmetric Laplace law of level τ (F(x) =
    τe^((1 − τ)x) below 0, 1 − (1 − τ)e^(−τx) above; the Laplace law b = 1 is τ = ½ with
    x/2): τ²/(2(1 − τ)) e^(2(1 − τ)z) for z ≤ 0, and above 0 that at z = 0 plus
    z − 2(1 − τ)(1 − e^(−τz))/τ + (1 − τ)²(1 − e^(−2τz))/(2τ)."""
    z, tau = np.broadcast_arrays(arr(z), arr(tau))
    u = 1.0 - tau
    with np.errstate(over="ignore"):
        below = tau * tau / (2.0 * u) * np.exp(2.0 * u * np.minimum(z, 0.0))
    zp = np.maximum(z, 0.0)
    above = (zp + 2.0 * u * np.expm1(-tau * zp) / tau
             - u * u * np.expm1(-2.0 * tau * zp) / (2.0 * tau))
    return below + np.where(z > 0.0, above, 0.0)


# ------------------------------------------------------------------ discrete families


def poisson(y: np.ndarray, mu: Any) -> np.ndarray:
    """CRPS of Poisson(μ) at an integer y ≥ 0 on the counting measure (Wei and Held 2014):

        (y − μ)(2F(y) − 1) + 2μ f(y) − μ e^(−2μ)[I₀(2μ) + I₁(2μ)],

    with the exponentially scaled Bessel functions i0e, i1e (the unscaled ones overflow
    from μ ≈ 355, and μʸ/y! from y ≈ 150) and f(y) from `log_factorial_ratio`."""
    y, mu = np.broadcast_arrays(arr(y), arr(mu))
    f = np.exp(log_factorial_ratio(y, mu))
    two = 2.0 * mu
    out = ((y - mu) * (2.0 * special.pdtr(y, mu) - 1.0) + two * f
           - mu * (special.i0e(two) + special.i1e(two)))
    return small_at_zero(out, y, mu, np.zeros(mu.shape), lambda k, m, a: special.pdtrc(k, m))


SMALL_MEAN = 0.01
SMALL_TERMS = 12


def small_at_zero(out: np.ndarray, y: np.ndarray, mu: np.ndarray, alpha: np.ndarray,
                  sf) -> np.ndarray:
    """At y = 0 with a small mean the closed forms give the score (≈ μ²) as μ − ½E|X − X′|,
    losing eps·μ; there it is Σ_{k≥0} S(k)² directly, S(k) = P(X > k) (`sf`), with
    S(k + 1)/S(k) < 0.02 when μ < 0.01 and αμ < 0.01: 12 terms leave out < 1e-20 of it."""
    rows = (y == 0.0) & (mu < SMALL_MEAN) & (alpha * mu < SMALL_MEAN)
    if rows.any():
        m, a = mu[rows][:, None], alpha[rows][:, None]
        k = np.arange(SMALL_TERMS, dtype=np.float64)[None, :]
        out = np.array(out, dtype=np.float64)
        out[rows] = np.square(sf(k, m, a)).sum(axis=1)
    return out




def poisson_ppf(q: float, mu: Any) -> np.ndarray:
    """min{k : F(k) ≥ q} for Poisson(μ): ⌈pdtrik(q, μ)⌉, then checked on F and moved by
    whole steps (pdtrik inverts the continuous extension Q(k + 1, μ))."""
    mu = arr(mu)
    with np.errstate(invalid="ignore"):
        k = np.ceil(special.pdtrik(q, mu))
    k = np.where(np.isfinite(k) & (mu > 0.0), np.maximum(k, 0.0), 0.0)
    mu_b = np.broadcast_to(mu, k.shape).ravel()
    return settle(k.ravel(), lambda kk, r: special.pdtr(kk, mu_b[r]), q).reshape(k.shape)


def settle(k: np.ndarray, cdf, q: float, steps: int = 64) -> np.ndarray:
    """Move integer guesses k to min{k ≥ 0 : F(k) ≥ q} by unit steps (a few at most from an
    inverse of the continuous extension); `cdf(k, rows)` is F(k) of the given rows, and
    only the rows still moving are evaluated again."""
    k = np.array(k, dtype=np.float64)
    rows = np.arange(k.size)
    for _ in range(steps):
        up = cdf(k[rows], rows) < q
        if not up.any():
            break
        rows = rows[up]
        k[rows] += 1.0
    rows = np.flatnonzero(k > 0.0)
    for _ in range(steps):
        down = cdf(k[rows] - 1.0, rows) >= q
        if not down.any():
            break
        rows = rows[down]
        k[rows] -= 1.0
        rows = rows[k[rows] > 0.0]
    return k


# ------------------------------------------------------------------ discretised families

DISC_FAR = 1e-8  # the window's quantiles on the side away from y
DISC_GAP = 1e-10  # … and between the bulk and an outlying y
DISC_MAX_TERMS = 1 << 17  # terms per row at most


def discretised(family: Any, lower: float, y: np.ndarray, pred: Any, params: dict
                ) -> np.ndarray:
    """Σ_k (G(k) − 1{y ≤ k})² over the integers k ≥ `lower`, G(k) = F(k + ½) the c.d.f. of
    the continuous `family` put on unit intervals (Discretised), for integer y.

    Truncation. With q(ε) = F⁻¹(ε) − ½ the sum runs over a window of consecutive k, each
    term from the tail that is small there (G² below y, (1 − G)² = S(k + ½)² from y on):
    - away from y, down to ⌊q(ε₁)⌋ − 1 (up to ⌈q(1 − ε₁)⌉ + 1), ε₁ = 1e-8: the terms left
      out are G(k)² < ε₁ G(k), in all below ε₁ ∫F over the tail — for t_ν about
      ε₁² |F⁻¹(ε₁)|/(ν − 1), ≤ 1e-11 of the score from ν = 3/2 on, far less for the
      other families' light tails;
    - towards an outlying y, down to y but not beyond ⌊q(ε₂)⌋ − 1, ε₂ = 1e-10: the terms
      between there and y are (1 − G)² with G < ε₂, counted as 1 each (relative error
      below 2ε₂, as the score is at least their number).
    Work per row is at most DISC_MAX_TERMS terms. A row whose window is wider (a scale of
    ~10⁴ units, t tails with ν near 1, or a far outlier of a heavy-tailed t) is scored by
    the midpoint rule's Euler–Maclaurin expansion instead: the sum is the midpoint rule
    for ∫(F − 1{y ≤ x})² dx on unit cells, i.e. the continuous CRPS, and its first
    correction at the jump y is −f(y)/12 (the next, 7f″(y)/2880, is O(scale⁻³); it is not
    accurate at small scales).
    """
    y = arr(y)
    shape = y.shape
    y = y.ravel()
    pred_a = arr(pred)
    per_row = np.ndim(pred_a) > 0

    def take(idx: np.ndarray) -> tuple[Any, dict]:
        p = np.broadcast_to(pred_a, shape).ravel()[idx] if per_row else pred
        ps = {k: (np.broadcast_to(arr(v), shape).ravel()[idx] if np.ndim(v) else v)
              for k, v in params.items()}
        return p, ps

    def edge(q: float) -> np.ndarray:
        with np.errstate(invalid="ignore", over="ignore"):
            return np.broadcast_to(family.ppf(q, pred, params), shape).ravel() - 0.5

    lo_far, lo_gap = np.floor(edge(DISC_FAR)) - 1.0, np.floor(edge(DISC_GAP)) - 1.0
    hi_far, hi_gap = np.ceil(edge(1.0 - DISC_FAR)) + 1.0, np.ceil(edge(1.0 - DISC_GAP)) + 1.0
    lo = np.maximum(lo_gap, np.minimum(y, lo_far))
    hi = np.minimum(hi_gap, np.maximum(y - 1.0, hi_far))
    if lower > -math.inf:
        lo = np.maximum(lo, lower)
    hi = np.maximum(hi, lo)
    # the terms between the window and an outlying y, each 1 to within ε₂
    out = np.maximum(np.maximum(lo_gap, lower) - y, 0.0) + np.maximum(y - 1.0 - hi_gap, 0.0)
    width = hi - lo + 1.0
    wide = ~(width <= DISC_MAX_TERMS)  # NaN windows too
    rows = np.flatnonzero(~wide)
    if rows.size:
        cw = width[rows].astype(np.int64)
        ends = np.cumsum(cw)
        start = 0
        while start < rows.size:
            base = ends[start - 1] if start else 0
            stop = int(np.searchsorted(ends, base + BLOCK_CELLS, side="right"))
            stop = max(stop, start + 1)
            idx = rows[start:stop]
            counts = cw[start:stop]
            owner = np.repeat(np.arange(idx.size), counts)
            first = np.cumsum(counts) - counts
            k = lo[idx][owner] + (np.arange(owner.size) - first[owner])
            p, ps = take(idx[owner])
            x = k + 0.5
            above = k >= y[idx][owner]
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                lt = np.where(above, family.logsf(x, p, ps), family.logcdf(x, p, ps))
                terms = np.exp(2.0 * lt)
            out[idx] += np.bincount(owner, weights=terms, minlength=idx.size)
            start = stop
    rows = np.flatnonzero(wide)
    if rows.size:
        p, ps = take(rows)
        yr = y[rows]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            out[rows] = family.crps(yr, p, ps) - np.exp(family.loglik(yr, p, ps)) / 12.0
    return out.reshape(shape)
