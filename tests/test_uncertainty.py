"""SPEC §10.1 and §10.3: the standard errors and intervals of every reported mean, and the
slices of `--by`, against independent oracles: statsmodels' `DescrStatsW` (the weighted
mean's `std_mean` with frequency weights) for every se, `multipletests(method="holm")`
for p_holm, scipy.stats for the per-row log-likelihoods; weighted files equal their
expanded twins, batch sizes and engines change nothing, and a seeded simulation shows
the intervals cover the true value at their level."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.weightstats import DescrStatsW

from losscli import api, render
from losscli.errors import InputError, UsageError
from losscli.request import Request
from losscli.score import interval, z_level
from losscli.statistics import PairDifferences, Spread, mean_se
from tests.conftest import SAMPLES, run_api, run_cli
from tests.test_streaming import assert_same

LN2 = math.log(2.0)


def std_mean(x, w=None) -> float:
    """The oracle: statsmodels' se of the weighted mean, frequency weights. Its std_mean
    is std/√(W − 1) with std² = M2/W at ddof = 0, i.e. √(M2/((W − 1)W)), and it undoes
    any ddof it was given, so the value is that of the expanded rows' sample variance."""
    d0 = DescrStatsW(np.asarray(x, float), weights=w, ddof=0).std_mean
    d1 = DescrStatsW(np.asarray(x, float), weights=w, ddof=1).std_mean
    assert d0 == pytest.approx(d1, rel=1e-12)  # ddof does not change std_mean
    return float(d0)


def _regression(n=400, seed=3, weights=True):
    r = np.random.default_rng(seed)
    m = r.normal(0, 2, n)
    data = {"y": m + r.standard_t(5, n), "y_pred": m, "g": r.integers(0, 6, n),
            "s": np.array(["b", "a", "c"])[r.integers(0, 3, n)]}
    if weights:
        data["w"] = r.integers(1, 4, n).astype(float)
    return data


def _csv(tmp_path, data, name="d.csv"):
    path = tmp_path / name
    pd.DataFrame(data).to_csv(path, index=False, float_format="%.17g")
    return path


def _check(block, mean, se, level=0.95):
    z = stats.norm.ppf((1 + level) / 2)
    assert block["se"] == pytest.approx(se, rel=1e-9)
    assert block["lower"] == pytest.approx(mean - z * se, rel=1e-9, abs=1e-12)
    assert block["upper"] == pytest.approx(mean + z * se, rel=1e-9, abs=1e-12)


# ------------------------------------------------------------------ §10.1 against oracles


@pytest.mark.parametrize("unit", ["nats", "bits"])
def test_uncertainty_of_gaussian_and_laplace_matches_descrstatsw(tmp_path, unit):
    data = _regression()
    y, mu, w = data["y"], data["y_pred"], data["w"]
    path = _csv(tmp_path, data)
    rep = run_api("compare-noise-models", path, weight="w",
                  families=("gaussian", "laplace"), unit=unit, level=0.9)
    scale = LN2 if unit == "bits" else 1.0
    W = w.sum()
    ybar = np.dot(w, y) / W
    sd0 = math.sqrt(np.dot(w, (y - ybar) ** 2) / W)  # the weighted MLE of the baseline
    lls = {}
    for m in rep["models"]:
        fam = m["family"]
        if fam == "gaussian":
            ll = stats.norm.logpdf(y, mu, m["params"]["sigma"])
            base = stats.norm.logpdf(y, ybar, sd0)
        else:  # its baseline (a weighted median) is not re-derived here
            ll = stats.laplace.logpdf(y, mu, m["params"]["scale"])
            base = None
        lls[fam] = ll
        u = m["uncertainty"]
        assert u["level"] == 0.9
        _check(u["cross_entropy"], m["cross_entropy"], std_mean(-ll, w) / scale, 0.9)
        # continuous target: kl's interval is the cross-entropy's se around kl
        _check(u["kl"], m["kl"], std_mean(-ll, w) / scale, 0.9)
        if base is not None:
            _check(u["information_gain"], m["information_gain"],
                   std_mean(ll - base, w) / scale, 0.9)
        else:
            assert u["information_gain"]["se"] > 0
        r = y - mu
        assert m["metrics_se"]["mse"] == pytest.approx(std_mean(r * r, w), rel=1e-9)
        assert m["metrics_se"]["mae"] == pytest.approx(std_mean(np.abs(r), w), rel=1e-9)
        assert set(m["metrics_se"]) == {"mse", "mae"}
    best, other = rep["models"]
    assert best["uncertainty"]["delta_cross_entropy"] is None
    d = lls[best["family"]] - lls[other["family"]]
    _check(other["uncertainty"]["delta_cross_entropy"], other["delta_cross_entropy"],
           std_mean(d, w) / scale, 0.9)
    assert any("spacing entropy estimate is not included" in x for x in rep["warnings"])


