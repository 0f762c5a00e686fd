"""H(P), the entropy of the target's own distribution, by the method SPEC §1.5 names.

- soft-labels: the weighted mean row entropy −Σ_k t_k log t_k of soft labels (exact).
- hard-labels: 0 for hard labels on a discrete support given the predictions: each
  target is a point mass, so KL = cross-entropy.
- plug-in: −Σ_v f_v log f_v over the empirical value frequencies f_v (marginal mode,
  discrete targets); then KL(P̂ ‖ Q) ≥ 0 exactly.
- spacing: scipy's m-spacing (Vasicek) estimate of differential entropy of y (marginal)
  or, given ŷ, the smaller of H(y − ŷ) and, for positive data, H(log(y/ŷ)) + mean log y
  (each an upper bound of H(Y | Ŷ)). Unweighted only.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from losscli.families.base import value_counts, wmean


def soft_labels(y: np.ndarray, w: np.ndarray | None) -> float:
    """Mean row entropy of soft labels: (n,) for P(y=1), (K, n) class-major otherwise."""
    if y.ndim == 1:
        rows = special.entr(y) + special.entr(1.0 - y)
    else:
        rows = special.entr(y).sum(axis=0)
    return wmean(rows, w)


def plug_in(y: np.ndarray, w: np.ndarray | None) -> float:
    """Entropy of the empirical distribution of the values (or class codes) of y."""
    _, weights = value_counts(y.astype(np.float64), w)
    f = weights / weights.sum()
    return float(special.entr(f).sum())


def spacing(y: np.ndarray, pred: np.ndarray | None) -> tuple[float | None, str | None]:
    """m-spacing differential entropy; (value, None) or (None, why it is not finite)."""
    from scipy import stats

    if pred is None:
        h = float(stats.differential_entropy(y))
    else:
        h = float(stats.differential_entropy(y - pred))
        if y.min() > 0 and np.min(pred) > 0:
            logy = np.log(y)
            h_log = float(stats.differential_entropy(logy - np.log(pred))) + float(logy.mean())
            if math.isfinite(h_log):
                h = min(h, h_log) if math.isfinite(h) else h_log
    if not math.isfinite(h):
        return None, "the spacing entropy estimate is not finite (heavy ties in the data)"
    return h, None
