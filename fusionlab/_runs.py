"""Runs of consecutive flagged points, shared by metrics, events and plots."""

from __future__ import annotations

import numpy as np

__all__ = ["flag_runs"]


def flag_runs(flags) -> np.ndarray:
    """Contiguous runs of true (non-zero) values, as an ``(k, 2)`` int array.

    Each row is ``[start, end]`` with ``end`` inclusive, in order.

    Examples
    --------
    >>> from fusionlab._runs import flag_runs
    >>> flag_runs([0, 1, 1, 0, 1]).tolist()
    [[1, 2], [4, 4]]
    """
    padded = np.concatenate(([0], np.asarray(flags).astype(bool).ravel().astype(np.int8), [0]))
    change = np.flatnonzero(np.diff(padded))
    return np.column_stack((change[0::2], change[1::2] - 1)).astype(np.int64)
