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

from losscli import information
from losscli.entropy import Entropies
from losscli.errors import FitError
from losscli.last_pass import ScorePlan, Scores, baseline_on_counts
from losscli.noise.base import ContinuousFamily, Params
from losscli.noise.discretised import Discretised
from losscli.rows import located

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
    return ModelResult(
        family=name, loss=fam.loss, prediction=_prediction(run, model),
        params=json_params(model.params),
        fixed=dict(model.inputs.fixed),
        param_columns=model.inputs.json_columns() or {}, n_params=k, n=run.n,
        fit_rows=model.fit_rows, nll=nll, cross_entropy=ce, entropy=h,
        entropy_method=method, kl=None if h is None else ce - h, aic=2 * k + 2 * nll,
        bic=k * math.log(W) + 2 * nll, baseline_cross_entropy=baseline,
        information_gain=gain, normalized_entropy=normalized,
        metrics=metrics(run, i, scores, plan),
        base_measure=fam.measure.name, warnings=warnings,
        infinite_explained=bool(zero), params_se=params_se)


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
