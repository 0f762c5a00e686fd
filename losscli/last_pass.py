"""The last pass (SPEC §5): every row scored under every fitted model — log-likelihood
sums, baselines, metrics and the Vuong sums of every pair of models. Marginal runs on
integer targets or class labels score the value counts instead, at a cost independent
of the rows."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from losscli.batches import Batch, zero_probability
from losscli.errors import NUMERIC_ERRORS, InputError, numeric_reason
from losscli.model import Model, marginal_pred
from losscli.proper_scores import ProperScores
from losscli.quantile_forecasts import QuantileForecasts
from losscli.reduce import First, Joint, Sum, wsum
from losscli.rows import file_of as rows_file
from losscli.statistics import (
    Baseline,
    ClassifierMetrics,
    Deviance,
    LogLikelihood,
    PairDifferences,
    PointErrors,
    SerialDifferences,
    Slices,
    Spread,
)

if TYPE_CHECKING:
    from losscli.run import Run

BLOCK = 1 << 18  # rows per block inside a batch: each model's temporaries stay 2 MiB, and
# the Python between numpy calls (which holds the lock the threads share) is paid per block


class Scores:
    """The last pass's state for the models of a run: per model its log-likelihood
    (`ll[i]`), baseline, classifier metrics (`cls[i]`) and deviance (`dev[i]`); per point
    prediction its errors (`point_errors(i)` for model i); per pair of models the
    differences of their log-likelihoods (`pair(i, j)`). All sums compensated."""

    def __init__(self, plan: ScorePlan) -> None:
        self.plan = plan
        m = len(plan.models)
        self.ll = [LogLikelihood() for _ in range(m)]
        self.baseline = [Baseline() for _ in range(m)]
        self.bad = [First() for _ in range(m)]
        self.failed: list[str | None] = [None] * m  # why a model could not be scored
        self.zero = [0] * m  # rows whose observed class has probability 0 (--eps 0)
        self.zero_first = [First() for _ in range(m)]
        self.clipped = 0
        self.first_clipped = First()
        self.cls = [ClassifierMetrics() for _ in range(m)]
        # per model whose family scores independent labels: Σ w log q of each label
        self.labels = {i: Sum(len(model.family.classes)) for i, model in
                       enumerate(plan.models) if model.family.independent_labels}
        self.point = [PointErrors() for _ in plan.point_keys]  # one per distinct ŷ
        self.dev = [Deviance() for _ in range(m)]
        self.pairs = [PairDifferences() for _ in plan.pairs]
        # SPEC §10.2: the lagged sums of the pairs of predictions (--hac-lag > 0)
        self.serial = SerialDifferences(len(plan.serial), plan.hac_lag) \
            if plan.serial and plan.hac_lag else None
        self._segment = None  # the rows of the batch being read, for `serial`
        # SPEC §10.1: per model the moments of its per-row terms (standard errors)
        self.spread = [Spread(names) for names in plan.spread]
        # SPEC §10.3 (--by): per value of the column, every model's moments
        self.slices = None if plan.by is None else Slices(2 * m, plan.by[1], plan.by[2],
                                                         plan.by[0])
        # SPEC §8.3's CRPS and central intervals, per model asked for (--scores)
        self.proper = {i: ProperScores() for i in plan.proper}
        # SPEC §8.4's quantiles block (--quantiles): levels and their columns
        self.quantiles = None if plan.quantiles is None else QuantileForecasts(
            *plan.quantiles)

    def update(self, b: Batch) -> Scores:
        if self.serial is not None:
            self._segment = self.serial.segment(b.offset, b.offset + b.n_read)
        for s in range(0, b.n, BLOCK):
            self._block(b.block(s, min(s + BLOCK, b.n)))
        if self.serial is not None:
            self.serial.add(self._segment)
            self._segment = None
        return self

    def _block(self, b: Batch) -> None:
        plan = self.plan
        y, w = b.y, b.w
        lls = []
        baselines: dict[int, np.ndarray] = {}  # a baseline shared by models: scored once
        where: dict[int, np.ndarray] = {}  # the rows' index into a shared baseline table
        label_h = None
        if plan.soft and any("kl" in names for names in plan.spread):
            label_h = _label_entropy(y)
        slice_rows = None if self.slices is None else np.zeros((2 * len(plan.models), b.n))
        for i, model in enumerate(plan.models):
            fam = model.family
            pred = self._pred(model, b, i)
            if self.failed[i] is not None:
                lls.append(np.zeros(b.n))
                continue
            try:
                params = model.all_params(b.columns)
                ll = fam.loglik(y, pred, params)
                total = self.ll[i].update(ll, w)
            except InputError:
                raise
            except NUMERIC_ERRORS as exc:  # this family cannot score these rows
                self.failed[i] = numeric_reason(exc)
                lls.append(np.zeros(b.n))
                continue
            if not math.isfinite(total):
                bad = ~np.isfinite(ll)
                j = int(np.argmax(bad))
                yv = y[..., j]
                pv = pred[j] if np.ndim(pred) == 1 else None
                self.bad[i].offer(b.row(j) if b.rows_known else 0,
                                  (float(yv) if np.ndim(yv) == 0 and not self.plan.labels
                                   else None, None if pv is None else float(pv)))
            lls.append(ll)
            if i in self.labels:
                self.labels[i].add(wsum(fam.label_loglik(y, pred, params), w))
            if self.proper.get(i) is not None:
                try:
                    self.proper[i].update(fam, y, pred, params, w)
                except NUMERIC_ERRORS:  # reported as null, with a note
                    self.proper[i] = None
            base = None
            if model.baseline is not None and plan.baseline_on_rows and plan.reported[i]:
                bm = model.baseline
                if id(bm) not in baselines:
                    baselines[id(bm)] = bm.family.loglik(y, marginal_pred(bm),
                                                         bm.all_params())
                base = baselines[id(bm)]
                self.baseline[i].update(base, w)
            elif plan.baseline_table[i] is not None:  # from the value counts' table
                values, table = plan.baseline_table[i]
                at = where.get(id(values))
                if at is None:  # the rows' places among the values, found once a block
                    at = where[id(values)] = np.clip(np.searchsorted(values, y), 0,
                                                     values.size - 1)
                base = table[at]
            names = plan.spread[i]
            if names:
                self.spread[i].update(_terms(names, ll, base, label_h), w)
            if slice_rows is not None:
                np.negative(ll, out=slice_rows[2 * i])
                if base is not None:
                    np.subtract(ll, base, out=slice_rows[2 * i + 1])
            if fam.input != "point":
                self.cls[i].update(y, pred, w, fam.input == "probability",
                                   len(fam.classes) if fam.independent_labels else 0)
            elif fam.deviance is not None and plan.deviance_ok[i]:
                yhat = fam.point_prediction(pred)
                at = (params,) if fam.deviance_params else ()
                self.dev[i].update(fam.deviance(y, yhat, *at), fam.deviance(y, plan.ybar, *at),
                                   w)
        if self.quantiles is not None:
            given = self.plan.quantiles[1]  # in the order the block was made with
            self.quantiles.update(y, np.stack([b.columns[c] for c in given]), w)
        for errors, source in zip(self.point, plan.point_keys.values(), strict=True):
            errors.update(y, b.pred if source is None else (
                b.columns[source] if isinstance(source, str) else source), w)
        if self._segment is not None:
            self._segment.extend(np.stack([lls[i] - lls[j] for i, j in plan.serial]))
        if slice_rows is not None:
            self.slices.update(b.by[0], b.by[1], slice_rows, w)
        if plan.pairs:
            block = np.empty((len(plan.pairs), b.n))
            for k, (i, j) in enumerate(plan.pairs):
                np.subtract(lls[i], lls[j], out=block[k])
            # each pair's rows of largest and smallest difference (does one row
            # dominate?): rows by 1-based number; on value counts a "row" is a value and
            # its weight many rows, so there each is labelled by its value and weighs one
            if b.rows_known:
                PairDifferences.update_all(self.pairs, block, b.rows() + 1.0, w, w)
            else:
                PairDifferences.update_all(self.pairs, block,
                                           np.asarray(y, dtype=np.float64), w, None)

    def _pred(self, model: Model, b: Batch, i: int) -> Any:
        fam = model.family
        if not model.conditional:
            return marginal_pred(model)
        if fam.input == "point":
            return model.inputs.pred(b.pred, b.columns)
        prediction = self.plan.groups.get(model.inputs.prediction)
        if prediction is not None:  # a further class-probability group (SPEC §10.2)
            logq = b.columns[model.inputs.prediction]
        elif b.logq is not None:
            logq = b.logq
        else:
            from losscli.batches import probability_block

            column = self.plan.prediction[0]
            logq, clipped = probability_block(b, column, self.plan.eps)
            self.clipped += clipped
            if clipped and b.rows_known:
                eps = self.plan.eps
                j = int(np.argmax((b.pred < eps) | (b.pred > 1.0 - eps)))
                self.first_clipped.offer(b.row(j), float(b.pred[j]), column)
        hit = zero_probability(b, logq, prediction or self.plan.prediction)
        if hit is not None:  # --eps 0 and a probability of 0 on an observed class
            self.zero[i] += hit[0]
            self.zero_first[i].offer(hit[1], hit[3], hit[2])
        return logq

    def point_errors(self, i: int) -> PointErrors:
        """The errors of model i's point prediction (shared by the models with that ŷ)."""
        return self.point[self.plan.point_index[i]]

    def pair(self, i: int, j: int) -> PairDifferences:
        """The differences log q_i − log q_j of models i < j (a pair of the plan)."""
        return self.pairs[self.plan.pairs.index((i, j))]

    def adopt_pairs(self, other: Scores) -> None:
        """Take over the pairs of another pass over the same models (pairs this one did
        not reduce)."""
        for pair, state in zip(other.plan.pairs, other.pairs, strict=True):
            if pair not in self.plan.pairs:
                self.plan.pairs.append(pair)
                self.pairs.append(state)

    def merge(self, other: Scores) -> Scores:
        for mine, theirs in ((self.ll, other.ll), (self.baseline, other.baseline),
                             (self.cls, other.cls), (self.point, other.point),
                             (self.dev, other.dev), (self.pairs, other.pairs),
                             (self.spread, other.spread)):
            for a, c in zip(mine, theirs, strict=True):
                a.merge(c)
        for a, c in zip(self.bad, other.bad, strict=True):
            a.merge(c)
        for i, c in other.labels.items():
            self.labels[i].merge(c)
        self.failed = [a or c for a, c in zip(self.failed, other.failed, strict=True)]
        self.zero = [a + c for a, c in zip(self.zero, other.zero, strict=True)]
        for a, c in zip(self.zero_first, other.zero_first, strict=True):
            a.merge(c)
        if self.slices is not None:
            self.slices.merge(other.slices)
        self.clipped += other.clipped
        self.first_clipped.merge(other.first_clipped)
        if self.quantiles is not None:
            self.quantiles.merge(other.quantiles)
        if self.serial is not None:
            self.serial.merge(other.serial)
        for i, p in other.proper.items():
            mine = self.proper[i]
            self.proper[i] = None if mine is None or p is None else mine.merge(p)
        return self


