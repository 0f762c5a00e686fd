"""The README and the help stay true: every command documented, every family listed, and
the README's test command is what CI runs."""

from __future__ import annotations

import re

import pytest

from losscli.noise import FAMILIES
from tests.conftest import ROOT, run_cli

README = (ROOT / "README.md").read_text()
COMMANDS = ("evaluate", "compare-noise-models", "families")


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_and_a_readme_example(command):
    proc = run_cli(command, "--help")
    assert proc.returncode == 0
    assert b"Example" in proc.stdout or command == "families"
    assert f"losscli {command}" in README


def test_every_family_is_in_the_readme_table():
    for name in FAMILIES:
        assert re.search(rf"^\| {name} \|", README, re.M), name


def test_readme_opens_with_the_two_setup_commands_and_ci_runs_the_second():
    block = README.split("```sh\n", 1)[1].split("```", 1)[0].strip().splitlines()
    assert len(block) == 2
    assert "losscli compare-noise-models sample_data/" in block[0]
    assert "pytest" in block[1]
    assert block[1] in (ROOT / ".ci" / "run").read_text()


def test_version_is_single_sourced():
    from losscli import __version__

    proc = run_cli("--version")
    assert proc.stdout.decode().strip() == f"losscli {__version__}"


def test_the_readme_python_example_runs(monkeypatch):
    block = README.split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(ROOT)
    exec(compile(block, "README.md", "exec"), {})
