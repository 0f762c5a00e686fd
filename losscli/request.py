"""Everything the user asked for, as one frozen value the core reads (no CLI types)."""

from __future__ import annotations

import functools
import numbers
import types
from dataclasses import dataclass
from typing import Annotated, Literal, Union, get_args, get_origin, get_type_hints

from losscli.errors import UsageError

FAMILY_NAMES = (
    "gaussian", "laplace", "student_t", "bernoulli", "categorical",
    "poisson", "negative_binomial", "gamma", "lognormal", "beta",
)
# the target kinds whose values are not numbers: class labels, and soft labels
LABEL_KIND, SOFT_LABEL_KINDS = "categorical", ("soft_categorical", "soft_binary")
TARGET_KINDS = (
    "binary", "categorical", "count", "integer", "proportion", "positive", "real",
    "soft_binary", "soft_categorical",
)
# what users write for a family: case, hyphens and spaces do not matter
FAMILY_ALIASES = {
    "normal": "gaussian", "gauss": "gaussian", "mse": "gaussian", "l2": "gaussian",
    "laplacian": "laplace", "mae": "laplace", "l1": "laplace",
    "t": "student_t", "student": "student_t", "studentt": "student_t",
    "binomial": "bernoulli", "logistic": "bernoulli", "bce": "bernoulli",
    "binary": "bernoulli", "multinomial": "categorical", "softmax": "categorical",
    "multiclass": "categorical", "pois": "poisson", "nb": "negative_binomial",
    "nb2": "negative_binomial", "negbin": "negative_binomial",
    "negbinomial": "negative_binomial", "lognorm": "lognormal",
}
# the options' choices and ranges are the Request fields' types (read by `check` and by the
# Python API's signatures)
Unit = Literal["nats", "bits"]
Criterion = Literal["aic", "bic", "nll"]
Engine = Literal["local", "dask"]
InputFormat = Literal["csv", "tsv", "parquet"]
TargetKind = Literal[TARGET_KINDS]
PredScale = Literal["identity", "log", "logit"]


@dataclass(frozen=True)
class Range:
    """A number option's closed interval (None: unbounded on that side)."""

    low: float | None = None
    high: float | None = None


# the fields that are not options, the options one command has and another has not (as
# on the command line), and the option whose name is not its field's
NOT_OPTIONS = ("command", "path")
ONLY_IN = {
    "criterion": ("compare-noise-models", "diagnose"),
    "alpha": ("compare-noise-models", "diagnose"),
    "best": ("diagnose",),
    "diagnostics": ("evaluate", "compare-noise-models"),
}
OPTION_NAMES = {"families": "family"}
DEFAULT_FIT_ROWS = 1_000_000
DEFAULT_EPS = 2.220446049250313e-16  # float64 machine epsilon (numpy stays out of start-up)


