"""The report as one self-contained HTML page, to share (`--html FILE`, `Report.to_html()`).

The page says what the table renderer says, in the same words: it walks the renderables of
`render.render` (tables, lines, diagnostics panels) and writes each as HTML, so a sentence
is written once, in `render.py`. Around them: a header with the command and the best family,
the diagnostic pictures (PNG files listed in the report) embedded as base64 data URIs, the
warnings, and a footer with the command line and the version.

Self-contained and inert: one inline <style> scoped to the report's container, no script,
no URL, and a Content-Security-Policy that lets the page load nothing but its own styles
and data-URI pictures. Every value from the report is HTML-escaped. Standard library only
(and rich, whose objects the table renderer builds).
"""

from __future__ import annotations

import base64
import html
import io
import os
from typing import Any

from rich.console import Console
from rich.padding import Padding
from rich.panel import Panel
from rich.style import Style
from rich.text import Text

from losscli import __version__, render, render_diagnostics, render_grid

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
# rich style words → CSS classes (any other word, e.g. a colour the page does not use, is
# dropped: the class names written come from this table only)
STYLE_CLASSES = {"bold": "b", "italic": "i", "dim": "dim", "green": "good",
                 "yellow": "warn", "red": "bad", "table.title": "title",
                 "table.caption": "note"}
PICTURE_NAMES = {"pit": "PIT histogram", "qq": "PIT Q–Q plot", "reliability": "reliability",
                 "rootogram": "rootogram", "residuals": "residuals by prediction decile",
                 "cross-entropy": "cross-entropy = entropy + KL, by family"}

STYLE = """
.losscli-report { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: #1a1a1a; background: #fff; max-width: 1200px; margin: 0 auto; padding: 1.5rem;
  line-height: 1.45; font-size: 15px; }
.losscli-report h1 { font-size: 1.5rem; margin: 0 0 .3rem; }
.losscli-report h2 { font-size: 1.15rem; margin: 1.4rem 0 .4rem; }
.losscli-report h3 { font-size: 1rem; margin: 0 0 .4rem; }
.losscli-report .lead { font-size: 1.1rem; margin: .2rem 0 1rem; }
.losscli-report .best-family { color: #0b6b2b; }
.losscli-report p { margin: .25rem 0; }
.losscli-report .pre { white-space: pre-wrap; }
.losscli-report .mono { font-family: ui-monospace, "DejaVu Sans Mono", monospace;
  font-size: .9rem; }
.losscli-report details { margin: .4rem 0; }
.losscli-report .scroll { overflow-x: auto; }
.losscli-report table { border-collapse: collapse; margin: .4rem 0; font-size: .92rem; }
.losscli-report caption { text-align: left; font-weight: 600; padding: .3rem 0; }
.losscli-report th, .losscli-report td { padding: .25rem .7rem; border-bottom: 1px solid #ddd;
  vertical-align: top; }
.losscli-report th { background: #f3f5f7; white-space: nowrap; text-align: left; }
.losscli-report tbody th { background: none; font-weight: 400; }
.losscli-report tr.b th { font-weight: 700; }
.losscli-report td.num, .losscli-report th.num { text-align: right;
  font-variant-numeric: tabular-nums; white-space: nowrap; }
.losscli-report tr.b td, .losscli-report tr.b th { font-weight: 700; background: #eef8f0; }
.losscli-report .b { font-weight: 700; }
.losscli-report .i { font-style: italic; }
.losscli-report .dim, .losscli-report .note { color: #666; }
.losscli-report .good { color: #0b6b2b; }
.losscli-report .warn { color: #8a5a00; }
.losscli-report .bad { color: #b00020; }
.losscli-report .diag { border: 1px solid #ccd; border-radius: 6px; padding: .7rem 1rem;
  margin: 1rem 0; }
.losscli-report .diag ul { margin: 0; padding-left: 1.2rem; }
.losscli-report .pictures { display: grid; gap: 1rem; margin-top: .8rem;
  grid-template-columns: repeat(auto-fill, minmax(360px, 1fr)); }
.losscli-report figure { margin: 0; }
.losscli-report figure img { width: 100%; height: auto; border: 1px solid #eee; }
.losscli-report figcaption { font-size: .85rem; color: #444; }
.losscli-report .warnings { background: #fff8e6; border-left: 4px solid #e0a800;
  padding: .5rem 1rem; margin: 1.2rem 0; }
.losscli-report .warnings ul { margin: .2rem 0; padding-left: 1.2rem; }
.losscli-report footer { margin-top: 2rem; border-top: 1px solid #ddd; padding-top: .6rem;
  font-size: .85rem; color: #444; }
.losscli-report code { font-family: ui-monospace, "DejaVu Sans Mono", monospace;
  background: #f3f5f7; padding: .1rem .3rem; word-break: break-all; }
"""


