"""`python -m losscli ARGS` as a fresh process, forked from a server process that has
already imported losscli and its libraries.

A new interpreter spends about a second of CPU importing numpy, scipy and pyarrow before
losscli reads its first option, and the suite runs the command line hundreds of times. A
process forked from one that holds those imports keeps everything a test of the command
line looks at — its own argv, environment, working directory, stdin, stdout, stderr, exit
code and atexit handlers, and nothing left over from another run — for a few
milliseconds. Tests of what happens before or during import (`--help` without numpy,
interpreter flags, signals) start a real interpreter instead.

The server (one per test process, started on first use) listens on a Unix socket; each
connection is forked at once into a child that reads its request (JSON: argv, cwd, env and
the paths of its three standard streams), writes its pid, runs the command, and writes
its exit code last. The server ends when the test process does (its stdin closes).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# what `python -m losscli` imports on a data command; loaded once in the server
PRELOAD = ("losscli.cli", "losscli.api", "losscli.render", "losscli.html_report")

_lock = threading.Lock()
_server: tuple[subprocess.Popen, str] | None = None


def serve(path: str) -> None:
    """The server's loop: accept, fork, repeat; stop when stdin reaches end of file."""
    import importlib
    import selectors

    for name in PRELOAD:
        importlib.import_module(name)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ)
    sel.register(sys.stdin, selectors.EVENT_READ)
    while True:
        for key, _ in sel.select():
            if key.fileobj is sys.stdin:
                if not sys.stdin.buffer.read1(1):
                    os._exit(0)
                continue
            conn, _ = listener.accept()
            if os.fork() == 0:
                try:
                    sel.close()
                    listener.close()
                    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                    _child(conn)
                finally:
                    os._exit(70)  # reached only if the child failed before running
            conn.close()


def _child(conn: socket.socket) -> None:
    """The forked process: become `python -m losscli ARGV` and report its exit code."""
    import atexit
    import runpy
    import traceback

    with conn.makefile("rb") as fh:
        req = json.loads(fh.readline())
    conn.sendall(f"{os.getpid()}\n".encode())
    os.chdir(req["cwd"])
    os.environ.clear()
    os.environ.update(req["env"])
    for fd, (path, flags) in enumerate(zip(req["streams"], (os.O_RDONLY, os.O_WRONLY,
                                                            os.O_WRONLY), strict=True)):
        opened = os.open(path, flags)
        os.dup2(opened, fd)
        os.close(opened)
    sys.stdin = open(0, closefd=False)  # noqa: SIM115 - the process's standard streams
    sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, closefd=False,  # noqa: SIM115
                      errors="backslashreplace")
    sys.argv = [str(ROOT / "losscli" / "__main__.py"), *req["argv"]]
    sys.path[0] = req["cwd"]  # as `python -m` does
    code = 0
    try:
        runpy.run_module("losscli", run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            code = exc.code or 0
        else:
            print(exc.code, file=sys.stderr)
            code = 1
    except BaseException:  # what the interpreter does with an uncaught exception
        traceback.print_exc()
        code = 1
    try:
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
        conn.sendall(f"{code}\n".encode())
    finally:
        os._exit(code)


def _address() -> str:
    """The server's socket, starting the server on first use."""
    global _server
    with _lock:
        if _server is None or _server[0].poll() is not None:
            path = os.path.join(tempfile.mkdtemp(prefix="losscli-fork-"), "socket")
            proc = subprocess.Popen(
                [sys.executable, "-c", f"from tests.forked import serve; serve({path!r})"],
                cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            if proc.stdout.readline() != b"ready\n":
                raise RuntimeError("the losscli fork server did not start")
            _server = (proc, path)
        return _server[1]


def run(args: Sequence[str], *, stdin: bytes | str | None = None, cwd: str | Path | None = None,
        env: Mapping[str, str] | None = None, text: bool = False, timeout: float = 120,
        check: bool = False) -> subprocess.CompletedProcess:
    """As `subprocess.run([python, -m, losscli, *args], capture_output=True, ...)`;
    `stdin` None reads an empty stdin (as `subprocess.DEVNULL`)."""
    args = [str(a) for a in args]
    with tempfile.TemporaryDirectory(prefix="losscli-run-") as d:
        streams = [os.path.join(d, n) for n in ("stdin", "stdout", "stderr")]
        data = stdin.encode() if isinstance(stdin, str) else (stdin or b"")
        for path, content in zip(streams, (data, b"", b""), strict=True):
            Path(path).write_bytes(content)
        req = {"argv": args, "cwd": str(cwd or os.getcwd()), "streams": streams,
               "env": dict(os.environ if env is None else env)}
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(_address())
            sock.settimeout(timeout)
            sock.sendall(json.dumps(req).encode() + b"\n")
            with sock.makefile("rb") as fh:
                pid = int(fh.readline())
                try:
                    line = fh.readline()
                except TimeoutError:
                    os.kill(pid, signal.SIGKILL)
                    raise subprocess.TimeoutExpired(["losscli", *args], timeout) from None
        code = int(line) if line else -signal.SIGKILL  # no code: the child was killed
        out, err = Path(streams[1]).read_bytes(), Path(streams[2]).read_bytes()
    if text:
        out, err = out.decode(), err.decode()
    done = subprocess.CompletedProcess([sys.executable, "-m", "losscli", *args], code, out, err)
    if check:
        done.check_returncode()
    return done
