"""Does the chosen noise model fit, and where not (SPEC §7).

Everything comes from the family's c.d.f. or p.m.f. at the fitted parameters, nothing
is simulated: one more pass over the data (`state.Diagnose`, or the value counts in
marginal mode on integer targets) reduces fixed-size sums for every diagnosed model, and
`finish` turns them into the JSON object `diagnostics`: the PIT histogram and coverage,
the tests, the loss decomposed by isotonic recalibration (CORP), the rootogram, the
reliability bins and the slices by prediction.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from losscli.diagnostics import checks, pit
from losscli.diagnostics.groups import (
    equal_count_edges,
    expanded_percentiles,
    isotonic_median,
    quantile_bins,
)
from losscli.diagnostics.state import Diagnose, DiagPlan, ModelSpec

LN2 = math.log(2.0)
CORP_BINS = 65_536
ROOTOGRAM_MAX = 100
MEDIAN_ROWS = 100_000  # rows the isotonic median regression (laplace's CORP) runs on


def specs(run, models: list, req) -> list[ModelSpec]:
    """What the pass computes for each model, read from what its family declares."""
    out = []
    n = run.n
    exact_rows = run.req.fit_rows is None or n <= (run.fit_rows or 0)
    for model in models:
        fam = model.family
        cond = model.conditional
        soft = soft_labels(run, fam)
        sums: list[str] = ["w"]
        has_pit = fam.pit_method is not None and not soft
        exact_pit = has_pit and fam.pit_method == "exact"
        if has_pit and exact_pit:
            sums.append("tail")
        if not soft:
            if fam.calibration and cond:
                sums += ["res", "var"]
            if fam.dispersion_test == "dean":
                sums += ["f", "f2", "t", "r2", "dean_c", "pearson_f"]
            elif fam.dispersion_test == "pearson":
                sums += ["pearson_v"]
            if fam.zero_test:
                sums += ["zeros", "p0", "p0v", "p0f", "f"]
            if fam.probability_forecast and cond:
                sums += ["sp"] + ["spv"]
        absent = left_out(model)
        decomposition = fam.decomposition if cond and "decomposition" not in absent \
            else None
        if decomposition == "top_label_log_loss" and soft:
            decomposition = None
        if decomposition == "top_label_log_loss":
            sums.append("logloss")
        if decomposition == "squared_error":
            sums.append("r2")
        # Σw·ŷ per group; Σw·y only where the forecast's t is not y itself (else it is
        # Σw times the group's mean of t); the PIT shares last: an exact PIT gives each
        # row one of three categories (u < 0.05, between, u ≥ 0.95), counted in one sum
        extra = ("yhat",) \
            + (("yshow",) if fam.input == "point" and fam.forecast_scale != "target"
               else ()) \
            + (("disp",) if fam.dispersion_test is not None and not soft else ()) \
            + ((("pit_lo", "pit_in", "pit_hi") if exact_pit else ("pit_lo", "pit_hi"))
               if has_pit else ())
        top = None
        if fam.rootogram and run.value_counts is not None and "rootogram" not in absent:
            top = rootogram_top(*run.value_counts)
        seed = req.seed if req.plot else None
        sample = _sample_forecasts(run, fam) if cond or seed is not None else None
        out.append(ModelSpec(
            model=model, sums=tuple(dict.fromkeys(sums)), pit=has_pit, exact_pit=exact_pit,
            keep_pit=exact_pit and exact_rows,
            keep_rows=cond and fam.recalibration == "median" and exact_rows
            and n <= MEDIAN_ROWS,
            groups=cond and (decomposition is not None or not soft),
            group_extra=extra if cond else (),
            group_cats=3 if cond and exact_pit else 0,
            max_unique=req.corp_max_unique,
            bins=_bins(_sample_edges(sample, CORP_BINS)) if cond else None,
            start_binned=cond and _many_forecasts(run, sample, req.corp_max_unique),
            rootogram_top=top,
            n_terms=_n_terms(fam) if decomposition == "nll" else 0,
            seed=seed if has_pit else None,
            decile_edges=_sample_edges(sample, 10) if (seed is not None and has_pit)
            else None,
            thresholds=_thresholds(fam, _probe(model)) if exact_pit else None))
    return out


def left_out(model) -> dict[str, str]:
    """The diagnostics that do not apply to this model, each with why in plain words
    (read from what its family declares): with a parameter given per row,
    - the rootogram where the family's p.m.f. recurrence needs that parameter to be one
      number for every row (`Family.recurrence_scalars`);
    - the log-score decomposition ("nll"): its recalibrated score refits one constant
      nuisance to the recalibrated ŷ (SPEC §7.5), a model other than the one scored with
      its spread per row, so MCB and DSC would compare two different models (the
      squared-error and top-label decompositions read ŷ alone and stay)."""
    given = tuple(model.inputs.columns) if model.conditional else ()
    if not given:
        return {}
    fam = model.family
    out = {}
    scalar = [p for p in given if p in fam.recurrence_scalars]
    if fam.rootogram and scalar:
        out["rootogram"] = (f"{model.name}: no rootogram: its expected counts come from a "
                            f"p.m.f. recurrence that needs one {scalar[0]} for every row, "
                            f"and {scalar[0]} is given per row")
    if fam.decomposition == "nll":
        names = ", ".join(given)
        out["decomposition"] = (
            f"{model.name}: no decomposition: the recalibrated log score refits one "
            f"constant {', '.join(fam.nuisance)} to the recalibrated predictions, while "
            f"this model takes {names} per row (a different model)")
    return out


def _probe(model) -> dict:
    """The model's parameters as the thresholds' probe reads them: the held and fitted
    constants, and each parameter given per row as a one-row array (so that a family
    whose standardised form needs it constant says so: `standardised` is None)."""
    out = {**model.inputs.fixed, **model.params}
    if model.conditional:
        out.update({p: np.ones(1) for p in model.inputs.columns})
    return out


def _n_terms(fam) -> int:
    """How many per-row terms the family's recalibrated score needs (`row_terms`)."""
    terms = fam.row_terms(np.ones(1))
    return 0 if terms is None else int(terms.shape[0])


