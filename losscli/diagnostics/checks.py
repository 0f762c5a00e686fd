"""The goodness-of-fit tests of SPEC §7.4, from the pass's sums.

Each test is {kind, statistic, p_value, null_distribution, exact, effect: {name, value}}.
μ is the forecast (ŷ in conditional mode, the fitted mean in marginal mode), m the mean
parameters fitted (0 or 1), V the family's variance at μ and φ̂. Normal p-values are
2Φ(−|z|); a p-value that underflows is 0. `exact` is true only where the null moments are
exact: conditional mode, no nuisance fitted, and not Dean A.
"""

from __future__ import annotations

import math

from scipy import special

from losscli.diagnostics import nulls


def _test(kind: str, statistic, p, null: str, exact: bool, effect: str, value) -> dict:
    return {"kind": kind, "statistic": statistic, "p_value": p, "null_distribution": null,
            "exact": exact, "effect": {"name": effect, "value": value}}


def _normal_p(z: float) -> float:
    return float(2.0 * special.ndtr(-abs(z))) if math.isfinite(z) else math.nan


def _z(num: float, var: float) -> float:
    return num / math.sqrt(var) if var > 0.0 else math.nan


def _count(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def uniformity(d: float, W: float, whole: bool, exact: bool) -> dict:
    """KS of the PIT against U(0, 1): p = kstwo.sf(D, W)."""
    p = nulls.kolmogorov_sf(d, int(W)) if whole else None
    return _test("pit_uniformity", d, p, f"Kolmogorov({_count(W)})", exact, "ks_distance", d)


def tail(t: float, W: float, whole: bool, exact: bool) -> dict:
    """T = Σw[u < 0.001 or u > 0.999] against Binomial(W, 0.002): p = binomtest(T, W, 0.002)."""
    p = nulls.binomial_two_sided(int(round(t)), int(W), 0.002) if whole else None
    return _test("tail_exceedance", t, p, f"Binomial({_count(W)}, 0.002)", exact,
                 "observed_to_expected", t / (0.002 * W))


def dean(s: dict, W: float, m: int, exact: bool) -> list[dict]:
    """Dean's A, B and C at the means μ (statsmodels' test_poisson_dispersion)."""
    spread = math.sqrt(2.0 * s["f2"])
    a = (s["r2"] - s["f"]) / spread if spread > 0 else math.nan
    b = (s["r2"] - s["t"]) / spread if spread > 0 else math.nan
    c = s["dean_c"] / math.sqrt(2.0 * W)
    ratio = s["pearson_f"] / (W - m) if W > m else math.nan
    return [
        _test("dispersion_dean_a", a, _normal_p(a), "N(0,1)", False, "pearson_ratio", ratio),
        _test("dispersion_dean_b", b, _normal_p(b), "N(0,1)", exact, "pearson_ratio", ratio),
        _test("dispersion_dean_c", c, _normal_p(c), "N(0,1)", exact, "pearson_ratio", ratio),
    ]


def pearson(s: dict, W: float, m: int) -> dict:
    """X² = Σw(y − μ)²/V against χ²(W − m), two-sided: 2·min(F, 1 − F) (F the χ² c.d.f.,
    scipy.special's chdtr and chdtrc, which scipy.stats.chi2 evaluates)."""
    x2 = s["pearson_v"]
    df = W - m
    if df > 0 and math.isfinite(x2):
        p = min(1.0, 2.0 * min(float(special.chdtr(df, x2)), float(special.chdtrc(df, x2))))
    else:
        p = math.nan
    return _test("dispersion_pearson", x2, p, f"chi2({_count(df)})", False, "pearson_ratio",
                 x2 / df if df > 0 else math.nan)


def zeros(s: dict, marginal_poisson: bool, exact: bool) -> dict:
    """(N₀ − Σwp₀)/√v, v = Σwp₀(1 − p₀); for an intercept-only Poisson fit v less
    (Σwp₀μ)²/Σwμ (statsmodels' test_poisson_zeros)."""
    v = s["p0v"]
    if marginal_poisson:
        v -= s["p0f"] ** 2 / s["f"] if s["f"] > 0 else 0.0
    z = _z(s["zeros"] - s["p0"], v)
    ratio = s["zeros"] / s["p0"] if s["p0"] > 0 else math.nan
    return _test("zero_inflation", z, _normal_p(z), "N(0,1)", exact, "observed_to_expected",
                 ratio)


def calibration(s: dict, W: float, exact: bool) -> dict:
    """Σw(y − ŷ)/√ΣwV."""
    z = _z(s["res"], s["var"])
    return _test("calibration_in_the_large", z, _normal_p(z), "N(0,1)", exact,
                 "mean_residual", s["res"] / W)


def spiegelhalter(s: dict, W: float, exact: bool) -> dict:
    """Σw(y − p)(1 − 2p)/√Σw(1 − 2p)²p(1 − p)."""
    z = _z(s["sp"], s["spv"])
    return _test("spiegelhalter", z, _normal_p(z), "N(0,1)", exact, "brier_excess",
                 s["sp"] / W)
