"""Rich tables from a report dict, and the transient progress display. Only module with rich.

Tables never cut a number or a name: a table wider than the console is split into
several, each repeating the family column, and prose columns wrap between words; off a
terminal the report is written at its natural width."""

from __future__ import annotations

import io
import math
import os
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rich import box
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.measure import Measurement
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

SIG = 4  # significant digits of a column's largest value; more when rows need them
SIG_MAX = 8  # the most a column is widened to keep distinct values apart
# a total goes scientific where fixed notation would show more digits than a float64
# holds (~16): from 1e15 its last decimal is noise, and at 1e27 it would print 28 digits
TOTAL_SCI_DIGITS = 16
# a difference of two computed quantities is only known to their round-off: summed over
# many rows ~1e-15 relative, with margin; below that its sign and digits are noise
ROUND_OFF = 1e-12
NULL = "—"  # a value that is null in the JSON


# --- numbers ----------------------------------------------------------------------------

def _finite(x: Any) -> bool:
    return (isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x))


def _exp10(x: float) -> int:
    """The decimal exponent of |x| > 0 (floor of log10), exact at powers of ten."""
    e = math.floor(math.log10(abs(x)))
    return e + 1 if abs(x) >= 10.0 ** (e + 1) else e


def _fixed(x: float, d: int) -> str:
    s = f"{x:,.{d}f}"
    return s[1:] if s.startswith("-") and not s.strip("-0.,") else s  # no "-0.000"


def _sci(x: float, m: int) -> str:
    s = f"{x:.{m}e}"
    return s[1:] if s.startswith("-") and float(s) == 0 else s


def column(values: Sequence[Any], *, total: bool = False, decimals: int | None = None,
           resolution: float | None = None, sig: int = SIG) -> list[str]:
    """The strings of one numeric column, all in one format.

    Fixed notation with thousands separators and one number of decimals, so the decimal
    points align when right-justified; scientific notation, with one mantissa length and
    the format of every other column, only when the column's values are all tiny
    (< 1e-3), huge (>= 1e9) or too far apart for fixed notation. The decimals give the
    largest value `sig` significant digits and the smallest non-negligible one two, and
    grow (up to SIG_MAX significant digits) until values further apart than `resolution`
    (default 1e-4 of the largest) print differently. `total` (nll, AIC, BIC and their
    differences) keeps at least one decimal and goes scientific only beyond the digits a
    float64 holds (from 1e15), so a ΔAIC of 2 shows on millions of rows. `decimals`
    fixes the decimals instead. Null, missing and non-finite values are "—";
    a column of Python ints prints them whole.
    """
    xs = [float(v) for v in values if _finite(v)]
    if not xs:
        return [NULL for _ in values]
    if decimals is None and all(isinstance(v, int) for v in values if _finite(v)):
        return [f"{v:,}" if _finite(v) else NULL for v in values]
    amax = max(abs(x) for x in xs)
    top = _exp10(amax) if amax > 0 else 0
    distinct = sorted(set(xs))
    gap = (resolution if resolution is not None else 1e-4 * amax)
    pairs = [(a, b) for a, b in zip(distinct, distinct[1:], strict=False) if b - a > gap]

    def apart(fmt, n: int) -> bool:
        return all(fmt(a, n) != fmt(b, n) for a, b in pairs)

    sci = False
    if decimals is not None:
        d = decimals
    else:
        least = 1 if total else 0
        d = max(least, sig - 1 - top) if amax > 0 else (least or sig - 1)
        small = [abs(x) for x in xs if abs(x) >= 1e-3 * amax and x != 0]
        if small:
            d = max(d, 1 - _exp10(min(small)))
        d_max = max(d, SIG_MAX - 1 - top, least)
        while d < d_max and not apart(_fixed, d):
            d += 1
        if total:
            sci = top + d >= TOTAL_SCI_DIGITS
        else:
            sci = amax > 0 and (amax < 1e-3 or amax >= 1e9 or max(top, 0) + d > 11)
    if sci:
        m = sig - 1
        while m < SIG_MAX - 1 and not apart(_sci, m):
            m += 1
        return [_sci(float(v), m) if _finite(v) else NULL for v in values]
    return [_fixed(float(v), d) if _finite(v) else NULL for v in values]


def settled(x: Any, *parts: Any) -> Any:
    """x, or 0.0 where |x| is below the round-off (ROUND_OFF relative) of the quantities
    it is the difference of (KL = cross-entropy − entropy, r2 = 1 − a ratio): a table
    shows no sign or digits that are noise. For tables only; the JSON keeps x."""
    if not _finite(x):
        return x
    scale = max((abs(float(p)) for p in parts if _finite(p)), default=0.0)
    return 0.0 if abs(x) <= ROUND_OFF * scale else x


