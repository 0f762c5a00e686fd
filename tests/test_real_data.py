"""losscli on real data sets bundled with statsmodels and scikit-learn, against independent
implementations (no network, nothing compared with numbers losscli printed before).

Data: statsmodels' randhie (doctor visits `mdvis`, an over-dispersed count), engel (food
expenditure and income), longley, spector, star98; scikit-learn's diabetes, breast_cancer,
iris and wine. Each is written to a CSV (once also Parquet) in a temporary directory with
pandas, run through
the library API (as `losscli compare-noise-models` / `evaluate` would), and compared with:

- statsmodels: GLM(Poisson).llf, NegativeBinomial(nb2) MLE and llf, OLS.llf, Logit.llf,
  GLM(Binomial).llf;
- scikit-learn: log_loss, brier_score_loss, accuracy_score;
- scipy: maximum-likelihood fits by scipy.optimize on sums of scipy.stats log-densities
  (and, on the counting base measure, of log(F(b) − F(a)) of scipy.stats c.d.f.s).

Tolerances: log-likelihood sums 1e-7 relative, fitted parameters 1e-4 relative (SPEC
§1.3); closed forms (σ̂, b̂, means, metrics) 1e-9 or tighter.

On the counting base measure a discretised continuous family may beat the discrete ones:
on the marginal doctor-visit counts the discretised gamma ranks before the negative
binomial, and the test checks that this is earned (its fit is the optimum of its interval
likelihood, found here independently) rather than asserting the negative binomial wins.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import optimize, special, stats
from sklearn import datasets as skd
from sklearn import metrics as skm
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from statsmodels.discrete.discrete_model import NegativeBinomial as SMNegativeBinomial

from tests.conftest import model, run_api
from tests.oracles import interval_logprob

RTOL_LL = 1e-7
RTOL_FIT = 1e-4
COMPARE = "compare-noise-models"


# ------------------------------------------------------------------ helpers


def write(directory, name: str, **cols) -> str:
    """A CSV of the columns, every float written with 17 significant digits."""
    path = directory / name
    pd.DataFrame(cols).to_csv(path, index=False, float_format="%.17g")
    return str(path)


def minimize_1d(f, x0: float, width: float = 3.0) -> float:
    """argmin of f on [x0 − width, x0 + width] (bounded Brent, tight), asserted interior."""
    res = optimize.minimize_scalar(f, bounds=(x0 - width, x0 + width), method="bounded",
                                   options={"xatol": 1e-11, "maxiter": 500})
    assert res.success
    assert x0 - width + 1e-6 < res.x < x0 + width - 1e-6, "optimum on the search edge"
    return float(res.x)


def minimize_nd(f, x0) -> np.ndarray:
    """argmin of f from x0: Nelder–Mead with tight tolerances (on f relative to its size,
    so that the rounding noise of a large sum does not stall it)."""
    x0 = np.asarray(x0, float)
    fatol = 1e-14 * max(1.0, abs(f(x0)))
    res = optimize.minimize(f, x0, method="Nelder-Mead",
                            options={"xatol": 1e-10, "fatol": fatol, "maxiter": 20_000,
                                     "maxfev": 40_000})
    assert res.success, res.message
    return res.x



def ranked(rep: dict) -> list[str]:
    return [m["family"] for m in rep["models"]]


def lr_test(rep: dict, null: str, alt: str) -> dict:
    return next(t for t in rep["tests"] if t["kind"] == "likelihood_ratio"
                and t["null"] == null and t["alternative"] == alt)


def check_ranking(rep: dict) -> None:
    """Ranked by AIC = 2k + 2 nll (recomputed here), ranks 1..m, best = the first."""
    aic = [2 * m["n_params"] + 2 * m["nll"] for m in rep["models"]]
    for m, a in zip(rep["models"], aic, strict=True):
        assert m["aic"] == pytest.approx(a, rel=1e-12)
    assert aic == sorted(aic)
    assert [m["rank"] for m in rep["models"]] == list(range(1, len(aic) + 1))
    assert rep["best"] == rep["models"][0]["family"]


def quiet(fn, *args, **kw):
    """Call a third-party fitter, its own warnings (convergence notes) not made errors."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kw)


# ------------------------------------------------------------------ counts: RAND HIE


@pytest.fixture(scope="module")
def randhie(tmp_path_factory):
    """Doctor visits (20 190 people): the target, a Poisson GLM's predictions, CSVs."""
    data = sm.datasets.randhie.load_pandas().data
    y = data["mdvis"].to_numpy(np.float64)
    X = sm.add_constant(data.drop(columns="mdvis")).to_numpy(np.float64)
    glm = sm.GLM(y, X, family=sm.families.Poisson()).fit()
    mu = np.asarray(glm.fittedvalues, dtype=np.float64)
    d = tmp_path_factory.mktemp("randhie")
    return {"y": y, "X": X, "glm": glm, "mu": mu,
            "marginal": write(d, "mdvis.csv", y=y),
            "conditional": write(d, "mdvis_pred.csv", y=y, y_pred=mu)}


