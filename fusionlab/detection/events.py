"""Anomalous events: grouping flagged points, severity and type rules, records."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .._runs import flag_runs

__all__ = [
    "Anomaly",
    "AnomalyList",
    "SEVERITIES",
    "ANOMALY_TYPES",
    "find_segments",
    "severity_from_ratio",
    "classify_segment",
]

#: Severity levels, from least to most severe.
SEVERITIES = ("low", "medium", "high", "critical")
#: Upper bounds (exclusive) of ``peak_score / threshold`` for low, medium, high.
SEVERITY_BANDS = (1.5, 2.5, 4.0)
#: Types returned by :func:`classify_segment`.
ANOMALY_TYPES = ("spike", "level_shift", "trend", "variance", "pattern")


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
    flags = np.asarray(flags).astype(bool).ravel()
    if merge_gap < 0:
        raise ValueError(f"`merge_gap` must be >= 0; received {merge_gap}.")
    runs = flag_runs(flags)
    starts, ends = runs[:, 0], runs[:, 1]
    if starts.size == 0:
        return []
    gaps = starts[1:] - ends[:-1] - 1
    breaks = np.flatnonzero(gaps > merge_gap)
    seg_starts = np.r_[starts[0], starts[breaks + 1]]
    seg_ends = np.r_[ends[breaks], ends[-1]]
    return [(int(s), int(e)) for s, e in zip(seg_starts, seg_ends, strict=True)]


def severity_from_ratio(ratio):
    """Severity of an event from ``peak_score / threshold``.

    ``< 1.5``: ``'low'``; ``< 2.5``: ``'medium'``; ``< 4``: ``'high'``;
    otherwise ``'critical'``.

    Examples
    --------
    >>> from fusionlab.detection.events import severity_from_ratio
    >>> [severity_from_ratio(r) for r in (1.2, 2.0, 3.0, 10.0)]
    ['low', 'medium', 'high', 'critical']
    """
    for level, bound in zip(SEVERITIES, SEVERITY_BANDS, strict=False):
        if ratio < bound:
            return level
    return SEVERITIES[-1]


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
    start, end = int(start), int(end)
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


@dataclass(frozen=True)
class Anomaly:
    """One anomalous event (a contiguous segment of flagged points).

    Attributes
    ----------
    start, end : object
        First and last timestamps of the segment; without timestamps, the
        labels of the data's range index (``df.iloc[500:]`` starts at 500),
        or the positions for arrays.
    start_index, end_index : int
        Inclusive positional bounds (0 is the first row of the scored data).
    peak_score, mean_score : float
        Highest and mean point score in the segment.
    severity : str
        One of :data:`SEVERITIES`, from ``peak_score / threshold``
        (:func:`severity_from_ratio`).
    anomaly_type : str
        One of :data:`ANOMALY_TYPES` (:func:`classify_segment`).
    top_features : tuple of (str, float)
        Features with the largest share of the segment's error, and that
        share (the shares of all features sum to 1).
    model_id : str
        Identifies the fitted model that found the event.
    metadata : dict
        Threshold, window, classifier statistics...
    """

    start: Any
    end: Any
    start_index: int
    end_index: int
    peak_score: float
    mean_score: float
    severity: str
    anomaly_type: str
    top_features: tuple = ()
    model_id: str = ""
    metadata: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def length(self):
        """Number of points in the segment."""
        return self.end_index - self.start_index + 1

    def to_dict(self):
        """A plain dict (``top_features`` as a list of ``[name, share]`` pairs)."""
        out = asdict(self)
        out["top_features"] = [list(pair) for pair in self.top_features]
        out["length"] = self.length
        return out


class AnomalyList(list):
    """A list of :class:`Anomaly` records with table, filter and export helpers."""

    def to_frame(self):
        """One row per event (see :func:`fusionlab.detection.export.anomalies_to_frame`)."""
        from .export import anomalies_to_frame

        return anomalies_to_frame(self)

    def filter(self, min_severity=None, types=None, start=None, end=None, limit=None):
        """See :func:`fusionlab.detection.export.filter_anomalies`."""
        from .export import filter_anomalies

        return filter_anomalies(
            self, min_severity=min_severity, types=types, start=start, end=end, limit=limit
        )

    def to_csv(self, path, **kwargs):
        from .export import to_csv

        return to_csv(self, path, **kwargs)

    def to_json(self, path=None, **kwargs):
        from .export import to_json

        return to_json(self, path, **kwargs)

    def to_parquet(self, path, **kwargs):
        from .export import to_parquet

        return to_parquet(self, path, **kwargs)
