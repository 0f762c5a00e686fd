"""Rich tables from a report dict, and the transient progress display. Only this module
and its two helpers know rich: `render_grid` (numbers as columns, the grid) and
`render_diagnostics` (a model's diagnostics lines).

Tables never cut a number or a name: a table wider than the console is split into
several, each repeating the family column, and prose columns wrap between words; off a
terminal the report is written at its natural width."""

from __future__ import annotations

import io
import math
import os
import sys
import threading
from typing import Any

from rich.cells import cell_len
from rich.console import Console, Group
from rich.measure import Measurement
from rich.padding import Padding
from rich.text import Text

from losscli.render_diagnostics import diagnostics_panel
from losscli.render_grid import NULL, Col, Grid, column, finite, num, pval, settled

# --- the report ------------------------------------------------------------------------------

def params_text(params: dict, not_finite: frozenset[str] = frozenset(),
                se: dict | None = None) -> str:
    """The fitted parameters, each with its standard error (`params_se`) as "± se" where
    it has one. A null one is infinite (student_t's df at the Gaussian limit: strict JSON
    has no Infinity, SPEC §1.3) and shows as ∞, unless it is among `not_finite` (a NaN
    the report turned into null, with its warning): —."""
    if len(params) > 4:  # categorical marginal: one probability per class
        return f"{len(params)} class probabilities"
    se = se or {}

    def shown(k: str, v) -> str:
        text = num(v) if v is not None else NULL if k in not_finite else "∞"
        return text if se.get(k) is None else f"{text} ± {num(se[k])}"

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
    kept = [v for v in values if finite(v)]
    best = min(kept) if kept else None
    return [v - best if finite(v) and best is not None else None for v in values]


# the per-row quantities that are differences of others (SPEC §1.5), by what they differ
DIFFERENCE_OF = {"kl": ("cross_entropy", "entropy"),
                 "information_gain": ("baseline_cross_entropy", "cross_entropy"),
                 "delta_cross_entropy": ("cross_entropy",)}
ONE_MINUS = ("r2", "d2")  # metrics that are 1 − a ratio


def _shown(m: dict, field_: str) -> Any:
    """A model's per-row quantity as the table shows it (round-off settled to 0)."""
    return settled(m.get(field_), *(m.get(p) for p in DIFFERENCE_OF.get(field_, ())))


def label(rep: dict, m: dict) -> str:
    """A model's row label: its family, and its prediction where several are compared
    (SPEC §10.2)."""
    return f"{m['family']} @ {m['prediction']}" if rep.get("prediction_tests") else \
        m["family"]


def _prediction_lines(rep: dict) -> list[Text]:
    """SPEC §10.2 in words, per family and pair: which prediction is better and by how
    much (± the interval's half-width), or that they are not distinguishable."""
    unit = rep["unit"]
    out = []
    for t in rep.get("prediction_tests") or []:
        d, lo, hi = t["delta_cross_entropy"], t["lower"], t["upper"]
        if d is None or lo is None or hi is None:
            out.append(Text(f"{t['null']} against {t['alternative']} under {t['family']}: "
                            "no test (too few rows)", style="yellow"))
            continue
        half = (hi - lo) / 2
        lag = f", HAC lag {t['hac_lag']}" if t["hac_lag"] else ""
        # the difference to the decimals of the half-width's first significant digit
        places = max(0, -math.floor(math.log10(half))) if half > 0 else 3
        by = f"{abs(d):.{places}f} ± {half:.{places}f} {unit}/row"
        z = t["statistic"]
        z = f"z = {z:.1f}{lag}" if abs(z) >= 10 else f"z = {z:.3g}{lag}"
        if lo > 0 or hi < 0:
            better, worse = (t["alternative"], t["null"]) if d > 0 else \
                (t["null"], t["alternative"])
            out.append(Text(f"{better} is better than {worse} under {t['family']} by {by} "
                            f"({z})", style="green"))
        else:
            out.append(Text(f"{t['null']} and {t['alternative']} are not distinguishable "
                            f"under {t['family']} (Δ = {by}, {z})", style="yellow"))
    return out


