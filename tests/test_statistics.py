"""The last pass's named statistics (losscli.statistics): each checked against a direct
computation, and merged states equal to one state over every row."""

import math

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    brier_score_loss,
    mean_absolute_error,
    mean_squared_error,
)

from losscli.reduce import Extremes, Moments
from losscli.statistics import (
    PAIR_GROUP_VALUES,
    Baseline,
    ClassifierMetrics,
    Deviance,
    LogLikelihood,
    PairDifferences,
    PointErrors,
)

rng = np.random.default_rng(7)


def _split(n: int, parts: int) -> list[slice]:
    cuts = np.sort(rng.choice(np.arange(1, n), parts - 1, replace=False))
    edges = [0, *cuts.tolist(), n]
    return [slice(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True)]


@pytest.mark.parametrize("cls", [LogLikelihood, Baseline])
def test_log_likelihood_sums_weighted_rows_however_split(cls):
    ll = rng.normal(size=1000)
    w = rng.uniform(0.5, 2.0, size=1000)
    whole = cls()
    whole.update(ll, w)
    assert whole.finalize() == pytest.approx(float(np.dot(ll, w)), rel=1e-13)
    states = []
    for sl in _split(1000, 5):
        s = cls()
        s.update(ll[sl], w[sl])
        states.append(s)
    merged = states[0]
    for s in states[1:]:
        merged.merge(s)
    assert merged.finalize() == pytest.approx(whole.finalize(), rel=1e-13)


def test_classifier_metrics_match_scikit_learn_on_binary_targets():
    p = rng.uniform(0.01, 0.99, size=500)
    y = (rng.uniform(size=500) < p).astype(np.float64)
    logq = np.log(np.stack([1.0 - p, p]))
    state = ClassifierMetrics()
    for sl in _split(500, 4):
        part = ClassifierMetrics()
        part.update(y[sl], logq[:, sl], None, True)
        state.merge(part)
    out = state.finalize(500.0)
    assert out["accuracy"] == pytest.approx(accuracy_score(y, p > 0.5), rel=1e-12)
    assert out["brier"] == pytest.approx(brier_score_loss(y, p), rel=1e-12)
    # ECE by its definition: 15 equal bins (i/15, (i+1)/15] of the confidence
    conf = np.maximum(p, 1.0 - p)
    hit = ((p > 0.5) == (y == 1.0)).astype(float)
    ece = 0.0
    for b in range(15):
        inb = (conf > b / 15) & (conf <= (b + 1) / 15)
        ece += abs(hit[inb].sum() - conf[inb].sum())
    assert out["ece"] == pytest.approx(ece / 500.0, rel=1e-10)


def test_point_errors_match_scikit_learn_and_r2_its_definition():
    y = rng.normal(size=300)
    yhat = y + rng.normal(scale=0.3, size=300)
    w = rng.uniform(0.1, 3.0, size=300)
    state = PointErrors()
    for sl in _split(300, 3):
        part = PointErrors()
        part.update(y[sl], yhat[sl], w[sl])
        state.merge(part)
    W = float(w.sum())
    sst = float(np.dot(w, (y - np.dot(w, y) / W) ** 2))
    out = state.finalize(W, sst)
    mse = mean_squared_error(y, yhat, sample_weight=w)
    assert out["mse"] == pytest.approx(mse, rel=1e-12)
    assert out["rmse"] == pytest.approx(math.sqrt(mse), rel=1e-12)
    assert out["mae"] == pytest.approx(mean_absolute_error(y, yhat, sample_weight=w),
                                       rel=1e-12)
    assert out["r2"] == pytest.approx(1.0 - mse * W / sst, rel=1e-12)
    assert state.finalize(W, 0.0)["r2"] is None


def test_deviance_mean_and_d2():
    d_model = rng.uniform(0.0, 1.0, size=200)
    d_null = d_model + rng.uniform(0.0, 1.0, size=200)
    state = Deviance()
    state.update(d_model[:50], d_null[:50], None)
    other = Deviance()
    other.update(d_model[50:], d_null[50:], None)
    out = state.merge(other).finalize(200.0)
    assert out["mean_deviance"] == pytest.approx(d_model.mean(), rel=1e-12)
    assert out["d2"] == pytest.approx(1.0 - d_model.sum() / d_null.sum(), rel=1e-12)


