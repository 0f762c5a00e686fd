"""The transient progress display: only on a terminal, only after the delay, never in
the output a tool reads."""

from __future__ import annotations

import io
import time

from rich.console import Console

from losscli.render import DelayedStatus
from tests.conftest import SAMPLES, run_cli


def _terminal() -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, force_terminal=True, width=80), buf


def test_status_appears_after_the_delay_and_follows_the_stage():
    console, buf = _terminal()
    with DelayedStatus(enabled=True, delay=0.05, console=console) as progress:
        progress("reading big.parquet")
        time.sleep(0.3)
        progress("fitting gaussian")
        time.sleep(0.3)
    out = buf.getvalue()
    assert "reading big.parquet" in out and "fitting gaussian" in out


def test_short_work_shows_nothing():
    console, buf = _terminal()
    with DelayedStatus(enabled=True, delay=5.0, console=console) as progress:
        progress("fitting gaussian")
    assert buf.getvalue() == ""


def test_disabled_shows_nothing():
    console, buf = _terminal()
    with DelayedStatus(enabled=False, delay=0.0, console=console) as progress:
        progress("fitting gaussian")
        time.sleep(0.1)
    assert buf.getvalue() == ""


def test_no_progress_when_stderr_is_not_a_terminal():
    proc = run_cli("compare-noise-models", SAMPLES / "counts.csv")
    assert proc.returncode == 0
    assert b"fitting" not in proc.stderr and b"reading" not in proc.stderr
