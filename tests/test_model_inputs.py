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


# ----------------------------------------------------------------- per-row parameters


@pytest.fixture
def hetero(write_csv, rng):
    """Gaussian targets whose σ varies by row and is known: y ~ N(μ, (1.3 s)²)."""
    n = 500
    mu = rng.normal(0.0, 2.0, n)
    s = np.exp(rng.normal(0.0, 0.4, n))
    y = mu + 1.3 * s * rng.standard_t(8, n)
    path = write_csv("h.csv", y=y, y_pred=mu, s=s, ls=np.log(s), v=s * s,
                     lv=2 * np.log(s))
    return path, y, mu, s


@pytest.mark.parametrize("form, column", [("sigma", "s"), ("log_sigma", "ls"),
                                          ("var", "v"), ("log_var", "lv")])
def test_gaussian_sigma_per_row_in_each_form(hetero, form, column):
    path, y, mu, s = hetero
    rep = run_api("evaluate", path, families=("gaussian",), param=(f"{form}={column}",))
    m = model(rep, "gaussian")
    assert m["nll"] == pytest.approx(-stats.norm.logpdf(y, mu, s).sum(), rel=1e-12)
    assert m["params"] == {} and m["fixed"] == {} and m["n_params"] == 0
    assert m["param_columns"] == {"sigma": {"column": column, "as": form}}
    assert rep["input"]["param_columns"] == [column]


def test_student_t_scale_per_row_df_fitted(hetero):
    from scipy import optimize

    path, y, mu, s = hetero
    rep = run_api("evaluate", path, families=("student_t",), param=("scale=s",))
    m = model(rep, "student_t")

    def nll(log_df):
        return -stats.t.logpdf(y, np.exp(log_df), mu, s).sum()

    best = optimize.minimize_scalar(nll, bounds=(-3, 8), method="bounded",
                                    options={"xatol": 1e-10})
    assert m["params"]["df"] == pytest.approx(np.exp(best.x), rel=1e-4)
    assert m["nll"] == pytest.approx(best.fun, rel=1e-9)
    assert m["n_params"] == 1


def test_fixed_df_fits_the_scale_alone(hetero):
    from scipy import optimize

    path, y, mu, _ = hetero
    rep = run_api("evaluate", path, families=("student_t",), fix=("student_t.df=5",))
    m = model(rep, "student_t")
    best = optimize.minimize_scalar(lambda ls: -stats.t.logpdf(y, 5.0, mu, np.exp(ls)).sum(),
                                    bounds=(-5, 5), method="bounded",
                                    options={"xatol": 1e-11})
    assert m["fixed"] == {"df": 5.0} and set(m["params"]) == {"scale"}
    assert m["params"]["scale"] == pytest.approx(np.exp(best.x), rel=1e-6)
    assert m["nll"] == pytest.approx(best.fun, rel=1e-10)
    assert m["n_params"] == 1


def test_fixed_mean_in_marginal_mode(write_csv, rng):
    y = rng.normal(0.3, 2.0, 400)
    path = write_csv("m.csv", y=y)
    rep = run_api("evaluate", path, families=("gaussian",), fix=("mean=0",))
    m = model(rep, "gaussian")
    sigma = math.sqrt(np.mean(y * y))
    assert m["params"]["sigma"] == pytest.approx(sigma, rel=1e-9)
    assert m["nll"] == pytest.approx(-stats.norm.logpdf(y, 0.0, sigma).sum(), rel=1e-10)


def test_negative_binomial_alpha_per_row(write_csv, rng):
    n = 400
    mu = np.exp(rng.normal(1.5, 0.6, n))
    a = np.exp(rng.normal(-1.0, 0.5, n))
    y = rng.negative_binomial(1 / a, 1 / (1 + a * mu))
    path = write_csv("nb.csv", y=y, y_pred=mu, a=a)
    rep = run_api("evaluate", path, families=("negative_binomial",), param=("alpha=a",))
    m = model(rep, "negative_binomial")
    expected = -stats.nbinom.logpmf(y, 1 / a, 1 / (1 + a * mu)).sum()
    assert m["nll"] == pytest.approx(expected, rel=1e-10)
    assert m["params"] == {}


def test_per_row_parameters_stream_and_merge(hetero):
    path, *_ = hetero
    one = run_api("evaluate", path, families=("student_t",), param=("scale=s",))
    many = run_api("evaluate", path, families=("student_t",), param=("scale=s",),
                   batch_rows=37, fit_rows=200)
    full = run_api("evaluate", path, families=("student_t",), param=("scale=s",),
                   batch_rows=37, fit_rows=None)
    assert model(many, "student_t")["fit_rows"] == 200
    assert model(full, "student_t")["params"]["df"] == pytest.approx(
        model(one, "student_t")["params"]["df"], rel=1e-6)


