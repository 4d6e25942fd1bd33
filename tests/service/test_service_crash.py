"""A server killed (kill -9) during a dataset job, then restarted."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import httpx
import pandas as pd
import pytest

from fusionlab.client import AnomalyClient, AnomalyUpdate
from fusionlab.service.launch import LocalServer
from fusionlab.tabular import TabularAnomalyDetector, read_table

from .conftest import make_sheet, wait_job


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request):
    """None (SQLite in the data folder) or a fresh PostgreSQL database's URL."""
    if request.param == "sqlite":
        return None
    return request.getfixturevalue("postgres_url")


def test_kill_9_during_a_job_then_restart_requeues_it_and_loses_nothing(tmp_path, database):
    sheet = make_sheet(tmp_path / "sheet.xlsx", n=400, seed=3, outlier_rows=(10, 200, 333))
    expected = TabularAnomalyDetector(method="isolation_forest", random_state=0).fit(
        read_table(sheet)).detect_anomalies(read_table(sheet))
    expected_rows = sorted(a["row_index"] for a in expected)
    server = LocalServer(tmp_path / "data", database=database).start()
    port = server.port

    async def scenario():
        client = AnomalyClient(server.url, reconnect_delay=0.2, max_retries=60)
        await client.subscribe_anomalies()
        answer = await client.upload_dataset(sheet, method="isolation_forest", random_state=0)
        # wait until a worker has the job, then crash the server
        deadline = time.monotonic() + 60
        while (await client.get_job(answer["job_id"])).status != "processing":
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        server.kill()
        assert server.process.returncode == -signal.SIGKILL
        restarted = await asyncio.to_thread(LocalServer(
            tmp_path / "data", port=port, database=database).start)
        received = []

        async def collect():
            async for update in client.stream_updates(message_types=["anomaly_update"]):
                assert isinstance(update, AnomalyUpdate)
                received.append(update)
                if len(received) == len(expected_rows):
                    return

        await asyncio.wait_for(collect(), 120)
        reconnects = client._stream.reconnects
        await client.disconnect()
        return restarted, answer, received, reconnects

    try:
        restarted, answer, received, reconnects = asyncio.run(scenario())
        with httpx.Client(base_url=restarted.url, timeout=30) as http:
            job = wait_job(http, answer["job_id"])
            assert job["status"] == "completed" and job["attempts"] == 2
            stored = http.get("/api/anomalies", params={
                "dataset_id": answer["dataset_id"], "limit": 1000}).json()["anomalies"]
            dataset = http.get(f"/api/datasets/{answer['dataset_id']}").json()
            everything = http.get("/api/anomalies/export", params={"format": "json"}).json()
        rows = sorted(r["location"]["row_index"] for r in stored)
        assert rows == expected_rows  # none lost, none twice
        assert len(everything) == len(stored) == job["anomaly_count"] == dataset[
            "anomaly_count"]
        assert len({r["id"] for r in everything}) == len(everything)
        # the subscribed client reconnected by itself and got each of them once
        assert reconnects >= 1
        assert sorted(u.anomalies[0].location["row_index"] for u in received) == expected_rows
        assert len({u.seq for u in received}) == len(received)
        restarted.stop()
    finally:
        server.stop()
        if server.process is not None:
            try:
                os.killpg(server.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    log = (tmp_path / "data" / "server.log").read_text()
    assert "requeued 1 job(s) left processing" in log
    assert pd.notna(job["finished_at"])