def test_randhie_is_an_overdispersed_count(randhie):
    y = randhie["y"]
    assert np.all(y == np.floor(y)) and y.min() == 0 and y.max() > 1
    assert y.var() > 5 * y.mean()  # the premise of the negative binomial checks below


@pytest.fixture(scope="module")
def randhie_marginal(randhie):
    return run_api(COMPARE, randhie["marginal"])


@pytest.fixture(scope="module")
def randhie_conditional(randhie):
    return run_api(COMPARE, randhie["conditional"])


def test_randhie_marginal_poisson_is_the_intercept_only_glm(randhie, randhie_marginal):
    y = randhie["y"]
    rep = randhie_marginal
    assert rep["target_kind"] == "count" and rep["base_measure"] == "counting"
    assert rep["mode"] == "marginal" and rep["input"]["rows_used"] == y.size
    glm0 = sm.GLM(y, np.ones((y.size, 1)), family=sm.families.Poisson()).fit()
    m = model(rep, "poisson")
    assert m["nll"] == pytest.approx(-glm0.llf, rel=RTOL_LL)
    assert m["params"]["mean"] == pytest.approx(math.exp(glm0.params[0]), rel=1e-9)
    assert m["n_params"] == 1


def test_randhie_marginal_negative_binomial_matches_statsmodels(randhie, randhie_marginal):
    y = randhie["y"]
    nb = quiet(SMNegativeBinomial(y, np.ones((y.size, 1)), loglike_method="nb2").fit,
               method="newton", maxiter=200, tol=1e-12, disp=0)
    assert nb.mle_retvals["converged"]
    const, alpha = np.asarray(nb.params, dtype=np.float64)
    m = model(randhie_marginal, "negative_binomial")
    assert m["params"]["mean"] == pytest.approx(math.exp(const), rel=RTOL_FIT)
    assert m["params"]["alpha"] == pytest.approx(alpha, rel=RTOL_FIT)
    assert m["nll"] == pytest.approx(-nb.llf, rel=RTOL_LL)
    assert m["n_params"] == 2
    # and scipy's pmf at losscli's own estimates gives the same total
    r = 1.0 / m["params"]["alpha"]
    ll = stats.nbinom(r, r / (r + m["params"]["mean"])).logpmf(y)
    assert m["nll"] == pytest.approx(-ll.sum(), rel=RTOL_LL)


def test_randhie_marginal_lr_test_and_ranking(randhie, randhie_marginal):
    rep = randhie_marginal
    check_ranking(rep)
    order = ranked(rep)
    assert order.index("negative_binomial") < order.index("poisson")
    nll_p = model(rep, "poisson")["nll"]
    nll_nb = model(rep, "negative_binomial")["nll"]
    t = lr_test(rep, "poisson", "negative_binomial")
    lr = 2.0 * (nll_p - nll_nb)
    assert lr > 0
    assert t["statistic"] == pytest.approx(lr, rel=1e-9)
    assert t["p_value"] == pytest.approx(0.5 * stats.chi2.sf(lr, 1), abs=1e-300)
    assert t["p_value"] < 0.05
    # on the counting base measure a discretised gamma may rank before the negative
    # binomial: its interval probabilities are a proper pmf on {0, 1, …}; check that its
    # fit and nll are the real optimum of that pmf, so the ranking is earned
    y = randhie["y"]
    values, counts = np.unique(y, return_counts=True)

    def nll(x):
        mean, shape = np.exp(x)
        lp = interval_logprob(stats.gamma(shape, scale=mean / shape), values, lower=0.0)
        return -float(np.dot(counts, lp))

    g = model(rep, "gamma")
    x = minimize_nd(nll, [math.log(y.mean()), 0.0])
    assert g["params"]["mean"] == pytest.approx(math.exp(x[0]), rel=RTOL_FIT)
    assert g["params"]["shape"] == pytest.approx(math.exp(x[1]), rel=RTOL_FIT)
    assert g["nll"] == pytest.approx(nll(x), rel=RTOL_LL)
    lp = interval_logprob(stats.gamma(g["params"]["shape"],
                                      scale=g["params"]["mean"] / g["params"]["shape"]),
                          y, lower=0.0)
    assert g["nll"] == pytest.approx(-lp.sum(), rel=RTOL_LL)


def test_randhie_marginal_discretised_gaussian(randhie, randhie_marginal):
    y = randhie["y"]
    values, counts = np.unique(y, return_counts=True)

    def nll(x):
        return -float(np.dot(counts, interval_logprob(stats.norm(x[0], math.exp(x[1])),
                                                      values)))

    x = minimize_nd(nll, [y.mean(), math.log(y.std())])
    m = model(randhie_marginal, "gaussian")
    assert m["params"]["mean"] == pytest.approx(x[0], rel=RTOL_FIT)
    assert m["params"]["sigma"] == pytest.approx(math.exp(x[1]), rel=RTOL_FIT)
    assert m["nll"] == pytest.approx(nll(x), rel=RTOL_LL)


def test_randhie_conditional_poisson_is_the_glm(randhie, randhie_conditional):
    rep = randhie_conditional
    assert rep["mode"] == "conditional" and rep["input"]["prediction"] == "y_pred"
    m = model(rep, "poisson")
    assert m["nll"] == pytest.approx(-randhie["glm"].llf, rel=RTOL_LL)
    assert m["n_params"] == 0
    y = randhie["y"]
    assert m["metrics"]["mean_deviance"] == pytest.approx(
        skm.mean_poisson_deviance(y, randhie["mu"]), rel=1e-9)
    assert m["metrics"]["mean_deviance"] == pytest.approx(
        randhie["glm"].deviance / y.size, rel=1e-9)


def test_randhie_conditional_negative_binomial_alpha(randhie, randhie_conditional):
    y, mu = randhie["y"], randhie["mu"]

    def nll(t):
        r = math.exp(-t)
        return -float(stats.nbinom(r, r / (r + mu)).logpmf(y).sum())

    alpha = math.exp(minimize_1d(nll, 0.0))
    m = model(randhie_conditional, "negative_binomial")
    assert m["params"]["alpha"] == pytest.approx(alpha, rel=RTOL_FIT)
    assert m["nll"] == pytest.approx(nll(math.log(alpha)), rel=RTOL_LL)
    # NB with μ fixed and α free nests statsmodels' GLM(NegativeBinomial(alpha)) at that α
    glm_nb = sm.GLM(y, np.ones((y.size, 1)), offset=np.log(mu),
                    family=sm.families.NegativeBinomial(alpha=alpha))
    assert m["nll"] == pytest.approx(-glm_nb.loglike(np.zeros(1)), rel=RTOL_LL)


def test_randhie_conditional_negative_binomial_ranks_first(randhie, randhie_conditional):
    rep = randhie_conditional
    check_ranking(rep)
    assert ranked(rep)[0] == "negative_binomial"
    assert rep["recommendation"]["family"] == "negative_binomial"
    # the LR statistic from independent log-likelihoods: statsmodels' GLM for the
    # Poisson, scipy's nbinom at scipy's own α̂ for the negative binomial
    y, mu = randhie["y"], randhie["mu"]

    def nll(t):
        r = math.exp(-t)
        return -float(stats.nbinom(r, r / (r + mu)).logpmf(y).sum())

    nll_nb = nll(minimize_1d(nll, 0.0))
    lr = 2.0 * (-randhie["glm"].llf - nll_nb)
    t = lr_test(rep, "poisson", "negative_binomial")
    assert t["statistic"] == pytest.approx(lr, rel=1e-6)
    assert t["p_value"] < 0.05
    # Vuong tests: the best against each non-nested family
    vuong = {t["null"]: t for t in rep["tests"] if t["kind"] == "vuong"}
    # none between the best and a family it nests or that nests it (the LR tests)
    assert set(vuong) == set(ranked(rep)) - {"negative_binomial", "poisson",
                                             "zero_inflated_negative_binomial"}
    # z for the runner-up, the discretised gamma, from per-row log-probabilities computed
    # here with scipy at the reported parameters
    alpha = model(rep, "negative_binomial")["params"]["alpha"]
    shape = model(rep, "gamma")["params"]["shape"]
    d = (stats.nbinom(1 / alpha, 1 / (1 + alpha * mu)).logpmf(y)
         - interval_logprob(stats.gamma(shape, scale=mu / shape), y, lower=0.0))
    z = math.sqrt(y.size) * d.mean() / d.std()
    assert vuong["gamma"]["alternative"] == "negative_binomial"
    assert vuong["gamma"]["statistic"] == pytest.approx(z, rel=1e-6)
    assert vuong["gamma"]["p_value"] == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-5)


def test_randhie_conditional_discretised_gaussian_sigma(randhie, randhie_conditional):
    y, mu = randhie["y"], randhie["mu"]

    def nll(t):
        return -float(interval_logprob(stats.norm(mu, math.exp(t)), y).sum())

    t0 = math.log(np.sqrt(np.mean((y - mu) ** 2)))
    t = minimize_1d(nll, t0, width=1.0)
    m = model(randhie_conditional, "gaussian")
    assert m["params"]["sigma"] == pytest.approx(math.exp(t), rel=RTOL_FIT)
    assert m["nll"] == pytest.approx(nll(t), rel=RTOL_LL)
    # the density's closed form σ̂ = RMS residual is not the discretised optimum here
    assert m["params"]["sigma"] != pytest.approx(math.exp(t0), rel=10 * RTOL_FIT)


# ------------------------------------------------------------------ regression