@dataclass
class ScorePlan:
    """What the last pass computes: the models, their point predictions, the pairs."""

    models: list[Model]
    pairs: list[tuple[int, int]]
    point_keys: dict[str, Any]  # key → None (the prediction column) or a fitted location
    point_index: list[int | None]  # per model: its point prediction's place in point_keys
    deviance_ok: list[bool]
    ybar: float
    baseline_on_rows: bool
    prediction: list[str]
    labels: bool
    eps: float
    rows_known: bool = True  # False on value counts: a "row" is a distinct value
    proper: tuple[int, ...] = ()  # the models whose CRPS and intervals are reduced
    quantiles: tuple[list[float], list[str]] | None = None  # (levels, their columns)
    serial: list[tuple[int, int]] = field(default_factory=list)  # pairs in row order
    hac_lag: int = 0  # their lags (SPEC §10.2's --hac-lag)
    # SPEC §10.1: per model the names of the per-row terms whose moments are kept
    spread: list[tuple[str, ...]] = ()
    # per model: (values, baseline log-likelihoods) where the baseline is scored on value
    # counts (its per-row terms then come from this table), else None
    baseline_table: list = ()
    soft: bool = False  # soft labels: a row's label entropy is known (kl's terms)
    by: tuple[str, int, str] | None = None  # --by: (column, --max-slices, file)
    # the class-probability groups after the first: prediction name → its columns
    groups: dict[str, list[str]] = field(default_factory=dict)
    # per model: whether it is reported (its baseline, deviance and spread reduced), or
    # a companion read only through its log-likelihood sum and its pairs
    reported: list[bool] = field(default_factory=list)


