"""The quantiles block against numpy formulas written here: pinball, coverage, interval
scores, WIS (also by its definition through interval scores), crossings; weights are
repetitions; batches merged equal one batch; the levels read from column names."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from losscli.errors import UsageError
from losscli.quantile_forecasts import QuantileForecasts, level_of, levels_of

LEVELS = [0.9, 0.05, 0.5, 0.25, 0.95, 0.75, 0.3]  # column order, not sorted; 0.3 unpaired
COLUMNS = ["q_0.9", "q_0.05", "q_0.5", "q_0.25", "q_0.95", "q_0.75", "q_0.3"]


def _forecasts(seed: int, n: int, cross: bool = False):
    """Targets, quantiles (k, n) in COLUMNS' order, and integer weights."""
    rng = np.random.default_rng(seed)
    mu = rng.normal(0, 2, n)
    y = mu + rng.standard_normal(n) * 1.3
    z = {0.05: -1.645, 0.25: -0.674, 0.3: -0.524, 0.5: 0.0, 0.75: 0.674, 0.9: 1.2816,
         0.95: 1.645}
    q = np.array([mu + z[t] for t in LEVELS])
    if cross:  # jitter so that some rows cross
        q += rng.normal(0, 0.6, q.shape)
    return y, q, rng.integers(1, 4, n).astype(float)


def _pinball(y, q, t):
    r = y - q
    return np.where(r >= 0, t * r, (t - 1) * r)


def _interval_score(y, lo, hi, alpha):
    return (hi - lo) + (2 / alpha) * (lo - y) * (y < lo) + (2 / alpha) * (y - hi) * (y > hi)


def _expected(y, q, w):
    """Every field from its definition, on rows repeated by their weights."""
    reps = w.astype(int)
    y = np.repeat(y, reps)
    q = np.repeat(q, reps, axis=1)
    col = dict(zip(LEVELS, q, strict=True))
    levels = sorted(LEVELS)
    out = {
        "levels": levels,
        "pinball": [np.mean(_pinball(y, col[t], t)) for t in levels],
        "coverage": [np.mean(y <= col[t]) for t in levels],
    }
    intervals = []
    for t in (0.25, 0.05):  # narrowest first: levels 0.5, 0.9
        lo, hi = col[t], col[1 - t]
        intervals.append({"level": 1 - 2 * t, "lower": f"q_{t}", "upper": f"q_{1 - t:g}",
                          "coverage": np.mean((lo <= y) & (y <= hi)),
                          "mean_width": np.mean(hi - lo),
                          "interval_score": np.mean(_interval_score(y, lo, hi, 2 * t))})
    out["intervals"] = intervals
    # Bracher et al. (2021): K = 2 intervals and the median
    wis_rows = (0.5 * np.abs(y - col[0.5])
                + sum((2 * t / 2) * _interval_score(y, col[t], col[1 - t], 2 * t)
                      for t in (0.05, 0.25))) / (2 + 0.5)
    out["wis"] = np.mean(wis_rows)
    order = np.argsort(LEVELS)
    sq = q[order]
    out["crossings"] = float(sum(any(sq[b, i] < sq[a, i] for a in range(len(LEVELS))
                                     for b in range(a + 1, len(LEVELS)))
                                 for i in range(y.size)))
    return out


def _block(y, q, w, parts: int = 1) -> dict:
    st = None
    for idx in np.array_split(np.arange(y.size), parts):
        part = QuantileForecasts(LEVELS, COLUMNS).update(y[idx], q[:, idx], w[idx])
        st = part if st is None else st.merge(part)
    return st.finalize(float(w.sum()))


@pytest.mark.parametrize("cross", [False, True])
def test_block_equals_the_definitions(cross):
    y, q, w = _forecasts(1, 40, cross)
    got = _block(y, q, w)
    want = _expected(y, q, w)
    assert got["levels"] == want["levels"]
    assert got["columns"] == [COLUMNS[LEVELS.index(t)] for t in want["levels"]]
    np.testing.assert_allclose(got["pinball"], want["pinball"], rtol=1e-12)
    np.testing.assert_allclose(got["coverage"], want["coverage"], rtol=1e-12)
    assert len(got["intervals"]) == 2
    for g, e in zip(got["intervals"], want["intervals"], strict=True):
        assert g["level"] == e["level"]
        assert (g["lower"], g["upper"]) == (e["lower"], e["upper"])
        for key in ("coverage", "mean_width", "interval_score"):
            assert g[key] == pytest.approx(e[key], rel=1e-12), key
    assert got["wis"] == pytest.approx(want["wis"], rel=1e-12)
    assert got["crossings"] == want["crossings"]
    assert (got["crossings"] > 0) == cross


def test_wis_is_the_mean_pinball_form_without_crossings():
    """Without crossings, (α/2) IS_α = ρ_{α/2}(y − l) + ρ_{1−α/2}(y − u) and ½|y − m| =
    ρ_½(y − m): WIS = Σ over the five paired levels and the median of ρ, / (K + ½)."""
    y, q, w = _forecasts(2, 60)
    got = _block(y, q, w)
    assert got["crossings"] == 0
    pin = dict(zip(got["levels"], got["pinball"], strict=True))
    paired = [0.05, 0.25, 0.5, 0.75, 0.95]
    assert got["wis"] == pytest.approx(sum(pin[t] for t in paired) / 2.5, rel=1e-12)


