"""The Python API (SPEC §6): the commands as functions, taking paths or data in memory.

    import losscli
    rep = losscli.compare_noise_models(df, target="y", pred="y_pred")
    rep.best, rep.recommendation, rep.models      # a pandas DataFrame of the models
    rep.to_dict() == json.loads(rep.to_json())    # the CLI's JSON

`data` is a path (or a list of paths, globs, folders of Parquet parts, URLs), a pandas
DataFrame, a pyarrow Table or RecordBatchReader, a polars DataFrame, or a mapping of
column name to array. Columns are chosen exactly as on the command line, with the CLI's
option names as keywords. Errors raise `losscli.InputError` (a ValueError) or
`losscli.UsageError` with the CLI's message; nothing is printed, nothing exits.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from losscli.errors import UsageError
from losscli.request import DEFAULT_EPS, DEFAULT_FIT_ROWS, Request


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
        from rich.console import Console

        console = Console(record=True, width=120, file=_Null())
        console.print(self.__rich__())
        return console.export_html(inline_styles=True)

    def __repr__(self) -> str:
        best = f", best={self.best!r}" if self.best else ""
        return f"<losscli.Report {self._data['command']}{best}, " \
               f"{len(self._data['models'])} models>"


class _Null:
    def write(self, _: str) -> int:
        return 0

    def flush(self) -> None:
        pass


def _columns(value: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def _families(value: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    from losscli.request import family_names

    return family_names(_columns(value))


def _source(data: Any) -> str | tuple:
    """A path argument as the CLI takes it, or data in memory spooled to Parquet."""
    import os

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


def _request(command: str, data: Any, *, target=None, pred=None, probs=None, logits=None,
             soft_target=None, weight=None, no_pred=False, family=None, input_format=None,
             delimiter=None,
             target_kind=None, unit="nats", criterion="aic", alpha=0.05, eps=DEFAULT_EPS,
             strict=False, renormalize=False, fit_rows: int | str | None = DEFAULT_FIT_ROWS,
             batch_rows=None, engine="local", workers=None, scheduler=None,
             diagnostics=False, best=False, seed=0, plot=None,
             corp_max_unique=2_000_000) -> Request:
    if isinstance(fit_rows, str):
        from losscli.request import parse_fit_rows

        fit_rows = parse_fit_rows(fit_rows)
    return Request(
        command=command, path=_source(data), target=target, pred=pred,
        probs=_columns(probs), logits=_columns(logits), soft_target=_columns(soft_target),
        weight=weight, no_pred=no_pred, input_format=input_format, delimiter=delimiter,
        families=_families(family),
        target_kind=target_kind, unit=unit, criterion=criterion, alpha=alpha, eps=eps,
        strict=strict,
        renormalize=renormalize, fit_rows=fit_rows, batch_rows=batch_rows,
        engine="dask" if scheduler else engine, workers=workers, scheduler=scheduler,
        diagnostics=diagnostics, best=best, seed=seed,
        plot=None if plot is None else str(plot), corp_max_unique=corp_max_unique)


def _run(command: str, data: Any, options: dict) -> Report:
    from losscli import api, sources

    req = _request(command, data, **options)
    try:
        run = {"evaluate": api.evaluate, "diagnose": api.diagnose}.get(
            command, api.compare_noise_models)
        return Report(run(req))
    finally:
        if isinstance(req.path, sources.Spooled):  # data in memory: its spooled copy
            sources.remove_spool(req.path)


def evaluate(data: Any, **options: Any) -> Report:
    """Score predictions (or the targets alone) under one or more families (`family`)."""
    return _run("evaluate", data, options)


def compare_noise_models(data: Any, **options: Any) -> Report:
    """Fit every applicable family, rank them, test the differences, recommend a loss."""
    return _run("compare-noise-models", data, options)


def diagnose(data: Any, **options: Any) -> Report:
    """Does the model fit, and where not: evaluate's report with every model diagnosed
    (`best=True`: compare's, the best model diagnosed); `plot=DIR` writes the pictures."""
    return _run("diagnose", data, options)


def families() -> list[dict]:
    """Every family's declared facts, as `losscli families --format json` lists them."""
    from losscli.noise import describe

    return describe()
