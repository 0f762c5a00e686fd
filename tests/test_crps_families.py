"""The CRPS of the families whose law has an atom at 0 or no scipy closed form (SPEC §8.3):
the inverse Gaussian, log1p_normal, the real families censored at 0, the hurdle laws and
tweedie, each against ∫(F(x) − 1{y ≤ x})² dx taken here by scipy quadrature of a c.d.f.
from scipy.stats or written in the test; and the mean CRPS through the commands (weights
are repetition, batches change nothing)."""

from __future__ import annotations

import math

import numpy as np
import properscoring
import pytest
from scipy import integrate, special, stats

from losscli.noise import FAMILIES
from losscli.noise.censored import Censored
from tests.conftest import model, run_api

REL = 1e-8
KW = dict(epsabs=0.0, epsrel=1e-13, limit=500)


def fam(name: str):
    return FAMILIES[name]()


def crps_by_quad(cdf, y: float, lower: float, cuts=(), sf=None) -> float:
    """∫_lower^∞ (F(x) − 1{y ≤ x})² dx: F² below y, S² above (S = 1 − F, or `sf`),
    split at `cuts`."""
    sf = sf or (lambda x: 1.0 - cdf(x))
    below = sorted({lower, y, *(c for c in cuts if lower < c < y)})
    total = sum(integrate.quad(lambda x: cdf(x) ** 2, a, b, **KW)[0]
                for a, b in zip(below[:-1], below[1:], strict=True))
    above = sorted({y, *(c for c in cuts if c > y)})
    total += sum(integrate.quad(lambda x: sf(x) ** 2, a, b, **KW)[0]
                 for a, b in zip(above[:-1], above[1:], strict=True))
    return total + integrate.quad(lambda x: sf(x) ** 2, above[-1], math.inf, **KW)[0]


# ------------------------------------------------------------------ inverse Gaussian

IG_CASES = [(1.0, 1.0), (2.0, 0.05), (0.5, 10.0), (3.0, 1e-4), (1.0, 200.0)]


@pytest.mark.parametrize("mu,phi", IG_CASES)
def test_inverse_gaussian_closed_form(mu, phi):
    dist = stats.invgauss(mu=phi * mu, scale=1.0 / phi)
    ys = np.array([1e-3, 0.5 * mu, mu, 2.0 * mu, 10.0 * mu])
    got = fam("inverse_gaussian").crps(ys, mu, {"dispersion": phi})
    cuts = [float(v) for v in dist.ppf([1e-3, 0.25, 0.5, 0.75, 0.999])]
    for y, g in zip(ys, got, strict=True):
        want = crps_by_quad(lambda x: float(dist.cdf(x)), float(y), 0.0, cuts,
                            lambda x: float(dist.sf(x)))
        assert g == pytest.approx(want, rel=REL)


def test_inverse_gaussian_per_row_and_properscoring():
    mu = np.array([0.7, 1.5, 4.0])
    phi = np.array([0.3, 1.2, 0.02])
    y = np.array([0.4, 2.5, 3.9])
    got = fam("inverse_gaussian").crps(y, mu, {"dispersion": phi})
    for i in range(3):
        dist = stats.invgauss(mu=phi[i] * mu[i], scale=1.0 / phi[i])
        want = properscoring.crps_quadrature(y[i], dist, xmin=0.0,
                                             xmax=float(dist.isf(1e-14)), tol=1e-5)
        assert got[i] == pytest.approx(float(want), rel=1e-6)


def test_inverse_gaussian_ppf_matches_scipy():
    q = 0.9
    got = fam("inverse_gaussian").ppf(q, np.array([1.0, 2.0]), {"dispersion": 0.5})
    want = stats.invgauss.ppf(q, np.array([0.5, 1.0]), scale=2.0)
    np.testing.assert_allclose(got, want, rtol=1e-12)


# ------------------------------------------------------------------ log1p_normal

