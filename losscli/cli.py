"""The command line: parse options into a Request, call the core, render. Nothing else.

Heavy modules (numpy, scipy, pyarrow) are imported inside the commands, so `--help` and
`--version` start fast; a test proves it.
"""

from __future__ import annotations

import os
import sys
import time
from enum import Enum
from typing import Annotated, Literal

import typer

from losscli import __version__
from losscli.errors import ExitCode, LossCliError, UsageError
from losscli.request import (
    DEFAULT_EPS,
    DEFAULT_FIT_ROWS,
    FAMILY_NAMES,
    TARGET_KINDS,
    Request,
    check_engine,
    did_you_mean,
    family_names,
    parse_fit_rows,
    scheduler_address,
)

app = typer.Typer(
    help="Audit the choice of loss function: every standard loss is the negative "
    "log-likelihood of a noise model. Fit the candidates, rank them, test the "
    "differences and recommend the loss to train with.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    # --install-completion / --show-completion for bash, zsh, fish and PowerShell; the
    # completion code is Typer's and imports nothing of ours beyond this module
    add_completion=True,
)


class _Command(typer.core.TyperCommand):
    """A data command whose help names its arguments as declared: `FILE...` in the usage
    line and in the list, without Typer's braces and element type."""

    def collect_usage_pieces(self, ctx) -> list[str]:
        pieces = [self.options_metavar or "[OPTIONS]"]
        for param in self.get_params(ctx):
            if param.param_type_name == "argument" and param.metavar:
                pieces.append(param.metavar)
            else:
                pieces.extend(param.get_usage_pieces(ctx))
        return pieces

    def format_options(self, ctx, formatter) -> None:
        params = self.get_params(ctx)
        args = [(p.metavar or p.name.upper(), p.help or "") for p in params
                if p.param_type_name == "argument" and p.metavar]
        opts = [rec for p in params if p.param_type_name == "option"
                and (rec := p.get_help_record(ctx)) is not None]
        for title, rows in (("Arguments", args), ("Options", opts)):
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)

# choices from the core's own lists, so help cannot drift from what the core accepts
Kind = Enum("Kind", {n: n for n in TARGET_KINDS}, type=str)  # type: ignore[misc]

# ---- options shared by the commands, declared once
FileArg = Annotated[list[str], typer.Argument(
    metavar="FILE...", help="CSV, TSV, .csv.gz or Parquet files, quoted globs or directories "
    "of Parquet parts, read as one data set; '-' reads CSV from stdin.",
    show_default=False)]
TargetOpt = Annotated[str | None, typer.Option(
    "--target", "-t", metavar="COLUMN",
    help="Target column (default: y, target, label, y_true or actual).")]
PredOpt = Annotated[str | None, typer.Option(
    "--pred", "-p", metavar="COLUMN",
    help="Prediction column: the mean, median, location or P(y=1) "
    "(default: y_pred, pred, prediction, predicted, yhat, y_hat, mu, prob, p, y_prob, "
    "y_proba, proba, probability, pred_proba, y_pred_proba, y_score, score or forecast).")]
ProbsOpt = Annotated[list[str] | None, typer.Option(
    "--probs", metavar="COLUMNS",
    help="Class-probability columns: comma list or glob such as 'p_*' "
    "(default: columns named p_*, prob_* or proba_*).")]
LogitsOpt = Annotated[list[str] | None, typer.Option(
    "--logits", metavar="COLUMNS",
    help="Logit columns (comma list or glob); one column is a binary logit.")]
SoftOpt = Annotated[list[str] | None, typer.Option(
    "--soft-target", metavar="COLUMNS", help="Soft-label columns, in the same class order as the "
    "probabilities; one column is a soft P(y=1).")]
WeightOpt = Annotated[str | None, typer.Option(
    "--weight", "-w", metavar="COLUMN", help="Frequency-weight column (≥ 0).")]
FormatInOpt = Annotated[Literal["csv", "tsv", "parquet"] | None, typer.Option(
    "--input-format", help="Override the format implied by the file extension.")]
DelimiterOpt = Annotated[str | None, typer.Option(
    "--delimiter", metavar="CHAR", help="Field separator of text files, e.g. ';' or '\\t' "
    "(default: ',' for CSV, tab for TSV).")]
