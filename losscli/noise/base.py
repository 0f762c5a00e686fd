"""The noise-family interface and what every family shares.

A family is a parametric distribution q(y | ŷ, φ) whose negative log-likelihood is a
standard loss. It declares its facts as data (support, what ŷ means, parameter names,
framework names) and implements one primitive, the per-row log-likelihood in log space;
every reported number is derived from it.

Two modes (SPEC §1.1): *conditional* — ŷ given per row, only the nuisance φ is fitted;
*marginal* — all parameters fitted to y alone, ŷ is then the fitted location.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from losscli.errors import FitError
from losscli.noise import blocks
from losscli.noise.logspace import log1mexp
from losscli.noise.measures import LEBESGUE, BaseMeasure
from losscli.noise.sums import total_weight, wsum
from losscli.noise.support import Support
from losscli.optimize import CONVERGED, MAX_LOG_STEP, ROOT, minimize_params, newton_root, polish
from losscli.reduce import seeded_rows

Params = dict[str, Any]
# (fitted parameter names, −Hessian of Σ w log q in the fitted coordinates)
Information = tuple[tuple[str, ...], np.ndarray]

# the functions from a `--param` column's values to the parameter's (`Family.param_form`)
FORMS: dict[str, Any] = {
    "identity": lambda x: x,
    "exp": np.exp,  # log_NAME: the column holds ln NAME
    "sqrt": np.sqrt,  # var: the column holds σ²
    "exp_half": lambda x: np.exp(0.5 * x),  # log_var: the column holds ln σ²
}

PILOT_ROWS = 50_000  # rows of the pilot fit that starts a discretised fit on many rows
PILOT_SEED = 7
SPREAD_NEWTON_TOL = 1e-7  # the last Newton step in log θ: the error left is about its square


@dataclass(frozen=True)
class Nesting:
    """This family with `param` at `value` is `family`; `boundary`: the value lies on the
    boundary of the parameter's space (the LR statistic's null distribution is then
    ½χ²₀ + ½χ²₁), else inside it (a regular χ²₁)."""

    family: str
    param: str
    value: float
    boundary: bool = True


@dataclass(frozen=True)
class Frameworks:
    """The equivalent training loss in each framework; None where it has none."""

    pytorch: str | None
    sklearn: str | None
    xgboost: str | None
    lightgbm: str | None
    catboost: str | None = None
    keras: str | None = None

    def names(self) -> dict[str, str | None]:
        """{framework: its loss name or None}, in FRAMEWORKS order."""
        return {k: getattr(self, k) for k in FRAMEWORKS}


# the `Family.input`s whose target is a class-major block (K, n) and whose prediction is
# a block of log-probabilities: class probabilities, and label pairs
BLOCK_INPUTS = ("classes", "labels")

# the frameworks whose built-in losses families name, in display order
FRAMEWORKS = ("pytorch", "sklearn", "xgboost", "lightgbm", "catboost", "keras")


# ------------------------------------------------------------------ per-row parameters


def per_row(params: Params) -> bool:
    """Whether some parameter is given per row (a 1-D array aligned with y)."""
    return any(np.ndim(v) for v in params.values())


def take_params(params: Params, rows: Any) -> Params:
    """The parameters of the rows `rows` (a mask or indices): per-row arrays indexed, the
    scalars kept."""
    return {k: v[rows] if np.ndim(v) else v for k, v in params.items()}


def log_param(v: Any) -> Any:
    """log v of a scalar parameter (math.log, the fast path) or of a per-row array."""
    return np.log(v) if np.ndim(v) else math.log(v)


def boundary(domains: dict[str, str], params: Params) -> tuple[str, ...]:
    """The parameters whose estimate lies on the boundary of the domain declared for it
    (not finite; 0 for a non-negative one; 0 or 1 for a probability)."""
    out = []
    for k, v in params.items():
        if np.ndim(v):
            continue
        d = domains.get(k, "real")
        if not math.isfinite(v) or (d in ("nonnegative", "positive") and v <= 0.0) or (
                d in ("unit", "probability") and not 0.0 < v < 1.0):
            out.append(k)
    return tuple(out)


# ------------------------------------------------------------------ the interface


class Family:
    """One noise model. Subclasses declare the facts below and implement the methods."""

    name: ClassVar[str]
    loss: ClassVar[str]
    support: ClassVar[Support]  # of the target y
    pred_domain: ClassVar[Support]  # of the prediction ŷ
    discrete: ClassVar[bool]
    measure: ClassVar[BaseMeasure]  # the base measure its likelihood is a density on
    prediction: ClassVar[str]  # what ŷ means (SPEC §1.2)
    nuisance: ClassVar[tuple[str, ...]]  # fitted in conditional mode
    marginal_params: ClassVar[tuple[str, ...]]  # fitted in marginal mode
    location: ClassVar[str | None]  # the marginal parameter that plays ŷ
    frameworks: ClassVar[Frameworks]
    transform: ClassVar[str | None] = None  # "log" where the losses apply to log y
    # domains of the parameters fitted numerically: "positive" fits on the log scale
    param_domains: ClassVar[dict[str, str]] = {}
    # what the prediction columns must hold: "point" (ŷ, one column), "probability"
    # (P(y = 1): one probability, a two-class block or a logit), "classes" (one
    # probability or logit per class) or "labels" (one probability or logit per label of
    # a target of several label columns)
    input: ClassVar[str] = "point"
    # the target is several labels scored independently: the log-likelihood is the sum
    # of per-label terms (`label_loglik`), each reported (JSON `labels`)
    independent_labels: ClassVar[bool] = False
    # the target kinds it applies to (SPEC §1.4), and those where evaluate picks it
    # by default ("KIND with prediction": only when predictions are given)
    applies_to: ClassVar[tuple[str, ...]] = ()
    default_for: ClassVar[tuple[str, ...]] = ()
    # whether compare-noise-models fits it unasked; False: only when named (SPEC §9.3)
    candidate: ClassVar[bool] = True
    # the target kinds where it is a default candidate (None: wherever it applies); on
    # the others compare-noise-models fits it only when named
    candidate_kinds: ClassVar[tuple[str, ...] | None] = None
    requirement: ClassVar[str | None] = None  # what it needs, in skip reasons
    # target kinds whose values it scores as soft labels in evaluate: never ranked against
    # the density families there (SPEC §1.6), so compare-noise-models skips it, saying so
    soft_label_kinds: ClassVar[tuple[str, ...]] = ()
    nests: ClassVar[tuple[Nesting, ...]] = ()  # the simpler families it contains
    # the power p of the Tweedie variance function Var = φμᵖ that makes this family (0
    # gaussian, 1 poisson, 2 gamma, 3 inverse Gaussian): what scikit-learn's
    # TweedieRegressor(power=p) trains; None: no such power
    tweedie_power: ClassVar[float | None] = None
    # the unit deviance d(y, ŷ) whose mean and D² are reported, and where it is defined
    deviance: ClassVar[Any] = None
    deviance_support: ClassVar[Support | None] = None
    # whether the deviance depends on the fitted parameters: d(y, ŷ, params)
    deviance_params: ClassVar[bool] = False
    # symbols in the framework loss names that stand for a fitted parameter's value
    # ({symbol: parameter}): the recommendation shows the value, to two decimals
    framework_values: ClassVar[dict[str, str]] = {}
    # true on the integers where the likelihood keeps rising as the spread goes to 0 when
    # every residual is at most ½ (a continuous family put on unit intervals)
    unbounded_within_half: ClassVar[bool] = False
    # its `loglik` at y = 0 is log P(Y = 0), a point mass beside a density on y > 0 (the
    # hurdles, tweedie): on the atom-at-zero measure (SPEC §9.1) it is scored as it is,
    # where a density without one is censored at 0 (`noise.censored`)
    zero_mass: ClassVar[bool] = False
    # where the family's own loss accepts y (the recommendation checks the data against it)
    loss_support: ClassVar[Support | None] = None
    # the modes ("marginal", "conditional") whose fit has a closed form in `fit_stats`
    closed_form: ClassVar[tuple[str, ...]] = ()
    # the spread parameter and how a factor c > 0 widens it (SPEC §8.2's recalibration):
    # "scale" multiplies it by c (σ·c, α·c), "inverse" divides it (shape/c, precision/c);
    # None where the family has no spread parameter
    spread: ClassVar[tuple[str, str] | None] = None
    # the heavier-tailed family that tests this one's tail when its spread is given per
    # row (SPEC §8.2 `tail`): (family, {this family's parameter: that family's}, the
    # tail parameter fitted there); None: no such test
    tail: ClassVar[tuple[str, dict[str, str], str] | None] = None
    # the forms of a `--param` column beyond the parameter itself and log_NAME of a
    # positive one: user-facing name → (the parameter, a key of FORMS)
    param_forms: ClassVar[dict[str, tuple[str, str]]] = {}
    # the positive parameters whose logarithm a column may hold (`log_NAME`); None: the
    # "positive" ones of `param_domains`
    log_params: ClassVar[tuple[str, ...] | None] = None

    def __init__(self, classes: list[str] | None = None) -> None:
        self.classes = list(classes or [])

    # -- closed-form fits from reductions over every row
    def fit_stats(self, y: np.ndarray, pred: Any) -> np.ndarray | None:
        """The variables (k, n) whose weighted means and variances give the fit in
        closed form (`fit_from_stats`), or None when it needs an optimiser (which runs
        on the seeded sample of rows). `pred` None: the marginal fit."""
        return None

    def fit_from_stats(self, stats: Any, conditional: bool) -> Params:
        """The fit from the Moments of `fit_stats` over every row."""
        raise NotImplementedError

    # -- the primitive
    def loglik(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        """Per-row log q(y_i | ŷ_i, φ), in nats."""
        raise NotImplementedError

    def fit(self, y: np.ndarray, w: np.ndarray | None, pred: Any = None) -> Params:
        """Weighted MLE: the nuisance given `pred` (conditional), else every parameter."""
        raise NotImplementedError

    def label_loglik(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        """(L, n): each label's log-likelihood, summing to `loglik` (`independent_labels`)."""
        raise NotImplementedError

    # -- parameters given per row or held fixed (SPEC §8)
    def per_row_params(self, conditional: bool) -> tuple[str, ...]:
        """The parameters that may be given per row: the nuisance, in either mode (the
        location, ŷ's place, never is; marginal mode takes `--fix` floats only, but
        `fit_given` accepts arrays there too)."""
        return self.nuisance

    def param_form(self, name: str) -> tuple[str, Any] | None:
        """(the parameter, the function from a column's values to its values) of the
        user-facing name of a `--param`: a parameter that may be given per row
        (`per_row_params`; never the location) itself, `log_NAME` of a positive one (exp)
        and the family's `param_forms`; None when the name is none of these."""
        if name in self.param_forms:
            param, form = self.param_forms[name]
            return param, FORMS[form]
        names = self.per_row_params(True)
        if name in names:
            return name, FORMS["identity"]
        positive = self.log_params if self.log_params is not None else tuple(
            k for k, d in self.param_domains.items() if d == "positive")
        if name.startswith("log_") and name[4:] in positive and name[4:] in names:
            return name[4:], FORMS["exp"]
        return None

    def widen(self, params: Params, c: float) -> Params:
        """The parameters with the spread widened by the factor c > 0 (`spread`): σ·c for
        a "scale" spread, shape/c for an "inverse" one; the others unchanged."""
        if self.spread is None:
            raise ValueError(f"the {self.name} family has no spread parameter")
        name, how = self.spread
        out = dict(params)
        out[name] = params[name] * c if how == "scale" else params[name] / c
        return out

    def recalibration_closed(self, y: np.ndarray, w: np.ndarray | None, pred: Any,
                             given: Params, free: tuple[str, ...]) -> float | None:
        """The ML spread factor ĉ of SPEC §8.2's recalibration (the spread given per row in
        `given`, `free` refitted at each c) in closed form, or None where the family has
        none (the shared 1-D optimiser then finds it)."""
        return None

    def fit_given(self, y: np.ndarray, w: np.ndarray | None, pred: Any, given: Params,
                  free: tuple[str, ...]) -> Params:
        """The weighted MLE of the `free` parameters with the `given` ones held (each a
        float or a per-row array); `pred` None is marginal mode. Nothing free: {}. Every
        parameter of the mode free and nothing given: exactly `fit`. Else the family's
        closed form (`fit_given_closed`) where it has one, or the numeric MLE on `loglik`
        started from `fit`."""
        if not free:
            return {}
        if not given and set(free) == set(mode_params(self, pred)):
            return self.fit(y, w, pred)
        closed = self.fit_given_closed(y, w, pred, given, free)
        if closed is None:
            closed = self.fit_given_profile(self.loglik, y, w, pred, given, free)
        if closed is not None:
            return closed
        return fit_given_numeric(self, self.loglik, self.fit_given_start, y, w, pred,
                                 given, free)

    def fit_given_closed(self, y: np.ndarray, w: np.ndarray | None, pred: Any,
                         given: Params, free: tuple[str, ...]) -> Params | None:
        """`fit_given` in closed form, or None where the family has none."""
        return None

    def fit_given_profile(self, loglik: Any, y: np.ndarray, w: np.ndarray | None, pred: Any,
                          given: Params, free: tuple[str, ...]) -> Params | None:
        """`fit_given` of a parameter that needs more than the shared optimiser (a limit
        at the boundary of its space) on the log-likelihood `loglik` (the density's, or
        the unit intervals'); None where the shared optimiser serves."""
        return None

    def fit_given_start(self, y: np.ndarray, w: np.ndarray | None, pred: Any) -> Params:
        """A starting point of the numeric `fit_given`: today's fit."""
        return self.fit(y, w, pred)

    # whether the family's own fit on rows in memory reaches 1e-8 (closed forms, and the
    # Newton fits that stop on a tiny step); those that do not are finished by Newton steps
    precise_fit: ClassVar[bool] = True
    # (rows, seed) where the family's fit keeps only the seeded rows
    # `reduce.seeded_rows(n, rows, seed)` of the n > rows it is given (a density too costly
    # to evaluate on every row of the sample at every step); the information behind
    # params_se is then that of these rows, and fit_rows says how many
    fit_subsample: ClassVar[tuple[int, int] | None] = None
    # the same for the conditional fit alone (a discretised family's Newton fit of its
    # one nuisance, its marginal fit by the shared optimiser)
    precise_conditional_fit: ClassVar[bool] = False

    def fit_with_information(self, y: np.ndarray, w: np.ndarray | None, pred: Any = None
                             ) -> tuple[Params, Information | None]:
        """`fit`, and the information its last Newton step read at the fit (the names,
        −Hessian of Σ w log q in the fitted coordinates: log θ for a positive θ), or None
        where the fit does not end on one (`information.params_se` then takes its own)."""
        return self.fit(y, w, pred), None

    def information(self, y: np.ndarray, w: np.ndarray | None, pred: Any, params: Params,
                    names: tuple[str, ...]) -> np.ndarray | None:
        """−∂²/∂θ∂θ′ Σ w log q over `names` at `params` from the family's own second
        derivatives (pred None: marginal); None where it has none (central differences
        then, `information.observed_information`)."""
        return None

    def numeric_params(self, conditional: bool) -> tuple[str, ...]:
        """The parameters a Newton polish over every row refines (`--fit-rows all`)."""
        return self.nuisance if conditional else self.marginal_params

    def n_params(self, params: Params, conditional: bool) -> int:
        """How many parameters were fitted (AIC/BIC's k)."""
        return len(self.nuisance) if conditional else len(self.marginal_params)

    def marginal_pred(self, params: Params) -> Any:
        """The prediction implied by a marginal fit, in the form `loglik` takes."""
        return params[self.location]

    def point_prediction(self, pred: Any) -> Any:
        """ŷ on the scale of y, for the point metrics (mse, mae, r2)."""
        return pred

    def fit_warnings(self, params: Params) -> list[str]:
        """Plain-words notes on a fit that reached the boundary of its parameter space."""
        return []

    def to_scipy(self, pred: Any, params: Params) -> Any:
        """The equivalent frozen scipy.stats distribution (a test oracle; never hot)."""
        raise NotImplementedError

    # -- standard errors of the fitted parameters (SPEC §10.1, `losscli.information`)
    # the parameters the log-likelihood is not differentiable in at the fit (a median):
    # no Hessian, so no se
    nonsmooth: ClassVar[tuple[str, ...]] = ()

    def closed_se(self, params: Params, W: float, conditional: bool
                  ) -> dict[str, float | None] | None:
        """{parameter: se} at the MLE `params` of a plain fit on rows of total weight W,
        where the observed information has a closed form in W and the estimates; None
        where it has none (the shared numerical Hessian then reads `loglik`)."""
        return None

    def boundary(self, params: Params) -> tuple[str, ...]:
        """The fitted parameters on the boundary of their space (no se; the others'
        Hessian holds them there): by default those at an edge of `param_domains`."""
        return boundary(self.param_domains, params)

    # -- diagnostics (SPEC §7): what the family declares, read by losscli.diagnostics
    # the PIT: "exact" u = F(y), or "nonrandomized" (a row spread over [F(y−1), F(y)])
    pit_method: ClassVar[str | None] = None
    # the loss decomposed (CORP): "nll" (the family's own, with its nuisance refitted),
    # "squared_error" (its loss is not a consistent score of ŷ), "top_label_log_loss"
    decomposition: ClassVar[str | None] = "squared_error"
    recalibration: ClassVar[str] = "mean"  # the functional the isotonic regression fits
    calibration: ClassVar[bool] = False  # ŷ (or log ŷ, `transform`) is a mean: Σw(t − ŷ)
    # the scale of `forecast`'s (f, t): "target" (ŷ and y) or "log" (log ŷ and log y)
    forecast_scale: ClassVar[str] = "target"
    probability_forecast: ClassVar[bool] = False  # Spiegelhalter, reliability bins
    dispersion_test: ClassVar[str | None] = None  # "dean" (poisson) | "pearson"
    zero_test: ClassVar[bool] = False  # observed against expected zeros
    rootogram: ClassVar[bool] = False
    # the parameters `pmf_recurrence` needs as one number for every row: given per row,
    # the rootogram is left out (SPEC §8: the diagnostics of a model with per-row inputs)
    recurrence_scalars: ClassVar[tuple[str, ...]] = ()

    def pit_interval(self, y: np.ndarray, pred: Any, params: Params
                     ) -> tuple[np.ndarray, np.ndarray]:
        """(l, r): the PIT of each row is uniform on [l, r]; for a discrete family
        [F(y − 1), F(y)] (a density's is l = r = F(y))."""
        return self.cdf(y - 1.0, pred, params), self.cdf(y, pred, params)

    def forecast(self, y: np.ndarray, pred: Any) -> tuple[np.ndarray, np.ndarray]:
        """(f, t): the forecast each row's prediction makes and the observation it
        forecasts, on the scale the recalibration and calibration tests use (ŷ and y)."""
        yhat = self.point_prediction(pred)
        return np.broadcast_to(np.asarray(yhat, dtype=np.float64), np.shape(y)), y

    def variance(self, f: np.ndarray, params: Params) -> np.ndarray:
        """Var(t) under the model at forecast f (on the scale of `forecast`)."""
        raise NotImplementedError

    def zero_probability(self, pred: Any, params: Params) -> np.ndarray:
        """P(Y = 0 | ŷ, φ)."""
        return np.exp(self.loglik(np.zeros(np.shape(pred)), pred, params))

    def cdf(self, k: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        """F(k) = P(Y ≤ k) at integers k (discrete families)."""
        raise NotImplementedError

    def pmf_recurrence(self, pred: Any, params: Params) -> tuple[np.ndarray, np.ndarray, Any]:
        """(p₀, s, a): P(Y = 0) per row, and P(Y = k) = P(Y = k − 1) · a(k) · s with a per-row
        s and a scalar a(k) (discrete families with a rootogram)."""
        raise NotImplementedError

    def pmf_one(self, pred: Any, params: Params) -> np.ndarray | None:
        """P(Y = 1) per row where it does not follow from P(Y = 0) by `pmf_recurrence`
        (a zero-inflated family, whose recurrence holds from k = 2 on); None: it does."""
        return None

    def row_terms(self, y: np.ndarray) -> np.ndarray | None:
        """Per-row terms (k, n) whose weighted sums `recalibrated_score` needs beyond the
        per-forecast sums of t and t² (a Jacobian, log y!); None when it needs none."""
        return None

    def recalibrated_score(self, rc: np.ndarray, sw: np.ndarray, mean: np.ndarray,
                           m2: np.ndarray, terms: np.ndarray, W: float,
                           counts: Any) -> float:
        """The mean nll (nats) of the recalibrated forecasts rc, one per group of tied
        forecasts whose t have weight sw, weighted mean `mean` and Σw(t − mean)² = m2, the
        nuisance refitted to them; `terms` are the weighted sums of `row_terms` and
        counts the target's (values, weights) when it is integral."""
        raise NotImplementedError

    # -- proper scores (SPEC §8.3): `crps(y, pred, params)`, CRPS(F, y) per row in y's units
    # (the sum over the integers on the counting measure), and `ppf(q, pred, params)`,
    # F⁻¹(q) per row (min{k : F(k) ≥ q} when discrete); None where the family has none
    crps: ClassVar[Any] = None
    ppf: ClassVar[Any] = None
    # `ppf_levels(qs, pred, params)`: [ppf(q) for q in qs] in one pass, where a family
    # does better than level by level (None: `ppf` per level)
    ppf_levels: ClassVar[Any] = None
    # why `crps` is None, said in the report's warning (None: "no CRPS is implemented")
    crps_note: ClassVar[str | None] = None


class ContinuousFamily(Family):
    """A family with a density; on integer targets it is scored on unit intervals."""

    discrete = False
    measure = LEBESGUE
    # the generic discretised fit (Brent, or two parabola steps from a pilot) stops near
    # 1e-6 relative: its result is polished (a family with its own Newton fit says True)
    counting_fit_precise: ClassVar[bool] = False
    # the discretised fit by Newton steps from its start (the interval likelihood is
    # costly per row, so a simplex search on every row is slow)
    counting_newton_from_pilot: ClassVar[bool] = False
    # `interval_spread_derivatives(a, b, pred, params)`: the first and second derivatives
    # in s = log θ of the one conditional nuisance θ, of the interval's probability
    # divided by it, per row (None where the family has none): the conditional
    # discretised fit is then Newton's method on the score, one pass a step
    interval_spread_derivatives: ClassVar[Any] = None

    pit_method = "exact"

    def crps_lower(self, c: Any, pred: Any, params: Params) -> np.ndarray:
        """∫_{−∞}^c F(x)² dx per row: the part of CRPS(F, y), y ≥ c, below c, which the
        law censored at c leaves out (SPEC §9.1). By default by quadrature of `logcdf`
        (`crps.lower_square`); a family with a closed form says so."""
        from losscli.noise import crps as crps_forms

        return crps_forms.lower_square(self, c, pred, params)

    def standardised(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray | None:
        """z, increasing in y, with F(y | ŷ, φ) = G(z) for one c.d.f. G per fit; None
        where there is none. The PIT's bins are then z's bins on G⁻¹(j/1000), computed
        once, instead of one c.d.f. per row."""
        return None

    def standard_quantiles(self, q: np.ndarray, params: Params) -> np.ndarray:
        """G⁻¹(q) of `standardised` (−∞ at 0, ∞ at 1)."""
        raise NotImplementedError

    def pit_interval(self, y: np.ndarray, pred: Any, params: Params
                     ) -> tuple[np.ndarray, np.ndarray]:
        """u = F(y | ŷ, φ), exact."""
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            u = np.exp(self.logcdf(y, pred, params))
        return u, u

    def logcdf(self, x: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        raise NotImplementedError

    def logsf(self, x: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        raise NotImplementedError

    def interval_loglik(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        """log P(y − ½ < Y ≤ y + ½), the interval clipped to the support (SPEC §1.6).

        Below the location ŷ it is log F(b) + log(1 − F(a)/F(b)), above it
        log S(a) + log(1 − S(b)/S(a)): each side uses the tail that is small there, so
        neither loses precision to 1 − F, and each row costs two c.d.f. evaluations.
        """
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            # far outside the data's scale a difference of two −∞ is NaN: the caller
            # sees a non-finite likelihood and the optimiser steps back
            return self._interval_loglik(y, pred, params)

    def fit_given_start(self, y: np.ndarray, w: np.ndarray | None, pred: Any) -> Params:
        return self.fit_start(y, w, pred)

    def _interval_loglik(self, y: np.ndarray, pred: Any, params: Params) -> np.ndarray:
        a = y - 0.5
        b = y + 0.5
        if self.support.lower > -math.inf:
            np.maximum(a, self.support.lower, out=a)
        upper = a >= pred
        rows = per_row(params)
        out = np.empty(np.broadcast_shapes(np.shape(y), np.shape(pred)))
        if upper.all():
            lower = None
        else:
            lower = ~upper
            pl = _take(pred, lower)
            pp = take_params(params, lower) if rows else params
            la = self.logcdf(a[lower], pl, pp)
            lb = self.logcdf(b[lower], pl, pp)
            la -= lb
            lb += log1mexp(la)
            out[lower] = lb
        if upper.any():
            pu = _take(pred, upper) if lower is not None else pred
            pp = take_params(params, upper) if rows and lower is not None else params
            sa = self.logsf(a[upper] if lower is not None else a, pu, pp)
            sb = self.logsf(b[upper] if lower is not None else b, pu, pp)
            sb -= sa
            sa += log1mexp(sb)
            out[upper] = sa
        return out

    def fit_counting(self, y: np.ndarray, w: np.ndarray | None, pred: Any = None) -> Params:
        """MLE on the discretised likelihood, started from the density's MLE."""
        return self.fit_counting_with_information(y, w, pred)[0]

    def fit_counting_with_information(self, y: np.ndarray, w: np.ndarray | None,
                                      pred: Any = None) -> tuple[Params, Information | None]:
        """`fit_counting`, and the information of its last Newton step where it ends on
        one (`Family.fit_with_information`): conditional, Newton's method on the interval
        score of a family with `interval_spread_derivatives`; otherwise the shared
        optimiser, and None. A family with a discretised fit of its own overrides this."""
        if pred is not None and self.interval_spread_derivatives is not None:
            fit = self._fit_counting_score_root(y, w, pred)
            if fit is not None:
                return fit
        return self._fit_counting_search(y, w, pred), None

    def _fit_counting_search(self, y: np.ndarray, w: np.ndarray | None, pred: Any) -> Params:
        """The discretised MLE by the shared optimiser (Newton stencils from a pilot fit,
        else a search), for families without the score's derivatives."""
        names = self.nuisance if pred is not None else self.marginal_params
        step = 0.05
        if pred is not None and y.size > 4 * PILOT_ROWS:
            # a pilot fit on a seeded sample lands within sampling error of the optimum,
            # so the fit on every row starts there and needs few evaluations
            idx = seeded_rows(y.size, PILOT_ROWS, PILOT_SEED)
            start = self.fit_counting(y[idx], None if w is None else w[idx], pred[idx])
            step = 0.01
        else:
            start = self.fit_start(y, w, pred)
        W = total_weight(y.size, w)

        size = blocks.split_size(y.size)

        def mean_nll(params: Params) -> float:
            p = pred if pred is not None else self.marginal_pred(params)

            def block(sl: slice) -> float:
                pb = p[sl] if np.ndim(p) else p
                return wsum(self.interval_loglik(y[sl], pb, params), None if w is None else w[sl])

            return -math.fsum(blocks.map_blocks(block, y.size, size)) / W

        if self.counting_newton_from_pilot:
            # Newton steps from the start (the pilot's fit, or the density's MLE): a few
            # stencils instead of a simplex search on every row; the search below where
            # they do not converge
            polished, status = polish(lambda p: -W * mean_nll(p), start, names,
                                      self.param_domains)
            if status == CONVERGED:
                return polished
        fit = minimize_params(mean_nll, start, names, self.param_domains, step,
                              refine=step < 0.05)
        if pred is not None and self.interval_spread_derivatives is not None:
            # the Newton fit did not converge, and the fit is taken as precise: polish it
            fit, _ = polish(lambda p: -W * mean_nll(p), fit, names, self.param_domains)
        return fit

    def fit_start(self, y: np.ndarray, w: np.ndarray | None, pred: Any = None) -> Params:
        """Starting point of the discretised fit: the density's MLE, kept off zero scale."""
        return self.fit(y, w, pred)

    def interval_spread_sums(self, y: np.ndarray, w: np.ndarray | None, pred: Any,
                             params: Params) -> tuple[float, float, float]:
        """(Σ w ℓ, Σ w ∂ₛℓ, Σ w ∂ₛₛℓ) of the interval log-likelihood ℓ = log P in
        s = log θ (θ the one nuisance), in blocks: ∂ₛℓ = P′/P, ∂ₛₛℓ = P″/P − (P′/P)²."""
        size = blocks.split_size(y.size)

        def block(sl: slice) -> np.ndarray:
            yb = y[sl]
            pb = pred[sl] if np.ndim(pred) else pred
            with np.errstate(all="ignore"):
                ll = self.interval_loglik(yb, pb, params)
                a = yb - 0.5
                if self.support.lower > -math.inf:
                    np.maximum(a, self.support.lower, out=a)
                d1, d2 = self.interval_spread_derivatives(a, yb + 0.5, pb, params, ll)
                d2 -= d1 * d1
            wb = None if w is None else w[sl]
            return np.array([wsum(ll, wb), wsum(d1, wb), wsum(d2, wb)])

        parts = blocks.map_blocks(block, y.size, size)
        return tuple(math.fsum(p[i] for p in parts) for i in range(3))

    def _fit_counting_score_root(self, y: np.ndarray, w: np.ndarray | None, pred: Any
                             ) -> tuple[Params, Information] | None:
        """The conditional discretised MLE of the one nuisance θ by Newton's method on the
        score in s = log θ (`interval_spread_sums`: one pass a step), from a pilot fit on
        a seeded sample (many rows) or the density's MLE, with −Σ w ∂ₛₛℓ of the last
        step (within SPREAD_NEWTON_TOL of the root: the information there to ~1e-7); None
        where it does not converge (the shared optimiser then)."""
        (name,) = self.nuisance
        if y.size > 4 * PILOT_ROWS:
            idx = seeded_rows(y.size, PILOT_ROWS, PILOT_SEED)
            start = self.fit_counting_with_information(
                y[idx], None if w is None else w[idx], pred[idx])[0]
        else:
            start = self.fit_start(y, w, pred)
        s0 = math.log(start[name]) if start.get(name, 0.0) > 0.0 else math.nan
        if not math.isfinite(s0):
            return None

        last = [math.nan]

        def score(s: float) -> tuple[float, float]:
            _, g, h = self.interval_spread_sums(y, w, pred, {name: math.exp(s)})
            last[0] = h
            return g, h

        s, status = newton_root(score, s0, s0 - MAX_LOG_STEP, s0 + MAX_LOG_STEP,
                                tol=SPREAD_NEWTON_TOL, max_step=1.0, max_iter=60)
        if status != ROOT:
            return None
        return {name: math.exp(s)}, ((name,), np.array([[-last[0]]]))


def _take(pred: Any, mask: np.ndarray) -> Any:
    return pred[mask] if np.ndim(pred) else pred


def mode_params(fam: Any, pred: Any) -> tuple[str, ...]:
    """The parameters `fit` fits in the mode of `pred` (None: marginal)."""
    return fam.nuisance if pred is not None else fam.marginal_params


def fit_given_numeric(fam: Any, loglik: Any, start_fn: Any, y: np.ndarray,
                      w: np.ndarray | None, pred: Any, given: Params,
                      free: tuple[str, ...]) -> Params:
    """The weighted MLE of `free` with `given` held, by the shared optimiser on
    Σ w `loglik` (the density, or the unit intervals of a discretised family), positive
    parameters on the log scale, finished by Newton steps (`optimize.polish`) so that it
    reaches ~1e-8. The start: `start_fn(y, w, pred)`'s values of the free parameters
    (today's fit), kept finite and off the boundaries."""
    W = total_weight(y.size, w)
    domains = fam.param_domains
    try:
        fitted = start_fn(y, w, pred)
    except FitError:
        fitted = {}
    start: Params = dict(given)
    for k in free:
        v = fitted.get(k, 1.0)
        if domains.get(k) == "positive":
            v = min(max(float(v), 1e-6), 1e6) if math.isfinite(v) else 1.0
        start[k] = v if math.isfinite(v) else 0.0

    def total(params: Params) -> float:
        p = pred if pred is not None else fam.marginal_pred(params)
        with np.errstate(all="ignore"):
            return wsum(loglik(y, p, params), w)

    params = minimize_params(lambda p: -total(p) / W, start, free, domains)
    params, _ = polish(total, params, free, domains)
    return {k: params[k] for k in free}