@dataclass(frozen=True)
class Request:
    command: str  # "evaluate" | "compare-noise-models" | "diagnose"
    # one path, several read as one data set, or data in memory (sources.Spooled)
    path: object
    target: str | None = None
    pred: str | None = None
    probs: tuple[str, ...] = ()
    logits: tuple[str, ...] = ()
    soft_target: tuple[str, ...] = ()
    weight: str | None = None
    input_format: InputFormat | None = None
    delimiter: str | None = None  # text files: the field separator (default ',' or tab)
    encoding: str | None = None  # text files: the character encoding (None: UTF-8)
    positive_label: str | None = None  # a text binary target: this value is 1, the other 0
    thousands: str | None = None  # the thousands separator of numbers written as 6,000
    no_pred: bool = False  # marginal mode even when a prediction column exists
    families: tuple[str, ...] = ()
    target_kind: TargetKind | None = None
    unit: Unit = "nats"
    criterion: Criterion = "aic"
    # the level at which the best family beats another (ties)
    alpha: Annotated[float, Range(0, 1)] = 0.05
    eps: Annotated[float, Range(0, 0.5)] = DEFAULT_EPS
    strict: bool = False
    renormalize: bool = False
    # None: fit on every row
    fit_rows: Annotated[int | None, Range(100)] = DEFAULT_FIT_ROWS
    # None: a Parquet row group, or 1M rows of text
    batch_rows: Annotated[int | None, Range(1)] = None
    engine: Engine = "local"
    # dask: LocalCluster worker processes (None: one per core)
    workers: Annotated[int | None, Range(1)] = None
    scheduler: str | None = None  # dask: a running scheduler's address (implies dask)
    # diagnostics (SPEC §7): attach them (evaluate: every model; compare: the best, or each
    # -f family); `diagnose --best` diagnoses the best of a comparison
    diagnostics: bool = False
    best: bool = False
    seed: int = 0  # the randomised PIT of the pictures, and the samples beyond --fit-rows
    plot: str | None = None  # write the pictures into this directory (implies diagnostics)
    # distinct predictions before the CORP pools them
    corp_max_unique: Annotated[int, Range(1)] = 2_000_000
    # model inputs (SPEC §8.1): parameters given per row by a column (NAME=COL) or held
    # at a value (NAME=VALUE); NAME may be FAMILY.NAME; the prediction's scale
    param: tuple[str, ...] = ()
    fix: tuple[str, ...] = ()
    pred_scale: PredScale = "identity"

    def __post_init__(self) -> None:
        check(self)

    @property
    def diagnosing(self) -> bool:
        return self.diagnostics or self.plot is not None or self.command == "diagnose"

    @property
    def param_specs(self) -> tuple[ParamSpec, ...]:
        """`--param NAME=COL` values, parsed (in option order)."""
        return tuple(ParamSpec(*_assignment("--param", v)) for v in self.param)

    @property
    def fixed_specs(self) -> tuple[FixSpec, ...]:
        """`--fix NAME=VALUE` values, parsed (in option order)."""
        out = []
        for v in self.fix:
            family, name, text = _assignment("--fix", v)
            try:
                value = float(text)
            except ValueError:
                raise UsageError(f"--fix {v}: {text!r} is not a number") from None
            if value != value or value == -float("inf"):
                raise UsageError(f"--fix {v}: must be a number")
            out.append(FixSpec(family, name, value))
        return tuple(out)

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(self.path) if isinstance(self.path, (tuple, list)) else (self.path,)


@dataclass(frozen=True)
class ParamSpec:
    """`--param [FAMILY.]NAME=COL`: the parameter NAME (or a form of it: log_NAME, var,
    log_var) given per row by column COL, for FAMILY only or every family declaring it."""

    family: str | None
    name: str
    column: str

    def __str__(self) -> str:
        return f"{self.family + '.' if self.family else ''}{self.name}"


@dataclass(frozen=True)
class FixSpec:
    """`--fix [FAMILY.]NAME=VALUE`: the parameter NAME held at VALUE instead of fitted."""

    family: str | None
    name: str
    value: float

    def __str__(self) -> str:
        return f"{self.family + '.' if self.family else ''}{self.name}"


def _assignment(option: str, text: str) -> tuple[str | None, str, str]:
    """(family or None, name, right-hand side) of `[FAMILY.]NAME=RHS`; a usage error
    when malformed or FAMILY is not a family."""
    name, sep, rhs = str(text).partition("=")
    name, rhs = name.strip(), rhs.strip()
    form = "FAMILY.NAME=COL" if option == "--param" else "FAMILY.NAME=VALUE"
    if not sep or not name or not rhs:
        raise UsageError(f"{option} {text}: expected NAME=" + form.split("=")[1]
                         + f" or {form}")
    family, dot, short = name.rpartition(".")
    if not dot:
        return None, name, rhs
    try:
        fam = family_names((family,))[0] if family else ""
    except UsageError as exc:
        raise UsageError(f"{option} {text}: " + str(exc).removeprefix("--family: ")
                         ) from None
    if not fam or not short:
        raise UsageError(f"{option} {text}: expected NAME=" + form.split("=")[1]
                         + f" or {form}")
    return fam, short, rhs


