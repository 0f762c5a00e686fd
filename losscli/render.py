"""Rich tables from a report dict, and the transient progress display. Only module with rich."""

from __future__ import annotations

import threading
from typing import Any

from rich import box
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

SIG = 5  # significant digits shown; the JSON carries full precision


def num(x: Any, sig: int = SIG) -> str:
    if x is None:
        return "—"
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, int):
        return f"{x:,}"
    if x == 0:
        return "0"
    if abs(x) >= 1e7 or abs(x) < 1e-4:
        return f"{x:.{sig - 1}e}"
    return f"{x:.{sig}g}" if abs(x) < 1e5 else f"{x:,.1f}"


def pval(p: float | None) -> str:
    if p is None:
        return "p = —"
    return "p < 1e-16" if p < 1e-16 else f"p = {p:.3g}"


def weight(w: float | None) -> str:
    if w is None:
        return "—"
    return "<0.0001" if w < 1e-4 else f"{w:.4f}"


def params_text(params: dict) -> str:
    if len(params) > 4:  # categorical marginal: one probability per class
        return f"{len(params)} class probabilities"
    return ", ".join(f"{k} = {num(v)}" for k, v in params.items()) or "none"


def title(rep: dict) -> str:
    inp = rep["input"]
    rows = f"{inp['rows_used']:,} rows"
    if inp["rows_dropped"]:
        rows += f" ({inp['rows_dropped']:,} dropped)"
    if inp["weight"]:
        rows += f" weighted by {inp['weight']!r}"
    return (f"{inp['path']} — {rows}, target {inp['target']!r} ({rep['target_kind']}), "
            f"{rep['mode']} mode, {rep['base_measure']} base measure")


def _table(rep: dict, ranked: bool) -> Table:
    unit = rep["unit"]
    models = rep["models"]
    methods = {m["entropy_method"] for m in models}
    one_method = len(methods) == 1
    caption = f"entropy method: {methods.pop()}" if one_method else ""
    if any(m["entropy_method"] == "spacing" for m in models):
        caption += ("; KL is an estimate for a continuous target (entropy of the residuals, "
                    "an upper bound, so KL may come out below 0)")
    t = Table(title=title(rep), box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False,
              caption=caption or None, caption_justify="left")
    number = {"justify": "right", "no_wrap": True}
    if ranked:
        t.title += f", ranked by {rep['criterion'].upper()}"
    t.add_column("family", no_wrap=True)
    t.add_column(f"cross-ent.\n{unit}/row", **number)
    t.add_column("entropy", **number)
    t.add_column("KL", **number)
    if ranked:
        t.add_column("Δ CE", **number)
        t.add_column(rep["criterion"].upper(), **number)
        t.add_column("Akaike\nweight", **number)
    else:
        t.add_column("baseline\nCE", **number)
        t.add_column("info\ngain", **number)
    for m in models:
        h = num(m["entropy"]) + ("" if one_method else f" ({m['entropy_method']})")
        cells = [m["family"], num(m["cross_entropy"]), h,
                 num(m["kl"])]
        if ranked:
            cells += [
                num(m["delta_cross_entropy"], 4), num(m[rep["criterion"]]),
                weight(m["akaike_weight"])]
        else:
            cells += [num(m["baseline_cross_entropy"]), num(m["information_gain"])]
        style = "bold" if ranked and m["rank"] == 1 else None
        t.add_row(*cells, style=style)
    return t


def _params_lines(rep: dict) -> Text:
    lines = Text("fitted parameters\n", style="italic")
    for m in rep["models"]:
        lines.append(f"  {m['family']}: ", style="bold")
        lines.append(params_text(m["params"]) + f"  (k = {m['n_params']}")
        lines.append(f", fit on {m['fit_rows']:,} rows)\n" if m["fit_rows"] < m["n"] else ")\n")
    return lines


POINT_METRICS = ("mse", "rmse", "mae", "r2")


