"""The zero-inflated Poisson and negative binomial families against statsmodels.

Oracles: statsmodels.distributions.discrete.zipoisson(mu=λ, w=π) and
zinegbin(mu=λ, alpha=α, p=2, w=π) (p = 2 is NB2: Var = λ + αλ²), with the base mean
λ = ŷ/(1 − π) (ŷ the overall mean, checked below on the oracle's own mean); MLEs by
scipy.optimize on the oracles' log-p.m.f. sums; LR p-values by hand; CRPS as the sum
Σ_k (F(k) − 1{y ≤ k})² of the oracle's c.d.f.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import optimize, stats
from statsmodels.distributions.discrete import zinegbin, zipoisson

from losscli.noise import FAMILIES
from losscli.noise.zero_inflated import ZeroInflatedNegativeBinomial, ZeroInflatedPoisson
from losscli.request import family_names
from tests.conftest import model, run_api, run_cli
from tests.test_streaming import assert_same

ZIP = ZeroInflatedPoisson()
ZINB = ZeroInflatedNegativeBinomial()
RTOL_LL = 1e-9
RTOL_FIT = 1e-4
ZI_NAMES = ("zero_inflated_poisson", "zero_inflated_negative_binomial")


def oracle(pred, params):
    """The statsmodels distribution at ŷ (overall mean) and the family's parameters."""
    pi = params["pi"]
    lam = np.asarray(pred, dtype=np.float64) / (1.0 - pi)
    if "alpha" in params:
        return zinegbin(mu=lam, alpha=params["alpha"], p=2, w=pi)
    return zipoisson(mu=lam, w=pi)


def draw(rng, n, pi, alpha=None, mean=None):
    """(y, ŷ): ŷ per row (or one `mean`), y zero-inflated Poisson or NB2 at ŷ/(1 − π)."""
    mu = np.full(n, mean) if mean is not None else np.exp(rng.normal(1.0, 0.5, n))
    lam = mu / (1.0 - pi)
    if alpha:
        lam = lam * rng.gamma(1.0 / alpha, alpha, n)
    y = np.where(rng.uniform(size=n) < pi, 0.0, rng.poisson(lam).astype(float))
    return y, mu


def test_oracle_mean_is_the_prediction():
    for params in ({"pi": 0.3}, {"pi": 0.3, "alpha": 0.5}):
        d = oracle(np.array([2.0, 7.0]), params)
        np.testing.assert_allclose(d.mean(), [2.0, 7.0], rtol=1e-12)


def test_declared_facts():
    assert ZIP.nuisance == ("pi",) and ZIP.marginal_params == ("mean", "pi")
    assert ZINB.nuisance == ("pi", "alpha") and ZINB.marginal_params == ("mean", "pi", "alpha")
    assert [(n.family, n.param, n.value, n.boundary) for n in ZIP.nests] == [
        ("poisson", "pi", 0.0, True)]
    assert {(n.family, n.param, n.value) for n in ZINB.nests} == {
        ("negative_binomial", "pi", 0.0), ("zero_inflated_poisson", "alpha", 0.0)}
    for fam in (ZIP, ZINB):
        assert not any(fam.frameworks.names().values())
        assert fam.candidate and "count" in fam.applies_to


def test_aliases():
    assert family_names(["zip", "ZINB"]) == ("zero_inflated_poisson",
                                             "zero_inflated_negative_binomial")
    assert family_names(["Zero-Inflated-Poisson"]) == ("zero_inflated_poisson",)


# ------------------------------------------------------------------ log-likelihood


@pytest.mark.parametrize("pi", [0.0, 1e-9, 0.3, 0.95])
def test_zip_loglik_matches_statsmodels(rng, pi):
    y, mu = draw(rng, 400, pi)
    y = np.concatenate([y, [0.0, 0.0, 1.0, 50.0]])
    mu = np.concatenate([mu, [1e-6, 40.0, 1e-3, 3.0]])
    lam = mu / (1.0 - pi)
    expected = zipoisson.logpmf(y, lam, pi)
    np.testing.assert_allclose(ZIP.loglik(y, mu, {"pi": pi}), expected, rtol=RTOL_LL)