def _main_grid(rep: dict) -> Grid:
    """Cross-entropy = entropy + KL per row, then the totals (nll, AIC, BIC) and, in a
    comparison, Δ of the criterion and the Akaike weight."""
    models = rep["models"]
    ranked = comparison(rep)
    unit = rep["unit"]
    n = max((m["n"] for m in models if finite(m.get("n")) and m["n"] > 0), default=None)
    # a per-row difference of 1/n is one unit of total nll: rows further apart show apart
    res = None if n is None else 1.0 / n

    def per_row(field_: str) -> list[str]:
        return column([_shown(m, field_) for m in models], resolution=res)

    def totals(values: list[Any]) -> list[str]:
        return column(values, total=True)

    methods = [m["entropy_method"] for m in models]
    hard = all(x == "hard-labels" for x in methods)
    cols = [Col(f"cross-ent.\n{unit}/row", per_row("cross_entropy")),
            Col(f"±{_level(rep)}", column(_halves(models, "cross_entropy")))]
    if not hard:
        cols.append(Col("entropy", per_row("entropy")))
        if len(set(methods)) > 1:
            cols.append(Col("entropy\nmethod", [x or NULL for x in methods], justify="left"))
        cols.append(Col("KL", per_row("kl")))
    if ranked:
        cols.append(Col("ΔCE", per_row("delta_cross_entropy")))
        cols.append(Col("±", column(_halves(models, "delta_cross_entropy"))))
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
    return Grid(Col("family", [label(rep, m) for m in models], justify="left"), cols,
                title=title(rep), notes=notes, row_styles=styles)


def _level(rep: dict) -> str:
    """The intervals' level as a header shows it: "95%"."""
    level = next((m["uncertainty"]["level"] for m in rep["models"]
                  if m.get("uncertainty")), None)
    return "" if level is None else f"{100 * level:.4g}%"


def _halves(models: list[dict], field_: str) -> list[float | None]:
    """Each model's interval half-width of `field_` (SPEC §10.1), None where null."""
    out = []
    for m in models:
        u = (m.get("uncertainty") or {}).get(field_)
        out.append(None if u is None else (u["upper"] - u["lower"]) / 2.0)
    return out


SLICES_SHOWN = 10  # the worst slices the table lists


def _slices_grids(rep: dict) -> list[Any]:
    """Per model with `slices` (the best only in a comparison): the worst slices first
    (largest z against the other rows), at most SLICES_SHOWN, and how many there are."""
    models = rep["models"][:1] if comparison(rep) else rep["models"]
    out: list[Any] = []
    for m in models:
        sl = m.get("slices")
        if not sl:
            continue
        rows = sorted(sl["rows"], key=lambda r: (r["statistic"] is None,
                                                  -(r["statistic"] or 0.0)))
        shown = rows[:SLICES_SHOWN]
        n = len(rows)
        what = (f"the worst {len(shown)} of {n:,} slices" if n > len(shown)
                else f"all {n:,} slice{'s' if n != 1 else ''}")
        half = [None if r["se"] is None else z * r["se"] for r, z in
                zip(shown, [_z(m)] * len(shown), strict=True)]
        counts = [r["count"] for r in shown]
        cols = [Col("rows", [f"{int(c):,}" for c in counts]
                    if all(float(c).is_integer() for c in counts) else column(counts)),
                Col(f"cross-ent.\n{rep['unit']}/row",
                    column([r["cross_entropy"] for r in shown])),
                Col("±", column(half)),
                Col("z vs\nthe rest", column([r["statistic"] for r in shown], decimals=2)),
                Col("p (Holm)", [pval(r["p_holm"]).removeprefix("p = ")
                                 if r["p_holm"] is not None else NULL
                                 for r in shown])]
        out += [Grid(Col(sl["column"], [NULL if r["value"] is None else str(r["value"])
                                        for r in shown], justify="left"), cols,
                     title=f"slices of {m['family']} by {sl['column']}: {what}, worst "
                           "first (largest z)"), Text("")]
    return out


def _z(m: dict) -> float:
    """z₍₁₊level₎/₂ of the model's intervals (from its cross-entropy interval)."""
    u = (m.get("uncertainty") or {}).get("cross_entropy")
    if not u or not u["se"]:
        return 1.959963984540054
    return (u["upper"] - u["lower"]) / (2.0 * u["se"])


def _params_lines(rep: dict) -> list[Any]:
    """Per model: the fitted parameters, the held ones ("df = 5 (fixed)") and those given
    per row ("sigma: per row from column s"), then indented what the per-row model
    reports (`distributional`, SPEC §8.2) and its proper scores (`scores`, §8.3)."""
    out: list[Any] = [Text("fitted parameters", style="italic")]
    for i, m in enumerate(rep["models"]):
        line = Text(f"  {label(rep, m)}: ", style="bold")
        prefix = f"models[{i}].params."  # report.finite's warning for a NaN it nulled
        nan = frozenset(w[len(prefix):].split(" ", 1)[0] for w in rep.get("warnings", [])
                        if w.startswith(prefix))
        line.append(inputs_text(m, nan) + f"  (k = {m['n_params']}")
        line.append(f", fit on {m['fit_rows']:,} rows)" if m["fit_rows"] < m["n"] else ")")
        out.append(line)
        out += [_indent(Text(x), 4) for x in labels_lines(m, rep["unit"])
                + distributional_lines(m) + scores_lines(m, rep["unit"])]
    out.append(Text(""))
    return out


