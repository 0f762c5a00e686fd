"""The two commands as library calls: Request in, report dict out. No terminal here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from losscli import (
    compare,
    diagnostics,
    distributional,
    inputs,
    kinds,
    prediction_tests,
    quantile_forecasts,
    report,
    rows,
)
from losscli.entropy import Entropies
from losscli.errors import NUMERIC_ERRORS, FitError, InputError, UsageError, numeric_reason
from losscli.fits import check_family, check_inputs, fit, near_miss, polish
from losscli.inputs import NONE, Inputs
from losscli.last_pass import score
from losscli.model import Model, make_family
from losscli.noise import BLOCK_INPUTS, FAMILIES
from losscli.reduce import First
from losscli.request import ALL_FAMILIES, Request
from losscli.run import Run, open_engine, open_run
from losscli.score import result, slice_moments
from losscli.score import slices as slice_rows

Progress = Callable[[str], None]


def _noop(_: str) -> None:
    pass


def _check_families(names: tuple[str, ...]) -> None:
    for name in names:
        if name not in FAMILIES and name != ALL_FAMILIES:
            raise UsageError(f"family {name!r} is not available; "
                             f"choose from {', '.join(FAMILIES)}")


def _fit(run: Run, name: str, fam, given: Inputs = NONE,
         baselines: dict | None = None) -> Model:
    """The model and, in conditional mode, its baseline (the same family on y alone, with
    the parameters held by --fix that it has). `run`: the view of the model's
    prediction (Run.for_prediction) when its inputs name one. `baselines` (family →
    model of another prediction): the baseline does not depend on the prediction, so
    the models of several share one fit."""
    model = fit(run, name, fam, run.conditional, given)
    if not given.held:  # a model reading its own prediction column, fitted as any other
        model.inputs = given
    other = (baselines or {}).get(name)
    if model.conditional and other is not None:
        model.baseline, model.baseline_error = other.baseline, other.baseline_error
    elif model.conditional:
        held = {k: v for k, v in given.fixed.items() if k in fam.marginal_params}
        try:
            model.baseline = fit(run, name, fam, False, Inputs(held) if held else NONE)
        except InputError:
            raise
        except (FitError, *NUMERIC_ERRORS) as exc:
            model.baseline_error = numeric_reason(exc)
    return model


def _baselines(models: list[Model]) -> list[Model]:
    """The models' baselines, each once (the models of several predictions share one)."""
    return list({id(m.baseline): m.baseline for m in models
                 if m.baseline is not None}.values())


def _predictions(run: Run, req: Request) -> list[str | None]:
    """The predictions each family is fitted on (SPEC §10.2): every column or group of
    class columns given, in order; [None] (the run's one prediction, or none) otherwise."""
    preds = run.cols.predictions
    if not (run.conditional and len(preds) > 1):
        return [None]
    if req.diagnosing:
        raise UsageError(f"--diagnostics diagnoses one prediction; {len(preds)} are given "
                         f"({'; '.join(preds)}): diagnose them one at a time")
    return list(preds)


def _for_prediction(run: Run, given: Inputs, col: str | None) -> tuple[Run, Inputs]:
    """The run as prediction `col`'s fits see it, and the inputs of a model of it (the
    first prediction is the run's own: its models' inputs name none)."""
    if col is None or col == run.cols.predictions[0]:
        return run, given
    return run.for_prediction(col), replace(given, prediction=col)


def _prediction_tests(req: Request, models: list[Model], preds) -> prediction_tests.Plan:
    """The plan of SPEC §10.2's pairs (family, a, b) of the models; none with one
    prediction."""
    return prediction_tests.plan(models if len(preds) > 1 else [], preds, req.hac_lag)


def _input(run: Run, extra_clipped: int) -> dict:
    scan = run.scan
    cols = run.cols
    prediction = list(cols.preds) if cols.pred else list(cols.probs or cols.logits)
    return {
        "path": run.inp.display, "format": run.inp.format, "rows_read": scan.rows_read,
        "rows_used": scan.n, "rows_dropped": scan.dropped + scan.zero_weight,
        "clipped": scan.clipped + extra_clipped,
        "target": cols.target or ",".join(cols.labels or cols.soft),
        "prediction": ("; ".join(cols.predictions) if len(cols.groups) > 1
                       else ",".join(prediction) if prediction else None),
        "weight": cols.weight,
        "param_columns": list(cols.params), "passes": run.passes, "batches": run.batches,
        "bytes_read": run.bytes_read,
        "engine": run.engine.name,
        "trained_with": run.req.trained_with,
    }


