"""Every quantity of SPEC §1.5 for one fitted model, from the last pass's reductions.

The per-row log-likelihood is the one primitive: nll, cross-entropy, KL, AIC/BIC and the
baseline all derive from its sums; metrics come from sums of the point prediction's
residuals, of the classifier's correct rows, Brier terms and ECE bins, and of the
family's deviance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from losscli import information
from losscli.entropy import Entropies
from losscli.errors import FitError
from losscli.last_pass import ScorePlan, Scores, baseline_on_counts
from losscli.noise.base import ContinuousFamily, Params
from losscli.noise.discretised import Discretised
from losscli.rows import located
from losscli.statistics import Spread, mean_se

if TYPE_CHECKING:
    from losscli.run import Run


@dataclass
class ModelResult:
    """One family's results; field names are the SPEC's JSON names (values in nats)."""

    family: str
    loss: str
    prediction: str | None  # the column(s) holding ŷ; None in marginal mode
    params: Params  # the fitted constants only
    fixed: dict[str, float]  # held by --fix
    param_columns: dict[str, dict[str, str]]  # given per row: {parameter: {column, as}}
    n_params: int
    n: int
    fit_rows: int
    nll: float
    cross_entropy: float
    entropy: float | None
    entropy_method: str
    kl: float | None
    aic: float
    bic: float
    baseline_cross_entropy: float | None
    information_gain: float | None
    normalized_entropy: float | None
    metrics: dict[str, float | None]
    base_measure: str
    warnings: list[str] = field(default_factory=list)
    distributional: dict | None = None  # SPEC §8.2: with per-row parameters
    scores: dict | None = None  # SPEC §8.3: with --scores
    infinite_explained: bool = False  # its non-finite values are explained in warnings
    params_se: dict[str, float | None] | None = None  # SPEC §10.1: {fitted parameter: se}
    uncertainty: dict | None = None  # SPEC §10.1 (values in nats)
    metrics_se: dict | None = None  # SPEC §10.1
    slices: dict | None = None  # SPEC §10.3, with --by (values in nats)
    # SPEC §9.4: per label of a family of independent labels, {label, column,
    # cross_entropy} (nats); None for the other families
    labels: list[dict] | None = None


def result(run: Run, i: int, scores: Scores, plan: ScorePlan,
           entropies: Entropies) -> ModelResult:
    """The ModelResult of model i (raises FitError when its nll is not finite)."""
    model = plan.models[i]
    fam = model.family
    name = model.name
    W = run.W
    nll = -scores.ll[i].finalize()
    warnings = list(model.warnings) + [f"{name}: {m}" for m in fam.fit_warnings(model.params)]
    if scores.failed[i] is not None:
        raise FitError(scores.failed[i])
    zero = scores.zero[i]
    if zero:  # SPEC §1.8: what a probability of 0 makes infinite is null, with why
        first = scores.zero_first[i]
        at = f"{located(run, first.row)}, " if first.row else ""
        warnings.append(
            f"{name}: {zero:,} row{'s' if zero > 1 else ''} give the observed class "
            f"probability 0 (first: {at}column "
            f"{first.label!r}, "
            f"value {first.value:g}), so "
            "nll, cross_entropy, kl, aic, bic and the baseline comparison are infinite and "
            "reported as null; use --eps > 0 to clip probabilities")
    elif not math.isfinite(nll):
        raise FitError(_zero_probability(run, scores, plan, i))
    k = model.n_params()
    ce = nll / W
    params_se, notes = information.params_se(run, model)
    warnings.extend(notes)
    h, method, why = entropies.get(model.conditional, fam.measure, model.inputs.prediction)
    if why:
        warnings.append(f"{name}: entropy is null: {why}" if h is None else f"{name}: {why}")
    baseline = gain = normalized = None
    if model.conditional:
        if model.baseline is None:
            warnings.append(f"{name}: baseline_cross_entropy is null (no fit to the "
                            f"target alone: {model.baseline_error})")
        else:
            total = (scores.baseline[i].finalize() if plan.baseline_on_rows
                     else baseline_on_counts(run, model))
            baseline = -total / W
            gain = baseline - ce
            if fam.measure.discrete:
                normalized = ce / baseline if baseline > 0 else None
    kl = None if h is None else ce - h
    unc = uncertainty(run, scores.spread[i], ce, kl, gain, method, name, warnings,
                      finite=not zero)
    found = metrics(run, i, scores, plan)
    per_label = None
    if i in scores.labels:
        totals = scores.labels[i].value
        # a label given probability 0 (--eps 0) is infinite: null, the warning above says why
        per_label = [{"label": c, "column": col, "cross_entropy": -float(t) / W
                      if math.isfinite(t) or not zero else None}
                     for c, col, t in zip(fam.classes, run.cols.targets, totals, strict=True)]
    return ModelResult(
        labels=per_label,
        uncertainty=unc, metrics_se=metrics_se(run, i, scores, plan, found),
        family=name, loss=fam.loss, prediction=_prediction(run, model),
        params=json_params(model.params),
        fixed=dict(model.inputs.fixed),
        param_columns=model.inputs.json_columns() or {}, n_params=k, n=run.n,
        fit_rows=model.fit_rows, nll=nll, cross_entropy=ce, entropy=h,
        entropy_method=method, kl=kl, aic=2 * k + 2 * nll,
        bic=k * math.log(W) + 2 * nll, baseline_cross_entropy=baseline,
        information_gain=gain, normalized_entropy=normalized,
        metrics=found,
        base_measure=fam.measure.name, warnings=warnings,
        infinite_explained=bool(zero), params_se=params_se)


def z_level(level: float) -> float:
    """z₍₁₊level₎/₂: the two-sided normal quantile of an interval at `level`."""
    from scipy.special import ndtri

    return float(ndtri((1.0 + level) / 2.0))


def interval(mean: float | None, se: float | None, level: float) -> dict | None:
    """{"se", "lower", "upper"}: mean ± z₍₁₊level₎/₂·se; None where either is null."""
    if mean is None or se is None or not (math.isfinite(mean) and math.isfinite(se)):
        return None
    half = z_level(level) * se
    return {"se": se, "lower": mean - half, "upper": mean + half}


def uncertainty(run: Run, spread: Spread, ce: float, kl: float | None,
                gain: float | None, method: str, name: str, warnings: list[str],
                finite: bool = True) -> dict:
    """SPEC §10.1's `uncertainty` of one model (nats; delta_cross_entropy is set by the
    comparison): each mean's se = s/√W, s² = Σw(x − x̄)²/(W − 1), over its per-row terms.
    kl: on soft labels its own terms; otherwise the cross-entropy's se around kl, the
    entropy estimate's own variability left out (a warning says so where it varies)."""
    level = run.req.level
    out = {"level": level, "cross_entropy": None, "kl": None, "information_gain": None,
           "delta_cross_entropy": None}
    if not finite:  # a probability of 0 (--eps 0): the model's warning says why
        return out
    if not spread.moments.W > 1.0:
        warnings.append(f"{name}: uncertainty is null: the rows weigh W = "
                        f"{spread.moments.W:g} ≤ 1 (a standard error needs W > 1)")
        return out
    se_ce = spread.se("cross_entropy")
    out["cross_entropy"] = interval(ce, se_ce, level)
    if gain is not None:
        out["information_gain"] = interval(gain, spread.se("information_gain"), level)
    if kl is not None:
        if "kl" in spread.names and method == "soft-labels":
            out["kl"] = interval(kl, spread.se("kl"), level)
        else:
            out["kl"] = interval(kl, se_ce, level)
            if method in ("spacing", "plug-in"):
                warnings.append(f"{name}: uncertainty.kl is cross_entropy's se around kl: "
                                f"the variability of the {method} entropy estimate is "
                                "not included")
    return out


