"""The diagnostics panel: each test's effect in words, then the test; the decomposition
identity; the PIT coverage; the pictures. Reports are built by hand."""

from __future__ import annotations

import copy
import io

import pytest

from losscli import render, render_diagnostics, render_grid
from tests.conftest import SAMPLES, run_api
from tests.test_render import check_report_text, plain_width


def diag_test(kind: str, statistic, p_value, name: str, value, exact: bool = True) -> dict:
    return {"kind": kind, "statistic": statistic, "p_value": p_value,
            "null_distribution": "normal", "exact": exact,
            "effect": {"name": name, "value": value}}


def diagnostics(*tests: dict, decomposition: dict | None = None, pit: dict | None = None,
                plots: list | None = None) -> dict:
    return {"pit": pit, "tests": list(tests), "decomposition": decomposition,
            "rootogram": None, "reliability_bins": None, "by_prediction": None, "plots": plots}


def lines(*tests: dict, unit: str = "nats", **kw) -> list[str]:
    return render_diagnostics.diagnostics_lines(
        {"family": "poisson", "diagnostics": diagnostics(*tests, **kw)}, unit)


MODELS = [
    {"family": "negative_binomial", "loss": "NB NLL (negative binomial)",
     "params": {"alpha": 0.8289061779270301}, "n_params": 1, "n": 4000, "fit_rows": 4000,
     "nll": 9083.313408647959, "cross_entropy": 2.2708283521619896, "entropy": 0.0,
     "entropy_method": "hard-labels", "kl": 2.2708283521619896, "aic": 18168.626817295917,
     "bic": 18174.92086693602, "baseline_cross_entropy": 2.437468601479685,
     "information_gain": 0.1666402493176955, "normalized_entropy": 0.9316338888564409,
     "metrics": {"mse": 25.519422919487777, "rmse": 5.051675258712478,
                 "mae": 2.941366692267775, "r2": 0.2934456403769128},
     "base_measure": "counting", "rank": 1, "delta_cross_entropy": 0.0, "akaike_weight": 1.0},
    {"family": "poisson", "loss": "Poisson NLL / Poisson deviance", "params": {},
     "n_params": 0, "n": 4000, "fit_rows": 4000, "nll": 12172.118009398535,
     "cross_entropy": 3.0430295023496337, "entropy": 0.0, "entropy_method": "hard-labels",
     "kl": 3.0430295023496337, "aic": 24344.23601879707, "bic": 24344.23601879707,
     "baseline_cross_entropy": 3.977270249467293, "information_gain": 0.9342407471176593,
     "normalized_entropy": 0.765105037244379,
     "metrics": {"mse": 25.519422919487777, "rmse": 5.051675258712478,
                 "mae": 2.941366692267775, "r2": 0.2934456403769128,
                 "mean_deviance": 3.7627300312979037, "d2": 0.3318080817534892},
     "base_measure": "counting", "rank": 2, "delta_cross_entropy": 0.772201150187644,
     "akaike_weight": 0.0},
]
REPORT = {
    "command": "compare-noise-models",
    "input": {"path": "counts.csv", "format": "csv", "rows_read": 4000, "rows_used": 4000,
              "rows_dropped": 0, "clipped": 0, "target": "y", "prediction": "y_pred",
              "weight": None},
    "target_kind": "count", "mode": "conditional", "base_measure": "counting", "unit": "nats",
    "models": MODELS, "criterion": "aic", "best": "negative_binomial", "skipped": [],
    "tests": [{"kind": "likelihood_ratio", "null": "poisson", "alternative": "negative_binomial",
               "statistic": 6177.609201501153, "p_value": 0.0}],
    "recommendation": {"family": "poisson", "loss": "Poisson NLL / Poisson deviance",
                       "pytorch": "torch.nn.PoissonNLLLoss(log_input=False)",
                       "sklearn": "HistGradientBoostingRegressor(loss='poisson')",
                       "xgboost": "count:poisson", "lightgbm": "poisson", "transform": None,
                       "ties": []},
    "warnings": ["something to say"],
}

