"""Comparing predictions (SPEC §10.2): for each family and each ordered pair of
predictions (a, b), the Diebold–Mariano test of the log score on the per-row
differences dᵢ = log q_b(yᵢ) − log q_a(yᵢ), each model with its own fitted nuisance.

d̄ = Σw d / W = CE_a − CE_b; se² = W/(W − 1) · W⁻² [Σwe² + 2 Σ_{l≤L} (1 − l/(L + 1))
Σₜ eₜeₜ₋ₗ] with e = d − d̄ (Newey–West with Bartlett weights, L = --hac-lag; at L = 0
§10.1's se); statistic z = d̄/se (> 0 when b is better), p = 2Φ(−|z|), the interval
d̄ ± z₍₁₊level₎/₂·se. Everything from the last pass's sums (`PairDifferences` for W, d̄
and Σwe², `SerialDifferences` for the lagged sums).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import special

DEFAULT_LEVEL = 0.95


def level(req) -> float:
    """The level of the intervals: --level where the request has it, else 0.95."""
    return float(getattr(req, "level", DEFAULT_LEVEL))


@dataclass(frozen=True)
class Plan:
    """Which pairs of scored models are compared: (family, a, b, i, j) with i (the model
    of prediction a) < j (of b), in the order of the predictions given."""

    pairs: list[tuple[str, str, str, int, int]]
    lag: int

    @property
    def indices(self) -> list[tuple[int, int]]:
        return [(i, j) for _, _, _, i, j in self.pairs]


def plan(models, predictions: list[str], lag: int) -> Plan:
    """Each family's models on every pair of predictions (a before b). `models` are in
    prediction order; a model's prediction is `prediction_of(model)`."""
    where: dict[tuple[str, str], int] = {}
    for k, m in enumerate(models):
        where.setdefault((m.name, prediction_of(m, predictions)), k)
    families = list(dict.fromkeys(m.name for m in models))
    out = []
    for fam in families:
        for x, a in enumerate(predictions):
            for b in predictions[x + 1:]:
                if (fam, a) in where and (fam, b) in where:
                    out.append((fam, a, b, where[(fam, a)], where[(fam, b)]))
    return Plan(out, lag)


def prediction_of(model, predictions: list[str]) -> str:
    """The prediction column a point model reads (the first prediction when its inputs
    name none)."""
    return model.inputs.prediction or predictions[0]


def newey_west_se(W: float, m2: float, lagged: np.ndarray | None, lag: int
                  ) -> float | None:
    """se of d̄ (None where W ≤ 1): √([m2 + 2Σ_l (1 − l/(L+1)) γ_l] / (W (W − 1))),
    `lagged` the Σₜ eₜeₜ₋ₗ for l = 1..L (None at L = 0)."""
    if not W > 1:
        return None
    total = m2
    if lag and lagged is not None:
        weights = 1.0 - np.arange(1, lag + 1) / (lag + 1.0)
        total = m2 + 2.0 * float(np.dot(weights, lagged))
    return math.sqrt(max(total, 0.0) / (W * (W - 1.0)))


def results(p: Plan, scores, at: float, scale: float = 1.0) -> list[dict]:
    """SPEC §10.2's `prediction_tests` from the last pass's states; `scale` converts
    nats to the report's unit (d̄, se and the interval; z and p have none)."""
    if not p.pairs:
        return []
    moments = [scores.pair(i, j).finalize() for _, _, _, i, j in p.pairs]
    lagged = None
    if p.lag and scores.serial is not None:
        # of the pass's log q_i − log q_j (d = log q_b − log q_a is its negative: the
        # products of centred values are the same)
        lagged = scores.serial.lagged(np.array([m[1] for m in moments]))
    quantile = float(special.ndtri(0.5 + at / 2.0))
    out = []
    for k, ((family, a, b, _, _), (W, mean, m2)) in enumerate(
            zip(p.pairs, moments, strict=True)):
        d = -mean
        se = newey_west_se(W, m2, None if lagged is None else lagged[k], p.lag)
        if se is None or not (math.isfinite(se) and math.isfinite(d)):
            # a probability 0 on an observed class (--eps 0): no test, not z = 0
            z = pv = lower = upper = None
        else:
            z, pv = (d / se, 2.0 * float(special.ndtr(-abs(d / se)))) if se > 0 else \
                (0.0, 1.0)
            lower, upper = (d - quantile * se) * scale, (d + quantile * se) * scale
        out.append({"family": family, "null": a, "alternative": b,
                    "delta_cross_entropy": d * scale,
                    "se": None if se is None else se * scale, "lower": lower,
                    "upper": upper, "statistic": z, "p_value": pv, "hac_lag": p.lag})
    return out
