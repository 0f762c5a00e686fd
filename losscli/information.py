"""Standard errors of the fitted parameters (SPEC §10.1 `params_se`).

se(θ_k) = √[(H⁻¹)_kk], H the observed information: the Hessian of the total weighted
negative log-likelihood −Σ w_i log q(y_i | θ) at the MLE, over the rows the fit used, in
each parameter's own scale (σ, not log σ) — what statsmodels' GenericLikelihoodModel
reports as `bse`. W = Σ w over those rows: every row for a closed-form fit or a fit on
the value counts, the seeded sample's rows (`reduce.seeded_rows`) when the fit ran on a
sample of them, so the information is that of the fit's own rows.

One mechanism reads what a family declares:
- `Family.closed_se(params, W, conditional)`: the exact se at the MLE where the
  information needs only W and the estimates (σ/√(2W), b/√W, √(p(1 − p)/W), …); used
  for a plain fit (nothing given per row or held);
- otherwise a central-difference Hessian of Σ w `loglik` over the fit's rows, each step
  a small fraction of the parameter's own se (from a pilot difference), kept inside the
  parameter's domain (`Family.param_domains`); a fit that ends on a Newton step
  (`Family.fit_with_information`, or the polish over every row of --fit-rows all)
  brings the Hessian of its last step over its own rows;
- `Family.boundary(params)`: the parameters on the boundary of their space (α = 0,
  ν = ∞, p ∈ {0, 1}): their se is null and the others' Hessian holds them there;
- `Family.nonsmooth`: the parameters the likelihood is not differentiable in (a
  median): null, with the reason in a warning, the others' Hessian holding them.
Parameters given per row (--param) or held (--fix) are not fitted and have no se.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from losscli.inputs import NONE
from losscli.noise import blocks
from losscli.noise.base import Params, take_params
from losscli.noise.sums import total_weight, wsum
from losscli.reduce import seeded_rows

# the pilot step, relative to the parameter (or to 1 for a real one near 0), and the
# final step: a fraction of the pilot's se (and at most RELATIVE of a bounded parameter's
# value), small enough that the central difference's O(h²) error is ~1e-6 of the
# curvature, large enough that rounding in Σ w log q stays below it on a million rows
PILOT = 1e-4
FRACTION = 0.05
RELATIVE = 1e-3


def params_se(run, model) -> tuple[dict[str, float | None], list[str]]:
    """({fitted parameter: se or None}, warnings) of a model on this run."""
    # differences and closed forms at extreme values overflow to ∞: the se is then null
    with np.errstate(all="ignore"):
        return _params_se(run, model)


def _params_se(run, model) -> tuple[dict[str, float | None], list[str]]:
    fam, params = model.family, model.params
    names = tuple(k for k in params if k not in model.inputs.held)
    if not names:
        return {}, []
    notes: list[str] = []
    rows = _fit_rows(run, model)
    W = run.W if rows is None else total_weight(rows[0].shape[-1], rows[1])
    closed = None
    if not model.inputs.held and model.factor is None:  # (its own prediction column is fine)
        closed = fam.closed_se(params, W, model.conditional)
    held = set(fam.boundary(params)) | set(fam.nonsmooth)
    for k in names:
        if k in fam.nonsmooth:
            notes.append(f"{model.name}: params_se.{k} is null: the likelihood is not "
                         f"differentiable in the {k} (no Hessian)")
        elif k in held:
            notes.append(f"{model.name}: params_se.{k} is null: the estimate lies on the "
                         f"boundary of its space ({k} = {params[k]})")
    free = tuple(k for k in names if k not in held)
    if closed is not None:
        return {k: None if k in held else _finite(closed.get(k)) for k in names}, notes
    out = {k: None for k in names}
    if not free:
        return out, notes
    if model.information is not None and set(free) <= set(model.information[0]):
        hess = _own_scale(*model.information, params, fam.param_domains, free)
    elif rows is None:
        notes.append(f"{model.name}: params_se is null: the fit used every row, which are "
                     "not held in memory, and the family has no closed form for it")
        return out, notes
    else:
        y, w, pred, given = rows
        hess = observed_information(fam, y, w, pred if model.conditional else None,
                                    {**given, **params}, free)
    cov = _inverse(hess)
    if cov is None:
        notes.append(f"{model.name}: params_se is null: the Hessian of the nll at the fit "
                     "is not positive definite (no curvature to read an se from)")
        return out, notes
    out.update({k: _finite(math.sqrt(cov[i, i])) for i, k in enumerate(free)})
    return out, notes


def _own_scale(names: tuple[str, ...], info: np.ndarray, params: Params,
               domains: dict[str, str], free: tuple[str, ...]) -> np.ndarray:
    """The information in the fitted coordinates (x = log θ for a positive θ) of the
    Newton pass over every row, carried to the parameters' own scale at the MLE (where
    the gradient vanishes): I_θ = Jᵀ I_x J, J = diag(dx/dθ) = 1/θ for a log one; the rows
    and columns of `free`, in its order."""
    jac = np.array([1.0 / params[k] if domains.get(k) == "positive" else 1.0
                    for k in names])
    full = info * np.outer(jac, jac)
    idx = [names.index(k) for k in free]
    return full[np.ix_(idx, idx)]


def _finite(v: float | None) -> float | None:
    return float(v) if v is not None and math.isfinite(v) else None


def _inverse(hess: np.ndarray | None) -> np.ndarray | None:
    if hess is None or not np.all(np.isfinite(hess)):
        return None
    try:
        np.linalg.cholesky(hess)
    except np.linalg.LinAlgError:
        return None
    return np.linalg.inv(hess)


def _fit_rows(run, model) -> tuple[np.ndarray, np.ndarray | None, Any, Params] | None:
    """(y, w, ŷ, the parameters given per row or held) of the rows the fit used, or None
    when it used every row and they are not in memory (a closed form from pass 1's
    moments, or the Newton polish over every row of --fit-rows all, whose last pass
    leaves the information in `Model.information`)."""
    from losscli.fits import sample_inputs

    if not model.conditional and run.value_counts is not None:
        y, w = run.value_counts
        return _subsample(model.family, y, w, None,
                          model.all_params({}) if model.inputs is not NONE else {})
    complete = run.scan.sample.complete
    if not run.sample or not (complete or (model.from_sample and model.fit_rows < run.n)):
        return None
    s = sample_inputs(run, model.family)
    columns = s["columns"]
    pred = model.inputs.pred(s["pred"], columns) if model.conditional else None
    given = model.all_params(columns) if model.inputs is not NONE else {}
    return _subsample(model.family, s["y"], s.get("w"), pred, given)


def _subsample(fam, y: np.ndarray, w: np.ndarray | None, pred: Any, given: Params
               ) -> tuple[np.ndarray, np.ndarray | None, Any, Params]:
    """The rows a family's fit keeps of these (`Family.fit_subsample`): all of them
    unless it declares a subsample and there are more."""
    cap = fam.fit_subsample
    if cap is None or y.shape[-1] <= cap[0]:
        return y, w, pred, given
    rows = seeded_rows(y.shape[-1], *cap)

    def take(v: Any) -> Any:
        return v[..., rows] if np.ndim(v) else v

    return take(y), take(w) if w is not None else None, take(pred), {
        k: take(v) for k, v in given.items()}


def observed_information(fam, y: np.ndarray, w: np.ndarray | None, pred: Any,
                         params: Params, names: tuple[str, ...]) -> np.ndarray | None:
    """−∂²/∂θ∂θ′ Σ w log q(y | ŷ, θ) over `names` at `params` (the others held), by
    central differences in each parameter's own scale (or the family's own second
    derivatives, `Family.information`); `pred` None: marginal (ŷ is the family's
    location, moved with it). None where a value is not finite. Each Σ w log q is summed
    over row blocks on the run's threads (`blocks.map_blocks`)."""
    own = fam.information(y, w, pred, params, names)
    if own is not None:
        return own
    n = np.shape(y)[-1]
    size = blocks.split_size(n)

    def nll(p: Params) -> float:
        loc = pred if pred is not None else fam.marginal_pred(p)

        def block(sl: slice) -> float:
            rows = take_params(p, sl) if any(np.ndim(v) for v in p.values()) else p
            return float(wsum(fam.loglik(y[..., sl], loc[..., sl] if np.ndim(loc) else loc,
                                         rows), None if w is None else w[sl]))

        return -math.fsum(blocks.map_blocks(block, n, size))

    domains = fam.param_domains
    x = np.array([float(params[k]) for k in names])
    room = np.array([_room(domains.get(k, "real"), v) for k, v in zip(names, x, strict=True)])

    def at(v: np.ndarray) -> float:
        return nll({**params, **dict(zip(names, map(float, v), strict=True))})

    f0 = at(x)
    if not math.isfinite(f0):
        return None
    h = np.minimum(PILOT * np.where(x != 0.0, np.abs(x), 1.0), room)
    # the pilot curvature of each parameter sets its step: a fraction of its own se, and
    # of its own size for a bounded one (whose likelihood bends on that scale: ν, α)
    for i in range(x.size):
        e = np.zeros(x.size)
        e[i] = h[i]
        c = (at(x + e) - 2.0 * f0 + at(x - e)) / h[i] ** 2
        if math.isfinite(c) and c > 0.0:
            h[i] = min(FRACTION / math.sqrt(c), room[i], RELATIVE * abs(x[i]) if
                       math.isfinite(room[i]) else math.inf)
    eye = np.diag(h)
    hess = np.empty((x.size, x.size))
    for i in range(x.size):
        hess[i, i] = (at(x + eye[i]) - 2.0 * f0 + at(x - eye[i])) / h[i] ** 2
        for j in range(i):
            hess[i, j] = hess[j, i] = (
                at(x + eye[i] + eye[j]) - at(x + eye[i] - eye[j])
                - at(x - eye[i] + eye[j]) + at(x - eye[i] - eye[j])) / (4.0 * h[i] * h[j])
    return hess if np.all(np.isfinite(hess)) else None


def _room(domain: str, v: float) -> float:
    """Half the distance from v to the edge of its domain (∞ on the real line): no step
    of the differences leaves it."""
    if domain in ("positive", "nonnegative"):
        return 0.5 * v
    if domain in ("unit", "probability"):
        return 0.5 * min(v, 1.0 - v)
    return math.inf


