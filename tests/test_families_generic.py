"""Generic tests every registered family gets on arrival (parametrised over FAMILIES).

The table CASES says, per family, how to draw targets and predictions and which
parameters to test at; the oracle is the family's own `to_scipy` distribution, which is
built from scipy.stats independently of `loglik`.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate

from losscli.kinds import COUNTING_KINDS
from losscli.noise import FAMILIES, ContinuousFamily, describe
from losscli.noise.discretised import Discretised
from losscli.reduce import Moments

K_CLASSES = 4


def _log_probs(r, n: int, k: int) -> np.ndarray:
    """A class-major log-probability block (k, n) of random probability vectors."""
    return np.log(r.dirichlet(np.ones(k), n).T)


def _label_pairs(q: np.ndarray) -> np.ndarray:
    """The label-pair block [log(1 − q); log q] (2L, n) of label probabilities q (L, n)."""
    return np.concatenate([np.log1p(-q), np.log(q)])


def _tweedie_draw(r, mu, phi: float, p: float) -> np.ndarray:
    """Tweedie draws: λ = μ^{2−p}/(φ(2 − p)), α = (2 − p)/(p − 1), γ = φ(p − 1)μ^{p−1}."""
    lam = mu ** (2 - p) / (phi * (2 - p))
    k = r.poisson(lam)
    return np.where(k > 0, r.gamma(np.maximum(k * (2 - p) / (p - 1), 1e-300),
                                   phi * (p - 1) * mu ** (p - 1)), 0.0)


# name -> (draw y given (rng, pred, n), draw pred (rng, n), params, inside, outside)
CASES = {
    "gaussian": (lambda r, m, n: m + 1.3 * r.standard_normal(n),
                 lambda r, n: r.normal(2, 1, n), {"sigma": 1.3},
                 [-1e6, 0.0, 3.5], [np.inf, np.nan]),
    "laplace": (lambda r, m, n: r.laplace(m, 0.7, n), lambda r, n: r.normal(0, 2, n),
                {"scale": 0.7}, [-3.0, 0.0, 1e5], [np.nan, -np.inf]),
    "student_t": (lambda r, m, n: m + 0.8 * r.standard_t(4, n), lambda r, n: r.normal(0, 1, n),
                  {"df": 4.0, "scale": 0.8}, [-2.0, 0.0, 9.0], [np.nan]),
    "poisson": (lambda r, m, n: r.poisson(m).astype(float), lambda r, n: r.uniform(0.5, 6, n),
                {}, [0.0, 1.0, 17.0], [-1.0, 0.5, np.nan]),
    "negative_binomial": (
        lambda r, m, n: r.poisson(m * r.gamma(2.0, 0.5, n)).astype(float),
        lambda r, n: r.uniform(0.5, 6, n), {"alpha": 0.5}, [0.0, 3.0], [-2.0, 1.5]),
    "gamma": (lambda r, m, n: r.gamma(3.0, m / 3.0), lambda r, n: r.uniform(0.5, 4, n),
              {"shape": 3.0}, [1e-9, 2.0], [0.0, -1.0]),
    "lognormal": (lambda r, m, n: m * np.exp(0.6 * r.standard_normal(n)),
                  lambda r, n: r.uniform(0.5, 4, n), {"sigma": 0.6}, [1e-9, 2.0],
                  [0.0, -1.0]),
    "beta": (lambda r, m, n: r.beta(m * 8.0, (1 - m) * 8.0), lambda r, n: r.uniform(0.2, 0.8, n),
             {"precision": 8.0}, [1e-6, 0.5, 1 - 1e-6], [0.0, 1.0, 1.2]),
    # asymmetric Laplace: below ŷ with probability τ, exponential on each side
    "quantile": (lambda r, m, n: m + np.where(r.uniform(size=n) < 0.8,
                                              -r.exponential(0.7 / 0.2, n),
                                              r.exponential(0.7 / 0.8, n)),
                 lambda r, n: r.normal(0, 2, n), {"tau": 0.8, "scale": 0.7},
                 [-3.0, 0.0, 1e5], [np.nan, np.inf]),
    # asymmetric normal: below ŷ with probability b/(a + b), a half-normal on each side
    # (a = σ/√τ, b = σ/√(1 − τ); here τ = 0.7, σ = 0.9)
    "expectile": (lambda r, m, n: m + np.where(
        r.uniform(size=n) < (0.9 / 0.3 ** 0.5) / (0.9 / 0.7 ** 0.5 + 0.9 / 0.3 ** 0.5),
        -np.abs(r.normal(0, 0.9 / 0.6 ** 0.5, n)), np.abs(r.normal(0, 0.9 / 1.4 ** 0.5, n))),
        lambda r, n: r.normal(0, 2, n), {"tau": 0.7, "sigma": 0.9},
        [-3.0, 0.0, 1e5], [np.nan, np.inf]),
    "logcosh": (lambda r, m, n: m + 0.6 * np.log(np.tan(0.5 * np.pi * r.uniform(size=n))),
                lambda r, n: r.normal(0, 2, n), {"scale": 0.6}, [-3.0, 0.0, 1e5],
                [np.nan, -np.inf]),
    "generalized_normal": (
        lambda r, m, n: m + np.sign(r.uniform(-1, 1, n)) * 0.8 * r.gamma(1 / 1.5, 1, n)
        ** (1 / 1.5), lambda r, n: r.normal(0, 2, n), {"power": 1.5, "scale": 0.8},
        [-3.0, 0.0, 1e5], [np.nan, np.inf]),
    # the location families matched to a loss (SPEC §9.3), on logistic noise
    "huber": (lambda r, m, n: r.logistic(m, 0.8, n), lambda r, n: r.normal(0, 2, n),
              {"sigma": 1.1, "delta": 0.9}, [-3.0, 0.0, 1e5], [np.nan, np.inf]),
    "pseudo_huber": (lambda r, m, n: r.logistic(m, 0.8, n), lambda r, n: r.normal(0, 2, n),
                     {"sigma": 1.1, "delta": 0.9}, [-3.0, 0.0, 1e5], [np.nan, np.inf]),
    "fair": (lambda r, m, n: r.logistic(m, 0.8, n), lambda r, n: r.normal(0, 2, n),
             {"c": 0.9, "tau": 1.2}, [-3.0, 0.0, 1e5], [np.nan, np.inf]),
    "epsilon_insensitive": (lambda r, m, n: r.logistic(m, 0.8, n),
                            lambda r, n: r.normal(0, 2, n), {"epsilon": 0.6, "scale": 0.8},
                            [-3.0, 0.0, 1e5], [np.nan, np.inf]),
    # zero-inflated counts: 0 with probability π, else the base law at mean ŷ/(1 − π)
    "zero_inflated_poisson": (
        lambda r, m, n: np.where(r.uniform(size=n) < 0.3, 0.0, r.poisson(m / 0.7)),
        lambda r, n: r.uniform(0.5, 6, n), {"pi": 0.3}, [0.0, 1.0, 17.0], [-1.0, 0.5, np.nan]),
    "zero_inflated_negative_binomial": (
        lambda r, m, n: np.where(r.uniform(size=n) < 0.3, 0.0,
                                 r.poisson(m / 0.7 * r.gamma(2.0, 0.5, n))),
        lambda r, n: r.uniform(0.5, 6, n), {"pi": 0.3, "alpha": 0.5}, [0.0, 3.0],
        [-2.0, 1.5]),
    "inverse_gaussian": (lambda r, m, n: r.wald(m, 1.0 / 0.4, n),
                         lambda r, n: r.uniform(0.5, 4, n), {"dispersion": 0.4},
                         [1e-9, 2.0], [0.0, -1.0]),
    # a mass π = 0.3 at 0, the positive part at location ŷ/(1 − π)
    "hurdle_gamma": (lambda r, m, n: np.where(r.uniform(size=n) < 0.3, 0.0,
                                              r.gamma(2.0, m / 0.7 / 2.0)),
                     lambda r, n: r.uniform(0.5, 4, n), {"pi": 0.3, "shape": 2.0},
                     [0.0, 1e-9, 2.0], [-1.0, np.nan]),
    "hurdle_lognormal": (lambda r, m, n: np.where(r.uniform(size=n) < 0.3, 0.0,
                                                  m / 0.7 * np.exp(0.6 * r.standard_normal(n))),
                         lambda r, n: r.uniform(0.5, 4, n), {"pi": 0.3, "sigma": 0.6},
                         [0.0, 1e-9, 2.0], [-1.0, np.nan]),
    "log1p_normal": (lambda r, m, n: (1.0 + m) * np.exp(0.5 * r.standard_normal(n)) - 1.0,
                     lambda r, n: r.uniform(0.0, 4, n), {"sigma": 0.5},
                     [-0.5, 0.0, 3.0], [-1.0, -2.0, np.nan]),
    # compound Poisson–gamma: N ~ Poisson(λ) gamma(α, γ) summands, zeros where N = 0
    "tweedie": (lambda r, m, n: _tweedie_draw(r, m, 1.0, 1.5),
                lambda r, n: r.uniform(0.5, 4, n), {"dispersion": 1.0, "power": 1.5},
                [0.0, 1e-9, 2.0], [-1.0, np.nan]),
    # classifiers: the prediction is a class-major log-probability block (K, n)
    "bernoulli": (lambda r, q, n: (r.uniform(size=n) < np.exp(q[1])).astype(float),
                  lambda r, n: _log_probs(r, n, 2), {}, [0.0, 0.3, 1.0],
                  [-0.1, 1.5, np.nan]),
    # independent labels: target and prediction are label-pair blocks (2L, n)
    "multilabel": (lambda r, q, n: (lambda y: np.concatenate([1.0 - y, y]))(
        (r.uniform(size=(q.shape[0] // 2, n)) < np.exp(q[q.shape[0] // 2:])).astype(float)),
        lambda r, n: _label_pairs(r.uniform(0.05, 0.95, (K_CLASSES, n))), {}, [0.0, 0.3, 1.0],
        [-0.1, 1.5, np.nan]),
    "categorical": (lambda r, q, n: np.array([r.choice(q.shape[0], p=np.exp(q[:, i]))
                                              for i in range(n)]),
                    lambda r, n: _log_probs(r, n, K_CLASSES), {}, [0.0, 0.25, 1.0],
                    [-0.5, 2.0, np.nan]),
}
DISCRETISED = [n for n, cls in FAMILIES.items() if issubclass(cls, ContinuousFamily)
               and set(cls.applies_to) & set(COUNTING_KINDS)]


def make(name: str):
    """The family as a run builds it (a class family knows its class labels)."""
    return FAMILIES[name]([str(k) for k in range(K_CLASSES)])


def oracle_logpmf(fam, y, pred, params) -> np.ndarray:
    """log q from the family's scipy.stats twin; a class family's twin is one multinomial
    per row."""
    if fam.input == "classes":
        eye = np.eye(pred.shape[0])
        return np.array([fam.to_scipy(pred[:, [i]], params).logpmf(eye[int(y[i])])
                         for i in range(y.size)])
    dist = fam.to_scipy(pred, params)
    if fam.input == "labels":  # one Bernoulli per label: the rows' sums
        return dist.logpmf(y[y.shape[0] // 2:]).sum(axis=0)
    return dist.logpmf(y) if fam.discrete else dist.logpdf(y)


def test_every_family_has_a_case():
    assert set(FAMILIES) == set(CASES)


@pytest.mark.parametrize("name", FAMILIES)
def test_loglik_equals_scipy(name):
    rng = np.random.default_rng(1)
    draw_y, draw_pred, params, _, _ = CASES[name]
    fam = make(name)
    pred = draw_pred(rng, 200)
    y = draw_y(rng, pred, 200)
    np.testing.assert_allclose(fam.loglik(y, pred, params), oracle_logpmf(fam, y, pred, params),
                               rtol=1e-9)


@pytest.mark.parametrize("name", FAMILIES)
def test_support_accepts_and_rejects(name):
    _, _, _, inside, outside = CASES[name]
    support = FAMILIES[name].support
    assert support.contains(np.array(inside)).all()
    assert not support.contains(np.array(outside)).any()
    assert support.first_outside(np.array(inside + outside)) == len(inside)
    assert support.description  # used verbatim in skip reasons and errors


@pytest.mark.parametrize("name", FAMILIES)
def test_mass_or_density_is_normalised(name):
    _, draw_pred, params, _, _ = CASES[name]
    fam = make(name)
    mu = draw_pred(np.random.default_rng(2), 1)
    mu = mu if np.ndim(mu) == 2 else float(mu[0])
    if fam.input == "classes":
        total = np.exp(fam.loglik(np.arange(K_CLASSES), mu, params)).sum()
    elif fam.input == "labels":  # every 0/1 vector of the labels
        L = mu.shape[0] // 2
        y = np.array(np.meshgrid(*[[0.0, 1.0]] * L)).reshape(L, -1)
        total = np.exp(fam.loglik(np.concatenate([1.0 - y, y]), mu, params)).sum()
    elif fam.discrete:
        top = fam.support.upper if math.isfinite(fam.support.upper) else 400.0
        total = np.exp(fam.loglik(np.arange(0.0, top + 1.0), mu, params)).sum()
    else:
        lo, hi = fam.support.lower, fam.support.upper
        total, _ = integrate.quad(lambda v: math.exp(fam.loglik(np.array([v]), mu, params)[0]),
                                  lo, hi, limit=200)
        if fam.zero_mass:  # a point mass at 0 beside the density on y > 0
            total += math.exp(fam.loglik(np.zeros(1), mu, params)[0])
    assert total == pytest.approx(1.0, abs=1e-7)


@pytest.mark.parametrize("name", DISCRETISED)
def test_discretised_probabilities_sum_to_one(name):
    _, draw_pred, params, _, _ = CASES[name]
    fam = Discretised(make(name))
    mu = float(draw_pred(np.random.default_rng(3), 1)[0])
    lo = math.ceil(fam.support.lower) if fam.support.lower > -math.inf else -2000.0
    grid = np.arange(lo, 2001.0)
    assert fam.support.contains(grid).all()
    p = np.exp(fam.loglik(grid, mu, params))
    assert p.sum() == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("name", FAMILIES)
@pytest.mark.parametrize("conditional", [True, False])
def test_weights_equal_repetition_in_the_fit(name, conditional):
    rng = np.random.default_rng(4)
    draw_y, draw_pred, _, _, _ = CASES[name]
    fam = make(name)
    pred = draw_pred(rng, 60)
    y = draw_y(rng, pred, 60)
    w = rng.integers(1, 4, 60).astype(float)
    reps = w.astype(int)
    a = fam.fit(y, w, pred if conditional else None)
    b = fam.fit(np.repeat(y, reps, axis=-1), None,
                np.repeat(pred, reps, axis=-1) if conditional else None)
    assert a.keys() == b.keys()
    assert set(a) == set(fam.nuisance if conditional else a)
    for k in a:
        assert a[k] == pytest.approx(b[k], rel=1e-6), k


def _moments(fam, y, w, pred, parts: int) -> Moments:
    """The closed-form statistics reduced over `parts` batches, as the first pass does."""
    out = None
    for idx in np.array_split(np.arange(y.shape[-1]), parts):
        x = fam.fit_stats(y[..., idx], None if pred is None else pred[idx])
        m = Moments(np.atleast_2d(x).shape[0])
        m.update(x, w[idx])
        out = m if out is None else out.merge(m)
    return out


@pytest.mark.parametrize("name", FAMILIES)
@pytest.mark.parametrize("conditional", [True, False])
def test_closed_form_fits_from_batched_moments_equal_the_fit(name, conditional):
    """A family that declares a closed form in a mode fits the same parameters from the
    batch-reduced moments of its `fit_stats` as from the rows, however they are
    batched."""
    fam = make(name)
    mode = "conditional" if conditional else "marginal"
    rng = np.random.default_rng(8)
    draw_y, draw_pred, _, _, _ = CASES[name]
    pred = draw_pred(rng, 300)
    y = draw_y(rng, pred, 300)
    given = pred if conditional else None
    if fam.input == "classes":  # hard labels fit on value counts; soft labels here
        y = np.exp(pred)
    if mode not in fam.closed_form:
        assert fam.fit_stats(y, given) is None or not fam.nuisance
        return
    w = rng.integers(1, 4, y.shape[-1]).astype(float)
    direct = fam.fit(y, w, given)
    for parts in (1, 7):
        fitted = fam.fit_from_stats(_moments(fam, y, w, given, parts), conditional)
        assert fitted.keys() == direct.keys()
        for k in direct:
            # rounding only: beta's precision from moments is ill-conditioned (~1e-12)
            assert fitted[k] == pytest.approx(direct[k], rel=1e-11), (k, parts)


@pytest.mark.parametrize("name", DISCRETISED)
def test_weights_equal_repetition_in_the_discretised_fit(name):
    rng = np.random.default_rng(5)
    draw_y, draw_pred, _, _, _ = CASES[name]
    fam = Discretised(make(name))
    pred = draw_pred(rng, 80)
    y = np.round(draw_y(rng, pred, 80))
    if fam.support.lower > -math.inf:
        y = np.maximum(y, 0.0)
    w = rng.integers(1, 4, 80).astype(float)
    reps = w.astype(int)
    a = fam.fit(y, w, pred)
    b = fam.fit(np.repeat(y, reps, axis=-1), None, np.repeat(pred, reps))
    for k in fam.nuisance:
        assert a[k] == pytest.approx(b[k], rel=1e-6), k


def test_families_declare_their_facts():
    rows = describe()
    assert [r["family"] for r in rows] == list(FAMILIES)
    for name, cls in FAMILIES.items():
        assert cls.name == name
        assert cls.loss and cls.prediction and cls.__doc__
        assert cls.marginal_params
        assert cls.applies_to, name  # every family applies to some target kind
        assert cls.input in ("point", "probability", "classes", "labels")
        if cls.location is not None:
            assert cls.location in cls.marginal_params
        for k in cls.param_domains:
            assert k in cls.nuisance + cls.marginal_params, (name, k)
        for at in cls.nests:  # a nesting names a family and one of this one's params
            assert at.family in FAMILIES and at.param in cls.nuisance


def test_the_cli_choices_are_the_registry():
    # request.py keeps the names importable without numpy (the --help start-up path)
    from losscli.request import FAMILY_NAMES

    assert set(FAMILY_NAMES) == set(FAMILIES)


def test_default_eps_is_machine_epsilon():
    from losscli.request import DEFAULT_EPS

    assert DEFAULT_EPS == np.finfo(np.float64).eps