def clip_warning(run: Run, scores) -> list[str]:
    """SPEC §1.8: how many probabilities were clipped to [ε, 1 − ε], and the first."""
    total = run.scan.clipped + scores.clipped
    if not total:
        return []
    first = First()
    first.merge(run.scan.first_clipped).merge(scores.first_clipped)
    eps = run.req.eps
    where = "" if first.row is None else (
        f" (first: {rows.located(run, first.row)}, column {first.label!r}, "
        f"value {first.value:g})")
    return [f"{total:,} predicted probabilit{'y' if total == 1 else 'ies'} below ε or above "
            f"1 − ε clipped to [ε, 1 − ε], ε = {eps:.3g}{where}: a probability of 0 on the "
            f"observed class scores −log ε = {-np.log(eps):.1f} nats instead of infinity "
            "(--eps sets ε; --eps 0 keeps them)"]


def diagnose(req: Request, progress: Progress = _noop) -> dict:
    """Evaluate's output with every model diagnosed; with `best`, compare's output with
    the best model diagnosed (SPEC §7.1)."""
    return (compare_noise_models if req.best else evaluate)(req, progress)


def _check_plot(req: Request) -> None:
    if req.plot is not None:
        from losscli import plots

        plots.check()
        plots.preload()


def with_trained(req: Request) -> Request:
    """SPEC §9.5: `--trained-with` holds the loss's parameters at the values trained with
    (for its family alone) and reads the prediction on the scale the loss outputs (a
    point prediction's; class logits come with --logits)."""
    t = req.trained
    if t is None:
        return req
    fix = tuple(f"{t.family}.{k}={v!r}" for k, v in t.fixed.items())
    scale = req.pred_scale
    if t.pred_scale != "identity" and not (req.logits or req.probs) \
            and FAMILIES[t.family].input not in BLOCK_INPUTS:
        if scale not in ("identity", t.pred_scale):
            raise UsageError(f"--trained-with {t.spec} reads the prediction on the "
                             f"{t.pred_scale} scale; --pred-scale {scale} contradicts it")
        scale = t.pred_scale
    return replace(req, fix=req.fix + fix, pred_scale=scale)


def evaluate(req: Request, progress: Progress = _noop) -> dict:
    """Score predictions (or the targets alone) under one or more families."""
    _check_families(req.families)
    req = with_trained(req)
    _check_plot(req)
    with open_engine(req.engine, req.scheduler, req.workers) as engine:
        return _evaluate(req, open_run(req, progress, engine), progress)


