"""``/ws``: the WebSocket of the contract.

Authentication: ``?token=`` or a first ``{"type": "auth", "data": {"token":
...}}`` message (within 10 s) when tokens exist. Client messages:
``subscribe_<channel>`` / ``unsubscribe_<channel>`` for ``anomalies``,
``heatmap``, ``correlations``, ``temporal``, ``jobs``; ``ping``; ``ingest``
(``data``: ``series_id`` and the body of ``POST /api/series/{id}/points``;
answered ``ingested`` with the same answer, or ``error``; needs the write
scope). Each (un)subscription is acknowledged with ``subscribed`` /
``unsubscribed`` carrying the request's ``id``; ``subscribed`` to
``anomalies`` also carries ``last_seq``, the largest ``seq`` stored before
the subscription began (0 when none): a client that reconnects before it
received any update resubscribes with ``since_seq`` = that number and still
misses nothing.

``subscribe_anomalies`` with ``since_seq`` first replays the stored
records with a larger ``seq`` (matching ``min_severity`` and ``model_ids``)
from the database, then goes on live, with no gap and no duplicate: the
subscription starts before the replay query, and live updates the replay
already sent are skipped by their ``seq``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from sqlalchemy import func, select

from ...vocabulary import SEVERITIES, SEVERITY_RANKS
from ..auth import authenticate, has_scope
from ..hub import CHANNELS, Overflow, Subscription, anomaly_update, encode
from ..queries import AnomalyQuery, conditions
from ..schemas import INT64_MAX
from ..tables import AnomalyRecord

router = APIRouter()
_REPLAY_PAGE = 500
_AUTH_SECONDS = 10.0


class _Replay:
    """Queue marker: the sender replays stored records from ``since_seq``."""

    def __init__(self, since_seq, subscription, request_id):
        self.since_seq = since_seq
        self.subscription = subscription
        self.request_id = request_id


def _error(code: str, message: str, request_id=None) -> dict:
    out = {"type": "error", "data": {"code": code, "message": message}}
    if request_id is not None:
        out["id"] = request_id
    return out


def _subscription(channel: str, data: dict) -> tuple[Subscription, int | None]:
    """The checked filters of a subscribe message (ValueError says what is wrong)."""
    if not isinstance(data, dict):
        raise ValueError("`data` must be an object.")
    min_severity = data.get("min_severity")
    if min_severity is not None and min_severity not in SEVERITY_RANKS:
        raise ValueError(f"`min_severity` must be one of {list(SEVERITIES)}; received "
                         f"{min_severity!r}.")
    model_ids = data.get("model_ids")
    if model_ids is not None and (not isinstance(model_ids, list) or not all(
            isinstance(m, str) for m in model_ids)):
        raise ValueError(f"`model_ids` must be a list of model ids; received {model_ids!r}.")
    since_seq = data.get("since_seq")
    if since_seq is not None and (isinstance(since_seq, bool) or not isinstance(since_seq, int)
                                  or not 0 <= since_seq <= INT64_MAX):
        raise ValueError(f"`since_seq` must be an integer >= 0; received {since_seq!r}.")
    if since_seq is not None and channel != "anomalies":
        raise ValueError("`since_seq` replay is only for `subscribe_anomalies`.")
    return Subscription(SEVERITY_RANKS[min_severity] if min_severity else 0,
                        frozenset(model_ids) if model_ids else None), since_seq


async def _identify(websocket: WebSocket, state):
    """The caller's identity, or None after closing the socket."""
    token = websocket.query_params.get("token")
    async with state.sessions() as session:
        needs = await state.tokens.any_token(session)
    if needs and token is None:
        try:
            first = json.loads(await asyncio.wait_for(websocket.receive_text(), _AUTH_SECONDS))
            if first.get("type") != "auth":
                raise ValueError
            token = str((first.get("data") or {}).get("token"))
        except (asyncio.TimeoutError, ValueError, AttributeError, TypeError):
            await websocket.send_text(json.dumps(_error(
                "unauthorized", "Send the token as ?token= or a first "
                                '{"type": "auth", "data": {"token": ...}} message.')))
            await websocket.close(code=1008)
            return None
    try:
        async with state.sessions() as session:
            identity = await authenticate(state.tokens, session, token)
    except Exception as exc:
        await websocket.send_text(json.dumps(_error("unauthorized", str(getattr(
            exc, "detail", exc)))))
        await websocket.close(code=1008)
        return None
    if not has_scope(identity, "read"):  # pragma: no cover - every scope reads
        await websocket.close(code=1008)
        return None
    return identity


async def _replay(websocket, state, marker: _Replay) -> int:
    """Send stored records after ``since_seq``; return the last seq sent."""
    subscription = marker.subscription
    query = AnomalyQuery(
        min_severity=SEVERITIES[subscription.min_rank] if subscription.min_rank else None,
        model_ids=sorted(subscription.model_ids) if subscription.model_ids else None,
        since_seq=marker.since_seq)
    last = marker.since_seq

    while True:
        conds = conditions(query)
        conds.append(AnomalyRecord.seq > last)
        async with state.sessions() as session:
            payloads = list(await session.scalars(
                select(AnomalyRecord.payload).where(*conds).order_by(AnomalyRecord.seq)
                .limit(_REPLAY_PAGE)))
        for payload in payloads:
            record = json.loads(payload)
            await websocket.send_text(json.dumps(anomaly_update(record)))
            last = record["seq"]
        if len(payloads) < _REPLAY_PAGE:
            return last


