"""`--html FILE` and `Report.to_html()`: one self-contained page with what the table says.

The page is read back with the standard library's HTML parser (what a browser would see as
text), compared with the plain-text report of the same run and with the JSON; a headless
Chromium, where installed, loads it and takes a screenshot."""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rich.text import Text

import losscli
from tests import forked
from tests.conftest import SAMPLES

COUNTS = SAMPLES / "counts.csv"
BLOCKS = ("p", "li", "h1", "h2", "h3", "caption", "tr", "summary", "figcaption", "title")


class Page(HTMLParser):
    """The page as a browser reads it: tags, attributes, and the text of each block."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.blocks: list[str] = []
        self.rows: list[list[str]] = []
        self._stack: list[list[str]] = []
        self._cell: list[str] | None = None
        self._row: list[str] | None = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag in BLOCKS:
            self._stack.append([])
        if tag == "tr":
            self._row = []
        if tag in ("td", "th"):
            self._cell = []
        if tag == "br" and self._stack:
            self._stack[-1].append(" ")

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
            if self._stack:
                self._stack[-1].append(" ")
        if tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None
        if tag in BLOCKS and self._stack:
            self.blocks.append(" ".join("".join(self._stack.pop()).split()))

    def handle_data(self, data):
        for part in self._stack:
            part.append(data)
        if self._cell is not None:
            self._cell.append(data)

    def text(self) -> str:
        return "\n".join(self.blocks)


def collapse(line: str) -> str:
    return " ".join(line.split())


def cli(*args) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    return forked.run(args, timeout=180, env=env)


def prose_and_rows(table_text: str) -> tuple[list[str], list[str]]:
    """The plain-text report's lines: prose (panel borders removed) and table data rows
    (headers, the lines above a rule, are left out: the page splits them differently)."""
    lines = table_text.splitlines()
    header = set()
    for i, line in enumerate(lines):
        if line.strip() and set(line.strip()) <= set("─"):
            j = i - 1
            while j >= 0 and lines[j].strip():
                header.add(j)
                j -= 1
    prose, rows = [], []
    in_table = False
    for i, line in enumerate(lines):
        s = line.strip().strip("│").strip()
        if not s or set(s) <= set("─╭╮╰╯") or i in header:
            in_table = in_table if s else False
            if s and set(s) <= set("─"):
                in_table = True
            continue
        if s.startswith("╭") and "Diagnostics:" in s:  # the panel's title
            prose.append(collapse(s.strip("╭╮─ ")))
            continue
        (rows if in_table else prose).append(collapse(s))
    return prose, rows


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One comparison with diagnostics and pictures: its page, JSON, table and stderr."""
    d = tmp_path_factory.mktemp("html")
    args = ["compare-noise-models", str(COUNTS), "--plot", str(d / "figs"),
            "--html", str(d / "report.html"), "--format", "json"]
    r = cli(*args)
    assert r.returncode == 0, r.stderr.decode()
    rep = json.loads(r.stdout)
    t = cli("compare-noise-models", COUNTS, "--diagnostics", "--color", "never")
    assert t.returncode == 0, t.stderr.decode()
    text = (d / "report.html").read_text(encoding="utf-8")
    return {"dir": d, "args": args, "rep": rep, "html": text, "page": Page(text),
            "table": t.stdout.decode(), "stderr": r.stderr.decode()}


def test_the_page_says_what_the_table_says(shared):
    page, rep = shared["page"], shared["rep"]
    blocks = set(page.blocks)
    prose, rows = prose_and_rows(shared["table"])
    assert any(b.startswith("Recommendation:") for b in prose)
    assert any("Is the difference real?" == b for b in prose)
    assert any(b.startswith("Diagnostics: ") for b in prose)
    missing = [line for line in prose if line not in blocks]
    assert missing == []
    html_rows = {" ".join(c for c in row if c) for row in page.rows}
    assert rows and [row for row in rows if row not in html_rows] == []
    # every family of the JSON, in rank order, with the best one's row bold
    first_cells = [row[0] for row in page.rows if row]
    ranked = [m["family"] for m in rep["models"]]
    assert [f for f in first_cells if f in ranked][:len(ranked)] == ranked
    best_rows = [attrs for tag, attrs in page.tags if tag == "tr" and attrs.get("class")]
    assert best_rows == [{"class": "b"}]
    lead = next(b for b in page.blocks if b.startswith("Best family:"))
    assert lead == f"Best family: {rep['best']}"


def test_warnings_command_line_and_version(shared):
    page, rep = shared["page"], shared["rep"]
    warned = [line.removeprefix("warning: ") for line in shared["stderr"].splitlines()
              if line.startswith("warning: ")]
    assert warned == rep["warnings"]
    for w in rep["warnings"]:
        assert collapse(w) in page.blocks
    # the run's argv, as `python -m losscli` was given it
    line = shlex.join(["python", "-m", "losscli", *shared["args"]])
    assert f"Command line: {line}" in page.blocks
    assert f"losscli version {losscli.__version__}" in page.blocks
    assert rep["version"] == losscli.__version__


