"""Generate the small, deterministic sample data files used to demo and test ``losscli``.

Run from the repository root::

    python sample_data/make_samples.py

All files are written next to this script (``sample_data/``). Every random draw comes from a
single ``numpy.random.Generator`` created with ``np.random.default_rng(SEED)``, ``SEED = 20261125``,
and the files are generated in a fixed order, so re-running the script reproduces the same data.
CSV files have a header row and no index column. Floats are written with ``%.10g``, except for
probability tables (``multiclass.csv``, ``distill.csv``), which use ``%.17g`` so that each row
round-trips exactly and still sums to 1 within 1e-9 after reading.

Files
-----
regression.csv / regression.parquet  (3000 rows; the two files hold identical rows)
    Values are rounded to 10 significant digits before writing, so the CSV text and the
    Parquet doubles parse to bit-identical numbers.
    Columns: ``y``, ``y_pred``, ``x1``.
    ``x1 ~ Uniform(-3, 3)`` is a covariate the losses do not use;
    ``signal = 2 + 1.5 * sin(x1) + 0.5 * x1``;
    ``y = signal + 1.5 * StudentT(df=3)`` (heavy-tailed noise);
    ``y_pred = signal + Normal(0, 0.2)`` (small model error).
    The residuals ``y - y_pred`` are heavy-tailed, so a Student-t / Cauchy-type noise model
    should beat the Gaussian.

counts.csv  (4000 rows)
    Columns: ``y`` (int >= 0), ``y_pred`` (float > 0), ``x1``.
    ``x1 ~ Normal(0, 1)``; ``mu = exp(log(3) + 0.7 * x1)`` (i.e. log-normal around 3);
    ``y_pred = mu``; ``y ~ NB2(mean=mu, alpha=0.8)``, drawn as a gamma-Poisson mixture
    ``lam ~ Gamma(shape=1/alpha, scale=alpha * mu)``, ``y ~ Poisson(lam)``, so
    ``Var(y) = mu + 0.8 * mu**2`` (overdispersed relative to Poisson).

binary.csv  (4000 rows)
    Columns: ``y`` (int 0/1), ``p`` (predicted P(y = 1), strictly inside (0, 1)), ``x1``.
    ``x1 ~ Normal(0, 1)``; true logit ``eta = -0.4 + 1.3 * x1``; ``y ~ Bernoulli(sigmoid(eta))``;
    ``p = sigmoid(0.25 + 1.35 * eta + Normal(0, 0.3))``, clipped to [1e-6, 1 - 1e-6]
    (slightly biased upward and over-confident, i.e. mildly miscalibrated).

multiclass.csv  (3000 rows)
    Columns: ``label`` (string, one of "cat", "dog", "bird", "fish"),
    ``p_cat``, ``p_dog``, ``p_bird``, ``p_fish`` (predicted probabilities, rows sum to 1).
    True logits ``z = b + Normal(0, 1.3)`` per class with ``b = (0.6, 0.3, -0.2, -0.7)``;
    ``label ~ Categorical(softmax(z))``;
    predictions ``softmax(0.85 * z + Normal(0, 0.6))`` (a noisy, slightly under-confident copy).

distill.csv  (2000 rows)
    Columns: ``t_cat``, ``t_dog``, ``t_bird`` (teacher soft targets, rows sum to 1),
    ``p_cat``, ``p_dog``, ``p_bird`` (student probabilities, rows sum to 1),
    ``label`` (string, argmax of the teacher row; for reference only).
    Teacher logits ``z = (0.3, 0.0, -0.3) + Normal(0, 1.5)``; ``t = softmax(z / 2)``
    (temperature 2); student ``p = softmax(0.9 * z / 2 + Normal(0, 0.4))``.

positive.parquet  (3000 rows)
    Columns: ``y`` (float > 0), ``y_pred`` (float > 0), ``w`` (int64 frequency weight in 1..3),
    ``x1``.
    ``x1 ~ Normal(0, 1)``; ``mu = exp(log(10) + 0.6 * x1)``;
    ``y ~ Gamma(shape=4, scale=mu / 4)`` (mean ``mu``, coefficient of variation 0.5);
    ``y_pred = mu * exp(Normal(0, 0.1))``; ``w ~ UniformInteger{1, 2, 3}``.

distributional.csv  (3000 rows; drawn after the others, so they are unchanged)
    A distributional forecast: a mean, a standard deviation and three quantiles per row.
    Columns: ``y``, ``y_pred``, ``sigma``, ``q_0.1``, ``q_0.5``, ``q_0.9``, ``x1``.
    ``x1 ~ Normal(0, 1)``; ``mu = 2 + 1.5 * sin(x1)``; ``s = exp(-0.3 + 0.4 * x1)``;
    ``y = mu + s * StudentT(df=5) * sqrt(3/5)`` (standard deviation ``s``, heavier tails);
    ``y_pred = mu + Normal(0, 0.1)``; ``sigma = 0.8 * s`` (over-confident by 20 %);
    ``q_τ = y_pred + sigma * Φ⁻¹(τ)`` for τ = 0.1, 0.5, 0.9 (Gaussian quantiles).

claims.csv  (3000 rows; drawn after distributional.csv, so the others are unchanged)
    A semicontinuous target (insurance-claims-like): zeros and positive amounts.
    Columns: ``y`` (float >= 0), ``y_pred`` (float > 0, the predicted mean E[y]), ``x1``.
    ``x1 ~ Normal(0, 1)``; ``mu = exp(log(500) + 0.5 * x1)``; ``pi = 0.6`` (the share of
    zeros); ``y = 0`` with probability ``pi``, else ``Gamma(shape=1.5, mean=mu / (1 - pi))``
    (a hurdle gamma with E[y] = ``mu``); ``y_pred = mu * exp(Normal(0, 0.1))``.

multilabel.csv  (2000 rows; drawn after claims.csv, so the others are unchanged)
    Several labels per row (tags): ``y_sport``, ``y_music``, ``y_film`` (int 0/1), the
    model's logits ``z_sport``, ``z_music``, ``z_film``, and ``x1``.
    ``x1 ~ Normal(0, 1)``; true logits ``z = (0.4, -0.3, -1.0) + x1 * (1.0, -0.8, 0.5)
    + Normal(0, 0.8)`` per label; ``y ~ Bernoulli(sigmoid(z))`` independently;
    predicted logits ``1.3 * z + Normal(0, 0.5)`` (over-confident).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

SEED = 20261125
OUT_DIR = Path(__file__).resolve().parent

MULTI_CLASSES = ["cat", "dog", "bird", "fish"]
DISTILL_CLASSES = ["cat", "dog", "bird"]
MULTILABEL_TAGS = ["sport", "music", "film"]


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax; each row is renormalised so it sums to 1 to ~1e-16."""
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def sample_categorical(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """Draw one class index per row of ``probs`` (inverse-CDF sampling)."""
    cdf = np.cumsum(probs, axis=1)
    u = rng.random(probs.shape[0])[:, None]
    idx = (u > cdf).sum(axis=1)
    return np.minimum(idx, probs.shape[1] - 1)


def round_sig(df: pd.DataFrame, digits: int = 10) -> pd.DataFrame:
    """Round float columns to ``digits`` significant digits (what ``%.{digits}g`` writes)."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype.kind == "f":
            out[col] = [float(f"{v:.{digits}g}") for v in out[col]]
    return out


def make_regression(rng: np.random.Generator, n: int = 3000) -> pd.DataFrame:
    x1 = rng.uniform(-3.0, 3.0, n)
    signal = 2.0 + 1.5 * np.sin(x1) + 0.5 * x1
    y = signal + 1.5 * rng.standard_t(3, n)
    y_pred = signal + rng.normal(0.0, 0.2, n)
    return round_sig(pd.DataFrame({"y": y, "y_pred": y_pred, "x1": x1}))


def make_counts(rng: np.random.Generator, n: int = 4000, alpha: float = 0.8) -> pd.DataFrame:
    x1 = rng.normal(0.0, 1.0, n)
    mu = np.exp(np.log(3.0) + 0.7 * x1)
    lam = rng.gamma(shape=1.0 / alpha, scale=alpha * mu)
    y = rng.poisson(lam).astype(np.int64)
    return pd.DataFrame({"y": y, "y_pred": mu, "x1": x1})


def make_binary(rng: np.random.Generator, n: int = 4000) -> pd.DataFrame:
    x1 = rng.normal(0.0, 1.0, n)
    eta = -0.4 + 1.3 * x1
    y = (rng.random(n) < sigmoid(eta)).astype(np.int64)
    p = sigmoid(0.25 + 1.35 * eta + rng.normal(0.0, 0.3, n))
    p = np.clip(p, 1e-6, 1.0 - 1e-6)
    return pd.DataFrame({"y": y, "p": p, "x1": x1})


def make_multiclass(rng: np.random.Generator, n: int = 3000) -> pd.DataFrame:
    k = len(MULTI_CLASSES)
    z = np.array([0.6, 0.3, -0.2, -0.7]) + rng.normal(0.0, 1.3, (n, k))
    labels = np.array(MULTI_CLASSES)[sample_categorical(rng, softmax(z))]
    p = softmax(0.85 * z + rng.normal(0.0, 0.6, (n, k)))
    df = pd.DataFrame({"label": labels})
    for j, name in enumerate(MULTI_CLASSES):
        df[f"p_{name}"] = p[:, j]
    return df


def make_distill(rng: np.random.Generator, n: int = 2000, temperature: float = 2.0) -> pd.DataFrame:
    k = len(DISTILL_CLASSES)
    z = np.array([0.3, 0.0, -0.3]) + rng.normal(0.0, 1.5, (n, k))
    t = softmax(z / temperature)
    p = softmax(0.9 * z / temperature + rng.normal(0.0, 0.4, (n, k)))
    df = pd.DataFrame({f"t_{name}": t[:, j] for j, name in enumerate(DISTILL_CLASSES)})
    for j, name in enumerate(DISTILL_CLASSES):
        df[f"p_{name}"] = p[:, j]
    df["label"] = np.array(DISTILL_CLASSES)[t.argmax(axis=1)]
    return df


def make_positive(rng: np.random.Generator, n: int = 3000, shape: float = 4.0) -> pd.DataFrame:
    x1 = rng.normal(0.0, 1.0, n)
    mu = np.exp(np.log(10.0) + 0.6 * x1)
    y = rng.gamma(shape=shape, scale=mu / shape)
    y_pred = mu * np.exp(rng.normal(0.0, 0.1, n))
    w = rng.integers(1, 4, n).astype(np.int64)
    return pd.DataFrame({"y": y, "y_pred": y_pred, "w": w, "x1": x1})


def make_distributional(rng: np.random.Generator, n: int = 3000) -> pd.DataFrame:
    from scipy import special

    x1 = rng.normal(0.0, 1.0, n)
    mu = 2.0 + 1.5 * np.sin(x1)
    s = np.exp(-0.3 + 0.4 * x1)
    y = mu + s * rng.standard_t(5, n) * np.sqrt(3.0 / 5.0)
    y_pred = mu + rng.normal(0.0, 0.1, n)
    sigma = 0.8 * s
    out = {"y": y, "y_pred": y_pred, "sigma": sigma}
    for tau in (0.1, 0.5, 0.9):
        out[f"q_{tau:g}"] = y_pred + sigma * special.ndtri(tau)
    out["x1"] = x1
    return round_sig(pd.DataFrame(out))


def make_claims(rng: np.random.Generator, n: int = 3000, pi: float = 0.6,
                shape: float = 1.5) -> pd.DataFrame:
    x1 = rng.normal(0.0, 1.0, n)
    mu = np.exp(np.log(500.0) + 0.5 * x1)
    zero = rng.random(n) < pi
    amount = rng.gamma(shape=shape, scale=mu / (1.0 - pi) / shape)
    y = np.where(zero, 0.0, amount)
    y_pred = mu * np.exp(rng.normal(0.0, 0.1, n))
    return round_sig(pd.DataFrame({"y": y, "y_pred": y_pred, "x1": x1}))


def make_multilabel(rng: np.random.Generator, n: int = 2000) -> pd.DataFrame:
    x1 = rng.normal(0.0, 1.0, n)
    k = len(MULTILABEL_TAGS)
    z = np.array([0.4, -0.3, -1.0]) + np.outer(x1, [1.0, -0.8, 0.5]) \
        + rng.normal(0.0, 0.8, (n, k))
    y = (rng.random((n, k)) < sigmoid(z)).astype(np.int64)
    logit = 1.3 * z + rng.normal(0.0, 0.5, (n, k))
    df = pd.DataFrame({f"y_{tag}": y[:, j] for j, tag in enumerate(MULTILABEL_TAGS)})
    for j, tag in enumerate(MULTILABEL_TAGS):
        df[f"z_{tag}"] = logit[:, j]
    df["x1"] = x1
    return round_sig(df)


def write_csv(df: pd.DataFrame, name: str, float_format: str = "%.10g") -> None:
    path = OUT_DIR / name
    df.to_csv(path, index=False, float_format=float_format, lineterminator="\n")
    report(path, len(df))


def write_parquet(df: pd.DataFrame, name: str) -> None:
    path = OUT_DIR / name
    df.to_parquet(path, engine="pyarrow", index=False)
    report(path, len(df))


def report(path: Path, rows: int) -> None:
    print(f"{path.name:<20} rows={rows:<6} size={path.stat().st_size:,} bytes")


def main() -> None:
    rng = np.random.default_rng(SEED)

    regression = make_regression(rng)
    write_csv(regression, "regression.csv")
    write_parquet(regression, "regression.parquet")

    write_csv(make_counts(rng), "counts.csv")
    write_csv(make_binary(rng), "binary.csv")
    write_csv(make_multiclass(rng), "multiclass.csv", float_format="%.17g")
    write_csv(make_distill(rng), "distill.csv", float_format="%.17g")
    write_parquet(make_positive(rng), "positive.parquet")
    write_csv(make_distributional(rng), "distributional.csv")
    write_csv(make_claims(rng), "claims.csv")
    write_csv(make_multilabel(rng), "multilabel.csv")


if __name__ == "__main__":
    main()