@pytest.fixture(scope="module")
def diabetes(tmp_path_factory):
    """Disease progression (442 patients, an integer-valued score) and an OLS fit."""
    bunch = skd.load_diabetes(as_frame=True)
    y = bunch.target.to_numpy(np.float64)
    ols = sm.OLS(y, sm.add_constant(bunch.data.to_numpy(np.float64))).fit()
    d = tmp_path_factory.mktemp("diabetes")
    return {"y": y, "ols": ols, "pred": np.asarray(ols.fittedvalues),
            "marginal": write(d, "diabetes.csv", y=y),
            "conditional": write(d, "diabetes_pred.csv", y=y, y_pred=ols.fittedvalues)}


def test_diabetes_ols_gaussian_and_laplace(diabetes):
    # the score is integer-valued; as a real target it is scored on the density
    rep = run_api(COMPARE, diabetes["conditional"], target_kind="real")
    assert rep["base_measure"] == "lebesgue" and rep["mode"] == "conditional"
    y, pred, ols = diabetes["y"], diabetes["pred"], diabetes["ols"]
    resid = y - pred
    g = model(rep, "gaussian")
    assert g["nll"] == pytest.approx(-ols.llf, rel=RTOL_LL)
    assert g["params"]["sigma"] == pytest.approx(math.sqrt(ols.ssr / y.size), rel=1e-9)
    assert g["metrics"]["r2"] == pytest.approx(ols.rsquared, rel=1e-9)
    assert g["metrics"]["mse"] == pytest.approx(skm.mean_squared_error(y, pred), rel=1e-9)
    lap = model(rep, "laplace")
    b = np.mean(np.abs(resid))
    assert lap["params"]["scale"] == pytest.approx(b, rel=1e-9)
    assert lap["nll"] == pytest.approx(-stats.laplace(pred, b).logpdf(y).sum(), rel=RTOL_LL)
    assert lap["metrics"]["mae"] == pytest.approx(skm.mean_absolute_error(y, pred), rel=1e-9)
    check_ranking(rep)


def test_diabetes_marginal_gaussian_laplace_and_student_t_limit(diabetes):
    rep = run_api(COMPARE, diabetes["marginal"], target_kind="real")
    y = diabetes["y"]
    g = model(rep, "gaussian")
    assert g["params"]["mean"] == pytest.approx(y.mean(), rel=1e-12)
    assert g["params"]["sigma"] == pytest.approx(y.std(), rel=1e-12)
    assert g["nll"] == pytest.approx(-stats.norm(y.mean(), y.std()).logpdf(y).sum(),
                                     rel=RTOL_LL)
    lap = model(rep, "laplace")
    med = float(np.median(y))
    assert lap["params"]["median"] == med
    assert lap["params"]["scale"] == pytest.approx(np.mean(np.abs(y - med)), rel=1e-12)
    # The score's distribution is lighter-tailed than any t: scipy's t likelihood keeps
    # rising with ν, so the MLE is the Gaussian limit (df = null) and, as the SPEC says,
    # student_t has the Gaussian's likelihood with one parameter more.
    t = model(rep, "student_t")

    def nll_t(df):
        def f(x):
            return -stats.t(df, x[0], math.exp(x[1])).logpdf(y).sum()
        return f(minimize_nd(f, [y.mean(), math.log(y.std())]))

    profile = [nll_t(df) for df in (10.0, 100.0, 1000.0)]
    assert profile[0] > profile[1] > profile[2] > g["nll"]
    assert t["params"]["df"] is None
    assert t["nll"] == pytest.approx(g["nll"], rel=1e-9)
    assert t["n_params"] == 3
    assert any("student_t" in w and "Gaussian limit" in w for w in rep["warnings"])
    assert ranked(rep).index("gaussian") < ranked(rep).index("student_t")
    lr = lr_test(rep, "gaussian", "student_t")
    assert lr["statistic"] == pytest.approx(0.0, abs=1e-6) and lr["p_value"] > 0.05


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_longley_ols_gaussian(tmp_path, fmt):
    data = sm.datasets.longley.load_pandas()
    y = data.endog.to_numpy(np.float64)
    ols = sm.OLS(y, sm.add_constant(data.exog.to_numpy(np.float64))).fit()
    if fmt == "csv":
        path = write(tmp_path, "longley.csv", y=y, y_pred=ols.fittedvalues)
    else:
        path = tmp_path / "longley.parquet"
        pd.DataFrame({"y": y, "y_pred": ols.fittedvalues}).to_parquet(path, index=False)
    rep = run_api("evaluate", path, families=("gaussian", "laplace"), target_kind="real")
    assert rep["input"]["format"] == fmt
    assert rep["input"]["rows_used"] == 16
    g = model(rep, "gaussian")
    assert g["nll"] == pytest.approx(-ols.llf, rel=RTOL_LL)
    assert g["aic"] == pytest.approx(2 * 1 - 2 * ols.llf, rel=RTOL_LL)
    assert g["metrics"]["r2"] == pytest.approx(ols.rsquared, rel=1e-9)
    b = np.mean(np.abs(ols.resid))
    assert model(rep, "laplace")["params"]["scale"] == pytest.approx(b, rel=1e-9)