def _trim(s: str) -> str:
    """A formatted number without trailing zeros (in the mantissa, if scientific)."""
    mantissa, e, exp = s.partition("e")
    if "." in mantissa:
        mantissa = mantissa.rstrip("0").rstrip(".")
    return mantissa + e + exp


def num(x: Any, sig: int = 5) -> str:
    """One number on its own (a fitted parameter, a test statistic): no trailing zeros."""
    return _trim(column([x], sig=sig)[0])


def pval(p: float | None) -> str:
    if p is None:
        return f"p = {NULL}"
    return "p < 1e-16" if p < 1e-16 else f"p = {p:.3g}"


# --- tables that never cut ----------------------------------------------------------------

@dataclass
class Col:
    """One column: a header (lines separated by newlines) and its cells, as strings.

    Number and name columns are never wrapped; `wrap` columns (prose) wrap between words
    only; a name column with `breaks` may go on the next line before one of those
    characters (a name such as `Regressor(loss=...)` before its "("), never inside a
    word. Consecutive columns of one `band` are kept in one table when they fit."""

    header: str
    cells: list[str]
    justify: str = "right"
    wrap: bool = False
    band: int = 0
    breaks: str = ""

    @property
    def natural(self) -> int:
        return max(cell_len(s) for s in [*self.header.split("\n"), *self.cells])

    @property
    def minimum(self) -> int:
        if self.breaks:
            return max(cell_len(p) for s in [*self.header.split("\n"), *self.cells]
                       for p in _pieces(s, self.breaks))
        if not self.wrap:
            return self.natural
        words = [w for s in [self.header, *self.cells] for w in s.split()]
        return max((cell_len(w) for w in words), default=1)


@dataclass
class Grid:
    """A table that is split, never cut: its columns go into as many tables as the width
    needs, each repeating the key column, bands kept together where they fit."""

    key: Col
    cols: list[Col]
    title: str | None = None
    notes: list[str] = field(default_factory=list)
    row_styles: list[str | None] | None = None
    gap: int = 3  # characters between columns

    def _width(self, cols: list[Col], attr: str) -> int:
        return sum(getattr(c, attr) for c in [self.key, *cols]) + self.gap * len(cols)

    def _texts(self, plain: bool = False) -> list[Text]:
        title, caption = ("", "") if plain else ("table.title", "table.caption")
        out = [Text(self.title, style=title)] if self.title else []
        return out + [Text(n, style=caption) for n in self.notes]

    def natural_width(self) -> int:
        return self._width(self.cols, "natural")

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        texts = [Measurement.get(console, options, t) for t in self._texts()]
        widest = max([self.natural_width(), *(m.maximum for m in texts)])
        narrowest = max([self._width([c], "minimum") for c in self.cols]
                        or [self.key.natural])
        return Measurement(min(narrowest, widest), widest)

    def groups(self, width: int) -> list[list[Col]]:
        """The columns of each table at this console width."""
        bands: list[list[Col]] = []
        for c in self.cols:
            if bands and bands[-1][0].band == c.band:
                bands[-1].append(c)
            else:
                bands.append([c])

        def packed(cols: list[Col]) -> int:
            # a name column breaks only where it cannot have a table of its own unbroken
            return self._width(cols, "minimum") + sum(
                c.natural - c.minimum for c in cols
                if c.breaks and self._width([c], "natural") <= width)

        out: list[list[Col]] = []
        cur: list[Col] = []
        for band in bands:
            if packed(cur + band) <= width:
                cur += band
                continue
            if cur:
                out.append(cur)
                cur = []
            for c in band:
                if cur and packed(cur + [c]) > width:
                    out.append(cur)
                    cur = []
                cur.append(c)
        if cur or not out:
            out.append(cur)
        return out

    def _widths(self, cols: list[Col], width: int) -> list[int]:
        """Natural widths when they fit; else prose columns narrowed toward their longest
        word (numbers and names keep their width)."""
        allc = [self.key, *cols]
        widths = [c.natural for c in allc]
        spare = width - self._width(cols, "natural")
        if spare >= 0:
            return widths
        widths = [c.minimum for c in allc]
        spare = width - self._width(cols, "minimum")
        if spare < 0:  # narrower than any layout that keeps every word: fold the widest
            i = max(range(len(allc)), key=lambda j: widths[j])
            widths[i] = max(1, widths[i] + spare)
            return widths
        while spare > 0:
            room = [(c.natural - w, i) for i, (c, w) in enumerate(zip(allc, widths, strict=True))
                    if c.natural > w]
            if not room:
                break
            widths[max(room)[1]] += 1
            spare -= 1
        return widths

    def _table(self, cols: list[Col], width: int, plain: bool = False) -> Table:
        pad = (0, 1) if self.gap >= 3 else (0, 1, 0, 0)
        t = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=pad,
                  header_style="" if plain else "table.header")
        for c, w in zip([self.key, *cols], self._widths(cols, width), strict=True):
            # a name with break points folds rather than lose characters when the console
            # is narrower than its longest piece
            t.add_column(c.header, justify=c.justify, width=w,  # type: ignore[arg-type]
                         no_wrap=not (c.wrap or c.breaks),
                         overflow="fold")
        styles = (None if plain else self.row_styles) or [None] * len(self.key.cells)
        widths = dict(zip(map(id, [self.key, *cols]), self._widths(cols, width), strict=True))
        for i, style in enumerate(styles):
            t.add_row(*(_fill(c.cells[i], widths[id(c)], c.breaks)
                        if c.breaks and widths[id(c)] < c.natural else c.cells[i]
                        for c in [self.key, *cols]), style=style)
        return t

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        plain = console.no_color  # NO_COLOR: not even bold, whatever console prints this
        texts = self._texts(plain)
        if self.title:
            yield texts.pop(0)
            yield Text("")
        for i, cols in enumerate(self.groups(width)):
            if i:
                yield Text("")
            yield self._table(cols, width, plain)
        if texts:
            yield Text("")
            yield from texts


