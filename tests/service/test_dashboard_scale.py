"""The dashboard over 100,000 stored anomalies (SQLite), and its aggregation
routes on PostgreSQL.

The records are the ones the jobs store (:func:`~fusionlab.service.records.build_record`),
written straight into the server's tables. The page must show their counts
without downloading them: a few small JSON answers, whatever their number.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from fusionlab.service.launch import LocalServer
from fusionlab.service.records import build_record
from fusionlab.vocabulary import SERIES_ANOMALY_TYPES, SEVERITIES

from ._browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, Tab
from .conftest import need

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

MODELS = [f"mdl_fleet{i}" for i in range(5)]
FEATURES = ["cpu", "memory", "disk", "network", "latency", "errors"]
BANDS = {"low": (1.0, 1.5), "medium": (1.5, 2.5), "high": (2.5, 4.0), "critical": (4.0, 12.0)}
DAY_MS = 24 * 3600 * 1000


def fleet_records(n, seed=0):
    """``n`` (record, columns) pairs of a fleet of five models over 30 days,
    severities skewed towards low."""
    rng = np.random.default_rng(seed)
    end = int(time.time() * 1000)
    stamps = np.sort(rng.integers(end - 30 * DAY_MS, end, n))
    severities = rng.choice(SEVERITIES, n, p=[0.55, 0.25, 0.15, 0.05])
    kinds = rng.choice(SERIES_ANOMALY_TYPES, n)
    blamed = rng.integers(0, len(FEATURES), n)
    shares = rng.uniform(0.4, 0.9, n)
    starts = rng.integers(0, 1_000_000, n)
    unit = rng.uniform(size=n)
    out = []
    for i in range(n):
        low, high = BANDS[severities[i]]
        ratio = low + (high - low) * unit[i]
        stamp = int(stamps[i])
        finding = {
            "anomaly_type": str(kinds[i]), "severity": str(severities[i]),
            "score": ratio * 0.5, "mean_score": ratio * 0.4, "threshold": 0.5, "ratio": ratio,
            "timestamp": stamp, "time_unit": "ms",
            "start": pd.Timestamp(stamp - 60_000, unit="ms").isoformat(),
            "end": pd.Timestamp(stamp + 60_000, unit="ms").isoformat(),
            "start_index": int(starts[i]), "end_index": int(starts[i]) + 5,
            "top_features": [[FEATURES[blamed[i]], float(shares[i])],
                             [FEATURES[(blamed[i] + 1) % len(FEATURES)], 1 - float(shares[i])]],
            "layer_index": int(blamed[i]),
        }
        model = MODELS[i % len(MODELS)]
        out.append(build_record(finding, seq=i + 1, model_id=model, series_id=f"{model}-host",
                                dataset_id=None))
    return out


def seed_sqlite(path, records):
    """Store the records in a migrated SQLite file (one transaction)."""
    columns = list(records[0][1])
    with sqlite3.connect(path, timeout=30) as connection:
        connection.executemany(
            f"INSERT INTO anomalies ({', '.join(columns)}) VALUES "
            f"({', '.join('?' * len(columns))})",
            [tuple(c[name] for name in columns) for _, c in records])
        connection.execute("UPDATE counters SET value = ? WHERE name = 'anomaly_seq'",
                           (len(records),))


def expected(records, **where):
    chosen = [r for r, _ in records if all(r[k] in v for k, v in where.items())]
    by_severity = dict.fromkeys(SEVERITIES, 0)
    for r in chosen:
        by_severity[r["severity"]] += 1
    return chosen, by_severity


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """A server holding 100,000 anomalies, and their records."""
    server = LocalServer(tmp_path_factory.mktemp("big"))
    # the server starts (and migrates its database) while the records are built
    starting = threading.Thread(target=server.start)
    starting.start()
    try:
        records = fleet_records(100_000)
    finally:
        starting.join()
    try:
        assert server.process is not None and server.process.poll() is None, server.log_text()
        seed_sqlite(server.data_dir / "fusionlab.sqlite", records)
        yield server, records
    finally:
        server.stop()


def test_summary_of_100k_anomalies_is_quick_and_exact(big):
    big, fleet = big
    with httpx.Client(base_url=big.url, timeout=60) as http:
        http.get("/api/summary")  # warm the database's pages
        started = time.perf_counter()
        body = http.get("/api/summary", params={"buckets": 200}).json()
        seconds = time.perf_counter() - started
        _, by_severity = expected(fleet)
        assert body["total"] == 100_000 and body["by_severity"] == by_severity
        assert body["last_seq"] == 100_000 and sum(map(sum, body["time"]["counts"])) == 100_000
        assert len(body["time"]["counts"]) == 200
        assert {e["layer"] for e in body["by_layer"]} == set(FEATURES)
        assert seconds < 2.0, f"the summary of 100,000 took {seconds:.2f} s"
        chosen, by_severity = expected(fleet, severity={"critical"}, model_id={MODELS[1]})
        body = http.get("/api/summary", params={"severity": "critical",
                                                "model_id": MODELS[1]}).json()
        assert body["total"] == len(chosen) and body["by_severity"] == by_severity


def test_the_page_shows_100k_anomalies_without_downloading_them(big):
    big, fleet = big
    need("Chromium", Path(CHROMIUM).is_file(), "FUSIONLAB_REQUIRE_BROWSER")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            tab = Tab(browser, big.url)
            answers = []

            def answered(response):
                if "/api/" in response.url:
                    answers.append((response.url, len(response.body())))

            tab.page.on("response", answered)
            started = time.monotonic()
            page = tab.open()
            loaded = time.monotonic() - started
            assert page.text_content("#kpi-total") == "100,000"
            _, by_severity = expected(fleet)
            assert page.text_content("#kpi-critical") == f"{by_severity['critical']:,}"
            assert page.locator("#recent-rows tr").count() == 50
            downloaded = sum(size for _, size in answers)
            assert downloaded < 300_000, answers
            assert not any("limit=1000" in url or "export" in url for url, _ in answers)
            tab.shot("100k.png")
            # a filter is a new summary, not a download
            answers.clear()
            page.locator("label.chip[data-sev=critical]").click()
            page.wait_for_function("(v) => document.body.dataset.total == v",
                                   arg=str(by_severity["critical"]), timeout=10_000)
            assert sum(size for _, size in answers) < 300_000
            more = page.locator("#load-more")
            more.click()
            page.wait_for_function("() => document.querySelectorAll('#recent-rows tr')"
                                   ".length == 100")
            assert set(page.locator("#recent-rows tr").evaluate_all(
                "rows => rows.map(r => r.dataset.severity)")) == {"critical"}
            assert tab.errors == []
            assert loaded < 15, f"the page took {loaded:.1f} s to show 100,000 anomalies"
        finally:
            browser.close()
    assert (ARTIFACTS / "dashboard" / "100k.png").is_file()


async def _seed_postgres(url, records):
    from fusionlab.service.db import make_engine, make_sessionmaker, migrate
    from fusionlab.service.tables import AnomalyRecord, Counter

    engine = make_engine(url)
    try:
        await migrate(engine)
        async with make_sessionmaker(engine)() as session:
            await session.execute(AnomalyRecord.__table__.insert(), [c for _, c in records])
            await session.execute(Counter.__table__.update()
                                  .where(Counter.name == "anomaly_seq")
                                  .values(value=len(records)))
            await session.commit()
    finally:
        await engine.dispose()


def test_summary_and_heatmap_on_postgresql(postgres_url, tmp_path):
    records = fleet_records(3000, seed=1)
    asyncio.run(_seed_postgres(postgres_url, records))
    server = LocalServer(tmp_path / "pg", database=postgres_url).start()
    try:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            stamps = sorted(r["timestamp"] for r, _ in records)
            start, end = stamps[100], stamps[2000]
            body = http.get("/api/summary", params={"min_severity": "medium", "start": start,
                                                    "end": end, "buckets": 37}).json()
            chosen = [r for r, _ in records if r["severity"] != "low"
                      and start <= r["timestamp"] <= end]
            assert body["total"] == len(chosen) and body["last_seq"] == 3000
            width = body["time"]["bucket_ms"]
            counts = np.zeros((len(body["time"]["counts"]), 4), dtype=int)
            for r in chosen:
                counts[(r["timestamp"] - start) // width, SEVERITIES.index(r["severity"])] += 1
            assert body["time"]["counts"] == counts.tolist()
            assert [e["count"] for e in body["by_layer"]] == sorted(
                (sum(r["layer"] == f for r in chosen) for f in FEATURES), reverse=True)
            empty = http.get("/api/heatmap").json()
            assert empty["model_id"] is None and empty["starts"] == []
            assert http.get("/api/heatmap", params={"model_id": "mdl_nope"}).status_code == 404
    finally:
        server.stop()
