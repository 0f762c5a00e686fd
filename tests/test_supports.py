"""A support decided from an array's minimum, maximum and wholeness (`Support.holds`)
says exactly what its row mask says (`Support.contains`), for every declared support."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from losscli.noise.support import (
    COUNTS,
    NONNEGATIVE,
    POSITIVE,
    REAL,
    UNIT_CLOSED,
    Support,
    integral,
)

SUPPORTS = [REAL, POSITIVE, NONNEGATIVE, UNIT_CLOSED, COUNTS,
            Support("(0, 1)", 0.0, 1.0), Support("integers in [1, 5)", 1.0, 5.0, False,
                                                 True, integer=True)]
EDGES = [0.0, 1.0, -1.0, 5.0, 0.5, 3.0, 1e-300, -0.0, 2.0, math.inf, -math.inf, math.nan]


@settings(max_examples=300, deadline=None)
@given(values=st.lists(st.one_of(st.sampled_from(EDGES),
                                 st.floats(-10, 10, allow_nan=False)), min_size=1,
                       max_size=12))
def test_holds_agrees_with_the_mask(values):
    x = np.array(values)
    lo, hi = float(x.min()), float(x.max())
    whole = bool(np.all(integral(x)))
    for s in SUPPORTS:
        every = bool(s.contains(x).all())
        assert s.holds(lo, hi, whole) == every, (s.description, values)
