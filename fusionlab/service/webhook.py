"""Alerts sent out in Alertmanager's webhook format, so they route through existing alerting.

When the server is started with ``--webhook URL``, every alert of the
online scoring (an event of a live series at least ``--stream-min-severity``
severe) is POSTed to ``URL`` as Alertmanager itself posts to its receivers
(webhook payload version 4): ``status`` ``firing`` while the event is open
(first interim alert, each upgrade) and ``resolved`` when it closes (its
final record) or when the final scores withdraw it. Each alert carries the
labels ``alertname`` (``FusionlabAnomaly``), ``severity``, ``model_id``,
``series_id`` and ``anomaly_type``; the annotations ``summary``,
``description``, ``score``, ``threshold``, ``anomaly_id``, ``seq``,
``interim`` and ``reason``; ``startsAt`` / ``endsAt`` (the event's times,
``endsAt`` the zero time while firing, as Alertmanager sends it), a
``fingerprint`` that is the same for every message about one event, and
``generatorURL`` pointing at the stored record.

Delivery never holds up scoring: messages wait in a bounded queue and a
background task posts them, retrying a failed post with growing waits
(``retries`` times); what still fails, or what overflows the queue, is
counted (``fusionlab_webhook_failed_total``) and logged.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import logging
from datetime import datetime, timezone

__all__ = ["Webhook", "alertmanager_alert", "alertmanager_payload", "ZERO_TIME"]

log = logging.getLogger("fusionlab.service.webhook")

#: ``endsAt`` of a firing alert, as Alertmanager writes it.
ZERO_TIME = "0001-01-01T00:00:00Z"
ALERT_NAME = "FusionlabAnomaly"


def _rfc3339(ms):
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat().replace("+00:00", "Z")


def alertmanager_alert(record: dict, status: str, reason: str, external_url: str,
                       starts_ms: int | None = None, ends_ms: int | None = None) -> dict:
    """One alert of the payload, from a stored anomaly record.

    Parameters
    ----------
    record : dict
        The contract's record (as stored, with ``id`` and ``seq``).
    status : {'firing', 'resolved'}
    reason : str
        ``fired``, ``upgraded``, ``final`` or ``withdrawn``.
    external_url : str
        The server's address (``generatorURL`` links to the record).
    starts_ms, ends_ms : int, optional
        The event's first and last times (epoch ms); the record's time by default.
    """
    meta = record.get("metadata") or {}
    labels = {"alertname": ALERT_NAME, "severity": record["severity"],
              "model_id": str(record.get("model_id")), "series_id": str(record.get("series_id")),
              "anomaly_type": record["anomaly_type"]}
    key = f"{labels['model_id']}/{labels['series_id']}/{record['id']}"
    starts = starts_ms if starts_ms is not None else record["timestamp"]
    ends = ends_ms if ends_ms is not None else record["timestamp"]
    return {
        "status": status,
        "labels": labels,
        "annotations": {
            "summary": f"{record['severity'].capitalize()} {record['anomaly_type'].replace('_', ' ')} "
                       f"on {labels['series_id']}",
            "description": record.get("description", ""),
            "score": f"{record['score']:.6g}",
            "threshold": f"{meta.get('threshold')}",
            "anomaly_id": str(record["id"]),
            "seq": str(record["seq"]),
            "interim": str(bool(meta.get("interim"))).lower(),
            "reason": reason,
        },
        "startsAt": _rfc3339(starts),
        "endsAt": ZERO_TIME if status == "firing" else _rfc3339(ends),
        "generatorURL": f"{external_url}/api/anomalies/{record['id']}",
        "fingerprint": hashlib.sha256(key.encode()).hexdigest()[:16],
    }


def alertmanager_payload(alerts: list[dict], external_url: str, receiver: str = "fusionlab",
                         truncated: int = 0) -> dict:
    """The webhook body (version 4) of alerts grouped by status."""
    status = "firing" if any(a["status"] == "firing" for a in alerts) else "resolved"
    common_labels = dict(alerts[0]["labels"]) if alerts else {}
    for alert in alerts[1:]:
        common_labels = {k: v for k, v in common_labels.items() if alert["labels"].get(k) == v}
    common_annotations = dict(alerts[0]["annotations"]) if alerts else {}
    for alert in alerts[1:]:
        common_annotations = {k: v for k, v in common_annotations.items()
                              if alert["annotations"].get(k) == v}
    group = {"alertname": ALERT_NAME}
    return {
        "version": "4",
        "groupKey": "{}:{alertname=\"" + ALERT_NAME + "\"}",
        "truncatedAlerts": truncated,
        "status": status,
        "receiver": receiver,
        "groupLabels": group,
        "commonLabels": common_labels,
        "commonAnnotations": common_annotations,
        "externalURL": external_url,
        "alerts": alerts,
    }


class Webhook:
    """A bounded queue of alerts and the task that posts them (see the module).

    Parameters
    ----------
    url : str
    external_url : str
    metrics : Metrics, optional
    queue_size : int
        Alerts kept waiting; beyond, the oldest are dropped (and counted).
    retries : int
        Further attempts of a failed post.
    timeout : float
        Seconds one post may take.
    """

    def __init__(self, url, external_url, metrics=None, queue_size=10_000, retries=3,
                 timeout=5.0, max_batch=100):
        self.url = url
        self.external_url = external_url
        self.metrics = metrics
        self.queue = collections.deque()
        self.queue_size = queue_size
        self.retries = retries
        self.timeout = timeout
        self.max_batch = max_batch
        self.sent = 0
        self.failed = 0
        self._ready = asyncio.Event()
        self._task = None
        self._client = None

    def send(self, alerts: list[dict]) -> None:
        """Queue alerts (never waits)."""
        for alert in alerts:
            if len(self.queue) >= self.queue_size:
                self.queue.popleft()
                self._count_failed(1)
            self.queue.append(alert)
        if alerts:
            self._ready.set()

    def _count_failed(self, n):
        self.failed += n
        if self.metrics is not None:
            self.metrics.webhook_failed.inc(n)

    async def start(self):
        import httpx

        self._client = httpx.AsyncClient(timeout=self.timeout)
        self._task = asyncio.create_task(self._run(), name="fusionlab-webhook")

    async def stop(self, drain_seconds=2.0):
        """Post what is queued (for at most ``drain_seconds``), then stop."""
        if self._task is None:
            return
        deadline = asyncio.get_running_loop().time() + drain_seconds
        while self.queue and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task
        await self._client.aclose()
        self._task = None

    async def _run(self):
        while True:
            while not self.queue:
                self._ready.clear()
                await self._ready.wait()
            batch = []
            # One post per status: Alertmanager's payload has one status.
            status = self.queue[0]["status"]
            while self.queue and len(batch) < self.max_batch and self.queue[0]["status"] == status:
                batch.append(self.queue.popleft())
            await self._post(batch)

    async def _post(self, batch):
        payload = alertmanager_payload(batch, self.external_url)
        delay = 0.5
        for attempt in range(self.retries + 1):
            try:
                answer = await self._client.post(self.url, json=payload)
                if answer.status_code < 300:
                    self.sent += len(batch)
                    if self.metrics is not None:
                        self.metrics.webhook_sent.inc(len(batch))
                    return
                problem = f"HTTP {answer.status_code}"
            except Exception as exc:  # noqa: BLE001 - any failure is retried, then counted
                problem = f"{type(exc).__name__}: {exc}"
            if attempt < self.retries:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
        log.warning("webhook %s failed after %d attempts (%s); %d alert(s) dropped", self.url,
                    self.retries + 1, problem, len(batch))
        self._count_failed(len(batch))
