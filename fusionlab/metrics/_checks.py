"""Input checks and segment helpers shared by the metric modules."""

from __future__ import annotations

import numbers

import numpy as np

from .._runs import flag_runs
from .._validation import check_finite

__all__ = ["check_labels", "check_scores", "check_labels_scores", "binarize", "segments"]


def _as_1d(values, name: str) -> np.ndarray:
    try:
        array = np.asarray(values)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"`{name}` must be array-like; received {type(values).__name__}.") from exc
    if array.ndim == 2 and 1 in array.shape and array.size > 0:
        # A (n, 1) column from a Keras model or a one-column frame is unambiguous.
        array = array.reshape(-1)
    if array.ndim != 1:
        raise ValueError(f"`{name}` must be one-dimensional; received shape {array.shape}.")
    if array.size == 0:
        raise ValueError(f"`{name}` is empty; at least one time point is needed.")
    return array


def check_labels(labels, name: str = "labels", *, need_positive: bool = True,
                 need_negative: bool = False) -> np.ndarray:
    """Return ``labels`` as a 1-D ``int8`` array of 0/1 values.

    Raises
    ------
    ValueError
        If the array is not 1-D, holds values other than 0/1 (``True``/``False``
        are accepted), has no positive point while ``need_positive`` or no
        negative point while ``need_negative``.
    """
    array = _as_1d(labels, name)
    if array.dtype != bool:
        # Booleans are 0/1 already; they still go through the class checks.
        if not np.issubdtype(array.dtype, np.number):
            raise ValueError(
                f"`{name}` must hold 0/1 values; received dtype {array.dtype}."
            )
        check_finite(array, name)
        bad = (array != 0) & (array != 1)
        if bad.any():
            values = np.unique(array[bad])[:5]
            raise ValueError(
                f"`{name}` must be binary (0 = normal, 1 = anomaly); received other "
                f"values such as {values.tolist()}."
            )
    array = array.astype(np.int8)
    if need_positive and not array.any():
        raise ValueError(
            f"`{name}` has no anomalous point (all zeros); this metric is undefined "
            "without positives."
        )
    if need_negative and array.all():
        raise ValueError(
            f"`{name}` has no normal point (all ones); this metric needs both classes."
        )
    return array


def check_scores(scores, name: str = "scores") -> np.ndarray:
    """Return ``scores`` as a 1-D finite ``float64`` array."""
    array = _as_1d(scores, name)
    if array.dtype == bool:
        array = array.astype(np.float64)
    if not np.issubdtype(array.dtype, np.number):
        raise TypeError(f"`{name}` must be numeric; received dtype {array.dtype}.")
    array = array.astype(np.float64)
    check_finite(array, name)
    return array


def check_labels_scores(labels, scores, *, need_positive: bool = True,
                        need_negative: bool = False,
                        scores_name: str = "scores"):
    """Validate a ``(labels, scores)`` pair of equal length."""
    labels = check_labels(labels, need_positive=need_positive, need_negative=need_negative)
    scores = check_scores(scores, scores_name)
    if labels.shape[0] != scores.shape[0]:
        raise ValueError(
            f"`labels` and `{scores_name}` must have the same length; received "
            f"{labels.shape[0]} labels and {scores.shape[0]} {scores_name}."
        )
    return labels, scores


def binarize(labels, scores, threshold):
    """Validate inputs and turn ``scores`` into 0/1 predictions.

    With ``threshold=None`` the scores must already be 0/1 predictions;
    otherwise a point is flagged when ``score >= threshold``.
    """
    if threshold is None:
        labels = check_labels(labels)
        predictions = check_labels(scores, "scores", need_positive=False)
        if predictions.shape[0] != labels.shape[0]:
            raise ValueError(
                "`labels` and `scores` must have the same length; received "
                f"{labels.shape[0]} labels and {predictions.shape[0]} scores."
            )
        return labels, predictions
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real):
        raise TypeError(
            f"`threshold` must be a real number or None; received {threshold!r} "
            f"of type {type(threshold).__name__}."
        )
    if not np.isfinite(threshold):
        raise ValueError(f"`threshold` must be finite; received {threshold}.")
    labels, scores = check_labels_scores(labels, scores)
    return labels, (scores >= threshold).astype(np.int8)


def segments(binary: np.ndarray) -> np.ndarray:
    """Return the runs of ones of a 0/1 array as an ``(k, 2)`` array.

    Each row is ``[start, end]`` with ``end`` inclusive.
    """
    return flag_runs(binary)