def family_names(values: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """The registry names of `--family` values: case-insensitive, comma lists, the usual
    aliases (normal, nb, t, binomial, multinomial, lognorm, …); an unknown name is a
    usage error with the closest known ones."""
    out: list[str] = []
    for value in values:
        for raw in str(value).split(","):
            key = raw.strip().lower().replace("-", "_").replace(" ", "_")
            if not key:
                continue
            name = key if key in FAMILY_NAMES else FAMILY_ALIASES.get(key.replace("_", ""))
            if name is None:
                name = FAMILY_ALIASES.get(key)
            if name is None:
                hint = did_you_mean(key, FAMILY_NAMES + tuple(FAMILY_ALIASES), FAMILY_ALIASES,
                                    cutoff=0.75)
                raise UsageError(f"--family: unknown family {raw.strip()!r}{hint}; "
                                 f"choose from {', '.join(FAMILY_NAMES)}")
            if name not in out:
                out.append(name)
    return tuple(out)


def did_you_mean(word: str, known, aliases: dict | None = None, cutoff: float = 0.6) -> str:
    """ " (did you mean 'x'?)" for the closest known words (aliases shown as what they
    stand for), or nothing."""
    import difflib

    close = difflib.get_close_matches(word, list(known), n=3, cutoff=cutoff)
    if not close:
        return ""
    aliases = aliases or {}
    names = " or ".join(repr(c) for c in dict.fromkeys(aliases.get(c, c) for c in close))
    return f" (did you mean {names}?)"


# the protocols of a Dask scheduler address (a plain HOST:PORT is tcp)
SCHEDULER_SCHEMES = ("tcp", "tls", "ws", "wss")


def scheduler_address(value: str) -> str:
    """`--scheduler`: tcp://HOST:PORT, tls:// (ws://, wss://), a bare HOST:PORT (read as
    tcp://), or the path of an existing scheduler file (the JSON `dask scheduler
    --scheduler-file` writes). The address in canonical form, or the file's path; anything
    else is a usage error, raised before a connection is tried."""
    import os
    import re

    text = value.strip()
    if "://" not in text and os.path.isfile(text):
        return text
    if "://" not in text and text.lower().endswith(".json"):
        raise UsageError(f"--scheduler {value}: no such scheduler file")
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "tcp", text
    forms = ("use tcp://HOST:PORT, tls://HOST:PORT, HOST:PORT or the path of a "
             "scheduler file")
    if scheme.lower() not in SCHEDULER_SCHEMES:
        raise UsageError(f"--scheduler {value}: {scheme}:// is not a Dask protocol; {forms}")
    match = re.fullmatch(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):([0-9]{1,5})/?", rest)
    if match is None or not 0 < int(match[2]) < 65536:
        what = "no port" if match is None and ":" not in rest else "not HOST:PORT"
        raise UsageError(f"--scheduler {value}: {what}; {forms}")
    return f"{scheme.lower()}://{match[1]}:{int(match[2])}"


def check_engine(engine: str | None, scheduler: str | None, workers: int | None) -> str:
    """The engine a run uses: `--scheduler` implies dask, and contradicts `--engine local`;
    `--workers` sizes the local Dask cluster, so it needs `--engine dask` and no
    `--scheduler` (a running cluster has its own workers; the local engine uses one
    thread per core, at most 8)."""
    if scheduler is not None and engine == "local":
        raise UsageError("--scheduler runs on a Dask cluster; it cannot be combined with "
                         "--engine local (drop one of them)")
    chosen = "dask" if scheduler is not None else engine or "local"
    if workers is not None and scheduler is not None:
        raise UsageError("--workers sizes the local Dask cluster started for the run; a "
                         "cluster at --scheduler has its own workers (drop --workers)")
    if workers is not None and chosen == "local":
        raise UsageError("--workers sizes the local Dask cluster and needs --engine dask; "
                         "the local engine uses one thread per core, at most 8")
    return chosen


def parse_fit_rows(value: str) -> int | None:
    """`--fit-rows N|all`: a whole number (at least 100, checked with the Request), or
    None for every row."""
    if value.strip().lower() == "all":
        return None
    try:
        return int(value.replace("_", "").replace(",", ""))
    except ValueError:
        raise UsageError(f"--fit-rows {value}: must be a whole number or 'all'") from None


def option_name(field: str) -> str:
    """The option (and Python keyword) a Request field is set by: `families` ← family."""
    return OPTION_NAMES.get(field, field)


@dataclass(frozen=True)
class Spec:
    """What an option takes, read from its Request field's type."""

    kind: object  # bool, int, float, str, tuple (of strings) or Literal
    optional: bool  # None is allowed
    choices: tuple = ()  # a Literal's values
    range: Range | None = None


@functools.cache
def specs() -> dict[str, Spec]:
    """Each option field's Spec, from the annotations."""
    out = {}
    for name, hint in get_type_hints(Request, include_extras=True).items():
        if name in NOT_OPTIONS:
            continue
        rng = None
        if get_origin(hint) is Annotated:
            hint, *meta = get_args(hint)
            rng = next((m for m in meta if isinstance(m, Range)), None)
        optional = (get_origin(hint) in (Union, types.UnionType)
                    and type(None) in get_args(hint))
        if optional:
            hint, = (a for a in get_args(hint) if a is not type(None))
        if get_origin(hint) is Literal:
            out[name] = Spec(Literal, optional, get_args(hint), rng)
        else:
            out[name] = Spec(get_origin(hint) or hint, optional, (), rng)
    return out


def check(req: Request) -> None:
    """Every option's value against its field's type, choices and range; whole numbers
    and numbers of other types (numpy's) become int and float. A wrong value is a usage
    error naming the option, the value and what is allowed (the closest choices)."""
    for name, spec in specs().items():
        value = getattr(req, name)
        if value is None and spec.optional:
            continue
        fixed = _checked(f"--{option_name(name).replace('_', '-')}", value, spec)
        if fixed is not value:
            object.__setattr__(req, name, fixed)
    req.param_specs, req.fixed_specs  # noqa: B018 (malformed values are usage errors now)


def _checked(opt: str, value, spec: Spec):
    kind = spec.kind
    if kind is Literal:
        if isinstance(value, str) and value in spec.choices:
            return value
        hint = did_you_mean(str(value).lower(), spec.choices)
        raise UsageError(f"{opt}: unknown value {value!r}{hint}; "
                         f"choose from {', '.join(spec.choices)}")
    if kind is bool:
        if getattr(getattr(value, "dtype", None), "kind", "") == "b" and value.ndim == 0:
            return bool(value)  # numpy's
        if not isinstance(value, bool):
            raise UsageError(f"{opt} {value!r}: must be True or False")
        return value
    if kind is str:
        if not isinstance(value, str):
            raise UsageError(f"{opt} {value!r}: must be a string")
        return value
    if kind is tuple:
        if not (isinstance(value, tuple) and all(isinstance(v, str) for v in value)):
            raise UsageError(f"{opt} {value!r}: must be a string or a list of strings")
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise UsageError(f"{opt} {value!r}: must be a whole number")
        number = int(value)
    elif kind is float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise UsageError(f"{opt} {value!r}: must be a number")
        number = float(value)
    else:
        return value
    low, high = (spec.range.low, spec.range.high) if spec.range else (None, None)
    if number != number:  # NaN: in no range
        raise UsageError(f"{opt} {value}: must be a number")
    if low is not None and not low <= number:
        raise UsageError(f"{opt} {value}: must be at least {low}")
    if high is not None and not number <= high:
        raise UsageError(f"{opt} {value}: must be at most {high}")
    return value if type(value) is type(number) else number