def test_classifier_metrics_se_and_soft_label_kl(tmp_path):
    frame = pd.read_csv(SAMPLES / "distill.csv")
    t = frame[["t_cat", "t_dog", "t_bird"]].to_numpy()
    q = frame[["p_cat", "p_dog", "p_bird"]].to_numpy()
    rep = run_api("evaluate", SAMPLES / "distill.csv", soft_target=("t_*",), probs=("p_*",))
    m = rep["models"][0]
    logq = np.log(q / q.sum(axis=1, keepdims=True))
    ce_rows = -(t * logq).sum(axis=1)
    kl_rows = (stats.entropy(t.T, q.T))  # Σ t log(t/q) per row
    _check(m["uncertainty"]["cross_entropy"], m["cross_entropy"], std_mean(ce_rows))
    _check(m["uncertainty"]["kl"], m["kl"], std_mean(kl_rows))
    assert m["uncertainty"]["delta_cross_entropy"] is None  # evaluate
    top = q.argmax(axis=1)
    correct = t[np.arange(len(t)), top]
    assert m["metrics_se"]["accuracy"] == pytest.approx(std_mean(correct), rel=1e-9)
    brier = ((q - t) ** 2 + t * (1 - t)).sum(axis=1)
    assert m["metrics_se"]["brier"] == pytest.approx(std_mean(brier), rel=1e-9)


def test_binary_accuracy_se_uses_p_at_least_half(tmp_path):
    r = np.random.default_rng(5)
    p = np.round(r.uniform(0.05, 0.95, 300), 3)
    p[:20] = 0.5  # p ≥ ½ predicts 1
    y = (r.uniform(size=300) < p).astype(float)
    rep = run_api("evaluate", _csv(tmp_path, {"y": y, "prob": p}), families=("bernoulli",))
    m = rep["models"][0]
    correct = ((p >= 0.5) == (y == 1)).astype(float)
    assert m["metrics"]["accuracy"] == pytest.approx(correct.mean(), rel=1e-12)
    assert m["metrics_se"]["accuracy"] == pytest.approx(std_mean(correct), rel=1e-9)
    assert m["metrics_se"]["brier"] == pytest.approx(std_mean((p - y) ** 2), rel=1e-9)


def test_weighted_file_equals_its_expanded_twin(tmp_path):
    data = _regression(n=150, seed=9)
    reps = np.repeat(np.arange(150), data["w"].astype(int))
    twin = {k: np.asarray(v)[reps] for k, v in data.items() if k != "w"}
    a = run_api("compare-noise-models", _csv(tmp_path, data, "w.csv"), weight="w",
                families=("gaussian", "laplace", "student_t"), by="s")
    b = run_api("compare-noise-models", _csv(tmp_path, twin, "x.csv"),
                families=("gaussian", "laplace", "student_t"), by="s")
    for ma, mb in zip(a["models"], b["models"], strict=True):
        assert ma["family"] == mb["family"]
        for k in ("cross_entropy", "information_gain", "delta_cross_entropy"):
            ua, ub = ma["uncertainty"][k], mb["uncertainty"][k]
            assert (ua is None) == (ub is None)
            if ua:
                for e in ("se", "lower", "upper"):
                    assert ua[e] == pytest.approx(ub[e], rel=1e-6, abs=1e-9), (k, e)
        for k, v in ma["metrics_se"].items():
            assert v == pytest.approx(mb["metrics_se"][k], rel=1e-9)
        for ra, rb in zip(ma["slices"]["rows"], mb["slices"]["rows"], strict=True):
            assert ra["value"] == rb["value"] and ra["count"] == rb["count"]
            for k in ("cross_entropy", "se", "statistic", "p_value", "p_holm"):
                assert ra[k] == pytest.approx(rb[k], rel=1e-6), k


