"""The diagnostics pass: one reduction state for every diagnosed model (SPEC §5, §7).

Per model it sums what the tests need (moment sums of the residuals, zeros, tails), the
PIT histograms on 20 and 1,000 bins, the rootogram's expected counts, and the groups of
tied forecasts; below `--fit-rows` rows it also keeps each row's PIT (the exact KS
distance needs them sorted). What it computes is chosen beforehand from what each family
declares (`ModelSpec`), so the state is small, picklable and mergeable in any order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import special

from losscli.batches import Batch, probability_block
from losscli.diagnostics import counts, pit
from losscli.diagnostics.groups import Groups
from losscli.errors import NUMERIC_ERRORS
from losscli.reduce import Sum, wsum

BLOCK = 1 << 18  # rows per block: the temporaries stay a few MiB per thread


@dataclass
class ModelSpec:
    """What the pass computes for one model."""

    model: Any
    sums: tuple[str, ...]  # the names of the per-row sums (see `_columns`)
    pit: bool = False
    exact_pit: bool = False
    keep_pit: bool = False  # keep each row's u (the exact KS distance)
    keep_rows: bool = False  # keep (f, t, w) per row (isotonic median regression)
    groups: bool = False
    group_extra: tuple[str, ...] = ()
    group_cats: int = 0  # the last extras are Σw per PIT category (an exact PIT: 3)
    max_unique: int = 2_000_000
    bins: Any = None  # pit.Thresholds of the seeded sample's equal-count bins' inner edges
    start_binned: bool = False  # the sample shows far more distinct forecasts than allowed
    rootogram_top: int | None = None
    n_terms: int = 0  # the family's row_terms
    seed: int | None = None  # randomised PIT for the pictures (None: none drawn)
    decile_edges: np.ndarray | None = None  # the pictures' bins of the forecast
    thresholds: Any = None  # pit.Thresholds of G⁻¹(j/1000), j = 1 … 999 (`standardised`)

    @property
    def index(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.sums)}


@dataclass
class DiagPlan:
    specs: list[ModelSpec]
    prediction: list[str]
    eps: float
    # carried by the scoring pass before the models are scored: a numeric failure marks
    # the model's state failed (its own pass then says why) instead of ending the pass
    lenient: bool = False


@dataclass
class ModelState:
    spec: ModelSpec
    sums: Sum = field(init=False)
    pit20: Sum = field(init=False)
    pit1000: Sum = field(init=False)
    random1000: Sum = field(init=False)
    deciles: Sum = field(init=False)
    decile_f: Sum = field(init=False)
    expected: Sum | None = field(init=False)
    groups: Groups | None = field(init=False)
    u: list = field(default_factory=list)
    rows: list = field(default_factory=list)
    failed: bool = False

    def __post_init__(self) -> None:
        s = self.spec
        self.sums = Sum(len(s.sums) + s.n_terms)
        self.pit20 = Sum(20)
        self.pit1000 = Sum(1000)
        self.random1000 = Sum(1000)
        self.deciles = Sum(10 * 1000)
        self.decile_f = Sum(20)  # Σw and Σw·f per decile of the forecast
        self.expected = None if s.rootogram_top is None else Sum(s.rootogram_top + 2)
        self.groups = Groups(len(s.group_extra), s.max_unique, s.bins,
                             binned=s.start_binned, cats=s.group_cats) if s.groups else None

    def merge(self, other: ModelState) -> ModelState:
        self.sums.merge(other.sums)
        self.pit20.merge(other.pit20)
        self.pit1000.merge(other.pit1000)
        self.random1000.merge(other.random1000)
        self.deciles.merge(other.deciles)
        self.decile_f.merge(other.decile_f)
        if self.expected is not None:
            self.expected.merge(other.expected)
        if self.groups is not None:
            self.groups.merge(other.groups)
        self.u.extend(other.u)
        self.rows.extend(other.rows)
        self.failed = self.failed or other.failed
        return self


class Diagnose:
    """The diagnostics pass's state."""

    def __init__(self, plan: DiagPlan) -> None:
        self.plan = plan
        self.states = [ModelState(s) for s in plan.specs]
        self.fractional = 0  # rows whose weight is not a whole number

    def update(self, b: Batch) -> Diagnose:
        if b.w is not None:
            self.fractional += int(np.count_nonzero(b.w != np.floor(b.w)))
        for s in range(0, b.n, BLOCK):
            self._block(b.block(s, min(s + BLOCK, b.n)))
        for st in self.states:  # a batch's rows added where it was read (not at merge)
            if st.groups is not None:
                st.groups.settle()
        return self

    def merge(self, other: Diagnose) -> Diagnose:
        self.fractional += other.fractional
        for a, c in zip(self.states, other.states, strict=True):
            a.merge(c)
        return self

    def _block(self, b: Batch) -> None:
        for st in self.states:
            if st.failed:
                continue
            if not self.plan.lenient:
                self._model_block(st, b)
                continue
            try:
                self._model_block(st, b)
            except NUMERIC_ERRORS:
                st.failed = True

    def _model_block(self, st: ModelState, b: Batch) -> None:
        spec = st.spec
        model = spec.model
        fam = model.family
        pred = self._pred(model, b)
        params = model.all_params(b.columns)
        y, w = b.y, b.w
        f, t = fam.forecast(y, pred)
        lo = hi = j = None
        if st.expected is not None:  # a count family: the p.m.f. sweep
            point = np.broadcast_to(np.asarray(pred, dtype=np.float64), f.shape)
            expected, lo, hi = counts.sweep(fam, y, point, params,
                                            spec.rootogram_top, w)
            st.expected.add(expected)
        elif spec.exact_pit and spec.thresholds is not None and not spec.keep_pit:
            # u's bin from z's bin on the fit's G⁻¹(j/1000): no c.d.f. per row
            z = fam.standardised(y, pred, params)
            j = spec.thresholds.count(z)
        elif spec.pit:
            lo, hi = fam.pit_interval(y, pred, params)
            lo = np.broadcast_to(lo, f.shape)
            hi = np.broadcast_to(hi, f.shape)
            if spec.exact_pit:
                j = pit.bin_of(lo, 1000)
        if spec.pit:
            if j is not None:  # the exact PIT: a point per row
                m1000 = np.bincount(j, weights=w, minlength=1000).astype(np.float64)
            else:
                m1000 = pit.histogram(lo, hi, w, 1000)
            st.pit1000.add(m1000)
            st.pit20.add(m1000.reshape(20, 50).sum(axis=1))
            if spec.keep_pit:
                st.u.append((lo.copy(), None if w is None else w.copy()))
            if spec.seed is not None:
                self._randomised(st, b, lo, hi, j, f, w, m1000)
        if spec.keep_rows:
            st.rows.append((f.copy(), np.asarray(t, dtype=np.float64).copy(),
                            None if w is None else w.copy()))
        cols = _columns(spec, fam, params, y, pred, f, t, lo, hi, j)
        part = np.array([wsum(cols[name], w) for name in spec.sums]
                        + ([] if not spec.n_terms else
                           list(wsum(fam.row_terms(y), w))))
        st.sums.add(part)
        if st.groups is not None:
            plain = spec.group_extra[:len(spec.group_extra) - spec.group_cats]
            cats = None
            if spec.group_cats:  # u < 0.05, in between, u ≥ 0.95 (on the grid)
                cats = (j >= 50).astype(np.int64) + (j >= 950)
            st.groups.update(f, t, w, [cols[name] for name in plain], cats)

    def _randomised(self, st: ModelState, b: Batch, lo, hi, j, f, w, m1000) -> None:
        """The seeded randomised PIT u = l + V(r − l), V the global row's draw of
        numpy.random.default_rng(seed) in row order (the exact PIT: u itself)."""
        spec = st.spec
        if j is not None:
            st.random1000.add(m1000)
        elif not b.rows_known:  # value counts: the expected (non-randomised) histogram
            st.random1000.add(m1000)
            return
        else:
            rows = b.rows()
            first = int(rows[0])
            bg = np.random.PCG64(spec.seed)
            bg.advance(first)
            v = np.random.Generator(bg).random(int(rows[-1]) - first + 1)[rows - first]
            j = pit.bin_of(lo + v * (hi - lo), 1000)
            st.random1000.add(np.bincount(j, weights=w, minlength=1000).astype(np.float64))
        if spec.decile_edges is not None:
            d = np.searchsorted(spec.decile_edges, f, side="right")
            wt = np.ones(f.size) if w is None else w
            st.deciles.add(np.bincount(d * 1000 + j, weights=wt, minlength=10_000))
            st.decile_f.add(np.r_[np.bincount(d, weights=wt, minlength=10),
                                  np.bincount(d, weights=wt * f, minlength=10)])

    def _pred(self, model, b: Batch) -> Any:
        fam = model.family
        if not model.conditional:
            return fam.marginal_pred(model.all_params())
        if fam.input == "point":
            return b.pred
        if b.logq is not None:
            return b.logq
        return probability_block(b, self.plan.prediction[0], self.plan.eps)[0]


