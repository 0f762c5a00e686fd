"""The multilabel family (SPEC §9.4): several label columns scored as independent
Bernoullis, against scikit-learn's log loss, scipy.stats.bernoulli and closed forms."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats
from sklearn.metrics import brier_score_loss, hamming_loss, log_loss

from tests.conftest import model, run_api, run_cli

LABELS = ("cat", "dog", "fish")


def _frame(seed: int, n: int = 300, soft: bool = False, logits: bool = False
           ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Label columns y_* (0/1, or soft labels), predictions p_* (or logits z_*) and
    weights; returns the frame, the labels (L, n) and the probabilities (L, n)."""
    rng = np.random.default_rng(seed)
    q = rng.uniform(0.05, 0.95, (len(LABELS), n))
    y = rng.uniform(size=q.shape) if soft else (rng.uniform(size=q.shape) < q).astype(float)
    cols: dict[str, np.ndarray] = {}
    for k, name in enumerate(LABELS):
        cols[f"y_{name}"] = y[k]
    for k, name in enumerate(LABELS):
        cols[f"z_{name}" if logits else f"p_{name}"] = special.logit(q[k]) if logits else q[k]
    cols["w"] = rng.integers(1, 4, n).astype(float)
    return pd.DataFrame(cols), y, q


def _csv(tmp_path, df: pd.DataFrame, name: str = "ml.csv"):
    path = tmp_path / name
    df.to_csv(path, index=False, float_format="%.17g")
    return path


def _binary_entropy(t: np.ndarray) -> np.ndarray:
    return special.entr(t) + special.entr(1.0 - t)


def test_nll_is_the_sum_of_the_labels_log_losses(tmp_path):
    df, y, q = _frame(1)
    rep = run_api("evaluate", _csv(tmp_path, df), target="y_*", probs=("p_*",))
    assert rep["target_kind"] == "multilabel" and rep["mode"] == "conditional"
    m = model(rep, "multilabel")
    n = y.shape[1]
    per_label = [log_loss(y[k], q[k], labels=[0, 1]) for k in range(len(LABELS))]
    assert m["nll"] == pytest.approx(n * sum(per_label), rel=1e-9)
    assert m["cross_entropy"] == pytest.approx(sum(per_label), rel=1e-9)
    assert [r["label"] for r in m["labels"]] == list(LABELS)
    assert [r["column"] for r in m["labels"]] == [f"y_{c}" for c in LABELS]
    np.testing.assert_allclose([r["cross_entropy"] for r in m["labels"]], per_label,
                               rtol=1e-9)
    # hard labels: entropy 0, so kl is the cross-entropy; nothing fitted
    assert m["entropy"] == 0.0 and m["entropy_method"] == "hard-labels"
    assert m["kl"] == pytest.approx(m["cross_entropy"], rel=1e-12)
    assert m["n_params"] == 0 and m["params"] == {}
    # the baseline is each label's rate: Σ_l h(ȳ_l) on hard labels
    assert m["baseline_cross_entropy"] == pytest.approx(
        float(_binary_entropy(y.mean(axis=1)).sum()), rel=1e-9)
    # metrics per label, averaged: 1 − Hamming loss, the mean binary Brier score
    assert m["metrics"]["accuracy"] == pytest.approx(
        1.0 - hamming_loss(y.T, (q >= 0.5).T.astype(float)), rel=1e-12)
    assert m["metrics"]["brier"] == pytest.approx(
        np.mean([brier_score_loss(y[k], q[k]) for k in range(len(LABELS))]), rel=1e-9)


def test_logits_score_as_scipy_bernoullis(tmp_path):
    df, y, q = _frame(2, logits=True)
    path = _csv(tmp_path, df)
    m = model(run_api("evaluate", path, target="y_cat,y_dog,y_fish", logits=("z_*",)),
              "multilabel")
    z = df[[f"z_{c}" for c in LABELS]].to_numpy().T
    want = -stats.bernoulli(special.expit(z)).logpmf(y).sum()
    assert m["nll"] == pytest.approx(want, rel=1e-9)
    assert m["prediction"] == "z_cat,z_dog,z_fish"


def test_predictions_are_matched_to_labels_by_suffix_whatever_their_order(tmp_path):
    df, _, _ = _frame(3)
    shuffled = df[["p_fish", "y_dog", "p_cat", "y_cat", "y_fish", "p_dog", "w"]]
    a = model(run_api("evaluate", _csv(tmp_path, df), target="y_*", probs=("p_*",)),
              "multilabel")
    b = model(run_api("evaluate", _csv(tmp_path, shuffled, "s.csv"), target="y_cat,y_dog,"
                      "y_fish", probs=("p_*",)), "multilabel")
    assert b["nll"] == pytest.approx(a["nll"], rel=1e-12)
    assert b["labels"] == a["labels"]