def test_w_at_most_one_is_null_with_a_warning(tmp_path):
    data = {"y": [1.0, 2.5, 3.0], "y_pred": [1.2, 2.0, 2.7], "w": [0.2, 0.3, 0.4]}
    rep = run_api("evaluate", _csv(tmp_path, data), weight="w", families=("gaussian",))
    u = rep["models"][0]["uncertainty"]
    assert all(u[k] is None for k in ("cross_entropy", "kl", "information_gain"))
    assert rep["models"][0]["metrics_se"] == {"mse": None, "mae": None}
    assert any("uncertainty is null" in x and "W = 0.9" in x for x in rep["warnings"])


# ------------------------------------------------------------------ --level


@pytest.mark.parametrize("level", ["0", "1", "1.5", "-0.1"])
def test_level_outside_0_1_is_a_usage_error(level):
    proc = run_cli("evaluate", SAMPLES / "regression.csv", "--level", level)
    assert proc.returncode == 2
    err = proc.stderr.decode().strip()
    assert err.startswith("error:") and "--level" in err and len(err.splitlines()) == 1
    with pytest.raises(UsageError):
        Request(command="evaluate", path=str(SAMPLES / "regression.csv"),
                level=float(level))


# ------------------------------------------------------------------ §10.3 slices


def test_slices_match_per_group_oracles_and_holm(tmp_path):
    data = _regression(n=600, seed=11)
    y, mu, w, g = data["y"], data["y_pred"], data["w"], data["g"]
    rep = run_api("evaluate", _csv(tmp_path, data), weight="w", families=("gaussian",),
                  by="g")
    m = rep["models"][0]
    ll = stats.norm.logpdf(y, mu, m["params"]["sigma"])
    ybar = np.dot(w, y) / w.sum()
    base = stats.norm.logpdf(y, ybar, math.sqrt(np.dot(w, (y - ybar) ** 2) / w.sum()))
    sl = m["slices"]
    assert sl["column"] == "g"
    counts = {v: w[g == v].sum() for v in np.unique(g)}
    want = sorted(counts, key=lambda v: (-counts[v], v))
    assert [r["value"] for r in sl["rows"]] == [int(v) for v in want]
    ps = []
    for r in sl["rows"]:
        s, rest = g == r["value"], g != r["value"]
        assert r["count"] == counts[r["value"]]
        ce = np.dot(w[s], -ll[s]) / w[s].sum()
        assert r["cross_entropy"] == pytest.approx(ce, rel=1e-10)
        assert r["se"] == pytest.approx(std_mean(-ll[s], w[s]), rel=1e-9)
        ig = np.dot(w[s], ll[s] - base[s]) / w[s].sum()
        assert r["information_gain"] == pytest.approx(ig, rel=1e-8, abs=1e-12)
        ce_rest = np.dot(w[rest], -ll[rest]) / w[rest].sum()
        z = (ce - ce_rest) / math.hypot(std_mean(-ll[s], w[s]), std_mean(-ll[rest], w[rest]))
        assert r["statistic"] == pytest.approx(z, rel=1e-8)
        assert r["p_value"] == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-8)
        ps.append(r["p_value"])
    holm = multipletests(ps, method="holm")[1]
    assert [r["p_holm"] for r in sl["rows"]] == pytest.approx(list(holm), rel=1e-12)


def test_text_slices_top_level_best_and_null_value(tmp_path):
    data = _regression(n=300, seed=4, weights=False)
    s = data["s"].astype(object)
    s[:7] = None  # a null value: a slice of its own, value null
    data["s"] = s
    path = _csv(tmp_path, data)
    rep = run_api("compare-noise-models", path, families=("gaussian", "laplace"), by="s")
    rows = rep["models"][0]["slices"]["rows"]
    values = [r["value"] for r in rows]
    assert None in values and set(values) == {"a", "b", "c", None}
    assert values[-1] is None  # 7 rows: the smallest slice
    counts = [r["count"] for r in rows]
    assert counts == sorted(counts, reverse=True) and sum(counts) == 300
    top = rep["slices"]
    assert top["column"] == "s" and [r["value"] for r in top["rows"]] == values
    for j, r in enumerate(top["rows"]):
        ces = {m["family"]: m["slices"]["rows"][j]["cross_entropy"] for m in rep["models"]}
        assert r["best"] == min(ces, key=ces.get) and r["count"] == counts[j]
    # without --by: no slices anywhere
    plain = run_api("compare-noise-models", path, families=("gaussian", "laplace"))
    assert "slices" not in plain and "slices" not in plain["models"][0]


