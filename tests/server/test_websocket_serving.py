"""`python main.py` serves GET /ai/ws through its guarded httptools protocol, with a real client."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.utils.fake_upstream import fake_chat_server
from tests.utils.server import running_server


def test_a_real_server_upgrades_streams_a_chat_and_refuses_a_foreign_origin(tmp_path: Path) -> None:
    with fake_chat_server() as upstream:
        env = {"OPENROUTER_BASE_URL": upstream.base_url, "OPENROUTER_API_KEY": "sk-test-fake-key"}
        with running_server(tmp_path / "BDD", tmp_path / "server.log", **env) as server:
            with httpx.Client(base_url=server.url, trust_env=False) as http:
                account = {"email": "ws@example.com", "password": "correct horse"}
                assert http.post("/auth/register", json=account).status_code == 201
                token = http.post("/auth/login", json=account).json()["access_token"]
            socket_url = server.url.replace("http://", "ws://") + "/ai/ws"
            with connect(socket_url, origin="http://localhost:5173") as ws:  # type: ignore[arg-type]
                ws.send(json.dumps({"type": "auth", "token": token}))
                assert json.loads(ws.recv(timeout=10))["type"] == "ready"
                ws.send(json.dumps({"type": "chat", "request_id": "r", "message": "over the wire"}))
                events = []
                while not events or events[-1]["type"] not in ("done", "error"):
                    events.append(json.loads(ws.recv(timeout=10)))
            with pytest.raises(InvalidStatus) as refused:
                connect(socket_url, origin="https://evil.example")  # type: ignore[arg-type]
    assert events[-1]["type"] == "done", events
    assert "".join(e["content"] for e in events if e["type"] == "delta") == "echo: over the wire"
    assert refused.value.response.status_code == 403
