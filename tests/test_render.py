"""Tables never cut a number or a name, and every number in a column has one format.

Reports are rendered through the real entry point (piped: natural width; under a
pseudo-terminal: the terminal's width) and in-process at fixed widths; the tables are
parsed back and every cell is compared with the JSON to the precision it shows."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

import pytest

from losscli import render, render_grid
from tests import forked
from tests.conftest import SAMPLES, run_api

SAMPLE_ARGS = {
    "binary.csv": (),
    "counts.csv": (),
    "distill.csv": ("--soft-target", "t_*", "--probs", "p_*"),
    "multiclass.csv": (),
    "positive.parquet": (),
    "regression.csv": (),
    "regression.parquet": (),
}
SAMPLE_KW = {"distill.csv": {"soft_target": ("t_*",), "probs": ("p_*",)}}
COMMANDS = ("compare-noise-models", "evaluate")
WIDTHS = (80, 120, 200)
EXTRA_RUNS = {  # other criteria and units, through the CLI too
    ("compare-noise-models", "counts.csv", "bic"): ("--criterion", "bic"),
    ("compare-noise-models", "positive.parquet", "nll-bits"): ("--criterion", "nll",
                                                                "--unit", "bits"),
    ("evaluate", "counts.csv", "mixed"): ("-f", "gaussian", "-f", "poisson"),
    ("diagnose", "counts.csv", "best"): ("--best",),
    ("compare-noise-models", "counts.csv", "diagnostics"): ("--diagnostics",),
}


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items()
            if k not in ("NO_COLOR", "FORCE_COLOR", "COLUMNS", "TTY_COMPATIBLE")}
    full.update(env or {})
    return forked.run(args, timeout=180, env=full)


def cli_tty(*args: str, columns: int = 80, env: dict | None = None) -> str:
    """Run the CLI with stdout on a pseudo-terminal `columns` wide; return what it wrote."""
    import fcntl
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    full = {k: v for k, v in os.environ.items()
            if k not in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE")}
    full.update({"COLUMNS": str(columns), "TERM": "xterm-256color", **(env or {})})
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([sys.executable, "-m", "losscli", *map(str, args)],
                                stdin=subprocess.DEVNULL, stdout=slave, stderr=err, env=full)
        os.close(slave)
        chunks = []
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        os.close(master)
        code = proc.wait(timeout=180)
        err.seek(0)
        assert code == 0, err.read().decode()
    return b"".join(chunks).decode().replace("\r\n", "\n")


def plain_width(text: str) -> int:
    return max(len(re.sub(r"\x1b\[[0-9;]*m", "", line)) for line in text.splitlines())


# --- parsing the tables back -------------------------------------------------------------

NUMBER = re.compile(r"^-?\d{1,3}(,\d{3})*(\.\d+)?(e[+-]\d+)?$")
FIELDS = {
    "entropy": "entropy", "KL": "kl", "ΔCE": "delta_cross_entropy", "nll": "nll",
    "AIC": "aic", "BIC": "bic", "AIC weight": "akaike_weight",
    "baseline CE": "baseline_cross_entropy", "info gain": "information_gain",
    "normalized entropy": "normalized_entropy",
    "cross-ent. nats/row": "cross_entropy", "cross-ent. bits/row": "cross_entropy",
}
DELTAS = {"ΔAIC": "aic", "ΔBIC": "bic", "Δnll": "nll"}
METRICS = {"accuracy", "brier", "ece", "mse", "rmse", "mae", "r2", "mean_deviance", "d2"}
SHARED = "every family (same ŷ)"


def parse_tables(text: str) -> list[dict]:
    """Every table (a header block, a rule of ─, rows up to a blank line): its numeric
    columns keyed by header, each a list of (row label, cell)."""
    lines = text.splitlines()
    out = []
    for i, line in enumerate(lines):
        if not line.strip() or set(line.strip()) != {"─"}:
            continue
        top = i
        while top > 0 and lines[top - 1].strip():
            top -= 1
        headers: dict[int, list[str]] = {}
        for h in lines[top:i]:
            for m in re.finditer(r"\S+", h):
                headers.setdefault(m.end(), []).append(m.group())
        cols: dict[str, list[tuple[str, str]]] = {}
        j = i + 1
        while j < len(lines) and lines[j].strip():
            row = lines[j]
            cells = [m for m in re.finditer(r"\S+", row)
                     if NUMBER.match(m.group()) or m.group() == render_grid.NULL]
            label_end = cells[0].start() if cells else len(row)
            label = row[:label_end].strip()
            for m in cells:
                if m.end() in headers:
                    cols.setdefault(" ".join(headers[m.end()]), []).append((label, m.group()))
            j += 1
        out.append(cols)
    return out


def shown(cell: str) -> tuple[float, float]:
    """The value of a cell and half a unit of its last digit."""
    mantissa, _, exp = cell.replace(",", "").partition("e")
    decimals = len(mantissa.partition(".")[2])
    half = 0.5 * 10.0 ** (-decimals) * (10.0 ** int(exp) if exp else 1.0)
    return float(mantissa) * (10.0 ** int(exp) if exp else 1.0), half


def notation(cell: str) -> tuple[bool, int]:
    mantissa, e, _ = cell.partition("e")
    return bool(e), len(mantissa.partition(".")[2])


def expected_fields(rep: dict) -> set[str]:
    """The headers every report of this kind must show."""
    ranked = rep.get("criterion") is not None  # compare-noise-models, diagnose --best
    models = rep["models"]
    need = {"nll", "AIC", "BIC", f"cross-ent. {rep['unit']}/row"}
    if not all(m["entropy_method"] == "hard-labels" for m in models):
        need |= {"entropy", "KL"}
    if ranked:
        crit = {"aic": "AIC", "bic": "BIC", "nll": "nll"}[rep["criterion"]]
        need |= {"ΔCE", f"Δ{crit}", "AIC weight"}
    else:
        for header, f in (("baseline CE", "baseline_cross_entropy"),
                          ("info gain", "information_gain"),
                          ("normalized entropy", "normalized_entropy")):
            if any(m[f] is not None for m in models):
                need.add(header)
    for m in models:
        need |= set(m["metrics"])
    return need


def check_report_text(text: str, rep: dict, max_width: int | None = None) -> None:
    """No cut, one format per column, every number equal to the JSON's as far as shown."""
    assert "…" not in text
    if max_width is not None:
        assert plain_width(text) <= max_width, text
    by_family = {m["family"]: m for m in rep["models"]}
    for family in by_family:  # names whole, as a word of their own
        assert re.search(rf"(^|\s){family}(\s|$)", text, re.M), family
    seen: set[str] = set()
    for table in parse_tables(text):
        for header, cells in table.items():
            values = [c for _, c in cells if c != render_grid.NULL]
            assert len({notation(c) for c in values}) <= 1, (header, values)
            if header in DELTAS:
                f = DELTAS[header]
                best = min(m[f] for m in rep["models"] if m[f] is not None)

                def get(m, f=f, best=best):
                    return None if m[f] is None else m[f] - best
            elif header in FIELDS:
                def get(m, f=FIELDS[header]):
                    return m[f]
            elif header in METRICS:
                def get(m, f=header):
                    return m["metrics"].get(f)
            else:
                continue
            seen.add(header)
            for label, cell in cells:
                models = list(by_family.values()) if label == SHARED else [by_family[label]]
                for m in models:
                    value = get(m)
                    if cell == render_grid.NULL:
                        assert value is None, (header, label)
                        continue
                    assert value is not None, (header, label, cell)
                    got, half = shown(cell)
                    assert abs(got - value) <= half * (1 + 1e-9) + 1e-12 * abs(value), (
                        header, label, cell, value)
            labels = {lab for lab, _ in cells}
            if header not in METRICS:
                assert labels == set(by_family), (header, labels)
    assert expected_fields(rep) <= seen, expected_fields(rep) - seen