def _sample_forecasts(run, fam) -> np.ndarray | None:
    """The seeded sample's finite forecasts, sorted (None where the sample holds no point
    prediction: class probabilities)."""
    s = run.sample
    if fam.input != "point" or not s or "pred" not in s:
        return None
    with np.errstate(all="ignore"):
        f, _ = fam.forecast(s["y"], s["pred"])
    f = np.sort(f[np.isfinite(f)])
    return f if f.size else None


def _many_forecasts(run, sample: np.ndarray | None, limit: int) -> bool:
    """The seeded sample's distinct forecasts, scaled to every row, exceed twice the
    limit: the groups start binned (so no worker holds millions of groups first)."""
    if run.scan.sample.complete or sample is None:
        return False
    distinct = 1 + int(np.count_nonzero(sample[1:] != sample[:-1]))
    return distinct * (run.n / sample.size) > 2 * limit


def _thresholds(fam, params) -> pit.Thresholds | None:
    """G⁻¹(j/1000), j = 1 … 999, of a family whose c.d.f. is G of a standardised z, one
    G for every row (None where there is none: each row's c.d.f. is then evaluated)."""
    if fam.standardised(np.ones(1), np.ones(1), params) is None:
        return None
    grid = pit.grid(1000)[1:-1]
    with np.errstate(all="ignore"):
        q = fam.standard_quantiles(grid, params)
    ok = np.shape(q) == grid.shape and np.all(np.isfinite(q)) and np.all(np.diff(q) > 0)
    return pit.Thresholds(q) if ok else None


def soft_labels(run, fam) -> bool:
    """The target holds soft labels for this family: given as such, or a fractional
    target in [0, 1] scored by a class-probability family (SPEC §1.5's soft labels)."""
    return run.layout.soft or (fam.input != "point" and not run.layout.labels
                               and not run.scan.integral)


def rootogram_top(values: np.ndarray, weights: np.ndarray) -> int:
    """K = min(100, the smallest k with Σw[y ≤ k] ≥ 0.999 W)."""
    cum = np.cumsum(weights)
    i = int(np.searchsorted(cum, 0.999 * cum[-1], side="left"))
    return int(min(ROOTOGRAM_MAX, values[min(i, values.size - 1)]))