POISSON = diagnostics(
    diag_test("pit_uniformity", 0.031, 1.2e-9, "ks_distance", 0.031),
    diag_test("dispersion_dean_a", 510.2, 0.0, "pearson_ratio", 6.3, exact=False),
    diag_test("dispersion_dean_b", 517.8, 0.0, "pearson_ratio", 6.3, exact=False),
    diag_test("dispersion_dean_c", 3.1, 0.0019, "pearson_ratio", 6.3, exact=False),
    diag_test("zero_inflation", None, None, "observed_to_expected", None),
    decomposition={"scoring": "nll", "score": 3.092, "miscalibration": 0.024,
                   "discrimination": 0.233, "uncertainty": 3.301, "method": "exact"},
    pit={"method": "nonrandomized", "bins": 20, "density": [1.0] * 20, "seed": None,
         "coverage": [{"nominal": 0.5, "observed": 0.471}, {"nominal": 0.8, "observed": 0.789},
                      {"nominal": 0.9, "observed": 0.896}, {"nominal": 0.95, "observed": 0.948}]},
    plots=[{"kind": "pit", "path": "out/poisson-pit.png"},
           {"kind": "rootogram", "path": "out/poisson-rootogram.png"}])

POISSON_LINES = [
    "PIT not uniform: KS distance D = 0.031 (p = 1.2e-09)",
    "overdispersed: variance ≈ 6.3 × mean (Dean B z = 518, p < 1e-300 approx.)",
    "Dean A z = 510 (p < 1e-300 approx.), C z = 3.1 (p = 0.0019 approx.)",
    "zero_inflation: not computed (see warnings)",
    "3.092 nats = 3.301 uncertainty − 0.233 discrimination + 0.024 miscalibration",
    "PIT coverage: 50 % → 47.1 %, 80 % → 78.9 %, 90 % → 89.6 %, 95 % → 94.8 %",
    "pictures: out/poisson-pit.png, out/poisson-rootogram.png",
]


def report(command: str = "compare-noise-models", **by_family) -> dict:
    rep = copy.deepcopy(REPORT)
    rep["command"] = command
    for m in rep["models"]:
        if m["family"] in by_family:
            m["diagnostics"] = by_family[m["family"]]
    return rep


def printed(rep: dict, **kw) -> str:
    buf = io.StringIO()
    render.print_report(rep, file=buf, **kw)
    return buf.getvalue()


# --- one line per test -----------------------------------------------------------------------

