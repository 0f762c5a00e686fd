"""The diagnostic pictures: every file is a 640×480 PNG under 300 KB, written atomically,
the same bytes on every run; matplotlib is needed only when a picture is drawn."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

from losscli import plots
from losscli.errors import InputError, LossCliError
from tests.conftest import ROOT

PNG = b"\x89PNG\r\n\x1a\n"


def poisson_data(rng: np.random.Generator, n: int = 4000, mu: float = 3.0) -> dict:
    """Every picture's data for a Poisson fit to over-dispersed counts."""
    y = rng.negative_binomial(4, 4 / (4 + mu), size=n)
    # non-randomised PIT histogram: mean over rows of the PIT's cdf increments per bin
    edges = np.linspace(0, 1, 21)
    lo, hi = stats.poisson.cdf(y - 1, mu), stats.poisson.cdf(y, mu)
    frac = np.clip((edges[None, :] - lo[:, None]) / (hi - lo)[:, None], 0, 1)
    density = np.diff(frac, axis=1).mean(axis=0) * 20
    u = rng.uniform(lo, hi)
    hist = np.histogram(u, bins=1000, range=(0, 1))[0] / n
    k = np.arange(0, 13)
    expected = stats.poisson.pmf(k, mu) * n
    expected[-1] = stats.poisson.sf(11, mu) * n
    observed = np.array([np.sum(y == j) for j in k[:-1]] + [np.sum(y >= 12)], dtype=float)
    pred = rng.gamma(4, mu / 4, size=n)
    order = np.argsort(pred)
    from sklearn.isotonic import IsotonicRegression

    x = pred[order]
    rc = IsotonicRegression().fit_transform(x, y[order].astype(float))
    r = stats.norm.ppf(u)
    deciles = np.array_split(np.argsort(pred), 10)
    return {
        "unit": "nats",
        "family": "poisson",
        "pit": {"density": density, "method": "nonrandomized", "n": float(n)},
        "qq": {"hist": hist, "randomized": True, "seed": 7},
        "reliability": {
            "x": x, "rc": rc,
            "points": {"prob_pred": [np.mean(x[d]) for d in np.array_split(np.arange(n), 10)],
                       "prob_true": [np.mean(rc[d]) for d in np.array_split(np.arange(n), 10)]},
            "score": 2.0921, "miscalibration": 0.0241, "discrimination": 0.2330,
            "uncertainty": 2.3010, "scoring": "nll",
            "xlabel": "predicted mean", "ylabel": "recalibrated mean",
        },
        "rootogram": {"k": k, "observed": observed, "expected": expected, "tail_from": 12},
        "residuals": {
            "mean_pred": [float(np.mean(pred[d])) for d in deciles],
            "q10": [float(np.quantile(r[d], 0.1)) for d in deciles],
            "q50": [float(np.quantile(r[d], 0.5)) for d in deciles],
            "q90": [float(np.quantile(r[d], 0.9)) for d in deciles],
            "randomized": True,
        },
    }


MODELS = [
    {"family": "negative_binomial", "cross_entropy": 2.05, "entropy": 1.98, "kl": 0.07,
     "rank": 1},
    {"family": "poisson", "cross_entropy": 2.31, "entropy": 1.98, "kl": 0.33, "rank": 2},
    {"family": "gaussian", "cross_entropy": 2.52, "entropy": 1.98, "kl": 0.54, "rank": 3},
]
NEGATIVE = [  # a differential entropy below 0: one cross-entropy above 0, one below
    {"family": "gamma", "cross_entropy": -0.35, "entropy": -0.42, "kl": 0.07, "rank": 1},
    {"family": "lognormal", "cross_entropy": 0.40, "entropy": -0.42, "kl": 0.82, "rank": 2},
    {"family": "gaussian", "cross_entropy": 0.11, "entropy": None, "kl": None, "rank": 3},
]


@pytest.fixture(scope="module")
def data() -> dict:
    return poisson_data(np.random.default_rng(2024))


def check_png(path: str) -> None:
    from matplotlib import image

    with open(path, "rb") as fh:
        head = fh.read(8)
    assert head == PNG
    assert os.path.getsize(path) < 300_000
    assert image.imread(path).shape[:2] == (480, 640)


