"""SPEC §10.4: `--fail-if FIELD OP VALUE`, a gate for CI (exit 3 after a complete report),
its usage errors (exit 2, before any data is read), and `fail_if=` in Python."""

from __future__ import annotations

import json

import numpy as np
import pytest

import losscli
from losscli import gate
from losscli.errors import UsageError
from tests import forked
from tests.conftest import model, run_api, run_cli

MISSING = "no-such-file.csv"  # a usage error must come before the data is read (exit 1)


@pytest.fixture
def real(write_csv, rng):
    n = 300
    pred = rng.normal(size=n)
    return write_csv("real.csv", y=pred + rng.normal(size=n) * 1.5, pred=pred)


def _lines(proc) -> list[str]:
    return [x for x in proc.stderr.decode().splitlines() if x.startswith("fail-if:")]


def test_holding_conditions_exit_3_after_the_complete_report(real):
    rep = run_api("evaluate", real, families=("gaussian",))
    ce = rep["models"][0]["cross_entropy"]
    se = rep["models"][0]["params_se"]["sigma"]
    proc = run_cli("evaluate", real, "-f", "gaussian", "--format", "json",
                   "--fail-if", f"cross_entropy > {ce - 0.01}",
                   "--fail-if", f"cross_entropy < {ce - 0.01}",  # does not hold
                   "--fail-if", "params_se.sigma <= 1",
                   "--fail-if", "family == gaussian")
    assert proc.returncode == 3, proc.stderr
    out = json.loads(proc.stdout)  # stdout is the whole report
    assert out["models"][0]["cross_entropy"] == pytest.approx(ce, rel=1e-12)
    assert _lines(proc) == [
        f"fail-if: cross_entropy = {json.dumps(out['models'][0]['cross_entropy'])} > "
        f"{ce - 0.01}",
        f"fail-if: params_se.sigma = {json.dumps(se)} <= 1",
        "fail-if: family = gaussian == gaussian",
    ]


def test_no_condition_holds_exit_0(real):
    proc = run_cli("evaluate", real, "-f", "gaussian", "--fail-if", "cross_entropy > 100",
                   "--fail-if", "family != gaussian")
    assert proc.returncode == 0, proc.stderr
    assert _lines(proc) == []
    assert b"gaussian" in proc.stdout


def test_the_table_and_output_file_are_complete_when_the_gate_fails(real, tmp_path):
    proc = run_cli("evaluate", real, "-f", "gaussian", "--fail-if", "n > 0")
    assert proc.returncode == 3
    assert b"fitted parameters" in proc.stdout and b"sigma" in proc.stdout
    out = tmp_path / "r.json"
    proc = run_cli("evaluate", real, "-f", "gaussian", "--format", "json", "-o", out,
                   "--fail-if", "n > 0")
    assert proc.returncode == 3
    assert json.loads(out.read_text())["models"][0]["family"] == "gaussian"


def test_a_null_field_holds(real):
    # normalized_entropy is null for a density family (SPEC §1.5: discrete ones only)
    proc = run_cli("evaluate", real, "-f", "gaussian", "--fail-if",
                   "normalized_entropy > 5")
    assert proc.returncode == 3, proc.stderr
    assert _lines(proc) == ["fail-if: normalized_entropy = null > 5 (null: condition holds)"]


def test_compare_reads_report_fields_lists_and_the_best_model(write_csv, rng):
    n = 400
    y = rng.standard_t(3, size=n)
    path = write_csv("t.csv", y=y)
    rep = run_api("compare-noise-models", path, families=("gaussian", "student_t"))
    best = rep["best"]
    lr = next(t for t in rep["tests"] if t["kind"] == "likelihood_ratio")
    proc = run_cli("compare-noise-models", path, "-f", "gaussian,student_t",
                   "--fail-if", f"best == {best}",
                   "--fail-if", "tests[kind=likelihood_ratio].p_value < 1.5",
                   "--fail-if", "models[family=gaussian].rank == 2",
                   "--fail-if", f"family == {best}",  # unprefixed: the best model
                   "--fail-if", "recommendation.family != gaussian",
                   "--fail-if", "input.rows_used < 10")  # does not hold
    assert proc.returncode == 3, proc.stderr
    p = json.dumps(lr["p_value"])
    assert _lines(proc) == [
        f"fail-if: best = {best} == {best}",
        f"fail-if: tests[kind=likelihood_ratio].p_value = {p} < 1.5",
        "fail-if: models[family=gaussian].rank = 2 == 2",
        f"fail-if: family = {best} == {best}",
        f"fail-if: recommendation.family = {best} != gaussian",
    ]
    assert best == "student_t"


