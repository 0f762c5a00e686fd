"""Classifier metrics on soft labels: one definition for all three.

A soft row with label t counts as K hard rows, class k weighted t_k (as the nll counts
it), and accuracy, Brier and ECE are the hard-label metrics of those rows. Checked by a
closed form on a handmade table, against scikit-learn on the expanded hard-label twin,
against the hard-label run on one-hot soft labels, and on a student equal to its
teacher (ECE 0, Brier the teacher's Gini impurity).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import sklearn.metrics as skm

from tests.conftest import SAMPLES, model, run_api

CLASSES = ("a", "b", "c")


def soft_csv(write_csv, T, Q, w=None, name="soft.csv"):
    cols = {f"t_{c}": T[:, k] for k, c in enumerate(CLASSES)}
    cols.update({f"p_{c}": Q[:, k] for k, c in enumerate(CLASSES)})
    if w is not None:
        cols["w"] = w
    return write_csv(name, **cols)


def metrics(path, **kw) -> dict:
    rep = run_api("evaluate", path, **kw)
    return rep["models"][0]["metrics"]


def ece_of_hard_rows(y, q, w) -> float:
    """ECE of hard labels y (class index) and probability rows q, weights w: 15 bins
    (i/15, (i+1)/15] of the top probability, Σ over bins |Σw hit − Σw conf| / Σw."""
    conf = q.max(axis=1)
    hit = (q.argmax(axis=1) == y).astype(float)
    total = 0.0
    for i in range(15):
        inside = (conf > i / 15) & (conf <= (i + 1) / 15)
        if i == 0:
            inside |= conf == 0
        total += abs(np.sum(w[inside] * hit[inside]) - np.sum(w[inside] * conf[inside]))
    return total / w.sum()


def test_closed_form_on_a_handmade_table(write_csv):
    T = np.array([[0.7, 0.2, 0.1],
                  [0.1, 0.6, 0.3],
                  [0.0, 0.0, 1.0],
                  [0.5, 0.5, 0.0]])
    Q = np.array([[0.62, 0.28, 0.10],   # top a: t_a = 0.7, confidence 0.62 (bin 9)
                  [0.20, 0.30, 0.50],   # top c: t_c = 0.3, confidence 0.50 (bin 7)
                  [0.10, 0.25, 0.65],   # top c: t_c = 1.0, confidence 0.65 (bin 9)
                  [0.45, 0.45, 0.10]])  # a tie, first class a: t_a = 0.5, conf 0.45 (bin 6)
    m = metrics(soft_csv(write_csv, T, Q), soft_target=("t_*",), probs=("p_*",))
    # expected accuracy: (0.7 + 0.3 + 1 + 0.5) / 4
    assert m["accuracy"] == pytest.approx(0.625, rel=1e-12)
    # Σ (q − t)² + 1 − Σ t² per row: 0.0128 + 0.46, 0.14 + 0.54, 0.195 + 0, 0.015 + 0.5
    assert m["brier"] == pytest.approx((0.4728 + 0.68 + 0.195 + 0.515) / 4, rel=1e-12)
    # bin 9: |1.7 − 1.27|, bin 7: |0.3 − 0.5|, bin 6: |0.5 − 0.45|
    assert m["ece"] == pytest.approx((0.43 + 0.2 + 0.05) / 4, rel=1e-12)


def test_closed_form_on_soft_binary_labels(write_csv):
    t = np.array([0.9, 0.2, 0.6, 0.5])
    q = np.array([0.82, 0.3, 0.38, 0.7])
    m = metrics(write_csv("b.csv", t=t, q=q), soft_target=("t",), probs=("q",))
    # class 1 predicted where q > ½: expected hits t, 1 − t, 1 − t, t = 0.9, 0.8, 0.4, 0.5
    assert m["accuracy"] == pytest.approx(2.6 / 4, rel=1e-12)
    # (q − t)² + t(1 − t): 0.0064 + 0.09, 0.01 + 0.16, 0.0484 + 0.24, 0.04 + 0.25
    assert m["brier"] == pytest.approx((0.0964 + 0.17 + 0.2884 + 0.29) / 4, rel=1e-12)
    # confidences 0.82 (bin 12), 0.7 and 0.7 (bin 10), 0.62 (bin 9)
    assert m["ece"] == pytest.approx((abs(0.9 - 0.82) + abs(0.8 + 0.5 - 1.4)
                                      + abs(0.4 - 0.62)) / 4, rel=1e-12)


@pytest.mark.parametrize("weighted", [False, True])
def test_equal_to_scikit_learn_on_the_expanded_hard_label_twin(write_csv, rng, weighted):
    n, K = 300, len(CLASSES)
    T = rng.dirichlet(np.full(K, 0.6), n)
    Q = rng.dirichlet(np.full(K, 1.5), n)
    w = rng.integers(1, 5, n).astype(float) if weighted else np.ones(n)
    path = soft_csv(write_csv, T, Q, w if weighted else None)
    m = metrics(path, soft_target=("t_*",), probs=("p_*",),
                **({"weight": "w"} if weighted else {}))
    # each soft row as K hard rows, one per class, weighted w · t_k
    y = np.tile(np.arange(K), n)
    q = np.repeat(Q, K, axis=0)
    tw = (w[:, None] * T).ravel()
    assert m["accuracy"] == pytest.approx(
        skm.accuracy_score(y, q.argmax(axis=1), sample_weight=tw), rel=1e-12)
    assert m["brier"] == pytest.approx(
        skm.brier_score_loss(y, q, sample_weight=tw, labels=[0, 1, 2]), rel=1e-12)
    assert m["ece"] == pytest.approx(ece_of_hard_rows(y, q, tw), rel=1e-9, abs=1e-15)


def test_soft_binary_labels_equal_scikit_learn_on_the_twin(write_csv, rng):
    n = 400
    t = rng.uniform(0, 1, n)
    q = rng.uniform(0.02, 0.98, n)
    w = rng.integers(1, 4, n).astype(float)
    m = metrics(write_csv("b.csv", t=t, q=q, w=w), soft_target=("t",), probs=("q",),
                weight="w")
    y = np.r_[np.ones(n), np.zeros(n)]
    qq = np.r_[q, q]
    tw = np.r_[w * t, w * (1 - t)]
    assert m["accuracy"] == pytest.approx(
        skm.accuracy_score(y, qq > 0.5, sample_weight=tw), rel=1e-12)
    assert m["brier"] == pytest.approx(skm.brier_score_loss(y, qq, sample_weight=tw),
                                       rel=1e-12)
    P = np.c_[1 - qq, qq]
    assert m["ece"] == pytest.approx(ece_of_hard_rows(y.astype(int), P, tw), rel=1e-9)


def test_one_hot_soft_labels_give_the_hard_label_metrics(write_csv, rng):
    n, K = 250, len(CLASSES)
    Q = rng.dirichlet(np.ones(K), n)
    labels = rng.integers(0, K, n)
    T = np.eye(K)[labels]
    soft = metrics(soft_csv(write_csv, T, Q), soft_target=("t_*",), probs=("p_*",))
    hard_path = write_csv("hard.csv", label=np.array(CLASSES)[labels],
                          **{f"p_{c}": Q[:, k] for k, c in enumerate(CLASSES)})
    hard = metrics(hard_path, target="label", probs=("p_*",))
    for k in ("accuracy", "brier", "ece"):
        assert soft[k] == pytest.approx(hard[k], rel=1e-12, abs=1e-15), k
    assert hard["accuracy"] == pytest.approx(skm.accuracy_score(labels, Q.argmax(1)),
                                             rel=1e-12)
    # binary: 0/1 soft labels and the same hard labels
    y = rng.integers(0, 2, n)
    q = rng.uniform(0.02, 0.98, n)
    path = write_csv("b.csv", y=y, t=y.astype(float), q=q)
    soft = metrics(path, soft_target=("t",), probs=("q",))
    hard = metrics(path, target="y", probs=("q",))
    for k in ("accuracy", "brier", "ece"):
        assert soft[k] == pytest.approx(hard[k], rel=1e-12, abs=1e-15), k
    assert hard["brier"] == pytest.approx(skm.brier_score_loss(y, q), rel=1e-12)


def test_a_student_equal_to_its_teacher(write_csv, rng):
    """ECE 0 (the top probability is the expected hit), accuracy the mean top
    probability, Brier the mean Gini impurity 1 − Σ t²: what is left is the teacher's own
    uncertainty, as the cross-entropy is left with the entropy and KL = 0."""
    path = SAMPLES / "distill.csv"
    T = pd.read_csv(path)[["t_cat", "t_dog", "t_bird"]].to_numpy()
    m = model(run_api("evaluate", path, soft_target=("t_*",), probs=("t_*",)),
              "categorical")
    assert m["kl"] == pytest.approx(0.0, abs=1e-12)
    assert m["metrics"]["ece"] == pytest.approx(0.0, abs=1e-12)
    assert m["metrics"]["accuracy"] == pytest.approx(T.max(axis=1).mean(), rel=1e-12)
    assert m["metrics"]["brier"] == pytest.approx((1 - (T ** 2).sum(axis=1)).mean(),
                                                  rel=1e-12)