@pytest.fixture(scope="module")
def engel(tmp_path_factory):
    """Household food expenditure against income (235 Belgian households, 1857)."""
    data = sm.datasets.engel.load_pandas().data
    y = data["foodexp"].to_numpy(np.float64)
    income = data["income"].to_numpy(np.float64)
    ols = sm.OLS(y, sm.add_constant(income)).fit()
    pred = np.asarray(ols.fittedvalues)
    assert pred.min() > 0
    d = tmp_path_factory.mktemp("engel")
    return {"y": y, "income": income, "ols": ols, "pred": pred,
            "marginal": write(d, "engel.csv", y=y),
            "conditional": write(d, "engel_pred.csv", y=y, y_pred=pred),
            "income_csv": write(d, "income.csv", y=income)}


@pytest.fixture(scope="module")
def engel_marginal(engel):
    return run_api(COMPARE, engel["marginal"])


@pytest.fixture(scope="module")
def engel_conditional(engel):
    return run_api(COMPARE, engel["conditional"])


def test_engel_ols_gaussian_and_laplace(engel, engel_conditional):
    rep = engel_conditional
    assert rep["target_kind"] == "positive" and rep["base_measure"] == "lebesgue"
    y, pred, ols = engel["y"], engel["pred"], engel["ols"]
    assert model(rep, "gaussian")["nll"] == pytest.approx(-ols.llf, rel=RTOL_LL)
    b = np.mean(np.abs(y - pred))
    lap = model(rep, "laplace")
    assert lap["params"]["scale"] == pytest.approx(b, rel=1e-9)
    assert lap["nll"] == pytest.approx(-stats.laplace(pred, b).logpdf(y).sum(), rel=RTOL_LL)
    check_ranking(rep)


def test_engel_marginal_student_t(engel, engel_marginal):
    y = engel["y"]

    def nll(x):
        return -float(stats.t(math.exp(x[1]), x[0], math.exp(x[2])).logpdf(y).sum())

    # scipy.stats.t.fit from its default start runs off to df ≈ 5e5 on these data (a
    # poor local search); from a robust start (median, MAD, ν = 5) it finds the optimum
    med = float(np.median(y))
    df0, loc0, scale0 = quiet(stats.t.fit, y, 5.0, loc=med, scale=np.median(np.abs(y - med)))
    x = minimize_nd(nll, [loc0, math.log(df0), math.log(scale0)])
    t = model(engel_marginal, "student_t")
    loc, df, scale = x[0], math.exp(x[1]), math.exp(x[2])
    assert 1.0 < df < 30.0  # heavy-tailed: an interior optimum, not the Gaussian limit
    assert t["params"]["loc"] == pytest.approx(loc, rel=RTOL_FIT)
    assert t["params"]["df"] == pytest.approx(df, rel=RTOL_FIT)
    assert t["params"]["scale"] == pytest.approx(scale, rel=RTOL_FIT)
    assert t["nll"] == pytest.approx(nll(x), rel=RTOL_LL)
    p = t["params"]
    assert t["nll"] == pytest.approx(
        -stats.t(p["df"], p["loc"], p["scale"]).logpdf(y).sum(), rel=RTOL_LL)
    # scipy's own fit agrees to its (looser) optimiser tolerance
    assert (p["loc"], p["df"], p["scale"]) == pytest.approx((loc0, df0, scale0), rel=1e-3)
    # the t's extra parameter is worth it: LR against the Gaussian, by hand
    g = model(engel_marginal, "gaussian")
    assert g["nll"] == pytest.approx(-stats.norm(y.mean(), y.std()).logpdf(y).sum(),
                                     rel=RTOL_LL)
    lr = lr_test(engel_marginal, "gaussian", "student_t")
    assert lr["statistic"] == pytest.approx(2 * (g["nll"] - nll(x)), rel=1e-6)
    assert lr["p_value"] == pytest.approx(0.5 * stats.chi2.sf(lr["statistic"], 1), rel=1e-9)
    lap = model(engel_marginal, "laplace")
    assert lap["params"]["median"] == float(np.median(y))


def test_engel_conditional_student_t(engel, engel_conditional):
    y, pred = engel["y"], engel["pred"]

    def nll(x):
        return -float(stats.t(math.exp(x[0]), pred, math.exp(x[1])).logpdf(y).sum())

    s0 = float(np.median(np.abs(y - pred)))
    x = minimize_nd(nll, [math.log(5.0), math.log(s0)])
    t = model(engel_conditional, "student_t")
    assert t["params"]["df"] == pytest.approx(math.exp(x[0]), rel=RTOL_FIT)
    assert t["params"]["scale"] == pytest.approx(math.exp(x[1]), rel=RTOL_FIT)
    assert t["nll"] == pytest.approx(nll(x), rel=RTOL_LL)


