"""Pass 1 (SPEC §5): every row validated, the target kind detected, and what the fits
need reduced to fixed-size sums: totals and moments of y, value counts of an integer
target (or of class labels), the first row outside each support, the closed-form fit
statistics (`Family.fit_stats`) and a seeded sample of `--fit-rows` rows."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

from losscli.batches import OTHER_LABELS, Batch
from losscli.noise.base import BLOCK_INPUTS
from losscli.noise.support import Support, integral
from losscli.reduce import First, Moments, Sample, Sum, Traits, ValueCounts, wsum

SAMPLE_SEED = 20261125


SAMPLE_COLUMN = "column:"  # the sample's key prefix of a --param column


@dataclass(frozen=True)
class ScanSpec:
    """What pass 1 reduces, fixed before it starts (small, picklable)."""

    labels: bool  # the target holds class labels
    supports: tuple[Support, ...]
    prototypes: dict[str, Any]  # family name → instance, for its closed-form statistics
    fit_modes: tuple[bool, ...]  # conditional and/or marginal statistics
    fit_rows: int
    cutoff: int | None = None  # the sample's key cutoff (Sample.cutoff_for)
    seed: int = SAMPLE_SEED  # the sample's (shifted by --seed)
    other_preds: tuple[str, ...] = ()  # point predictions after the first (a batch's columns)
    # the class-probability groups after the first (a batch's columns, never sampled:
    # a categorical model fits nothing on its prediction)
    other_groups: tuple[str, ...] = ()


class PredictionFacts:
    """What pass 1 finds about one point prediction: the first row outside each
    prediction domain (and how many), whether some |y − ŷ| > ½, and the closed-form fit
    statistics of the families. The Scan holds these for the first prediction itself
    and one of these per further prediction (SPEC §10.2)."""

    def __init__(self, run: ScanSpec) -> None:
        self.pred_outside = {s: First() for s in run.supports}
        self.pred_outside_n = dict.fromkeys(run.supports, 0)
        self.beyond_half = False
        self.stats: dict[tuple[str, bool], Moments] = {}

    def merge(self, other: PredictionFacts) -> PredictionFacts:
        return _merge_facts(self, other)


class Scan:
    """Pass 1's state: everything the fits and the checks need, as fixed-size sums (and
    the seeded sample)."""

    def __init__(self, run: ScanSpec) -> None:
        self.run = run
        self.rows_read = 0
        self.file_rows: dict[str, int] = {}  # rows read per file
        self.dropped = 0
        self.first_dropped = First()
        self.zero_weight = 0
        self.clipped = 0
        self.rescaled: dict[tuple[str, str], list[int]] = {}  # → [rows, first row]
        self.negatives: dict[str, int] = {}  # --positive-label: other labels → first row
        self.first_clipped = First()
        self.batches = 0
        self.W = Sum()
        self.n = 0
        self.binary = True
        self.integral = True
        self.inside_unit = True  # every y in [0, 1] (proportions read as soft labels)
        self.ymin, self.ymax = math.inf, -math.inf
        self.y = Moments(1)
        self.counts = ValueCounts()
        self.labels: dict[str, list] = {}  # label → [weight, first 1-based row]
        self.outside = {s: First() for s in run.supports}  # y outside each support
        self.pred_outside = {s: First() for s in run.supports}
        self.outside_n = dict.fromkeys(run.supports, 0)  # how many rows, of y and ŷ
        self.pred_outside_n = dict.fromkeys(run.supports, 0)
        # what the y inside each support hold: the target kind without the rows outside
        self.inside = {s: Traits() for s in run.supports}
        self.beyond_half = False  # some |y − ŷ| > ½
        self.soft_entropy = Sum()
        # a block target's (K, n) weighted row means: a label's share of 1s (plug-in)
        self.block: Moments | None = None
        self.stats: dict[tuple[str, bool], Moments] = {}
        self.sample = Sample(run.fit_rows, run.seed, run.cutoff)
        # per --param column: the first row ≤ 0 and the first < 0, and how many rows
        self.nonpositive: dict[str, First] = {}
        self.negative: dict[str, First] = {}
        self.nonpositive_n: dict[str, int] = {}
        self.negative_n: dict[str, int] = {}
        # the further point predictions' own facts, by column
        self.others = {c: PredictionFacts(run) for c in run.other_preds}

    def update(self, b: Batch) -> Scan:
        run = self.run
        self.batches += 1
        self.rows_read += b.n_read
        self.file_rows[b.file] = self.file_rows.get(b.file, 0) + b.n_read
        self.dropped += b.dropped
        if b.first_dropped is not None:
            self.first_dropped.offer(*b.first_dropped)
        self.zero_weight += b.zero_weight
        self.clipped += b.clipped
        self._rescaled(b.rescaled)
        self._negatives(b.negatives)
        if b.first_clipped is not None:
            self.first_clipped.offer(b.first_clipped[0], b.first_clipped[2],
                                     b.first_clipped[1])
        n = b.n
        if n == 0:
            return self
        self.n += n
        w = b.w
        self.W.add(float(n) if w is None else float(np.sum(w)))
        y = b.y
        if run.labels:
            uniq, first, inverse = np.unique(y, return_index=True, return_inverse=True)
            weights = np.bincount(inverse, weights=w, minlength=uniq.size)
            for u, f, wt in zip(uniq.tolist(), first.tolist(), weights.tolist(), strict=True):
                self._label(u, wt, b.row(f))
            return self
        if y.ndim == 2:  # soft categorical labels, or label pairs (K, n)
            self.soft_entropy.add(wsum(special.entr(y).sum(axis=0), w))
            self.integral &= bool(np.all(integral(y)))  # hard labels, all 0/1
            if self.block is None:
                self.block = Moments(y.shape[0])
            self.block.update(y, w)
            self._stats(b, y, None)
            return self
        rows = b.rows()
        lo, hi = float(y.min()), float(y.max())
        self.ymin, self.ymax = min(self.ymin, lo), max(self.ymax, hi)
        whole_rows = integral(y)
        whole = bool(np.all(whole_rows))
        self.integral &= whole
        self.binary &= whole and lo >= 0.0 and hi <= 1.0
        self.y.update(y, w)
        self.counts.update(y, w, whole)
        masks = {}
        traits = None  # per row: y < 0, y ≤ 0, y > 1, not whole (bool masks: cheap)
        for s in run.supports:
            # None: every row inside, read off the batch's min, max and wholeness
            ok = None if s.holds(lo, hi, whole) else s.contains(y)
            masks[s] = ok
            if ok is None or ok.all():
                self.inside[s].add(True, lo < 0.0, lo <= 0.0, hi > 1.0, not whole)
                continue
            i = int(np.argmax(~ok))
            self.outside[s].offer(int(rows[i]) + 1, float(y[i]))
            inside = int(np.count_nonzero(ok))
            self.outside_n[s] += n - inside
            if inside:
                if traits is None:
                    traits = (y < 0.0, y <= 0.0, y > 1.0, ~whole_rows)
                self.inside[s].add(True, *(bool(np.any(t & ok)) for t in traits))
        pred = b.pred
        ranges = {}
        if pred is not None:
            ranges[None] = _prediction_facts(self, run, pred, y, rows)
        for c, facts in self.others.items():
            ranges[c] = _prediction_facts(facts, run, b.columns[c], y, rows)
        if lo >= 0.0 and hi <= 1.0:
            self.soft_entropy.add(wsum(special.entr(y) + special.entr(1.0 - y), w))
        else:
            self.inside_unit = False
        self._stats(b, y, masks, inside=ranges.get(None))
        for c, facts in self.others.items():
            self._stats(b, y, masks, b.columns[c], facts.stats, ranges[c])
        columns = {"y": y}
        if pred is not None:
            columns["pred"] = pred
        if w is not None:
            columns["w"] = w
        for c, x in b.columns.items():
            if c in run.other_groups:
                continue
            columns[SAMPLE_COLUMN + c] = x
            if c not in self.others:
                self._signs(c, x, rows)
        self.sample.update(rows, columns)
        return self

    def _signs(self, c: str, x: np.ndarray, rows: np.ndarray) -> None:
        """The first row of a --param column at or below 0, and below 0 (the domain
        checks of a positive and a nonnegative parameter)."""
        for bad, first, count in ((x <= 0.0, self.nonpositive, self.nonpositive_n),
                                  (x < 0.0, self.negative, self.negative_n)):
            first.setdefault(c, First())
            count[c] = count.get(c, 0)
            if bad.any():
                i = int(np.argmax(bad))
                first[c].offer(int(rows[i]) + 1, float(x[i]))
                count[c] += int(np.count_nonzero(bad))

    def _label(self, label: str, weight: float, row: int) -> None:
        """Add a label's weight and keep its first row."""
        cur = self.labels.get(label)
        if cur is None:
            self.labels[label] = [weight, row]
        else:
            cur[0] += weight
            cur[1] = min(cur[1], row)

    def _stats(self, b: Batch, y: np.ndarray, masks: dict | None, given=None,
               into: dict | None = None, inside: _Range | None = None) -> None:
        """The closed-form fit statistics of every family whose support holds here (one
        that fails anywhere does not apply, so its statistics are never read); of the
        prediction `given` into `into` (default: the batch's prediction, into `stats`),
        whose domains `inside` answers."""
        run = self.run
        stats = self.stats if into is None else into
        for name, fam in run.prototypes.items():
            for conditional in run.fit_modes:
                mode = "conditional" if conditional else "marginal"
                if mode not in fam.closed_form:
                    continue
                pred = (b.pred if given is None else given) if conditional else None
                if conditional and (pred is None or fam.input != "point"):
                    continue
                if masks is None and fam.input not in BLOCK_INPUTS:
                    continue  # a block target: only a family of class or label blocks
                if masks is not None and masks[fam.support] is not None and not masks[
                        fam.support].all():
                    continue
                if conditional and not (inside.all_in(fam.pred_domain) if inside is not None
                                        else fam.pred_domain.contains(pred).all()):
                    continue
                with np.errstate(all="ignore"):
                    x = fam.fit_stats(y, pred)
                if x is None:
                    continue
                key = (name, conditional)
                if key not in stats:
                    stats[key] = Moments(np.atleast_2d(x).shape[0])
                stats[key].update(x, b.w)

    def _rescaled(self, found: dict) -> None:
        for key, (n, row) in found.items():
            have = self.rescaled.setdefault(key, [0, row])
            have[0] += n
            have[1] = min(have[1], row)

    def _negatives(self, found: dict) -> None:
        if not found:
            return
        both = dict(self.negatives)
        for label, row in found.items():
            both[label] = min(row, both.get(label, row))
        self.negatives = dict(sorted(both.items(), key=lambda kv: kv[1])[:OTHER_LABELS])

    def merge(self, other: Scan) -> Scan:
        self._negatives(other.negatives)
        self._rescaled(other.rescaled)
        self.batches += other.batches
        self.rows_read += other.rows_read
        for f, n in other.file_rows.items():
            self.file_rows[f] = self.file_rows.get(f, 0) + n
        self.dropped += other.dropped
        self.first_dropped.merge(other.first_dropped)
        self.zero_weight += other.zero_weight
        self.clipped += other.clipped
        self.first_clipped.merge(other.first_clipped)
        self.n += other.n
        self.W.merge(other.W)
        self.binary &= other.binary
        self.integral &= other.integral
        self.inside_unit &= other.inside_unit
        self.ymin, self.ymax = min(self.ymin, other.ymin), max(self.ymax, other.ymax)
        self.y.merge(other.y)
        self.counts.merge(other.counts)
        for u, (wt, row) in other.labels.items():
            self._label(u, wt, row)
        for s in self.outside:
            self.outside[s].merge(other.outside[s])
            self.outside_n[s] += other.outside_n[s]
            self.inside[s].merge(other.inside[s])
        _merge_facts(self, other)
        for c, facts in self.others.items():
            facts.merge(other.others[c])
        self.soft_entropy.merge(other.soft_entropy)
        if other.block is not None:
            self.block = other.block if self.block is None else self.block.merge(other.block)
        self.sample.merge(other.sample)
        for mine, theirs in ((self.nonpositive, other.nonpositive),
                             (self.negative, other.negative)):
            for c, f in theirs.items():
                mine.setdefault(c, First()).merge(f)
        for mine, theirs in ((self.nonpositive_n, other.nonpositive_n),
                             (self.negative_n, other.negative_n)):
            for c, k in theirs.items():
                mine[c] = mine.get(c, 0) + k
        return self