def _pieces(text: str, breaks: str) -> list[str]:
    """`text` cut before each character of `breaks`: where a name may change lines."""
    out = [""]
    for ch in text:
        if ch in breaks and out[-1]:
            out.append("")
        out[-1] += ch
    return out


def _fill(text: str, width: int, breaks: str) -> str:
    """`text` on as few lines of at most `width` cells as its break points allow."""
    lines = [""]
    for piece in _pieces(text, breaks):
        if lines[-1] and cell_len(lines[-1] + piece) > width:
            lines.append("")
        lines[-1] += piece
    return "\n".join(lines)


# --- the report ------------------------------------------------------------------------------

def params_text(params: dict, not_finite: frozenset[str] = frozenset()) -> str:
    """The fitted parameters. A null one is infinite (student_t's df at the Gaussian
    limit: strict JSON has no Infinity, SPEC §1.3) and shows as ∞, unless it is among
    `not_finite` (a NaN the report turned into null, with its warning): —."""
    if len(params) > 4:  # categorical marginal: one probability per class
        return f"{len(params)} class probabilities"

    def shown(k: str, v) -> str:
        return num(v) if v is not None else NULL if k in not_finite else "∞"

    return ", ".join(f"{k} = {shown(k, v)}" for k, v in params.items()) or "none"


def _path_text(path: Any) -> str:
    """The input as titles name it: standard input ('-') is <stdin>."""
    if isinstance(path, list | tuple):
        if len(path) <= 3:
            return ", ".join(map(_path_text, path))
        return f"{_path_text(path[0])} and {len(path) - 1} more files"
    return "<stdin>" if path == "-" else str(path)


def title(rep: dict) -> str:
    inp = rep["input"]
    rows = f"{inp['rows_used']:,} rows"
    if inp["rows_dropped"]:
        rows += f" ({inp['rows_dropped']:,} dropped)"
    if inp["weight"]:
        rows += f" weighted by {inp['weight']!r}"
    text = (f"{_path_text(inp['path'])} — {rows}, target {inp['target']!r} "
            f"({rep['target_kind']}), {rep['mode']} mode, {rep['base_measure']} base measure")
    if comparison(rep):
        text += f", ranked by {rep['criterion'].upper()}"
    return text


CRITERION_LABELS = {"aic": "AIC", "bic": "BIC", "nll": "nll"}


def comparison(rep: dict) -> bool:
    """The report is a comparison (compare-noise-models, or diagnose --best): it has a
    criterion, a ranking, the tests of the differences and a recommendation."""
    return rep.get("criterion") is not None


def _deltas(values: list[Any]) -> list[float | None]:
    finite = [v for v in values if _finite(v)]
    best = min(finite) if finite else None
    return [v - best if _finite(v) and best is not None else None for v in values]


# the per-row quantities that are differences of others (SPEC §1.5), by what they differ
DIFFERENCE_OF = {"kl": ("cross_entropy", "entropy"),
                 "information_gain": ("baseline_cross_entropy", "cross_entropy"),
                 "delta_cross_entropy": ("cross_entropy",)}
ONE_MINUS = ("r2", "d2")  # metrics that are 1 − a ratio


def _shown(m: dict, field_: str) -> Any:
    """A model's per-row quantity as the table shows it (round-off settled to 0)."""
    return settled(m.get(field_), *(m.get(p) for p in DIFFERENCE_OF.get(field_, ())))