def metrics_se(run: Run, i: int, scores: Scores, plan: ScorePlan, found: dict
               ) -> dict[str, float | None]:
    """SPEC §10.1's `metrics_se`: the se of each of mse, mae, brier and accuracy the
    model reports, from the moments of their per-row terms (|r|, r², Brier, correct)."""
    fam = plan.models[i].family
    spread = scores.cls[i].spread if fam.input != "point" else scores.point_errors(i).spread
    out = {}
    for k in ("mse", "mae", "brier", "accuracy"):
        if k in found and found[k] is not None:
            se = spread.se(k)
            # a metric beyond float64's range has no se (the metric's own warning says so)
            finite = math.isfinite(found[k]) and se is not None and math.isfinite(se)
            out[k] = se if finite else None
    return out


def slice_moments(scores: Scores):
    """The --by column's slices, finished once for every model (None without --by):
    (values, W, mean, m2) in report order and the rest's (W, mean, m2) per slice."""
    if scores.slices is None:
        return None
    values, W, mean, m2 = scores.slices.finalize()
    return values, W, mean, m2, rest_moments(W, mean, m2)


def rest_moments(W: np.ndarray, mean: np.ndarray, m2: np.ndarray):
    """For each slot g: the moments (W, mean, m2) of every other slot merged by Chan's
    formula, from prefix and suffix merges (no subtraction from the total, so a slice
    that holds nearly every row leaves its rest exact)."""
    from losscli.reduce import Moments

    g, k = mean.shape
    prefix, suffix = [], [None] * g
    acc = Moments(k)
    for j in range(g):
        prefix.append((acc.W, acc.mean.copy(), acc.m2.copy()))
        part = Moments(k)
        part.W, part.mean, part.m2 = float(W[j]), mean[j].copy(), m2[j].copy()
        acc.merge(part)
    acc = Moments(k)
    for j in range(g - 1, -1, -1):
        suffix[j] = (acc.W, acc.mean.copy(), acc.m2.copy())
        part = Moments(k)
        part.W, part.mean, part.m2 = float(W[j]), mean[j].copy(), m2[j].copy()
        acc.merge(part)
    rW, rmean, rm2 = np.zeros(g), np.zeros((g, k)), np.zeros((g, k))
    for j in range(g):
        a, b = Moments(k), Moments(k)
        a.W, a.mean, a.m2 = prefix[j]
        b.W, b.mean, b.m2 = suffix[j]
        a.merge(b)
        rW[j], rmean[j], rm2[j] = a.W, a.mean, a.m2
    return rW, rmean, rm2


