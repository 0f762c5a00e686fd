"""Command-line conventions: stdout holds the report alone, warnings go to stderr in
both formats, colour follows NO_COLOR and --color, -h is help, text files with other
separators, decimal commas named, marginal mode forced with --no-pred."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from losscli.request import FAMILY_NAMES
from tests import forked
from tests.conftest import SAMPLES, run_cli


def _run(*args, env=None, stdin=None):
    full = dict(os.environ, **(env or {}))
    return forked.run(args, stdin=stdin, timeout=120, env=full)


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
    assert rep["command"] == "families" and rep["version"]
    assert len(rep["families"]) == len(FAMILY_NAMES)
    out = tmp_path / "f.json"
    assert _run("families", "--format", "json", "-o", out).returncode == 0
    assert json.loads(out.read_text()) == rep


# ---- usage errors, help and completion


def _main(*args, env=None):
    """The entry point as the installed `losscli` script runs it (program name losscli,
    which shell completion's variable is named after)."""
    code = "import sys; sys.argv[0] = 'losscli'; from losscli.cli import main; main()"
    full = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True,
                          timeout=120, env=full)


USAGE_ERRORS = [
    (("--unit", "bit"),
     "error: --unit: unknown value 'bit' (did you mean 'bits'?); choose from nats, bits"),
    (("--target-kind", "counts"),
     "error: --target-kind: unknown value 'counts' (did you mean 'count'?); choose from "
     "binary, categorical, count, integer, proportion, positive, semicontinuous, real, "
     "soft_binary, soft_categorical, multilabel"),
    (("--format", "jsn"), "error: --format: unknown value 'jsn' (did you mean 'json'?); "
     "choose from table, json"),
    (("--eps", "3"), "error: --eps 3: must be at most 0.5"),
    (("--eps", "x"), "error: --eps x: must be a number"),
    (("--batch-rows", "0"), "error: --batch-rows 0: must be at least 1"),
    (("--logit", "z"), "error: no such option --logit (did you mean --logits?)"),
    (("--unit",), "error: option '--unit' requires an argument"),
]


@pytest.mark.parametrize("args,line", USAGE_ERRORS)
def test_click_usage_errors_are_one_error_line_with_exit_2(args, line):
    proc = _run("evaluate", SAMPLES / "counts.csv", *args)
    err = proc.stderr.decode()
    assert proc.returncode == 2
    assert err == line + "\n"  # one line: no Usage/Try block, no "Value error, …"
    assert proc.stdout == b""


def test_a_missing_file_argument_is_one_line_naming_it():
    proc = _run("evaluate")
    assert proc.returncode == 2
    assert proc.stderr.decode() == ("error: missing argument FILE...: name a data file, or "
                                    "'-' for stdin\n")


def test_help_names_file_plainly_and_describes_commands_in_whole_sentences():
    usage = _main("evaluate", "-h").stdout.decode()
    assert usage.splitlines()[0] == "Usage: losscli evaluate [OPTIONS] FILE..."
    assert "<list[str]>" not in usage and "{FILE" not in usage
    assert "\n  FILE...  CSV, TSV" in usage  # the argument, listed by its name alone
    text = _run("--help").stdout.decode()
    listed = text.split("Commands:\n", 1)[1]
    described: dict[str, str] = {}
    for line in listed.splitlines():
        if line.startswith("  ") and not line.startswith("   "):
            name, _, rest = line.strip().partition(" ")
            described[name] = rest.strip()
        elif line.strip():
            described[name] += " " + line.strip()
    assert set(described) == {"evaluate", "compare-noise-models", "diagnose", "families",
                              "losses"}
    for name, sentence in described.items():
        assert sentence[-1] in ".?" and "..." not in sentence, (name, sentence)
        assert sentence[0].isupper(), (name, sentence)


