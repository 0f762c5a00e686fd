"""Edge cases a real file brings: degenerate fits, zero weights, partial label matches,
soft targets in another class order, proportions read as soft labels."""

from __future__ import annotations

import re

import numpy as np
import pytest

from losscli.errors import InputError, UsageError
from tests.conftest import model, run_api


def _skipped(rep: dict) -> dict:
    return {s["family"]: s["reason"] for s in rep["skipped"]}


def test_predictions_inside_every_unit_interval_skip_the_discretised_families(write_csv):
    # round(p) == y on every row: σ → 0 would give every continuous family probability 1
    path = write_csv("b.csv", y=[1, 0, 1, 0, 1], p=[0.9, 0.2, 0.7, 0.1, 0.6])
    rep = run_api("compare-noise-models", path)
    assert rep["best"] == "bernoulli"
    reasons = _skipped(rep)
    for name in ("gaussian", "laplace", "student_t"):
        assert "no maximum" in reasons[name]
    assert all(m["cross_entropy"] > 0 for m in rep["models"])


def test_single_value_target_skips_discretised_marginal_fits(write_csv):
    rep = run_api("compare-noise-models", write_csv("c.csv", y=[3, 3, 3, 3]))
    reasons = _skipped(rep)
    assert "no maximum" in reasons["gaussian"]
    assert rep["best"] in ("poisson", "negative_binomial")


def test_huge_values_do_not_crash(write_csv):
    rep = run_api("compare-noise-models",
                  write_csv("h.csv", y=[1e300, 2.0, -3.0], y_pred=[1.0, 2.0, 1.0]))
    assert rep["models"]  # fitted what it could; the rest skipped with a reason
    assert all(np.isfinite(m["nll"]) for m in rep["models"])


def test_an_overflowing_metric_is_called_infinite_not_nan(write_csv):
    """(1e200 − 4)² overflows float64: Σw r² is +∞ whatever the batches, so mse and rmse
    are null with a warning that says they are infinite and names the model's family."""
    path = write_csv("h.csv", y=[1.0, 3.0, 1e200, 0.0], y_pred=[2.0, 2.5, 4.0, 1.0])
    for batch_rows in (None, 1, 3):
        rep = run_api("evaluate", path, families=("laplace",), batch_rows=batch_rows)
        m = rep["models"][0]["metrics"]
        assert m["mse"] is None and m["rmse"] is None
        assert m["mae"] == pytest.approx((1.0 + 0.5 + (1e200 - 4.0) + 1.0) / 4, rel=1e-15)
        said = [w for w in rep["warnings"] if "metrics.mse" in w or "metrics.rmse" in w]
        assert len(said) == 2 and all(
            w.startswith("models[family=laplace].metrics.") and "+infinite" in w
            and "overflows float64" in w for w in said), said
        assert not any("nan" in w.lower() for w in rep["warnings"]), rep["warnings"]


def test_zero_weight_rows_are_absent_rows(write_csv):
    a = run_api("compare-noise-models",
                write_csv("w.csv", y=[1, 2, -3, 0, 1], w=[1, 0, 0, 2, 3]), weight="w")
    b = run_api("compare-noise-models", write_csv("r.csv", y=[1, 0, 0, 1, 1, 1]))
    assert a["target_kind"] == b["target_kind"] == "binary"
    assert a["input"]["rows_used"] == 3
    for ma, mb in zip(a["models"], b["models"], strict=True):
        assert ma["family"] == mb["family"]
        assert ma["nll"] == pytest.approx(mb["nll"], rel=1e-9)


def test_partial_label_match_is_an_error_not_a_switch_to_position(write_csv):
    path = write_csv("p.csv", label=[0, 1], p_1=[0.8, 0.3], p_2=[0.2, 0.7])
    with pytest.raises(InputError, match="label has no probability column") as exc:
        run_api("evaluate", path)
    assert exc.value.value == "0" and exc.value.row == 1


def test_integer_labels_map_by_position_when_no_label_names_a_column(write_csv):
    path = write_csv("q.csv", label=[0, 1, 1], p_a=[0.8, 0.3, 0.4], p_b=[0.2, 0.7, 0.6])
    m = model(run_api("evaluate", path), "categorical")
    assert m["cross_entropy"] == pytest.approx(-np.mean(np.log([0.8, 0.7, 0.6])), rel=1e-12)


def test_class_names_cut_at_a_separator(write_csv):
    path = write_csv("s.csv", label=["cat", "car"], score_cat=[0.8, 0.3], score_car=[0.2, 0.7])
    m = model(run_api("evaluate", path, probs=("score_*",)), "categorical")
    assert m["cross_entropy"] == pytest.approx(-np.mean(np.log([0.8, 0.7])), rel=1e-12)


