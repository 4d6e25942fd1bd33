"""Volume under the surface: VUS-ROC and VUS-PR (Paparrizos et al., 2022).

Range-aware ROC and PR areas averaged over buffer lengths ``w = 0..window``,
following the definitions used by the TSB-AD benchmark (its ``'opt'``
variant). For one buffer ``w``:

* Each labelled event ``[s, e]`` gets a soft buffer of ``h = w // 2`` points on
  both sides; a point at distance ``d`` (``1 <= d <= h``) from the event has
  weight ``sqrt(1 - d / w)`` (contributions of nearby events add up and are
  capped at 1). Buffer points only count when they are flagged.
* For a threshold, with ``P`` labelled points, ``B`` the summed weights of
  flagged buffer points and ``N_pred`` flagged points::

      TP        = (flagged labelled points) + B
      P'        = P + B / 2
      TPR       = min(TP / P', 1) * (events detected / events)
      FPR       = (N_pred - TP) / (n - P')
      precision = TP / N_pred

  Events whose buffers touch are merged before counting detected events; an
  event is detected when any point of its buffered span is flagged.
* The thresholds are ``n_thresholds`` scores taken at evenly spaced ranks of
  the sorted scores, each lowered to the next float down, so that a point is
  flagged when ``score > threshold`` (the rule of :mod:`fusionlab.metrics`)
  and every chosen score is flagged by its own threshold. The ROC
  area is the trapezoid over ``(0, 0)``, the thresholds and ``(1, 1)``; the PR
  area is ``sum_j (TPR_j - TPR_{j-1}) * precision_j`` from ``TPR_0 = 0``.

VUS-ROC and VUS-PR are the means of these areas over ``w = 0..window``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import sparse

from .._validation import check_non_negative_int, check_positive_int
from ._checks import check_labels_scores, segments

__all__ = ["VUS", "vus", "vus_roc", "vus_pr", "check_window"]


class VUS(NamedTuple):
    """Volume under the range-aware ROC and PR surfaces."""

    roc: float
    pr: float


def _buffer_weights(labels, events, window):
    """Buffer weight of every point near an event, for each ``w = 0..window``.

    Returns the buffer point indices (labelled points excluded) and a
    ``(window + 1, n_points)`` weight matrix.
    """
    n = labels.shape[0]
    max_half = window // 2
    if max_half == 0 or len(events) == 0:
        return np.empty(0, dtype=np.int64), np.zeros((window + 1, 0))
    distance = np.arange(1, max_half + 1)
    after = events[:, 1][:, None] + distance[None, :]
    before = events[:, 0][:, None] - distance[None, :]
    points = np.concatenate((after.ravel(), before.ravel()))
    dist = np.concatenate((np.broadcast_to(distance, after.shape).ravel(),
                           np.broadcast_to(distance, before.shape).ravel()))
    keep = (points >= 0) & (points < n)
    points, dist = points[keep], dist[keep]
    buffer_points, column = np.unique(points, return_inverse=True)
    weights = np.zeros((window + 1, buffer_points.size))
    for w in range(2, window + 1):
        active = dist <= w // 2
        weights[w] = np.bincount(column[active], weights=np.sqrt(1.0 - dist[active] / w),
                                 minlength=buffer_points.size)
    np.minimum(weights, 1.0, out=weights)
    outside = labels[buffer_points] == 0
    return buffer_points[outside], weights[:, outside]


def _detected_event_counts(events, first_flag, n, half, n_thresholds):
    """Detected merged events per threshold and number of merged events."""
    separate = (events[1:, 0] - events[:-1, 1]) > 2 * half
    group_start = np.concatenate(([0], np.flatnonzero(separate) + 1))
    group_end = np.concatenate((group_start[1:] - 1, [len(events) - 1]))
    lo = np.maximum(events[group_start, 0] - half, 0)
    hi = np.minimum(events[group_end, 1] + half, n - 1)
    bounds = np.column_stack((lo, hi + 1)).ravel()
    if bounds[-1] == n:
        bounds = bounds[:-1]
    # Minimum over each span of the first threshold index that flags a point.
    earliest = np.minimum.reduceat(first_flag, bounds)[0::2]
    counts = np.cumsum(np.bincount(earliest, minlength=n_thresholds + 1))[:n_thresholds]
    return counts, len(group_start)


def check_window(window, n_points: int, name: str = "window") -> int:
    """Return ``window`` if it is an integer in ``[0, n_points]``.

    A buffer longer than the series is refused rather than capped: capping
    would silently average over other buffer lengths than asked for, and
    such a window is almost always a unit mistake (the memory and time of
    :func:`vus` grow with ``window``, whatever the series length).
    """
    window = check_non_negative_int(window, name)
    if window > n_points:
        raise ValueError(
            f"`{name}` must be at most the series length ({n_points} points); "
            f"received {window}. A buffer longer than the series covers every "
            "point; pick something comparable to the event length or the "
            "seasonal period."
        )
    return window


def vus(labels, scores, *, window=100, n_thresholds=250) -> VUS:
    """VUS-ROC and VUS-PR of anomaly scores (Paparrizos et al., 2022).

    See the module description for the exact definition (that of the TSB-AD
    benchmark). Runs in ``O(n log n + window * (n + n_thresholds))`` time
    with numpy, no Python loop over points or thresholds (20,000 points in
    about 20 ms); the buffer weights take ``(window + 1) * n_buffer`` floats,
    ``n_buffer`` being the number of points within ``window // 2`` of an
    event (0.8 GB for a million such points at ``window=100``).

    Parameters
    ----------
    labels : array-like of shape (n,)
        0/1 ground truth holding both classes.
    scores : array-like of shape (n,)
        Anomaly scores, higher means more anomalous.
    window : int in [0, n], default=100
        Largest buffer length; the surfaces average ``w = 0..window``. TSB-AD
        uses 100 by default, or the period of the series; pick something
        comparable to the typical event length or seasonal period. A window
        longer than the series (``n`` points) raises ``ValueError``: TSB-AD
        does not check it and sizes its arrays and loops by ``window``
        alone, so a mistaken ``10**6`` runs out of memory on a 100-point
        series.
    n_thresholds : int >= 1, default=250
        Number of thresholds (evenly spaced ranks of the sorted scores).
        Values above ``n`` are used as ``n``: the sampled ranks then already
        hold every rank, so the result is the same and memory stays bounded.

    Returns
    -------
    VUS
        ``(roc, pr)``.

    Examples
    --------
    >>> import numpy as np
    >>> from fusionlab.metrics import vus
    >>> labels = np.zeros(200, dtype=int)
    >>> labels[100:110] = 1
    >>> vus(labels, labels.astype(float), window=20)
    VUS(roc=1.0, pr=1.0)
    """
    window = check_non_negative_int(window, "window")
    n_thresholds = check_positive_int(n_thresholds, "n_thresholds")
    labels, scores = check_labels_scores(labels, scores, need_negative=True)
    n = labels.shape[0]
    window = check_window(window, n)
    # More thresholds than points repeat ranks, which add nothing to the areas.
    n_thresholds = min(n_thresholds, n)
    n_labelled = float(labels.sum())
    events = segments(labels)

    thresholds = -np.sort(-scores)[np.linspace(0, n - 1, n_thresholds).astype(int)]
    # first_flag[i]: index of the first (highest) threshold that flags point i,
    # i.e. the first sampled score <= scores[i] (thresholds lie a float below them).
    first_flag = np.searchsorted(-thresholds, -scores, side="left")
    n_flagged = np.cumsum(np.bincount(first_flag, minlength=n_thresholds + 1))[:n_thresholds]
    labelled_hits = np.cumsum(
        np.bincount(first_flag[labels == 1], minlength=n_thresholds + 1))[:n_thresholds]

    buffer_points, weights = _buffer_weights(labels, events, window)
    if buffer_points.size:
        onehot = sparse.csr_matrix(
            (np.ones(buffer_points.size), (np.arange(buffer_points.size),
                                           first_flag[buffer_points])),
            shape=(buffer_points.size, n_thresholds + 1))
        buffer_hits = np.cumsum(np.asarray(weights @ onehot), axis=1)[:, :n_thresholds]
    else:
        buffer_hits = np.zeros((window + 1, n_thresholds))

    detected = np.empty((window + 1, n_thresholds))
    for half in range(window // 2 + 1):
        counts, n_groups = _detected_event_counts(events, first_flag, n, half, n_thresholds)
        rows = [w for w in (2 * half, 2 * half + 1) if w <= window]
        detected[rows] = counts / n_groups

    true_pos = labelled_hits + buffer_hits
    positives = n_labelled + buffer_hits / 2.0
    tpr = np.minimum(true_pos / positives, 1.0) * detected
    fpr = (n_flagged - true_pos) / (n - positives)
    precision = true_pos / n_flagged

    zeros = np.zeros((window + 1, 1))
    ones = np.ones((window + 1, 1))
    tpr_roc = np.hstack((zeros, tpr, ones))
    fpr_roc = np.hstack((zeros, fpr, ones))
    roc = np.sum(np.diff(fpr_roc, axis=1) * (tpr_roc[:, 1:] + tpr_roc[:, :-1]) / 2.0, axis=1)
    pr = np.sum(np.diff(np.hstack((zeros, tpr)), axis=1) * precision, axis=1)
    return VUS(float(roc.mean()), float(pr.mean()))


def vus_roc(labels, scores, *, window=100, n_thresholds=250) -> float:
    """VUS-ROC; see :func:`vus`.

    Examples
    --------
    >>> from fusionlab.metrics import vus_roc
    >>> vus_roc([0, 0, 1, 1, 0, 0], [0.1, 0.2, 0.9, 0.8, 0.3, 0.1], window=0)
    1.0
    """
    return vus(labels, scores, window=window, n_thresholds=n_thresholds).roc


def vus_pr(labels, scores, *, window=100, n_thresholds=250) -> float:
    """VUS-PR; see :func:`vus`.

    Examples
    --------
    >>> from fusionlab.metrics import vus_pr
    >>> vus_pr([0, 0, 1, 1, 0, 0], [0.1, 0.2, 0.9, 0.8, 0.3, 0.1], window=0)
    1.0
    """
    return vus(labels, scores, window=window, n_thresholds=n_thresholds).pr
