"""Model selection (SPEC §1.7): ranking, Akaike weights, LR and Vuong tests, recommendation.

Which pairs are nested, at which value and whether on a boundary, is what the families
declare (`Family.nests`); the Vuong test reads the last pass's moments of the per-row
log-likelihood differences of every pair of models.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import special

from losscli.errors import NUMERIC_ERRORS, InputError
from losscli.last_pass import ScorePlan, Scores
from losscli.model import Model
from losscli.noise import FAMILIES
from losscli.noise.base import FRAMEWORKS, Nesting
from losscli.rows import row_text
from losscli.scan import SAMPLE_COLUMN
from losscli.score import ModelResult, interval
from losscli.statistics import PairDifferences, mean_se


@dataclass
class Scored:
    """A fitted model, its results, and its index in the last pass's plan."""

    model: Model
    result: ModelResult
    index: int

    @property
    def family(self):
        return self.model.family


def rank(scored: list[Scored], criterion: str) -> list[Scored]:
    """Best first by the criterion; ties go to the family with fewer parameters."""
    return sorted(scored, key=lambda s: (getattr(s.result, criterion), s.result.n_params))


GUESS_ROWS = 1 << 16  # sample rows the guess of the best model reads


def likely_best(run, models: list[Model], criterion: str) -> int | None:
    """The index of the model the ranking will probably put first, from every
    ⌈sample/GUESS_ROWS⌉-th row of the seeded sample (the value counts in marginal mode on
    integer targets): what the scoring pass can diagnose on its way. A wrong guess costs
    one more pass, never a different answer; None where the sample cannot score every
    model (class probabilities are not kept in it)."""
    found = _guess_terms(run, models, criterion)
    if found is None:
        return None
    values, _, _ = found
    best = min(range(len(models)), key=lambda i: (values[i], models[i].n_params(), i))
    return best if math.isfinite(values[best]) else None


# how many of its standard errors a model's criterion may lie above the guess's, on the
# guess's rows, and still be a contender for the best
CONTENDER_Z = 5.0


def contenders(run, models: list[Model], criterion: str, best: int | None) -> list[int]:
    """The other models that the guess's rows cannot tell from model `best`: those whose
    criterion lies above its by less than CONTENDER_Z standard errors of that difference
    on those rows (the se of the scaled mean of their per-row differences). The last pass
    reduces their pairs as well, so that a near tie (a zero-inflated fit at a tiny π, the
    same family twice) ranked the other way needs no pass more."""
    found = None if best is None else _guess_terms(run, models, criterion)
    if found is None:
        return []
    values, lls, w = found
    if lls[best] is None:
        return []
    scale, W = (2.0 if criterion in ("aic", "bic") else 1.0), float(run.W)
    weights = np.ones(lls[best].size) if w is None else np.asarray(w, dtype=np.float64)
    n_eff = weights.sum() ** 2 / float(np.dot(weights, weights))
    out = []
    for j, ll in enumerate(lls):
        if j == best or ll is None or not math.isfinite(values[j]):
            continue
        with np.errstate(all="ignore"):
            d = ll - lls[best]
            mean = float(np.dot(weights, d)) / weights.sum()
            sd = math.sqrt(float(np.dot(weights, (d - mean) ** 2)) / weights.sum())
        if values[j] - values[best] < CONTENDER_Z * scale * W * sd / math.sqrt(n_eff):
            out.append(j)
    return out


