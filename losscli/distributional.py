"""What a model with per-row parameters reports (SPEC §8.2, `distributional`).

Three companion models are fitted beside a model whose parameters are partly given per
row, scored in the same last pass, and compared with it:

- `constant`: the same family and ŷ with every per-row parameter replaced by a fitted
  constant (the plain conditional model); Vuong's z of the per-row model against it
  (z > 0: the per-row parameters fit better).
- `recalibration`: the declared spread (`Family.spread`) given per row, widened by one
  factor c > 0 on every row (`Family.widen`), ĉ by maximum likelihood with the model's
  other fitted constants refitted at each c (profile likelihood, on the seeded sample;
  every row when there are at most --fit-rows); LR = 2(nll(1) − nll(ĉ)) over every row,
  p = P(χ²₁ > LR). ĉ > 1: the given spread is too narrow (over-confident).
- `tail`: for a family declaring a heavier-tailed one (`Family.tail`: gaussian → student_t
  with the same ŷ and scale σᵢ), its tail parameter fitted; LR against the model with the
  boundary form p = ½P(χ²₁ > LR) (LR > 0), 1 at LR = 0 (ν = ∞).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from scipy import special

from losscli import optimize
from losscli.errors import NUMERIC_ERRORS, FitError
from losscli.fits import fit, sample_inputs
from losscli.inputs import NONE, Inputs, ParamColumn
from losscli.model import Model, make_family
from losscli.noise.base import take_params
from losscli.noise.sums import wsum

FACTOR_BOUND = 30.0  # |log c| beyond this: no finite maximum (the spread runs away)
PILOT_ROWS = 100_000  # the factor's first Newton steps run on about this many rows


@dataclass
class Companions:
    """A per-row model's companion models (None where it has none or the fit failed)."""

    model: Model
    constant: Model | None = None
    recalibration: Model | None = None
    tail: Model | None = None
    notes: list[str] | None = None

    def models(self) -> list[Model]:
        return [m for m in (self.constant, self.recalibration, self.tail) if m is not None]


def companions(run, model: Model, measure) -> Companions | None:
    """The companions of a model with per-row parameters; None for any other model."""
    if not (model.conditional and model.inputs.per_row):
        return None
    out = Companions(model, notes=[])
    fam = model.family
    held = Inputs(dict(model.inputs.fixed)) if model.inputs.fixed else NONE
    out.constant = _attempt(out, "constant", lambda: fit(run, model.name, fam, True, held))
    spread = fam.spread[0] if fam.spread else None
    if spread in model.inputs.columns:
        out.recalibration = _attempt(out, "recalibration", lambda: _recalibrated(run, model))
        if fam.tail is not None:
            out.tail = _attempt(out, "tail", lambda: _tail(run, model, measure))
    return out


def _attempt(out: Companions, what: str, make):
    try:
        return make()
    except (FitError, *NUMERIC_ERRORS) as exc:
        out.notes.append(f"{out.model.name}: distributional.{what} is null: {exc}")
        return None


def _recalibrated(run, model: Model) -> Model:
    """The model with its given spread widened by the ML factor ĉ (the other fitted
    constants refitted at each c): in closed form where the family has one, else by
    Newton steps on log c (`optimize.polish`), first on every k-th row of the sample
    (about PILOT_ROWS of them) from c = 1, then on the whole sample from there; Brent's
    method where a Newton step is refused."""
    fam, free = model.family, model.free
    s = sample_inputs(run, fam)
    y, w, pred, columns = s["y"], s.get("w"), s["pred"], s["columns"]
    given = model.all_params(columns)
    given = {k: v for k, v in given.items() if k not in free}
    closed = fam.recalibration_closed(y, w, pred, given, free)
    if closed is not None:
        c = closed
    else:
        c = 1.0
        step = y.size // PILOT_ROWS
        if step >= 2:
            rows = slice(None, None, step)
            pilot = _factor_nll(fam, free, y[..., rows], None if w is None else w[rows],
                                _take(pred, rows), take_params(given, rows))
            c = _ml_factor(pilot, c, precise=False)
        c = _ml_factor(_factor_nll(fam, free, y, w, pred, given), c, precise=True)
    if not abs(math.log(c)) < FACTOR_BOUND:
        raise FitError("the likelihood keeps rising as the spread factor runs to 0 or ∞")
    fitted = {k: v for k, v in _refit(fam, free, y, w, pred, given, c).items() if k in free}
    return replace(model, params=fitted, factor=c, fit_rows=s["rows"], from_sample=True,
                   warnings=[], baseline=None)