@pytest.mark.parametrize("m,sigma", [(0.5, 0.8), (3.0, 0.1), (0.05, 2.0)])
def test_log1p_normal_is_the_shifted_lognormal(m, sigma):
    dist = stats.lognorm(s=sigma, scale=1.0 + m, loc=-1.0)
    ys = np.array([-0.5, 0.0, m, 2.0 + 3.0 * m])
    got = fam("log1p_normal").crps(ys, m, {"sigma": sigma})
    cuts = [float(v) for v in dist.ppf([1e-3, 0.25, 0.5, 0.75, 0.999])]
    for y, g in zip(ys, got, strict=True):
        want = crps_by_quad(lambda x: float(dist.cdf(x)), float(y), -1.0, cuts,
                            lambda x: float(dist.sf(x)))
        assert g == pytest.approx(want, rel=REL)


# ------------------------------------------------------------------ censored at 0

def asym_laplace(m, tau, s):
    """The c.d.f. and survival function of the quantile family's asymmetric Laplace law."""
    def cdf(x):
        r = x - m
        return tau * math.exp((1 - tau) * r / s) if r < 0 else 1 - sf(x)

    def sf(x):
        r = x - m
        return 1 - cdf(x) if r < 0 else (1 - tau) * math.exp(-tau * r / s)
    return cdf, sf


CENSORED = [
    ("gaussian", 0.5, {"sigma": 1.0}, lambda: stats.norm(0.5, 1.0)),
    ("gaussian", -2.0, {"sigma": 1.5}, lambda: stats.norm(-2.0, 1.5)),
    ("laplace", 0.3, {"scale": 0.8}, lambda: stats.laplace(0.3, 0.8)),
    ("laplace", -1.0, {"scale": 2.0}, lambda: stats.laplace(-1.0, 2.0)),
    ("student_t", 0.5, {"df": 3.0, "scale": 1.0}, lambda: stats.t(3.0, 0.5, 1.0)),
    ("student_t", -0.5, {"df": 1.5, "scale": 0.5}, lambda: stats.t(1.5, -0.5, 0.5)),
    ("log1p_normal", 0.5, {"sigma": 0.8}, lambda: stats.lognorm(s=0.8, scale=1.5, loc=-1.0)),
    ("log1p_normal", 0.05, {"sigma": 2.0}, lambda: stats.lognorm(s=2.0, scale=1.05, loc=-1.0)),
    ("quantile", 0.4, {"tau": 0.2, "scale": 0.6}, None),
    ("quantile", 0.4, {"tau": 0.7, "scale": 0.6}, None),
]


@pytest.mark.parametrize("name,pred,params,dist", CENSORED)
def test_censored_at_zero(name, pred, params, dist):
    """G(x) = F(x) for x ≥ 0 (its atom F(0) at 0): ∫₀^∞(F − 1{y ≤ x})² dx."""
    if dist is None:
        cdf, sf = asym_laplace(pred, params["tau"], params["scale"])
        cuts = [pred]
    else:
        d = dist()
        cdf = lambda x: float(d.cdf(x))  # noqa: E731
        sf = lambda x: float(d.sf(x))  # noqa: E731
        cuts = [float(v) for v in d.ppf([1e-3, 0.25, 0.5, 0.75, 0.999])]
    ys = np.array([0.0, 0.2, 1.0, 5.0])
    got = Censored(fam(name)).crps(ys, np.full(ys.size, pred), params)
    for y, g in zip(ys, got, strict=True):
        want = crps_by_quad(cdf, float(y), 0.0, [c for c in cuts if c > 0.0], sf)
        assert g == pytest.approx(want, rel=REL)


def test_censored_per_row_parameters():
    ys = np.array([0.0, 0.3, 2.0])
    pred = np.array([0.2, -0.4, 1.5])
    sig = np.array([0.5, 1.0, 2.0])
    got = Censored(fam("gaussian")).crps(ys, pred, {"sigma": sig})
    for i in range(3):
        d = stats.norm(pred[i], sig[i])
        want = crps_by_quad(lambda x, d=d: float(d.cdf(x)), ys[i], 0.0, (),
                            lambda x, d=d: float(d.sf(x)))
        assert got[i] == pytest.approx(want, rel=REL)


# ------------------------------------------------------------------ hurdle laws