def _evaluate(req: Request, run: Run, progress: Progress) -> dict:
    kind = kinds.resolve(run, req.target_kind)
    trained = [req.trained.family_for(bool(run.layout.multilabel))] if req.trained_with \
        else []
    names = list(dict.fromkeys([*req.families, *trained])) or (
        [] if run.cols.quantiles else [kinds.default_family(kind, run.conditional)])
    if ALL_FAMILIES in names:  # every family that applies, the named ones first
        names = list(dict.fromkeys(
            [n for n in names if n != ALL_FAMILIES] + kinds.candidates(kind, FAMILIES)[0]))
    warnings = list(run.warnings)
    on = kinds.measure(kind)
    # evaluate keeps densities on the integers (SPEC §3) but censors them at 0 (SPEC §9.1)
    families = {name: make_family(run, name, on if on.in_evaluate else None)
                for name in names}
    given = inputs.resolve(req, families, run.conditional, compare=False)
    preds = _predictions(run, req)
    models = []
    shared: dict[str, Model] = {}  # each family's first model: its baseline is theirs
    for col in preds:
        for name, fam in families.items():
            view, mine = _for_prediction(run, given[name], col)
            on = "" if len(preds) == 1 else f" on {col}"
            progress(f"fitting {name}{on}")
            try:
                check_family(view, fam, name)
                check_inputs(run, name, mine)
                models.append(_fit(view, name, fam, mine, shared))
                shared.setdefault(name, models[-1])
            except InputError:
                raise
            except (FitError, *NUMERIC_ERRORS) as exc:
                raise InputError(f"{name}{on}: {numeric_reason(exc)}",
                                 file=rows.file_of(run)) from None
    tests = _prediction_tests(req, models, preds)
    levels = _quantile_models(run, req, models)
    polish(run, models + _baselines(models))
    also = diagnostics.carried(run, models, req) if req.diagnosing else None
    scores, splan, carried, extras = _score(run, models, False, also, None, warnings,
                                            levels, tests)
    entropies = Entropies(run)
    found_slices = slice_moments(scores)
    out = []
    results = []
    for i, model in enumerate(models):
        try:
            res = result(run, i, scores, splan, entropies)
        except FitError as exc:
            raise InputError(f"{model.name}: {exc}", file=rows.file_of(run)) from None
        extras(i, res)
        _slices(run, res, found_slices, i)
        results.append(res)
        if model.family.measure is not kinds.measure(kind) and kinds.measure(kind).discrete:
            warnings.append(
                f"{model.name} is scored by its density on integer targets: its nll is not "
                "comparable with a discrete family's (compare-noise-models discretises)")
        warnings.extend(res.warnings)
        out.append(report.model_dict(res, req.unit))
    measures = {m["base_measure"] for m in out}
    if len(measures) > 1:
        warnings.append("the families are scored on different base measures (counting and "
                        "lebesgue): their nll are not comparable; compare-noise-models "
                        "discretises the continuous ones")
    if req.diagnosing:
        progress("diagnosing")
        for o, d in zip(out, diagnostics.diagnose(run, models, results, req, warnings,
                                                  state=carried), strict=True):
            o["diagnostics"] = d
    warnings[len(run.warnings):len(run.warnings)] = clip_warning(run, scores)
    warnings = list(dict.fromkeys(warnings))  # a family's note once for every prediction
    return report.build(
        req.command, _input(run, scores.clipped), kind,
        "conditional" if run.conditional else "marginal",
        measures.pop() if len(measures) == 1 else "mixed", req.unit, out, warnings,
        quantiles=None if scores.quantiles is None else scores.quantiles.finalize(run.W),
        prediction_tests=prediction_tests.results(tests, scores, prediction_tests.level(req),
                                                  report.unit_scale(req.unit)))


def _quantile_models(run: Run, req: Request, models: list[Model]):
    """SPEC §8.4: one `quantile` model per --quantiles column, τ held at its level and ŷ
    its column; (levels, columns) for the quantiles block, or None without the option."""
    cols = run.cols.quantiles
    if not cols:
        return None
    if run.layout.labels or run.layout.soft:
        raise InputError("--quantiles needs a numeric target", file=rows.file_of(run),
                         column=run.cols.target)
    levels = quantile_forecasts.levels_of(cols, list(req.quantile_levels) or None)
    fam = make_family(run, "quantile")
    for col, tau in zip(cols, levels, strict=True):
        try:
            models.append(_fit(run, "quantile", fam, Inputs({"tau": tau}, prediction=col)))
        except InputError:
            raise
        except (FitError, *NUMERIC_ERRORS) as exc:
            raise InputError(f"quantile at {tau:g} ({col}): {numeric_reason(exc)}",
                             file=rows.file_of(run)) from None
    return list(levels), list(cols)


