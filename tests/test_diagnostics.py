"""The diagnostics' building blocks against brute force, and the command's contract.

The oracle comparisons of every number (scipy, statsmodels, scikit-learn,
model-diagnostics) are in test_diagnostics_oracles.py; here: the PIT histogram against
overlap lengths, the quantile edges against numpy.percentile on the expanded rows, the
isotonic median regression against a linear programme, the groups' merge against one
pass, and what `diagnose`, `--diagnostics` and `--plot` promise.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from losscli.diagnostics import pit, rootogram_top
from losscli.diagnostics.groups import Groups, expanded_percentiles, isotonic_median
from tests.conftest import SAMPLES as ROOT_SAMPLES
from tests.conftest import run_api, run_cli


def brute_histogram(lo, hi, w, m):
    """Each row's share of [j/m, (j+1)/m] by overlap length; a point in the bin holding it
    (the last bin closed at 1)."""
    g = np.arange(m + 1) / m
    out = np.zeros(m)
    for a, b, wt in zip(lo, hi, w, strict=True):
        if b > a:
            out += wt * np.clip(np.minimum(b, g[1:]) - np.maximum(a, g[:-1]), 0, None) / (b - a)
        else:
            out[min(int(np.searchsorted(g, a, side="right")) - 1, m - 1)] += wt
    return out


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1), st.integers(1, 5)),
                min_size=1, max_size=40),
       st.sampled_from([1, 3, 20, 1000]))
def test_pit_histogram_is_the_overlap_share(rows, m):
    lo = np.array([min(a, b) for a, b, _ in rows])
    hi = np.array([max(a, b) for a, b, _ in rows])
    w = np.array([float(c) for _, _, c in rows])
    np.testing.assert_allclose(pit.histogram(lo, hi, w, m), brute_histogram(lo, hi, w, m),
                               rtol=1e-10, atol=1e-10)


def test_pit_point_masses_at_grid_points_and_one():
    u = np.array([0.0, 0.05, 0.5, 0.95, 1.0])
    np.testing.assert_array_equal(pit.histogram(u, u, None, 20),
                                  np.bincount(np.minimum(np.floor(u * 20).astype(int), 19),
                                              minlength=20))


def test_ks_exact_equals_scipy_with_ties_and_weights():
    from scipy import stats

    rng = np.random.default_rng(1)
    u = np.round(rng.uniform(size=500), 2)
    w = rng.integers(1, 4, size=500).astype(float)
    d = pit.ks_exact(u, w)
    assert d == pytest.approx(stats.kstest(np.repeat(u, w.astype(int)), "uniform").statistic,
                              abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(-5, 5), st.integers(1, 4)), min_size=1, max_size=50))
def test_expanded_percentiles_equal_numpy_on_the_repeated_rows(rows):
    values = np.array(sorted({v for v, _ in rows}))
    counts = np.array([sum(c for v2, c in rows if v2 == v) for v in values], dtype=float)
    expanded = np.repeat(values, counts.astype(int))
    np.testing.assert_array_equal(expanded_percentiles(values, counts),
                                  np.percentile(expanded, np.linspace(0, 1, 11) * 100))


def test_isotonic_median_equals_a_linear_programme():
    from scipy.optimize import linprog

    rng = np.random.default_rng(7)
    n = 60
    f = np.round(rng.normal(size=n))  # ties in the forecast, pooled
    t = f + rng.laplace(size=n)
    w = rng.integers(1, 4, n).astype(float)
    keys, inv = np.unique(f, return_inverse=True)
    g = keys.size
    c = np.r_[np.zeros(g), w, w]
    a_eq = np.zeros((n, g + 2 * n))
    a_eq[np.arange(n), inv] = 1
    a_eq[np.arange(n), g + np.arange(n)] = 1
    a_eq[np.arange(n), g + n + np.arange(n)] = -1
    a_ub = np.zeros((g - 1, g + 2 * n))
    a_ub[np.arange(g - 1), np.arange(g - 1)] = 1
    a_ub[np.arange(g - 1), np.arange(1, g)] = -1
    lp = linprog(c, A_ub=a_ub, b_ub=np.zeros(g - 1), A_eq=a_eq, b_eq=t,
                 bounds=[(None, None)] * g + [(0, None)] * (2 * n))
    _, fit, loss = isotonic_median(f, t, w)
    assert loss == pytest.approx(lp.fun, rel=1e-9)
    assert np.all(np.diff(fit) >= 0)


def test_groups_merged_from_batches_equal_one_pass():
    rng = np.random.default_rng(3)
    f = np.round(rng.uniform(size=4000), 2)
    t = f + rng.normal(size=4000)
    w = rng.integers(1, 3, 4000).astype(float)
    one = Groups(1, 10**6, None)
    one.update(f, t, w, [t * t])
    parts = []
    for s in range(0, 4000, 700):
        g = Groups(1, 10**6, None)
        g.update(f[s:s + 700], t[s:s + 700], w[s:s + 700], [t[s:s + 700] ** 2])
        parts.append(g)
    merged = parts[0]
    for g in parts[1:]:
        merged.merge(g)
    merged.finish()
    one.finish()
    np.testing.assert_array_equal(merged.keys, one.keys)
    for a, b in ((merged.sw, one.sw), (merged.mean, one.mean), (merged.m2, one.m2),
                 (merged.extra, one.extra)):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_groups_pool_into_bins_beyond_the_limit():
    f = np.linspace(0, 1, 1000)
    g = Groups(0, 100, np.linspace(0, 1, 11)[1:-1])
    g.update(f, f, None, [])
    g.finish()
    assert g.binned and g.keys.size == 10 and g.sw.sum() == 1000


def test_rootogram_top():
    values = np.arange(10.0)
    weights = np.r_[np.full(9, 100.0), 0.5]
    assert rootogram_top(values, weights) == 8
    assert rootogram_top(np.array([0.0, 500.0]), np.array([1.0, 1.0])) == 100


# ------------------------------------------------------------------ the commands


@pytest.fixture
def counts(write_csv):
    rng = np.random.default_rng(11)
    mu = np.exp(rng.normal(0.5, 0.6, 3000))
    y = rng.negative_binomial(2.0, 2.0 / (2.0 + mu)).astype(float)
    return write_csv("counts.csv", y=y, y_pred=mu)


KEYS = {"pit", "tests", "decomposition", "rootogram", "reliability_bins", "by_prediction",
        "plots"}


def test_diagnose_keys_and_the_decomposition_identity(counts):
    rep = run_api("diagnose", counts, families=("poisson", "negative_binomial"))
    assert rep["command"] == "diagnose"
    for m in rep["models"]:
        d = m["diagnostics"]
        assert set(d) == KEYS
        dec = d["decomposition"]
        assert dec["score"] == pytest.approx(m["cross_entropy"], abs=1e-12)
        assert dec["uncertainty"] == pytest.approx(m["baseline_cross_entropy"], abs=1e-12)
        assert dec["score"] == pytest.approx(
            dec["miscalibration"] - dec["discrimination"] + dec["uncertainty"], abs=1e-12)
        assert dec["discrimination"] - dec["miscalibration"] == pytest.approx(
            m["information_gain"], abs=1e-12)
        assert dec["miscalibration"] >= 0 and dec["discrimination"] >= 0
    kinds = [t["kind"] for t in rep["models"][0]["diagnostics"]["tests"]]
    assert kinds == ["dispersion_dean_a", "dispersion_dean_b", "dispersion_dean_c",
                     "zero_inflation", "calibration_in_the_large"]
    nb = rep["models"][1]["diagnostics"]["tests"]
    assert [t["kind"] for t in nb] == ["dispersion_pearson", "zero_inflation",
                                       "calibration_in_the_large"]
    assert not any(t["exact"] for t in nb)  # α is fitted


def test_diagnostics_key_absent_without_the_flag_and_null_when_not_diagnosed(counts):
    rep = run_api("evaluate", counts, families=("poisson",))
    assert "diagnostics" not in rep["models"][0]
    rep = run_api("compare-noise-models", counts, diagnostics=True)
    assert rep["models"][0]["diagnostics"] is not None
    assert all(m["diagnostics"] is None for m in rep["models"][1:])
    rep = run_api("diagnose", counts, best=True)
    assert rep["command"] == "diagnose" and rep["best"] == rep["models"][0]["family"]
    assert all(m["diagnostics"] is None for m in rep["models"][1:])


def test_marginal_mode_has_no_decomposition_or_slices(counts):
    rep = run_api("diagnose", counts, families=("poisson",), no_pred=True)
    d = rep["models"][0]["diagnostics"]
    assert d["decomposition"] is None and d["by_prediction"] is None
    a, b, c = (t["statistic"] for t in d["tests"][:3])
    assert a == pytest.approx(b, rel=1e-12) and b == pytest.approx(c, rel=1e-12)


SOFT_WHY = "(the PIT, the tests and the reliability bins need hard labels)"


def test_soft_categorical_labels_say_that_no_diagnostics_apply():
    args = ("diagnose", ROOT_SAMPLES / "distill.csv", "--soft-target", "t_*",
            "--probs", "p_*")
    note = f"categorical: soft labels: no diagnostics apply {SOFT_WHY}"
    table = run_cli(*args)
    assert table.returncode == 0
    assert f"warning: {note}" in table.stderr.decode().splitlines()
    assert "Diagnostics:" not in table.stdout.decode()
    rep = json.loads(run_cli(*args, "--format", "json").stdout)
    assert note in rep["warnings"]
    d = rep["models"][0]["diagnostics"]
    assert d["tests"] == [] and d["plots"] == []
    assert all(d[k] is None for k in KEYS - {"tests", "plots"})
    # the same file's hard labels: diagnosed, and no word of soft labels
    hard = run_api("diagnose", ROOT_SAMPLES / "distill.csv", target="label",
                   probs=("p_*",))
    assert hard["models"][0]["diagnostics"]["tests"]
    assert not any("soft labels" in w for w in hard["warnings"])


def test_soft_binary_labels_keep_the_decomposition_and_say_what_is_missing(write_csv):
    rng = np.random.default_rng(5)
    t = rng.uniform(0.05, 0.95, 400)
    path = write_csv("soft.csv", t=t, q=np.clip(t + rng.normal(0, 0.1, 400), 0.01, 0.99))
    rep = run_api("diagnose", path, soft_target=("t",), probs=("q",))
    d = rep["models"][0]["diagnostics"]
    assert d["pit"] is None and d["tests"] == [] and d["reliability_bins"] is None
    assert d["decomposition"] is not None and d["by_prediction"] is not None
    assert rep["warnings"] == ["bernoulli: soft labels: only the loss decomposition and "
                               f"the slices by prediction apply {SOFT_WHY}"]
    marginal = run_api("diagnose", path, soft_target=("t",), no_pred=True)
    assert marginal["warnings"] == [f"bernoulli: soft labels: no diagnostics apply {SOFT_WHY}"]
    best = run_api("diagnose", path, soft_target=("t",), probs=("q",), best=True)
    assert any(w.startswith("bernoulli: soft labels: ") for w in best["warnings"])


def test_laplace_decomposition_by_isotonic_median(write_csv):
    from model_diagnostics.scoring import PinballLoss, decompose

    rng = np.random.default_rng(5)
    pred = rng.normal(size=2000) * 3
    y = pred + rng.laplace(size=2000)
    path = write_csv("reg.csv", y=y, y_pred=pred)
    m = run_api("diagnose", path, families=("laplace",))["models"][0]
    dec = m["diagnostics"]["decomposition"]
    md = decompose(y, pred, scoring_function=PinballLoss(0.5))
    s_rc = float(md["score"][0] - md["miscalibration"][0])
    assert dec["score"] - dec["miscalibration"] == pytest.approx(
        np.log(4 * s_rc) + 1, rel=1e-9)


def test_help_imports_neither_matplotlib_nor_statsmodels():
    code = ("import sys\nfrom losscli.cli import app\n"
            "try:\n    app(['diagnose', '--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('matplotlib', 'statsmodels', 'scipy', 'numpy') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip().splitlines()[-1]
    assert out == "[]"


def test_plot_writes_the_pictures_and_lists_them(counts, tmp_path):
    out = tmp_path / "fig"
    proc = run_cli("compare-noise-models", counts, "--plot", out, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    rep = json.loads(proc.stdout)
    plots = rep["models"][0]["diagnostics"]["plots"]
    best = rep["best"]
    assert [p["kind"] for p in plots] == ["pit", "qq", "reliability", "rootogram",
                                          "residuals", "cross-entropy"]
    for p in plots:
        name = "cross-entropy.png" if p["kind"] == "cross-entropy" else \
            f"{best}-{p['kind']}.png"
        assert p["path"].endswith(name)
        data = (out / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) < 300_000
    first = {p.name: p.read_bytes() for p in out.iterdir()}
    again = run_cli("compare-noise-models", counts, "--plot", out, "--format", "json")
    assert again.stdout == proc.stdout
    assert {p.name: p.read_bytes() for p in out.iterdir()} == first


def test_plot_without_matplotlib_is_one_error_line(counts, tmp_path):
    code = ("import sys\nsys.modules['matplotlib'] = None\nsys.argv = ['losscli', 'diagnose', "
            f"{str(counts)!r}, '--plot', {str(tmp_path / 'p')!r}]\n"
            "from losscli.cli import main\nmain()")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "error: --plot needs matplotlib: install the extra with pip install 'losscli[plot]'"]
    assert not (tmp_path / "p").exists()


@pytest.mark.parametrize("name,params", [
    ("gaussian", {"sigma": 1.7}), ("laplace", {"scale": 0.8}),
    ("student_t", {"df": 3.4, "scale": 1.2}), ("student_t", {"df": float("inf"), "scale": 2}),
    ("lognormal", {"sigma": 0.6}), ("gamma", {"shape": 2.5}), ("gamma", {"shape": 0.3})])
def test_pit_bins_from_standardised_thresholds_equal_the_cdf_bins(name, params):
    """Beyond --fit-rows the exact PIT's bins come from z on G⁻¹(j/1000): the same bins as
    1000·F(y) from scipy's c.d.f."""
    from losscli.diagnostics import _thresholds
    from losscli.noise import FAMILIES

    fam = FAMILIES[name]()
    rng = np.random.default_rng(2)
    pred = np.exp(rng.normal(size=20000))
    from scipy import stats

    dist = stats.norm(pred, params["scale"]) if params.get("df") == float("inf") \
        else fam.to_scipy(pred, params)
    y = dist.rvs(random_state=rng)
    u = dist.cdf(y)
    thresholds = _thresholds(fam, params)
    z = fam.standardised(y, pred, params)
    j = thresholds.count(z)
    np.testing.assert_array_equal(j, np.searchsorted(thresholds.t, z, side="right"))
    near = np.abs(u * 1000 - np.round(u * 1000)) < 1e-9  # on a bin edge: either side
    np.testing.assert_array_equal(j[~near], np.minimum(np.floor(u * 1000), 999)[~near])