def _guess_terms(run, models: list[Model], criterion: str):
    """(each model's criterion scaled to the run's weight, its per-row log-likelihoods,
    the weights) on the guess's rows; None where the sample cannot score every model."""
    if len(models) == 1:
        return [0.0], [None], None
    on_counts = not run.conditional and run.value_counts is not None
    if on_counts:
        y, w = run.value_counts
        if run.layout.labels:
            y = y.astype(np.int64)
    elif run.sample:
        step = -(-run.sample_rows // GUESS_ROWS)
        y = run.sample["y"][..., ::step]
        w = run.sample["w"][::step] if "w" in run.sample else None
        pred = run.sample["pred"][::step] if "pred" in run.sample else None
        columns = {k.removeprefix(SAMPLE_COLUMN): v[::step] for k, v in run.sample.items()
                   if k.startswith(SAMPLE_COLUMN)}
    else:
        return None
    W = float(run.W)
    values, lls = [], []
    for m in models:
        fam = m.family
        if m.conditional and (on_counts or fam.input != "point" or pred is None):
            return None
        params = m.all_params(None if on_counts else columns)
        p = pred if m.conditional else fam.marginal_pred(params)
        try:
            with np.errstate(all="ignore"):
                ll = fam.loglik(y, p, params)
                mean = float(np.mean(ll) if w is None else np.dot(ll, w) / np.sum(w))
        except (InputError, *NUMERIC_ERRORS):
            return None
        if not math.isfinite(mean):
            values.append(math.inf)
            lls.append(None)
            continue
        k = m.n_params()
        nll = -mean * W
        values.append({"aic": 2 * k + 2 * nll, "bic": k * math.log(W) + 2 * nll}.get(
            criterion, nll))
        lls.append(ll)
    return values, lls, w


def delta_uncertainty(ranked: list[Scored], scores: Scores, level: float) -> None:
    """SPEC §10.1: each model's uncertainty.delta_cross_entropy, the se of the mean of the
    per-row differences −log q_model + log q_best (the pair's moments of the last pass);
    null for the best."""
    best = ranked[0]
    for s in ranked[1:]:
        u = s.result.uncertainty
        if u is None or u.get("cross_entropy") is None:
            continue
        i, j = best.index, s.index
        W, _, m2 = scores.pair(min(i, j), max(i, j)).finalize()
        u["delta_cross_entropy"] = interval(
            s.result.cross_entropy - best.result.cross_entropy, mean_se(W, m2), level)


def best_by_slice(ranked: list[Scored]) -> dict:
    """SPEC §10.3's top-level `slices`: per value the family of lowest slice
    cross-entropy (the first in rank order on a tie)."""
    first = ranked[0].result.slices
    rows = []
    for j, row in enumerate(first["rows"]):
        best = min(ranked, key=lambda s: s.result.slices["rows"][j]["cross_entropy"])
        rows.append({"value": row["value"], "count": row["count"],
                     "best": best.result.family})
    return {"column": first["column"], "rows": rows}


def akaike_weights(aics: list[float]) -> list[float]:
    """exp(−ΔAIC/2) normalised: the relative likelihood of each model."""
    a = np.asarray(aics, dtype=np.float64)
    rel = np.exp(-(a - a.min()) / 2.0)
    return list(rel / rel.sum())


def likelihood_ratio(null: Scored, alt: Scored, at: Nesting,
                     scores: Scores | None = None) -> dict:
    """LR = 2(nll_null − nll_alt), floored at 0, for the nesting `at` of null in alt.
    Where the null sits on the boundary of the parameter's space, p = ½ P(χ²₁ > LR) for
    LR > 0 and 1 at LR = 0 (the ½χ²₀ + ½χ²₁ mixture); where it is inside
    (`Nesting.boundary` false), p = P(χ²₁ > LR)."""
    lr = max(2.0 * _nll_gap(null, alt, scores), 0.0)
    if alt.model.params.get(at.param) == at.value:
        lr = 0.0  # the alternative's fit is the null model: only optimiser noise differs
    tail = float(special.chdtrc(1, lr))
    p = (0.5 * tail if lr > 0 else 1.0) if at.boundary else tail
    return {"kind": "likelihood_ratio", "null": null.result.family,
            "alternative": alt.result.family, "statistic": lr, "p_value": p}


def _nll_gap(null: Scored, alt: Scored, scores: Scores | None) -> float:
    """nll_null − nll_alt. Where the last pass reduced the pair's per-row differences,
    their weighted sum W·d̄: a small gap between two large totals then keeps its digits
    (the difference of the totals carries an ulp of each, ~1e-13 at a thousand rows, and
    that rounding depends on how the rows were batched). Else the totals' difference."""
    gap = null.result.nll - alt.result.nll
    if scores is None or not math.isfinite(gap):
        return gap
    i, j = alt.index, null.index
    key = (min(i, j), max(i, j))
    if key not in scores.plan.pairs:
        return gap
    W, mean, _ = scores.pair(*key).finalize()
    total = W * mean  # Σ w (log q_i − log q_j), i < j
    if not math.isfinite(total):
        return gap
    return total if i < j else -total


def nested_pairs(ranked: list[Scored]) -> list[tuple[Scored, Scored, Nesting]]:
    """(null, alternative, nesting) for every declared nesting whose two families were
    fitted, in registry order of the alternative, then of its declarations.
    A model given parameters per row or held (--param, --fix) nests no other: the null
    is then not the alternative at a boundary value (their pair gets Vuong's test)."""
    by_name = {s.result.family: s for s in ranked}
    order = list(FAMILIES)  # registry order: the list does not move with the ranking
    alts = sorted((s for s in ranked if not s.model.inputs.held),
                  key=lambda s: order.index(s.result.family))
    return [(by_name[at.family], s, at) for s in alts for at in s.family.nests
            if at.family in by_name and not by_name[at.family].model.inputs.held]


def nested_indices(models: list, groups: list[list[int]]) -> list[tuple[int, int]]:
    """(i, j), i < j, of the models of each group (one prediction column) that
    `nested_pairs` will pair: the last pass reduces their per-row differences, from which
    the LR statistic is read (`_nll_gap`), whatever model it guessed best."""
    out = []
    for g in groups:
        by_name = {models[i].name: i for i in g if not models[i].inputs.held}
        for j in by_name.values():
            for at in models[j].family.nests:
                i = by_name.get(at.family)
                if i is not None:
                    out.append((min(i, j), max(i, j)))
    return out


def contained(fam) -> set[str]:
    """The families `fam` nests, directly (`Family.nests`) or through a chain of nestings
    (zero_inflated_negative_binomial ⊃ negative_binomial ⊃ poisson)."""
    out: set[str] = set()
    todo = [at.family for at in fam.nests]
    while todo:
        name = todo.pop()
        if name not in out:
            out.add(name)
            todo += [at.family for at in FAMILIES[name].nests]
    return out


def nests_either_way(a: Scored, b: Scored) -> bool:
    """One of the two models' families nests the other's, directly or through a chain; a
    model given parameters per row or held nests no other (as in `nested_pairs`)."""
    if a.model.inputs.held or b.model.inputs.held:
        return False
    return b.result.family in contained(a.family) or a.result.family in contained(b.family)


def vuong(best: Scored, other: Scored, scores: Scores, plan: ScorePlan,
          warnings: list[str] | None = None, classes: list[str] | None = None,
          alpha: float = 0.05, run=None) -> dict:
    """Vuong's z for non-nested models: d_i = log q_best(y_i) − log q_other(y_i),
    z = √W d̄ / s, d̄ = Σ w d / W, s² = Σ w (d − d̄)² / W; two-sided p = 2Φ(−|z|);
    z = 0, p = 1 when s = 0. The moments of d come from the last pass. When one row makes
    more than DOMINANT_SHARE of Σ w (d − d̄)² and the test without it (`without_row`) reads
    differently at `alpha`, a warning in `warnings` says so."""
    i, j = best.index, other.index
    pair = scores.pair(min(i, j), max(i, j))
    sign = 1.0 if i < j else -1.0
    W, dbar, m2 = pair.finalize()
    dbar = sign * dbar
    z, p = _z(W, dbar, m2)
    if warnings is not None and m2 > 0 and math.isfinite(m2):
        found = dominant_row(pair, plan, run)
        if found is not None:
            share, where, d, w = found
            z2, p2 = _z(*without_row(W, dbar, m2, sign * d, w))
            if _verdict(z, p, alpha) != _verdict(z2, p2, alpha):
                if not isinstance(where, str):  # on value counts: a row holding that value
                    where = (f"one row of class {classes[int(where)]!r}" if plan.labels
                             and classes else f"one row with target {where:g}")
                warnings.append(
                    f"vuong test of {best.result.family} against {other.result.family}: "
                    f"{where} alone makes {share:.0%} of the variance of the per-row "
                    f"log-likelihood differences, and the test reads differently without "
                    f"it: z = {z:.3g} ({_p(p)}) with it, z = {z2:.3g} ({_p(p2)}) without")
    return {"kind": "vuong", "null": other.result.family, "alternative": best.result.family,
            "statistic": z, "p_value": p}


def _z(W: float, dbar: float, m2: float) -> tuple[float, float]:
    """Vuong's z = √W d̄ / s with s² = m2 / W, and its two-sided p (0 and 1 when s = 0)."""
    var = max(m2 / W, 0.0) if W > 0 else 0.0
    if not (var > 0 and math.isfinite(var)):
        return 0.0, 1.0
    z = math.sqrt(W) * dbar / math.sqrt(var)
    return z, 2.0 * float(special.ndtr(-abs(z)))


def without_row(W: float, dbar: float, m2: float, d: float, w: float
                ) -> tuple[float, float, float]:
    """(W′, d̄′, m2′) of the weighted moments with one row (d, weight w) taken out:
    W′ = W − w, d̄′ = (W d̄ − w d)/W′, m2′ = m2 − w (d − d̄)² W/W′ (as d − d̄′ = (d − d̄) W/W′)."""
    rest = W - w
    if not rest > 0:
        return 0.0, 0.0, 0.0
    return rest, (W * dbar - w * d) / rest, max(m2 - w * (d - dbar) ** 2 * W / rest, 0.0)


def _verdict(z: float, p: float, alpha: float) -> int:
    """+1 the best fits better at `alpha`, −1 the other does, 0 the test does not tell."""
    return 0 if not p < alpha else (1 if z > 0 else -1)


def _p(p: float) -> str:
    return f"p = {p:.2g}" if p >= 1e-300 else "p < 1e-300"


DOMINANT_SHARE = 0.5  # one row's share of Σ w (d − d̄)² beyond which a Vuong test warns


def dominant_row(pair: PairDifferences, plan: ScorePlan, run=None
                 ) -> tuple[float, str | float, float, float] | None:
    """(share, where, d, w) for the row of the pair whose w (d − d̄)² is the largest part of
    Σ w (d − d̄)², when that share exceeds DOMINANT_SHARE; else None (d in the pair's own
    order). The candidates are the rows of largest and smallest d (exactly the largest
    |d − d̄| without weights). `where` is "row r" (with `run`, of several files: the file
    and its row there too), or the target value where the pass ran on value counts."""
    _, dbar, m2 = pair.finalize()
    if not (m2 > 0 and math.isfinite(m2)):
        return None
    best = None
    for d, label, w in pair.extreme_rows():
        if not math.isfinite(d):
            continue
        share = w * (d - dbar) ** 2 / m2
        if best is None or share > best[0]:
            best = (share, label, d, w)
    if best is None or not best[0] > DOMINANT_SHARE:
        return None
    share, label, d, w = best
    if not plan.rows_known:
        return min(share, 1.0), label, d, w
    row = int(label)
    return min(share, 1.0), (f"row {row}" if run is None else row_text(run, row)), d, w


def tests(ranked: list[Scored], scores: Scores, plan: ScorePlan,
          warnings: list[str] | None = None, classes: list[str] | None = None,
          alpha: float = 0.05, run=None) -> list[dict]:
    """LR tests for the nested pairs present, then Vuong tests of the best against every
    family not nested with it, directly or through a chain of nestings (Vuong's null
    distribution is not normal there: SPEC §9.2); a warning in `warnings` where one row
    decides one at `alpha`."""
    pairs = nested_pairs(ranked)
    out = [likelihood_ratio(null, alt, at, scores) for null, alt, at in pairs]
    best = ranked[0]
    nested = {a.result.family for n, a, _ in pairs if n is best} | {
        n.result.family for n, a, _ in pairs if a is best}
    return out + [vuong(best, o, scores, plan, warnings, classes, alpha, run)
                  for o in ranked[1:]
                  if o.result.family not in nested and not nests_either_way(best, o)]


def usable_frameworks(s: Scored, run) -> dict:
    """The family's framework loss names where that loss accepts every target in the
    data (gamma deviance and squared error on log y need y > 0: a discretised family on
    counts with zeros has none); None for the others."""
    fam = s.family
    fw = fam.frameworks
    names = fw.names()
    if fam.input == "point" and run.scan.outside[fam.loss_support or fam.support].row \
            is not None:
        return dict.fromkeys(names)
    for symbol, param in fam.framework_values.items():
        value = {**s.model.inputs.fixed, **s.model.params}.get(param)
        if value is not None and np.ndim(value) == 0:
            names = {k: v if v is None else v.replace(symbol, f"{float(value):.2f}")
                     for k, v in names.items()}
    return names


def _entry(s: Scored, run) -> dict:
    return {"family": s.result.family, "loss": s.family.loss, **usable_frameworks(s, run),
            "transform": s.family.transform}


def ties(ranked: list[Scored], tests: list[dict], alpha: float) -> list[str]:
    """The families the best one does not beat at level `alpha` by its LR or Vuong test,
    in rank order. A Vuong test beats the other when p < alpha with z > 0; an LR test
    only when the best is the larger family and p < alpha (an LR test never rejects the
    larger family in favour of the smaller one)."""
    best = ranked[0].result.family
    tied = set()
    for t in tests:
        if best not in (t["null"], t["alternative"]):
            continue
        other = t["null"] if t["alternative"] == best else t["alternative"]
        p = t["p_value"]
        significant = p is not None and p < alpha
        if t["kind"] == "vuong":
            beats = significant and (t["statistic"] or 0.0) > 0.0
        else:
            beats = significant and t["alternative"] == best
        if not beats:
            tied.add(other)
    return [s.result.family for s in ranked[1:] if s.result.family in tied]


def recommendation(ranked: list[Scored], run, tests: list[dict], alpha: float) -> dict:
    """The best family's loss and its framework names (SPEC §1.7), each only where that
    framework's loss accepts every target. Where none is usable, `alternative` is the
    family to train with instead, in the same shape plus a `reason`: the best-ranked one
    the best family nests (directly or through a chain) with a usable loss for the same
    prediction (Poisson loss for the mean of a negative binomial or a zero-inflated
    NB), else the best-ranked family with a usable loss; null when there is none.
    `ties`: the families the best one does not beat at `alpha`."""
    best = ranked[0]
    out = _entry(best, run)
    out["alternative"] = None
    if not any(out[k] for k in FRAMEWORKS):
        fam = best.family
        nested = contained(fam)
        prefer = [s for s in ranked[1:] if s.result.family in nested
                  and fam.prediction == s.family.prediction]
        alt = next((s for s in prefer + ranked[1:]
                    if any(usable_frameworks(s, run).values())), None)
        if alt is not None:
            why = ("no framework has a built-in loss for it" if not _has_builtin(fam) else
                   "its framework losses do not accept every target "
                   f"(they need {(fam.loss_support or fam.support).description})")
            how = (f"{alt.result.family} is nested in it and predicts the same "
                   f"{fam.prediction}" if alt in prefer else
                   f"{alt.result.family} is the best-ranked family with a usable loss")
            out["alternative"] = {**_entry(alt, run), "reason": f"{best.result.family}: "
                                  f"{why}; {how}"}
    out["ties"] = ties(ranked, tests, alpha)
    return out


def _has_builtin(fam) -> bool:
    return any(fam.frameworks.names().values())
