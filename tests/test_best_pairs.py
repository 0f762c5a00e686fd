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
    wrong = run_api("compare-noise-models", path, **kw)
    # one more pass (on the value counts, marginal: none over the file)
    assert wrong["input"]["passes"] == right["input"]["passes"] + (
        0 if kw.get("no_pred") else 1)
    assert _strip(wrong) == _strip(right)

    def none(run, models, criterion):
        return None  # no guess: every pair, in the one pass

    monkeypatch.setattr(compare, "likely_best", none)
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
    wrong = run_api("compare-noise-models", path, **kw)
    assert _strip(wrong) == _strip(right)
    for m in right["models"]:
        if m["rank"] > 1 and m["uncertainty"] is not None:
            assert m["uncertainty"]["delta_cross_entropy"] is not None
