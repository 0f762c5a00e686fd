"""Invariants that must hold on any data (hypothesis): weights are repetition, the
identity H(P,Q) = H(P) + KL holds, KL ≥ 0 where it is exact, and every input route
(CSV, Parquet, stdin) gives the same numbers."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import SAMPLES, model, run_api, run_cli

SETTINGS = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
QUANTITIES = ("nll", "cross_entropy", "aic", "bic")


def _write(tmp_path, name, frame: pd.DataFrame):
    path = tmp_path / name
    frame.to_csv(path, index=False, float_format="%.17g")
    return path


def _close(a, b, rel=1e-9):
    if a is None or b is None:
        return a is b
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k], rel) for k in a)
    if isinstance(a, str):
        return a == b
    return a == pytest.approx(b, rel=rel, abs=1e-12)


count_rows = st.lists(
    st.tuples(st.integers(0, 12), st.floats(0.2, 9.0), st.integers(1, 4)),
    min_size=5, max_size=40,
).filter(lambda r: len({y for y, _, _ in r}) > 2 and max(y for y, _, _ in r) > 1)


@SETTINGS
@given(rows=count_rows, conditional=st.booleans())
def test_frequency_weights_equal_repeated_rows(tmp_path_factory, rows, conditional):
    tmp = tmp_path_factory.mktemp("w")
    y, mu, w = (np.array(c) for c in zip(*rows, strict=True))
    weighted = pd.DataFrame({"y": y, "w": w} | ({"y_pred": mu} if conditional else {}))
    repeated = weighted.loc[weighted.index.repeat(w)].drop(columns="w")
    a = run_api("compare-noise-models", _write(tmp, "a.csv", weighted), weight="w")
    b = run_api("compare-noise-models", _write(tmp, "b.csv", repeated))
    assert [m["family"] for m in a["models"]] == [m["family"] for m in b["models"]]
    for ma, mb in zip(a["models"], b["models"], strict=True):
        for k in QUANTITIES + ("kl", "entropy", "baseline_cross_entropy"):
            assert _close(ma[k], mb[k]), (ma["family"], k)
        assert _close(ma["params"], mb["params"], rel=1e-5), ma["family"]
        assert _close(ma["metrics"], mb["metrics"], rel=1e-9), ma["family"]


@SETTINGS
@given(rows=count_rows, unit=st.sampled_from(["nats", "bits"]))
def test_cross_entropy_is_entropy_plus_kl(tmp_path_factory, rows, unit):
    tmp = tmp_path_factory.mktemp("h")
    y, mu, _ = (np.array(c) for c in zip(*rows, strict=True))
    for frame in (pd.DataFrame({"y": y}), pd.DataFrame({"y": y, "y_pred": mu})):
        rep = run_api("compare-noise-models", _write(tmp, "h.csv", frame), unit=unit)
        for m in rep["models"]:
            assert m["cross_entropy"] == pytest.approx(m["entropy"] + m["kl"], rel=1e-12)
            assert m["nll"] / rep["input"]["rows_used"] == pytest.approx(m["cross_entropy"])
            # exact on the counting measure: plug-in (marginal) and hard labels (conditional)
            assert m["kl"] >= -1e-12


@SETTINGS
@given(probs=st.lists(st.lists(st.floats(0.01, 1.0), min_size=3, max_size=3),
                      min_size=3, max_size=20))
def test_soft_label_kl_is_nonnegative(tmp_path_factory, probs):
    tmp = tmp_path_factory.mktemp("s")
    P = np.array(probs)
    P /= P.sum(axis=1, keepdims=True)
    T = np.roll(P, 1, axis=0)
    frame = pd.DataFrame({"t_a": T[:, 0], "t_b": T[:, 1], "t_c": T[:, 2],
                          "p_a": P[:, 0], "p_b": P[:, 1], "p_c": P[:, 2]})
    rep = run_api("evaluate", _write(tmp, "s.csv", frame), soft_target=("t_*",),
                  probs=("p_*",))
    m = model(rep, "categorical")
    kl = np.mean(np.sum(T * np.log(T / P), axis=1))
    assert m["kl"] >= -1e-12
    assert m["kl"] == pytest.approx(kl, rel=1e-9, abs=1e-12)


def test_parquet_csv_and_stdin_agree():
    csv = run_cli("compare-noise-models", SAMPLES / "regression.csv", "--format", "json")
    pq = run_cli("compare-noise-models", SAMPLES / "regression.parquet", "--format", "json")
    stdin = run_cli("compare-noise-models", "-", "--format", "json",
                    stdin=(SAMPLES / "regression.csv").read_bytes())
    reps = [json.loads(p.stdout) for p in (csv, pq, stdin)]
    assert all(p.returncode == 0 for p in (csv, pq, stdin))
    assert [r["input"]["format"] for r in reps] == ["csv", "parquet", "csv"]
    for r in reps[1:]:
        assert r["models"] == reps[0]["models"]
        assert r["tests"] == reps[0]["tests"]


def test_gzip_and_tsv_agree_with_csv(tmp_path):
    import gzip

    raw = (SAMPLES / "counts.csv").read_bytes()
    gz = tmp_path / "counts.csv.gz"
    gz.write_bytes(gzip.compress(raw))
    tsv = tmp_path / "counts.tsv"
    tsv.write_bytes(raw.replace(b",", b"\t"))
    ref = run_api("compare-noise-models", SAMPLES / "counts.csv")
    for path in (gz, tsv):
        rep = run_api("compare-noise-models", path)
        for a, b in zip(ref["models"], rep["models"], strict=True):
            assert a == b


def test_sample_files_run_and_give_strict_json():
    for path in sorted(SAMPLES.glob("*.csv")) + sorted(SAMPLES.glob("*.parquet")):
        extra = (["--soft-target", "t_*", "--probs", "p_*"] if path.stem == "distill"
                 else ["-w", "w"] if path.stem == "positive"
                 else ["-t", "y_*", "--logits", "z_*"] if path.stem == "multilabel" else [])
        proc = run_cli("compare-noise-models", path, "--format", "json", *extra)
        assert proc.returncode == 0, proc.stderr
        rep = json.loads(proc.stdout, parse_constant=lambda c: pytest.fail(c))
        assert rep["models"] and rep["recommendation"]["family"] == rep["best"]
        assert all(math.isfinite(m["nll"]) for m in rep["models"])