def test_soft_labels_entropy_and_kl_in_closed_form(tmp_path):
    df, t, q = _frame(4, soft=True)
    m = model(run_api("evaluate", _csv(tmp_path, df), target="y_*", probs=("p_*",)),
              "multilabel")
    # H = mean over rows of Σ_l h(t_l); CE = −mean Σ_l [t log q + (1 − t) log(1 − q)];
    # KL = mean Σ_l [t log(t/q) + (1 − t) log((1 − t)/(1 − q))]
    h = _binary_entropy(t).sum(axis=0).mean()
    ce = -(t * np.log(q) + (1 - t) * np.log1p(-q)).sum(axis=0).mean()
    kl = (special.rel_entr(t, q) + special.rel_entr(1 - t, 1 - q)).sum(axis=0).mean()
    assert m["entropy_method"] == "soft-labels"
    assert m["entropy"] == pytest.approx(h, rel=1e-9) and h > 0
    assert m["cross_entropy"] == pytest.approx(ce, rel=1e-9)
    assert m["kl"] == pytest.approx(kl, rel=1e-9)
    # the kl's se from its own per-row terms (CE − H of each row)
    row_kl = (special.rel_entr(t, q) + special.rel_entr(1 - t, 1 - q)).sum(axis=0)
    se = row_kl.std(ddof=1) / math.sqrt(row_kl.size)
    assert m["uncertainty"]["kl"]["se"] == pytest.approx(se, rel=1e-6)


def test_marginal_fits_are_the_weighted_label_rates(tmp_path):
    df, y, _ = _frame(5)
    path = _csv(tmp_path, df[[f"y_{c}" for c in LABELS] + ["w"]])
    rep = run_api("evaluate", path, target="y_*", weight="w")
    assert rep["mode"] == "marginal"
    m = model(rep, "multilabel")
    w = df["w"].to_numpy()
    rates = (y * w).sum(axis=1) / w.sum()
    assert list(m["params"]) == list(LABELS)
    np.testing.assert_allclose([m["params"][c] for c in LABELS], rates, rtol=1e-12)
    assert m["n_params"] == len(LABELS)
    # the plug-in entropy of each label, summed: the fit reproduces it (kl = 0)
    assert m["entropy_method"] == "plug-in"
    assert m["entropy"] == pytest.approx(float(_binary_entropy(rates).sum()), rel=1e-9)
    assert m["kl"] == pytest.approx(0.0, abs=1e-12)
    W = w.sum()
    for c, p in zip(LABELS, rates, strict=True):
        assert m["params_se"][c] == pytest.approx(math.sqrt(p * (1 - p) / W), rel=1e-9)
    assert m["aic"] == pytest.approx(2 * len(LABELS) + 2 * m["nll"], rel=1e-12)


@pytest.mark.parametrize("marginal", [False, True])
def test_weights_equal_repetition(tmp_path, marginal):
    df, _, _ = _frame(6, n=120)
    if marginal:
        df = df[[f"y_{c}" for c in LABELS] + ["w"]]
    reps = df.loc[df.index.repeat(df["w"].astype(int))].drop(columns="w")
    probs = () if marginal else ("p_*",)
    a = model(run_api("evaluate", _csv(tmp_path, df), target="y_*", probs=probs,
                      weight="w"), "multilabel")
    b = model(run_api("evaluate", _csv(tmp_path, reps, "r.csv"), target="y_*", probs=probs),
              "multilabel")
    for k in ("nll", "cross_entropy", "entropy", "kl", "aic", "bic"):
        assert a[k] == pytest.approx(b[k], rel=1e-9, abs=1e-12), k
    for k in b["params"]:
        assert a["params"][k] == pytest.approx(b["params"][k], rel=1e-12)
    for ra, rb in zip(a["labels"], b["labels"], strict=True):
        assert ra["cross_entropy"] == pytest.approx(rb["cross_entropy"], rel=1e-9)
    for k in a["metrics"]:
        assert a["metrics"][k] == pytest.approx(b["metrics"][k], rel=1e-9, abs=1e-12)


def _close(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-14)
    return a == b


@pytest.mark.parametrize("marginal", [False, True])
def test_batch_rows_change_nothing(tmp_path, marginal):
    df, _, _ = _frame(7, n=100)
    path = _csv(tmp_path, df)
    args = ["evaluate", str(path), "-t", "y_*", "-w", "w", "--format", "json"]
    args += ["--no-pred"] if marginal else ["--probs", "p_*"]
    a, b = run_cli(*args), run_cli(*args, "--batch-rows", "7")
    assert a.returncode == 0 and b.returncode == 0, b.stderr
    ja, jb = json.loads(a.stdout), json.loads(b.stdout)
    assert _close(ja["models"], jb["models"])
    assert jb["input"]["batches"] == 15