def labels_lines(m: dict, unit: str) -> list[str]:
    """A model of several labels (SPEC §9.4): each label's cross-entropy."""
    if not m.get("labels"):
        return []
    return [f"cross-entropy per label ({unit}/row): " + ", ".join(
        f"{r['label']} {num(r['cross_entropy'])}" for r in m["labels"])]


def inputs_text(m: dict, not_finite: frozenset[str] = frozenset()) -> str:
    """The fitted parameters, then the held ones and those given per row."""
    parts = [params_text(m["params"], not_finite, m.get("params_se"))] if m.get("params") \
        else []
    parts += [f"{k} = {num(v)} (fixed)" for k, v in (m.get("fixed") or {}).items()]
    for k, c in (m.get("param_columns") or {}).items():
        form = "" if c.get("as") in (None, k) else f" (as {c['as']})"
        parts.append(f"{k}: per row from column {c['column']}{form}")
    return ", ".join(parts) or "none"


def _stat(x: Any) -> str:
    """A test statistic in the model-input lines: one decimal from 10 on (LR 173.7),
    three significant digits below."""
    return f"{x:,.1f}" if finite(x) and abs(x) >= 10 else num(x, sig=3)


def _p(p: Any) -> str:
    """A p-value in the model-input lines: below 0.001 as "p < 0.001"."""
    return "p < 0.001" if finite(p) and p < 0.001 else pval(p)


def distributional_lines(m: dict) -> list[str]:
    """SPEC §8.2 in words: the per-row parameters against a constant, the recalibrated
    spread, the heavier-tailed family; [] when the model has none."""
    d = m.get("distributional")
    if not isinstance(d, dict):
        return []
    from losscli.noise import FAMILIES

    fam = FAMILIES.get(m.get("family"))
    out = []
    names = " and ".join(m.get("param_columns") or {}) or "parameters"
    c = d.get("constant")
    if isinstance(c, dict):
        z, p = c.get("statistic"), c.get("p_value")
        stat = f"z = {_stat(z)}, {_p(p)}"
        if not (finite(z) and finite(p)):
            words = f"per-row {names} against a constant {names}: not computed"
        elif p < 0.05 and z > 0:
            words = f"per-row {names} beats a constant {names}"
        elif p < 0.05:
            words = f"a constant {names} beats per-row {names}"
        else:
            words = f"per-row {names} and a constant {names} are not distinguishable"
        out.append(f"{words}: {stat}")
    r = d.get("recalibration")
    if isinstance(r, dict) and finite(r.get("factor")):
        f, p = r["factor"], r.get("p_value")
        inverse = fam is not None and fam.spread is not None and fam.spread[1] == "inverse"
        given = f"the spread from the given {r['param']}" if inverse else \
            f"the given {r['param']}"
        stat = f"factor {num(f, sig=3)}, LR {_stat(r.get('lr_statistic'))}, {_p(p)}"
        if finite(p) and p < 0.05 and f != 1.0:
            how = "too narrow" if f > 1.0 else "too wide"
            out.append(f"{given} is {how} by {num(100 * abs(f - 1.0), sig=2)} %: {stat}")
        else:
            out.append(f"{given} is neither too narrow nor too wide: {stat}")
    t = d.get("tail")
    if isinstance(t, dict):
        heavy = fam.tail if fam is not None and fam.tail is not None else None
        other = heavy[0] if heavy else "the heavier-tailed family"
        key = heavy[2] if heavy else next((k for k in t if k not in ("lr_statistic",
                                                                      "p_value")), "df")
        v = t.get(key)
        p = t.get("p_value")
        stat = (f"{other} {key} = {num(v, sig=3) if finite(v) else '∞'}, "
                f"LR {_stat(t.get('lr_statistic'))}, {_p(p)}")
        words = (f"heavier tails than {m['family']}" if finite(p) and p < 0.05
                 else f"tails consistent with {m['family']}")
        out.append(f"{words}: {stat}")
    return out


