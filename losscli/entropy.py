"""The spacing estimate of differential entropy (SPEC §1.5's `spacing` method).

The other methods are reductions the passes compute (plan.Entropies): soft-labels, the
weighted mean row entropy −Σ_k t_k log t_k; hard-labels, 0; plug-in, −Σ_v f_v log f_v over
the value counts. The spacing estimate needs sorted data, so it runs on the seeded
sample (every row when there are at most --fit-rows).

- spacing: scipy's m-spacing (Vasicek) estimate of differential entropy of y (marginal)
  or, given ŷ, the smaller of H(y − ŷ) and, for positive data, H(log(y/ŷ)) + mean log y
  (each an upper bound of H(Y | Ŷ)). Unweighted only.
"""

from __future__ import annotations

import math

import numpy as np

from losscli.noise.sums import BLOCK


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
