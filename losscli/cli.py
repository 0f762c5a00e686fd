"""The command line: parse options into a Request, call the core, render. Nothing else.

Heavy modules (numpy, scipy, pyarrow) are imported inside the commands, so `--help` and
`--version` start fast; a test proves it.
"""

from __future__ import annotations

import inspect
import os
import sys
import time
from typing import Annotated, Literal

import typer

from losscli import __version__
from losscli.errors import ExitCode, LossCliError, UsageError
from losscli.request import (
    ONLY_IN,
    did_you_mean,
    flag,
    from_options,
    option_name,
    specs,
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

# ---- the options that are not the Request's: the file and where the report goes
FileArg = Annotated[list[str], typer.Argument(
    metavar="FILE...", help="CSV, TSV, .csv.gz or Parquet files, quoted globs or directories "
    "of Parquet parts, read as one data set; '-' reads CSV from stdin.",
    show_default=False)]
OutFormatOpt = Annotated[Literal["table", "json"], typer.Option(
    "--format", help="Rich table for people, or strict JSON for tools.")]
OutputOpt = Annotated[str | None, typer.Option(
    "--output", "-o", metavar="FILE",
    help="Write the result to this file (atomically) instead of stdout.")]
HtmlOpt = Annotated[str | None, typer.Option(
    "--html", metavar="FILE", help="Also write the report as one self-contained HTML page "
    "(tables, tests, recommendation, diagnostics, the --plot pictures embedded, warnings, "
    "command line and version), atomically.")]
ColorOpt = Annotated[Literal["auto", "always", "never"], typer.Option(
    "--color", help="Colour in tables: auto follows the terminal and NO_COLOR.")]
_OUTPUTS = {"format": (OutFormatOpt, "table"), "output": (OutputOpt, None),
            "html": (HtmlOpt, None), "color": (ColorOpt, "auto")}
_OUTPUTS_AFTER = "unit"  # where --help lists them


def _option(field: str) -> inspect.Parameter:
    """A Request field as a Typer option: its flag (and short flag), help, metavar,
    choices and range from the field; a list field is a repeatable option, a field read
    from text (`Opt.parse`) takes text, and an implied default is left unset."""
    spec = specs()[field]
    opt, default, limits = spec.opt, spec.default, {}
    if spec.kind is tuple:
        hint, default = list[str] | None, None
    elif spec.kind is Literal:
        hint = Literal[spec.choices]
    elif opt.parse is not None and spec.kind is not str:
        hint, default = str, None if default is None else str(default)
    else:
        hint = spec.kind
        if spec.range is not None and spec.kind in (int, float):
            limits = {"min": None if spec.range.low is None else spec.kind(spec.range.low),
                      "max": None if spec.range.high is None else spec.kind(spec.range.high)}
    if opt.implied:
        default = None
    if default is None and spec.kind is not tuple:
        hint = hint | None
    info = typer.Option(flag(field), *filter(None, [opt.short]), help=opt.help,
                        metavar=opt.metavar, **limits)
    return inspect.Parameter(option_name(field), inspect.Parameter.KEYWORD_ONLY,
                             default=default, annotation=Annotated[hint, info])


def _signature(command: str) -> inspect.Signature:
    """A data command's parameters: FILE..., then its Request options in field order, the
    output options after `unit`."""
    params = [inspect.Parameter("file", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                annotation=FileArg)]
    for field in specs():
        if command in ONLY_IN.get(field, (command,)):
            params.append(_option(field))
        if field == _OUTPUTS_AFTER:
            params.extend(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY,
                                            default=default, annotation=hint)
                          for name, (hint, default) in _OUTPUTS.items())
    return inspect.Signature(params, return_annotation=None)


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


# glibc's mallopt parameters: blocks up to 32 MiB (the largest it allows) come from the heap
# and freed memory stays mapped up to 1 GiB
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_THRESHOLD, _TRIM_THRESHOLD = 32 << 20, 1 << 30


