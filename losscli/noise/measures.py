"""Base measures (SPEC §1.6): what a family's likelihood is a density with respect to.

A log-likelihood is comparable with another only on the same base measure. On the
Lebesgue measure a continuous family is scored by its density; on the counting measure a
discrete family by its probabilities, and a continuous one by the probability of the
unit interval around each integer (`Discretised`). The measure also fixes how H(P) is
estimated (SPEC §1.5) and what kind of PIT a family on it has (SPEC §7.3). SPEC §9.1 adds
a measure with an atom at zero.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BaseMeasure:
    name: str  # as the JSON says it
    discrete: bool  # probabilities of points: entropies of labels, plug-in on values
    pit: str  # "exact" (u = F(y)) or "nonrandomized" (u spread over [F(y−1), F(y)])

    def entropy_method(self, conditional: bool, soft: bool) -> str:
        """How H(P) is estimated on this measure (SPEC §1.5): soft labels by their mean
        entropy; on points, 0 for hard labels given a prediction, else the plug-in
        entropy of the values; on the line, the spacing estimate."""
        if soft:
            return "soft-labels"
        if self.discrete:
            return "hard-labels" if conditional else "plug-in"
        return "spacing"


LEBESGUE = BaseMeasure("lebesgue", discrete=False, pit="exact")
COUNTING = BaseMeasure("counting", discrete=True, pit="nonrandomized")