@settings(max_examples=80, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=300, unique=True),
       st.lists(st.floats(-2e6, 2e6), min_size=1, max_size=200),
       st.sampled_from([4, 64, 1 << 12]), st.sampled_from([1, 3, 100]))
def test_thresholds_count_equals_searchsorted(edges, queries, cells, passes):
    """Any table size and refinement target (passes 1: refined to the cap) gives
    searchsorted's answer, and a pickled copy rebuilds its table."""
    import pickle

    from losscli.diagnostics.pit import Thresholds

    e = np.sort(np.array(edges))
    z = np.r_[np.array(queries), e, np.nextafter(e, -np.inf), -np.inf, np.inf, np.nan]
    th = Thresholds(e, cells, passes=passes, max_cells=1 << 14)
    want = np.searchsorted(e, z, side="right")
    np.testing.assert_array_equal(th.count(z), want)
    assert th.passes <= passes or 4 * th.cells > 1 << 14
    assert th.cells <= max(cells, 1 << 14)
    copy = pickle.loads(pickle.dumps(th))
    assert copy.table is None
    np.testing.assert_array_equal(copy.count(z), want)


def test_pit_histogram_of_no_rows_is_zero():
    e = np.empty(0)
    np.testing.assert_array_equal(pit.histogram(e, e, None, 5), np.zeros(5))


