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
    ce = [plots.cross_entropy_plot(str(tmp_path / d), MODELS, "negative_binomial", "nats")
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
        plots.cross_entropy_plot(str(blocker / "sub"), MODELS, "poisson", "nats")


@pytest.mark.parametrize("models, best, unit", [(MODELS, "negative_binomial", "nats"),
                                                (NEGATIVE, "gamma", "bits"),
                                                (NEGATIVE[2:], "gaussian", "nats"),
                                                ([], "", "nats")])
def test_cross_entropy(tmp_path, models, best, unit):
    out = plots.cross_entropy_plot(str(tmp_path), list(reversed(models)), best, unit)
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
        plots.cross_entropy_plot(str(tmp_path), MODELS, "poisson", "nats")
    assert os.listdir(tmp_path) == []


def test_import_does_not_import_matplotlib():
    code = ("import sys, losscli.plots; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'matplotlib'))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
