"""Warnings and skip reasons over several files name the file a row is in and the row
twice — within that file and within the data set — as errors do; a UTF-16 file is called
UTF-16 text; a file named twice is read once with a warning, however it is spelt."""

from __future__ import annotations

import json

import numpy as np

from tests.conftest import run_api, run_cli


def _two_files(tmp_path, second: str) -> tuple[str, str]:
    a, b = tmp_path / "z1.csv", tmp_path / "z3.csv"
    a.write_text("y,p\n1,0.9\n0,0.2\n1,0.7\n")
    b.write_text(second)
    return str(a), str(b)


def test_a_clipped_probability_is_named_in_its_file(tmp_path):
    a, b = _two_files(tmp_path, "y,p\n0,0.3\n1,1.0\n0,0.1\n")
    rep = run_api("evaluate", (a, b))
    [w] = [w for w in rep["warnings"] if "clipped" in w]
    assert f"first: {b}, row 2 (row 5 of the data set), column 'p', value 1" in w


def test_a_clipped_probability_in_one_file_names_the_file_and_row(tmp_path):
    _, b = _two_files(tmp_path, "y,p\n0,0.3\n1,1.0\n0,0.1\n")
    rep = run_api("evaluate", b)
    [w] = [w for w in rep["warnings"] if "clipped" in w]
    assert f"first: {b}, row 2, column 'p'" in w


def test_a_zero_probability_is_named_in_its_file(tmp_path):
    a, b = _two_files(tmp_path, "y,p\n0,0.3\n1,0\n0,0.1\n")
    rep = run_api("evaluate", (a, b), eps=0.0)
    [w] = [w for w in rep["warnings"] if "probability 0" in w]
    assert f"first: {b}, row 2 (row 5 of the data set), column 'p', value 0" in w


def test_a_density_underflow_is_named_in_its_file(write_csv, rng):
    paths = []
    for name in ("f1.csv", "f2.csv"):
        y = rng.poisson(3.0, 30).astype(float)
        pred = y + rng.normal(0.0, 0.5, 30)
        if name == "f2.csv":
            y[2] = 1e18  # student_t's discretised mass there is positive, but below float64
        paths.append(str(write_csv(name, y=y, y_pred=pred)))
    rep = run_api("compare-noise-models", tuple(paths))
    reason = {s["family"]: s["reason"] for s in rep["skipped"]}["student_t"]
    assert "underflows float64" in reason
    assert (f"of {paths[1]}, row 3 (row 33 of the data set; target 'y' = 1e+18, "
            f"prediction 'y_pred' = ") in reason


def test_a_utf16_or_utf32_file_is_called_so_and_its_option_works(tmp_path):
    text = "y,p\n1,0.9\n0,0.2\n"
    for codec, name in (("utf-16-le", "UTF-16"), ("utf-16-be", "UTF-16"),
                        ("utf-32-le", "UTF-32"), ("utf-32-be", "UTF-32")):
        path = tmp_path / f"{codec}.csv"
        path.write_bytes(("\ufeff" + text).encode(codec))  # with its byte-order mark
        proc = run_cli("evaluate", path)
        assert proc.returncode == 1
        err = proc.stderr.decode()
        assert err.count("\n") == 1 and err.startswith(f"error: {path}: ")
        assert f"is {name} CSV text" in err and "binary" not in err
        option = f"--encoding {name.lower()}"
        assert err.rstrip().endswith(option)
        proc = run_cli("evaluate", path, *option.split(), "--format", "json")
        assert proc.returncode == 0, proc.stderr
        [m] = json.loads(proc.stdout)["models"]
        assert np.isclose(m["nll"], -np.log(0.9) - np.log(0.8), rtol=1e-12)


def test_utf16_from_standard_input_is_read_with_the_option():
    data = "y,p\n1,0.9\n0,0.2\n".encode("utf-16")
    proc = run_cli("evaluate", "-", "--encoding", "utf-16", "--format", "json", stdin=data)
    assert proc.returncode == 0, proc.stderr
    rep = json.loads(proc.stdout)
    [m] = rep["models"]
    assert np.isclose(m["nll"], -np.log(0.9) - np.log(0.8), rtol=1e-12)


def test_a_file_named_twice_with_one_spelling_is_read_once_with_a_warning(tmp_path):
    a, _ = _two_files(tmp_path, "y,p\n0,0.3\n1,0.6\n0,0.1\n")
    rep = run_api("evaluate", (a, a))
    assert rep["input"]["rows_read"] == 3
    assert [w for w in rep["warnings"] if "read once" in w] == [f"{a} is named twice: read once"]
    one = run_api("evaluate", a)
    assert rep["models"][0]["nll"] == one["models"][0]["nll"]


def test_a_name_and_a_glob_of_one_file_warn(tmp_path):
    a, _ = _two_files(tmp_path, "y,p\n0,0.3\n1,0.6\n0,0.1\n")
    rep = run_api("evaluate", (a, str(tmp_path / "z1*.csv")))
    assert any("read once" in w and a in w for w in rep["warnings"])


def test_a_dominant_row_of_a_vuong_test_is_named_in_its_file(write_csv):
    y = np.random.default_rng(0).normal(0.0, 1.0, 1000)
    y[17] = 12.0  # laplace is best only by this row: without it gaussian wins
    paths = (str(write_csv("v1.csv", y=y[:10])), str(write_csv("v2.csv", y=y[10:])))
    rep = run_api("compare-noise-models", paths, families=("gaussian", "laplace"))
    [w] = [w for w in rep["warnings"] if w.startswith("vuong test")]
    assert f"row 8 of {paths[1]} (row 18 of the data set) alone makes" in w
