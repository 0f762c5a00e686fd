"""The fits (SPEC §5): which families a run's columns admit (`check_family`, and
`near_miss` for one the target kind rules out by a few rows), and weighted ML fits —
closed forms from pass 1's moments (every row), marginal fits on the value counts,
everything else on the seeded sample (every row when there are at most --fit-rows) —
polished with --fit-rows all by Newton passes over every row (`polish`).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from losscli.batches import Batch
from losscli.errors import FitError, InputError
from losscli.inputs import NONE, Inputs
from losscli.kinds import detect_kind, numeric_kind
from losscli.model import Model
from losscli.noise import blocks
from losscli.noise.base import BLOCK_INPUTS, Params
from losscli.noise.support import Support
from losscli.reduce import Sum, wsum
from losscli.rows import at_row, file_of
from losscli.scan import SAMPLE_COLUMN

if TYPE_CHECKING:
    from losscli.run import Run


def check_family(run: Run, fam, name: str) -> None:
    """The family can take this target and prediction: a FitError (its skip reason) when
    the columns do not give what it needs, an InputError naming the first row outside its
    support or its prediction's domain."""
    cols = run.cols
    path = file_of(run)
    if fam.input == "labels" or run.layout.multilabel:
        if fam.input != "labels":
            raise InputError(f"{name} needs one target column; --target names "
                             f"{len(cols.labels)} label columns (the multilabel family "
                             "scores them)", file=path, column=",".join(cols.labels))
        if not run.layout.multilabel:
            raise InputError(f"{name} needs {fam.requirement}; the target is "
                             f"{detect_kind(run)}", file=path, column=cols.target)
        if run.conditional and not (cols.probs or cols.logits):
            raise FitError("needs one probability or logit column per label (--probs or "
                           "--logits)")
        return
    if fam.input == "classes":
        if not (run.layout.labels or run.layout.soft):
            raise InputError(f"{name} needs {fam.requirement}; the target is "
                             f"{detect_kind(run)}", file=path, column=cols.target)
        if run.conditional and not (cols.probs or cols.logits):
            raise FitError("needs class-probability columns (--probs or "
                           f"--logits), not the point prediction {cols.pred!r}")
        return
    if run.layout.labels:
        raise InputError(f"{name} needs numeric targets; the target holds class labels "
                         f"({', '.join(run.classes[:5])})", file=path, column=cols.target)
    k = len(cols.probs or cols.logits)
    if fam.input == "probability" and k > 2:
        raise FitError(f"needs one probability column, got {k}")
    if fam.input == "point" and run.conditional and not (cols.pred or len(cols.probs) == 1):
        raise FitError("needs a point prediction (--pred), not class probabilities")
    first = run.scan.outside[fam.support]
    if first.row is not None:
        raise InputError(f"outside {name}'s support ({fam.support.description})"
                         + _how_many(run.scan.outside_n[fam.support], run.n),
                         column=cols.target, value=_shown(first.value),
                         **at_row(run, first.row))
    if run.conditional and (fam.input == "point" or cols.pred):
        domain = fam.pred_domain
        first = run.scan.pred_outside[domain]
        if first.row is not None:
            raise InputError(
                f"prediction outside {name}'s domain for the {fam.prediction} "
                f"({domain.description})" + _how_many(run.scan.pred_outside_n[domain], run.n)
                + _scale_hint(domain, first.value, bool(cols.pred), fam.prediction),
                column=(cols.pred or cols.probs[0]), value=_shown(first.value),
                **at_row(run, first.row))


def check_inputs(run: Run, name: str, inputs: Inputs) -> None:
    """Every per-row parameter value lies in its parameter's domain: an InputError naming
    the file, column, first row and value outside it (σ ≤ 0, α < 0, …), with how many."""
    scan = run.scan
    for param, c in inputs.columns.items():
        if c.domain == "positive":
            first, count, allowed = scan.nonpositive.get(c.column), \
                scan.nonpositive_n.get(c.column, 0), "> 0"
        elif c.domain == "nonnegative":
            first, count, allowed = scan.negative.get(c.column), \
                scan.negative_n.get(c.column, 0), "≥ 0"
        else:
            continue
        if first is not None and first.row is not None:
            what = param if c.form == param else f"{c.form} ({param})"
            raise InputError(f"{name}'s {what} must be {allowed}{_how_many(count, run.n)}",
                             column=c.column, value=_shown(first.value),
                             **at_row(run, first.row))