def test_thresholds_of_no_edges_count_zero():
    from losscli.diagnostics.pit import Thresholds

    np.testing.assert_array_equal(Thresholds(np.empty(0)).count(np.array([-1.0, 0, 2])),
                                  [0, 0, 0])


def test_python_api_diagnose_matches_the_cli(tmp_path):
    import pandas as pd

    import losscli

    df = pd.read_csv(ROOT_SAMPLES / "counts.csv")
    rep = losscli.diagnose(df, family="poisson")
    d = rep.to_dict()["models"][0]["diagnostics"]
    proc = run_cli("diagnose", ROOT_SAMPLES / "counts.csv", "-f", "poisson", "--format", "json")
    cli = json.loads(proc.stdout)["models"][0]["diagnostics"]
    assert d["tests"] == cli["tests"] and d["decomposition"] == cli["decomposition"]
    assert "Diagnostics: poisson" in rep._repr_html_()
    best = losscli.diagnose(df, best=True, plot=tmp_path / "p")
    plots = best.to_dict()["models"][0]["diagnostics"]["plots"]
    assert plots[-1]["kind"] == "cross-entropy"
    assert all((tmp_path / "p" / p["path"].split("/")[-1]).exists() for p in plots)


def test_equal_count_edges_are_numpy_quantiles_of_the_sorted_sample():
    from losscli.diagnostics.groups import equal_count_edges

    x = np.sort(np.random.default_rng(4).standard_t(3, 10_001))
    np.testing.assert_allclose(equal_count_edges(x, 64),
                               np.unique(np.quantile(x, np.arange(1, 64) / 64)), rtol=1e-14)