HURDLE = [
    ("hurdle_gamma", 2.0, {"pi": 0.3, "shape": 2.0},
     lambda loc, p: stats.gamma(p["shape"], scale=loc / p["shape"])),
    ("hurdle_gamma", 0.5, {"pi": 0.9, "shape": 0.4},
     lambda loc, p: stats.gamma(p["shape"], scale=loc / p["shape"])),
    ("hurdle_lognormal", 1.5, {"pi": 0.4, "sigma": 0.6},
     lambda loc, p: stats.lognorm(s=p["sigma"], scale=loc)),
    ("hurdle_lognormal", 0.2, {"pi": 0.05, "sigma": 1.5},
     lambda loc, p: stats.lognorm(s=p["sigma"], scale=loc)),
]


@pytest.mark.parametrize("name,pred,params,positive", HURDLE)
def test_hurdle_mixture_with_an_atom(name, pred, params, positive):
    pi = params["pi"]
    g = positive(pred / (1 - pi), params)

    def cdf(x):
        return pi + (1 - pi) * float(g.cdf(x))

    ys = np.array([0.0, 0.05, 1.0, 4.0])
    got = fam(name).crps(ys, pred, params)
    cuts = [float(v) for v in g.ppf([1e-3, 0.25, 0.5, 0.75, 0.999])]
    for y, c in zip(ys, got, strict=True):
        want = crps_by_quad(cdf, float(y), 0.0, cuts, lambda x: (1 - pi) * float(g.sf(x)))
        assert c == pytest.approx(want, rel=REL)


def test_hurdle_per_row():
    ys = np.array([0.0, 1.2, 3.0])
    pred = np.array([1.0, 2.0, 0.7])
    got = fam("hurdle_gamma").crps(ys, pred, {"pi": 0.25, "shape": np.array([1.0, 3.0, 0.5])})
    for i, k in enumerate([1.0, 3.0, 0.5]):
        g = stats.gamma(k, scale=pred[i] / 0.75 / k)
        want = crps_by_quad(lambda x, g=g: 0.25 + 0.75 * float(g.cdf(x)), ys[i], 0.0, (),
                            lambda x, g=g: 0.75 * float(g.sf(x)))
        assert got[i] == pytest.approx(want, rel=REL)


# ------------------------------------------------------------------ tweedie

def tweedie_cdf_sf(mu, phi, p):
    """F and 1 − F of the compound Poisson–gamma, summed here from scipy.stats."""
    lam = mu ** (2 - p) / (phi * (2 - p))
    al = (2 - p) / (p - 1)
    gam = phi * (p - 1) * mu ** (p - 1)
    n = np.arange(1, int(lam + 40 * math.sqrt(lam) + 60))
    w = stats.poisson.pmf(n, lam)

    def cdf(x):
        return math.exp(-lam) + float(np.sum(w * stats.gamma.cdf(x, n * al, scale=gam)))

    def sf(x):
        return float(np.sum(w * stats.gamma.sf(x, n * al, scale=gam)))
    return cdf, sf


@pytest.mark.parametrize("mu,phi,p", [(1.0, 1.0, 1.5), (2.0, 0.5, 1.2), (0.3, 2.0, 1.8),
                                      (0.05, 1.0, 1.3), (20.0, 0.3, 1.6)])
def test_tweedie_against_its_poisson_gamma_mixture(mu, phi, p):
    cdf, sf = tweedie_cdf_sf(mu, phi, p)
    ys = np.array([0.0, 0.3 * mu, mu, 3.0 * mu])
    got = fam("tweedie").crps(ys, mu, {"dispersion": phi, "power": p})
    sd = math.sqrt(phi * mu ** p)
    for y, g in zip(ys, got, strict=True):
        want = crps_by_quad(cdf, float(y), 0.0, [mu, mu + 3 * sd, mu + 10 * sd + 10], sf)
        assert g == pytest.approx(want, rel=REL)


