"""Messy and hostile files through the real entry point: each is read, or is one
`error: …` line naming the file, what is wrong and the row where it is known — never an
internal error, a traceback or a changed input. Numbers are checked against closed forms
written here.
"""

from __future__ import annotations

import gzip
import io
import math
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.test_bad_input import Case, _run, data_error, success, usage_error

ROWS = [(1, 1.5), (2, 2.5), (3, 2.0), (0, 0.5)]  # counts: evaluate scores poisson
CSV = b"y,y_pred\n" + b"".join(b"%d,%r\n" % r for r in ROWS)


def poisson_nll(rows=ROWS) -> float:
    return sum(mu - y * math.log(mu) + math.lgamma(y + 1) for y, mu in rows)


def _parquet(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


GZ = gzip.compress(b"y,y_pred\n" + b"".join(b"%d,%d.5\n" % (i % 5, i % 5)
                                             for i in range(20_000)))


def _flip(data: bytes, at: int) -> bytes:
    b = bytearray(data)
    b[at] ^= 0xFF
    b[at + 1] ^= 0xFF
    return bytes(b)


def _parts(n: int, bad: dict[int, bytes] | None = None) -> dict[str, bytes]:
    """Three files of n rows each (p1, p2, p3), with `bad` lines replacing data rows of
    the third (key: its own 1-based row)."""
    out = {}
    for k in (1, 2, 3):
        lines = [b"%d,%d.5" % (i % 4, i % 4) for i in range(n)]
        if k == 3:
            for row, line in (bad or {}).items():
                lines[row - 1] = line
        out[f"p{k}.csv"] = b"y,y_pred\n" + b"\n".join(lines) + b"\n"
    return out


LONG = 3 * 2 ** 20  # a 3 MiB field: longer than the 1 MiB read block

CASES: dict[str, Case] = {
    # ---- item 15: hostile files
    "lone_cr": Case(("evaluate", "cr.csv", "--format", "json"),
                    {"cr.csv": CSV.replace(b"\n", b"\r")}),
    "padded_header": Case(("evaluate", "pad.csv", "--format", "json"),
                          {"pad.csv": CSV.replace(b"y,y_pred", b" y , y_pred  ")}),
    "unicode_space_header": Case(
        ("evaluate", "uni.csv", "--format", "json"),
        {"uni.csv": CSV.replace(b"y,y_pred", "y\u00a0,\u2003y_pred".encode())}),
    "header_field_over_limit": Case(("evaluate", "wide.csv"),
                                    {"wide.csv": b"y,y_pred,\"" + b"x" * 200_000 + b"\"\n"
                                     + b"1,1.5,a\n"}),
    "row_over_a_block": Case(
        ("evaluate", "long.csv", "--format", "json"),
        {"long.csv": b"y,y_pred,note\n1,1.5,a\n2,2.5,\"" + b"x" * LONG + b"\"\n3,2.0,b\n"
         + b"0,0.5,c\n"}),
    "gzip_corrupt_start": Case(("evaluate", "start.csv.gz"), {"start.csv.gz": _flip(GZ, 20)}),
    "gzip_corrupt_middle": Case(("evaluate", "mid.csv.gz"),
                                {"mid.csv.gz": _flip(GZ, len(GZ) // 2)}),
    "gzip_truncated": Case(("evaluate", "cut.csv.gz"), {"cut.csv.gz": GZ[: len(GZ) // 2]}),
    "gzip_named_csv": Case(("evaluate", "packed.csv", "--format", "json"),
                           {"packed.csv": gzip.compress(CSV)}),
    # ---- item 12: messages
    "ragged_row": Case(("evaluate", "ragged.csv"),
                       {"ragged.csv": CSV + b"2,1.5,7\n1,1\n"}),
    "ragged_in_third_file": Case(("evaluate", "p1.csv", "p2.csv", "p3.csv"),
                                 _parts(51, {45: b"2,1.5,7"})),
    "text_in_third_file": Case(("evaluate", "p*.csv"), _parts(51, {51: b"2,xyz"})),
    "support_in_third_file": Case(("evaluate", "p1.csv", "p2.csv", "p3.csv", "-f", "poisson"),
                                  _parts(50, {40: b"-2,1.5"})),
    "latin1": Case(("evaluate", "latin.csv", "-t", "city", "--no-pred"),
                   {"latin.csv": "y,city\n1,Köln\n2,Málaga\n3,Köln\n".encode("latin-1")}),
    "latin1_header": Case(("evaluate", "lhead.csv"),
                          {"lhead.csv": "y,y_pred,größe\n1,1.5,2\n".encode("latin-1")}),
    "latin1_with_encoding": Case(
        ("evaluate", "latin.csv", "-t", "city", "--no-pred", "--encoding", "latin-1",
         "--format", "json"),
        {"latin.csv": "y,city\n1,Köln\n2,Málaga\n3,Köln\n".encode("latin-1")}),
    "unknown_encoding": Case(("evaluate", "data.csv", "--encoding", "klingon"),
                             {"data.csv": CSV}),
    "thousands": Case(("evaluate", "th.csv"), {"th.csv": b'y,y_pred\n1,1.5\n"6,000",2.5\n'}),
    "thousands_option": Case(("evaluate", "th.csv", "--thousands", ",", "-f", "gaussian",
                              "--format", "json"),
                             {"th.csv": b'y,y_pred\n1,1.5\n"6,000",2.5\n"-1,234.5",3\n'}),
    "thousands_misgrouped": Case(("evaluate", "th.csv", "--thousands", ","),
                                 {"th.csv": b'y,y_pred\n1,1.5\n"60,00",2.5\n'}),
    "decimal_comma": Case(("evaluate", "dc.csv"), {"dc.csv": b'y,y_pred\n1,1.5\n"0,5",2.5\n'}),
    "parquet_on_stdin": Case(("evaluate", "-", "--format", "json"),
                             stdin=_parquet(pa.table({"y": [r[0] for r in ROWS],
                                                      "y_pred": [r[1] for r in ROWS]}))),
    "gzip_on_stdin": Case(("evaluate", "-", "--format", "json"), stdin=gzip.compress(CSV)),
    "empty_parquet": Case(("evaluate", "empty.parquet"),
                          {"empty.parquet": _parquet(pa.table({
                              "y": pa.array([], pa.float64()),
                              "y_pred": pa.array([], pa.float64())}))}),
    "yes_no_target": Case(("evaluate", "yn.csv"),
                          {"yn.csv": b"y,prob\nyes,0.5\nno,0.2\nyes,0.9\n"}),
    "positive_label": Case(("evaluate", "yn.csv", "--positive-label", "yes", "--format",
                            "json"), {"yn.csv": b"y,prob\nyes,0.5\nno,0.2\nyes,0.9\n,0.3\n"}),
    "positive_label_absent": Case(("evaluate", "yn.csv", "--positive-label", "Yes"),
                                  {"yn.csv": b"y,prob\nyes,0.5\nno,0.2\nyes,0.9\n"}),
    "positive_label_third": Case(("evaluate", "yn.csv", "--positive-label", "yes"),
                                 {"yn.csv": b"y,prob\nyes,0.5\nno,0.2\nmaybe,0.9\n"}),
    "positive_label_classes": Case(("evaluate", "lab.csv", "--positive-label", "cat"),
                                   {"lab.csv": b"label,p_cat,p_dog\ncat,0.4,0.6\n"}),
    "same_file_twice": Case(("evaluate", "data.csv", "./data.csv", "d*.csv", "--format",
                             "json"), {"data.csv": CSV}),
    "one_row_dropped_of_one_thousand": Case(
        ("evaluate", "gaps.csv", "--format", "json"),
        {"gaps.csv": b"y,y_pred\n" + b"".join(b"%d,%d.5\n" % (i % 3, i % 3)
                                              for i in range(1233)) + b"1,\n"}),
    "only_row_missing": Case(("evaluate", "one.csv"), {"one.csv": b"y,y_pred\n1,\n"}),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("input_messages")
    with ThreadPoolExecutor(max_workers=min(8, (os.cpu_count() or 2) * 2)) as pool:
        futures = {name: pool.submit(_run, root, name, case) for name, case in CASES.items()}
        return {name: f.result() for name, f in futures.items()}


def _poisson(rep: dict, rows=ROWS) -> None:
    assert rep["input"]["rows_used"] == len(rows)
    assert rep["models"][0]["family"] == "poisson"
    assert rep["models"][0]["nll"] == pytest.approx(poisson_nll(rows), rel=1e-12)


# ------------------------------------------------------------------ hostile files


def test_lone_cr_line_endings_are_line_endings(runs):
    _poisson(success(runs["lone_cr"]))


@pytest.mark.parametrize("case", ["padded_header", "unicode_space_header"])
def test_header_names_are_matched_without_their_spaces(runs, case):
    rep = success(runs[case])
    _poisson(rep)
    assert rep["input"]["target"] == "y" and rep["input"]["prediction"] == "y_pred"


def test_a_header_field_over_the_csv_field_limit_is_one_error_line(runs):
    line = data_error(runs["header_field_over_limit"], "wide.csv", "header")
    assert "internal error" not in line


def test_a_row_longer_than_the_read_block_is_read(runs):
    rep = success(runs["row_over_a_block"])
    _poisson(rep)


def test_a_row_longer_than_every_block_is_an_input_error_with_the_row_before(
        tmp_path, monkeypatch):
    from losscli import sources, text_reader
    from losscli.errors import InputError
    from tests.conftest import run_api

    path = tmp_path / "long.csv"
    path.write_bytes(CASES["row_over_a_block"].files["long.csv"])
    monkeypatch.setattr(text_reader, "MAX_BLOCK_BYTES", sources.CSV_BLOCK_BYTES)
    with pytest.raises(InputError, match=r"after row 1 is longer than 1 MiB") as exc:
        run_api("evaluate", path)
    assert exc.value.file == str(path)


@pytest.mark.parametrize("case,name", [("gzip_corrupt_start", "start.csv.gz"),
                                       ("gzip_corrupt_middle", "mid.csv.gz"),
                                       ("gzip_truncated", "cut.csv.gz")])
def test_corrupt_gzip_is_one_error_line(runs, case, name):
    line = data_error(runs[case], name, "gzip")
    assert "internal error" not in line


def test_gzip_is_known_by_its_bytes_not_its_name(runs):
    _poisson(success(runs["gzip_named_csv"]))


# ------------------------------------------------------------------ messages


def test_a_ragged_row_is_named(runs):
    data_error(runs["ragged_row"], "ragged.csv", "row 5", "3 fields", "header has 2")


def test_a_row_of_the_third_file_is_named_in_its_file_and_in_the_data_set(runs):
    data_error(runs["ragged_in_third_file"], "p3.csv", "row 45 (row 147 of the data set)",
               "3 fields")
    data_error(runs["text_in_third_file"], "p3.csv", "row 51 (row 153 of the data set)",
               "'xyz'")
    data_error(runs["support_in_third_file"], "p3.csv", "row 40 (row 140 of the data set)",
               "poisson")


def test_latin1_bytes_are_located_and_the_encoding_option_suggested(runs):
    data_error(runs["latin1"], "latin.csv", "not UTF-8", "line 2", "--encoding latin-1")
    data_error(runs["latin1_header"], "lhead.csv", "not UTF-8", "line 1", "--encoding")


def test_encoding_option_reads_latin1(runs):
    rep = success(runs["latin1_with_encoding"])
    assert rep["target_kind"] == "categorical"
    # marginal categorical on labels Köln ×2, Málaga ×1: nll = −Σ n_k log(n_k / n)
    assert rep["models"][0]["nll"] == pytest.approx(
        -(2 * math.log(2 / 3) + math.log(1 / 3)), rel=1e-12)


def test_unknown_encoding_is_a_usage_error(runs):
    usage_error(runs["unknown_encoding"], "--encoding", "klingon")


def test_a_thousands_separator_is_not_called_a_decimal_comma(runs):
    line = data_error(runs["thousands"], "th.csv", "row 2", "'6,000'", "--thousands")
    assert "looks like a decimal comma" not in line
    data_error(runs["decimal_comma"], "dc.csv", "row 2", "'0,5'", "looks like a decimal comma")


def test_thousands_option_reads_grouped_numbers(runs):
    rep = success(runs["thousands_option"])
    y = np.array([1.0, 6000.0, -1234.5])
    pred = np.array([1.5, 2.5, 3.0])
    # gaussian with σ² = mean squared residual: nll = n/2 (log 2πσ² + 1)
    s2 = np.mean((y - pred) ** 2)
    assert rep["models"][0]["nll"] == pytest.approx(1.5 * (math.log(2 * math.pi * s2) + 1),
                                                    rel=1e-12)
    data_error(runs["thousands_misgrouped"], "th.csv", "row 2", "'60,00'")


@pytest.mark.parametrize("case", ["parquet_on_stdin", "gzip_on_stdin"])
def test_parquet_and_gzip_on_stdin_need_no_format_option(runs, case):
    rep = success(runs[case])
    _poisson(rep)
    assert rep["input"]["path"] == "-"
    assert rep["input"]["format"] == ("parquet" if "parquet" in case else "csv")


def test_an_empty_parquet_file_is_not_said_to_have_a_header(runs):
    line = data_error(runs["empty_parquet"], "empty.parquet", "no data rows")
    assert "header" not in line


def test_a_yes_no_target_suggests_positive_label(runs):
    data_error(runs["yes_no_target"], "yn.csv", "row 1", "'yes'", "--positive-label")


def test_positive_label_reads_a_text_binary_target(runs):
    r = runs["positive_label"]
    rep = success(r)
    assert rep["target_kind"] == "binary"
    assert rep["input"]["rows_used"] == 3 and rep["input"]["rows_dropped"] == 1
    m = rep["models"][0]
    assert m["family"] == "bernoulli"
    # yes (p=.5), no (1−.2), yes (.9)
    assert m["nll"] == pytest.approx(-(math.log(0.5) + math.log(0.8) + math.log(0.9)),
                                     rel=1e-12)
    assert m["metrics"]["accuracy"] == 1.0  # p ≥ ½ predicts 1 (SPEC §10.1): all three right


def test_positive_label_errors(runs):
    data_error(runs["positive_label_absent"], "yn.csv", "'Yes'", "did you mean 'yes'")
    data_error(runs["positive_label_third"], "yn.csv", "row 3", "'maybe'", "'no'")
    usage_error(runs["positive_label_classes"], "--positive-label", "2 class columns")


def test_the_same_file_given_twice_is_read_once(runs):
    r = runs["same_file_twice"]
    rep = success(r)
    _poisson(rep)
    assert rep["input"]["rows_read"] == len(ROWS)
    assert any("same file" in w for w in rep["warnings"]), rep["warnings"]


def test_counts_have_thousands_separators_and_singular_nouns(runs):
    r = runs["one_row_dropped_of_one_thousand"]
    rep = success(r)
    assert "warning: 1 of 1,234 rows dropped" in r.err, r.err
    assert rep["input"]["rows_dropped"] == 1
    line = data_error(runs["only_row_missing"], "one.csv", "no rows left")
    assert "1 rows" not in line


# ------------------------------------------------------------------ rounded probabilities


def _rounded_file(tmp_path, decimals: int, n: int = 3000, extra: str = ""):
    """n rows of 3-class probabilities written to `decimals` places, as exports write
    them; their labels drawn from the unrounded probabilities."""
    rng = np.random.default_rng(decimals)
    p = rng.dirichlet([1.0, 1.0, 1.0], n)
    y = (rng.random(n)[:, None] > np.cumsum(p, axis=1)).sum(axis=1)
    labels = np.array(["a", "b", "c"])[y]
    lines = ["label,p_a,p_b,p_c"] + [
        f"{lab},{r[0]:.{decimals}f},{r[1]:.{decimals}f},{r[2]:.{decimals}f}"
        for lab, r in zip(labels, p, strict=True)]
    path = tmp_path / f"rounded{decimals}.csv"
    path.write_text("\n".join(lines) + "\n" + extra)
    q = np.round(p, decimals)
    return path, q, y


@pytest.mark.parametrize("decimals", [2, 4, 6])
def test_probabilities_rounded_to_few_decimals_are_rescaled_and_counted(tmp_path, decimals):
    from tests.conftest import run_api

    path, q, y = _rounded_file(tmp_path, decimals)
    sums = q.sum(axis=1)
    off = np.abs(sums - 1.0) > 1e-6  # SPEC §3: within 1e-6 the row is taken as it is
    assert off.sum() > 100  # the case the rule is for
    q = np.where(off[:, None], q / sums[:, None], q)
    for batch_rows in (None, 700):  # counted the same however batched
        rep = run_api("evaluate", path, batch_rows=batch_rows)
        m = rep["models"][0]
        assert m["nll"] == pytest.approx(-np.log(q[np.arange(len(y)), y]).sum(), rel=1e-12)
        hits = [w for w in rep["warnings"] if "rounding" in w]
        assert len(hits) == 1 and hits[0].startswith(f"{off.sum():,} of 3,000 rows"), hits
        assert f"row {int(np.argmax(off)) + 1}" in hits[0]


def test_a_row_beyond_its_rounding_stays_an_error(tmp_path):
    from losscli.errors import InputError
    from tests.conftest import run_api

    # 0.3334 × 3 = 1.0002: three values within 0.00005 of 1/3 sum to 1.00015 at most
    path, _, _ = _rounded_file(tmp_path, 4, 50, extra="a,0.3334,0.3334,0.3334\n")
    with pytest.raises(InputError, match=r"row 51.*1\.0002.*rounding to 4 decimals"):
        run_api("evaluate", path)
    # exactly at the bound (0.45 + 0.55 = 1 from 0.5, 0.6): halfway values are not taken
    (tmp_path / "edge.csv").write_text("label,p_a,p_b\na,0.5,0.6\n")
    with pytest.raises(InputError, match="--renormalize"):
        run_api("evaluate", tmp_path / "edge.csv")
    # more than 6 decimals: the SPEC's 1e-6 alone
    (tmp_path / "seven.csv").write_text("label,p_a,p_b\na,0.2500001,0.7500012\n")
    with pytest.raises(InputError, match=r"tolerance 1e-06"):
        run_api("evaluate", tmp_path / "seven.csv")
    rep = run_api("evaluate", tmp_path / "seven.csv", renormalize=True)
    assert any("--renormalize" in w and w.startswith("1 of 1 row") for w in rep["warnings"])


def test_rounded_soft_labels_are_rescaled_too(tmp_path):
    from tests.conftest import run_api

    path = tmp_path / "soft.csv"
    path.write_text("t_a,t_b,t_c,p_a,p_b,p_c\n0.33,0.33,0.33,0.2,0.3,0.5\n"
                    "1,0,0,0.6,0.2,0.2\n")
    rep = run_api("evaluate", path, soft_target=("t_a,t_b,t_c",))
    t = np.array([[1 / 3, 1 / 3, 1 / 3], [1.0, 0.0, 0.0]])
    q = np.array([[0.2, 0.3, 0.5], [0.6, 0.2, 0.2]])
    assert rep["models"][0]["nll"] == pytest.approx(-(t * np.log(q)).sum(), rel=1e-12)
    assert any("soft labels" in w and "rounding" in w for w in rep["warnings"])


def test_a_long_row_after_many_batches_restarts_without_losing_or_repeating_rows(tmp_path):
    from tests.conftest import run_api

    rng = np.random.default_rng(7)
    n = 200_000  # ~2 MiB of rows before the long one: it straddles a later block
    y = rng.poisson(2.0, n + 2)
    mu = rng.uniform(0.5, 4.0, n + 2)
    notes = ["a"] * (n + 2)
    notes[n] = '"' + "x" * LONG + '"'
    path = tmp_path / "late.csv"
    path.write_text("y,y_pred,note\n" + "".join(
        f"{a},{float(b)!r},{c}\n" for a, b, c in zip(y, mu, notes, strict=True)))
    rep = run_api("evaluate", path, batch_rows=50_000)
    assert rep["input"]["rows_read"] == n + 2
    nll = float(np.sum(mu - y * np.log(mu) + np.array([math.lgamma(v + 1) for v in y])))
    assert rep["models"][0]["nll"] == pytest.approx(nll, rel=1e-10)
