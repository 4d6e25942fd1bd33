"""fusionlab.client against a real server: records, REST methods, the WebSocket."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pandas as pd
import pytest

from fusionlab.client import (
    Anomaly,
    AnomalyClient,
    AnomalyUpdate,
    CorrelationMatrix,
    ExportFormat,
    JobFailed,
    Message,
    ServiceError,
    Severity,
    TemporalPattern,
    VisualizationTheme,
    connect,
    to_frame,
)

from .conftest import make_sheet


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 240))


@pytest.fixture(scope="module")
def fitted(server, files):
    """A model fitted by the server and a scanned workbook, through the client."""

    async def go():
        async with AnomalyClient(server.url, auto_connect=True) as client:
            model = await client.fit_model(files["series"], time_column="time",
                                           label_column="label", series_id="plant",
                                           model="conv_autoencoder", window=16, epochs=1,
                                           robust=False)
            dataset = await client.upload_dataset(files["sheet"], wait=True,
                                                  method="isolation_forest")
            return model, dataset

    return run(go())


def test_records_ignore_unknown_keys_and_round_trip():
    data = {"id": 3, "anomaly_type": "spike", "severity": "high", "score": 2.5,
            "location": {"start_index": 1, "end_index": 2}, "added_later": [1, 2]}
    anomaly = Anomaly.from_dict(data)
    assert anomaly.severity is Severity.HIGH and anomaly.severity > "medium"
    assert anomaly.to_dict()["severity"] == "high" and "added_later" not in anomaly.to_dict()
    update = AnomalyUpdate.from_dict({"timestamp": 1, "anomalies": [data], "severity": "high",
                                      "score": 2.5, "seq": 3, "new": True})
    assert update.anomalies[0] == anomaly and update.seq == 3
    assert TemporalPattern.from_dict({"pattern_type": "trend", "x": 1}).pattern_type == "trend"
    matrix = CorrelationMatrix.from_dict({"matrix": [[1, 0.5], [0.5, 1]], "labels": ["a", "b"],
                                          "other": 1})
    assert matrix.to_frame().loc["a", "b"] == 0.5
    assert sorted([Severity.CRITICAL, Severity.LOW, Severity.HIGH]) == ["low", "high",
                                                                         "critical"]
    assert max(["medium", "critical", "low"], key=Severity) == "critical"
    assert {f.value for f in ExportFormat} == {"csv", "json", "parquet", "tensorboard"}
    assert VisualizationTheme("plasma") is VisualizationTheme.PLASMA


def test_bad_urls_are_refused():
    with pytest.raises(ValueError, match="`url` must start with http"):
        AnomalyClient("localhost:8080")
    with pytest.raises(ValueError, match="`ws_url` must start with ws"):
        AnomalyClient("http://x", ws_url="http://x/ws")


def test_connect_query_filter_and_errors(server, fitted):
    model, dataset = fitted

    async def go():
        client = await connect(server.url)
        try:
            assert client.server["status"] == "ok"
            assert model["status"] == "ready" and dataset["status"] == "completed"
            page = await client.get_anomalies(limit=5)
            assert len(page) == 5 and all(isinstance(a, Anomaly) for a in page)
            assert page.next_cursor is not None
            every = [a async for a in client.iter_anomalies(page_size=9)]
            assert len({a.id for a in every}) == len(every) >= 5
            rows = await client.get_anomalies(anomaly_type="row", limit=1000)
            assert len(rows) == dataset["anomaly_count"]
            mine = await client.get_anomalies(model_id=model["model_id"], limit=1000)
            assert mine and {a.model_id for a in mine} == {model["model_id"]}
            worse = await client.get_anomalies(min_severity=Severity.MEDIUM, limit=1000)
            assert all(a.severity >= Severity.MEDIUM for a in worse)
            assert await client.get_anomaly(page[0].id) == page[0]
            with pytest.raises(ServiceError) as error:
                await client.get_anomalies(severity="extreme")
            assert error.value.status == 422 and "`severity`" in error.value.detail
            with pytest.raises(ServiceError) as error:
                await client.get_anomalies(limit=-1)
            assert error.value.status == 422 and "`limit`" in error.value.detail
            with pytest.raises(ServiceError) as error:
                await client.get_model("mdl_missing")
            assert error.value.status == 404
            await client.set_filter(model_ids=[model["model_id"]])
            assert {a.model_id for a in await client.get_anomalies(limit=1000)} == {
                model["model_id"]}
            await client.clear_filter()
            assert await client.get_filter() == {}
            assert await client.set_theme("holographic") is VisualizationTheme.HOLOGRAPHIC
            assert await client.get_theme() is VisualizationTheme.HOLOGRAPHIC
            assert await client.set_layout({"a": 1}) == {"a": 1} == await client.get_layout()
            frame = to_frame(mine)
            assert isinstance(frame["start"].iloc[0], pd.Timestamp)
            assert (frame["peak_score"] >= frame["mean_score"]).all()
        finally:
            await client.disconnect()

    run(go())


def test_analyses_through_the_client(server, fitted):
    model, _ = fitted

    async def go():
        async with AnomalyClient(server.url) as client:
            frame = await client.get_correlation_matrix(model_ids=[model["model_id"]],
                                                        as_dataframe=True)
            assert list(frame.columns) == ["a", "b"] and frame.loc["a", "a"] == 1
            patterns = await client.get_temporal_patterns(model_id=model["model_id"])
            assert all(isinstance(p, TemporalPattern) for p in patterns)
            stats = await client.get_temporal_statistics(model_id=model["model_id"])
            assert stats["points"] == 480
            compared = await client.compare_models([model["model_id"]])
            assert 0 <= compared["models"][model["model_id"]]["vus_pr"] <= 1
            written = await client.export_correlation_matrix("client_corr.json", "json",
                                                             model_ids=[model["model_id"]])
            assert written["path"] == "exports/client_corr.json"
            with pytest.raises(ServiceError) as error:
                await client.export_correlation_matrix("../x.csv")
            assert error.value.status == 400
            models = await client.list_models()
            assert model["model_id"] in {m["model_id"] for m in models}

    run(go())


def test_downloads_in_each_format(server, fitted, tmp_path):
    async def go():
        async with AnomalyClient(server.url) as client:
            every = [a async for a in client.iter_anomalies()]
            for suffix in ("csv", "json", "parquet"):
                path = await client.download_anomalies(tmp_path / f"all.{suffix}")
                frame = {"csv": pd.read_csv, "json": lambda p: pd.DataFrame(
                    json.loads(p.read_text())), "parquet": pd.read_parquet}[suffix](path)
                assert sorted(frame["id"]) == sorted(a.id for a in every)
            high = await client.download_anomalies(tmp_path / "low.csv", severity="low",
                                                   limit=3)
            assert len(pd.read_csv(high)) == min(3, sum(a.severity == "low" for a in every))
            with pytest.raises(ValueError, match="must end with one of"):
                await client.download_anomalies(tmp_path / "x.xlsx")

    run(go())


def test_failed_job_raises_job_failed(server, tmp_path):
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"word": ["x"] * 40}).to_csv(bad, index=False)

    async def go():
        async with AnomalyClient(server.url) as client:
            with pytest.raises(JobFailed) as failed:
                await client.fit_model(bad, model="conv_autoencoder", epochs=1)
            assert failed.value.job.status == "failed"
            assert "no numeric column" in failed.value.job.error_message

    run(go())


def test_stream_receives_new_anomalies_and_replays_since_seq(server, fitted, tmp_path):
    sheet = make_sheet(tmp_path / "more.xlsx", n=200, seed=5, outlier_rows=(3, 150))

    async def go():
        async with AnomalyClient(server.url) as client:
            before = await client.get_anomalies(limit=1)
            last = before[0].seq if before else 0
            latest = max([a.seq async for a in client.iter_anomalies()] or [0])
            await client.subscribe_anomalies()
            # before any update, a reconnect would replay from the newest stored record
            assert client.last_seq == latest
            await client.subscribe_jobs()
            answer = await client.upload_dataset(sheet, method="isolation_forest")
            job = await client.wait_for_job(answer["job_id"])
            seen, statuses = [], set()
            async for update in client.stream_updates():
                if isinstance(update, Message) and update.type == "job_update":
                    statuses.add(update.data["status"])
                else:
                    assert isinstance(update, AnomalyUpdate)
                    seen.append(update.seq)
                    assert update.anomalies[0].dataset_id == answer["dataset_id"]
                    assert update.severity == update.anomalies[0].severity
                # the job's completion is announced after its anomalies
                if "completed" in statuses:
                    break
            assert len(seen) == job.anomaly_count > 0
            assert seen == sorted(seen) and seen[0] == latest + 1 and len(set(seen)) == len(seen)
            assert "completed" in statuses and client.last_seq == seen[-1]
            await client.unsubscribe_anomalies()
        async with AnomalyClient(server.url) as replaying:
            await replaying.subscribe_anomalies(since_seq=latest, min_severity="low")
            replayed = []
            async for update in replaying.stream_updates(message_types=["anomaly_update"]):
                replayed.append(update.seq)
                if len(replayed) == len(seen):
                    break
            assert replayed == seen
        async with AnomalyClient(server.url) as picky:
            await picky.subscribe_anomalies(since_seq=0, min_severity="critical")
            got = []
            criticals = [a.seq async for a in picky.iter_anomalies(min_severity="critical")]
            if criticals:
                async for update in picky.stream_updates(message_types=["anomaly_update"]):
                    got.append(update.seq)
                    if len(got) == len(criticals):
                        break
                assert sorted(got) == sorted(criticals)
            with pytest.raises(ServiceError, match="min_severity"):
                await picky.subscribe_anomalies(min_severity="extreme")
        return last

    run(go())


def test_export_all_and_tensorboard_files(server, fitted, tmp_path):
    async def go():
        async with AnomalyClient(server.url) as client:
            written = await client.export_all(tmp_path / "out")
            total = len([a async for a in client.iter_anomalies()])
        return written, total

    written, total = run(go())
    assert set(written) == {"csv", "json", "parquet", "tensorboard"}
    out = tmp_path / "out"
    assert len(pd.read_csv(out / "anomalies.csv")) == total
    assert len(pd.read_parquet(out / "anomalies.parquet")) == total
    assert json.loads((out / "summary.json").read_text())["anomaly_count"] == total
    assert any(p.name.startswith("correlation_") for p in written["csv"])
    assert (out / "patterns.parquet").is_file()
    events = list((out / "tensorboard" / "fusionlab").glob("events.out.tfevents.*"))
    assert len(events) == 1
    # TensorFlow's own reader
    import tensorflow as tf

    tags = {}
    for event in tf.compat.v1.train.summary_iterator(str(events[0])):
        for value in event.summary.value:
            tags.setdefault(value.tag, []).append((event.step, value.simple_value))
    counts = {t: v[0][1] for t, v in tags.items() if t.startswith("anomalies/count/")}
    assert sum(counts.values()) == total
    assert any(t.startswith("scores/") for t in tags)
    # TensorBoard's reader
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(events[0].parent))
    accumulator.Reload()
    assert set(accumulator.Tags()["scalars"]) == set(tags)
    score_tag = next(t for t in tags if t.startswith("anomalies/score/"))
    assert [s.step for s in accumulator.Scalars(score_tag)] == [s for s, _ in tags[score_tag]]
    assert np.isclose(accumulator.Scalars(score_tag)[0].value, tags[score_tag][0][1])


def test_analysis_subscribers_get_updates_when_a_series_is_scored(server, fitted, files):
    model, _ = fitted

    async def go():
        async with AnomalyClient(server.url) as client:
            await client.subscribe_correlations(model_ids=[model["model_id"]])
            await client.subscribe_temporal()
            await client.upload_dataset(files["series"], wait=True, model_id=model["model_id"],
                                        time_column="time", label_column="label",
                                        columns=["a", "b"])
            got = {}
            async for update in client.stream_updates(
                    message_types=["correlation_update", "temporal_update"]):
                got[type(update).__name__] = update
                if len(got) == 2:
                    return got

    got = run(go())
    assert got["CorrelationMatrix"].labels == ["a", "b"]
    assert all(isinstance(p, TemporalPattern) for p in got["list"])
