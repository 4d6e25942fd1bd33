"""Analyses of stored score series: correlation, temporal patterns and
statistics, model comparison, downsampled scores, export snapshots.

Score series are stored by the jobs that score data (``fit_model``,
``score_series``, ``scan_table``) as ``.npy`` files under ``arrays/<id>/``
and read with ``allow_pickle=False``.
"""

from __future__ import annotations

import asyncio
import csv
import json
import logging

import numpy as np
from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import FileResponse
from sqlalchemy import func, select

from ...vocabulary import ANOMALY_TYPES, SEVERITIES
from .. import analysis
from ..auth import ReadAccess, WriteAccess
from ..db import now_ms
from ..schemas import (
    CompareBody,
    ExportBody,
    ExportCorrelationBody,
    bad_request,
    check_filename,
    parse_choices,
)
from ..state import ServiceState, StateDep
from ..tables import AnomalyRecord, Model, ScoreSeries

router = APIRouter(prefix="/api", tags=["analysis"])
log = logging.getLogger("fusionlab.service")
A = AnomalyRecord


def _ids(value: str | None, name: str) -> list[str] | None:
    if value is None or value.strip() == "":
        return None
    ids = [v.strip() for v in value.split(",") if v.strip()]
    if len(ids) > 20:
        raise bad_request(f"`{name}` may hold at most 20 ids; received {len(ids)}.")
    return ids


def load_array(state: ServiceState, score: ScoreSeries, name: str):
    """One stored array of a score series (None when it was not stored)."""
    path = state.settings.data_dir / "arrays" / score.id / f"{name}.npy"
    if not path.is_file():
        return None
    return np.load(path, allow_pickle=False)


async def _model(session, model_id: str) -> Model:
    model = await session.get(Model, model_id)
    if model is None:
        raise HTTPException(404, f"No model with id {model_id!r}.")
    return model


async def latest_scores(session, model_id: str, dataset_id: str | None = None) -> ScoreSeries:
    """The newest score series of a model (on ``dataset_id`` if given); 409 if none."""
    await _model(session, model_id)
    statement = (select(ScoreSeries).where(ScoreSeries.model_id == model_id)
                 .order_by(ScoreSeries.created_at.desc(), ScoreSeries.id.desc()).limit(1))
    if dataset_id is not None:
        statement = statement.where(ScoreSeries.dataset_id == dataset_id)
    score = await session.scalar(statement)
    if score is None:
        where = f" on dataset {dataset_id!r}" if dataset_id else ""
        raise HTTPException(409, f"Model {model_id!r} has no stored scores{where} yet: score "
                                 "a series with it (POST /api/datasets/upload with "
                                 "model_id) and wait for the job.")
    return score


async def _default_model(session) -> str:
    model_id = await session.scalar(select(ScoreSeries.model_id)
                                    .order_by(ScoreSeries.created_at.desc()).limit(1))
    if model_id is None:
        raise HTTPException(409, "No model has stored scores yet: fit a model on a series "
                                 "or score a dataset with one first.")
    return model_id


async def _common_scores(session, model_ids: list[str], dataset_id: str | None):
    """The newest score series of each model on one series all of them scored
    (the same ``series_id``, or the given ``dataset_id``); (None, None) if none."""
    for model_id in model_ids:
        await _model(session, model_id)
    column = ScoreSeries.dataset_id if dataset_id is not None else ScoreSeries.series_id
    statement = (select(column, func.max(ScoreSeries.created_at).label("t"))
                 .where(ScoreSeries.model_id.in_(model_ids), column.is_not(None))
                 .group_by(column)
                 .having(func.count(func.distinct(ScoreSeries.model_id)) == len(set(model_ids)))
                 .order_by(func.max(ScoreSeries.created_at).desc()).limit(1))
    if dataset_id is not None:
        statement = statement.where(ScoreSeries.dataset_id == dataset_id)
    row = (await session.execute(statement)).first()
    if row is None:
        return None, None
    scores = []
    for model_id in model_ids:
        scores.append(await session.scalar(
            select(ScoreSeries).where(ScoreSeries.model_id == model_id, column == row[0])
            .order_by(ScoreSeries.created_at.desc()).limit(1)))
    if len({s.n_points for s in scores}) != 1:
        raise HTTPException(409, f"The score series of {model_ids} on {row[0]!r} differ in "
                                 f"length ({[s.n_points for s in scores]} points).")
    return row[0], scores


def _correlation_of(state, session_scores, layer_ids):
    score = session_scores
    contributions = load_array(state, score, "contributions")
    if contributions is None:
        raise HTTPException(409, f"Model {score.model_id!r} stored no per-feature "
                                 "contributions (a tabular scan stores only row scores).")
    names = list(score.feature_names)
    if layer_ids:
        unknown = [name for name in layer_ids if name not in names]
        if unknown:
            raise bad_request(f"`layer_ids` {unknown} are not features of model "
                              f"{score.model_id!r}; its features: {names}.")
        keep = [names.index(name) for name in layer_ids]
        contributions, names = contributions[:, keep], list(layer_ids)
    return analysis.correlation(contributions, names)


async def correlation_matrix(state, session, model_ids, layer_ids, dataset_id=None):
    """The ``CorrelationMatrix`` record (see the module description)."""
    if not model_ids:
        model_ids = [await _default_model(session)]
    if len(model_ids) == 1:
        score = await latest_scores(session, model_ids[0], dataset_id)
        result = _correlation_of(state, score, layer_ids)
        metadata = {"kind": "features", "model_ids": model_ids, "dataset_id": score.dataset_id,
                    "series_id": score.series_id, "n_points": score.n_points,
                    "method": "pearson", "of": "per-feature score contributions"}
    else:
        if layer_ids:
            raise bad_request("`layer_ids` selects features of one model; with several "
                              "`model_ids` the score series are correlated.")
        common, scores = await _common_scores(session, model_ids, dataset_id)
        if scores is None:
            raise HTTPException(409, f"Models {model_ids} have not scored a common series: "
                                     "score one series (the same `series_id`) with each "
                                     "to correlate them.")
        arrays = [load_array(state, s, "scores") for s in scores]
        result = analysis.correlation(np.column_stack(arrays), model_ids)
        metadata = {"kind": "models", "model_ids": model_ids, "series_id": common,
                    "n_points": int(arrays[0].size), "method": "pearson", "of": "score series"}
    return {**result, "timestamp": now_ms(), "metadata": metadata}


@router.get("/correlation", summary="Correlation of per-feature errors, or across models")
async def get_correlation(
    identity: ReadAccess,
    state: StateDep,
    model_ids: str | None = Query(None, description="comma-separated"),
    layer_ids: str | None = Query(None, description="features, "
                                                                          "comma-separated"),
    dataset_id: str | None = Query(None, max_length=40),
):
    """One model: Pearson correlation of its per-feature score contributions over
    time (which features fail together); several: correlation of their score
    series on a dataset all of them scored."""
    async with state.sessions() as session:
        return await correlation_matrix(state, session, _ids(model_ids, "model_ids"),
                                        _ids(layer_ids, "layer_ids"), dataset_id)


def export_folder(state: ServiceState):
    """The only folder export files are written to."""
    return state.settings.folder("exports")


def _confined(state, filename):
    folder = export_folder(state).resolve()
    path = (folder / filename).resolve()
    if path.parent != folder:
        raise bad_request(f"`filename` {filename!r} escapes the export folder.", 400)
    return path


@router.post("/export/correlation", summary="Write a correlation matrix in the export folder")
async def export_correlation(body: ExportCorrelationBody,
                             identity: WriteAccess,
                             state: StateDep):
    """Written as ``exports/<filename>`` on the server (a plain name, nothing
    else); download it from ``GET /api/exports/<filename>``."""
    check_filename(body.filename, (f".{body.format}",))
    path = _confined(state, body.filename)
    async with state.sessions() as session:
        matrix = await correlation_matrix(state, session, body.model_ids, body.layer_ids)
    tmp = path.with_name(path.name + ".part")
    if body.format == "json":
        tmp.write_text(json.dumps(matrix))
    else:
        with open(tmp, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["", *matrix["labels"]])
            for label, row in zip(matrix["labels"], matrix["matrix"], strict=True):
                writer.writerow([label, *row])
    tmp.replace(path)
    return {"filename": body.filename, "path": f"exports/{body.filename}",
            "url": f"/api/exports/{body.filename}", "bytes": path.stat().st_size}


@router.get("/exports/{filename}", summary="Download a file of the export folder")
async def download_export(filename: str, identity: ReadAccess,
                          state: StateDep):
    check_filename(filename)
    path = _confined(state, filename)
    if not path.is_file():
        raise HTTPException(404, f"No export named {filename!r}.")
    return FileResponse(path, filename=filename)


def _window(score, times, time_window):
    if time_window is None:
        return slice(None)
    span = time_window * 1000 if score.time_unit == "ms" else time_window
    return times >= times[-1] - span


async def _counts(session, model_id):
    by_severity = dict.fromkeys(SEVERITIES, 0)
    by_type = {}
    for severity, kind, count in await session.execute(
            select(A.severity, A.anomaly_type, func.count()).where(A.model_id == model_id)
            .group_by(A.severity, A.anomaly_type)):
        by_severity[severity] = by_severity.get(severity, 0) + count
        by_type[kind] = by_type.get(kind, 0) + count
    return by_severity, by_type


