"""The Dask engine: the same reductions as tasks on a real cluster give the local engine's
report; worker errors, unreachable schedulers and a missing extra are one `error:` line.

One LocalCluster(n_workers=2, threads_per_worker=1) serves the module's in-process runs;
the `--scheduler` path runs against `dask scheduler` and two `dask worker` processes
started here on loopback and always stopped."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from losscli.engines.dask import QUIET_SCHEDULER
from losscli.errors import InputError, LossCliError
from tests.conftest import SAMPLES, run_api, run_cli
from tests.test_streaming import _frame, _write_parts, assert_same

distributed = pytest.importorskip("distributed")

SAMPLE_RUNS = [
    ("compare-noise-models", "counts.csv", {}),
    ("compare-noise-models", "regression.parquet", {}),
    ("compare-noise-models", "binary.csv", {}),
    ("compare-noise-models", "multiclass.csv", {}),
    ("compare-noise-models", "positive.parquet", {"weight": "w"}),
    ("evaluate", "distill.csv", {"soft_target": ("t_*",), "probs": ("p_*",)}),
    # the diagnostics pass: its reduction states travel to the workers and back
    ("diagnose", "counts.csv", {"families": ("poisson", "negative_binomial")}),
    ("diagnose", "regression.parquet", {"families": ("gaussian", "student_t", "laplace")}),
    ("diagnose", "binary.csv", {}),
    ("diagnose", "multiclass.csv", {}),
    ("compare-noise-models", "positive.parquet", {"weight": "w", "diagnostics": True}),
    # model inputs: per-row parameters, held ones, their own prediction columns, scores
    ("evaluate", "distributional.csv", {"families": ("gaussian", "student_t"),
                                        "param": ("sigma=sigma",), "scores": True,
                                        "quantiles": ("q_*",)}),
    ("compare-noise-models", "distributional.csv", {"param": ("gaussian.sigma=sigma",),
                                                    "fix": ("student_t.df=5",),
                                                    "scores": True}),
]


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, silence_logs=40,
                                  scheduler_kwargs=QUIET_SCHEDULER) as c:
        yield c


def _without_engine(rep: dict) -> dict:
    rep = json.loads(json.dumps(rep))
    rep["input"].pop("engine")
    return rep


@pytest.mark.parametrize("command,name,kw", SAMPLE_RUNS)
def test_dask_gives_the_local_report(cluster, command, name, kw):
    local = run_api(command, SAMPLES / name, **kw)
    remote = run_api(command, SAMPLES / name, scheduler=cluster.scheduler_address,
                     engine="dask", **kw)
    assert remote["input"]["engine"] == "dask" and local["input"]["engine"] == "local"
    assert_same(_without_engine(local), _without_engine(remote))
    assert remote["warnings"] == local["warnings"]


def test_many_parts_several_passes_and_the_sample_below_the_rows(cluster, tmp_path):
    data = _frame("counts", 3000, 5)
    folder = _write_parts(tmp_path, data, 4, 300)
    kw = {"weight": "w", "fit_rows": 500}
    local = run_api("compare-noise-models", folder, **kw)
    remote = run_api("compare-noise-models", folder, scheduler=cluster.scheduler_address,
                     engine="dask", **kw)
    assert_same(_without_engine(local), _without_engine(remote))
    assert remote["input"]["batches"] == local["input"]["batches"] == 12


def test_several_text_files_are_numbered_across_files_on_the_cluster(cluster, write_csv):
    y = np.arange(1.0, 41.0)
    paths = [write_csv(f"t{i}.csv", y=y + i, y_pred=y + i + 0.25) for i in range(3)]
    local = run_api("evaluate", tuple(map(str, paths)))
    remote = run_api("evaluate", tuple(map(str, paths)), engine="dask",
                     scheduler=cluster.scheduler_address)
    assert_same(_without_engine(local), _without_engine(remote))
    bad = write_csv("t3.csv", y=["1"] * 5 + ["x"] + ["2"] * 4, y_pred=["1"] * 10)
    with pytest.raises(InputError) as err:
        run_api("evaluate", (*map(str, paths), str(bad)), engine="dask",
                scheduler=cluster.scheduler_address)
    # the bad file sorts last: 3 × 40 rows before it, then its sixth row
    assert err.value.file == str(bad) and err.value.row == 126 and err.value.value == "x"


def test_an_error_in_a_row_group_names_file_column_global_row_and_value(cluster, tmp_path):
    y = np.arange(1.0, 301.0)
    pred = y + 0.5
    pred[217] = -1.0  # outside poisson's domain for the mean (in the third row group)
    path = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"y": y, "y_pred": pred}), path, row_group_size=100)
    with pytest.raises(InputError) as err:
        run_api("evaluate", path, families=("poisson",), engine="dask",
                scheduler=cluster.scheduler_address)
    assert err.value.row == 218 and err.value.value == -1.0


def test_the_cli_starts_and_closes_its_own_cluster():
    proc = run_cli("compare-noise-models", SAMPLES / "counts.csv", "--engine", "dask",
                   "--workers", "2", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    rep = json.loads(proc.stdout)
    assert rep["input"]["engine"] == "dask"
    ref = json.loads(run_cli("compare-noise-models", SAMPLES / "counts.csv",
                             "--format", "json").stdout)
    assert_same(_without_engine(ref), _without_engine(rep))


def test_errors_on_the_cluster_are_one_line_with_exit_1(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("y,y_pred\n1,2\n2,abc\n")
    proc = run_cli("evaluate", bad, "--engine", "dask", "--workers", "1")
    lines = proc.stderr.decode().strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1, proc.stderr
    assert "column 'y_pred', row 2, value 'abc'" in lines[0]


def test_an_unreachable_scheduler_is_one_line_and_no_hang():
    start = time.monotonic()
    proc = run_cli("compare-noise-models", SAMPLES / "counts.csv",
                   "--scheduler", f"tcp://127.0.0.1:{_free_port()}")
    lines = proc.stderr.decode().strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: could not connect to a Dask scheduler at "
                               "tcp://127.0.0.1:")
    assert lines[0].endswith("within 10 s (connection refused)")
    assert time.monotonic() - start < 60


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


def test_a_refused_port_is_reported_at_once_and_alike_every_time():
    from losscli.engines.dask import DaskError, _probe

    port = _free_port()
    hosts = ["127.0.0.1"] + (["[::1]"] if _ipv6_loopback() else [])
    for host in hosts:
        address = f"tcp://{host}:{port}"
        messages = []
        for _ in range(3):
            start = time.monotonic()
            with pytest.raises(DaskError) as info:
                _probe(distributed, address)
            assert time.monotonic() - start < 3  # not distributed's retries until 10 s
            messages.append(str(info.value))
        assert messages == [f"could not connect to a Dask scheduler at {address} within "
                            "10 s (connection refused)"] * 3
    # on the command line, the bare and the tcp:// form alike
    for address in (f"{host}:{port}", f"tcp://{host}:{port}"):
        proc = run_cli("evaluate", SAMPLES / "counts.csv", "--scheduler", address)
        assert proc.returncode == 1
        assert proc.stderr.decode() == (f"error: could not connect to a Dask scheduler at "
                                        f"tcp://{host}:{port} within 10 s "
                                        "(connection refused)\n")


def test_an_unknown_host_is_reported_as_not_found():
    from losscli.engines.dask import DaskError, _probe

    # .invalid is reserved never to resolve (RFC 6761)
    with pytest.raises(DaskError, match=r"at tcp://no-such-host\.invalid:8786 within 10 s "
                                        r"\(host not found\)$"):
        _probe(distributed, "tcp://no-such-host.invalid:8786")


def test_without_the_extra_dask_is_one_line_naming_it(tmp_path):
    code = ("import sys; sys.modules['distributed'] = None; sys.modules['dask'] = None; "
            "sys.argv = ['losscli', 'evaluate', sys.argv[1], '--engine', 'dask']; "
            "from losscli.cli import main; main()")
    proc = subprocess.run([sys.executable, "-c", code, str(SAMPLES / "counts.csv")],
                          capture_output=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.decode().strip() == ("error: --engine dask needs the dask extra: "
                                            "pip install 'losscli[dask]'")


def test_isolated_errors_of_the_engine_are_loss_cli_errors():
    from losscli.engines.dask import DaskError

    assert issubclass(DaskError, LossCliError)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _dask_cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "distributed.cli." + args[0], *args[1:]]


def test_a_running_scheduler_and_two_worker_processes_on_loopback(tmp_path):
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = [subprocess.Popen(_dask_cli("dask_scheduler", "--host", "127.0.0.1", "--port",
                                        str(port), "--no-dashboard"),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        for _ in range(2):
            procs.append(subprocess.Popen(
                _dask_cli("dask_worker", address, "--nthreads", "1", "--no-dashboard",
                          "--host", "127.0.0.1"),
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        with distributed.Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
        proc = run_cli("compare-noise-models", SAMPLES / "regression.parquet",
                       "--scheduler", address, "--format", "json")
        assert proc.returncode == 0, proc.stderr
        rep = json.loads(proc.stdout)
        ref = json.loads(run_cli("compare-noise-models", SAMPLES / "regression.parquet",
                                 "--format", "json").stdout)
        assert rep["input"]["engine"] == "dask"
        assert_same(_without_engine(ref), _without_engine(rep))
        # the same scheduler named by a scheduler file
        file = tmp_path / "scheduler.json"
        file.write_text(json.dumps({"type": "Scheduler", "address": address}))
        by_file = run_cli("compare-noise-models", SAMPLES / "regression.parquet",
                          "--scheduler", file, "--format", "json")
        assert by_file.returncode == 0, by_file.stderr
        assert json.loads(by_file.stdout) == rep
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


class _Service:
    """A TCP service on loopback that is not a Dask scheduler: it accepts every connection
    and then says nothing (`reply` None) or sends `reply` and keeps the line open."""

    def __init__(self, reply: bytes | None) -> None:
        import threading

        self.reply = reply
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        self.stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.conns.append(conn)
            if self.reply is not None:
                try:
                    conn.sendall(self.reply)
                except OSError:
                    pass

    def close(self) -> None:
        self.stop = True
        self.thread.join(5)
        for c in self.conns:
            c.close()
        self.sock.close()


@pytest.mark.parametrize("reply", [
    None,  # accepts and says nothing (distributed alone would wait forever)
    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",  # a web server
    b"\xff" * 64,  # a frame length no array can have
    (1 << 40).to_bytes(8, "little") + b"\x00" * 56,  # a frame of a terabyte
], ids=["silent", "http", "garbage", "huge-frame"])
def test_a_service_that_is_not_a_scheduler_ends_in_one_line_within_the_timeout(reply):
    service = _Service(reply)
    try:
        start = time.monotonic()
        proc = run_cli("evaluate", SAMPLES / "counts.csv",
                       "--scheduler", f"127.0.0.1:{service.port}")
        elapsed = time.monotonic() - start
    finally:
        service.close()
    lines = proc.stderr.decode().strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"error: could not connect to a Dask scheduler at "
                               f"tcp://127.0.0.1:{service.port} within 10 s (")
    why = "no answer" if reply is None else "the service there does not speak Dask's protocol"
    assert lines[0].endswith(f"({why})"), lines[0]
    assert elapsed < 40  # 10 s to connect, and the start-up of a loaded machine


def test_a_scheduler_file_names_the_address(tmp_path):
    service = _Service(None)
    file = tmp_path / "scheduler.json"
    file.write_text(json.dumps({"type": "Scheduler", "address": f"tcp://127.0.0.1:"
                                f"{service.port}"}))
    try:
        proc = run_cli("evaluate", SAMPLES / "counts.csv", "--scheduler", file)
    finally:
        service.close()
    assert proc.returncode == 1
    assert proc.stderr.decode().startswith(
        f"error: could not connect to a Dask scheduler at tcp://127.0.0.1:{service.port} "
        "within 10 s")
    bad = tmp_path / "other.json"
    bad.write_text('{"workers": {}}')
    proc = run_cli("evaluate", SAMPLES / "counts.csv", "--scheduler", bad)
    assert proc.returncode == 1
    assert proc.stderr.decode() == f"error: {bad}: not a Dask scheduler file (no 'address' in it)\n"


def test_the_python_api_checks_the_address_too():
    from losscli.errors import UsageError

    with pytest.raises(UsageError, match="http:// is not a Dask protocol"):
        run_api("evaluate", SAMPLES / "counts.csv", engine="dask",
                scheduler="http://127.0.0.1:8786")