def _columns(spec: ModelSpec, fam, params, y, pred, f, t, lo, hi, j
             ) -> dict[str, np.ndarray]:
    """The per-row columns the spec names (computed only when named)."""
    need = set(spec.sums) | set(spec.group_extra[:len(spec.group_extra) - spec.group_cats])
    out: dict[str, np.ndarray] = {}
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        r = t - f
        r2 = r * r
        if "w" in need:
            out["w"] = np.ones(f.shape)
        if "res" in need:
            out["res"] = r
        if need & {"var", "pearson_v", "disp"}:
            v = fam.variance(f, params)
            out["var"] = np.broadcast_to(v, f.shape)
            out["pearson_v"] = out["disp"] = r2 / v
        out["r2"] = r2
        if "f" in need:
            out["f"] = f
        if "f2" in need:
            out["f2"] = f * f
        if "t" in need:
            out["t"] = t
        if "dean_c" in need:
            out["dean_c"] = (r2 - t) / f
        if "pearson_f" in need:
            out["pearson_f"] = r2 / f
        if need & {"zeros", "p0", "p0v", "p0f"}:
            p0 = np.broadcast_to(fam.zero_probability(pred, params), f.shape)
            out["zeros"] = (t == 0.0).astype(np.float64)
            out["p0"] = p0
            out["p0v"] = p0 * (1.0 - p0)
            out["p0f"] = p0 * f
        if "sp" in need:
            out["sp"] = r * (1.0 - 2.0 * f)
            out["spv"] = (1.0 - 2.0 * f) ** 2 * f * (1.0 - f)
        if "tail" in need:  # u < 0.001 or u > 0.999: the first and last of 1,000 bins
            out["tail"] = ((j == 0) | (j == 999)).astype(np.float64)
        if "logloss" in need:
            out["logloss"] = special.xlogy(t, f) + special.xlogy(1.0 - t, 1.0 - f)
        if "yhat" in need:
            out["yhat"] = np.broadcast_to(
                fam.point_prediction(pred) if fam.input == "point" else f, f.shape)
        if "yshow" in need:
            out["yshow"] = y if fam.input == "point" else t
        if "pit_lo" in need:
            if j is not None:  # u < 0.05, u ≥ 0.95 (on the grid; = 0.95 has measure 0)
                out["pit_lo"] = (j < 50).astype(np.float64)
                out["pit_hi"] = (j >= 950).astype(np.float64)
            else:
                out["pit_lo"] = pit.below(lo, hi, pit.SLICE_TAIL)
                out["pit_hi"] = pit.above(lo, hi, 1.0 - pit.SLICE_TAIL)
    return out
