"""The two commands as library calls: Request in, report dict out. No terminal here."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from losscli import compare, io, kinds, report
from losscli.dataset import Dataset
from losscli.errors import FitError, InputError, UsageError
from losscli.families import FAMILIES
from losscli.request import Request
from losscli.score import Scored, Shared, score

Progress = Callable[[str], None]

# numpy asks the kernel for transparent huge pages for every large array; where the kernel
# then compacts memory on the first touch (madvise defrag, the common default), each fresh
# array of a 10M-row column costs several times its fill. Plain pages are steadier here.
try:
    np._core.multiarray._set_madvise_hugepage(False)
except AttributeError:  # a numpy without the switch: nothing to change
    pass


def _noop(_: str) -> None:
    pass


def auto_family(kind: str, ds: Dataset) -> str:
    """evaluate's default family (SPEC §3)."""
    if kind in ("categorical", "soft_categorical"):
        return "categorical"
    if kind in ("binary", "soft_binary") or (kind == "proportion" and ds.has_prediction):
        return "bernoulli"
    if kind == "count":
        return "poisson"
    return "gaussian"


def _prepare_bernoulli(ds: Dataset, req: Request) -> None:
    """A point prediction used as P(y = 1): check [0, 1], clip, log-probabilities."""
    if ds.logq is not None or ds.pred is None:
        return
    p = ds.pred
    bad = (p < 0.0) | (p > 1.0)
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError("bernoulli needs P(y = 1) in [0, 1]", file=ds.path,
                         column=ds.prediction[0], row=ds.file_row(i), value=float(p[i]))
    eps = req.eps
    if eps > 0:
        clip = (p < eps) | (p > 1.0 - eps)
        ds.clipped = int(clip.sum())
        p = np.clip(p, eps, 1.0 - eps) if ds.clipped else p
    with np.errstate(divide="ignore"):
        ds.logq = np.stack([np.log1p(-p), np.log(p)])
    io.check_zero_probability(ds)


def _load(req: Request, progress: Progress) -> tuple[Dataset, str]:
    progress(f"reading {req.path}")
    ds = io.load(req)
    return ds, kinds.resolve_kind(ds, req.target_kind)


def _check_families(names: tuple[str, ...]) -> None:
    for name in names:
        if name not in FAMILIES:
            raise UsageError(f"family {name!r} is not available; "
                             f"choose from {', '.join(FAMILIES)}")


def evaluate(req: Request, progress: Progress = _noop) -> dict:
    """Score predictions (or the targets alone) under one or more families."""
    _check_families(req.families)
    ds, kind = _load(req, progress)
    names = list(dict.fromkeys(req.families)) or [auto_family(kind, ds)]
    if not ds.has_prediction and kind in kinds.COUNTING_KINDS:
        ds = by_value(ds)
    warnings = list(ds.warnings)
    shared = Shared(ds)
    models = []
    for name in names:
        progress(f"fitting {name}")
        if name == "bernoulli":
            _prepare_bernoulli(ds, req)
        if name == "categorical" and not (ds.labels or kind == "soft_categorical"):
            raise InputError(f"categorical needs class labels; the target is {kind}",
                             file=ds.path, column=ds.target)
        if name != "categorical" and ds.labels:
            raise InputError(f"{name} needs numeric targets; the target holds class labels "
                             f"({', '.join(ds.classes[:5])})", file=ds.path, column=ds.target)
        try:
            s = score(name, ds, counting=False, fit_rows=req.fit_rows, shared=shared)
        except FitError as exc:
            raise InputError(f"{name}: {exc}", file=ds.path) from None
        if not s.family.discrete and kind in kinds.COUNTING_KINDS:
            warnings.append(
                f"{name} is scored by its density on integer targets: its nll is not "
                "comparable with a discrete family's (compare-noise-models discretises)")
        warnings.extend(s.result.warnings)
        models.append(report.model_dict(s.result, req.unit))
    measures = {m["base_measure"] for m in models}
    if len(measures) > 1:
        warnings.append("the families are scored on different base measures (counting and "
                        "lebesgue): their nll are not comparable; compare-noise-models "
                        "discretises the continuous ones")
    return report.build(
        "evaluate", ds, kind, "conditional" if ds.has_prediction else "marginal",
        measures.pop() if len(measures) == 1 else "mixed", req.unit, models, warnings)


def by_value(ds: Dataset) -> Dataset:
    """The same data as distinct target values with their total weights.

    Without predictions every row with the same target value contributes the same
    log-likelihood, so on an integer target every fit, sum and test of the comparison runs
    on the value counts, at a cost independent of the number of rows. Error messages
    point at the first row holding a value."""
    values, inverse = np.unique(ds.y, return_inverse=True)
    weights = np.bincount(inverse, weights=ds.w, minlength=values.size).astype(np.float64)
    first = np.full(values.size, ds.y.size, dtype=np.int64)
    np.minimum.at(first, inverse, np.arange(ds.y.size))
    rows = first if ds.kept_rows is None else ds.kept_rows[first]
    return dataclasses.replace(ds, y=values, w=weights, kept_rows=rows, n_rows=ds.rows_used)


def compare_noise_models(req: Request, progress: Progress = _noop) -> dict:
    """Fit every applicable family, rank them, test the differences, recommend a loss."""
    _check_families(req.families)
    ds, kind = _load(req, progress)
    if not ds.has_prediction and kind in kinds.COUNTING_KINDS:
        ds = by_value(ds)
    names, skipped_pairs = kinds.candidates(kind)
    skipped = [{"family": f, "reason": r} for f, r in skipped_pairs]
    if req.families:
        wanted = list(dict.fromkeys(req.families))
        skipped = [s for s in skipped if s["family"] in wanted]
        names = [n for n in names if n in wanted]
    counting = kind in kinds.COUNTING_KINDS
    warnings = list(ds.warnings)
    shared = Shared(ds)
    scored: list[Scored] = []
    for name in names:
        progress(f"fitting {name}")
        try:
            if name == "bernoulli":
                _prepare_bernoulli(ds, req)
            s = score(name, ds, counting=counting, fit_rows=req.fit_rows, shared=shared)
        except (FitError, InputError) as exc:
            skipped.append({"family": name, "reason": str(exc)})
            continue
        warnings.extend(s.result.warnings)
        scored.append(s)
    if not scored:
        reasons = "; ".join(f"{s['family']}: {s['reason']}" for s in skipped)
        raise InputError(f"no family could be fitted ({reasons})", file=ds.path)
    progress("testing differences")
    ranked = compare.rank(scored, req.criterion)
    weights = compare.akaike_weights([s.result.aic for s in ranked])
    best = ranked[0]
    models = [
        report.model_dict(s.result, req.unit, {
            "rank": i + 1,
            "delta_cross_entropy": s.result.cross_entropy - best.result.cross_entropy,
            "akaike_weight": weights[i],
        })
        for i, s in enumerate(ranked)
    ]
    tests = compare.tests(ranked, ds.w)
    return report.build(
        "compare-noise-models", ds, kind, "conditional" if ds.has_prediction else "marginal",
        "counting" if counting or all(s.family.discrete for s in scored) else "lebesgue",
        req.unit, models, warnings,
        criterion=req.criterion, best=best.result.family, skipped=skipped, tests=tests,
        recommendation=compare.recommendation(ranked))
