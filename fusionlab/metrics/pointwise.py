"""Point-wise metrics: every time point is one sample.

Precision, recall and F1 at a threshold, the best F1 over all thresholds,
and the threshold-free AUC-ROC and AUC-PR (average precision).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    precision_recall_curve,
    roc_auc_score,
)

from ._checks import binarize, check_labels_scores

__all__ = ["PRF", "BestF1", "point_f1", "best_f1", "auc_roc", "auc_pr"]


class PRF(NamedTuple):
    """Precision, recall and F1 of one set of predictions."""

    precision: float
    recall: float
    f1: float


class BestF1(NamedTuple):
    """The highest F1 over all thresholds and where it is reached."""

    f1: float
    precision: float
    recall: float
    threshold: float


def f1_from(precision: float, recall: float) -> float:
    """Harmonic mean of precision and recall, 0 when both are 0."""
    total = precision + recall
    return float(2.0 * precision * recall / total) if total > 0 else 0.0


def point_f1(labels, scores, threshold=None) -> PRF:
    """Point-wise precision, recall and F1.

    Parameters
    ----------
    labels : array-like of shape (n,)
        Ground truth, 1 for an anomalous point and 0 otherwise. Must contain
        at least one anomaly.
    scores : array-like of shape (n,)
        Anomaly scores (higher means more anomalous), or 0/1 predictions when
        ``threshold`` is None.
    threshold : float or None, default=None
        A point is flagged when ``score > threshold`` (the rule of
        :mod:`fusionlab.metrics`). None means ``scores`` already are 0/1
        predictions.

    Returns
    -------
    PRF
        ``(precision, recall, f1)``. Precision is 0 when nothing is flagged.

    Examples
    --------
    >>> from fusionlab.metrics import point_f1
    >>> point_f1([0, 1, 1, 0], [0.1, 0.9, 0.2, 0.8], threshold=0.5)
    PRF(precision=0.5, recall=0.5, f1=0.5)
    """
    labels, predictions = binarize(labels, scores, threshold)
    tp = int(np.count_nonzero(labels & predictions))
    flagged = int(np.count_nonzero(predictions))
    precision = tp / flagged if flagged else 0.0
    recall = tp / int(np.count_nonzero(labels))
    return PRF(float(precision), float(recall), f1_from(precision, recall))


def best_f1(labels, scores) -> BestF1:
    """Highest point-wise F1 over every threshold that changes the predictions.

    Every cut between two distinct score values is tried, as in
    :func:`sklearn.metrics.precision_recall_curve`. The threshold returned is
    the midpoint between the lowest flagged score and the next lower distinct
    score (one below the lowest score when every point is flagged), so that
    ``point_f1(labels, scores, threshold)`` (``score > threshold``) gives the
    same F1. This is an oracle: the threshold is chosen on the labels being scored, so
    it is an upper bound for any threshold fixed in advance.

    Parameters
    ----------
    labels : array-like of shape (n,)
        0/1 ground truth with at least one anomaly.
    scores : array-like of shape (n,)
        Anomaly scores, higher means more anomalous.

    Returns
    -------
    BestF1
        ``(f1, precision, recall, threshold)``; with ties the cut flagging
        the fewest points is returned.

    Examples
    --------
    >>> from fusionlab.metrics import best_f1
    >>> best = best_f1([0, 1, 1, 0], [0.1, 0.9, 0.7, 0.8])
    >>> round(best.f1, 3), round(best.threshold, 3)   # midpoint of 0.7 and 0.1
    (0.8, 0.4)
    """
    labels, scores = check_labels_scores(labels, scores)
    precision, recall, thresholds = precision_recall_curve(labels, scores)
    # The last (precision=1, recall=0) point has no threshold.
    precision, recall = precision[:-1], recall[:-1]
    total = precision + recall
    f1 = np.divide(2 * precision * recall, total, out=np.zeros_like(total), where=total > 0)
    # Thresholds come in increasing order: take the last maximum for the
    # highest threshold among ties.
    best = len(f1) - 1 - int(np.argmax(f1[::-1]))
    return BestF1(float(f1[best]), float(precision[best]), float(recall[best]),
                  _cut_below(thresholds, best))


def _cut_below(values, index):
    """A threshold that ``score > threshold`` cuts just below ``values[index]``.

    ``values`` are the distinct scores in increasing order: the midpoint to the
    next lower one, or one below the lowest.
    """
    upper = float(values[index])
    if index == 0:
        # One below, or the next float below where 1 is lost to rounding.
        return min(upper - 1.0, float(np.nextafter(upper, -np.inf)))
    lower = float(values[index - 1])
    middle = 0.5 * (lower + upper)
    # Two adjacent floats have no float between them: cut at the lower one.
    return middle if lower <= middle < upper else lower


def auc_roc(labels, scores) -> float:
    """Area under the ROC curve of point-wise scores.

    Wraps :func:`sklearn.metrics.roc_auc_score`; ties in the scores count as
    half a correct ordering.

    Parameters
    ----------
    labels : array-like of shape (n,)
        0/1 ground truth holding both classes.
    scores : array-like of shape (n,)
        Anomaly scores, higher means more anomalous.

    Returns
    -------
    float
        0.5 for random or constant scores, 1 for a perfect ranking.

    Examples
    --------
    >>> from fusionlab.metrics import auc_roc
    >>> auc_roc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.75
    """
    labels, scores = check_labels_scores(labels, scores, need_negative=True)
    return float(roc_auc_score(labels, scores))


def auc_pr(labels, scores) -> float:
    """Area under the precision-recall curve, computed as average precision.

    ``AP = sum_k (R_k - R_{k-1}) P_k`` over the distinct thresholds
    (:func:`sklearn.metrics.average_precision_score`): a step function with
    no linear interpolation, which would be optimistic for PR curves. Its
    chance level is the anomaly rate, not 0.5.

    Parameters
    ----------
    labels : array-like of shape (n,)
        0/1 ground truth with at least one anomaly.
    scores : array-like of shape (n,)
        Anomaly scores, higher means more anomalous.

    Returns
    -------
    float

    Examples
    --------
    >>> from fusionlab.metrics import auc_pr
    >>> round(auc_pr([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]), 4)
    0.8333
    """
    labels, scores = check_labels_scores(labels, scores)
    return float(average_precision_score(labels, scores))
