"""Everything the user asked for, as one frozen value the core reads (no CLI types)."""

from __future__ import annotations

import dataclasses
import functools
import math
import numbers
import os
import re
import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Literal, Union, get_args, get_origin, get_type_hints

from losscli.errors import UsageError, did_you_mean

FAMILY_NAMES = (
    "gaussian", "laplace", "student_t", "bernoulli", "categorical", "multilabel",
    "poisson", "negative_binomial", "gamma", "lognormal", "beta",
    "zero_inflated_poisson", "zero_inflated_negative_binomial", "inverse_gaussian",
    "hurdle_gamma", "hurdle_lognormal", "log1p_normal", "tweedie",
    "quantile", "expectile", "logcosh", "generalized_normal",
    "huber", "pseudo_huber", "fair", "epsilon_insensitive",
)
# `-f all`: every family that applies to the target, the ones fitted only when named too
ALL_FAMILIES = "all"
# the target kinds whose values are not numbers: class labels, and soft labels
LABEL_KIND, SOFT_LABEL_KINDS = "categorical", ("soft_categorical", "soft_binary")
# a target of several label columns, each 0/1 or a soft label (SPEC §9.4)
MULTILABEL_KIND = "multilabel"
TARGET_KINDS = (
    "binary", "categorical", "count", "integer", "proportion", "positive", "semicontinuous",
    "real", "soft_binary", "soft_categorical", MULTILABEL_KIND,
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
    "smoothl1": "huber", "pseudohuber": "pseudo_huber", "pseudohubererror": "pseudo_huber",
    "epsiloninsensitive": "epsilon_insensitive", "svr": "epsilon_insensitive",
    "zip": "zero_inflated_poisson", "zinb": "zero_inflated_negative_binomial",
    "invgauss": "inverse_gaussian",
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
    """A number option's interval (None: unbounded on that side), closed unless `open`."""

    low: float | None = None
    high: float | None = None
    open: bool = False


@dataclass(frozen=True)
class Opt:
    """How an option is written and shown, next to its field (the one place of its help).

    `short`: its one-letter flag; `metavar`: what --help calls its value; `parse`: reads
    the value as a user writes it (text, or a list of texts) into the field's value;
    `api`: the Python keyword's annotation where it takes more than the field's type;
    `implied`: the default follows other options, so the command line leaves it unset."""

    help: str
    short: str | None = None
    metavar: str | None = None
    parse: Callable | None = None
    api: object = None
    implied: bool = False


# the fields that are not options, the options one command has and another has not (as
# on the command line), and the option whose name is not its field's
NOT_OPTIONS = ("command", "path")
ONLY_IN = {
    "criterion": ("compare-noise-models", "diagnose"),
    "alpha": ("compare-noise-models", "diagnose"),
    "best": ("diagnose",),
    "diagnostics": ("evaluate", "compare-noise-models"),
    "scores": ("evaluate", "compare-noise-models"),
    "quantiles": ("evaluate",),
    "hac_lag": ("evaluate", "compare-noise-models"),
    "quantile_levels": ("evaluate",),
    "trained_with": ("evaluate", "compare-noise-models"),
}
OPTION_NAMES = {"families": "family"}
DEFAULT_FIT_ROWS = 1_000_000
DEFAULT_EPS = 2.220446049250313e-16  # float64 machine epsilon (numpy stays out of start-up)


# Each option is a field: its type holds its choices and range, its `Opt` its help (the
# commands' options and the Python API's keywords are generated from these, in this order).
@dataclass(frozen=True)
class Request:
    command: str  # "evaluate" | "compare-noise-models" | "diagnose"
    # one path, several read as one data set, or data in memory (sources.Spooled)
    path: object
    target: Annotated[str | None, Opt(
        "Target column (default: y, target, label, y_true or actual).",
        short="-t", metavar="COLUMN")] = None
    # several: each scored as its own model, and compared pairwise (SPEC §10.2)
    pred: Annotated[tuple[str, ...], Opt(
        "Prediction column: the mean, median, location or P(y=1) (default: y_pred, pred, "
        "prediction, predicted, yhat, y_hat, mu, prob, p, y_prob, y_proba, proba, "
        "probability, pred_proba, y_pred_proba, y_score, score or forecast). Repeatable, "
        "or a glob such as 'pred_*' (columns in file order): each prediction is scored "
        "and the pairs are compared (Diebold–Mariano test of the log score).",
        short="-p", metavar="COLUMN")] = ()
    probs: Annotated[tuple[str, ...], Opt(
        "Class-probability columns: comma list or glob such as 'p_*' (default: columns "
        "named p_*, prob_* or proba_*). Repeated with a group each ('a_p_*' then 'b_p_*', "
        "the same classes in the same order): each group is a prediction, scored and "
        "compared pairwise as with several -p.", metavar="COLUMNS")] = ()
    logits: Annotated[tuple[str, ...], Opt(
        "Logit columns (comma list or glob); one column is a binary logit. Repeatable "
        "with a group each, as --probs.",
        metavar="COLUMNS")] = ()
    soft_target: Annotated[tuple[str, ...], Opt(
        "Soft-label columns, in the same class order as the probabilities; one column is "
        "a soft P(y=1).", metavar="COLUMNS")] = ()
    weight: Annotated[str | None, Opt(
        "Frequency-weight column (≥ 0).", short="-w", metavar="COLUMN")] = None
    # the one form of the mode the user asks for: marginal even with a prediction column
    # (else the columns decide: a prediction makes it conditional)
    no_pred: Annotated[bool, Opt(
        "Marginal mode: ignore prediction columns (fit the target alone).")] = False
    # model inputs (SPEC §8.1): the prediction's scale; parameters given per row by a
    # column (NAME=COL) or held at a value (NAME=VALUE), NAME may be FAMILY.NAME: read
    # through `param_specs` and `fixed_specs`
    pred_scale: Annotated[PredScale, Opt(
        "The scale of the prediction column: the prediction itself, its natural log (a "
        "log-mean, a GLM's linear predictor) or its logit.")] = "identity"
    param: Annotated[tuple[str, ...], Opt(
        "A parameter given per row by column COL (repeatable): sigma, log_sigma, var, "
        "log_var, alpha, df, …; FAMILY.NAME=COL for one family. Needs a prediction.",
        metavar="NAME=COL", api=Mapping[str, str] | None)] = ()
    fix: Annotated[tuple[str, ...], Opt(
        "Hold a parameter at VALUE instead of fitting it (repeatable; FAMILY.NAME=VALUE "
        "for one family), e.g. student_t.df=5.",
        metavar="NAME=VALUE", api=Mapping[str, float] | None)] = ()
    # SPEC §10.2: the Newey–West lag of the prediction tests (time-ordered rows)
    hac_lag: Annotated[int, Range(0), Opt(
        "With several predictions on time-ordered rows: the Newey–West lag L of the "
        "variance of the prediction tests (Bartlett weights; 0, the default, is the "
        "i.i.d. variance). Not with --weight.", metavar="L")] = 0
    # SPEC §8.4
    quantiles: Annotated[tuple[str, ...], Opt(
        "Predicted-quantile columns (comma list or glob, e.g. 'q_*'); a column's level "
        "is the number ending its name (q_0.05, q0.9; p90 is 0.90) or given by "
        "--quantile-levels. One quantile model per level, with pinball loss, coverage, "
        "central intervals and the weighted interval score.", metavar="COLUMNS")] = ()
    quantile_levels: Annotated[tuple[float, ...], Range(0, 1, open=True), Opt(
        "The levels of the --quantiles columns in column order, each in (0, 1): a comma "
        "list such as 0.05,0.5,0.95.", metavar="LEVELS", parse=parse_levels,
        api=Sequence[float] | str | None)] = ()
    input_format: Annotated[InputFormat | None, Opt(
        "Override the format implied by the file extension.")] = None
    delimiter: Annotated[str | None, Opt(
        "Field separator of text files, e.g. ';' or '\\t' (default: ',' for CSV, tab for "
        "TSV).", metavar="CHAR")] = None
    encoding: Annotated[str | None, Opt(
        "Character encoding of text files, e.g. latin-1, cp1252 (default: UTF-8, with or "
        "without a byte-order mark).", metavar="CODEC")] = None
    thousands: Annotated[str | None, Opt(
        "Thousands separator of numbers written as text, e.g. ',' reads \"6,000\" as 6000 "
        "(default: none; such a value is an error).", metavar="CHAR")] = None
    positive_label: Annotated[str | None, Opt(
        "A binary target written as text (yes/no, spam/ham): this value is 1, the other "
        "0, as P(y=1) of one prediction column.", metavar="VALUE")] = None
    families: Annotated[tuple[str, ...], Opt(
        "Noise family (repeatable, or a comma list; any case, usual aliases such as "
        "normal, nb, t): " + ", ".join(FAMILY_NAMES) + "; 'all': every family that applies "
        "to the target.", short="-f", metavar="FAMILY",
        parse=family_names)] = ()
    # SPEC §9.5: the family, prediction scale and held parameter of a framework's loss
    trained_with: Annotated[str | None, Opt(
        "The framework loss the model was trained with, e.g. xgboost:reg:tweedie@1.5, "
        "torch:HuberLoss, lightgbm:quantile@0.9: sets its family (joining the candidates "
        "in compare-noise-models), the prediction's scale and the parameter trained with "
        "(the framework's default without @VALUE); `losscli losses` lists them.",
        metavar="FRAMEWORK:LOSS[@VALUE]")] = None
    target_kind: Annotated[TargetKind | None, Opt(
        "Override the detected target kind: " + ", ".join(TARGET_KINDS) + ".",
        metavar="KIND")] = None
    # diagnose: compare the noise models and diagnose the best one
    best: Annotated[bool, Opt(
        "Compare the noise models (compare-noise-models' output) and diagnose the best "
        "one.")] = False
    criterion: Annotated[Criterion, Opt("Ranking criterion.")] = "aic"
    # the level at which the best family beats another (ties)
    alpha: Annotated[float, Range(0, 1), Opt(
        "Level of the tests that decide which families the best one beats (the others "
        "are its ties).")] = 0.05
    unit: Annotated[Unit, Opt("Unit of nll, cross-entropy, entropy and KL.")] = "nats"
    # SPEC §10.1: the level of every interval
    level: Annotated[float, Range(0, 1, open=True), Opt(
        "Confidence level of the intervals (uncertainty), in (0, 1).",
        metavar="LEVEL")] = 0.95
    # SPEC §10.3: per-slice cross-entropy, with a test of each slice against the rest
    by: Annotated[str | None, Opt(
        "Slice the models' cross-entropy by the values of this column (text or "
        "integers): each slice against the other rows, Holm-adjusted.",
        metavar="COLUMN")] = None
    max_slices: Annotated[int, Range(1), Opt(
        "With --by: the most distinct values the column may have (more is an error: "
        "slice by a coarser column).", metavar="N")] = 1000
    eps: Annotated[float, Range(0, 0.5), Opt(
        "Clip probabilities to [eps, 1-eps]; 0 disables. Default: float64 machine "
        "epsilon.")] = DEFAULT_EPS
    strict: Annotated[bool, Opt(
        "Rows with missing or non-finite values are an error, not dropped.")] = False
    renormalize: Annotated[bool, Opt(
        "Rescale probability rows that do not sum to 1.")] = False
    # None: fit on every row
    fit_rows: Annotated[int | None, Range(100), Opt(
        "Fit numeric nuisance parameters on a seeded sample of this many rows ('all' "
        "disables); scoring always uses every row.", metavar="N|all", parse=parse_fit_rows,
        api=int | Literal["all"] | None)] = DEFAULT_FIT_ROWS
    # None: a Parquet row group, or 1M rows of text
    batch_rows: Annotated[int | None, Range(1), Opt(
        "Rows per batch (default: one Parquet row group, or 1,048,576 rows of text).",
        metavar="N")] = None
    engine: Annotated[Engine, Opt(
        "Where the reductions run: this machine's threads (the default), or a Dask "
        "cluster (needs losscli[dask]).", implied=True)] = "local"
    # dask: LocalCluster worker processes (None: one per core)
    workers: Annotated[int | None, Range(1), Opt(
        "With --engine dask: worker processes of the local cluster started for the run "
        "(default: one per core). The local engine takes no --workers.",
        metavar="N")] = None
    # dask: a running scheduler's address (implies dask)
    scheduler: Annotated[str | None, Opt(
        "A running Dask scheduler: tcp://HOST:PORT, tls://HOST:PORT, HOST:PORT or a "
        "scheduler file (implies --engine dask; 10 s to connect).", metavar="ADDRESS",
        parse=scheduler_address)] = None
    # diagnostics (SPEC §7): attach them (evaluate: every model; compare: the best, or each
    # -f family); `diagnose --best` diagnoses the best of a comparison
    diagnostics: Annotated[bool, Opt(
        "Does the model fit, and where not: PIT, dispersion, zero and calibration tests, "
        "the loss decomposed (CORP), rootogram, reliability bins.")] = False
    # SPEC §8.3
    scores: Annotated[bool, Opt(
        "Also report the CRPS and the central 50, 80, 90 and 95% intervals' coverage, "
        "mean width and interval score (with a prediction).")] = False
    # SPEC §10.4: conditions on the report that fail a CI job (read through `gate`)
    fail_if: Annotated[tuple[str, ...], Opt(
        "After writing the report, exit with code 3 if FIELD OP VALUE holds (repeatable; "
        "OP one of < <= > >= == !=; a null field holds), e.g. 'cross_entropy > 0.7', "
        "'recommendation.family != gaussian', 'models[family=poisson].metrics.mse >= 2'. "
        "FIELD is a path in the JSON report; a model field is read from the first model.",
        metavar="EXPR")] = ()
    # the randomised PIT of the pictures, and the samples beyond --fit-rows
    seed: Annotated[int, Opt(
        "Seeds the randomised PIT of the qq and residuals pictures and the samples taken "
        "beyond --fit-rows; no other number depends on it.", metavar="N")] = 0
    # write the pictures into this directory (implies diagnostics)
    plot: Annotated[str | None, Opt(
        "Write the diagnostic pictures (PNG) into DIR; implies --diagnostics and needs "
        "losscli[plot].", metavar="DIR", api=str | os.PathLike | None)] = None
    # distinct predictions before the CORP pools them
    corp_max_unique: Annotated[int, Range(1), Opt(
        "Distinct predictions the decomposition recalibrates exactly; beyond, it pools "
        "them into 65,536 equal-count bins.", metavar="N")] = 2_000_000

    def __post_init__(self) -> None:
        check(self)

    @property
    def diagnosing(self) -> bool:
        return self.diagnostics or self.plot is not None or self.command == "diagnose"

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(self.path) if isinstance(self.path, (tuple, list)) else (self.path,)

    @functools.cached_property
    def trained(self):
        """`--trained-with`, resolved (catalogue.Trained), or None."""
        if self.trained_with is None:
            return None
        from losscli.catalogue import trained_with

        return trained_with(self.trained_with)

    @property
    def class_weight(self) -> float | None:
        """The positive-class weight the model was trained with (--trained-with), whose
        effect on the predicted probability is undone before scoring; None: none."""
        t = self.trained
        return None if t is None else t.class_weight

    @property
    def gate(self) -> tuple:
        """`--fail-if`, parsed and checked against the report's schema (`gate.conditions`)."""
        from losscli import gate

        compare = self.command == "compare-noise-models" or (
            self.command == "diagnose" and self.best)
        several = not compare and (len(self.families) > 1 or _many(self.quantiles) or (
            bool(self.quantiles) and bool(self.families)) or _many(self.pred)
            or _groups(self.probs) or _groups(self.logits))
        return gate.conditions(self.fail_if, "compare-noise-models" if compare
                               else "evaluate", several)

    @property
    def param_specs(self) -> tuple[ParamSpec, ...]:
        """`--param`, parsed: the parameters given per row, in option order."""
        return tuple(ParamSpec(f, n, c) for f, n, c in assignments("--param", self.param))

    @property
    def fixed_specs(self) -> tuple[FixSpec, ...]:
        """`--fix`, parsed: the parameters held at a value, in option order."""
        return tuple(FixSpec(f, n, fixed_value(written, v)) for written, (f, n, v) in zip(
            self.fix, assignments("--fix", self.fix), strict=True))


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


def family_names(values: list[str] | tuple[str, ...], option: str = "--family"
                 ) -> tuple[str, ...]:
    """The registry names of `--family` values: case-insensitive, comma lists, the usual
    aliases (normal, nb, t, binomial, multinomial, lognorm, …); an unknown name is a
    usage error (naming `option`) with the closest known ones."""
    out: list[str] = []
    for value in values:
        for raw in str(value).split(","):
            key = raw.strip().lower().replace("-", "_").replace(" ", "_")
            if not key:
                continue
            if key == ALL_FAMILIES and option == "--family":
                name = ALL_FAMILIES
            else:
                name = key if key in FAMILY_NAMES else FAMILY_ALIASES.get(key.replace("_", ""))
            if name is None:
                name = FAMILY_ALIASES.get(key)
            if name is None:
                hint = did_you_mean(key, FAMILY_NAMES + tuple(FAMILY_ALIASES), FAMILY_ALIASES,
                                    cutoff=0.75)
                raise UsageError(f"{option}: unknown family {raw.strip()!r}{hint}; "
                                 f"choose from {', '.join(FAMILY_NAMES)}"
                                 + (" or all" if option == "--family" else ""))
            if name not in out:
                out.append(name)
    return tuple(out)




# the protocols of a Dask scheduler address (a plain HOST:PORT is tcp)
SCHEDULER_SCHEMES = ("tcp", "tls", "ws", "wss")


def scheduler_address(value: str) -> str:
    """`--scheduler`: tcp://HOST:PORT, tls:// (ws://, wss://), a bare HOST:PORT (read as
    tcp://), or the path of an existing scheduler file (the JSON `dask scheduler
    --scheduler-file` writes). The address in canonical form, or the file's path; anything
    else is a usage error, raised before a connection is tried."""
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


def flag(field: str) -> str:
    """The command-line option of a Request field: `soft_target` ← --soft-target."""
    return "--" + option_name(field).replace("_", "-")


def parse_levels(values: tuple[str, ...]) -> tuple[float, ...]:
    """`--quantile-levels 0.05,0.5,0.95` (repeatable): the numbers, in order (their range
    is checked with the Request)."""
    out = []
    for raw in (r.strip() for value in values for r in value.split(",")):
        try:
            out.append(float(raw))
        except ValueError:
            raise UsageError(f"--quantile-levels {raw}: must be a number; write the levels "
                             "as a comma list such as 0.05,0.5,0.95") from None
    return tuple(out)


def assignments(option: str, values: tuple[str, ...]) -> list[tuple[str | None, str, str]]:
    """`[FAMILY.]NAME=RHS` values (`--param`, `--fix`) as (family or None, NAME, RHS),
    split at the first '=': NAME a parameter name (sigma, log_sigma, var, …), FAMILY a
    family as `--family` takes it. Whether the family declares NAME is the core's to
    check (inputs.py)."""
    form = "COL" if option == "--param" else "VALUE"
    out = []
    for text in values:
        name, sep, rhs = str(text).partition("=")
        name, rhs = name.strip(), rhs.strip()
        family, dot, short = name.rpartition(".")
        if not sep or not name or not rhs or (dot and not (family and short)):
            raise UsageError(f"{option} {text}: expected NAME={form} or "
                             f"FAMILY.NAME={form}")
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", short) is None:
            raise UsageError(f"{option} {text}: {short!r} is not a parameter name (such as "
                             "sigma, log_sigma, df)")
        fams = family_names((family,), option=f"{option} {text}") if dot else (None,)
        if len(fams) != 1:
            raise UsageError(f"{option} {text}: FAMILY is one family")
        out.append((fams[0], short, rhs))
    return out


def fixed_value(written: str, text: str) -> float:
    """The VALUE of `--fix written`: a number (finite, or inf: student_t.df=inf)."""
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"--fix {written}: {text!r} is not a number") from None
    if value != value or value == -math.inf:
        raise UsageError(f"--fix {written}: must be a number")
    return value