def test_every_kind_in_order(tmp_path, data):
    out = plots.model_plots(str(tmp_path), "poisson", data)
    assert [o["kind"] for o in out] == list(plots.KINDS)
    assert [o["path"] for o in out] == [os.path.join(str(tmp_path), f"poisson-{k}.png")
                                        for k in plots.KINDS]
    for o in out:
        check_png(o["path"])
    # nothing but the pictures: no temporary file left behind
    assert sorted(os.listdir(tmp_path)) == sorted(f"poisson-{k}.png" for k in plots.KINDS)


def test_same_bytes_on_every_run(tmp_path, data):
    first = plots.model_plots(str(tmp_path / "a"), "poisson", data)
    second = plots.model_plots(str(tmp_path / "b"), "poisson", data)
    again = plots.model_plots(str(tmp_path / "a"), "poisson", data)  # over existing files
    for a, b, c in zip(first, second, again, strict=True):
        with open(a["path"], "rb") as fa, open(b["path"], "rb") as fb:
            assert fa.read() == fb.read(), a["kind"]
        assert c["path"] == a["path"]
    ce = [plots.model_plots(str(tmp_path / d), "poisson", {},
                            comparison=(MODELS, "negative_binomial", "nats"))[0]
          for d in "ab"]
    with open(ce[0]["path"], "rb") as fa, open(ce[1]["path"], "rb") as fb:
        assert fa.read() == fb.read()
    assert sorted(os.listdir(tmp_path / "a")) == sorted(
        [f"poisson-{k}.png" for k in plots.KINDS] + ["cross-entropy.png"])


def test_missing_kinds_are_skipped(tmp_path, data):
    partial = {**data, "pit": None, "rootogram": None}
    del partial["residuals"]
    out = plots.model_plots(str(tmp_path), "gaussian", partial)
    assert [o["kind"] for o in out] == ["qq", "reliability"]
    assert sorted(os.listdir(tmp_path)) == ["gaussian-qq.png", "gaussian-reliability.png"]
    assert plots.model_plots(str(tmp_path / "none"), "gaussian", {"unit": "bits"}) == []


def test_the_directory_is_created(tmp_path, data):
    directory = tmp_path / "plots" / "run 1"
    out = plots.model_plots(str(directory), "poisson", {**data, "qq": None})
    assert len(out) == 4 and all(os.path.dirname(o["path"]) == str(directory) for o in out)
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(out[0]["path"]).st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0600


def test_unwritable_directory(tmp_path, data):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(LossCliError, match="cannot create the plot directory"):
        plots.model_plots(str(blocker), "poisson", data)
    with pytest.raises(LossCliError, match="cannot create the plot directory"):
        plots.model_plots(str(blocker / "sub"), "poisson", {},
                          comparison=(MODELS, "poisson", "nats"))


@pytest.mark.parametrize("models, best, unit", [(MODELS, "negative_binomial", "nats"),
                                                (NEGATIVE, "gamma", "bits"),
                                                (NEGATIVE[2:], "gaussian", "nats"),
                                                ([], "", "nats")])
def test_cross_entropy(tmp_path, models, best, unit):
    [out] = plots.model_plots(str(tmp_path), "poisson", {},
                              comparison=(list(reversed(models)), best, unit))
    assert out == {"kind": "cross-entropy", "path": os.path.join(str(tmp_path),
                                                                 "cross-entropy.png")}
    check_png(out["path"])
    assert os.listdir(tmp_path) == ["cross-entropy.png"]


def test_large_reliability_curve(tmp_path, data):
    """Two million forecasts with thousands of levels are thinned for drawing."""
    rng = np.random.default_rng(5)
    x = np.sort(rng.uniform(0, 1, 2_000_000))
    rc = np.floor(x ** 1.3 * 5000) / 5000
    spec = {**data["reliability"], "x": x, "rc": rc, "points": None,
            "scoring": "top_label_log_loss", "xlabel": "predicted probability",
            "ylabel": "recalibrated probability"}
    out = plots.model_plots(str(tmp_path), "bernoulli", {"unit": "bits", "reliability": spec})
    check_png(out[0]["path"])


