"""Repeated --probs / --logits groups as several predictions (SPEC §10.2): a value naming
two or more columns is one group, one prediction; each (family, group) model equals a
run on that group alone, and `prediction_tests` is the Diebold–Mariano test of the log
score, checked against numpy and statsmodels from the probabilities in the file."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import special, stats

from tests.conftest import run_api, run_cli
from tests.test_streaming import assert_same

sm = pytest.importorskip("statsmodels.api")
from statsmodels.stats.weightstats import DescrStatsW  # noqa: E402

N = 900
CLASSES = ("cat", "dog", "fish")
A = [f"a_p_{c}" for c in CLASSES]
B = [f"b_p_{c}" for c in CLASSES]
C = [f"c_p_{c}" for c in CLASSES]
NAME_A, NAME_B, NAME_C = ",".join(A), ",".join(B), ",".join(C)


def _softmax_rows(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.fixture
def groups(write_csv, rng):
    """Text labels; b is sharper on the true class than a, c a serially correlated mix;
    the groups' columns interleaved with other columns in the file."""
    codes = rng.integers(0, 3, N)
    onehot = np.eye(3)[codes]
    drift = np.convolve(rng.normal(0, 1.0, N + 9), np.ones(10) / 10, "valid")[:, None]
    za = 0.8 * onehot + rng.normal(size=(N, 3))
    zb = 2.0 * onehot + rng.normal(size=(N, 3))
    zc = 1.5 * onehot + rng.normal(size=(N, 3)) + drift * np.array([1.0, -1.0, 0.0])
    cols = {"y": np.array(CLASSES)[codes], "w": rng.integers(1, 4, N)}
    for names, z in ((A, za), (B, zb), (C, zc)):
        for k, name in enumerate(names):
            cols[name] = _softmax_rows(z)[:, k]
        cols["x_" + names[0][0]] = rng.normal(size=N)
    # logits of b: the same classes, read through the softmax
    for k, c in enumerate(CLASSES):
        cols[f"zb_{c}"] = zb[:, k]
        cols[f"za_{c}"] = za[:, k]
    return write_csv("g.csv", **cols)


def _data(path):
    import pandas as pd

    return pd.read_csv(path)


def _logq(data, names) -> np.ndarray:
    """log q(yᵢ) of every row from a group's probability columns, by numpy."""
    p = data[names].to_numpy(float)
    codes = np.array([CLASSES.index(v) for v in data["y"]])
    return np.log(p[np.arange(len(p)), codes])


def _model(rep: dict, family: str, prediction: str) -> dict:
    return next(m for m in rep["models"] if m["family"] == family
                and m["prediction"] == prediction)


def _drop_input(rep: dict) -> dict:
    rep = json.loads(json.dumps(rep))
    for k in ("input", "warnings"):
        rep.pop(k)
    return rep


@pytest.mark.parametrize("command", ["evaluate", "compare-noise-models"])
def test_each_group_is_the_run_on_it_alone(groups, command):
    both = run_api(command, groups, target="y", probs=["a_p_*", "b_p_*"])
    assert [m["prediction"] for m in both["models"]] == [NAME_A, NAME_B]
    for glob, name in (("a_p_*", NAME_A), ("b_p_*", NAME_B)):
        alone = run_api(command, groups, target="y", probs=glob)
        assert len(alone["models"]) == 1
        assert_same(_model(both, "categorical", name), alone["models"][0])
    assert [(t["family"], t["null"], t["alternative"]) for t in both["prediction_tests"]] \
        == [("categorical", NAME_A, NAME_B)]
    if command == "compare-noise-models":
        assert both["best_by_prediction"] == {NAME_A: "categorical", NAME_B: "categorical"}
        assert [m["rank"] for m in both["models"]] == [1, 1]  # within each prediction
        assert both["best"] == "categorical"
        assert all(t["prediction"] == NAME_A for t in both["tests"])


def test_numbers_are_the_log_score_of_each_group(groups):
    data = _data(groups)
    rep = run_api("evaluate", groups, target="y", probs=["a_p_*", "b_p_*", "c_p_*"])
    codes = np.array([CLASSES.index(v) for v in data["y"]])
    for names in (A, B, C):
        m = _model(rep, "categorical", ",".join(names))
        ce = -_logq(data, names).mean()
        assert m["cross_entropy"] == pytest.approx(ce, rel=1e-12)
        assert m["kl"] == pytest.approx(ce, rel=1e-12)  # hard labels: entropy 0
        p = data[names].to_numpy(float)
        assert m["metrics"]["accuracy"] == pytest.approx(
            np.mean(p.argmax(axis=1) == codes), rel=1e-12)
        assert m["metrics"]["brier"] == pytest.approx(
            np.mean(np.sum((p - np.eye(3)[codes]) ** 2, axis=1)), rel=1e-12)


