"""The Dask engine: the core's own reductions as tasks on a dask.distributed cluster.

The core plans one task per Parquet row group (from the footers) and one per text file
and hands them over with the fold of one task into a state; this maps the fold over them
on the workers (`Client.map`, plain functions; no dask.dataframe), merges the returned
states in a tree on the cluster, and the core drives the passes — the Newton passes
included — from the client. States are small plain data, so only they travel. Without
`--scheduler` a LocalCluster of single-threaded worker processes is started, and it is
closed on every way out, errors and Ctrl-C included.

dask is imported only here, and only when this engine is chosen (`losscli[dask]`).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os

from losscli.errors import LossCliError, UsageError

# seconds to reach a scheduler and hear it answer as one (it answers in milliseconds)
CONNECT_TIMEOUT = 10
# without a dashboard the scheduler still serves HTTP, by default on port 8787; where that
# port is taken (a notebook's cluster) it warns on stderr: a free loopback port instead
QUIET_SCHEDULER = {"dashboard_address": "127.0.0.1:0"}


class DaskError(LossCliError):
    """The cluster could not be reached or lost a worker (exit 1)."""


def _distributed():
    try:
        import distributed
    except ImportError:
        raise LossCliError("--engine dask needs the dask extra: pip install "
                           "'losscli[dask]'") from None
    return distributed


def _check_main_guard() -> None:
    """A usage error if this call runs in a script's top-level code outside an
    `if __name__ == "__main__":` block.

    The LocalCluster's worker processes start by multiprocessing's spawn, which re-runs
    the main module's top level in each of them (not a package's `__main__`, not an
    interactive session or a notebook): an unguarded call would start a cluster again in
    every worker, and each would fail with its own traceback."""
    import sys

    main = sys.modules.get("__main__")
    name = getattr(getattr(main, "__spec__", None), "name", None)
    path = getattr(main, "__file__", None)
    if path is None or name == "__main__" or (name or "").endswith(".__main__"):
        return
    frame = sys._getframe()
    while frame is not None and not (frame.f_globals is vars(main)
                                     and frame.f_code.co_name == "<module>"):
        frame = frame.f_back
    if frame is None:  # not called from the script's top level (a thread, atexit)
        return
    line = frame.f_lineno
    import ast

    try:
        with open(path, "rb") as fh:
            tree = ast.parse(fh.read())
    except (OSError, SyntaxError, ValueError):  # no source to read: nothing to tell
        return
    for node in ast.walk(tree):
        if (isinstance(node, ast.If) and node.lineno <= line <= (node.end_lineno or line)
                and any(isinstance(n, ast.Name) and n.id == "__name__"
                        for n in ast.walk(node.test))):
            return
    raise UsageError(
        f"{path}, line {line}: engine='dask' starts worker processes that re-run this "
        "script's top-level code; put the call under `if __name__ == \"__main__\":` "
        "(or connect to a running cluster with scheduler=...)")


class Dask:
    """A connection to a cluster (started here, or at `scheduler`) for one run;
    `address(scheduler)` gives the scheduler's address (from a scheduler file)."""

    name = "dask"
    grain = "tasks"  # it takes whole tasks (row groups, text files) and a fold function

    def __init__(self, scheduler: str | None = None, workers: int | None = None,
                 address=None) -> None:
        self.scheduler = scheduler
        self.workers = workers
        self.address = address or (lambda scheduler: scheduler)
        self.client = None
        self._stack = contextlib.ExitStack()
        self.tasks_done = 0

    def __enter__(self) -> Dask:
        if not self.scheduler:
            _check_main_guard()
        distributed = _distributed()
        import dask

        dask.config.set({"distributed.comm.timeouts.connect": f"{CONNECT_TIMEOUT}s"})
        # a task's error is raised here once, as the one `error:` line; the cluster's own
        # log of it (and of its shutdown) is not output of ours
        logging.getLogger("distributed").setLevel(logging.CRITICAL)
        try:
            if self.scheduler:
                address = self.address(self.scheduler)
                _probe(distributed, address)
                self.client = self._stack.enter_context(
                    distributed.Client(address, timeout=f"{CONNECT_TIMEOUT}s"))
            else:
                n = self.workers or len(os.sched_getaffinity(0))
                cluster = self._stack.enter_context(distributed.LocalCluster(
                    n_workers=n, threads_per_worker=1, processes=True,
                    dashboard_address=None, silence_logs=logging.CRITICAL,
                    scheduler_kwargs=QUIET_SCHEDULER))
                self.client = self._stack.enter_context(distributed.Client(cluster))
        except (OSError, TimeoutError, RuntimeError) as exc:
            self._stack.close()
            if self.scheduler:
                raise DaskError(f"could not connect to a Dask scheduler at {self.scheduler} "
                                f"within {CONNECT_TIMEOUT} s ({exc})") from None
            raise DaskError(f"could not start a local Dask cluster: {exc}") from None
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()

    def reduce_pass(self, tasks: list, fold, done):
        """Map `fold(task, offset)` → (state, rows, batches) over the tasks on the
        workers and merge the states in a tree, in task order. A task's `offset` is its
        first row's; where it is None (a text file after another) the rows folded before
        it are. `done(task, rows, batches, k, planned)` as the k-th task finishes."""
        distributed = _distributed()
        client = self.client
        work = functools.partial(_one_blas_thread, fold)
        try:
            known = [t for t in tasks if t.offset is not None]
            futures = client.map(work, known, [t.offset for t in known], pure=False)
            states = list(futures)
            order = {f.key: t for f, t in zip(futures, known, strict=True)}
            planned = len(tasks)
            for k, fut in enumerate(distributed.as_completed(futures), 1):
                if fut.status == "error":  # the first error in the data, not in time
                    distributed.wait(futures)
                    next(f for f in futures if f.status == "error").result()
                _, rows, batches = fut.result()
                done(order[fut.key], rows, batches, k, planned)
            # text files after another text file: their offsets follow the rows read
            offset = None
            for t in tasks[len(known):]:
                if offset is None:
                    offset = sum(f.result()[1] for f in states)
                fut = client.submit(work, t, offset, pure=False)
                _, rows, batches = fut.result()
                done(t, rows, batches, len(states) + 1, planned)
                offset += rows
                states.append(fut)
            root = _tree(client, [client.submit(_state, f, pure=False) for f in states])
            return root.result()
        except (distributed.comm.core.CommClosedError, distributed.scheduler.KilledWorker,
                OSError, TimeoutError) as exc:
            raise DaskError(f"the Dask cluster failed during the pass: "
                            f"{type(exc).__name__}: {exc}") from None