def step_at(x: np.ndarray, y: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The value of the step function drawn with where="post" through (x, y) at `at`."""
    return y[np.searchsorted(x, at, side="right") - 1]


def test_thinning_keeps_the_step_shape():
    rng = np.random.default_rng(1)
    x = np.sort(rng.uniform(0, 10, 200_000))
    y = np.floor(x * 30) / 30  # 300 levels: drawn exactly
    tx, ty = plots._thin_steps(x, y)
    assert len(tx) <= 302
    assert np.array_equal(step_at(tx, ty, x), y)
    y = np.floor(x * 3000) / 3000  # 30 000 levels: thinned, still a step function
    tx, ty = plots._thin_steps(x, y)
    assert len(tx) <= plots.THIN + 2
    assert tx[0] == x[0] and tx[-1] == x[-1] and ty[-1] == y[-1]
    assert np.all(np.diff(tx) >= 0) and np.all(np.diff(ty) >= 0)
    assert np.max(np.abs(step_at(tx, ty, x) - y)) <= 10 / plots.THIN * 1.5
    short = np.arange(5.0)
    assert plots._thin_steps(short, short) == (short, short)


def test_qq_quantiles_invert_the_cumulative():
    m = 1000
    grid = np.linspace(0, 1, m + 1)
    assert np.allclose(plots._quantiles(np.full(m, 1 / m), grid), grid)
    hist = np.zeros(m)
    hist[:500] = 2 / m  # all the mass below 1/2: the quantile of p is p/2
    assert np.allclose(plots._quantiles(hist, grid), grid / 2)


def test_count_ticks_label_the_tail():
    ticks, labels = plots._count_ticks(np.arange(0, 8), 7)
    assert ticks == list(range(8)) and labels[-1] == "≥7" and labels[0] == "0"
    ticks, labels = plots._count_ticks(np.arange(0, 102), 101)
    assert len(ticks) <= 14 and ticks[-1] == 101 and labels[-1] == "≥101"
    assert 100 not in ticks  # too close to the tail's label


@pytest.mark.parametrize("how", ["modules", "import"])
def test_require_without_matplotlib(monkeypatch, tmp_path, data, how):
    if how == "modules":
        monkeypatch.setitem(sys.modules, "matplotlib", None)
    else:
        import builtins

        real = builtins.__import__

        def no_matplotlib(name, *args, **kw):
            if name == "matplotlib" or name.startswith("matplotlib."):
                raise ImportError(f"No module named {name!r}")
            return real(name, *args, **kw)

        monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    with pytest.raises(InputError) as info:
        plots.require()
    assert str(info.value) == plots.EXTRA_MESSAGE
    with pytest.raises(InputError, match="pip install 'losscli\\[plot\\]'"):
        plots.model_plots(str(tmp_path), "poisson", data)
    with pytest.raises(InputError, match="needs matplotlib"):
        plots.model_plots(str(tmp_path), "poisson", {}, comparison=(MODELS, "poisson", "nats"))
    assert os.listdir(tmp_path) == []


def test_import_does_not_import_matplotlib():
    code = ("import sys, losscli.plots; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'matplotlib'))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


# --- what each picture draws: its lines, labels, legend and notes ---------------------------


def drawn(draw, *args):
    """The figure and axes `draw(fig, ax, *args)` fills, as the files get them."""
    import matplotlib.style
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with matplotlib.style.context("default"):
        fig = Figure(figsize=plots.FIGSIZE, dpi=plots.DPI, layout=plots.LAYOUT)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        draw(fig, ax, *args)
    return fig, ax


def line(ax, label: str):
    found = [ln for ln in ax.get_lines() if ln.get_label() == label]
    assert len(found) == 1, [ln.get_label() for ln in ax.get_lines()]
    return found[0]


def notes(ax) -> list[str]:
    return [t.get_text() for t in ax.texts]


def legend_labels(fig, ax) -> list[str]:
    legends = [*fig.legends, *([ax.get_legend()] if ax.get_legend() else [])]
    return [t.get_text() for leg in legends for t in leg.get_texts()]


def captured(monkeypatch, tmp_path, path, **kw) -> dict:
    """The data the diagnostics hand to the pictures of the one model evaluated."""
    from tests.conftest import run_api

    seen: dict = {}

    def keep(directory, family, data, comparison=None):
        seen.update(data)
        return []

    monkeypatch.setattr(plots, "model_plots", keep)
    run_api("evaluate", path, plot=str(tmp_path / "p"), **kw)
    return seen


@pytest.fixture
def lognormal_file(tmp_path):
    """Lognormal y around 40 distinct medians ŷ, 10 % too low (log y − log ŷ ~ N(0.1, ½))."""
    rng = np.random.default_rng(11)
    yhat = rng.choice(np.round(np.geomspace(1.0, 50.0, 40), 3), size=4000)
    y = yhat * np.exp(0.1 + 0.5 * rng.standard_normal(yhat.size))
    path = tmp_path / "positive.csv"
    np.savetxt(path, np.column_stack([y, yhat]), delimiter=",", header="y,y_pred",
               comments="", fmt="%.17g")
    return path, y, yhat


@pytest.mark.parametrize("pooled", [False, True])
def test_lognormal_reliability_has_one_scale_on_both_axes(monkeypatch, tmp_path,
                                                          lognormal_file, pooled):
    """Forecast and recalibrated forecast both on the log scale the decomposition uses,
    drawn as exp(·) on log axes that say so; also where the forecasts are pooled into
    bins (each of these bins holds one ŷ)."""
    from sklearn.isotonic import IsotonicRegression

    path, y, yhat = lognormal_file
    data = captured(monkeypatch, tmp_path, path, families=("lognormal",), target="y",
                    pred="y_pred", corp_max_unique=10 if pooled else 2_000_000)
    spec = data["reliability"]
    keys, inv = np.unique(yhat, return_inverse=True)
    w = np.bincount(inv).astype(float)
    mean_log_y = np.bincount(inv, weights=np.log(y)) / w
    rc = IsotonicRegression().fit(np.log(keys), mean_log_y, sample_weight=w).predict(
        np.log(keys))
    assert spec["scale"] == "log"
    np.testing.assert_allclose(spec["x"], np.log(keys), rtol=1e-12)
    np.testing.assert_allclose(spec["rc"], rc, rtol=1e-9)
    fig, ax = drawn(plots._draw_reliability, "lognormal", spec, data)
    curve = line(ax, "CORP reliability curve")
    np.testing.assert_allclose(curve.get_xdata(), keys, rtol=1e-12)
    np.testing.assert_allclose(curve.get_ydata(), np.exp(rc), rtol=1e-9)
    assert ax.get_xscale() == ax.get_yscale() == "log"
    assert ax.get_xlabel() == "predicted median (log axis)"
    assert ax.get_ylabel() == "recalibrated median (log axis)"
    lo, hi = ax.get_xlim()
    assert ax.get_ylim() == (lo, hi) and lo < keys[0] and keys[-1] < hi  # one range
    # the residual deciles: labelled by exp of their mean log ŷ, and saying so
    res = data["residuals"]
    assert res["scale"] == "log"
    assert all(np.log(keys[0]) <= v <= np.log(keys[-1]) for v in res["mean_pred"])
    fig, ax = drawn(plots._draw_residuals, "lognormal", res, data)
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        f"{np.exp(v):.3g}" for v in res["mean_pred"]]
    assert ax.get_xlabel().endswith("labelled by its geometric mean")


def test_top_label_reliability_names_the_confidence(monkeypatch, tmp_path):
    import csv

    from tests.conftest import SAMPLES

    with open(SAMPLES / "multiclass.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    top = np.array([max(float(v) for k, v in r.items() if k.startswith("p_")) for r in rows])
    data = captured(monkeypatch, tmp_path, SAMPLES / "multiclass.csv",
                    families=("categorical",))
    spec = data["reliability"]
    np.testing.assert_allclose(spec["x"], np.unique(top), rtol=1e-12)
    fig, ax = drawn(plots._draw_reliability, "categorical", spec, data)
    assert ax.get_xlabel() == "top-label confidence (the largest predicted probability)"
    assert ax.get_ylabel() == "recalibrated top-label confidence"
    assert ax.get_xscale() == ax.get_yscale() == "linear"


def test_reliability_box_prints_round_off_as_zero(data):
    spec = {**data["reliability"], "miscalibration": -1.137e-13, "discrimination": 2.5e-5}
    fig, ax = drawn(plots._draw_reliability, "poisson", spec, data)
    box = next(t for t in notes(ax) if t.startswith("MCB"))
    assert box.splitlines()[:2] == ["MCB   0.0000", "DSC   2.5e-05"]


def test_central_weight_note_only_when_the_axes_leave_something_out():
    x = np.linspace(0.0, 1.0, 201)
    w = np.ones_like(x)
    w[[0, -1]] = 0.001  # outside the central 99 % of the weight, yet on the axes
    spec = {"x": x, "rc": x, "weights": w, "points": {"prob_pred": [0.0, 1.0],
                                                       "prob_true": [0.0, 1.0]},
            "score": 0.5, "miscalibration": 0.0, "discrimination": 0.2, "uncertainty": 0.7,
            "scoring": "nll"}
    note = "axes: the central 99 % of the weight"
    _, ax = drawn(plots._draw_reliability, "bernoulli", spec, {"unit": "nats"})
    assert note not in notes(ax)
    far = {**spec, "x": np.r_[x, 40.0], "rc": np.r_[x, 40.0], "weights": np.r_[w, 0.001],
           "points": None}  # one group far beyond the rest: left out, and said
    _, ax = drawn(plots._draw_reliability, "poisson", far, {"unit": "nats"})
    assert note in notes(ax) and ax.get_xlim()[1] < 40.0


def test_rootogram_curve_stops_before_the_pooled_tail(data):
    spec = data["rootogram"]  # k = 0 … 12, the last cell counts ≥ 12
    fig, ax = drawn(plots._draw_rootogram, "poisson", spec, data)
    k = np.asarray(spec["k"])
    curve = line(ax, "√expected")
    assert np.array_equal(curve.get_xdata(), k[:-1])
    np.testing.assert_allclose(curve.get_ydata(), np.sqrt(spec["expected"][:-1]))
    tail = line(ax, "√expected, pooled tail")
    assert list(tail.get_xdata()) == [12] and tail.get_linestyle() == "None"
    np.testing.assert_allclose(tail.get_ydata(), [np.sqrt(spec["expected"][-1])])
    assert "√observed, pooled tail ≥12" in legend_labels(fig, ax)
    hatched = [p for p in ax.patches if p.get_hatch()]
    assert len(hatched) == 1 and hatched[0].get_x() + hatched[0].get_width() / 2 == 12


HARD = [  # hard labels: H(P) = 0, the cross-entropy is the KL
    {"family": "categorical", "cross_entropy": 1.0463, "entropy": 0.0, "kl": 1.0463,
     "rank": 1}]
BELOW = [  # a KL estimate below 0 (an estimated entropy above the cross-entropy)
    {"family": "student_t", "cross_entropy": 2.1659, "entropy": 2.1961, "kl": -0.0302,
     "rank": 1},
    {"family": "gaussian", "cross_entropy": 2.3486, "entropy": 2.1961, "kl": 0.1525,
     "rank": 2},
    {"family": "laplace", "cross_entropy": 2.2, "entropy": 2.2, "kl": -4e-16, "rank": 3}]


def test_cross_entropy_lists_no_invisible_series():
    fig, ax = drawn(plots._draw_cross_entropy, HARD, "categorical", "nats")
    assert legend_labels(fig, ax) == ["KL(P‖Q)", "cross-entropy H(P,Q)"]
    assert "H(P) = 0 (hard labels" in ax.get_title()
    fig, ax = drawn(plots._draw_cross_entropy, MODELS, "negative_binomial", "nats")
    assert legend_labels(fig, ax) == ["entropy H(P)", "KL(P‖Q)", "cross-entropy H(P,Q)"]
    assert "H(P) = 0" not in ax.get_title() and "KL < 0" not in ax.get_title()


def test_cross_entropy_marks_a_negative_kl():
    fig, ax = drawn(plots._draw_cross_entropy, BELOW, "student_t", "nats")
    assert "KL(P‖Q) < 0: an estimate" in legend_labels(fig, ax)
    assert "KL < 0" in ax.get_title()
    labels = notes(ax)  # the value over each bar, in rank order
    assert labels[0] == "2.1659\nKL = -0.0302 < 0\nbest"
    assert labels[1:] == ["2.3486", "2.2000"]  # round-off is no negative KL


def test_log_axes_and_hatches_are_the_same_bytes_on_every_run(tmp_path, data):
    x = np.log(np.geomspace(1.0, 50.0, 300))
    spec = {**data["reliability"], "x": x, "rc": np.maximum.accumulate(x - 0.1),
            "weights": np.ones_like(x), "points": None, "scale": "log",
            "xlabel": "predicted median", "ylabel": "recalibrated median"}
    log = {"unit": "nats", "reliability": spec, "rootogram": data["rootogram"]}
    runs = [plots.model_plots(str(tmp_path / d), "lognormal", log, (BELOW, "student_t", "nats"))
            for d in "ab"]
    for a, b in zip(*runs, strict=True):
        check_png(a["path"])
        with open(a["path"], "rb") as fa, open(b["path"], "rb") as fb:
            assert fa.read() == fb.read(), a["kind"]
