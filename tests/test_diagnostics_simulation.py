"""Seeded size and power of the diagnostics' tests (SPEC §7.4).

The statistics of thousands of replications are built with vectorised numpy from the sums
SPEC §7.4 names and handed to `losscli.diagnostics.checks`, the functions the command
finishes its sums with; a few replications run end to end through `losscli.diagnose` to
show that both paths give the same numbers.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special, stats

import losscli
from losscli.diagnostics import checks, pit

N = 2000  # rows per replication
REPS = 2000  # replications
CHUNK = 250  # replications simulated at once
LEVEL = 0.05
SIZE_BAND = (0.035, 0.065)  # ±3 standard errors of a 5 % rate over 2,000 replications


def poisson_sums(y: np.ndarray, mu: np.ndarray) -> dict[str, np.ndarray]:
    """Per replication (rows of y), the sums the Poisson tests take; mu is shared."""
    r = y - mu
    r2 = r * r
    p0 = np.exp(-mu)
    return {
        "w": np.full(y.shape[0], float(y.shape[1])),
        "f": np.full(y.shape[0], mu.sum()), "f2": np.full(y.shape[0], (mu * mu).sum()),
        "t": y.sum(axis=1), "r2": r2.sum(axis=1), "dean_c": ((r2 - y) / mu).sum(axis=1),
        "pearson_f": (r2 / mu).sum(axis=1),
        "zeros": (y == 0).sum(axis=1).astype(float), "p0": np.full(y.shape[0], p0.sum()),
        "p0v": np.full(y.shape[0], (p0 * (1 - p0)).sum()),
        "p0f": np.full(y.shape[0], (p0 * mu).sum()),
        "res": r.sum(axis=1), "var": np.full(y.shape[0], mu.sum()),
    }


def one(sums: dict[str, np.ndarray], i: int) -> dict[str, float]:
    return {k: float(v[i]) for k, v in sums.items()}


def poisson_tests(s: dict[str, float]) -> dict[str, dict]:
    """Every conditional Poisson test, as the command finishes them."""
    W = s["w"]
    out = {t["kind"]: t for t in checks.dean(s, W, 0, True)}
    out["zero_inflation"] = checks.zeros(s, False, True)
    out["calibration_in_the_large"] = checks.calibration(s, W, True)
    return out


def simulate_poisson(seed: int, mu: np.ndarray, draw) -> dict[str, np.ndarray]:
    """p-values of the Poisson tests over REPS replications of y = draw(rng, shape)."""
    rng = np.random.default_rng(seed)
    kinds = ("dispersion_dean_a", "dispersion_dean_b", "dispersion_dean_c",
             "zero_inflation", "calibration_in_the_large")
    p = {k: np.empty(REPS) for k in kinds}
    for start in range(0, REPS, CHUNK):
        y = draw(rng, (CHUNK, mu.size)).astype(np.float64)
        sums = poisson_sums(y, mu)
        for i in range(CHUNK):
            tests = poisson_tests(one(sums, i))
            for k in kinds:
                p[k][start + i] = tests[k]["p_value"]
    return p


def _means(seed: int) -> np.ndarray:
    return np.exp(np.random.default_rng(seed).normal(1.0, 0.5, N))


@pytest.fixture(scope="module")
def poisson_null():
    mu = _means(1)
    return mu, simulate_poisson(2, mu, lambda rng, shape: rng.poisson(mu, shape))


@pytest.mark.parametrize("kind", ["dispersion_dean_b", "dispersion_dean_c", "zero_inflation",
                                  "calibration_in_the_large"])
def test_poisson_tests_hold_their_size_at_the_true_means(poisson_null, kind):
    _, p = poisson_null
    rate = float(np.mean(p[kind] < LEVEL))
    assert SIZE_BAND[0] <= rate <= SIZE_BAND[1], rate


def test_dean_a_is_not_exact_its_variance_ignores_the_poisson_term():
    """A's numerator Σ[(y − μ)² − μ] has variance Σ(μ + 2μ²), not 2Σμ²: at small means
    (μ ≈ 0.6) its size is well above the nominal 5 % (why `exact` is false for it), while
    B, whose numerator has variance exactly 2Σμ², keeps it."""
    mu = np.exp(np.random.default_rng(10).normal(-0.5, 0.3, N))
    p = simulate_poisson(11, mu, lambda rng, shape: rng.poisson(mu, shape))
    inflate = math.sqrt(np.sum(mu + 2 * mu ** 2) / np.sum(2 * mu ** 2))
    expected = 2 * stats.norm.sf(stats.norm.isf(LEVEL / 2) / inflate)
    rate = float(np.mean(p["dispersion_dean_a"] < LEVEL))
    assert rate > 0.1
    assert rate == pytest.approx(expected, abs=0.025)
    rate_b = float(np.mean(p["dispersion_dean_b"] < LEVEL))
    assert SIZE_BAND[0] <= rate_b <= SIZE_BAND[1], rate_b


def test_poisson_dean_b_rejects_negative_binomial_data():
    """NB2 with α = 0.5 (Var = μ + 0.5μ²) at the true means: the Poisson dispersion test
    rejects in at least 99 % of replications."""
    mu = _means(3)
    alpha = 0.5
    r = 1.0 / alpha
    p = simulate_poisson(4, mu, lambda rng, shape: rng.negative_binomial(
        r, 1.0 / (1.0 + alpha * mu), shape))
    for kind in ("dispersion_dean_b", "dispersion_dean_c"):
        assert float(np.mean(p[kind] < LEVEL)) >= 0.99, kind


def test_the_simulated_poisson_tests_equal_the_command_end_to_end():
    mu = _means(5)
    rng = np.random.default_rng(6)
    for _ in range(3):
        y = rng.poisson(mu, (1, N)).astype(np.float64)
        mine = poisson_tests(one(poisson_sums(y, mu), 0))
        rep = losscli.diagnose({"y": y[0], "y_pred": mu}, family="poisson").to_dict()
        got = {t["kind"]: t for t in rep["models"][0]["diagnostics"]["tests"]}
        assert set(got) == set(mine)
        for kind, t in mine.items():
            assert got[kind]["statistic"] == pytest.approx(t["statistic"], rel=1e-10), kind
            assert got[kind]["p_value"] == pytest.approx(t["p_value"], rel=1e-9), kind
            assert got[kind]["exact"] == t["exact"], kind


# ------------------------------------------------------------------ bernoulli


def bernoulli_tests(y: np.ndarray, p: np.ndarray) -> list[tuple[dict, dict]]:
    r = y - p
    sums = {"res": r.sum(axis=1), "var": np.full(y.shape[0], (p * (1 - p)).sum()),
            "sp": (r * (1 - 2 * p)).sum(axis=1),
            "spv": np.full(y.shape[0], ((1 - 2 * p) ** 2 * p * (1 - p)).sum())}
    W = float(y.shape[1])
    out = []
    for i in range(y.shape[0]):
        s = one(sums, i)
        out.append((checks.calibration(s, W, True), checks.spiegelhalter(s, W, True)))
    return out


def test_bernoulli_calibration_tests_hold_their_size():
    rng = np.random.default_rng(7)
    p = rng.uniform(0.02, 0.98, N)
    rates = np.zeros(2)
    for _ in range(REPS // CHUNK):
        y = (rng.random((CHUNK, N)) < p).astype(np.float64)
        for cal, sp in bernoulli_tests(y, p):
            rates += [cal["p_value"] < LEVEL, sp["p_value"] < LEVEL]
    rates /= REPS
    assert SIZE_BAND[0] <= rates[0] <= SIZE_BAND[1], rates
    assert SIZE_BAND[0] <= rates[1] <= SIZE_BAND[1], rates
    # end to end, one replication
    y = (rng.random((1, N)) < p).astype(np.float64)
    cal, sp = bernoulli_tests(y, p)[0]
    rep = losscli.diagnose({"y": y[0], "p": p}, family="bernoulli").to_dict()
    got = {t["kind"]: t for t in rep["models"][0]["diagnostics"]["tests"]}
    assert got["calibration_in_the_large"]["statistic"] == pytest.approx(cal["statistic"],
                                                                         rel=1e-10)
    assert got["spiegelhalter"]["statistic"] == pytest.approx(sp["statistic"], rel=1e-10)


# ------------------------------------------------------------------ gaussian PIT


def gaussian_pit(y: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """u = Φ((y − μ)/σ̂) per replication, σ̂² = Σ(y − μ)²/n (the conditional MLE)."""
    r = y - mu
    sigma = np.sqrt(np.mean(r * r, axis=1, keepdims=True))
    return special.ndtr(r / sigma)


def ks_distance(u: np.ndarray) -> np.ndarray:
    """D = sup |F̂(u) − u| per row."""
    s = np.sort(u, axis=1)
    n = u.shape[1]
    i = np.arange(1, n + 1)
    return np.maximum((i / n - s).max(axis=1), (s - (i - 1) / n).max(axis=1))


def test_gaussian_ks_and_tail_tests_are_not_liberal():
    rng = np.random.default_rng(8)
    mu = rng.normal(0.0, 2.0, N)
    reject = np.zeros(2)
    for start in range(0, REPS, CHUNK):
        y = mu + rng.normal(0.0, 1.5, (CHUNK, N))
        u = gaussian_pit(y, mu)
        d = ks_distance(u)
        tails = ((u < pit.TAIL) | (u > 1 - pit.TAIL)).sum(axis=1).astype(float)
        if start == 0:  # the vectorised D is the library's exact one
            for i in range(3):
                assert d[i] == pytest.approx(pit.ks_exact(u[i], None), rel=1e-12)
        for i in range(CHUNK):
            ks = checks.uniformity(float(d[i]), float(N), True, False)
            tl = checks.tail(float(tails[i]), float(N), True, False)
            reject += [ks["p_value"] < LEVEL, tl["p_value"] < LEVEL]
    rate = reject / REPS
    assert rate[0] <= SIZE_BAND[1], rate
    assert rate[1] <= SIZE_BAND[1], rate


def test_the_simulated_gaussian_tests_equal_the_command_end_to_end():
    rng = np.random.default_rng(9)
    mu = rng.normal(0.0, 2.0, N)
    for _ in range(2):
        y = mu + rng.standard_t(5.0, (1, N))
        u = gaussian_pit(y, mu)
        d = float(ks_distance(u)[0])
        tails = float(((u < pit.TAIL) | (u > 1 - pit.TAIL)).sum())
        rep = losscli.diagnose({"y": y[0], "y_pred": mu}, family="gaussian").to_dict()
        got = {t["kind"]: t for t in rep["models"][0]["diagnostics"]["tests"]}
        ks = checks.uniformity(d, float(N), True, False)
        tl = checks.tail(tails, float(N), True, False)
        assert got["pit_uniformity"]["statistic"] == pytest.approx(ks["statistic"], rel=1e-9)
        assert got["pit_uniformity"]["p_value"] == pytest.approx(ks["p_value"], rel=1e-6)
        assert got["tail_exceedance"]["statistic"] == tl["statistic"]
        assert got["tail_exceedance"]["p_value"] == pytest.approx(tl["p_value"], rel=1e-12)