def _score(run: Run, models: list[Model], pairs, also, measure,
           warnings: list[str], quantiles=None, tests=None, nested=()):
    """The last pass over the models and their `distributional` companions (SPEC §8.2);
    `pairs`: Vuong's sums for every pair of the models (True), or per group of model
    indices (a list of (group, hub)) of every pair within it (hub None) or of the hub
    with each other member; `tests`: the pairs of predictions
    (SPEC §10.2); `nested`: the pairs of nested models, whose LR statistic reads them.
    Returns the pass's states and a function giving model i's
    `distributional` block (None without per-row inputs)."""
    comps = [_companions(run, m, measure) for m in models]
    extra = [c for comp in comps if comp is not None for c in comp.models()]
    for comp in comps:
        if comp is not None:
            warnings.extend(comp.notes)
    polish(run, extra)
    index = {id(m): len(models) + k for k, m in enumerate(extra)}
    n = len(models)
    groups = [(list(range(n)), None)] if pairs is True else (pairs or [])
    wanted = [(i, j) for g, hub in groups if hub is None for x, i in enumerate(g)
              for j in g[x + 1:]]
    wanted += [(min(hub, j), max(hub, j)) for g, hub in groups if hub is not None
               for j in g if j != hub]
    serial = tests.indices if tests is not None else []
    wanted += serial
    wanted += list(nested)
    wanted += [(i, index[id(comp.constant)]) for i, comp in enumerate(comps)
               if comp is not None and comp.constant is not None]
    proper = tuple(range(n)) if run.req.scores else ()
    scores, splan, carried = score(run, models + extra, False, also, wanted, proper,
                                   quantiles, serial, run.req.hac_lag, reported=n)

    def extras(i: int, res) -> None:
        """Model i's `distributional` and `scores` blocks into its result."""
        comp = comps[i]
        if comp is not None:
            res.distributional = distributional.report(comp, i, index, scores, run.W)
        if i in scores.proper:
            found = scores.proper[i]
            if found is None:
                res.warnings.append(f"{models[i].name}: scores.crps and scores.intervals "
                                    "are null: they could not be computed on these rows")
                found = {"crps": None, "intervals": None}
            else:
                found = found.finalize(run.W)
                fam = models[i].family
                if found["crps"] is None and fam.crps is None:
                    why = getattr(fam, "crps_note", None) or (
                        f"no CRPS is implemented for it on the {fam.measure.name} base measure")
                    res.warnings.append(f"{models[i].name}: scores.crps is null: {why}")
            res.scores = {"log_score": res.cross_entropy, **found}

    return scores, splan, carried, extras


def _best_pairs(run: Run, models: list[Model], ranked_groups, scores, splan,
                progress: Progress) -> None:
    """The pairs of each group's best with its other models that the last pass did not
    reduce (its best was not the guessed one), by one more pass over those pairs."""
    have = set(splan.pairs)
    missing = [p for group in ranked_groups for s in group[1:]
               for p in [(min(group[0].index, s.index), max(group[0].index, s.index))]
               if p not in have]
    if missing:
        progress("scoring the best model's pairs")
        more, _, _ = score(run, models, False, None, missing)
        scores.adopt_pairs(more)


def _companions(run: Run, model: Model, measure):
    """distributional.companions, fitted on the model's own prediction; the companions
    read that prediction too."""
    col = model.inputs.prediction if model.conditional else None
    comp = distributional.companions(run.for_prediction(col), model, measure)
    if comp is not None and col is not None and col in run.cols.other_preds:
        for m in comp.models():
            if m.inputs.prediction is None:
                m.inputs = replace(m.inputs, prediction=col)
    return comp


def _slices(run: Run, res, found, i: int) -> None:
    """Model i's `slices` (SPEC §10.3) into its result, with --by."""
    if found is not None:
        res.slices = slice_rows(run.cols.by, found, i, res.information_gain is not None)


