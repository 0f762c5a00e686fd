"""Diagnostic pictures of a fitted noise model, drawn with matplotlib from plain data.

The data are computed elsewhere; this module only draws them. Every picture is a 640×480 PNG
written atomically (a temporary file in the same directory, then a rename), with matplotlib's
default style and no timestamp or version in the file, so that two runs give the same bytes.
matplotlib is an optional extra: it is imported only inside the functions."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from losscli.errors import InputError, LossCliError

EXTRA_MESSAGE = "--plot needs matplotlib: install the extra with pip install 'losscli[plot]'"

KINDS = ("pit", "qq", "reliability", "rootogram", "residuals")
FIGSIZE = (6.4, 4.8)  # inches; at DPI, 640×480 pixels
DPI = 100
LAYOUT = "constrained"
THIN = 2000  # the most points of a reliability curve that are drawn
Z90 = 1.2815515655446004  # Φ⁻¹(0.9)
ROUNDOFF = 1e-9  # |x| below this times the size of the terms it is a difference of: 0

BLUE, ORANGE, RED, GREY = "#1f77b4", "#ff7f0e", "#d62728", "#7f7f7f"
SUBTITLE = {"fontsize": 9, "color": "#444444"}
METHOD = {"exact": "exact", "nonrandomized": "non-randomised"}
SCORING = {"nll": "negative log-likelihood", "top_label_log_loss": "top-label log loss",
           "squared_error": "squared error"}


def require() -> None:
    """Raise InputError(EXTRA_MESSAGE) when matplotlib cannot be imported."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise InputError(EXTRA_MESSAGE) from None


_PRELOAD: list[threading.Thread] = []


def check() -> None:
    """require() without importing matplotlib (a third of a second): whether it is
    installed; the import itself is left to `preload`."""
    import importlib.util

    try:
        found = importlib.util.find_spec("matplotlib") is not None
    except ValueError:  # in sys.modules as None: imports of it fail
        found = False
    if not found:
        raise InputError(EXTRA_MESSAGE)


def preload() -> None:
    """Import matplotlib's drawing modules in a background thread (about a second, most of
    it Python imports that overlap with the passes over the data, whose numpy work releases
    the GIL); the drawing functions wait for it."""
    def load() -> None:
        try:
            import matplotlib  # noqa: F401
            import matplotlib.backends.backend_agg  # noqa: F401
            import matplotlib.figure  # noqa: F401
            import matplotlib.font_manager  # noqa: F401
            import matplotlib.style  # noqa: F401
        except ImportError:  # require() says so, in the caller's thread
            pass

    if not _PRELOAD:
        t = threading.Thread(target=load, daemon=True)
        t.start()
        _PRELOAD.append(t)


def _loaded() -> None:
    for t in _PRELOAD:
        t.join()


def model_plots(directory: str, family: str, data: dict,
                comparison: tuple[list[dict], str, str] | None = None) -> list[dict]:
    """Write DIR/{family}-{kind}.png for each kind of KINDS whose data are not None, and
    with `comparison` = (models, best, unit) DIR/cross-entropy.png last.

    Returns [{"kind": kind, "path": path}, ...] in that order. Where the platform forks,
    the pictures are drawn in parallel, one process per core."""
    require()
    _makedirs(directory)
    jobs = []
    for kind in KINDS:
        spec = data.get(kind)
        if spec is not None:
            jobs.append((kind, os.path.join(directory, f"{family}-{kind}.png"),
                         (family, spec, data)))
    if comparison is not None:
        jobs.append(("cross-entropy", os.path.join(directory, "cross-entropy.png"),
                     comparison))
    _run(jobs)
    return [{"kind": kind, "path": path} for kind, path, _ in jobs]


def _run(jobs: list[tuple]) -> None:
    """Draw the jobs: in forked processes where there are several and more than one core
    (each picture is independent, so the files are the same bytes either way)."""
    _loaded()
    cores = os.cpu_count() or 1
    if len(jobs) > 1 and cores > 1 and sys.platform.startswith("linux"):
        import multiprocessing

        with multiprocessing.get_context("fork").Pool(min(cores, len(jobs))) as pool:
            pool.starmap(_draw_job, jobs)
    else:
        for job in jobs:
            _draw_job(*job)


def _draw_job(kind: str, path: str, args: tuple) -> None:
    with _figure(path) as (fig, ax):
        if kind == "cross-entropy":
            models, best, unit = args
            _draw_cross_entropy(fig, ax, sorted(models, key=lambda m: m["rank"]), best, unit)
        else:
            family, spec, data = args
            _DRAW[kind](fig, ax, family, spec, data)