def slices(column: str, found, i: int, has_gain: bool) -> dict:
    """SPEC §10.3's `slices` of model i (nats): per value its Σw, cross-entropy and se,
    information gain, and z = (CE_slice − CE_rest)/√(se_slice² + se_rest²) with p = 2Φ(−|z|)
    (null where the slice or the rest weighs ≤ 1), p_holm over the non-null p."""
    from scipy.special import ndtr

    values, W, mean, m2, (rW, rmean, rm2) = found
    rows = []
    for j, v in enumerate(values):
        se = mean_se(float(W[j]), float(m2[j, 2 * i]))
        se_rest = mean_se(float(rW[j]), float(rm2[j, 2 * i]))
        z = p = None
        if se is not None and se_rest is not None:
            den = math.sqrt(se * se + se_rest * se_rest)
            if den > 0:
                z = (float(mean[j, 2 * i]) - float(rmean[j, 2 * i])) / den
                p = 2.0 * float(ndtr(-abs(z)))
        rows.append({"value": v, "count": float(W[j]),
                     "cross_entropy": float(mean[j, 2 * i]), "se": se,
                     "information_gain": float(mean[j, 2 * i + 1]) if has_gain else None,
                     "statistic": z, "p_value": p, "p_holm": None})
    for row, adj in zip([r for r in rows if r["p_value"] is not None],
                        holm([r["p_value"] for r in rows if r["p_value"] is not None]),
                        strict=True):
        row["p_holm"] = adj
    return {"column": column, "rows": rows}


def holm(p: list[float]) -> list[float]:
    """Holm's step-down adjustment: with p₍₁₎ ≤ … ≤ p₍ₘ₎, p̃₍ₖ₎ = min(1, max_{j≤k}
    (m − j + 1) p₍ⱼ₎), in the input's order."""
    m = len(p)
    order = sorted(range(m), key=lambda j: p[j])
    out = [0.0] * m
    running = 0.0
    for rank, j in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[j]))
        out[j] = running
    return out


def _prediction(run: Run, model) -> str | None:
    """The column (or class columns, comma-separated) a conditional model reads ŷ from."""
    if not model.conditional:
        return None
    if model.inputs.prediction is not None:
        return model.inputs.prediction
    cols = run.cols
    return cols.pred or ",".join(cols.probs or cols.logits) or None


def _zero_probability(run: Run, scores: Scores, plan: ScorePlan, i: int) -> str:
    """Why the nll is infinite: the first row the fitted model gives probability 0."""
    bad = scores.bad[i]
    if bad.row is None:
        return "the log-likelihood is not finite"
    y, pred = bad.value if isinstance(bad.value, tuple) else (None, None)
    if bad.row:
        where = located(run, bad.row)
        if y is not None:
            cols = run.cols
            what = f"target {cols.target!r} = {y:g}" + (
                f", prediction {cols.pred!r} = {pred:g}" if pred is not None and cols.pred
                else "")
            # one pair of brackets: "f.csv, row 3 (row 33 of the data set; target …)"
            where = (f"{where[:-1]}; {what})" if where.endswith(")")
                     else f"{where} ({what})")
    else:  # fitted on the value counts: the value, not a row
        where = f"the target value {y:g}" if y is not None else "a row"
    fam = plan.models[i].family
    if isinstance(fam, (ContinuousFamily, Discretised)):
        # a density with a positive spread is positive on its whole support: a 0 here is
        # float64 running out of range, not the model ruling the value out
        return (f"its likelihood of {where} underflows float64 to 0 (the value is too far "
                "in the tail of the fitted distribution: values too extreme for float64 in "
                "this family's likelihood), so the nll is infinite")
    return f"gives {where} probability 0, so the nll is infinite"


def json_params(params: Params) -> Params:
    """Parameters as reported: an infinite one (student_t ν = ∞) is null; the family's
    fit_warnings say why, so the report adds no second warning."""
    return {k: None if isinstance(v, float) and math.isinf(v) else v for k, v in params.items()}


def metrics(run: Run, i: int, scores: Scores, plan: ScorePlan) -> dict:
    """SPEC §1.5's metrics: accuracy, Brier and ECE for classifiers; mse, rmse, mae and
    r2 of the point prediction otherwise (r2 = 1 − Σw r² / Σw (y − ȳ)², ȳ and the
    centred sum from pass 1's moments); the family's mean deviance and D² where it
    declares one (d2 = 1 − D(y, ŷ) / D(y, ȳ))."""
    model = plan.models[i]
    fam = model.family
    W = run.W
    if fam.input != "point":
        return scores.cls[i].finalize(W)
    out = scores.point_errors(i).finalize(W, float(run.scan.y.m2[0]))
    if fam.deviance is not None:
        if plan.deviance_ok[i]:
            out.update(scores.dev[i].finalize(W))
        else:
            out["mean_deviance"] = out["d2"] = None
    return {k2: (float(v) if v is not None else None) for k2, v in out.items()}