@pytest.mark.parametrize("args, code, needle", [
    (("-f", "gaussian", "--param", "sigma=neg"), 1, "row 3"),
    (("-f", "gaussian", "--param", "sgima=s"), 2, "did you mean 'sigma'"),
    (("-f", "gaussian", "--param", "poisson.mean=s"), 2, "poisson is not among"),
    (("--no-pred", "-f", "gaussian", "--param", "sigma=s"), 2, "needs a prediction"),
    (("-f", "gaussian", "--fix", "sigma=-1"), 2, "must be > 0"),
    (("-f", "gaussian", "--fix", "sigma=1", "--param", "sigma=s"), 2, "given per row"),
])
def test_bad_model_inputs(write_csv, args, code, needle):
    path = write_csv("bad.csv", y=[1.0, 2.0, 3.0, 4.0], y_pred=[1.1, 2.2, 2.9, 4.2],
                     s=[1.0, 0.5, 2.0, 1.0], neg=[1.0, 0.5, -2.0, 1.0])
    before = path.read_bytes()
    out = run_cli("evaluate", path, *args)
    err = out.stderr.decode()
    assert out.returncode == code, err
    assert err.count("\n") == 1 and err.startswith("error:") and needle in err, err
    assert path.read_bytes() == before
    if code == 1:
        assert "'neg'" in err and "-2" in err and "bad.csv" in err


def test_compare_needs_a_qualified_name_when_two_candidates_declare_it(write_csv, rng):
    y = np.exp(rng.normal(0.0, 0.5, 200))
    path = write_csv("pos.csv", y=y, y_pred=y * 1.1, s=np.full(200, 0.4))
    out = run_cli("compare-noise-models", path, "--param", "sigma=s")
    err = out.stderr.decode()
    assert out.returncode == 2, err
    assert "gaussian.sigma" in err and "lognormal.sigma" in err
    ok = run_cli("compare-noise-models", path, "--param", "lognormal.sigma=s",
                 "--format", "json")
    assert ok.returncode == 0, ok.stderr.decode()


# ----------------------------------------------------------------- distributional (§8.2)


def test_distributional_gaussian_against_closed_forms(hetero):
    from scipy import optimize

    path, y, mu, s = hetero
    n = y.size
    rep = run_api("evaluate", path, families=("gaussian",), param=("sigma=s",))
    m = model(rep, "gaussian")
    d = m["distributional"]
    ll_row = stats.norm.logpdf(y, mu, s)
    # constant: σ̂² = mean squared residual; Vuong's z on the per-row differences
    sigma = math.sqrt(np.mean((y - mu) ** 2))
    ll_const = stats.norm.logpdf(y, mu, sigma)
    diff = ll_row - ll_const
    z = math.sqrt(n) * diff.mean() / diff.std()
    assert d["constant"]["params"]["sigma"] == pytest.approx(sigma, rel=1e-10)
    assert d["constant"]["nll"] == pytest.approx(-ll_const.sum(), rel=1e-10)
    assert d["constant"]["statistic"] == pytest.approx(z, rel=1e-8)
    assert d["constant"]["p_value"] == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-6)
    # recalibration: ĉ² = mean((y − ŷ)²/σ²); LR against c = 1
    c = math.sqrt(np.mean(((y - mu) / s) ** 2))
    ll_c = stats.norm.logpdf(y, mu, c * s)
    lr = 2 * (ll_c.sum() - ll_row.sum())
    r = d["recalibration"]
    assert r["param"] == "sigma" and r["factor"] == pytest.approx(c, rel=1e-12)
    assert r["cross_entropy"] == pytest.approx(-ll_c.mean(), rel=1e-10)
    assert r["lr_statistic"] == pytest.approx(lr, rel=1e-6)
    assert r["p_value"] == pytest.approx(stats.chi2.sf(lr, 1), rel=1e-5)
    # tail: student_t with scale σᵢ, ν by ML
    best = optimize.minimize_scalar(lambda v: -stats.t.logpdf(y, np.exp(v), mu, s).sum(),
                                    bounds=(-3, 8), method="bounded",
                                    options={"xatol": 1e-10})
    lr_t = 2 * (-best.fun - ll_row.sum())
    assert d["tail"]["df"] == pytest.approx(np.exp(best.x), rel=1e-4)
    assert d["tail"]["lr_statistic"] == pytest.approx(lr_t, rel=1e-6)
    assert d["tail"]["p_value"] == pytest.approx(0.5 * stats.chi2.sf(lr_t, 1), rel=1e-5)
    assert m["nll"] == pytest.approx(-ll_row.sum(), rel=1e-12)