async def _sender(websocket, state, queue):
    replayed = -1
    while True:
        try:
            messages = await queue.get()
        except Overflow:
            await websocket.close(code=1013, reason="client too slow; reconnect with since_seq")
            return
        for message in messages:
            if isinstance(message, _Replay):
                replayed = await _replay(websocket, state, message)
                await websocket.send_text(json.dumps({
                    "type": "replayed", "id": message.request_id,
                    "data": {"channel": "anomalies", "last_seq": replayed}}))
                continue
            seq = message.get("seq")
            if message["type"] == "anomaly_update" and seq is not None and seq <= replayed:
                continue
            await websocket.send_text(encode(message))


_INGEST_CODES = {404: "not_found", 409: "conflict", 413: "too_large", 422: "bad_request",
                 503: "unavailable"}


async def _ingest(state, queue, request_id, data) -> None:
    """Score an ``ingest`` message and queue its answer."""
    from ..streams import IngestError

    try:
        if not isinstance(data, dict) or not isinstance(data.get("series_id"), str):
            raise IngestError(422, "`data` must hold `series_id` and the points "
                                   "({\"series_id\": ..., \"model_id\": ..., \"points\": [...]}).")
        body = {k: v for k, v in data.items() if k != "series_id"}
        answer = await state.streams.ingest(data["series_id"], body)
        message = {"type": "ingested", "data": answer}
        if request_id is not None:
            message["id"] = request_id
    except IngestError as exc:
        message = _error(_INGEST_CODES.get(exc.status, "bad_request"), exc.detail, request_id)
    except Exception as exc:  # noqa: BLE001 - the connection goes on
        message = _error("internal", f"Scoring failed ({type(exc).__name__}).", request_id)
    try:
        queue.put(message, droppable=False)
    except Overflow:
        pass


async def _latest_seq(state) -> int:
    """The largest stored ``seq`` (0 when none), read before subscribing."""
    async with state.sessions() as session:
        return int(await session.scalar(select(func.max(AnomalyRecord.seq))) or 0)


def _handle(state, client_id, queue, message, identity=None, latest_seq=None) -> None:
    kind = message.get("type")
    request_id = message.get("id")
    data = message.get("data") or {}
    if kind == "ping":
        queue.put({"type": "pong", "id": request_id, "data": data}, droppable=False)
        return
    if kind == "ingest":
        if identity is not None and not has_scope(identity, "write"):
            queue.put(_error("forbidden", "`ingest` needs a token with the write scope.",
                             request_id), droppable=False)
            return
        task = asyncio.create_task(_ingest(state, queue, request_id, data))
        state.background.add(task)
        task.add_done_callback(state.background.discard)
        return
    for action in ("subscribe", "unsubscribe"):
        if isinstance(kind, str) and kind.startswith(action + "_"):
            channel = kind[len(action) + 1:]
            if channel not in CHANNELS:
                break
            if action == "unsubscribe":
                state.hub.unsubscribe(client_id, channel)
                queue.put({"type": "unsubscribed", "id": request_id,
                           "data": {"channel": channel}}, droppable=False)
                return
            try:
                subscription, since_seq = _subscription(channel, data)
            except ValueError as exc:
                queue.put(_error("bad_request", str(exc), request_id), droppable=False)
                return
            state.hub.subscribe(client_id, channel, subscription)
            ack = {"channel": channel}
            if channel == "anomalies" and latest_seq is not None:
                ack["last_seq"] = latest_seq
            queue.put({"type": "subscribed", "id": request_id, "data": ack}, droppable=False)
            if since_seq is not None:
                queue.put(_Replay(since_seq, subscription, request_id), droppable=False)
            return
    queue.put(_error("unknown_type", f"Unknown message type {kind!r}; expected ping, "
                     f"ingest, or subscribe_/unsubscribe_ + one of {list(CHANNELS)}.",
                     request_id), droppable=False)


@router.websocket("/ws")
async def websocket_endpoint(websocket: WebSocket):
    """The contract's WebSocket (see the module description)."""
    state = websocket.app.state.service
    await websocket.accept()
    identity = await _identify(websocket, state)
    if identity is None:
        return
    client_id, queue = state.hub.connect()
    sender = asyncio.create_task(_sender(websocket, state, queue))
    try:
        while True:
            receive = asyncio.create_task(websocket.receive_text())
            done, _ = await asyncio.wait({receive, sender}, return_when=asyncio.FIRST_COMPLETED)
            if sender in done:
                receive.cancel()
                break
            text = receive.result()
            try:
                message = json.loads(text)
                if not isinstance(message, dict):
                    raise ValueError
            except ValueError:
                queue.put(_error("bad_message", "Messages must be JSON objects "
                                 '{"type": ..., "data": {...}}.'), droppable=False)
                continue
            if queue.closed:
                break
            # Read before the subscription starts: every record stored later
            # has a larger seq (see tables), so a replay from it loses none.
            latest = (await _latest_seq(state)
                      if message.get("type") == "subscribe_anomalies" else None)
            try:
                _handle(state, client_id, queue, message, identity, latest)
            except Overflow:
                break
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        state.hub.disconnect(client_id)
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await sender