# ------------------------------------------------------------------ positive targets


def gamma_shape_mle(y: np.ndarray, mean: np.ndarray | float) -> float:
    """Shape k̂ with the mean fixed, by scipy.optimize on scipy.stats.gamma.logpdf sums.
    For the marginal fit the mean's MLE is the sample mean for every k, so fixing it
    there gives the exact joint MLE."""
    def nll(t):
        k = math.exp(t)
        return -float(stats.gamma(k, scale=mean / k).logpdf(y).sum())

    return math.exp(minimize_1d(nll, 0.0, width=8.0))


@pytest.mark.parametrize("column", ["foodexp", "income"])
def test_engel_marginal_gamma_and_lognormal(engel, engel_marginal, column):
    if column == "foodexp":
        y, rep = engel["y"], engel_marginal
    else:
        y, rep = engel["income"], run_api(COMPARE, engel["income_csv"])
    assert rep["target_kind"] == "positive" and rep["mode"] == "marginal"
    order = ranked(rep)
    assert "gamma" in order and "lognormal" in order
    check_ranking(rep)
    g = model(rep, "gamma")
    k = gamma_shape_mle(y, y.mean())
    assert g["params"]["mean"] == pytest.approx(y.mean(), rel=1e-12)
    assert g["params"]["shape"] == pytest.approx(k, rel=RTOL_FIT)
    # the joint two-parameter scipy fit lands on the same point
    a, _, scale = quiet(stats.gamma.fit, y, floc=0)
    assert g["params"]["shape"] == pytest.approx(a, rel=1e-3)
    assert g["params"]["mean"] == pytest.approx(a * scale, rel=1e-3)
    ll = stats.gamma(g["params"]["shape"], scale=y.mean() / g["params"]["shape"]).logpdf(y)
    assert g["nll"] == pytest.approx(-ll.sum(), rel=RTOL_LL)
    ln = model(rep, "lognormal")
    s, _, median = stats.lognorm.fit(y, floc=0)
    assert ln["params"]["sigma"] == pytest.approx(s, rel=RTOL_FIT)
    assert ln["params"]["median"] == pytest.approx(median, rel=RTOL_FIT)
    assert ln["nll"] == pytest.approx(-stats.lognorm(s, 0, median).logpdf(y).sum(),
                                      rel=RTOL_LL)
    # the ranking by AIC from independently computed likelihoods
    assert (order.index("gamma") < order.index("lognormal")) == (
        -ll.sum() < -stats.lognorm(s, 0, median).logpdf(y).sum())


def test_engel_conditional_gamma_and_lognormal(engel, engel_conditional):
    y, pred = engel["y"], engel["pred"]
    g = model(engel_conditional, "gamma")
    k = gamma_shape_mle(y, pred)
    assert g["params"]["shape"] == pytest.approx(k, rel=RTOL_FIT)
    ll = stats.gamma(g["params"]["shape"], scale=pred / g["params"]["shape"]).logpdf(y)
    assert g["nll"] == pytest.approx(-ll.sum(), rel=RTOL_LL)
    assert g["metrics"]["mean_deviance"] == pytest.approx(
        skm.mean_gamma_deviance(y, pred), rel=1e-9)
    ln = model(engel_conditional, "lognormal")
    sigma = math.sqrt(np.mean(np.log(y / pred) ** 2))
    assert ln["params"]["sigma"] == pytest.approx(sigma, rel=1e-9)
    assert ln["nll"] == pytest.approx(-stats.lognorm(sigma, 0, pred).logpdf(y).sum(),
                                      rel=RTOL_LL)


def test_diabetes_as_positive_gamma_and_lognormal(diabetes):
    y = diabetes["y"]
    rep = run_api(COMPARE, diabetes["marginal"], target_kind="positive")
    assert rep["base_measure"] == "lebesgue"
    assert {"gamma", "lognormal"} <= set(ranked(rep))
    g = model(rep, "gamma")
    assert g["params"]["shape"] == pytest.approx(gamma_shape_mle(y, y.mean()), rel=RTOL_FIT)
    s, _, median = stats.lognorm.fit(y, floc=0)
    ln = model(rep, "lognormal")
    assert ln["params"]["sigma"] == pytest.approx(s, rel=RTOL_FIT)
    assert ln["params"]["median"] == pytest.approx(median, rel=RTOL_FIT)


# ------------------------------------------------------------------ binary


