"""The Celery job runner against the real Redis (a worker in a child process).

Skipped without Redis or Celery, unless FUSIONLAB_REQUIRE_REDIS=1 (CI).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys

import httpx
import pandas as pd
import pytest

from fusionlab.service.launch import LocalServer

from .conftest import REDIS_URL, make_sheet, need, reachable, wait_job


@pytest.fixture(scope="module")
def celery_server(tmp_path_factory):
    need("Redis", reachable("127.0.0.1", 6379), "FUSIONLAB_REQUIRE_REDIS")
    pytest.importorskip("celery")
    pytest.importorskip("redis")
    folder = tmp_path_factory.mktemp("celery")
    queue = f"fusionlab-test-{secrets.token_hex(4)}"
    env = {**os.environ, "FUSIONLAB_BROKER": REDIS_URL, "TF_CPP_MIN_LOG_LEVEL": "3"}
    log = open(folder / "worker.log", "wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "fusionlab.service.jobs.celery_app", "worker",
         "-Q", queue, "--pool", "solo", "--concurrency", "1", "--loglevel", "warning",
         "--without-gossip", "--without-mingle", "--without-heartbeat"],
        stdout=log, stderr=log, env=env, start_new_session=True)
    server = LocalServer(folder / "data", args=["--jobs", "celery", "--broker", REDIS_URL,
                                                "--celery-queue", queue]).start()
    yield server, folder
    server.stop()
    worker.terminate()
    try:
        worker.wait(20)
    except subprocess.TimeoutExpired:
        worker.kill()
    log.close()


def test_a_dataset_scan_runs_on_a_celery_worker(celery_server):
    server, folder = celery_server
    sheet = make_sheet(folder / "sheet.xlsx", n=200, seed=4, outlier_rows=(9,))
    with httpx.Client(base_url=server.url, timeout=60) as http:
        assert http.get("/health").json()["jobs"] == "celery"
        with open(sheet, "rb") as handle:
            answer = http.post("/api/datasets/upload", files={"file": ("sheet.xlsx", handle)})
        job = wait_job(http, answer.json()["job_id"], timeout=120)
        assert job["status"] == "completed", (job, (folder / "worker.log").read_text())
        rows = http.get("/api/anomalies", params={"dataset_id": answer.json()["dataset_id"],
                                                  "limit": 1000}).json()["anomalies"]
        assert len(rows) == job["anomaly_count"] > 0
        assert max(rows, key=lambda r: r["score"])["location"]["row_index"] == 9


def test_a_failing_celery_task_records_its_error(celery_server):
    server, folder = celery_server
    words = folder / "words.csv"
    pd.DataFrame({"w": ["a"] * 30}).to_csv(words, index=False)
    with httpx.Client(base_url=server.url, timeout=60) as http:
        with open(words, "rb") as handle:
            answer = http.post("/api/models", files={"series": ("words.csv", handle)},
                               data={"params": json.dumps({"model": "conv_autoencoder",
                                                           "epochs": 1})})
        job = wait_job(http, answer.json()["job_id"], timeout=120)
        assert job["status"] == "failed" and "no numeric column" in job["error_message"]
        assert http.get("/api/anomalies", params={"dataset_id": answer.json()["dataset_id"]}
                        ).json()["anomalies"] == []