def test_ties_in_count_order_by_value(tmp_path):
    y = np.linspace(-1, 1, 8)
    data = {"y": y, "y_pred": y * 0.9, "k": [10, 2, 10, 2, -3, -3, 7, 7]}
    rows = run_api("evaluate", _csv(tmp_path, data), families=("gaussian",),
                   by="k")["models"][0]["slices"]["rows"]
    assert [r["value"] for r in rows] == [-3, 2, 7, 10]  # equal counts: numerically
    text = {"y": y, "y_pred": y * 0.9, "k": ["b", "B", "a", "b", "a", "B", "é", "é"]}
    rows = run_api("evaluate", _csv(tmp_path, text, "t.csv"), families=("gaussian",),
                   by="k")["models"][0]["slices"]["rows"]
    assert [r["value"] for r in rows] == ["B", "a", "b", "é"]  # by code point


def test_too_many_slices_missing_column_and_non_integer_values(tmp_path):
    data = _regression(n=100, seed=2)
    path = _csv(tmp_path, data)
    with pytest.raises(InputError) as exc:
        run_api("evaluate", path, by="g", max_slices=3)
    assert exc.value.column == "g" and str(path) in str(exc.value)
    assert "coarser column" in str(exc.value) and "3" in str(exc.value)
    proc = run_cli("evaluate", path, "--by", "g", "--max-slices", "3")
    err = proc.stderr.decode().strip()
    assert proc.returncode == 1 and len(err.splitlines()) == 1
    assert err.startswith(f"error: {path}") and "'g'" in err and "coarser" in err
    proc = run_cli("evaluate", path, "--by", "nope")
    err = proc.stderr.decode().strip()
    assert proc.returncode == 1 and str(path) in err and "'nope'" in err
    with pytest.raises(InputError) as exc:
        run_api("evaluate", path, by="y_pred")  # floats that are not whole
    assert exc.value.column == "y_pred" and exc.value.row is not None


def test_by_column_is_read_by_the_scoring_pass_only(tmp_path, monkeypatch):
    from losscli import pieces

    seen: list[list[str]] = []
    real = pieces.pieces

    def spy(inp, columns, *a, **kw):
        seen.append(list(columns))
        return real(inp, columns, *a, **kw)

    monkeypatch.setattr(pieces, "pieces", spy)
    path = _csv(tmp_path, _regression(n=50, seed=1))
    run_api("evaluate", path, families=("gaussian",))
    assert seen and not any("g" in c for c in seen)
    seen.clear()
    run_api("evaluate", path, families=("gaussian",), by="g")
    assert sum("g" in c for c in seen) == 1


# ------------------------------------------------------------------ engines and batches


def test_batch_rows_change_nothing(tmp_path):
    data = _regression(n=500, seed=8)
    path = _csv(tmp_path, data)
    kw = dict(weight="w", by="g", families=("gaussian", "laplace", "student_t"))
    a = run_api("compare-noise-models", path, **kw)
    b = run_api("compare-noise-models", path, batch_rows=7, **kw)
    a["input"].pop("batches"), b["input"].pop("batches")
    assert_same(a, b)


def test_dask_engine_gives_the_same_slices_and_uncertainty(tmp_path):
    distributed = pytest.importorskip("distributed")
    from losscli.engines.dask import QUIET_SCHEDULER

    data = _regression(n=400, seed=6)
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({k: np.asarray(v) for k, v in data.items()}), path,
                   row_group_size=37)
    kw = dict(weight="w", by="s", families=("gaussian", "laplace"))
    local = run_api("compare-noise-models", path, **kw)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, silence_logs=40,
                                  scheduler_kwargs=QUIET_SCHEDULER) as c:
        remote = run_api("compare-noise-models", path, scheduler=c.scheduler_address, **kw)
    for r in (local, remote):
        r["input"].pop("engine")
    assert_same(local, remote)


# ------------------------------------------------------------------ coverage