@pytest.mark.parametrize("t, want", [
    (diag_test("dispersion_dean_b", 517.8, 0.0, "pearson_ratio", 6.3),
     "overdispersed: variance ≈ 6.3 × mean (Dean B z = 518, p < 1e-300)"),
    (diag_test("dispersion_dean_b", -4.2, 2.7e-5, "pearson_ratio", 0.87),
     "underdispersed: variance ≈ 0.87 × mean (Dean B z = -4.2, p = 2.7e-05)"),
    (diag_test("dispersion_dean_b", 0.84, 0.40, "pearson_ratio", 1.02),
     "dispersion consistent with the model: variance ≈ 1.02 × mean (Dean B z = 0.84, p = 0.4)"),
    # a significant ratio near 1 keeps the digits that tell it from 1
    (diag_test("dispersion_dean_b", 5.1, 3.4e-7, "pearson_ratio", 1.004),
     "overdispersed: variance ≈ 1.004 × mean (Dean B z = 5.1, p = 3.4e-07)"),
    (diag_test("dispersion_pearson", 5240.0, 1e-40, "pearson_ratio", 1.31),
     "overdispersed beyond the fitted α: Pearson X²/df ≈ 1.31 (X² = 5,240, p < 1e-16)"),
    (diag_test("dispersion_pearson", 3100.0, 1e-8, "pearson_ratio", 0.775),
     "underdispersed for the fitted α: Pearson X²/df ≈ 0.775 (X² = 3,100, p = 1e-08)"),
    (diag_test("dispersion_pearson", 4010.0, 0.43, "pearson_ratio", 1.0031),
     "dispersion consistent with the fitted α: Pearson X²/df ≈ 1.003 (X² = 4,010, p = 0.43)"),
    (diag_test("zero_inflation", 12.1, 0.0, "observed_to_expected", 1.42),
     "excess zeros: 1.42 × the expected count (z = 12.1, p < 1e-300)"),
    (diag_test("zero_inflation", -6.5, 8e-11, "observed_to_expected", 0.81),
     "fewer zeros than expected: 0.81 × the expected count (z = -6.5, p = 8e-11)"),
    (diag_test("zero_inflation", 0.12, 0.9, "observed_to_expected", 1.0),
     "zeros as expected: 1 × the expected count (z = 0.12, p = 0.9)"),
    (diag_test("calibration_in_the_large", 4.1, 4.1e-5, "mean_residual", 0.23),
     "predictions too low on average: mean(y − ŷ) = 0.23 (z = 4.1, p = 4.1e-05)"),
    (diag_test("calibration_in_the_large", -3.0, 0.0027, "mean_residual", -0.118),
     "predictions too high on average: mean(y − ŷ) = -0.118 (z = -3, p = 0.0027)"),
    (diag_test("calibration_in_the_large", 0.5, 0.617, "mean_residual", 0.0031),
     "calibrated in the large: mean(y − ŷ) = 0.0031 (z = 0.5, p = 0.617)"),
    (diag_test("spiegelhalter", 3.3, 0.00097, "brier_excess", 0.0123),
     "probabilities miscalibrated: Brier excess 0.0123 (Spiegelhalter z = 3.3, p = 0.00097)"),
    (diag_test("spiegelhalter", -0.7, 0.48, "brier_excess", -0.0004),
     "probabilities calibrated: Brier excess -4e-04 (Spiegelhalter z = -0.7, p = 0.48)"),
    (diag_test("pit_uniformity", 0.031, 2e-30, "ks_distance", 0.031),
     "PIT not uniform: KS distance D = 0.031 (p < 1e-16)"),
    (diag_test("pit_uniformity", 0.004, 0.62, "ks_distance", 0.004),
     "PIT consistent with uniform: D = 0.004 (p = 0.62)"),
    (diag_test("tail_exceedance", 480, 0.0, "observed_to_expected", 2.4),
     "2.4 × the expected extreme PIT values (< 0.001 or > 0.999): 480 rows (p < 1e-300)"),
    (diag_test("tail_exceedance", 1, 0.04, "observed_to_expected", 0.125),
     "0.125 × the expected extreme PIT values (< 0.001 or > 0.999): 1 row (p = 0.04)"),
    (diag_test("tail_exceedance", 12345, 0.0, "observed_to_expected", 1.2),
     "1.2 × the expected extreme PIT values (< 0.001 or > 0.999): 12,345 rows (p < 1e-300)"),
    # an approximate null: "approx." after the p-value
    (diag_test("zero_inflation", 2.5, 0.0124, "observed_to_expected", 1.07, exact=False),
     "excess zeros: 1.07 × the expected count (z = 2.5, p = 0.0124 approx.)"),
    (diag_test("spiegelhalter", 40.0, 0.0, "brier_excess", 0.02, exact=False),
     "probabilities miscalibrated: Brier excess 0.02 (Spiegelhalter z = 40, p < 1e-300 approx.)"),
    # at the significance level itself the wording says consistent
    (diag_test("zero_inflation", 1.96, 0.05, "observed_to_expected", 1.3),
     "zeros as expected: 1.3 × the expected count (z = 1.96, p = 0.05)"),
    (diag_test("zero_inflation", 1.97, 0.0499, "observed_to_expected", 1.3),
     "excess zeros: 1.3 × the expected count (z = 1.97, p = 0.0499)"),
])
def test_each_test_in_words(t, want):
    assert lines(t) == [want]
    assert render_diagnostics.diag_test_line(t) == want


@pytest.mark.parametrize("kind", ["pit_uniformity", "tail_exceedance", "dispersion_dean_b",
                                  "dispersion_pearson", "zero_inflation",
                                  "calibration_in_the_large", "spiegelhalter", "new_kind"])
def test_a_test_not_computed(kind):
    assert lines(diag_test(kind, None, None, "x", None)) == [f"{kind}: not computed (see warnings)"]
    assert lines(diag_test(kind, None, 0.3, "x", 1.0)) == [f"{kind}: not computed (see warnings)"]
    # no p-value, no verdict
    assert lines(diag_test(kind, 2.0, None, "x", 1.0)) == [f"{kind}: not computed (see warnings)"]


def test_a_null_effect_and_an_unknown_kind():
    assert lines(diag_test("zero_inflation", 3.0, 0.0027, "observed_to_expected", None)) == [
        "zero_inflation: observed_to_expected not computed (statistic 3, p = 0.0027)"]
    assert lines(diag_test("new_kind", 2.5, 0.0124, "size", 0.1234)) == [
        "new_kind: size = 0.123 (statistic 2.5, p = 0.0124)"]


def test_p_value_wording():
    assert render_diagnostics.diag_p({"p_value": 0.0}) == "p < 1e-300"  # underflowed
    assert render_diagnostics.diag_p({"p_value": 1e-200}) == "p < 1e-16"  # as pval writes it
    assert render_diagnostics.diag_p({"p_value": 0.4}) == render_grid.pval(0.4) == "p = 0.4"
    assert render_diagnostics.diag_p({"p_value": None}) == "p = —"
    assert render_diagnostics.diag_p({"p_value": 0.0, "exact": False}) == "p < 1e-300 approx."
    assert render_diagnostics.diag_p({"p_value": 0.4, "exact": True}) == "p = 0.4"