def _bins(edges: np.ndarray) -> pit.Thresholds:
    """The finder of a forecast's bin among the sample's equal-count bins."""
    return pit.Thresholds(edges, cells=max(16, 4 * edges.size))


def _sample_edges(sample: np.ndarray | None, bins: int) -> np.ndarray:
    """Inner edges of `bins` equal-count bins of the sorted sample forecasts (or
    equal-width on [0, 1] for class probabilities, which the sample does not hold)."""
    if sample is None:
        return np.linspace(0.0, 1.0, bins + 1)[1:-1]
    return equal_count_edges(sample, bins)


def _plan(run, specs_: list[ModelSpec]) -> DiagPlan:
    return DiagPlan(specs=specs_, prediction=[run.cols.pred] if run.cols.pred
                    else list(run.cols.probs or run.cols.logits), eps=run.req.eps)


def carried(run, models: list, req):
    """A factory of the pass state for `models`, for the scoring pass to reduce on its
    way (`last_pass.score`'s `also`), so that no pass of its own is needed."""
    plan = _plan(run, specs(run, models, req))
    plan.lenient = True  # a model it cannot diagnose gets its own pass, which says why
    return lambda: Diagnose(plan)


def run_pass(run, specs_: list[ModelSpec]) -> Diagnose:
    """The diagnostics pass (on the value counts in marginal mode on integer targets)."""
    plan = _plan(run, specs_)
    if not run.conditional and run.value_counts is not None:
        state = Diagnose(plan)
        with np.errstate(all="ignore"):
            state.update(run.counts_batch())
        return state
    return run.reduce(lambda: Diagnose(plan), "diagnosing")


# ------------------------------------------------------------------ finishing


def diagnose(run, models: list, results: list, req, warnings: list[str],
             comparison: tuple | None = None, state: Diagnose | None = None) -> list[dict]:
    """The `diagnostics` object of each model (results: their ModelResults), from
    `state` when the scoring pass carried every one of them, else after one more pass;
    with --plot the pictures are written and listed in it (a comparison's cross-entropy
    picture with the first model's, the best)."""
    # by family name (one model each; a state back from a worker holds copies)
    held = {} if state is None else {st.spec.model.name: st for st in state.states
                                     if not st.failed}
    if not all(m.name in held for m in models):
        state = run_pass(run, specs(run, models, req))
        held = {st.spec.model.name: st for st in state.states}
    whole = state.fractional == 0
    out = []
    for i, (m, res) in enumerate(zip(models, results, strict=True)):
        st = held[m.name]
        diag, data = _one(run, st, res, req.unit, whole, warnings)
        if req.plot:
            from losscli import plots

            diag["plots"] = plots.model_plots(req.plot, m.name, data,
                                              comparison if i == 0 else None)
        out.append(diag)
    return out