# --- through the CLI -----------------------------------------------------------------------

def _runs() -> dict:
    jobs = {}
    for name, extra in SAMPLE_ARGS.items():
        for command in COMMANDS:
            args = (command, SAMPLES / name, *extra)
            jobs[(command, name, "")] = args
    for (command, name, tag), extra in EXTRA_RUNS.items():
        jobs[(command, name, tag)] = (command, SAMPLES / name, *SAMPLE_ARGS[name], *extra)
    todo = {}
    for key, args in jobs.items():
        todo[key + ("table",)] = (args, {"COLUMNS": "80"})
        todo[key + ("json",)] = ((*args, "--format", "json"), None)
    with ThreadPoolExecutor(max_workers=4) as pool:
        done = {k: pool.submit(cli, *a, env=e) for k, (a, e) in todo.items()}
    out = {}
    for k, fut in done.items():
        proc = fut.result()
        assert proc.returncode == 0, (k, proc.stderr.decode())
        out[k] = proc.stdout.decode()
    return out


@pytest.fixture(scope="module")
def runs():
    return _runs()


RUN_KEYS = [(c, n, "") for n in SAMPLE_ARGS for c in COMMANDS] + list(EXTRA_RUNS)


@pytest.mark.parametrize("key", RUN_KEYS, ids=["-".join(filter(None, k)) for k in RUN_KEYS])
def test_piped_table_is_whole_and_matches_the_json(runs, key):
    text = runs[key + ("table",)]
    rep = json.loads(runs[key + ("json",)])
    # piped: the natural width, whatever COLUMNS says, so nothing is wrapped or cut
    check_report_text(text, rep)
    assert "\x1b[" not in text
    assert "warning:" not in text  # warnings go to stderr


