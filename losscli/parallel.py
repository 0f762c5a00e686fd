"""Blocks of rows evaluated on every core: numpy and scipy.special release the GIL inside
their loops, so threads give a near-linear speed-up on the per-row log-likelihoods."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
_pool: ThreadPoolExecutor | None = None


def workers() -> int:
    return max(1, min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                      else (os.cpu_count() or 1), 8))


def blocks(n: int, size: int) -> list[slice]:
    return [slice(s, min(s + size, n)) for s in range(0, n, size)]


def map_blocks(fn: Callable[[slice], T], n: int, size: int) -> list[T]:
    """[fn(rows) for each block of `size` rows], in order, on a shared thread pool.

    Floating-point warnings are off inside the blocks (numpy's error state is per thread):
    the callers test their sums for finiteness and say what went wrong."""
    parts = blocks(n, size)

    def quiet(sl: slice) -> T:
        import numpy as np

        with np.errstate(all="ignore"):
            return fn(sl)

    if len(parts) <= 1 or workers() == 1:
        return [quiet(sl) for sl in parts]
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=workers(), thread_name_prefix="losscli")
    return list(_pool.map(quiet, parts))


def split_size(n: int, minimum: int = 65_536) -> int:
    """A block size that gives every worker a share of n rows (at least `minimum`)."""
    return max(minimum, -(-n // workers()))
