"""Imports started early in a background thread, so that their Python work overlaps the
passes over the data (whose numpy and Arrow loops release the GIL). A later import of
the same module in any thread waits for it under the import system's module lock."""

from __future__ import annotations

import importlib
import threading

_STARTED: dict[tuple[str, ...], threading.Thread] = {}


def preload(*modules: str) -> None:
    """Import `modules` in order in a daemon thread (once per tuple); a module that is
    missing is left for the caller's own import to report."""
    if modules in _STARTED:
        return

    def load() -> None:
        for name in modules:
            try:
                importlib.import_module(name)
            except ImportError:
                return

    t = threading.Thread(target=load, daemon=True, name="losscli-import")
    _STARTED[modules] = t
    t.start()


def wait() -> None:
    """Until every preload has finished."""
    for t in list(_STARTED.values()):
        t.join()
