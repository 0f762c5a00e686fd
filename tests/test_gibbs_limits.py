"""The Gaussian limit of huber, pseudo_huber and fair (δ = ∞, c = ∞; SPEC §9.3): the
densities there against scipy's normal, the normalisers near it against quadrature, the
fits that run to it (0/1 targets, Gaussian noise) against an independent Gaussian MLE,
and run-offs the other way (towards the Laplace) that must not end at the Gaussian."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, optimize, stats

from losscli.errors import FitError
from losscli.noise import FAMILIES
from tests.conftest import model, run_api

LIMITED = ("huber", "pseudo_huber", "fair")


def at_limit(name: str, sigma: float) -> dict:
    return {"c": math.inf, "tau": sigma * sigma} if name == "fair" else {
        "sigma": sigma, "delta": math.inf}


def near_limit(name: str, sigma: float, shape: float) -> dict:
    """Parameters with the family's scale-free shape (δ/σ, c/√τ) at `shape`."""
    if name == "fair":
        return {"c": shape * sigma, "tau": sigma * sigma}
    return {"sigma": sigma, "delta": shape * sigma}


@pytest.mark.parametrize("name", LIMITED)
def test_the_density_at_the_limit_is_the_gaussian(name):
    fam = FAMILIES[name]()
    r = np.linspace(-7.0, 7.0, 57)
    got = fam.log_density(r, at_limit(name, 1.7))
    np.testing.assert_allclose(got, stats.norm.logpdf(r, scale=1.7), rtol=1e-13, atol=1e-13)
    tail = fam.log_tail(np.array([-2.0, 0.0, 1.0, 4.0]), at_limit(name, 1.7))
    np.testing.assert_allclose(tail, stats.norm.logsf([-2.0, 0.0, 1.0, 4.0], scale=1.7),
                               rtol=1e-9)


@pytest.mark.parametrize("name", ("pseudo_huber", "fair"))
@pytest.mark.parametrize("shape", [0.05, 0.7, 3.0, 20.0, 60.0, 400.0, 3e3, 1e5])
def test_the_normaliser_near_the_limit_against_quadrature(name, shape):
    """log Z in closed form (fair: the Stirling-remainder form, its series branch from
    a = c²/τ ≥ 50) against adaptive quadrature of the exponent written here."""
    fam = FAMILIES[name]()
    p = near_limit(name, 0.8, shape)
    if name == "fair":
        c, tau = p["c"], p["tau"]

        def f(t):
            u = t / c
            return math.exp(-(c * c / tau) * (u - math.log1p(u)))
    else:
        s, d = p["sigma"], p["delta"]

        def f(t):  # δ²/σ²(√(1 + (t/δ)²) − 1) without its cancellation at large δ
            return math.exp(-(t / s) ** 2 / (math.sqrt(1.0 + (t / d) ** 2) + 1.0))

    knots = [0.0, 0.8, 8.0, 80.0]
    half = sum(integrate.quad(f, a, b, epsabs=0.0, epsrel=1e-13, limit=400)[0]
               for a, b in zip(knots[:-1], knots[1:], strict=False))
    half += integrate.quad(f, knots[-1], np.inf, epsabs=0.0, epsrel=1e-13, limit=400)[0]
    assert float(fam.log_norm(p)) == pytest.approx(math.log(2.0 * half), rel=1e-11, abs=1e-11)


def discretised_gaussian_sigma(y: np.ndarray, pred: np.ndarray) -> float:
    """σ maximising Σ log[Φ((y + ½ − ŷ)/σ) − Φ((y − ½ − ŷ)/σ)], by scipy alone."""
    def nll(log_s):
        s = math.exp(log_s)
        return -np.sum(np.log(stats.norm.cdf((y + 0.5 - pred) / s)
                              - stats.norm.cdf((y - 0.5 - pred) / s)))

    res = optimize.minimize_scalar(nll, bounds=(-6.0, 3.0), method="bounded",
                                   options={"xatol": 1e-10})
    return math.exp(res.x)


@pytest.fixture(scope="module")
def binary():
    rng = np.random.default_rng(3)
    p = rng.uniform(0.05, 0.95, 600)
    return (rng.uniform(size=600) < p).astype(np.float64), p


@pytest.mark.parametrize("name", LIMITED)
def test_a_binary_target_reaches_the_gaussian_limit_in_few_evaluations(name, binary):
    """0/1 targets: the discretised likelihood keeps rising towards the Gaussian; the
    search stops there within a few hundred likelihoods (it used to run for thousands)
    and the fit is the discretised Gaussian's."""
    y, p = binary
    fam = FAMILIES[name]()
    calls = [0]
    inner = fam.interval_loglik

    def counted(*a, **k):
        calls[0] += 1
        return inner(*a, **k)

    fam.interval_loglik = counted
    got = fam.fit_counting(y, None, p)
    assert calls[0] < 300
    want = at_limit(name, discretised_gaussian_sigma(y, p))
    assert got == {k: pytest.approx(v, rel=1e-7) for k, v in want.items()}
    assert fam.fit_warnings(got) == [
        f"the fit reached the Gaussian limit ({'c' if name == 'fair' else 'delta'} = ∞)"]


@pytest.mark.parametrize("name", LIMITED)
def test_gaussian_noise_gives_the_gaussian_or_a_better_interior_fit(name):
    rng = np.random.default_rng(11)
    pred = rng.normal(size=3000)
    y = pred + rng.normal(scale=0.9, size=3000)
    fam = FAMILIES[name]()
    got = fam.fit(y, None, pred)
    sigma = math.sqrt(np.mean((y - pred) ** 2))
    gauss = stats.norm.logpdf(y - pred, scale=sigma).sum()
    ll = fam.loglik(y, pred, got).sum()
    assert ll >= gauss - 1e-9 * abs(gauss)
    if any(math.isinf(v) for v in got.values()):
        assert ll == pytest.approx(gauss, rel=1e-12)


@pytest.mark.parametrize("name", LIMITED)
def test_heavy_tails_never_end_at_the_gaussian(name):
    """Cauchy noise: the likelihood rises towards the Laplace side, so the Gaussian limit
    is no answer: an interior fit that beats the Laplace, or an error that names it."""
    rng = np.random.default_rng(9)
    pred = rng.normal(size=400)
    y = pred + rng.standard_cauchy(400)
    fam = FAMILIES[name]()
    try:
        got = fam.fit(y, None, pred)
    except FitError as exc:
        assert "Laplace limit" in str(exc)
    else:
        assert all(math.isfinite(v) for v in got.values())
        r = y - pred
        laplace = stats.laplace.logpdf(r, scale=np.mean(np.abs(r))).sum()
        assert fam.loglik(y, pred, got).sum() >= laplace


def test_all_families_on_a_binary_file(tmp_path, binary):
    """`-f all` on 0/1 targets: each location family at its limit has the Gaussian's
    cross-entropy and says so in a warning."""
    y, p = binary
    path = tmp_path / "b.csv"
    np.savetxt(path, np.column_stack([y, p]), delimiter=",", header="y,p", comments="",
               fmt=["%d", "%.17g"])
    rep = run_api("compare-noise-models", path, families=("all",))
    g = model(rep, "gaussian")
    for name in LIMITED:
        m = model(rep, name)
        assert m["cross_entropy"] == pytest.approx(g["cross_entropy"], rel=1e-9)
        assert any(name in w and "Gaussian limit" in w for w in rep["warnings"])