def test_soft_targets_align_with_probabilities_by_class_name(write_csv):
    t = np.array([[0.9, 0.1], [0.3, 0.7]])  # columns a, b
    q = np.array([[0.8, 0.2], [0.4, 0.6]])
    path = write_csv("t.csv", t_a=t[:, 0], t_b=t[:, 1], p_b=q[:, 1], p_a=q[:, 0])
    m = model(run_api("evaluate", path, soft_target=("t_*",), probs=("p_b,p_a",)),
              "categorical")
    assert m["cross_entropy"] == pytest.approx(-np.mean((t * np.log(q)).sum(1)), rel=1e-12)
    with pytest.raises(InputError, match="soft-target classes"):
        run_api("evaluate", write_csv("u.csv", t_a=t[:, 0], t_c=t[:, 1], p_b=q[:, 1],
                                      p_a=q[:, 0]), soft_target=("t_*",), probs=("p_*",))


def test_proportion_target_under_bernoulli_is_a_soft_label(write_csv):
    y = np.array([0.2, 0.9, 0.5, 0.7])
    p = np.array([0.3, 0.8, 0.4, 0.6])
    m = model(run_api("evaluate", write_csv("pr.csv", y=y, p=p)), "bernoulli")
    h = -np.mean(y * np.log(y) + (1 - y) * np.log1p(-y))
    ce = -np.mean(y * np.log(p) + (1 - y) * np.log1p(-p))
    assert m["entropy_method"] == "soft-labels"
    assert m["entropy"] == pytest.approx(h, rel=1e-12)
    assert m["kl"] == pytest.approx(ce - h, rel=1e-9)


def test_a_lone_probability_column_is_the_prediction(write_csv):
    rep = run_api("evaluate", write_csv("o.csv", y=[1, 0, 1], p_1=[0.8, 0.3, 0.6]))
    assert rep["mode"] == "conditional"
    assert model(rep, "bernoulli")["cross_entropy"] == pytest.approx(
        -np.mean(np.log([0.8, 0.7, 0.6])), rel=1e-12)


def test_categorical_with_a_point_prediction_is_refused(write_csv):
    path = write_csv("k.csv", y=[0, 1, 2], y_pred=[0.5, 1.2, 1.9])
    with pytest.raises(InputError, match="class-probability columns"):
        run_api("evaluate", path, target_kind="categorical")


def test_evaluate_with_mixed_base_measures_says_so(write_csv):
    rep = run_api("evaluate", write_csv("m.csv", y=[0, 2, 5, 1], y_pred=[1.0, 2.5, 4.0, 1.5]),
                  families=("poisson", "gaussian"))
    assert rep["base_measure"] == "mixed"
    assert any("different base measures" in w for w in rep["warnings"])


def test_empty_column_option_is_a_usage_error(write_csv):
    with pytest.raises(UsageError):
        run_api("evaluate", write_csv("e.csv", y=[1, 0], p=[0.2, 0.3]), pred="")


def test_a_loss_no_framework_has_comes_with_an_alternative(write_csv, rng):
    mu = np.exp(rng.normal(1.0, 0.6, 800))
    y = rng.poisson(mu * rng.gamma(1.0, 1.0, mu.size))  # NB2 with α = 1, many zeros
    rep = run_api("compare-noise-models", write_csv("nb.csv", y=y, y_pred=mu))
    rec = rep["recommendation"]
    assert rec["family"] == "negative_binomial" and rec["pytorch"] is None
    alt = rec["alternative"]
    assert alt["family"] == "poisson"  # the nested family, same mean, built in
    assert alt["xgboost"] == "count:poisson" and "nested" in alt["reason"]
    # without poisson among the candidates: never a family whose support misses y = 0
    rep = run_api("compare-noise-models", write_csv("nb2.csv", y=y, y_pred=mu),
                  families=("negative_binomial", "gamma", "lognormal", "laplace"))
    assert rep["recommendation"]["alternative"]["family"] == "laplace"


def test_two_neighbouring_values_have_no_discretised_maximum(write_csv):
    rep = run_api("compare-noise-models", write_csv("t.csv", y=[1, 2, 2, 1, 2, 2, 1, 2]))
    reasons = _skipped(rep)
    for name in ("gaussian", "laplace", "student_t", "gamma", "lognormal"):
        assert "two neighbouring integer values" in reasons[name], name
    assert rep["best"] == "poisson"


def test_binary_target_baseline_of_a_continuous_family_is_null_with_a_warning(write_csv, rng):
    y = rng.integers(0, 2, 60)
    p = np.clip(y + rng.normal(0, 0.6, 60), 0.01, 0.99)
    rep = run_api("compare-noise-models", write_csv("bb.csv", y=y, p=p))
    g = model(rep, "gaussian")
    assert g["baseline_cross_entropy"] is None and g["information_gain"] is None
    # when gaussian is not the best, its note shares one line with the other families'
    assert any(re.search(r"\bgaussian(, \w+)*: baseline_cross_entropy is null", w)
               for w in rep["warnings"])


def test_counts_far_from_zero_refuse_the_gamma_quickly(write_csv):
    y = [1_000_000_000_000, 1_000_000_000_003, 999_999_999_990, 1_000_000_000_050]
    rep = run_api("compare-noise-models", write_csv("big.csv", y=y))
    assert "incomplete gamma" in _skipped(rep)["gamma"]