def test_delta_aic_and_the_weight_header(runs):
    text = runs[("compare-noise-models", "counts.csv", "", "table")]
    rep = json.loads(runs[("compare-noise-models", "counts.csv", "", "json")])
    (table,) = [t for t in parse_tables(text) if "ΔAIC" in t]
    assert "AIC weight" in table
    best = min(m["aic"] for m in rep["models"])
    for label, cell in table["ΔAIC"]:
        m = next(m for m in rep["models"] if m["family"] == label)
        assert cell == f"{m['aic'] - best:,.1f}"
    assert table["ΔAIC"][0] == (rep["best"], "0.0")
    assert table["AIC"][0][1] == f"{rep['models'][0]['aic']:,.1f}"  # e.g. 18,168.6


def test_diagnose_best_shows_the_comparison_and_the_diagnostics(runs):
    text = runs[("diagnose", "counts.csv", "best", "table")]
    rep = json.loads(runs[("diagnose", "counts.csv", "best", "json")])
    assert rep["command"] == "diagnose" and rep["tests"] and rep["recommendation"]
    # the same table as compare-noise-models --diagnostics, which diagnoses the best too
    assert text == runs[("compare-noise-models", "counts.csv", "diagnostics", "table")]
    assert ", ranked by AIC" in text.splitlines()[0]
    (table,) = [t for t in parse_tables(text) if "ΔAIC" in t]
    assert [label for label, _ in table["ΔAIC"]] == [m["family"] for m in rep["models"]]
    assert "AIC weight" in table and "ΔCE" in table
    section = text[text.index("Is the difference real?"):text.index("Recommendation:")]
    assert len(section.strip().splitlines()) == 1 + len(rep["tests"])
    for t in rep["tests"]:
        assert f"{t['alternative']} " in section and f" {t['null']} (" in section
    assert f"Recommendation: {rep['recommendation']['family']} — train with" in text
    assert text.index("Recommendation:") < text.index(f"Diagnostics: {rep['best']}")
    assert text.count("Diagnostics:") == 1


def test_bic_ranking_keeps_the_akaike_weight_and_says_so(runs):
    text = runs[("compare-noise-models", "counts.csv", "bic", "table")]
    rep = json.loads(runs[("compare-noise-models", "counts.csv", "bic", "json")])
    assert rep["criterion"] == "bic"
    (table,) = [t for t in parse_tables(text) if "ΔBIC" in t]
    assert "AIC weight" in table and "ΔAIC" not in table
    assert "the Akaike weight, from AIC (the ranking is by BIC)" in text


def test_hard_labels_drop_entropy_and_kl_with_one_note(runs):
    text = runs[("compare-noise-models", "counts.csv", "", "table")]
    headers = {h for t in parse_tables(text) for h in t}
    assert not headers & {"entropy", "KL"}
    assert text.count("hard labels: entropy 0, so KL = cross-entropy") == 1
    soft = runs[("compare-noise-models", "regression.csv", "", "table")]
    assert {"entropy", "KL"} <= {h for t in parse_tables(soft) for h in t}
    assert "hard labels" not in soft


