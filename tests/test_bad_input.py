"""Every way a user's file or command line can be wrong, through the real entry point.

Each case runs `python -m losscli …` once, in a subprocess, in its own directory holding
the small files the case writes. The runs are independent, so one module fixture starts
them all at once (the interpreter start-up dominates each run) and every test checks its
own: exit code (1 data error, 2 usage error), stderr (one `error: …` line naming file,
column, row and value; for usage errors, Click's too, one `error: …` line), empty stdout,
no traceback, and every input file byte-for-byte unchanged.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import os
import random
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests import forked

BOX = "╭╮╰╯│─━┃"  # rich panel characters: usage errors are plain text


@dataclass(frozen=True)
class Case:
    args: tuple[str, ...]  # after `python -m losscli`, run in the case's directory
    files: dict[str, bytes] = field(default_factory=dict)
    dirs: tuple[str, ...] = ()
    stdin: bytes | None = None
    pyflags: tuple[str, ...] = ()  # interpreter flags, e.g. -X importtime


@dataclass
class Run:
    dir: Path
    code: int
    out: str
    err: str
    before: dict[str, str]  # sha256 of every file the case wrote, taken before the run

    def hashes(self) -> dict[str, str]:
        return {name: _sha(self.dir / name) for name in self.before}

    def listing(self) -> set[str]:
        return {p.name for p in self.dir.iterdir()}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


CSV = b"y,y_pred\n1,1.5\n2,2.5\n3,2\n"
LABELS = b"label,p_cat,p_dog\ncat,0.4,0.6\ndog,0.3,0.7\n"
rng = random.Random(20260101)
JUNK = b"\x89\x00\xff\xfe" + rng.randbytes(4000)  # NUL and bytes that are not UTF-8
JUNK_BODY = b"y,y_pred\n" + rng.randbytes(4000) + b"\x00\r\n\x1b[31m"


CASES: dict[str, Case] = {
    # ---- the file itself
    "missing_file": Case(("evaluate", "missing.csv")),
    "missing_file_unknown_ext": Case(("evaluate", "missing.xyz")),
    "directory": Case(("evaluate", "folder.csv"), dirs=("folder.csv",)),
    "empty_file": Case(("evaluate", "empty.csv"), {"empty.csv": b""}),
    "blank_first_line": Case(("evaluate", "blank.csv"), {"blank.csv": b"\n" + CSV}),
    "header_only": Case(("evaluate", "header.csv"), {"header.csv": b"y,y_pred\n"}),
    "binary_junk": Case(("evaluate", "junk.csv"), {"junk.csv": JUNK}),
    "binary_body": Case(("evaluate", "body.csv"), {"body.csv": JUNK_BODY}),
    "wrong_delimiter": Case(("evaluate", "semi.csv"),
                            {"semi.csv": b"y;y_pred\n1;1.5\n2;2.5\n3;2\n"}),
    "corrupt_parquet": Case(("evaluate", "bad.parquet"),
                            {"bad.parquet": b"PAR1 this is not parquet at all"}),
    # ---- values
    "text_in_numeric": Case(("evaluate", "text.csv"),
                            {"text.csv": b"y,y_pred\n1,1.5\n2,abc\n3,2\n"}),
    "text_in_target": Case(("evaluate", "ttext.csv"),
                           {"ttext.csv": b"y,y_pred\n1,1.5\n2,2.5\nn/a?,2\n"}),
    "unknown_label": Case(("evaluate", "labels.csv"),
                          {"labels.csv": LABELS + b"bird,0.5,0.5\n"}),
    "probs_not_summing": Case(("evaluate", "sum.csv"),
                              {"sum.csv": LABELS + b"dog,0.5,0.6\n"}),
    "probs_renormalized": Case(("evaluate", "sum.csv", "--renormalize", "--format", "json"),
                               {"sum.csv": LABELS + b"dog,0.5,0.6\n"}),
    "probs_outside_unit": Case(("evaluate", "range.csv"),
                               {"range.csv": LABELS + b"dog,1.5,-0.5\n"}),
    "negative_counts": Case(("evaluate", "counts.csv", "-f", "poisson"),
                            {"counts.csv": b"y,mu\n1,1.5\n4,2.5\n-2,2\n-5,1\n"}),
    "zero_prob_eps0": Case(("evaluate", "zero.csv", "--eps", "0", "--format", "json"),
                           {"zero.csv": LABELS + b"dog,1,0\n"}),
    "zero_prob_eps0_bernoulli": Case(("compare-noise-models", "bin.csv", "--eps", "0",
                                      "-f", "bernoulli", "--format", "json"),
                                     {"bin.csv": b"y,y_pred\n0,0.2\n1,0.7\n1,0\n"}),
    "labels_with_numeric_family": Case(("evaluate", "lab.csv", "-f", "gaussian"),
                                       {"lab.csv": b"y\ncat\ndog\ncat\n"}),
    # ---- columns
    "missing_column": Case(("evaluate", "data.csv", "-t", "nope"), {"data.csv": CSV}),
    "ambiguous_target": Case(("evaluate", "amb.csv"),
                             {"amb.csv": b"y,target,y_pred\n1,1,1.5\n2,2,2.5\n"}),
    "negative_weight": Case(("evaluate", "w.csv", "-w", "w"),
                            {"w.csv": b"y,y_pred,w\n1,1.5,1\n2,2.5,-0.5\n3,2,1\n"}),
    # ---- missing values
    "all_rows_missing": Case(("evaluate", "gaps.csv"),
                             {"gaps.csv": b"y,y_pred\n,1.5\n2,\nnan,2\n"}),
    "nan_dropped": Case(("evaluate", "nan.csv", "--format", "json"),
                        {"nan.csv": b"y,y_pred\n1,1.5\n2,\n3,2\n4,4\n"}),
    "nan_strict": Case(("evaluate", "nan.csv", "--strict"),
                       {"nan.csv": b"y,y_pred\n1,1.5\n2,\n3,2\n4,4\n"}),
    "row_after_dropped": Case(("evaluate", "after.csv", "-f", "bernoulli"),
                              {"after.csv": b"y,y_pred\n1,\n0,0.5\n1,1.5\n"}),
    # ---- the command line
    "unknown_option": Case(("evaluate", "data.csv", "--bogus"), {"data.csv": CSV}),
    "invalid_family": Case(("evaluate", "data.csv", "-f", "bogus"), {"data.csv": CSV}),
    "unknown_extension": Case(("evaluate", "data.dat"), {"data.dat": CSV}),
    "output_is_input": Case(("evaluate", "data.csv", "-o", "./data.csv"), {"data.csv": CSV}),
    "output_dir_missing": Case(("evaluate", "data.csv", "-o", "no/such/dir/out.json"),
                               {"data.csv": CSV}),
    # ---- what must work
    "gzip_csv": Case(("evaluate", "data.csv.gz", "--format", "json"),
                     {"data.csv.gz": gzip.compress(CSV)}),
    "tsv": Case(("evaluate", "data.tsv", "--format", "json"),
                {"data.tsv": CSV.replace(b",", b"\t")}),
    "stdin": Case(("evaluate", "-", "--format", "json"), stdin=CSV),
    "output_file": Case(("evaluate", "data.csv", "--format", "json", "-o", "out.json"),
                        {"data.csv": CSV}),
    "help_imports": Case(("--help",), pyflags=("-X", "importtime")),
}


def _run(root: Path, name: str, case: Case) -> Run:
    d = root / name
    d.mkdir()
    for sub in case.dirs:
        (d / sub).mkdir()
    for fname, data in case.files.items():
        (d / fname).write_bytes(data)
    before = {fname: _sha(d / fname) for fname in case.files}
    env = {k: v for k, v in os.environ.items() if k != "LOSSCLI_DEBUG"}
    env["COLUMNS"] = "120"
    if case.pyflags:  # interpreter flags: a new interpreter
        proc = subprocess.run(
            [sys.executable, *case.pyflags, "-m", "losscli", *case.args], cwd=d, env=env,
            input=case.stdin if case.stdin is not None else b"", capture_output=True,
            timeout=120)
    else:
        proc = forked.run(case.args, cwd=d, env=env, stdin=case.stdin, timeout=120)
    return Run(d, proc.returncode, proc.stdout.decode("utf-8", "replace"),
               proc.stderr.decode("utf-8", "replace"), before)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Run]:
    root = tmp_path_factory.mktemp("bad_input")
    with ThreadPoolExecutor(max_workers=min(16, (os.cpu_count() or 2) * 2)) as pool:
        futures = {name: pool.submit(_run, root, name, case) for name, case in CASES.items()}
        return {name: f.result() for name, f in futures.items()}


# ------------------------------------------------------------------ assertions


def _common(r: Run) -> None:
    assert "Traceback" not in r.err, r.err
    assert r.hashes() == r.before, "an input file was modified"


def data_error(r: Run, *parts: str) -> str:
    """Exit 1, nothing on stdout, exactly one `error: …` line naming every part."""
    _common(r)
    assert r.code == 1, (r.code, r.err)
    assert r.out == ""
    lines = r.err.splitlines()
    assert len(lines) == 1, r.err
    assert lines[0].startswith("error: "), r.err
    for part in parts:
        assert part in lines[0], (part, lines[0])
    return lines[0]


def usage_error(r: Run, *parts: str) -> str:
    """Exit 2, nothing on stdout, one `error: …` line (Click's errors too, no Usage block)."""
    _common(r)
    assert r.code == 2, (r.code, r.err)
    assert r.out == ""
    assert not any(ch in r.err for ch in BOX), r.err
    lines = r.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.err
    for part in parts:
        assert part in r.err, (part, r.err)
    return r.err


def success(r: Run) -> dict:
    _common(r)
    assert r.code == 0, r.err
    assert not any(ln and not ln.startswith("warning: ") for ln in r.err.splitlines()), r.err
    return json.loads(r.out)


# ------------------------------------------------------------------ the file itself


def test_missing_file(runs):
    data_error(runs["missing_file"], "missing.csv", "no such file")


def test_missing_file_with_unknown_extension_is_missing_not_usage(runs):
    data_error(runs["missing_file_unknown_ext"], "missing.xyz", "no such file")


def test_directory(runs):
    data_error(runs["directory"], "folder.csv", "directory")


def test_empty_file(runs):
    data_error(runs["empty_file"], "empty.csv", "empty")


def test_blank_first_line_is_not_called_empty(runs):
    line = data_error(runs["blank_first_line"], "blank.csv", "header")
    assert "empty" not in line


def test_header_only(runs):
    data_error(runs["header_only"], "header.csv", "no data rows")


def test_binary_junk(runs):
    line = data_error(runs["binary_junk"], "junk.csv", "binary")
    assert "\x00" not in line


def test_binary_body_after_a_valid_header(runs):
    line = data_error(runs["binary_body"], "body.csv", "CSV")
    assert line.isprintable(), repr(line)  # raw bytes are escaped, not echoed



def test_wrong_delimiter_hints_at_it(runs):
    data_error(runs["wrong_delimiter"], "semi.csv", "y;y_pred", "';'", "delimiter")




def test_corrupt_parquet(runs):
    data_error(runs["corrupt_parquet"], "bad.parquet", "Parquet")





# ------------------------------------------------------------------ values


def test_text_in_numeric_column(runs):
    data_error(runs["text_in_numeric"], "text.csv", "column 'y_pred'", "row 2", "'abc'")


def test_text_in_target_with_point_prediction(runs):
    # not silently read as class labels with the prediction ignored
    data_error(runs["text_in_target"], "ttext.csv", "column 'y'", "row 3", "'n/a?'")


def test_unknown_class_label(runs):
    data_error(runs["unknown_label"], "labels.csv", "column 'label'", "row 3", "'bird'",
               "cat, dog")


def test_probabilities_not_summing_to_one(runs):
    data_error(runs["probs_not_summing"], "sum.csv", "p_cat,p_dog", "row 3", "1.1",
               "--renormalize")


def test_probabilities_renormalized(runs):
    rep = success(runs["probs_renormalized"])
    assert rep["input"]["rows_used"] == 3
    assert rep["models"][0]["family"] == "categorical"


def test_probabilities_outside_unit_interval(runs):
    data_error(runs["probs_outside_unit"], "range.csv", "column 'p_cat'", "row 3", "1.5",
               "[0, 1]")


def test_negative_counts_name_the_first_row(runs):
    data_error(runs["negative_counts"], "counts.csv", "column 'y'", "row 3", "-2",
               "poisson")


def _zero_probability_report(r, column: str) -> dict:
    """SPEC §1.8: not an error; strict JSON, the infinite quantities null, one warning
    with the number of rows, the first row and its column."""
    assert r.code == 0, r.err
    rep = json.loads(r.out, parse_constant=lambda c: pytest.fail(f"non-strict JSON {c}"))
    m = rep["models"][0]
    assert m["nll"] is None and m["cross_entropy"] is None and m["aic"] is None
    assert m["metrics"]["accuracy"] is not None  # what stays finite is reported
    hits = [w for w in rep["warnings"] if "probability 0" in w]
    assert len(hits) == 1 and "1 row give" in hits[0] and "row 3" in hits[0]
    assert f"column {column!r}" in hits[0] and "--eps" in hits[0]
    assert not any("is inf and is reported" in w for w in rep["warnings"])
    return rep


def test_zero_probability_on_true_class_with_eps_0(runs):
    _zero_probability_report(runs["zero_prob_eps0"], "p_dog")


def test_zero_probability_bernoulli_with_eps_0(runs):
    rep = _zero_probability_report(runs["zero_prob_eps0_bernoulli"], "y_pred")
    assert rep["best"] == "bernoulli"



def test_class_labels_with_a_numeric_family(runs):
    data_error(runs["labels_with_numeric_family"], "lab.csv", "column 'y'", "gaussian",
               "class labels")


# ------------------------------------------------------------------ columns


def test_missing_column_given_with_t(runs):
    data_error(runs["missing_column"], "data.csv", "--target 'nope'", "y, y_pred")



def test_ambiguous_target_lists_candidates_and_option(runs):
    data_error(runs["ambiguous_target"], "amb.csv", "y, target", "--target")


def test_negative_weight(runs):
    data_error(runs["negative_weight"], "w.csv", "column 'w'", "row 2", "-0.5")



# ------------------------------------------------------------------ missing values


def test_all_rows_missing(runs):
    data_error(runs["all_rows_missing"], "gaps.csv", "no rows left", "3")


def test_nan_row_is_dropped_and_counted(runs):
    r = runs["nan_dropped"]
    rep = success(r)
    assert rep["input"]["rows_read"] == 4
    assert rep["input"]["rows_dropped"] == 1
    assert rep["input"]["rows_used"] == 3
    assert any("dropped" in w for w in rep["warnings"])
    assert "warning: 1 of 4 rows dropped" in r.err  # SPEC §2: warning on stderr


def test_nan_row_with_strict_is_an_error(runs):
    data_error(runs["nan_strict"], "nan.csv", "column 'y_pred'", "row 2", "--strict")


def test_row_numbers_count_dropped_rows(runs):
    # row 1 is dropped; the offending prediction 1.5 is on file row 3, not kept row 2
    data_error(runs["row_after_dropped"], "after.csv", "column 'y_pred'", "row 3", "1.5")


# ------------------------------------------------------------------ the command line


def test_unknown_option(runs):
    usage_error(runs["unknown_option"], "--bogus")


def test_invalid_family_choice(runs):
    usage_error(runs["invalid_family"], "--family", "bogus")



def test_unknown_extension(runs):
    usage_error(runs["unknown_extension"], "data.dat", "--input-format")


def test_output_is_the_input_file(runs):
    r = runs["output_is_input"]
    usage_error(r, "--output")  # and _common checked that data.csv is unchanged


def test_output_directory_missing(runs):
    r = runs["output_dir_missing"]
    data_error(r, "no/such/dir/out.json", "cannot write")
    assert r.listing() == {"data.csv"}


# ------------------------------------------------------------------ what must work


def test_gzip_tsv_and_stdin_read_the_same_data(runs):
    # CSV holds counts: evaluate scores poisson; nll = Σ mu − y log mu + log y!
    nll = sum(mu - y * math.log(mu) + math.lgamma(y + 1)
              for y, mu in ((1, 1.5), (2, 2.5), (3, 2.0)))
    for name, fmt, path in (("gzip_csv", "csv", "data.csv.gz"), ("tsv", "tsv", "data.tsv"),
                            ("stdin", "csv", "-")):
        rep = success(runs[name])
        assert rep["input"]["format"] == fmt, name
        assert rep["input"]["path"] == path, name
        assert rep["input"]["rows_used"] == 3, name
        assert rep["models"][0]["family"] == "poisson", name
        assert rep["models"][0]["nll"] == pytest.approx(nll, rel=1e-12), name


def test_output_is_written_atomically(runs):
    r = runs["output_file"]
    _common(r)
    assert r.code == 0, r.err
    assert r.out == ""
    assert r.listing() == {"data.csv", "out.json"}  # no temp file left behind
    rep = json.loads((r.dir / "out.json").read_text(encoding="utf-8"))
    assert rep["command"] == "evaluate"
    assert rep["input"]["rows_used"] == 3


def test_help_imports_no_heavy_modules(runs):
    r = runs["help_imports"]
    assert r.code == 0, r.err
    assert "Usage" in r.out
    imported = {line.rsplit("|", 1)[-1].strip().split(".")[0]
                for line in r.err.splitlines() if line.startswith("import time:")}
    assert "losscli" in imported  # the -X importtime output was parsed
    assert not imported & {"pandas", "scipy", "pyarrow", "numpy", "dask", "distributed"}


def test_output_file_gets_the_mode_of_a_shell_redirect(tmp_path):
    import os
    import stat

    from tests.conftest import SAMPLES, run_cli

    out = tmp_path / "out.json"
    proc = run_cli("compare-noise-models", SAMPLES / "counts.csv", "--format", "json",
                   "-o", out)
    assert proc.returncode == 0
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask
