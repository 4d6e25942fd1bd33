"""The dashboard: the page at ``/``, its static files, and the two
aggregations it reads so that it never downloads the stored anomalies.

``GET /`` and ``GET /static/<name>`` serve the hand-written page shipped in
``fusionlab/service/static`` (no token needed: the page asks for one and
then uses the public REST and WebSocket contract only).

``GET /api/summary`` counts the anomalies a listing with the same filters
would return, by severity, type, feature to blame and time bucket (with each
bucket's highest score / threshold per severity), in a few grouped queries,
whatever their number. ``GET /api/heatmap`` is one model's stored
per-feature contributions over time, as a grid of at most ``columns`` time
buckets, with the score, the threshold and the severity of the anomalous
spans in each bucket.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Annotated

import numpy as np
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import FileResponse
from sqlalchemy import func, select

from ...vocabulary import SEVERITIES
from ..auth import ReadAccess
from ..queries import AnomalyQuery, conditions, saved_filter
from ..schemas import AnomalyFilters, query_parameters
from ..state import ServiceState, StateDep
from ..tables import AnomalyRecord, Model, ScoreSeries
from .anomalies import anomaly_query

router = APIRouter()
A = AnomalyRecord
STATIC = Path(__file__).resolve().parent.parent / "static"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*\.(?:js|css|svg|txt)$")
# Most anomalous spans painted into one heatmap (the newest first beyond it).
_MAX_SPANS = 50_000


def _headers(request: Request) -> dict:
    host = request.headers.get("host", "")
    # Everything the page loads comes from this server; its WebSocket too.
    policy = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
              f"connect-src 'self' ws://{host} wss://{host}; base-uri 'none'; "
              "form-action 'none'; frame-ancestors 'none'")
    return {"Content-Security-Policy": policy, "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"}


@router.get("/", include_in_schema=False)
async def dashboard(request: Request):
    """The dashboard page."""
    return FileResponse(STATIC / "index.html", media_type="text/html",
                        headers=_headers(request))


@router.get("/static/{name}", include_in_schema=False)
async def static_file(name: str, request: Request):
    """A file of the page (plain names of the static folder only)."""
    path = STATIC / name
    if not _NAME.fullmatch(name) or not path.is_file():
        raise HTTPException(404, f"No static file named {name!r}.")
    return FileResponse(path, headers=_headers(request))


@router.get("/api/summary", tags=["dashboard"],
            summary="Counts of the matching anomalies by severity, type, feature and time",
            openapi_extra=query_parameters(AnomalyFilters))
async def summary(
    query: Annotated[AnomalyQuery, Depends(anomaly_query)],
    identity: ReadAccess,
    state: StateDep,
    buckets: int = Query(120, ge=1, le=1000, description="time buckets of the histogram"),
    top: int = Query(10, ge=1, le=100, description="features listed in by_layer"),
):
    """The filters of ``GET /api/anomalies`` (and the caller's saved filter).

    ``{"total", "by_severity", "by_type", "by_layer": [{"layer", "count"}],
    "other_layers", "newest", "time": {"start", "end", "bucket_ms", "counts",
    "max_ratio"}, "last_seq"}``: ``time.counts[i]`` holds the counts of bucket
    ``i`` by severity (low to critical), ``time.max_ratio[i]`` their highest
    score / threshold (null where none). ``last_seq`` is the newest stored
    ``seq`` (any filter): subscribe with ``since_seq=last_seq`` to receive
    exactly what is stored after this summary.
    """
    if query.since_seq is not None:
        raise HTTPException(422, "`since_seq` is for listings; the summary counts every "
                                 "matching anomaly.")
    conds = conditions(query, await saved_filter(state, identity.token_id))
    rows = await state.reader.rows(
        select(A.severity_rank, A.anomaly_type, func.count(), func.min(A.timestamp),
               func.max(A.timestamp)).where(*conds).group_by(A.severity_rank, A.anomaly_type),
        bulk=True)
    by_severity = dict.fromkeys(SEVERITIES, 0)
    by_type: dict[str, int] = {}
    first = newest = None
    for rank, kind, count, low, high in rows:
        by_severity[SEVERITIES[rank]] += count
        by_type[kind] = by_type.get(kind, 0) + count
        first = low if first is None else min(first, low)
        newest = high if newest is None else max(newest, high)
    total = sum(by_severity.values())
    last_seq = (await state.reader.rows(select(func.max(A.seq))))[0][0] or 0
    out = {"total": total, "by_severity": by_severity,
           "by_type": dict(sorted(by_type.items(), key=lambda kv: (-kv[1], kv[0]))),
           "by_layer": [], "other_layers": 0, "newest": newest, "last_seq": last_seq,
           "time": {"start": query.start if query.start is not None else first,
                    "end": query.end if query.end is not None else newest,
                    "bucket_ms": None, "counts": [], "max_ratio": []}}
    if not total:
        return out
    count = func.count()
    layers = await state.reader.rows(
        select(A.layer, count).where(*conds).group_by(A.layer)
        .order_by(count.desc(), A.layer).limit(top), bulk=True)
    out["by_layer"] = [{"layer": layer, "count": n} for layer, n in layers]
    out["other_layers"] = total - sum(n for _, n in layers)
    start, end = out["time"]["start"], out["time"]["end"]
    width = max(1, math.ceil((end - start + 1) / buckets))
    n_buckets = min(buckets, (end - start) // width + 1)
    bucket = ((A.timestamp - start) // width).label("bucket")
    counts = [[0] * len(SEVERITIES) for _ in range(n_buckets)]
    ratios = [[None] * len(SEVERITIES) for _ in range(n_buckets)]
    for index, rank, n, ratio in await state.reader.rows(
            select(bucket, A.severity_rank, func.count(), func.max(A.ratio))
            .where(*conds).group_by(bucket, A.severity_rank), bulk=True):
        counts[index][rank] = n
        ratios[index][rank] = None if ratio is None else round(float(ratio), 4)
    out["time"].update(bucket_ms=width, counts=counts, max_ratio=ratios)
    return out


def _array(state: ServiceState, score: ScoreSeries, name: str):
    """A stored array, memory-mapped (only the rows read are loaded)."""
    path = state.settings.data_dir / "arrays" / score.id / f"{name}.npy"
    if not path.is_file():
        return None
    return np.load(path, mmap_mode="r", allow_pickle=False)


async def _score_series(state: ServiceState, model_id, dataset_id, series_id):
    statement = (select(ScoreSeries).where(ScoreSeries.has_contributions.is_(True))
                 .order_by(ScoreSeries.created_at.desc(), ScoreSeries.id.desc()).limit(1))
    for column, value in ((ScoreSeries.model_id, model_id),
                          (ScoreSeries.dataset_id, dataset_id),
                          (ScoreSeries.series_id, series_id)):
        if value is not None:
            statement = statement.where(column == value)
    async with state.sessions() as session:
        score = await session.scalar(statement)
        if score is None and model_id is not None:
            if await session.get(Model, model_id) is None:
                raise HTTPException(404, f"No model with id {model_id!r}.")
    if score is None and model_id is not None:
        asked = ", ".join(f"{name} {value!r}" for name, value in (
            ("dataset", dataset_id), ("series", series_id)) if value)
        raise HTTPException(409, f"Model {model_id!r} has no stored per-feature contributions"
                                 + (f" on {asked}" if asked else "") + ": score a series "
                                 "with it (POST /api/datasets/upload with model_id) and wait "
                                 "for the job.")
    return score


def _span_severity(spans, edges) -> list:
    """The highest severity rank of the spans covering each bucket (-1: none)."""
    n = len(edges) - 1
    out = np.full(n, -1, dtype=np.int64)
    if not spans:
        return out
    starts, ends, ranks = (np.asarray(column, dtype=np.int64) for column in zip(*spans,
                                                                                strict=True))
    first = np.clip(np.searchsorted(edges, starts, side="right") - 1, 0, n - 1)
    last = np.clip(np.searchsorted(edges, ends, side="right") - 1, 0, n - 1)
    for rank in range(len(SEVERITIES)):  # ascending: a higher rank overwrites
        chosen = ranks == rank
        if not chosen.any():
            continue
        cover = np.zeros(n + 1, dtype=np.int64)
        np.add.at(cover, first[chosen], 1)
        np.add.at(cover, last[chosen] + 1, -1)
        out[np.cumsum(cover[:-1]) > 0] = rank
    return out


@router.get("/api/heatmap", tags=["dashboard"],
            summary="A model's per-feature contributions over time, as a grid",
            openapi_extra=query_parameters(AnomalyFilters))
async def heatmap(
    query: Annotated[AnomalyQuery, Depends(anomaly_query)],
    identity: ReadAccess,
    state: StateDep,
    columns: int = Query(240, ge=1, le=4000, description="time buckets of the grid"),
):
    """The newest stored contributions of ``model_id`` (of the newest scored
    model when absent; on ``dataset_id`` / ``series_id`` when given) between
    ``start`` and ``end``, cut into at most ``columns`` buckets of equal
    point counts. Without ``model_id``, nothing scored yet is an empty grid
    (``model_id`` null); a named model without stored contributions is 409.

    ``intensities[f][i]`` is the highest contribution of feature ``f`` in
    bucket ``i`` divided by the threshold (the contract's intensity: 1 is the
    threshold), ``scores[i]`` the bucket's highest score, ``severity[i]`` the
    highest severity of the stored anomalies of this score series whose span
    covers the bucket and that match the severity and type filters (null where
    none). Times are epoch ms (``time_unit`` ``ms``) or point indices.
    """
    if query.since_seq is not None:
        raise HTTPException(422, "`since_seq` is for listings, not for the heatmap.")
    if query.model_ids and len(query.model_ids) > 1:
        raise HTTPException(422, f"`model_id` must name one model for the heatmap; received "
                                 f"{len(query.model_ids)}.")
    model_id = query.model_ids[0] if query.model_ids else None
    score = await _score_series(state, model_id, query.dataset_id, query.series_id)
    if score is None:  # nothing scored matches: an empty grid, not an error
        return {"model_id": None, "dataset_id": query.dataset_id, "series_id": query.series_id,
                "feature_names": [], "threshold": None, "time_unit": None, "n_points": 0,
                "first_index": 0, "last_index": -1, "points_per_column": 0, "starts": [],
                "ends": [], "scores": [], "intensities": [], "severity": [],
                "spans_truncated": False}
    times = _array(state, score, "timestamps")
    values = _array(state, score, "scores")
    contributions = _array(state, score, "contributions")
    if times is None or values is None or contributions is None:
        raise HTTPException(409, f"The stored arrays of score series {score.id!r} are "
                                 "missing from the data folder.")
    low = 0 if query.start is None else int(np.searchsorted(times, query.start, side="left"))
    high = (len(times) if query.end is None
            else int(np.searchsorted(times, query.end, side="right")))
    out = {"model_id": score.model_id, "dataset_id": score.dataset_id,
           "series_id": score.series_id, "feature_names": list(score.feature_names),
           "threshold": score.threshold, "time_unit": score.time_unit,
           "n_points": score.n_points, "first_index": low, "last_index": high - 1,
           "points_per_column": 0, "starts": [], "ends": [], "scores": [],
           "intensities": [[] for _ in score.feature_names], "severity": [],
           "spans_truncated": False}
    if high <= low:
        return out
    edges = np.linspace(low, high, min(high - low, columns) + 1).astype(np.int64)
    starts = edges[:-1]
    offsets = starts - low
    grid = np.maximum.reduceat(np.asarray(contributions[low:high], dtype=np.float64),
                               offsets, axis=0)
    peaks = np.maximum.reduceat(np.asarray(values[low:high], dtype=np.float64), offsets)
    scale = score.threshold if score.threshold and score.threshold > 0 else 1.0
    # Spans of this score series' anomalies (same job; the model and dataset
    # for a series stored without one), overlapping the points shown.
    conds = conditions(AnomalyQuery(severities=query.severities,
                                    min_severity=query.min_severity,
                                    anomaly_types=query.anomaly_types),
                       await saved_filter(state, identity.token_id))
    if score.job_id is not None:
        conds.append(A.job_id == score.job_id)
    else:
        conds += [A.model_id == score.model_id, A.dataset_id == score.dataset_id]
    spans = await state.reader.rows(
        select(A.start_index, A.end_index, A.severity_rank)
        .where(*conds, A.start_index.is_not(None), A.end_index >= low,
               A.start_index <= high - 1).order_by(A.seq.desc()).limit(_MAX_SPANS + 1),
        bulk=True)
    severity = _span_severity([tuple(row) for row in spans[:_MAX_SPANS]], edges)
    out.update(
        points_per_column=round((high - low) / len(starts), 3),
        starts=np.asarray(times[starts]).astype(np.int64).tolist(),
        ends=np.asarray(times[edges[1:] - 1]).astype(np.int64).tolist(),
        scores=np.round(peaks, 6).tolist(),
        intensities=np.round(grid.T / scale, 4).tolist(),
        severity=[SEVERITIES[r] if r >= 0 else None for r in severity.tolist()],
        spans_truncated=len(spans) > _MAX_SPANS)
    return out
