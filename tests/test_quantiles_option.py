"""`--quantiles` (SPEC §8.4) through the commands: one quantile model per column with τ
held at its level, and the quantiles block, against numpy formulas written here."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from tests.conftest import run_api, run_cli


@pytest.fixture
def forecasts(write_csv, rng):
    n = 400
    mu = rng.normal(0.0, 1.0, n)
    y = mu + rng.standard_normal(n)
    cols = {f"q{int(t * 100):02d}": mu + stats.norm.ppf(t) for t in (0.05, 0.5, 0.95)}
    cols["q50"] = cols["q50"] + 0.2 * rng.standard_normal(n)
    path = write_csv("q.csv", y=y, y_pred=mu, **cols)
    return path, y, cols


def pinball(y, q, tau):
    r = y - q
    return np.mean(r * (tau - (r < 0)))


def test_one_quantile_model_per_level(forecasts):
    path, y, cols = forecasts
    rep = run_api("evaluate", path, quantiles=("q05,q50,q95",))
    assert [m["prediction"] for m in rep["models"]] == ["q05", "q50", "q95"]
    for m, tau in zip(rep["models"], (0.05, 0.5, 0.95), strict=True):
        q = cols[m["prediction"]]
        assert m["family"] == "quantile" and m["fixed"] == {"tau": tau}
        sigma = pinball(y, q, tau)
        assert m["params"]["scale"] == pytest.approx(sigma, rel=1e-10)
        ll = np.log(tau * (1 - tau) / sigma) - np.where(y >= q, tau, tau - 1) * (y - q) / sigma
        assert m["nll"] == pytest.approx(-ll.sum(), rel=1e-10)
        assert m["n_params"] == 1


def test_the_quantiles_block(forecasts):
    path, y, cols = forecasts
    rep = run_api("evaluate", path, quantiles=("q*",))
    b = rep["quantiles"]
    assert b["levels"] == [0.05, 0.5, 0.95]
    for k, (c, tau) in enumerate((("q05", 0.05), ("q50", 0.5), ("q95", 0.95))):
        assert b["pinball"][k] == pytest.approx(pinball(y, cols[c], tau), rel=1e-12)
        assert b["coverage"][k] == pytest.approx(np.mean(y <= cols[c]), abs=1e-15)
    lo, hi = cols["q05"], cols["q95"]
    (iv,) = b["intervals"]
    score = (hi - lo) + 20 * np.maximum(lo - y, 0) + 20 * np.maximum(y - hi, 0)
    assert iv["level"] == pytest.approx(0.9) and (iv["lower"], iv["upper"]) == ("q05", "q95")
    assert iv["interval_score"] == pytest.approx(score.mean(), rel=1e-12)
    wis = (0.5 * np.abs(y - cols["q50"]) + 0.05 * score) / 1.5
    assert b["wis"] == pytest.approx(wis.mean(), rel=1e-12)
    crossed = (cols["q50"] < lo) | (hi < cols["q50"])
    assert b["crossings"] == pytest.approx(crossed.mean(), abs=1e-15)


def test_quantiles_with_a_family_and_given_levels(forecasts):
    path, y, _ = forecasts
    rep = run_api("evaluate", path, quantiles=("q05", "q95"), quantile_levels=(0.05, 0.95),
                  families=("gaussian",), batch_rows=33)
    assert [m["family"] for m in rep["models"]] == ["gaussian", "quantile", "quantile"]
    assert rep["models"][0]["prediction"] == "y_pred"
    assert rep["quantiles"]["wis"] is None


def test_a_column_without_a_level_is_a_usage_error(write_csv):
    path = write_csv("bad.csv", y=[1.0, 2.0, 3.0], upper=[2.0, 3.0, 4.0])
    out = run_cli("evaluate", path, "--quantiles", "upper")
    err = out.stderr.decode()
    assert out.returncode == 2, err
    assert err.count("\n") == 1 and "'upper'" in err and "--quantile-levels" in err
