"""The diagnostics of one model as text lines and a panel (rich): each test's statistic,
p-value and effect in words, the score decomposition, the PIT coverage."""

from __future__ import annotations

from typing import Any

from rich.panel import Panel
from rich.text import Text

from losscli.render_grid import NULL, SIG_MAX, column, finite, num, pval

ALPHA = 0.05  # the significance level of the diagnostics' wording
DEAN_MINOR = {"dispersion_dean_a": "A", "dispersion_dean_c": "C"}  # condensed after Dean B
APPROX = "approx."  # after a p-value whose null distribution is approximate


def _n(x: Any) -> str:
    """A test statistic or count: three significant digits."""
    return num(x, sig=3)


def _effect(x: Any, neutral: float) -> str:
    """An effect size with three significant digits, more when needed to tell it from
    its neutral value (a variance ratio of 1.004 is not written 1)."""
    s = num(x, sig=3)
    for sig in range(4, SIG_MAX + 1):
        if not finite(x) or x == neutral or float(s.replace(",", "")) != neutral:
            break
        s = num(x, sig=sig)
    return s


def diag_p(t: dict) -> str:
    """A test's p-value as `pval` writes it; 0 (an underflow) as "p < 1e-300", and
    "approx." after it when the null distribution is approximate."""
    p = t.get("p_value")
    text = "p < 1e-300" if p == 0 else pval(p)
    return f"{text} {APPROX}" if t.get("exact") is False else text


def _computed(t: dict) -> bool:
    return finite(t.get("statistic")) and finite(t.get("p_value"))


def _words(t: dict, side: int, above: str, below: str, same: str) -> str:
    """`above` or `below` the neutral effect when significant at ALPHA, else `same`."""
    if t["p_value"] >= ALPHA or side == 0:
        return same
    return above if side > 0 else below


def _sign(x: float, neutral: float) -> int:
    return (x > neutral) - (x < neutral)


def diag_test_line(t: dict, transform: str | None = None, alpha: str = "fitted") -> str:
    """One diagnostic test in words: the effect, then the test in parentheses. `transform` is
    the family's declared scale of ŷ and y ("log": the calibration test is on log y);
    `alpha` how the dispersion the Pearson test reads came ("fitted", "given", "held")."""
    kind = t.get("kind", "test")
    if not _computed(t):
        return f"{kind}: not computed (see warnings)"
    effect = t.get("effect") or {}
    v, stat, p = effect.get("value"), _n(t["statistic"]), diag_p(t)
    if not finite(v):
        return f"{kind}: {effect.get('name', 'effect')} not computed (statistic {stat}, {p})"
    ratio = _sign(v, 1.0)
    if kind.startswith("dispersion_dean_"):
        words = _words(t, ratio, "overdispersed", "underdispersed",
                       "dispersion consistent with the model")
        return (f"{words}: variance ≈ {_effect(v, 1.0)} × mean "
                f"(Dean {kind[-1].upper()} z = {stat}, {p})")
    if kind == "dispersion_pearson":
        words = _words(t, ratio, f"overdispersed beyond the {alpha} α",
                       f"underdispersed for the {alpha} α",
                       f"dispersion consistent with the {alpha} α")
        return f"{words}: Pearson X²/df ≈ {_effect(v, 1.0)} (X² = {stat}, {p})"
    if kind == "zero_inflation":
        words = _words(t, ratio, "excess zeros", "fewer zeros than expected", "zeros as expected")
        return f"{words}: {_effect(v, 1.0)} × the expected count (z = {stat}, {p})"
    if kind == "calibration_in_the_large":
        words = _words(t, _sign(v, 0.0), "predictions too low on average",
                       "predictions too high on average", "calibrated in the large")
        resid = "log y − log ŷ" if transform == "log" else "y − ŷ"
        return f"{words}: mean({resid}) = {_effect(v, 0.0)} (z = {stat}, {p})"
    if kind == "spiegelhalter":
        words = ("probabilities miscalibrated" if t["p_value"] < ALPHA
                 else "probabilities calibrated")
        return f"{words}: Brier excess {_effect(v, 0.0)} (Spiegelhalter z = {stat}, {p})"
    if kind == "pit_uniformity":
        if t["p_value"] < ALPHA:
            return f"PIT not uniform: KS distance D = {_effect(v, 0.0)} ({p})"
        return f"PIT consistent with uniform: D = {_effect(v, 0.0)} ({p})"
    if kind == "tail_exceedance":
        rows = "row" if t["statistic"] == 1 else "rows"
        return (f"{_effect(v, 1.0)} × the expected extreme PIT values (< 0.001 or > 0.999): "
                f"{stat} {rows} ({p})")
    return f"{kind}: {effect.get('name', 'effect')} = {num(v, sig=3)} (statistic {stat}, {p})"


