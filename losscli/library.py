"""The Python API (SPEC §6): the commands as functions, taking paths or data in memory.

    import losscli
    rep = losscli.compare_noise_models(df, target="y", pred="y_pred")
    rep.best, rep.recommendation, rep.models      # a pandas DataFrame of the models
    rep.to_dict() == json.loads(rep.to_json())    # the CLI's JSON
    print(rep)                                    # the CLI's tables, as plain text

`data` is a path (or a list of paths, globs, folders of Parquet parts, URLs), a pandas
DataFrame, a pyarrow Table or RecordBatchReader, a polars DataFrame, or a mapping of
column name to array. Columns are chosen exactly as on the command line, with the CLI's
option names as keywords, checked as the CLI checks them. Errors raise
`losscli.InputError` (a ValueError) or `losscli.UsageError` with the CLI's message;
nothing is printed, nothing exits.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
import os
from collections.abc import Mapping, Sequence
from typing import Any, get_type_hints

from losscli.errors import UsageError
from losscli.request import Request


class Report:
    """One command's result: the CLI's JSON object, with conveniences."""

    def __init__(self, data: dict) -> None:
        self._data = data

    def to_dict(self) -> dict:
        """The CLI's JSON object (a deep copy)."""
        return json.loads(json.dumps(self._data))

    def to_json(self) -> str:
        """The CLI's JSON text (strict: no NaN or Infinity)."""
        from losscli import report

        return report.to_json(self._data)

    def to_html(self, command_line: str | None = None) -> str:
        """The report as one self-contained HTML page, as `--html FILE` writes it (the
        pictures of `plot=DIR` embedded). The footer shows the version, and `command_line`
        when given (a Python call has none of its own to show)."""
        from losscli import html_report

        return html_report.to_html(self._data, command_line)

    @property
    def models(self):
        """A pandas DataFrame, one row per family (in rank order for a comparison), the
        model fields as columns (`params` and `metrics` as dicts)."""
        import pandas as pd

        return pd.DataFrame(self._data["models"])

    @property
    def best(self) -> str | None:
        """The best family of a comparison (the only one of a one-family evaluate)."""
        if "best" in self._data:
            return self._data["best"]
        models = self._data["models"]
        return models[0]["family"] if len(models) == 1 else None

    @property
    def recommendation(self) -> dict | None:
        return self._data.get("recommendation")

    @property
    def warnings(self) -> list[str]:
        return list(self._data.get("warnings", []))

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __rich__(self):
        from losscli import render

        return render.render(self._data)

    def _repr_html_(self) -> str:
        """The tables as one HTML element for notebooks (no side effect)."""
        from losscli import render

        return render.notebook_html(self._data)

    def __str__(self) -> str:
        """The tables and warnings as plain text, as `losscli` prints them to a file."""
        from losscli import render

        return render.report_text(self._data)

    def __repr__(self) -> str:
        best = f", best={self.best!r}" if self.best else ""
        return f"<losscli.Report {self._data['command']}{best}, " \
               f"{len(self._data['models'])} models>"


def _source(data: Any) -> str | tuple:
    """A path argument as the CLI takes it, or data in memory spooled to Parquet."""
    from losscli import sources

    if isinstance(data, (str, os.PathLike)):
        return os.fspath(data)
    if isinstance(data, (list, tuple)) and data and all(
            isinstance(p, (str, os.PathLike)) for p in data):
        paths = tuple(os.fspath(p) for p in data)
        return paths[0] if len(paths) == 1 else paths
    import pyarrow as pa

    kind, label = None, None
    module = type(data).__module__.split(".")[0]
    if module == "pandas":
        table, kind = pa.Table.from_pandas(data, preserve_index=False), "pandas"
        label = "<pandas.DataFrame>"
    elif module == "polars":
        table, kind, label = data.to_arrow(), "polars", "<polars.DataFrame>"
    elif isinstance(data, pa.Table):
        table, kind, label = data, "arrow", "<pyarrow.Table>"
    elif isinstance(data, pa.RecordBatchReader):
        table, kind, label = data, "arrow", "<pyarrow.RecordBatchReader>"
    elif isinstance(data, Mapping):
        import numpy as np

        try:
            table = pa.table({str(k): np.asarray(v) for k, v in data.items()})
        except (pa.ArrowInvalid, ValueError, TypeError) as exc:
            raise UsageError(f"the mapping of columns is not a table: {exc}") from None
        kind, label = "dict", "<dict of arrays>"
    else:
        raise UsageError(f"data must be a path, a pandas or polars DataFrame, a pyarrow "
                         f"Table or a mapping of columns, not {type(data).__name__}")
    return sources.spool_table(table, label, kind)