def test_no_median_no_wis_and_unpaired_levels_left_out():
    y, q, w = _forecasts(3, 30)
    keep = [0, 1, 4, 6]  # 0.9, 0.05, 0.95, 0.3
    st = QuantileForecasts([LEVELS[i] for i in keep], [COLUMNS[i] for i in keep])
    got = st.update(y, q[keep], w).finalize(float(w.sum()))
    assert got["wis"] is None
    assert got["levels"] == [0.05, 0.3, 0.9, 0.95]
    assert [(i["lower"], i["upper"], i["level"]) for i in got["intervals"]] == [
        ("q_0.05", "q_0.95", 0.9)]


def test_crossings_count_weight_of_rows_out_of_order():
    y = np.zeros(4)
    # levels 0.1, 0.5, 0.9; rows 0 and 1 in order, row 2's 0.1-quantile lies above its
    # 0.5-quantile, row 3's three quantiles are equal (ties are no crossing)
    q = np.array([[0.0, 0.0, 2.0, 1.0],
                  [1.0, 0.5, 1.0, 1.0],
                  [2.0, 3.0, 3.0, 1.0]])
    w = np.array([1.0, 2.0, 5.0, 7.0])
    got = QuantileForecasts([0.1, 0.5, 0.9], ["a10", "b50", "c90"]).update(y, q, w)
    assert got.finalize(15.0)["crossings"] == 5.0
    # a crossing between two levels that are not neighbours in column order
    q2 = np.array([[0.0], [1.0], [-1.0]])  # columns at 0.9, 0.1, 0.5
    st = QuantileForecasts([0.9, 0.1, 0.5], ["p90", "p10", "p50"]).update(np.zeros(1), q2)
    assert st.finalize(1.0)["crossings"] == 1.0


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 80), parts=st.integers(2, 9))
def test_batches_merged_equal_one_batch(seed, n, parts):
    y, q, w = _forecasts(seed, n, cross=True)
    one = _block(y, q, w)
    many = _block(y, q, w, parts)
    assert many["levels"] == one["levels"] and many["crossings"] == one["crossings"]
    np.testing.assert_allclose(many["pinball"], one["pinball"], rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(many["coverage"], one["coverage"], rtol=1e-13)
    assert many["wis"] == pytest.approx(one["wis"], rel=1e-13, abs=1e-15)
    for a, b in zip(many["intervals"], one["intervals"], strict=True):
        assert (a["level"], a["lower"], a["upper"]) == (b["level"], b["lower"], b["upper"])
        for key in ("coverage", "mean_width", "interval_score"):
            assert a[key] == pytest.approx(b[key], rel=1e-13, abs=1e-15), key


def test_unweighted_equals_unit_weights():
    y, q, w = _forecasts(4, 25)
    a = QuantileForecasts(LEVELS, COLUMNS).update(y, q).finalize(25.0)
    b = QuantileForecasts(LEVELS, COLUMNS).update(y, q, np.ones(25)).finalize(25.0)
    assert a["pinball"] == pytest.approx(b["pinball"], rel=1e-14)
    assert a["coverage"] == b["coverage"] and a["crossings"] == b["crossings"]
    assert a["wis"] == pytest.approx(b["wis"], rel=1e-14)


@pytest.mark.parametrize("name,level", [
    ("q_0.05", 0.05), ("q0.9", 0.9), ("p90", 0.90), ("q05", 0.05), ("q5", 0.05),
    ("pred_q_0.975", 0.975), ("quantile_50", 0.5), ("q.25", 0.25), ("y_q_99", 0.99),
])
def test_level_from_the_column_name(name, level):
    assert level_of(name) == level


@pytest.mark.parametrize("name,says", [
    ("pred_hi", "no level at the end"), ("q_0.5_x", "no level at the end"),
    ("q_1.5", "not a level inside (0, 1)"), ("q100", "100%"), ("q0", "0%"),
    ("q_0.0", "not a level"),
])
def test_level_errors_name_the_column_and_the_option(name, says):
    with pytest.raises(UsageError) as err:
        level_of(name)
    msg = str(err.value)
    assert repr(name) in msg and says in msg and "--quantile-levels" in msg


def test_levels_given_in_column_order():
    assert levels_of(["a", "b"], [0.9, 0.1]) == [0.9, 0.1]
    assert levels_of(["q_0.1", "p90"]) == [0.1, 0.9]
    with pytest.raises(UsageError, match="2 levels for 3"):
        levels_of(["a", "b", "c"], [0.1, 0.9])
    with pytest.raises(UsageError, match="'b'"):
        levels_of(["a", "b"], [0.1, 1.0])
    with pytest.raises(UsageError, match="'q_0.5' and 'p50' both have level 0.5"):
        levels_of(["q_0.5", "p50"])