def test_pictures_are_embedded_byte_for_byte(shared):
    page, rep = shared["page"], shared["rep"]
    plots = [p for m in rep["models"] if m.get("diagnostics")
             for p in m["diagnostics"]["plots"] or []]
    assert len(plots) >= 2  # the best model's pictures and the cross-entropy bars
    images = [attrs for tag, attrs in page.tags if tag == "img"]
    assert len(images) == len(plots)
    for img, p in zip(images, plots, strict=True):
        prefix = "data:image/png;base64,"
        assert img["src"].startswith(prefix)
        assert base64.b64decode(img["src"][len(prefix):]) == Path(p["path"]).read_bytes()


def test_no_url_no_script_one_inline_style(shared):
    page, text = shared["page"], shared["html"]
    for tag, attrs in page.tags:
        for name in ("src", "href", "action", "poster", "data"):
            value = attrs.get(name)
            assert value is None or value.startswith("data:"), (tag, name, value)
    assert not re.search(r"https?://", text)
    assert "url(" not in text and "@import" not in text
    tags = [tag for tag, _ in page.tags]
    assert "script" not in tags and "link" not in tags and "iframe" not in tags
    assert tags.count("style") == 1
    csp = [a for t, a in page.tags if t == "meta" and a.get("http-equiv")]
    assert csp and "default-src 'none'" in csp[0]["content"]
    # the styles apply inside the report's container only
    style = text.split("<style>")[1].split("</style>")[0]
    selectors = [s.split("{")[0].strip() for s in style.split("}") if "{" in s]
    assert selectors and all(part.strip().startswith(".losscli-report")
                             for s in selectors for part in s.split(","))


@pytest.mark.parametrize("command", ["evaluate", "diagnose"])
def test_every_data_command_writes_a_page_without_pictures(tmp_path, command):
    out = tmp_path / "r.html"
    r = cli(command, SAMPLES / "binary.csv", "-t", "y", "-p", "p", "--html", out,
            "--color", "never")
    assert r.returncode == 0, r.stderr.decode()
    page = Page(out.read_text(encoding="utf-8"))
    prose, rows = prose_and_rows(r.stdout.decode())
    blocks = set(page.blocks)
    assert [line for line in prose if line not in blocks] == []
    assert rows and all(row in {" ".join(c for c in x if c) for x in page.rows} for row in rows)
    assert [t for t, _ in page.tags if t == "img"] == []
    assert f"losscli {command}" in page.blocks
    assert any(b.startswith("Diagnostics: bernoulli") for b in page.blocks) == (
        command == "diagnose")


def hostile_frame() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    mu = rng.uniform(1, 5, 300)
    return pd.DataFrame({"<script>alert('y')</script>": rng.poisson(mu).astype(float),
                         'pred"><img src=x onerror=alert(1)>': mu})


def test_every_value_is_escaped():
    df = hostile_frame()
    target, pred = df.columns
    rep = losscli.compare_noise_models(df, target=target, pred=pred)
    data = rep.to_dict()
    data["warnings"] = [*data["warnings"], "<b>bold</b> & <script>x()</script>"]
    data["skipped"] = [{"family": "<i>f</i>", "reason": "<script>r()</script>"}]
    text = losscli.Report(data).to_html()
    page = Page(text)
    assert "<script" not in text.lower() and "<img src=x" not in text
    assert [t for t, _ in page.tags if t in ("script", "img", "b", "i")] == []
    joined = page.text()
    assert repr(target) in joined  # the title names the target, as written
    assert "<b>bold</b> & <script>x()</script>" in page.blocks
    assert "<i>f</i>: <script>r()</script>" in page.blocks
    # a Python call has no command line of its own: only the version, unless given one
    assert not any(b.startswith("Command line:") for b in page.blocks)
    given = Page(rep.to_html(command_line="python fit.py <args>"))
    assert "Command line: python fit.py <args>" in given.blocks


def test_html_never_overwrites_the_input_and_fails_cleanly(tmp_path):
    src = tmp_path / "counts.csv"
    shutil.copy(COUNTS, src)
    before = src.read_bytes()
    r = cli("compare-noise-models", src, "--html", src)
    assert r.returncode == 2
    assert r.stderr.decode().startswith("error: --html") and b"Traceback" not in r.stderr
    assert src.read_bytes() == before
    r = cli("evaluate", src, "--html", tmp_path / "x.html", "-o", tmp_path / "x.html")
    assert r.returncode == 2 and not (tmp_path / "x.html").exists()
    missing = tmp_path / "no" / "such" / "r.html"
    r = cli("evaluate", src, "--html", missing)
    err = r.stderr.decode()
    assert r.returncode == 1 and err.startswith("error: ") and str(missing) in err
    assert "Traceback" not in err and not missing.parent.exists()


