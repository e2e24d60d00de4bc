"""Several server processes on one PostgreSQL database: concurrent turns of one thread lose nothing."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from BackEnd.storage.sql import SQLDatabase
from tests.utils.fake_upstream import HOLD, fake_chat_server
from tests.utils.server import ServerProcess, running_server
from tests.utils.sql import empty_tables

PASSWORD = "correct horse"
TURNS = 40


@pytest.fixture
def shared_env(postgres: SQLDatabase) -> Iterator[dict[str, str | None]]:
    """The environment of servers sharing the PostgreSQL test database, with a slow fake model."""
    empty_tables(postgres.engine)
    with fake_chat_server(max_delay=0.05) as upstream:
        yield {
            "DATABASE_URL": postgres.engine.url.render_as_string(hide_password=False),
            "OPENROUTER_BASE_URL": upstream.base_url,
            "OPENROUTER_API_KEY": "sk-test-fake-key",
            # 16 turns of one account at once, possibly all on one process.
            "USER_CONCURRENT_CHATS": "16",
        }


def _signed_up(url: str) -> dict[str, str]:
    with httpx.Client(base_url=url, trust_env=False, timeout=30) as http:
        assert (
            http.post("/auth/register", json={"email": "ann@example.com", "password": PASSWORD}).status_code
            == 201
        )
        login = http.post("/auth/login", json={"email": "ann@example.com", "password": PASSWORD})
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


def _hammer_one_thread(urls: list[str], headers: dict[str, str]) -> tuple[str, list[dict[str, str]]]:
    """TURNS concurrent turns of one new thread, spread over the servers; every reply must be 200."""
    with httpx.Client(base_url=urls[0], trust_env=False, timeout=30) as http:
        created = http.post("/conversations", json={"title": "shared"}, headers=headers)
    conversation_id = created.json()["id"]

    def turn(n: int) -> httpx.Response:
        body = {"message": f"turn {n:02d}", "conversation_id": conversation_id}
        return httpx.post(
            f"{urls[n % len(urls)]}/ai/chat", json=body, headers=headers, trust_env=False, timeout=60
        )

    with ThreadPoolExecutor(max_workers=16) as pool:
        replies = list(pool.map(turn, range(TURNS)))
    assert [r.status_code for r in replies] == [200] * TURNS, [
        r.text for r in replies if r.status_code != 200
    ]
    return conversation_id, [r.json() for r in replies]


def _assert_every_turn_stored_once_in_order(
    url: str, headers: dict[str, str], conversation_id: str, replies: list[dict[str, str]]
) -> None:
    with httpx.Client(base_url=url, trust_env=False, timeout=30) as http:
        page = http.get(f"/history/{conversation_id}", params={"limit": 200}, headers=headers).json()
        thread = http.get(f"/conversations/{conversation_id}", headers=headers).json()
    items = page["items"]
    assert page["total"] == len(items) == 2 * TURNS
    assert len({item["id"] for item in items}) == 2 * TURNS
    pairs = {(reply["user_message_id"], reply["assistant_message_id"]) for reply in replies}
    stored_pairs = {
        (question["id"], answer["id"]) for question, answer in zip(items[0::2], items[1::2], strict=True)
    }
    assert stored_pairs == pairs  # each turn once, its two messages side by side
    for question, answer in zip(items[0::2], items[1::2], strict=True):
        assert (question["role"], answer["role"]) == ("user", "assistant")
        assert answer["content"] == f"echo: {question['content']}"
    stamps = [item["created_at"] for item in items]
    assert stamps == sorted(set(stamps))  # history order is time order, across processes
    assert thread["updated_at"] == stamps[-1]


def test_two_servers_on_one_database_store_every_concurrent_turn_of_one_thread_once(
    tmp_path: Path, shared_env: dict[str, str | None]
) -> None:
    with ExitStack() as stack:
        # Separate data folders: nothing is shared but the database (and JWT_SECRET).
        servers: list[ServerProcess] = [
            stack.enter_context(running_server(tmp_path / name, tmp_path / f"{name}.log", **shared_env))
            for name in ("a", "b")
        ]
        urls = [server.url for server in servers]
        headers = _signed_up(urls[0])
        conversation_id, replies = _hammer_one_thread(urls, headers)
        _assert_every_turn_stored_once_in_order(urls[1], headers, conversation_id, replies)


def test_one_server_with_two_workers_stores_every_concurrent_turn_of_one_thread_once(
    tmp_path: Path, shared_env: dict[str, str | None]
) -> None:
    with running_server(tmp_path / "BDD", tmp_path / "workers.log", WORKERS="2", **shared_env) as server:
        headers = _signed_up(server.url)
        conversation_id, replies = _hammer_one_thread([server.url], headers)
        _assert_every_turn_stored_once_in_order(server.url, headers, conversation_id, replies)
        log = server.output()
    assert log.count("Started server process") == 2, log


def _stream_until_held(url: str, headers: dict[str, str], conversation_id: str, found: dict[str, str]) -> str:
    """Stream a held answer from `url`; notes the start event in `found`; returns the whole SSE body."""
    body = ""
    turn = {"message": f"{HOLD} on", "conversation_id": conversation_id}
    with httpx.Client(base_url=url, trust_env=False, timeout=60) as http:
        with http.stream("POST", "/ai/chat/stream", json=turn, headers=headers) as response:
            assert response.status_code == 200
            for text in response.iter_text():
                body += text
                if "event: start" in body and "conversation_id" not in found:
                    found.update(json.loads(body.split("data: ", 1)[1].split("\n", 1)[0]))
    return body


def test_a_stop_sent_to_another_server_stops_the_stream_and_stores_the_partial_answer(
    tmp_path: Path, postgres: SQLDatabase
) -> None:
    empty_tables(postgres.engine)
    with fake_chat_server() as upstream, ExitStack() as stack:
        env = {
            "DATABASE_URL": postgres.engine.url.render_as_string(hide_password=False),
            "OPENROUTER_BASE_URL": upstream.base_url,
            "OPENROUTER_API_KEY": "sk-test-fake-key",
        }
        writer, stopper = (
            stack.enter_context(running_server(tmp_path / name, tmp_path / f"{name}.log", **env))
            for name in ("writer", "stopper")
        )
        headers = _signed_up(writer.url)
        first = httpx.post(f"{writer.url}/ai/chat", json={"message": "hi"}, headers=headers, trust_env=False)
        found: dict[str, str] = {}
        with ThreadPoolExecutor(max_workers=1) as pool:
            streaming = pool.submit(
                _stream_until_held, writer.url, headers, first.json()["conversation_id"], found
            )
            upstream.wait_for_calls(2, held=1)
            while "conversation_id" not in found and not streaming.done():  # the start event is on its way
                time.sleep(0.01)
            stop = httpx.post(
                f"{stopper.url}/ai/chat/stop",
                json={"conversation_id": found["conversation_id"]},
                headers=headers,
                trust_env=False,
            )
            body = streaming.result(timeout=30)
        assert stop.status_code == 204
        with httpx.Client(base_url=stopper.url, trust_env=False) as http:
            stored = http.get(f"/history/{found['conversation_id']}", headers=headers).json()["items"]
    assert "event: done" in body and '"finish_reason": "stopped"' in body
    assert [m["content"] for m in stored] == ["hi", "echo: hi", f"{HOLD} on", "echo:"]
