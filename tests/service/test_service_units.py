"""Unit tests of the service's pure parts: records, hub queues, analyses, checks."""

from __future__ import annotations

import asyncio
import zipfile

import numpy as np
import pytest
from fastapi import HTTPException

from fusionlab.service import analysis
from fusionlab.service.config import Settings, is_loopback
from fusionlab.service.hub import (
    ClientQueue,
    Hub,
    Outgoing,
    Subscription,
    anomaly_update,
    encode,
)
from fusionlab.service.records import build_record, csv_row, severity_score
from fusionlab.service.schemas import (
    check_filename,
    decode_cursor,
    encode_cursor,
    parse_time,
)
from fusionlab.service.uploads import check_zip
from fusionlab.vocabulary import severity_from_ratio


def finding(severity="high", score=3.0, **extra):
    return {"anomaly_type": "spike", "severity": severity, "score": score, "mean_score": 2.0,
            "threshold": 1.0, "ratio": score, "timestamp": 1_700_000_000_000,
            "start": "2023-11-14T22:13:20", "end": "2023-11-14T22:14:20", "start_index": 5,
            "end_index": 6, "top_features": [["temp", 0.75], ["rpm", 0.25]], **extra}


def test_severity_score_is_monotone_and_agrees_with_the_bands():
    ratios = np.linspace(1.0, 20.0, 400)
    scores = [severity_score(r) for r in ratios]
    assert np.all(np.diff(scores) >= 0) and scores[0] == 0 and scores[-1] < 100
    for ratio, score in zip(ratios, scores, strict=True):
        assert int(min(score, 99.999) // 25) == ["low", "medium", "high", "critical"].index(
            severity_from_ratio(ratio))
    assert severity_score(None) == 100.0


def test_build_record_follows_the_contract():
    record, columns = build_record(finding(), seq=12, model_id="m", series_id="s",
                                   dataset_id="d")
    assert record["id"] == record["seq"] == columns["id"] == 12
    assert record["layer"] == "temp" and record["severity"] == "high"
    assert record["location"] == {"start": "2023-11-14T22:13:20", "end": "2023-11-14T22:14:20",
                                  "start_index": 5, "end_index": 6}
    assert record["metadata"]["top_features"] == [["temp", 0.75], ["rpm", 0.25]]
    assert record["metadata"]["interim"] is False and record["metadata"]["threshold"] == 1.0
    assert "High spike" in record["description"] and "temp (75%)" in record["description"]
    assert columns["severity_rank"] == 2 and columns["ratio"] == 3.0
    row, _ = build_record({**finding(), "anomaly_type": "row", "row_index": 4,
                           "sheet_name": "s1", "raw_data": {"a": 1},
                           "anomalous_features": [{"feature_name": "a", "actual_value": 1,
                                                   "reconstruction_error": 1.0}]},
                          seq=1, model_id=None, series_id=None, dataset_id="d")
    assert row["location"]["row_index"] == 4 and row["metadata"]["raw_data"] == {"a": 1}
    assert len(csv_row(record)) == 19


def test_hub_never_drops_high_or_critical_for_a_slow_client():
    async def go():
        hub = Hub(queue_size=10)
        client, queue = hub.connect()
        hub.subscribe(client, "anomalies", Subscription())
        severities = ["low", "medium", "high", "critical"] * 25
        for seq, severity in enumerate(severities, start=1):
            record, _ = build_record(finding(severity), seq=seq, model_id="m",
                                     series_id="s", dataset_id="d")
            hub.publish_anomalies([record])
        messages = await queue.get()
        assert messages[0]["type"] == "lagged" and messages[0]["data"]["dropped"] == 50
        kept = [m["data"]["severity"] for m in messages[1:]]
        assert kept.count("high") == 25 and kept.count("critical") == 25
        seqs = [m["seq"] for m in messages[1:]]
        assert seqs == sorted(seqs)
        assert hub.dropped_total == 50
    asyncio.run(go())


def test_hub_filters_by_severity_and_model_and_disconnects_past_the_hard_limit():
    async def go():
        hub = Hub(queue_size=2)
        client, queue = hub.connect()
        hub.subscribe(client, "anomalies", Subscription(min_rank=2, model_ids=frozenset({"m"})))
        record, _ = build_record(finding("low"), seq=1, model_id="m", series_id=None,
                                 dataset_id=None)
        other, _ = build_record(finding("critical"), seq=2, model_id="x", series_id=None,
                                dataset_id=None)
        assert hub.publish("anomalies", anomaly_update(record), rank=0, model_id="m") == 0
        assert hub.publish("anomalies", anomaly_update(other), rank=3, model_id="x") == 0
        for seq in range(3, 3 + 25):  # the hard limit is 10 x 2
            high, _ = build_record(finding("high"), seq=seq, model_id="m", series_id=None,
                                   dataset_id=None)
            hub.publish_anomalies([high])
        assert hub.client_count == 0 and hub.disconnected_total == 1
        assert queue.closed
    asyncio.run(go())