# --- the pictures -------------------------------------------------------------------------


def _draw_pit(fig, ax, family: str, spec: dict, data: dict) -> None:
    """PIT histogram on the density scale, with the uniform at 1 and its 95% band."""
    density = _array(spec["density"])
    bins = len(density)
    edges = np.linspace(0.0, 1.0, bins + 1)
    ax.bar(edges[:-1], density, width=1.0 / bins, align="edge", color=BLUE, alpha=0.8,
           edgecolor="white", linewidth=0.8, label="PIT histogram", zorder=2)
    top = float(np.nanmax(density)) if bins else 1.0
    n = spec.get("n")
    if n is not None and n > 0:
        p = 1.0 / bins
        half = 1.96 * np.sqrt(p * (1.0 - p) / n) * bins
        ax.axhspan(1.0 - half, 1.0 + half, color="#555555", alpha=0.2, linewidth=0, zorder=3,
                   label=f"95% band if calibrated (W = {_count(n)})")
        top = max(top, 1.0 + half)
    ax.axhline(1.0, color="black", linewidth=1.2, zorder=4, label="uniform (calibrated)")
    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(0.0, max(top, 1.0) * 1.22)
    ax.set_xlabel("PIT value u = F(y)")
    ax.set_ylabel("density")
    method = spec.get("method")
    _titles(fig, ax, f"{family}: PIT histogram ({METHOD.get(method, method)})",
            "flat at 1 = calibrated; U-shape: predictive too narrow; hump: too wide; "
            "slope: biased")
    ax.legend(loc="upper center", fontsize=8, ncols=3, framealpha=0.9)


def _draw_qq(fig, ax, family: str, spec: dict, data: dict) -> None:
    """Uniform QQ plot of the PIT: the inverse of the cumulative of the binned PIT."""
    hist = np.clip(_array(spec["hist"]), 0.0, None)
    bins = len(hist)
    grid = np.linspace(0.0, 1.0, bins + 1)
    ax.plot([0, 1], [0, 1], color=GREY, linestyle="--", linewidth=1, label="uniform (y = x)")
    ax.plot(grid, _quantiles(hist, grid), color=BLUE, linewidth=1.6, label="empirical PIT")
    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(0.0, 1.0)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel("theoretical quantile (uniform)")
    ax.set_ylabel("empirical quantile of the PIT")
    ax.grid(True, alpha=0.3)
    if spec.get("randomized"):
        seed = spec.get("seed")
        how = "randomised PIT, " + (f"seed {seed}" if seed is not None else "no fixed seed")
    else:
        how = "PIT"
    _titles(fig, ax, f"{family}: uniform QQ plot of the PIT",
            f"{how}; on the diagonal = calibrated; below it: too many low PIT values")
    ax.legend(loc="upper left", fontsize=8)