def test_parquet_equals_csv(tmp_path):
    df, _, _ = _frame(8, n=150)
    csv = _csv(tmp_path, df)
    pq = tmp_path / "ml.parquet"
    df.to_parquet(pq, index=False)
    a = run_api("evaluate", csv, target="y_*", probs=("p_*",), weight="w")
    b = run_api("evaluate", pq, target="y_*", probs=("p_*",), weight="w")
    assert _close(a["models"], b["models"])
    assert b["input"]["target"] == "y_cat,y_dog,y_fish"


def test_evaluate_and_compare_end_to_end(tmp_path):
    df, _, _ = _frame(9, n=200)
    path = _csv(tmp_path, df)
    ev = run_cli("evaluate", path, "-t", "y_*")  # p_* found by their prefix
    assert ev.returncode == 0, ev.stderr
    assert "multilabel" in ev.stdout.decode()
    assert "cross-entropy per label (nats/row): cat " in ev.stdout.decode()
    fams = json.loads(run_cli("families", "--format", "json").stdout)
    row = next(r for r in fams["families"] if r["family"] == "multilabel")
    assert row["catboost"] == "MultiLogloss" and row["support"].startswith("several label")
    proc = run_cli("compare-noise-models", path, "-t", "y_*", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    rep = json.loads(proc.stdout)
    assert rep["target_kind"] == "multilabel" and rep["best"] == "multilabel"
    assert [m["family"] for m in rep["models"]] == ["multilabel"]
    assert rep["recommendation"]["pytorch"] == "torch.nn.BCEWithLogitsLoss"
    skipped = {s["family"]: s["reason"] for s in rep["skipped"]}
    assert "needs one target column" in skipped["gaussian"]
    assert "bernoulli" in skipped and "categorical" in skipped
    table = run_cli("compare-noise-models", path, "-t", "y_*")
    assert table.returncode == 0 and b"multilabel" in table.stdout
    diag = run_cli("evaluate", path, "-t", "y_*", "--diagnostics", "--format", "json")
    assert diag.returncode == 0, diag.stderr
    d = json.loads(diag.stdout)["models"][0]["diagnostics"]
    assert d["pit"] is None and d["decomposition"] is None


def test_bits_convert_the_labels(tmp_path):
    df, _, _ = _frame(10, n=80)
    path = _csv(tmp_path, df)
    nats = model(run_api("evaluate", path, target="y_*", probs=("p_*",)), "multilabel")
    bits = model(run_api("evaluate", path, target="y_*", probs=("p_*",), unit="bits"),
                 "multilabel")
    for a, b in zip(nats["labels"], bits["labels"], strict=True):
        assert b["cross_entropy"] == pytest.approx(a["cross_entropy"] / math.log(2), rel=1e-12)


def test_trained_with_bce_with_logits_on_labels_is_the_multilabel_family(tmp_path):
    df, _, _ = _frame(11, n=80, logits=True)
    path = _csv(tmp_path, df)
    rep = run_api("evaluate", path, target="y_*", logits=("z_*",),
                  trained_with="torch:BCEWithLogitsLoss")
    assert [m["family"] for m in rep["models"]] == ["multilabel"]
    rep = run_api("compare-noise-models", path, target="y_*", logits=("z_*",),
                  trained_with="torch:MultiLabelSoftMarginLoss")
    assert rep["models"][0]["family"] == "multilabel" and rep["models"][0]["trained"]


def _error(proc) -> str:
    lines = proc.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert b"Traceback" not in proc.stderr
    return lines[0]


def test_a_label_outside_zero_one_is_an_error_naming_the_row(tmp_path):
    df, _, _ = _frame(12, n=20)
    df.loc[6, "y_dog"] = 2.0
    path = _csv(tmp_path, df)
    before = path.read_bytes()
    proc = run_cli("evaluate", path, "-t", "y_*")
    assert proc.returncode == 1
    line = _error(proc)
    assert "y_dog" in line and "row 7" in line and "2" in line and "[0, 1]" in line
    assert path.read_bytes() == before


def test_a_label_without_a_prediction_column_is_an_error(tmp_path):
    df, _, _ = _frame(13, n=20)
    path = _csv(tmp_path, df.drop(columns="p_dog"))
    proc = run_cli("evaluate", path, "-t", "y_*", "--probs", "p_*")
    assert proc.returncode == 1
    line = _error(proc)
    assert "'dog'" in line and "y_dog" in line and "p_cat, p_fish" in line


def test_a_prediction_outside_zero_one_is_an_error(tmp_path):
    df, _, _ = _frame(14, n=20)
    df.loc[3, "p_fish"] = 1.5
    proc = run_cli("evaluate", _csv(tmp_path, df), "-t", "y_*", "--probs", "p_*")
    assert proc.returncode == 1
    line = _error(proc)
    assert "p_fish" in line and "row 4" in line and "1.5" in line


def test_a_point_prediction_with_label_columns_is_a_usage_error(tmp_path):
    df, _, _ = _frame(15, n=20)
    proc = run_cli("evaluate", _csv(tmp_path, df), "-t", "y_*", "-p", "p_cat")
    assert proc.returncode == 2
    assert "--probs or --logits" in _error(proc)


def test_another_family_on_label_columns_is_an_error(tmp_path):
    df, _, _ = _frame(16, n=20)
    proc = run_cli("evaluate", _csv(tmp_path, df), "-t", "y_*", "-f", "bernoulli")
    assert proc.returncode == 1
    assert "needs one target column" in _error(proc)


def test_a_prediction_column_without_a_label_is_an_error(tmp_path):
    df, _, _ = _frame(17, n=20)
    df["p_bird"] = 0.5
    proc = run_cli("evaluate", _csv(tmp_path, df), "-t", "y_*", "--probs", "p_*")
    assert proc.returncode == 1
    line = _error(proc)
    assert "'p_bird' matches no label column" in line


def test_a_probability_of_zero_on_an_observed_label_is_null_with_eps_zero(tmp_path):
    df, y, q = _frame(18, n=30)
    i = int(np.argmax(y[1] == 1.0))
    df.loc[i, "p_dog"] = 0.0
    path = _csv(tmp_path, df)
    m = model(run_api("evaluate", path, target="y_*", probs=("p_*",), eps=0.0), "multilabel")
    assert m["nll"] is None and m["cross_entropy"] is None
    assert m["labels"][1]["cross_entropy"] is None
    assert m["labels"][0]["cross_entropy"] == pytest.approx(log_loss(y[0], q[0]), rel=1e-9)
    rep = run_api("evaluate", path, target="y_*", probs=("p_*",))  # default ε clips it
    assert rep["input"]["clipped"] == 1
    eps = np.finfo(np.float64).eps
    q[1, i] = eps
    assert model(rep, "multilabel")["labels"][1]["cross_entropy"] == pytest.approx(
        log_loss(y[1], q[1]), rel=1e-9)


def test_the_sample_file_and_its_generator():
    from tests.conftest import SAMPLES

    rep = run_api("compare-noise-models", SAMPLES / "multilabel.csv", target="y_*",
                  logits=("z_*",))
    assert rep["best"] == "multilabel" and rep["target_kind"] == "multilabel"
    df = pd.read_csv(SAMPLES / "multilabel.csv")
    y = df[["y_sport", "y_music", "y_film"]].to_numpy()
    z = df[["z_sport", "z_music", "z_film"]].to_numpy()
    want = -stats.bernoulli(special.expit(z)).logpmf(y).sum() / len(df)
    assert rep["models"][0]["cross_entropy"] == pytest.approx(want, rel=1e-9)
    assert "make_multilabel" in (SAMPLES / "make_samples.py").read_text()


def test_pos_weight_is_undone_on_each_label(tmp_path):
    """BCEWithLogitsLoss(pos_weight=w) trains each label's odds to w·p/(1 − p): the
    probability scored is σ(z − ln w)."""
    df, y, _ = _frame(19, n=60, logits=True)
    path = _csv(tmp_path, df)
    m = model(run_api("evaluate", path, target="y_*", logits=("z_*",),
                      trained_with="torch:BCEWithLogitsLoss(pos_weight=3)"), "multilabel")
    z = df[[f"z_{c}" for c in LABELS]].to_numpy().T
    want = -stats.bernoulli(special.expit(z - math.log(3.0))).logpmf(y).sum()
    assert m["nll"] == pytest.approx(want, rel=1e-9)
    probs = df.assign(**{f"z_{c}": special.expit(df[f"z_{c}"]) for c in LABELS})
    m2 = model(run_api("evaluate", _csv(tmp_path, probs, "p.csv"), target="y_*",
                       probs=("z_*",), trained_with="torch:BCEWithLogitsLoss(pos_weight=3)"),
               "multilabel")
    assert m2["nll"] == pytest.approx(want, rel=1e-9)