def test_pair_differences_moments_and_extremes_however_updated():
    d = rng.normal(loc=3.0, size=(3, 400))
    w = rng.uniform(0.5, 2.0, size=400)
    rows = np.arange(400) + 1.0
    together = [PairDifferences() for _ in range(3)]
    one_by_one = [PairDifferences() for _ in range(3)]
    moments, extremes = Moments(3), Extremes(3)
    for sl in _split(400, 6):
        PairDifferences.update_all(together, d[:, sl], rows[sl], w[sl], w[sl])
        for k in range(3):
            one_by_one[k].update(d[k, sl], rows[sl], w[sl])
        moments.update(d[:, sl], w[sl])
        extremes.update(d[:, sl], rows[sl], w[sl])
    for k in range(3):  # bit for bit the vector states' numbers
        assert together[k].finalize() == (moments.W, moments.mean[k], moments.m2[k])
        assert together[k].extreme_rows() == (tuple(extremes.hi[k]), tuple(extremes.lo[k]))
    W = float(w.sum())
    for k in range(3):
        mean = float(np.dot(w, d[k]) / W)
        m2 = float(np.dot(w, (d[k] - mean) ** 2))
        for state in (together[k], one_by_one[k]):
            got_W, got_mean, got_m2 = state.finalize()
            assert got_W == pytest.approx(W, rel=1e-13)
            assert got_mean == pytest.approx(mean, rel=1e-12)
            assert got_m2 == pytest.approx(m2, rel=1e-12)
            hi, lo = state.extreme_rows()
            j, i = int(np.argmax(d[k])), int(np.argmin(d[k]))
            assert hi == (d[k, j], j + 1.0, w[j])
            assert lo == (d[k, i], i + 1.0, w[i])


def test_pair_differences_merge_in_any_grouping_and_ties_keep_the_earlier_row():
    d = np.array([1.0, 5.0, -2.0, 5.0, -2.0, 0.5])
    rows = np.arange(6) + 1.0
    a, b = PairDifferences(), PairDifferences()
    a.update(d[3:], rows[3:], None)
    b.update(d[:3], rows[:3], None)
    merged = a.merge(b)
    assert merged.extreme_rows() == ((5.0, 2.0, 1.0), (-2.0, 3.0, 1.0))
    W, mean, m2 = merged.finalize()
    assert W == 6.0
    assert mean == pytest.approx(d.mean(), rel=1e-14)
    assert m2 == pytest.approx(((d - d.mean()) ** 2).sum(), rel=1e-14)
    empty = PairDifferences().merge(PairDifferences())
    assert empty.finalize() == (0.0, 0.0, 0.0)


@pytest.mark.parametrize("n", [PAIR_GROUP_VALUES // 3 + 17, 2 * PAIR_GROUP_VALUES + 5])
def test_pair_differences_over_a_block_of_several_groups(n):
    """A block of pairs reduced in groups of pairs (several per group, or one pair a
    group on a long block) gives the direct moments and extremes, a tie keeps the
    earlier row, and a pair's figures are the same bits whatever pairs share its block."""
    d = rng.normal(loc=-1.0, size=(4, n))
    d[2, 5] = d[2, n // 2 + 9] = 50.0  # the largest, twice: row 6 is kept
    w = rng.uniform(0.5, 2.0, size=n)
    rows = np.arange(n) + 1.0
    pairs = [PairDifferences() for _ in range(4)]
    PairDifferences.update_all(pairs, d, rows, w, w)
    W = float(w.sum())
    for k in range(4):
        mean = float(np.dot(w, d[k]) / W)
        got_W, got_mean, got_m2 = pairs[k].finalize()
        assert got_W == pytest.approx(W, rel=1e-13)
        assert got_mean == pytest.approx(mean, rel=1e-12)
        assert got_m2 == pytest.approx(float(np.dot(w, (d[k] - mean) ** 2)), rel=1e-12)
        hi, lo = pairs[k].extreme_rows()
        j, i = int(np.argmax(d[k])), int(np.argmin(d[k]))
        assert hi == (d[k, j], j + 1.0, w[j])
        assert lo == (d[k, i], i + 1.0, w[i])
        alone = PairDifferences()
        PairDifferences.update_all([alone], d[k:k + 1], rows, w, w)
        assert alone.finalize() == pairs[k].finalize()
    assert pairs[2].extreme_rows()[0][1] == 6.0