EncodingOpt = Annotated[str | None, typer.Option(
    "--encoding", metavar="CODEC", help="Character encoding of text files, e.g. latin-1, "
    "cp1252 (default: UTF-8, with or without a byte-order mark).")]
ThousandsOpt = Annotated[str | None, typer.Option(
    "--thousands", metavar="CHAR", help="Thousands separator of numbers written as text, "
    "e.g. ',' reads \"6,000\" as 6000 (default: none; such a value is an error).")]
PositiveOpt = Annotated[str | None, typer.Option(
    "--positive-label", metavar="VALUE", help="A binary target written as text (yes/no, "
    "spam/ham): this value is 1, the other 0, as P(y=1) of one prediction column.")]
NoPredOpt = Annotated[bool, typer.Option(
    "--no-pred", help="Marginal mode: ignore prediction columns (fit the target alone).")]
FamilyOpt = Annotated[list[str] | None, typer.Option(
    "--family", "-f", metavar="FAMILY", help="Noise family (repeatable, or a comma list; "
    "any case, usual aliases such as normal, nb, t): " + ", ".join(FAMILY_NAMES) + ".")]
KindOpt = Annotated[Kind | None, typer.Option(
    "--target-kind", metavar="KIND", help="Override the detected target kind: "
    + ", ".join(TARGET_KINDS) + ".")]
UnitOpt = Annotated[Literal["nats", "bits"], typer.Option(
    "--unit", help="Unit of nll, cross-entropy, entropy and KL.")]
OutFormatOpt = Annotated[Literal["table", "json"], typer.Option(
    "--format", help="Rich table for people, or strict JSON for tools.")]
OutputOpt = Annotated[str | None, typer.Option(
    "--output", "-o", metavar="FILE",
    help="Write the result to this file (atomically) instead of stdout.")]
HtmlOpt = Annotated[str | None, typer.Option(
    "--html", metavar="FILE", help="Also write the report as one self-contained HTML page "
    "(tables, tests, recommendation, diagnostics, the --plot pictures embedded, warnings, "
    "command line and version), atomically.")]
EpsOpt = Annotated[float, typer.Option(
    "--eps", min=0.0, max=0.5, help="Clip probabilities to [eps, 1-eps]; 0 disables. "
    "Default: float64 machine epsilon.")]
StrictOpt = Annotated[bool, typer.Option(
    "--strict", help="Rows with missing or non-finite values are an error, not dropped.")]
RenormOpt = Annotated[bool, typer.Option(
    "--renormalize", help="Rescale probability rows that do not sum to 1.")]
FitRowsOpt = Annotated[str, typer.Option(
    "--fit-rows", metavar="N|all",
    help="Fit numeric nuisance parameters on a seeded sample of this many "
    "rows ('all' disables); scoring always uses every row.")]
BatchRowsOpt = Annotated[int | None, typer.Option(
    "--batch-rows", metavar="N", min=1,
    help="Rows per batch (default: one Parquet row group, or 1,048,576 rows of text).")]
EngineOpt = Annotated[Literal["local", "dask"] | None, typer.Option(
    "--engine", help="Where the reductions run: this machine's threads (the default), or a "
    "Dask cluster (needs losscli[dask]).", show_default=False)]
WorkersOpt = Annotated[int | None, typer.Option(
    "--workers", metavar="N", min=1,
    help="With --engine dask: worker processes of the local cluster started for the run "
    "(default: one per core). The local engine takes no --workers.")]
SchedulerOpt = Annotated[str | None, typer.Option(
    "--scheduler", metavar="ADDRESS",
    help="A running Dask scheduler: tcp://HOST:PORT, tls://HOST:PORT, HOST:PORT or a "
    "scheduler file (implies --engine dask; 10 s to connect).")]
AlphaOpt = Annotated[float, typer.Option(
    "--alpha", min=0.0, max=1.0, help="Level of the tests that decide which families the "
    "best one beats (the others are its ties).")]
ColorOpt = Annotated[Literal["auto", "always", "never"], typer.Option(
    "--color", help="Colour in tables: auto follows the terminal and NO_COLOR.")]
CriterionOpt = Annotated[Literal["aic", "bic", "nll"], typer.Option(
    "--criterion", help="Ranking criterion.")]
DiagnosticsOpt = Annotated[bool, typer.Option(
    "--diagnostics", help="Does the model fit, and where not: PIT, dispersion, zero and "
    "calibration tests, the loss decomposed (CORP), rootogram, reliability bins.")]
SeedOpt = Annotated[int, typer.Option(
    "--seed", metavar="N", help="Seeds the randomised PIT of the qq and residuals pictures "
    "and the samples taken beyond --fit-rows; no other number depends on it.")]
PlotOpt = Annotated[str | None, typer.Option(
    "--plot", metavar="DIR", help="Write the diagnostic pictures (PNG) into DIR; implies "
    "--diagnostics and needs losscli[plot].")]
CorpOpt = Annotated[int, typer.Option(
    "--corp-max-unique", metavar="N", min=1, help="Distinct predictions the decomposition "
    "recalibrates exactly; beyond, it pools them into 65,536 equal-count bins.")]
ParamOpt = Annotated[list[str] | None, typer.Option(
    "--param", metavar="NAME=COL", help="A parameter given per row by column COL "
    "(repeatable): sigma, log_sigma, var, log_var, alpha, df, …; FAMILY.NAME=COL for one "
    "family. Needs a prediction.")]
FixOpt = Annotated[list[str] | None, typer.Option(
    "--fix", metavar="NAME=VALUE", help="Hold a parameter at VALUE instead of fitting it "
    "(repeatable; FAMILY.NAME=VALUE for one family), e.g. student_t.df=5.")]
PredScaleOpt = Annotated[Literal["identity", "log", "logit"], typer.Option(
    "--pred-scale", help="The scale of the prediction column: the prediction itself, its "
    "natural log (a log-mean, a GLM's linear predictor) or its logit.")]
BestOpt = Annotated[bool, typer.Option(
    "--best", help="Compare the noise models (compare-noise-models' output) and diagnose "
    "the best one.")]



def _version(value: bool) -> None:
    if value:
        typer.echo(f"losscli {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, help="Show the version and exit.")]
    = False,
) -> None:
    """Audit the choice of loss function as the choice of a noise model."""


def _run(command: str, fmt: str, output: str | None, color: str, fields: dict,
         html: str | None = None) -> None:
    req = Request(command=command, **fields)
    for option, out in (("--output", output), ("--html", html)):
        if out is not None and os.path.exists(out):
            for path in req.paths:
                if path != "-" and os.path.exists(path) and os.path.samefile(out, path):
                    raise UsageError(f"{option} {out} is an input file; the input is never "
                                     "overwritten: choose another output file")
    if html is not None and output is not None and os.path.abspath(html) == os.path.abspath(
            output):
        raise UsageError(f"--html and --output name the same file {html}: choose two files")
    from losscli import api, render

    show = fmt == "table" and sys.stderr.isatty()
    stages: list[tuple[str, float]] = [("start", time.perf_counter())]
    with render.DelayedStatus(enabled=show) as status:

        def progress(label: str) -> None:
            stages.append((label, time.perf_counter()))
            status(label)

        run = {"evaluate": api.evaluate, "diagnose": api.diagnose}.get(
            command, api.compare_noise_models)
        rep = run(req, progress)
    stages.append(("output", time.perf_counter()))
    if html is not None:
        from losscli import html_report

        page = html_report.to_html(rep, html_report.command_line(sys.argv))
        _write_atomically(html, lambda fh: fh.write(page))
    _emit(rep, fmt, output, color)
    stages.append(("", time.perf_counter()))
    if os.environ.get("LOSSCLI_TIMINGS") == "1":  # per-stage wall times, for benchmarks
        for line in timing_lines(stages):
            print(line, file=sys.stderr)


def timing_lines(stages: list[tuple[str, float]]) -> list[str]:
    """`timing: STAGE: S s`, one line per stage in order of first appearance: the
    progress ticks of a pass ("pass 1: reading — 3 of 9 MiB") add up under the pass, and
    the start mark is not a stage."""
    totals: dict[str, float] = {}
    for (label, t0), (_, t1) in zip(stages[1:], stages[2:], strict=False):
        stage = label.split(" — ")[0].strip()
        if stage:
            totals[stage] = totals.get(stage, 0.0) + (t1 - t0)
    return [f"timing: {stage}: {seconds:.3f} s" for stage, seconds in totals.items()]


def _emit(rep, fmt: str, output: str | None, color: str = "auto") -> None:
    """The report on stdout (or in --output); its warnings on stderr, in both formats."""
    from losscli import render, report

    use_color = {"always": True, "never": False}.get(color)
    if output is None:
        if fmt == "json":
            sys.stdout.write(report.to_json(rep))
        else:
            render.print_report(rep, color=use_color)
    else:
        _write_atomically(output, lambda fh: fh.write(report.to_json(rep)) if fmt == "json"
                          else render.print_report(rep, file=fh, color=False))
    for warning in rep["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)


def _write_atomically(output: str, write) -> None:
    """Write through a temp file in the same directory, then rename over `output`."""
    from losscli.atomic import write_atomically

    write_atomically(output, write)


def _fields(opts: dict) -> dict:
    """A command's options as Request fields (the option names are the field names)."""
    o = dict(opts)
    fmt, output = o.pop("format"), o.pop("output")
    color, html = o.pop("color"), o.pop("html")
    file = o.pop("file")
    if o["scheduler"] is not None:
        o["scheduler"] = scheduler_address(o["scheduler"])
    o.update(
        path=file[0] if len(file) == 1 else tuple(file),
        engine=check_engine(o["engine"], o["scheduler"], o["workers"]),
        probs=tuple(o["probs"] or ()), logits=tuple(o["logits"] or ()),
        soft_target=tuple(o.pop("soft_target") or ()),
        param=tuple(o["param"] or ()), fix=tuple(o["fix"] or ()),
        families=family_names(o.pop("family") or ()),
        target_kind=o["target_kind"].value if o["target_kind"] else None,
        fit_rows=parse_fit_rows(o["fit_rows"]))
    return {"fmt": fmt, "output": output, "color": color, "html": html, "fields": o}


# the data commands: each option is a Request field of the same name (see _fields)
def evaluate(
    file: FileArg, target: TargetOpt = None, pred: PredOpt = None, probs: ProbsOpt = None,
    logits: LogitsOpt = None, soft_target: SoftOpt = None, weight: WeightOpt = None,
    no_pred: NoPredOpt = False, input_format: FormatInOpt = None,
    delimiter: DelimiterOpt = None, encoding: EncodingOpt = None,
    thousands: ThousandsOpt = None, positive_label: PositiveOpt = None,
    family: FamilyOpt = None, target_kind: KindOpt = None,
    unit: UnitOpt = "nats", format: OutFormatOpt = "table", output: OutputOpt = None,
    html: HtmlOpt = None,
    color: ColorOpt = "auto", eps: EpsOpt = DEFAULT_EPS, strict: StrictOpt = False,
    renormalize: RenormOpt = False, fit_rows: FitRowsOpt = str(DEFAULT_FIT_ROWS),
    batch_rows: BatchRowsOpt = None, engine: EngineOpt = None,
    workers: WorkersOpt = None, scheduler: SchedulerOpt = None,
    diagnostics: DiagnosticsOpt = False, seed: SeedOpt = 0, plot: PlotOpt = None,
    corp_max_unique: CorpOpt = 2_000_000,
    param: ParamOpt = None, fix: FixOpt = None, pred_scale: PredScaleOpt = "identity",
) -> None:
    """Score predictions under a noise model: cross-entropy = entropy + KL.

    With predictions (conditional mode) only the nuisance is fitted; without them
    (marginal mode) every parameter is fitted to the target.

    Example: losscli evaluate preds.csv -t y -p y_pred -f gaussian -f laplace
    """
    _run("evaluate", **_fields(locals()))


def compare_noise_models(
    file: FileArg, target: TargetOpt = None, pred: PredOpt = None, probs: ProbsOpt = None,
    logits: LogitsOpt = None, soft_target: SoftOpt = None, weight: WeightOpt = None,
    no_pred: NoPredOpt = False, input_format: FormatInOpt = None,
    delimiter: DelimiterOpt = None, encoding: EncodingOpt = None,
    thousands: ThousandsOpt = None, positive_label: PositiveOpt = None,
    family: FamilyOpt = None, target_kind: KindOpt = None,
    criterion: CriterionOpt = "aic", alpha: AlphaOpt = 0.05, unit: UnitOpt = "nats",
    html: HtmlOpt = None,
    format: OutFormatOpt = "table", output: OutputOpt = None, color: ColorOpt = "auto",
    eps: EpsOpt = DEFAULT_EPS, strict: StrictOpt = False, renormalize: RenormOpt = False,
    fit_rows: FitRowsOpt = str(DEFAULT_FIT_ROWS), batch_rows: BatchRowsOpt = None,
    engine: EngineOpt = None, workers: WorkersOpt = None, scheduler: SchedulerOpt = None,
    diagnostics: DiagnosticsOpt = False, seed: SeedOpt = 0, plot: PlotOpt = None,
    corp_max_unique: CorpOpt = 2_000_000,
    param: ParamOpt = None, fix: FixOpt = None, pred_scale: PredScaleOpt = "identity",
) -> None:
    """Fit every applicable noise model, rank them, test the differences, recommend a loss.

    Example: losscli compare-noise-models data.parquet -t y -p y_pred --format json
    """
    _run("compare-noise-models", **_fields(locals()))


def diagnose(
    file: FileArg, target: TargetOpt = None, pred: PredOpt = None, probs: ProbsOpt = None,
    logits: LogitsOpt = None, soft_target: SoftOpt = None, weight: WeightOpt = None,
    no_pred: NoPredOpt = False, input_format: FormatInOpt = None,
    delimiter: DelimiterOpt = None, encoding: EncodingOpt = None,
    thousands: ThousandsOpt = None, positive_label: PositiveOpt = None,
    family: FamilyOpt = None, target_kind: KindOpt = None,
    best: BestOpt = False, criterion: CriterionOpt = "aic", alpha: AlphaOpt = 0.05,
    unit: UnitOpt = "nats", format: OutFormatOpt = "table", output: OutputOpt = None,
    html: HtmlOpt = None,
    color: ColorOpt = "auto", eps: EpsOpt = DEFAULT_EPS, strict: StrictOpt = False,
    renormalize: RenormOpt = False, fit_rows: FitRowsOpt = str(DEFAULT_FIT_ROWS),
    batch_rows: BatchRowsOpt = None, engine: EngineOpt = None,
    workers: WorkersOpt = None, scheduler: SchedulerOpt = None, seed: SeedOpt = 0,
    plot: PlotOpt = None, corp_max_unique: CorpOpt = 2_000_000,
    param: ParamOpt = None, fix: FixOpt = None, pred_scale: PredScaleOpt = "identity",
) -> None:
    """Does the noise model fit, and where not? PIT, tests, the loss decomposed.

    Diagnoses the family evaluate would choose (or each -f); with --best, the best of
    compare-noise-models. Nothing is simulated: every number comes from the family's
    c.d.f. at the fitted parameters.

    Example: losscli diagnose counts.csv -f negative_binomial --plot /tmp/figures
    """
    _run("diagnose", **_fields(locals()))


# the command list shows these whole (Click would cut the docstring's first line)
app.command(cls=_Command, short_help="Score predictions under a noise model: "
            "cross-entropy = entropy + KL.")(evaluate)
app.command("compare-noise-models", cls=_Command, short_help="Fit every applicable noise "
            "model, rank them and recommend a loss.")(compare_noise_models)
app.command(cls=_Command, short_help="Does the noise model fit, and where not?")(diagnose)


@app.command(short_help="List the noise families and their losses in each framework.")
def families(format: OutFormatOpt = "table", output: OutputOpt = None,
             color: ColorOpt = "auto", html: HtmlOpt = None) -> None:
    """List the noise families: support, what the prediction means, nuisance, loss and
    the equivalent loss in PyTorch, scikit-learn, XGBoost and LightGBM.

    Example: losscli families --format json
    """
    from losscli.noise import describe

    rows = describe()
    if html is not None:
        if output is not None and os.path.abspath(html) == os.path.abspath(output):
            raise UsageError(f"--html and --output name the same file {html}: choose two files")
        from losscli import html_report

        page = html_report.families_html(rows, html_report.command_line(sys.argv))
        _write_atomically(html, lambda fh: fh.write(page))
    if format == "json":
        import json

        text = json.dumps({"command": "families", "version": __version__, "families": rows},
                          indent=2, ensure_ascii=False) + "\n"
        if output is None:
            sys.stdout.write(text)
        else:
            _write_atomically(output, lambda fh: fh.write(text))
        return
    from losscli.render import print_families

    use_color = {"always": True, "never": False}.get(color)
    if output is None:
        print_families(rows, color=use_color)
    else:
        _write_atomically(output, lambda fh: print_families(rows, file=fh, color=False))


# Click's exception classes, from wherever this Typer takes Click
_CLICK_ERROR = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")
# what pydantic (Typer's validator) says, in this tool's words
_PHRASES = (
    ("Input should be less than or equal to ", "must be at most "),
    ("Input should be greater than or equal to ", "must be at least "),
    ("Input should be less than ", "must be less than "),
    ("Input should be greater than ", "must be greater than "),
    ("Input should be a valid integer, unable to parse string as an integer",
     "must be a whole number"),
    ("Input should be a valid number, unable to parse string as a number",
     "must be a number"),
    ("Input should be ", "must be "),
)


def _choices(param) -> list[str]:
    """The values a choice option takes (Typer keeps them on the parameter's type)."""
    for owner in (getattr(param, "type_descriptor", None), getattr(param, "type", None)):
        choices = getattr(owner, "choices", None)
        if choices:
            return [str(getattr(c, "value", c)) for c in choices]
    return []


def usage_line(exc) -> str:
    """A Click usage error as one line: the option, the value and what it must be; for a
    choice, the closest values and the list."""
    import re

    param = getattr(exc, "param", None)
    if type(exc).__name__ == "NoSuchOption":
        close = getattr(exc, "possibilities", None) or ()
        hint = did_you_mean(exc.option_name, close, cutoff=0.8).replace("'", "")
        return f"no such option {exc.option_name}{hint}"
    if param is None or type(exc).__name__ == "MissingParameter":
        text = exc.format_message().strip().rstrip(".")
        text = text.replace("'FILE...'", "FILE...: name a data file, or '-' for stdin")
        return text[:1].lower() + text[1:]
    name = "/".join(param.opts) if param.param_type_name == "option" else \
        (param.metavar or param.name or "").strip()
    message = re.sub(r"^(Value error|Assertion failed), ", "", str(exc.message).strip())
    choices = _choices(param)
    given = re.match(r"'(.*)' is not one of", message)
    if choices and given:
        value = given[1]
        return (f"{name}: unknown value {value!r}{did_you_mean(value.lower(), choices)}; "
                f"choose from {', '.join(choices)}")
    for theirs, ours in _PHRASES:
        if message.startswith(theirs):
            message = ours + message[len(theirs):]
            break
    errors = getattr(exc.__cause__, "errors", None)  # pydantic's: the value as given
    value = errors()[0].get("input") if callable(errors) and errors() else None
    shown = f" {value}" if isinstance(value, str | int | float) else ""
    return f"{name}{shown}: {message.rstrip('.')}"


def main() -> None:
    """The one error boundary: `error: …` on stderr and an exit code, never a traceback
    (set LOSSCLI_DEBUG=1 to see one). A usage error, Click's too, is one line, exit 2."""
    debug = os.environ.get("LOSSCLI_DEBUG") == "1"
    if not debug:
        # libraries' warnings (e.g. scipy's SmallSampleWarning) are not our output: what
        # matters reaches the report's warnings
        import warnings

        warnings.simplefilter("ignore")
    try:
        # not standalone: Click's usage errors come here instead of its 4-line block
        rv = app(standalone_mode=False)
        code = rv if isinstance(rv, int) else ExitCode.OK
        if code == 130:  # Ctrl-C, which Typer turns into an exit code
            print("error: interrupted", file=sys.stderr)
    except _CLICK_ERROR as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # `losscli` alone: the help
            exc.show()
        elif debug:
            raise
        else:
            print(f"error: {usage_line(exc)}", file=sys.stderr)
        code = exc.exit_code
    except typer.Abort:
        print("error: aborted", file=sys.stderr)
        code = ExitCode.DATA_ERROR
    except LossCliError as exc:
        if debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        code = exc.exit_code
    except BrokenPipeError:
        # the reader went away (e.g. `| head`): not an error of ours
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        code = ExitCode.OK
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        code = 130
    except MemoryError:
        print("error: out of memory; try a smaller file or fewer columns", file=sys.stderr)
        code = ExitCode.DATA_ERROR
    except Exception as exc:  # a bug: still one line, with the way to see more
        if debug:
            raise
        print(f"error: internal error: {type(exc).__name__}: {exc} "
              "(run with LOSSCLI_DEBUG=1 for a traceback)", file=sys.stderr)
        code = ExitCode.DATA_ERROR
    sys.exit(int(code))
