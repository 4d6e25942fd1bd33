"""Fixtures of the service tests: real servers on free loopback ports, small files.

PostgreSQL tests create their own database (``fusionlab_test_<random>``) and
drop it afterwards; they skip when PostgreSQL is unreachable, unless
``FUSIONLAB_REQUIRE_POSTGRES=1`` (set by ``.ci/run``) makes that a failure.
Likewise Redis for the Celery runner with ``FUSIONLAB_REQUIRE_REDIS=1``.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import time

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

import httpx  # noqa: E402

from fusionlab.service.launch import LocalServer  # noqa: E402

PG_HOST = os.environ.get("FUSIONLAB_TEST_PG_HOST", "127.0.0.1")
PG_USER = os.environ.get("FUSIONLAB_TEST_PG_USER", "postgres")
REDIS_URL = os.environ.get("FUSIONLAB_TEST_REDIS", "redis://127.0.0.1:6379/0")


def reachable(host, port) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def need(service: str, ok: bool, variable: str):
    """Skip without ``service``, or fail when ``variable`` says it is required."""
    if ok:
        return
    if os.environ.get(variable) == "1":
        pytest.fail(f"{service} is required here ({variable}=1) but is not reachable.")
    pytest.skip(f"{service} is not reachable")


def make_sheet(path, n=300, seed=0, outlier_rows=(7,)):
    """A small workbook: normal amounts and shops, a few absurd amounts."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"amount": rng.normal(100, 5, n).round(2),
                          "quantity": rng.integers(1, 5, n),
                          "shop": rng.choice(["north", "south"], n)})
    for row in outlier_rows:
        frame.loc[row, "amount"] = 10_000.0
    frame.to_excel(path, index=False, sheet_name="sales")
    return path


def make_series(path, n=480, seed=0):
    """A two-feature sine series with a labelled bump at 300-305, minutes apart."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    a = np.sin(2 * np.pi * t / 24) + rng.normal(0, 0.05, n)
    b = np.cos(2 * np.pi * t / 24) + rng.normal(0, 0.05, n)
    a[300:306] += 4.0
    label = ((t >= 300) & (t < 306)).astype(int)
    pd.DataFrame({"time": pd.date_range("2024-01-01", periods=n, freq="min"),
                  "a": a, "b": b, "label": label}).to_csv(path, index=False)
    return path


def wait_job(http: httpx.Client, job_id: str, timeout=180.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = http.get(f"/api/jobs/{job_id}").json()
        if job["status"] in ("completed", "failed", "cancelled"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} not done after {timeout} s: {job}")


@pytest.fixture(scope="session")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("files")
    return {"sheet": make_sheet(folder / "sales.xlsx"),
            "series": make_series(folder / "series.csv"),
            "folder": folder}


@pytest.fixture(scope="session")
def detector_archive(files):
    """A tiny fitted detector saved with AnomalyDetector.save."""
    from fusionlab.detection import AnomalyDetector

    frame = pd.read_csv(files["series"])
    det = AnomalyDetector(model="conv_autoencoder", window=16, epochs=1, robust=False,
                          random_state=0).fit(frame[["a", "b"]])
    path = files["folder"] / "detector.zip"
    det.save(path)
    return path


def start_server(folder, **kwargs) -> LocalServer:
    return LocalServer(folder, **kwargs).start()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A server on SQLite, for the module."""
    srv = start_server(tmp_path_factory.mktemp("server"),
                       args=["--max-upload-mb", "2", "--max-rows", "1000"])
    yield srv
    srv.stop()


@pytest.fixture
def http(server):
    with httpx.Client(base_url=server.url, timeout=60) as client:
        yield client


async def _pg(statement):
    import asyncpg

    connection = await asyncpg.connect(host=PG_HOST, user=PG_USER, database="test")
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture
def postgres_url():
    """A fresh PostgreSQL database for the module, dropped afterwards."""
    need("PostgreSQL", reachable(PG_HOST, 5432), "FUSIONLAB_REQUIRE_POSTGRES")
    pytest.importorskip("asyncpg")
    name = f"fusionlab_test_{secrets.token_hex(4)}"
    asyncio.run(_pg(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:5432/{name}"
    finally:
        asyncio.run(_pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
