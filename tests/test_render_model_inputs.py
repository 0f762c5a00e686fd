"""The tables of a model with inputs (SPEC §8): held and per-row parameters next to the
fitted ones, the `distributional` block and the `scores` block in words, within 80
columns, and the same lines in the HTML report."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest

from losscli import html_report, render
from tests.conftest import model, run_api


@pytest.fixture(scope="module")
def rep(tmp_path_factory):
    import pandas as pd

    rng = np.random.default_rng(7)
    n = 2000
    mu = rng.normal(0.0, 2.0, n)
    s = np.exp(rng.normal(0.0, 1.0, n))
    y = mu + 1.3 * s * rng.standard_t(5, n)  # σ per row, too narrow, heavy tails
    path = tmp_path_factory.mktemp("r") / "h.csv"
    pd.DataFrame({"y": y, "y_pred": mu, "s": s, "lv": 2 * np.log(s)}).to_csv(
        path, index=False, float_format="%.17g")
    return run_api("evaluate", path, families=("gaussian", "student_t"),
                   param=("gaussian.log_var=lv",), fix=("student_t.df=5",))


def _text(rep: dict, width: int | None = None) -> str:
    buf = io.StringIO()
    render.print_report(rep, file=buf, color=False, width=width)
    return buf.getvalue()


def test_fixed_and_per_row_parameters_next_to_the_fitted_ones(rep):
    text = _text(rep)
    assert "gaussian: sigma: per row from column lv (as log_var)  (k = 0)" in text
    scale = model(rep, "student_t")["params"]["scale"]
    line = next(x for x in text.splitlines() if x.startswith("  student_t:"))
    assert re.search(r"scale = ([\d.]+) ± [\d.]+, df = 5 \(fixed\)  \(k = 1\)", line), line
    shown = float(re.search(r"scale = ([\d.]+)", line).group(1))
    assert abs(shown - scale) <= 5e-5 * scale


def test_distributional_in_words_with_the_json_numbers(rep):
    d = model(rep, "gaussian")["distributional"]
    lines = render.distributional_lines(model(rep, "gaussian"))
    c, r, t = d["constant"], d["recalibration"], d["tail"]
    assert c["statistic"] > 0 and c["p_value"] < 0.001
    m = re.fullmatch(r"per-row sigma beats a constant sigma: z = ([\d.]+), p < 0\.001",
                     lines[0])
    assert m, lines[0]
    assert abs(float(m.group(1)) - c["statistic"]) <= 0.005
    assert r["factor"] > 1 and r["p_value"] < 0.001
    pct = 100 * (r["factor"] - 1)
    m = re.fullmatch(r"the given sigma is too narrow by ([\d.]+) %: factor ([\d.]+), "
                     r"LR ([\d.,]+), p < 0\.001", lines[1])
    assert m, lines[1]
    assert abs(float(m.group(1)) - pct) <= 0.5
    assert abs(float(m.group(2)) - r["factor"]) <= 0.005
    assert abs(float(m.group(3).replace(",", "")) - r["lr_statistic"]) <= 0.05
    m = re.fullmatch(r"heavier tails than gaussian: student_t df = ([\d.]+), LR ([\d.,]+), "
                     r"p < 0\.001", lines[2])
    assert m, lines[2]
    assert abs(float(m.group(1)) - t["df"]) <= 0.05 * t["df"]
    assert "per-row sigma beats a constant sigma" in _text(rep)
    assert render.distributional_lines(model(rep, "student_t")) == []


@pytest.mark.parametrize("factor, p, words", [
    (1.23, 1e-9, "the given sigma is too narrow by 23 %: factor 1.23"),
    (0.81, 1e-5, "the given sigma is too wide by 19 %: factor 0.81"),
    (1.02, 0.4, "the given sigma is neither too narrow nor too wide: factor 1.02"),
])
def test_recalibration_wording(factor, p, words):
    m = {"family": "gaussian", "param_columns": {"sigma": {"column": "s", "as": "sigma"}},
         "distributional": {"constant": None, "tail": None, "recalibration": {
             "param": "sigma", "factor": factor, "cross_entropy": 1.0,
             "lr_statistic": 12.5, "p_value": p}}}
    (line,) = render.distributional_lines(m)
    assert line.startswith(words), line


def test_an_inverse_spread_names_the_spread_and_a_constant_that_wins():
    m = {"family": "gamma", "param_columns": {"shape": {"column": "k", "as": "shape"}},
         "distributional": {
             "constant": {"params": {"shape": 2.0}, "nll": 1, "cross_entropy": 1,
                          "statistic": -3.0, "p_value": 0.0027},
             "recalibration": {"param": "shape", "factor": 1.5, "cross_entropy": 1,
                               "lr_statistic": 40.0, "p_value": 1e-10},
             "tail": None}}
    lines = render.distributional_lines(m)
    assert lines[0] == "a constant shape beats per-row shape: z = -3, p = 0.0027"
    assert lines[1].startswith("the spread from the given shape is too narrow by 50 %")


def test_scores_absent_null_or_present(rep):
    m = dict(model(rep, "gaussian"))
    m.pop("scores", None)
    assert render.scores_lines(m, "nats") == []
    m["scores"] = None
    assert render.scores_lines(m, "nats") == []
    m["scores"] = {"log_score": 1.4125, "crps": 0.5321, "intervals": [
        {"level": lv, "coverage": c, "mean_width": w, "interval_score": 1.0}
        for lv, c, w in ((0.5, 0.498, 1.35), (0.8, 0.791, 2.31), (0.9, 0.9, 2.96),
                         (0.95, 0.951, 3.92))]}
    lines = render.scores_lines(m, "nats")
    assert lines == ["scores: log score 1.4125 nats/row, CRPS 0.5321",
                     "intervals 50/80/90/95 %: coverage 49.8/79.1/90.0/95.1 %, "
                     "mean width 1.35/2.31/2.96/3.92"]
    m["scores"] = {"log_score": 1.4, "crps": None, "intervals": []}
    assert render.scores_lines(m, "nats") == ["scores: log score 1.4 nats/row, CRPS —"]


def test_80_columns_and_html(rep):
    with_scores = {**rep, "models": [dict(m) for m in rep["models"]]}
    with_scores["models"][0]["scores"] = {"log_score": 1.4, "crps": 0.53, "intervals": [
        {"level": lv, "coverage": lv, "mean_width": 12345.678 * lv, "interval_score": 1.0}
        for lv in (0.5, 0.8, 0.9, 0.95)]}
    text = _text(with_scores, width=80)
    assert max(len(x.rstrip()) for x in text.splitlines()) <= 80, text
    assert "per-row sigma beats a constant sigma" in text and "df = 5 (fixed)" in text
    page = html_report.to_html(with_scores)
    assert "per row from column lv" in page and "heavier tails than gaussian" in page
    assert "mean width" in page


@pytest.mark.parametrize("inputs, word", [
    ({}, "fitted"), ({"fixed": {"alpha": 0.4}}, "held"),
    ({"param_columns": {"alpha": {"column": "a", "as": "alpha"}}}, "given")])
def test_the_pearson_line_says_where_alpha_came_from(inputs, word):
    from losscli import render_diagnostics

    t = {"kind": "dispersion_pearson", "statistic": 444.0, "p_value": 0.126,
         "null_distribution": "chi2(400)", "exact": False,
         "effect": {"name": "pearson_ratio", "value": 1.11}}
    m = {"family": "negative_binomial", "diagnostics": {"tests": [t]}, **inputs}
    (line,) = render_diagnostics.diagnostics_lines(m, "nats")
    assert line.startswith(f"dispersion consistent with the {word} α"), line