def esc(value: Any) -> str:
    """Any value as HTML text, quotes included (safe in text and in attributes)."""
    return html.escape(str(value), quote=True)


def _classes(style: Any) -> list[str]:
    """The CSS classes of a rich style (a string such as "bold green", or a Style)."""
    if isinstance(style, Style):
        words = [w for w, on in (("bold", style.bold), ("italic", style.italic),
                                 ("dim", style.dim)) if on]
        if style.color is not None:
            words.append(style.color.name)
        return [STYLE_CLASSES[w] for w in words if w in STYLE_CLASSES]
    return [STYLE_CLASSES[w] for w in str(style or "").split() if w in STYLE_CLASSES]


def _span(text: str, classes: list[str]) -> str:
    if not classes:
        return esc(text)
    return f'<span class="{" ".join(dict.fromkeys(classes))}">{esc(text)}</span>'


def text_html(text: Text) -> str:
    """A rich Text as escaped HTML: its pieces in spans with the classes of their styles."""
    plain = text.plain
    cuts = sorted({0, len(plain), *(s.start for s in text.spans), *(s.end for s in text.spans)})
    out = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        if a >= b:
            continue
        classes = [c for s in text.spans if s.start <= a and b <= s.end
                   for c in _classes(s.style)]
        out.append(_span(plain[a:b], classes))
    return "".join(out)


def _line(text: Text, indent: int = 0) -> str:
    """A rich text, a paragraph per line (empty lines are dropped: the page spaces its
    blocks itself); a heading when it is one line, wholly bold, without pieces."""
    if not text.plain.strip():
        return ""
    classes = _classes(text.style)
    pad = f' style="margin-left:{indent}ch"' if indent else ""
    if classes == ["b"] and not text.spans and "\n" not in text.plain.strip():
        return f"<h2{pad}>{esc(text.plain.strip())}</h2>"
    out = []
    for line in text.split("\n"):
        if not line.plain.strip():
            continue
        # a line aligned with runs of spaces (e.g. framework names) keeps its columns
        aligned = "  " in line.plain.strip()
        cls = " ".join(["pre", *(["mono"] if aligned else []), *classes])
        out.append(f'<p class="{cls}"{pad}>{text_html(line)}</p>')
    return "\n".join(out)


def grid_html(grid: render_grid.Grid) -> str:
    """A render_grid.Grid as one table (a page scrolls sideways instead of splitting it)."""
    cols = [grid.key, *grid.cols]
    num = ' class="num"'
    head = "".join(
        f'<th scope="col"{num if c.justify == "right" else ""}>'
        + "<br>".join(esc(h) for h in c.header.split("\n")) + "</th>" for c in cols)
    styles = grid.row_styles or [None] * len(grid.key.cells)
    rows = []
    for i, style in enumerate(styles):
        cells = []
        for j, c in enumerate(cols):
            tag = "th" if j == 0 else "td"
            scope = ' scope="row"' if j == 0 else ""
            cls = num if c.justify == "right" else ""
            cells.append(f"<{tag}{scope}{cls}>{esc(c.cells[i])}</{tag}>")
        row_cls = " ".join(_classes(style))
        tr = f'<tr class="{row_cls}">' if row_cls else "<tr>"
        rows.append(f'{tr}{"".join(cells)}</tr>')
    caption = f"<caption>{esc(grid.title)}</caption>" if grid.title else ""
    notes = "".join(f'<p class="note">{esc(n)}</p>' for n in grid.notes)
    return (f'<div class="scroll"><table>{caption}<thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>{notes}')


def _png(path: str) -> str | None:
    """A PNG file as a data URI; None when it cannot be read or is not a PNG."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    if not data.startswith(PNG_SIGNATURE):
        return None
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def pictures_html(model: dict) -> str:
    """The model's diagnostic pictures, embedded; a line naming any that cannot be read."""
    d = model.get("diagnostics")
    plots = (d.get("plots") or []) if isinstance(d, dict) else []
    figures, missing = [], []
    for p in plots:
        if not isinstance(p, dict) or not p.get("path"):
            continue
        uri = _png(str(p["path"]))
        kind = str(p.get("kind", ""))
        name = PICTURE_NAMES.get(kind, kind)
        if uri is None:
            missing.append(str(p["path"]))
            continue
        label = f"{model['family']}: {name}" if kind != "cross-entropy" else name
        figures.append(f'<figure><img src="{uri}" alt="{esc(label)}" width="640" '
                       f'height="480"><figcaption>{esc(label)}</figcaption></figure>')
    out = f'<div class="pictures">{"".join(figures)}</div>' if figures else ""
    if missing:
        out += f'<p class="note">pictures not found: {esc(", ".join(missing))}</p>'
    return out