def _main_grid(rep: dict) -> Grid:
    """Cross-entropy = entropy + KL per row, then the totals (nll, AIC, BIC) and, in a
    comparison, Δ of the criterion and the Akaike weight."""
    models = rep["models"]
    ranked = comparison(rep)
    unit = rep["unit"]
    n = max((m["n"] for m in models if _finite(m.get("n")) and m["n"] > 0), default=None)
    # a per-row difference of 1/n is one unit of total nll: rows further apart show apart
    res = None if n is None else 1.0 / n

    def per_row(field_: str) -> list[str]:
        return column([_shown(m, field_) for m in models], resolution=res)

    def totals(values: list[Any]) -> list[str]:
        return column(values, total=True)

    methods = [m["entropy_method"] for m in models]
    hard = all(x == "hard-labels" for x in methods)
    cols = [Col(f"cross-ent.\n{unit}/row", per_row("cross_entropy"))]
    if not hard:
        cols.append(Col("entropy", per_row("entropy")))
        if len(set(methods)) > 1:
            cols.append(Col("entropy\nmethod", [x or NULL for x in methods], justify="left"))
        cols.append(Col("KL", per_row("kl")))
    if ranked:
        cols.append(Col("ΔCE", per_row("delta_cross_entropy")))
    else:
        for header, f in (("baseline\nCE", "baseline_cross_entropy"),
                          ("info\ngain", "information_gain"),
                          ("normalized\nentropy", "normalized_entropy")):
            values = [_shown(m, f) for m in models]
            if any(v is not None for v in values):
                cols.append(Col(header, column(values, resolution=res), band=1))
    crit = rep.get("criterion") if ranked else None
    order = ["nll", "aic", "bic"]
    if crit in order:  # the criterion last, next to its Δ and the weight
        order.remove(crit)
        order.append(crit)
    for f in order:
        cols.append(Col(CRITERION_LABELS[f], totals([m.get(f) for m in models]), band=2))
    if ranked and crit in CRITERION_LABELS:
        cols.append(Col(f"Δ{CRITERION_LABELS[crit]}",
                        totals(_deltas([m.get(crit) for m in models])), band=2))
        cols.append(Col("AIC\nweight", column([m.get("akaike_weight") for m in models],
                                              decimals=4), band=2))

    notes = []
    if hard:
        notes.append("hard labels: entropy 0, so KL = cross-entropy")
    elif len(set(methods)) == 1:
        notes.append(f"entropy method: {methods[0]}")
    if any(x == "spacing" for x in methods):
        of = "of y" if rep["mode"] == "marginal" else (
            "of the residuals, an upper bound, so KL may come out below 0")
        notes.append(f"KL is an estimate for a continuous target (spacing entropy {of})")
    if unit == "bits":
        notes.append("nll, cross-entropy, entropy and KL in bits; AIC and BIC on the nats "
                     "scale")
    if ranked and crit != "aic":
        notes.append(f"AIC weight: the Akaike weight, from AIC (the ranking is by "
                     f"{CRITERION_LABELS.get(crit, crit)})")
    styles = [("bold" if ranked and m.get("rank") == 1 else None) for m in models]
    return Grid(Col("family", [m["family"] for m in models], justify="left"), cols,
                title=title(rep), notes=notes, row_styles=styles)


def _params_lines(rep: dict) -> Text:
    lines = Text("fitted parameters\n", style="italic")
    for i, m in enumerate(rep["models"]):
        lines.append(f"  {m['family']}: ", style="bold")
        prefix = f"models[{i}].params."  # report.finite's warning for a NaN it nulled
        nan = frozenset(w[len(prefix):].split(" ", 1)[0] for w in rep.get("warnings", [])
                        if w.startswith(prefix))
        lines.append(params_text(m["params"], nan) + f"  (k = {m['n_params']}")
        lines.append(f", fit on {m['fit_rows']:,} rows)\n" if m["fit_rows"] < m["n"] else ")\n")
    return lines


POINT_METRICS = ("mse", "rmse", "mae", "r2")


