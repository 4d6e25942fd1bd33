"""``/api/anomalies``: filtered, cursor-paginated listing, one record, export.

Records are stored as JSON text and sent as they are, so a page of 100 costs
one indexed query and a string join.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy import select

from ...vocabulary import ANOMALY_TYPES, SEVERITIES
from ..auth import ReadAccess
from ..queries import (
    AnomalyQuery,
    after_cursor,
    conditions,
    page_statement,
    saved_filter,
)
from ..records import CSV_COLUMNS, csv_row
from ..schemas import (
    EXPORT_FORMATS,
    INT64_MAX,
    INVALID_QUERY,
    AnomalyFilters,
    ListingParams,
    bad_request,
    decode_cursor,
    encode_cursor,
    parse_choices,
    parse_time,
    query_parameters,
    read_query,
)
from ..state import StateDep
from ..tables import AnomalyRecord

router = APIRouter(prefix="/api/anomalies", tags=["anomalies"])
A = AnomalyRecord
_EXPORT_PAGE = 1000


def checked_query(filters: AnomalyFilters) -> AnomalyQuery:
    """The filters of ``filters``, checked (422 names a bad one)."""
    if filters.min_severity is not None and filters.min_severity not in SEVERITIES:
        raise bad_request(f"`min_severity` must be one of {list(SEVERITIES)}; received "
                          f"{filters.min_severity!r}.")
    query = AnomalyQuery(
        severities=parse_choices(filters.severity, "severity", SEVERITIES),
        min_severity=filters.min_severity,
        anomaly_types=parse_choices(filters.anomaly_type, "anomaly_type", ANOMALY_TYPES),
        model_ids=([m.strip() for m in filters.model_id.split(",") if m.strip()]
                   if filters.model_id else None),
        series_id=filters.series_id,
        dataset_id=filters.dataset_id,
        start=parse_time(filters.start, "start"),
        end=parse_time(filters.end, "end"),
        since_seq=filters.since_seq,
    )
    if query.start is not None and query.end is not None and query.start > query.end:
        raise bad_request(f"`start` ({filters.start}) must not be after `end` ({filters.end}).")
    return query


async def anomaly_query(request: Request, _identity: ReadAccess) -> AnomalyQuery:
    """A route dependency: the request's :class:`AnomalyFilters`, checked.

    The caller's access is checked first (a request without a valid token
    is a 401 whatever its parameters); FastAPI resolves ``ReadAccess`` once
    per request, for this and the route.

    A route that uses it documents the filters with
    ``openapi_extra=query_parameters(AnomalyFilters)``.
    """
    return checked_query(read_query(AnomalyFilters, request))


@router.get("", summary="List anomalies, newest first (or by seq with since_seq)",
            openapi_extra=query_parameters(ListingParams), responses=INVALID_QUERY)
async def list_anomalies(request: Request, identity: ReadAccess, state: StateDep):
    """``{"anomalies": [...], "next_cursor": str | null}``; the caller's saved
    filter (``POST /api/filter``) applies too."""
    params = read_query(ListingParams, request)
    query, limit, cursor = checked_query(params), params.limit, params.cursor
    if limit > state.settings.max_page:
        raise bad_request(f"`limit` must be at most {state.settings.max_page}; received "
                          f"{limit}. Page with `cursor` instead.")
    by_seq = query.since_seq is not None
    conds = conditions(query, await saved_filter(state, identity.token_id))
    if by_seq:
        if cursor is not None:
            conds.append(A.seq > decode_cursor(cursor, ("s",))["s"])
        statement = (select(A.payload, A.timestamp, A.id, A.seq).where(*conds)
                     .order_by(A.seq).limit(limit + 1))
    else:
        if cursor is not None:
            position = decode_cursor(cursor, ("t", "i"))
            conds.append(after_cursor(position["t"], position["i"]))
        statement = page_statement((A.payload, A.timestamp, A.id), conds, limit + 1)
    rows = await state.reader.rows(statement)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        # by seq: a live series' record keeps its id and takes a new seq when it changes
        next_cursor = encode_cursor({"s": last.seq} if by_seq else {"t": last.timestamp,
                                                                     "i": last.id})
    body = ('{"anomalies":[' + ",".join([row[0] for row in rows]) + '],"next_cursor":'
            + json.dumps(next_cursor) + "}")
    return Response(body, media_type="application/json")


async def _pages(state, conds, limit):
    """Stored records in seq order, a page at a time (each page its own session)."""
    last = 0
    remaining = limit
    while remaining is None or remaining > 0:
        size = _EXPORT_PAGE if remaining is None else min(_EXPORT_PAGE, remaining)
        rows = await state.reader.rows(
            select(A.id, A.payload).where(*conds, A.id > last).order_by(A.id).limit(size),
            bulk=True)
        if not rows:
            return
        last = rows[-1].id
        if remaining is not None:
            remaining -= len(rows)
        yield [row.payload for row in rows]
        if len(rows) < size:
            return


async def _csv(pages):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    async for page in pages:
        for payload in page:
            writer.writerow(csv_row(json.loads(payload)))
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()


async def _json(pages):
    yield "["
    first = True
    async for page in pages:
        yield ("" if first else ",") + ",".join(page)
        first = False
    yield "]"


def _parquet_schema():
    import pyarrow as pa

    types = {"id": pa.int64(), "seq": pa.int64(), "timestamp": pa.int64(),
             "severity_score": pa.float64(), "score": pa.float64(),
             "start_index": pa.int64(), "end_index": pa.int64()}
    return pa.schema([(c, types.get(c, pa.string())) for c in CSV_COLUMNS])


class _Sink(io.RawIOBase):
    """A write-only file collecting bytes until they are taken."""

    def __init__(self):
        self.chunks = []
        self.position = 0

    def writable(self):
        return True

    def write(self, data):
        self.chunks.append(bytes(data))
        self.position += len(data)
        return len(data)

    def tell(self):
        return self.position

    def take(self) -> bytes:
        data = b"".join(self.chunks)
        self.chunks = []
        return data


async def _parquet(pages):
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = _parquet_schema()
    sink = _Sink()
    writer = pq.ParquetWriter(sink, schema, compression="zstd")
    strings = [i for i, field in enumerate(schema) if pa.types.is_string(field.type)]
    async for page in pages:
        columns = list(zip(*(csv_row(json.loads(p)) for p in page), strict=True))
        arrays = []
        for i, values in enumerate(columns):
            if i in strings:
                values = [None if v is None else str(v) for v in values]
            arrays.append(pa.array(values, type=schema.field(i).type))
        writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
        yield sink.take()
    writer.close()
    yield sink.take()


_MEDIA = {"csv": "text/csv", "json": "application/json",
          "parquet": "application/vnd.apache.parquet"}


@router.get("/export", summary="All matching anomalies as one streamed file",
            openapi_extra=query_parameters(AnomalyFilters))
async def export_anomalies(
    query: Annotated[AnomalyQuery, Depends(anomaly_query)],
    identity: ReadAccess,
    state: StateDep,
    format: str = Query("csv", description="csv, json or parquet"),
    limit: int | None = Query(None, ge=1, le=INT64_MAX, description="at most this many records"),
):
    """Streamed in seq order, a page at a time, so the server's memory does not
    grow with the number of records. The saved filter applies."""
    if format not in EXPORT_FORMATS:
        raise bad_request(f"`format` must be one of {list(EXPORT_FORMATS)}; received "
                          f"{format!r}.")
    if format == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise bad_request("Parquet export needs pyarrow on the server "
                              "(pip install 'fusionlab-learn[service]').", 501) from None
    conds = conditions(query, await saved_filter(state, identity.token_id))
    pages = _pages(state, conds, limit)
    body = {"csv": _csv, "json": _json, "parquet": _parquet}[format](pages)
    return StreamingResponse(body, media_type=_MEDIA[format], headers={
        "Content-Disposition": f'attachment; filename="anomalies.{format}"'})


@router.get("/{anomaly_id}", summary="One stored anomaly")
async def get_anomaly(anomaly_id: Annotated[int, Path(ge=0, le=INT64_MAX)], identity: ReadAccess,
                      state: StateDep):
    """The record, or 404."""
    rows = await state.reader.rows(select(A.payload).where(A.id == anomaly_id))
    payload = rows[0].payload if rows else None
    if payload is None:
        raise bad_request(f"No anomaly with id {anomaly_id}.", 404)
    return Response(payload, media_type="application/json")
