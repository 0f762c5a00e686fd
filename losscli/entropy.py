"""The spacing estimate of differential entropy (SPEC §1.5's `spacing` method).

The other methods are reductions the passes compute (`Entropies`): soft-labels, the
weighted mean row entropy −Σ_k t_k log t_k; hard-labels, 0; plug-in, −Σ_v f_v log f_v over
the value counts. The spacing estimate needs sorted data, so it runs on the seeded
sample (every row when there are at most --fit-rows).

- spacing: scipy's m-spacing (Vasicek) estimate of differential entropy of y (marginal)
  or, given ŷ, the smaller of H(y − ŷ) and, for positive data, H(log(y/ŷ)) + mean log y
  (each an upper bound of H(Y | Ŷ)). Unweighted only.
- atom-spacing (the atom-at-zero measure, SPEC §9.1): h(π̂) + (1 − π̂)·H₊, π̂ the share of
  zeros, h the binary entropy and H₊ the spacing estimate of the positives (of their
  residuals given ŷ, as above): the entropy of a law with mass π̂ at 0 and a density
  on y > 0, with respect to that measure.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from scipy import special

from losscli.noise.measures import BaseMeasure
from losscli.noise.sums import BLOCK
from losscli.noise.support import integral

if TYPE_CHECKING:
    from losscli.run import Run

MAX_EXPANDED_ROWS = 100_000_000  # whole-number weights expand for the spacing entropy


def differential_entropy(x: np.ndarray, owned: bool = False) -> float:
    """scipy.stats.differential_entropy(x) with its default method, computed here for
    large n (where that default is Vasicek's m-spacing estimate, m = ⌊√n + ½⌋):
    H = mean_i log(n / (2m) · (x₍ᵢ₊ₘ₎ − x₍ᵢ₋ₘ₎)), order statistics clamped to the ends.
    One in-place sort (of x itself when the caller `owned` it) and block-wise log sums:
    no other full-size array."""
    n = x.size
    if n <= 1000:  # scipy's choice of estimator for small samples
        import warnings

        from scipy import stats

        with warnings.catch_warnings():  # too small a sample: NaN, reported as null
            warnings.simplefilter("ignore")
            return float(stats.differential_entropy(x))
    m = int(math.floor(math.sqrt(n) + 0.5))
    s = x if owned else np.array(x, dtype=np.float64, copy=True)
    s.sort()
    with np.errstate(divide="ignore"):
        total = float(np.log(s[m:2 * m] - s[0]).sum())  # i < m: x₍ᵢ₋ₘ₎ clamped to x₍₁₎
        total += float(np.log(s[n - 1] - s[n - 2 * m:n - m]).sum())  # i ≥ n − m
        for a in range(m, n - m, BLOCK):
            b = min(a + BLOCK, n - m)
            total += float(np.log(s[a + m:b + m] - s[a - m:b - m]).sum())
    return total / n + math.log(n / (2.0 * m))


def atom_spacing(y: np.ndarray, pred: np.ndarray | None) -> tuple[float | None, str | None]:
    """h(π̂) + (1 − π̂)·H₊ on the atom-at-zero measure: π̂ the share of y = 0, h(p) =
    −p log p − (1 − p) log(1 − p), H₊ the spacing entropy of the positives (given ŷ, of
    their residuals); (value, None) or (None, why it is not finite)."""
    pos = y > 0.0
    pi = 1.0 - np.count_nonzero(pos) / y.size
    h = float(special.entr(pi) + special.entr(1.0 - pi))
    if pi == 1.0:
        return h, None
    h_pos, why = spacing(y[pos], None if pred is None else pred[pos])
    if h_pos is None:
        return None, why
    return h + (1.0 - pi) * h_pos, None


def spacing(y: np.ndarray, pred: np.ndarray | None) -> tuple[float | None, str | None]:
    """m-spacing differential entropy; (value, None) or (None, why it is not finite)."""
    if pred is None:
        h = differential_entropy(y)
    else:
        h = differential_entropy(y - pred, owned=True)
        if y.min() > 0 and np.min(pred) > 0:
            log_ratio = np.divide(y, pred)
            np.log(log_ratio, out=log_ratio)
            mean_log_y = sum(float(np.log(y[a:a + BLOCK]).sum())
                             for a in range(0, y.size, BLOCK)) / y.size
            h_log = differential_entropy(log_ratio, owned=True) + mean_log_y
            if math.isfinite(h_log):
                h = min(h, h_log) if math.isfinite(h) else h_log
    if not math.isfinite(h):
        return None, "the spacing entropy estimate is not finite (heavy ties in the data)"
    return h, None


class Entropies:
    """H(P) by the method SPEC §1.5 names; it depends on the data, the mode and the base
    measure, not on the family, so each is computed once per run."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self._cache: dict[tuple, tuple[float | None, str, str | None]] = {}

    def get(self, conditional: bool, measure: BaseMeasure, prediction: str | None = None
            ) -> tuple[float | None, str, str | None]:
        """(H, method, why it is null or estimated) on `measure`; `prediction`: the column
        a model reads ŷ from when it is not the run's (its residuals' entropy)."""
        key = (conditional, measure, prediction)
        if key not in self._cache:
            self._cache[key] = self._compute(conditional, measure, prediction)
        return self._cache[key]

    def _compute(self, conditional: bool, measure: BaseMeasure, prediction: str | None):
        run = self.run
        scan = run.scan
        # soft labels given as such, or a proportion target read as soft labels
        soft = run.layout.soft or (measure.discrete and not run.layout.labels
                                   and not scan.integral and scan.inside_unit)
        method = measure.entropy_method(conditional, soft)
        if method == "soft-labels":
            return float(scan.soft_entropy.value[0]) / run.W, "soft-labels", None
        if method == "hard-labels":
            return 0.0, "hard-labels", None
        if method == "plug-in":
            if run.layout.multilabel:  # independent labels: the sum of their entropies
                return float(special.entr(scan.block.mean).sum()), "plug-in", None
            if run.value_counts is None:
                return None, "plug-in", "the target has too many distinct values"
            f = run.value_counts[1] / run.value_counts[1].sum()
            return float(special.entr(f).sum()), "plug-in", None
        s = run.sample
        y, pred = s["y"], s.get("pred") if conditional else None
        if conditional and prediction is not None:
            from losscli.scan import SAMPLE_COLUMN

            pred = s[SAMPLE_COLUMN + prediction]
        why_sample = None
        if "w" in s:
            w = s["w"]
            if not (np.all(integral(w)) and w.sum() <= MAX_EXPANDED_ROWS):
                return None, method, ("the spacing entropy estimate needs unweighted rows "
                                         "or whole-number frequency weights")
            reps = w.astype(np.int64)
            y = np.repeat(y, reps)
            pred = None if pred is None else np.repeat(pred, reps)
        if not scan.sample.complete:
            why_sample = (f"the spacing entropy is estimated on a seeded sample of "
                          f"{run.sample_rows:,} rows (--fit-rows)")
        h, why = (atom_spacing if method == "atom-spacing" else spacing)(y, pred)
        return h, method, why or why_sample
