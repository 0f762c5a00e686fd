"""Which columns a run reads: the target, the prediction (a point prediction, class
probabilities or logits), soft labels and weights, from the options or by their usual
names (SPEC §2). Ambiguity is an error that lists the candidates and the option to use.
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field

from losscli.errors import InputError, UsageError
from losscli.request import Request, did_you_mean

TARGET_NAMES = ("y", "target", "label", "y_true", "actual")
# the names model exports give a point prediction or a probability of the positive class
# (scikit-learn's predict_proba / decision_function, forecasting libraries)
PRED_NAMES = ("y_pred", "pred", "prediction", "predicted", "yhat", "y_hat", "mu", "prob",
              "p", "y_prob", "y_proba", "proba", "probability", "pred_proba",
              "y_pred_proba", "y_score", "score", "forecast")
PROB_PREFIXES = ("p_", "prob_", "proba_")

def _match(patterns: tuple[str, ...], names: list[str], path: str, option: str) -> list[str]:
    """Columns named by a comma list of names or globs, in file order per pattern."""
    out: list[str] = []
    for pattern in (p.strip() for spec in patterns for p in spec.split(",")):
        if not pattern:
            continue
        if any(ch in pattern for ch in "*?["):
            hits = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
        else:
            hits = [n for n in names if n == pattern]
        if not hits:
            raise InputError(
                f"no column matches {option} {pattern!r}{did_you_mean(pattern, names)}; "
                f"columns are: {', '.join(names)}{delimiter_hint(names)}", file=path)
        out.extend(h for h in hits if h not in out)
    return out


def _groups(values: tuple[str, ...], names: list[str], path: str, option: str
            ) -> list[list[str]]:
    """The class-column groups of repeated --probs/--logits values (SPEC §10.2): a value
    naming two or more columns (a glob or a comma list) is one group, one prediction;
    values naming one column each are joined into one group. Groups hold the same
    classes in the same order, so they have as many columns each."""
    if len(values) < 2:
        return [_match(values, names, path, option)] if values else []
    found = [(v.strip(), _match((v,), names, path, option)) for v in values]
    single = [(v, g) for v, g in found if len(g) == 1]
    if len(single) == len(found):
        return [list(dict.fromkeys(g[0] for _, g in found))]
    if single:
        many = next((v, g) for v, g in found if len(g) > 1)
        raise UsageError(
            f"{option} {many[0]!r} names {len(many[1])} columns (a group: one prediction) "
            f"but {option} {single[0][0]!r} names one: give one group of class columns "
            f"per {option}, or one column per {option} for a single prediction")
    (v0, g0), seen = found[0], {}
    for v, g in found:
        if len(g) != len(g0):
            raise UsageError(
                f"{option} groups hold the same classes, so as many columns each: {v0!r} "
                f"names {len(g0)} ({', '.join(g0)}), {v!r} names {len(g)} ({', '.join(g)})")
        for c in g:
            if c in seen and seen[c] != v:
                raise UsageError(f"{option} {seen[c]!r} and {v!r} both name column {c!r}: "
                                 "each column belongs to one group")
            seen.setdefault(c, v)
    return [list(g) for g in dict.fromkeys(tuple(g) for _, g in found)]


def delimiter_hint(names: list[str]) -> str:
    if len(names) == 1:
        if "\t" in names[0]:
            return " (the header splits on tabs: is this TSV? use --input-format tsv)"
        for sep in (";", "|"):
            if sep in names[0]:
                return (f" (the header splits on {sep!r}: the delimiter seems to be {sep!r}; "
                        f"use --delimiter '{sep}')")
    return ""


def _auto(names: list[str], candidates: tuple[str, ...], what: str, option: str,
          path: str, exclude: set[str]) -> str | None:
    lower = {n.lower(): n for n in names if n not in exclude}
    hits = [lower[c] for c in candidates if c in lower]
    if len(hits) > 1:
        raise InputError(
            f"ambiguous {what} column: candidates {', '.join(hits)}; choose one with {option}",
            file=path)
    return hits[0] if hits else None


@dataclass
class Columns:
    target: str
    pred: str | None
    probs: list[str]
    logits: list[str]
    soft: list[str]
    weight: str | None
    params: list[str] = field(default_factory=list)  # --param columns, in option order
    quantiles: list[str] = field(default_factory=list)  # --quantiles columns
    # every point prediction in the order given (SPEC §10.2); `pred` is the first
    preds: list[str] = field(default_factory=list)
    by: str | None = None  # --by: read by the scoring pass only, never a model input
    # every group of class columns (--probs or --logits) in the order given, each one
    # prediction (SPEC §10.2); `probs` or `logits` is the first
    groups: list[list[str]] = field(default_factory=list)

    @property
    def predictions(self) -> list[str]:
        """Every prediction's name in order: its column, or a group's columns joined by
        "," (the models' `prediction`)."""
        return list(self.preds) if self.preds else [",".join(g) for g in self.groups]

    @property
    def other_groups(self) -> dict[str, list[str]]:
        """The class-column groups after the first, by name: each a batch's column
        holding its class-major log-probabilities."""
        return {",".join(g): g for g in self.groups[1:]}
    # a target of several label columns (--target naming two or more; SPEC §9.4), in the
    # order given; `target` is then empty and `probs`/`logits` follow the labels' order
    labels: list[str] = field(default_factory=list)

    @property
    def other_preds(self) -> list[str]:
        """The point predictions after the first: read into a batch's `columns`."""
        return self.preds[1:]

    @property
    def inputs(self) -> list[str]:
        """The per-row model inputs beside the prediction (a batch's `columns`)."""
        return list(dict.fromkeys(self.other_preds + self.params + self.quantiles))

    @property
    def targets(self) -> list[str]:
        """The target's columns: the label columns, or the one target."""
        return list(self.labels) if self.labels else [self.target] if self.target else []

    def all(self) -> list[str]:
        cols = [self.target] if self.target else []
        cols += self.labels
        cols += [self.pred] if self.pred else []
        cols += self.other_preds
        cols += self.probs + self.logits + self.soft
        cols += [c for g in self.groups[1:] for c in g]
        cols += [self.weight] if self.weight else []
        cols += self.params + self.quantiles
        return list(dict.fromkeys(cols))


def resolve_columns(req: Request, names: list[str], path: str) -> Columns:
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise InputError(f"the header names column {dup!r} twice", file=path)
    for option, value in (("--target", req.target), ("--weight", req.weight)):
        if value is not None and not value.strip():
            raise UsageError(f"{option} needs a column name, not an empty string")
    for option, values in (("--pred", req.pred), ("--probs", req.probs),
                           ("--logits", req.logits),
                           ("--soft-target", req.soft_target)):
        if values and not any(v.strip(" ,") for v in values):
            raise UsageError(f"{option} needs column names or a glob, not an empty string")
    soft = _match(req.soft_target, names, path, "--soft-target")
    groups = _groups(req.probs, names, path, "--probs") or \
        _groups(req.logits, names, path, "--logits")
    probs = groups[0] if req.probs else []
    logits = groups[0] if req.logits and not req.probs else []
    if req.probs and req.logits:  # the error below names both
        logits = _match(req.logits, names, path, "--logits")
    weight = _match((req.weight,), names, path, "--weight")[0] if req.weight else None
    preds = _match(req.pred, names, path, "--pred") if req.pred else []
    pred = preds[0] if preds else None
    targets = _match((req.target,), names, path, "--target") if req.target else []
    labels = targets if len(targets) >= 2 else []
    target = targets[0] if len(targets) == 1 else None
    params = [_match((p.column,), names, path, "--param")[0]
              for p in req.param_specs]
    params = list(dict.fromkeys(params))
    quantiles = _match(req.quantiles, names, path, "--quantiles") if req.quantiles else []
    by = _match((req.by,), names, path, "--by")[0] if req.by else None
    taken = set(soft + [c for g in groups for c in g] + logits
                + ([weight] if weight else []))
    if labels and soft:
        raise UsageError(f"--target names {len(labels)} label columns and --soft-target "
                         "gives soft labels: give soft labels of several labels as the "
                         "label columns themselves (values in [0, 1])")
    if target is None and not soft and not labels:
        target = _auto(names, TARGET_NAMES, "target", "--target/-t", path, taken)
        if target is None:
            raise InputError(
                f"no target column found (looked for {', '.join(TARGET_NAMES)}); "
                f"name it with --target/-t; columns are: {', '.join(names)}"
                f"{delimiter_hint(names)}", file=path)
    if target:
        taken.add(target)
    taken.update(labels)
    taken.update(params + quantiles)  # never read as the prediction
    explicit_pred = bool(req.pred or req.probs or req.logits)
    if req.no_pred and explicit_pred:
        raise UsageError("--no-pred forces marginal mode: give it without --pred, --probs "
                         "or --logits")
    if not explicit_pred and not req.no_pred:
        pred = _auto(names, PRED_NAMES, "prediction", "--pred/-p", path, taken)
        auto_probs = [n for n in names if n.lower().startswith(PROB_PREFIXES)
                      and n not in taken]
        if pred and auto_probs:
            raise InputError(
                f"ambiguous prediction: a prediction column {pred!r} and probability columns "
                f"{', '.join(auto_probs)}; choose with --pred/-p or --probs", file=path)
        if auto_probs and not pred:
            prefixes = {next(p for p in PROB_PREFIXES if n.lower().startswith(p))
                        for n in auto_probs}
            if len(prefixes) > 1:
                raise InputError(
                    f"ambiguous probability columns {', '.join(auto_probs)}; "
                    "choose with --probs", file=path)
            probs = auto_probs
            groups = [probs]
    if sum(bool(x) for x in (pred, probs, logits)) > 1:
        raise UsageError("give one kind of prediction: --pred, --probs or --logits")
    if req.pred_scale != "identity" and not pred:
        raise UsageError(f"--pred-scale {req.pred_scale} applies to a point prediction "
                         "(--pred); class probabilities given as logits take --logits")
    if req.class_weight is not None and not pred and not (targets[1:] and (probs or logits)):
        raise UsageError(f"--trained-with {req.trained_with}: the class weight is undone on "
                         "one probability or logit column (give it with --pred/-p), or on "
                         "one per label of several label columns")
    if pred and not preds:
        preds = [pred]
    for p in req.param_specs:
        if p.column in (target, *preds, weight):
            what = "prediction" if p.column in preds else \
                {target: "target", weight: "weight"}[p.column]
            raise UsageError(f"--param {p}={p.column}: {p.column!r} is the {what} column")
    if target in preds:
        raise UsageError(f"--pred {target}: {target!r} is the target column")
    if labels:
        if pred:
            raise UsageError(f"--target names {len(labels)} label columns: their "
                             "predictions are one probability or logit column per label "
                             f"(--probs or --logits), not the point prediction {pred!r}")
        option = "--probs" if probs else "--logits"
        groups = [match_labels(labels, g, path, option) for g in groups]
        probs = groups[0] if probs else probs
        logits = groups[0] if logits else logits
    return Columns(target or "", pred, probs, logits, soft, weight, params, quantiles, preds,
                   by, groups, labels)


def match_labels(labels: list[str], given: list[str], path: str, option: str) -> list[str]:
    """The prediction columns in the labels' order, each matched to its label by the name
    after the shared prefix (`y_cat` ↔ `p_cat`, as classes match probability columns); a
    label without a column, or a column without a label, is an error naming it."""
    names = class_names(labels)
    found = dict(zip(class_names(given), given, strict=True)) if len(given) >= 2 else {}
    for name, column in zip(names, labels, strict=True):
        if name not in found:
            raise InputError(
                f"label {name!r} has no prediction column: {option} gives "
                f"{', '.join(given)} (a prediction column matches a label column by the "
                f"name after their shared prefix: {column} ↔ p_{name})", file=path,
                column=column)
    extra = [c for n, c in found.items() if n not in names]
    if extra:
        raise InputError(
            f"prediction column {extra[0]!r} matches no label column (labels: "
            f"{', '.join(labels)})", file=path, column=extra[0])
    return [found[n] for n in names]


MAX_LISTED = 5  # unused columns a note names


def marginal_note(unused: list[str]) -> str:
    """Why a run without --no-pred is in marginal mode, when the file has numeric columns
    it did not use: one of them may be the prediction under a name not recognised."""
    shown = ", ".join(map(repr, unused[:MAX_LISTED]))
    if len(unused) > MAX_LISTED:
        shown += f" and {len(unused) - MAX_LISTED} more"
    lead = ("marginal mode: no prediction column was recognised, so every parameter is "
            "fitted to the target alone")
    tail = ", or --no-pred if marginal mode is meant"
    if len(unused) == 1:
        return (f"{lead}, and the numeric column {shown} is not used; give -p {unused[0]} "
                f"to score it as the prediction{tail}")
    return (f"{lead}, and the numeric columns {shown} are not used; give -p with the one "
            f"to score as the prediction (-p {unused[0]}){tail}")


def class_names(columns: list[str]) -> list[str]:
    """Class names from probability columns: the suffix after a shared prefix."""
    if len(columns) == 1:
        return [columns[0]]
    for prefix in PROB_PREFIXES + ("t_", "soft_", "logit_", "logits_", "z_"):
        if all(c.lower().startswith(prefix) for c in columns):
            return [c[len(prefix):] for c in columns]
    # a shared prefix counts only up to its last separator: score_cat, score_car → cat, car
    common = os.path.commonprefix(columns)
    cut = max(common.rfind(sep) for sep in "_-.:") + 1
    return [c[cut:] or c for c in columns]
