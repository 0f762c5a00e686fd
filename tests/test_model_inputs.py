"""Model inputs (SPEC §8.1): the prediction's scale, parameters given per row by a column
(--param) and parameters held at a value (--fix). Likelihoods are checked against
scipy.stats written here, never against numbers losscli printed."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special, stats

from tests.conftest import model, run_api, run_cli


@pytest.fixture
def counts(write_csv, rng):
    mu = np.exp(rng.normal(1.0, 0.5, 300))
    y = rng.poisson(mu)
    return write_csv("c.csv", y=y, y_pred=mu, lmu=np.log(mu)), y, mu


def test_pred_scale_log_reads_a_log_mean(counts):
    path, y, mu = counts
    rep = run_api("evaluate", path, pred="lmu", pred_scale="log", families=("poisson",))
    expected = -stats.poisson.logpmf(y, np.exp(np.log(mu))).sum()
    assert model(rep, "poisson")["nll"] == pytest.approx(expected, rel=1e-12)


def test_pred_scale_logit_reads_a_logit(write_csv, rng):
    p = rng.uniform(0.05, 0.95, 200)
    y = (rng.uniform(size=200) < p).astype(int)
    path = write_csv("b.csv", y=y, z=special.logit(p))
    rep = run_api("evaluate", path, pred="z", pred_scale="logit", families=("bernoulli",))
    expected = -stats.bernoulli.logpmf(y, special.expit(special.logit(p))).sum()
    assert model(rep, "bernoulli")["nll"] == pytest.approx(expected, rel=1e-12)


def test_pred_scale_log_overflow_names_the_row(write_csv):
    path = write_csv("o.csv", y=[1, 2, 3], y_pred=[0.1, 800.0, 1.0])
    out = run_cli("evaluate", path, "--pred-scale", "log", "-f", "poisson")
    err = out.stderr.decode()
    assert out.returncode == 1
    assert err.count("\n") == 1 and err.startswith("error:")
    assert "row 2" in err and "800" in err and "'y_pred'" in err


@pytest.mark.parametrize("args, needle", [
    (("--fix", "sigma"), "--fix sigma: expected NAME=VALUE"),
    (("--fix", "sigma=abc"), "'abc' is not a number"),
    (("--fix", "gaus.sigma=1"), "--fix gaus.sigma=1: unknown family 'gaus' (did you mean "
                                "'gaussian'?)"),
    (("--param", "=s"), "--param =s: expected NAME=COL"),
    (("--probs", "y_pred", "--pred-scale", "log"), "--pred-scale log applies to a point"),
    (("--param", "sigma=y"), "'y' is the target column"),
])
def test_malformed_model_inputs_are_usage_errors(counts, args, needle):
    path, _, _ = counts
    out = run_cli("evaluate", path, *args)
    err = out.stderr.decode()
    assert out.returncode == 2, err
    assert err.count("\n") == 1 and err.startswith("error:") and needle in err
    assert "Traceback" not in err and not math.isnan(0.0)
