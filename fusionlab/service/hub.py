"""The WebSocket hub: who is subscribed to what, and a bounded queue per client.

Each connected client has a :class:`ClientQueue`. Publishing never waits for
a client: a message is put in every matching client's queue and a sender
task per client drains it. When a slow client's queue is full, its oldest
low or medium ``anomaly_update`` (or another droppable message) is dropped
and counted, and the client receives a ``lagged`` message (``dropped``) before
the next one; high and critical updates are never dropped. A client whose
queue still overflows with nothing droppable (``hard_limit``) is
disconnected: it reconnects with ``since_seq`` and is replayed what it missed
from the database, so even then it loses nothing.

Channels: ``anomalies``, ``heatmap``, ``correlations``, ``temporal``,
``jobs``. Filters of ``anomalies``: ``min_severity``, ``model_ids``.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import json
from dataclasses import dataclass, field

from ..vocabulary import SEVERITY_RANKS

__all__ = ["CHANNELS", "Hub", "ClientQueue", "Subscription", "Overflow", "Outgoing", "encode"]

#: Channels a client can subscribe to.
CHANNELS = ("anomalies", "heatmap", "correlations", "temporal", "jobs")
_HIGH = SEVERITY_RANKS["high"]


class Outgoing(dict):
    """A published message: encoded once, however many clients receive it."""

    __slots__ = ("_text",)

    def text(self) -> str:
        """The message as JSON text (computed at the first call)."""
        try:
            return self._text
        except AttributeError:
            self._text = json.dumps(self)
            return self._text


def encode(message: dict) -> str:
    """JSON text of a queued message (an :class:`Outgoing` one is encoded once)."""
    return message.text() if isinstance(message, Outgoing) else json.dumps(message)


class Overflow(Exception):
    """A client's queue is over its hard limit with nothing it may drop."""


@dataclass
class Subscription:
    """One channel's filters for one client."""

    min_rank: int = 0
    model_ids: frozenset | None = None

    def accepts(self, rank: int | None, model_id) -> bool:
        """True when a message of severity ``rank`` from ``model_id`` matches."""
        if rank is not None and rank < self.min_rank:
            return False
        return self.model_ids is None or model_id in self.model_ids


@dataclass
class ClientQueue:
    """A bounded queue of outgoing messages for one client.

    Parameters
    ----------
    size : int
        Messages kept before droppable ones are dropped.
    hard_limit : int
        Messages (all undroppable) beyond which :class:`Overflow` is raised.
    """

    size: int
    hard_limit: int
    items: collections.deque = field(default_factory=collections.deque)
    dropped: int = 0
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    closed: bool = False

    def put(self, message: dict, droppable: bool) -> None:
        """Queue ``message``; drop the oldest droppable one when full."""
        if len(self.items) >= self.size:
            if droppable:
                self.dropped += 1
                self._drop_oldest_droppable()
                if len(self.items) >= self.size:  # nothing else could go
                    self.ready.set()
                    return
            elif not self._drop_oldest_droppable():
                if len(self.items) >= self.hard_limit:
                    self.closed = True
                    self.ready.set()
                    raise Overflow("client too slow")
            else:
                self.dropped += 1
        self.items.append((message, droppable))
        self.ready.set()

    def _drop_oldest_droppable(self) -> bool:
        for i, (_, droppable) in enumerate(self.items):
            if droppable:
                del self.items[i]
                return True
        return False

    async def get(self) -> list[dict]:
        """Wait for messages; return them (with a ``lagged`` one first when
        some were dropped)."""
        while not self.items and not self.closed:
            self.ready.clear()
            await self.ready.wait()
        if self.closed and not self.items:
            raise Overflow("closed")
        out = []
        if self.dropped:
            out.append({"type": "lagged", "data": {"dropped": self.dropped}})
            self.dropped = 0
        while self.items:
            out.append(self.items.popleft()[0])
        return out


class Hub:
    """Routes published messages to the subscribed clients' queues.

    Parameters
    ----------
    queue_size : int
        :class:`ClientQueue` size of each client.
    """

    def __init__(self, queue_size: int = 1000):
        self.queue_size = queue_size
        self._clients: dict[int, tuple[ClientQueue, dict[str, Subscription]]] = {}
        self._ids = itertools.count(1)
        self.dropped_total = 0
        self.disconnected_total = 0

    @property
    def client_count(self) -> int:
        """Connected clients."""
        return len(self._clients)

    def connect(self) -> tuple[int, ClientQueue]:
        """Register a client; return its id and queue."""
        client_id = next(self._ids)
        queue = ClientQueue(self.queue_size, 10 * self.queue_size)
        self._clients[client_id] = (queue, {})
        return client_id, queue

    def disconnect(self, client_id: int) -> None:
        """Forget a client."""
        self._clients.pop(client_id, None)

    def subscribe(self, client_id: int, channel: str, subscription: Subscription) -> None:
        """Subscribe a client to ``channel`` (replacing its earlier filters)."""
        self._clients[client_id][1][channel] = subscription

    def unsubscribe(self, client_id: int, channel: str) -> None:
        """Stop sending ``channel`` to a client."""
        self._clients[client_id][1].pop(channel, None)

    def listening(self, channel: str) -> bool:
        """True when any client receives ``channel``."""
        return any(channel in subscriptions for _, subscriptions in self._clients.values())

    def subscribed(self, client_id: int, channel: str) -> bool:
        """True when the client receives ``channel``."""
        entry = self._clients.get(client_id)
        return entry is not None and channel in entry[1]

    def publish(self, channel: str, message: dict, *, rank: int | None = None,
                model_id=None) -> int:
        """Queue ``message`` for every matching subscriber; return their number.

        ``rank`` is the message's severity rank (``None``: not an anomaly);
        messages below ``high`` may be dropped for a slow client.
        """
        sent = 0
        droppable = rank is None or rank < _HIGH
        message = Outgoing(message)
        for client_id, (queue, subscriptions) in list(self._clients.items()):
            subscription = subscriptions.get(channel)
            if subscription is None or not subscription.accepts(rank, model_id):
                continue
            before = queue.dropped
            try:
                queue.put(message, droppable)
            except Overflow:
                self.disconnected_total += 1
                self.disconnect(client_id)
                continue
            self.dropped_total += max(0, queue.dropped - before)
            sent += 1
        return sent

    def publish_anomalies(self, records: list[dict]) -> None:
        """One ``anomaly_update`` per stored record, in ``seq`` order."""
        for record in records:
            self.publish("anomalies", anomaly_update(record),
                         rank=SEVERITY_RANKS[record["severity"]], model_id=record["model_id"])


def anomaly_update(record: dict) -> dict:
    """The ``anomaly_update`` envelope of one stored record."""
    return {
        "type": "anomaly_update",
        "seq": record["seq"],
        "data": {
            "timestamp": record["timestamp"],
            "anomalies": [record],
            "severity": record["severity"],
            "score": record["score"],
            "location": record["location"],
            "model_id": record["model_id"],
            "description": record["description"],
            "interim": bool(record["metadata"].get("interim", False)),
            "seq": record["seq"],
        },
    }