def test_dean_a_and_c_condensed_after_dean_b():
    a = diag_test("dispersion_dean_a", 2.2, 0.028, "pearson_ratio", 1.1)
    b = diag_test("dispersion_dean_b", 2.5, 0.0124, "pearson_ratio", 1.1)
    c = diag_test("dispersion_dean_c", 1.1, 0.27, "pearson_ratio", 1.1)
    zeros = diag_test("zero_inflation", 0.12, 0.9, "observed_to_expected", 1.0)
    assert lines(a, b, c, zeros) == [
        "overdispersed: variance ≈ 1.1 × mean (Dean B z = 2.5, p = 0.0124)",
        "Dean A z = 2.2 (p = 0.028), C z = 1.1 (p = 0.27)",
        "zeros as expected: 1 × the expected count (z = 0.12, p = 0.9)",
    ]
    assert lines(b, c) == ["overdispersed: variance ≈ 1.1 × mean (Dean B z = 2.5, p = 0.0124)",
                           "Dean C z = 1.1 (p = 0.27)"]
    # without Dean B, A and C in full
    nob = diag_test("dispersion_dean_b", None, None, "pearson_ratio", None)
    assert lines(a, nob, c) == [
        "overdispersed: variance ≈ 1.1 × mean (Dean A z = 2.2, p = 0.028)",
        "dispersion_dean_b: not computed (see warnings)",
        "dispersion consistent with the model: variance ≈ 1.1 × mean (Dean C z = 1.1, p = 0.27)",
    ]
    # a Dean A not computed keeps its own line
    noa = diag_test("dispersion_dean_a", None, None, "pearson_ratio", None)
    assert lines(noa, b, c)[0] == "dispersion_dean_a: not computed (see warnings)"


# --- decomposition, PIT, pictures --------------------------------------------------------------

DECOMP = {"scoring": "nll", "score": 3.092, "miscalibration": 0.024, "discrimination": 0.233,
          "uncertainty": 3.301, "method": "exact"}


@pytest.mark.parametrize("change, unit, want", [
    ({}, "nats", "3.092 nats = 3.301 uncertainty − 0.233 discrimination + 0.024 miscalibration"),
    ({}, "bits", "3.092 bits = 3.301 uncertainty − 0.233 discrimination + 0.024 miscalibration"),
    ({"method": "binned"}, "nats",
     "3.092 nats = 3.301 uncertainty − 0.233 discrimination + 0.024 miscalibration (binned)"),
    ({"scoring": "top_label_log_loss", "score": 0.5121, "uncertainty": 0.6931,
      "discrimination": 0.2003, "miscalibration": 0.0193}, "nats",
     "top-label log loss 0.5121 nats = 0.6931 uncertainty − 0.2003 discrimination "
     "+ 0.0193 miscalibration"),
    ({"scoring": "squared_error", "score": 1.234, "uncertainty": 2.5,
      "discrimination": 1.3, "miscalibration": 0.034}, "nats",
     "1.234 (squared error) = 2.500 uncertainty − 1.300 discrimination + 0.034 miscalibration"),
    ({"miscalibration": None, "discrimination": None}, "nats",
     "3.092 nats = 3.301 uncertainty; miscalibration and discrimination not computed"),
    ({"miscalibration": None}, "nats",
     "3.092 nats = 3.301 uncertainty; miscalibration not computed"),
    ({"miscalibration": None, "method": "binned"}, "nats",
     "3.092 nats = 3.301 uncertainty; miscalibration not computed (binned)"),
    # a binned estimate may come out below 0: the sign is written, not doubled
    ({"score": 3.0618, "uncertainty": 3.3011, "discrimination": 0.2332,
      "miscalibration": -0.0061}, "nats",
     "3.0618 nats = 3.3011 uncertainty − 0.2332 discrimination − 0.0061 miscalibration"),
])
def test_decomposition_identity(change, unit, want):
    d = {**DECOMP, **change}
    assert lines(decomposition=d, unit=unit) == [want]
    assert render_diagnostics.decomposition_line(d, unit) == want