def test_no_color_gives_no_escape_sequences_on_a_terminal():
    args = ("compare-noise-models", SAMPLES / "counts.csv")
    assert "\x1b[" in cli_tty(*args)  # styles on a terminal, so the next check means it
    assert "\x1b[" not in cli_tty(*args, env={"NO_COLOR": "1"})


@pytest.mark.parametrize("key", [("compare-noise-models", "counts.csv", ""),
                                 ("compare-noise-models", "binary.csv", ""),
                                 ("evaluate", "counts.csv", "mixed"),
                                 ("evaluate", "distill.csv", "")],
                         ids=lambda k: "-".join(filter(None, k)))
def test_an_80_column_terminal_gets_80_columns_and_every_number(runs, key):
    command, name, tag = key
    extra = EXTRA_RUNS.get(key, ())
    text = cli_tty(command, SAMPLES / name, *SAMPLE_ARGS[name], *extra, columns=80,
                   env={"NO_COLOR": "1"})
    rep = json.loads(runs[key + ("json",)])
    check_report_text(text, rep, max_width=80)


# --- families ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def family_rows():
    proc = cli("families", "--format", "json")
    assert proc.returncode == 0
    data = json.loads(proc.stdout)
    return data["families"] if isinstance(data, dict) else data


def check_families_text(text: str, rows: list[dict], max_width: int | None) -> None:
    assert "…" not in text
    if max_width is not None:
        assert plain_width(text) <= max_width, text
    words = set(text.split())
    lines = text.splitlines()
    for r in rows:
        for k in render.FRAMEWORKS:
            if r[k] and r[k] not in words:  # a name is one word of the output, unbroken,
                # or, where the table is too narrow for the family's name and this name side
                # by side, broken once before its "(", both parts whole, one below the other
                head, tail = r[k].split("(", 1)
                assert head in words and any(
                    f" {head} " in line + " " and nxt[line.index(f" {head}") + 1:]
                    .startswith("(" + tail) for line, nxt in zip(lines, lines[1:],
                                                                 strict=False)), r[k]
        for k in ("family", "support", "prediction", "loss"):
            assert set(r[k].split()) <= words, r[k]  # prose wraps between words only


@pytest.mark.parametrize("columns", [None, 80, 120, 200])
def test_families_names_are_never_broken_piped(family_rows, columns):
    proc = cli("families", env={} if columns is None else {"COLUMNS": str(columns)})
    assert proc.returncode == 0
    text = proc.stdout.decode()
    check_families_text(text, family_rows, None)  # off a terminal: the natural width
    assert "HistGradientBoostingClassifier(loss='log_loss')" in text


@pytest.mark.parametrize("columns", WIDTHS)
def test_families_names_are_never_broken_on_a_terminal(family_rows, columns):
    text = cli_tty("families", columns=columns, env={"NO_COLOR": "1"})
    assert "\x1b[" not in text
    check_families_text(text, family_rows, columns)
    if columns == 80:
        assert "\x1b[" in cli_tty("families", columns=columns)


@pytest.mark.parametrize("width", [*WIDTHS, None])
def test_print_families_at_a_width_and_at_its_natural_width(family_rows, width):
    buf = io.StringIO()
    render.print_families(family_rows, file=buf, width=width)
    text = buf.getvalue()
    check_families_text(text, family_rows, width)
    if width is None:  # off a terminal: one table each, nothing wrapped
        assert text.count("─\n") == 2
        assert "Student-t NLL (robust regression)" in text


# --- in process, at a terminal width ---------------------------------------------------------

@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    out = {}
    for name in ("counts.csv", "regression.csv"):  # marginal mode: the target alone
        path = tmp_path_factory.mktemp("marginal") / name
        lines = (SAMPLES / name).read_text().splitlines()
        path.write_text("".join(line.split(",")[0] + "\n" for line in lines))
        for command in COMMANDS:
            out[(command, f"{name} marginal")] = run_api(command, path)
    for name in SAMPLE_ARGS:
        kw = SAMPLE_KW.get(name, {})
        for command in COMMANDS:
            out[(command, name)] = run_api(command, SAMPLES / name, **kw)
    out[("compare-noise-models", "counts.csv bits bic")] = run_api(
        "compare-noise-models", SAMPLES / "counts.csv", unit="bits", criterion="bic")
    out[("evaluate", "counts.csv mixed")] = run_api(
        "evaluate", SAMPLES / "counts.csv", families=("gaussian", "poisson", "laplace"))
    return out