def _check_model_inputs(req: Request) -> None:
    """`--param` and `--fix` well formed (what they name is checked with the data), and
    `--quantile-levels` only with `--quantiles`."""
    req.param_specs, req.fixed_specs  # noqa: B018 (malformed values are usage errors now)
    if req.hac_lag and req.weight is not None:
        raise UsageError(f"--hac-lag {req.hac_lag}: the Newey–West variance reads rows in "
                         "time order, one per observation; it takes no --weight")
    if req.quantile_levels and not req.quantiles:
        raise UsageError("--quantile-levels needs --quantiles (the columns whose levels "
                         "they are)")


def _as_tuple(value, pairs: bool):
    """A list option as given in Python: None (none), one string, any sequence, or where
    it takes `pairs` (param, fix) a mapping of NAME to COLUMN or VALUE (as NAME=… texts);
    other values are left to `check`."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Mapping):
        return tuple(f"{k}={v}" for k, v in value.items()) if pairs else value
    if hasattr(value, "__iter__") and not isinstance(value, bytes):
        return tuple(value)
    return value


def _written(value) -> bool:
    """A value as a user writes it: text, or a list of texts."""
    return isinstance(value, str) or (isinstance(value, tuple) and bool(value) and all(
        isinstance(v, str) for v in value))


def from_options(command: str, path, options: dict) -> Request:
    """The Request of a command's options (keyed by option name) as the command line or
    the Python API gives them: a path-like is its text, a list option also takes one
    string, a mapping or None, text is read by the field's `parse` (--fit-rows all,
    family aliases, a scheduler's address, levels), and the engine follows --scheduler
    and --workers; `check` then checks every value."""
    fields = {}
    for name, spec in specs().items():
        if (key := option_name(name)) not in options:
            continue
        value = options[key]
        if isinstance(value, os.PathLike):
            value = os.fspath(value)
        if spec.kind is tuple:
            value = _as_tuple(value, any(get_origin(a) is Mapping
                                         for a in get_args(spec.opt.api)))
        if spec.opt.parse is not None and _written(value):
            value = spec.opt.parse(value)
        fields[name] = value
    fields["engine"] = check_engine(options.get("engine"), fields.get("scheduler"),
                                    fields.get("workers"))
    return Request(command=command, path=path, **fields)


@dataclass(frozen=True)
class Spec:
    """What an option takes, read from its Request field's type."""

    kind: object  # bool, int, float, str, tuple or Literal
    optional: bool  # None is allowed
    choices: tuple = ()  # a Literal's values
    range: Range | None = None  # a number's, or a tuple's numbers'
    opt: Opt = Opt("")
    item: type = str  # a tuple's elements: str or float
    default: object = None  # the field's


