"""Benchmark of ``fusionlab serve`` on this machine, loopback only.

For SQLite and PostgreSQL (a database created for the run and dropped after):

1. 100,000 anomalies are stored (directly through the service's tables, the
   same records the jobs store) and a server is started in a child process;
2. ``GET /api/anomalies?limit=100`` from 16 concurrent clients, a bounded
   number of requests: p50/p95 latency and requests per second; the same
   filtered by severity and a time range (and a deep page by cursor);
3. the export of all 100,000 as CSV and as Parquet, streamed: seconds and
   the growth of the server's resident memory (sampled every 20 ms);
4. (SQLite) the upload of a 10,000-row ``.xlsx`` to a completed scan job;
5. (both) ``kill -9`` of the server during a dataset job, then a restart:
   the job is requeued and completes, and no stored anomaly is lost or
   duplicated.

Targets (issue 15): p95 <= 50 ms and >= 200 requests/s; RSS growth < 100 MB;
upload to completed job <= 30 s. Run it with ``nice -n 10 python
benchmarks/bench_service.py`` (``--quick`` for 10,000 anomalies and fewer
requests, ``--no-postgres`` to skip PostgreSQL).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import psutil
from sqlalchemy import text

from fusionlab.service.db import make_engine, make_sessionmaker, migrate, next_seq
from fusionlab.service.launch import LocalServer
from fusionlab.service.records import build_record
from fusionlab.service.tables import AnomalyRecord
from fusionlab.vocabulary import SERIES_ANOMALY_TYPES, SEVERITIES

CLIENTS = 16
MODELS = [f"mdl_bench{i}" for i in range(5)]
FEATURES = ["cpu", "memory", "disk", "network", "latency", "errors"]
START_MS = 1_704_067_200_000  # 2024-01-01
YEAR_MS = 365 * 24 * 3600 * 1000


def findings(n, seed=0):
    """``n`` findings like the jobs store: severities skewed towards low."""
    rng = np.random.default_rng(seed)
    severities = rng.choice(SEVERITIES, n, p=[0.55, 0.25, 0.15, 0.05])
    ratios = {"low": (1.0, 1.5), "medium": (1.5, 2.5), "high": (2.5, 4.0),
              "critical": (4.0, 12.0)}
    stamps = np.sort(rng.integers(START_MS, START_MS + YEAR_MS, n))
    for i in range(n):
        low, high = ratios[severities[i]]
        ratio = float(rng.uniform(low, high))
        start = int(rng.integers(0, 1_000_000))
        share = float(rng.uniform(0.4, 0.9))
        first, second = rng.choice(len(FEATURES), 2, replace=False)
        yield {
            "anomaly_type": str(rng.choice(SERIES_ANOMALY_TYPES)),
            "severity": str(severities[i]), "score": ratio * 0.5, "mean_score": ratio * 0.4,
            "threshold": 0.5, "ratio": ratio, "timestamp": int(stamps[i]), "time_unit": "ms",
            "start": pd.Timestamp(int(stamps[i]) - 60_000, unit="ms").isoformat(),
            "end": pd.Timestamp(int(stamps[i]) + 60_000, unit="ms").isoformat(),
            "start_index": start, "end_index": start + int(rng.integers(0, 20)),
            "top_features": [[FEATURES[first], share], [FEATURES[second], 1 - share]],
            "layer_index": int(first), "metadata": {"window": 32},
        }, MODELS[i % len(MODELS)]


async def seed(url, n):
    """Store ``n`` anomalies; return the seconds it took."""
    engine = make_engine(url)
    await migrate(engine)
    sessions = make_sessionmaker(engine)
    started = time.perf_counter()
    batch = []

    async def flush():
        async with sessions() as session:
            first = await next_seq(session, len(batch))
            rows = []
            for offset, (finding, model_id) in enumerate(batch):
                _, columns = build_record(finding, seq=first + offset, model_id=model_id,
                                          series_id=f"{model_id}-series", dataset_id=None)
                rows.append(columns)
            for i in range(0, len(rows), 500):
                await session.execute(AnomalyRecord.__table__.insert(), rows[i:i + 500])
            await session.commit()
        batch.clear()

    for item in findings(n):
        batch.append(item)
        if len(batch) == 5000:
            await flush()
    if batch:
        await flush()
    if engine.dialect.name == "postgresql":
        # the planner's statistics of a live table (autovacuum refreshes them
        # within a minute of a bulk insert; without them it picks a bitmap
        # scan of a whole model's records for a 100-record page)
        async with engine.begin() as connection:
            await connection.execute(text("ANALYZE anomalies"))
    await engine.dispose()
    return time.perf_counter() - started


class _Connection:
    """A minimal HTTP/1.1 keep-alive client: the load generator shares the two
    cores with the server, so it must cost little (httpx costs about as much
    per request as the server itself)."""

    def __init__(self, host, port):
        self.host, self.port = host, port
        self.reader = self.writer = None

    async def get(self, target):
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.write(f"GET {target} HTTP/1.1\r\nHost: {self.host}\r\n\r\n".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = None
        chunked = False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
            elif name.lower() == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        if chunked:
            body = b""
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
                body += await self.reader.readexactly(size + 2)
                if size == 0:
                    break
        else:
            body = await self.reader.readexactly(length or 0)
        return status, body

    def close(self):
        if self.writer is not None:
            self.writer.close()


async def load(url, path, params_list, requests, max_seconds=120.0):
    """``requests`` GETs from ``CLIENTS`` concurrent keep-alive connections
    (bounded in count and time); latency from sending to the last byte."""
    from urllib.parse import urlencode, urlsplit

    parts = urlsplit(url)
    targets = [f"{path}?{urlencode(p)}" if p else path for p in params_list]
    latencies = []
    queue = asyncio.Queue()
    for i in range(requests):
        queue.put_nowait(targets[i % len(targets)])
    deadline = time.monotonic() + max_seconds

    async def worker():
        connection = _Connection(parts.hostname, parts.port)
        try:
            while time.monotonic() < deadline:
                try:
                    target = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                started = time.perf_counter()
                status, body = await connection.get(target)
                latencies.append(time.perf_counter() - started)
                assert status == 200, body[:200]
        finally:
            connection.close()

    warm = _Connection(parts.hostname, parts.port)
    for target in targets[:20]:
        await warm.get(target)
    warm.close()
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CLIENTS)))
    elapsed = time.perf_counter() - started
    ms = np.array(latencies) * 1000
    return {"requests": len(ms), "p50_ms": float(np.percentile(ms, 50)),
            "p95_ms": float(np.percentile(ms, 95)), "req_per_s": len(ms) / elapsed}


def rss_during(pid, action):
    """(result of action(), peak RSS growth in MB) of the process ``pid``."""
    process = psutil.Process(pid)
    base = process.memory_info().rss
    peak = [base]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], process.memory_info().rss)
            time.sleep(0.02)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        result = action()
    finally:
        done.set()
        thread.join()
    return result, (peak[0] - base) / 2**20


def export(url, fmt, target):
    started = time.perf_counter()
    size = 0
    with httpx.stream("GET", f"{url}/api/anomalies/export", params={"format": fmt},
                      timeout=300) as answer, open(target, "wb") as out:
        assert answer.status_code == 200
        for chunk in answer.iter_bytes():
            size += len(chunk)
            out.write(chunk)
    return time.perf_counter() - started, size


def wait_job(http, job_id, timeout=300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = http.get(f"/api/jobs/{job_id}").json()
        if job["status"] in ("completed", "failed", "cancelled"):
            return job
        time.sleep(0.1)
    raise RuntimeError(f"job {job_id} not done after {timeout} s")


def make_xlsx(path, n, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"order_id": np.arange(n), "amount": rng.normal(100, 10, n).round(2),
                          "quantity": rng.integers(1, 10, n),
                          "country": rng.choice(["DE", "FR", "US", "JP"], n),
                          "express": rng.choice([True, False], n),
                          "date": pd.date_range("2024-01-01", periods=n, freq="h")})
    frame.loc[rng.choice(n, 20, replace=False), "amount"] = 50_000.0
    frame.to_excel(path, index=False)
    return path


def upload_to_completion(url, sheet):
    with httpx.Client(base_url=url, timeout=120) as http:
        started = time.perf_counter()
        with open(sheet, "rb") as handle:
            answer = http.post("/api/datasets/upload", files={"file": (sheet.name, handle)})
        assert answer.status_code == 202, answer.text
        job = wait_job(http, answer.json()["job_id"])
        return time.perf_counter() - started, job


def crash_scenario(folder, database, sheet):
    server = LocalServer(folder, database=database).start()
    port = server.port
    with httpx.Client(base_url=server.url, timeout=60) as http:
        before = len(http.get("/api/anomalies/export", params={"format": "json"}).json())
        with open(sheet, "rb") as handle:
            answer = http.post("/api/datasets/upload", files={"file": (sheet.name, handle)},
                               data={"params": '{"random_state": 0}'}).json()
        deadline = time.monotonic() + 60
        while http.get(f"/api/jobs/{answer['job_id']}").json()["status"] != "processing":
            assert time.monotonic() < deadline
            time.sleep(0.02)
    server.kill()
    started = time.perf_counter()
    restarted = LocalServer(folder, port=port, database=database).start()
    try:
        with httpx.Client(base_url=restarted.url, timeout=300) as http:
            job = wait_job(http, answer["job_id"])
            everything = http.get("/api/anomalies/export", params={"format": "json"},
                                  timeout=300).json()
        ids = [r["id"] for r in everything]
        mine = [r for r in everything if r["dataset_id"] == answer["dataset_id"]]
        rows = [r["location"]["row_index"] for r in mine]
        return {"status": job["status"], "attempts": job["attempts"],
                "restart_to_done_s": time.perf_counter() - started,
                "stored_for_job": len(mine), "job_anomaly_count": job["anomaly_count"],
                "duplicates": len(ids) - len(set(ids)) + len(rows) - len(set(rows)),
                "others_kept": len(everything) - len(mine) == before}
    finally:
        restarted.stop()
        server.stop()


def run_backend(name, database, folder, n, requests, sheet10k, crash_sheet):
    print(f"\n== {name} ==", flush=True)
    url = database or f"sqlite+aiosqlite:///{folder / 'fusionlab.sqlite'}"
    print(f"stored {n} anomalies in {asyncio.run(seed(url, n)):.1f} s", flush=True)
    server = LocalServer(folder, database=database, args=["--max-rows", "2000000"]).start()
    results = {}
    try:
        plain = [{"limit": 100}]
        filtered = [{"limit": 100, "severity": "high", "start": str(START_MS + k * YEAR_MS // 12),
                     "end": str(START_MS + (k + 1) * YEAR_MS // 12)} for k in range(12)]
        by_model = [{"limit": 100, "model_id": m, "min_severity": "medium"} for m in MODELS]
        for label, params in (("limit=100", plain), ("severity+time", filtered),
                              ("model+min_severity", by_model)):
            stats = asyncio.run(load(server.url, "/api/anomalies", params, requests))
            results[label] = stats
            print(f"GET /api/anomalies {label:20s}: {stats['requests']} requests, "
                  f"p50 {stats['p50_ms']:.1f} ms, p95 {stats['p95_ms']:.1f} ms, "
                  f"{stats['req_per_s']:.0f} req/s", flush=True)
        cursor = httpx.get(f"{server.url}/api/anomalies", params={"limit": 100}).json()
        for _ in range(min(200, n // 100 - 2)):  # a deep page
            cursor = httpx.get(f"{server.url}/api/anomalies", params={
                "limit": 100, "cursor": cursor["next_cursor"]}).json()
        deep = [{"limit": 100, "cursor": cursor["next_cursor"]}]
        stats = asyncio.run(load(server.url, "/api/anomalies", deep, requests // 2))
        print(f"GET /api/anomalies page 200 (cursor)  : p95 {stats['p95_ms']:.1f} ms, "
              f"{stats['req_per_s']:.0f} req/s", flush=True)
        for fmt in ("csv", "parquet"):
            # a first small export loads the writer (pyarrow for Parquet):
            # measured apart, so the growth below is that of streaming
            _, warm = rss_during(server.process.pid, lambda f=fmt: httpx.get(
                f"{server.url}/api/anomalies/export", params={"format": f, "limit": 10}))
            print(f"export {fmt:8s}: first 10-record export grew RSS by {warm:.1f} MB",
                  flush=True)
            (seconds, size), growth = rss_during(
                server.process.pid, lambda f=fmt: export(server.url, f, folder / f"all.{f}"))
            rows = len(pd.read_csv(folder / "all.csv")) if fmt == "csv" else len(
                pd.read_parquet(folder / "all.parquet"))
            print(f"export {fmt:8s}: {rows} records, {size / 2**20:.1f} MB in {seconds:.1f} s, "
                  f"server RSS growth {growth:.1f} MB", flush=True)
            results[f"export_{fmt}"] = {"seconds": seconds, "rss_mb": growth, "rows": rows}
        if sheet10k is not None:
            seconds, job = upload_to_completion(server.url, sheet10k)
            print(f"upload 10,000-row .xlsx to completed job: {seconds:.1f} s "
                  f"({job['status']}, {job['anomaly_count']} anomalous rows)", flush=True)
            results["upload_10k_xlsx_s"] = seconds
    finally:
        server.stop()
    crash = crash_scenario(folder, database, crash_sheet)
    print(f"kill -9 during a job, restart: {crash}", flush=True)
    results["crash"] = crash
    return results


async def _pg(statement):
    import asyncpg

    connection = await asyncpg.connect(host="127.0.0.1", user="postgres", database="test")
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args(argv)
    n = 10_000 if args.quick else 100_000
    requests = 400 if args.quick else 2000
    root = Path(tempfile.mkdtemp(prefix="fusionlab-bench-"))
    print(f"{os.cpu_count()} CPUs, python {sys.version.split()[0]}; {n} anomalies, "
          f"{CLIENTS} concurrent clients, {requests} requests per scenario", flush=True)
    try:
        sheet10k = make_xlsx(root / "orders-10k.xlsx", 10_000)
        crash_sheet = make_xlsx(root / "orders-2k.xlsx", 2_000, seed=1)
        run_backend("SQLite", None, root / "sqlite", n, requests, sheet10k, crash_sheet)
        if not args.no_postgres:
            name = f"fusionlab_bench_{secrets.token_hex(4)}"
            asyncio.run(_pg(f'CREATE DATABASE "{name}"'))
            try:
                run_backend("PostgreSQL", f"postgresql+asyncpg://postgres@127.0.0.1/{name}",
                            root / "postgres", n, requests, None, crash_sheet)
            finally:
                asyncio.run(_pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print("\n(p50/p95 include the load generator's own time; it shares the machine.)")


if __name__ == "__main__":
    main()
