"""Data for fusionlab: synthetic generators and a local NAB reader."""

from .nab import list_nab, load_nab
from .synthetic import (
    SEQUENCE_ANOMALY_KINDS,
    SERVER_INCIDENTS,
    SequenceAnomalies,
    make_sequence_anomalies,
    make_server_metrics,
    make_sine_anomalies,
)

__all__ = [
    "make_sine_anomalies",
    "make_sequence_anomalies",
    "make_server_metrics",
    "SequenceAnomalies",
    "SEQUENCE_ANOMALY_KINDS",
    "SERVER_INCIDENTS",
    "load_nab",
    "list_nab",
]