def _one_blas_thread(fold, task, offset):
    """fold(task, offset) with BLAS on one thread: a worker's task is its one thread of
    work, and BLAS's own threads would oversubscribe the cores the workers share."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        return fold(task, offset)


def _state(result):
    return result[0]


def _merge(a, b):
    import numpy as np

    with np.errstate(all="ignore"):  # a non-finite sum is reported, not warned about
        return a.merge(b)


def _tree(client, futures):
    """Merge states pairwise on the cluster, level by level, in task order."""
    while len(futures) > 1:
        nxt = [client.submit(_merge, futures[i], futures[i + 1], pure=False)
               for i in range(0, len(futures) - 1, 2)]
        if len(futures) % 2:
            nxt.append(futures[-1])
        futures = nxt
    return futures[0]


def _reach(address: str, timeout: float) -> str | None:
    """Open a plain TCP connection to the address's host and port (tcp, tls, ws and wss all
    run over TCP) and close it: None when something accepts, else why not.

    distributed retries a refused connection until its own timeout, so this answers
    a refusal or an unknown host at once, and with the same reason every time."""
    import socket

    host, _, port = address.partition("://")[2].rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except ConnectionRefusedError:
        return "connection refused"
    except socket.gaierror:
        return "host not found"
    except TimeoutError:
        return "no answer"
    except OSError as exc:  # no route to host, network unreachable, ...
        return (exc.strerror or str(exc) or type(exc).__name__).lower()
    return None


def _probe(distributed, address: str) -> None:
    """Connect to `address` and ask who answers, all within about CONNECT_TIMEOUT seconds.

    First a plain TCP connection (`_reach`), which reports a refusal or an unknown host
    at once; then the Dask handshake. distributed waits for the peer's handshake without
    a bound, so a service that accepts and says nothing would hang the run; one that
    speaks another protocol sends bytes that distributed reads as frame lengths. Each
    ends here as one DaskError."""
    import asyncio
    import threading
    import time

    async def ask(timeout: float):
        comm = await distributed.comm.connect(address, timeout=timeout,
                                              **_connection_args(distributed))
        try:
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()
        finally:
            comm.abort()

    outcome: dict = {}
    deadline = time.monotonic() + CONNECT_TIMEOUT

    def run() -> None:  # its own thread and loop: the caller may be inside a running loop
        try:
            outcome["why"] = _reach(address, CONNECT_TIMEOUT)
            if outcome["why"] is not None:
                return
            # the rest of the time for the handshake; distributed's own connect timeout
            # (its retries) gets half of it, so which deadline comes first never depends
            # on the machine's load, and the reason is always the same
            left = max(deadline - time.monotonic(), 2.0)
            outcome["reply"] = asyncio.run(asyncio.wait_for(ask(left / 2), left))
        except BaseException as exc:  # noqa: BLE001 - each way to fail is one message
            outcome["error"] = exc

    thread = threading.Thread(target=run, name="losscli-dask-probe", daemon=True)
    thread.start()
    thread.join(CONNECT_TIMEOUT + 3)
    reply, exc = outcome.get("reply"), outcome.get("error")
    if isinstance(reply, dict) and reply.get("type") == "Scheduler":
        return
    causes, e = [], exc
    while e is not None and len(causes) < 8:
        causes.append(e)
        e = e.__cause__ or e.__context__
    said = " ".join(f"{type(e).__name__} {e}" for e in causes).lower()
    if outcome.get("why") is not None:
        why = outcome["why"]
    elif reply is not None:
        why = "the service there answered, but not as a Dask scheduler"
    elif "refused" in said:  # it closed between the two connections
        why = "connection refused"
    elif "gaierror" in said or "name or service not known" in said:
        why = "host not found"
    elif exc is None or "timed out" in said or isinstance(exc, TimeoutError):
        why = "no answer"
    elif isinstance(exc, (OSError, ValueError, MemoryError, distributed.comm.CommClosedError)):
        why = "the service there does not speak Dask's protocol"
    else:
        why = f"{type(exc).__name__}: {exc}"
    raise DaskError(f"could not connect to a Dask scheduler at {address} within "
                    f"{CONNECT_TIMEOUT} s ({why})")


def _connection_args(distributed) -> dict:
    """TLS and other connection settings from the Dask configuration, as a Client uses."""
    return distributed.security.Security().get_connection_args("client")
