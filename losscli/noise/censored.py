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

from typing import Any

import numpy as np

from losscli.noise.base import (
    ContinuousFamily,
    Params,
    fit_given_numeric,
    mode_params,
    take_params,
)
from losscli.noise.measures import ATOM_AT_ZERO
from losscli.noise.support import NONNEGATIVE


class Censored:
    """`family` on the atom-at-zero measure: censored at 0 (Tobit), or as it is when it
    has a point mass at 0 (`zero_mass`)."""

    discrete = False
    measure = ATOM_AT_ZERO
    support = NONNEGATIVE
    closed_form: tuple[str, ...] = ()  # the censored likelihood needs an optimiser
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

    def _censored_ppf(self, q: float, pred: Any, params: Params) -> np.ndarray:
        """F⁻¹(q) of the censored law: max(F⁻¹(q), 0) (0 for q ≤ F(0))."""
        return np.maximum(self.family.ppf(q, pred, params), 0.0)

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
        names = mode_params(self.family, pred)
        return fit_given_numeric(self.family, self.loglik, self.family.fit_given_start,
                                 y, w, pred, {}, names)

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
        return fit_given_numeric(self.family, self.loglik, self.family.fit_given_start,
                                 y, w, pred, given, free)

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
    crps = None  # SPEC §8.3's CRPS of a censored law: not implemented (a warning says so)
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