# --- a real browser ------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
BROWSER_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--hide-scrollbars")


def browse(path: Path, *args: str) -> subprocess.CompletedProcess:
    """Chromium, headless with a fresh profile, on a local file; console messages logged."""
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [CHROMIUM, *BROWSER_FLAGS, f"--user-data-dir={profile}", "--enable-logging=stderr",
             "--v=0", *args, path.resolve().as_uri()],
            capture_output=True, timeout=120, stdin=subprocess.DEVNULL)


def console_messages(stderr: bytes) -> list[str]:
    """The page's console messages in Chromium's log (errors, uncaught exceptions, CSP
    violations, failed loads): the page has no script, so any message is a fault."""
    return [line for line in stderr.decode(errors="replace").splitlines()
            if ":CONSOLE" in line or "Uncaught" in line]


def screenshot_pixels(path: Path, out: Path) -> np.ndarray:
    r = browse(path, f"--screenshot={out}", "--window-size=1280,900")
    assert r.returncode == 0 and out.exists(), r.stderr.decode(errors="replace")[-2000:]
    import matplotlib.image

    return matplotlib.image.imread(out)[..., :3]


def blank(pixels: np.ndarray) -> bool:
    """Blank: under 1 % of the pixels differ from the most common colour."""
    flat = pixels.reshape(-1, 3)
    colours, counts = np.unique(flat, axis=0, return_counts=True)
    return counts.max() > 0.99 * flat.shape[0] or colours.shape[0] < 3


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH: install Debian's "
                    "'chromium' package to load the page in a headless browser")
def test_a_headless_browser_loads_the_page(shared, tmp_path):
    path = shared["dir"] / "report.html"
    dom = browse(path, "--dump-dom")
    assert dom.returncode == 0, dom.stderr.decode(errors="replace")[-2000:]
    assert console_messages(dom.stderr) == []
    rendered = Page(dom.stdout.decode())
    assert f"Best family: {shared['rep']['best']}" in rendered.blocks
    assert sum(t == "img" for t, _ in rendered.tags) >= 2
    pixels = screenshot_pixels(path, tmp_path / "page.png")
    assert pixels.shape[:2] == (900, 1280)
    assert not blank(pixels)

    # the checks can fail: a page with a console error, and a blank page
    faulty = tmp_path / "faulty.html"
    faulty.write_text("<!DOCTYPE html><html><body><p>x</p>"
                      "<script>console.error('boom'); missing();</script></body></html>")
    assert len(console_messages(browse(faulty, "--dump-dom").stderr)) == 2
    empty = tmp_path / "empty.html"
    empty.write_text("<!DOCTYPE html><html><body></body></html>")
    assert blank(screenshot_pixels(empty, tmp_path / "empty.png"))


def test_a_part_the_page_does_not_know_is_shown_as_the_terminal_shows_it(monkeypatch):
    from rich.console import Group
    from rich.table import Table

    from losscli import html_report, render

    rep = losscli.evaluate(SAMPLES / "binary.csv", target="y", pred="p").to_dict()
    table = Table("name", "value")
    table.add_row("<odd & new>", "42")
    monkeypatch.setattr(render, "render", lambda rep, **kw: Group(Text("lead"), table))
    page = Page(html_report.to_html(rep))
    pre = [t for t, _ in page.tags if t == "pre"]
    assert pre == ["pre"] and "lead" in page.blocks
    text = html_report.to_html(rep)
    assert "&lt;odd &amp; new&gt;" in text and "<odd" not in text


def test_families_writes_its_two_tables_as_a_page(tmp_path):
    out = tmp_path / "families.html"
    r = cli("families", "--format", "json", "--html", out)
    assert r.returncode == 0, r.stderr.decode()
    rows = json.loads(r.stdout)["families"]
    page = Page(out.read_text(encoding="utf-8"))
    by_family: dict[str, list[list[str]]] = {}
    for row in page.rows:
        by_family.setdefault(row[0], []).append(row)
    assert set(by_family) >= {row["family"] for row in rows}
    for row in rows:
        what, names = by_family[row["family"]]
        assert what[1:] == [row["support"], row["prediction"],
                            ", ".join(row["nuisance"]) or "none", row["loss"]]
        assert names[1:] == [row[k] or "—" for k in ("pytorch", "sklearn", "xgboost",
                                                      "lightgbm", "catboost", "keras")]
    assert any(b.startswith("Command line: python -m losscli families") for b in page.blocks)
