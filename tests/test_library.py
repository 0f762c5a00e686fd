"""The Python API: paths and data in memory give the CLI's JSON; errors are the CLI's
messages as exceptions; family names are forgiving."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys

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


# ------------------------------------------------------------------ keywords


FRAME = pd.DataFrame({"y": np.arange(40.0) % 7, "y_pred": np.full(40, 3.0)})


@pytest.mark.parametrize("kw,message", [
    ({"unit": "bit"}, "--unit: unknown value 'bit' (did you mean 'bits'?); "
                      "choose from nats, bits"),
    ({"unit": "Nats"}, "--unit: unknown value 'Nats' (did you mean 'nats'?); "
                       "choose from nats, bits"),
    ({"criterion": "aicc"}, "--criterion: unknown value 'aicc' (did you mean 'aic'?); "
                            "choose from aic, bic, nll"),
    ({"engine": "spark"}, "--engine: unknown value 'spark'; choose from local, dask"),
    ({"target_kind": "counts"}, "--target-kind: unknown value 'counts' (did you mean "
                                "'count'?); choose from binary, categorical, count, integer, "
                                "proportion, positive, semicontinuous, real, soft_binary, "
                                "soft_categorical, multilabel"),
    ({"input_format": "xls"}, "--input-format: unknown value 'xls'; "
                              "choose from csv, tsv, parquet"),
    ({"fit_rows": -5}, "--fit-rows -5: must be at least 100"),
    ({"fit_rows": "lots"}, "--fit-rows lots: must be a whole number or 'all'"),
    ({"fit_rows": 2.5e6}, "--fit-rows 2500000.0: must be a whole number"),
    ({"alpha": 3}, "--alpha 3: must be at most 1"),
    ({"alpha": -0.5}, "--alpha -0.5: must be at least 0"),
    ({"alpha": "0.1"}, "--alpha '0.1': must be a number"),
    ({"eps": float("nan")}, "--eps nan: must be a number"),
    ({"engine": "dask", "workers": 0}, "--workers 0: must be at least 1"),
    ({"workers": 2}, "--workers sizes the local Dask cluster and needs --engine dask; the "
                     "local engine uses one thread per core, at most 8"),
    ({"batch_rows": 0}, "--batch-rows 0: must be at least 1"),
    ({"corp_max_unique": 0}, "--corp-max-unique 0: must be at least 1"),
    ({"seed": 1.5}, "--seed 1.5: must be a whole number"),
    ({"strict": "yes"}, "--strict 'yes': must be True or False"),
    ({"target": 123}, "--target 123: must be a string"),
    ({"probs": ["p_a", 1]}, "--probs ('p_a', 1): must be a string or a list of strings"),
    ({"family": 5}, "--family 5: must be a string or a list of strings"),
])
def test_every_keyword_is_checked(monkeypatch, kw, message):
    from losscli import api, sources

    def never(*_, **__):
        raise AssertionError("no engine starts and no data is spooled for a wrong option")

    monkeypatch.setattr(api, "open_engine", never)
    monkeypatch.setattr(sources, "spool_table", never)
    with pytest.raises(losscli.UsageError) as err:
        losscli.compare_noise_models(FRAME, **kw)
    assert str(err.value) == message


def test_keywords_give_the_cli_s_message():
    frame_file = SAMPLES / "counts.csv"
    proc = run_cli("evaluate", frame_file, "--fit-rows", "5")
    assert proc.returncode == 2
    with pytest.raises(losscli.UsageError) as err:
        losscli.evaluate(frame_file, fit_rows=5)
    assert proc.stderr.decode() == f"error: {err.value}\n"


def test_keyword_values_of_other_types_are_converted():
    from losscli.request import Request

    rep = losscli.evaluate(FRAME, fit_rows="all", batch_rows=np.int64(16),
                           family=("Poisson",))
    assert [m["family"] for m in rep["models"]] == ["poisson"]
    assert rep["input"]["batches"] == 3  # 40 rows in batches of 16
    req = Request(command="evaluate", path="x", alpha=0, workers=np.int64(2),
                  strict=np.bool_(True))
    assert (type(req.alpha), type(req.workers), type(req.strict)) == (float, int, bool)
    assert (req.alpha, req.workers, req.strict) == (0.0, 2, True)


def test_unknown_keywords_name_the_public_function_and_the_closest():
    with pytest.raises(TypeError) as err:
        losscli.evaluate(FRAME, famly="poisson")
    assert str(err.value) == ("evaluate() got an unexpected keyword argument 'famly' "
                              "(did you mean 'family'?)")
    with pytest.raises(TypeError) as err:
        losscli.evaluate(FRAME, criterion="bic")
    assert str(err.value) == ("evaluate() got an unexpected keyword argument 'criterion' "
                              "(only compare_noise_models() and diagnose() take it)")
    with pytest.raises(TypeError) as err:
        losscli.diagnose(FRAME, colour="never")
    assert str(err.value) == "diagnose() got an unexpected keyword argument 'colour'"
    with pytest.raises(TypeError, match="takes 1 positional argument"):
        losscli.evaluate(FRAME, "y")


def test_the_api_is_listed():
    assert set(losscli.__all__) <= set(dir(losscli))


@pytest.mark.parametrize("name", ["evaluate", "compare_noise_models", "diagnose"])
def test_signatures_are_the_cli_s_options(name):
    import inspect
    import pydoc

    from losscli import cli

    api_sig = inspect.signature(getattr(losscli, name))
    cli_sig = inspect.signature(getattr(cli, name))
    params = list(api_sig.parameters.values())
    assert params[0].name == "data"
    assert all(p.kind is p.KEYWORD_ONLY for p in params[1:])
    # the same options (the CLI's file and its outputs are not keywords: a Report has
    # to_json() and to_html()), and the same defaults where the CLI declares one
    cli_defaults = {n: p.default for n, p in cli_sig.parameters.items()
                    if n not in ("file", "format", "output", "color", "html")}
    cli_defaults["fit_rows"] = int(cli_defaults["fit_rows"])
    assert sorted(p.name for p in params[1:]) == sorted(cli_defaults)
    assert {p.name: p.default for p in params[1:] if cli_defaults[p.name] is not None} == {
        n: d for n, d in cli_defaults.items() if d is not None}
    page = pydoc.render_doc(getattr(losscli, name), renderer=pydoc.plaintext)
    assert "**options" not in page
    assert "unit: Literal['nats', 'bits'] = 'nats'" in page
    assert "fit_rows: Union[int, Literal['all'], NoneType] = 1000000" in page


# ------------------------------------------------------------------ display


class _Shell:
    """What rich takes for a Jupyter kernel."""


_Shell.__name__ = "ZMQInteractiveShell"


@pytest.fixture
def notebook(monkeypatch):
    """A notebook kernel as rich detects it; returns what was sent to its display."""
    import builtins
    import sys
    import types

    shown: list = []
    display = types.ModuleType("IPython.display")
    display.display = lambda *objs, **_: shown.extend(objs)
    ipython = types.ModuleType("IPython")
    ipython.display = display
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "IPython.display", display)
    monkeypatch.setattr(builtins, "get_ipython", lambda: _Shell(), raising=False)
    return shown


def test_notebook_html_is_one_element_without_side_effects(notebook):
    rep = losscli.compare_noise_models(SAMPLES / "counts.csv")
    html = rep._repr_html_()
    assert notebook == []  # nothing displayed besides what the notebook asked for
    assert html.startswith('<div class="losscli-report"><pre ') and html.endswith("</div>")
    assert html.count("<div") == 1 and html.count("<pre") == 1
    assert "<style" not in html and "body" not in html and "<html" not in html
    assert "\x1b" not in html
    assert "target &#x27;y&#x27; (count)" in html  # text is escaped
    for m in rep["models"]:
        assert m["family"] in html
    assert 'style="font-weight: bold"' in html  # styles are inline, on spans


def test_print_gives_the_plain_table_and_repr_a_summary(notebook, capsys):
    path = SAMPLES / "counts.csv"
    rep = losscli.compare_noise_models(path)
    text = str(rep)
    assert notebook == []
    assert "\x1b" not in text
    # the CLI's table on a pipe (plain text at its natural width), and the warnings the CLI
    # writes to stderr
    proc = run_cli("compare-noise-models", path)
    assert proc.returncode == 0
    lines = text.splitlines()
    warned = [f"warning: {w}" for w in rep.warnings]
    assert [line for line in lines if line not in warned] == proc.stdout.decode().splitlines()
    assert [line for line in lines if line in warned] == warned
    print(rep)
    assert capsys.readouterr().out == text + "\n"
    assert repr(rep) == ("<losscli.Report compare-noise-models, best='negative_binomial', "
                         "11 models>")


def test_print_shows_the_warnings():
    frame = FRAME.copy()
    frame.loc[3, "y"] = np.nan
    rep = losscli.evaluate(frame)
    assert rep.warnings
    lines = str(rep).splitlines()
    for w in rep.warnings:
        assert f"warning: {w}" in lines
    assert any("warning:" in line for line in rep._repr_html_().splitlines())


# ------------------------------------------------------------------ scripts and Dask

GUARDED = """
import losscli


