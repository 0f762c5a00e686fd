"""`--scores` (SPEC §8.3) through the commands: the mean CRPS and the central intervals of
each model, against closed forms and scipy written here."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from tests.conftest import model, run_api

LEVELS = (0.5, 0.8, 0.9, 0.95)


def gaussian_crps(y, mu, sigma):
    z = (y - mu) / sigma
    return sigma * (z * (2 * stats.norm.cdf(z) - 1) + 2 * stats.norm.pdf(z)
                    - 1 / math.sqrt(math.pi))


def intervals(y, lo, hi, w=None):
    w = np.ones_like(y) if w is None else w
    out = []
    for level, (lo_, hi_) in zip(LEVELS, zip(lo, hi, strict=True), strict=True):
        a = 1 - level
        score = ((hi_ - lo_) + (2 / a) * np.maximum(lo_ - y, 0)
                 + (2 / a) * np.maximum(y - hi_, 0))
        out.append({"level": level,
                    "coverage": np.sum(w * ((lo_ <= y) & (y <= hi_))) / w.sum(),
                    "mean_width": np.sum(w * (hi_ - lo_)) / w.sum(),
                    "interval_score": np.sum(w * score) / w.sum()})
    return out


def check(got, want):
    assert [g["level"] for g in got] == [x["level"] for x in want]
    for g, x in zip(got, want, strict=True):
        for k in ("coverage", "mean_width", "interval_score"):
            assert g[k] == pytest.approx(x[k], rel=1e-10, abs=1e-14), k


@pytest.fixture
def regression(write_csv, rng):
    n = 300
    mu = rng.normal(0.0, 2.0, n)
    s = np.exp(rng.normal(0.0, 0.3, n))
    y = mu + s * rng.standard_normal(n)
    w = rng.integers(1, 4, n).astype(float)
    return write_csv("r.csv", y=y, y_pred=mu, s=s, w=w), y, mu, s, w


def test_gaussian_scores_with_per_row_sigma(regression):
    path, y, mu, s, _ = regression
    rep = run_api("evaluate", path, families=("gaussian",), param=("sigma=s",), scores=True)
    m = model(rep, "gaussian")
    sc = m["scores"]
    assert sc["log_score"] == m["cross_entropy"]
    assert sc["crps"] == pytest.approx(gaussian_crps(y, mu, s).mean(), rel=1e-10)
    lo = [stats.norm.ppf((1 - v) / 2, mu, s) for v in LEVELS]
    hi = [stats.norm.ppf(1 - (1 - v) / 2, mu, s) for v in LEVELS]
    check(sc["intervals"], intervals(y, lo, hi))


def test_weights_are_repetition(regression, write_csv):
    path, y, mu, s, w = regression
    rep = run_api("evaluate", path, families=("gaussian",), param=("sigma=s",),
                  weight="w", scores=True, batch_rows=41)
    reps = w.astype(int)
    twin = write_csv("twin.csv", y=np.repeat(y, reps), y_pred=np.repeat(mu, reps),
                     s=np.repeat(s, reps))
    flat = run_api("evaluate", twin, families=("gaussian",), param=("sigma=s",),
                   scores=True)
    a, b = model(rep, "gaussian")["scores"], model(flat, "gaussian")["scores"]
    assert a["crps"] == pytest.approx(b["crps"], rel=1e-12)
    for x, z in zip(a["intervals"], b["intervals"], strict=True):
        for k in ("coverage", "mean_width", "interval_score"):
            assert x[k] == pytest.approx(z[k], rel=1e-12)


def test_poisson_scores_on_the_counting_measure(write_csv, rng):
    n = 200
    mu = np.exp(rng.normal(1.0, 0.7, n))
    y = rng.poisson(mu)
    path = write_csv("c.csv", y=y, y_pred=mu)
    rep = run_api("evaluate", path, families=("poisson",), scores=True)
    sc = model(rep, "poisson")["scores"]
    k = np.arange(0, 200)[:, None]
    F = stats.poisson.cdf(k, mu)
    crps = ((F - (y <= k)) ** 2).sum(axis=0)
    assert sc["crps"] == pytest.approx(crps.mean(), rel=1e-9)
    lo = [stats.poisson.ppf((1 - v) / 2, mu) for v in LEVELS]
    hi = [stats.poisson.ppf(1 - (1 - v) / 2, mu) for v in LEVELS]
    check(sc["intervals"], intervals(y.astype(float), lo, hi))


def test_scores_are_null_without_the_flag_and_for_categorical(write_csv, rng):
    y = rng.normal(size=50)
    path = write_csv("p.csv", y=y, y_pred=y + 0.1)
    assert model(run_api("evaluate", path), "gaussian")["scores"] is None
    labels = write_csv("l.csv", label=["a", "b", "a", "c"] * 10,
                       p_a=[0.5] * 40, p_b=[0.3] * 40, p_c=[0.2] * 40)
    rep = run_api("evaluate", labels, scores=True)
    sc = model(rep, "categorical")["scores"]
    assert sc["crps"] is None and sc["log_score"] == model(rep, "categorical")["cross_entropy"]
    assert "categorical: scores.crps is null: the classes have no order" in "\n".join(
        rep["warnings"])
