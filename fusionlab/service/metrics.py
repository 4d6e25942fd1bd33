"""Prometheus metrics of one server (``GET /metrics``, text format).

Each app has its own registry, so that several servers in one process (the
tests) do not share counters.
"""

from __future__ import annotations

import time

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["Metrics", "CONTENT_TYPE_LATEST"]


class Metrics:
    """The server's counters, gauges and histograms."""

    def __init__(self):
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("fusionlab_http_requests_total", "HTTP requests answered.",
                                ["method", "route", "status"], registry=r)
        self.latency = Histogram(
            "fusionlab_http_request_seconds", "Time to answer an HTTP request.",
            ["route"], registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
        self.jobs_finished = Counter("fusionlab_jobs_finished_total", "Jobs finished.",
                                     ["kind", "status"], registry=r)
        self.jobs_by_status = Gauge("fusionlab_jobs", "Jobs by status.", ["status"],
                                    registry=r)
        self.anomalies_stored = Counter("fusionlab_anomalies_stored_total",
                                        "Anomalies stored since start.", registry=r)
        self.anomalies_total = Gauge("fusionlab_anomalies", "Anomalies in the database.",
                                     registry=r)
        self.ws_clients = Gauge("fusionlab_websocket_clients", "Connected WebSocket clients.",
                                registry=r)
        self.ws_dropped = Gauge("fusionlab_websocket_dropped_messages",
                                "Low/medium messages dropped for slow clients since start.",
                                registry=r)
        self.stream_points = Counter("fusionlab_stream_points_total",
                                     "Pushed points accepted by the online scoring.", registry=r)
        self.stream_refused = Counter("fusionlab_stream_points_refused_total",
                                      "Pushed points refused (order, values...).", registry=r)
        self.stream_seconds = Histogram(
            "fusionlab_stream_tick_seconds", "Time to score and store one batch of pushes.",
            registry=r, buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
        self.stream_series = Gauge("fusionlab_stream_series", "Live series in memory.",
                                   registry=r)
        self.webhook_sent = Counter("fusionlab_webhook_sent_total",
                                    "Alerts posted to the webhook.", registry=r)
        self.webhook_failed = Counter("fusionlab_webhook_failed_total",
                                      "Alerts the webhook could not deliver.", registry=r)

    def observe(self, method: str, route: str, status: int, started: float) -> None:
        """Count one answered request."""
        self.requests.labels(method=method, route=route, status=str(status)).inc()
        self.latency.labels(route=route).observe(time.perf_counter() - started)

    def render(self) -> bytes:
        """The text exposition of every metric."""
        return generate_latest(self.registry)
