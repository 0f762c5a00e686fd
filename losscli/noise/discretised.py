"""A continuous family put on the integers (SPEC §1.6): the counting base measure.

On integer targets every continuous family competes with the discrete ones through the
probability of the unit interval, q(y) = F(y + ½) − F(max(y − ½, lower)), and its nuisance
is fitted on that likelihood. `Discretised(family)` is that family: built once per run,
it reads every declaration of the family it wraps and replaces only what changes.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np

from losscli.noise import crps as crps_forms
from losscli.noise.base import (
    ContinuousFamily,
    Information,
    Params,
    fit_given_numeric,
    mode_params,
)
from losscli.noise.measures import COUNTING


class Discretised:
    """`family` scored and fitted on unit intervals; support closed at its lower bound
    (y = 0 is scored on [0, ½] for gamma and lognormal)."""

    discrete = True
    measure = COUNTING
    # every prediction within ½ of its target: the interval probabilities tend to 1 as
    # the spread goes to 0, so the likelihood has no maximum at a positive spread
    unbounded_within_half = True
    closed_form: tuple[str, ...] = ()  # the interval likelihood needs an optimiser
    ppf_levels = None  # its own `ppf`, level by level (not the wrapped family's)
    # the interval likelihood is smooth in every parameter (a median too) and its
    # information has no closed form: the shared numerical Hessian reads it
    nonsmooth: tuple[str, ...] = ()

    def closed_se(self, params: Params, W: float, conditional: bool) -> None:
        return None

    def __init__(self, family: ContinuousFamily) -> None:
        self.family = family
        self.support = replace(family.support, lower_open=False)
        self.precise_fit = family.counting_fit_precise
        # a Newton fit of the one nuisance on the score's own derivatives
        self.precise_conditional_fit = family.interval_spread_derivatives is not None
        # the family's own loss (gamma deviance, …) still needs its open support
        self.loss_support = family.loss_support or family.support
        # the sum over the integers needs the family's quantiles (its window) and its
        # continuous CRPS (rows whose window is too wide)
        if family.crps is None or family.ppf is None:
            self.crps = None

    def __getattr__(self, name: str) -> Any:
        # only for names not set here; never while unpickling, before `family` exists
        if name.startswith("__") or name == "family":
            raise AttributeError(name)
        return getattr(self.family, name)

    def loglik(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        """log P(y − ½ < Y ≤ y + ½), from the family's tails (SPEC §1.6)."""
        return self.family.interval_loglik(y, pred, params)

    def fit(self, y: np.ndarray, w: np.ndarray | None, pred: Any = None) -> Params:
        """The MLE on the discretised likelihood, started from the density's MLE."""
        return self.fit_with_information(y, w, pred)[0]

    def fit_with_information(self, y: np.ndarray, w: np.ndarray | None, pred: Any = None
                             ) -> tuple[Params, Information | None]:
        """`fit`, with the information of its last Newton step where the family's
        discretised fit ends on one (no pass more for params_se)."""
        return self.family.fit_counting_with_information(y, w, pred)

    def information(self, y: np.ndarray, w: np.ndarray | None, pred: Any, params: Params,
                    names: tuple[str, ...]) -> np.ndarray | None:
        """Conditional, the one nuisance θ = e^s: −Σ w ∂²ℓ/∂θ² = −(Σw∂ₛₛℓ − Σw∂ₛℓ)/θ²
        from the family's interval derivatives; otherwise None (central differences)."""
        fam = self.family
        if (pred is None or fam.interval_spread_derivatives is None
                or names != fam.nuisance or np.ndim(params[names[0]])):
            return None
        theta = float(params[names[0]])
        _, g, h = fam.interval_spread_sums(y, w, pred, {names[0]: theta})
        info = -(h - g) / theta ** 2
        return np.array([[info]]) if math.isfinite(info) else None

    def fit_given(self, y: np.ndarray, w: np.ndarray | None, pred: Any, given: Params,
                  free: tuple[str, ...]) -> Params:
        """The MLE of `free` on the unit intervals with `given` held (per-row arrays or
        floats): {} when nothing is free, exactly `fit` when everything is, else the
        family's profile (`fit_given_profile`) or the shared optimiser from the density's
        start (no closed form on intervals)."""
        if not free:
            return {}
        if not given and set(free) == set(mode_params(self.family, pred)):
            return self.fit(y, w, pred)
        profile = self.family.fit_given_profile(self.family.interval_loglik, y, w, pred,
                                                given, free)
        if profile is not None:
            return profile
        return fit_given_numeric(self.family, self.family.interval_loglik,
                                 self.family.fit_given_start, y, w, pred, given, free)

    def fit_stats(self, y: np.ndarray, pred: Any) -> None:
        return None  # never closed form: the interval likelihood needs an optimiser

    # diagnostics: the PIT of an interval, and a decomposition of squared error (the
    # interval likelihood is not a consistent score of ŷ), both on the target's scale
    pit_method = "nonrandomized"
    decomposition = "squared_error"
    recalibration = "mean"
    forecast_scale = "target"

    @property
    def calibration(self) -> bool:
        """Σw(y − ŷ) needs the family's variance on the scale of y."""
        return self.family.calibration and self.family.forecast_scale == "target"

    def forecast(self, y: np.ndarray, pred: Any) -> tuple[np.ndarray, np.ndarray]:
        """(ŷ, y): the squared error is of the counts themselves, whatever scale the
        family forecasts on (log y is −∞ at y = 0)."""
        return ContinuousFamily.forecast(self, y, pred)

    def pit_interval(self, y: np.ndarray, pred: Any, params: Params
                     ) -> tuple[np.ndarray, np.ndarray]:
        """[F(y − ½), F(y + ½)], the lower end clipped to the support (F = 0 there)."""
        a = y - 0.5
        lower = self.family.support.lower
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            la = self.family.logcdf(np.maximum(a, lower) if lower > -np.inf else a, pred,
                                    params)
            lo = np.where(a <= lower, 0.0, np.exp(la))
            r = np.exp(self.family.logcdf(y + 0.5, pred, params))
        return lo, r

    def to_scipy(self, pred: Any, params: Params) -> Any:
        return self.family.to_scipy(pred, params)

    # -- proper scores on the counting measure (SPEC §8.3)
    def crps(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        """Σ_k (G(k) − 1{y ≤ k})² over the integers of the support, G(k) = F(k + ½)
        (`crps_forms.discretised`: a windowed sum, bounded work per row)."""
        return crps_forms.discretised(self.family, self.support.lower, y, pred, params)

    def ppf(self, q: float, pred: Any, params: Params) -> np.ndarray:
        """min{k : G(k) ≥ q} = ⌈F⁻¹(q) − ½⌉, at least the support's lower bound."""
        k = np.ceil(self.family.ppf(q, pred, params) - 0.5)
        lower = self.support.lower
        return np.maximum(k, lower) if lower > -np.inf else k
