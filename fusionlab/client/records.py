"""The records of the wire contract, as the client gives them.

``from_dict`` ignores keys it does not know (a newer server may send more),
and ``to_dict`` gives the wire form back. Severities compare by rank
(``Severity.HIGH > Severity.MEDIUM``), not by string order, and still equal
their names (``Severity.HIGH == "high"``).
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field
from typing import Any

from ..vocabulary import SEVERITY_RANKS

__all__ = [
    "Severity",
    "ExportFormat",
    "VisualizationTheme",
    "Anomaly",
    "AnomalyUpdate",
    "TemporalPattern",
    "CorrelationMatrix",
    "Job",
    "Message",
    "to_frame",
]


class Severity(str, enum.Enum):
    """Severity of an anomaly, ordered ``LOW < MEDIUM < HIGH < CRITICAL``.

    Examples
    --------
    >>> from fusionlab.client import Severity
    >>> Severity("high") > Severity.MEDIUM, Severity.LOW < "critical", Severity.HIGH == "high"
    (True, True, True)
    >>> sorted(["critical", "low", "high"], key=Severity)
    ['low', 'high', 'critical']
    """

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """0 for low ... 3 for critical."""
        return SEVERITY_RANKS[self.value]

    def _other(self, other):
        return Severity(other).rank if isinstance(other, str) else NotImplemented

    def __lt__(self, other):
        rank = self._other(other)
        return rank if rank is NotImplemented else self.rank < rank

    def __le__(self, other):
        rank = self._other(other)
        return rank if rank is NotImplemented else self.rank <= rank

    def __gt__(self, other):
        rank = self._other(other)
        return rank if rank is NotImplemented else self.rank > rank

    def __ge__(self, other):
        rank = self._other(other)
        return rank if rank is NotImplemented else self.rank >= rank

    __hash__ = str.__hash__

    def __str__(self):
        return self.value


class ExportFormat(str, enum.Enum):
    """Formats of ``export_all``."""

    CSV = "csv"
    JSON = "json"
    PARQUET = "parquet"
    TENSORBOARD = "tensorboard"


class VisualizationTheme(str, enum.Enum):
    """The dashboard heatmap's colour schemes."""

    THERMAL = "thermal"
    PLASMA = "plasma"
    HOLOGRAPHIC = "holographic"
    CONTOUR = "contour"


def _known(cls, data: dict) -> dict:
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in data.items() if k in names}


@dataclass
class Anomaly:
    """One stored anomaly (an event of a series, or a row of a table).

    Attributes
    ----------
    id : int
    anomaly_type : str
        spike, level_shift, trend, variance, pattern, or row.
    severity : Severity
    severity_score : float
        0-100, continuous across the severity bands.
    timestamp : int
        Epoch milliseconds of the peak (the point index for a series without
        times; for a row of a table, the time the scan found it).
    location : dict
        ``start``, ``end``, ``start_index``, ``end_index``; ``row_index``,
        ``sheet_name`` for rows.
    layer : str
        The feature most to blame.
    model_id, series_id, dataset_id : str
    score : float
        Peak score.
    description : str
    metadata : dict
        Mean score, threshold, ratio, top features, ``interim``; rows'
        ``raw_data`` and ``anomalous_features``.
    seq : int
        Its number in the order anomalies were stored.
    """

    id: int
    anomaly_type: str
    severity: Severity
    severity_score: float = 0.0
    timestamp: int = 0
    location: dict = field(default_factory=dict)
    layer: str | None = None
    model_id: str | None = None
    series_id: str | None = None
    dataset_id: str | None = None
    score: float = 0.0
    description: str = ""
    metadata: dict = field(default_factory=dict)
    seq: int | None = None

    def __post_init__(self):
        self.severity = Severity(self.severity)

    @classmethod
    def from_dict(cls, data: dict) -> Anomaly:
        """A record from its wire form (unknown keys ignored)."""
        return cls(**_known(cls, data))

    def to_dict(self) -> dict:
        """The wire form."""
        out = dataclasses.asdict(self)
        out["severity"] = self.severity.value
        return out