def test_the_within_half_check_sees_every_row_not_the_fit_sample(write_csv, rng):
    y = rng.poisson(3.0, 2000).astype(float)
    pred = y + rng.uniform(-0.4, 0.4, 2000)
    pred[1234] = y[1234] + 3.0  # one row outside: an interior maximum exists
    rep = run_api("compare-noise-models", write_csv("n.csv", y=y, y_pred=pred), fit_rows=100)
    assert "gaussian" not in _skipped(rep)
    assert model(rep, "gaussian")["fit_rows"] == 100


def test_marginal_evaluate_on_integer_targets_runs_on_value_counts_exactly(write_csv, rng):
    from scipy import stats

    y = rng.poisson(4.0, 500)
    rep = run_api("evaluate", write_csv("v.csv", y=y), families=("gaussian", "poisson"))
    g, p = model(rep, "gaussian"), model(rep, "poisson")
    loc, scale = stats.norm.fit(y)
    assert g["params"]["mean"] == pytest.approx(loc, rel=1e-12)
    assert g["params"]["sigma"] == pytest.approx(scale, rel=1e-12)
    assert g["nll"] == pytest.approx(-stats.norm.logpdf(y, loc, scale).sum(), rel=1e-9)
    assert p["nll"] == pytest.approx(-stats.poisson.logpmf(y, y.mean()).sum(), rel=1e-9)
    assert g["n"] == p["n"] == rep["input"]["rows_used"] == 500
    assert g["metrics"]["mse"] == pytest.approx(np.mean((y - y.mean()) ** 2), rel=1e-12)


EXPORT_NAMES = ("y_prob", "y_proba", "proba", "probability", "pred_proba", "y_pred_proba",
                "y_score", "score", "predicted", "forecast")


@pytest.mark.parametrize("name", EXPORT_NAMES)
def test_the_prediction_names_exports_use_are_recognised(write_csv, name):
    """A classifier export (y_true and one of these) is scored in conditional mode: the
    nll is the bernoulli log loss of that column."""
    from scipy import stats

    rng = np.random.default_rng(5)
    p = rng.uniform(0.05, 0.95, 300)
    y = (rng.uniform(size=p.size) < p).astype(float)
    rep = run_api("evaluate", write_csv("e.csv", y_true=y, **{name: p}))
    assert rep["mode"] == "conditional" and rep["input"]["prediction"] == name
    m = model(rep, "bernoulli")
    assert m["nll"] == pytest.approx(-stats.bernoulli.logpmf(y, p).sum(), rel=1e-12)
    assert not any("marginal mode" in w for w in rep["warnings"])


def test_two_recognised_prediction_names_stay_an_error_listing_both(write_csv):
    p = np.array([0.2, 0.7, 0.6])
    path = write_csv("a.csv", y_true=[0, 1, 1], y_score=p, score=p)
    with pytest.raises(InputError, match=r"candidates y_score, score; choose one with --pred"):
        run_api("evaluate", path)


def test_marginal_mode_by_default_names_the_unused_numeric_columns(write_csv, tmp_path):
    """No recognised prediction but numeric columns left unused: marginal mode, and a
    warning (on stderr, in the JSON's warnings) naming them and the -p to give; none
    with --no-pred, with -p, for text columns, or when every column is used."""
    import json

    import pandas as pd

    from tests.conftest import run_cli

    p = np.array([0.2, 0.7, 0.6, 0.4])
    frame = pd.DataFrame({"y_true": [0, 1, 1, 0], "pred_a": p, "pred_b": p / 2,
                          "note": ["a", "b", "c", "d"]})
    csv = tmp_path / "ab.csv"
    frame.to_csv(csv, index=False)
    parquet = tmp_path / "ab.parquet"
    frame.to_parquet(parquet)
    for path in (csv, parquet):
        rep = run_api("evaluate", path)
        assert rep["mode"] == "marginal"
        (note,) = [w for w in rep["warnings"] if "marginal mode" in w]
        assert "'pred_a', 'pred_b' are not used" in note and "-p pred_a" in note
        assert "note" not in note.replace("numeric", "")  # the text column is not offered
    r = run_cli("evaluate", csv)
    assert r.returncode == 0
    err = r.stderr.decode()
    assert "warning: marginal mode" in err and "-p pred_a" in err
    assert "marginal mode: no prediction" not in r.stdout.decode()
    assert json.loads(run_cli("evaluate", csv, "--format", "json").stdout)["mode"] == "marginal"
    one = write_csv("one.csv", y_true=[0, 1, 1, 0], y_probs=p)
    (note,) = [w for w in run_api("evaluate", one)["warnings"] if "marginal mode" in w]
    assert "column 'y_probs' is not used; give -p y_probs" in note
    quiet = (run_api("evaluate", csv, no_pred=True), run_api("evaluate", csv, pred="pred_a"),
             run_api("evaluate", write_csv("y.csv", y=[0, 1, 1, 0], note=list("abcd"))))
    for rep in quiet:
        assert not any("marginal mode" in w for w in rep["warnings"]), rep["warnings"]
