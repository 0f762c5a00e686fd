"""A family left out of a comparison is never left out silently: rows outside its support
or domain are named (file, column, first row, value, how many) on stderr; a family named
with -f that cannot apply is an error; notes on families nobody named take one line;
clipped probabilities, a Vuong test resting on one row and a df at the Gaussian limit are
said in plain words."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
from scipy import stats

from losscli.errors import InputError, numeric_reason
from tests.conftest import model, run_api, run_cli

COMPARE = "compare-noise-models"


def _skipped(rep: dict) -> dict:
    return {s["family"]: s["reason"] for s in rep["skipped"]}


def _stderr_warnings(proc) -> list[str]:
    return [line for line in proc.stderr.decode().splitlines()
            if line.startswith("warning: ")]


def _not_fitted(warnings: list[str], family: str) -> list[str]:
    """The warnings that say `family` was not fitted ("a, b: not fitted: …")."""
    return [w for w in warnings
            if re.match(rf"(warning: )?([\w, ]*\b)?{family}\b[\w, ]*: not fitted: ", w)]


@pytest.fixture
def binary(rng):
    y = rng.integers(0, 2, 40)
    p = np.round(rng.uniform(0.1, 0.9, 40), 4)
    return y, p


def test_one_probability_above_1_names_bernoulli_on_stderr(write_csv, binary):
    y, p = binary
    p[7] = 1.3
    path = write_csv("prob.csv", y=y, y_pred=p)
    rep = run_api(COMPARE, path)
    reason = _skipped(rep)["bernoulli"]
    for part in ("prob.csv", "'y_pred'", "row 8", "value 1.3", "1 of 40 rows"):
        assert part in reason, part
    proc = run_cli(COMPARE, path)
    assert proc.returncode == 0, proc.stderr
    lines = _not_fitted(_stderr_warnings(proc), "bernoulli")
    assert len(lines) == 1
    for part in ("prob.csv", "'y_pred'", "row 8", "value 1.3", "1 of 40 rows"):
        assert part in lines[0], part


def test_a_log_mean_prediction_is_named_as_probably_log_scale(write_csv, rng):
    mu = rng.uniform(0.5, 5.0, 40)
    mu[1] = 0.4  # log 0.4 < 0: the first negative row is row 2
    y = rng.poisson(mu)
    path = write_csv("logmean.csv", y=y, y_pred=np.log(mu))
    n_neg = int(np.sum(np.log(mu) < 0))
    rep = run_api(COMPARE, path)
    reasons = _skipped(rep)
    for family in ("poisson", "negative_binomial", "gamma", "lognormal"):
        assert "row 2" in reasons[family] and f"{n_neg} of 40 rows" in reasons[family]
        assert "log scale" in reasons[family]
        assert _not_fitted(rep["warnings"], family), family
    proc = run_cli(COMPARE, path)
    err = proc.stderr.decode()
    assert "log scale" in err and "'y_pred'" in err and "logmean.csv" in err


def test_one_negative_count_drops_poisson_with_the_row_named(write_csv, rng):
    y = rng.poisson(3.0, 40)
    y[4] = -2
    for kw in ({"y_pred": np.full(40, 3.0)}, {}):  # conditional and marginal
        path = write_csv("neg.csv", y=y, **kw)
        rep = run_api(COMPARE, path)
        assert rep["target_kind"] == "integer"
        reasons = _skipped(rep)
        for family in ("poisson", "negative_binomial"):
            r = reasons[family]
            assert "'y'" in r and "row 5" in r and "value -2" in r and "1 of 40 rows" in r
            assert "the target would be count" in r
            assert _not_fitted(rep["warnings"], family)


def test_many_negatives_are_an_integer_target_not_bad_rows(write_csv, rng):
    y = rng.integers(-5, 6, 200)  # a genuinely integer target: no note on poisson
    rep = run_api(COMPARE, write_csv("int.csv", y=y))
    assert rep["target_kind"] == "integer"
    assert "poisson" in _skipped(rep)
    assert not any("not fitted" in w for w in rep["warnings"])


def test_two_exact_bounds_drop_beta_with_the_count(write_csv, rng):
    y = rng.uniform(0.05, 0.95, 40)
    y[3], y[10] = 0.0, 1.0
    path = write_csv("prop.csv", y=y)
    rep = run_api(COMPARE, path)
    reason = _skipped(rep)["beta"]
    assert "row 4" in reason and "value 0" in reason and "2 of 40 rows" in reason
    proc = run_cli(COMPARE, path)
    assert len(_not_fitted(_stderr_warnings(proc), "beta")) == 1


def test_one_value_2_in_a_binary_column_explains_bernoulli(write_csv, binary):
    y, p = binary
    y = y.copy()
    y[12] = 2
    rep = run_api(COMPARE, write_csv("b2.csv", y=y, y_pred=p))
    assert rep["target_kind"] == "count"
    r = _skipped(rep)["bernoulli"]
    assert "row 13" in r and "value 2" in r and "would be binary" in r


def test_a_family_named_with_f_that_cannot_apply_is_an_error(write_csv, binary, rng):
    y, p = binary
    p = p.copy()
    p[7] = 1.3
    path = write_csv("prob.csv", y=y, y_pred=p)
    with pytest.raises(InputError) as exc:
        run_api(COMPARE, path, families=("bernoulli", "gaussian"))
    assert exc.value.row == 8 and exc.value.value == 1.3 and exc.value.column == "y_pred"
    # the same error evaluate gives
    with pytest.raises(InputError) as ev:
        run_api("evaluate", path, families=("bernoulli",))
    assert str(ev.value) == str(exc.value)
    # a kind the family does not apply to
    path = write_csv("bin.csv", y=binary[0], y_pred=binary[1])
    proc = run_cli(COMPARE, path, "-f", "gamma,gaussian")
    err = proc.stderr.decode()
    assert proc.returncode == 1 and err.count("error:") == 1 and "gamma" in err
    # a count target with one negative row: the row named
    c = rng.poisson(3.0, 40)
    c[4] = -2
    with pytest.raises(InputError) as neg:
        run_api(COMPARE, write_csv("neg.csv", y=c), families=("poisson", "gaussian"))
    assert neg.value.row == 5 and neg.value.value == -2


def test_a_named_family_that_fails_numerically_is_a_warning(write_csv):
    # round(p) == y on every row: the discretised gaussian has no maximum
    path = write_csv("b.csv", y=[1, 0, 1, 0, 1], p=[0.9, 0.2, 0.7, 0.1, 0.6])
    rep = run_api(COMPARE, path, families=("bernoulli", "gaussian"))
    assert "no maximum" in _skipped(rep)["gaussian"]
    assert any(w.startswith("gaussian: not fitted: ") and "no maximum" in w
               for w in rep["warnings"])


def test_notes_on_families_nobody_named_take_one_line(write_csv, binary):
    y, p = binary
    path = write_csv("plain.csv", y=y, y_pred=p)
    rep = run_api(COMPARE, path)
    best = rep["best"]
    others = {m["family"] for m in rep["models"]} - {best}
    about_others = [w for w in rep["warnings"]
                    if any(re.match(rf"{f}\b", w) for f in others)]
    assert about_others == []  # none of their own
    lines = [w for w in rep["warnings"] if w.startswith("the other families: ")]
    assert len(lines) == 1
    # every note is still there: student_t at the Gaussian limit (df null) says why
    if "student_t" in others and model(rep, "student_t")["params"]["df"] is None:
        assert "student_t" in lines[0] and "Gaussian limit" in lines[0]
    proc = run_cli(COMPARE, path)
    assert len(_stderr_warnings(proc)) <= 2  # the best's own note and the one line
    # named with -f: every note in full, one per family
    rep = run_api(COMPARE, path, families=tuple(sorted(others | {best})))
    assert not any(w.startswith("the other families") for w in rep["warnings"])


def test_clipped_probabilities_are_warned_with_the_first_row(write_csv, binary):
    y, p = binary
    y, p = y.copy(), p.copy()
    y[5], p[5] = 1, 0.0
    y[9], p[9] = 0, 1.0
    path = write_csv("clip.csv", y=y, y_pred=p)
    for command in ("evaluate", COMPARE):
        proc = run_cli(command, path)
        lines = [w for w in _stderr_warnings(proc) if "clipped to" in w]
        assert len(lines) == 1, proc.stderr
        assert "2 predicted probabilities" in lines[0] and "row 6" in lines[0]
        assert "'y_pred'" in lines[0] and "clip.csv" in lines[0]
    rep = run_api("evaluate", path)
    assert rep["input"]["clipped"] == 2
    eps = np.finfo(float).eps
    q = np.clip(p, eps, 1 - eps)
    assert model(rep, "bernoulli")["nll"] == pytest.approx(
        -stats.bernoulli(q).logpmf(y).sum(), rel=1e-12)


def test_clipped_probability_columns_are_warned(write_csv):
    path = write_csv("pc.csv", y=[1, 0, 1], p_0=[1.0, 0.3, 0.2], p_1=[0.0, 0.7, 0.8])
    rep = run_api("evaluate", path, probs=("p_0,p_1",))
    lines = [w for w in rep["warnings"] if "clipped to" in w]
    assert len(lines) == 1
    assert "2 predicted probabilities" in lines[0] and "row 1" in lines[0]
    assert "'p_0'" in lines[0]


def test_student_t_at_the_gaussian_limit_shows_infinity(write_csv, rng):
    path = write_csv("g.csv", y=rng.normal(0.0, 1.0, 300))
    rep = run_api(COMPARE, path, families=("gaussian", "student_t"))
    assert model(rep, "student_t")["params"]["df"] is None  # strict JSON: null
    proc = run_cli(COMPARE, path, "-f", "gaussian,student_t")
    out = proc.stdout.decode()
    assert re.search(r"student_t: loc = [^,]+, df = ∞, scale", out), out  # loc ± its se


def test_numeric_skip_reasons_are_plain_words():
    for exc in (OverflowError(34, "Numerical result out of range"),
                ValueError("math domain error"), ZeroDivisionError("float division by zero"),
                FloatingPointError("invalid value")):
        reason = numeric_reason(exc)
        assert str(exc) not in reason and "Error" not in reason
        assert "float64" in reason and "this family's likelihood" in reason
    assert "too large" in numeric_reason(OverflowError(34, "Numerical result out of range"))


def test_huge_counts_give_no_raw_exception_text(write_csv, rng):
    y = np.round(np.abs(rng.normal(0, 1, 40)) * 1e300 + 1)
    proc = run_cli(COMPARE, write_csv("huge.csv", y=y), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    rep = json.loads(proc.stdout)
    assert "negative_binomial" in _skipped(rep)  # its fit overflows float64
    assert "too large for float64" in _skipped(rep)["negative_binomial"]
    for reason in _skipped(rep).values():
        assert "Numerical result" not in reason and "(34" not in reason
        assert "math domain" not in reason and "Error" not in reason


def _vuong_z(d: np.ndarray) -> float:
    return math.sqrt(d.size) * d.mean() / d.std()


def _diffs(rep: dict, y: np.ndarray) -> np.ndarray:
    """best − other per-row log-likelihoods of gaussian and laplace, from scipy."""
    g, lap = model(rep, "gaussian")["params"], model(rep, "laplace")["params"]
    d = (stats.laplace(lap["median"], lap["scale"]).logpdf(y)
         - stats.norm(g["mean"], g["sigma"]).logpdf(y))
    return d if rep["best"] == "laplace" else -d


@pytest.mark.parametrize("n, outlier, seed, warned", [
    (1000, 12.0, 0, True),  # laplace best only by row 18: without it gaussian wins, z = −4
    (300, 20.0, 1, True),  # the row hides a clear difference: z 1.6 with it, 5.3 without
    (200, 40.0, 0, False),  # the row dominates the variance but the test reads the same
])
def test_a_vuong_test_decided_by_one_row_is_warned(write_csv, n, outlier, seed, warned):
    y = np.random.default_rng(seed).normal(0.0, 1.0, n)
    y[17] = outlier
    rep = run_api(COMPARE, write_csv("o.csv", y=y), families=("gaussian", "laplace"))
    d = _diffs(rep, y)
    share = (d[17] - d.mean()) ** 2 / np.sum((d - d.mean()) ** 2)
    z, z_without = _vuong_z(d), _vuong_z(np.delete(d, 17))
    (test,) = [t for t in rep["tests"] if t["kind"] == "vuong"]
    assert math.isclose(test["statistic"], z, rel_tol=1e-9)
    assert share > 0.5
    verdict = [0 if abs(v) < stats.norm.isf(0.025) else np.sign(v) for v in (z, z_without)]
    assert (verdict[0] != verdict[1]) == warned
    lines = [w for w in rep["warnings"] if w.startswith("vuong test")]
    assert len(lines) == int(warned)
    if warned:
        assert "row 18" in lines[0] and f"{share:.0%}" in lines[0]
        assert f"z = {z:.3g}" in lines[0] and f"z = {z_without:.3g}" in lines[0]


def test_removing_one_row_from_the_vuong_moments():
    from losscli.compare import without_row

    rng = np.random.default_rng(3)
    d, w = rng.normal(0.2, 1.0, 50), rng.integers(1, 4, 50).astype(float)
    W, dbar = w.sum(), np.average(d, weights=w)
    m2 = np.sum(w * (d - dbar) ** 2)
    W2, dbar2, m22 = without_row(W, dbar, m2, d[7], w[7])
    keep = np.arange(50) != 7
    assert W2 == w[keep].sum()
    assert math.isclose(dbar2, np.average(d[keep], weights=w[keep]), rel_tol=1e-12)
    assert math.isclose(m22, np.sum(w[keep] * (d[keep] - dbar2) ** 2), rel_tol=1e-10)


def test_the_counts_do_not_depend_on_the_batch_size(write_csv, rng):
    y = rng.poisson(3.0, 500)
    y[[4, 250, 499]] = -1
    path = write_csv("b.csv", y=y)
    a = run_api(COMPARE, path)
    b = run_api(COMPARE, path, batch_rows=7)
    assert _skipped(a) == _skipped(b)
    assert "3 of 500 rows" in _skipped(a)["poisson"]
    assert math.isclose(a["models"][0]["nll"], b["models"][0]["nll"], rel_tol=1e-12)


def test_a_density_underflow_is_not_called_probability_0(write_csv, rng):
    y = rng.poisson(3.0, 30).astype(float)
    y[0] = 1e18  # student_t's density there is positive, but below float64's range
    proc = run_cli(COMPARE, write_csv("far.csv", y=y), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    rep = json.loads(proc.stdout)
    reason = _skipped(rep)["student_t"]
    assert "underflows float64" in reason and "probability 0" not in reason
    assert _not_fitted(rep["warnings"], "student_t")
    # marginal on value counts: the dominant "row" is named by its value
    assert any(w.startswith("vuong test") and "target 1e+18" in w for w in rep["warnings"])
