"""The async client of the anomaly service: :class:`AnomalyClient`, :func:`connect`.

REST calls go through one :class:`httpx.AsyncClient`; the WebSocket
(:mod:`fusionlab.client.stream`) is opened on the first subscription. An HTTP
error raises :class:`~fusionlab.client.errors.ServiceError` with the status
and the server's ``detail``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import httpx

from .errors import JobFailed, ServiceError
from .records import (
    Anomaly,
    AnomalyUpdate,
    CorrelationMatrix,
    Job,
    Message,
    TemporalPattern,
    VisualizationTheme,
)
from .stream import Stream

__all__ = ["AnomalyClient", "connect", "AnomalyPage"]

_SUFFIX_FORMATS = {".csv": "csv", ".json": "json", ".parquet": "parquet", ".pq": "parquet"}
_CHANNELS = ("anomalies", "heatmap", "correlations", "temporal", "jobs")


class AnomalyPage(list):
    """A page of :class:`Anomaly` records; ``next_cursor`` fetches the next."""

    next_cursor: str | None = None


def _csv(values) -> str | None:
    if values is None:
        return None
    if isinstance(values, str):
        return values
    return ",".join(str(getattr(v, "value", v)) for v in values)


def _time(value):
    """Epoch ms or ISO text for a query (datetimes become ISO text)."""
    if value is None:
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _ms(value):
    """Epoch milliseconds of a time (int, numpy or pandas datetime, ISO text kept)."""
    if isinstance(value, str):
        return value
    if hasattr(value, "value") and hasattr(value, "tz_localize"):  # pandas Timestamp
        stamp = value if value.tzinfo is None else value.tz_convert("UTC").tz_localize(None)
        return int(stamp.value // 1_000_000)
    if hasattr(value, "dtype") and str(value.dtype).startswith("datetime64"):
        return int(value.astype("datetime64[ms]").astype("int64"))
    if hasattr(value, "timestamp"):  # datetime.datetime
        return int(round(value.timestamp() * 1000))
    return value.item() if hasattr(value, "item") else value


def _number(value):
    if value is None:
        return None
    number = float(value)
    return None if number != number else number  # NaN as null: a missing value


def _points(points):
    """The JSON points of a push from a list, a DataFrame or an array of rows."""
    if hasattr(points, "to_numpy") and hasattr(points, "index"):  # DataFrame / Series
        import pandas as pd

        frame = points.to_frame() if isinstance(points, pd.Series) else points
        rows = frame.to_numpy(dtype=float).tolist()
        timed = isinstance(frame.index, pd.DatetimeIndex)
        return [{"timestamp": _ms(t), "values": [_number(v) for v in row]} if timed
                else [_number(v) for v in row] for t, row in zip(frame.index, rows, strict=True)]
    if hasattr(points, "tolist") and not isinstance(points, list):  # numpy array
        import numpy as np

        array = np.asarray(points, dtype=float)
        rows = array[:, None] if array.ndim == 1 else array
        return [[_number(v) for v in row] for row in rows.tolist()]
    out = []
    for point in points:
        if isinstance(point, dict) and "timestamp" in point:
            point = {**point, "timestamp": _ms(point["timestamp"])}
        out.append(point)
    return out


class AnomalyClient:
    """Client of a ``fusionlab serve`` server.

    Parameters
    ----------
    url : str
        The server, e.g. ``http://localhost:8080``.
    ws_url : str, optional
        Its WebSocket; by default ``url`` with ``ws://`` (``wss://``) and ``/ws``.
    auto_connect : bool, default=False
        Connect (check ``/health``) on entering ``async with``; a client used
        without ``async with`` connects on its first call anyway.
    token : str, optional
        Bearer token (needed once the server has tokens).
    timeout : float, default=30
        Seconds per HTTP request.
    reconnect : bool, default=True
        Reopen a dropped WebSocket and resume from the last ``seq``.
    reconnect_delay : float, default=0.5
        First wait before reconnecting (doubled at each failure, at most 30 s).
    max_retries : int, default=10
        Reconnection attempts in a row before :class:`StreamClosed` is raised.

    Examples
    --------
    ::

        async with AnomalyClient("http://localhost:8080", auto_connect=True) as client:
            high = await client.get_anomalies(severity="high", limit=50)
    """

    def __init__(self, url: str, ws_url: str | None = None, auto_connect: bool = False,
                 token: str | None = None, *, timeout: float = 30.0, reconnect: bool = True,
                 reconnect_delay: float = 0.5, max_retries: int = 10):
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ValueError(f"`url` must start with http:// or https://; received {url!r}.")
        self.url = url.rstrip("/")
        if ws_url is None:
            ws_url = "ws" + self.url[len("http"):] + "/ws"
        if not ws_url.startswith(("ws://", "wss://")):
            raise ValueError(f"`ws_url` must start with ws:// or wss://; received {ws_url!r}.")
        self.ws_url = ws_url
        self.auto_connect = auto_connect
        self.token = token
        self.timeout = timeout
        self.reconnect = reconnect
        self.reconnect_delay = reconnect_delay
        self.max_retries = max_retries
        self.server: dict | None = None
        self._http: httpx.AsyncClient | None = None
        self._stream: Stream | None = None

    # ------------------------------------------------------------ connection
    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
            self._http = httpx.AsyncClient(base_url=self.url, headers=headers,
                                           timeout=self.timeout)
        return self._http

    async def connect(self) -> AnomalyClient:
        """Check the server answers (``/health``); return the client."""
        self.server = await self._request("GET", "/health")
        return self

    async def health(self) -> dict:
        """``{"status", "version", "database", ...}``."""
        return await self._request("GET", "/health")

    async def disconnect(self) -> None:
        """Close the WebSocket and the HTTP connections."""
        if self._stream is not None:
            await self._stream.close()
            self._stream = None
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def __aenter__(self):
        if self.auto_connect:
            await self.connect()
        return self

    async def __aexit__(self, *exc):
        await self.disconnect()

    async def _send(self, method, path, **kwargs) -> httpx.Response:
        params = kwargs.pop("params", None)
        if params is not None:
            kwargs["params"] = {k: v for k, v in params.items() if v is not None}
        response = await self._client().request(method, path, **kwargs)
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except (ValueError, AttributeError):
                detail = response.text
            raise ServiceError(response.status_code, detail, method, str(response.url))
        return response

    async def _request(self, method, path, **kwargs):
        return (await self._send(method, path, **kwargs)).json()

    # ------------------------------------------------------------- anomalies
    async def get_anomalies(self, severity=None, limit=None, model_id=None, *,
                            min_severity=None, anomaly_type=None, series_id=None,
                            dataset_id=None, start=None, end=None, cursor=None,
                            since_seq=None) -> AnomalyPage:
        """One page of stored anomalies, newest first (by ``seq`` with ``since_seq``).

        ``severity``, ``anomaly_type`` and ``model_id`` take one value or a
        list; ``start``/``end`` epoch ms, ISO text or datetimes. The caller's
        saved filter applies too. The page's ``next_cursor`` fetches the next.
        """
        data = await self._request("GET", "/api/anomalies", params={
            "severity": _csv(severity), "limit": limit, "model_id": _csv(model_id),
            "min_severity": getattr(min_severity, "value", min_severity),
            "anomaly_type": _csv(anomaly_type), "series_id": series_id,
            "dataset_id": dataset_id, "start": _time(start), "end": _time(end),
            "cursor": cursor, "since_seq": since_seq})
        page = AnomalyPage(Anomaly.from_dict(a) for a in data["anomalies"])
        page.next_cursor = data.get("next_cursor")
        return page

    async def iter_anomalies(self, page_size: int = 500, **filters) -> AsyncIterator[Anomaly]:
        """Every matching anomaly, fetching pages as needed."""
        cursor = None
        while True:
            page = await self.get_anomalies(limit=page_size, cursor=cursor, **filters)
            for anomaly in page:
                yield anomaly
            cursor = page.next_cursor
            if cursor is None:
                return

    async def get_anomaly(self, anomaly_id: int) -> Anomaly:
        """One stored anomaly (404 raises :class:`ServiceError`)."""
        return Anomaly.from_dict(await self._request("GET", f"/api/anomalies/{int(anomaly_id)}"))

    async def download_anomalies(self, path, severity=None, limit=None, model_id=None, *,
                                 format=None, **filters) -> Path:
        """Stream the matching anomalies to ``path`` (format from its suffix:
        .csv, .json, .parquet); return the path."""
        path = Path(path)
        fmt = format or _SUFFIX_FORMATS.get(path.suffix.lower())
        if fmt is None:
            raise ValueError(f"`path` must end with one of {sorted(_SUFFIX_FORMATS)} (or pass "
                             f"format=); received {path.name!r}.")
        params = {"format": getattr(fmt, "value", fmt), "severity": _csv(severity),
                  "limit": limit, "model_id": _csv(model_id),
                  **{k: _csv(v) if isinstance(v, list | tuple) else _time(v)
                     for k, v in filters.items()}}
        params = {k: v for k, v in params.items() if v is not None}
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".part")
        async with self._client().stream("GET", "/api/anomalies/export",
                                         params=params) as response:
            if response.status_code >= 400:
                body = await response.aread()
                try:
                    detail = json.loads(body).get("detail")
                except ValueError:
                    detail = body.decode(errors="replace")
                raise ServiceError(response.status_code, detail, "GET", str(response.url))
            with open(tmp, "wb") as out:
                async for chunk in response.aiter_bytes():
                    out.write(chunk)
        tmp.replace(path)
        return path

    # -------------------------------------------------------------- analyses
    async def get_correlation_matrix(self, model_ids=None, layer_ids=None,
                                     as_dataframe: bool = False, dataset_id=None):
        """Correlation of one model's per-feature errors, or of several models'
        score series (:class:`CorrelationMatrix`, or a DataFrame)."""
        data = await self._request("GET", "/api/correlation", params={
            "model_ids": _csv(model_ids), "layer_ids": _csv(layer_ids),
            "dataset_id": dataset_id})
        matrix = CorrelationMatrix.from_dict(data)
        return matrix.to_frame() if as_dataframe else matrix

    async def export_correlation_matrix(self, filename: str, format="csv", model_ids=None,
                                        layer_ids=None) -> dict:
        """Have the server write the matrix in its export folder (a plain
        file name); returns its name and download URL."""
        return await self._request("POST", "/api/export/correlation", json={
            "filename": filename, "format": getattr(format, "value", format),
            "model_ids": list(model_ids) if model_ids else None,
            "layer_ids": list(layer_ids) if layer_ids else None})

    async def get_temporal_patterns(self, model_id=None, time_window=None,
                                    pattern_types=None) -> list[TemporalPattern]:
        """Periodic, trend and state-change patterns of a model's scores."""
        data = await self._request("GET", "/api/temporal", params={
            "model_id": model_id, "time_window": time_window,
            "pattern_types": _csv(pattern_types)})
        return [TemporalPattern.from_dict(p) for p in data["patterns"]]

    async def get_temporal_statistics(self, model_id=None) -> dict:
        """Points, anomaly rate, counts by severity and type, period, trend slope."""
        return await self._request("GET", "/api/temporal/stats", params={"model_id": model_id})

    async def compare_models(self, model_ids, metrics=None, dataset_id=None) -> dict:
        """Per-model counts, score statistics, timings and (with labels)
        VUS-PR / AUC-PR / F1, and the similarity of their score series."""
        return await self._request("POST", "/api/compare", json={
            "model_ids": list(model_ids), "metrics": list(metrics) if metrics else None,
            "dataset_id": dataset_id})

    async def get_scores(self, model_id, dataset_id=None, max_points=2000,
                         contributions=False) -> dict:
        """A model's stored score series, downsampled (peaks kept)."""
        return await self._request("GET", "/api/scores", params={
            "model_id": model_id, "dataset_id": dataset_id, "max_points": max_points,
            "contributions": str(bool(contributions)).lower()})

    # ------------------------------------------------------ per-token settings
    async def set_filter(self, model_ids=None, layer_ids=None, intensity_range=None,
                         spatial_bounds=None, time_range=None) -> dict:
        """Save the filter applied to this token's listings; return it."""
        body = {"model_ids": model_ids, "layer_ids": layer_ids,
                "intensity_range": intensity_range, "spatial_bounds": spatial_bounds,
                "time_range": [_time(t) for t in time_range] if time_range else None}
        return (await self._request("POST", "/api/filter", json={
            k: v for k, v in body.items() if v is not None}))["filter"]

    async def clear_filter(self) -> None:
        """Remove the saved filter."""
        await self._request("POST", "/api/filter", json={})

    async def get_filter(self) -> dict:
        """The saved filter."""
        return (await self._request("GET", "/api/filter"))["filter"]

    async def set_theme(self, theme) -> VisualizationTheme:
        """Save the dashboard's colour scheme."""
        value = VisualizationTheme(getattr(theme, "value", theme)).value
        return VisualizationTheme((await self._request("POST", "/api/theme",
                                                       json={"theme": value}))["theme"])

    async def get_theme(self) -> VisualizationTheme:
        """The dashboard's colour scheme."""
        return VisualizationTheme((await self._request("GET", "/api/theme"))["theme"])

    async def set_layout(self, layout: dict) -> dict:
        """Save the dashboard's panel layout."""
        return (await self._request("POST", "/api/layout", json={"layout": layout}))["layout"]

    async def get_layout(self) -> dict:
        """The dashboard's panel layout."""
        return (await self._request("GET", "/api/layout"))["layout"]

    # ------------------------------------------------- models, datasets, jobs
    async def _upload(self, path_field, path, fields, url):
        path = Path(path)
        data = {}
        for key, value in fields.items():
            if value is None:
                continue
            data[key] = json.dumps(value) if isinstance(value, list | dict) else str(value)
        with open(path, "rb") as handle:
            return await self._request("POST", url, files={path_field: (path.name, handle)},
                                       data=data)

    async def upload_model(self, path, name=None, wait: bool = True,
                           timeout: float = 300.0) -> dict:
        """Register a detector archive written by :meth:`AnomalyDetector.save`.

        With ``wait`` (default) the server's check job is awaited and the
        ready model returned; otherwise ``{model_id, job_id, status}``.
        """
        answer = await self._upload("file", path, {"name": name}, "/api/models")
        if not wait:
            return answer
        await self.wait_for_job(answer["job_id"], timeout=timeout)
        return await self.get_model(answer["model_id"])

    async def fit_model(self, series_path, *, wait: bool = True, timeout: float = 600.0,
                        time_column=None, columns=None, label_column=None, sheet_name=None,
                        series_id=None, name=None, **params) -> dict:
        """Fit a detector on a series file in a server job (``params``: ``model``,
        ``window``, ``epochs``, ``contamination``...); the series is scored
        too. Returns the ready model (or the job handle without ``wait``)."""
        answer = await self._upload("series", series_path, {
            "time_column": time_column, "columns": columns, "label_column": label_column,
            "sheet_name": sheet_name, "series_id": series_id, "name": name,
            "params": params or None}, "/api/models")
        if not wait:
            return answer
        await self.wait_for_job(answer["job_id"], timeout=timeout)
        return await self.get_model(answer["model_id"])

    async def list_models(self) -> list[dict]:
        """Registered models, newest first."""
        return (await self._request("GET", "/api/models"))["models"]

    async def get_model(self, model_id: str) -> dict:
        """One model."""
        return await self._request("GET", f"/api/models/{model_id}")

    async def upload_dataset(self, path, *, wait: bool = False, timeout: float = 600.0,
                             model_id=None, sheet_name=None, series_id=None, time_column=None,
                             label_column=None, columns=None, **params) -> dict:
        """Upload a .xlsx/.csv/.parquet file: scanned by the tabular detector
        (``params``: ``method``, ``threshold_percentile``...), or scored by
        ``model_id``. Returns ``{dataset_id, job_id, status}`` (the finished
        dataset with ``wait``)."""
        answer = await self._upload("file", path, {
            "model_id": model_id, "sheet_name": sheet_name, "series_id": series_id,
            "time_column": time_column, "label_column": label_column, "columns": columns,
            "params": params or None}, "/api/datasets/upload")
        if not wait:
            return answer
        await self.wait_for_job(answer["job_id"], timeout=timeout)
        return await self.get_dataset(answer["dataset_id"])

    async def get_dataset(self, dataset_id: str) -> dict:
        """A dataset's status, rows and anomaly count."""
        return await self._request("GET", f"/api/datasets/{dataset_id}")

    async def get_job(self, job_id: str) -> Job:
        """A job's status, progress and error."""
        return Job.from_dict(await self._request("GET", f"/api/jobs/{job_id}"))

    async def cancel_job(self, job_id: str) -> Job:
        """Cancel a queued or running job."""
        return Job.from_dict(await self._request("POST", f"/api/jobs/{job_id}/cancel"))

    async def wait_for_job(self, job_id: str, timeout: float = 600.0,
                           poll: float = 0.25) -> Job:
        """Poll a job until it is done; return it.

        Raises
        ------
        JobFailed
            When it failed or was cancelled.
        TimeoutError
            When it is still running after ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while True:
            job = await self.get_job(job_id)
            if job.done:
                if job.status != "completed":
                    raise JobFailed(job)
                return job
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {job.status} after {timeout} s "
                                   f"(progress {job.progress:.0%}).")
            await asyncio.sleep(poll)

    async def push_points(self, series_id: str, points, model_id=None,
                          include_scores: bool = False) -> dict:
        """Push live points of a series (online scoring; see the streaming guide).

        ``points`` is a list of ``{"timestamp": ms or ISO text, "values":
        [...]}`` (or of bare value lists), a DataFrame (its index as the
        timestamps when it holds times) or an array of rows. The first push
        of a series names its ``model_id``. Returns the server's answer:
        ``accepted``, ``n_points``, ``final_points``, ``delay``, the stored
        ``anomalies`` (new or updated records) and the refused points'
        ``errors``.
        """
        body = {"points": _points(points)}
        if model_id is not None:
            body["model_id"] = model_id
        if include_scores:
            body["include_scores"] = True
        return await self._request("POST", f"/api/series/{quote(str(series_id), safe='')}"
                                   "/points", json=body)

    async def ingest(self, series_id: str, points, model_id=None,
                     include_scores: bool = False) -> dict:
        """:meth:`push_points` over the WebSocket (``ingest``); the same answer.

        Raises
        ------
        ServiceError
            When the server refuses the push (its ``error`` message).
        """
        data = {"series_id": str(series_id), "points": _points(points)}
        if model_id is not None:
            data["model_id"] = model_id
        if include_scores:
            data["include_scores"] = True
        answer = await self._ws().request("ingest", data, timeout=60.0)
        if answer.get("type") == "error":
            detail = answer["data"]
            status = {"not_found": 404, "conflict": 409, "too_large": 413,
                      "forbidden": 403}.get(detail.get("code"), 400)
            raise ServiceError(status, detail.get("message"), "WS", self.ws_url)
        return answer["data"]

    async def end_series(self, series_id: str) -> dict:
        """End a live series: its last events are stored final, its state deleted."""
        return await self._request("DELETE", f"/api/series/{quote(str(series_id), safe='')}")

    async def get_series(self, series_id: str | None = None):
        """One live series (or all of them: a list)."""
        if series_id is None:
            return (await self._request("GET", "/api/series"))["series"]
        return await self._request("GET", f"/api/series/{quote(str(series_id), safe='')}")

    async def metrics(self) -> str:
        """The server's Prometheus metrics (text)."""
        return (await self._send("GET", "/metrics")).text

    # -------------------------------------------------------------- WebSocket
    def _ws(self) -> Stream:
        if self._stream is None:
            self._stream = Stream(self.ws_url, self.token, self.reconnect,
                                  self.reconnect_delay, self.max_retries)
        return self._stream

    async def _subscribe(self, channel: str, data: dict) -> dict:
        stream = self._ws()
        stream.subscriptions[channel] = {k: v for k, v in data.items()
                                         if v is not None and k != "since_seq"}
        answer = await stream.request(f"subscribe_{channel}",
                                      {k: v for k, v in data.items() if v is not None})
        if answer.get("type") == "error":
            stream.subscriptions.pop(channel, None)
            raise ServiceError(400, answer["data"].get("message"), "WS", self.ws_url)
        return answer

    async def _unsubscribe(self, channel: str) -> None:
        stream = self._ws()
        stream.subscriptions.pop(channel, None)
        if stream.connected:
            await stream.request(f"unsubscribe_{channel}", {})

    async def subscribe_anomalies(self, min_severity=None, model_ids=None,
                                  since_seq=None) -> None:
        """Receive ``anomaly_update`` messages (from ``since_seq`` on: stored
        ones after it are replayed first)."""
        if since_seq is not None:
            self._ws().last_seq = since_seq
        await self._subscribe("anomalies", {
            "min_severity": getattr(min_severity, "value", min_severity),
            "model_ids": list(model_ids) if model_ids else None, "since_seq": since_seq})

    async def unsubscribe_anomalies(self) -> None:
        """Stop receiving anomaly updates."""
        await self._unsubscribe("anomalies")

    async def subscribe_heatmap(self, model_ids=None) -> None:
        """Receive ``heatmap_update`` messages."""
        await self._subscribe("heatmap", {"model_ids": list(model_ids) if model_ids else None})

    async def unsubscribe_heatmap(self) -> None:
        await self._unsubscribe("heatmap")

    async def subscribe_correlations(self, model_ids=None) -> None:
        """Receive ``correlation_update`` messages."""
        await self._subscribe("correlations",
                              {"model_ids": list(model_ids) if model_ids else None})

    async def unsubscribe_correlations(self) -> None:
        await self._unsubscribe("correlations")

    async def subscribe_temporal(self, model_ids=None) -> None:
        """Receive ``temporal_update`` messages."""
        await self._subscribe("temporal", {"model_ids": list(model_ids) if model_ids else None})

    async def unsubscribe_temporal(self) -> None:
        await self._unsubscribe("temporal")

    async def subscribe_jobs(self) -> None:
        """Receive ``job_update`` messages (status and progress)."""
        await self._subscribe("jobs", {})

    async def unsubscribe_jobs(self) -> None:
        await self._unsubscribe("jobs")

    async def stream_updates(self, message_types=None):
        """Yield the messages of the subscriptions as they arrive.

        ``anomaly_update`` gives :class:`AnomalyUpdate`, ``correlation_update``
        :class:`CorrelationMatrix`, ``temporal_update`` a list of
        :class:`TemporalPattern`; other types a :class:`Message`. With
        ``message_types`` only those types are yielded. Ends when the client
        disconnects; raises :class:`StreamClosed` when reconnection gave up.
        """
        wanted = set(message_types) if message_types else None
        stream = self._ws()
        await stream.ensure()
        while True:
            message = await stream.next()
            if message is None:
                return
            kind = message.get("type")
            if wanted is not None and kind not in wanted:
                continue
            data = message.get("data")
            if kind == "anomaly_update":
                yield AnomalyUpdate.from_dict({**data, "seq": message.get("seq")})
            elif kind == "correlation_update":
                yield CorrelationMatrix.from_dict(data)
            elif kind == "temporal_update":
                yield [TemporalPattern.from_dict(p) for p in data.get("patterns", [])]
            else:
                yield Message(kind, data, message.get("seq"), message.get("id"))

    @property
    def last_seq(self) -> int | None:
        """Highest ``seq`` of the anomaly updates received."""
        return self._stream.last_seq if self._stream else None

    # ------------------------------------------------------------------ export
    async def export_all(self, output_dir, formats=None) -> dict:
        """Write anomalies, correlations, temporal patterns and a summary to
        ``output_dir`` in each format (csv, json, parquet; tensorboard as event
        files); return ``{format: [paths]}``."""
        from .export import export_all

        return await export_all(self, output_dir, formats)

    async def export_tensorboard(self, output_dir, run_name: str = "fusionlab") -> Path:
        """Write the stored anomalies and score series as TensorBoard scalars in
        ``output_dir/run_name``; return that folder."""
        from .export import export_tensorboard

        return await export_tensorboard(self, output_dir, run_name)


async def connect(url: str, token: str | None = None, ws_url: str | None = None,
                  **kwargs) -> AnomalyClient:
    """A connected :class:`AnomalyClient` (``/health`` checked).

    Raises
    ------
    ServiceError
        When the server answers with an error.
    httpx.ConnectError
        When nothing listens at ``url``.
    """
    client = AnomalyClient(url, ws_url=ws_url, token=token, **kwargs)
    try:
        return await client.connect()
    except BaseException:
        await client.disconnect()
        raise