def _metrics_grid(rep: dict) -> Grid | None:
    """Family metrics; the point-prediction metrics once when every family shares ŷ."""
    models = rep["models"]
    point = [{k: m["metrics"].get(k) for k in POINT_METRICS} for m in models]
    shared = len(models) > 1 and all(p == point[0] and p["mse"] is not None for p in point)
    names: list[str] = []
    for m in models:
        names += [k for k in m["metrics"] if k not in names
                  and not (shared and k in POINT_METRICS)]
    cols = (list(POINT_METRICS) if shared else []) + names
    if not cols:
        return None
    # one row per family, and first one for the point metrics when every family shares them
    rows: list[tuple[str, dict]] = []
    if shared:
        rows.append(("every family (same ŷ)", point[0]))
        rows += [(m["family"], {n: m["metrics"][n] for n in names if n in m["metrics"]})
                 for m in models if any(n in m["metrics"] for n in names)]
    else:
        rows = [(m["family"], m["metrics"]) for m in models]
    out = []
    for name in cols:
        present = [i for i, (_, ms) in enumerate(rows) if name in ms]
        shown = column([settled(rows[i][1][name], *((1.0,) if name in ONE_MINUS else ()))
                        for i in present])
        cells = [""] * len(rows)
        for i, s in zip(present, shown, strict=True):
            cells[i] = s
        out.append(Col(name, cells))
    return Grid(Col("family", [r[0] for r in rows], justify="left"), out,
                title="metrics of the point prediction")


def _tests_lines(rep: dict) -> list[Text]:
    out = []
    for t in rep.get("tests", []):
        p = t["p_value"]
        real = p is not None and p < 0.05
        if t["kind"] == "likelihood_ratio":
            verdict = (f"{t['alternative']} fits significantly better than {t['null']}"
                       if real else f"no evidence that {t['alternative']} beats {t['null']}")
            stat = f"LR = {num(t['statistic'])}"
        else:
            verdict = (f"{t['alternative']} is significantly better than {t['null']}"
                       if real else f"{t['alternative']} and {t['null']} are not "
                       "distinguishable")
            stat = f"Vuong z = {num(t['statistic'])}"
        out.append(Text(f"{verdict} ({stat}, {pval(p)})",
                        style="green" if real else "yellow"))
    return out


FRAMEWORKS = ("pytorch", "sklearn", "xgboost", "lightgbm")
FRAMEWORK_LABELS = ("PyTorch", "scikit-learn", "XGBoost", "LightGBM")


def _frameworks(r: dict) -> str:
    return ", ".join(f"{k}: {r[k]}" for k in FRAMEWORKS if r.get(k))


def _fw_of(family: str) -> dict:
    from losscli.noise import FAMILIES

    fw = FAMILIES[family].frameworks
    return {k: getattr(fw, k) for k in FRAMEWORKS}


def _indent(text: Text, n: int) -> Padding:
    """Indented; a wrapped line keeps the indent."""
    return Padding(text, (0, 0, 0, n), expand=False)


def train_with(r: dict) -> str:
    """The loss to train with, its transform applied once ("on log y")."""
    loss = r["loss"]
    if r.get("transform") == "log" and not loss.rstrip().endswith("on log y"):
        loss += " on log y"
    return loss


def _recommendation(rep: dict) -> list[Any]:
    r = rep["recommendation"]
    parts: list[Any] = [Text.assemble(
        ("Recommendation: ", "bold"), (f"{r['family']} — train with {train_with(r)}",
                                       "bold green"))]
    shown = r
    if not _frameworks(r):
        alt = r.get("alternative")
        if isinstance(alt, dict):  # the family to train with, its names and the reason
            shown = alt
            if alt.get("reason"):
                parts.append(_indent(Text(alt["reason"]), 2))
            parts.append(_indent(Text(f"instead, train with {alt['family']} — "
                                      f"{train_with(alt)}:"), 2))
        else:
            note = "no built-in loss in PyTorch, scikit-learn, XGBoost or LightGBM"
            if alt is not None:
                shown = _fw_of(alt)
                note += f"; instead, train with the {alt} loss:"
            parts.append(_indent(Text(note), 2))
    label_w = max(cell_len(s) for s in FRAMEWORK_LABELS) + 2
    for key, label in zip(FRAMEWORKS, FRAMEWORK_LABELS, strict=True):
        if shown.get(key):
            parts.append(_indent(Text(f"{label:<{label_w}}{shown[key]}"), 4))
    if r.get("ties"):
        parts.append(_indent(Text("the tests do not separate it from: "
                                  + ", ".join(r["ties"]), style="yellow"), 2))
    if rep.get("skipped"):
        names = ", ".join(s["family"] for s in rep["skipped"])
        parts.append(_indent(Text(f"not fitted: {names} (reasons in --format json)",
                                  style="dim"), 2))
    return parts


# --- diagnostics -----------------------------------------------------------------------------

ALPHA = 0.05  # the significance level of the diagnostics' wording
DEAN_MINOR = {"dispersion_dean_a": "A", "dispersion_dean_c": "C"}  # condensed after Dean B
APPROX = "approx."  # after a p-value whose null distribution is approximate


def _n(x: Any) -> str:
    """A test statistic or count: three significant digits."""
    return num(x, sig=3)