def _without_input_counts(rep: dict) -> dict:
    rep = json.loads(json.dumps(rep))
    for key in ("passes", "bytes_read"):
        rep["input"].pop(key)
    return rep


@pytest.mark.parametrize("name, kw", [
    ("counts.csv", {}),
    ("regression.csv", {}),
    ("counts.csv", {"no_pred": True}),
    ("counts.csv", {"families": ("poisson", "negative_binomial")}),
])
def test_the_scoring_pass_carries_the_diagnostics_when_it_knows_the_models(
        monkeypatch, name, kw):
    """compare --diagnostics diagnoses the sample's likely best in the scoring pass (no
    pass of its own); a wrong guess costs more passes and gives the same JSON."""
    from losscli import compare

    path = ROOT_SAMPLES / name
    plain = run_api("compare-noise-models", path, **kw)["input"]["passes"]
    carried = run_api("compare-noise-models", path, diagnostics=True, **kw)
    assert carried["input"]["passes"] == plain  # 1 on the value counts, else 2
    best = next(i for i, m in enumerate(carried["models"]) if m["rank"] == 1)
    assert carried["models"][best]["diagnostics"] is not None
    wrong = carried["models"][-1]["family"]
    if kw.get("families"):
        separate = carried  # every listed family is diagnosed: nothing to guess
    else:
        def miss(run, models, criterion):
            return next(i for i, m in enumerate(models) if m.name == wrong)

        monkeypatch.setattr(compare, "likely_best", miss)

        monkeypatch.setattr(compare, "contenders", lambda *a: [])
        separate = run_api("compare-noise-models", path, diagnostics=True, **kw)
        # one more pass for the diagnostics and one for the best model's pairs, which
        # were reduced for the guessed one (on the value counts: no pass over the file)
        assert separate["input"]["passes"] == plain + (0 if kw.get("no_pred") else 2)
    assert _without_input_counts(separate) == _without_input_counts(carried)
    evaluated = run_api("evaluate", path, diagnostics=True,
                        families=("poisson",) if name == "counts.csv" else (carried["best"],),
                        **{k: v for k, v in kw.items()
                                                       if k == "no_pred"})
    assert evaluated["input"]["passes"] == plain