@pytest.mark.parametrize("lam", [1e-3, 0.1, 10.0, 1e3])
@pytest.mark.parametrize("p", [1.01, 1.05, 1.5, 1.99])
def test_tweedie_half_gini_against_mpmath(lam, p):
    """½E|X − X′| = (γ/π)∫₀^{π/2}(1 − e^(−2λh))/sin²θ dθ, h = 1 − cos^α θ cos αθ, in
    mpmath (breakpoints every 0.01 where cos αθ oscillates, α = 99 at p = 1.01)."""
    import mpmath as mp

    from losscli.noise.crps import tweedie_half_gini

    al = (2 - p) / (p - 1)
    with mp.workdps(25):
        L, A = mp.mpf(lam), mp.mpf(al)

        def f(th):
            h = 1 - abs(mp.cos(th)) ** A * mp.cos(A * th)
            return (1 - mp.e ** (-2 * L * h)) / mp.sin(th) ** 2

        th0 = 1 / mp.sqrt(L * A * (A + 1))
        pts = sorted({mp.mpf(0), *(th0 * k for k in (0.25, 1, 4)),
                      *mp.linspace(0.01, mp.pi / 2, 150 if al > 8 else 10)})
        want = float(mp.quad(f, [v for v in pts if v <= mp.pi / 2]) / mp.pi)
    got = float(tweedie_half_gini(np.array([lam]), np.array([al]), 2.0)[0])
    assert got == pytest.approx(2.0 * want, rel=1e-9)


@pytest.mark.parametrize("mu,phi,p", [(5.0, 0.1, 1.01), (1.0, 0.05, 1.99), (0.8, 0.5, 1.05)])
def test_tweedie_at_the_power_bounds(mu, phi, p):
    cdf, sf = tweedie_cdf_sf(mu, phi, p)
    ys = np.array([0.0, mu])
    got = fam("tweedie").crps(ys, mu, {"dispersion": phi, "power": p})
    sd = math.sqrt(phi * mu ** p)
    for y, g in zip(ys, got, strict=True):
        want = crps_by_quad(cdf, float(y), 0.0, [mu, mu + 3 * sd, mu + 10 * sd + 10], sf)
        assert g == pytest.approx(want, rel=REL)


def test_tweedie_per_row_equals_row_by_row():
    ys = np.array([0.0, 0.4, 2.5])
    mu = np.array([0.5, 1.0, 3.0])
    phi = np.array([0.7, 1.5, 0.2])
    got = fam("tweedie").crps(ys, mu, {"dispersion": phi, "power": 1.4})
    for i in range(3):
        cdf, sf = tweedie_cdf_sf(mu[i], phi[i], 1.4)
        want = crps_by_quad(cdf, ys[i], 0.0, [mu[i], 3 * mu[i] + 5], sf)
        assert got[i] == pytest.approx(want, rel=REL)


# ------------------------------------------------------------------ through the commands

SEMI = ("gaussian", "laplace", "student_t", "quantile", "log1p_normal", "hurdle_gamma",
        "hurdle_lognormal", "tweedie")


@pytest.fixture
def claims(rng):
    n = 120
    m = np.exp(rng.normal(0.5, 0.4, n))
    y = np.where(rng.uniform(size=n) < 0.3, 0.0, rng.gamma(2.0, m / 0.7 / 2.0))
    w = rng.integers(1, 4, n).astype(float)
    return y, m, w


def test_semicontinuous_crps_is_reported_and_weights_are_repetition(claims, write_csv):
    y, m, w = claims
    rep_w = run_api("evaluate", write_csv("w.csv", y=y, y_pred=m, w=w), families=SEMI,
                    weight="w", scores=True)
    k = w.astype(int)
    rep_x = run_api("evaluate", write_csv("x.csv", y=np.repeat(y, k), y_pred=np.repeat(m, k)),
                    families=SEMI, scores=True, batch_rows=7)
    assert not any("scores.crps is null" in t for t in rep_w["warnings"])
    for name in SEMI:
        a, b = model(rep_w, name), model(rep_x, name)
        assert a["scores"]["crps"] is not None and math.isfinite(a["scores"]["crps"])
        # the same model up to the fit's tolerance: its CRPS at those parameters, by hand
        fam_ = Censored(fam(name)) if name in SEMI[:5] else fam(name)
        want = np.average(fam_.crps(y, m, a["params"]), weights=w)
        assert a["scores"]["crps"] == pytest.approx(want, rel=1e-12)
        assert b["scores"]["crps"] == pytest.approx(a["scores"]["crps"], rel=1e-6)