def _draw_reliability(fig, ax, family: str, spec: dict, data: dict) -> None:
    """CORP reliability curve (a step function), the diagonal, binned points, MCB/DSC/UNC.

    x and rc are on the forecast's scale (`scale`); on the log scale both are drawn as
    exp(·) on logarithmic axes, so that the curve the box's MCB measures reads in the
    units of y (a monotone map of both axes keeps the curve's side of the diagonal)."""
    x, rc = _array(spec["x"]), _array(spec["rc"])
    log = spec.get("scale") == "log"
    points = spec.get("points")
    view = _central(spec.get("weights"), x.size)
    values = [x[view], rc[view]]
    if points is not None:
        values += [_array(points["prob_pred"]), _array(points["prob_true"])]
    lo = min(float(np.nanmin(v)) for v in values if len(v))
    hi = max(float(np.nanmax(v)) for v in values if len(v))
    pad = 0.03 * (hi - lo) if hi > lo else max(abs(lo), 1.0) * 0.05
    lo, hi = lo - pad, hi + pad
    # the axes leave out a few extreme groups only if something drawn lies beyond them
    clipped = bool(np.any((x < lo) | (x > hi) | (rc < lo) | (rc > hi)))
    show = np.exp if log else (lambda v: v)
    tx, trc = _thin_steps(x, rc)
    ax.plot(show(np.array([lo, hi])), show(np.array([lo, hi])), color=GREY, linestyle="--",
            linewidth=1, label="calibrated (y = x)")
    ax.step(show(tx), show(trc), where="post", color=RED, linewidth=1.6,
            label="CORP reliability curve")
    if clipped:
        ax.text(0.98, 0.2, "axes: the central 99 % of the weight", transform=ax.transAxes,
                ha="right", fontsize=8, color="#444444")
    if points is not None:
        ax.plot(show(_array(points["prob_pred"])), show(_array(points["prob_true"])), "o",
                color=BLUE, markersize=4, alpha=0.8, label="binned means")
    if log:
        _log_axes(ax)
    ax.set_xlim(show(lo), show(hi))
    ax.set_ylim(show(lo), show(hi))
    ax.set_aspect("equal", adjustable="box")
    if not log:
        ax.locator_params(nbins=6)
        ax.ticklabel_format(style="sci", scilimits=(-3, 4), useMathText=True)  # short labels
    axis = " (log axis)" if log else ""
    ax.set_xlabel((spec.get("xlabel") or "forecast") + axis)
    ax.set_ylabel((spec.get("ylabel") or "recalibrated forecast") + axis)
    ax.grid(True, alpha=0.3)
    scoring = spec.get("scoring")
    unit = "" if scoring == "squared_error" else f" {data.get('unit') or ''}".rstrip()
    ax.text(0.03, 0.97, _decomposition_box(spec, unit), transform=ax.transAxes, va="top",
            ha="left", family="monospace", fontsize=9,
            bbox={"boxstyle": "round", "facecolor": "white", "alpha": 0.9,
                  "edgecolor": "#bbbbbb"})
    _titles(fig, ax, f"{family}: CORP reliability diagram",
            f"score = UNC − DSC + MCB ({SCORING.get(scoring, scoring)}); "
            "below the diagonal: forecasts too high")
    ax.legend(loc="lower right", fontsize=8)


def _central(weights: Any, n: int) -> np.ndarray:
    """The groups (in forecast order) inside the central 99 % of the weight: the axes
    cover these, so that a few extreme groups (the top block of a count model) do not
    shrink the rest to a corner. All of them without weights."""
    view = np.ones(n, dtype=bool)
    if weights is not None and n > 1:
        cum = np.cumsum(_array(weights))
        cum /= cum[-1]
        view = (cum >= 0.005) & (np.r_[0.0, cum[:-1]] <= 0.995)
    return view


def _decomposition_box(spec: dict, unit: str) -> str:
    """MCB, DSC, UNC and the score, one a line; a term within round-off of 0 (relative
    to the largest of them) is printed as 0."""
    keys = ("miscalibration", "discrimination", "uncertainty", "score")
    values = [spec.get(k) for k in keys]
    scale = max((abs(v) for v in values if v is not None and np.isfinite(v)), default=0.0)
    mcb, dsc, unc, score = (_num(_rounded(v, scale)) for v in values)
    return "\n".join([f"MCB   {mcb}", f"DSC   {dsc}", f"UNC   {unc}", f"score {score}{unit}"])


def _rounded(value: float | None, scale: float) -> float | None:
    """0 where |value| is within round-off of `scale` (a difference of two numbers of that
    size: ROUNDOFF · scale), else the value."""
    if value is None or not abs(value) <= ROUNDOFF * scale:
        return value
    return 0.0


def _log_axes(ax) -> None:
    """Logarithmic x and y with plain tick labels at 1, 2, 5 × 10^k."""
    from matplotlib import ticker

    ax.set_xscale("log")
    ax.set_yscale("log")
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        axis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        axis.set_minor_formatter(ticker.NullFormatter())


