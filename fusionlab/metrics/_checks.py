"""Input checks and segment helpers shared by the metric modules."""

from __future__ import annotations

import numpy as np

from .._runs import flag_runs
from .._validation import check_binary, check_real, check_scores
from ..vocabulary import exceeds

__all__ = ["check_labels", "check_labels_scores", "binarize", "segments"]


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
    array = check_binary(labels, name).astype(np.int8)
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


def check_labels_scores(labels, scores, *, need_positive: bool = True,
                        need_negative: bool = False,
                        scores_name: str = "scores"):
    """Validate a ``(labels, scores)`` pair of equal length."""
    labels = check_labels(labels, need_positive=need_positive, need_negative=need_negative)
    return labels, _same_length(labels, check_scores(scores, scores_name), scores_name)


def _same_length(labels, values, name):
    if labels.shape[0] != values.shape[0]:
        raise ValueError(
            f"`labels` and `{name}` must have the same length; received "
            f"{labels.shape[0]} labels and {values.shape[0]} {name}."
        )
    return values


def binarize(labels, scores, threshold):
    """Validate inputs and turn ``scores`` into 0/1 predictions.

    With ``threshold=None`` the scores must already be 0/1 predictions;
    otherwise a point is flagged when ``score > threshold``.
    """
    if threshold is None:
        labels = check_labels(labels)
        predictions = check_labels(scores, "scores", need_positive=False)
        return labels, _same_length(labels, predictions, "scores")
    # allow_none: the message then says that None is accepted too.
    threshold = check_real(threshold, "threshold", allow_none=True)
    labels, scores = check_labels_scores(labels, scores)
    return labels, exceeds(scores, threshold).astype(np.int8)


def segments(binary: np.ndarray) -> np.ndarray:
    """Return the runs of ones of a 0/1 array as an ``(k, 2)`` array.

    Each row is ``[start, end]`` with ``end`` inclusive.
    """
    return flag_runs(binary)