def panel_html(panel: Panel, model: dict | None) -> str:
    """A diagnostics panel: its title, a list item per line, and the model's pictures."""
    title = panel.title.plain if isinstance(panel.title, Text) else str(panel.title or "")
    body = panel.renderable
    lines = body.plain.split("\n") if isinstance(body, Text) else [str(body)]
    items = "".join(f"<li>{esc(line)}</li>" for line in lines if line.strip())
    pictures = pictures_html(model) if model is not None else ""
    return f'<section class="diag"><h3>{esc(title)}</h3><ul>{items}</ul>{pictures}</section>'


def _fallback(renderable: Any) -> str:
    """A renderable this module does not know, as the terminal would show it, in plain text."""
    console = Console(record=True, width=120, color_system=None, file=io.StringIO())
    console.print(renderable)
    return f'<pre class="pre">{esc(console.export_text())}</pre>'


def parts_html(group: Any, models: list[dict] | None = None, unit: str = "nats") -> str:
    """A rich Group from the table renderer, part by part, as HTML; the diagnostics panels
    get the pictures of `models` (they come in the order of the models that have
    diagnostics lines)."""
    diagnosed = iter([m for m in models or [] if render_diagnostics.diagnostics_lines(m, unit)])
    out = []
    for part in group.renderables:
        if isinstance(part, render_grid.Grid):
            out.append(grid_html(part))
        elif isinstance(part, Text):
            out.append(_line(part))
        elif isinstance(part, Padding) and isinstance(part.renderable, Text):
            out.append(_line(part.renderable, part.left))
        elif isinstance(part, Panel):
            out.append(panel_html(part, next(diagnosed, None)))
        else:
            out.append(_fallback(part))
    return "\n".join(s for s in out if s)


def body_html(rep: dict) -> str:
    """What `render.render` shows (tables, tests, recommendation, diagnostics), as HTML."""
    return parts_html(render.render(rep), rep["models"], rep["unit"])


def page(title: str, header: str, body: str, command_line: str | None,
         version: str = __version__) -> str:
    """The whole document around a body: head (policy, style), header, body, footer with the
    command line (when given) and the version."""
    foot = []
    if command_line:
        foot.append(f"<p>Command line: <code>{esc(command_line)}</code></p>")
    foot.append(f"<p>losscli version {esc(version)}</p>")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta name="generator" content="losscli {esc(version)}">\n'
        f"<title>{esc(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        f'<main class="losscli-report">\n<header>{header}</header>\n{body}\n'
        f"<footer>{''.join(foot)}</footer>\n</main>\n</body>\n</html>\n")


def to_html(rep: dict, command_line: str | None = None) -> str:
    """The report dict as a self-contained HTML page (see the module's docstring);
    `command_line`, when given, is shown in the footer with the version."""
    command = rep.get("command", "")
    path = rep.get("input", {}).get("path")
    where = render._path_text(path) if path is not None else ""
    head = [f"<h1>losscli {esc(command)}</h1>"]
    if rep.get("best"):
        head.append(f'<p class="lead">Best family: <strong class="best-family">'
                    f'{esc(rep["best"])}</strong></p>')
    body = [body_html(rep)]
    skipped = rep.get("skipped") or []
    if skipped:  # the table says "reasons in --format json": a page has them here
        items = "".join(f"<li>{esc(s.get('family'))}: {esc(s.get('reason'))}</li>"
                        for s in skipped if isinstance(s, dict))
        body.append(f"<details><summary>Families not fitted, and why</summary>"
                    f"<ul>{items}</ul></details>")
    warnings = rep.get("warnings") or []
    if warnings:
        items = "".join(f"<li>{esc(w)}</li>" for w in warnings)
        body.append(f'<section class="warnings"><h2>Warnings</h2><ul>{items}</ul></section>')
    title = f"losscli {command}" + (f" — {where}" if where else "")
    return page(title, "".join(head), "\n".join(body), command_line,
                str(rep.get("version", __version__)))


def families_html(rows: list[dict], command_line: str | None = None) -> str:
    """`losscli families` as a page: the two tables the terminal shows."""
    return page("losscli families", "<h1>losscli families</h1>",
                parts_html(render.families_tables(rows)), command_line)


def command_line(argv: list[str]) -> str:
    """The command as typed: the program's name, then its arguments, quoted for a shell
    (`python -m losscli` when run as a module)."""
    import shlex

    prog = os.path.basename(argv[0]) if argv else "losscli"
    prefix = ["python", "-m", "losscli"] if prog in ("__main__.py", "-m", "") else [prog]
    return shlex.join([*prefix, *argv[1:]])
