"""Command-line conventions: stdout holds the report alone, warnings go to stderr in
both formats, colour follows NO_COLOR and --color, -h is help, text files with other
separators, decimal commas named, marginal mode forced with --no-pred."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import SAMPLES, run_cli


def _run(*args, env=None, stdin=None):
    full = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, "-m", "losscli", *map(str, args)], input=stdin,
                          capture_output=True, timeout=120, env=full)


def test_warnings_go_to_stderr_in_table_mode_and_json(tmp_path):
    path = tmp_path / "w.csv"
    path.write_text("y,y_pred\n1,1.5\n2,\n3,2.5\n4,3.5\n5,5.5\n")  # a dropped row
    for fmt in ("table", "json"):
        proc = _run("evaluate", path, "--format", fmt)
        assert proc.returncode == 0, proc.stderr
        assert b"warning:" not in proc.stdout
        if fmt == "table":
            assert b"dropped:" not in proc.stdout
        assert b"warning: 1 of 5 rows dropped" in proc.stderr
    rep = json.loads(_run("evaluate", path, "--format", "json").stdout)
    assert any("dropped" in w for w in rep["warnings"])  # the JSON lists them too


def test_colour_follows_no_color_and_the_option():
    plain = _run("compare-noise-models", SAMPLES / "counts.csv", "--color", "always",
                 env={"NO_COLOR": "1"})
    assert plain.returncode == 0
    forced = _run("compare-noise-models", SAMPLES / "counts.csv", "--color", "always")
    assert b"\x1b[" in forced.stdout
    piped = _run("compare-noise-models", SAMPLES / "counts.csv")
    assert b"\x1b[" not in piped.stdout
    never = _run("compare-noise-models", SAMPLES / "counts.csv", "--color", "never",
                 env={"FORCE_COLOR": "1"})
    assert b"\x1b[" not in never.stdout
    nc = _run("compare-noise-models", SAMPLES / "counts.csv", env={"NO_COLOR": "1",
                                                                    "FORCE_COLOR": "1"})
    assert b"\x1b[" not in nc.stdout


def test_dash_h_is_help():
    for args in (("-h",), ("evaluate", "-h"), ("compare-noise-models", "-h")):
        proc = run_cli(*args)
        assert proc.returncode == 0 and b"Usage" in proc.stdout


def test_other_separators_and_decimal_commas(tmp_path):
    semi = tmp_path / "semi.csv"
    semi.write_text("y;y_pred\n1.5;2\n2;2.5\n3;2\n4;4.5\n")
    proc = _run("evaluate", semi)
    assert proc.returncode == 1 and b"use --delimiter ';'" in proc.stderr
    ok = _run("evaluate", semi, "--delimiter", ";", "--format", "json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["input"]["rows_used"] == 4
    comma = tmp_path / "comma.csv"
    comma.write_text("y;y_pred\n1,5;2\n2;2,5\n")
    proc = _run("evaluate", comma, "--delimiter", ";")
    err = proc.stderr.decode()
    assert proc.returncode == 1 and err.count("\n") == 1
    assert "row 1, value '1,5'" in err and "decimal comma" in err
    tabs = tmp_path / "t.txt"
    tabs.write_text("y\ty_pred\n1\t2\n2\t2\n3\t4\n")
    assert _run("evaluate", tabs, "--delimiter", "\\t").returncode == 0


def test_no_pred_forces_marginal_mode(tmp_path):
    rep = json.loads(_run("evaluate", SAMPLES / "counts.csv", "--no-pred", "--format",
                          "json").stdout)
    assert rep["mode"] == "marginal" and rep["input"]["prediction"] is None
    proc = _run("evaluate", SAMPLES / "counts.csv", "--no-pred", "-p", "y_pred")
    assert proc.returncode == 2 and b"--no-pred" in proc.stderr


def test_families_json_envelope_and_output(tmp_path):
    proc = _run("families", "--format", "json")
    rep = json.loads(proc.stdout)
    assert rep["command"] == "families" and rep["version"] and len(rep["families"]) == 10
    out = tmp_path / "f.json"
    assert _run("families", "--format", "json", "-o", out).returncode == 0
    assert json.loads(out.read_text()) == rep