@dataclass
class AnomalyUpdate:
    """An ``anomaly_update`` message: newly stored anomalies."""

    timestamp: int
    anomalies: list
    severity: Severity
    score: float
    location: dict = field(default_factory=dict)
    model_id: str | None = None
    description: str = ""
    interim: bool = False
    seq: int | None = None

    def __post_init__(self):
        self.severity = Severity(self.severity)
        self.anomalies = [a if isinstance(a, Anomaly) else Anomaly.from_dict(a)
                          for a in self.anomalies]

    @classmethod
    def from_dict(cls, data: dict) -> AnomalyUpdate:
        """An update from its wire form (unknown keys ignored)."""
        return cls(**_known(cls, data))

    def to_dict(self) -> dict:
        """The wire form."""
        out = dataclasses.asdict(self)
        out["severity"] = self.severity.value
        out["anomalies"] = [a.to_dict() for a in self.anomalies]
        return out


@dataclass
class TemporalPattern:
    """A periodic, trend or state-change pattern of a score series."""

    pattern_type: str
    frequency: float = 0.0
    amplitude: float = 0.0
    phase: float = 0.0
    confidence: float = 0.0
    start_time: int | None = None
    end_time: int | None = None
    metadata: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict) -> TemporalPattern:
        """A pattern from its wire form (unknown keys ignored)."""
        return cls(**_known(cls, data))

    def to_dict(self) -> dict:
        """The wire form."""
        return dataclasses.asdict(self)


@dataclass
class CorrelationMatrix:
    """A correlation matrix with its labels (features, or models)."""

    matrix: list
    labels: list
    timestamp: int | None = None
    metadata: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict) -> CorrelationMatrix:
        """A matrix from its wire form (unknown keys ignored)."""
        return cls(**_known(cls, data))

    def to_dict(self) -> dict:
        """The wire form."""
        return dataclasses.asdict(self)

    def to_frame(self):
        """The matrix as a labelled :class:`pandas.DataFrame`."""
        import pandas as pd

        return pd.DataFrame(self.matrix, index=self.labels, columns=self.labels)


@dataclass
class Job:
    """A background job's state."""

    job_id: str
    kind: str
    status: str
    progress: float = 0.0
    message: str | None = None
    error_message: str | None = None
    attempts: int = 0
    dataset_id: str | None = None
    model_id: str | None = None
    anomaly_count: int = 0
    result: dict | None = None
    created_at: int | None = None
    started_at: int | None = None
    finished_at: int | None = None

    @classmethod
    def from_dict(cls, data: dict) -> Job:
        """A job from its wire form (unknown keys ignored)."""
        return cls(**_known(cls, data))

    @property
    def done(self) -> bool:
        """True once the job completed, failed or was cancelled."""
        return self.status in ("completed", "failed", "cancelled")


@dataclass
class Message:
    """Any other WebSocket message (``job_update``, ``lagged``, ``error``...)."""

    type: str
    data: Any = None
    seq: int | None = None
    id: str | None = None


def to_frame(anomalies):
    """Anomaly records as a :class:`pandas.DataFrame` with the columns
    :mod:`fusionlab.plot` reads (``start``, ``end``, ``peak_score``,
    ``mean_score``, ``severity``, ``anomaly_type``...).

    ``start`` and ``end`` are timestamps for series with times, indices
    otherwise (rows, series without times).

    Examples
    --------
    >>> from fusionlab.client import Anomaly, to_frame
    >>> a = Anomaly(1, "spike", "high", timestamp=5, score=3.0,
    ...             location={"start_index": 4, "end_index": 6})
    >>> to_frame([a])[["start", "end", "peak_score", "severity"]].values.tolist()
    [[4, 6, 3.0, 'high']]
    """
    import pandas as pd

    rows = []
    for a in anomalies:
        loc = a.location or {}
        timed = (a.metadata or {}).get("time_unit") == "ms" and loc.get("start") is not None
        start = pd.Timestamp(loc["start"]) if timed else loc.get("start_index", a.timestamp)
        end = pd.Timestamp(loc["end"]) if timed else loc.get("end_index", a.timestamp)
        rows.append({
            "id": a.id, "seq": a.seq, "start": start, "end": end,
            "timestamp": a.timestamp, "peak_score": a.score,
            "mean_score": (a.metadata or {}).get("mean_score", a.score),
            "severity": a.severity.value, "severity_score": a.severity_score,
            "anomaly_type": a.anomaly_type, "layer": a.layer, "model_id": a.model_id,
            "series_id": a.series_id, "dataset_id": a.dataset_id,
            "description": a.description})
    columns = ["id", "seq", "start", "end", "timestamp", "peak_score", "mean_score",
               "severity", "severity_score", "anomaly_type", "layer", "model_id",
               "series_id", "dataset_id", "description"]
    return pd.DataFrame(rows, columns=columns)