def score(run: Run, models: list[Model], pairs: bool, also=None,
          extra_pairs: list[tuple[int, int]] = (), proper: tuple[int, ...] = (),
          quantiles: tuple[list[float], list[str]] | None = None,
          serial: list[tuple[int, int]] = (), hac_lag: int = 0, reported: int | None = None
          ) -> tuple[Scores, ScorePlan, Any]:
    """The last pass: every model scored on every row (or on the value counts); `also`
    makes a further state reduced in the same pass (None without it). `pairs`: the
    moments of the per-row log-likelihood differences of every pair of models (Vuong),
    and of `extra_pairs` (indices (i, j), i < j) in any case; with `hac_lag` > 0 the
    lagged sums of the `serial` pairs (each also among the pairs) in row order. Models
    from index `reported` on are companions: only their log-likelihood sums and pairs
    are reduced."""
    full = [reported is None or i < reported for i in range(len(models))]
    on_counts = (not run.conditional and run.value_counts is not None
                 and run.cols.by is None)  # slices need the rows
    point_keys: dict[str, Any] = {}
    deviance_ok = []
    for m, reported_m in zip(models, full, strict=True):
        fam = m.family
        if fam.input == "point":
            point_keys.setdefault(_point_key(m), m.inputs.prediction if m.conditional
                                  else fam.point_prediction(marginal_pred(m)))
        ok = fam.deviance is not None and reported_m
        if ok and fam.deviance_support is not None:
            ok = run.scan.outside[fam.deviance_support].row is None and (
                not m.conditional
                or run.scan.pred_outside[fam.deviance_support].row is None)
        deviance_ok.append(ok)
    cols = run.cols
    plan = ScorePlan(
        models=models,
        pairs=list(dict.fromkeys(
            ([(i, j) for i in range(len(models)) for j in range(i + 1, len(models))]
             if pairs else []) + list(extra_pairs))),
        point_keys=point_keys, deviance_ok=deviance_ok,
        point_index=[list(point_keys).index(_point_key(m)) if m.family.input == "point"
                     else None for m in models],
        ybar=float(run.scan.y.mean[0]) if run.scan.y.W > 0 else math.nan,
        baseline_on_rows=run.value_counts is None,
        prediction=[cols.pred] if cols.pred else list(cols.probs or cols.logits),
        labels=run.layout.labels, eps=run.req.eps, rows_known=not on_counts,
        proper=tuple(proper), quantiles=quantiles, serial=list(serial), hac_lag=hac_lag,
        spread=[_spread_terms(run, m) if f else () for m, f in zip(models, full, strict=True)],
        baseline_table=[_baseline_table(run, m, values) if f else None
                        for m, f in zip(models, full, strict=True)
                        for values in [_distinct_targets(run)]],
        soft=run.soft_labels,
        by=None if run.cols.by is None else (run.cols.by, run.req.max_slices,
                                             rows_file(run)),
        groups=cols.other_groups, reported=full)

    def make():
        return Scores(plan) if also is None else Joint(Scores(plan), also())

    if on_counts:
        state = make()
        with np.errstate(all="ignore"):
            state.update(run.counts_batch())
    else:
        state = run.reduce(make, "scoring",
                           () if run.cols.by is None else (run.cols.by,))
    if also is None:
        return state, plan, None
    return state.states[0], plan, state.states[1]


