"""A model's inputs beyond ŷ (SPEC §8.1): parameters given per row by a column
(`--param NAME=COL`) and parameters held at a value (`--fix NAME=VALUE`).

`resolve` assigns the options to the families of a run by what each family declares
(`Family.param_form`, `Family.per_row_params`, `Family.param_domains`); a given or
held parameter is not fitted. `Inputs.values` turns a batch's columns into the
per-row parameter arrays the family's log-likelihood takes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from losscli.errors import UsageError
from losscli.request import FixSpec, ParamSpec, Request, did_you_mean

# what a parameter's domain allows, by the names families declare in `param_domains`
DOMAINS: dict[str, tuple[Callable[[float], bool], str]] = {
    "positive": (lambda v: v > 0.0, "> 0"),
    "nonnegative": (lambda v: v >= 0.0, "≥ 0"),
    "unit": (lambda v: 0.0 < v < 1.0, "in (0, 1)"),
    "probability": (lambda v: 0.0 <= v <= 1.0, "in [0, 1]"),
    "probability_below_one": (lambda v: 0.0 <= v < 1.0, "in [0, 1)"),
    "between_1_2": (lambda v: 1.0 < v < 2.0, "in (1, 2)"),
    "real": (lambda v: not math.isnan(v), "a number"),
}


@dataclass(frozen=True)
class ParamColumn:
    """A parameter given per row: its column, the form the column holds (`as`: the
    parameter's own name, log_NAME, var, log_var) and the map from column to parameter."""

    param: str
    column: str
    form: str
    to_param: Callable[[np.ndarray], np.ndarray]
    domain: str  # of the column's values (the parameter's, or "real" for a log form)


@dataclass(frozen=True)
class Inputs:
    """What a model is given besides ŷ: held constants and per-row columns."""

    fixed: dict[str, float] = field(default_factory=dict)
    columns: dict[str, ParamColumn] = field(default_factory=dict)  # by parameter
    prediction: str | None = None  # the column holding ŷ (None: the run's prediction)

    @property
    def held(self) -> frozenset[str]:
        return frozenset(self.fixed) | frozenset(self.columns)

    def pred(self, pred, columns: dict[str, np.ndarray]):
        """ŷ of these rows: the model's own prediction column, else the run's `pred`."""
        return pred if self.prediction is None else columns[self.prediction]

    @property
    def per_row(self) -> bool:
        return bool(self.columns)

    def values(self, columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The per-row parameters from the columns of a batch (or the sample)."""
        with np.errstate(over="ignore", under="ignore"):
            return {p: c.to_param(columns[c.column]) for p, c in self.columns.items()}

    def json_columns(self) -> dict[str, dict[str, str]] | None:
        """SPEC §8.1's `param_columns`: {parameter: {"column", "as"}}."""
        if not self.columns:
            return None
        return {p: {"column": c.column, "as": c.form} for p, c in self.columns.items()}


NONE = Inputs()


def resolve(req: Request, families: dict[str, object], conditional: bool,
            compare: bool) -> dict[str, Inputs]:
    """Each family's Inputs from --param and --fix. `families`: name → family instance of
    the run (in compare-noise-models its candidates). A name no family declares is a
    usage error with the closest declared names; in compare-noise-models an unqualified
    --param must match exactly one candidate (SPEC §8.1)."""
    params = req.param_specs
    fixes = req.fixed_specs
    if params and not conditional:
        raise UsageError(f"--param {params[0]}={params[0].column}: a parameter given per row "
                         "needs a prediction (conditional mode); give --pred")
    fixed: dict[str, dict[str, float]] = {n: {} for n in families}
    cols: dict[str, dict[str, ParamColumn]] = {n: {} for n in families}
    for spec in params:
        for name in _targets(spec, families, compare, "--param",
                             lambda f, s: _param_form(f, s.name, conditional) is not None,
                             lambda f: _forms(f, conditional)):
            param, to_param, domain = _param_form(families[name], spec.name, conditional)
            if param in cols[name]:
                raise UsageError(f"--param {spec}={spec.column}: {name}'s {param} is already "
                                 f"given by column {cols[name][param].column!r}")
            cols[name][param] = ParamColumn(param, spec.column, spec.name, to_param, domain)
    for spec in fixes:
        for name in _targets(spec, families, compare, "--fix",
                             lambda f, s: s.name in _fixable(f, conditional),
                             lambda f: _fixable(f, conditional)):
            fam = families[name]
            if spec.name in cols[name]:
                raise UsageError(f"--fix {spec}: {name}'s {spec.name} is given per row by "
                                 f"--param (column {cols[name][spec.name].column!r})")
            domain = fam.param_domains.get(spec.name, "real")
            ok, allowed = DOMAINS[domain]
            if not ok(spec.value) or math.isinf(spec.value):
                raise UsageError(f"--fix {spec}={spec.value:g}: {name}'s {spec.name} must be "
                                 + ("finite" if ok(spec.value) else allowed))
            fixed[name][spec.name] = spec.value
    return {n: Inputs(fixed[n], cols[n]) if fixed[n] or cols[n] else NONE for n in families}


def _targets(spec: ParamSpec | FixSpec, families: dict, compare: bool, option: str,
             declares, names) -> list[str]:
    """The families an option applies to."""
    text = f"{option} {spec}"
    if spec.family is not None:
        if spec.family not in families:
            raise UsageError(f"{text}: {spec.family} is not among the families of this run "
                             f"({', '.join(families)})")
        fam = families[spec.family]
        if not declares(fam, spec):
            known = names(fam)
            raise UsageError(f"{text}: {spec.family} has no parameter {spec.name!r}"
                             f"{did_you_mean(spec.name, known)}"
                             + (f"; it takes {', '.join(known)}" if known else
                                "; it has none to give"))
        return [spec.family]
    hits = [n for n, fam in families.items() if declares(fam, spec)]
    if not hits:
        known = sorted({k for fam in families.values() for k in names(fam)})
        raise UsageError(f"{text}: no family of this run ({', '.join(families)}) has a "
                         f"parameter {spec.name!r}{did_you_mean(spec.name, known)}")
    if compare and len(hits) > 1:
        raise UsageError(f"{text}: several candidate families have a parameter "
                         f"{spec.name!r}; name one: "
                         + ", ".join(f"{n}.{spec.name}" for n in hits))
    return hits


def _param_form(fam, name: str, conditional: bool):
    """(parameter, column → parameter, the column's domain) of a --param name, or None."""
    form = fam.param_form(name)
    if form is None or form[0] not in fam.per_row_params(conditional):
        return None
    param, to_param = form
    domain = fam.param_domains.get(param, "real") if name == param else \
        ("positive" if not name.startswith("log_") else "real")
    return param, to_param, domain


def _forms(fam, conditional: bool) -> list[str]:
    """Every --param name the family takes in this mode."""
    out = []
    for p in fam.per_row_params(conditional):
        for name in (p, f"log_{p}", *getattr(fam, "param_forms", {})):
            form = fam.param_form(name)
            if form is not None and form[0] == p and name not in out:
                out.append(name)
    return out


def _fixable(fam, conditional: bool) -> tuple[str, ...]:
    return tuple(fam.nuisance if conditional else fam.marginal_params)