def _keep_freed_memory() -> None:
    """Keep the process's freed memory for reuse (glibc; elsewhere nothing). By default
    every temporary of a block's arithmetic above 128 KiB is a fresh mapping, returned on
    free, and each reuse faults its pages in again: ~100,000 page faults and a fifth of a
    second of system time on a 10M-row run. The peak is unchanged: what is kept is what
    the run had in use. A run's own process only; the Python API leaves the caller's
    allocator alone."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)
    mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD)


def _run(command: str, options: dict) -> None:
    """Run a data command on its parsed options (keyed by parameter name)."""
    o = dict(options)
    fmt, output, html, color = (o.pop(name) for name in _OUTPUTS)
    file = o.pop("file")
    req = from_options(command, file[0] if len(file) == 1 else tuple(file), o)
    for option, out in (("--output", output), ("--html", html)):
        if out is not None and os.path.exists(out):
            for path in req.paths:
                if path != "-" and os.path.exists(path) and os.path.samefile(out, path):
                    raise UsageError(f"{option} {out} is an input file; the input is never "
                                     "overwritten: choose another output file")
    if html is not None and output is not None and os.path.abspath(html) == os.path.abspath(
            output):
        raise UsageError(f"--html and --output name the same file {html}: choose two files")
    _keep_freed_memory()
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
    if req.fail_if:  # SPEC §10.4: the report is out; then the gate
        from losscli import gate

        held = gate.held(req.gate, rep)
        for line in held:
            print(f"fail-if: {line}", file=sys.stderr)
        if held:
            raise typer.Exit(ExitCode.GATE_FAILED)


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


# the data commands: their options are generated from the Request fields (_signature)
def evaluate(**options) -> None:
    """Score predictions under a noise model: cross-entropy = entropy + KL.

    With predictions (conditional mode) only the nuisance is fitted; without them
    (marginal mode) every parameter is fitted to the target.

    Example: losscli evaluate preds.csv -t y -p y_pred -f gaussian -f laplace
    """
    _run("evaluate", options)


def compare_noise_models(**options) -> None:
    """Fit every applicable noise model, rank them, test the differences, recommend a loss.

    Example: losscli compare-noise-models data.parquet -t y -p y_pred --format json
    """
    _run("compare-noise-models", options)


def diagnose(**options) -> None:
    """Does the noise model fit, and where not? PIT, tests, the loss decomposed.

    Diagnoses the family evaluate would choose (or each -f); with --best, the best of
    compare-noise-models. Nothing is simulated: every number comes from the family's
    c.d.f. at the fitted parameters.

    Example: losscli diagnose counts.csv -f negative_binomial --plot /tmp/figures
    """
    _run("diagnose", options)


for _command, _function in (("evaluate", evaluate), ("compare-noise-models",
                            compare_noise_models), ("diagnose", diagnose)):
    _function.__signature__ = _signature(_command)

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
    from losscli.render import print_families

    _list_out("families", rows, print_families, format, output, color)


def _list_out(command: str, rows: list[dict], printer, format: str, output: str | None,
              color: str) -> None:
    """A listing command's rows: JSON {command, version, COMMAND: rows}, or the tables
    `printer` draws; on stdout, or written atomically to `output` (plain, no colour)."""
    if format == "json":
        import json

        text = json.dumps({"command": command, "version": __version__, command: rows},
                          indent=2, ensure_ascii=False) + "\n"
        if output is None:
            sys.stdout.write(text)
        else:
            _write_atomically(output, lambda fh: fh.write(text))
        return
    if output is None:
        printer(rows, color={"always": True, "never": False}.get(color))
    else:
        _write_atomically(output, lambda fh: printer(rows, file=fh, color=False))


@app.command(short_help="List every built-in loss of six frameworks and its noise model.")
def losses(framework: Annotated[str | None, typer.Option(
               "--framework", metavar="NAME",
               help="Only this framework's losses: pytorch (or torch), sklearn, xgboost, "
                    "lightgbm, catboost or keras.")] = None,
           format: OutFormatOpt = "table", output: OutputOpt = None,
           color: ColorOpt = "auto") -> None:
    """List the built-in losses of PyTorch, scikit-learn, XGBoost, LightGBM, CatBoost and
    Keras: the noise family each is the negative log-likelihood of, what the model
    outputs, how the loss's parameters map to the family's and their defaults, the
    --trained-with string — or why the loss is not a likelihood.

    Example: losscli losses --framework xgboost
    """
    from losscli.catalogue import catalogue
    from losscli.render import print_losses

    _list_out("losses", [entry.as_dict() for entry in catalogue(framework)], print_losses,
              format, output, color)


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