def test_diagnose_takes_the_gate_too(real):
    proc = run_cli("diagnose", real, "-f", "gaussian", "--fail-if", "family != gaussian")
    assert proc.returncode == 0, proc.stderr
    proc = run_cli("diagnose", real, "--best", "-f", "gaussian,laplace",
                   "--fail-if", "best != nothing")
    assert proc.returncode == 3, proc.stderr


@pytest.mark.parametrize(("command", "options", "expr", "message"), [
    ("evaluate", (), "cross_entropy >", "no value after '>'"),
    ("evaluate", (), "cross_entropy => 1", "unknown operator '=>'"),
    ("evaluate", (), "cross_entropy = 1", "unknown operator '='"),
    ("evaluate", (), "cross_entropy === 1", "unknown operator '==='"),
    ("evaluate", (), "cross_entropy 1", "unknown operator '1'"),
    ("evaluate", (), "> 1", "no field"),
    ("evaluate", (), "cross_entropi > 1", "unknown field 'cross_entropi' (did you mean"),
    ("evaluate", (), "best == gaussian", "unknown field 'best'"),  # a comparison's field
    ("evaluate", (), "family < gaussian", "'gaussian' is not a number"),
    ("evaluate", (), "family >= 'x'", "is not a number"),
    ("evaluate", (), "metrics.msee > 1", "unknown field 'msee' in 'metrics'"),
    ("evaluate", (), "uncertainty.kl.width > 1", "unknown field 'width'"),
    ("evaluate", (), "input.row > 1", "unknown field 'row' in 'input'"),
    ("evaluate", (), "models.kl > 1", "'models' is a list"),
    ("evaluate", (), "models[familly=gaussian].kl > 1", "unknown field 'familly'"),
    ("evaluate", (), "models[gaussian].kl > 1", "[key=value] or [index]"),
    ("evaluate", (), "metrics[k=1].mse > 1", "'metrics' is not a list"),
    ("evaluate", (), "a..b > 1", "is not a field name"),
    ("evaluate", ("-f", "gaussian", "-f", "laplace"), "kl > 1",
     "'kl' is a model field and this evaluate reports several models"),
    ("evaluate", ("--quantiles", "q_*"), "kl > 1", "reports several models"),
    ("evaluate", ("-p", "a", "-p", "b"), "kl > 1", "reports several models"),
    ("evaluate", ("-p", "pred_*"), "kl > 1", "reports several models"),
    ("compare-noise-models", (), "tests[kinds=vuong].p_value < 1", "unknown field 'kinds'"),
    ("compare-noise-models", (), "recommendation.familly == x", "unknown field 'familly'"),
    ("diagnose", ("--best",), "best < 3", None),  # valid: compare's shape
])
def test_usage_errors_exit_2_before_any_data_is_read(command, options, expr, message):
    proc = run_cli(command, MISSING, *options, "--fail-if", expr)
    err = proc.stderr.decode()
    if message is None:  # valid: the missing file is the error
        assert proc.returncode == 1, err
        return
    assert proc.returncode == 2, err
    assert err.startswith(f"error: --fail-if {expr!r}: ") and message in err, err
    assert err.count("\n") == 1


def test_several_models_may_be_named_with_models_selectors(real):
    proc = run_cli("evaluate", real, "-f", "gaussian", "-f", "laplace",
                   "--fail-if", "models[family=laplace].kl > -100",
                   "--fail-if", "models[1].family == laplace",
                   "--fail-if", "models[family=gaussian@pred].family == gaussian")
    assert proc.returncode == 3, proc.stderr
    lines = _lines(proc)
    assert lines[0].startswith("fail-if: models[family=laplace].kl = ")
    assert lines[1:] == ["fail-if: models[1].family = laplace == laplace",
                         "fail-if: models[family=gaussian@pred].family = gaussian == gaussian"]
    # a prediction no model has: the report is written, then the usage error
    proc = run_cli("evaluate", real, "-f", "gaussian", "-f", "laplace", "--format", "json",
                   "--fail-if", "models[family=laplace].kl > -100",
                   "--fail-if", "models[family=gaussian@other].family == gaussian")
    assert proc.returncode == 2
    assert len(json.loads(proc.stdout)["models"]) == 2
    assert proc.stderr.decode().splitlines()[-1] == (
        "error: --fail-if 'models[family=gaussian@other].family == gaussian': no item of "
        "models has family = 'gaussian' and prediction 'other'")


