"""The package's layout: modules small enough to read, and arrows that only point down.

A family, a statistic or an engine imports nothing above it; the core installs what it
needs when a run is opened, not when a module is imported."""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

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


def test_engines_import_nothing_of_the_core_but_its_errors():
    for name, path in _modules().items():
        if name.startswith("losscli.engines"):
            above = {m for m in _imports(path) if not m.startswith(("losscli.engines",
                                                                    "losscli.errors"))}
            assert not above, (name, above)


CORE_ABOVE = ("losscli.engines", "losscli.run", "losscli.scan", "losscli.fits",
              "losscli.last_pass", "losscli.api", "losscli.cli", "losscli.library")


def test_no_family_or_statistic_imports_an_engine_the_passes_or_the_cli():
    for name, path in _modules().items():
        if name.startswith(("losscli.noise", "losscli.diagnostics", "losscli.reduce")):
            up = {m for m in _imports(path) if m.startswith(CORE_ABOVE)}
            assert not up, (name, up)


def test_importing_the_core_installs_no_thread_pool():
    """The local pool is installed for the families' block sums when a run is opened,
    not as a side effect of importing a module."""
    code = ("import losscli.api, losscli.run, losscli.fits, losscli.last_pass\n"
            "from losscli.noise import blocks\n"
            "print(blocks._mapper is None)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
    assert proc.stdout.decode().split() == ["True"], proc.stderr


def _blas_threads() -> list[int]:
    from threadpoolctl import threadpool_info

    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


class _Seen:
    """A state that keeps the BLAS thread counts seen while folding."""

    def __init__(self, seen=()) -> None:
        self.seen = list(seen)

    def merge(self, other: _Seen) -> _Seen:
        return _Seen(self.seen + other.seen)


def test_the_local_pool_runs_blas_on_one_thread(monkeypatch):
    from threadpoolctl import threadpool_limits

    from losscli.engines import local

    monkeypatch.setattr(local, "workers", lambda: 2)
    with threadpool_limits(2, "blas"):
        before = _blas_threads()
        state = local.ENGINE.reduce_pass(range(6), lambda _: _Seen(_blas_threads()),
                                         _Seen, lambda _: None)
        blocks = local.map_ordered(lambda _: _blas_threads(), [0, 1, 2])
        after = _blas_threads()
    assert before and all(n == 2 for n in before)
    assert state.seen and all(n == 1 for n in state.seen)
    assert all(n == 1 for ns in blocks for n in ns)
    assert after == before  # restored once the pool is done


def test_a_dask_task_runs_blas_on_one_thread():
    from threadpoolctl import threadpool_limits

    from losscli.engines.dask import _one_blas_thread

    with threadpool_limits(2, "blas"):
        got = _one_blas_thread(lambda task, offset: (task, offset, _blas_threads()), "t", 7)
        assert all(n == 2 for n in _blas_threads())
    assert got[:2] == ("t", 7) and got[2] and all(n == 1 for n in got[2])


def test_no_module_is_longer_than_800_lines():
    for name, path in _modules().items():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        assert lines <= 800, (name, lines)


def test_importing_the_core_leaves_numpy_settings_alone():
    """Plain pages instead of transparent huge pages are asked for when a run is opened,
    not when a module is imported."""
    code = ("import numpy as np\n"
            "np._core.multiarray._set_madvise_hugepage(True)\n"
            "import losscli.api, losscli.run, losscli.library\n"
            "print(np._core.multiarray._set_madvise_hugepage(True))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
    assert proc.stdout.decode().split() == ["True"], proc.stderr