@router.get("/temporal", summary="Periodic, trend and state-change patterns of a model's scores")
async def get_temporal(
    identity: ReadAccess,
    state: StateDep,
    model_id: str | None = Query(None, max_length=40),
    time_window: float | None = Query(
                           None, gt=0, description="the last seconds (points for a series "
                                                   "without times)"),
    pattern_types: str | None = Query(None, description="comma-separated"),
    dataset_id: str | None = Query(None, max_length=40),
):
    """``{"patterns": [TemporalPattern...], "model_id", "series_id", ...}`` of
    the model's newest score series (times in ms, or point indices)."""
    kinds = parse_choices(pattern_types, "pattern_types", analysis.PATTERN_TYPES)
    async with state.sessions() as session:
        model_id = model_id or await _default_model(session)
        score = await latest_scores(session, model_id, dataset_id)
    scores, times = load_array(state, score, "scores"), load_array(state, score, "timestamps")
    keep = _window(score, times, time_window)
    patterns = await asyncio.to_thread(analysis.temporal_patterns, scores[keep], times[keep],
                                       kinds)
    return {"patterns": patterns, "model_id": model_id, "series_id": score.series_id,
            "dataset_id": score.dataset_id, "time_unit": score.time_unit}


@router.get("/temporal/stats", summary="Points, anomaly rate, counts, period and trend")
async def get_temporal_stats(
    identity: ReadAccess,
    state: StateDep,
    model_id: str | None = Query(None, max_length=40),
):
    async with state.sessions() as session:
        model_id = model_id or await _default_model(session)
        score = await latest_scores(session, model_id)
        by_severity, by_type = await _counts(session, model_id)
    scores, times = load_array(state, score, "scores"), load_array(state, score, "timestamps")
    stats = await asyncio.to_thread(analysis.temporal_statistics, scores, times, score.threshold)
    return {**stats, "model_id": model_id, "series_id": score.series_id,
            "dataset_id": score.dataset_id, "time_unit": score.time_unit,
            "counts_by_severity": by_severity, "counts_by_type": by_type,
            "anomaly_count": sum(by_severity.values())}