@functools.cache
def specs() -> dict[str, Spec]:
    """Each option field's Spec, from the annotations, in field order."""
    out = {}
    defaults = {f.name: f.default for f in dataclasses.fields(Request)}
    for name, hint in get_type_hints(Request, include_extras=True).items():
        if name in NOT_OPTIONS:
            continue
        hint, *meta = get_args(hint) if get_origin(hint) is Annotated else (hint,)
        rng = next((m for m in meta if isinstance(m, Range)), None)
        opt = next(m for m in meta if isinstance(m, Opt))
        optional = (get_origin(hint) in (Union, types.UnionType)
                    and type(None) in get_args(hint))
        if optional:
            hint, = (a for a in get_args(hint) if a is not type(None))
        if get_origin(hint) is Literal:
            out[name] = Spec(Literal, optional, get_args(hint), rng, opt,
                             default=defaults[name])
        else:
            item = get_args(hint)[0] if get_origin(hint) is tuple else str
            out[name] = Spec(get_origin(hint) or hint, optional, (), rng, opt, item,
                             defaults[name])
    return out


def check(req: Request) -> None:
    """Every option's value against its field's type, choices and range; whole numbers
    and numbers of other types (numpy's) become int and float. A wrong value is a usage
    error naming the option, the value and what is allowed (the closest choices)."""
    for name, spec in specs().items():
        value = getattr(req, name)
        if value is None and spec.optional:
            continue
        fixed = _checked(flag(name), value, spec)
        if fixed is not value:
            object.__setattr__(req, name, fixed)
    _check_model_inputs(req)
    if req.fail_if:
        req.gate  # noqa: B018 -- parsed and checked here, before any data is read
    if req.trained_with is not None:
        _ = req.trained  # a loss that is unknown or not a likelihood: a usage error now