@pytest.mark.parametrize("pi,alpha", [(0.0, 0.5), (0.3, 1e-3), (0.3, 0.5), (0.6, 4.0),
                                      (0.3, 0.0)])
def test_zinb_loglik_matches_statsmodels(rng, pi, alpha):
    y, mu = draw(rng, 400, pi, alpha or None)
    lam = mu / (1.0 - pi)
    if alpha == 0.0:
        expected = zipoisson.logpmf(y, lam, pi)
    else:
        expected = zinegbin.logpmf(y, lam, alpha, 2, pi)
    got = ZINB.loglik(y, mu, {"pi": pi, "alpha": alpha})
    np.testing.assert_allclose(got, expected, rtol=RTOL_LL)


def _mp_loglik(y: int, mu: float, alpha: float, pi: float) -> float:
    """log q of the zero-inflated NB2 in 50-digit arithmetic (mpmath), from its
    definition: NB2(λ, α) = Γ(k + r)/(Γ(r) k!) (r/(r + λ))^r (λ/(r + λ))^k, r = 1/α."""
    import mpmath as mp

    with mp.workdps(50):
        pi_m = mp.mpf(pi)
        lam = mp.mpf(mu) / (1 - pi_m)
        r = 1 / mp.mpf(alpha)

        def nb(k):
            return mp.exp(mp.loggamma(k + r) - mp.loggamma(r) - mp.loggamma(k + 1)
                          + r * mp.log(r / (r + lam)) + k * mp.log(lam / (r + lam)))

        if y == 0:
            return float(mp.log(pi_m + (1 - pi_m) * nb(0)))
        return float(mp.log(1 - pi_m) + mp.log(nb(y)))


@pytest.mark.parametrize("alpha", [1e-7, 1e-11])
def test_zinb_loglik_near_the_poisson_limit_matches_mpmath(alpha):
    # statsmodels' log Γ differences lose ~8 digits at α = 1e-7; 50 digits do not
    ys = [0, 1, 3, 7, 40]
    got = ZINB.loglik(np.array(ys, dtype=float), np.full(len(ys), 2.5),
                      {"pi": 0.3, "alpha": alpha})
    want = [_mp_loglik(y, 2.5, alpha, 0.3) for y in ys]
    np.testing.assert_allclose(got, want, rtol=RTOL_LL)


def test_per_row_pi_and_alpha_match_statsmodels(rng):
    y, mu = draw(rng, 300, 0.3, 0.5)
    pi = rng.uniform(0.0, 0.8, y.size)
    alpha = rng.uniform(0.1, 2.0, y.size)
    expected = zinegbin.logpmf(y, mu / (1.0 - pi), alpha, 2, pi)
    np.testing.assert_allclose(ZINB.loglik(y, mu, {"pi": pi, "alpha": alpha}), expected,
                               rtol=RTOL_LL)


# ------------------------------------------------------------------ fits against scipy.optimize


def _mle(y, w, mu, with_alpha, marginal):
    """The weighted MLE by Nelder–Mead on the oracle's log-p.m.f. (π by its logit, α and
    a marginal mean by their logs), then a bounded polish of π at the boundary."""
    w = np.ones(y.size) if w is None else w

    def unpack(x):
        out = {"pi": 1.0 / (1.0 + math.exp(-x[0]))}
        i = 1
        if with_alpha:
            out["alpha"] = math.exp(x[i])
            i += 1
        m = math.exp(x[i]) if marginal else mu
        return out, m

    def nll(x):
        p, m = unpack(x)
        lam = np.broadcast_to(m, y.shape) / (1.0 - p["pi"])
        if with_alpha:
            ll = zinegbin.logpmf(y, lam, p["alpha"], 2, p["pi"])
        else:
            ll = zipoisson.logpmf(y, lam, p["pi"])
        return -float(np.dot(w, ll))

    x0 = [0.0] + ([0.0] if with_alpha else []) + ([math.log(np.average(y, weights=w))]
                                                  if marginal else [])
    res = optimize.minimize(nll, x0, method="Nelder-Mead",
                            options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20000,
                                     "maxfev": 40000})
    p, m = unpack(res.x)
    if marginal:
        p["mean"] = m
    return p