def _labelled_metrics(labels, scores, threshold, wanted):
    from ...metrics import auc_pr, point_f1, vus_pr

    if labels is None or labels.min() == labels.max():
        return {}
    out = {}
    if "vus_pr" in wanted:
        out["vus_pr"] = float(vus_pr(labels, scores, window=min(100, max(1, labels.size // 20))))
    if "auc_pr" in wanted:
        out["auc_pr"] = float(auc_pr(labels, scores))
    if "f1" in wanted:
        prf = point_f1(labels, (scores > threshold).astype(int))
        out.update(f1=float(prf.f1), precision=float(prf.precision), recall=float(prf.recall))
    return out


@router.post("/compare", summary="Compare models: counts, scores, timings, labelled metrics")
async def compare_models(body: CompareBody, identity: ReadAccess,
                         state: StateDep):
    """Per model: counts by severity and type, score statistics, fit and score
    seconds, and VUS-PR / AUC-PR / F1 where the scored data had labels; a
    ``similarity_matrix`` (correlation of score series) when the models scored
    a common dataset."""
    wanted = set(body.metrics or ("counts", "scores", "timings", "vus_pr", "auc_pr", "f1"))
    if len(set(body.model_ids)) != len(body.model_ids):
        raise bad_request(f"`model_ids` must not repeat a model; received {body.model_ids}.")
    out = {}
    async with state.sessions() as session:
        models = [await _model(session, m) for m in body.model_ids]
        common, common_scores = await _common_scores(session, body.model_ids, body.dataset_id)
        for index, model in enumerate(models):
            entry = {"model_id": model.id, "name": model.name, "kind": model.kind,
                     "status": model.status}
            if "counts" in wanted:
                by_severity, by_type = await _counts(session, model.id)
                entry["counts_by_severity"] = by_severity
                entry["counts_by_type"] = by_type
                entry["anomaly_count"] = sum(by_severity.values())
            score = common_scores[index] if common_scores else await session.scalar(
                select(ScoreSeries).where(ScoreSeries.model_id == model.id)
                .order_by(ScoreSeries.created_at.desc()).limit(1))
            if "timings" in wanted:
                entry["fit_seconds"] = model.fit_seconds
                entry["score_seconds"] = score.score_seconds if score else None
            if score is not None:
                scores = load_array(state, score, "scores")
                entry["dataset_id"] = score.dataset_id
                if "scores" in wanted:
                    entry["score_statistics"] = analysis.score_statistics(scores,
                                                                          score.threshold)
                labels = load_array(state, score, "labels") if score.has_labels else None
                entry.update(_labelled_metrics(labels, scores, score.threshold, wanted))
            out[model.id] = entry
    similarity = None
    if common_scores and len(common_scores) > 1:
        arrays = [load_array(state, s, "scores") for s in common_scores]
        similarity = analysis.correlation(np.column_stack(arrays), body.model_ids)
    return {"models": out, "series_id": common,
            "similarity_matrix": similarity["matrix"] if similarity else None,
            "labels": body.model_ids}


@router.get("/scores", summary="A model's stored score series, downsampled")
async def get_scores(
    identity: ReadAccess,
    state: StateDep,
    model_id: str = Query(..., max_length=40),
    dataset_id: str | None = Query(None, max_length=40),
    max_points: int = Query(2000, ge=10, le=20000),
    contributions: bool = Query(False),
):
    """Bucketed to at most ``max_points``: each bucket's first time, its
    highest score (peaks survive) and, with ``contributions``, its mean
    per-feature contributions (the heatmap)."""
    async with state.sessions() as session:
        score = await latest_scores(session, model_id, dataset_id)
    scores, times = load_array(state, score, "scores"), load_array(state, score, "timestamps")
    n = scores.size
    edges = np.linspace(0, n, min(n, max_points) + 1).astype(int)
    starts = edges[:-1]
    out = {"model_id": model_id, "dataset_id": score.dataset_id, "series_id": score.series_id,
           "threshold": score.threshold, "time_unit": score.time_unit, "n_points": n,
           "timestamps": times[starts].tolist(),
           "scores": np.maximum.reduceat(scores, starts).tolist(),
           "feature_names": score.feature_names}
    if contributions:
        matrix = load_array(state, score, "contributions")
        if matrix is None:
            raise HTTPException(409, f"Model {model_id!r} stored no per-feature contributions.")
        sums = np.add.reduceat(matrix.astype(np.float64), starts, axis=0)
        out["contributions"] = (sums / np.diff(edges)[:, None]).round(6).tolist()
    return out


@router.post("/export", summary="A snapshot of counts, correlations and patterns")
async def export_snapshot(body: ExportBody, identity: ReadAccess,
                          state: StateDep):
    """What ``export_all`` writes beside the anomalies: a summary, each model's
    correlation matrix and temporal patterns (null where it has no scores)."""
    async with state.sessions() as session:
        model_ids = body.model_ids or list(await session.scalars(
            select(ScoreSeries.model_id).distinct()))
        summary = {"counts_by_severity": dict.fromkeys(SEVERITIES, 0),
                   "counts_by_type": dict.fromkeys(ANOMALY_TYPES, 0)}
        for severity, kind, count in await session.execute(
                select(A.severity, A.anomaly_type, func.count())
                .group_by(A.severity, A.anomaly_type)):
            summary["counts_by_severity"][severity] += count
            summary["counts_by_type"][kind] = summary["counts_by_type"].get(kind, 0) + count
        summary["anomaly_count"] = sum(summary["counts_by_severity"].values())
        correlations, patterns = {}, {}
        for model_id in model_ids:
            score = await latest_scores(session, model_id)
            try:
                correlations[model_id] = await correlation_matrix(state, session, [model_id],
                                                                  None)
            except HTTPException:
                correlations[model_id] = None
            scores = load_array(state, score, "scores")
            times = load_array(state, score, "timestamps")
            patterns[model_id] = await asyncio.to_thread(analysis.temporal_patterns, scores,
                                                         times)
    summary["models"] = model_ids
    return {"summary": summary, "correlations": correlations, "patterns": patterns,
            "timestamp": now_ms()}


def publish_analyses(state: ServiceState, job) -> None:
    """After a job stored a score series: send ``correlation_update`` and
    ``temporal_update`` to their subscribers (computed in a thread, only when
    someone listens)."""
    hub = state.hub
    listening = [c for c in ("correlations", "temporal") if hub.listening(c)]
    if not listening or job.kind not in ("fit_model", "score_series"):
        return

    async def compute():
        try:
            async with state.sessions() as session:
                score = await latest_scores(session, job.model_id)
                if "correlations" in listening:
                    matrix = await correlation_matrix(state, session, [job.model_id], None)
                    hub.publish("correlations", {"type": "correlation_update", "data": matrix},
                                model_id=job.model_id)
            if "temporal" in listening:
                scores = load_array(state, score, "scores")
                times = load_array(state, score, "timestamps")
                patterns = await asyncio.to_thread(analysis.temporal_patterns, scores, times)
                hub.publish("temporal", {"type": "temporal_update", "data": {
                    "model_id": job.model_id, "series_id": score.series_id,
                    "patterns": patterns}}, model_id=job.model_id)
        except Exception:
            log.exception("could not publish the analyses of job %s", job.id)

    task = asyncio.get_running_loop().create_task(compute())
    state.background.add(task)
    task.add_done_callback(state.background.discard)
