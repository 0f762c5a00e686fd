"""Base measures (SPEC §1.6): what a family's likelihood is a density with respect to.

A log-likelihood is comparable with another only on the same base measure. On the
Lebesgue measure a continuous family is scored by its density; on the counting measure a
discrete family by its probabilities, and a continuous one by the probability of the
unit interval around each integer (`Discretised`). The measure also fixes how H(P) is
estimated (SPEC §1.5) and what kind of PIT a family on it has (SPEC §7.3). SPEC §9.1 adds
a measure with an atom at zero (`ATOM_AT_ZERO`: counting at 0, Lebesgue on y > 0): a
family with a point mass at 0 is scored as it is, a density is censored at 0 (`Censored`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BaseMeasure:
    name: str  # as the JSON says it
    discrete: bool  # probabilities of points: entropies of labels, plug-in on values
    pit: str  # "exact" (u = F(y)) or "nonrandomized" (u spread over [F(y−1), F(y)])
    # how a family declared on another measure is scored on this one: "density" (as it
    # is), "intervals" (a density on unit intervals, `Discretised`) or "censored" (a
    # density censored at 0, a mass at 0 kept, `Censored`)
    scoring: str = "density"
    # whether `evaluate` scores the families on it too (on the counting measure it keeps
    # the densities, SPEC §3; the censored ones are the only likelihood of a zero)
    in_evaluate: bool = True
    zero_atom: bool = False  # counting at 0, Lebesgue on y > 0

    def entropy_method(self, conditional: bool, soft: bool) -> str:
        """How H(P) is estimated on this measure (SPEC §1.5): soft labels by their mean
        entropy; on points, 0 for hard labels given a prediction, else the plug-in
        entropy of the values; on the line, the spacing estimate."""
        if soft:
            return "soft-labels"
        if self.discrete:
            return "hard-labels" if conditional else "plug-in"
        return "atom-spacing" if self.zero_atom else "spacing"


LEBESGUE = BaseMeasure("lebesgue", discrete=False, pit="exact")
COUNTING = BaseMeasure("counting", discrete=True, pit="nonrandomized", scoring="intervals",
                       in_evaluate=False)
ATOM_AT_ZERO = BaseMeasure("atom_at_zero", discrete=False, pit="nonrandomized",
                           scoring="censored", zero_atom=True)
