"""Anomaly records: :class:`Anomaly` (one event or row) and :class:`AnomalyList`.

Both detectors return these from ``detect``: a time-series event spans
``start_index..end_index``; an anomalous row of a table is a one-point record
of type ``'row'``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..vocabulary import ANOMALY_TYPES, SEVERITY_RANKS, severity_rank
from . import export

__all__ = ["Anomaly", "AnomalyList", "filter_anomalies"]


@dataclass(frozen=True)
class Anomaly:
    """One anomalous event (a contiguous segment of points).

    Attributes
    ----------
    start, end : object
        First and last timestamps of the segment; without timestamps, the
        labels of the data's range index (``df.iloc[500:]`` starts at 500),
        or the positions for arrays.
    start_index, end_index : int
        Inclusive positional bounds (0 is the first row of the scored data).
    peak_score, mean_score : float
        Highest and mean point score of its flagged points (a series event's
        bounds are read on the unsmoothed errors and may differ from the
        flagged span, kept in ``metadata["flagged_start_index"]`` and
        ``["flagged_end_index"]``).
    severity : str
        One of :data:`~fusionlab.vocabulary.SEVERITIES`, from ``peak_score / threshold``
        (:func:`severity_from_ratio`).
    anomaly_type : str
        One of :data:`~fusionlab.vocabulary.ANOMALY_TYPES`: a series event's
        type (:func:`~fusionlab.detection.events.classify_segment`), or
        ``'row'`` for a row of a table.
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
        return export.anomalies_to_frame(self)

    def filter(self, min_severity=None, types=None, start=None, end=None, limit=None):
        """See :func:`filter_anomalies`."""
        return filter_anomalies(
            self, min_severity=min_severity, types=types, start=start, end=end, limit=limit
        )

    def to_csv(self, path, **kwargs):
        """See :func:`fusionlab.detection.export.to_csv`."""
        return export.to_csv(self, path, **kwargs)

    def to_json(self, path=None, **kwargs):
        """See :func:`fusionlab.detection.export.to_json`."""
        return export.to_json(self, path, **kwargs)

    def to_parquet(self, path, **kwargs):
        """See :func:`fusionlab.detection.export.to_parquet`."""
        return export.to_parquet(self, path, **kwargs)


def filter_anomalies(anomalies, min_severity=None, types=None, start=None, end=None, limit=None):
    """Events matching every given criterion, as an :class:`AnomalyList`.

    Parameters
    ----------
    anomalies : iterable of Anomaly
    min_severity : {'low', 'medium', 'high', 'critical'}, optional
        Keep events at least this severe.
    types : str or iterable of str, optional
        Keep events of these types.
    start, end : optional
        Keep events that overlap ``[start, end]`` (compared with the events'
        ``start``/``end``: timestamps, or indices when there are none).
    limit : int, optional
        Keep at most ``limit`` events, the highest ``peak_score`` first;
        without ``limit`` the input order is kept.

    Examples
    --------
    >>> from fusionlab.detection import Anomaly, filter_anomalies
    >>> events = [Anomaly(0, 1, 0, 1, 2.0, 1.5, "medium", "spike"),
    ...           Anomaly(9, 9, 9, 9, 9.0, 9.0, "critical", "spike")]
    >>> [a.start for a in filter_anomalies(events, min_severity="high")]
    [9]
    """
    out = list(anomalies)
    if min_severity is not None:
        rank = severity_rank(min_severity, "min_severity")
        out = [a for a in out if SEVERITY_RANKS[a.severity] >= rank]
    if types is not None:
        types = {types} if isinstance(types, str) else set(types)
        unknown = types - set(ANOMALY_TYPES)
        if unknown:
            raise ValueError(
                f"`types` must be among {ANOMALY_TYPES}; received {sorted(unknown)}."
            )
        out = [a for a in out if a.anomaly_type in types]
    if start is not None or end is not None:
        def convert(value, like):
            if isinstance(like, pd.Timestamp) and value is not None:
                return pd.Timestamp(value)
            return value

        kept = []
        for a in out:
            lo, hi = convert(start, a.start), convert(end, a.start)
            if (lo is None or a.end >= lo) and (hi is None or a.start <= hi):
                kept.append(a)
        out = kept
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 0:
            raise ValueError(f"`limit` must be a non-negative integer; received {limit!r}.")
        out = sorted(out, key=lambda a: a.peak_score, reverse=True)[: int(limit)]
    return AnomalyList(out)