def _draw_rootogram(fig, ax, family: str, spec: dict, data: dict) -> None:
    """Hanging rootogram: √observed bars hanging from the √expected curve, lines at 0, ±1.

    The pooled tail cell (counts ≥ `tail_from`) is not a count like the others: the curve
    stops before it, and its bar and expected value are drawn apart (hatched, a marker)."""
    k = _array(spec["k"])
    obs = np.sqrt(np.clip(_array(spec["observed"]), 0.0, None))
    exp = np.sqrt(np.clip(_array(spec["expected"]), 0.0, None))
    tail = _tail_cells(k, spec.get("tail_from"))
    body = ~tail
    many = len(k) > 40
    ax.bar(k[body], obs[body], bottom=(exp - obs)[body], width=0.85, color="#9ecae1",
           edgecolor="#3182bd", linewidth=0.4 if many else 0.8, label="√observed (hanging)",
           zorder=2)
    ax.plot(k[body], exp[body], "-" if many else "o-", color=RED, linewidth=1.4,
            markersize=3.5, label="√expected", zorder=3)
    if tail.any():
        ax.bar(k[tail], obs[tail], bottom=(exp - obs)[tail], width=0.85, color="#fdd0a2",
               edgecolor=ORANGE, hatch="//", linewidth=0.8, zorder=2,
               label=f"√observed, pooled tail ≥{int(spec['tail_from'])}")
        ax.plot(k[tail], exp[tail], "D", color=RED, markersize=5, zorder=3,
                label="√expected, pooled tail")
    ax.axhline(0.0, color="black", linewidth=1, zorder=4)
    for y in (-1.0, 1.0):
        ax.axhline(y, color=GREY, linestyle="--", linewidth=1, zorder=1,
                   label="±1" if y > 0 else None)
    ticks, labels = _count_ticks(k.astype(int), spec.get("tail_from"))
    ax.set_xticks(ticks, labels)
    if len(k):
        ax.set_xlim(k[0] - 0.7, k[-1] + 0.7)
        lo, hi = min(float(np.min(exp - obs)), -1.0), max(float(np.max(exp)), 1.0)
        ax.set_ylim(lo - 0.05 * (hi - lo), hi + 0.12 * (hi - lo))
    ax.set_xlabel("count")
    ax.set_ylabel("√frequency")
    _titles(fig, ax, f"{family}: hanging rootogram (√ scale)",
            "bar ends below 0: more observed than expected; above 0: fewer")
    ax.legend(loc="best", fontsize=8)


def _draw_residuals(fig, ax, family: str, spec: dict, data: dict) -> None:
    """10–90% band and median of the quantile residuals in each decile of the prediction,
    each decile labelled by its mean forecast (on the log scale: exp of the mean log ŷ,
    the geometric mean of ŷ)."""
    mean = _array(spec["mean_pred"])
    log = spec.get("scale") == "log"
    if log:
        mean = np.exp(mean)
    q10, q50, q90 = (_array(spec[q]) for q in ("q10", "q50", "q90"))
    idx = np.arange(1, len(mean) + 1)
    for y, label in ((-Z90, "N(0,1) 10%, 50%, 90%"), (0.0, None), (Z90, None)):
        ax.axhline(y, color=GREY, linestyle="--", linewidth=1, label=label, zorder=1)
    ax.fill_between(idx, q10, q90, color=BLUE, alpha=0.25, linewidth=0,
                    label="10–90% of residuals", zorder=2)
    ax.plot(idx, q50, "o-", color=BLUE, linewidth=1.6, markersize=4, label="median residual",
            zorder=3)
    labels = [f"{v:.3g}" for v in mean]
    rotate = max(map(len, labels), default=0) > 5  # e.g. 1.23e+04: slanted, not overlapping
    ax.set_xticks(idx, labels, rotation=30 if rotate else 0, ha="right" if rotate else "center")
    if len(idx):
        ax.set_xlim(0.6, len(idx) + 0.4)
    ax.set_xlabel("decile of the prediction ŷ, labelled by its "
                  + ("geometric mean" if log else "mean"))
    ax.set_ylabel("quantile residual Φ⁻¹(u)")
    ax.grid(True, axis="x", alpha=0.3)
    how = "randomised quantile residuals" if spec.get("randomized") else "quantile residuals"
    _titles(fig, ax, f"{family}: quantile residuals by prediction decile",
            f"{how}; calibrated: band on the dashed lines, median on 0")
    fig.legend(loc="outside lower center", fontsize=8, ncols=3, frameon=False)


