"""Several predictions (SPEC §10.2): each (family, prediction) model equals a run on that
prediction alone; `prediction_tests` is the Diebold–Mariano test of the log score,
its variance checked against statsmodels' OLS HAC standard error (Newey–West with
Bartlett weights); the lagged sums merge exactly across batches, Dask tasks and any
split of the rows."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from losscli.statistics import SerialDifferences
from tests.conftest import model, run_api, run_cli
from tests.test_streaming import assert_same

sm = pytest.importorskip("statsmodels.api")

N = 1500


@pytest.fixture
def counts(write_csv, rng):
    """Counts with a serially correlated mean; pred_b is the true mean, pred_a a noisy one,
    in the file after pred_b (a glob reads file order)."""
    t = np.arange(N)
    mu = np.exp(1.0 + 0.6 * np.sin(t / 25.0) + 0.2 * rng.normal(size=N))
    y = rng.negative_binomial(4, 4 / (4 + mu))
    noisy = mu * np.exp(np.convolve(rng.normal(0, 0.3, N + 9), np.ones(10) / 10, "valid"))
    return write_csv("c.csv", y=y, pred_b=mu, x=rng.normal(size=N), pred_a=noisy,
                     pred_c=mu * 1.1)


def _drop_input(rep: dict) -> dict:
    rep = json.loads(json.dumps(rep))
    for k in ("input", "warnings"):
        rep.pop(k)
    return rep


def _ll(family: str, y, pred, params) -> np.ndarray:
    """Per-row log-likelihood by scipy.stats, from the reported fit."""
    if family == "poisson":
        return stats.poisson.logpmf(y, pred)
    if family == "gaussian":
        return stats.norm.logpdf(y, pred, params["sigma"])
    if family == "negative_binomial":  # NB2: var = μ + αμ²
        r = 1.0 / params["alpha"]
        return stats.nbinom.logpmf(y, r, r / (r + pred))
    raise AssertionError(family)


@pytest.mark.parametrize("command", ["compare-noise-models", "evaluate"])
def test_each_model_is_the_run_on_its_prediction_alone(counts, command):
    fams = {} if command == "compare-noise-models" else {
        "families": ("poisson", "negative_binomial", "gaussian")}
    both = run_api(command, counts, pred=["pred_a", "pred_b"], **fams)
    for col in ("pred_a", "pred_b"):
        alone = run_api(command, counts, pred=col, **fams)
        mine = [m for m in both["models"] if m["prediction"] == col]
        assert [m["family"] for m in mine] == [m["family"] for m in alone["models"]]
        for a, b in zip(mine, alone["models"], strict=True):
            assert_same(a, b)
    if command == "compare-noise-models":
        alone = run_api(command, counts, pred="pred_a")
        assert both["best"] == alone["best"]
        assert both["recommendation"] == alone["recommendation"]
        assert [{k: v for k, v in t.items() if k != "prediction"} for t in both["tests"]] \
            == alone["tests"]
        assert all(t["prediction"] == "pred_a" for t in both["tests"])
        assert both["best_by_prediction"] == {
            "pred_a": alone["best"],
            "pred_b": run_api(command, counts, pred="pred_b")["best"]}
        # rank within its prediction: 1..k for each
        for col in ("pred_a", "pred_b"):
            ranks = [m["rank"] for m in both["models"] if m["prediction"] == col]
            assert ranks == list(range(1, len(ranks) + 1))


@pytest.mark.parametrize("lag", [0, 1, 5])
def test_the_test_is_diebold_mariano_with_statsmodels_hac_variance(counts, lag):
    import pandas as pd

    fams = ("poisson", "negative_binomial", "gaussian")
    rep = run_api("evaluate", counts, pred=["pred_a", "pred_b"], families=fams,
                  hac_lag=lag)
    data = pd.read_csv(counts)
    y = data["y"].to_numpy(float)
    tests = rep["prediction_tests"]
    assert [(t["family"], t["null"], t["alternative"]) for t in tests] == [
        (f, "pred_a", "pred_b") for f in fams]
    for t in tests:
        a, b = (next(m for m in rep["models"] if m["family"] == t["family"]
                     and m["prediction"] == c) for c in ("pred_a", "pred_b"))
        d = (_ll(t["family"], y, data["pred_b"].to_numpy(), b["params"])
             - _ll(t["family"], y, data["pred_a"].to_numpy(), a["params"]))
        fit = sm.OLS(d, np.ones_like(d)).fit(cov_type="HAC", cov_kwds={
            "maxlags": lag, "use_correction": True})
        assert t["hac_lag"] == lag
        assert t["delta_cross_entropy"] == pytest.approx(d.mean(), rel=1e-9)
        assert t["delta_cross_entropy"] == pytest.approx(
            a["cross_entropy"] - b["cross_entropy"], rel=1e-9)
        assert t["se"] == pytest.approx(fit.bse[0], rel=1e-9)
        z = d.mean() / fit.bse[0]
        assert t["statistic"] == pytest.approx(z, rel=1e-9)
        assert t["p_value"] == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-7)
        half = stats.norm.ppf(0.975) * fit.bse[0]
        assert (t["lower"], t["upper"]) == pytest.approx((d.mean() - half, d.mean() + half),
                                                         rel=1e-9)
        if lag == 0:  # at L = 0: §10.1's se, s/√W with s² the sample variance
            assert t["se"] == pytest.approx(d.std(ddof=1) / np.sqrt(d.size), rel=1e-9)


def test_batches_and_dask_merge_the_lagged_sums_exactly(counts):
    kw = {"pred": ["pred_a", "pred_b", "pred_c"], "families": ("negative_binomial", "poisson"),
          "hac_lag": 5}
    whole = run_api("evaluate", counts, **kw)
    small = run_api("evaluate", counts, batch_rows=7, **kw)
    assert small["input"]["batches"] > 200
    assert_same(_drop_input(whole), _drop_input(small))
    assert len(whole["prediction_tests"]) == 2 * 3


def test_dask_gives_the_local_prediction_tests(counts, tmp_path):
    pytest.importorskip("distributed")
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "c.parquet"
    pq.write_table(pa.Table.from_pandas(pd.read_csv(counts)), path, row_group_size=97)
    kw = {"pred": ["pred_a", "pred_b"], "families": ("negative_binomial",), "hac_lag": 3}
    local = run_api("evaluate", path, **kw)
    remote = run_api("evaluate", path, engine="dask", workers=2, **kw)
    assert_same(_drop_input(local), _drop_input(remote))


def _direct(d: np.ndarray, lag: int) -> np.ndarray:
    e = d - d.mean(axis=1, keepdims=True)
    return np.array([[np.dot(row[h:], row[:-h]) for h in range(1, lag + 1)] for row in e])


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 60), lag=st.integers(1, 7), seed=st.integers(0, 2 ** 31),
       cuts=st.lists(st.integers(0, 60), max_size=8), dropped=st.lists(
           st.integers(0, 3), min_size=9, max_size=9))
def test_any_split_and_merge_order_gives_the_one_piece_sums(n, lag, seed, cuts, dropped):
    rng = np.random.default_rng(seed)
    d = rng.normal(0.3, 1.0, (2, n))
    bounds = sorted({0, n, *(c for c in cuts if c <= n)})
    parts, start = [], 0
    for k, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
        # a piece's read rows may include dropped ones: its range is wider than its data
        end = start + (hi - lo) + dropped[k % 9]
        state = SerialDifferences(2, lag)
        seg = state.segment(start, end)
        mid = lo + (hi - lo) // 2  # two blocks of one batch
        seg.extend(d[:, lo:mid])
        seg.extend(d[:, mid:hi])
        state.add(seg)
        parts.append(state)
        start = end
    order = rng.permutation(len(parts)) if parts else []
    total = SerialDifferences(2, lag)
    for k in order:
        total.merge(parts[k])
    got = total.lagged(d.mean(axis=1)) if n else total.lagged(np.zeros(2))
    want = _direct(d, lag) if n else np.zeros((2, lag))
    assert got == pytest.approx(want, rel=1e-9, abs=1e-9)


def test_frequency_weights_are_repeated_rows(write_csv, rng):
    n = 300
    mu = rng.uniform(1, 6, n)
    y = rng.poisson(mu)
    w = rng.integers(1, 4, n)
    a, b = mu * rng.uniform(0.7, 1.3, n), mu
    weighted = write_csv("w.csv", y=y, a=a, b=b, w=w)
    repeated = write_csv("r.csv", y=np.repeat(y, w), a=np.repeat(a, w), b=np.repeat(b, w))
    kw = {"pred": ["a", "b"], "families": ("poisson", "gaussian"), "fit_rows": None}
    one = run_api("evaluate", weighted, weight="w", **kw)["prediction_tests"]
    two = run_api("evaluate", repeated, **kw)["prediction_tests"]
    assert len(one) == 2
    for x, z in zip(one, two, strict=True):
        for k in x:
            if isinstance(x[k], float):
                assert x[k] == pytest.approx(z[k], rel=1e-9), k
            else:
                assert x[k] == z[k]


def test_glob_reads_file_order_and_repeated_options_their_order(counts):
    rep = run_api("evaluate", counts, pred="pred_*", families=("poisson",))
    assert [m["prediction"] for m in rep["models"]] == ["pred_b", "pred_a", "pred_c"]
    assert [(t["null"], t["alternative"]) for t in rep["prediction_tests"]] == [
        ("pred_b", "pred_a"), ("pred_b", "pred_c"), ("pred_a", "pred_c")]
    assert rep["input"]["prediction"] == "pred_b,pred_a,pred_c"
    rep = run_api("evaluate", counts, pred=["pred_c", "pred_a"], families=("poisson",))
    assert [(t["null"], t["alternative"]) for t in rep["prediction_tests"]] == [
        ("pred_c", "pred_a")]
    # the sign: pred_b (the true mean) against pred_a
    t = run_api("evaluate", counts, pred=["pred_a", "pred_b"],
                families=("poisson",))["prediction_tests"][0]
    assert t["statistic"] > 0 and t["delta_cross_entropy"] > 0


def test_one_prediction_has_no_prediction_tests(counts):
    rep = run_api("compare-noise-models", counts, pred="pred_a")
    assert rep["prediction_tests"] == []
    assert rep["best_by_prediction"] == {"pred_a": rep["best"]}
    assert "prediction" not in rep["tests"][0]


def test_library_takes_a_list_of_predictions(counts):
    import losscli

    rep = losscli.evaluate(counts, pred=["pred_a", "pred_b"], family="poisson", hac_lag=2)
    assert [m["prediction"] for m in rep["models"]] == ["pred_a", "pred_b"]
    assert rep["prediction_tests"][0]["hac_lag"] == 2


def test_bits_scale_the_difference_not_the_statistic(counts):
    kw = {"pred": ["pred_a", "pred_b"], "families": ("poisson",)}
    nats = run_api("evaluate", counts, **kw)["prediction_tests"][0]
    bits = run_api("evaluate", counts, unit="bits", **kw)["prediction_tests"][0]
    for k in ("delta_cross_entropy", "se", "lower", "upper"):
        assert bits[k] == pytest.approx(nats[k] / np.log(2), rel=1e-12)
    assert bits["statistic"] == pytest.approx(nats["statistic"], rel=1e-12)


def test_the_table_says_which_prediction_is_better(counts):
    out = run_cli("evaluate", counts, "-p", "pred_a", "-p", "pred_b", "-f", "poisson",
                  "-f", "negative_binomial")
    assert out.returncode == 0, out.stderr
    text = out.stdout.decode()
    assert "pred_b is better than pred_a under poisson by" in text
    assert "nats/row (z = " in text
    same = run_cli("evaluate", counts, "-p", "pred_b", "-p", "pred_b", "-f", "poisson")
    assert same.returncode == 0, same.stderr


@pytest.mark.parametrize("args,code,words", [
    (["-p", "pred_*", "-p", "zz_*"], 1, ["no column matches --pred 'zz_*'", "c.csv",
                                         "columns are: y, pred_b, x, pred_a, pred_c"]),
    (["-p", "pred_a", "-p", "pred_b", "--hac-lag", "2", "-w", "x"], 2,
     ["--hac-lag 2", "--weight"]),
    (["-p", "pred_a", "-p", "pred_b", "--hac-lag", "-1"], 2, ["--hac-lag -1",
                                                             "at least 0"]),
    (["-p", "pred_a", "-p", "pred_b", "--diagnostics"], 2, ["one prediction"]),
])
def test_errors_are_one_line(counts, args, code, words):
    out = run_cli("evaluate", counts, *args)
    assert out.returncode == code
    err = out.stderr.decode().strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    for w in words:
        assert w in err[0]


def test_similar_columns_are_named(counts):
    out = run_cli("compare-noise-models", counts, "-p", "pred-a")
    assert out.returncode == 1
    assert "did you mean 'pred_a'" in out.stderr.decode()


def test_numbers_of_the_first_prediction_unchanged_by_the_others(counts):
    one = run_api("compare-noise-models", counts, pred="pred_b")
    three = run_api("compare-noise-models", counts, pred=["pred_b", "pred_a", "pred_c"])
    mine = [m for m in three["models"] if m["prediction"] == "pred_b"]
    assert_same({"models": mine}, {"models": one["models"]})
    assert model(three, three["best"])["prediction"] == "pred_b"


def test_per_row_parameters_and_the_prediction_scale_follow_each_prediction(write_csv, rng):
    n = 800
    mu = rng.normal(0, 2, n)
    s = np.exp(rng.normal(0, 0.4, n))
    y = mu + s * rng.normal(size=n)
    path = write_csv("g.csv", y=y, a=mu + rng.normal(0, 0.5, n), b=mu, s=s)
    kw = {"families": ("gaussian", "student_t"), "param": ("gaussian.sigma=s",),
          "scores": True}
    both = run_api("evaluate", path, pred=["a", "b"], **kw)
    for col in ("a", "b"):
        alone = run_api("evaluate", path, pred=col, **kw)
        assert_same({"models": [m for m in both["models"] if m["prediction"] == col]},
                    {"models": alone["models"]})
    assert both["models"][0]["distributional"]["constant"] is not None
    counts = write_csv("l.csv", y=rng.poisson(3.0, n), la=np.full(n, np.log(2.5)),
                       lb=np.full(n, np.log(3.0)))
    both = run_api("evaluate", counts, pred=["la", "lb"], pred_scale="log",
                   families=("poisson",))
    for col in ("la", "lb"):
        alone = run_api("evaluate", counts, pred=col, pred_scale="log", families=("poisson",))
        mine = next(m for m in both["models"] if m["prediction"] == col)
        assert mine["cross_entropy"] == pytest.approx(alone["models"][0]["cross_entropy"],
                                                      rel=1e-12)
