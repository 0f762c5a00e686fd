"""Engines: where the reductions run. Each gives the same answer (SPEC §5)."""

from __future__ import annotations

import contextlib


@contextlib.contextmanager
def open_engine(name: str, scheduler: str | None = None, workers: int | None = None):
    """The engine a run asked for, open for the run's duration (a Dask cluster is
    connected or started here and always closed)."""
    if name == "local" and scheduler is None:
        from losscli.engines.local import ENGINE

        yield ENGINE
        return
    from losscli.engines.dask import Dask

    with Dask(scheduler, workers) as engine:
        yield engine