FEW_ROWS = 10  # at most this many rows, or 1 % of them, outside a support are "a few"


def near_miss(run: Run, fam, name: str, kind: str) -> InputError | None:
    """For a family the target kind rules out: an InputError naming the first row outside
    its support and how many there are, when only a few rows are (at most FEW_ROWS or
    1 %, and fewer than half) and without them the target would be of a kind the
    family applies to; else None. A few bad rows then explain the family's absence."""
    from losscli.kinds import COUNTING_KINDS

    if fam.input in BLOCK_INPUTS or run.layout.labels or run.layout.soft \
            or run.layout.multilabel:
        return None
    scan = run.scan
    n = run.n
    supports = [fam.support]
    if fam.support.lower_open:  # the counting base measure scores y = lower on [lower, ½]
        supports.append(replace(fam.support, lower_open=False))
    best = None
    for s in supports:
        count, first, inside = scan.outside_n.get(s), scan.outside.get(s), scan.inside.get(s)
        if first is None or first.row is None or not inside.any:
            continue
        if not (count <= max(FEW_ROWS, n // 100) and 2 * count < n):
            continue
        would_be = numeric_kind(not inside.fractional, inside.negative, inside.nonpositive,
                                inside.above_one)
        if would_be not in type(fam).applies_to:
            continue
        if s is not fam.support and would_be not in COUNTING_KINDS:
            continue  # the closed support only holds on the counting base measure
        if best is None or count < best[0]:
            best = (count, s, first, would_be)
    if best is None:
        return None
    count, s, first, would_be = best
    what = s.description if s is fam.support else \
        f"{s.description}, or {s.lower:g} on integer targets"
    return InputError(
        f"outside {name}'s support ({what}){_how_many(count, n)}; without "
        f"{'it' if count == 1 else 'them'} the target would be {would_be}, not {kind}",
        column=run.cols.target, value=_shown(first.value), **at_row(run, first.row))


def _how_many(count: int, n: int) -> str:
    return f" ({count:,} of {n:,} rows)" if count else ""


def _shown(value):
    """A value as the message shows it: whole floats without their ".0"."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2 ** 53:
        return int(value)
    return value


def _scale_hint(domain: Support, value, point: bool, prediction: str) -> str:
    """A guess at why predictions leave their domain: negative means (counts, positive
    targets) are often log-means; negative probabilities are often logits."""
    if not point or not isinstance(value, float) or not value < 0.0:
        return ""
    if domain.lower >= 0.0 and math.isinf(domain.upper):
        return "; the prediction has negative values: is it on the log scale (a log-mean " \
               f"or linear predictor)? Give the {prediction} itself"
    if domain.lower >= 0.0 and domain.upper <= 1.0:
        return "; the prediction has negative values: is it a logit? Pass it with --logits"
    return ""


def fit(run: Run, name: str, fam, conditional: bool, inputs: Inputs = NONE) -> Model:
    """Fit by weighted ML: closed forms from pass 1's moments (every row), marginal fits
    on the value counts, everything else on the seeded sample (every row when there are
    at most --fit-rows). Parameters given per row or held (`inputs`) are not fitted: the
    others are (`Family.fit_given`)."""
    n = run.n
    mode = "conditional" if conditional else "marginal"
    if inputs.held:
        return _fit_held(run, Model(name, fam, {}, conditional, n, inputs=inputs))
    if conditional:
        if not fam.nuisance:
            return Model(name, fam, {}, True, n)
        if fam.unbounded_within_half and not run.scan.beyond_half:
            raise FitError(
                "every prediction lies within ½ of its integer target, so the discretised "
                "likelihood keeps rising as the spread goes to 0: no maximum with a spread "
                "> 0 (the limit is a point mass at the prediction)")
        if mode in fam.closed_form and (name, True) in run.scan.stats:
            params = fam.fit_from_stats(run.scan.stats[(name, True)], True)
            return Model(name, fam, params, True, n)
        s = sample_inputs(run, fam)
        params, info = fam.fit_with_information(s["y"], s.get("w"), s["pred"])
        model = Model(name, fam, params, True, _kept(fam, s), from_sample=True,
                      information=info)
        return _polished(model, s["y"], s.get("w"), s["pred"])
    if run.value_counts is not None:
        values, weights = run.value_counts
        if fam.unbounded_within_half and (
                values.size == 1 or (values.size == 2 and values[1] - values[0] == 1)):
            # one value, or two neighbours: a location at (or near) their midpoint with a
            # vanishing spread reproduces the empirical distribution exactly
            raise FitError(
                "the target takes only " + ("one value" if values.size == 1 else
                                            "two neighbouring integer values")
                + ", so the discretised likelihood keeps rising as the spread "
                "goes to 0: no maximum with a spread > 0")
        model = Model(name, fam, fam.fit(values, weights), False, n)
        return model if mode in fam.closed_form else _polished(model, values, weights, None)
    if mode in fam.closed_form and (name, False) in run.scan.stats:
        return Model(name, fam, fam.fit_from_stats(run.scan.stats[(name, False)], False),
                     False, n)
    s = sample_inputs(run, fam)
    model = Model(name, fam, fam.fit(s["y"], s.get("w")), False, _kept(fam, s),
                  from_sample=True)
    return _polished(model, s["y"], s.get("w"), None)


def _fit_held(run: Run, model: Model) -> Model:
    """The free parameters' weighted MLE with the given and held ones in place: on the
    value counts (marginal, integer targets), else on the seeded sample."""
    fam, free = model.family, model.free
    if not free:
        return model
    spread = fam.spread[0] if fam.spread else None
    if (model.conditional and spread in free and fam.unbounded_within_half
            and not run.scan.beyond_half):
        raise FitError("every prediction lies within ½ of its integer target, so the "
                       "discretised likelihood keeps rising as the spread goes to 0")
    if not model.conditional and run.value_counts is not None:
        y, w = run.value_counts
        pred, columns = None, {}
    else:
        s = sample_inputs(run, fam)
        y, w, columns = s["y"], s.get("w"), s["columns"]
        pred = model.inputs.pred(s["pred"], columns)
        model.fit_rows, model.from_sample = _kept(fam, s), True
    given = model.all_params(columns)
    model.params = fam.fit_given(y, w, pred if model.conditional else None, given, free)
    return model


def _polished(model: Model, y: np.ndarray, w: np.ndarray | None, pred) -> Model:
    """A numeric fit on rows in memory, finished by Newton steps to 1e-8 (the family's own
    optimiser stops near 1e-6). Boundary fits (df = ∞, α = 0) are kept as they are."""
    from losscli import optimize

    fam = model.family
    names = fam.numeric_params(model.conditional)
    if (fam.precise_fit or (model.conditional and fam.precise_conditional_fit) or not names
            or fam.fit_warnings(model.params)):
        return model
    n = y.shape[-1]
    size = blocks.split_size(n, 1 << 17)

    def total(params: Params) -> float:
        p = pred if model.conditional else fam.marginal_pred(params)

        def block(sl: slice) -> float:
            pb = p[sl] if np.ndim(p) == 1 else p
            return float(wsum(fam.loglik(y[sl], pb, params), None if w is None else w[sl]))

        return math.fsum(blocks.map_blocks(block, n, size))

    params, status = optimize.polish(total, model.params, names, fam.param_domains)
    if status == optimize.CONVERGED:
        model.params = params
    return model


def _kept(fam, s: dict) -> int:
    """How many rows of the sample `s` a family's fit uses: all of them, or its own
    seeded subsample of them (`Family.fit_subsample`)."""
    cap = fam.fit_subsample
    return cap[0] if cap is not None and s["y"].shape[-1] > cap[0] else s["rows"]


def sample_inputs(run: Run, fam) -> dict:
    """The seeded sample as the family's fit takes it (rows: how many it holds)."""
    s = run.sample
    if not s:
        raise FitError("no rows to fit on")
    out = {"y": s["y"], "pred": s.get("pred"), "rows": run.n if run.scan.sample.complete
           else int(s["y"].size),
           "columns": {k.removeprefix(SAMPLE_COLUMN): v for k, v in s.items()
                       if k.startswith(SAMPLE_COLUMN)}}
    if "w" in s:
        out["w"] = s["w"]
    return out


# ------------------------------------------------------------------ --fit-rows all

MAX_NEWTON_PASSES = 8
# the step of the stencil that gives a polished fit's information (in the fitted
# coordinates): O(h²) ≈ 1e-6 truncation, and rounding in Σ w log q ~1e-16·|Σ|/h² far
# below the curvature
INFO_STEP = 1e-3


class Polish:
    """One Newton pass's state: Σ w log q at every stencil point of every model."""

    def __init__(self, jobs: list[tuple[Model, list[Params]]]) -> None:
        self.jobs = jobs
        self.sums = Sum(sum(len(points) for _, points in jobs))

    def update(self, b: Batch) -> Polish:
        part = []
        for model, points in self.jobs:
            fam = model.family
            held = model.all_params(b.columns) if model.inputs.held else None
            for params in points:
                if held is not None:
                    params = {**held, **params}
                pred = model.inputs.pred(b.pred, b.columns) if model.conditional else \
                    fam.marginal_pred(params)
                part.append(wsum(fam.loglik(b.y, pred, params), b.w))
        self.sums.add(np.array(part))
        return self

    def merge(self, other: Polish) -> Polish:
        self.sums.merge(other.sums)
        return self


def polish(run: Run, models: list[Model]) -> None:
    """With --fit-rows all on more rows than the sample holds: Newton steps from the
    sample's fit whose gradient and Hessian are reductions over every row (one pass per
    step, every model at once), until each step is below 1e-8; then fit_rows = every
    row. Fits on a boundary of their space (df = ∞, α = 0) are kept as they are, and so
    are fits with no numeric parameter (laplace's marginal median, which needs sorted
    data), with a warning that they stay the sample's."""
    from losscli import optimize

    if run.req.fit_rows is not None or run.scan.sample.complete:
        return
    todo = [m for m in models if m.from_sample and not m.family.fit_warnings(m.params)]
    for m in todo:
        if not m.numeric_params():
            m.warnings.append(f"{m.name}: nothing in its fit is a smooth optimum for "
                              "--fit-rows all to polish (a median needs sorted data): the "
                              f"fit is the sample's, on {m.fit_rows:,} rows")
    todo = [m for m in todo if m.numeric_params()]
    for _ in range(MAX_NEWTON_PASSES):
        jobs = []
        for m in todo:
            names = m.numeric_params()
            x = optimize.to_x(m.params, names, m.family.param_domains)
            if not np.all(np.isfinite(x)):
                continue
            # the Newton step's stencil, then a wider one whose second differences
            # rounding does not swamp: the information at the fit (SPEC §10.1)
            jobs.append((m, [optimize.from_x(p, m.params, names, m.family.param_domains)
                             for p in optimize.stencil(x) + optimize.stencil(x, INFO_STEP)],
                         names, x))
        if not jobs:
            break
        state = run.reduce(lambda jobs=jobs: Polish([(m, pts) for m, pts, _, _ in jobs]),
                           "polishing the fits on every row")
        values = state.sums.value
        k = 0
        todo = []
        for m, points, names, x in jobs:
            half = len(points) // 2
            new, status = optimize.newton_step(x, values[k:k + half])
            wide = values[k + half:k + len(points)]
            k += len(points)
            m.params = optimize.from_x(new, m.params, names, m.family.param_domains)
            if status == optimize.CONVERGED:
                m.fit_rows = run.n  # now the fit on every row
                m.information = (names, -optimize.stencil_derivatives(
                    wide, len(names), INFO_STEP)[1])
            elif status == optimize.STEPPED:
                todo.append(m)
            else:
                m.warnings.append(f"{m.name}: the Newton polish on every row stopped (no "
                                  "concave maximum near the sample's fit): the fit is the "
                                  f"sample's, on {m.fit_rows:,} rows")
        if not todo:
            break
    for m in todo:
        m.warnings.append(f"{m.name}: the Newton polish on every row did not converge in "
                          f"{MAX_NEWTON_PASSES} passes: the fit is the sample's, on "
                          f"{m.fit_rows:,} rows")
