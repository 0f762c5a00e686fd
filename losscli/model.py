"""A model: a noise family fitted on a run, with its parameters and how its prediction is
read (the per-row prediction column in conditional mode, the fitted location in marginal
mode)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from losscli.noise import FAMILIES
from losscli.noise.base import ContinuousFamily, Params
from losscli.noise.discretised import Discretised

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


def make_family(run: Run, name: str, counting: bool):
    """The family object for this run: discretised when the base measure is counting."""
    fam = FAMILIES[name](run.classes)
    if counting and isinstance(fam, ContinuousFamily):
        return Discretised(fam)
    return fam


def marginal_pred(model: Model) -> Any:
    """What a marginal model predicts for every row: its fitted location."""
    return model.family.marginal_pred(model.params)