@pytest.mark.parametrize("width", WIDTHS)
def test_every_report_at_a_terminal_width(reports, width):
    for key, rep in reports.items():
        buf = io.StringIO()
        render.print_report(rep, file=buf, width=width)
        text = buf.getvalue()
        try:
            check_report_text(text, rep, max_width=width)
        except AssertionError:
            print(key, text)
            raise


def test_a_report_off_a_terminal_has_its_natural_width(reports):
    rep = reports[("compare-noise-models", "positive.parquet")]
    buf = io.StringIO()
    render.print_report(rep, file=buf)
    text = buf.getvalue()
    check_report_text(text, rep)
    assert plain_width(text) > 80
    # the whole main table in one piece
    assert any({"ΔCE", "ΔAIC", "KL", "nll"} <= set(t) for t in parse_tables(text))


def test_millions_of_rows_keep_a_delta_aic_of_two_visible(reports):
    rep = json.loads(json.dumps(reports[("compare-noise-models", "regression.csv")]))
    scale = 5_000_000 / rep["models"][0]["n"]
    for m in rep["models"]:
        m["n"] = 5_000_000
        m["nll"] *= scale
        m["aic"] = 2 * m["n_params"] + 2 * m["nll"]
        m["bic"] = m["n_params"] * 15.42 + 2 * m["nll"]
    second = rep["models"][1]
    second["aic"] = rep["models"][0]["aic"] + 2.0
    buf = io.StringIO()
    render.print_report(rep, file=buf, width=80)
    text = buf.getvalue()
    assert "e+" not in text
    (table,) = [t for t in parse_tables(text) if "ΔAIC" in t]
    assert dict(table["ΔAIC"])[second["family"]] == "2.0"
    assert dict(table["AIC"])[second["family"]] == f"{second['aic']:,.1f}"
    check_report_text(text, rep, max_width=80)


def test_recommendation_applies_the_log_transform_once(reports):
    rep = json.loads(json.dumps(reports[("compare-noise-models", "counts.csv")]))
    rec = rep["recommendation"]
    rec.update(family="lognormal", loss="squared error on log y", transform="log")
    buf = io.StringIO()
    render.print_report(rep, file=buf)
    assert "train with squared error on log y\n" in buf.getvalue()
    assert "on log y on log y" not in buf.getvalue()
    assert render.train_with({"loss": "squared error", "transform": "log"}) == (
        "squared error on log y")