def test_intervals_cover_the_true_value_at_their_level():
    """1000 seeded replications of 400 rows: y ~ N(μ, 1) scored by N(μ, 1) (true
    cross-entropy ½ log 2π + ½) and by N(μ + δ, 1) (true difference of the log scores
    δ²/2); the 95% intervals from the reductions cover in 93–97% of the replications."""
    r = np.random.default_rng(2024)
    reps, n, delta = 1000, 400, 0.3
    true_ce = 0.5 * math.log(2 * math.pi) + 0.5
    hit_ce = hit_d = 0
    for _ in range(reps):
        mu = r.normal(0, 1, n)
        y = mu + r.normal(0, 1, n)
        la = stats.norm.logpdf(y, mu, 1.0)
        lb = stats.norm.logpdf(y, mu + delta, 1.0)
        sp = Spread(("cross_entropy",))
        pair = PairDifferences()
        for idx in np.array_split(np.arange(n), 3):  # merged over batches
            sp.update(-la[idx][None, :], None)
            pair.update(la[idx] - lb[idx], idx + 1.0, None)
        iv = interval(float(sp.moments.mean[0]), sp.se("cross_entropy"), 0.95)
        hit_ce += iv["lower"] <= true_ce <= iv["upper"]
        W, dbar, m2 = pair.finalize()
        iv = interval(dbar, mean_se(W, m2), 0.95)
        hit_d += iv["lower"] <= delta ** 2 / 2 <= iv["upper"]
    assert 0.93 <= hit_ce / reps <= 0.97
    assert 0.93 <= hit_d / reps <= 0.97
    assert z_level(0.95) == pytest.approx(stats.norm.ppf(0.975), rel=1e-14)


def test_api_interval_covers_in_simulation():
    """Through the Python API: 60 replications are not a coverage test, but each
    interval is the API's own; their coverage must not be far from 95%."""
    r = np.random.default_rng(7)
    true_ce = 0.5 * math.log(2 * math.pi) + 0.5
    hits = 0
    reps = 60
    for _ in range(reps):
        mu = r.normal(0, 1, 300)
        y = mu + r.normal(0, 1, 300)
        rep = api.evaluate(Request(command="evaluate", path=_frame_path(y, mu),
                                   families=("gaussian",), fix=("sigma=1",)))
        u = rep["models"][0]["uncertainty"]["cross_entropy"]
        hits += u["lower"] <= true_ce <= u["upper"]
    assert hits >= 0.85 * reps


_PATHS: dict = {}


def _frame_path(y, mu):
    import tempfile

    d = _PATHS.setdefault("dir", tempfile.mkdtemp())
    path = f"{d}/sim.csv"
    pd.DataFrame({"y": y, "y_pred": mu}).to_csv(path, index=False, float_format="%.17g")
    return path


# ------------------------------------------------------------------ the table


def test_table_shows_half_widths_and_worst_slices_at_80_columns(tmp_path):
    data = _regression(n=800, seed=12)
    data["k"] = np.arange(800) % 14
    path = _csv(tmp_path, data)
    rep = run_api("compare-noise-models", path, by="k",
                  families=("gaussian", "laplace", "student_t"))
    out = io.StringIO()
    render.print_report(rep, file=out, width=80, color=False)
    text = out.getvalue()
    assert max(len(x) for x in text.splitlines()) <= 80
    assert "±95%" in text
    assert "the worst 10 of 14 slices" in text
    best = rep["models"][0]
    half = (best["uncertainty"]["cross_entropy"]["upper"]
            - best["uncertainty"]["cross_entropy"]["lower"]) / 2
    assert f"{half:.3g}"[:4] in text
    worst = max(best["slices"]["rows"], key=lambda r: r["statistic"])
    block = text.split("slices of")[1].splitlines()
    first_row = next(x for x in block if x.strip() and x.split()[0].isdigit())
    assert first_row.split()[0] == str(worst["value"])
    proc = run_cli("compare-noise-models", path, "--by", "k", "--format", "json",
                   "--level", "0.8")
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["models"][0]["uncertainty"]["level"] == 0.8


# ------------------------------------------------------------------ the Slices state