def test_client_queue_drops_the_oldest_droppable_message_first():
    async def go():
        queue = ClientQueue(size=3, hard_limit=30)
        queue.put({"n": 1}, True)
        queue.put({"n": 2}, False)
        queue.put({"n": 3}, True)
        queue.put({"n": 4}, False)  # full: message 1 goes
        got = await queue.get()
        assert [m.get("n") for m in got] == [None, 2, 3, 4] and got[0]["data"]["dropped"] == 1
    asyncio.run(go())


def test_periodic_pattern_finds_the_period_phase_and_amplitude():
    t = np.arange(600)
    scores = 2 + 0.5 * np.sin(2 * np.pi * (t - 5) / 30)
    pattern = analysis.periodic_pattern(scores, t * 1000)
    assert pattern["metadata"]["period_points"] == 30
    assert pattern["frequency"] == pytest.approx(1 / 30_000)
    assert pattern["amplitude"] == pytest.approx(0.5, rel=0.05)
    # the mean cycle peaks a quarter period after the shift of 5
    assert pattern["phase"] == pytest.approx(2 * np.pi * (5 + 7.5) / 30, abs=0.25)
    assert analysis.periodic_pattern(np.random.default_rng(0).normal(size=600), t) is None


def test_trend_needs_significance_and_gives_theil_sen_slope():
    rng = np.random.default_rng(1)
    t = np.arange(1000)
    up = analysis.trend_pattern(0.002 * t + rng.normal(0, 0.1, 1000), t)
    assert up["metadata"]["slope"] == pytest.approx(0.002, rel=0.1)
    assert up["metadata"]["direction"] == "up" and up["confidence"] > 0.99
    assert analysis.trend_pattern(rng.normal(0, 1, 1000), t) is None


def test_state_changes_find_level_shifts_and_nothing_in_noise():
    rng = np.random.default_rng(2)
    x = np.r_[np.zeros(300), np.full(300, 3.0), np.ones(300)] + rng.normal(0, 0.3, 900)
    events = analysis.state_changes(x, np.arange(900))
    assert [e["start_time"] for e in events] == [300, 600]
    assert [round(e["amplitude"]) for e in events] == [3, -2]
    assert all(e["confidence"] > 0.9 for e in events)
    assert analysis.state_changes(rng.normal(size=3000), np.arange(3000)) == []


def test_correlation_handles_constant_columns():
    data = np.column_stack([np.arange(10.0), -np.arange(10.0), np.ones(10)])
    result = analysis.correlation(data, ["a", "b", "c"])
    assert result["matrix"][0][1] == pytest.approx(-1) and result["matrix"][0][2] == 0
    assert result["matrix"][2][2] == 1


def test_time_cursor_and_filename_checks():
    assert parse_time("1700000000000", "start") == 1_700_000_000_000
    assert parse_time("2023-11-14T22:13:20Z", "start") == 1_700_000_000_000
    assert parse_time("2023-11-14T22:13:20", "start") == 1_700_000_000_000
    with pytest.raises(HTTPException, match="epoch milliseconds"):
        parse_time("soon", "start")
    assert decode_cursor(encode_cursor({"t": 1, "i": 2}), ("t", "i")) == {"t": 1, "i": 2}
    for bad in ("!!", encode_cursor({"t": "x", "i": 1}), encode_cursor([1])):
        with pytest.raises(HTTPException) as error:
            decode_cursor(bad, ("t", "i"))
        assert error.value.status_code == 400
    assert check_filename("ok-1.csv", (".csv",)) == "ok-1.csv"
    for bad in ("../x.csv", "a/b.csv", ".x.csv", "x..csv", "", "a" * 200):
        with pytest.raises(HTTPException):
            check_filename(bad)


def test_zip_checks_refuse_bombs_and_oversized_archives(tmp_path):
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("big.xml", b"a" * (50 * 1024 * 1024))
    with pytest.raises(HTTPException) as error:
        check_zip(bomb, max_total=10**12, max_ratio=100)
    assert error.value.status_code == 413 and "zip bomb" in error.value.detail
    with pytest.raises(HTTPException) as error:
        check_zip(bomb, max_total=1024, max_ratio=10**9)
    assert "expands to" in error.value.detail
    fine = tmp_path / "fine.zip"
    with zipfile.ZipFile(fine, "w") as archive:
        archive.writestr("a.txt", "hello")
    assert check_zip(fine, 10**6, 100) == ["a.txt"]