def _take(pred, rows):
    """The rows of a prediction (per row along its last axis; a constant as it is)."""
    return pred[..., rows] if np.ndim(pred) else pred


def _refit(fam, free, y, w, pred, given, c: float) -> dict:
    """The parameters at spread factor c: the given spread widened, `free` refitted."""
    wide = fam.widen(given, c)
    return {**wide, **fam.fit_given(y, w, pred, wide, free)} if free else wide


def _factor_nll(fam, free, y, w, pred, given):
    """({"factor": c} ↦ the mean NLL at spread factor c (the profile over `free`), the
    rows' total weight W)."""
    W = float(np.sum(w)) if w is not None else float(y.size)

    def mean_nll(p: dict) -> float:
        params = _refit(fam, free, y, w, pred, given, p["factor"])
        with np.errstate(all="ignore"):
            return -wsum(fam.loglik(y, pred, params), w) / W

    return mean_nll, W


def _ml_factor(objective, start: float, precise: bool) -> float:
    """The ML factor from `start` on `objective` = (mean NLL, W): Newton steps (to 1e-8
    in log c) where they are taken, Brent's method (then, if `precise`, Newton steps)
    where one is refused."""
    domains = {"factor": "positive"}
    mean_nll, W = objective

    def total(p: dict) -> float:
        return -W * mean_nll(p)

    found, status = optimize.polish(total, {"factor": start}, ("factor",), domains)
    if status == optimize.REFUSED:
        found = optimize.minimize_params(mean_nll, {"factor": start}, ("factor",), domains)
        if precise:
            found, _ = optimize.polish(total, found, ("factor",), domains)
    return float(found["factor"])


def _tail(run, model: Model, measure) -> Model:
    """The heavier-tailed family with the same ŷ and per-row spread, its tail parameter
    fitted (gaussian σᵢ → student_t scale σᵢ, ν fitted)."""
    family, mapping, _ = model.family.tail
    fam = make_family(run, family, measure)
    columns = {}
    for param, col in model.inputs.columns.items():
        if param in mapping:
            columns[mapping[param]] = ParamColumn(mapping[param], col.column, col.form,
                                                  col.to_param, col.domain)
    fixed = {mapping[k]: v for k, v in model.inputs.fixed.items() if k in mapping}
    return fit(run, family, fam, True, Inputs(fixed, columns))


def report(comp: Companions, parent: int, index: dict[int, int], scores,
           W: float) -> dict:
    """SPEC §8.2's `distributional` block from the last pass's sums: `index` maps the id
    of each companion model to its position among the scored models."""
    from losscli.compare import _z

    nll = -scores.ll[parent].finalize()

    def nll_of(m: Model) -> float:
        return -scores.ll[index[id(m)]].finalize()

    out: dict = {"constant": None, "recalibration": None, "tail": None}
    c = comp.constant
    if c is not None:
        k = index[id(c)]
        W_rows, dbar, m2 = scores.pair(parent, k).finalize()  # ll(per-row) − ll(constant)
        z, p = _z(W_rows, dbar, m2)
        out["constant"] = {"params": _json(c.params), "nll": nll_of(c),
                           "cross_entropy": nll_of(c) / W, "statistic": z, "p_value": p}
    r = comp.recalibration
    if r is not None:
        lr = max(2.0 * (nll - nll_of(r)), 0.0)
        out["recalibration"] = {
            "param": comp.model.family.spread[0],
            "factor": r.factor, "cross_entropy": nll_of(r) / W, "lr_statistic": lr,
            "p_value": float(special.chdtrc(1, lr))}
    t = comp.tail
    if t is not None:
        tail_param = comp.model.family.tail[2]
        value = t.params.get(tail_param)
        at_limit = value is None or math.isinf(value)
        lr = 0.0 if at_limit else max(2.0 * (nll - nll_of(t)), 0.0)
        out["tail"] = {tail_param: None if at_limit else value, "lr_statistic": lr,
                       "p_value": 0.5 * float(special.chdtrc(1, lr)) if lr > 0 else 1.0}
    return out


def _json(params: dict) -> dict:
    return {k: None if isinstance(v, float) and math.isinf(v) else v
            for k, v in params.items()}
