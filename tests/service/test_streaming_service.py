"""Online scoring in the server: REST and WebSocket ingest, updates, heatmap, webhook, restarts.

Real servers (uvicorn in a child process) on loopback ports, SQLite and
PostgreSQL; the detector is a tiny one fitted here and uploaded as an
archive, so the stored records can be compared with its ``detect``.
"""

from __future__ import annotations

import asyncio
import json
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import numpy as np
import pandas as pd
import pytest

from fusionlab.client import AnomalyClient, AnomalyUpdate, Message, ServiceError
from fusionlab.detection import AnomalyDetector
from fusionlab.service.launch import LocalServer
from fusionlab.service.streams import IngestError, parse_points
from fusionlab.service.webhook import ZERO_TIME, alertmanager_payload

from .conftest import wait_job

PARAMS = set(AnomalyDetector().get_params())
START = pd.Timestamp("2024-01-01")


def run(coro, timeout=240):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def make_data(n=720, seed=0):
    """Two features a minute apart: a spike at 300, a growing excursion at 500-530."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    x = np.column_stack([np.sin(2 * np.pi * t / 24), np.cos(2 * np.pi * t / 24)])
    x += rng.normal(0, 0.05, x.shape)
    x[300:303, 0] += 3.0
    x[500:530, 1] += np.linspace(0.5, 4.0, 30)
    return pd.DataFrame(x, columns=["a", "b"], index=pd.date_range(START, periods=n,
                                                                     freq="min"))


def fit(frame, **kw):
    base = dict(model="conv_autoencoder", window=16, epochs=2, robust=False,
                validation_split=0.0, random_state=0,
                model_params={"filters": (8,), "latent_channels": 4})
    base.update(kw)
    return AnomalyDetector(**{k: v for k, v in base.items() if k in PARAMS}).fit(frame)


def ms(index):
    return [int(v) for v in index.as_unit("ms").asi8]


def points(frame, lo=0, hi=None):
    part = frame.iloc[lo:hi]
    return [{"timestamp": t, "values": [float(a), float(b)]}
            for t, (a, b) in zip(ms(part.index), part.to_numpy(), strict=True)]


def upload(http, archive):
    with open(archive, "rb") as handle:
        answer = http.post("/api/models", files={"file": ("detector.zip", handle,
                                                          "application/zip")})
    assert answer.status_code == 202, answer.text
    assert wait_job(http, answer.json()["job_id"])["status"] == "completed"
    return answer.json()["model_id"]


def series_records(http, series_id):
    out, cursor = [], None
    while True:
        page = http.get("/api/anomalies", params={"series_id": series_id, "limit": 1000,
                                                  **({"cursor": cursor} if cursor else {})})
        body = page.json()
        out += body["anomalies"]
        cursor = body["next_cursor"]
        if cursor is None:
            return sorted(out, key=lambda r: r["location"]["start_index"])


def assert_records_are_detects(records, detector, frame):
    final = [r for r in records if not r["metadata"].get("withdrawn")]
    assert all(r["metadata"]["interim"] is False for r in final)
    events = detector.detect(frame)
    assert [(r["location"]["start_index"], r["location"]["end_index"], r["severity"],
             r["anomaly_type"]) for r in final] == [
        (e.start_index, e.end_index, e.severity, e.anomaly_type) for e in events]
    for record, event in zip(final, events, strict=True):
        assert record["location"]["start"] == event.start.isoformat()
        np.testing.assert_allclose(record["score"], event.peak_score, rtol=1e-6)
        # the point of the peak score, among the event's flagged points
        first, last = event.metadata["flagged_start_index"], event.metadata["flagged_end_index"]
        peak = first + int(np.argmax(detector.score_samples(frame).to_numpy()[first:last + 1]))
        assert record["timestamp"] == ms(frame.index[[peak]])[0]
        assert record["metadata"]["time_unit"] == "ms" and record["series_id"]


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("stream")
    frame = make_data()
    detector = fit(frame.iloc[:240])
    archive = folder / "detector.zip"
    detector.save(archive)
    return detector, frame, archive


@pytest.fixture(scope="module")
def live(tmp_path_factory, fitted):
    """A server with the detector uploaded; interim alerts from medium on."""
    detector, frame, archive = fitted
    server = LocalServer(tmp_path_factory.mktemp("live"),
                         args=["--stream-min-severity", "medium", "--stream-max-series",
                               "3"]).start()
    with httpx.Client(base_url=server.url, timeout=120) as http:
        model_id = upload(http, archive)
    yield server, model_id
    server.stop()


# --------------------------------------------------------------------------- units
def test_points_are_read_in_every_accepted_shape_and_bad_ones_named():
    names = ["a", "b"]
    values, stamps = parse_points({"points": [{"timestamp": 60_000, "values": [1, 2.5]},
                                              {"timestamp": "1970-01-01T00:02:00Z",
                                               "values": {"b": None, "a": 3}}]}, names, 10)
    assert values.tolist()[0] == [1.0, 2.5] and np.isnan(values[1, 1]) and values[1, 0] == 3
    assert stamps.tolist() == [60_000, 120_000]
    values, stamps = parse_points({"values": [[1, 2], [3, 4]], "timestamps": [1, 2]}, names, 10)
    assert values.shape == (2, 2) and stamps.tolist() == [1, 2]
    assert parse_points({"points": [[1, 2]]}, names, 10)[1] is None
    for body, status, words in [
        ({"points": []}, 422, "non-empty"),
        ({"points": [[1, 2]] * 11}, 413, "at most 10"),
        ({"points": [[1]]}, 422, r"points\[0\]\.values must hold 2"),
        ({"points": [[1, True]]}, 422, r"values\[1\] must be a number"),
        ({"points": [{"values": {"a": 1, "c": 2}}]}, 422, "must name the features"),
        ({"points": [{"timestamp": "yesterday", "values": [1, 2]}]}, 422, "ISO 8601"),
        ({"points": [{"timestamp": 1, "values": [1, 2]}, [1, 2]]}, 422, "every point"),
        ({"points": [{"time": 1, "values": [1, 2]}]}, 422, "unknown field"),
        ({"values": [[1, 2]], "timestamps": [1, 2]}, 422, "one time per row"),
    ]:
        with pytest.raises(IngestError, match=words) as caught:
            parse_points(body, names, 10)
        assert caught.value.status == status


def test_alertmanager_payload_is_version_4():
    record = {"id": 7, "seq": 9, "severity": "high", "anomaly_type": "spike", "model_id": "m",
              "series_id": "s", "score": 2.0, "timestamp": 60_000, "description": "High spike",
              "metadata": {"threshold": 0.5, "interim": True}}
    from fusionlab.service.webhook import alertmanager_alert

    firing = alertmanager_alert(record, "firing", "fired", "http://x")
    resolved = alertmanager_alert(record, "resolved", "final", "http://x", 0, 120_000)
    assert firing["endsAt"] == ZERO_TIME and resolved["endsAt"] == "1970-01-01T00:02:00Z"
    assert firing["fingerprint"] == resolved["fingerprint"]
    assert firing["labels"] == {"alertname": "FusionlabAnomaly", "severity": "high",
                                "model_id": "m", "series_id": "s", "anomaly_type": "spike"}
    body = alertmanager_payload([firing], "http://x")
    assert body["version"] == "4" and body["status"] == "firing"
    assert set(body) >= {"receiver", "groupLabels", "commonLabels", "commonAnnotations",
                         "externalURL", "groupKey", "truncatedAlerts", "alerts"}
    assert firing["generatorURL"] == "http://x/api/anomalies/7"


def test_a_database_of_the_first_schema_is_upgraded(tmp_path):
    from alembic import command
    from sqlalchemy import text

    from fusionlab.service.db import (
        _alembic_config,
        check_version,
        head_revision,
        make_engine,
        migrate,
    )

    async def go():
        engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
        try:
            def first(connection):
                config = _alembic_config()
                config.attributes["connection"] = connection
                command.upgrade(config, "0001")

            async with engine.begin() as connection:
                await connection.run_sync(first)
                await connection.execute(text(
                    "INSERT INTO series (id, n_points, updated_at) VALUES ('old', 5, 0)"))
            assert await migrate(engine) == head_revision() == "0002"
            assert await check_version(engine) == "0002"
            async with engine.connect() as connection:
                row = (await connection.execute(text(
                    "SELECT id, n_points, model_version, state_arrays FROM series"))).one()
            assert tuple(row) == ("old", 5, 0, None)
        finally:
            await engine.dispose()

    asyncio.run(go())


# ------------------------------------------------------------------------- REST
def test_rest_pushes_store_the_records_of_detect(live, fitted):
    server, model_id = live
    detector, frame, _ = fitted
    with httpx.Client(base_url=server.url, timeout=120) as http:
        first = http.post("/api/series/plant/points",
                          json={"model_id": model_id, "points": points(frame, 0, 40),
                                "include_scores": True})
        assert first.status_code == 200, first.text
        body = first.json()
        assert body["accepted"] == 40 and body["n_points"] == 40 and body["errors"] == []
        assert body["final_points"] == 40 - body["delay"]
        streamed = list(body["scores"]["scores"])
        interim_seen = False
        for lo in range(40, len(frame), 40):
            answer = http.post("/api/series/plant/points",
                               json={"points": points(frame, lo, lo + 40),
                                     "include_scores": True}).json()
            streamed += answer.get("scores", {}).get("scores", [])
            interim_seen |= any(r["metadata"]["interim"] for r in answer["anomalies"])
        assert interim_seen  # an alert came before its event closed
        live_view = http.get("/api/series/plant").json()
        assert live_view["n_points"] == len(frame) and live_view["model_id"] == model_id
        assert live_view["last_timestamp"] == ms(frame.index[-1:])[0]
        ended = http.delete("/api/series/plant").json()
        records = series_records(http, "plant")
        assert http.get("/api/series/plant").status_code == 404
    expected = detector.score_samples(frame).to_numpy()
    np.testing.assert_allclose(streamed, expected[:len(streamed)], rtol=1e-6,
                               atol=1e-6 * detector.threshold_)
    assert len(streamed) == len(frame) - body["delay"]
    assert_records_are_detects(records, detector, frame)
    assert len({r["id"] for r in records}) == len(records)
    assert all(r["model_id"] == model_id for r in records + ended["anomalies"])
    # an interim record was made final in place: the same id, a later seq
    alerted = [r for r in records if r["metadata"].get("alert_id") is not None]
    assert alerted and all(r["metadata"]["reason"] in ("final", "withdrawn") for r in alerted)
    assert any(r["seq"] > r["id"] for r in alerted)
    assert all(r["seq"] >= r["id"] for r in records)


def test_bad_pushes_are_refused_with_what_was_wrong(live, fitted):
    server, model_id = live
    _, frame, _ = fitted
    with httpx.Client(base_url=server.url, timeout=120) as http:
        def push(series_id, body):
            return http.post(f"/api/series/{series_id}/points", json=body)

        answer = push("nobody", {"points": points(frame, 0, 3)})
        assert answer.status_code == 404 and "give `model_id`" in answer.json()["detail"]
        answer = push("x", {"model_id": "mdl_000000000000", "points": points(frame, 0, 3)})
        assert answer.status_code == 404 and "No model" in answer.json()["detail"]
        answer = push("x", {"model_id": model_id, "points": [{"values": [1.0]}]})
        assert answer.status_code == 422 and "must hold 2" in answer.json()["detail"]
        assert http.post("/api/series/x/points", content=b"{not json").status_code == 422
        assert push("x", {"model_id": model_id, "points": points(frame, 0, 3),
                          "extra": 1}).status_code == 422
        # the good points go on, each bad one is named
        good = points(frame, 0, 60)
        messy = good[:30] + [good[10]] + [{"timestamp": good[30]["timestamp"],
                                           "values": [None, 1.0]}] + good[31:]
        answer = push("x", {"model_id": model_id, "points": messy}).json()
        assert [(e["code"], e["position"]) for e in answer["errors"]] == [
            ("duplicate_timestamp", 30), ("non_finite", 31)]
        assert answer["accepted"] == 59 and answer["n_points"] == 59
        again = push("x", {"points": good[50:60]}).json()
        assert again["accepted"] == 0 and {e["code"] for e in again["errors"]} <= {
            "out_of_order", "duplicate_timestamp"}
        answer = push("x", {"points": [[1.0, 2.0]]})
        assert answer.status_code == 422 and "with timestamps" in answer.json()["detail"]
        other = push("x", {"model_id": "mdl_other0000000", "points": good[:1]})
        assert other.status_code == 409 and "scored by model" in other.json()["detail"]
        assert http.delete("/api/series/never").status_code == 404
        # at most 3 live series of a model in memory (--stream-max-series 3)
        for name in ("m1", "m2"):
            assert push(name, {"model_id": model_id, "points": good[:5]}).status_code == 200
        full = push("m3", {"model_id": model_id, "points": good[:5]})
        assert full.status_code == 503 and "max_series" in full.json()["detail"]
        big = http.post("/api/series/x/points", content=b" " * (5 * 2**20 + 1))
        assert big.status_code == 413 and "the most a push" in big.json()["detail"]
        for name in ("x", "m1", "m2"):
            assert http.delete(f"/api/series/{name}").status_code == 200
        assert push("m3", {"model_id": model_id, "points": good[:5]}).status_code == 200
        http.delete("/api/series/m3")


# ----------------------------------------------------------------- WebSocket
def test_websocket_ingest_and_subscribers(live, fitted):
    server, model_id = live
    detector, frame, _ = fitted
    threshold = detector.threshold_
    explained = detector.explain(frame).to_numpy() / threshold

    async def scenario():
        high = AnomalyClient(server.url)
        others = AnomalyClient(server.url)
        heat = AnomalyClient(server.url)
        pusher = AnomalyClient(server.url)
        await high.subscribe_anomalies(min_severity="high")
        await others.subscribe_anomalies(model_ids=["mdl_somebody_else"])
        await heat.subscribe_heatmap(model_ids=[model_id])
        got_high, got_heat, got_other = [], [], []

        async def read(client, out, kinds):
            async for update in client.stream_updates(message_types=kinds):
                out.append(update)

        readers = [asyncio.create_task(read(high, got_high, ["anomaly_update"])),
                   asyncio.create_task(read(others, got_other, ["anomaly_update"])),
                   asyncio.create_task(read(heat, got_heat, ["heatmap_update"]))]
        answers = []
        for lo in range(0, len(frame), 60):
            answers.append(await pusher.ingest("ws-plant", frame.iloc[lo:lo + 60],
                                               model_id=model_id if lo == 0 else None))
        with pytest.raises(ServiceError, match="must hold 2"):
            await pusher.ingest("ws-plant", [{"timestamp": 1, "values": [1.0]}])
        await pusher.end_series("ws-plant")
        await asyncio.sleep(1.0)
        for task in readers:
            task.cancel()
        for client in (high, others, heat, pusher):
            await client.disconnect()
        return answers, got_high, got_heat, got_other

    answers, got_high, got_heat, got_other = run(scenario())
    assert sum(a["accepted"] for a in answers) == len(frame)
    assert got_other == []  # filtered by model_ids
    assert got_high and all(isinstance(u, AnomalyUpdate) for u in got_high)
    assert all(u.severity >= "high" for u in got_high)
    by_id = {}
    for update in got_high:
        by_id.setdefault(update.anomalies[0].id, []).append(update)
    # interim first, final last, for the same stored record
    assert any(len(v) > 1 and v[0].interim and not v[-1].interim for v in by_id.values())
    seqs = [u.seq for u in got_high]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    # heatmap: per-feature intensities of the latest final points (score / threshold)
    assert got_heat and all(isinstance(m, Message) for m in got_heat)
    for message in got_heat:
        final = message.data["final"]
        if final is None:
            continue
        rows = np.asarray(final["intensities"])
        lo = final["start_index"]
        assert rows.shape[1] == 2 and message.data["feature_names"] == ["a", "b"]
        np.testing.assert_allclose(rows, explained[lo:lo + len(rows)], rtol=1e-4, atol=1e-5)
        assert final["time"][0] == ms(frame.index[[lo]])[0]


def test_slow_client_loses_no_high_or_critical_and_since_seq_fills_the_gaps(tmp_path, fitted):
    detector, frame, archive = fitted
    # many events: a low threshold and little smoothing; a queue of 5 messages for each client
    noisy = fit(frame.iloc[:240], contamination=0.3, smoothing=0.015)
    noisy.save(tmp_path / "noisy.zip")
    server = LocalServer(tmp_path / "data", args=["--ws-queue-size", "5",
                                                  "--stream-min-severity", "low"]).start()
    try:
        with httpx.Client(base_url=server.url, timeout=120) as http:
            model_id = upload(http, tmp_path / "noisy.zip")
        big = make_data(3000, seed=3)
        big.iloc[1000:1010, 0] += 4.0
        big.iloc[2000:2030, 1] += 3.0

        async def scenario():
            import socket

            import websockets

            # the slow client: a tiny receive buffer, and it does not read for a while
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.connect(("127.0.0.1", server.port))
            slow = await websockets.connect(f"ws://127.0.0.1:{server.port}/ws", sock=sock,
                                            max_queue=1, max_size=2**24)
            await slow.send(json.dumps({"type": "subscribe_anomalies", "data": {}, "id": "s"}))
            reference = AnomalyClient(server.url)
            await reference.subscribe_anomalies()
            seen = []

            async def read_all():
                async for update in reference.stream_updates(message_types=["anomaly_update"]):
                    seen.append(update)

            reader = asyncio.create_task(read_all())
            pusher = AnomalyClient(server.url)
            for lo in range(0, len(big), 100):
                await pusher.push_points("busy", big.iloc[lo:lo + 100],
                                         model_id=model_id if lo == 0 else None)
            await pusher.end_series("busy")
            await asyncio.sleep(1.5)
            received = []
            while True:  # now the slow client reads everything it was sent
                try:
                    received.append(json.loads(await asyncio.wait_for(slow.recv(), 3.0)))
                except (asyncio.TimeoutError, websockets.ConnectionClosed):
                    break
            await slow.close()
            reader.cancel()
            last_seq = max([m["seq"] for m in received if m["type"] == "anomaly_update"],
                           default=0)
            # a reconnecting client asks for what it missed
            again = AnomalyClient(server.url)
            await again.subscribe_anomalies(since_seq=0)
            replay = []

            async def read_replay():
                async for update in again.stream_updates(message_types=["anomaly_update"]):
                    replay.append(update)

            task = asyncio.create_task(read_replay())
            await asyncio.sleep(3.0)
            task.cancel()
            for client in (reference, pusher, again):
                await client.disconnect()
            return received, seen, replay, last_seq

        received, seen, replay, last_seq = run(scenario(), timeout=400)
        with httpx.Client(base_url=server.url, timeout=120) as http:
            stored = series_records(http, "busy")
    finally:
        server.stop()
    updates = [m for m in received if m["type"] == "anomaly_update"]
    lagged = [m for m in received if m["type"] == "lagged"]
    assert lagged and sum(m["data"]["dropped"] for m in lagged) > 0  # it was too slow
    sent_high = {u.seq for u in seen if u.severity >= "high"}
    got = {m["seq"] for m in updates}
    assert sent_high and sent_high <= got  # every high/critical message reached it
    # the replay from since_seq gives every stored record at its latest version
    assert {u.anomalies[0].id for u in replay} == {r["id"] for r in stored}
    assert {u.seq for u in replay} == {r["seq"] for r in stored}


# ------------------------------------------------------------------------ webhook
class _Receiver(BaseHTTPRequestHandler):
    bodies: list = []

    def do_POST(self):  # noqa: N802 - the http.server name
        length = int(self.headers["Content-Length"])
        type(self).bodies.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_webhook_posts_firing_then_resolved_in_alertmanager_format(tmp_path, fitted):
    detector, frame, archive = fitted
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    _Receiver.bodies = []
    thread = threading.Thread(target=receiver.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{receiver.server_address[1]}/alerts"
    server = LocalServer(tmp_path / "data", args=["--webhook", url]).start()
    try:
        with httpx.Client(base_url=server.url, timeout=120) as http:
            model_id = upload(http, archive)
            for lo in range(0, len(frame), 90):
                body = {"points": points(frame, lo, lo + 90)}
                if lo == 0:
                    body["model_id"] = model_id
                assert http.post("/api/series/pump/points", json=body).status_code == 200
            http.delete("/api/series/pump")
            stored = {r["id"]: r for r in series_records(http, "pump")}
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any(
                b["status"] == "resolved" for b in _Receiver.bodies):
            time.sleep(0.2)
    finally:
        server.stop()
        receiver.shutdown()
    alerts = [a for body in _Receiver.bodies for a in body["alerts"]]
    assert all(b["version"] == "4" and b["receiver"] for b in _Receiver.bodies)
    high = [e for e in detector.detect(frame) if e.severity in ("high", "critical")]
    assert high
    by_print = {}
    for alert in alerts:
        by_print.setdefault(alert["fingerprint"], []).append(alert)
    assert len(by_print) == len(high)
    for chain in by_print.values():
        assert chain[0]["status"] == "firing" and chain[-1]["status"] == "resolved"
        assert chain[0]["endsAt"] == ZERO_TIME and chain[-1]["endsAt"] != ZERO_TIME
        labels = chain[-1]["labels"]
        assert labels["series_id"] == "pump" and labels["model_id"] == model_id
        assert labels["severity"] in ("high", "critical") and labels["anomaly_type"]
        record = stored[int(chain[-1]["annotations"]["anomaly_id"])]
        assert labels["severity"] == record["severity"]
        assert chain[-1]["generatorURL"].endswith(f"/api/anomalies/{record['id']}")


# ------------------------------------------------------------------ kill -9
@pytest.fixture(params=["sqlite", "postgresql"])
def database(request):
    if request.param == "sqlite":
        return None
    return request.getfixturevalue("postgres_url")


def test_kill_9_during_ingest_then_restart_loses_no_stored_anomaly(tmp_path, fitted, database):
    detector, frame, archive = fitted
    server = LocalServer(tmp_path / "data", database=database).start()
    port = server.port
    with httpx.Client(base_url=server.url, timeout=120) as http:
        model_id = upload(http, archive)
    chunks = [(lo, points(frame, lo, lo + 30)) for lo in range(0, len(frame), 30)]
    answers, refusals, failures = [], [], []

    def push_everything():
        # a client that sends a push again until it is answered
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            for lo, chunk in chunks:
                body = {"points": chunk, **({"model_id": model_id} if lo == 0 else {})}
                for _ in range(3000):
                    try:
                        answer = http.post("/api/series/line/points", json=body)
                        if answer.status_code == 200:
                            answers.append(answer.json())
                            break
                        refusals.append((answer.status_code, answer.text[:200]))
                    except httpx.TransportError as exc:
                        failures.append(type(exc).__name__)
                    time.sleep(0.05)
                else:
                    return

    pusher = threading.Thread(target=push_everything, daemon=True)
    pusher.start()
    deadline = time.monotonic() + 300
    while len(answers) < len(chunks) // 2:
        assert time.monotonic() < deadline and pusher.is_alive(), (refusals, failures)
        time.sleep(0.01)
    server.kill()  # kill -9 while pushes go on
    assert server.process.returncode == -signal.SIGKILL
    restarted = LocalServer(tmp_path / "data", port=port, database=database).start()
    try:
        pusher.join(300)
        assert not pusher.is_alive() and len(answers) == len(chunks), (refusals[-3:], failures[-3:])
        assert failures  # some pushes met the dead server and were sent again
        with httpx.Client(base_url=restarted.url, timeout=120) as http:
            # the restarted server resumed the series from its saved state
            assert http.get("/api/series/line").json()["n_points"] == len(frame)
            http.delete("/api/series/line")
            records = series_records(http, "line")
    finally:
        restarted.stop()
    assert_records_are_detects(records, detector, frame)
    keys = [(r["location"]["start_index"], r["location"]["end_index"]) for r in records]
    assert len(keys) == len(set(keys))  # none twice
    # no point scored twice (a push stored but not answered is refused when sent again)
    assert sum(a["accepted"] for a in answers) <= len(frame)