def test_settings_checks():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("127.0.0.2")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.org")
    with pytest.raises(ValueError, match="needs `--broker URL`"):
        Settings(jobs="celery")
    with pytest.raises(ValueError, match="`workers` must be a positive integer"):
        Settings(workers=0)
    with pytest.raises(ValueError, match="SQLAlchemy URL"):
        Settings(database_url="fusion.db")
    assert Settings(data_dir="x").url.startswith("sqlite+aiosqlite:///")


def test_migrations_create_the_schema_and_refuse_an_unknown_revision(tmp_path):
    from sqlalchemy import text

    from fusionlab.service.db import (
        DatabaseVersionError,
        check_version,
        head_revision,
        make_engine,
        migrate,
    )

    async def go():
        engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
        try:
            with pytest.raises(DatabaseVersionError, match="Start `fusionlab serve` once"):
                await check_version(engine)
            assert await migrate(engine) == head_revision() == "0002"
            assert await migrate(engine) == "0002"  # a second start changes nothing
            async with engine.begin() as connection:
                mode = (await connection.execute(text("PRAGMA journal_mode"))).scalar()
                assert mode == "wal"
                await connection.execute(text("UPDATE alembic_version SET version_num='0999'"))
            with pytest.raises(DatabaseVersionError, match="written by a newer version"):
                await migrate(engine)
        finally:
            await engine.dispose()

    asyncio.run(go())


def test_listing_query_is_read_in_one_model_and_documented_in_openapi(tmp_path):
    from fastapi.exceptions import RequestValidationError
    from starlette.requests import Request

    from fusionlab.service.app import create_app
    from fusionlab.service.schemas import AnomalyFilters, ListingParams, read_query

    def request(query: bytes) -> Request:
        return Request({"type": "http", "method": "GET", "path": "/api/anomalies",
                        "query_string": query, "headers": []})

    params = read_query(ListingParams, request(b"limit=7&severity=high&buckets=3"))
    assert (params.limit, params.severity, params.cursor) == (7, "high", None)
    assert read_query(AnomalyFilters, request(b"since_seq=4")).since_seq == 4
    with pytest.raises(RequestValidationError) as error:
        read_query(ListingParams, request(b"limit=0&since_seq=x"))
    assert {e["loc"] for e in error.value.errors()} == {("query", "limit"),
                                                        ("query", "since_seq")}
    schema = create_app(Settings(data_dir=tmp_path)).openapi()["paths"]
    listed = {p["name"] for p in schema["/api/anomalies"]["get"]["parameters"]}
    assert listed == set(ListingParams.model_fields)
    assert "422" in schema["/api/anomalies"]["get"]["responses"]
    export = {p["name"] for p in schema["/api/anomalies/export"]["get"]["parameters"]}
    assert export == set(AnomalyFilters.model_fields) | {"format", "limit"}


def test_a_published_message_is_encoded_once_for_every_client(monkeypatch):
    import json

    from fusionlab.service import hub as hub_module

    hub = Hub(queue_size=10)
    queues = []
    for _ in range(3):
        client, queue = hub.connect()
        hub.subscribe(client, "jobs", Subscription())
        queues.append(queue)
    calls = []
    real_dumps = json.dumps
    monkeypatch.setattr(hub_module.json, "dumps", lambda v: calls.append(v) or real_dumps(v))
    message = {"type": "job_update", "data": {"job_id": "j1", "progress": 0.5}}
    assert hub.publish("jobs", message) == 3
    texts = [encode(asyncio.run(q.get())[0]) for q in queues]
    assert texts == [real_dumps(message)] * 3 and len(calls) == 1
    assert encode({"type": "pong"}) == '{"type": "pong"}'
    assert isinstance(Outgoing(message), dict) and Outgoing(message) == message


def test_sqlite_reads_map_the_file_for_listings_only(tmp_path):
    from sqlalchemy import text

    from fusionlab.service.db import make_engine
    from fusionlab.service.reads import Reader

    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'r.sqlite'}")
    reader = Reader(engine)

    async def pragmas():
        mapped = await reader.rows(text("PRAGMA mmap_size"))
        plain = await reader.rows(text("PRAGMA mmap_size"), bulk=True)
        only = await reader.rows(text("PRAGMA query_only"), bulk=True)
        return mapped[0][0], plain[0][0], only[0][0]

    try:
        mapped, plain, query_only = asyncio.run(pragmas())
        assert mapped > 0 and plain == 0 and query_only == 1
    finally:
        reader.close()
        asyncio.run(engine.dispose())
    with pytest.raises(ValueError, match="`threads` must be a positive integer"):
        Reader(engine, threads=0)