def _draw_cross_entropy(fig, ax, models: list[dict], best: str, unit: str) -> None:
    """Stacked bars H(P) + KL(P‖Q) = cross-entropy, one per family, best first.

    A series that is 0 for every family (H(P) of hard labels) is drawn nowhere and not
    listed, a note says so; a KL estimate below 0 is drawn hatched from H(P) down to
    H(P,Q) and named under its bar and in a note."""
    names = [m["family"] for m in models]
    handles: dict[str, Any] = {}
    tops, bottoms = [0.0], [0.0]
    negative = False
    parts = [_parts(m) for m in models]
    estimated = [(h, kl) for _, h, kl in parts if h is not None and kl is not None]
    no_entropy = bool(estimated) and all(h == 0 for h, _ in estimated)
    no_kl = bool(estimated) and all(kl == 0 for _, kl in estimated)
    below = any(kl < 0 for _, kl in estimated)
    for i, (m, (ce, h, kl)) in enumerate(zip(models, parts, strict=True)):
        label = _num(ce)
        if h is None or kl is None:
            handles["entropy not estimated"] = ax.bar(
                i, ce, width=0.7, color="#d9d9d9", edgecolor=GREY, hatch="//", zorder=2)
            bottoms.append(min(0.0, ce))
        else:
            if kl < 0:  # from H(P) down to H(P,Q), over the entropy bar
                handles["KL(P‖Q) < 0: an estimate"] = ax.bar(
                    i, kl, bottom=h, width=0.7, color="white", edgecolor=RED, hatch="xx",
                    linewidth=0.8, zorder=4)
                label += f"\nKL = {_num(kl)} < 0"
            elif kl > 0:
                handles["KL(P‖Q)"] = ax.bar(i, kl, bottom=h, width=0.7, color=ORANGE, zorder=2)
            if h != 0:
                # a differential entropy below 0 is drawn narrower, over the KL segment
                handles["entropy H(P)"] = ax.bar(i, h, width=0.7 if h >= 0 else 0.35,
                                                 color=BLUE, zorder=3 if h < 0 else 2)
            negative |= h < 0
            bottoms.append(min(0.0, h))
        handles["cross-entropy H(P,Q)"] = ax.hlines(ce, i - 0.35, i + 0.35, color="black",
                                                    linewidth=2, zorder=5)
        top = max(0.0, ce, h if h is not None and kl is not None else 0.0)
        tops.append(top)
        ax.annotate(f"{label}\nbest" if m["family"] == best else label, (i, top),
                    xytext=(0, 3), textcoords="offset points", ha="center", va="bottom",
                    fontsize=8, linespacing=1.1,
                    fontweight="bold" if m["family"] == best else "normal")
    ax.axhline(0.0, color="black", linewidth=0.8, zorder=6)
    hi, lo = max(tops), min(bottoms)
    span = (hi - lo) or 1.0
    ax.set_ylim(lo - 0.05 * span if lo < 0 else 0.0, hi + 0.2 * span)
    rotate = len(names) * max(map(len, names), default=0) > 60
    ax.set_xticks(range(len(names)), names, rotation=30 if rotate else 0,
                  ha="right" if rotate else "center")
    for tick, name in zip(ax.get_xticklabels(), names, strict=True):
        if name == best:
            tick.set_fontweight("bold")
    if names:
        ax.set_xlim(-0.6, len(names) - 0.4)
    ax.set_xlabel("noise model (best first)")
    ax.set_ylabel(f"cross-entropy ({unit})")
    sub = "cross-entropy H(P,Q) = entropy H(P) + KL(P‖Q); lower is better"
    if no_entropy:
        sub += "\nH(P) = 0 (hard labels: each row's outcome is known), so H(P,Q) = KL(P‖Q)"
    if no_kl:
        sub += "\nKL(P‖Q) = 0 for every model: H(P,Q) = H(P)"
    if negative:
        sub += "\nH(P) < 0 (a differential entropy): narrow bar below 0, KL spans H(P) to H(P,Q)"
    if below:
        sub += "\nKL < 0 (hatched): an estimate, as H(P) is; a true KL is ≥ 0"
    _titles(fig, ax, "Cross-entropy of each noise model" + (f" (best: {best})" if best else ""),
            sub)
    order = ["entropy H(P)", "KL(P‖Q)", "KL(P‖Q) < 0: an estimate", "cross-entropy H(P,Q)",
             "entropy not estimated"]
    shown = [name for name in order if name in handles]
    if shown:
        fig.legend([handles[n] for n in shown], shown, loc="outside lower center", fontsize=8,
                   ncols=len(shown), frameon=False)


def _parts(m: dict) -> tuple[float, float | None, float | None]:
    """(H(P,Q), H(P), KL) of a model, an entropy or KL within round-off of 0 (relative to
    the cross-entropy and entropy it is the difference of) set to 0."""
    ce, h, kl = m["cross_entropy"], m.get("entropy"), m.get("kl")
    scale = max(abs(ce), abs(h) if h is not None else 0.0)
    return ce, _rounded(h, scale), _rounded(kl, scale)


_DRAW: dict[str, Callable[..., None]] = {
    "pit": _draw_pit, "qq": _draw_qq, "reliability": _draw_reliability,
    "rootogram": _draw_rootogram, "residuals": _draw_residuals,
}


# --- helpers ------------------------------------------------------------------------------


