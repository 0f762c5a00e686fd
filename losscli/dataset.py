"""The loaded data: float64 arrays plus where they came from."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Dataset:
    """Targets, predictions and weights of the rows kept, with their provenance.

    y       (n,) float64 numeric targets; (n,) int64 class codes for hard class labels;
            (K, n) float64 soft labels (class-major) for soft categorical targets.
    pred    (n,) float64 point predictions (a mean, median, location or P(y = 1)).
    logq    (K, n) float64 class-major log-probabilities (K = 2 for a binary model:
            rows log P(y = 0), log P(y = 1)), from probabilities or logits.
    w       (n,) float64 frequency weights, or None for 1 each.
    """

    path: str
    format: str
    rows_read: int
    rows_dropped: int
    target: str
    y: np.ndarray
    prediction: list[str] = field(default_factory=list)
    pred: np.ndarray | None = None
    logq: np.ndarray | None = None
    classes: list[str] = field(default_factory=list)
    weight: str | None = None
    w: np.ndarray | None = None
    labels: bool = False  # the target holds class labels (text, or mapped to columns)
    soft: bool = False  # the target holds soft labels
    clipped: int = 0
    warnings: list[str] = field(default_factory=list)
    kept_rows: np.ndarray | None = None  # 0-based file rows of the rows kept; None: all
    # set when y, w hold distinct values and their total weights instead of rows
    n_rows: int | None = None

    def file_row(self, i: int) -> int:
        """1-based data row in the file of the i-th kept row (for error messages)."""
        return i + 1 if self.kept_rows is None else int(self.kept_rows[i]) + 1

    @property
    def rows_used(self) -> int:
        return int(self.y.shape[-1]) if self.n_rows is None else self.n_rows

    @property
    def has_prediction(self) -> bool:
        return self.pred is not None or self.logq is not None