def _terms(names: tuple[str, ...], ll: np.ndarray, base, label_h) -> np.ndarray:
    """A block's per-row terms (k, n) in the order of `names`: −ℓ (cross_entropy),
    ℓ − ℓ_baseline (information_gain), −ℓ − H(label) (kl on soft labels)."""
    out = np.empty((len(names), ll.shape[-1]))
    for k, name in enumerate(names):
        if name == "cross_entropy":
            np.negative(ll, out=out[k])
        elif name == "information_gain":
            np.subtract(ll, base, out=out[k])
        else:
            np.negative(ll, out=out[k])
            out[k] -= label_h
    return out


def _spread_terms(run: Run, m: Model) -> tuple[str, ...]:
    """The per-row terms whose moments model m keeps (SPEC §10.1): its −log q; with a
    baseline, ℓ_model − ℓ_baseline; on soft labels, −log q minus the label's entropy."""
    names = ["cross_entropy"]
    if m.conditional and m.baseline is not None:
        names.append("information_gain")
    if run.soft_labels:
        names.append("kl")
    return tuple(names)


def _distinct_targets(run: Run) -> np.ndarray | None:
    """The value counts' targets, one array that every model's baseline table shares
    (the pass looks each block's rows up in it once)."""
    if run.value_counts is None:
        return None
    values = run.value_counts[0]
    return values.astype(np.int64) if run.layout.labels else np.asarray(values, np.float64)


def _baseline_table(run: Run, m: Model, values: np.ndarray | None):
    """(values, the baseline log-likelihood of each value) of model m where the pass
    scores the baseline on the value counts, not on the rows; else None."""
    if m.baseline is None or values is None or not m.conditional:
        return None
    bm = m.baseline
    with np.errstate(all="ignore"):
        table = bm.family.loglik(values, marginal_pred(bm), bm.all_params())
    return values, np.asarray(table, dtype=np.float64)


def _label_entropy(y: np.ndarray) -> np.ndarray:
    """Each row's soft-label entropy −Σ_k t_k log t_k (one column: a soft P(y = 1))."""
    from scipy.special import entr

    if y.ndim == 2:
        return entr(y).sum(axis=0)
    return entr(y) + entr(1.0 - y)


def _point_key(m: Model) -> str:
    return m.point_key


def baseline_on_counts(run: Run, model: Model) -> float:
    """Σ w log q of the baseline model over the value counts."""
    values, weights = run.value_counts
    bm = model.baseline
    with np.errstate(all="ignore"):
        return float(np.dot(weights, bm.family.loglik(values, marginal_pred(bm), bm.all_params())))
