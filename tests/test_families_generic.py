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

from losscli.families import FAMILIES, ContinuousFamily, describe
from losscli.score import fit_family

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
}
NUMERIC = [name for name in FAMILIES if name in CASES]


def test_every_family_has_a_case_or_is_a_class_family():
    assert set(FAMILIES) - set(CASES) <= {"bernoulli", "categorical"}


@pytest.mark.parametrize("name", NUMERIC)
def test_loglik_equals_scipy(name):
    rng = np.random.default_rng(1)
    draw_y, draw_pred, params, _, _ = CASES[name]
    fam = FAMILIES[name]()
    pred = draw_pred(rng, 200)
    y = draw_y(rng, pred, 200)
    dist = fam.to_scipy(pred, params)
    ref = dist.logpmf(y) if fam.discrete else dist.logpdf(y)
    np.testing.assert_allclose(fam.loglik(y, pred, params), ref, rtol=1e-9)


@pytest.mark.parametrize("name", NUMERIC)
def test_support_accepts_and_rejects(name):
    _, _, _, inside, outside = CASES[name]
    support = FAMILIES[name].support
    assert support.contains(np.array(inside)).all()
    assert not support.contains(np.array(outside)).any()
    assert support.first_outside(np.array(inside + outside)) == len(inside)
    assert support.description  # used verbatim in skip reasons and errors


@pytest.mark.parametrize("name", NUMERIC)
def test_mass_or_density_is_normalised(name):
    _, draw_pred, params, _, _ = CASES[name]
    fam = FAMILIES[name]()
    mu = float(draw_pred(np.random.default_rng(2), 1)[0])
    if fam.discrete:
        grid = np.arange(0.0, 400.0)
        total = np.exp(fam.loglik(grid, mu, params)).sum()
    else:
        lo, hi = fam.support.lower, fam.support.upper
        total, _ = integrate.quad(lambda v: math.exp(fam.loglik(np.array([v]), mu, params)[0]),
                                  lo, hi, limit=200)
    assert total == pytest.approx(1.0, abs=1e-7)


@pytest.mark.parametrize("name", [n for n in NUMERIC
                                  if issubclass(FAMILIES[n], ContinuousFamily) and n != "beta"])
def test_discretised_probabilities_sum_to_one(name):
    _, draw_pred, params, _, _ = CASES[name]
    fam = FAMILIES[name]()
    mu = float(draw_pred(np.random.default_rng(3), 1)[0])
    lo = 0.0 if fam.support.lower > -math.inf else -2000.0
    grid = np.arange(lo, 2001.0)
    p = np.exp(fam.interval_loglik(grid, mu, params))
    assert p.sum() == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("name", NUMERIC)
@pytest.mark.parametrize("conditional", [True, False])
def test_weights_equal_repetition_in_the_fit(name, conditional):
    rng = np.random.default_rng(4)
    draw_y, draw_pred, _, _, _ = CASES[name]
    fam = FAMILIES[name]()
    pred = draw_pred(rng, 60)
    y = draw_y(rng, pred, 60)
    w = rng.integers(1, 4, 60).astype(float)
    reps = w.astype(int)
    a, _ = fit_family(fam, y, w, pred if conditional else None, False, None)
    b, _ = fit_family(fam, np.repeat(y, reps), None,
                      np.repeat(pred, reps) if conditional else None, False, None)
    assert a.keys() == b.keys()
    for k in a:
        assert a[k] == pytest.approx(b[k], rel=1e-6), k


@pytest.mark.parametrize("name", [n for n in NUMERIC
                                  if issubclass(FAMILIES[n], ContinuousFamily) and n != "beta"])
def test_weights_equal_repetition_in_the_discretised_fit(name):
    rng = np.random.default_rng(5)
    draw_y, draw_pred, _, _, _ = CASES[name]
    fam = FAMILIES[name]()
    pred = draw_pred(rng, 80)
    y = np.round(draw_y(rng, pred, 80))
    if fam.support.lower > -math.inf:
        y = np.maximum(y, 0.0)
    w = rng.integers(1, 4, 80).astype(float)
    reps = w.astype(int)
    a = fam.fit_counting(y, w, pred)
    b = fam.fit_counting(np.repeat(y, reps), None, np.repeat(pred, reps))
    for k in fam.nuisance:
        assert a[k] == pytest.approx(b[k], rel=1e-6), k


def test_families_declare_their_facts():
    rows = describe()
    assert [r["family"] for r in rows] == list(FAMILIES)
    for name, cls in FAMILIES.items():
        assert cls.name == name
        assert cls.loss and cls.prediction and cls.__doc__
        assert cls.marginal_params
        if cls.location is not None:
            assert cls.location in cls.marginal_params
        for k in cls.param_domains:
            assert k in cls.nuisance + cls.marginal_params, (name, k)


def test_the_cli_choices_are_the_registry():
    # request.py keeps the names importable without numpy (the --help start-up path)
    from losscli.request import FAMILY_NAMES

    assert set(FAMILY_NAMES) == set(FAMILIES)


def test_default_eps_is_machine_epsilon():
    from losscli.request import DEFAULT_EPS

    assert DEFAULT_EPS == np.finfo(np.float64).eps