class _Range:
    """A batch's values with their minimum and maximum, and whether they are all whole
    numbers (found when first asked): which supports hold every value, with a mask of the
    rows only where those facts do not decide (`Support.holds`)."""

    def __init__(self, x: np.ndarray) -> None:
        self.x = x
        self.lo, self.hi = float(x.min()), float(x.max())
        self._whole: bool | None = None
        self._all: dict = {}

    def mask(self, s) -> np.ndarray | None:
        """None where every value lies in s, else the mask of those that do."""
        if s.integer and self._whole is None:
            self._whole = bool(np.all(integral(self.x)))
        if s.holds(self.lo, self.hi, bool(self._whole)):
            return None
        return s.contains(self.x)

    def all_in(self, s) -> bool:
        if s not in self._all:
            ok = self.mask(s)
            self._all[s] = ok is None or bool(ok.all())
        return self._all[s]


def _prediction_facts(facts, run: ScanSpec, pred: np.ndarray, y: np.ndarray,
                      rows: np.ndarray) -> _Range:
    """Add a batch to `facts` (a Scan or a PredictionFacts): the rows of `pred` outside
    each domain, and whether some |y − ŷ| > ½. Returns the prediction's `_Range`."""
    n = pred.shape[-1]
    found = _Range(pred)
    for s in run.supports:
        ok = found.mask(s)
        found._all[s] = ok is None or bool(ok.all())
        if not found._all[s]:
            i = int(np.argmax(~ok))
            facts.pred_outside[s].offer(int(rows[i]) + 1, float(pred[i]))
            facts.pred_outside_n[s] += n - int(np.count_nonzero(ok))
    if not facts.beyond_half:
        with np.errstate(invalid="ignore", over="ignore"):
            facts.beyond_half = not bool(np.all(np.abs(y - pred) <= 0.5))
    return found


def _merge_facts(facts, other):
    """Merge another state's prediction facts into `facts` (a Scan or PredictionFacts)."""
    for s in facts.pred_outside:
        facts.pred_outside[s].merge(other.pred_outside[s])
        facts.pred_outside_n[s] += other.pred_outside_n[s]
    facts.beyond_half |= other.beyond_half
    for k, m in other.stats.items():
        if k in facts.stats:
            facts.stats[k].merge(m)
        else:
            facts.stats[k] = m
    return facts