def main():
    rep = losscli.evaluate({path!r}, engine="dask", workers=1)
    print(rep.best, rep["input"]["engine"])


if __name__ == "__main__":
    main()
"""


def _script(tmp_path, text: str) -> subprocess.CompletedProcess:
    script = tmp_path / "script.py"
    script.write_text(text)
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)


def test_dask_from_an_unguarded_script_is_one_usage_error(tmp_path):
    pytest.importorskip("distributed")
    path = str(SAMPLES / "counts.csv")
    proc = _script(tmp_path, f"import losscli\n\nlosscli.evaluate({path!r}, engine='dask', "
                             "workers=1)\n")
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.count("Traceback") == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last == (f"losscli.errors.UsageError: {tmp_path / 'script.py'}, line 3: "
                    "engine='dask' starts worker processes that re-run this script's "
                    "top-level code; put the call under `if __name__ == \"__main__\":` "
                    "(or connect to a running cluster with scheduler=...)")
    # inside a block of the top level that is not the guard: the same
    proc = _script(tmp_path, f"import losscli\nfor i in range(1):\n    losscli.evaluate("
                             f"{path!r}, engine='dask')\n")
    assert proc.returncode == 1 and proc.stderr.count("Traceback") == 1
    assert "line 3: engine='dask'" in proc.stderr
    # run as a module (python -m script): re-run by the workers all the same
    proc = subprocess.run([sys.executable, "-m", "script"], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert proc.returncode == 1 and proc.stderr.count("Traceback") == 1
    assert "line 3: engine='dask'" in proc.stderr


def test_dask_from_a_guarded_script_runs(tmp_path):
    import socket

    pytest.importorskip("distributed")
    with socket.socket() as taken:
        # the port a scheduler serves HTTP on by default, taken as by a notebook's cluster
        with contextlib.suppress(OSError):  # or taken already
            taken.bind(("127.0.0.1", 8787))
            taken.listen()
        proc = _script(tmp_path, GUARDED.format(path=str(SAMPLES / "counts.csv")))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "poisson dask\n"
    assert proc.stderr == ""  # the API never prints
