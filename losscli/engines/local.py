"""The local engine: reductions over the pieces of a data set on a small thread pool.

numpy, scipy.special and Arrow release the GIL inside their loops, so two threads give a
near-linear speed-up. At most `window` pieces are in flight (read, converted and
reduced), so memory is bounded by the window, never by the rows. Partial states are
merged in piece order; the answer does not depend on the order (SPEC §5), but a fixed
order makes the first error the first in the data.
"""

from __future__ import annotations

import contextlib
import os
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

S = TypeVar("S")
P = TypeVar("P")

_pool: ThreadPoolExecutor | None = None
_blas = None  # threadpoolctl's view of the BLAS libraries loaded, found once (~10 ms)


def workers() -> int:
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(n or 1, 8))


def _executor() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=workers(), thread_name_prefix="losscli")
    return _pool


@contextlib.contextmanager
def one_blas_thread():
    """BLAS on one thread while the pool works: the pool's threads and BLAS's own would
    otherwise oversubscribe the cores (the limit is process-wide, restored on exit)."""
    global _blas
    if workers() == 1:
        yield
        return
    if _blas is None:
        from threadpoolctl import ThreadpoolController

        _blas = ThreadpoolController()
    with _blas.limit(limits=1, user_api="blas"):
        yield


def reduce(pieces: Iterable[P], update: Callable[[P], S], merge: Callable[[S, S], S],
           initial: S, done: Callable[[P], None] | None = None) -> S:
    """merge(…merge(initial, update(p1)), update(p2)…) over every piece, `update` on the
    pool with a bounded window; `done(piece)` is called as each piece is merged."""
    state = initial
    if workers() == 1:
        for piece in pieces:
            state = merge(state, update(piece))
            if done is not None:
                done(piece)
        return state
    pool = _executor()
    window = 2 * workers()
    pending: deque[tuple[P, Future]] = deque()
    try:
        try:
            for piece in pieces:
                pending.append((piece, pool.submit(update, piece)))
                while len(pending) >= window:
                    p, fut = pending.popleft()
                    state = merge(state, fut.result())
                    if done is not None:
                        done(p)
        except BaseException:
            # reading a later piece failed: an error in an earlier piece comes first
            for _, fut in pending:
                fut.result()
            raise
        while pending:
            p, fut = pending.popleft()
            state = merge(state, fut.result())
            if done is not None:
                done(p)
    finally:
        for _, fut in pending:
            fut.cancel()
        for _, fut in pending:  # let running pieces finish before their inputs go away
            if not fut.cancelled():
                try:
                    fut.result()
                except BaseException:  # noqa: BLE001 - the first error is already raised
                    pass
    return state


def map_ordered(fn: Callable[[P], S], items: list[P]) -> list[S]:
    """[fn(x) for x in items] on the pool, in order (the block sums of the numeric fits)."""
    if len(items) <= 1 or workers() == 1:
        return [fn(x) for x in items]
    with one_blas_thread():
        return list(_executor().map(fn, items))


class Local:
    """Reduces a pass on this machine's thread pool, piece by piece."""

    name = "local"
    grain = "pieces"  # it takes the data's pieces (row groups, text blocks) in order

    def reduce_pass(self, pieces: Iterable[P], fold: Callable[[P], S],
                    make: Callable[[], S], done: Callable[[P], None]) -> S:
        """make() merged with fold(piece), a state, of every piece, in piece order;
        `done(piece)` as each is merged (the progress)."""
        import numpy as np

        # the merges too: a non-finite sum is reported, not warned about
        with np.errstate(all="ignore"), one_blas_thread():
            return reduce(pieces, fold, lambda a, b: a.merge(b), make(), done)


ENGINE = Local()
