"""The Python API: paths and data in memory give the CLI's JSON; errors are the CLI's
messages as exceptions; family names are forgiving."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import losscli
from tests.conftest import SAMPLES, run_cli

NOT_COMPARED = ("path", "format", "bytes_read")


def _cli_json(*args) -> dict:
    proc = run_cli(*args, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _strip(rep: dict) -> dict:
    rep = json.loads(json.dumps(rep))
    for k in NOT_COMPARED:
        rep["input"].pop(k)
    return rep


@pytest.mark.parametrize("name", ["counts.csv", "binary.csv", "multiclass.csv",
                                  "regression.csv"])
def test_dataframes_tables_and_mappings_give_the_cli_json(name):
    frame = pd.read_csv(SAMPLES / name)
    cli = _strip(_cli_json("compare-noise-models", SAMPLES / name))
    for data in (frame, pa.Table.from_pandas(frame, preserve_index=False),
                 {c: frame[c].to_numpy() for c in frame.columns},
                 pa.Table.from_pandas(frame, preserve_index=False).to_reader()):
        rep = losscli.compare_noise_models(data)
        assert _strip(rep.to_dict()) == cli
        assert json.loads(rep.to_json()) == rep.to_dict()
    assert rep.best == cli["best"] and rep.recommendation == cli["recommendation"]
    models = rep.models
    assert list(models["family"]) == [m["family"] for m in cli["models"]]
    assert models.loc[0, "cross_entropy"] == cli["models"][0]["cross_entropy"]
    assert "<table" in rep._repr_html_() or "<pre" in rep._repr_html_()


def test_paths_and_options_are_the_cli_s(tmp_path):
    rep = losscli.evaluate(SAMPLES / "distill.csv", soft_target="t_*", probs="p_*")
    cli = _cli_json("evaluate", SAMPLES / "distill.csv", "--soft-target", "t_*",
                    "--probs", "p_*")
    assert rep.to_dict() == cli
    both = losscli.evaluate(str(SAMPLES / "counts.csv"), family=["Poisson", "nb"])
    assert [m["family"] for m in both["models"]] == ["poisson", "negative_binomial"]
    assert losscli.families() == json.loads(run_cli("families", "--format", "json")
                                            .stdout)["families"]


def test_errors_are_the_cli_messages_as_exceptions():
    frame = pd.DataFrame({"y": [1.0, 2.0, 3.0], "y_pred": [1.0, 2.0, 2.5]})
    with pytest.raises(losscli.InputError) as err:
        losscli.evaluate(frame, target="yy")
    assert isinstance(err.value, ValueError)
    assert str(err.value) == ("<pandas.DataFrame>: no column matches --target 'yy' "
                              "(did you mean 'y'?); columns are: y, y_pred")
    with pytest.raises(losscli.UsageError, match=r"--family: unknown family 'poison' "
                                                 r"\(did you mean 'poisson'\?\)"):
        losscli.evaluate(frame, family="poison")
    with pytest.raises(losscli.UsageError, match="data must be a path"):
        losscli.evaluate(42)
    bad = pd.DataFrame({"y": [1.0, np.nan, 3.0], "y_pred": ["1", "x", "2"]})
    with pytest.raises(losscli.InputError, match="column 'y_pred', row 2, value 'x'"):
        losscli.evaluate(bad)


def test_the_api_prints_nothing(capsys):
    frame = pd.DataFrame({"y": np.arange(40.0) % 7, "y_pred": np.full(40, 3.0)})
    frame.loc[3, "y"] = np.nan  # a warning, in the report only
    rep = losscli.compare_noise_models(frame)
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""
    assert any("dropped" in w for w in rep.warnings)


def test_family_names_are_forgiving():
    from losscli.request import family_names

    assert family_names(["Normal", "NB,t", "student-t", "LogNorm", "binomial"]) == (
        "gaussian", "negative_binomial", "student_t", "lognormal", "bernoulli")
    proc = run_cli("compare-noise-models", SAMPLES / "counts.csv", "-f", "Poisson,NegBin",
                   "--format", "json")
    assert proc.returncode == 0
    assert {m["family"] for m in json.loads(proc.stdout)["models"]} == {
        "poisson", "negative_binomial"}
    proc = run_cli("evaluate", SAMPLES / "counts.csv", "-f", "poison")
    assert proc.returncode == 2
    assert proc.stderr.decode().startswith("error: --family: unknown family 'poison' "
                                           "(did you mean 'poisson'?)")