def test_breast_cancer_bernoulli_matches_sklearn(tmp_path):
    X, y = skd.load_breast_cancer(return_X_y=True)
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
    p = cross_val_predict(clf, X, y, cv=5, method="predict_proba")[:, 1]
    path = write(tmp_path, "bc.csv", y=y, y_pred=p)
    rep = run_api("evaluate", path)
    assert rep["target_kind"] == "binary" and rep["mode"] == "conditional"
    m = model(rep, "bernoulli")
    assert m["cross_entropy"] == pytest.approx(skm.log_loss(y, p), rel=1e-9)
    assert m["nll"] == pytest.approx(skm.log_loss(y, p, normalize=False), rel=1e-9)
    assert m["metrics"]["brier"] == pytest.approx(skm.brier_score_loss(y, p), rel=1e-9)
    assert m["metrics"]["accuracy"] == pytest.approx(skm.accuracy_score(y, p > 0.5), rel=1e-12)
    assert m["metrics"]["accuracy"] < 1.0  # out-of-fold: not a vacuous 100 %
    # baseline: the entropy of the class frequencies; hard labels have entropy 0
    h = stats.entropy(np.bincount(y))
    assert m["baseline_cross_entropy"] == pytest.approx(h, rel=1e-9)
    assert m["information_gain"] == pytest.approx(h - skm.log_loss(y, p), rel=1e-9)
    assert m["entropy"] == 0.0 and m["kl"] == pytest.approx(m["cross_entropy"], rel=1e-12)


def test_spector_logit_nll_from_probabilities_and_logits(tmp_path):
    data = sm.datasets.spector.load_pandas()
    X = sm.add_constant(data.exog.to_numpy(np.float64))
    y = data.endog.to_numpy(np.float64)
    logit = sm.Logit(y, X).fit(disp=0)
    eta = X @ np.asarray(logit.params)
    path = write(tmp_path, "spector.csv", y=y, p=logit.predict(), logit=eta)
    for kw in ({"pred": "p"}, {"logits": ("logit",)}):
        rep = run_api("evaluate", path, **kw)
        m = model(rep, "bernoulli")
        assert m["nll"] == pytest.approx(-logit.llf, rel=RTOL_LL)
        assert m["baseline_cross_entropy"] * y.size == pytest.approx(-logit.llnull,
                                                                     rel=RTOL_LL)
        assert m["metrics"]["accuracy"] == pytest.approx(
            np.mean((eta > 0) == (y == 1)), rel=1e-12)


# ------------------------------------------------------------------ multiclass


@pytest.mark.parametrize("loader", [skd.load_iris, skd.load_wine])
def test_multiclass_categorical_matches_sklearn(tmp_path, loader):
    bunch = loader()
    names = [str(n) for n in bunch.target_names]
    labels = np.array(names)[bunch.target]
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=2000))
    P = cross_val_predict(clf, bunch.data, labels, cv=5, method="predict_proba")
    # predict_proba's columns follow the sorted labels
    classes = sorted(names)
    cols = {f"p_{c}": P[:, i] for i, c in enumerate(classes)}
    path = write(tmp_path, "multi.csv", label=labels, **cols)
    rep = run_api("evaluate", path)
    assert rep["target_kind"] == "categorical"
    m = model(rep, "categorical")
    assert m["cross_entropy"] == pytest.approx(skm.log_loss(labels, P, labels=classes),
                                               rel=1e-9)
    freq = pd.Series(labels).value_counts().to_numpy()
    h = stats.entropy(freq)
    assert m["baseline_cross_entropy"] == pytest.approx(h, rel=1e-9)
    assert m["normalized_entropy"] == pytest.approx(
        skm.log_loss(labels, P, labels=classes) / h, rel=1e-9)
    predicted = np.array(classes)[P.argmax(axis=1)]
    assert m["metrics"]["accuracy"] == pytest.approx(skm.accuracy_score(labels, predicted),
                                                     rel=1e-12)
    onehot = (labels[:, None] == np.array(classes)[None, :]).astype(float)
    assert m["metrics"]["brier"] == pytest.approx(np.mean(np.sum((P - onehot) ** 2, axis=1)),
                                                  rel=1e-9)
    # marginal: the class frequencies, whose cross-entropy is the plug-in entropy (KL 0)
    rep0 = run_api("evaluate", write(tmp_path, "labels.csv", label=labels))
    m0 = model(rep0, "categorical")
    assert m0["cross_entropy"] == pytest.approx(h, rel=1e-9)
    assert m0["entropy"] == pytest.approx(h, rel=1e-9) and m0["entropy_method"] == "plug-in"
    assert m0["kl"] == pytest.approx(0.0, abs=1e-12)
    assert m0["n_params"] == len(classes) - 1


# ------------------------------------------------------------------ proportions: star98