@pytest.mark.parametrize("lag", [0, 4])
def test_the_test_is_diebold_mariano_on_the_groups(groups, lag):
    data = _data(groups)
    rep = run_api("evaluate", groups, target="y", probs=["a_p_*", "b_p_*", "c_p_*"],
                  hac_lag=lag)
    tests = rep["prediction_tests"]
    assert [(t["null"], t["alternative"]) for t in tests] == [
        (NAME_A, NAME_B), (NAME_A, NAME_C), (NAME_B, NAME_C)]
    for t in tests:
        a, b = (n.split(",") for n in (t["null"], t["alternative"]))
        d = _logq(data, b) - _logq(data, a)
        fit = sm.OLS(d, np.ones_like(d)).fit(cov_type="HAC", cov_kwds={
            "maxlags": lag, "use_correction": True})
        assert t["hac_lag"] == lag
        assert t["delta_cross_entropy"] == pytest.approx(d.mean(), rel=1e-9)
        assert t["se"] == pytest.approx(fit.bse[0], rel=1e-9)
        z = d.mean() / fit.bse[0]
        assert t["statistic"] == pytest.approx(z, rel=1e-9)
        assert t["p_value"] == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-7)
        if lag == 0:
            assert t["se"] == pytest.approx(DescrStatsW(d).std_mean, rel=1e-9)
    assert tests[0]["statistic"] > 0  # b is the sharper: better than a


def test_frequency_weights_with_groups(groups):
    data = _data(groups)
    rep = run_api("evaluate", groups, target="y", probs=["a_p_*", "b_p_*"], weight="w")
    w = data["w"].to_numpy(float)
    d = _logq(data, B) - _logq(data, A)
    t = rep["prediction_tests"][0]
    ref = DescrStatsW(d, weights=w)
    assert t["delta_cross_entropy"] == pytest.approx(ref.mean, rel=1e-9)
    assert t["se"] == pytest.approx(ref.std_mean, rel=1e-9)


def test_logit_groups_read_through_the_softmax(groups):
    data = _data(groups)
    za, zb = ([f"{p}_{c}" for c in CLASSES] for p in ("za", "zb"))
    rep = run_api("evaluate", groups, target="y", logits=["za_*", "zb_*"])
    codes = np.array([CLASSES.index(v) for v in data["y"]])
    lq = {}
    for names in (za, zb):
        logp = special.log_softmax(data[names].to_numpy(float), axis=1)
        lq[names[0]] = logp[np.arange(N), codes]
        m = _model(rep, "categorical", ",".join(names))
        assert m["cross_entropy"] == pytest.approx(-lq[names[0]].mean(), rel=1e-12)
    t = rep["prediction_tests"][0]
    d = lq[zb[0]] - lq[za[0]]
    assert t["delta_cross_entropy"] == pytest.approx(d.mean(), rel=1e-9)
    assert t["se"] == pytest.approx(DescrStatsW(d).std_mean, rel=1e-9)


def test_batches_give_the_same_report(groups):
    kw = {"target": "y", "probs": ["a_p_*", "b_p_*", "c_p_*"], "hac_lag": 3}
    whole = run_api("evaluate", groups, **kw)
    small = run_api("evaluate", groups, batch_rows=7, **kw)
    assert small["input"]["batches"] > 100
    assert_same(_drop_input(whole), _drop_input(small))


def test_one_group_forms_are_one_prediction(groups):
    glob = run_api("evaluate", groups, target="y", probs="a_p_*")
    for probs in (A, ",".join(A), ["a_p_*", "a_p_*"]):
        rep = run_api("evaluate", groups, target="y", probs=probs)
        assert [m["prediction"] for m in rep["models"]] == [NAME_A]
        assert rep["prediction_tests"] == []
        assert rep["input"]["prediction"] == NAME_A
        assert_same(_drop_input(glob), _drop_input(rep))
    out = run_cli("evaluate", groups, "-t", "y", "--probs", "a_p_cat", "--probs",
                  "a_p_dog", "--probs", "a_p_fish", "--format", "json")
    assert out.returncode == 0, out.stderr
    assert len(json.loads(out.stdout)["models"]) == 1


def test_the_library_takes_lists_of_groups(groups):
    import losscli

    lists = losscli.evaluate(groups, target="y", probs=[A, B])
    globs = losscli.evaluate(groups, target="y", probs=["a_p_*", "b_p_*"])
    assert [m["prediction"] for m in lists["models"]] == [NAME_A, NAME_B]
    assert_same(_drop_input(lists._data), _drop_input(globs._data))
    assert lists["input"]["prediction"] == f"{NAME_A}; {NAME_B}"


