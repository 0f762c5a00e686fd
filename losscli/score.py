"""Fit one family to a dataset and compute every quantity of SPEC §1.5 (in nats).

The per-row log-likelihood is the one primitive: nll, cross-entropy, KL, AIC/BIC and the
baseline all derive from it. `Scored.loglik_blocks()` recomputes it block by block (the
Vuong test needs it again), so no per-row array is kept per family on large inputs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from losscli import entropy, metrics, parallel
from losscli.dataset import Dataset
from losscli.errors import FitError, InputError
from losscli.families import FAMILIES, ContinuousFamily, Family
from losscli.families.base import Params, integral, total_weight, value_counts, wsum

SAMPLE_SEED = 20261125
CHUNK_ROWS = 1 << 20  # rows per block when summing per-row log-likelihoods
KEEP_LOGLIK_ROWS = 32_000_000  # up to here a family's per-row log-likelihoods are kept
MAX_EXPANDED_ROWS = 100_000_000  # whole-number weights expand for the spacing entropy


@dataclass
class ModelResult:
    """One family's results; field names are the SPEC's JSON names (values in nats)."""

    family: str
    loss: str
    params: Params
    n_params: int
    n: int
    fit_rows: int
    nll: float
    cross_entropy: float
    entropy: float | None
    entropy_method: str
    kl: float | None
    aic: float
    bic: float
    baseline_cross_entropy: float | None
    information_gain: float | None
    normalized_entropy: float | None
    metrics: dict[str, float | None]
    base_measure: str
    warnings: list[str] = field(default_factory=list)


@dataclass
class Scored:
    """A fitted family and what is needed to recompute its per-row log-likelihood."""

    family: Family
    y: np.ndarray
    pred: Any
    params: Params
    counting: bool
    result: ModelResult
    ll: np.ndarray | None = None  # kept per-row log-likelihoods, when affordable

    def loglik_blocks(self):
        """(slice, per-row log-likelihood) block by block: the kept values, or recomputed
        so that memory stays bounded on very large inputs."""
        if self.ll is not None:
            n = self.ll.size
            return ((slice(s, min(s + CHUNK_ROWS, n)), self.ll[s:s + CHUNK_ROWS])
                    for s in range(0, n, CHUNK_ROWS))
        return loglik_blocks(self.family, self.y, self.pred, self.params, self.counting)


def make_family(name: str, ds: Dataset) -> Family:
    cls = FAMILIES[name]
    return cls(ds.classes) if name == "categorical" else cls()


def row_loglik(fam: Family, y: np.ndarray, pred: Any, params: Params,
               counting: bool) -> np.ndarray:
    if counting and isinstance(fam, ContinuousFamily):
        return fam.interval_loglik(y, pred, params)
    return fam.loglik(y, pred, params)


def _rows(x: Any, sl: slice) -> Any:
    """The rows `sl` of a per-row array; scalars and (K, 1) blocks are shared by all rows."""
    if np.ndim(x) == 0 or (np.ndim(x) == 2 and x.shape[1] == 1):
        return x
    return x[..., sl]


def loglik_blocks(fam: Family, y: np.ndarray, pred: Any, params: Params, counting: bool):
    n = y.shape[-1]
    for start in range(0, n, CHUNK_ROWS):
        sl = slice(start, min(start + CHUNK_ROWS, n))
        yield sl, row_loglik(fam, _rows(y, sl), _rows(pred, sl), params, counting)


def total_loglik(fam: Family, y: np.ndarray, w: np.ndarray | None, pred: Any,
                 params: Params, counting: bool) -> float:
    """Σ w_i log q(y_i), block by block on every core."""
    def block(sl: slice) -> float:
        ll = row_loglik(fam, _rows(y, sl), _rows(pred, sl), params, counting)
        return wsum(ll, None if w is None else w[sl])

    return math.fsum(parallel.map_blocks(block, y.shape[-1], CHUNK_ROWS))


def family_inputs(fam: Family, ds: Dataset) -> tuple[np.ndarray, Any]:
    """(y, prediction) in the form the family's loglik takes; prediction None = marginal."""
    if fam.classifier:
        if fam.name == "bernoulli" and ds.logq is None and ds.pred is not None:
            raise FitError("needs P(y = 1) predictions in [0, 1] "
                           "(--pred, --probs or --logits)")
        if ds.logq is not None and fam.name == "bernoulli" and ds.logq.shape[0] != 2:
            raise FitError(f"needs one probability column, got {ds.logq.shape[0]}")
        if fam.name == "categorical" and ds.logq is None and ds.pred is not None:
            raise FitError("needs class-probability columns (--probs or "
                           f"--logits), not the point prediction {ds.prediction[0]!r}")
        return ds.y, ds.logq
    if ds.logq is not None and ds.pred is None:
        raise FitError("needs a point prediction (--pred), not class probabilities")
    return ds.y, ds.pred