@pytest.fixture(scope="module")
def star98(tmp_path_factory):
    """Share of pupils above the national maths median in 303 Californian districts, a
    binomial GLM's predicted share, and the district sizes."""
    data = sm.datasets.star98.load_pandas()
    k = data.endog["NABOVE"].to_numpy(np.float64)
    n = k + data.endog["NBELOW"].to_numpy(np.float64)
    X = sm.add_constant(data.exog.to_numpy(np.float64))
    glm = sm.GLM(np.column_stack([k, n - k]), X, family=sm.families.Binomial()).fit()
    share = k / n
    pred = np.asarray(glm.fittedvalues)
    d = tmp_path_factory.mktemp("star98")
    return {"k": k, "n": n, "y": share, "pred": pred, "glm": glm,
            "hisp": data.exog["PERHISP"].to_numpy(np.float64) / 100.0,
            "marginal": write(d, "share.csv", y=share, n=n),
            "conditional": write(d, "share_pred.csv", y=share, y_pred=pred, n=n)}


def beta_mle(y: np.ndarray, w: np.ndarray | None = None) -> tuple[float, float]:
    """(mean, precision) by scipy.optimize on scipy.stats.beta.logpdf sums."""
    w = np.ones_like(y) if w is None else w

    def nll(x):
        m = special.expit(x[0])
        phi = math.exp(x[1])
        return -float(np.dot(w, stats.beta(m * phi, (1 - m) * phi).logpdf(y)))

    m0 = np.average(y, weights=w)
    v0 = np.average((y - m0) ** 2, weights=w)
    x = minimize_nd(nll, [special.logit(m0), math.log(m0 * (1 - m0) / v0 - 1)])
    return float(special.expit(x[0])), math.exp(x[1])


@pytest.mark.parametrize("column", ["share", "perhisp"])
def test_star98_marginal_beta(star98, tmp_path, column):
    if column == "share":
        y, path = star98["y"], star98["marginal"]
    else:
        y = star98["hisp"]
        path = write(tmp_path, "perhisp.csv", y=y)
    assert 0 < y.min() and y.max() < 1
    rep = run_api(COMPARE, path)
    assert rep["target_kind"] == "proportion"
    b = model(rep, "beta")
    mean, phi = beta_mle(y)
    assert b["params"]["mean"] == pytest.approx(mean, rel=RTOL_FIT)
    assert b["params"]["precision"] == pytest.approx(phi, rel=RTOL_FIT)
    p = b["params"]
    a_, b_ = p["mean"] * p["precision"], (1 - p["mean"]) * p["precision"]
    assert b["nll"] == pytest.approx(-stats.beta(a_, b_).logpdf(y).sum(), rel=RTOL_LL)
    # scipy's own generic fit on (0, 1) lands on the same point, to its tolerance
    a_fit, b_fit, _, _ = quiet(stats.beta.fit, y, floc=0, fscale=1)
    assert p["mean"] == pytest.approx(a_fit / (a_fit + b_fit), rel=1e-3)
    assert p["precision"] == pytest.approx(a_fit + b_fit, rel=1e-3)
    skipped = {s["family"] for s in rep["skipped"]}
    assert {"gamma", "lognormal"} <= skipped
    check_ranking(rep)


def test_star98_weighted_beta(star98):
    """District sizes as frequency weights: the weighted MLE."""
    y, n = star98["y"], star98["n"]
    rep = run_api(COMPARE, star98["marginal"], weight="n", families=("beta",))
    b = model(rep, "beta")
    mean, phi = beta_mle(y, n)
    assert b["params"]["mean"] == pytest.approx(mean, rel=RTOL_FIT)
    assert b["params"]["precision"] == pytest.approx(phi, rel=RTOL_FIT)
    assert b["cross_entropy"] * n.sum() == pytest.approx(b["nll"], rel=1e-12)


def test_star98_conditional_beta_precision(star98):
    y, pred = star98["y"], star98["pred"]
    rep = run_api(COMPARE, star98["conditional"], families=("beta",))
    b = model(rep, "beta")

    def nll(t):
        phi = math.exp(t)
        return -float(stats.beta(pred * phi, (1 - pred) * phi).logpdf(y).sum())

    t = minimize_1d(nll, math.log(50.0), width=6.0)
    assert b["params"]["precision"] == pytest.approx(math.exp(t), rel=RTOL_FIT)
    assert b["nll"] == pytest.approx(nll(t), rel=RTOL_LL)


def test_star98_soft_label_bernoulli_is_the_binomial_glm(star98):
    """Shares as soft labels weighted by district size: the nll is the binomial GLM's
    −llf without its log-binomial-coefficient terms."""
    k, n = star98["k"], star98["n"]
    rep = run_api("evaluate", star98["conditional"], weight="n")
    m = model(rep, "bernoulli")
    log_comb = special.gammaln(n + 1) - special.gammaln(k + 1) - special.gammaln(n - k + 1)
    assert m["nll"] == pytest.approx(-(star98["glm"].llf - log_comb.sum()), rel=RTOL_LL)
    ll = stats.binom(n, star98["pred"]).logpmf(k) - log_comb
    assert m["nll"] == pytest.approx(-ll.sum(), rel=RTOL_LL)
