"""A family as it is scored on a base measure (SPEC §1.6, §9.1): the measure says how
(`BaseMeasure.scoring`), this module builds the wrapper."""

from __future__ import annotations

from losscli.noise.censored import Censored
from losscli.noise.discretised import Discretised
from losscli.noise.measures import BaseMeasure


def family_on(measure: BaseMeasure, fam):
    """`fam` as scored on `measure`: itself when it is declared on it or the measure
    scores densities; on the counting measure a density's unit intervals; on the atom at
    zero a density censored at 0 (a family with a point mass at 0, `Family.zero_mass`,
    keeps its own log P(0))."""
    if fam.measure == measure or measure.scoring == "density":
        return fam
    if measure.scoring == "intervals":
        return fam if fam.measure.discrete else Discretised(fam)
    return Censored(fam) if Censored.applies(fam) else fam
