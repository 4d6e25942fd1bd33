"""Online scoring in the server: pushed points scored by one StreamingDetector per model.

``POST /api/series/{series_id}/points`` and the WebSocket ``ingest`` message
hand their points to :meth:`StreamService.ingest`. Each model has a
:class:`ModelStream`: its pushes wait (at most ``stream_max_delay_ms``, less
when a batch is full) and are then scored together in one *tick* -- one
:meth:`~fusionlab.streaming.StreamingDetector.update_many` call, so the
windows of every series of the model share the model calls -- run in the
server's one scoring thread (the event loop never waits for TensorFlow).

Each tick is stored in **one transaction**: the records that became known
(numbered from the ``anomaly_seq`` counter) and the new state of every
series it touched (the JSON part in ``series.state``, the arrays as an
``.npz`` in ``series.state_arrays``). A server killed at any moment
therefore restarts with states and stored records that agree: a push whose
transaction did not commit was not answered and is sent again by the
client; one that committed is refused point by point as already received
(its timestamps), never stored twice. A series is restored from the
database the first time it is pushed to after a restart.

A record changes as its event grows: an interim alert (``interim=True``)
is stored when the open event reaches ``stream_min_severity``, updated in
place (same ``id``, a new ``seq``) when its severity rises, and made final
when the event closes (or marked ``withdrawn`` when the final scores do not
confirm it). Every stored or updated record is published as an
``anomaly_update``, the latest points' per-feature intensities (contribution
/ threshold) as a ``heatmap_update``, and, with a webhook, the alerts in
Alertmanager's format (:mod:`~fusionlab.service.webhook`).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import delete, insert, select, update

from ..vocabulary import SEVERITY_RANKS
from .db import next_seq, now_ms
from .records import build_record
from .schemas import INT64_MAX, parse_time
from .tables import AnomalyRecord, Model, Series

__all__ = ["StreamService", "ModelStream", "IngestError", "parse_points"]

log = logging.getLogger("fusionlab.service.streams")


class IngestError(Exception):
    """A push refused as a whole: an HTTP status and a detail saying why."""

    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status = status
        self.detail = detail


def _check_series_id(series_id) -> str:
    if not isinstance(series_id, str) or not 1 <= len(series_id) <= 200 or any(
            ord(c) < 32 for c in series_id):
        raise IngestError(422, f"`series_id` must be 1 to 200 printable characters; received "
                               f"{str(series_id)[:40]!r}.")
    return series_id


def _number(value, where):
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise IngestError(422, f"{where} must be a number or null; received {value!r:.40}.")
    return float(value)


def _stamp(value, where):
    if isinstance(value, bool):
        raise IngestError(422, f"{where} must be epoch milliseconds or ISO 8601 text; "
                               f"received {value!r}.")
    if isinstance(value, int):
        if abs(value) > INT64_MAX // 1_000_000:
            raise IngestError(422, f"{where} is out of range (epoch milliseconds); received "
                                   f"{value!r}.")
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return parse_time(value, where)
        except Exception as exc:  # an HTTPException with the detail
            raise IngestError(422, getattr(exc, "detail", str(exc))) from None
    raise IngestError(422, f"{where} must be epoch milliseconds or ISO 8601 text; received "
                           f"{value!r:.40}.")


def parse_points(body, feature_names, max_points):
    """``(values, stamps_ms)`` of a push's body (``stamps_ms`` None without timestamps).

    The body is ``{"points": [...]}`` where each point is ``{"timestamp":
    ms or ISO text, "values": [numbers] or {feature: number}}``, or a bare
    list of numbers (no timestamp); ``null`` is a missing value (the
    detector's ``impute`` rule, or the point is refused). Or, in columns,
    ``{"timestamps": [...], "values": [[...], ...]}``.

    Raises
    ------
    IngestError
        422 naming the point and what is wrong, 413 for too many points.
    """
    if not isinstance(body, dict):
        raise IngestError(422, "The body must be a JSON object {\"points\": [...]}.")
    names = [str(n) for n in feature_names]
    f = len(names)
    if "values" in body and "points" not in body:
        rows, stamps = body["values"], body.get("timestamps")
        if not isinstance(rows, list):
            raise IngestError(422, "`values` must be a list of rows.")
        if stamps is not None and (not isinstance(stamps, list) or len(stamps) != len(rows)):
            raise IngestError(422, f"`timestamps` must list one time per row of `values` "
                                   f"({len(rows)}).")
        points = [{"values": r, **({"timestamp": s} if stamps is not None else {})}
                  for r, s in zip(rows, stamps if stamps is not None else rows, strict=True)]
    else:
        points = body.get("points")
    if not isinstance(points, list) or not points:
        raise IngestError(422, "`points` must be a non-empty list of points "
                               "{\"timestamp\": ..., \"values\": [...]}.")
    if len(points) > max_points:
        raise IngestError(413, f"A push holds at most {max_points} points; received "
                               f"{len(points)}. Send them in several pushes.")
    values = np.empty((len(points), f), dtype=np.float64)
    stamps = []
    for i, point in enumerate(points):
        where = f"points[{i}]"
        if isinstance(point, dict):
            unknown = set(point) - {"timestamp", "values"}
            if unknown:
                raise IngestError(422, f"{where} has unknown field(s) {sorted(unknown)}; a point "
                                       "is {\"timestamp\": ..., \"values\": ...}.")
            raw = point.get("values")
            stamps.append(_stamp(point["timestamp"], f"{where}.timestamp")
                          if point.get("timestamp") is not None else None)
        else:
            raw = point
            stamps.append(None)
        if isinstance(raw, dict):
            if set(raw) != set(names):
                raise IngestError(422, f"{where}.values must name the features {names}; "
                                       f"received {sorted(map(str, raw))[:10]}.")
            raw = [raw[n] for n in names]
        if isinstance(raw, int | float) and not isinstance(raw, bool) and f == 1:
            raw = [raw]
        if not isinstance(raw, list) or len(raw) != f:
            raise IngestError(422, f"{where}.values must hold {f} number(s) (features "
                                   f"{names}); received {raw!r:.60}.")
        values[i] = [_number(v, f"{where}.values[{j}]") for j, v in enumerate(raw)]
    given = [s is not None for s in stamps]
    if any(given) and not all(given):
        raise IngestError(422, f"Either every point of a push has a timestamp or none has; "
                               f"points[{given.index(False)}] has none.")
    return values, (np.asarray(stamps, dtype=np.int64) if all(given) else None)


@dataclass
class Push:
    """One push waiting for its tick."""

    series_id: str
    values: np.ndarray
    stamps_ms: np.ndarray | None
    include_scores: bool
    future: asyncio.Future
    received: float = field(default_factory=time.monotonic)


@dataclass
class _Op:
    """One row to store: a new record, or a new version of one."""

    series_id: str
    finding: dict
    record_id: int | None = None      # None: insert
    alert_key: int | None = None      # the alert whose record this is
    forget: bool = False              # the alert ends with it
    starts_ms: int | None = None
    ends_ms: int | None = None


@dataclass
class _Outcome:
    """What one tick computed in the scoring thread."""

    ops: list
    states: dict           # series_id -> (state json, npz bytes, n_points, last_ms, unit, version)
    summaries: dict        # series_id -> summary fields
    errors: dict           # series_id -> [error dicts]
    failed: dict           # series_id -> (status, detail)
    heatmaps: list
    alerts: list           # (series_id, Alert)
    scores: dict


class ModelStream:
    """The pushes of one model, their ticks and the model's StreamingDetector."""

    def __init__(self, service, model_id, detector):
        self.service = service
        self.model_id = model_id
        self.detector = detector
        self.feature_names = [str(n) for n in detector.detector_.feature_names_in_]
        self.queue = collections.deque()
        self.records = {}      # series_id -> {alert_id: record id}
        self.units = {}        # series_id -> 'ms' | 'index'
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._loop(), name=f"fusionlab-stream-{model_id}")

    async def push(self, push: Push) -> dict:
        self.queue.append(push)
        self._wake.set()
        return await push.future

    async def stop(self):
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
        for push in self.queue:
            if not push.future.done():
                push.future.set_exception(IngestError(503, "The server is stopping; push again."))

    async def _loop(self):
        settings = self.service.state.settings
        delay = settings.stream_max_delay_ms / 1000.0
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self.queue:
                # Wait for other pushes to share the model calls, unless a
                # batch is full or the first push has waited long enough.
                first = self.queue[0]
                while sum(p.values.shape[0] for p in self.queue) < settings.stream_batch_size:
                    left = first.received + delay - time.monotonic()
                    if left <= 0:
                        break
                    self._wake.clear()
                    try:
                        await asyncio.wait_for(self._wake.wait(), left)
                    except asyncio.TimeoutError:
                        break
                pushes, seen, rest = [], set(), collections.deque()
                while self.queue:  # one push per series per tick, in order
                    push = self.queue.popleft()
                    (rest if push.series_id in seen else pushes).append(push)
                    seen.add(push.series_id)
                self.queue = rest
                try:
                    await self._tick(pushes)
                except Exception as exc:  # noqa: BLE001 - never let the loop die
                    log.exception("streaming tick of model %s failed", self.model_id)
                    self._drop([p.series_id for p in pushes])
                    for push in pushes:
                        if not push.future.done():
                            push.future.set_exception(IngestError(
                                503, f"Scoring the push failed ({type(exc).__name__}); the "
                                     "series was reset to its last saved state; push again."))

    async def end(self, series_id):
        """Flush one series (its last events final), store and publish its last records."""
        sd = self.detector
        rows = {}
        if series_id not in sd._series:
            async with self.service.state.sessions() as session:
                row = await session.get(Series, series_id)
                if row is not None:
                    rows[series_id] = row

        def flush():
            from ..streaming.detector import StreamResult
            from ..streaming.snapshot import restore_series, unpack_arrays

            with sd._lock:
                row = rows.get(series_id)
                if series_id not in sd._series and row is not None and row.state:
                    try:
                        restore_series(sd, row.state["stream"], unpack_arrays(row.state_arrays))
                        self.records[series_id] = {int(k): int(v) for k, v in
                                                   row.state.get("records", {}).items()}
                        self.units[series_id] = row.time_unit or "index"
                    except (KeyError, TypeError, ValueError):
                        sd._series.pop(series_id, None)
                        return None
                entry = sd._series.get(series_id)
                if entry is None:
                    return None
                result = StreamResult()
                sd._notes(entry, entry.pipeline.flush_input(), result)
                sd._cut(entry)
                sd._run(result, force=True)
                sd._close(entry, result)
                # The records read the series' values: made before it is forgotten.
                ops = self._ops(result)
                sd._series.pop(series_id, None)
                return _Outcome(ops, {}, {}, {}, {}, [],
                                [(a.series_id, a) for a in result.alerts], {})

        outcome = await asyncio.get_running_loop().run_in_executor(self.service.executor, flush)
        if outcome is None:
            return []
        stored = await self._store(outcome)
        self._publish(outcome, stored)
        self.records.pop(series_id, None)
        self.units.pop(series_id, None)
        return [record for _, record in stored]

    # ------------------------------------------------------------------ tick
    async def _tick(self, pushes):
        state = self.service.state
        started = time.perf_counter()
        sd = self.detector
        missing = [p.series_id for p in pushes if p.series_id not in sd._series]
        rows = {}
        if missing:
            async with state.sessions() as session:
                for row in await session.scalars(select(Series).where(Series.id.in_(missing))):
                    rows[row.id] = row
        heatmap = state.hub.listening("heatmap")
        loop = asyncio.get_running_loop()
        outcome = await loop.run_in_executor(self.service.executor, self._compute, pushes, rows,
                                             heatmap)
        previous = {sid: dict(self.records.get(sid, {})) for sid in outcome.states}
        try:
            records = await self._store(outcome)
        except Exception:
            for sid, saved in previous.items():
                self.records[sid] = saved
            raise
        state.metrics.stream_seconds.observe(time.perf_counter() - started)
        state.metrics.stream_series.set(sum(len(m.detector._series)
                                            for m in self.service.models.values()))
        self._publish(outcome, records)
        by_series = collections.defaultdict(list)
        for _, record in records:
            by_series[record["series_id"]].append(record)
        for push in pushes:
            sid = push.series_id
            if push.future.done():
                continue
            if sid in outcome.failed:
                status, detail = outcome.failed[sid]
                push.future.set_exception(IngestError(status, detail))
                continue
            answer = {"series_id": sid, "model_id": self.model_id, **outcome.summaries[sid],
                      "anomalies": by_series.get(sid, []), "errors": outcome.errors.get(sid, [])}
            if push.include_scores and sid in outcome.scores:
                answer["scores"] = outcome.scores[sid]
            push.future.set_result(answer)

    def _drop(self, series_ids):
        """Forget series in memory (they come back from their saved state)."""
        with self.detector._lock:
            for sid in series_ids:
                self.detector._series.pop(sid, None)
                self.records.pop(sid, None)

    def _compute(self, pushes, rows, heatmap):
        """In the scoring thread: restore, score, snapshot, and what to store."""
        from ..streaming.snapshot import (
            pack_arrays,
            restore_series,
            series_state,
            unpack_arrays,
        )

        sd = self.detector
        failed = {}
        items, order = [], []
        with sd._lock:
            for push in pushes:
                sid = push.series_id
                row = rows.get(sid)
                if sid not in sd._series and row is not None and row.state:
                    try:
                        saved = row.state
                        restore_series(sd, saved["stream"], unpack_arrays(row.state_arrays))
                        self.records[sid] = {int(k): int(v) for k, v in
                                             saved.get("records", {}).items()}
                        self.units[sid] = row.time_unit or "index"
                    except (KeyError, TypeError, ValueError) as exc:
                        sd._series.pop(sid, None)
                        failed[sid] = (409, f"The saved state of series {sid!r} cannot be "
                                            f"restored ({exc}); end it with DELETE "
                                            f"/api/series/{sid} to start it again.")
                        continue
                unit = "ms" if push.stamps_ms is not None else "index"
                known = self.units.get(sid)
                if known is not None and known != unit:
                    failed[sid] = (422, f"Series {sid!r} was pushed "
                                        f"{'with' if known == 'ms' else 'without'} timestamps; "
                                        "every push of a series must be alike.")
                    continue
                self.units[sid] = unit
                stamps = None
                if push.stamps_ms is not None:
                    stamps = push.stamps_ms.astype("datetime64[ms]").astype("datetime64[ns]")
                items.append((sid, push.values, stamps))
                order.append(push)
            before = {sid: (sd._series[sid].n_total if sid in sd._series else 0)
                      for sid, _, _ in items}
            result = sd.update_many(items, force=True)
            touched = [sid for sid, _, _ in items if sid in sd._series]
            for sid, _, _ in items:
                if sid not in sd._series:  # the detector refused the series itself
                    refusal = next((e for e in result.errors if e.series_id == sid), None)
                    detail = refusal.message if refusal else "the push could not be scored."
                    full = refusal is not None and refusal.code == "too_many_series"
                    failed[sid] = (503 if full else 422, f"Series {sid!r}: {detail}")
            ops = self._ops(result)
            states, summaries, scores = {}, {}, {}
            for sid in touched:
                entry = sd._series[sid]
                stream_state, arrays = series_state(sd, sid)
                last = entry.last_stamp
                last_ms = None if last is None else int(np.int64(last) // 1_000_000)
                states[sid] = (stream_state, pack_arrays(arrays), entry.n_total, last_ms,
                               self.units[sid], sd.model_version)
                final = sum(p.scores.size for p in result.scores if p.series_id == sid)
                summaries[sid] = {"accepted": entry.n_total - before[sid],
                                  "n_points": entry.n_total, "final_points": final,
                                  "delay": sd.delay, "model_version": sd.model_version}
            for push in order:
                if push.include_scores and push.series_id in sd._series:
                    parts = [p for p in result.scores if p.series_id == push.series_id]
                    if parts:
                        scores[push.series_id] = {
                            "start_index": int(parts[0].start),
                            "scores": [float(v) for p in parts for v in p.scores]}
            errors = collections.defaultdict(list)
            for error in result.errors:
                errors[error.series_id].append(error.to_dict())
            heatmaps = self._heatmaps(result) if heatmap else []
        return _Outcome(ops, states, summaries, dict(errors), failed, heatmaps,
                        [(a.series_id, a) for a in result.alerts], scores)

    # ---------------------------------------------------------- records
    def _finding(self, entry, record):
        """The stored finding of a streaming record (:func:`~fusionlab.service.records.build_record`)."""
        pipeline = entry.pipeline
        meta = dict(record.metadata)
        peak = int(meta.get("peak_index", record.start_index))
        unit = self.units.get(entry.series_id, "index")

        def moment(label, index):
            if unit == "ms":
                return int(label.value // 1_000_000) if hasattr(label, "value") else int(label)
            return int(index)

        local = peak - pipeline.base
        held = pipeline.values.start <= local < pipeline.n
        peak_label = pipeline.label(local) if held else record.start
        names = self.feature_names
        top = [[str(n), float(s)] for n, s in record.top_features]
        layer = top[0][0] if top else None

        def text(label):
            return label.isoformat() if hasattr(label, "isoformat") else int(label)

        return {
            "anomaly_type": record.anomaly_type,
            "severity": record.severity,
            "score": float(record.peak_score),
            "mean_score": float(record.mean_score),
            "threshold": float(meta.get("threshold")),
            "ratio": meta.get("score_ratio"),
            "timestamp": moment(peak_label, peak),
            "time_unit": unit,
            "start": text(record.start),
            "end": text(record.end),
            "start_index": int(record.start_index),
            "end_index": int(record.end_index),
            "peak_index": peak,
            "top_features": top,
            "layer": layer,
            "layer_index": names.index(layer) if layer in names else None,
            "metadata": {k: _json(v) for k, v in meta.items()
                         if k not in ("threshold", "score_ratio", "series_id")},
        }, moment(record.start, record.start_index), moment(record.end, record.end_index)

    def _ops(self, result):
        """The rows to store, in order: alerts' records first-stored or updated, other events."""
        sd = self.detector
        ops = []
        finals = set()
        for alert in result.alerts:
            sid = alert.series_id
            entry = sd._series.get(sid)
            if entry is None:
                continue
            book = self.records.setdefault(sid, {})
            record = alert.anomaly
            if alert.reason == "fired" and not alert.interim:
                continue  # fired only once final: stored with its final record
            finding, starts, ends = self._finding(entry, record)
            finding["metadata"].update({"alert_id": alert.alert_id, "alert_status": alert.status,
                                        "reason": alert.reason, "interim": alert.interim})
            if alert.reason == "withdrawn":
                if alert.alert_id not in book:
                    continue
                finding["metadata"]["withdrawn"] = True
            if alert.reason == "final":
                finals.add((sid, record.start_index, record.end_index))
            ops.append(_Op(sid, finding, book.get(alert.alert_id), alert.alert_id,
                           forget=alert.reason in ("final", "withdrawn"), starts_ms=starts,
                           ends_ms=ends))
        for record in result.events:
            sid = record.metadata["series_id"]
            if (sid, record.start_index, record.end_index) in finals:
                continue
            entry = sd._series.get(sid)
            if entry is None:
                continue
            finding, starts, ends = self._finding(entry, record)
            ops.append(_Op(sid, finding, starts_ms=starts, ends_ms=ends))
        return ops

    async def _store(self, outcome):
        """One transaction: the records (numbered) and the series' states."""
        state = self.service.state
        records = []
        async with state.sessions() as session:
            if outcome.ops:
                first = await next_seq(session, len(outcome.ops))
                inserts = []
                for offset, op in enumerate(outcome.ops):
                    seq = first + offset
                    record, columns = build_record(op.finding, seq=seq, model_id=self.model_id,
                                                   series_id=op.series_id, dataset_id=None)
                    book = self.records.setdefault(op.series_id, {})
                    if op.alert_key is not None and op.record_id is None:
                        op.record_id = book.get(op.alert_key)
                    if op.record_id is None:
                        inserts.append(columns)
                        if op.alert_key is not None and not op.forget:
                            book[op.alert_key] = seq
                    else:
                        record["id"] = columns["id"] = op.record_id
                        columns["payload"] = _payload(record)
                        values = {k: v for k, v in columns.items() if k != "id"}
                        await session.execute(update(AnomalyRecord)
                                              .where(AnomalyRecord.id == op.record_id)
                                              .values(**values))
                    if op.forget:
                        book.pop(op.alert_key, None)
                    records.append((op, record))
                for start in range(0, len(inserts), 500):
                    await session.execute(insert(AnomalyRecord), inserts[start:start + 500])
            if outcome.states:
                existing = set(await session.scalars(
                    select(Series.id).where(Series.id.in_(list(outcome.states)))))
                now = now_ms()
                for sid, (stream_state, blob, n, last_ms, unit, version) in outcome.states.items():
                    values = {"model_id": self.model_id, "n_points": n, "last_timestamp": last_ms,
                              "state": {"stream": stream_state,
                                        "records": {str(k): v for k, v in
                                                    self.records.get(sid, {}).items()}},
                              "state_arrays": blob, "time_unit": unit, "model_version": version,
                              "updated_at": now}
                    if sid in existing:
                        await session.execute(update(Series).where(Series.id == sid)
                                              .values(**values))
                    else:
                        await session.execute(insert(Series).values(id=sid, **values))
            await session.commit()
        state.metrics.anomalies_stored.inc(sum(1 for op, _ in records if op.record_id is None))
        accepted = sum(s["accepted"] for s in outcome.summaries.values())
        state.metrics.stream_points.inc(accepted)
        state.metrics.stream_refused.inc(sum(len(e) for e in outcome.errors.values()))
        return records

    # ---------------------------------------------------------------- news
    def _publish(self, outcome, stored):
        state = self.service.state
        records = [record for _, record in stored]
        state.hub.publish_anomalies(records)
        for message in outcome.heatmaps:
            state.hub.publish("heatmap", message, model_id=self.model_id)
        webhook = self.service.webhook
        if webhook is None:
            return
        by_alert = {(op.series_id, op.alert_key): (op, record) for op, record in stored
                    if op.alert_key is not None}
        out = []
        for sid, alert in outcome.alerts:
            found = by_alert.get((sid, alert.alert_id))
            if found is None:
                continue
            op, record = found
            if alert.reason in ("fired", "upgraded"):
                status = "firing"
            else:
                status = "resolved"
            if alert.status == "firing" and SEVERITY_RANKS[record["severity"]] < \
                    SEVERITY_RANKS[state.settings.stream_min_severity]:
                continue
            from .webhook import alertmanager_alert

            out.append(alertmanager_alert(record, status, alert.reason,
                                          state.settings.public_url, op.starts_ms, op.ends_ms))
        webhook.send(out)

    def _heatmaps(self, result):
        """``heatmap_update`` messages: each series' latest points, final and interim."""
        sd = self.detector
        threshold = float(sd._spec.threshold)
        out = []
        for sid in {p.series_id for p in result.scores} | {p.series_id for p in result.interim}:
            unit = self.units.get(sid, "index")

            def part(points, unit=unit):
                if not points:
                    return None
                labels = np.concatenate([np.asarray(p.labels) for p in points])
                if unit == "ms":
                    times = (labels.astype("datetime64[ms]").astype(np.int64)).tolist()
                else:
                    times = [int(v) for v in labels]
                values = np.concatenate([p.contributions for p in points]) / threshold
                return {"start_index": int(points[0].start), "time": times,
                        "intensities": np.round(values, 6).tolist()}

            final = part([p for p in result.scores if p.series_id == sid][-1:])
            interim = part([p for p in result.interim if p.series_id == sid][-1:])
            out.append({"type": "heatmap_update", "data": {
                "model_id": self.model_id, "series_id": sid, "feature_names": self.feature_names,
                "threshold": threshold, "time_unit": unit, "final": final, "interim": interim,
                "model_version": sd.model_version}})
        return out


def _json(value):
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _payload(record):
    import json

    return json.dumps(record, allow_nan=False, separators=(",", ":"))


class StreamService:
    """The server's online scoring: a :class:`ModelStream` per model pushed to."""

    def __init__(self, state):
        self.state = state
        self.models: dict[str, ModelStream] = {}
        self.series_models: dict[str, str] = {}
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="fusionlab-score")
        self._loading: dict[str, asyncio.Future] = {}
        self._refused: dict[str, IngestError] = {}
        self.webhook = None
        if state.settings.webhook_url:
            from .webhook import Webhook

            self.webhook = Webhook(state.settings.webhook_url, state.settings.public_url,
                                   state.metrics)

    async def start(self):
        if self.webhook is not None:
            await self.webhook.start()

    async def stop(self):
        for model in list(self.models.values()):
            await model.stop()
        if self.webhook is not None:
            await self.webhook.stop()
        self.executor.shutdown(wait=True)

    async def model(self, model_id: str) -> ModelStream:
        """The model's stream, its detector loaded on first use."""
        if model_id in self.models:
            return self.models[model_id]
        if model_id in self._refused:
            raise self._refused[model_id]
        if model_id in self._loading:
            return await asyncio.shield(self._loading[model_id])
        future = asyncio.get_running_loop().create_future()
        self._loading[model_id] = future
        try:
            stream = await self._load(model_id)
            self.models[model_id] = stream
            future.set_result(stream)
            return stream
        except IngestError as exc:
            if exc.status == 422:
                self._refused[model_id] = exc
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning
            raise
        finally:
            self._loading.pop(model_id, None)

    async def _load(self, model_id):
        state = self.state
        if not isinstance(model_id, str) or not 1 <= len(model_id) <= 40:
            raise IngestError(422, f"`model_id` must be a model id such as mdl_3f9a0c1b2d4e; "
                                   f"received {str(model_id)[:60]!r}.")
        async with state.sessions() as session:
            row = await session.get(Model, model_id)
        if row is None:
            raise IngestError(404, f"No model with id {model_id!r}.")
        if row.kind != "detector":
            raise IngestError(422, f"Model {model_id!r} is a {row.kind} model; only series "
                                   "detectors score pushed points.")
        if row.status != "ready" or not row.archive:
            raise IngestError(409, f"Model {model_id!r} is {row.status}; push points once it "
                                   "is ready (GET /api/models/{id}).")
        path = state.settings.data_dir / row.archive
        settings = state.settings

        def load():
            from ..detection import AnomalyDetector
            from ..streaming import (
                AlarmPolicy,
                StreamingDetector,
                StreamingUnsupportedError,
            )

            try:
                detector = AnomalyDetector.load(path)
                return StreamingDetector(
                    detector, batch_size=settings.stream_batch_size, max_delay_ms=0,
                    alarm_policy=AlarmPolicy(min_severity=settings.stream_min_severity),
                    max_series=settings.stream_max_series)
            except StreamingUnsupportedError as exc:
                raise IngestError(422, f"Model {model_id!r} cannot score a stream: {exc}") \
                    from None
            except (OSError, ValueError) as exc:
                raise IngestError(422, f"Model {model_id!r} cannot be loaded: {exc}") from None

        detector = await asyncio.get_running_loop().run_in_executor(self.executor, load)
        return ModelStream(self, model_id, detector)

    async def _series_model(self, series_id):
        if series_id in self.series_models:
            return self.series_models[series_id]
        async with self.state.sessions() as session:
            row = await session.get(Series, series_id)
        if row is not None and row.model_id:
            self.series_models[series_id] = row.model_id
            return row.model_id
        return None

    async def ingest(self, series_id, body) -> dict:
        """Score a push (the body of ``POST /api/series/{series_id}/points``).

        Raises
        ------
        IngestError
            With the HTTP status and detail of a push refused as a whole.
        """
        series_id = _check_series_id(series_id)
        if not isinstance(body, dict):
            raise IngestError(422, "The body must be a JSON object {\"points\": [...], "
                                   "\"model_id\": ...}.")
        unknown = set(body) - {"points", "model_id", "include_scores", "values", "timestamps"}
        if unknown:
            raise IngestError(422, f"Unknown field(s) {sorted(unknown)}; a push has `points` "
                                   "(or `values` and `timestamps`), `model_id`, `include_scores`.")
        include = body.get("include_scores", False)
        if not isinstance(include, bool):
            raise IngestError(422, f"`include_scores` must be true or false; received {include!r}.")
        requested = body.get("model_id")
        bound = await self._series_model(series_id)
        if requested is None and bound is None:
            raise IngestError(404, f"Unknown series {series_id!r}: give `model_id` with its "
                                   "first push.")
        if requested is not None and bound is not None and requested != bound:
            raise IngestError(409, f"Series {series_id!r} is scored by model {bound!r}, not "
                                   f"{requested!r}; push to another series id, or end it with "
                                   f"DELETE /api/series/{series_id}.")
        model_id = requested or bound
        stream = await self.model(model_id)
        values, stamps = parse_points(body, stream.feature_names,
                                      self.state.settings.stream_max_points)
        future = asyncio.get_running_loop().create_future()
        answer = await stream.push(Push(series_id, values, stamps, include, future))
        self.series_models[series_id] = model_id
        return answer

    async def end(self, series_id) -> dict:
        """End a series' stream: its last events final and stored, its state deleted."""
        series_id = _check_series_id(series_id)
        model_id = await self._series_model(series_id)
        if model_id is None:
            raise IngestError(404, f"Unknown series {series_id!r}.")
        stored = []
        if model_id in self.models or model_id not in self._refused:
            try:
                stream = await self.model(model_id)
            except IngestError:
                stream = None
            if stream is not None:
                stored = await stream.end(series_id)
        async with self.state.sessions() as session:
            await session.execute(delete(Series).where(Series.id == series_id))
            await session.commit()
        self.series_models.pop(series_id, None)
        return {"series_id": series_id, "model_id": model_id, "anomalies": stored}

    def describe(self, series_id):
        """What the memory holds of a series (None when not loaded)."""
        model_id = self.series_models.get(series_id)
        stream = self.models.get(model_id) if model_id else None
        if stream is None or series_id not in stream.detector._series:
            return None
        entry = stream.detector._series[series_id]
        return {"in_memory": True, "delay": stream.detector.delay,
                "final_points": entry.pipeline.base + entry.pipeline.n_final,
                "open_event": entry.pipeline.events.open_start is not None,
                "open_alerts": len(entry.alerts.active)}