def merged(notes: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(families, text) with the families that share a text joined ("a, b"), in order of
    first appearance: one line where several families have the same note."""
    by_text: dict[str, list[str]] = {}
    for family, text in notes:
        fams = by_text.setdefault(text, [])
        if family not in fams:
            fams.append(family)
    return [(", ".join(fams), text) for text, fams in by_text.items()]


def _split_family(warning: str) -> tuple[str, str]:
    """A model's warning "family: text" as (family, text) (a family name has no colon)."""
    family, sep, text = warning.partition(": ")
    return (family, text) if sep and family in FAMILIES else ("", warning)


def compare_noise_models(req: Request, progress: Progress = _noop) -> dict:
    """Fit every applicable family, rank them, test the differences, recommend a loss."""
    _check_families(req.families)
    req = with_trained(req)
    _check_plot(req)
    with open_engine(req.engine, req.scheduler, req.workers) as engine:
        return _compare(req, open_run(req, progress, engine), progress)


def _compare(req: Request, run: Run, progress: Progress) -> dict:
    kind = kinds.resolve(run, req.target_kind)
    named = list(dict.fromkeys(req.families))
    # the family trained with joins the candidates (asked for by name)
    trained = req.trained.family_for(bool(run.layout.multilabel)) if req.trained_with \
        else None
    if ALL_FAMILIES in named:
        # every family is a candidate; those that do not apply are skipped with the
        # reason, as unnamed candidates are (none of them was asked for by name)
        named = asked = []
        names, skipped_pairs = kinds.candidates(kind, FAMILIES)
    else:
        asked = named + ([trained] if trained and trained not in named else [])
        names, skipped_pairs = kinds.candidates(kind, asked)
    measure = kinds.measure(kind)
    warnings = list(run.warnings)
    skipped: list[dict] = []
    left_out: list[tuple[str, str]] = []  # (family, why) for the families a user expects

    def skip(name: str, reason: str, expected: bool = True) -> None:
        skipped.append({"family": name, "reason": reason})
        if expected:
            left_out.append((name, reason.replace(f"{name}'s ", "its ")))

    for name, reason in skipped_pairs:
        if named and name not in asked:
            continue
        miss = near_miss(run, FAMILIES[name](run.classes), name, kind)
        if name in asked:  # asked for by name: an error, as `evaluate -f` gives
            raise miss or InputError(f"{name} does not apply: {reason}",
                                     file=rows.file_of(run), column=run.cols.target)
        skip(name, reason if miss is None else str(miss), expected=miss is not None)
    if named:
        names = [n for n in names if n in asked]
    families = {name: make_family(run, name, measure) for name in names}
    given = inputs.resolve(req, families, run.conditional, compare=True)
    preds = _predictions(run, req)
    models = []
    shared: dict[str, Model] = {}  # each family's first model: its baseline is theirs
    for col in preds:
        for name, fam in families.items():
            view, mine = _for_prediction(run, given[name], col)
            on = "" if len(preds) == 1 else f"on {col}: "
            progress(f"fitting {name}" + (f" {on[:-2]}" if on else ""))
            check_inputs(run, name, mine)
            try:
                check_family(view, fam, name)
            except InputError as exc:
                if name in named:
                    raise
                skip(name, on + str(exc))
                continue
            except FitError as exc:
                skip(name, on + str(exc))
                continue
            try:
                models.append(_fit(view, name, fam, mine, shared))
                shared.setdefault(name, models[-1])
            except (FitError, *NUMERIC_ERRORS) as exc:  # InputError is a ValueError too
                skip(name, on + (numeric_reason(exc) if not isinstance(exc, InputError)
                                 else str(exc)))
    if not models:
        reasons = "; ".join(f"{s['family']}: {s['reason']}" for s in skipped)
        raise InputError(f"no family could be fitted ({reasons})", file=rows.file_of(run))
    polish(run, models + _baselines(models))
    also = None
    if req.diagnosing:  # the models to diagnose, when known (or guessed) before scoring
        if req.families and not req.best:
            also = diagnostics.carried(run, models, req)
        else:
            guess = compare.likely_best(run, models, req.criterion)
            if guess is not None:
                also = diagnostics.carried(run, [models[guess]], req)
    first = preds[0]

    def prediction(m: Model) -> str | None:
        return m.inputs.prediction or first

    groups = [[i for i, m in enumerate(models) if prediction(m) == col] for col in preds]
    ptests = _prediction_tests(req, models, preds)
    # the tests and Δ uncertainties read the pairs of each group's best with the others:
    # those of a guessed best and of the models its rows cannot tell from it (every pair
    # where there is no guess; a wrong guess costs the pass below, never a different
    # answer)
    hubs = []
    for g in groups:
        members = [models[i] for i in g]
        k = compare.likely_best(run, members, req.criterion)
        hubs.append((g, None if k is None else g[k]))
        hubs += [(g, g[c]) for c in compare.contenders(run, members, req.criterion, k)]
    scores, splan, carried, extras = _score(
        run, models, hubs, also, measure, warnings, tests=ptests,
        nested=compare.nested_indices(models, groups))
    entropies = Entropies(run)
    found_slices = slice_moments(scores)
    scored: list[compare.Scored] = []
    for i, model in enumerate(models):
        try:
            res = result(run, i, scores, splan, entropies)
        except FitError as exc:
            skip(model.name, ("" if len(preds) == 1 else f"on {prediction(model)}: ")
                 + str(exc))
            continue
        extras(i, res)
        _slices(run, res, found_slices, i)
        scored.append(compare.Scored(model, res, i))
    kept = {id(s.model) for s in scored}
    ptests = prediction_tests.Plan([t for t in ptests.pairs if id(models[t[3]]) in kept
                                    and id(models[t[4]]) in kept], ptests.lag)
    warnings.extend(clip_warning(run, scores))
    warnings.extend(f"{fams}: not fitted: {why}" for fams, why in merged(left_out))
    if not scored:
        reasons = "; ".join(f"{s['family']}: {s['reason']}" for s in skipped)
        raise InputError(f"no family could be fitted ({reasons})", file=rows.file_of(run))
    progress("testing differences")
    by_pred = {col: compare.rank([s for s in scored if prediction(s.model) == col],
                                 req.criterion) for col in preds}
    by_pred = {col: r for col, r in by_pred.items() if r}
    if first not in by_pred:
        reasons = "; ".join(f"{s['family']}: {s['reason']}" for s in skipped)
        raise InputError(f"no family could be fitted on {first} ({reasons})",
                         file=rows.file_of(run))
    _best_pairs(run, models, by_pred.values(), scores, splan, progress)
    ranked = by_pred[first]
    best = ranked[0]
    warnings.extend(best.result.warnings)
    others = [w for s in ranked[1:] for w in s.result.warnings]
    if named:  # every family was asked for by name: every note in full
        warnings.extend(others)
    elif others:  # notes on families nobody named, none of them the best: one line
        warnings.append("the other families: " + "; ".join(
            f"{fams}: {why}" if fams else why for fams, why in merged(
                [_split_family(w) for w in others])))
    out = []
    for group in by_pred.values():
        compare.delta_uncertainty(group, scores, req.level)
        weights = compare.akaike_weights([s.result.aic for s in group])
        out += [
            report.model_dict(s.result, req.unit, {
                "rank": i + 1,
                "delta_cross_entropy": s.result.cross_entropy - group[0].result.cross_entropy,
                "akaike_weight": weights[i],
                **({"trained": s.model.name == trained} if trained else {}),
            })
            for i, s in enumerate(group)
        ]
    tests = compare.tests(ranked, scores, splan, warnings, run.classes, req.alpha, run)
    several = len(preds) > 1
    if several:
        tests = [{**t, "prediction": first} for t in tests]
    ranked_all = [s for group in by_pred.values() for s in group]
    for col, group in list(by_pred.items())[1:]:  # the other predictions' notes
        warnings.extend(dict.fromkeys(f"on {col}: {w}" for s in group
                                      for w in s.result.warnings))
    if req.diagnosing:
        progress("diagnosing")
        chosen = [i for i, s in enumerate(ranked_all)
                  if (s.model.name in req.families and not req.best) or i == 0]
        found = diagnostics.diagnose(run, [ranked_all[i].model for i in chosen],
                                     [ranked_all[i].result for i in chosen], req, warnings,
                                     comparison=(out, best.result.family, req.unit),
                                     state=carried)
        for o in out:
            o["diagnostics"] = None
        for i, d in zip(chosen, found, strict=True):
            out[i]["diagnostics"] = d
    return report.build(
        req.command, _input(run, scores.clipped), kind,
        "conditional" if run.conditional else "marginal",
        measure.name,
        req.unit, out, warnings,
        criterion=req.criterion, best=best.result.family, skipped=skipped,
        tests=tests, recommendation=compare.recommendation(ranked, run, tests, req.alpha),
        best_by_prediction={col or run.cols.predictions[0]: group[0].result.family
                            for col, group in by_pred.items()}
        if run.conditional and run.cols.predictions else None,
        prediction_tests=prediction_tests.results(ptests, scores, prediction_tests.level(req),
                                                  report.unit_scale(req.unit)),
        **({} if found_slices is None else {"slices": compare.best_by_slice(ranked)}))
