"""Model selection (SPEC §1.7): ranking, Akaike weights, LR and Vuong tests, recommendation."""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from losscli.families.base import total_weight, wsum
from losscli.score import Scored

# (null, alternative, parameter, value): the null is the alternative with that parameter
# at that boundary value
NESTED_AT = (("poisson", "negative_binomial", "alpha", 0.0),
             ("gaussian", "student_t", "df", math.inf))
NESTED = tuple((a, b) for a, b, _, _ in NESTED_AT)
SIGNIFICANCE = 0.05


def criterion_value(s: Scored, criterion: str) -> float:
    return getattr(s.result, criterion)


def rank(scored: list[Scored], criterion: str) -> list[Scored]:
    """Best first by the criterion; ties go to the family with fewer parameters."""
    return sorted(scored, key=lambda s: (criterion_value(s, criterion), s.result.n_params))


def akaike_weights(aics: list[float]) -> list[float]:
    """exp(−ΔAIC/2) normalised: the relative likelihood of each model."""
    a = np.asarray(aics, dtype=np.float64)
    rel = np.exp(-(a - a.min()) / 2.0)
    return list(rel / rel.sum())


def likelihood_ratio(null: Scored, alt: Scored) -> dict:
    """LR = 2(nll_null − nll_alt), floored at 0; the null sits on the boundary, so
    p = ½ P(χ²₁ > LR) for LR > 0 and 1 at LR = 0 (the ½χ²₀ + ½χ²₁ mixture)."""
    lr = max(2.0 * (null.result.nll - alt.result.nll), 0.0)
    at = next(((p, v) for a, b, p, v in NESTED_AT
               if (a, b) == (null.result.family, alt.result.family)), None)
    if at is not None and alt.params.get(at[0]) == at[1]:
        lr = 0.0  # the alternative's fit is the null model: only optimiser noise differs
    p = 0.5 * float(special.chdtrc(1, lr)) if lr > 0 else 1.0
    return {"kind": "likelihood_ratio", "null": null.result.family,
            "alternative": alt.result.family, "statistic": lr, "p_value": p}


class _Moments:
    """Weighted Σw, Σw d, Σw d² of d − c, c the first block's mean, so that the variance
    does not cancel catastrophically when d̄ is large against its spread."""

    def __init__(self) -> None:
        self.shift: float | None = None
        self.W = self.s1 = self.s2 = 0.0

    def add(self, d: np.ndarray, w: np.ndarray | None) -> None:
        W = total_weight(d.size, w)
        if self.shift is None:
            self.shift = wsum(d, w) / W
        d -= self.shift
        self.W += W
        self.s1 += wsum(d, w)
        self.s2 += wsum(d * d, w)

    def mean_var(self) -> tuple[float, float]:
        m = self.s1 / self.W
        return self.shift + m, max(self.s2 / self.W - m * m, 0.0)


def vuong_tests(best: Scored, others: list[Scored], w: np.ndarray | None) -> list[dict]:
    """Vuong's z for non-nested models, best against each other one, in one pass:
    d_i = log q_best(y_i) − log q_other(y_i), z = √W d̄ / s, d̄ = Σ w d / W,
    s² = Σ w (d − d̄)² / W; two-sided p = 2Φ(−|z|); z = 0, p = 1 when s = 0."""
    if not others:
        return []
    moments = [_Moments() for _ in others]
    streams = [o.loglik_blocks() for o in others]
    for sl, a in best.loglik_blocks():
        wb = None if w is None else w[sl]
        for mom, stream in zip(moments, streams, strict=True):
            _, b = next(stream)
            mom.add(a - b, wb)
    out = []
    for other, mom in zip(others, moments, strict=True):
        dbar, var = mom.mean_var()
        if var > 0:
            z = math.sqrt(mom.W) * dbar / math.sqrt(var)
            p = 2.0 * float(special.ndtr(-abs(z)))
        else:
            z, p = 0.0, 1.0
        out.append({"kind": "vuong", "null": other.result.family,
                    "alternative": best.result.family, "statistic": z, "p_value": p})
    return out


def tests(ranked: list[Scored], w: np.ndarray | None) -> list[dict]:
    """LR tests for the nested pairs present, then Vuong tests of the best against every
    family not nested with it."""
    by_name = {s.result.family: s for s in ranked}
    out = [likelihood_ratio(by_name[a], by_name[b]) for a, b in NESTED
           if a in by_name and b in by_name]
    best = ranked[0]
    nested = {a for a, b in NESTED if b == best.result.family} | {
        b for a, b in NESTED if a == best.result.family}
    return out + vuong_tests(best, [o for o in ranked[1:] if o.result.family not in nested], w)


def recommendation(ranked: list[Scored]) -> dict:
    """The best family's loss and its framework names (SPEC §1.7). When no framework has
    it built in, `alternative` names the family to train with instead: the one the best
    family nests if it has a built-in loss for the same prediction (Poisson loss for the
    negative binomial's mean), else the best-ranked family with a built-in loss whose
    support holds every target (gamma deviance is undefined at y = 0); null otherwise."""
    best = ranked[0]
    fam = best.family
    fw = fam.frameworks
    out = {"family": fam.name, "loss": fam.loss, "pytorch": fw.pytorch,
           "sklearn": fw.sklearn, "xgboost": fw.xgboost, "lightgbm": fw.lightgbm,
           "transform": fam.transform}
    out["alternative"] = None
    if not _has_builtin(fam):
        nested = {b: a for a, b in NESTED}
        prefer = [s for s in ranked[1:] if s.result.family == nested.get(fam.name)
                  and fam.prediction == s.family.prediction]
        others = [s for s in ranked[1:] if s.family.classifier or bool(
            np.all(s.family.support.contains(s.y)))]
        alt = next((s for s in prefer + others if _has_builtin(s.family)), None)
        out["alternative"] = alt.result.family if alt is not None else None
    return out


def _has_builtin(fam) -> bool:
    fw = fam.frameworks
    return any((fw.pytorch, fw.sklearn, fw.xgboost, fw.lightgbm))
