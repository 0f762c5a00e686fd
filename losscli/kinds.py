"""Target kinds (SPEC §1.4): detection from pass 1's reductions, the `--target-kind`
check, and which families apply to each kind (read from what each family declares)."""

from __future__ import annotations

from losscli.errors import InputError, UsageError
from losscli.noise import FAMILIES
from losscli.noise.measures import ATOM_AT_ZERO, COUNTING, LEBESGUE, BaseMeasure
from losscli.noise.support import COUNTS, NONNEGATIVE, POSITIVE, REAL, UNIT_CLOSED, Support
from losscli.request import LABEL_KIND, MULTILABEL_KIND, SOFT_LABEL_KINDS
from losscli.rows import at_row

DESCRIPTIONS = dict(
    binary="every value in {0, 1}",
    count="integers ≥ 0, some value > 1",
    integer="integers, some negative",
    proportion="reals in [0, 1], not all in {0, 1}",
    positive="reals > 0",
    semicontinuous="reals ≥ 0 with zeros and non-integers",
    real="real numbers",
    categorical="class labels",
    soft_binary="soft labels for P(y = 1)",
    soft_categorical="soft label vectors",
    multilabel="several label columns, each 0/1 or a soft label in [0, 1]",
)
# targets that are not numbers, or not one number per row
LABEL_KINDS = (LABEL_KIND, *SOFT_LABEL_KINDS, MULTILABEL_KIND)
# target kinds on which a discrete family competes, so continuous ones are discretised
COUNTING_KINDS = ("binary", "count", "integer")
# target kinds with an atom at 0 beside a density (SPEC §9.1)
ATOM_KINDS = ("semicontinuous",)


def measure(kind: str) -> BaseMeasure:
    """The base measure the families are compared on for a target kind (SPEC §1.6, §9.1)."""
    if kind in ATOM_KINDS:
        return ATOM_AT_ZERO
    return COUNTING if kind in COUNTING_KINDS or kind in LABEL_KINDS else LEBESGUE

# what a kind demands of every value, for checking --target-kind against the data
RULES: dict[str, tuple[Support, str]] = {
    "binary": (Support("0 or 1", 0.0, 1.0, False, False, integer=True), "0 or 1"),
    "count": (COUNTS, "integers ≥ 0"),
    "integer": (Support("integers", integer=True), "integers"),
    "proportion": (UNIT_CLOSED, "reals in [0, 1]"),
    "positive": (POSITIVE, "reals > 0"),
    "semicontinuous": (NONNEGATIVE, "reals ≥ 0"),
    "real": (REAL, "real numbers"),
}


def detect_kind(run) -> str:
    """The target kind from pass 1's reductions (SPEC §1.4)."""
    scan = run.scan
    if run.layout.multilabel:
        return MULTILABEL_KIND
    if run.layout.soft:
        return "soft_binary" if run.layout.classes == [] and len(run.cols.soft) == 1 \
            else "soft_categorical"
    if run.layout.labels:
        return LABEL_KIND
    return numeric_kind(scan.integral, scan.ymin < 0.0, scan.ymin <= 0.0, scan.ymax > 1.0)


def numeric_kind(whole: bool, negative: bool, nonpositive: bool, above_one: bool) -> str:
    """The kind of numeric targets: all whole numbers or not, some < 0, some ≤ 0, some > 1.
    Reals ≥ 0 with a zero (some ≤ 0, none < 0) and a non-integer are semicontinuous
    (SPEC §9.1), unless they all lie in [0, 1] (a proportion)."""
    if whole and not negative and not above_one:
        return "binary"
    if whole:
        return "integer" if negative else "count"
    if not negative and not above_one:
        return "proportion"
    if not nonpositive:
        return "positive"
    if not negative:
        return "semicontinuous"
    return "real"


def resolve(run, override: str | None) -> str:
    """The detected kind, or the user's --target-kind after checking the data allow it."""
    detected = detect_kind(run)
    if override is None or override == detected:
        return detected
    if override in RULES and detected in RULES:
        support, what = RULES[override]
        first = run.scan.outside[support]
        if first.row is not None:
            raise InputError(f"--target-kind {override} needs {what}",
                             column=run.cols.target, value=first.value,
                             **at_row(run, first.row))
        return override
    raise UsageError(f"--target-kind {override} does not fit this target "
                     f"(detected {detected}: {DESCRIPTIONS[detected]})")


def candidates(kind: str, named=()) -> tuple[list[str], list[tuple[str, str]]]:
    """Families that apply to this kind, and the others with the reason; a family that is
    no default candidate here (`Family.candidate` false, or the kind not among its
    `candidate_kinds`) is in neither list unless named."""
    asked = [n for n, cls in FAMILIES.items() if n in named or cls.candidate and (
        cls.candidate_kinds is None or kind in cls.candidate_kinds)]
    names = [n for n in asked if kind in FAMILIES[n].applies_to]
    skipped = [(n, skip_reason(FAMILIES[n], kind)) for n in asked if n not in names]
    return names, skipped


def default_family(kind: str, has_prediction: bool) -> str:
    """evaluate's family when none is named (SPEC §3)."""
    wanted = ([f"{kind} with prediction"] if has_prediction else []) + [kind]
    for key in wanted:
        for name, cls in FAMILIES.items():
            if key in cls.default_for:
                return name
    raise UsageError(f"no default family for a {kind} target; name one with --family")


def skip_reason(cls, kind: str) -> str:
    what = DESCRIPTIONS[kind]
    if kind in cls.soft_label_kinds:
        return (f"it reads the {kind} target as soft labels, and a soft-label cross-entropy "
                f"is not ranked against densities; score it with evaluate -f {cls.name}")
    if cls.requirement is not None:
        return f"needs {cls.requirement}; the target is {kind} ({what})"
    if kind == MULTILABEL_KIND:
        return f"needs one target column; the target is {kind} ({what})"
    if kind in LABEL_KINDS:
        return f"needs numeric targets; the target holds {what}"
    if kind == "proportion" and cls.support.upper > 1.0:
        return f"its support ({cls.support.description}) runs past 1; the target is {kind}"
    return f"needs {cls.support.description}; the target is {kind} ({what})"
