"""The JSON report: SPEC §4 field names, units, and strict JSON (no NaN or Infinity).

Information quantities (nll, cross_entropy, entropy, kl, baseline_cross_entropy,
information_gain, delta_cross_entropy) are converted to the chosen unit; AIC and BIC are
criteria on the nats scale (2k + 2·nll), whatever the unit; ratios have none.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from typing import Any

from losscli import __version__
from losscli.score import ModelResult

LN2 = math.log(2.0)
IN_UNIT = ("nll", "cross_entropy", "entropy", "kl", "baseline_cross_entropy",
           "information_gain", "delta_cross_entropy")
MODEL_FIELDS = (
    "family", "loss", "prediction", "params", "fixed", "param_columns", "n_params", "n",
    "fit_rows", "nll", "cross_entropy",
    "entropy", "entropy_method", "kl", "aic", "bic", "baseline_cross_entropy",
    "information_gain", "normalized_entropy", "metrics", "base_measure",
    "distributional", "scores", "uncertainty", "metrics_se",
    "params_se",
)


def unit_scale(unit: str) -> float:
    """What a quantity in nats is multiplied by in `unit`."""
    return 1.0 / LN2 if unit == "bits" else 1.0


def model_dict(m: ModelResult, unit: str, extra: dict | None = None) -> dict:
    d = asdict(m)
    out = {k: d[k] for k in MODEL_FIELDS}
    if m.slices is not None:  # with --by
        out["slices"] = d["slices"]
    if m.labels is not None:  # a family of independent labels (SPEC §9.4)
        out["labels"] = d["labels"]
    out.update(extra or {})
    if m.infinite_explained:  # null, and the model's warning says why
        out = {k: None if isinstance(v, float) and not math.isfinite(v) else v
               for k, v in out.items()}
    if unit == "bits":
        for k in IN_UNIT:
            if out.get(k) is not None:
                out[k] = out[k] / LN2
        out["uncertainty"] = in_bits_uncertainty(out.get("uncertainty"))
        if out.get("slices"):
            out["slices"] = {**out["slices"], "rows": [
                {**r, **{k: r[k] / LN2 for k in ("cross_entropy", "se", "information_gain")
                         if r[k] is not None}} for r in out["slices"]["rows"]]}
        if out.get("labels"):
            out["labels"] = [{**r, "cross_entropy": r["cross_entropy"] / LN2}
                             if r["cross_entropy"] is not None else r for r in out["labels"]]
        if out.get("scores") and out["scores"].get("log_score") is not None:
            out["scores"] = {**out["scores"], "log_score": out["scores"]["log_score"] / LN2}
    return out


def in_bits_uncertainty(u: dict | None) -> dict | None:
    """An `uncertainty` block in bits: se and interval ends follow the unit (SPEC §10.1)."""
    if u is None:
        return None
    return {k: ({e: x / LN2 for e, x in v.items()} if isinstance(v, dict) else v)
            for k, v in u.items()}


def build(command: str, inp: dict, kind: str, mode: str, base_measure: str, unit: str,
          models: list[dict], warnings: list[str], **extra: Any) -> dict:
    report = {
        "command": command,
        "version": __version__,
        "input": inp,
        "target_kind": kind,
        "mode": mode,
        "base_measure": base_measure,
        "unit": unit,
        "models": models,
    }
    report.update(extra)
    warnings = list(warnings)
    report = finite(report, warnings)
    report["warnings"] = warnings
    return report


def finite(report: dict, warnings: list[str]) -> dict:
    """Replace every non-finite float by None, with a warning naming where it was (a
    model by its family) and what it was: infinite (beyond float64's range) or undefined
    (NaN)."""

    def walk(x: Any, where: str) -> Any:
        if isinstance(x, float) and not math.isfinite(x):
            warnings.append(f"{where} is {_non_finite(x)} and is reported as null")
            return None
        if isinstance(x, dict):
            return {k: walk(v, f"{where}.{k}" if where else k) for k, v in x.items()}
        if isinstance(x, list):
            return [walk(v, _item(where, i, v)) for i, v in enumerate(x)]
        if hasattr(x, "item") and not isinstance(x, (str, bytes)):  # numpy scalars
            return walk(x.item(), where)
        return x

    return walk(report, "")


def _non_finite(x: float) -> str:
    if math.isnan(x):
        return "undefined (NaN: its computation met ∞ − ∞ or 0/0)"
    return ("+" if x > 0 else "−") + "infinite (it overflows float64, beyond ±1.8e308)"


def _item(where: str, i: int, v: Any) -> str:
    """A list item's name: a model by its family (models[family=gaussian], SPEC §10.4's
    path), else by its index."""
    if where == "models" and isinstance(v, dict) and isinstance(v.get("family"), str):
        return f"models[family={v['family']}]"
    return f"{where}[{i}]"


def to_json(report: dict) -> str:
    return json.dumps(report, indent=2, allow_nan=False, ensure_ascii=False) + "\n"
