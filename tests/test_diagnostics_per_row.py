"""Diagnostics of a model whose parameters are given per row or held (SPEC §7, §8.1):
each number is checked against scipy.stats at each row's own parameters, written here,
and a diagnostic that does not apply is absent with a note saying why."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from tests.conftest import model, run_api


def _density(u: np.ndarray) -> list[float]:
    """The exact PIT's 20-bin density: row i in bin min(⌊20u⌋, 19)."""
    j = np.minimum(np.floor(20 * u).astype(int), 19)
    return list(20.0 * np.bincount(j, minlength=20) / u.size)


def _spread_density(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The non-randomised PIT's 20-bin density: each row spread over [lo, hi]."""
    edges = np.linspace(0.0, 1.0, 21)
    a, b = edges[:-1][None, :], edges[1:][None, :]
    lo, hi = lo[:, None], hi[:, None]
    inside = np.clip(np.minimum(hi, b) - np.maximum(lo, a), 0.0, None)
    return 20.0 * (inside / (hi - lo)).sum(axis=0) / lo.shape[0]


def _kinds(d: dict) -> dict:
    return {t["kind"]: t for t in d["tests"]}


@pytest.fixture
def hetero(write_csv, rng):
    n = 600
    mu = rng.normal(0.0, 2.0, n)
    s = np.exp(rng.normal(0.0, 0.5, n))
    y = mu + s * rng.standard_t(6, n)
    df = rng.uniform(2.5, 12.0, n)
    return write_csv("h.csv", y=y, y_pred=mu, s=s, df=df), y, mu, s, df


def test_gaussian_sigma_per_row_pit_and_tests(hetero):
    path, y, mu, s, _ = hetero
    rep = run_api("diagnose", path, families=("gaussian",), param=("sigma=s",))
    d = model(rep, "gaussian")["diagnostics"]
    u = stats.norm.cdf(y, mu, s)
    assert d["pit"]["method"] == "exact"
    assert d["pit"]["density"] == pytest.approx(_density(u), abs=1e-12)
    t = _kinds(d)
    ks = stats.kstest(u, "uniform")
    assert t["pit_uniformity"]["statistic"] == pytest.approx(ks.statistic, rel=1e-10)
    assert t["pit_uniformity"]["p_value"] == pytest.approx(
        stats.kstwo.sf(ks.statistic, y.size), rel=1e-6)
    # nothing fitted: the null is exact
    assert t["pit_uniformity"]["exact"] is True
    z = (y - mu).sum() / math.sqrt((s * s).sum())
    assert t["calibration_in_the_large"]["statistic"] == pytest.approx(z, rel=1e-10)
    tails = int(np.sum((u < 0.001) | (u > 0.999)))
    assert t["tail_exceedance"]["statistic"] == tails
    # the log-score decomposition refits a constant σ: left out, and said why
    assert d["decomposition"] is None
    assert any("no decomposition" in w and "sigma per row" in w for w in rep["warnings"])


def test_gaussian_sigma_per_row_pit_over_many_rows_without_ks_rows(hetero):
    """Beyond --fit-rows the PIT's bins come from the standardised z: the same density."""
    path, y, mu, s, _ = hetero
    rep = run_api("diagnose", path, families=("gaussian",), param=("sigma=s",),
                  fit_rows=100, batch_rows=64)
    d = model(rep, "gaussian")["diagnostics"]
    assert d["pit"]["density"] == pytest.approx(_density(stats.norm.cdf(y, mu, s)),
                                                abs=1e-12)


def test_student_t_df_per_row_reads_each_rows_cdf(hetero):
    path, y, mu, _, df = hetero
    rep = run_api("diagnose", path, families=("student_t",), param=("df=df",))
    m = model(rep, "student_t")
    scale = m["params"]["scale"]
    u = stats.t.cdf(y, df, mu, scale)
    d = m["diagnostics"]
    assert d["pit"]["density"] == pytest.approx(_density(u), abs=1e-12)
    assert _kinds(d)["pit_uniformity"]["statistic"] == pytest.approx(
        stats.kstest(u, "uniform").statistic, rel=1e-8)
    assert _kinds(d)["pit_uniformity"]["exact"] is False  # the scale is fitted
    # the squared-error decomposition reads ŷ alone: it stays
    assert d["decomposition"]["score"] == pytest.approx(np.mean((y - mu) ** 2), rel=1e-12)


def test_student_t_scale_per_row_and_df_fixed(hetero):
    path, y, mu, s, _ = hetero
    rep = run_api("diagnose", path, families=("student_t",), param=("scale=s",),
                  fix=("df=5",), fit_rows=100)
    d = model(rep, "student_t")["diagnostics"]
    assert d["pit"]["density"] == pytest.approx(_density(stats.t.cdf(y, 5.0, mu, s)),
                                                abs=1e-12)


def test_student_t_df_fixed(hetero):
    path, y, mu, _, _ = hetero
    rep = run_api("diagnose", path, families=("student_t",), fix=("df=4",))
    m = model(rep, "student_t")
    u = stats.t.cdf(y, 4.0, mu, m["params"]["scale"])
    assert m["diagnostics"]["pit"]["density"] == pytest.approx(_density(u), abs=1e-12)


def test_gamma_shape_per_row(write_csv, rng):
    n = 500
    mu = np.exp(rng.normal(1.0, 0.3, n))
    k = np.exp(rng.normal(1.0, 0.4, n))
    y = rng.gamma(k, mu / k)
    path = write_csv("g.csv", y=y, y_pred=mu, k=k)
    rep = run_api("diagnose", path, families=("gamma",), param=("shape=k",))
    d = model(rep, "gamma")["diagnostics"]
    u = stats.gamma.cdf(y, k, scale=mu / k)
    assert d["pit"]["density"] == pytest.approx(_density(u), abs=1e-12)
    z = (y - mu).sum() / math.sqrt((mu * mu / k).sum())
    assert _kinds(d)["calibration_in_the_large"]["statistic"] == pytest.approx(z, rel=1e-10)
    assert d["decomposition"] is None


@pytest.fixture
def nb(write_csv, rng):
    n = 500
    mu = np.exp(rng.normal(1.2, 0.6, n))
    a = np.exp(rng.normal(-1.0, 0.6, n))
    y = rng.negative_binomial(1 / a, 1 / (1 + a * mu))
    return write_csv("nb.csv", y=y, y_pred=mu, a=a), y, mu, a


def test_negative_binomial_alpha_per_row(nb):
    path, y, mu, a = nb
    rep = run_api("diagnose", path, families=("negative_binomial",), param=("alpha=a",))
    d = model(rep, "negative_binomial")["diagnostics"]
    r, p = 1 / a, 1 / (1 + a * mu)
    lo, hi = stats.nbinom.cdf(y - 1, r, p), stats.nbinom.cdf(y, r, p)
    assert d["pit"]["method"] == "nonrandomized"
    assert d["pit"]["density"] == pytest.approx(list(_spread_density(lo, hi)), abs=1e-9)
    t = _kinds(d)
    x2 = np.sum((y - mu) ** 2 / (mu + a * mu * mu))
    assert t["dispersion_pearson"]["statistic"] == pytest.approx(x2, rel=1e-10)
    p0 = stats.nbinom.pmf(0, r, p)
    z = (np.sum(y == 0) - p0.sum()) / math.sqrt(np.sum(p0 * (1 - p0)))
    assert t["zero_inflation"]["statistic"] == pytest.approx(z, rel=1e-9)
    assert t["zero_inflation"]["exact"] is True  # α given, nothing fitted
    # the p.m.f. recurrence needs one α: no rootogram, and a note that says why
    assert d["rootogram"] is None
    assert any("no rootogram" in w and "alpha is given per row" in w
               for w in rep["warnings"])
    assert d["decomposition"] is None


def test_negative_binomial_alpha_fixed_keeps_the_rootogram(nb):
    path, y, mu, _ = nb
    rep = run_api("diagnose", path, families=("negative_binomial",), fix=("alpha=0.4",))
    d = model(rep, "negative_binomial")["diagnostics"]
    r, p = 1 / 0.4, 1 / (1 + 0.4 * mu)
    root = d["rootogram"]
    k = np.array(root["k"][:-1])
    expected = stats.nbinom.pmf(k[:, None], r, p[None, :]).sum(axis=1)
    assert root["expected"][:-1] == pytest.approx(list(expected), rel=1e-9)
    assert root["expected"][-1] == pytest.approx(stats.nbinom.sf(k[-1], r, p).sum(),
                                                 rel=1e-7)


def test_gaussian_sigma_per_row_on_the_counting_measure(write_csv, rng):
    """On integer targets each row's PIT spreads over [F(y − ½), F(y + ½)] at its own σ,
    and the squared-error decomposition (ŷ alone) stays."""
    n = 400
    mu = rng.normal(10.0, 3.0, n)
    s = np.exp(rng.normal(0.5, 0.4, n))
    y = np.round(mu + s * rng.normal(size=n))
    path = write_csv("c.csv", y=y.astype(int), y_pred=mu, s=s)
    rep = run_api("compare-noise-models", path, families=("gaussian", "laplace"),
                  param=("gaussian.sigma=s",), diagnostics=True)
    assert rep["base_measure"] == "counting"
    d = model(rep, "gaussian")["diagnostics"]
    lo, hi = stats.norm.cdf(y - 0.5, mu, s), stats.norm.cdf(y + 0.5, mu, s)
    assert d["pit"]["method"] == "nonrandomized"
    assert d["pit"]["density"] == pytest.approx(list(_spread_density(lo, hi)), abs=1e-9)
    assert d["decomposition"]["scoring"] == "squared_error"
    assert d["decomposition"]["score"] == pytest.approx(np.mean((y - mu) ** 2), rel=1e-12)
