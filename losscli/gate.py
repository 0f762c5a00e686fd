"""`--fail-if FIELD OP VALUE` (SPEC §10.4): conditions on the JSON report that fail a CI job.

FIELD is a path in the report: names joined by dots (`metrics.mse`,
`uncertainty.information_gain.lower`), a list item chosen by `[key=value]`
(`tests[kind=vuong].p_value`) or by its index (`models[0]`); in `models[...]`,
`family=NAME@COLUMN` also matches the model's `prediction` column. A name that is not a
top-level field of the command's report is a model field, read from the first model
(the best of a comparison). OP is one of `< <= > >= == !=`; VALUE a number, `true`,
`false`, `null` or a name (quoted or not), and a name takes `==` and `!=` only.

Checked from the options, before any data is read (`conditions`, a UsageError): the
syntax, the operator, a name compared by order, every field name the report's schema
fixes (top-level fields, model fields, `input`, `recommendation`, `uncertainty` and its
intervals, the items of `tests`, `skipped`, `prediction_tests`, `slices.rows`, the metric
names), and an unprefixed model field in an evaluate of several models. The keys that
depend on the data (a family's `params`, `params_se` and `fixed`, `diagnostics`,
`distributional`, `scores`, `quantiles`, a list item that is not there) are checked on
the report (`held`): a path it does not hold is a UsageError then.

Light on purpose (no numpy): the command line parses the conditions at start-up.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from losscli.errors import UsageError

OPS = ("<=", ">=", "==", "!=", "<", ">")
ORDER = ("<", "<=", ">", ">=")
LITERALS = {"true": True, "false": False, "null": None}

# the report's schema as far as the options fix it: a dict of known fields, [item] for a
# list of objects, or None for a value (or an object whose keys depend on the data)
INTERVAL = {"se": None, "lower": None, "upper": None}
METRICS = {k: None for k in ("accuracy", "brier", "ece", "mse", "rmse", "mae", "r2",
                             "mean_deviance", "d2")}
MODEL: dict[str, Any] = {
    **{k: None for k in (
        "family", "loss", "prediction", "params", "fixed", "param_columns", "n_params", "n",
        "fit_rows", "nll", "cross_entropy", "entropy", "entropy_method", "kl", "aic", "bic",
        "baseline_cross_entropy", "information_gain", "normalized_entropy", "base_measure",
        "distributional", "scores", "params_se", "diagnostics", "rank",
        "delta_cross_entropy", "akaike_weight", "trained", "labels")},
    "metrics": METRICS,
    "metrics_se": METRICS,
    "uncertainty": {"level": None, **{k: INTERVAL for k in (
        "cross_entropy", "kl", "information_gain", "delta_cross_entropy")}},
    "slices": {"column": None, "rows": [{k: None for k in (
        "value", "count", "cross_entropy", "se", "information_gain", "statistic",
        "p_value", "p_holm")}]},
}
INPUT = {k: None for k in (
    "path", "format", "rows_read", "rows_used", "rows_dropped", "clipped", "target",
    "prediction", "weight", "param_columns", "engine", "passes", "batches", "bytes_read",
    "trained_with")}
COMMON: dict[str, Any] = {
    **{k: None for k in ("command", "version", "target_kind", "mode", "base_measure",
                         "unit", "warnings", "best_by_prediction")},
    "input": INPUT,
    "models": [MODEL],
    "prediction_tests": [{k: None for k in (
        "family", "null", "alternative", "delta_cross_entropy", "se", "lower", "upper",
        "statistic", "p_value", "hac_lag")}],
}
EVALUATE = {**COMMON, "quantiles": None}
FRAMEWORK_NAMES = ("pytorch", "sklearn", "xgboost", "lightgbm", "catboost", "keras")
COMPARE = {
    **COMMON,
    "criterion": None, "best": None,
    "skipped": [{"family": None, "reason": None}],
    "tests": [{k: None for k in ("kind", "null", "alternative", "statistic", "p_value",
                                 "prediction")}],
    "recommendation": {**{k: None for k in ("family", "loss", "transform", "ties",
                                            *FRAMEWORK_NAMES)}, "alternative": None},
    "slices": {"column": None, "rows": [{"value": None, "count": None, "best": None}]},
}


@dataclass(frozen=True)
class Step:
    """One name of a path, and the list item it picks: `[key=value]` (`at`: the
    `@prediction` part) or `[index]`."""

    name: str
    key: str | None = None
    value: str | None = None
    at: str | None = None
    index: int | None = None


@dataclass(frozen=True)
class Condition:
    """`FIELD OP VALUE` as written (`text`), parsed."""

    text: str
    field: str
    path: tuple[Step, ...]
    op: str
    limit: Any  # a float, True/False/None, or a name (str)
    limit_text: str
    model: bool  # an unprefixed model field: read from the first model


def _fail(expr: str, why: str) -> UsageError:
    return UsageError(f"--fail-if {expr!r}: {why}")


def parse(expr: str) -> tuple[str, tuple[Step, ...], str, Any, str]:
    """(field, path, op, limit, limit as written) of one EXPR; a UsageError when it is
    not FIELD OP VALUE with a known operator."""
    text = expr.strip()
    depth = 0
    end = len(text)
    for i, ch in enumerate(text):
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif depth == 0 and (ch.isspace() or ch in "<>=!~"):
            end = i
            break
    field, rest = text[:end], text[end:].lstrip()
    if not field:
        raise _fail(expr, "no field: write FIELD OP VALUE, e.g. 'cross_entropy > 0.7'")
    op = next((o for o in OPS if rest.startswith(o)), None)
    if op is None or rest[len(op):len(op) + 1] in ("=", "<", ">", "!"):
        token = re.match(r"\S*", rest)[0] if rest else ""
        token = re.match(r"[^\w\s.+-]*", token)[0] or token
        what = f"unknown operator {token!r}" if token else "no operator"
        raise _fail(expr, f"{what}; use one of {' '.join(OPS)}")
    value = rest[len(op):].strip()
    if not value:
        raise _fail(expr, f"no value after {op!r}")
    return field, _path(expr, field), op, _limit(value), value


def _limit(value: str) -> Any:
    """A number, a JSON literal, or a name (quotes removed)."""
    if value in LITERALS:
        return LITERALS[value]
    try:
        number = float(value)
    except ValueError:
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            return value[1:-1]
        return value
    return number if not math.isnan(number) else value


def _path(expr: str, field: str) -> tuple[Step, ...]:
    steps = []
    for part in re.split(r"\.(?![^\[]*\])", field):
        m = re.fullmatch(r"([A-Za-z_][\w]*)(?:\[([^\]]*)\])?", part)
        if m is None:
            raise _fail(expr, f"{part!r} is not a field name (names, dots and "
                        "[key=value] or [index])")
        name, sel = m[1], m[2]
        if sel is None:
            steps.append(Step(name))
        elif re.fullmatch(r"\d+", sel.strip()):
            steps.append(Step(name, index=int(sel)))
        elif "=" in sel:
            key, _, value = sel.partition("=")
            value, _, at = value.strip().partition("@")
            steps.append(Step(name, key.strip(), value.strip(), at.strip() or None))
        else:
            raise _fail(expr, f"{part!r}: a list item is chosen by [key=value] or [index]")
    return tuple(steps)


def conditions(exprs: tuple[str, ...], command: str, several_models: bool
               ) -> tuple[Condition, ...]:
    """The parsed conditions, each checked against the report's schema for `command`
    ("evaluate" or "compare-noise-models": the shape of the report); `several_models`:
    an evaluate that reports more than one model, where a model field needs `models[...]`.
    A UsageError for the first that is not valid."""
    from losscli.errors import did_you_mean

    schema = COMPARE if command == "compare-noise-models" else EVALUATE
    out = []
    for expr in exprs:
        field, path, op, limit, limit_text = parse(expr)
        if op in ORDER and not isinstance(limit, float):
            raise _fail(expr, f"{limit_text!r} is not a number: a name is compared with "
                        "== or != only")
        model = path[0].name not in schema
        if model:
            if path[0].name not in MODEL:
                known = sorted(set(schema) | set(MODEL))
                raise _fail(expr, f"unknown field {path[0].name!r}"
                            f"{did_you_mean(path[0].name, known)}; a report field, or a "
                            "model field (read from the first model)")
            if several_models:
                raise _fail(expr, f"{path[0].name!r} is a model field and this evaluate "
                            "reports several models: choose one, e.g. "
                            f"'models[family=NAME].{field}'")
        _check(expr, path, MODEL if model else schema, did_you_mean)
        out.append(Condition(expr.strip(), field, path, op, limit, limit_text, model))
    return tuple(out)


def _check(expr: str, path: tuple[Step, ...], schema: Any, did_you_mean) -> None:
    """Every name of `path` that the schema fixes is one of its fields."""
    for i, step in enumerate(path):
        if schema is None:
            return  # keys that depend on the data: checked on the report
        if isinstance(schema, list):
            raise _fail(expr, f"{path[i - 1].name!r} is a list: choose an item with "
                        "[key=value] or [index]")
        if step.name not in schema:
            where = ".".join(s.name for s in path[:i])
            raise _fail(expr, f"unknown field {step.name!r}"
                        + (f" in {where!r}" if where else "")
                        + f"{did_you_mean(step.name, list(schema))}; "
                        f"choose from {', '.join(schema)}")
        schema = schema[step.name]
        selects = step.key is not None or step.index is not None
        if selects and not isinstance(schema, list):
            if schema is None:
                return
            raise _fail(expr, f"{step.name!r} is not a list: it takes no [...]")
        if selects:
            schema = schema[0]
            if step.key is not None and isinstance(schema, dict) and step.key not in schema:
                raise _fail(expr, f"unknown field {step.key!r} in the items of "
                            f"{step.name!r}{did_you_mean(step.key, list(schema))}; "
                            f"choose from {', '.join(schema)}")


# ------------------------------------------------------------------ on the report


def value_of(cond: Condition, report: dict) -> Any:
    """The field's value in the report; a UsageError naming the first part of the path
    the report does not hold."""
    node: Any = report
    path = cond.path
    if cond.model:
        if not report.get("models"):
            raise _fail(cond.text, "the report has no model")
        node = report["models"][0]
    for i, step in enumerate(path):
        where = ".".join(s.name for s in path[:i]) or "the report"
        if not isinstance(node, dict) or step.name not in node:
            has = f" (it has {', '.join(node)})" if isinstance(node, dict) and node else ""
            raise _fail(cond.text, f"{where} has no field {step.name!r}{has}")
        node = node[step.name]
        if step.key is None and step.index is None:
            continue
        if not isinstance(node, list):
            raise _fail(cond.text, f"{step.name!r} is not a list in this report")
        if step.index is not None:
            if step.index >= len(node):
                raise _fail(cond.text, f"{step.name} has {len(node)} items, no "
                            f"[{step.index}]")
            node = node[step.index]
            continue
        found = [x for x in node if isinstance(x, dict) and _matches(x.get(step.key),
                                                                       step.value)
                 and (step.at is None or x.get("prediction") == step.at)]
        if not found:
            at = f" and prediction {step.at!r}" if step.at else ""
            raise _fail(cond.text, f"no item of {step.name} has {step.key} = "
                        f"{step.value!r}{at}")
        node = found[0]
    return node


def _matches(value: Any, written: str) -> bool:
    if isinstance(value, bool) or value is None:
        return json.dumps(value) == written
    if isinstance(value, (int, float)):
        try:
            return float(written) == value
        except ValueError:
            return False
    return str(value) == written


def holds(cond: Condition, value: Any) -> bool:
    """Whether the condition holds for this value (null: always); a UsageError where the
    value cannot be compared with the limit (an object, a number with a name, …)."""
    if value is None:
        return True
    if isinstance(value, (dict, list)):
        what = "an object" if isinstance(value, dict) else "a list"
        raise _fail(cond.text, f"{cond.field} is {what}, not a value: name one of its "
                    "fields")
    limit, op = cond.limit, cond.op
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if number != isinstance(limit, float):
        raise _fail(cond.text, f"{cond.field} is {_shown(value)}, which cannot be compared "
                    f"with {cond.limit_text}")
    if op == "==":
        return value == limit
    if op == "!=":
        return value != limit
    if not number:
        raise _fail(cond.text, f"{cond.field} is {_shown(value)}: not a number")
    return {"<": value < limit, "<=": value <= limit, ">": value > limit,
            ">=": value >= limit}[op]


def _shown(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, (bool, int, float)):
        return json.dumps(value)
    return str(value)


def held(conds: tuple[Condition, ...], report: dict) -> list[str]:
    """`FIELD = VALUE OP LIMIT` of every condition that holds on the report (a null field:
    with "(null: condition holds)"), in the order given."""
    out = []
    for cond in conds:
        value = value_of(cond, report)
        if holds(cond, value):
            line = f"{cond.field} = {_shown(value)} {cond.op} {cond.limit_text}"
            out.append(line + (" (null: condition holds)" if value is None else ""))
    return out
