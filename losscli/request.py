"""Everything the user asked for, as one frozen value the core reads (no CLI types)."""

from __future__ import annotations

from dataclasses import dataclass

FAMILY_NAMES = (
    "gaussian", "laplace", "student_t", "bernoulli", "categorical",
    "poisson", "negative_binomial", "gamma", "lognormal", "beta",
)
TARGET_KINDS = (
    "binary", "categorical", "count", "integer", "proportion", "positive", "real",
    "soft_binary", "soft_categorical",
)
DEFAULT_FIT_ROWS = 1_000_000
DEFAULT_EPS = 2.220446049250313e-16  # float64 machine epsilon (numpy stays out of start-up)


@dataclass(frozen=True)
class Request:
    command: str  # "evaluate" | "compare-noise-models"
    path: str | tuple[str, ...]  # one path, or several read as one data set
    target: str | None = None
    pred: str | None = None
    probs: tuple[str, ...] = ()
    logits: tuple[str, ...] = ()
    soft_target: tuple[str, ...] = ()
    weight: str | None = None
    input_format: str | None = None
    families: tuple[str, ...] = ()
    target_kind: str | None = None
    unit: str = "nats"
    criterion: str = "aic"
    eps: float = DEFAULT_EPS
    strict: bool = False
    renormalize: bool = False
    fit_rows: int | None = DEFAULT_FIT_ROWS  # None: fit on every row
    batch_rows: int | None = None  # None: a Parquet row group, or 1M rows of text
    engine: str = "local"  # "local" | "dask"
    workers: int | None = None  # dask: LocalCluster worker processes (None: one per core)
    scheduler: str | None = None  # dask: a running scheduler's address (implies dask)

    @property
    def paths(self) -> tuple[str, ...]:
        return (self.path,) if isinstance(self.path, str) else tuple(self.path)