def _effect(x: Any, neutral: float) -> str:
    """An effect size with three significant digits, more when needed to tell it from
    its neutral value (a variance ratio of 1.004 is not written 1)."""
    s = num(x, sig=3)
    for sig in range(4, SIG_MAX + 1):
        if not _finite(x) or x == neutral or float(s.replace(",", "")) != neutral:
            break
        s = num(x, sig=sig)
    return s


def diag_p(t: dict) -> str:
    """A test's p-value as `pval` writes it; 0 (an underflow) as "p < 1e-300", and
    "approx." after it when the null distribution is approximate."""
    p = t.get("p_value")
    text = "p < 1e-300" if p == 0 else pval(p)
    return f"{text} {APPROX}" if t.get("exact") is False else text


def _computed(t: dict) -> bool:
    return _finite(t.get("statistic")) and _finite(t.get("p_value"))


def _words(t: dict, side: int, above: str, below: str, same: str) -> str:
    """`above` or `below` the neutral effect when significant at ALPHA, else `same`."""
    if t["p_value"] >= ALPHA or side == 0:
        return same
    return above if side > 0 else below


def _sign(x: float, neutral: float) -> int:
    return (x > neutral) - (x < neutral)


def diag_test_line(t: dict, transform: str | None = None) -> str:
    """One diagnostic test in words: the effect, then the test in parentheses. `transform` is
    the family's declared scale of ŷ and y ("log": the calibration test is on log y)."""
    kind = t.get("kind", "test")
    if not _computed(t):
        return f"{kind}: not computed (see warnings)"
    effect = t.get("effect") or {}
    v, stat, p = effect.get("value"), _n(t["statistic"]), diag_p(t)
    if not _finite(v):
        return f"{kind}: {effect.get('name', 'effect')} not computed (statistic {stat}, {p})"
    ratio = _sign(v, 1.0)
    if kind.startswith("dispersion_dean_"):
        words = _words(t, ratio, "overdispersed", "underdispersed",
                       "dispersion consistent with the model")
        return (f"{words}: variance ≈ {_effect(v, 1.0)} × mean "
                f"(Dean {kind[-1].upper()} z = {stat}, {p})")
    if kind == "dispersion_pearson":
        words = _words(t, ratio, "overdispersed beyond the fitted α",
                       "underdispersed for the fitted α", "dispersion consistent with the fitted α")
        return f"{words}: Pearson X²/df ≈ {_effect(v, 1.0)} (X² = {stat}, {p})"
    if kind == "zero_inflation":
        words = _words(t, ratio, "excess zeros", "fewer zeros than expected", "zeros as expected")
        return f"{words}: {_effect(v, 1.0)} × the expected count (z = {stat}, {p})"
    if kind == "calibration_in_the_large":
        words = _words(t, _sign(v, 0.0), "predictions too low on average",
                       "predictions too high on average", "calibrated in the large")
        resid = "log y − log ŷ" if transform == "log" else "y − ŷ"
        return f"{words}: mean({resid}) = {_effect(v, 0.0)} (z = {stat}, {p})"
    if kind == "spiegelhalter":
        words = ("probabilities miscalibrated" if t["p_value"] < ALPHA
                 else "probabilities calibrated")
        return f"{words}: Brier excess {_effect(v, 0.0)} (Spiegelhalter z = {stat}, {p})"
    if kind == "pit_uniformity":
        if t["p_value"] < ALPHA:
            return f"PIT not uniform: KS distance D = {_effect(v, 0.0)} ({p})"
        return f"PIT consistent with uniform: D = {_effect(v, 0.0)} ({p})"
    if kind == "tail_exceedance":
        rows = "row" if t["statistic"] == 1 else "rows"
        return (f"{_effect(v, 1.0)} × the expected extreme PIT values (< 0.001 or > 0.999): "
                f"{stat} {rows} ({p})")
    return f"{kind}: {effect.get('name', 'effect')} = {num(v, sig=3)} (statistic {stat}, {p})"


def _tests_diag_lines(tests: list[dict], transform: str | None = None) -> list[str]:
    """A line per test, Dean's A and C tests condensed onto one line after Dean B's."""
    b = next((t for t in tests if t.get("kind") == "dispersion_dean_b" and _computed(t)), None)
    minor = [t for t in tests if b is not None and t.get("kind") in DEAN_MINOR and _computed(t)]
    out = []
    for t in tests:
        if any(t is m for m in minor):
            continue
        out.append(diag_test_line(t, transform))
        if t is b and minor:
            out.append("Dean " + ", ".join(f"{DEAN_MINOR[m['kind']]} z = {_n(m['statistic'])} "
                                           f"({diag_p(m)})" for m in minor))
    return out