def _one(run, st, res, unit: str, whole: bool, warnings: list[str]) -> dict:
    spec = st.spec
    model = spec.model
    fam = model.family
    name = model.name
    values = st.sums.value
    s = {k: float(values[i]) for k, i in spec.index.items()}
    terms = values[len(spec.sums):]
    W = s["w"]
    cond = model.conditional
    m = 0 if cond else 1
    exact_null = cond and not model.free  # nothing fitted: the null moments are exact
    note = warnings.append
    data: dict[str, Any] = {"unit": unit, "family": name, "pit": None, "qq": None,
                            "reliability": None, "rootogram": None, "residuals": None}
    out: dict[str, Any] = {"pit": None, "tests": [], "decomposition": None, "rootogram": None,
                           "reliability_bins": None, "by_prediction": None, "plots": []}
    # -- PIT
    m1000 = st.pit1000.value
    if spec.pit:
        method = fam.pit_method
        out["pit"] = {"method": method, "bins": 20,
                      "density": list(20.0 * st.pit20.value / W),
                      "seed": None if method == "exact" else run.req.seed,
                      "coverage": pit.coverage(m1000)}
        data["pit"] = {"density": out["pit"]["density"], "method": method, "n": W}
        if spec.seed is not None:
            r = st.random1000.value
            data["qq"] = {"hist": r / r.sum(), "randomized": method != "exact",
                          "seed": None if method == "exact" else spec.seed}
            data["residuals"] = _residual_bands(st)
    # -- tests
    tests = out["tests"]
    if spec.exact_pit:
        if st.u:
            u = np.concatenate([a for a, _ in st.u])
            w = None if all(b is None for _, b in st.u) else np.concatenate(
                [np.ones(a.size) if b is None else b for a, b in st.u])
            d = pit.ks_exact(u, w)
        else:
            d = pit.ks_grid(m1000)
            note(f"{name}: the KS distance is read on the grid j/1000 (more than "
                 f"--fit-rows = {run.fit_rows:,} rows)")
        if not whole:
            note(f"{name}: the KS and tail p-values need whole-number weights: null")
        tests.append(checks.uniformity(d, W, whole, exact_null))
        tests.append(checks.tail(s["tail"], W, whole, exact_null))
    elif fam.measure.zero_atom and spec.pit:
        note(f"{name}: no pit_uniformity or tail_exceedance test: on the atom_at_zero "
             "base measure a zero's PIT is spread over [0, P(Y = 0)] (non-randomised), "
             "so the KS and tail tests of a continuous PIT do not apply")
    soft = soft_labels(run, fam)
    if not soft:
        if fam.dispersion_test == "dean":
            tests.extend(checks.dean(s, W, m, exact_null))
        elif fam.dispersion_test == "pearson":
            tests.append(checks.pearson(s, W, m))
        if fam.zero_test:
            marginal_poisson = not cond and not fam.nuisance
            tests.append(checks.zeros(s, marginal_poisson, exact_null))
        if fam.calibration and cond:
            tests.append(checks.calibration(s, W, exact_null))
        if fam.probability_forecast and cond:
            tests.append(checks.spiegelhalter(s, W, exact_null))
    for t in tests:
        if t["statistic"] is None or not math.isfinite(t["statistic"]):
            note(f"{name}: the {t['kind']} test cannot be computed here (a zero variance "
                 "or a zero mean)")
            t["statistic"] = t["p_value"] = None
            t["effect"]["value"] = t["effect"]["value"] if _finite(t["effect"]["value"]) \
                else None
    # -- rootogram
    absent = left_out(model)
    if "rootogram" in absent:
        note(absent["rootogram"])
    elif fam.rootogram:
        if st.expected is None:
            note(f"{name}: no rootogram: the target has too many distinct values")
        else:
            out["rootogram"] = _rootogram(run.value_counts, st.expected.value,
                                          spec.rootogram_top)
            data["rootogram"] = out["rootogram"]
    # -- groups: decomposition, reliability bins, slices
    g = None if st.groups is None else st.groups.finish()
    if g is not None and g.keys.size:
        dec, rc = _decomposition(run, spec, g, s, terms, res, unit, note, st.rows)
        out["decomposition"] = dec
        by = _by_prediction(spec, g, whole, fam, note)
        out["by_prediction"] = by[0]
        if fam.probability_forecast and not soft:
            out["reliability_bins"] = by[1]
        if dec is not None and rc is not None:
            # x and rc on the forecast's scale (log ŷ and the isotonic mean of log y for a
            # log-scale family): the keys are the forecasts; pooled bins keep Σw·ŷ, whose
            # mean's log stands for the bin's (narrow) forecasts
            x = g.keys if not g.binned else _group_values(spec, g)
            if g.binned and fam.forecast_scale == "log":
                x = np.log(x)
            top = dec["scoring"] == "top_label_log_loss"
            what = "top-label confidence" if top else fam.prediction
            data["reliability"] = {
                "x": x, "rc": rc, "weights": g.sw if rc.size == g.sw.size else None,
                "scale": fam.forecast_scale,
                "points": None if out["reliability_bins"] is None else {
                    "prob_pred": out["reliability_bins"]["prob_pred"],
                    "prob_true": out["reliability_bins"]["prob_true"]},
                "score": dec["score"], "miscalibration": dec["miscalibration"],
                "discrimination": dec["discrimination"], "uncertainty": dec["uncertainty"],
                "scoring": dec["scoring"],
                "xlabel": "top-label confidence (the largest predicted probability)"
                if top else f"predicted {what}",
                "ylabel": f"recalibrated {what}"}
    if soft:
        note(_soft_note(name, out))
    return out, data