def test_inverse_gaussian_and_log1p_normal_on_positive_targets(rng, write_csv):
    m = np.exp(rng.normal(0.5, 0.4, 150))
    y = rng.wald(m, 4.0)
    w = rng.integers(1, 4, y.size).astype(float)
    fams = ("inverse_gaussian", "log1p_normal")
    path = write_csv("p.csv", y=y, y_pred=m, w=w)
    a = run_api("evaluate", path, families=fams, weight="w", scores=True)
    b = run_api("evaluate", path, families=fams, weight="w", scores=True, batch_rows=7)
    for name in fams:
        p = model(a, name)["params"]
        want = np.average(fam(name).crps(y, m, p), weights=w)
        assert model(a, name)["scores"]["crps"] == pytest.approx(want, rel=1e-12)
        assert model(b, name)["scores"]["crps"] == pytest.approx(want, rel=1e-10)


def test_bickley_function_against_its_integral():
    from losscli.noise.crps import scaled_bickley

    for x in (1e-6, 0.5, 1.999, 2.0, 7.0, 300.0):
        # eˣKi₁(x) = ∫₀^∞ e^(−x(cosh w − 1))/cosh w dw
        top = math.acosh(1.0 + 80.0 / x)  # beyond it the integrand is below e^(−80)
        want = integrate.quad(lambda w, x=x: math.exp(-x * (math.cosh(w) - 1.0)) / math.cosh(w),
                              0.0, top, **KW)[0]
        assert float(scaled_bickley(x)) == pytest.approx(want, rel=1e-12)
    # Ki₁(0) = ∫₀^∞ K₀ = π/2
    assert float(scaled_bickley(0.0)) == pytest.approx(math.pi / 2, rel=1e-15)
    assert integrate.quad(special.k0, 0.0, math.inf)[0] == pytest.approx(math.pi / 2, rel=1e-9)


# ------------------------------------------------------------------ pseudo_huber, fair

def gibbs_oracle(expo, scale):
    """F and 1 − F of the symmetric density ∝ exp(expo(r)), normalised and integrated
    here by adaptive quadrature (split at `scale`)."""
    def mass(a, b):
        return integrate.quad(lambda r: math.exp(expo(r)), a, b, **KW)[0]

    half = mass(0.0, scale) + mass(scale, math.inf)

    def upper(t):  # P(R > t), t ≥ 0
        return (mass(t, t + scale) + mass(t + scale, math.inf)) / (2.0 * half)

    def cdf(x):
        return 1.0 - upper(x) if x >= 0 else upper(-x)

    def sf(x):
        return upper(x) if x >= 0 else 1.0 - upper(-x)
    return cdf, sf


GIBBS = [
    ("pseudo_huber", {"sigma": 1.0, "delta": 0.7}, 1.0),
    ("pseudo_huber", {"sigma": 0.5, "delta": 3.0}, 0.5),
    ("fair", {"c": 1.0, "tau": 1.0}, 1.0),
    ("fair", {"c": 0.2, "tau": 2.0}, 10.0),
]


def gibbs_exponent(name, p):
    if name == "pseudo_huber":
        a = (p["delta"] / p["sigma"]) ** 2
        return lambda r: -a * (math.sqrt(1.0 + (r / p["delta"]) ** 2) - 1.0)
    a = p["c"] ** 2 / p["tau"]
    return lambda r: -a * (abs(r) / p["c"] - math.log1p(abs(r) / p["c"]))


@pytest.mark.parametrize("name,params,scale", GIBBS)
def test_gibbs_location_crps_and_ppf(name, params, scale):
    cdf, sf = gibbs_oracle(gibbs_exponent(name, params), scale)
    f = fam(name)
    ys = np.array([0.0, 1.0, -2.0, 8.0])
    got = f.crps(ys + 0.3, 0.3, params)
    for y, g in zip(ys, got, strict=True):
        assert g == pytest.approx(crps_by_quad(cdf, float(y), -math.inf, [-scale, 0.0, scale], sf),
                                  rel=REL)
    for q in (0.025, 0.5, 0.9):
        x = float(f.ppf(q, 0.3, params)) - 0.3
        assert cdf(x) == pytest.approx(q, rel=1e-9)


