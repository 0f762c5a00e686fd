"""Shared helpers: run the commands through the library API or the real entry point."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from losscli import api
from losscli.request import Request
from tests import forked

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_data"


def run_api(command: str, path, **kw) -> dict:
    req = Request(command=command, path=path if isinstance(path, tuple) else str(path), **kw)
    fn = {"evaluate": api.evaluate, "diagnose": api.diagnose}.get(command,
                                                                  api.compare_noise_models)
    rep = fn(req)
    # what the CLI prints must be strict JSON
    json.loads(json.dumps(rep, allow_nan=False))
    return rep


def run_cli(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    """`python -m losscli ARGS` as its own process (forked: see tests/forked.py)."""
    return forked.run(args, stdin=stdin, timeout=120)


def model(rep: dict, family: str) -> dict:
    return next(m for m in rep["models"] if m["family"] == family)


@pytest.fixture
def write_csv(tmp_path):
    def write(name: str, **cols) -> Path:
        path = tmp_path / name
        pd.DataFrame(cols).to_csv(path, index=False, float_format="%.17g")
        return path

    return write


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
