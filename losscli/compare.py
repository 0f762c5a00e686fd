"""Model selection (SPEC §1.7): ranking, Akaike weights, LR and Vuong tests, recommendation."""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from losscli.families.base import total_weight, wsum
from losscli.score import Scored

# (null, alternative): the null is the alternative with a parameter on its boundary
NESTED = (("poisson", "negative_binomial"), ("gaussian", "student_t"))
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
    p = 0.5 * float(special.chdtrc(1, lr)) if lr > 0 else 1.0
    return {"kind": "likelihood_ratio", "null": null.result.family,
            "alternative": alt.result.family, "statistic": lr, "p_value": p}


def vuong(best: Scored, other: Scored, w: np.ndarray | None) -> dict:
    """Vuong's z for non-nested models: d_i = log q_best(y_i) − log q_other(y_i),
    z = √W d̄ / s, d̄ = Σ w d / W, s² = Σ w (d − d̄)² / W; two-sided p = 2Φ(−|z|).

    Summed block by block; the sums are of d − c, c the first block's mean, so the
    variance does not cancel catastrophically."""
    W = s1 = s2 = 0.0
    shift = None
    for (sl, a), (_, b) in zip(best.loglik_blocks(), other.loglik_blocks(), strict=True):
        d = a - b
        wb = None if w is None else w[sl]
        if shift is None:
            shift = wsum(d, wb) / total_weight(d.size, wb)
        d -= shift
        W += total_weight(d.size, wb)
        s1 += wsum(d, wb)
        s2 += wsum(d * d, wb)
    mean_c = s1 / W
    dbar = shift + mean_c
    var = max(s2 / W - mean_c * mean_c, 0.0)
    if not var > 0:
        z, p = 0.0, 1.0
    else:
        z = math.sqrt(W) * dbar / math.sqrt(var)
        p = 2.0 * float(special.ndtr(-abs(z)))
    return {"kind": "vuong", "null": other.result.family, "alternative": best.result.family,
            "statistic": z, "p_value": p}


def tests(ranked: list[Scored], w: np.ndarray | None) -> list[dict]:
    by_name = {s.result.family: s for s in ranked}
    out = [likelihood_ratio(by_name[a], by_name[b]) for a, b in NESTED
           if a in by_name and b in by_name]
    best = ranked[0]
    nested_with_best = {a for a, b in NESTED if b == best.result.family} | {
        b for a, b in NESTED if a == best.result.family}
    for other in ranked[1:]:
        if other.result.family not in nested_with_best:
            out.append(vuong(best, other, w))
    return out


def recommendation(best: Scored) -> dict:
    fam = best.family
    fw = fam.frameworks
    return {"family": fam.name, "loss": fam.loss, "pytorch": fw.pytorch,
            "sklearn": fw.sklearn, "xgboost": fw.xgboost, "lightgbm": fw.lightgbm,
            "transform": fam.transform}
