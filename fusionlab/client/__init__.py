"""Async client of the fusionlab anomaly service (``fusionlab serve``).

>>> from fusionlab.client import Severity
>>> Severity.CRITICAL > Severity.HIGH
True

::

    from fusionlab.client import connect

    client = await connect("http://localhost:8080", token="...")
    anomalies = await client.get_anomalies(severity="high", limit=50)
    await client.download_anomalies("anomalies.csv")
    await client.subscribe_anomalies()
    async for update in client.stream_updates(message_types=["anomaly_update"]):
        print(update.severity, update.score, update.description)
    await client.disconnect()

Modules: :mod:`~fusionlab.client.records` (the contract's records),
:mod:`~fusionlab.client.client` (:class:`AnomalyClient`),
:mod:`~fusionlab.client.stream` (the WebSocket, with reconnection),
:mod:`~fusionlab.client.export` and :mod:`~fusionlab.client.tensorboard`
(local files), :mod:`~fusionlab.client.errors`.
"""

from .client import AnomalyClient, AnomalyPage, connect
from .errors import JobFailed, ServiceError, StreamClosed
from .records import (
    Anomaly,
    AnomalyUpdate,
    CorrelationMatrix,
    ExportFormat,
    Job,
    Message,
    Severity,
    TemporalPattern,
    VisualizationTheme,
    to_frame,
)

__all__ = [
    "AnomalyClient",
    "AnomalyPage",
    "connect",
    "Anomaly",
    "AnomalyUpdate",
    "TemporalPattern",
    "CorrelationMatrix",
    "ExportFormat",
    "VisualizationTheme",
    "Severity",
    "Job",
    "Message",
    "to_frame",
    "ServiceError",
    "JobFailed",
    "StreamClosed",
]
