"""Row blocks of an in-memory array (the seeded sample, value counts), mapped by whoever
owns the threads. A family sums its likelihood over blocks through `map_blocks`; the
engine side installs its thread pool here (`install`, done when a run is opened), so
the maths never imports an engine. Without one, the blocks run in order in this thread: the
same sums, added in the same block order, so the answer does not depend on who ran them."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import numpy as np

S = TypeVar("S")

_mapper: Callable | None = None  # (fn, slices) → [fn(sl) for sl in slices], in order
_workers = 1


def install(mapper: Callable, workers: int) -> None:
    """Run the blocks with `mapper` from now on; `workers` sizes the blocks."""
    global _mapper, _workers
    _mapper, _workers = mapper, max(1, int(workers))


def map_blocks(fn: Callable[[slice], S], n: int, size: int) -> list[S]:
    """[fn(rows) for each block of `size` of n rows], in block order, numpy's floating
    point warnings off (a non-finite sum is the caller's to report)."""
    parts = [slice(s, min(s + size, n)) for s in range(0, n, size)]

    def quiet(sl: slice) -> S:
        with np.errstate(all="ignore"):
            return fn(sl)

    if _mapper is None or len(parts) <= 1 or _workers == 1:
        return [quiet(sl) for sl in parts]
    return _mapper(quiet, parts)


def split_size(n: int, minimum: int = 65_536) -> int:
    """A block size that gives every worker a share of n rows (at least `minimum`)."""
    return max(minimum, -(-n // _workers))