def test_distributional_is_null_without_per_row_parameters(hetero):
    path, *_ = hetero
    rep = run_api("evaluate", path, families=("gaussian",))
    assert model(rep, "gaussian")["distributional"] is None
    fixed = run_api("evaluate", path, families=("student_t",), fix=("df=4",))
    assert model(fixed, "student_t")["distributional"] is None


def test_recalibration_of_an_inverse_spread(write_csv, rng):
    """gamma's spread is 1/shape: c divides the given shape (shapeᵢ/c)."""
    from scipy import optimize

    n = 400
    mu = np.exp(rng.normal(1.0, 0.3, n))
    k = np.exp(rng.normal(1.0, 0.3, n))
    y = rng.gamma(k / 2.0, mu / (k / 2.0))  # the true shape is half the given one
    path = write_csv("g.csv", y=y, y_pred=mu, k=k)
    rep = run_api("evaluate", path, families=("gamma",), param=("shape=k",))
    r = model(rep, "gamma")["distributional"]["recalibration"]

    def nll(logc):
        a = k / np.exp(logc)
        return -stats.gamma.logpdf(y, a, scale=mu / a).sum()

    best = optimize.minimize_scalar(nll, bounds=(-3, 3), method="bounded",
                                    options={"xatol": 1e-11})
    assert r["param"] == "shape"
    assert r["factor"] == pytest.approx(np.exp(best.x), rel=1e-6)
    assert r["factor"] > 1.5  # the given spread is too narrow
    assert model(rep, "gamma")["distributional"]["tail"] is None


def test_recalibration_of_alpha_from_a_pilot_on_every_kth_row(write_csv, rng, monkeypatch):
    """negative_binomial's α per row (spread "scale": cαᵢ), the factor found by Newton
    steps first on every k-th row (PILOT_ROWS shrunk so that the pilot runs), then on
    every row: scipy's nbinom likelihood maximised by bounded Brent gives the same ĉ."""
    from scipy import optimize

    from losscli import distributional

    monkeypatch.setattr(distributional, "PILOT_ROWS", 300)
    n = 3000
    mu = np.exp(rng.normal(1.0, 0.7, n))
    a = np.exp(rng.normal(-0.5, 0.4, n))
    y = rng.poisson(rng.gamma(1.0 / (1.6 * a), 1.6 * a * mu))  # α 1.6 times the given
    path = write_csv("nb.csv", y=y, y_pred=mu, a=a)
    rep = run_api("evaluate", path, families=("negative_binomial",), param=("alpha=a",))
    r = model(rep, "negative_binomial")["distributional"]["recalibration"]

    def nll(logc):
        rr = 1.0 / (a * np.exp(logc))
        return -stats.nbinom.logpmf(y, rr, rr / (rr + mu)).sum()

    best = optimize.minimize_scalar(nll, bounds=(-3, 3), method="bounded",
                                    options={"xatol": 1e-11})
    assert r["param"] == "alpha"
    assert r["factor"] == pytest.approx(np.exp(best.x), rel=1e-6)
    assert r["lr_statistic"] == pytest.approx(2 * (nll(0.0) - best.fun), rel=1e-6)


@pytest.mark.parametrize("args, code, needle", [
    (("-f", "negative_binomial", "--param", "alpha=a"), 1, "must be ≥ 0"),
    (("-f", "negative_binomial", "--fix", "alpha=-0.5"), 2, "alpha must be ≥ 0"),
    (("-f", "quantile", "--fix", "quantile.tau=1.5"), 2, "tau must be in (0, 1)"),
    (("--no-pred", "-f", "poisson", "--fix", "mean=-1"), 2, "mean must be ≥ 0"),
])
def test_domains_of_count_and_quantile_parameters(write_csv, args, code, needle):
    path = write_csv("nb.csv", y=[0, 1, 3, 2], y_pred=[0.5, 1.2, 2.5, 2.0],
                     a=[0.3, 0.1, -0.2, 0.5])
    out = run_cli("evaluate", path, *args)
    err = out.stderr.decode()
    assert out.returncode == code, err
    assert err.count("\n") == 1 and err.startswith("error:") and needle in err, err
    if code == 1:
        assert "row 3" in err and "'a'" in err and "-0.2" in err