def _tests_diag_lines(tests: list[dict], transform: str | None = None,
                      alpha: str = "fitted") -> list[str]:
    """A line per test, Dean's A and C tests condensed onto one line after Dean B's."""
    b = next((t for t in tests if t.get("kind") == "dispersion_dean_b" and _computed(t)), None)
    minor = [t for t in tests if b is not None and t.get("kind") in DEAN_MINOR and _computed(t)]
    out = []
    for t in tests:
        if any(t is m for m in minor):
            continue
        out.append(diag_test_line(t, transform, alpha))
        if t is b and minor:
            out.append("Dean " + ", ".join(f"{DEAN_MINOR[m['kind']]} z = {_n(m['statistic'])} "
                                           f"({diag_p(m)})" for m in minor))
    return out


DECOMPOSED = {"nll": "{score} {unit}", "top_label_log_loss": "top-label log loss {score} {unit}",
              "squared_error": "{score} (squared error)"}


def decomposition_line(d: dict, unit: str) -> str:
    """score = uncertainty − discrimination + miscalibration, in one number format."""
    dis_, mis_ = d.get("discrimination"), d.get("miscalibration")
    score, unc, dis, mis = column([d.get("score"), d.get("uncertainty"),  # signs written apart
                                   abs(dis_) if finite(dis_) else None,
                                   abs(mis_) if finite(mis_) else None], sig=4)
    lead = DECOMPOSED.get(d.get("scoring"), f"{d.get('scoring')} {{score}}")
    text = f"{lead.format(score=score, unit=unit)} = {unc} uncertainty"
    missing = [k for k in ("miscalibration", "discrimination") if not finite(d.get(k))]
    if missing:
        text += f"; {' and '.join(missing)} not computed"
    else:
        text += (f" {'−' if dis_ >= 0 else '+'} {dis} discrimination"
                 f" {'+' if mis_ >= 0 else '−'} {mis} miscalibration")
    return text + (" (binned)" if d.get("method") == "binned" else "")


def pit_line(pit: dict) -> str | None:
    """The PIT coverage, nominal → observed, in percent; None without any."""
    cov = pit.get("coverage") or []
    if not cov:
        return None
    observed = column([100 * c["observed"] if finite(c.get("observed")) else None
                       for c in cov], decimals=1)
    return "PIT coverage: " + ", ".join(
        f"{num(100 * c['nominal'])} % → {o}{'' if o == NULL else ' %'}"
        for c, o in zip(cov, observed, strict=True))


def diagnostics_lines(model: dict, unit: str) -> list[str]:
    """The lines of a model's diagnostics panel: a line per test, the decomposition, the
    PIT coverage and the pictures' paths; [] when the model was not diagnosed."""
    d = model.get("diagnostics")
    if not isinstance(d, dict):
        return []
    from losscli.noise import FAMILIES

    fam = FAMILIES.get(model.get("family"))
    # the α of the Pearson test: given per row (--param), held (--fix) or fitted
    alpha = "given" if "alpha" in (model.get("param_columns") or {}) else \
        "held" if "alpha" in (model.get("fixed") or {}) else "fitted"
    lines = _tests_diag_lines(d.get("tests") or [], fam.transform if fam else None, alpha)
    if isinstance(d.get("decomposition"), dict):
        lines.append(decomposition_line(d["decomposition"], unit))
    pit = pit_line(d["pit"]) if isinstance(d.get("pit"), dict) else None
    if pit:
        lines.append(pit)
    plots = [p["path"] for p in d.get("plots") or [] if isinstance(p, dict) and p.get("path")]
    if plots:
        lines.append("pictures: " + ", ".join(map(str, plots)))
    return lines


def diagnostics_panel(model: dict, unit: str) -> Panel | None:
    """The "Diagnostics: family" panel; None when there is nothing to show."""
    lines = diagnostics_lines(model, unit)
    if not lines:
        return None
    return Panel(Text("\n".join(lines)), title=Text(f"Diagnostics: {model['family']}",
                                                    style="bold"),
                 title_align="left", expand=False)