def test_shell_completion_is_offered_and_completes_choices():
    text = _run("--help").stdout.decode()
    assert "--install-completion" in text and "--show-completion" in text
    env = {"_LOSSCLI_COMPLETE": "complete_bash", "COMP_WORDS": "losscli evaluate x --unit ",
           "COMP_CWORD": "4"}
    proc = _main(env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.decode().split() == ["nats", "bits"]
    env = {"_LOSSCLI_COMPLETE": "complete_bash", "COMP_WORDS": "losscli compare",
           "COMP_CWORD": "1"}
    assert _main(env=env).stdout.decode().split() == ["compare-noise-models"]


HEAVY = ("numpy", "scipy", "pandas", "pyarrow", "dask", "distributed", "threadpoolctl")


@pytest.mark.parametrize("args", [("--help",), ("evaluate", "--help"),
                                  ("evaluate", "x.csv", "--unit", "bit"),
                                  ("evaluate", "x.csv", "--scheduler", "nonsense")])
def test_help_and_usage_errors_import_no_heavy_module(args):
    code = ("import sys; sys.argv = ['losscli', *sys.argv[1:]]\n"
            "try:\n    from losscli.cli import main; main()\n"
            "finally:\n    print(sorted(m for m in sys.modules if m.split('.')[0] in "
            f"{HEAVY!r}), file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True,
                          timeout=120)
    assert proc.returncode in (0, 2), proc.stderr
    assert proc.stderr.decode().splitlines()[-1] == "[]"


# ---- engines and --scheduler


@pytest.mark.parametrize("args,says", [
    (("--scheduler", "nonsense"), "error: --scheduler nonsense: no port; use "
     "tcp://HOST:PORT, tls://HOST:PORT, HOST:PORT or the path of a scheduler file"),
    (("--scheduler", "http://10.0.0.5:8786"), "error: --scheduler http://10.0.0.5:8786: "
     "http:// is not a Dask protocol"),
    (("--scheduler", "tcp://10.0.0.5:99999"), "error: --scheduler tcp://10.0.0.5:99999: "
     "not HOST:PORT"),
    (("--scheduler", "missing.json"), "error: --scheduler missing.json: no such "
     "scheduler file"),
    (("--engine", "local", "--scheduler", "10.0.0.5:8786"), "error: --scheduler runs on a "
     "Dask cluster; it cannot be combined with --engine local"),
    (("--workers", "2"), "error: --workers sizes the local Dask cluster and needs --engine "
     "dask"),
    (("--engine", "local", "--workers", "2"), "error: --workers sizes the local Dask "
     "cluster and needs --engine dask"),
    (("--scheduler", "10.0.0.5:8786", "--workers", "2"), "error: --workers sizes the local "
     "Dask cluster started for the run; a cluster at --scheduler has its own workers"),
])
def test_engine_options_that_cannot_work_are_usage_errors_before_connecting(args, says):
    proc = _run("evaluate", SAMPLES / "counts.csv", *args)
    err = proc.stderr.decode()
    assert proc.returncode == 2 and err.count("\n") == 1, err
    assert err.startswith(says), err


def test_scheduler_addresses_are_read_in_their_usual_forms(tmp_path):
    from losscli.errors import UsageError
    from losscli.request import check_engine, scheduler_address

    assert scheduler_address("tcp://10.0.0.5:8786") == "tcp://10.0.0.5:8786"
    assert scheduler_address("10.0.0.5:8786") == "tcp://10.0.0.5:8786"
    assert scheduler_address(" TLS://sched.example.org:8786/ ") == \
        "tls://sched.example.org:8786"
    assert scheduler_address("tcp://[::1]:8786") == "tcp://[::1]:8786"
    assert scheduler_address("localhost:1") == "tcp://localhost:1"
    file = tmp_path / "scheduler.json"
    file.write_text('{"address": "tcp://127.0.0.1:8786"}')
    assert scheduler_address(str(file)) == str(file)
    for bad in ("nonsense", "http://h:1", "tcp://h", "h:0", "h:65536", "tcp://h:1:2",
                "tcp://:8786", "a b:1", "udp://h:1", ""):
        with pytest.raises(UsageError):
            scheduler_address(bad)
    assert check_engine(None, None, None) == "local"
    assert check_engine(None, "tcp://h:1", None) == "dask"
    assert check_engine("dask", None, 2) == "dask"
    for engine, scheduler, workers in (("local", "tcp://h:1", None), (None, None, 2),
                                       ("local", None, 2), ("dask", "tcp://h:1", 2)):
        with pytest.raises(UsageError):
            check_engine(engine, scheduler, workers)


# ---- what the output says


def test_stdin_is_titled_stdin():
    data = (SAMPLES / "counts.csv").read_bytes()
    table = _run("evaluate", "-", stdin=data)
    assert table.returncode == 0, table.stderr
    assert table.stdout.decode().startswith("<stdin> — 4,000 rows")
    rep = json.loads(_run("evaluate", "-", "--format", "json", stdin=data).stdout)
    assert rep["input"]["path"] == "-"  # the JSON keeps the argument as given


def test_timings_are_one_line_per_stage_and_never_empty():
    proc = _run("compare-noise-models", SAMPLES / "counts.csv", "--format", "json",
                env={"LOSSCLI_TIMINGS": "1"})
    assert proc.returncode == 0, proc.stderr
    lines = [ln for ln in proc.stderr.decode().split("\n")[:-1] if not
             ln.startswith("warning: ")]
    assert lines, proc.stderr
    stages = []
    for line in lines:
        m = re.fullmatch(r"timing: ([^—:]+(?:: [^—:]+)?): (\d+\.\d{3}) s", line)
        assert m, line  # no empty line, no progress step ("— 0 of 0 MiB")
        stages.append(m[1])
    assert len(stages) == len(set(stages))
    assert stages[0] == "pass 1: reading and checking" and stages[-1] == "output"
    assert "fitting poisson" in stages and "pass 2: scoring" in stages


# from 64 columns: the longest family name (31) and the longest unbreakable part of a
# framework name (HistGradientBoostingClassifier, 30) fit side by side
@pytest.mark.parametrize("width", [64, 66, 70, 72, 80])
def test_families_table_never_cuts_a_name(width):
    import io

    from losscli.noise import describe
    from losscli.render import print_families

    rows = describe()
    buf = io.StringIO()
    print_families(rows, file=buf, color=False, width=width)
    text = buf.getvalue()
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= width
    for row in rows:
        assert row["family"] in {line.split(" ", 1)[0] for line in lines}
        for key in ("pytorch", "sklearn", "xgboost", "lightgbm"):
            name = row[key]
            if not name:
                continue
            if name in text:
                continue
            # broken before its "(": both parts whole, on consecutive lines of one cell
            head, tail = name.split("(", 1)
            assert any(
                line.startswith(row["family"] + " ") and f" {head} " in line + " "
                and nxt[line.index(f" {head}") + 1:].startswith("(" + tail)
                for line, nxt in zip(lines, lines[1:], strict=False)), name


def test_readme_writes_pictures_outside_the_clone():
    readme = (SAMPLES.parent / "README.md").read_text(encoding="utf-8")
    targets = re.findall(r"--plot ([^\s`]+)", readme)
    assert targets
    for target in targets:
        assert target == "DIR" or target.startswith("/tmp/"), target


def test_bernoulli_on_proportions_is_skipped_with_the_way_to_score_it(tmp_path):
    path = tmp_path / "prop.csv"
    path.write_text("y,y_pred\n0.2,0.3\n0.5,0.4\n0.7,0.6\n0.1,0.2\n0.9,0.8\n0.4,0.5\n")
    rep = json.loads(_run("compare-noise-models", path, "--format", "json").stdout)
    assert rep["target_kind"] == "proportion"
    reason = next(s["reason"] for s in rep["skipped"] if s["family"] == "bernoulli")
    assert "soft-label cross-entropy is not ranked against densities" in reason
    assert reason.endswith("score it with evaluate -f bernoulli")
    scored = json.loads(_run("evaluate", path, "-f", "bernoulli", "--format", "json").stdout)
    assert [m["family"] for m in scored["models"]] == ["bernoulli"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_a_data_command_keeps_freed_memory_and_help_does_not(monkeypatch):
    """A data command sets glibc's mmap and trim thresholds for its own process (both
    values accepted: mallopt returns 1); --help does not, nor does the Python API (which
    never reaches the CLI)."""
    import ctypes

    from typer.testing import CliRunner

    from losscli import cli

    ran = []
    monkeypatch.setattr(cli, "_keep_freed_memory", lambda: ran.append(True))
    runner = CliRunner()
    assert runner.invoke(cli.app, ["evaluate", "--help"]).exit_code == 0
    assert ran == []
    got = runner.invoke(cli.app, ["evaluate", str(SAMPLES / "counts.csv"), "--format", "json"])
    assert got.exit_code == 0, got.output
    assert ran == [True]
    monkeypatch.undo()

    calls = []
    real = ctypes.CDLL(None).mallopt
    real.argtypes = [ctypes.c_int, ctypes.c_int]

    class Libc:
        @staticmethod
        def mallopt(param, value):
            calls.append((param, value, real(param, value)))

    monkeypatch.setattr(ctypes, "CDLL", lambda name: Libc())
    cli._keep_freed_memory()
    monkeypatch.undo()
    assert calls == [(cli._M_MMAP_THRESHOLD, 32 << 20, 1), (cli._M_TRIM_THRESHOLD, 1 << 30, 1)]