def test_slices_state_merges_as_one_pass_and_text_wins_over_integers():
    from losscli.statistics import Slices

    r = np.random.default_rng(3)
    n = 900
    codes_all = r.integers(0, 4, n)
    values = [10, 20, 30, 40]
    x = r.normal(size=(2, n))
    w = r.integers(1, 5, n).astype(float)
    one = Slices(2, 10, "f", "c")
    one.update(codes_all, values, x, w)
    parts = Slices(2, 10, "f", "c")
    for idx in np.array_split(np.arange(n), 7)[::-1]:  # another order and grouping
        piece = Slices(2, 10, "f", "c")
        # each piece numbers its own values (as pyarrow's dictionary does per batch)
        local = sorted(set(codes_all[idx].tolist()), reverse=True)
        piece.update(np.array([local.index(c) for c in codes_all[idx]]),
                     [values[c] for c in local], x[:, idx], w[idx])
        parts.merge(piece)
    a, b = one.finalize(), parts.finalize()
    assert a[0] == b[0]
    for u, v in zip(a[1:], b[1:], strict=True):
        np.testing.assert_allclose(u, v, rtol=1e-12)
    for j, v in enumerate(a[0]):
        s = codes_all == values.index(v)
        assert a[1][j] == w[s].sum()
        assert a[2][j, 0] == pytest.approx(np.dot(w[s], x[0, s]) / w[s].sum(), rel=1e-12)
        dsw = DescrStatsW(x[1, s], weights=w[s])
        assert a[3][j, 1] == pytest.approx(dsw.sumsquares, rel=1e-10)
    # a text file read in blocks of different inferred types: the integers become text
    mixed = Slices(2, 10, "f", "c")
    mixed.update(np.array([0, 1]), [1, 2], np.ones((2, 2)), None)
    mixed.update(np.array([0, 0, 1]), ["1", None], np.zeros((2, 3)), None)
    vals, W, mean, _ = mixed.finalize()
    assert vals == ["1", "2", None] and list(W) == [3.0, 1.0, 1.0]
    assert mean[0, 0] == pytest.approx(1 / 3)
    with pytest.raises(InputError) as exc:
        mixed.update(np.arange(9), list(range(100, 109)), np.zeros((2, 9)), None)
    assert exc.value.column == "c" and "coarser" in str(exc.value)


def test_by_in_marginal_mode_on_integer_targets(tmp_path):
    r = np.random.default_rng(1)
    y = r.poisson(3.0, 400).astype(float)
    g = r.integers(0, 3, 400)
    rep = run_api("compare-noise-models", _csv(tmp_path, {"y": y, "g": g}), no_pred=True,
                  families=("poisson",), by="g")
    m = rep["models"][0]
    lam = y.mean()
    ll = stats.poisson.logpmf(y, lam)
    _check(m["uncertainty"]["cross_entropy"], m["cross_entropy"], std_mean(-ll))
    assert m["uncertainty"]["information_gain"] is None  # marginal: no baseline
    for row in m["slices"]["rows"]:
        s = g == row["value"]
        assert row["cross_entropy"] == pytest.approx(-ll[s].mean(), rel=1e-10)
        assert row["se"] == pytest.approx(std_mean(-ll[s]), rel=1e-9)
        assert row["information_gain"] is None
    assert any("plug-in entropy estimate is not included" in x for x in rep["warnings"])


def test_information_gain_se_on_counts_uses_each_rows_baseline(tmp_path):
    """Integer targets: the baseline is scored on the value counts, and its per-row terms
    come from them; the se is that of log q(y) − log Poisson(y; ȳ) over the rows."""
    r = np.random.default_rng(21)
    mu = np.exp(r.normal(1.0, 0.5, 500))
    y = r.poisson(mu).astype(float)
    w = r.integers(1, 4, 500).astype(float)
    rep = run_api("compare-noise-models", _csv(tmp_path, {"y": y, "y_pred": mu, "w": w}),
                  weight="w", families=("poisson", "negative_binomial"))
    m = next(x for x in rep["models"] if x["family"] == "poisson")
    ybar = np.dot(w, y) / w.sum()
    gain = stats.poisson.logpmf(y, mu) - stats.poisson.logpmf(y, ybar)
    _check(m["uncertainty"]["information_gain"], m["information_gain"], std_mean(gain, w))
    # hard labels on a discrete support: kl = cross_entropy, with its se
    assert m["uncertainty"]["kl"] == m["uncertainty"]["cross_entropy"]