def _soft_note(name: str, out: dict) -> str:
    """Why a model on soft labels shows little or nothing (SPEC §7.3, §7.4): the PIT and
    the calibration tests are defined for an observed class, which a soft label is not."""
    why = "the PIT, the tests and the reliability bins need hard labels"
    kept = [label for key, label in (("decomposition", "the loss decomposition"),
                                     ("by_prediction", "the slices by prediction"))
            if out[key] is not None]
    if not kept:
        return f"{name}: soft labels: no diagnostics apply ({why})"
    return f"{name}: soft labels: only {' and '.join(kept)} apply ({why})"


def _group_values(spec, g) -> np.ndarray:
    i = spec.group_extra.index("yhat")
    return g.extra[i] / g.sw


def _residual_bands(st) -> dict | None:
    """Quantiles 10/50/90 % of the normal quantile residuals Φ⁻¹(u) per decile of the
    forecast, from the 1,000-bin histograms of the (randomised) PIT."""
    from scipy import special

    if st.spec.decile_edges is None:
        return None
    h = st.deciles.value.reshape(10, 1000)
    df = st.decile_f.value
    out = {"mean_pred": [], "q10": [], "q50": [], "q90": [],
           "randomized": st.spec.pit and not st.spec.exact_pit,
           "scale": st.spec.model.family.forecast_scale}  # of mean_pred, the mean forecast
    g = pit.grid(1000)
    for d in range(h.shape[0]):
        tot = h[d].sum()
        if not tot > 0:
            continue
        cdf = np.r_[0.0, np.cumsum(h[d]) / tot]
        qs = np.interp([0.1, 0.5, 0.9], cdf, g)
        z = special.ndtri(np.clip(qs, 1e-12, 1 - 1e-12))
        out["mean_pred"].append(float(df[10 + d] / df[d]) if df[d] > 0 else math.nan)
        for k, v in zip(("q10", "q50", "q90"), z, strict=True):
            out[k].append(float(v))
    return out if out["q50"] else None


def _finite(x) -> bool:
    return x is not None and math.isfinite(x)


def _rootogram(value_counts, expected: np.ndarray, top: int) -> dict:
    values, weights = value_counts
    observed = np.zeros(top + 2)
    inside = values <= top
    np.add.at(observed, values[inside].astype(np.int64), weights[inside])
    observed[-1] = float(weights[~inside].sum())
    return {"k": list(range(top + 2)), "observed": observed.tolist(),
            "expected": expected.tolist(), "tail_from": top + 1}


def _isotonic(mean: np.ndarray, sw: np.ndarray) -> np.ndarray:
    from scipy.optimize import isotonic_regression

    return isotonic_regression(mean, weights=sw, increasing=True).x


def _decomposition(run, spec, g, s: dict, terms, res, unit: str, note, rows: list
                   ) -> tuple[dict | None, np.ndarray | None]:
    """score = MCB − DSC + UNC by isotonic recalibration with ties pooled (SPEC §7.5)."""
    model = spec.model
    fam = model.family
    scoring = fam.decomposition
    W = float(g.sw.sum())
    rc = None
    if scoring is None or scoring == "top_label_log_loss" and soft_labels(run, fam):
        return None, None
    why = left_out(model).get("decomposition")
    if why is not None:
        note(why)
        return None, None
    if scoring == "nll":
        score = res.cross_entropy
        unc = res.baseline_cross_entropy
        if fam.recalibration == "median":
            if not spec.keep_rows:
                note(f"{model.name}: no decomposition: the isotonic median regression "
                     f"runs on at most {MEDIAN_ROWS:,} rows in memory (it is not a sum "
                     "over batches)")
                return None, None
            rc, s_rc = _median_score(spec, rows, W)
        else:
            rc = _isotonic(g.mean, g.sw)
            s_rc = fam.recalibrated_score(rc, g.sw, g.mean, g.m2, terms, W, run.value_counts)
    elif scoring == "top_label_log_loss":
        score = -s["logloss"] / W
        tbar = float((g.sw * g.mean).sum()) / W
        unc = -float(_xlogy(tbar, tbar) + _xlogy(1.0 - tbar, 1.0 - tbar))
        rc = _isotonic(g.mean, g.sw)
        s_rc = fam.recalibrated_score(rc, g.sw, g.mean, g.m2, terms, W, run.value_counts)
    else:  # squared error, in y² units
        score = s["r2"] / W
        tbar = float((g.sw * g.mean).sum()) / W
        unc = float((g.m2 + g.sw * (g.mean - tbar) ** 2).sum()) / W
        rc = _isotonic(g.mean, g.sw)
        s_rc = float((g.m2 + g.sw * (g.mean - rc) ** 2).sum()) / W
    if unc is None or score is None:
        note(f"{model.name}: no decomposition: the baseline fit failed")
        return None, None
    ok = s_rc is not None and math.isfinite(s_rc)
    if not ok:
        note(f"{model.name}: the recalibrated score is not finite: miscalibration and "
             "discrimination are null")
    mcb = score - s_rc if ok else None
    dsc = unc - s_rc if ok else None
    scale = 1.0 / LN2 if unit == "bits" and scoring != "squared_error" else 1.0
    if g.binned:
        note(f"{model.name}: more than {spec.max_unique:,} distinct predictions (--corp-max-"
             f"unique): the decomposition and the quantile bins pool them into "
             f"{CORP_BINS:,} equal-count bins of a seeded sample")
    return {"scoring": scoring, "score": score * scale,
            "miscalibration": None if mcb is None else mcb * scale,
            "discrimination": None if dsc is None else dsc * scale,
            "uncertainty": unc * scale, "method": "binned" if g.binned else "exact"}, rc


