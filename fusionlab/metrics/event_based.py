"""Metrics that treat each run of consecutive anomalous labels as one event.

Point adjustment (Xu et al., 2018) and the event-based F1 (Garg et al.,
2022, the "composite" F-score; TSB-AD's "Event-based-F1").
"""

from __future__ import annotations

import numpy as np

from ._checks import binarize, segments
from .pointwise import PRF, f1_from, point_f1

__all__ = ["point_adjust", "point_adjusted_f1", "event_f1"]


def _detected_events(labels: np.ndarray, predictions: np.ndarray):
    events = segments(labels)
    # Any flagged point inside [start, end] detects the event.
    cumulative = np.concatenate(([0], np.cumsum(predictions, dtype=np.int64)))
    hits = cumulative[events[:, 1] + 1] - cumulative[events[:, 0]]
    return events, hits > 0


def point_adjust(labels, scores, threshold=None) -> np.ndarray:
    """Point-adjusted predictions.

    When at least one point of a labelled event is flagged, every point of
    that event counts as flagged; predictions outside events are unchanged.

    Parameters
    ----------
    labels, scores, threshold
        As in :func:`~fusionlab.metrics.point_f1`.

    Returns
    -------
    ndarray of int8, shape (n,)

    Examples
    --------
    >>> from fusionlab.metrics import point_adjust
    >>> point_adjust([0, 1, 1, 1, 0, 1], [0, 0, 1, 0, 1, 0]).tolist()
    [0, 1, 1, 1, 1, 0]
    """
    labels, predictions = binarize(labels, scores, threshold)
    events, detected = _detected_events(labels, predictions)
    adjusted = predictions.copy()
    mark = np.zeros(labels.shape[0] + 1, dtype=np.int64)
    np.add.at(mark, events[detected, 0], 1)
    np.add.at(mark, events[detected, 1] + 1, -1)
    adjusted[np.cumsum(mark[:-1]) > 0] = 1
    return adjusted


def point_adjusted_f1(labels, scores, threshold=None) -> PRF:
    """Point-wise precision, recall and F1 after :func:`point_adjust`.

    One flagged point inside a long event earns the whole event as true
    positives, so this score is inflated for long events: even random scores
    reach a high value. Report it only next to unadjusted metrics.

    Parameters
    ----------
    labels, scores, threshold
        As in :func:`point_adjust`.

    Returns
    -------
    PRF

    Examples
    --------
    >>> from fusionlab.metrics import point_adjusted_f1
    >>> point_adjusted_f1([0, 1, 1, 1, 0, 1], [0, 0, 1, 0, 1, 0])
    PRF(precision=0.75, recall=0.75, f1=0.75)
    """
    labels, predictions = binarize(labels, scores, threshold)
    return point_f1(labels, point_adjust(labels, predictions))


def event_f1(labels, scores, threshold=None) -> PRF:
    """Event-based F1: event-wise recall with point-wise precision.

    Recall is the fraction of labelled events with at least one flagged
    point; precision is the point-wise precision, so false alarms still cost
    one point each (Garg et al., 2022, "composite F-score").

    Parameters
    ----------
    labels, scores, threshold
        As in :func:`point_adjust`.

    Returns
    -------
    PRF
        ``(point-wise precision, event recall, F1)``.

    Examples
    --------
    >>> from fusionlab.metrics import event_f1
    >>> event_f1([0, 1, 1, 1, 0, 1], [0, 0, 1, 0, 1, 0])
    PRF(precision=0.5, recall=0.5, f1=0.5)
    """
    labels, predictions = binarize(labels, scores, threshold)
    _, detected = _detected_events(labels, predictions)
    precision = point_f1(labels, predictions).precision
    recall = float(detected.mean())
    return PRF(float(precision), recall, f1_from(precision, recall))