DECOMPOSED = {"nll": "{score} {unit}", "top_label_log_loss": "top-label log loss {score} {unit}",
              "squared_error": "{score} (squared error)"}


def decomposition_line(d: dict, unit: str) -> str:
    """score = uncertainty − discrimination + miscalibration, in one number format."""
    dis_, mis_ = d.get("discrimination"), d.get("miscalibration")
    score, unc, dis, mis = column([d.get("score"), d.get("uncertainty"),  # signs written apart
                                   abs(dis_) if _finite(dis_) else None,
                                   abs(mis_) if _finite(mis_) else None], sig=4)
    lead = DECOMPOSED.get(d.get("scoring"), f"{d.get('scoring')} {{score}}")
    text = f"{lead.format(score=score, unit=unit)} = {unc} uncertainty"
    missing = [k for k in ("miscalibration", "discrimination") if not _finite(d.get(k))]
    if missing:
        text += f"; {' and '.join(missing)} not computed"
    else:
        text += (f" {'−' if dis_ >= 0 else '+'} {dis} discrimination"
                 f" {'+' if mis_ >= 0 else '−'} {mis} miscalibration")
    return text + (" (binned)" if d.get("method") == "binned" else "")


def pit_line(pit: dict) -> str | None:
    """The PIT coverage, nominal → observed, in percent; None without any."""
    cov = pit.get("coverage") or []
    if not cov:
        return None
    observed = column([100 * c["observed"] if _finite(c.get("observed")) else None
                       for c in cov], decimals=1)
    return "PIT coverage: " + ", ".join(
        f"{num(100 * c['nominal'])} % → {o}{'' if o == NULL else ' %'}"
        for c, o in zip(cov, observed, strict=True))


def diagnostics_lines(model: dict, unit: str) -> list[str]:
    """The lines of a model's diagnostics panel: a line per test, the decomposition, the
    PIT coverage and the pictures' paths; [] when the model was not diagnosed."""
    d = model.get("diagnostics")
    if not isinstance(d, dict):
        return []
    from losscli.noise import FAMILIES

    fam = FAMILIES.get(model.get("family"))
    lines = _tests_diag_lines(d.get("tests") or [], fam.transform if fam else None)
    if isinstance(d.get("decomposition"), dict):
        lines.append(decomposition_line(d["decomposition"], unit))
    pit = pit_line(d["pit"]) if isinstance(d.get("pit"), dict) else None
    if pit:
        lines.append(pit)
    plots = [p["path"] for p in d.get("plots") or [] if isinstance(p, dict) and p.get("path")]
    if plots:
        lines.append("pictures: " + ", ".join(map(str, plots)))
    return lines


def diagnostics_panel(model: dict, unit: str) -> Panel | None:
    """The "Diagnostics: family" panel; None when there is nothing to show."""
    lines = diagnostics_lines(model, unit)
    if not lines:
        return None
    return Panel(Text("\n".join(lines)), title=Text(f"Diagnostics: {model['family']}",
                                                    style="bold"),
                 title_align="left", expand=False)


def render(rep: dict, *, warnings: bool = False) -> Group:
    """The report as rich renderables. Warnings are shown only with `warnings=True` (the
    CLI writes them to stderr)."""
    ranked = comparison(rep)
    parts: list[Any] = []
    if rep["models"]:
        parts += [_main_grid(rep), Text(""), _params_lines(rep)]
        metrics = _metrics_grid(rep)
        if metrics is not None:
            parts += [metrics, Text("")]
    else:
        parts.append(Text(title(rep), style="table.title"))
    if ranked:
        tests = _tests_lines(rep)
        if tests:
            parts.append(Text("Is the difference real?", style="bold"))
            parts += [_indent(t, 2) for t in tests]
            parts.append(Text(""))
        if rep.get("recommendation"):
            parts += _recommendation(rep)
    for m in rep["models"]:
        panel = diagnostics_panel(m, rep["unit"])
        if panel is not None:
            last = parts[-1]
            if not (isinstance(last, Text) and (not last.plain or last.plain.endswith("\n"))):
                parts.append(Text(""))  # one blank line before the panel
            parts.append(panel)
    if warnings:
        parts += [Text(f"warning: {w}", style="yellow") for w in rep["warnings"]]
    if rep["input"]["clipped"]:
        parts.append(Text(f"note: {rep['input']['clipped']:,} probabilities clipped to "
                          "[ε, 1 − ε]", style="dim"))
    return Group(*parts)


# --- consoles --------------------------------------------------------------------------------

def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def natural_width(renderable: Any) -> int:
    """The width at which nothing in `renderable` wraps."""
    probe = Console(file=io.StringIO(), width=100_000, height=25, color_system=None)
    return max(1, Measurement.get(probe, probe.options, renderable).maximum)