def check_domain(fam: Family, ds: Dataset, y: np.ndarray, pred: Any,
                 counting: bool = False) -> None:
    """Values outside the family's support raise an InputError naming the first row.

    On the counting base measure a continuous family scores y on [y − ½, y + ½] clipped
    to its support, so y may equal an open lower bound (gamma, lognormal: y = 0).
    """
    if fam.name != "categorical":
        support = fam.support
        if counting and isinstance(fam, ContinuousFamily) and support.lower_open:
            support = replace(support, lower_open=False)
        i = support.first_outside(y)
        if i is not None:
            raise InputError(f"outside {fam.name}'s support ({support.description})",
                             file=ds.path, column=ds.target, row=ds.file_row(i),
                             value=float(y[i]))
    if not fam.classifier and pred is not None:
        i = fam.pred_domain.first_outside(pred)
        if i is not None:
            raise InputError(
                f"prediction outside {fam.name}'s domain for the {fam.prediction} "
                f"({fam.pred_domain.description})", file=ds.path, column=ds.prediction[0],
                row=ds.file_row(i), value=float(pred[i]))


def fit_family(fam: Family, y: np.ndarray, w: np.ndarray | None, pred: Any,
               counting: bool, fit_rows: int | None,
               counts: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[Params, int]:
    """Fit by weighted ML; returns (params, rows the fit used). `counts`: the value counts
    of (y, w), when the caller has them already."""
    continuous = isinstance(fam, ContinuousFamily)
    n = y.shape[-1]
    if pred is None:
        if fam.discrete or counting:
            if fam.classifier:  # closed forms, soft labels too
                return fam.fit(y, w), n
            # marginal fits on integer targets see only the value counts
            values, weights = counts if counts is not None else value_counts(y, w)
            if counting and continuous:
                if values.size == 1 or (values.size == 2 and values[1] - values[0] == 1):
                    # one value, or two neighbours: a location at (or near) their midpoint
                    # with a vanishing spread reproduces the empirical distribution exactly
                    raise FitError(
                        "the target takes only " + ("one value" if values.size == 1 else
                                                    "two neighbouring integer values")
                        + ", so the discretised likelihood keeps rising as the spread "
                        "goes to 0: no maximum with a spread > 0")
                return fam.fit_counting(values, weights), n
            return fam.fit(values, weights), n
    if counting and continuous and pred is not None and _all_within_half(y, pred):
        raise FitError(
            "every prediction lies within ½ of its integer target, so the discretised "
            "likelihood keeps rising as the spread goes to 0: no maximum with a spread "
            "> 0 (the limit is a point mass at the prediction)")
    if fit_rows is not None and n > fit_rows and fam.numeric_fit(pred is not None, counting):
        # a seeded sample of rows for an optimiser that would otherwise dominate the run
        idx = np.sort(np.random.default_rng(SAMPLE_SEED).choice(n, size=fit_rows,
                                                                replace=False))
        y = y[idx]
        pred = None if pred is None else pred[idx]
        w = None if w is None else w[idx]
        n = fit_rows
    if pred is None:
        return fam.fit(y, w), n
    if counting and continuous:
        return fam.fit_counting(y, w, pred), n
    return fam.fit(y, w, pred), n


def _all_within_half(y: np.ndarray, pred: np.ndarray) -> bool:
    """Whether |y − ŷ| ≤ ½ on every row; block by block, stopping at the first row out."""
    for a in range(0, y.size, CHUNK_ROWS):
        if not np.all(np.abs(y[a:a + CHUNK_ROWS] - pred[a:a + CHUNK_ROWS]) <= 0.5):
            return False
    return True


class Shared:
    """What every family's score shares on one dataset, computed once: the entropy H(P)
    (it depends on the data, the mode and the base measure, not on the family), the value
    counts of an integer target, and the metrics of the given point prediction."""

    def __init__(self, ds: Dataset) -> None:
        self.ds = ds
        self._entropy: dict[tuple[bool, bool], tuple[float | None, str, str | None]] = {}
        self._counts: tuple[np.ndarray, np.ndarray] | None = None
        self._point_metrics: dict | None = None

    def value_counts(self) -> tuple[np.ndarray, np.ndarray]:
        if self._counts is None:
            self._counts = value_counts(self.ds.y, self.ds.w)
        return self._counts

    def point_metrics(self, yhat: Any) -> dict:
        """mse, rmse, mae, r2 of ŷ; computed once for the prediction column itself."""
        if yhat is not self.ds.pred:
            return metrics.regression(self.ds.y, yhat, self.ds.w)
        if self._point_metrics is None:
            self._point_metrics = metrics.regression(self.ds.y, yhat, self.ds.w)
        return dict(self._point_metrics)

    def entropy(self, conditional: bool, counting: bool,
                discrete: bool) -> tuple[float | None, str, str | None]:
        key = (conditional, counting or discrete)
        if key not in self._entropy:
            self._entropy[key] = self._compute_entropy(conditional, counting or discrete)
        return self._entropy[key]

    def _compute_entropy(self, conditional: bool,
                         discrete: bool) -> tuple[float | None, str, str | None]:
        ds = self.ds
        if ds.soft or (discrete and ds.y.ndim == 1 and not ds.labels
                       and not np.all(integral(ds.y))):
            # soft labels given as such, or a proportion target read as soft labels
            return entropy.soft_labels(ds.y, ds.w), "soft-labels", None
        if discrete and conditional:
            return 0.0, "hard-labels", None
        if discrete:
            return entropy.plug_in(ds.y, ds.w), "plug-in", None
        y, pred = ds.y, ds.pred if conditional else None
        if ds.w is not None:
            # frequency weights are repetitions: whole weights expand exactly
            w = ds.w
            if not (np.all(integral(w)) and w.sum() <= MAX_EXPANDED_ROWS):
                return None, "spacing", ("the spacing entropy estimate needs unweighted rows "
                                         "or whole-number frequency weights")
            reps = w.astype(np.int64)
            y = np.repeat(y, reps)
            pred = None if pred is None else np.repeat(pred, reps)
        h, why = entropy.spacing(y, pred)
        return h, "spacing", why


def score(name: str, ds: Dataset, counting: bool, fit_rows: int | None,
          shared: Shared) -> Scored:
    """Fit `name` on `ds` and compute its ModelResult (raises FitError / InputError).

    Floating-point warnings are off: a fit or sum that is not finite is caught and named
    (FitError, or null with a warning in the report), never left to numpy's warnings."""
    with np.errstate(all="ignore"):
        return _score(name, ds, counting, fit_rows, shared)


def _score(name: str, ds: Dataset, counting: bool, fit_rows: int | None,
           shared: Shared) -> Scored:
    fam = make_family(name, ds)
    y, pred = family_inputs(fam, ds)
    check_domain(fam, ds, y, pred, counting)
    w = ds.w
    conditional = pred is not None
    W = total_weight(y.shape[-1], w)
    counts = shared.value_counts() if integer_valued(fam, y, counting) else None
    params, used = fit_family(fam, y, w, pred, counting, fit_rows, counts)
    eval_pred = pred if conditional else fam.marginal_pred(params)
    # the Vuong tests need the per-row log-likelihoods again: keep them where they are
    # costly to recompute (interval probabilities), recompute the cheap closed forms
    costly = counting and isinstance(fam, ContinuousFamily)
    kept = np.empty(y.shape[-1]) if costly and y.shape[-1] <= KEEP_LOGLIK_ROWS else None

    def block_nll(sl: slice) -> float:
        ll = row_loglik(fam, _rows(y, sl), _rows(eval_pred, sl), params, counting)
        if kept is not None:
            kept[sl] = ll
        return -wsum(ll, None if w is None else w[sl])

    nll = math.fsum(parallel.map_blocks(block_nll, y.shape[-1], CHUNK_ROWS))
    warnings: list[str] = [f"{name}: {m}" for m in fam.fit_warnings(params)]
    if not math.isfinite(nll):
        raise FitError(_zero_probability(fam, ds, y, eval_pred, params, counting, kept))
    k = fam.n_params(params, conditional)
    ce = nll / W
    h, method, why = shared.entropy(conditional, counting, fam.discrete)
    if why:
        warnings.append(f"{name}: entropy is null: {why}")
    baseline = gain = normalized = None
    if conditional:
        try:
            baseline = marginal_cross_entropy(fam, y, w, counting, fit_rows, counts)
        except FitError as exc:
            baseline = None
            warnings.append(f"{name}: baseline_cross_entropy is null (no fit to the "
                            f"target alone: {exc})")
        if baseline is not None:
            gain = baseline - ce
            if fam.discrete:
                normalized = ce / baseline if baseline > 0 else None
    result = ModelResult(
        family=name, loss=fam.loss, params=json_params(params), n_params=k, n=ds.rows_used,
        fit_rows=ds.rows_used if used == y.shape[-1] else used, nll=nll, cross_entropy=ce,
        entropy=h, entropy_method=method,
        kl=None if h is None else ce - h, aic=2 * k + 2 * nll,
        bic=k * math.log(W) + 2 * nll, baseline_cross_entropy=baseline,
        information_gain=gain, normalized_entropy=normalized,
        metrics=family_metrics(fam, ds, y, eval_pred, shared),
        base_measure="counting" if (counting or fam.discrete) else "lebesgue",
        warnings=warnings,
    )
    return Scored(fam, y, eval_pred, params, counting, result, kept)


def _zero_probability(fam: Family, ds: Dataset, y: np.ndarray, pred: Any, params: Params,
                      counting: bool, kept: np.ndarray | None) -> str:
    """Why the nll is infinite: the first row the fitted model gives probability 0."""
    ll = kept if kept is not None else row_loglik(fam, y, pred, params, counting)
    i = int(np.argmax(~np.isfinite(ll)))
    where = f"row {ds.file_row(i)}"
    if y.ndim == 1 and not ds.labels:
        where += f" (target {y[i]:g}"
        where += f", prediction {pred[i]:g})" if np.ndim(pred) == 1 else ")"
    return f"gives {where} probability 0, so the nll is infinite"


def integer_valued(fam: Family, y: np.ndarray, counting: bool) -> bool:
    """Whether y is one integer-valued column, so its value counts are sufficient."""
    return y.ndim == 1 and not fam.classifier and (
        counting or fam.discrete)


def marginal_cross_entropy(fam: Family, y: np.ndarray, w: np.ndarray | None,
                           counting: bool, fit_rows: int | None,
                           counts: tuple[np.ndarray, np.ndarray] | None = None) -> float:
    """The family's marginal fit on these rows, scored on them: the conditional baseline.
    On integer targets it runs on the value counts, at no cost per row."""
    if counts is not None:
        y, w = counts
    params, _ = fit_family(fam, y, w, None, counting, fit_rows)
    return -total_loglik(fam, y, w, fam.marginal_pred(params), params, counting) / \
        total_weight(y.shape[-1], w)


def json_params(params: Params) -> Params:
    """Parameters as reported: an infinite one (student_t ν = ∞) is null; the family's
    fit_warnings say why, so the report adds no second warning."""
    return {k: None if isinstance(v, float) and math.isinf(v) else v for k, v in params.items()}


def family_metrics(fam: Family, ds: Dataset, y: np.ndarray, pred: Any,
                   shared: Shared) -> dict:
    if fam.classifier:
        return metrics.classification(y, pred, ds.w, binary=fam.name == "bernoulli")
    yhat = fam.point_prediction(pred)
    out = shared.point_metrics(yhat)
    if fam.name in metrics.DEVIANCES:
        out.update(metrics.deviance(fam.name, y, yhat, ds.w))
    return out
