"""Alerts: when an event is worth telling someone, and how an alert evolves.

Every event becomes a record (``StreamResult.events``); an *alert* is the
news that one is under way, and the policy decides which deserve it (as
Merlion's aggregate alarms and Prometheus' ``for:`` do):

- ``min_severity`` -- only events at least this severe (default ``'high'``);
- ``min_points`` -- only once the event holds that many flagged points;
- ``suppress_points`` -- after an alert fires for a series, no new alert
  (another event) for that series until that many points later; the
  records are still made.

An alert fires as soon as the open event, scored with the interim scores,
passes the policy (``interim=True``); it is sent again, ``reason='upgraded'``,
when the event's severity rises; and a last time when the event closes
(``interim=False``, ``reason='final'``, status ``'resolved'``) with the final
record. An event that only passes the policy once final fires and resolves
at once. An interim alert whose event the final scores do not confirm is
resolved with ``reason='withdrawn'``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .._validation import check_non_negative_int, check_positive_int
from ..detection.records import Anomaly
from ..vocabulary import SEVERITY_RANKS, severity_rank

__all__ = ["AlarmPolicy", "Alert", "AlertBook"]


@dataclass(frozen=True)
class AlarmPolicy:
    """Which events raise alerts (see the module).

    Parameters
    ----------
    min_severity : {'low', 'medium', 'high', 'critical'}, default='high'
    min_points : int, default=1
    suppress_points : int, default=0

    Examples
    --------
    >>> from fusionlab.streaming import AlarmPolicy
    >>> AlarmPolicy(min_severity="critical", min_points=3).min_rank
    3
    """

    min_severity: str = "high"
    min_points: int = 1
    suppress_points: int = 0

    def __post_init__(self):
        severity_rank(self.min_severity, "min_severity")
        check_positive_int(self.min_points, "min_points")
        check_non_negative_int(self.suppress_points, "suppress_points")

    @property
    def min_rank(self):
        return SEVERITY_RANKS[self.min_severity]

    def passes(self, record):
        return (SEVERITY_RANKS[record.severity] >= self.min_rank
                and record.metadata.get("n_flagged", 1) >= self.min_points)

    def to_dict(self):
        return {"min_severity": self.min_severity, "min_points": self.min_points,
                "suppress_points": self.suppress_points}


@dataclass(frozen=True)
class Alert:
    """One message about an event (see the module).

    Attributes
    ----------
    alert_id : int
        The same for every message about one event (unique in the detector).
    series_id : str
    status : {'firing', 'resolved'}
    interim : bool
        True while the event is open (scored with interim scores).
    reason : {'fired', 'upgraded', 'final', 'withdrawn'}
    anomaly : Anomaly
        The event's record as known now.
    model_version : int
    """

    alert_id: int
    series_id: str
    status: str
    interim: bool
    reason: str
    anomaly: Anomaly
    model_version: int

    @property
    def severity(self):
        return self.anomaly.severity

    def to_dict(self):
        return {"alert_id": self.alert_id, "series_id": self.series_id, "status": self.status,
                "interim": self.interim, "reason": self.reason,
                "model_version": self.model_version, "anomaly": self.anomaly.to_dict()}


def _span(record):
    """The flagged points' span of a record (its bounds, read on the point errors, may
    reach past it): what alerts follow, so an alert matches the same event however the
    bounds of its interim and final records were read."""
    meta = record.metadata
    return (meta.get("flagged_start_index", record.start_index),
            meta.get("flagged_end_index", record.end_index))


def _overlap(record, start, end, gap):
    first, last = _span(record)
    return first <= end + gap + 1 and last >= start - gap - 1


class AlertBook:
    """The active alerts of one series and the suppression window.

    Active alerts are ``{"id", "start", "end", "rank"}`` (stream positions of the
    flagged points).
    """

    def __init__(self):
        self.active = []
        self.suppressed_until = -1

    def finals(self, records, policy, next_id, series_id, version, gap):
        """Alerts of final records: the active alert they end, or one fired and resolved."""
        out = []
        for record in records:
            match = next((a for a in self.active
                          if _overlap(record, a["start"], a["end"], gap)), None)
            if match is None:
                if not policy.passes(record) or _span(record)[0] <= self.suppressed_until:
                    continue
                alert_id = next_id()
                self._suppress(record, policy)
                out.append(self._alert(alert_id, series_id, "firing", False, "fired",
                                       record, version))
            else:
                self.active.remove(match)
                alert_id = match["id"]
            out.append(self._alert(alert_id, series_id, "resolved", False, "final", record,
                                   version))
        return out

    def interims(self, records, policy, next_id, series_id, version, gap):
        """Alerts of interim records: new ones fired, active ones upgraded."""
        out = []
        for record in records:
            rank = SEVERITY_RANKS[record.severity]
            match = next((a for a in self.active
                          if _overlap(record, a["start"], a["end"], gap)), None)
            first, last = _span(record)
            if match is not None:
                match["start"] = min(match["start"], first)
                match["end"] = max(match["end"], last)
                match["record"] = record
                if rank > match["rank"]:
                    match["rank"] = rank
                    out.append(self._alert(match["id"], series_id, "firing", True, "upgraded",
                                           record, version))
                continue
            if not policy.passes(record) or first <= self.suppressed_until:
                continue
            alert_id = next_id()
            self.active.append({"id": alert_id, "start": first, "end": last, "rank": rank,
                                "record": record})
            self._suppress(record, policy)
            out.append(self._alert(alert_id, series_id, "firing", True, "fired", record, version))
        return out

    def withdraw(self, final_until, open_start, pending_starts, series_id, version, gap):
        """Resolve the active alerts no final event can confirm any more.

        An alert is confirmed by an event overlapping it; once the final
        scores reach ``gap + 1`` points past its end without an open or
        waiting event overlapping it, none can.
        """
        out = []
        for alert in list(self.active):
            if final_until <= alert["end"] + gap + 1:
                continue
            starts = [s for s in ([open_start] if open_start is not None else [])
                      + pending_starts if s <= alert["end"] + gap + 1]
            if starts:
                continue
            self.active.remove(alert)
            out.append(self._alert(alert["id"], series_id, "resolved", False, "withdrawn",
                                   alert["record"], version))
        return out

    def _suppress(self, record, policy):
        if policy.suppress_points:
            self.suppressed_until = _span(record)[0] + policy.suppress_points

    @staticmethod
    def _alert(alert_id, series_id, status, interim, reason, record, version):
        meta = {**record.metadata, "interim": interim, "alert_id": alert_id,
                "model_version": version, "series_id": series_id}
        return Alert(alert_id, series_id, status, interim, reason,
                     replace(record, metadata=meta), version)

    def get_state(self):
        return {"active": [{**{k: v for k, v in a.items() if k != "record"},
                            "record": record_to_json(a["record"])} for a in self.active],
                "suppressed_until": self.suppressed_until}

    def set_state(self, params):
        active = params["active"]
        keys = {"id", "start", "end", "rank", "record"}
        if not isinstance(active, list) or not all(
                isinstance(a, dict) and set(a) == keys for a in active):
            raise ValueError("state `alerts.active` must list {id, start, end, rank, record} "
                             "objects.")
        self.active = [{**a, "record": record_from_json(a["record"])} for a in active]
        self.suppressed_until = int(params["suppressed_until"])


def _label_to_json(value):
    import numpy as np
    import pandas as pd

    if isinstance(value, pd.Timestamp):
        return {"time": value.isoformat()}
    if isinstance(value, np.generic):
        return value.item()
    return value


def _label_from_json(value):
    import pandas as pd

    if isinstance(value, dict):
        return pd.Timestamp(value["time"])
    return value


def record_to_json(record):
    """An :class:`Anomaly` as JSON data (times as ISO text); :func:`record_from_json` reverses it."""
    import math

    def clean(value):
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if hasattr(value, "item") and not isinstance(value, (list, dict)):
            return value.item()
        return value

    return {"start": _label_to_json(record.start), "end": _label_to_json(record.end),
            "start_index": int(record.start_index), "end_index": int(record.end_index),
            "peak_score": float(record.peak_score), "mean_score": float(record.mean_score),
            "severity": record.severity, "anomaly_type": record.anomaly_type,
            "top_features": [[str(n), float(s)] for n, s in record.top_features],
            "model_id": record.model_id,
            "metadata": {k: clean(v) for k, v in record.metadata.items()}}


def record_from_json(data):
    """The :class:`Anomaly` of :func:`record_to_json` (ValueError when malformed)."""
    try:
        return Anomaly(start=_label_from_json(data["start"]), end=_label_from_json(data["end"]),
                       start_index=int(data["start_index"]), end_index=int(data["end_index"]),
                       peak_score=float(data["peak_score"]), mean_score=float(data["mean_score"]),
                       severity=str(data["severity"]), anomaly_type=str(data["anomaly_type"]),
                       top_features=tuple((str(n), float(s)) for n, s in data["top_features"]),
                       model_id=str(data["model_id"]), metadata=dict(data["metadata"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"a stored alert record is malformed: {exc}") from exc