def test_pit_coverage_and_pictures():
    pit = POISSON["pit"]
    assert lines(pit=pit) == [POISSON_LINES[-2]]
    odd = {**pit, "coverage": [{"nominal": 0.5, "observed": None},
                               {"nominal": 0.999, "observed": 0.9981}]}
    assert lines(pit=odd) == ["PIT coverage: 50 % → —, 99.9 % → 99.8 %"]
    assert lines(pit={**pit, "coverage": []}) == []
    assert lines(plots=POISSON["plots"]) == [POISSON_LINES[-1]]
    assert lines(plots=[]) == []
    assert lines(plots=None) == []


def test_every_part_in_order():
    assert render_diagnostics.diagnostics_lines({"family": "poisson", "diagnostics": POISSON},
                                    "nats") == POISSON_LINES


@pytest.mark.parametrize("model", [{"family": "poisson"},
                                   {"family": "poisson", "diagnostics": None}])
def test_not_diagnosed_has_no_lines_and_no_panel(model):
    assert render_diagnostics.diagnostics_lines(model, "nats") == []
    assert render_diagnostics.diagnostics_panel(model, "nats") is None


# --- the panel in the report --------------------------------------------------------------------

@pytest.mark.parametrize("command", ["compare-noise-models", "evaluate"])
def test_the_panel_after_the_report_and_before_the_warnings(command):
    rep = report(command, poisson=POISSON, negative_binomial=None)
    text = printed(rep, warnings=True)
    assert text.count("Diagnostics:") == 1
    assert "Diagnostics: poisson" in text
    assert "Diagnostics: negative_binomial" not in text
    inside = [line.strip().strip("│").strip() for line in text.splitlines()
              if line.startswith("│")]
    assert inside == POISSON_LINES
    start = text.index("Diagnostics: poisson")
    last_section = "LightGBM" if command == "compare-noise-models" else "mean_deviance"
    assert text.index(last_section) < start < text.index("warning: something to say")
    assert "\n\n╭" in text and "\n\n\n╭" not in text  # one blank line before the panel
    check_report_text(text, rep)


def test_diagnose_best_renders_as_the_comparison():
    # diagnose --best reports the comparison (criterion, ranks, tests, recommendation)
    # under its own command name: the same table, the same panel
    rep = report("diagnose", poisson=POISSON)
    text = printed(rep, warnings=True)
    assert text == printed(report("compare-noise-models", poisson=POISSON), warnings=True)
    for part in ("ranked by AIC", "ΔAIC", "Is the difference real?", "Recommendation:",
                 "LightGBM", "Diagnostics: poisson"):
        assert part in text, part
    check_report_text(text, rep)


def test_one_panel_per_diagnosed_model():
    nb = diagnostics(diag_test("dispersion_pearson", 4010.0, 0.43, "pearson_ratio", 1.0031))
    text = printed(report(poisson=POISSON, negative_binomial=nb))
    assert text.index("Diagnostics: negative_binomial") < text.index("Diagnostics: poisson")
    assert "dispersion consistent with the fitted α" in text


@pytest.mark.parametrize("diag", ["absent", None])
def test_no_diagnostics_no_panel(diag):
    rep = report() if diag == "absent" else report(poisson=None, negative_binomial=None)
    text = printed(rep)
    assert "Diagnostics" not in text and "╭" not in text
    assert text == printed(report())  # as before


@pytest.mark.parametrize("width", [80, 120])
def test_the_panel_at_a_terminal_width(width):
    rep = report(poisson=POISSON)
    text = printed(rep, width=width)
    assert plain_width(text) <= width
    check_report_text(text, rep, max_width=width)
    words = " ".join(line.strip().strip("│") for line in text.splitlines()
                     if line.startswith("│")).split()
    assert words == " ".join(POISSON_LINES).split()  # wrapped between words only


def test_no_color_means_no_escapes_in_the_panel():
    rep = report(poisson=POISSON)
    assert "\x1b[" in printed(rep, color=True, width=120)
    assert "\x1b[" not in printed(rep, color=False, width=120)


def test_calibration_on_log_scale_says_so():
    """lognormal's calibration test is on log y (its declared transform): the panel says so."""
    rep = run_api("evaluate", SAMPLES / "positive.parquet", target="y", pred="y_pred",
                  families=("lognormal",), diagnostics=True)
    m = rep["models"][0]
    cal = [t for t in m["diagnostics"]["tests"] if t["kind"] == "calibration_in_the_large"]
    assert len(cal) == 1
    text = [ln for ln in render_diagnostics.diagnostics_lines(m, "nats") if "mean(" in ln]
    assert len(text) == 1 and "mean(log y − log ŷ)" in text[0]
    t = cal[0]
    # without the transform: the raw-scale words
    assert render_diagnostics.diag_test_line(t) != text[0]
