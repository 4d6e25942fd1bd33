"""The service on PostgreSQL (asyncpg): migrations, listing, paging, export, jobs.

Skipped without PostgreSQL, unless FUSIONLAB_REQUIRE_POSTGRES=1 (CI).
"""

from __future__ import annotations

import asyncio
import io
import json

import httpx
import pandas as pd
import pytest

from fusionlab.client import AnomalyClient
from fusionlab.service.launch import LocalServer

from .conftest import make_sheet, wait_job


@pytest.fixture
def pg_server(postgres_url, tmp_path):
    server = LocalServer(tmp_path / "data", database=postgres_url).start()
    yield server
    server.stop()


def test_the_service_works_on_postgresql(pg_server, tmp_path, postgres_url):
    sheets = [make_sheet(tmp_path / f"s{i}.xlsx", n=200, seed=i, outlier_rows=(5, 50))
              for i in range(2)]
    with httpx.Client(base_url=pg_server.url, timeout=60) as http:
        health = http.get("/health").json()
        assert health["database"] == "postgresql" and health["schema"] == "0002"
        jobs = []
        for sheet in sheets:
            with open(sheet, "rb") as handle:
                answer = http.post("/api/datasets/upload", files={"file": (sheet.name, handle)})
            assert answer.status_code == 202, answer.text
            jobs.append(answer.json())
        done = [wait_job(http, j["job_id"]) for j in jobs]
        assert all(j["status"] == "completed" for j in done), done
        total = sum(j["anomaly_count"] for j in done)
        pages, cursor = [], None
        while True:
            body = http.get("/api/anomalies", params={"limit": 4, **(
                {"cursor": cursor} if cursor else {})}).json()
            pages.extend(body["anomalies"])
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert len(pages) == len({r["id"] for r in pages}) == total
        keys = [(r["timestamp"], r["id"]) for r in pages]
        assert keys == sorted(keys, reverse=True)
        seqs = sorted(r["seq"] for r in pages)
        assert seqs == list(range(1, total + 1))  # monotone, no gap
        low = http.get("/api/anomalies", params={"severity": "low", "limit": 1000}).json()
        assert low["anomalies"] == [r for r in pages if r["severity"] == "low"]
        one = http.get("/api/anomalies", params={"dataset_id": jobs[0]["dataset_id"],
                                                 "limit": 1000}).json()["anomalies"]
        assert len(one) == done[0]["anomaly_count"]
        frame = pd.read_parquet(io.BytesIO(http.get(
            "/api/anomalies/export", params={"format": "parquet"}).content))
        assert sorted(frame["id"]) == seqs
        stats = http.get("/api/temporal/stats", params={"model_id": jobs[0]["model_id"]}).json()
        assert stats["points"] == 200 and stats["anomaly_count"] == done[0]["anomaly_count"]
        compared = http.post("/api/compare", json={
            "model_ids": [jobs[0]["model_id"], jobs[1]["model_id"]]}).json()
        assert set(compared["models"]) == {jobs[0]["model_id"], jobs[1]["model_id"]}
        assert http.get("/api/anomalies", params={"cursor": "bad"}).status_code == 400
        long_name = "x" * 280 + ".xlsx"  # longer than the name columns: cut, not a 500
        with open(sheets[0], "rb") as handle:
            answer = http.post("/api/datasets/upload", files={"file": (long_name, handle)})
        assert answer.status_code == 202, answer.text
        assert wait_job(http, answer.json()["job_id"])["status"] == "completed"
        assert http.get(f"/api/models/{answer.json()['model_id']}").json()["name"].startswith(
            "tabular xxx")
        total += http.get(f"/api/datasets/{answer.json()['dataset_id']}").json()[
            "anomaly_count"]
        http.post("/api/filter", json={"model_ids": [jobs[1]["model_id"]]})
        filtered = http.get("/api/anomalies", params={"limit": 1000}).json()["anomalies"]
        assert {r["model_id"] for r in filtered} == {jobs[1]["model_id"]}
        http.post("/api/filter", json={})

    async def replay():
        async with AnomalyClient(pg_server.url) as client:
            await client.subscribe_anomalies(since_seq=total - 3)
            got = []
            async for update in client.stream_updates(message_types=["anomaly_update"]):
                got.append(update.seq)
                if len(got) == 3:
                    return got

    assert asyncio.run(asyncio.wait_for(replay(), 60)) == [total - 2, total - 1, total]
    assert json.loads(json.dumps(total))


def test_tokens_on_postgresql(postgres_url, tmp_path):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "fusionlab.service.cli", "create-token",
                           "--scope", "read", "--database", postgres_url, "--data-dir",
                           str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    with LocalServer(tmp_path / "data", database=postgres_url) as server, httpx.Client(
            base_url=server.url) as http:
        assert http.get("/api/anomalies").status_code == 401
        assert http.get("/api/anomalies", headers={
            "Authorization": f"Bearer {token}"}).status_code == 200


def test_reads_are_read_only_and_survive_a_dropped_connection(postgres_url):
    from sqlalchemy import func, select, text
    from sqlalchemy.exc import DBAPIError

    from fusionlab.service.db import make_engine
    from fusionlab.service.reads import Reader

    name = postgres_url.rsplit("/", 1)[-1]
    pid = select(func.pg_backend_pid())

    async def scenario():
        engine = make_engine(postgres_url)
        reader = Reader(engine)
        try:
            first = (await reader.rows(pid))[0][0]
            async with engine.connect() as connection:
                # the read connection is back in the pool, not left in a transaction
                states = (await connection.execute(text(
                    "SELECT state FROM pg_stat_activity WHERE pid = :pid"), {"pid": first}
                )).scalars().all()
                assert states == ["idle"]
            with pytest.raises(DBAPIError, match="read-only"):
                await reader.rows(text("CREATE TABLE written_by_a_read (x int)"))
            # every connection to the database is killed (as a restart would)
            async with engine.connect() as connection:
                await connection.execute(text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                    f"datname = '{name}' AND pid <> pg_backend_pid()"))
                await connection.commit()
            second = (await reader.rows(pid))[0][0]
            assert second != first  # read again, on a new connection
        finally:
            await reader.aclose()
            await engine.dispose()

    asyncio.run(scenario())
