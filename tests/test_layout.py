"""The package's layout: modules small enough to read, and arrows that only point down.

A family, a statistic or an engine imports nothing above it; the core installs what it
needs when a run is opened, not when a module is imported."""

from __future__ import annotations

import ast
import pathlib

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "losscli"


def _modules() -> dict[str, pathlib.Path]:
    out = {}
    for f in sorted(PACKAGE.rglob("*.py")):
        rel = f.relative_to(PACKAGE.parent).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        out[".".join(parts)] = f
    return out


def _imports(path: pathlib.Path) -> set[str]:
    """Every losscli module `path` imports, at any depth of its code."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("losscli"))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("losscli"):
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


def test_the_passes_live_in_modules_named_for_what_they_own():
    mods = _modules()
    assert "losscli.plan" not in mods
    for name in ("model", "run", "scan", "fits", "last_pass"):
        assert f"losscli.{name}" in mods, name


def test_no_module_reexports_names_it_does_not_use():
    for name, path in _modules().items():
        for line in path.read_text(encoding="utf-8").splitlines():
            assert not (line.startswith("from losscli") and "noqa: F401" in line), name