def test_warnings_only_when_asked(reports):
    rep = reports[("compare-noise-models", "binary.csv")]
    assert rep["warnings"]
    plain, warned = io.StringIO(), io.StringIO()
    render.print_report(rep, file=plain)
    render.print_report(rep, file=warned, warnings=True)
    assert "warning:" not in plain.getvalue()
    assert all(f"warning: {w}" in warned.getvalue() for w in rep["warnings"])


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_color_choice(reports, monkeypatch):
    rep = reports[("compare-noise-models", "counts.csv")]
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")

    def out(file, **kw):
        render.print_report(rep, file=file, width=120, **kw)
        return file.getvalue()

    assert "\x1b[" in out(FakeTTY())  # auto: a terminal gets styles
    assert "\x1b[" not in out(io.StringIO())  # auto: a file does not
    assert "\x1b[" in out(io.StringIO(), color=True)
    assert "\x1b[" not in out(FakeTTY(), color=False)
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\x1b[" not in out(FakeTTY())  # not even bold
    monkeypatch.setenv("TERM", "dumb")
    monkeypatch.delenv("NO_COLOR")
    assert "\x1b[" in out(io.StringIO(), color=True)  # forced colour is forced


# --- the formatter -------------------------------------------------------------------------

@pytest.mark.parametrize("values, kw, want", [
    ([28.23, 4.9369e10], {}, ["2.823e+01", "4.937e+10"]),  # one notation per column
    ([2.2708, 2.446, 2.771], {}, ["2.271", "2.446", "2.771"]),  # one number of decimals
    ([21518003.41, 21518005.41], {"total": True}, ["21,518,003.4", "21,518,005.4"]),
    ([0.0, 2.0, 6175.63], {"total": True}, ["0.0", "2.0", "6,175.6"]),
    ([0.0], {"total": True}, ["0.0"]),
    ([0.0045602, 0.049621, 0.26682], {}, ["0.0046", "0.0496", "0.2668"]),
    ([1e-5, 3e-6], {}, ["1.000e-05", "3.000e-06"]),
    ([-0.030129, 0.15253], {}, ["-0.0301", "0.1525"]),
    ([None, 3.2, float("nan")], {}, ["—", "3.200", "—"]),
    ([1, 2, 3000], {}, ["1", "2", "3,000"]),
    ([1.0, 3.29e-25], {"decimals": 4}, ["1.0000", "0.0000"]),
    ([-1e-9, 0.5], {}, ["0.0000", "0.5000"]),  # no "-0.0000"
    # rows that differ by more than the resolution print differently
    ([2.270801, 2.270809], {"resolution": 1e-6}, ["2.27080", "2.27081"]),
    ([2.270801, 2.270809], {"resolution": 1e-5}, ["2.271", "2.271"]),
    ([2.2708, 2.2712], {}, ["2.2708", "2.2712"]),
    ([3.47762, 3.47764], {}, ["3.478", "3.478"]),  # 6e-6 relative: not a difference
    ([0.5825, 0.5825 + 1e-12], {}, ["0.5825", "0.5825"]),
    # a total goes scientific only beyond the digits a float64 holds, as other columns do
    ([69.1, 5.0573e24], {"total": True}, ["6.910e+01", "5.057e+24"]),
    ([1e14, 1e14 + 2], {"total": True}, ["100,000,000,000,000.0", "100,000,000,000,002.0"]),
])
def test_column_format(values, kw, want):
    assert render_grid.column(values, **kw) == want


def test_single_numbers_have_no_trailing_zeros():
    assert [render_grid.num(x) for x in (0.0, 2.925, 2446.3, 1e-20, None)] == [
        "0", "2.925", "2,446.3", "1e-20", "—"]


def test_a_difference_below_its_round_off_shows_as_zero():
    assert render_grid.settled(-1.1102230246251565e-16, 0.6929, 0.6929) == 0.0
    assert render_grid.settled(2.2e-16, 1.0) == 0.0
    assert render_grid.settled(1e-9, 0.6929) == 1e-9  # above the round-off: kept
    assert render_grid.settled(-3e-13, 1e-3, 1e-3) == -3e-13  # small quantities, small round-off
    assert render_grid.settled(None, 1.0) is None and render_grid.settled(0.5) == 0.5


def test_the_table_shows_no_round_off_and_one_format_for_huge_values(write_csv):
    """Marginal bernoulli: KL = H − H in exact arithmetic, −1.1e-16 computed; the JSON keeps
    it, the table shows 0. A target of 1e23 puts totals of ~1e24 in the table: scientific,
    as the per-row columns beside them, not 25 digits."""
    path = write_csv("b.csv", y=[1] * 98 + [0] * 102)
    rep = run_api("evaluate", path)
    assert rep["mode"] == "marginal" and rep["models"][0]["kl"] == -2.0 ** -53
    buf = io.StringIO()
    render.print_report(rep, file=buf)
    (table,) = [t for t in parse_tables(buf.getvalue()) if "KL" in t]
    assert table["KL"] == [("bernoulli", "0.000")]
    assert "e-16" not in buf.getvalue()

    path = write_csv("big.csv", y=[1.0, 3.0, 1e23, 0.0], y_pred=[2.0, 2.5, 4.0, 1.0])
    rep = run_api("evaluate", path, families=("poisson",))
    buf = io.StringIO()
    render.print_report(rep, file=buf)
    (table,) = [t for t in parse_tables(buf.getvalue()) if "nll" in t]
    m = rep["models"][0]
    for header, key in (("nll", "nll"), ("AIC", "aic"), ("BIC", "bic"),
                        ("cross-ent. nats/row", "cross_entropy")):
        ((_, cell),) = table[header]
        assert re.fullmatch(r"\d\.\d{3}e\+\d\d", cell), (header, cell)
        assert float(cell) == pytest.approx(m[key], rel=1e-3)
