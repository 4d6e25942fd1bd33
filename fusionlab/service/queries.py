"""The anomaly listing's conditions, shared by the list, the export and the
WebSocket replay, and the per-token saved settings."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from ..vocabulary import SEVERITY_RANKS
from .db import now_ms
from .tables import AnomalyRecord, TokenSettings

__all__ = ["AnomalyQuery", "conditions", "load_settings", "saved_filter", "save_settings"]

A = AnomalyRecord


@dataclass
class AnomalyQuery:
    """Checked filters of an anomaly listing (None: no condition)."""

    severities: list[str] | None = None
    min_severity: str | None = None
    anomaly_types: list[str] | None = None
    model_ids: list[str] | None = None
    series_id: str | None = None
    dataset_id: str | None = None
    start: int | None = None
    end: int | None = None
    since_seq: int | None = None


def conditions(query: AnomalyQuery, saved: dict | None = None) -> list:
    """SQL conditions of ``query`` and of a token's saved filter ``saved``."""
    out = []
    # one value: "=" (an expanding IN is re-rendered at every execution)
    if query.severities:
        ranks = [SEVERITY_RANKS[s] for s in query.severities]
        out.append(A.severity_rank == ranks[0] if len(ranks) == 1 else A.severity_rank.in_(ranks))
    if query.min_severity:
        out.append(A.severity_rank >= SEVERITY_RANKS[query.min_severity])
    if query.anomaly_types:
        types = query.anomaly_types
        out.append(A.anomaly_type == types[0] if len(types) == 1 else A.anomaly_type.in_(types))
    if query.model_ids:
        out.append(A.model_id.in_(query.model_ids) if len(query.model_ids) > 1
                   else A.model_id == query.model_ids[0])
    if query.series_id is not None:
        out.append(A.series_id == query.series_id)
    if query.dataset_id is not None:
        out.append(A.dataset_id == query.dataset_id)
    if query.start is not None:
        out.append(A.timestamp >= query.start)
    if query.end is not None:
        out.append(A.timestamp <= query.end)
    if query.since_seq is not None:
        out.append(A.seq > query.since_seq)
    saved = saved or {}
    if saved.get("model_ids"):
        out.append(A.model_id.in_(saved["model_ids"]))
    if saved.get("layer_ids"):
        out.append(A.layer.in_(saved["layer_ids"]))
    if saved.get("intensity_range"):
        low, high = saved["intensity_range"]
        out.append(and_(A.ratio >= low, A.ratio <= high))
    bounds = saved.get("spatial_bounds") or {}
    if bounds.get("features"):
        low, high = bounds["features"]
        out.append(and_(A.layer_index >= low, A.layer_index <= high))
    if bounds.get("time"):
        low, high = bounds["time"]
        # events overlapping the index range
        out.append(and_(A.end_index >= low, A.start_index <= high))
    if saved.get("time_range"):
        low, high = saved["time_range"]
        if low is not None:
            out.append(A.timestamp >= low)
        if high is not None:
            out.append(A.timestamp <= high)
    return out


def after_cursor(timestamp: int, record_id: int, descending: bool = True):
    """Keyset condition: rows after ``(timestamp, id)`` in the listing order."""
    # a row-value comparison, which SQLite and PostgreSQL read from the index
    key = tuple_(A.timestamp, A.id)
    return key < tuple_(timestamp, record_id) if descending else key > tuple_(timestamp,
                                                                             record_id)


async def load_settings(state, session: AsyncSession, token_id: int) -> dict:
    """A token's saved ``filter``, ``theme`` and ``layout`` (cached)."""
    cached = state.token_settings.get(token_id)
    if cached is not None:
        return cached
    row = await session.get(TokenSettings, token_id)
    value = {"filter": dict(row.filter or {}) if row else {},
             "theme": row.theme if row else None,
             "layout": row.layout if row else None}
    state.token_settings[token_id] = value
    return value


async def saved_filter(state, token_id: int) -> dict:
    """A token's saved filter; a session is opened only when it is not cached."""
    cached = state.token_settings.get(token_id)
    if cached is not None:
        return cached["filter"]
    async with state.sessions() as session:
        return (await load_settings(state, session, token_id))["filter"]


async def save_settings(state, session: AsyncSession, token_id: int, **changes) -> dict:
    """Store some of a token's settings; return them all."""
    row = await session.get(TokenSettings, token_id)
    if row is None:
        row = TokenSettings(token_id=token_id, filter={}, theme=None, layout=None,
                            updated_at=now_ms())
        session.add(row)
    for key, value in changes.items():
        setattr(row, key, value)
    row.updated_at = now_ms()
    await session.commit()
    state.token_settings.pop(token_id, None)
    return await load_settings(state, session, token_id)


def page_statement(columns, conds, limit: int):
    """``SELECT columns WHERE conds ORDER BY timestamp DESC, id DESC LIMIT``."""
    return (select(*columns).where(*conds)
            .order_by(A.timestamp.desc(), A.id.desc()).limit(limit))
