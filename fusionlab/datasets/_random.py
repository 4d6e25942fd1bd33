"""Random-state handling shared by the generators."""

from __future__ import annotations

import numbers

import numpy as np


def check_random_state(random_state):
    """Return a numpy random generator for ``random_state``.

    ``None`` or an integer seed give a new :class:`numpy.random.Generator`
    (``default_rng``); a ``Generator`` or a legacy ``RandomState`` is used as
    is. The generators only call methods both share (``normal``, ``uniform``,
    ``choice``, ``permutation``).
    """
    if random_state is None or (
        isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool)
    ):
        if random_state is not None and random_state < 0:
            raise ValueError(f"`random_state` must be a non-negative seed; received {random_state}.")
        return np.random.default_rng(random_state)
    if isinstance(random_state, (np.random.Generator, np.random.RandomState)):
        return random_state
    raise TypeError(
        "`random_state` must be None, a non-negative int, a numpy Generator or a "
        f"RandomState; received {random_state!r} of type {type(random_state).__name__}."
    )
