"""Tokens, scopes and the loopback rule, against a real server."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import httpx
import pytest
import websockets

from fusionlab.service.launch import LocalServer


def cli(*args, data_dir):
    return subprocess.run([sys.executable, "-m", "fusionlab.service.cli", *args,
                           "--data-dir", str(data_dir)], capture_output=True, text=True,
                          timeout=120)


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    folder = tmp_path_factory.mktemp("secured")
    tokens = {}
    for scope in ("read", "write", "admin"):
        done = cli("create-token", "--scope", scope, "--name", f"{scope} test", data_dir=folder)
        assert done.returncode == 0, done.stderr
        tokens[scope] = done.stdout.strip()
        assert len(tokens[scope]) >= 40 and "shown only now" in done.stderr
    server = LocalServer(folder).start()
    yield server, tokens
    server.stop()


def test_tokens_are_stored_hashed_and_listed(secured):
    server, tokens = secured
    database = (server.data_dir / "fusionlab.sqlite").read_bytes()
    assert all(token.encode() not in database for token in tokens.values())
    listed = cli("list-tokens", data_dir=server.data_dir).stdout
    assert "read\tactive\tread test" in listed and "admin\tactive" in listed


def test_health_needs_no_token_but_everything_else_does(secured):
    server, tokens = secured
    with httpx.Client(base_url=server.url) as http:
        assert http.get("/health").json()["status"] == "ok"
        answer = http.get("/api/anomalies")
        assert answer.status_code == 401 and "needs a token" in answer.json()["detail"]
        assert answer.headers["www-authenticate"] == "Bearer"
        answer = http.get("/api/anomalies", headers={"Authorization": "Bearer wrong"})
        assert answer.status_code == 401 and "not valid" in answer.json()["detail"]
        answer = http.get("/api/anomalies", headers={"Authorization": "Basic abc"})
        assert answer.status_code == 401 and "'Bearer <token>'" in answer.json()["detail"]
        assert http.get("/metrics").status_code == 401
        assert http.get("/health").json()["auth"] == "token"
        # the token is checked before the parameters: nothing is said about
        # the routes to a caller without one
        for path in ("/api/anomalies", "/api/anomalies/export", "/api/summary",
                     "/api/heatmap"):
            answer = http.get(path, params={"since_seq": "x", "limit": "0"})
            assert answer.status_code == 401, (path, answer.text)


def test_scopes_are_ordered(secured):
    server, tokens = secured
    read = {"Authorization": f"Bearer {tokens['read']}"}
    write = {"Authorization": f"Bearer {tokens['write']}"}
    with httpx.Client(base_url=server.url) as http:
        assert http.get("/api/anomalies", headers=read).status_code == 200
        answer = http.post("/api/datasets/upload", headers=read,
                           files={"file": ("a.csv", b"a\n1\n")})
        assert answer.status_code == 403
        assert "scope 'write'; yours has scope 'read'" in answer.json()["detail"]
        answer = http.post("/api/datasets/upload", headers=write,
                           files={"file": ("a.csv", b"a\n1\n")})
        assert answer.status_code != 403


def test_filters_are_kept_per_token(secured):
    server, tokens = secured
    with httpx.Client(base_url=server.url) as http:
        mine = {"Authorization": f"Bearer {tokens['read']}"}
        other = {"Authorization": f"Bearer {tokens['admin']}"}
        http.post("/api/filter", headers=mine, json={"model_ids": ["m1"]})
        http.post("/api/theme", headers=other, json={"theme": "contour"})
        assert http.get("/api/filter", headers=mine).json() == {"filter": {"model_ids": ["m1"]}}
        assert http.get("/api/filter", headers=other).json() == {"filter": {}}
        assert http.get("/api/theme", headers=mine).json() == {"theme": "thermal"}
        assert http.get("/api/theme", headers=other).json() == {"theme": "contour"}


def test_websocket_needs_a_token(secured):
    server, tokens = secured
    url = server.url.replace("http", "ws") + "/ws"

    async def scenario():
        async with websockets.connect(url) as ws:
            await ws.send(json.dumps({"type": "ping"}))
            answer = json.loads(await ws.recv())
            assert answer["type"] == "error" and answer["data"]["code"] == "unauthorized"
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd.code == 1008
        async with websockets.connect(f"{url}?token={tokens['read']}") as ws:
            await ws.send(json.dumps({"type": "ping", "id": "p1"}))
            assert json.loads(await ws.recv()) == {"type": "pong", "id": "p1", "data": {}}
        async with websockets.connect(url) as ws:
            await ws.send(json.dumps({"type": "auth", "data": {"token": tokens["read"]}}))
            await ws.send(json.dumps({"type": "ping", "id": "p2"}))
            assert json.loads(await ws.recv())["type"] == "pong"
        async with websockets.connect(f"{url}?token=bogus") as ws:
            answer = json.loads(await ws.recv())
            assert answer["data"]["code"] == "unauthorized"

    asyncio.run(scenario())


def test_revoked_token_stops_working(secured):
    server, tokens = secured
    extra = cli("create-token", "--scope", "read", data_dir=server.data_dir).stdout.strip()
    ids = [line.split("\t")[0] for line in cli("list-tokens", data_dir=server.data_dir)
           .stdout.splitlines()]
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {extra}"}) as http:
        assert http.get("/api/anomalies").status_code == 200
        assert cli("revoke-token", ids[-1], data_dir=server.data_dir).returncode == 0
        import time

        deadline = time.monotonic() + 10
        while http.get("/api/anomalies").status_code == 200 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert http.get("/api/anomalies").status_code == 401
    assert cli("revoke-token", "9999", data_dir=server.data_dir).returncode == 1


def test_without_tokens_only_loopback_is_allowed(tmp_path):
    done = subprocess.run([sys.executable, "-m", "fusionlab.service.cli", "--host", "0.0.0.0",
                           "--port", "1", "--data-dir", str(tmp_path)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2
    assert "refusing to listen on 0.0.0.0 without a token" in done.stderr


def test_bad_scope_and_bad_options_are_refused(tmp_path):
    done = cli("create-token", "--scope", "root", data_dir=tmp_path)
    assert done.returncode == 2 and "invalid choice: 'root'" in done.stderr
    done = subprocess.run([sys.executable, "-m", "fusionlab.service.cli", "--jobs", "celery",
                           "--data-dir", str(tmp_path)], capture_output=True, text=True,
                          timeout=60, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert done.returncode == 2 and "needs `--broker URL`" in done.stderr