def test_gibbs_location_per_row_parameters():
    f = fam("pseudo_huber")
    sig = np.array([1.0, 0.5, 1.0])
    dl = np.array([0.7, 3.0, 0.7])
    y = np.array([1.3, -1.7, 8.3])
    got = f.crps(y, 0.3, {"sigma": sig, "delta": dl})
    for i in range(3):
        want = f.crps(np.array([y[i]]), 0.3, {"sigma": float(sig[i]), "delta": float(dl[i])})
        assert got[i] == pytest.approx(float(want[0]), rel=1e-14)
    lo = f.ppf(0.05, np.array([0.0, 1.0, 2.0]), {"sigma": sig, "delta": dl})
    assert lo[0] + 2.0 == pytest.approx(lo[2], rel=1e-14)


def test_quantile_ppf_inverts_its_cdf():
    for tau in (0.2, 0.7):
        cdf, _ = asym_laplace(0.4, tau, 0.6)
        for q in (0.05, tau, 0.5, 0.95):
            x = float(fam("quantile").ppf(q, 0.4, {"tau": tau, "scale": 0.6}))
            assert cdf(x) == pytest.approx(q, rel=1e-12)


# ------------------------------------------------------------------ on the integers

def counting_sum(cdf, sf, y, lo, hi):
    k = np.arange(lo, hi, dtype=np.float64)
    return math.fsum(sf(v + 0.5) ** 2 if v >= y else cdf(v + 0.5) ** 2 for v in k)


@pytest.mark.parametrize("name,pred,params,lower", [
    ("inverse_gaussian", 3.0, {"dispersion": 0.2}, 0),
    ("pseudo_huber", 2.0, {"sigma": 1.5, "delta": 1.0}, None),
    ("quantile", 2.0, {"tau": 0.3, "scale": 1.2}, None),
])
def test_discretised_families_now_with_a_crps(name, pred, params, lower):
    from losscli.noise.discretised import Discretised

    f = fam(name)
    if name == "inverse_gaussian":
        d = stats.invgauss(mu=0.2 * pred, scale=1 / 0.2)
        cdf, sf = (lambda x: float(d.cdf(x))), (lambda x: float(d.sf(x)))
    elif name == "quantile":
        cdf, sf = asym_laplace(pred, params["tau"], params["scale"])
    else:
        c0, s0 = gibbs_oracle(gibbs_exponent(name, params), 1.5)
        cdf, sf = (lambda x: c0(x - pred)), (lambda x: s0(x - pred))
    ys = np.array([0.0, 2.0, 7.0])
    got = Discretised(f).crps(ys, pred, params)
    lo = 0 if lower == 0 else -40
    for y, g in zip(ys, got, strict=True):
        assert g == pytest.approx(counting_sum(cdf, sf, y, lo, 60), rel=1e-8)


def test_every_family_has_a_crps_on_counts(rng, write_csv):
    mu = np.exp(rng.normal(1.0, 0.4, 80))
    y = rng.poisson(mu).astype(float)
    rep = run_api("compare-noise-models", write_csv("c.csv", y=y, y_pred=mu), families=("all",),
                  scores=True)
    assert len(rep["models"]) > 10
    for m in rep["models"]:
        assert m["scores"]["crps"] is not None and math.isfinite(m["scores"]["crps"]), m["family"]
    assert not any("scores.crps" in t for t in rep["warnings"])


def test_pseudo_huber_and_fair_through_the_commands(rng, write_csv):
    mu = rng.normal(0.0, 2.0, 80)
    y = mu + rng.standard_t(5.0, 80)
    w = rng.integers(1, 4, 80).astype(float)
    fams = ("pseudo_huber", "fair")
    a = run_api("evaluate", write_csv("w.csv", y=y, y_pred=mu, w=w), families=fams, weight="w",
                scores=True)
    k = w.astype(int)
    b = run_api("evaluate", write_csv("x.csv", y=np.repeat(y, k), y_pred=np.repeat(mu, k)),
                families=fams, scores=True, batch_rows=7)
    for name in fams:
        p = model(a, name)["params"]
        want = np.average(fam(name).crps(y, mu, p), weights=w)
        assert model(a, name)["scores"]["crps"] == pytest.approx(want, rel=1e-12)
        assert model(b, name)["scores"]["crps"] == pytest.approx(want, rel=1e-6)
        assert model(a, name)["scores"]["intervals"] is not None
