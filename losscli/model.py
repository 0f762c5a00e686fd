"""A model: a noise family plus its inputs — ŷ (the per-row prediction column in
conditional mode, the fitted location in marginal mode), parameters given per row by
columns, parameters held at a value, and the fitted constants. Every statistic reads a
model's prediction and parameters through `Model.args` (a batch) or `Model.all_params`
(columns in memory), so per-row and constant parameters go through the same
log-likelihood."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from losscli.inputs import NONE, Inputs
from losscli.noise import FAMILIES
from losscli.noise.base import Params
from losscli.noise.measures import BaseMeasure
from losscli.noise.on_measure import family_on

if TYPE_CHECKING:
    from losscli.run import Run


@dataclass
class Model:
    """A family fitted on this run, and how its prediction is read."""

    name: str
    family: Any
    params: Params
    conditional: bool
    fit_rows: int
    warnings: list[str] = field(default_factory=list)
    baseline: Model | None = None  # the same family fitted to the target alone
    baseline_error: str | None = None
    from_sample: bool = False  # fitted on the seeded sample (not every row)
    inputs: Inputs = NONE  # parameters given per row or held (--param, --fix)
    factor: float | None = None  # the spread widened by this factor (Family.widen)
    # (parameters, −Hessian of Σ w log q in the fitted coordinates, log of a positive
    # parameter) over the fit's rows: from the fit's last Newton step
    # (`Family.fit_with_information`), or from the last Newton pass over every row
    # (--fit-rows all)
    information: tuple[tuple[str, ...], Any] | None = None

    @property
    def free(self) -> tuple[str, ...]:
        """The parameters fitted in the model's mode (neither given nor held)."""
        fam = self.family
        names = fam.nuisance if self.conditional else fam.marginal_params
        held = self.inputs.held
        return tuple(p for p in names if p not in held)

    def numeric_params(self) -> tuple[str, ...]:
        """The fitted parameters a Newton polish over every row refines."""
        held = self.inputs.held
        return tuple(p for p in self.family.numeric_params(self.conditional) if p not in held)

    def n_params(self) -> int:
        """How many parameters were fitted (AIC/BIC's k): given and held ones are not."""
        k = self.family.n_params(self.params, self.conditional)
        held = self.inputs.held
        names = self.family.nuisance if self.conditional else self.family.marginal_params
        return k - sum(1 for p in names if p in held)

    def all_params(self, columns: dict | None = None) -> Params:
        """The fitted constants, the held values and the per-row parameters read from
        `columns` (a batch's, or the sample's), as the family's methods take them."""
        if not self.inputs.held:
            return self.params
        out = dict(self.inputs.fixed)
        out.update(self.params)
        if self.inputs.columns and self.conditional:
            out.update(self.inputs.values(columns or {}))
        return out if self.factor is None else self.family.widen(out, self.factor)

    def args(self, b) -> tuple[Any, Params]:
        """(prediction, parameters) of a batch of point or marginal rows."""
        params = self.all_params(b.columns)
        if not self.conditional:
            return self.family.marginal_pred(params), params
        return self.inputs.pred(b.pred, b.columns), params

    @property
    def point_key(self) -> str:
        """What the point metrics of this model's ŷ are keyed by: its prediction column,
        or its fitted location in marginal mode."""
        if not self.conditional:
            return f"{self.name}.location"
        col = self.inputs.prediction
        return "prediction" if col is None else f"column:{col}"


def make_family(run: Run, name: str, measure: BaseMeasure | None = None):
    """The family object for this run, as scored on `measure` (None: its own): a density
    on unit intervals on the counting measure (SPEC §1.6), censored at 0 on the atom at
    zero (SPEC §9.1)."""
    fam = FAMILIES[name](run.classes)
    return fam if measure is None else family_on(measure, fam)


def marginal_pred(model: Model) -> Any:
    """What a marginal model predicts for every row: its fitted location."""
    return model.family.marginal_pred(model.all_params())
