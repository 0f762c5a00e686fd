"""Target-kind detection and which families apply to each kind (SPEC §1.4, §1.6)."""

from __future__ import annotations

import numpy as np

from losscli.dataset import Dataset
from losscli.errors import InputError, UsageError
from losscli.families import FAMILIES
from losscli.families.base import integral

REAL_FAMILIES = ("gaussian", "laplace", "student_t")
POSITIVE_FAMILIES = ("gamma", "lognormal")
COUNT_FAMILIES = ("poisson", "negative_binomial")

# kind -> (families that apply, in the order tried; what the kind means)
APPLICABLE: dict[str, tuple[tuple[str, ...], str]] = {
    "binary": (("bernoulli",) + COUNT_FAMILIES + REAL_FAMILIES, "every value in {0, 1}"),
    "count": (COUNT_FAMILIES + REAL_FAMILIES + POSITIVE_FAMILIES,
              "integers ≥ 0, some value > 1"),
    "integer": (REAL_FAMILIES, "integers, some negative"),
    "proportion": (("beta",) + REAL_FAMILIES, "reals in [0, 1], not all in {0, 1}"),
    "positive": (POSITIVE_FAMILIES + REAL_FAMILIES, "reals > 0"),
    "real": (REAL_FAMILIES, "real numbers"),
    "categorical": (("categorical",), "class labels"),
    "soft_binary": (("bernoulli",), "soft labels for P(y = 1)"),
    "soft_categorical": (("categorical",), "soft label vectors"),
}
# target kinds on which a discrete family competes, so continuous ones are discretised
COUNTING_KINDS = ("binary", "count", "integer")


def detect(ds: Dataset) -> str:
    """The target kind from the data alone (SPEC §1.4)."""
    if ds.soft:
        return "soft_binary" if ds.y.ndim == 1 else "soft_categorical"
    if ds.labels:
        return "categorical"
    y = ds.y
    if np.all((y == 0.0) | (y == 1.0)):
        return "binary"
    integer = bool(np.all(integral(y)))
    if integer:
        return "count" if y.min() >= 0 else "integer"
    if y.min() >= 0.0 and y.max() <= 1.0:
        return "proportion"
    if y.min() > 0.0:
        return "positive"
    return "real"


# what a kind demands of every value, for checking --target-kind against the data
_KIND_RULES = {
    "binary": (lambda y: (y == 0.0) | (y == 1.0), "0 or 1"),
    "count": (lambda y: (y >= 0) & integral(y), "integers ≥ 0"),
    "integer": (lambda y: integral(y), "integers"),
    "proportion": (lambda y: (y >= 0.0) & (y <= 1.0), "reals in [0, 1]"),
    "positive": (lambda y: y > 0.0, "reals > 0"),
    "real": (lambda y: np.isfinite(y), "real numbers"),
}


def resolve_kind(ds: Dataset, override: str | None) -> str:
    """The detected kind, or the user's --target-kind after checking the data allow it."""
    detected = detect(ds)
    if override is None or override == detected:
        return detected
    if override in _KIND_RULES and detected in _KIND_RULES:
        rule, what = _KIND_RULES[override]
        ok = rule(ds.y)
        if not ok.all():
            i = int(np.argmax(~ok))
            raise InputError(f"--target-kind {override} needs {what}", file=ds.path,
                             column=ds.target, row=ds.file_row(i), value=float(ds.y[i]))
        return override
    raise UsageError(f"--target-kind {override} does not fit this target "
                     f"(detected {detected}: {APPLICABLE[detected][1]})")


def candidates(kind: str) -> tuple[list[str], list[tuple[str, str]]]:
    """Families to fit on this kind (registered ones), and the others with the reason."""
    names = [f for f in APPLICABLE[kind][0] if f in FAMILIES]
    skipped = []
    for name, cls in FAMILIES.items():
        if name in names:
            continue
        skipped.append((name, skip_reason(name, cls, kind)))
    return names, skipped


def skip_reason(name: str, cls, kind: str) -> str:
    what = APPLICABLE[kind][1]
    if name == "categorical":
        return f"needs class labels; the target is {kind} ({what})"
    if name == "bernoulli":
        return f"needs targets in {{0, 1}} or soft labels; the target is {kind} ({what})"
    if kind in ("categorical", "soft_categorical", "soft_binary"):
        return f"needs numeric targets; the target holds {what}"
    if name in POSITIVE_FAMILIES and kind == "proportion":
        return f"its support ({cls.support.description}) runs past 1; the target is {kind}"
    return f"needs {cls.support.description}; the target is {kind} ({what})"