@pytest.mark.parametrize("marginal", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_zip_fit_matches_scipy_mle(rng, marginal, weighted):
    y, mu = draw(rng, 600, 0.35)
    w = rng.integers(1, 4, y.size).astype(float) if weighted else None
    got = ZIP.fit(y, w, None if marginal else mu)
    want = _mle(y, w, mu, False, marginal)
    assert set(got) == set(want)
    for k in want:
        assert got[k] == pytest.approx(want[k], rel=RTOL_FIT), k


@pytest.mark.parametrize("marginal", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_zinb_fit_matches_scipy_mle(rng, marginal, weighted):
    y, mu = draw(rng, 800, 0.3, 0.6)
    w = rng.integers(1, 4, y.size).astype(float) if weighted else None
    got = ZINB.fit(y, w, None if marginal else mu)
    want = _mle(y, w, mu, True, marginal)
    assert set(got) == set(want)
    for k in want:
        assert got[k] == pytest.approx(want[k], rel=RTOL_FIT), k


def test_marginal_mean_is_the_weighted_mean(rng):
    y, _ = draw(rng, 500, 0.4, 0.8, mean=3.0)
    w = rng.integers(1, 5, y.size).astype(float)
    for fam in (ZIP, ZINB):
        assert fam.fit(y, w)["mean"] == pytest.approx(np.average(y, weights=w), rel=1e-14)


def test_no_inflation_gives_pi_zero_exactly(rng):
    # Poisson draws with fewer zeros than Poisson: the score at π = 0 is negative
    mu = np.full(400, 3.0)
    y = np.maximum(rng.poisson(mu), 1).astype(float)
    assert ZIP.fit(y, None, mu) == {"pi": 0.0}
    assert ZINB.fit(y, None, mu)["pi"] == 0.0


def test_zinb_on_zip_data_reaches_the_zip_limit(rng):
    # under-dispersed positives: α̂ = 0 and π̂ is then the zero-inflated Poisson's
    mu = np.full(600, 4.0)
    y = np.where(rng.uniform(size=600) < 0.3, 0.0,
                 np.clip(rng.poisson(mu / 0.7), 4, 8)).astype(float)
    got = ZINB.fit(y, None, mu)
    assert got["alpha"] == 0.0
    assert got["pi"] == pytest.approx(ZIP.fit(y, None, mu)["pi"], rel=1e-12)
    assert ZINB.fit_warnings(got)


def test_weights_equal_repetition(rng):
    y, mu = draw(rng, 200, 0.3, 0.5)
    w = rng.integers(1, 4, y.size).astype(float)
    reps = w.astype(int)
    for fam in (ZIP, ZINB):
        for pred in (mu, None):
            a = fam.fit(y, w, pred)
            b = fam.fit(np.repeat(y, reps), None, None if pred is None else np.repeat(pred, reps))
            for k in a:
                assert a[k] == pytest.approx(b[k], rel=1e-7), (fam.name, k)


def test_fit_given_alpha_fits_pi_alone(rng):
    y, mu = draw(rng, 500, 0.3, 0.5)
    got = ZINB.fit_given(y, None, mu, {"alpha": 0.5}, ("pi",))
    res = optimize.minimize_scalar(
        lambda p: -zinegbin.logpmf(y, mu / (1 - p), 0.5, 2, p).sum(), bounds=(0.0, 0.9),
        method="bounded", options={"xatol": 1e-12})
    assert got["pi"] == pytest.approx(res.x, rel=RTOL_FIT)


def test_every_target_zero_is_a_fit_error():
    from losscli.errors import FitError

    with pytest.raises(FitError, match="every target is 0"):
        ZIP.fit(np.zeros(10), None, np.full(10, 2.0))


# ------------------------------------------------------------------ diagnostics and scores


def test_cdf_zero_probability_and_variance_match_statsmodels():
    mu = np.array([0.5, 2.0, 9.0])
    for params in ({"pi": 0.3}, {"pi": 0.25, "alpha": 0.7}):
        fam = ZINB if "alpha" in params else ZIP
        d = oracle(mu, params)
        for k in (0.0, 1.0, 4.0, 20.0):
            np.testing.assert_allclose(fam.cdf(np.full(3, k), mu, params), d.cdf(k),
                                       rtol=1e-10)
        np.testing.assert_allclose(fam.zero_probability(mu, params), d.pmf(0), rtol=1e-12)
        np.testing.assert_allclose(fam.variance(mu, params), d.var(), rtol=1e-10)
        assert (fam.cdf(np.full(3, -1.0), mu, params) == 0.0).all()


def test_crps_is_the_sum_over_the_integers():
    k = np.arange(0, 400.0)
    for params in ({"pi": 0.3}, {"pi": 0.2, "alpha": 0.8}, {"pi": 0.0, "alpha": 0.5}):
        fam = ZINB if "alpha" in params else ZIP
        for mu in (0.3, 2.5, 12.0):
            F = oracle(mu, params).cdf(k)
            for y in (0.0, 1.0, 3.0, 30.0):
                want = float(np.sum((F - (k >= y)) ** 2))
                got = float(fam.crps(np.array([y]), np.array([mu]), params)[0])
                assert got == pytest.approx(want, rel=1e-8, abs=1e-12), (params, mu, y)


@pytest.mark.parametrize("q", [0.05, 0.3, 0.5, 0.95])
def test_ppf_matches_statsmodels(q):
    mu = np.array([0.3, 2.0, 9.0, 40.0])
    for params in ({"pi": 0.3}, {"pi": 0.25, "alpha": 0.7}):
        fam = ZINB if "alpha" in params else ZIP
        # min{k : F(k) ≥ q} searched on the oracle's c.d.f. (statsmodels' own ppf gives −1
        # where q ≤ P(0))
        k = np.arange(0.0, 500.0)
        want = [k[np.argmax(oracle(m, params).cdf(k) >= q)] for m in mu]
        np.testing.assert_array_equal(fam.ppf(q, mu, params), want)


# ------------------------------------------------------------------ the CLI


@pytest.fixture
def zinb_file(write_csv):
    rng = np.random.default_rng(3)
    y, mu = draw(rng, 3000, 0.3, 0.5)
    return write_csv("zinb.csv", y=y.astype(int), p=mu), y, mu


@pytest.fixture
def zip_file(write_csv):
    rng = np.random.default_rng(4)
    y, mu = draw(rng, 3000, 0.35)
    return write_csv("zip.csv", y=y.astype(int), p=mu), y, mu


def test_compare_ranks_zinb_first_and_recommends_the_poisson_loss(zinb_file):
    path, y, mu = zinb_file
    rep = run_api("compare-noise-models", path, target="y", pred="p")
    assert rep["models"][0]["family"] == "zero_inflated_negative_binomial"
    rec = rep["recommendation"]
    assert rec["family"] == "zero_inflated_negative_binomial" and rec["sklearn"] is None
    alt = rec["alternative"]
    assert alt["family"] == "poisson" and alt["xgboost"] == "count:poisson"
    assert "nested" in alt["reason"]
    pairs = {(t["kind"], t["null"], t["alternative"]) for t in rep["tests"]}
    for null in ("negative_binomial", "zero_inflated_poisson"):
        assert ("likelihood_ratio", null, "zero_inflated_negative_binomial") in pairs
    # poisson is nested in it through a chain: no Vuong test between them
    assert not any(t["kind"] == "vuong" and "poisson" in (t["null"], t["alternative"])
                   for t in rep["tests"])


def test_compare_ranks_zip_first_on_zip_counts(zip_file):
    path, _, _ = zip_file
    rep = run_api("compare-noise-models", path, target="y", pred="p")
    assert rep["models"][0]["family"] == "zero_inflated_poisson"
    assert rep["recommendation"]["alternative"]["family"] == "poisson"


def test_lr_test_p_values_by_hand(zip_file):
    path, y, mu = zip_file
    rep = run_api("compare-noise-models", path, target="y", pred="p",
                  families=("poisson", "zero_inflated_poisson"))
    pi = _mle(y, None, mu, False, False)["pi"]
    nll_zip = -zipoisson.logpmf(y, mu / (1 - pi), pi).sum()
    nll_pois = -stats.poisson.logpmf(y, mu).sum()
    lr = 2 * (nll_pois - nll_zip)
    t = next(t for t in rep["tests"] if t["kind"] == "likelihood_ratio")
    assert (t["null"], t["alternative"]) == ("poisson", "zero_inflated_poisson")
    assert t["statistic"] == pytest.approx(lr, rel=1e-6)
    assert t["p_value"] == pytest.approx(0.5 * stats.chi2.sf(lr, 1), rel=1e-5)


def test_lr_test_of_zinb_against_nb_by_hand(write_csv):
    rng = np.random.default_rng(8)
    y, mu = draw(rng, 1500, 0.05, 0.8)
    path = write_csv("c.csv", y=y.astype(int), p=mu)
    rep = run_api("compare-noise-models", path, target="y", pred="p",
                  families=("negative_binomial", "zero_inflated_negative_binomial"))
    fit = _mle(y, None, mu, True, False)
    nll_alt = -zinegbin.logpmf(y, mu / (1 - fit["pi"]), fit["alpha"], 2, fit["pi"]).sum()
    res = optimize.minimize_scalar(
        lambda t: -stats.nbinom.logpmf(y, 1 / math.exp(t), 1 / (1 + math.exp(t) * mu)).sum(),
        bounds=(-10, 5), method="bounded", options={"xatol": 1e-10})
    lr = max(2 * (res.fun - nll_alt), 0.0)
    t = next(t for t in rep["tests"] if t["null"] == "negative_binomial")
    assert t["statistic"] == pytest.approx(lr, rel=1e-4, abs=1e-6)
    want = 0.5 * stats.chi2.sf(lr, 1) if lr > 0 else 1.0
    assert t["p_value"] == pytest.approx(want, rel=1e-3, abs=1e-6)


def test_evaluate_with_the_alias_and_marginal_mode(zinb_file):
    path, y, _ = zinb_file
    proc = run_cli("evaluate", path, "-t", "y", "--no-pred", "-f", "zinb", "--format",
                   "json")
    assert proc.returncode == 0, proc.stderr
    rep = json.loads(proc.stdout)
    m = model(rep, "zero_inflated_negative_binomial")
    assert m["params"]["mean"] == pytest.approx(y.mean(), rel=1e-12)
    want = _mle(y, None, None, True, True)
    for k in ("pi", "alpha"):
        assert m["params"][k] == pytest.approx(want[k], rel=RTOL_FIT)


def test_batch_rows_seven_gives_the_same_json(zinb_file):
    path, _, _ = zinb_file
    args = ("compare-noise-models", path, "-t", "y", "-p", "p", "-f", "zip,zinb,poisson",
            "--format", "json")
    a = run_cli(*args)
    b = run_cli(*args, "--batch-rows", "7")
    assert a.returncode == 0 and b.returncode == 0, (a.stderr, b.stderr)
    ra, rb = json.loads(a.stdout), json.loads(b.stdout)
    assert ra["input"].pop("batches") < rb["input"].pop("batches")
    assert_same(ra, rb)  # equal up to the rounding of sums taken in another order


def test_weights_equal_repetition_end_to_end(write_csv):
    rng = np.random.default_rng(5)
    y, mu = draw(rng, 300, 0.3, 0.5)
    w = rng.integers(1, 4, y.size)
    a = run_api("compare-noise-models", write_csv("w.csv", y=y.astype(int), p=mu, w=w),
                target="y", pred="p", weight="w", families=ZI_NAMES)
    b = run_api("compare-noise-models",
                write_csv("r.csv", y=np.repeat(y, w).astype(int), p=np.repeat(mu, w)),
                target="y", pred="p", families=ZI_NAMES)
    for name in ("zero_inflated_poisson", "zero_inflated_negative_binomial"):
        ma, mb = model(a, name), model(b, name)
        assert ma["nll"] == pytest.approx(mb["nll"], rel=1e-7)
        for k in ma["params"]:
            assert ma["params"][k] == pytest.approx(mb["params"][k], rel=1e-6)


def test_a_target_outside_the_support_is_one_error_line(write_csv):
    path = write_csv("bad.csv", y=[0, 2, 1.5, 3], p=[1.0, 2.0, 1.0, 2.0])
    before = path.read_bytes()
    proc = run_cli("evaluate", path, "-t", "y", "-p", "p", "-f", "zip")
    err = proc.stderr.decode().strip().splitlines()
    assert proc.returncode == 1 and len(err) == 1 and err[0].startswith("error:")
    assert "row" in err[0] and "1.5" in err[0]
    assert path.read_bytes() == before


def test_registry_lists_them():
    assert "zero_inflated_poisson" in FAMILIES and "zero_inflated_negative_binomial" in FAMILIES


@pytest.mark.parametrize("top", [12, 80])  # 80: the small tail summed forward
def test_rootogram_sweep_matches_statsmodels(rng, top):
    from losscli.diagnostics.counts import sweep

    y, mu = draw(rng, 500, 0.3, 0.5)
    y = np.minimum(y, 30.0)
    for fam, params in ((ZIP, {"pi": 0.3}), (ZINB, {"pi": 0.3, "alpha": 0.5})):
        expected, lo, hi = sweep(fam, y, mu, params, top, None)
        d = oracle(mu, params)
        # the tail as a sum of p.m.f.s (statsmodels' sf is 1 − F, 0 far out)
        tail = sum(d.pmf(k).sum() for k in range(top + 1, top + 400))
        want = [d.pmf(k).sum() for k in range(top + 1)] + [tail]
        np.testing.assert_allclose(expected, want, rtol=1e-9, atol=1e-300)
        np.testing.assert_allclose(lo, np.where(y > 0, d.cdf(y - 1), 0.0), rtol=1e-9, atol=1e-15)
        np.testing.assert_allclose(hi, d.cdf(y), rtol=1e-9)


def test_diagnose_end_to_end(zinb_file):
    path, _, _ = zinb_file
    proc = run_cli("diagnose", path, "-t", "y", "-p", "p", "-f", "zinb", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    rep = json.loads(proc.stdout)
    m = model(rep, "zero_inflated_negative_binomial")
    assert m["diagnostics"]["rootogram"]


def test_zip_information_in_pi_against_numdifftools():
    """ZIP's closed-form information in π against numdifftools' second derivative of
    Σ w log q written with scipy's Poisson p.m.f., at and away from the MLE."""
    import numdifftools as nd
    from scipy import stats

    from losscli.noise.zero_inflated import ZeroInflatedPoisson

    rng = np.random.default_rng(12)
    mu = np.exp(rng.normal(0.8, 0.6, 2000))
    y = np.where(rng.uniform(size=2000) < 0.2, 0, rng.poisson(mu / 0.8)).astype(float)
    w = rng.integers(1, 4, 2000).astype(float)

    def total(pi):
        lam = mu / (1.0 - pi)
        q = np.where(y == 0, pi + (1 - pi) * np.exp(-lam), (1 - pi) * stats.poisson.pmf(y, lam))
        return float(np.dot(w, np.log(q)))

    fam = ZeroInflatedPoisson()
    fitted = fam.fit(y, w, mu)["pi"]
    for pi in (fitted, 0.05, 0.4):
        got = fam.information(y, w, mu, {"pi": pi}, ("pi",))[0, 0]
        want = -nd.Derivative(total, n=2)(pi)
        assert got == pytest.approx(float(want), rel=1e-7)