def _many(columns: tuple[str, ...]) -> bool:
    """More than one column: several, a comma list or a glob."""
    return len(columns) > 1 or any(ch in c for c in columns for ch in ",*?[")


def _groups(values: tuple[str, ...]) -> bool:
    """Several groups of class columns (SPEC §10.2): two or more values, each a comma list
    or a glob (a glob matching one column is known only from the header)."""
    return len(values) > 1 and all(any(ch in v for ch in ",*?[") for v in values)


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
    if kind is tuple and spec.item is str:
        # a Request's pred="y_pred", pred=["a", "b"] or pred=None
        if value is None or isinstance(value, (str, list)):
            value = () if value is None else (value,) if isinstance(value, str) else \
                tuple(value)
        if isinstance(value, tuple):  # probs=[["a_p0", "a_p1"], ["b_p0", "b_p1"]]: groups
            value = tuple(",".join(v) if isinstance(v, (list, tuple)) and v
                          and all(isinstance(c, str) for c in v) else v for v in value)
        if not (isinstance(value, tuple) and all(isinstance(v, str) for v in value)):
            raise UsageError(f"{opt} {value!r}: must be a string or a list of strings")
        return value
    if kind is tuple:  # of numbers
        if not isinstance(value, tuple):
            raise UsageError(f"{opt} {value!r}: must be a list of numbers")
        items = tuple(_checked(opt, v, Spec(spec.item, False, (), spec.range)) for v in value)
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
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
    rng = spec.range or Range()
    if number != number:  # NaN: in no range
        raise UsageError(f"{opt} {value}: must be a number")
    if rng.open:
        if rng.low is not None and not rng.low < number:
            raise UsageError(f"{opt} {value}: must be greater than {rng.low}")
        if rng.high is not None and not number < rng.high:
            raise UsageError(f"{opt} {value}: must be less than {rng.high}")
    if rng.low is not None and not rng.low <= number:
        raise UsageError(f"{opt} {value}: must be at least {rng.low}")
    if rng.high is not None and not number <= rng.high:
        raise UsageError(f"{opt} {value}: must be at most {rng.high}")
    return value if type(value) is type(number) else number