def test_a_carried_model_that_fails_gets_its_own_pass(monkeypatch):
    """A numeric failure of the carried diagnostics does not end the scoring pass: the
    model is diagnosed in a pass of its own, with the same answer."""
    from losscli.diagnostics import state

    path = ROOT_SAMPLES / "regression.csv"
    want = run_api("compare-noise-models", path, diagnostics=True)
    block = state.Diagnose._model_block

    def fragile(self, st, b):
        if self.plan.lenient:
            raise FloatingPointError("overflow")
        return block(self, st, b)

    monkeypatch.setattr(state.Diagnose, "_model_block", fragile)
    got = run_api("compare-noise-models", path, diagnostics=True)
    assert got["input"]["passes"] == want["input"]["passes"] + 1
    assert _without_input_counts(got) == _without_input_counts(want)


def test_no_calibration_test_in_marginal_mode_and_plots_always_a_list(write_csv):
    """SPEC §7.4: calibration_in_the_large (and spiegelhalter) are conditional only: in
    marginal mode ŷ is the mean fitted to the same rows, so Σw(y − ŷ) is 0 by
    construction. SPEC §7.2: every key present; `plots` lists the pictures written, an
    empty list without --plot (null in JSON would read as "does not apply")."""
    from losscli.noise import FAMILIES

    rng = np.random.default_rng(3)
    n = 400
    data = {
        "binary": ({"y": (rng.uniform(size=n) < 0.3).astype(float)}, ("bernoulli",)),
        "counts": ({"y": rng.poisson(3.0, n).astype(float)},
                   ("poisson", "negative_binomial", "gaussian", "zero_inflated_poisson",
                    "zero_inflated_negative_binomial")),
        "positive": ({"y": rng.gamma(2.0, 1.5, n)}, ("gamma", "lognormal", "inverse_gaussian",
                                                     "log1p_normal", "tweedie")),
        "proportion": ({"y": rng.beta(2.0, 3.0, n)}, ("beta",)),
        "labels": ({"label": rng.choice(["a", "b", "c"], n)}, ("categorical",)),
    }
    seen = set()
    for kind, (cols, families) in data.items():
        rep = run_api("diagnose", write_csv(f"{kind}.csv", **cols), families=families)
        assert rep["mode"] == "marginal"
        for m in rep["models"]:
            d = m["diagnostics"]
            assert set(d) == KEYS and d["plots"] == []
            kinds = {t["kind"] for t in d["tests"]}
            assert not kinds & {"calibration_in_the_large", "spiegelhalter"}, (kind, m)
            seen.add(m["family"])
    assert seen == {n for n, c in FAMILIES.items() if c.calibration}
    # conditional mode keeps the test, and plots is a list there too
    y = rng.poisson(3.0, n).astype(float)
    rep = run_api("diagnose", write_csv("c.csv", y=y, y_pred=np.full(n, 3.0)),
                  families=("poisson",))
    d = rep["models"][0]["diagnostics"]
    assert "calibration_in_the_large" in {t["kind"] for t in d["tests"]}
    assert d["plots"] == []
