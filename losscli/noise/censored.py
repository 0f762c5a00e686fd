"""A density censored at 0: the atom-at-zero base measure (SPEC §9.1).

On a semicontinuous target (y ≥ 0, zeros and non-integers) a zero scores the probability
that the family puts at or below 0 and a positive y its density: the Tobit likelihood,

    log q(y) = log F(0 | ŷ, φ)   at y = 0,     log f(y | ŷ, φ)   at y > 0,

and φ (or every parameter, marginally) is fitted on it. `Censored(family)` is that
family: built once per run, it reads every declaration of the family it wraps and
replaces only what changes, as `Discretised` does on the integers. A family with a point
mass at 0 of its own (`Family.zero_mass`) keeps its likelihood and is only put on the
measure.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from losscli import optimize
from losscli.errors import FitError
from losscli.noise.base import (
    PILOT_ROWS,
    PILOT_SEED,
    ContinuousFamily,
    Params,
    fit_given_numeric,
    mode_params,
    take_params,
)
from losscli.noise.measures import ATOM_AT_ZERO
from losscli.noise.sums import total_weight, wsum
from losscli.noise.support import NONNEGATIVE
from losscli.reduce import seeded_rows


def numeric_fit(fam: Any, total_of: Any, start_fn: Any, y: np.ndarray, w: np.ndarray | None,
                pred: Any, names: tuple[str, ...]) -> Params:
    """The weighted MLE of `names` on Σ w log q (`total_of(y, w, pred)`: the function of
    the parameters that sums it over these rows, with what it needs of them split out
    once) by the shared optimiser, finished by Newton steps (`optimize.polish`) to ~1e-8.
    On many rows a fit on a seeded pilot sample
    of PILOT_ROWS starts Newton steps on every row (a start within sampling error of the
    optimum: a few passes instead of a few hundred). The location of a marginal fit is
    searched in units of its start's size, so that the optimiser's bound on a step
    (optimize.MAX_LOG_STEP) does not hold it near a start far from the optimum (a
    censored mean below 0 when the uncensored one is large)."""
    W = total_weight(y.size, w)
    domains = fam.param_domains
    total = total_of(y, w, pred)
    if y.size > 4 * PILOT_ROWS:
        idx = seeded_rows(y.size, PILOT_ROWS, PILOT_SEED)
        pilot = numeric_fit(fam, total_of, start_fn, y[idx], None if w is None else w[idx],
                            pred[idx] if np.ndim(pred) else pred, names)
        params, status = optimize.polish(total, pilot, names, domains)
        if status == optimize.CONVERGED:
            return {k: params[k] for k in names}
    try:
        fitted = start_fn(y, w, pred)
    except FitError:
        fitted = {}
    start: Params = {}
    for k in names:
        v = float(fitted.get(k, 1.0))
        if domains.get(k) == "positive":
            v = min(max(v, 1e-6), 1e6) if math.isfinite(v) else 1.0
        start[k] = v if math.isfinite(v) else 0.0
    loc = fam.location if pred is None and fam.location in names \
        and domains.get(fam.location) != "positive" else None
    unit = 1.0
    if loc is not None:
        spread = fam.spread[0] if fam.spread and fam.spread[1] == "scale" else None
        unit = max(abs(start[loc]), start.get(spread, 0.0) if spread else 0.0)
        unit = unit if unit > 0.0 and math.isfinite(unit) else 1.0
    scaled = dict(start)
    if loc is not None:
        scaled[loc] = start[loc] / unit

    def unscaled(p: Params) -> Params:
        return p if loc is None else {**p, loc: p[loc] * unit}

    found = optimize.minimize_params(lambda p: -total(unscaled(p)) / W, scaled, names, domains)
    params, _ = optimize.polish(total, unscaled(found), names, domains)
    return {k: params[k] for k in names}


def split_rows(y: np.ndarray, w: np.ndarray | None, pred: Any):
    """(zero rows' weight: Σw, or their weights; their predictions), (the positive rows'
    y, w, predictions): the rows of a fit split once at y = 0."""
    zero = y <= 0.0
    pos = ~zero
    rows = np.ndim(pred) > 0
    wz = (float(np.count_nonzero(zero)) if w is None else float(w[zero].sum())) \
        if not rows else (None if w is None else w[zero])
    return ((wz, pred[zero] if rows else None, int(np.count_nonzero(zero))),
            (y[pos], None if w is None else w[pos], pred[pos] if rows else None))


class Censored:
    """`family` on the atom-at-zero measure: censored at 0 (Tobit), or as it is when it
    has a point mass at 0 (`zero_mass`)."""

    discrete = False
    measure = ATOM_AT_ZERO
    support = NONNEGATIVE
    closed_form: tuple[str, ...] = ()  # the censored likelihood needs an optimiser
    ppf_levels = None  # its own `ppf`, level by level (not the wrapped family's)
    unbounded_within_half = False
    precise_fit = True  # `fit` ends with Newton steps (optimize.polish)

    @staticmethod
    def applies(fam: Any) -> bool:
        """Whether the family can be scored on the atom at zero: a point mass at 0 of its
        own, or a density with a c.d.f. that puts mass below 0 (F(0) > 0: a support
        reaching below 0); a density on y > 0 (gamma) has none to censor."""
        if fam.zero_mass:
            return True
        return isinstance(fam, ContinuousFamily) and fam.support.lower < 0.0

    def __init__(self, family: Any) -> None:
        self.family = family
        self.censors = not family.zero_mass
        if self.censors:
            self.loss = f"{family.loss}, censored at 0 (Tobit)"
        else:  # its own likelihood: its own fits; the PIT where it has a c.d.f.
            self.support = family.support
            self.closed_form = family.closed_form
            self.precise_fit = family.precise_fit
            if getattr(type(family), "logcdf", None) in (None, ContinuousFamily.logcdf):
                self.pit_method = None
        self.loss_support = family.loss_support or family.support
        if self.censors and family.ppf is not None:
            self.ppf = self._censored_ppf
        # the CRPS: the family's own where it keeps its likelihood, else the censored law's
        if not self.censors:
            self.crps = family.crps
        elif family.crps is not None:
            self.crps = self._censored_crps

    def _censored_ppf(self, q: float, pred: Any, params: Params) -> np.ndarray:
        """F⁻¹(q) of the censored law: max(F⁻¹(q), 0) (0 for q ≤ F(0))."""
        return np.maximum(self.family.ppf(q, pred, params), 0.0)

    def _censored_crps(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        """CRPS of the law censored at 0, G(x) = F(x) for x ≥ 0 and 0 below, at y ≥ 0:
        ∫₀^∞(F(x) − 1{y ≤ x})² dx = CRPS(F, y) − ∫_{−∞}^0 F(x)² dx (the family's `crps`
        less its `crps_lower` at 0; the integrand below 0 is F² for every y ≥ 0)."""
        y = np.maximum(np.asarray(y, dtype=np.float64), 0.0)
        with np.errstate(all="ignore"):
            return self.family.crps(y, pred, params) - self.family.crps_lower(0.0, pred, params)

    def __getattr__(self, name: str) -> Any:
        # only for names not set here; never while unpickling, before `family` exists
        if name.startswith("__") or name == "family":
            raise AttributeError(name)
        return getattr(self.family, name)

    def loglik(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        """log F(0 | ŷ, φ) at y = 0, the log-density at y > 0 (Tobit)."""
        if not self.censors:
            return self.family.loglik(y, pred, params)
        y = np.asarray(y, dtype=np.float64)
        zero = y <= 0.0
        if not zero.any():
            return self.family.loglik(y, pred, params)
        rows = np.ndim(pred) > 0 or any(np.ndim(v) for v in params.values())
        out = np.empty(np.broadcast_shapes(y.shape, np.shape(pred)))
        pos = ~zero
        if pos.any():
            out[pos] = self.family.loglik(y[pos], _take(pred, pos),
                                          take_params(params, pos) if rows else params)
        with np.errstate(divide="ignore"):
            out[zero] = self.family.logcdf(np.zeros(int(zero.sum())), _take(pred, zero),
                                           take_params(params, zero) if rows else params)
        return out

    def fit(self, y: np.ndarray, w: np.ndarray | None, pred: Any = None) -> Params:
        """The MLE on the censored likelihood (the nuisance given ŷ, or every parameter),
        started from the density's MLE and finished by Newton steps."""
        if not self.censors:
            return self.family.fit(y, w, pred)
        return numeric_fit(self.family, self._total_of, self._start, y, w, pred,
                           mode_params(self.family, pred))

    def fit_with_information(self, y: np.ndarray, w: np.ndarray | None, pred: Any = None
                             ) -> tuple[Params, None]:
        """`fit` (the wrapped family's own information is not this likelihood's)."""
        return self.fit(y, w, pred), None

    def _total_of(self, y: np.ndarray, w: np.ndarray | None, pred: Any):
        """Σ w log q as a function of the (scalar) parameters, the rows split at 0 once:
        Σ_{y=0} w log F(0 | ŷ) + Σ_{y>0} w log f(y | ŷ); one F(0) for a marginal fit."""
        fam = self.family
        (wz, pz, nz), (yp, wp, pp) = split_rows(y, w, pred)
        zeros = np.zeros(nz if pz is not None else 1)

        def total(params: Params) -> float:
            p = pred if pred is not None else fam.marginal_pred(params)
            with np.errstate(all="ignore"):
                out = wsum(fam.loglik(yp, pp if pp is not None else p, params), wp)
                if nz:
                    lz = fam.logcdf(zeros, pz if pz is not None else p, params)
                    out += wsum(lz, wz) if pz is not None else float(lz[0]) * wz
            return out

        return total

    def _start(self, y: np.ndarray, w: np.ndarray | None, pred: Any) -> Params:
        """The density's MLE, zeros taken as values, or where their ties make it
        degenerate (student_t's scale → 0 on the spike), of the positive rows alone: on the
        data's scale, where a family's generic start (`fit_given_start`) may not be."""
        try:
            return self.family.fit(y, w, pred)
        except FitError:
            pass
        pos = y > 0.0
        try:
            return self.family.fit(y[pos], None if w is None else w[pos],
                                   pred[pos] if np.ndim(pred) else pred)
        except FitError:
            return self.family.fit_given_start(y, w, pred)

    def fit_given(self, y: np.ndarray, w: np.ndarray | None, pred: Any, given: Params,
                  free: tuple[str, ...]) -> Params:
        """The MLE of `free` on the censored likelihood with `given` held: {} when nothing
        is free, exactly `fit` when everything is, else the shared optimiser."""
        if not self.censors:
            return self.family.fit_given(y, w, pred, given, free)
        if not free:
            return {}
        if not given and set(free) == set(mode_params(self.family, pred)):
            return self.fit(y, w, pred)
        return fit_given_numeric(self.family, self.loglik, self._start, y, w, pred, given,
                                 free)

    def fit_stats(self, y: np.ndarray, pred: Any) -> Any:
        return self.family.fit_stats(y, pred) if not self.censors else None

    def recalibration_closed(self, *args: Any) -> None:
        return None  # the density's closed form does not hold once censored

    def zero_probability(self, pred: Any, params: Params) -> np.ndarray:
        """P(Y = 0) = F(0 | ŷ, φ), or the family's own mass at 0."""
        return np.exp(self.loglik(np.zeros(np.shape(pred)), pred, params))

    # diagnostics: a PIT spread over [0, F(0)] at a zero (SPEC §7.3's non-randomised PIT),
    # exact above; the squared error of ŷ decomposed (the censored likelihood is not a
    # consistent score of ŷ); no test that needs a continuous PIT or the variance
    pit_method = "nonrandomized"
    decomposition = "squared_error"
    recalibration = "mean"
    forecast_scale = "target"
    calibration = False
    zero_test = False
    rootogram = False
    crps = None  # set per instance: the censored law's, or the family's own
    ppf = None  # a censored density's: set per instance

    def standardised(self, y: np.ndarray, pred: Any, params: Params) -> None:
        return None

    def forecast(self, y: np.ndarray, pred: Any) -> tuple[np.ndarray, np.ndarray]:
        """(ŷ, y) on the scale of y."""
        return ContinuousFamily.forecast(self, y, pred)

    def pit_interval(self, y: np.ndarray, pred: Any, params: Params
                     ) -> tuple[np.ndarray, np.ndarray]:
        """[0, P(Y = 0)] at a zero, u = F(y) (l = r) above; F the censored law's (the
        density's c.d.f. above 0), or the family's own, its mass at 0 included."""
        y = np.asarray(y, dtype=np.float64)
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            r = np.exp(self.family.logcdf(y, pred, params))
        return np.where(y <= 0.0, 0.0, r), r

    def to_scipy(self, pred: Any, params: Params) -> Any:
        return self.family.to_scipy(pred, params)


def _take(pred: Any, mask: np.ndarray) -> Any:
    return pred[mask] if np.ndim(pred) else pred

