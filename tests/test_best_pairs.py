"""The last pass reduces the per-row differences of the guessed best model with each
other model only (the Vuong tests and Δ uncertainties read no other pair); a wrong
guess costs one more pass over the missing pairs and never changes the answer."""

from __future__ import annotations

import numpy as np
import pytest

from losscli import compare
from tests.conftest import SAMPLES, run_api
from tests.test_diagnostics import _without_input_counts as _strip


@pytest.mark.parametrize("name, kw", [
    ("counts.csv", {}),
    ("regression.csv", {}),
    ("counts.csv", {"no_pred": True}),
    ("regression.csv", {"families": ("all",)}),
])
def test_a_wrong_guess_of_the_best_gives_the_same_report(monkeypatch, name, kw):
    path = SAMPLES / name
    right = run_api("compare-noise-models", path, **kw)
    assert right["tests"]  # there are Vuong tests to get right
    worst = right["models"][-1]["family"]

    def miss(run, models, criterion):
        return next(i for i, m in enumerate(models) if m.name == worst)

    monkeypatch.setattr(compare, "likely_best", miss)

    monkeypatch.setattr(compare, "contenders", lambda *a: [])
    wrong = run_api("compare-noise-models", path, **kw)
    # one more pass (on the value counts, marginal: none over the file)
    assert wrong["input"]["passes"] == right["input"]["passes"] + (
        0 if kw.get("no_pred") else 1)
    assert _strip(wrong) == _strip(right)

    def none(run, models, criterion):
        return None  # no guess: every pair, in the one pass

    monkeypatch.setattr(compare, "likely_best", none)

    monkeypatch.setattr(compare, "contenders", lambda *a: [])
    every = run_api("compare-noise-models", path, **kw)
    assert every["input"]["passes"] == right["input"]["passes"]
    assert _strip(every) == _strip(right)


def test_two_predictions_each_get_their_best_pairs(tmp_path, monkeypatch):
    rng = np.random.default_rng(5)
    mu = np.exp(rng.normal(1.0, 0.6, 3000))
    y = rng.negative_binomial(2.0, 2.0 / (2.0 + mu))
    path = tmp_path / "two.csv"
    np.savetxt(path, np.column_stack([y, mu, mu * np.exp(rng.normal(0, 0.3, 3000))]),
               delimiter=",", header="y,a,b", comments="", fmt=["%d", "%.12g", "%.12g"])
    kw = {"target": "y", "pred": ("a", "b")}
    right = run_api("compare-noise-models", path, **kw)

    def last(run, models, criterion):
        return len(models) - 1

    monkeypatch.setattr(compare, "likely_best", last)

    monkeypatch.setattr(compare, "contenders", lambda *a: [])
    wrong = run_api("compare-noise-models", path, **kw)
    assert _strip(wrong) == _strip(right)
    for m in right["models"]:
        if m["rank"] > 1 and m["uncertainty"] is not None:
            assert m["uncertainty"]["delta_cross_entropy"] is not None


def test_a_near_tie_with_the_guess_costs_no_pass_more(tmp_path, monkeypatch):
    """NB data: the zero-inflated NB fits a π near 0, so the guess's rows cannot tell it
    from the NB. Whichever of the two the guess names, the other is a contender: the last
    pass reduces its pairs too, and the ranking the other way costs no pass more. Models
    clearly worse (poisson, gaussian) are no contenders."""
    rng = np.random.default_rng(11)
    mu = np.exp(rng.normal(1.0, 0.6, 20_000))
    y = rng.negative_binomial(2.0, 2.0 / (2.0 + mu))
    path = tmp_path / "nb.csv"
    np.savetxt(path, np.column_stack([y, mu]), delimiter=",", header="y,y_pred",
               comments="", fmt=["%d", "%.12g"])
    kw = {"families": ("negative_binomial", "zero_inflated_negative_binomial", "poisson",
                       "gaussian"), "criterion": "nll"}
    seen = {}
    real = compare.contenders

    def spy(run, models, criterion, best):
        out = real(run, models, criterion, best)
        seen[models[best].name] = sorted(models[j].name for j in out)
        return out

    monkeypatch.setattr(compare, "contenders", spy)
    right = run_api("compare-noise-models", path, **kw)
    ranked = sorted(right["models"], key=lambda m: m["rank"])
    top, second = ranked[0]["family"], ranked[1]["family"]
    assert {top, second} == {"negative_binomial", "zero_inflated_negative_binomial"}
    assert seen == {top: [second]}

    def runner_up(run, models, criterion):
        return next(i for i, m in enumerate(models) if m.name == second)

    monkeypatch.setattr(compare, "likely_best", runner_up)
    other = run_api("compare-noise-models", path, **kw)
    assert seen[second] == [top]
    assert other["input"]["passes"] == right["input"]["passes"]
    assert _strip(other) == _strip(right)