def test_the_table_says_which_group_is_better(groups):
    out = run_cli("evaluate", groups, "-t", "y", "--probs", "a_p_*", "--probs", "b_p_*")
    assert out.returncode == 0, out.stderr
    text = out.stdout.decode()
    assert f"{NAME_B} is better than {NAME_A} under categorical by" in text
    assert f"categorical @ {NAME_A}" in text


def test_fail_if_reads_a_group_model(groups):
    field = f"models[family=categorical@{NAME_B}].cross_entropy"
    ce = run_api("evaluate", groups, target="y", probs="b_p_*")["models"][0]["cross_entropy"]
    out = run_cli("evaluate", groups, "-t", "y", "--probs", "a_p_*", "--probs", "b_p_*",
                  "--fail-if", f"{field} > {ce / 2}", "--format", "json")
    assert out.returncode == 3, out.stderr
    assert out.stderr.decode().strip().splitlines() == [
        f"fail-if: {field} = {ce!r} > {ce / 2!r}"]
    ok = run_cli("evaluate", groups, "-t", "y", "--probs", "a_p_*", "--probs", "b_p_*",
                 "--fail-if", f"{field} > {2 * ce}", "--format", "json")
    assert ok.returncode == 0, ok.stderr
    # an unprefixed model field with several groups: which model is unknown
    bare = run_cli("evaluate", "no-such-file.csv", "--probs", "a_p_*", "--probs", "b_p_*",
                   "--fail-if", "cross_entropy > 1")
    assert bare.returncode == 2
    assert "several models" in bare.stderr.decode()


def test_probabilities_clipped_in_every_group_are_counted(write_csv):
    y = np.array(["cat", "dog", "fish", "cat"])
    a = np.array([[0.0, 0.5, 0.5], [0.2, 0.5, 0.3], [0.2, 0.3, 0.5], [0.6, 0.2, 0.2]])
    b = np.array([[0.5, 0.5, 0.0], [0.0, 1.0, 0.0], [0.2, 0.3, 0.5], [0.6, 0.2, 0.2]])
    path = write_csv("z.csv", y=y, **{n: a[:, k] for k, n in enumerate(A)},
                     **{n: b[:, k] for k, n in enumerate(B)})
    rep = run_api("evaluate", path, target="y", probs=["a_p_*", "b_p_*"])
    alone = [run_api("evaluate", path, target="y", probs=g)["input"]["clipped"]
             for g in ("a_p_*", "b_p_*")]
    assert alone == [1, 4]  # values of 0 and 1 are clipped to [ε, 1 − ε]
    assert rep["input"]["clipped"] == sum(alone)


@pytest.mark.parametrize("args,words", [
    (["--probs", "a_p_*", "--probs", "b_p_cat,b_p_dog"],
     ["--probs", "'a_p_*' names 3", "'b_p_cat,b_p_dog' names 2"]),
    (["--probs", "a_p_*", "--probs", "b_p_cat", "--probs", "b_p_dog"],
     ["--probs 'a_p_*' names 3 columns", "--probs 'b_p_cat' names one"]),
    (["--probs", "a_p_*", "--probs", "a_p_cat,b_p_dog,b_p_fish"],
     ["'a_p_cat,b_p_dog,b_p_fish'", "column 'a_p_cat'"]),
    (["--logits", "za_*", "--logits", "zb_cat,zb_dog"], ["--logits", "names 3", "names 2"]),
    (["--probs", "a_p_*", "--probs", "b_p_*", "--logits", "za_*"],
     ["one kind of prediction"]),
])
def test_group_errors_are_one_line(groups, args, words):
    before = groups.read_bytes()
    out = run_cli("evaluate", groups, "-t", "y", *args)
    assert out.returncode == 2
    err = out.stderr.decode().strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    for w in words:
        assert w in err[0]
    assert groups.read_bytes() == before


def test_a_zero_probability_in_a_further_group_is_named_and_untested(write_csv):
    path = write_csv("z.csv", y=["x", "y", "x"], a_p_x=[0.6, 0.3, 0.5],
                     a_p_y=[0.4, 0.7, 0.5], b_p_x=[0.0, 0.2, 0.7], b_p_y=[1.0, 0.8, 0.3])
    rep = run_api("evaluate", path, target="y", probs=["a_p_*", "b_p_*"], eps=0.0)
    a, b = rep["models"]
    assert a["cross_entropy"] == pytest.approx(-np.mean(np.log([0.6, 0.7, 0.5])), rel=1e-12)
    assert b["cross_entropy"] is None
    assert any("column 'b_p_x'" in w and "row 1" in w for w in rep["warnings"])
    t = rep["prediction_tests"][0]
    assert t["statistic"] is None and t["p_value"] is None and t["se"] is None
