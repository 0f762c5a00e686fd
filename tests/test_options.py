"""Every option is declared once, as a Request field: the commands' options and the
Python API's keywords are generated from the fields. The model-input options of SPEC §8
(--param, --fix, --pred-scale, --scores, --quantiles, --quantile-levels) are read and
checked here, before any data is read."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Mapping

import pytest
import typer

import losscli
from losscli import cli
from losscli.errors import UsageError
from losscli.noise import FAMILIES
from losscli.request import FixSpec, ParamSpec, Request, from_options
from tests.conftest import SAMPLES, run_cli

COMMON = ("--target", "--pred", "--probs", "--logits", "--soft-target", "--weight",
          "--no-pred", "--pred-scale", "--param", "--fix", "--input-format", "--delimiter",
          "--encoding", "--thousands", "--positive-label", "--family", "--target-kind",
          "--unit", "--format", "--output", "--html", "--color", "--eps", "--strict",
          "--renormalize", "--fit-rows", "--batch-rows", "--engine", "--workers",
          "--scheduler", "--seed", "--plot", "--corp-max-unique", "--fail-if", "--level",
          "--by", "--max-slices")
# each command's options, written out here (not read from the code under test)
OPTIONS = {
    "evaluate": COMMON + ("--diagnostics", "--scores", "--quantiles", "--quantile-levels",
                          "--hac-lag", "--trained-with"),
    "compare-noise-models": COMMON + ("--criterion", "--alpha", "--diagnostics",
                                      "--scores", "--hac-lag", "--trained-with"),
    "diagnose": COMMON + ("--best", "--criterion", "--alpha"),
}
SHORT = {"--target": "-t", "--pred": "-p", "--weight": "-w", "--family": "-f",
         "--output": "-o"}


def _command(name: str):
    return typer.main.get_command(cli.app).commands[name]


def _fields_by_flag() -> dict[str, dataclasses.Field]:
    from losscli.request import NOT_OPTIONS, flag

    return {flag(f.name): f for f in dataclasses.fields(Request) if f.name not in NOT_OPTIONS}


@pytest.mark.parametrize("command", OPTIONS)
def test_each_command_has_its_options_named_and_flagged_as_before(command):
    params = [p for p in _command(command).params if p.param_type_name == "option"]
    longs = [next(o for o in p.opts if o.startswith("--")) for p in params]
    assert sorted(longs) == sorted(OPTIONS[command])
    assert len(set(longs)) == len(longs)
    for p, long in zip(params, longs, strict=True):
        assert [o for o in p.opts if not o.startswith("--")] == \
            ([SHORT[long]] if long in SHORT else []), long
        assert not p.secondary_opts, long  # a flag is one option (no --no-strict)


@pytest.mark.parametrize("command", OPTIONS)
def test_the_help_and_defaults_of_an_option_are_its_field_s(command):
    from losscli.request import specs

    fields = _fields_by_flag()
    for p in _command(command).params:
        long = next((o for o in p.opts if o.startswith("--")), None)
        if long not in fields:
            continue  # the file, and where the report goes: not the Request's
        field = fields[long]
        assert p.help == specs()[field.name].opt.help
        if long == "--engine":  # unset: it follows --scheduler
            assert p.default is None
        elif long == "--fit-rows":  # text: a number or 'all'
            assert p.default == str(field.default)
        elif isinstance(field.default, tuple):
            assert p.multiple and not p.default
        else:
            assert p.default == field.default, long


def test_help_lists_the_new_options_with_their_values():
    text = run_cli("evaluate", "--help").stdout.decode()
    for piece in ("--param NAME=COL", "--fix NAME=VALUE",
                  "--pred-scale <identity|log|logit>", "--scores", "--quantiles COLUMNS",
                  "--quantile-levels LEVELS"):
        assert piece in text, piece
    compare = run_cli("compare-noise-models", "--help").stdout.decode()
    assert "--scores" in compare and "--quantiles" not in compare


# ------------------------------------------------------------------ parsing


def _request(**options) -> Request:
    return from_options("evaluate", "x.csv", options)


def test_param_and_fix_are_parsed_in_option_order():
    req = _request(param=("sigma=s", "Normal.log_var = lv", "t.log_df=ldf"),
                   fix=("student_t.df=5", "df=inf", "gamma.shape=2.5e-3"))
    assert req.param_specs == (ParamSpec(None, "sigma", "s"),
                               ParamSpec("gaussian", "log_var", "lv"),
                               ParamSpec("student_t", "log_df", "ldf"))
    assert req.fixed_specs == (FixSpec("student_t", "df", 5.0),
                               FixSpec(None, "df", float("inf")),
                               FixSpec("gamma", "shape", 0.0025))
    assert _request().param_specs == () and _request().fixed_specs == ()
    # split at the first '=': a column's name may hold one
    assert _request(param=("sigma=s=1",)).param_specs == (ParamSpec(None, "sigma", "s=1"),)


def test_the_new_scalar_and_level_options():
    req = _request(pred_scale="logit", scores=True, quantiles=("q_*",),
                   quantile_levels=("0.05,0.5", "0.95"))
    assert (req.pred_scale, req.scores, req.quantiles) == ("logit", True, ("q_*",))
    assert req.quantile_levels == (0.05, 0.5, 0.95)
    assert Request(command="evaluate", path="x").pred_scale == "identity"


@pytest.mark.parametrize("options,message", [
    ({"param": ("sigma",)}, "--param sigma: expected NAME=COL or FAMILY.NAME=COL"),
    ({"param": ("=s",)}, "--param =s: expected NAME=COL or FAMILY.NAME=COL"),
    ({"param": ("sigma=",)}, "--param sigma=: expected NAME=COL or FAMILY.NAME=COL"),
    ({"param": ("gaussian.=s",)}, "--param gaussian.=s: expected NAME=COL or "
                                  "FAMILY.NAME=COL"),
    ({"param": ("gausian.sigma=s",)}, "--param gausian.sigma=s: unknown family 'gausian' "
                                      "(did you mean 'gaussian'?); choose from "
                                      + ", ".join(FAMILIES)),
    ({"param": (",.sigma=s",)}, "--param ,.sigma=s: FAMILY is one family"),
    ({"param": ("log sigma=s",)}, "--param log sigma=s: 'log sigma' is not a parameter "
                                  "name (such as sigma, log_sigma, df)"),
    ({"fix": ("df=five",)}, "--fix df=five: 'five' is not a number"),
    ({"fix": ("df=nan",)}, "--fix df=nan: must be a number"),
    ({"fix": ("df=-inf",)}, "--fix df=-inf: must be a number"),
    ({"fix": ("student_t.df",)}, "--fix student_t.df: expected NAME=VALUE or "
                                 "FAMILY.NAME=VALUE"),
    ({"pred_scale": "logg"}, "--pred-scale: unknown value 'logg' (did you mean 'log' or "
                             "'logit'?); choose from identity, log, logit"),
    ({"quantile_levels": ("0.5",)}, "--quantile-levels needs --quantiles (the columns "
                                    "whose levels they are)"),
    ({"quantiles": ("q_*",), "quantile_levels": ("0.1,x",)},
     "--quantile-levels x: must be a number; write the levels as a comma list such as "
     "0.05,0.5,0.95"),
    ({"quantiles": ("q_*",), "quantile_levels": (0.1, 1)}, "--quantile-levels 1: must be "
                                                           "less than 1"),
    ({"quantiles": ("q_*",), "quantile_levels": (0.0, 0.5)}, "--quantile-levels 0.0: must "
                                                             "be greater than 0"),
    ({"scores": "yes"}, "--scores 'yes': must be True or False"),
    ({"param": (1,)}, "--param (1,): must be a string or a list of strings"),
])

def test_model_input_options_are_checked_with_the_cli_s_messages(options, message):
    with pytest.raises(UsageError) as err:
        _request(**options)
    assert str(err.value) == message


@pytest.mark.parametrize("args,line", [
    (("--param", "sigma"), "error: --param sigma: expected NAME=COL or FAMILY.NAME=COL"),
    (("--fix", "studnt_t.df=5"), "error: --fix studnt_t.df=5: unknown family 'studnt_t' "
                                 "(did you mean 'student_t'?)"),
    (("--fix", "df=x"), "error: --fix df=x: 'x' is not a number"),
    (("--quantiles", "q_*", "--quantile-levels", "0.5,1.5"), "error: --quantile-levels "
                                                             "1.5: must be less than 1"),
    (("--quantile-levels", "0.5"), "error: --quantile-levels needs --quantiles"),
    (("--pred-scale", "lgo"), "error: --pred-scale: unknown value 'lgo' (did you mean "
                              "'log'?)"),
])
def test_model_input_usage_errors_are_one_line_with_exit_2(args, line):
    proc = run_cli("evaluate", SAMPLES / "counts.csv", *args)
    err = proc.stderr.decode()
    assert proc.returncode == 2, err
    assert err.startswith(line) and err.count("\n") == 1, err
    assert "Traceback" not in err and proc.stdout == b""


def test_options_a_command_has_not_are_usage_errors():
    proc = run_cli("compare-noise-models", SAMPLES / "counts.csv", "--quantiles", "q_*")
    assert proc.returncode == 2
    assert proc.stderr.decode() == "error: no such option --quantiles\n"


# ------------------------------------------------------------------ the Python API


def test_the_api_takes_param_and_fix_as_mappings():
    from losscli.library import _request as api_request

    req = api_request("evaluate", SAMPLES / "counts.csv", {
        "param": {"sigma": "s", "gaussian.log_var": "lv"},
        "fix": {"student_t.df": 5, "lognormal.sigma": 0.25},
        "pred_scale": "log", "scores": True, "quantiles": ["q_0.1", "q_0.9"],
        "quantile_levels": [0.1, 0.9]})
    assert req.param == ("sigma=s", "gaussian.log_var=lv")
    assert req.fix == ("student_t.df=5", "lognormal.sigma=0.25")
    assert req.fixed_specs == (FixSpec("student_t", "df", 5.0),
                               FixSpec("lognormal", "sigma", 0.25))
    assert (req.pred_scale, req.scores) == ("log", True)
    assert (req.quantiles, req.quantile_levels) == (("q_0.1", "q_0.9"), (0.1, 0.9))
    one = api_request("evaluate", "x.csv", {"param": "sigma=s", "quantiles": "q_*",
                                            "quantile_levels": "0.1,0.9"})
    assert (one.param, one.quantiles, one.quantile_levels) == (
        ("sigma=s",), ("q_*",), (0.1, 0.9))
    with pytest.raises(UsageError, match=r"^--probs \{'a': 'b'\}: must be a string or"):
        api_request("evaluate", "x.csv", {"probs": {"a": "b"}})  # no pairs: not a mapping
    with pytest.raises(UsageError, match=r"^--fix df=True: 'True' is not a number"):
        losscli.evaluate(SAMPLES / "counts.csv", fix={"df": True})


def test_the_api_signatures_show_the_new_keywords():
    ev = inspect.signature(losscli.evaluate).parameters
    assert ev["param"].annotation == Mapping[str, str] | None
    assert ev["fix"].annotation == Mapping[str, float] | None
    assert ev["pred_scale"].default == "identity"
    assert ev["scores"].default is False
    assert {"quantiles", "quantile_levels"} <= set(ev)
    compare = inspect.signature(losscli.compare_noise_models).parameters
    assert "scores" in compare and "quantiles" not in compare
    assert "scores" not in inspect.signature(losscli.diagnose).parameters
    with pytest.raises(TypeError, match=r"'quantiles' \(only evaluate\(\) takes it\)"):
        losscli.compare_noise_models(SAMPLES / "counts.csv", quantiles="q_*")


def test_the_new_options_at_their_defaults_change_nothing():
    # the core reads them later; until then a run with them left unset is the same run
    plain = losscli.evaluate(SAMPLES / "counts.csv", family="poisson").to_dict()
    same = losscli.evaluate(SAMPLES / "counts.csv", family="poisson", param=None, fix={},
                            pred_scale="identity", scores=False, quantiles=None).to_dict()
    for rep in (plain, same):
        rep["input"].pop("bytes_read")
    assert plain == same
