"""The shared optimiser (losscli.optimize) on problems with closed-form answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from losscli import optimize
from losscli.errors import FitError


def test_root_finds_a_sign_change_to_its_tolerance():
    # log x − 1 = 0 at x = e
    x = optimize.root(lambda v: math.log(v) - 1.0, 1.0, 10.0, xtol=1e-14, rtol=1e-15)
    assert x == pytest.approx(math.e, rel=1e-14)


@pytest.mark.parametrize("start", [-30.0, -2.0, 0.7, 3.0, 40.0])
def test_root_decreasing_brackets_from_any_start(start):
    # 2 − eᵘ decreases through its root log 2
    u = optimize.root_decreasing(lambda v: 2.0 - math.exp(v), start, below="b", above="a",
                                 xtol=1e-13, rtol=1e-15)
    assert u == pytest.approx(math.log(2.0), rel=1e-12)


def test_root_decreasing_reports_which_side_has_no_root():
    with pytest.raises(FitError, match="^no root below$"):
        optimize.root_decreasing(lambda v: -1.0, 0.0, "no root below", "no root above",
                                 xtol=1e-13, rtol=1e-15)
    with pytest.raises(FitError, match="^no root above$"):
        optimize.root_decreasing(lambda v: 1.0, 0.0, "no root below", "no root above",
                                 xtol=1e-13, rtol=1e-15)


def test_minimize_bounded_returns_the_minimiser_and_the_minimum():
    # (x − 1.3)² + 0.25 has its minimum 0.25 at 1.3, inside [−25, 13.8]
    x, f = optimize.minimize_bounded(lambda v: (v - 1.3) ** 2 + 0.25, -25.0, 13.8, xatol=1e-10)
    assert x == pytest.approx(1.3, abs=1e-8)
    assert f == pytest.approx(0.25, rel=1e-14)
    # a minimum at the lower end is approached (Brent's bounded method never evaluates
    # the end itself)
    x, f = optimize.minimize_bounded(lambda v: v, -2.0, 5.0, xatol=1e-10)
    assert -2.0 < x < -2.0 + 1e-6
    assert np.isclose(f, x)


def test_newton_root_converges_on_a_convex_decreasing_score():
    # g(u) = 3 − u − eᵘ decreases through the root of eᵘ + u = 3 (found by bisection here)
    def score(u):
        return 3.0 - u - math.exp(u), -1.0 - math.exp(u)

    lo, hi = 0.0, 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if score(mid)[0] > 0.0 else (lo, mid)
    u, status = optimize.newton_root(score, 5.0, tol=1e-14)
    assert status == optimize.ROOT
    assert u == pytest.approx(lo, rel=1e-14)


def test_newton_root_caps_walks_and_reports_its_bounds():
    # g = tanh(1 − u): flat tails, so a Newton step from far away is huge and is capped
    def score(u):
        t = math.tanh(1.0 - u)
        return t, -(1.0 - t * t)

    u, status = optimize.newton_root(score, -30.0, -40.0, 40.0, tol=1e-10, max_step=3.0)
    assert status == optimize.ROOT and u == pytest.approx(1.0, abs=1e-9)
    # g′ ≥ 0 (not concave): walks towards the sign change, then bisects the bracket
    u, status = optimize.newton_root(lambda v: (1.0 - v, 1.0), 4.0, tol=1e-8,
                                     bracket_tol=1e-10)
    assert status == optimize.ROOT and u == pytest.approx(1.0, abs=1e-9)
    # a root beyond a bound: that bound, and which one
    assert optimize.newton_root(score, 0.0, -40.0, 0.5, tol=1e-10) == (0.5, optimize.ABOVE)
    assert optimize.newton_root(score, 3.0, 2.0, 40.0, tol=1e-10, max_step=3.0) == (
        2.0, optimize.BELOW)
    assert optimize.newton_root(lambda v: (math.nan, 1.0), 0.0, tol=1e-10)[1] == (
        optimize.NOT_FINITE)


def _ascent_problem(x: np.ndarray, derivs: bool):
    """f = −log(1 + (x₀ − 1)²) − (x₁ + 2)²: its maximum at (1, −2); not concave where
    |x₀ − 1| > 1."""
    d = x[0] - 1.0
    f = -math.log1p(d * d) - (x[1] + 2.0) ** 2
    grad = np.array([-2.0 * d / (1.0 + d * d), -2.0 * (x[1] + 2.0)])
    hess = np.array([[-2.0 * (1.0 - d * d) / (1.0 + d * d) ** 2, 0.0], [0.0, -2.0]])
    return f, grad, hess


def test_newton_ascent_leaves_a_convex_region_for_the_maximum():
    x, status, f = optimize.newton_ascent(_ascent_problem, np.array([6.0, 3.0]))
    assert status == optimize.OK
    np.testing.assert_allclose(x, [1.0, -2.0], rtol=0, atol=1e-8)
    assert f == pytest.approx(0.0, abs=1e-8)


def test_newton_ascent_reports_a_cap_still_rising_and_a_stop():
    def rising(x, derivs):  # −e^{−x₀} − x₁² rises in x₀ for ever
        e = math.exp(-x[0])
        return -e - x[1] ** 2, np.array([e, -2.0 * x[1]]), np.array([[-e, 0.0], [0.0, -2.0]])

    x, status, _ = optimize.newton_ascent(rising, np.array([0.0, 1.0]), cap=(0, 3.0))
    assert status == optimize.LIMIT and x[0] == pytest.approx(3.0, abs=1e-8)
    x, status, _ = optimize.newton_ascent(
        rising, np.array([0.0, 1.0]), stop=lambda v: "far" if v[0] > 2.5 else None)
    assert status == "far" and x[0] > 2.5
    x, status, _ = optimize.newton_ascent(
        lambda v, d: (math.nan, np.zeros(1), np.eye(1)), np.zeros(1))
    assert status == optimize.DIVERGED


def test_newton_maximise_stays_inside_the_feasible_set():
    # 2 log a + 3 log b − a − b has its maximum at (2, 3); a Newton step from (10, 0.1)
    # leaves a, b > 0 and is halved back inside
    def f(x):
        return 2.0 * math.log(x[0]) + 3.0 * math.log(x[1]) - x[0] - x[1]

    def derivs(x):
        return (np.array([2.0 / x[0] - 1.0, 3.0 / x[1] - 1.0]),
                np.diag([-2.0 / x[0] ** 2, -3.0 / x[1] ** 2]))

    x = optimize.newton_maximise(f, derivs, np.array([10.0, 0.1]),
                                 inside=lambda v: bool(np.all(v > 0.0)))
    np.testing.assert_allclose(x, [2.0, 3.0], rtol=1e-12)


def test_numeric_fits_and_seeded_samples_have_one_home_each():
    """Only losscli/optimize.py calls scipy's optimisers (the diagnostics' isotonic
    regression, a pool-adjacent-violators fit, is not one), and only losscli/reduce.py
    picks rows by their keys."""
    import pathlib

    root_dir = pathlib.Path(optimize.__file__).parent
    solvers = ("brentq", "minimize_scalar", "optimize.minimize(", "newton(", "root_scalar",
               "fsolve", "least_squares")
    for path in sorted(root_dir.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        name = path.relative_to(root_dir).as_posix()
        if name != "optimize.py":
            assert not any(s in text for s in solvers), name
            assert "from scipy import optimize" not in text, name
            assert "from scipy.optimize import" not in text or (
                "isotonic_regression" in text and name.startswith("diagnostics/")), name
        if name != "reduce.py":
            assert "argpartition" not in text and "row_keys(" not in text, name