def _array(values: Any) -> np.ndarray:
    return np.asarray(values, dtype=float).ravel()


def _num(value: float | None) -> str:
    """4 decimals; 4 significant digits when that would hide the value or be very long."""
    if value is None:
        return "—"
    value = float(value)
    if value == 0 or 1e-3 <= abs(value) < 1e6:
        return f"{value:.4f}"
    return f"{value:.4g}"


def _count(n: float) -> str:
    """A total weight with thousands separators (whole above 100, 4 digits below)."""
    n = float(n)
    return f"{n:,.0f}" if n.is_integer() or n >= 100 else f"{n:.4g}"


def _titles(fig, ax, title: str, subtitle: str) -> None:
    fig.suptitle(title, fontsize=12)
    ax.set_title(subtitle, **SUBTITLE)


def _quantiles(hist: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Quantiles at `p` of the distribution with mass hist[j] spread evenly over
    [j/m, (j+1)/m): the inverse of its piecewise linear cumulative (the left inverse where
    the cumulative is flat)."""
    m = len(hist)
    total = hist.sum()
    if m == 0 or not total > 0:
        return np.full_like(p, np.nan)
    cum = np.concatenate(([0.0], np.cumsum(hist) / total))
    cum[-1] = 1.0
    i = np.clip(np.searchsorted(cum, p, side="left"), 1, m)  # cum[i-1] < p <= cum[i]
    lo, hi = cum[i - 1], cum[i]
    frac = np.divide(p - lo, hi - lo, out=np.zeros_like(p), where=hi > lo)
    return (i - 1 + np.clip(frac, 0.0, 1.0)) / m


def _thin_steps(x: np.ndarray, y: np.ndarray, limit: int = THIN) -> tuple[np.ndarray, ...]:
    """At most about `limit` points of the step function y(x) (drawn with where="post").

    The first point of each level and the last point give the same step shape; when the
    levels are more than `limit`, the level in force at `limit` places spread evenly over
    the range of x is kept."""
    n = len(x)
    if n <= limit:
        return x, y
    keep = np.concatenate(([0], np.flatnonzero(np.diff(y) != 0) + 1, [n - 1]))
    if len(keep) > limit:
        grid = np.linspace(x[0], x[-1], limit)
        at = np.searchsorted(x[keep], grid, side="right") - 1
        keep = np.union1d(keep[np.clip(at, 0, len(keep) - 1)], [0, n - 1])
    return x[keep], y[keep]


def _count_ticks(k: np.ndarray, tail_from: int | None) -> tuple[list[int], list[str]]:
    """Integer ticks (every one, or a round step so that about 12 show) with the tail
    cell labelled ≥K+1."""
    if not len(k):
        return [], []
    first, last = int(k[0]), int(k[-1])
    step = 1
    for s in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000):
        step = s
        if (last - first) / s <= 12:
            break
    ticks = [t for t in range(first, last + 1) if t % step == 0 or t == first]
    if tail_from is not None:
        tail = int(tail_from)
        ticks = [t for t in ticks if t < tail and tail - t >= 0.6 * step] + [tail]
    labels = [f"≥{t}" if t == tail_from else str(t) for t in ticks]
    return ticks, labels


def _tail_cells(k: np.ndarray, tail_from: int | None) -> np.ndarray:
    """Which cells of `k` are the pooled tail (k ≥ tail_from; none without one)."""
    if tail_from is None:
        return np.zeros(k.shape, dtype=bool)
    return k >= tail_from


def _makedirs(directory: str) -> None:
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as exc:
        raise LossCliError(f"{directory}: cannot create the plot directory "
                           f"({exc.strerror or exc})") from None


@contextmanager
def _figure(path: str) -> Iterator[tuple[Any, Any]]:
    """A 640×480 figure with one axes in matplotlib's default style, saved on exit."""
    import matplotlib.style
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with matplotlib.style.context("default"):
        fig = Figure(figsize=FIGSIZE, dpi=DPI, layout=LAYOUT)
        FigureCanvasAgg(fig)
        try:
            yield fig, fig.add_subplot()
            _save(fig, path)
        finally:
            fig.clear()


def _save(fig, path: str) -> None:
    """Write the PNG atomically (zlib level 1: a third of the default level's time, files
    still small)."""
    from losscli.atomic import write_atomically

    write_atomically(path, lambda fh: fig.savefig(
        fh, format="png", dpi=DPI, metadata={"Software": None},
        pil_kwargs={"compress_level": 1}), binary=True, what="the plot", suffix=".png")