def make_console(file: Any = None, color: bool | None = None, width: int | None = None,
                 renderable: Any = None) -> Console:
    """A console for `file` (default stdout).

    color: True forces styles (even to a pipe), False gives no escape sequences at all,
    None follows the stream (styles on a terminal only) and NO_COLOR (none when set).
    width: the layout width; by default the terminal's, or off a terminal the natural
    width of `renderable`, so nothing wraps."""
    stream = sys.stdout if file is None else file
    kw: dict[str, Any] = {}
    if color is True:
        kw.update(force_terminal=True, no_color=False)
    elif color is False or os.environ.get("NO_COLOR"):
        kw.update(color_system=None, no_color=True)
    if width is None and renderable is not None and not _isatty(stream):
        width = natural_width(renderable)
    if width is not None:
        kw.update(width=width, height=25)  # both, or a dumb terminal means 80 columns
    # in a notebook rich would display what it prints instead of writing it to `file`
    kw.update(force_jupyter=False)
    console = Console(file=file, **kw)
    if color is True and console.color_system is None:
        console = Console(file=file, color_system="standard", **kw)
    return console


def print_report(rep: dict, file: Any = None, color: bool | None = None,
                 width: int | None = None, warnings: bool = False) -> None:
    """Print the report's tables to `file` (default stdout); see `make_console` for
    `color` and `width`."""
    renderable = render(rep, warnings=warnings)
    make_console(file, color, width, renderable).print(renderable)


def report_text(rep: dict) -> str:
    """The report's tables and warnings as plain text at their natural width."""
    buf = io.StringIO()
    print_report(rep, file=buf, color=False, warnings=True)
    return buf.getvalue()


# a fragment that styles only its own element (a notebook's page keeps its colours)
NOTEBOOK_HTML = ('<div class="losscli-report"><pre style="white-space:pre;overflow-x:auto;'
                 "line-height:normal;font-family:Menlo,'DejaVu Sans Mono',consolas,"
                 "'Courier New',monospace\">{code}</pre></div>")


def notebook_html(rep: dict) -> str:
    """The report's tables and warnings as one self-contained HTML element: colours as
    inline styles on spans, no page-wide style, nothing displayed on the way."""
    renderable = render(rep, warnings=True)
    console = Console(file=io.StringIO(), record=True, force_jupyter=False,
                      force_terminal=True, color_system="truecolor",
                      width=natural_width(renderable), height=25)
    console.print(renderable)
    return console.export_html(inline_styles=True, code_format=NOTEBOOK_HTML)


def families_tables(rows: list[dict]) -> Group:
    """Two tables: what each family models, and its loss in each framework (a name per
    cell, never broken: the framework columns go into several tables when narrow)."""
    key = Col("family", [r["family"] for r in rows], justify="left")
    what = Grid(key, [
        Col("target support", [r["support"] for r in rows], justify="left", wrap=True),
        Col("prediction is", [r["prediction"] for r in rows], justify="left", wrap=True),
        Col("fitted nuisance", [", ".join(r["nuisance"]) or "none" for r in rows],
            justify="left", wrap=True),
        Col("loss", [r["loss"] for r in rows], justify="left", wrap=True),
    ], title="noise families", gap=2)
    names = Grid(key, [Col(label, [r[k] or NULL for r in rows], justify="left", breaks="(.")
                       for k, label in zip(FRAMEWORKS, FRAMEWORK_LABELS, strict=True)],
                 title=f"the same loss in each framework ({NULL} none built in)", gap=2)
    return Group(what, Text(""), names)


def print_families(rows: list[dict], file: Any = None, color: bool | None = None,
                   width: int | None = None) -> None:
    renderable = families_tables(rows)
    make_console(file, color, width, renderable).print(renderable)


class DelayedStatus:
    """A transient spinner on stderr that appears only if the work lasts > `delay` s."""

    def __init__(self, enabled: bool, delay: float = 1.0,
                 console: Console | None = None) -> None:
        self.enabled = enabled
        self.delay = delay
        self.console = console
        self.label = "working"
        self._status = None
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()

    def __call__(self, label: str) -> None:
        with self._lock:
            self.label = label
            if self._status is not None:
                self._status.update(label)

    def _start(self) -> None:
        with self._lock:
            if self._timer is None:
                return
            console = self.console or Console(stderr=True)
            self._status = console.status(self.label, spinner="dots")
            self._status.start()

    def __enter__(self) -> DelayedStatus:
        if self.enabled:
            self._timer = threading.Timer(self.delay, self._start)
            self._timer.daemon = True
            self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if self._status is not None:
                self._status.stop()
                self._status = None