def _metrics_table(rep: dict) -> Table:
    """Family metrics; the point-prediction metrics once when every family shares ŷ."""
    models = rep["models"]
    point = [{k: m["metrics"].get(k) for k in POINT_METRICS} for m in models]
    shared = len(models) > 1 and all(p == point[0] and p["mse"] is not None for p in point)
    names: list[str] = []
    for m in models:
        names += [k for k in m["metrics"] if k not in names
                  and not (shared and k in POINT_METRICS)]
    t = Table(title="metrics of the point prediction", box=box.SIMPLE_HEAD,
              title_justify="left", pad_edge=False)
    t.add_column("family", no_wrap=True)
    cols = list(POINT_METRICS) + names if shared else names
    for n in cols:
        t.add_column(n, justify="right", no_wrap=True)
    if shared:
        t.add_row("every family (same ŷ)", *(num(point[0][k]) for k in POINT_METRICS),
                  *("" for _ in names))
        for m in models:
            if any(n in m["metrics"] for n in names):
                t.add_row(m["family"], *("" for _ in POINT_METRICS),
                          *(num(m["metrics"].get(n)) if n in m["metrics"] else ""
                            for n in names))
        return t
    for m in models:
        t.add_row(m["family"], *(num(m["metrics"].get(n)) if n in m["metrics"] else ""
                                 for n in names))
    return t


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
        out.append(Text(f"  {verdict} ({stat}, {pval(p)})",
                        style="green" if real else "yellow"))
    return out


FRAMEWORKS = ("pytorch", "sklearn", "xgboost", "lightgbm")
FRAMEWORK_LABELS = ("PyTorch", "scikit-learn", "XGBoost", "LightGBM")


def _frameworks(r: dict) -> str:
    return ", ".join(f"{k}: {r[k]}" for k in FRAMEWORKS if r.get(k))


def _fw_of(family: str) -> dict:
    from losscli.families import FAMILIES

    fw = FAMILIES[family].frameworks
    return {k: getattr(fw, k) for k in FRAMEWORKS}


def render(rep: dict) -> Group:
    ranked = rep["command"] == "compare-noise-models"
    parts: list[Any] = [_table(rep, ranked), _params_lines(rep), _metrics_table(rep)]
    if ranked:
        tests = _tests_lines(rep)
        if tests:
            parts += [Text("Is the difference real?", style="bold")] + tests
        r = rep["recommendation"]
        transform = " on log y" if r["transform"] == "log" else ""
        parts.append(Text.assemble(
            ("\nRecommendation: ", "bold"), (f"{r['family']} — train with {r['loss']}"
                                             f"{transform}", "bold green")))
        shown = r
        if not _frameworks(r):
            nearest = r.get("alternative")
            note = "  no usable loss in PyTorch, scikit-learn, XGBoost or LightGBM"
            if nearest is not None:
                shown = nearest
                note += f"; instead, train with the {nearest['family']} loss:"
            parts.append(Text(note))
        for key, label in zip(FRAMEWORKS, FRAMEWORK_LABELS, strict=True):
            if shown.get(key):
                parts.append(Text(f"    {label:<14}{shown[key]}"))
        if rep.get("skipped"):
            names = ", ".join(s["family"] for s in rep["skipped"])
            parts.append(Text(f"  not fitted: {names} (reasons in --format json)",
                              style="dim"))
    for w in rep["warnings"]:
        parts.append(Text(f"warning: {w}", style="yellow"))
    if rep["input"]["clipped"]:
        parts.append(Text(f"note: {rep['input']['clipped']:,} probabilities clipped to "
                          "[ε, 1 − ε]", style="dim"))
    return Group(*parts)


def print_report(rep: dict, file=None) -> None:
    console = Console(file=file, width=140 if file is not None else None,
                      no_color=file is not None)
    console.print(render(rep))


def families_tables(rows: list[dict]) -> Group:
    """Two tables: what each family models, and its loss in each framework."""
    what = Table(title="noise families", box=box.SIMPLE_HEAD, title_justify="left",
                 pad_edge=False)
    for col in ("family", "target support", "prediction is", "fitted nuisance", "loss"):
        what.add_column(col, no_wrap=col == "family")
    names = Table(title="the same loss in each framework (— none built in)",
                  box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False)
    names.add_column("family", no_wrap=True)
    for label in FRAMEWORK_LABELS:
        names.add_column(label, overflow="fold")
    for r in rows:
        what.add_row(r["family"], r["support"], r["prediction"],
                     ", ".join(r["nuisance"]) or "none", r["loss"])
        names.add_row(r["family"], *(r[k] or "—" for k in FRAMEWORKS))
    return Group(what, Text(""), names)


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