@functools.cache
def _keywords(command: str) -> dict[str, inspect.Parameter]:
    """A command's keywords: the Request fields it has on the command line, by their
    option names, with the fields' defaults; a list option also takes one string (or a
    mapping: `param`, `fix`), and some take more than their field (`Opt.api`)."""
    from losscli.request import ONLY_IN, option_name, specs

    hints = get_type_hints(Request)
    out = {}
    for name, spec in specs().items():
        if command not in ONLY_IN.get(name, (command,)):
            continue
        hint, default = hints[name], spec.default
        if spec.kind is tuple:
            hint, default = str | Sequence[str] | None, None
        hint = spec.opt.api or hint
        key = option_name(name)
        out[key] = inspect.Parameter(key, inspect.Parameter.KEYWORD_ONLY, default=default,
                                     annotation=hint)
    return out


def _signature(command: str) -> inspect.Signature:
    data = inspect.Parameter("data", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Any)
    return inspect.Signature([data, *_keywords(command).values()], return_annotation=Report)


_PUBLIC = {"evaluate": "evaluate", "compare-noise-models": "compare_noise_models",
           "diagnose": "diagnose"}


def _request(command: str, data: Any, options: dict) -> Request:
    """The Request of a call: unknown keywords are a TypeError naming the closest ones;
    values are read and checked as the CLI's (`request.from_options`)."""
    from losscli.request import did_you_mean, from_options

    known = _keywords(command)
    for key in options:
        if key not in known:
            others = [c for c in _PUBLIC if key in _keywords(c)]
            hint = (f" (only {' and '.join(_PUBLIC[c] + '()' for c in others)} "
                    f"take{'s' if len(others) == 1 else ''} it)" if others
                    else did_you_mean(key, known))
            raise TypeError(f"{_PUBLIC[command]}() got an unexpected keyword argument "
                            f"{key!r}{hint}")
    # the options are checked before data in memory is spooled to a file
    req = from_options(command, None, options)
    return dataclasses.replace(req, path=_source(data))


def _run(command: str, data: Any, options: dict) -> Report:
    from losscli import api, sources

    req = _request(command, data, options)
    try:
        run = {"evaluate": api.evaluate, "diagnose": api.diagnose}.get(
            command, api.compare_noise_models)
        rep = Report(run(req))
    finally:
        if isinstance(req.path, sources.Spooled):  # data in memory: its spooled copy
            sources.remove_spool(req.path)
    if req.fail_if:
        from losscli import gate
        from losscli.errors import GateFailed

        held = gate.held(req.gate, rep._data)
        if held:
            raise GateFailed(rep, held)
    return rep


def evaluate(data: Any, **options: Any) -> Report:
    """Score predictions (or the targets alone) under one or more families (`family`).

    The keywords are `losscli evaluate`'s options (see its --help)."""
    return _run("evaluate", data, options)


def compare_noise_models(data: Any, **options: Any) -> Report:
    """Fit every applicable family, rank them, test the differences, recommend a loss.

    The keywords are `losscli compare-noise-models`' options (see its --help)."""
    return _run("compare-noise-models", data, options)


def diagnose(data: Any, **options: Any) -> Report:
    """Does the model fit, and where not: evaluate's report with every model diagnosed
    (`best=True`: compare's, the best model diagnosed); `plot=DIR` writes the pictures.

    The keywords are `losscli diagnose`'s options (see its --help)."""
    return _run("diagnose", data, options)


# help() and inspect show each command's real keywords, read from the Request fields
for _command, _name in _PUBLIC.items():
    globals()[_name].__signature__ = _signature(_command)


def families() -> list[dict]:
    """Every family's declared facts, as `losscli families --format json` lists them."""
    from losscli.noise import describe

    return describe()
