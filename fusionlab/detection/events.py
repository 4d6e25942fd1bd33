"""Anomalous events: flagged runs of points become :class:`Anomaly` records.

The rules: runs of flagged points merged over small gaps
(:func:`find_segments`), bounds read again on the unsmoothed point errors
(:func:`refine_bounds`: the smoothing that helps ranking widens a short
anomaly and may cut the end of a long one), severity from the peak score
over the threshold (:func:`~fusionlab.vocabulary.severity_from_ratio`), type
from the values over the event (:func:`classify_segment`; without point
errors, read without the points the score smoothing adds at the edges,
:func:`core_bounds`). :func:`build_events` applies them all.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._runs import flag_runs
from .._validation import check_finite, check_non_negative_int
from ..vocabulary import ANOMALY_TYPES, SEVERITIES, exceeds, severity_from_ratio
from .records import Anomaly, AnomalyList

__all__ = [
    "Anomaly",
    "AnomalyList",
    "SEVERITIES",
    "ANOMALY_TYPES",
    "find_segments",
    "severity_from_ratio",
    "classify_segment",
    "core_bounds",
    "refine_bounds",
    "event_reach",
    "REFINE_FRACTION",
    "build_events",
]

#: Share of an event's largest point error that a point's own error must
#: reach to belong to the event (:func:`refine_bounds`).
REFINE_FRACTION = 0.1


def find_segments(flags, merge_gap=0):
    """Contiguous runs of flagged points, merging runs separated by small gaps.

    Two runs are merged when at most ``merge_gap`` unflagged points separate
    them (``merge_gap=0`` merges nothing; ``merge_gap=2`` merges
    ``1 1 0 0 1`` into one segment but not ``1 0 0 0 1``).

    Parameters
    ----------
    flags : array-like of bool or 0/1, shape (n,)
    merge_gap : int, default=0

    Returns
    -------
    list of (start, end)
        Inclusive index bounds, in order.

    Examples
    --------
    >>> from fusionlab.detection.events import find_segments
    >>> find_segments([0, 1, 1, 0, 0, 1, 0, 0, 0, 1])
    [(1, 2), (5, 5), (9, 9)]
    >>> find_segments([0, 1, 1, 0, 0, 1, 0, 0, 0, 1], merge_gap=2)
    [(1, 5), (9, 9)]
    """
    merge_gap = check_non_negative_int(merge_gap, "merge_gap")
    flags = np.asarray(flags).ravel()
    if flags.dtype != bool:
        if not np.issubdtype(flags.dtype, np.number):
            raise TypeError(f"`flags` must be booleans or 0/1; received dtype {flags.dtype}.")
        if np.isnan(flags.astype(float)).any():
            raise ValueError(
                "`flags` holds NaN: a missing flag is neither anomalous nor normal; "
                "decide what it is before grouping."
            )
    runs = flag_runs(flags.astype(bool))
    starts, ends = runs[:, 0], runs[:, 1]
    if starts.size == 0:
        return []
    gaps = starts[1:] - ends[:-1] - 1
    breaks = np.flatnonzero(gaps > merge_gap)
    seg_starts = np.r_[starts[0], starts[breaks + 1]]
    seg_ends = np.r_[ends[breaks], ends[-1]]
    return [(int(s), int(e)) for s, e in zip(seg_starts, seg_ends, strict=True)]


def classify_segment(values, start, end, *, context=None, spike_max_length=3):
    """Classify the anomalous segment ``values[start:end + 1]`` by a simple rule.

    The reference is the ``context`` points on each side of the segment
    (default: ``max(length, 10)``), with mean ``m_ref`` and standard deviation
    ``s_ref`` (floored at ``1e-8``). Inside the segment, with ``length``
    points, mean ``m_in`` and standard deviation ``s_in``, and a least-squares
    line of slope ``b`` and coefficient of determination ``R^2``:

    1. ``length <= spike_max_length`` -> ``'spike'``;
    2. ``|b| * (length - 1) >= 2 * s_ref`` and ``R^2 >= 0.8`` -> ``'trend'``
       (a steady ramp of at least two reference standard deviations);
    3. ``|m_in - m_ref| >= 2 * s_ref`` -> ``'level_shift'``;
    4. ``s_in >= 2 * s_ref`` or ``s_in <= 0.5 * s_ref`` -> ``'variance'``;
    5. otherwise ``'pattern'`` (values in the usual range, an unusual shape).

    Parameters
    ----------
    values : array-like of shape (n,)
        The (raw or scaled) values of one feature.
    start, end : int
        Inclusive bounds of the segment.
    context : int, optional
    spike_max_length : int, default=3

    Returns
    -------
    anomaly_type : str
    stats : dict
        ``mean_shift``, ``slope_change`` and ``std_ratio`` (all relative to
        ``s_ref``) and ``r2``.

    Examples
    --------
    >>> import numpy as np
    >>> from fusionlab.detection.events import classify_segment
    >>> x = np.random.default_rng(0).normal(0, 0.1, 100)
    >>> x[40:60] += 3.0
    >>> classify_segment(x, 40, 59)[0]
    'level_shift'
    """
    values = np.asarray(values, dtype=float).ravel()
    start = check_non_negative_int(start, "start")
    end = check_non_negative_int(end, "end")
    if end < start or end >= values.size:
        raise ValueError(
            f"`end` must lie in [start, len(values) - 1] = [{start}, {values.size - 1}]; "
            f"received start={start}, end={end}."
        )
    check_finite(values, "values")
    length = end - start + 1
    context = max(length, 10) if context is None else int(context)
    inside = values[start : end + 1]
    reference = np.r_[values[max(0, start - context) : start], values[end + 1 : end + 1 + context]]
    if reference.size < 2:
        reference = values
    m_ref, s_ref = reference.mean(), max(reference.std(), 1e-8)
    m_in, s_in = inside.mean(), inside.std()
    if length >= 2:
        steps = np.arange(length, dtype=float)
        slope, intercept = np.polyfit(steps, inside, 1)
        residual = inside - (slope * steps + intercept)
        total = np.sum((inside - m_in) ** 2)
        r2 = 1.0 - np.sum(residual**2) / total if total > 0 else 0.0
    else:
        slope, r2 = 0.0, 0.0
    stats = {
        "mean_shift": float((m_in - m_ref) / s_ref),
        "slope_change": float(slope * (length - 1) / s_ref),
        "std_ratio": float(s_in / s_ref),
        "r2": float(r2),
    }
    if length <= spike_max_length:
        kind = "spike"
    elif abs(stats["slope_change"]) >= 2.0 and r2 >= 0.8:
        kind = "trend"
    elif abs(stats["mean_shift"]) >= 2.0:
        kind = "level_shift"
    elif stats["std_ratio"] >= 2.0 or stats["std_ratio"] <= 0.5:
        kind = "variance"
    else:
        kind = "pattern"
    return kind, stats


def core_bounds(start, end, width, segment_scores):
    """Bounds of the event ``start..end`` without what the score smoothing added.

    A centred average over ``width`` points lets a run of high errors cross
    the threshold up to ``width - 1`` points early or late in all, so the
    event's type is read on the span less those points; when nothing is
    left, on its highest-scoring point.

    Examples
    --------
    >>> import numpy as np
    >>> from fusionlab.detection.events import core_bounds
    >>> core_bounds(10, 29, 5, np.zeros(20))
    (12, 27)
    >>> core_bounds(10, 12, 5, np.array([1.0, 3.0, 2.0]))
    (11, 11)
    """
    extra = width - 1
    low, high = start + extra // 2, end - (extra - extra // 2)
    if high < low:
        low = high = start + int(np.argmax(segment_scores))
    return low, high


def refine_bounds(evidence, start, end, lower=None, upper=None, fraction=REFINE_FRACTION,
                  floor=0.0, located=None):
    """Bounds of the flagged segment ``start..end`` read on the unsmoothed point errors.

    The scores are smoothed for ranking, so a run of high errors crosses the
    threshold early and late (a 3-point spike is flagged over about the
    smoothing width), and the end of a long anomaly whose errors rise
    slowly may stay under it. The event is read again on ``evidence``, each
    point's own error (the model's error averaged over the windows that
    cover the point, not smoothed): its points are those whose error is at
    least ``fraction`` of the segment's largest and above ``floor`` (the
    level of the training series' point errors, so that a point counts only
    where the model's error is unusual). Inside the segment the event runs
    from the first such point to the last; from there it extends over the
    contiguous such points just outside, within ``lower..upper``. The
    points where ``located`` is positive count too: the points a
    calibrated scorer places exactly (a stuck run's, by the flatness
    scorer), which the model's error may not see. When no point of the
    segment is such a point (an anomaly the model's error does not see,
    found by another scorer) the segment stays as it is.

    Parameters
    ----------
    evidence : ndarray of shape (n,)
        The point errors of positions ``lower .. upper`` (``evidence[0]`` is
        position ``lower``).
    start, end : int
        The flagged segment, inclusive, inside ``lower..upper``.
    lower, upper : int, optional
        First and last positions the event may extend to (default: the
        segment itself, no extension).
    fraction : float, default=REFINE_FRACTION
    floor : float, default=0.0
    located : ndarray of shape (n,), optional
        Scores of the calibrated scorers at positions ``lower .. upper``.

    Returns
    -------
    (int, int)
        The event's inclusive bounds.

    Examples
    --------
    >>> import numpy as np
    >>> from fusionlab.detection.events import refine_bounds
    >>> errors = np.array([0.1, 0.2, 0.1, 9.0, 8.0, 7.0, 0.3, 0.1, 2.0, 0.1])
    >>> refine_bounds(errors, 1, 7, lower=0, upper=9)     # smoothing widened a 3-point spike
    (3, 5)
    >>> refine_bounds(errors, 3, 4, lower=0, upper=9)     # its end stayed under the threshold
    (3, 5)
    >>> refine_bounds(errors, 1, 7, lower=0, upper=9, floor=10.0)  # errors as usual
    (1, 7)
    """
    lower = start if lower is None else int(lower)
    upper = end if upper is None else int(upper)
    evidence = np.asarray(evidence, dtype=np.float64)
    inside = evidence[start - lower : end - lower + 1]
    peak = float(inside.max()) if inside.size else 0.0
    strong = (evidence >= fraction * peak) & (evidence > floor) if peak > 0 else (
        np.zeros(evidence.shape, dtype=bool))
    if located is not None:
        strong |= np.asarray(located, dtype=np.float64) > 0
    hits = np.flatnonzero(strong[start - lower : end - lower + 1])
    if hits.size == 0:
        return start, end
    low, high = start + int(hits[0]), start + int(hits[-1])
    while low > lower and strong[low - 1 - lower]:
        low -= 1
    while high < upper and strong[high + 1 - lower]:
        high += 1
    return low, high


def event_reach(start, end, previous_end, merge_gap, last=None):
    """``(lower, upper)``: the positions the bounds of the segment ``start..end`` may reach.

    At most ``merge_gap`` points on each side, never into the previous event
    (which ended at ``previous_end``; -1 for none) nor before 0 or past
    ``last`` (the last point known; None: no limit). :func:`build_events`
    and the stream's event tracker both read :func:`refine_bounds` within it.

    Examples
    --------
    >>> from fusionlab.detection.events import event_reach
    >>> event_reach(10, 20, previous_end=7, merge_gap=4, last=22)
    (8, 22)
    """
    return (max(previous_end + 1, start - merge_gap, 0),
            end + merge_gap if last is None else min(last, end + merge_gap))


def _label(labels, position):
    """Name of the row at ``position``: its label, or the position itself."""
    if labels is None:
        return position
    label = labels[position]
    return int(label) if isinstance(labels, pd.RangeIndex) else label


def build_events(scores, contributions, values, threshold, *, feature_names, merge_gap=0,
                 smoothing_width=1, labels=None, top_k=3, model_id="", window=None,
                 evidence=None, evidence_floor=0.0, located=None):
    """The :class:`Anomaly` records of a scored series.

    Points with ``score > threshold`` are grouped into segments
    (:func:`find_segments` with ``merge_gap``). With ``evidence`` (each
    point's unsmoothed error) a segment's bounds are read again on it
    (:func:`refine_bounds`, extending at most ``merge_gap`` points past the
    segment and never into the previous event); the flagged span stays in
    ``metadata["flagged_start_index"]`` / ``["flagged_end_index"]``. Each
    segment becomes an :class:`Anomaly` with the peak and mean score of its
    flagged span, severity from ``peak / threshold``
    (:func:`~fusionlab.vocabulary.severity_from_ratio`; ``'critical'`` when
    ``threshold <= 0``, ``metadata["score_ratio"]`` then None), the ``top_k``
    features with the largest share of its error, and its type from the
    values of the top feature (:func:`classify_segment`) over the event's
    bounds (without ``evidence``: over the segment less the points the
    smoothing added, :func:`core_bounds`).

    Parameters
    ----------
    scores : ndarray of shape (n,)
        Point scores (the row sums of ``contributions``).
    contributions : ndarray of shape (n, n_features)
        Per-feature shares of the scores.
    values : ndarray of shape (n, n_features)
        The (scaled) values the types are read from.
    threshold : float
    feature_names : sequence of str
    merge_gap : int, default=0
    smoothing_width : int, default=1
    labels : pandas.Index or None
        Names of the points (timestamps or index labels); positions when None.
    top_k : int, default=3
    model_id : str, default=''
    window : int, optional
        Recorded in each record's metadata.
    evidence : ndarray of shape (n,), optional
        Each point's unsmoothed error, which the bounds are read on.
    evidence_floor : float, default=0.0
        The error a point must exceed to count (:func:`refine_bounds`'s ``floor``).
    located : ndarray of shape (n,), optional
        The calibrated scorers' scores (:func:`refine_bounds`).

    Returns
    -------
    AnomalyList
        In time order.

    Examples
    --------
    >>> import numpy as np
    >>> from fusionlab.detection.events import build_events
    >>> values = np.zeros((50, 1))
    >>> values[20:23] = 5.0
    >>> scores = values[:, 0] ** 2
    >>> events = build_events(scores, scores[:, None], values, 1.0, feature_names=["x"])
    >>> [(e.start, e.end, e.severity, e.anomaly_type) for e in events]
    [(20, 22, 'critical', 'spike')]
    """
    names = list(feature_names)
    events = AnomalyList()
    n = scores.shape[0]
    previous_end = -1
    for start, end in find_segments(exceeds(scores, threshold), merge_gap):
        segment = scores[start : end + 1]
        peak = float(segment.max())
        ratio = peak / threshold if threshold > 0 else np.inf
        per_feature = contributions[start : end + 1].sum(axis=0)
        total = per_feature.sum()
        shares = per_feature / total if total > 0 else np.full_like(per_feature, 1 / len(names))
        order = np.argsort(-shares, kind="stable")[:top_k]
        if evidence is not None:
            lower, upper = event_reach(start, end, previous_end, merge_gap, n - 1)
            low, high = refine_bounds(
                evidence[lower : upper + 1], start, end, lower, upper, floor=evidence_floor,
                located=None if located is None else located[lower : upper + 1])
            type_bounds = (low, high)
        else:
            low, high = start, end
            type_bounds = core_bounds(start, end, smoothing_width, segment)
        previous_end = high
        kind, stats = classify_segment(values[:, order[0]], *type_bounds)
        events.append(
            Anomaly(
                start=_label(labels, low),
                end=_label(labels, high),
                start_index=low,
                end_index=high,
                peak_score=peak,
                mean_score=float(segment.mean()),
                severity=severity_from_ratio(ratio),
                anomaly_type=kind,
                top_features=tuple((names[i], float(shares[i])) for i in order),
                model_id=model_id,
                metadata={
                    "threshold": threshold,
                    # None rather than inf, which JSON cannot hold
                    "score_ratio": float(ratio) if np.isfinite(ratio) else None,
                    "window": window,
                    "type_feature": names[order[0]],
                    "flagged_start_index": start,
                    "flagged_end_index": end,
                    **stats,
                },
            )
        )
    return events