def _xlogy(x: float, y: float) -> float:
    return 0.0 if x == 0.0 else x * math.log(y)


def _median_score(spec, st_rows_: list, W: float) -> tuple[np.ndarray, float]:
    """The isotonic median recalibration of the rows kept, and Laplace's score at it
    with the scale refitted: log(2 · Σw|t − rc| / W) + 1."""
    f = np.concatenate([a for a, _, _ in st_rows_])
    t = np.concatenate([b for _, b, _ in st_rows_])
    w = None if all(c is None for _, _, c in st_rows_) else np.concatenate(
        [np.ones(a.size) if c is None else c for a, _, c in st_rows_])
    _, rc, loss = isotonic_median(f, t, w)
    s = loss / W
    return rc, (math.log(2.0 * s) + 1.0 if s > 0.0 else math.nan)


def _by_prediction(spec, g, whole: bool, fam, note) -> tuple[list | None, dict | None]:
    """The bins of sklearn's calibration_curve(strategy="quantile", n_bins=10) on the
    forecast, over the expanded rows, and per bin the slices' numbers."""
    name = spec.model.name
    if not whole:
        note(f"{name}: the quantile bins need whole-number weights: by_prediction and "
             "reliability_bins are null")
        return None, None
    ex = {k: g.extra[i] for i, k in enumerate(spec.group_extra)}
    if g.binned or fam.forecast_scale != "target":
        values = ex["yhat"] / g.sw
    else:
        values = g.keys
    order = np.argsort(values, kind="stable")
    edges = expanded_percentiles(values[order], g.sw[order])
    b = quantile_bins(values, edges)
    cnt = np.bincount(b, weights=g.sw, minlength=10)
    keep = cnt > 0

    def per(x: np.ndarray) -> np.ndarray:
        return np.bincount(b, weights=x, minlength=10)[keep] / cnt[keep]

    mean_pred = per(ex["yhat"])
    mean_y = per(ex["yshow"] if "yshow" in ex else g.mean * g.sw)
    lo = per(ex["pit_lo"]) if "pit_lo" in ex else None
    hi = per(ex["pit_hi"]) if "pit_hi" in ex else None
    disp = per(ex["disp"]) if "disp" in ex else None
    rows = []
    for j in range(int(keep.sum())):
        rows.append({"count": float(cnt[keep][j]), "mean_pred": float(mean_pred[j]),
                     "mean_y": float(mean_y[j]),
                     "pit_lower": None if lo is None else float(lo[j]),
                     "pit_upper": None if hi is None else float(hi[j]),
                     "dispersion_ratio": None if disp is None else float(disp[j])})
    reliability = {"strategy": "quantile", "n_bins": 10,
                   "prob_pred": [float(x) for x in per(values * g.sw)],
                   "prob_true": [float(x) for x in per(g.mean * g.sw)],
                   "count": [float(x) for x in cnt[keep]]}
    return rows, reliability
