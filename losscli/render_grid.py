"""Numbers as table columns and the grid that never cuts them (rich).

A column's numbers share their decimals (or an exponent) so that they line up and stay
apart; a grid wider than the console is split into several, each repeating its first
column, and prose columns wrap between words."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rich import box
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
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

def finite(x: Any) -> bool:
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
    xs = [float(v) for v in values if finite(v)]
    if not xs:
        return [NULL for _ in values]
    if decimals is None and all(isinstance(v, int) for v in values if finite(v)):
        return [f"{v:,}" if finite(v) else NULL for v in values]
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
        return [_sci(float(v), m) if finite(v) else NULL for v in values]
    return [_fixed(float(v), d) if finite(v) else NULL for v in values]


def settled(x: Any, *parts: Any) -> Any:
    """x, or 0.0 where |x| is below the round-off (ROUND_OFF relative) of the quantities
    it is the difference of (KL = cross-entropy − entropy, r2 = 1 − a ratio): a table
    shows no sign or digits that are noise. For tables only; the JSON keeps x."""
    if not finite(x):
        return x
    scale = max((abs(float(p)) for p in parts if finite(p)), default=0.0)
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