@pytest.mark.parametrize(("expr", "message"), [
    ("params.mean > 1", "params has no field 'mean' (it has sigma)"),
    ("models[family=poisson].kl > 1", "no item of models has family = 'poisson'"),
    ("models[5].kl > 1", "models has 1 items, no [5]"),
    ("family > 1", "family is gaussian, which cannot be compared with 1"),
    ("cross_entropy == gaussian", "which cannot be compared with gaussian"),
    ("metrics > 1", "metrics is an object, not a value"),
])
def test_fields_the_report_does_not_hold_exit_2_after_the_report(real, expr, message):
    proc = run_cli("evaluate", real, "-f", "gaussian", "--format", "json", "--fail-if", expr)
    assert proc.returncode == 2, proc.stderr
    assert json.loads(proc.stdout)["models"][0]["family"] == "gaussian"
    assert message in proc.stderr.decode()


def test_python_api_raises_gate_failed_with_the_report(rng):
    n = 200
    pred = rng.normal(size=n)
    data = {"y": pred + rng.normal(size=n), "pred": pred}
    with pytest.raises(losscli.GateFailed) as info:
        losscli.evaluate(data, family="gaussian", fail_if=["cross_entropy > 0", "n < 0"])
    exc = info.value
    assert isinstance(exc.report, losscli.Report)
    ce = model(exc.report.to_dict(), "gaussian")["cross_entropy"]
    assert exc.conditions == [f"cross_entropy = {json.dumps(ce)} > 0"]
    assert exc.exit_code == 3
    rep = losscli.evaluate(data, family="gaussian", fail_if="cross_entropy < 0")
    assert rep.best == "gaussian"  # nothing held: the report is returned
    with pytest.raises(UsageError, match="unknown operator"):
        losscli.evaluate(data, family="gaussian", fail_if=["cross_entropy ~ 1"])
    assert "GateFailed" in losscli.__all__


def test_the_schema_names_every_field_a_report_has(real, write_csv, rng):
    """The static schema cannot drift from the reports: every model, input,
    recommendation and top-level key of real reports is in it."""
    reports = [run_api("evaluate", real, families=("gaussian", "student_t"), scores=True),
               run_api("compare-noise-models", real, diagnostics=True)]
    for rep in reports:
        schema = gate.COMPARE if rep["command"] == "compare-noise-models" else gate.EVALUATE
        assert set(rep) <= set(schema)
        assert set(rep["input"]) <= set(gate.INPUT)
        for m in rep["models"]:
            assert set(m) <= set(gate.MODEL)
            assert set(m["metrics"]) <= set(gate.METRICS)
        if "recommendation" in rep:
            assert set(rep["recommendation"]) <= set(schema["recommendation"])
            for t in rep["tests"]:
                assert set(t) <= set(schema["tests"][0])


def test_values_parse_as_numbers_literals_and_names():
    conds = gate.conditions(("n >= 1e3", "trained == true", "kl == null", "family != 'a b'",
                             "cross_entropy<-1"), "compare-noise-models", False)
    assert [c.limit for c in conds] == [1000.0, True, None, "a b", -1.0]
    assert [c.op for c in conds] == [">=", "==", "==", "!=", "<"]
    assert gate.holds(conds[0], 1000) and not gate.holds(conds[0], 999.5)
    assert gate.holds(conds[4], -2.0) and not gate.holds(conds[4], np.float64(0.0))


def test_the_readme_examples_run_and_exit_as_they_say(monkeypatch, tmp_path):
    from tests.conftest import ROOT

    readme = (ROOT / "README.md").read_text()
    section = readme.split("### A gate for CI", 1)[1]
    sh = section.split("```sh\n", 1)[1].split("```", 1)[0]
    assert "--fail-if" in sh and '"$status" -eq 3' in sh
    python = readme.split("fail_if=[...]` is `--fail-if`", 1)[1]
    block = python.split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(ROOT)
    exec(compile(block, "README.md", "exec"), {})
    # the shell example's command, as written, fails its gate with exit 3
    import shlex

    line = " ".join(x.rstrip("\\").strip() for x in sh.splitlines()[1:4])
    args = shlex.split(line)[1:]
    args[args.index("-o") + 1] = str(tmp_path / "report.json")
    proc = forked.run(args, cwd=ROOT, timeout=120)
    assert proc.returncode == 3, proc.stderr
    assert json.loads((tmp_path / "report.json").read_text())["command"] == \
        "compare-noise-models"
