"""The client's WebSocket: subscriptions, acknowledgements, reconnection.

A reader task receives every message. Acknowledgements (``subscribed``,
``unsubscribed``, ``pong``, ``replayed``) resolve the request that asked for
them; everything else goes to a local queue that
:meth:`AnomalyClient.stream_updates` reads. The reader remembers the highest
``seq`` of the anomaly updates it received (before the first one, the
``last_seq`` that the server's ``subscribed`` acknowledgement carried: the
newest record stored before the subscription began); when the connection drops it
reconnects with exponential backoff (``reconnect_delay * 2**k``, at most 30 s,
``max_retries`` attempts in a row), subscribes again to every channel, and
asks ``subscribe_anomalies`` for ``since_seq`` = that number, so the server
replays whatever was stored while the client was away.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
from urllib.parse import quote

from .errors import StreamClosed

__all__ = ["Stream"]

_ACKS = ("subscribed", "unsubscribed", "pong", "replayed", "ingested")
_END = object()


class Stream:
    """One WebSocket connection of a client (opened on first use)."""

    def __init__(self, ws_url: str, token: str | None, reconnect: bool = True,
                 reconnect_delay: float = 0.5, max_retries: int = 10, queue_size: int = 10000):
        self.ws_url = ws_url
        self.token = token
        self.reconnect = reconnect
        self.reconnect_delay = reconnect_delay
        self.max_retries = max_retries
        self.subscriptions: dict[str, dict] = {}
        self.last_seq: int | None = None
        self.reconnects = 0
        self.queue: asyncio.Queue = asyncio.Queue(queue_size)
        self._ws = None
        self._reader = None
        self._pending: dict[str, asyncio.Future] = {}
        self._ids = itertools.count(1)
        self._closing = False

    @property
    def connected(self) -> bool:
        """True while the socket is open."""
        return self._ws is not None

    def _url(self) -> str:
        if self.token is None:
            return self.ws_url
        sep = "&" if "?" in self.ws_url else "?"
        return f"{self.ws_url}{sep}token={quote(self.token)}"

    async def _open(self):
        import websockets

        self._ws = await websockets.connect(self._url(), max_size=16 * 1024 * 1024,
                                            open_timeout=10)
        for channel, data in self.subscriptions.items():
            data = dict(data)
            if channel == "anomalies" and self.last_seq is not None:
                data["since_seq"] = self.last_seq
            await self._ws.send(json.dumps({"type": f"subscribe_{channel}", "data": data}))

    async def ensure(self):
        """Open the socket and start the reader, once."""
        if self._reader is None:
            self._closing = False
            await self._open()
            self._reader = asyncio.create_task(self._read(), name="fusionlab-client-ws")

    async def request(self, type_: str, data: dict, timeout: float = 10.0) -> dict:
        """Send a message and wait for its acknowledgement (or error)."""
        await self.ensure()
        request_id = f"c{next(self._ids)}"
        future = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            await self._ws.send(json.dumps({"type": type_, "data": data, "id": request_id}))
            return await asyncio.wait_for(future, timeout)
        finally:
            self._pending.pop(request_id, None)

    async def _read(self):
        import websockets

        failures = 0
        while True:
            try:
                async for raw in self._ws:
                    failures = 0
                    self._dispatch(json.loads(raw))
            except websockets.ConnectionClosed:
                pass
            except (OSError, ValueError):
                pass
            if self._closing or not self.reconnect:
                await self.queue.put(_END)
                return
            self._ws = None
            while True:
                if failures >= self.max_retries:
                    await self.queue.put(StreamClosed(
                        f"The WebSocket {self.ws_url} could not be reopened after "
                        f"{self.max_retries} attempts."))
                    return
                delay = min(30.0, self.reconnect_delay * 2 ** failures)
                await asyncio.sleep(delay * (0.75 + random.random() / 2))
                failures += 1
                try:
                    await self._open()
                    self.reconnects += 1
                    break
                except (OSError, websockets.InvalidHandshake, websockets.InvalidURI,
                        asyncio.TimeoutError):
                    continue

    def _dispatch(self, message: dict):
        kind = message.get("type")
        request_id = message.get("id")
        data = message.get("data")
        if (kind == "subscribed" and self.last_seq is None and isinstance(data, dict)
                and data.get("channel") == "anomalies" and isinstance(data.get("last_seq"), int)):
            # Nothing received yet: a reconnect replays from the subscription's start.
            self.last_seq = data["last_seq"]
        if request_id in self._pending and (kind in _ACKS or kind == "error"):
            future = self._pending[request_id]
            if not future.done():
                future.set_result(message)
            if kind != "error":
                return
        elif kind in _ACKS:
            return
        if kind == "anomaly_update" and message.get("seq") is not None:
            self.last_seq = max(self.last_seq or 0, int(message["seq"]))
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:  # the user stopped reading: keep the newest
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
            self.queue.put_nowait(message)

    async def next(self):
        """The next message, or None when the stream ended.

        Raises
        ------
        StreamClosed
            When reconnection gave up.
        """
        item = await self.queue.get()
        if item is _END:
            return None
        if isinstance(item, Exception):
            raise item
        return item

    async def close(self):
        """Close the socket and stop the reader."""
        self._closing = True
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        self._reader = None
        self._ws = None
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(_END)