def scores_lines(m: dict, unit: str) -> list[str]:
    """SPEC §8.3's `scores` in two short lines; [] when absent or null."""
    sc = m.get("scores")
    if not isinstance(sc, dict):
        return []
    crps = sc.get("crps")
    out = [f"scores: log score {num(sc.get('log_score'))} {unit}/row, CRPS "
           + (num(crps) if finite(crps) else NULL)]
    ivs = [iv for iv in sc.get("intervals") or [] if isinstance(iv, dict)
           and finite(iv.get("level"))]
    if ivs:  # "intervals 50/80/90/95 %: coverage 49.8/…/95.1 %, width 1.35/…/3.92"
        cov = column([100 * iv["coverage"] if finite(iv.get("coverage")) else None
                      for iv in ivs], decimals=1)
        width = column([iv.get("mean_width") for iv in ivs], sig=3)
        out.append(f"intervals {'/'.join(num(100 * iv['level']) for iv in ivs)} %: "
                   f"coverage {'/'.join(cov)} %, mean width {'/'.join(width)}")
    return out


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
        rows += [(label(rep, m), {n: m["metrics"][n] for n in names if n in m["metrics"]})
                 for m in models if any(n in m["metrics"] for n in names)]
    else:
        rows = [(label(rep, m), m["metrics"]) for m in models]
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


# the keys of noise.base.FRAMEWORKS (not imported: rendering --help stays light)
FRAMEWORKS = ("pytorch", "sklearn", "xgboost", "lightgbm", "catboost", "keras")
FRAMEWORK_LABELS = ("PyTorch", "scikit-learn", "XGBoost", "LightGBM", "CatBoost", "Keras")


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
            note = ("no built-in loss in PyTorch, scikit-learn, XGBoost, LightGBM, CatBoost "
                    "or Keras")
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
    trained = next((m for m in rep["models"] if m.get("trained")), None)
    if trained is not None:  # SPEC §9.5: how the loss trained with compares with the best
        how = ("the best family" if trained["rank"] == 1 else
               f"rank {trained['rank']} of {len(rep['models'])}, "
               f"{num(trained['delta_cross_entropy'])} {rep['unit']}/row above "
               f"{rep['best']}'s cross-entropy")
        parts.append(_indent(Text(f"trained with {rep['input']['trained_with']} "
                                  f"({trained['family']}): {how}"), 2))
    if rep.get("skipped"):
        names = ", ".join(s["family"] for s in rep["skipped"])
        parts.append(_indent(Text(f"not fitted: {names} (reasons in --format json)",
                                  style="dim"), 2))
    return parts



def render(rep: dict, *, warnings: bool = False) -> Group:
    """The report as rich renderables. Warnings are shown only with `warnings=True` (the
    CLI writes them to stderr)."""
    ranked = comparison(rep)
    parts: list[Any] = []
    if rep["models"]:
        parts += [_main_grid(rep), Text(""), *_params_lines(rep)]
        metrics = _metrics_grid(rep)
        if metrics is not None:
            parts += [metrics, Text("")]
        parts += _slices_grids(rep)
    else:
        parts.append(Text(title(rep), style="table.title"))
    found = _prediction_lines(rep)
    if found:
        parts.append(Text("Which prediction is better? (Diebold–Mariano, log score)",
                          style="bold"))
        parts += [_indent(t, 2) for t in found]
        parts.append(Text(""))
    if ranked:
        tests = _tests_lines(rep)
        if tests:
            on = f" (on {rep['models'][0]['prediction']})" if rep.get("prediction_tests") \
                else ""
            parts.append(Text(f"Is the difference real?{on}", style="bold"))
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


def losses_tables(rows: list[dict]) -> Group:
    """The loss catalogue, one table per framework: each loss with its family and what
    the model outputs (with the parameters mapped and their defaults), or why it is not
    a likelihood; the losses losscli cannot audit say why in the same column."""
    parts: list[Any] = []
    for fw, label in zip(FRAMEWORKS, FRAMEWORK_LABELS, strict=True):
        mine = [r for r in rows if r["framework"] == fw]
        if not mine:
            continue

        def what(r: dict) -> str:
            if r["family"] is None:
                return r["reason"]
            maps = ", ".join(f"{k} → {v}" + (f" (default {r['default'][k]:g})"
                                             if isinstance(r["default"].get(k), float)
                                             else "")
                             for k, v in r["params"].items())
            return r["prediction"] + (f"; {maps}" if maps else "")

        key = Col("loss", [r["loss"] for r in mine], justify="left", breaks="(:")
        grid = Grid(key, [
            Col("family", [r["family"] or NULL for r in mine], justify="left"),
            Col("the model outputs, or why it is not audited",
                [what(r) for r in mine], justify="left", wrap=True),
        ], title=f"{label}: {sum(r['likelihood'] for r in mine)} likelihood losses of "
                 f"{len(mine)}", gap=2)
        parts += [grid, Text("")]
    parts.append(Text("audit a model trained with one of them: --trained-with "
                      "FRAMEWORK:LOSS[@VALUE], e.g. xgboost:reg:tweedie@1.5"))
    return Group(*parts)


def print_losses(rows: list[dict], file: Any = None, color: bool | None = None,
                 width: int | None = None) -> None:
    renderable = losses_tables(rows)
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
