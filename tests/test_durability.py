"""A real server killed with SIGKILL under chat load (plain and streamed) loses no acknowledged turn and no file."""

from __future__ import annotations

import json
import os
import random
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from BackEnd.storage.files import TEMP_SUFFIX
from tests.utils.fake_upstream import fake_chat_server
from tests.utils.server import ServerProcess, run_cli

PASSWORD = "correct horse"
KILL_CYCLES = 8
CHATTERS = 4


@dataclass
class Load:
    """What the clients saw before the kill."""

    # headers, sent, reply
    turns: list[tuple[dict[str, str], str, dict[str, str]]] = field(default_factory=list)
    accounts: list[str] = field(default_factory=list)  # emails whose registration got 201
    deleted: list[str] = field(default_factory=list)  # the deleter's threads whose DELETE got 204
    unexpected: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)
    answered: threading.Event = field(default_factory=threading.Event)  # a first turn got its 200

    def acknowledged(self, response: httpx.Response, status: int) -> bool:
        """Whether the server acknowledged a request; any other answer is noted as unexpected."""
        if response.status_code == status:
            return True
        with self.lock:
            self.unexpected.append(f"{response.status_code} {response.text[:200]}")
        return False


def _client(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=15, trust_env=False)


def _sign_up(url: str, email: str) -> dict[str, str]:
    with _client(url) as http:
        assert http.post("/auth/register", json={"email": email, "password": PASSWORD}).status_code == 201
        login = http.post("/auth/login", json={"email": email, "password": PASSWORD})
        assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


def _chatter(url: str, headers: dict[str, str], name: str, load: Load, rng: random.Random) -> None:
    conversation_id: str | None = None
    with _client(url) as http:
        for n in range(10_000):
            if load.stop.is_set():
                return
            if conversation_id is not None and rng.random() < 0.25:
                conversation_id = None  # start a new thread now and then
            text = f"{name} message {n}"
            body = {"message": text, "conversation_id": conversation_id}
            try:
                if rng.random() < 0.5:  # half the turns streamed: `done` acknowledges them
                    acknowledged = _streamed_turn(http, body, headers, load)
                else:
                    reply = http.post("/ai/chat", json=body, headers=headers)
                    acknowledged = reply.json() if load.acknowledged(reply, 200) else None
            except httpx.HTTPError:
                return  # the server died under us
            if acknowledged is not None:
                with load.lock:
                    load.turns.append((headers, text, acknowledged))
                load.answered.set()
                conversation_id = acknowledged["conversation_id"]


def _streamed_turn(
    http: httpx.Client, body: dict[str, Any], headers: dict[str, str], load: Load
) -> dict[str, str] | None:
    """A turn over POST /ai/chat/stream: its ids once `done` came (None if it did not come)."""
    with http.stream("POST", "/ai/chat/stream", json=body, headers=headers) as response:
        if not load.acknowledged(response, 200):
            return None
        events = [
            (block.split("\n")[0].removeprefix("event: "), json.loads(block.split("data: ", 1)[1]))
            for block in "".join(response.iter_text()).split("\n\n")
            if block.startswith("event: ")
        ]
    if not events or events[-1][0] != "done":
        return None  # cut by the kill: no promise was made
    answer = "".join(data["content"] for kind, data in events if kind == "delta")
    assert answer == f"echo: {body['message']}", events
    return {key: events[0][1][key] for key in ("conversation_id", "user_message_id", "assistant_message_id")}


def _registrar(url: str, cycle: int, load: Load) -> None:
    with _client(url) as http:
        for n in range(10_000):
            if load.stop.is_set():
                return
            email = f"new-{cycle}-{n}@example.com"
            try:
                created = http.post("/auth/register", json={"email": email, "password": PASSWORD})
            except httpx.HTTPError:
                return
            if load.acknowledged(created, 201):
                with load.lock:
                    load.accounts.append(email)


def _deleter(url: str, headers: dict[str, str], load: Load) -> None:
    """Makes a thread and deletes it, again and again: an acknowledged delete must stay done."""
    with _client(url) as http:
        while not load.stop.is_set():
            try:
                made = http.post("/ai/chat", json={"message": "to be deleted"}, headers=headers)
                if not load.acknowledged(made, 200):
                    return
                conversation_id = made.json()["conversation_id"]
                gone = http.delete(f"/conversations/{conversation_id}", headers=headers)
            except httpx.HTTPError:
                return
            if load.acknowledged(gone, 204):
                with load.lock:
                    load.deleted.append(conversation_id)


def _check_deletions(url: str, data_dir: Path, headers: dict[str, str], deleted: list[str]) -> None:
    with _client(url) as http:
        for conversation_id in deleted:
            assert http.get(f"/conversations/{conversation_id}", headers=headers).status_code == 404
            assert not (data_dir / "historique" / f"{conversation_id}.json").exists()


def _load_then_kill(
    server: ServerProcess,
    accounts: list[dict[str, str]],
    deleter: dict[str, str],
    cycle: int,
    rng: random.Random,
) -> Load:
    load = Load()
    workers = [
        threading.Thread(
            target=_chatter, args=(server.url, h, f"c{cycle}u{i}", load, random.Random(rng.random()))
        )
        for i, h in enumerate(accounts)
    ]
    workers.append(threading.Thread(target=_registrar, args=(server.url, cycle, load)))
    workers.append(threading.Thread(target=_deleter, args=(server.url, deleter, load)))
    for worker in workers:
        worker.start()
    try:
        assert load.answered.wait(timeout=30), f"no chat turn answered:\n{server.output()[-2000:]}"
        load.stop.wait(rng.uniform(0.0, 0.6))  # the kill lands anywhere in a turn
        server.kill()
    finally:
        load.stop.set()
        for worker in workers:
            worker.join(timeout=30)
    assert not any(worker.is_alive() for worker in workers)
    return load


def _check_files(data_dir: Path, *, temp_files_allowed: bool) -> None:
    for folder, _, names in os.walk(data_dir):
        for name in names:
            path = Path(folder, name)
            if name.endswith(".json"):
                try:
                    json.loads(path.read_bytes())
                except ValueError as exc:
                    raise AssertionError(f"{path} is not valid JSON after SIGKILL: {exc}") from exc
            assert temp_files_allowed or not name.endswith(TEMP_SUFFIX), f"leftover temp file {path}"


def _every_item(http: httpx.Client, path: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    """All items of a paged list, page after page."""
    items: list[dict[str, Any]] = []
    while True:
        page = http.get(path, params={"limit": 200, "offset": len(items)}, headers=headers)
        assert page.status_code == 200, f"{path}: {page.text}"
        items += page.json()["items"]
        if not page.json()["items"] or len(items) >= page.json()["total"]:
            return items


def _check_acknowledged_turns(url: str, load: Load) -> None:
    stored: dict[str, dict[str, dict[str, Any]]] = {}
    with _client(url) as http:
        for headers, text, reply in load.turns:
            conversation_id = reply["conversation_id"]
            if conversation_id not in stored:
                messages = _every_item(http, f"/history/{conversation_id}", headers)
                stored[conversation_id] = {message["id"]: message for message in messages}
            question = stored[conversation_id].get(reply["user_message_id"])
            answer = stored[conversation_id].get(reply["assistant_message_id"])
            assert question is not None and question["content"] == text, f"lost user message of {reply}"
            assert answer is not None and answer["content"] == f"echo: {text}", f"lost answer of {reply}"
        for email in load.accounts:
            login = http.post("/auth/login", json={"email": email, "password": PASSWORD})
            assert login.status_code == 200, f"account {email} registered before the kill is gone"


def _check_no_half_turn(url: str, accounts: list[dict[str, str]]) -> int:
    """Every stored thread, acknowledged or not, holds whole turns only; returns how many turns."""
    turns = 0
    with _client(url) as http:
        for headers in accounts:
            for thread in _every_item(http, "/conversations", headers):
                messages = _every_item(http, f"/history/{thread['id']}", headers)
                assert messages, f"thread {thread['id']} was left empty by a killed turn"
                assert len(messages) % 2 == 0, f"thread {thread['id']} holds half a turn"
                for question, answer in zip(messages[0::2], messages[1::2], strict=True):
                    assert (question["role"], answer["role"]) == ("user", "assistant"), thread
                    assert answer["content"] == f"echo: {question['content']}", thread
                stamps = [message["created_at"] for message in messages]
                assert stamps == sorted(stamps) and thread["updated_at"] >= stamps[-1], thread
                turns += len(messages) // 2
    return turns


def _check_ledger_agrees(url: str, accounts: list[dict[str, str]]) -> None:
    """The usage ledger commits with the turn: it counts exactly the stored answers (these
    accounts never delete a thread, which would keep its count)."""
    with _client(url) as http:
        for headers in accounts:
            answers = sum(
                len(_every_item(http, f"/history/{thread['id']}", headers)) // 2
                for thread in _every_item(http, "/conversations", headers)
            )
            usage = http.get("/auth/me/usage", headers=headers)
            assert usage.status_code == 200, usage.text
            assert usage.json()["total"]["messages"] == answers, "the ledger and the messages disagree"


def test_acknowledged_turns_and_accounts_survive_repeated_sigkill_under_load(tmp_path: Path) -> None:
    data_dir = tmp_path / "BDD"
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    print(f"seed {seed}: shown on failure, to replay the same kill moments")
    with fake_chat_server(max_delay=0.02) as upstream:
        env = {"OPENROUTER_BASE_URL": upstream.base_url, "OPENROUTER_API_KEY": "sk-test-fake-key"}
        server = ServerProcess(data_dir, tmp_path / "server-0.log", **env)
        try:
            server.wait_ready()
            accounts = [_sign_up(server.url, f"user{i}@example.com") for i in range(CHATTERS)]
            deleter = _sign_up(server.url, "deleter@example.com")
            everything = Load()
            for cycle in range(1, KILL_CYCLES + 1):
                load = _load_then_kill(server, accounts, deleter, cycle, rng)
                assert load.unexpected == [], f"seed {seed}: errors before the kill: {load.unexpected[:3]}"
                everything.turns += load.turns
                everything.accounts += load.accounts
                everything.deleted += load.deleted
                _check_files(data_dir, temp_files_allowed=True)

                server = ServerProcess(data_dir, tmp_path / f"server-{cycle}.log", **env)
                server.wait_ready()
                _check_files(data_dir, temp_files_allowed=False)
                _check_acknowledged_turns(server.url, everything)
                stored_turns = _check_no_half_turn(server.url, [*accounts, deleter])
                _check_ledger_agrees(server.url, accounts)
                _check_deletions(server.url, data_dir, deleter, everything.deleted)
                assert stored_turns >= len(everything.turns)
            print(
                f"{len(everything.turns)} acknowledged turns, {stored_turns} stored, "
                f"{len(everything.deleted)} deletions, {KILL_CYCLES} kills"
            )
            assert everything.turns, f"seed {seed}: no turn was answered; the load never ran"
            assert everything.deleted, f"seed {seed}: no deletion was acknowledged"
            assert upstream.calls >= len(everything.turns)
        finally:
            server.kill()


def test_server_refuses_a_held_folder_and_starts_once_the_holder_is_killed(tmp_path: Path) -> None:
    data_dir = tmp_path / "BDD"
    holder = ServerProcess(data_dir, tmp_path / "holder.log")
    successor: ServerProcess | None = None
    try:
        holder.wait_ready()
        refused = run_cli(data_dir=data_dir, timeout=30)
        assert refused.returncode != 0
        assert "already used" in refused.stderr and str(data_dir) in refused.stderr

        holder.kill()
        successor = ServerProcess(data_dir, tmp_path / "successor.log")
        successor.wait_ready()
        assert httpx.get(f"{successor.url}/", trust_env=False).json() == {"status": "online"}
    finally:
        holder.kill()
        if successor is not None:
            successor.stop()


def _turns_in(url: str, headers: dict[str, str], conversation_id: str, load: Load) -> None:
    """Turn after turn in one long thread, each committed as an in-place patch of its file."""
    with _client(url) as http:
        for n in range(10_000):
            if load.stop.is_set():
                return
            text = f"long turn {n}"
            try:
                reply = http.post(
                    "/ai/chat", json={"message": text, "conversation_id": conversation_id}, headers=headers
                )
            except httpx.HTTPError:
                return  # the server died under us
            if load.acknowledged(reply, 200):
                with load.lock:
                    load.turns.append((headers, text, reply.json()))
                load.answered.set()


def _lengthen(data_dir: Path, user_id: str, conversation_id: str, turns: int) -> None:
    """Whole turns added offline, so the thread's file is past the size a turn patches in place."""
    from BackEnd.records import message_record
    from BackEnd.storage import TinyDBDatabase

    database = TinyDBDatabase.open(data_dir)
    try:
        with database.unit_of_work(user_id) as unit:
            text = "Un long exercice de mathématiques. " * 20
            messages = []
            for n in range(turns):
                messages.append(message_record(user_id, conversation_id, "user", f"{text}{n}"))
                messages.append(message_record(user_id, conversation_id, "assistant", f"echo: {text}{n}"))
            unit.threads.append(user_id, conversation_id, messages)  # type: ignore[arg-type]
    finally:
        database.close()


def test_acknowledged_turns_of_a_long_thread_survive_sigkill_in_the_middle_of_its_in_place_append(
    tmp_path: Path,
) -> None:
    from BackEnd.storage.record_layout import read_lines
    from BackEnd.storage.thread_files import PATCH_FROM_BYTES

    data_dir = tmp_path / "BDD"
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    with fake_chat_server(max_delay=0.0) as upstream:
        env = {"OPENROUTER_BASE_URL": upstream.base_url, "OPENROUTER_API_KEY": "sk-test-fake-key"}
        server = ServerProcess(data_dir, tmp_path / "server-0.log", **env)
        server.wait_ready()
        headers = _sign_up(server.url, "long@example.com")
        with _client(server.url) as http:
            user_id = http.get("/auth/me", headers=headers).json()["id"]
            conversation_id = http.post("/ai/chat", json={"message": "start"}, headers=headers).json()[
                "conversation_id"
            ]
        server.stop()
        _lengthen(data_dir, user_id, conversation_id, turns=150)
        path = data_dir / "historique" / f"{conversation_id}.json"
        assert path.stat().st_size > PATCH_FROM_BYTES
        inode = path.stat().st_ino
        everything = Load()
        for cycle in range(1, 5):
            server = ServerProcess(data_dir, tmp_path / f"server-{cycle}.log", **env)
            try:
                server.wait_ready()
                load = Load()
                worker = threading.Thread(target=_turns_in, args=(server.url, headers, conversation_id, load))
                worker.start()
                try:
                    assert load.answered.wait(timeout=30), server.output()[-2000:]
                    load.stop.wait(rng.uniform(0.0, 0.4))  # the kill lands anywhere in a turn
                    server.kill()
                finally:
                    load.stop.set()
                    worker.join(timeout=30)
                assert load.unexpected == [], f"seed {seed}: {load.unexpected[:3]}"
                everything.turns += load.turns
                server = ServerProcess(data_dir, tmp_path / f"server-{cycle}-after.log", **env)
                server.wait_ready()  # start-up finished any journal the kill left
                _check_files(data_dir, temp_files_allowed=False)
                _check_acknowledged_turns(server.url, everything)
                _check_no_half_turn(server.url, [headers])
            finally:
                server.kill()
        read = read_lines(path, "messages")
        assert read is not None and read[1] is not None, "the file left the line layout"
        assert path.stat().st_ino == inode, "a turn rewrote the long thread's file instead of patching it"
        assert everything.turns, f"seed {seed}: no turn was answered"


def _summaries_seen(url: str, headers: dict[str, str]) -> list[Any]:
    """What the stored summaries answer: the list (message_count, preview), stats and usage."""
    with _client(url) as http:
        answers = [_every_item(http, "/conversations", headers)]
        for path, params in (("/auth/me/stats", None), ("/auth/me/usage", _EVERY_DAY)):
            response = http.get(path, params=params, headers=headers)
            assert response.status_code == 200, response.text
            answers.append(response.json())
    return answers


_EVERY_DAY = {"from": "2000-01-01", "to": "2999-12-31"}


def test_summaries_not_yet_flushed_when_the_server_is_killed_are_rebuilt_at_restart(tmp_path: Path) -> None:
    from BackEnd.storage.summary_flush import history_stamp
    from tests.utils.records import stored_summaries

    data_dir = tmp_path / "BDD"
    with fake_chat_server(max_delay=0.0) as upstream:
        env = {"OPENROUTER_BASE_URL": upstream.base_url, "OPENROUTER_API_KEY": "sk-test-fake-key"}
        server = ServerProcess(data_dir, tmp_path / "server-0.log", **env)
        try:
            server.wait_ready()
            headers = _sign_up(server.url, "kill@example.com")
            with _client(server.url) as http:
                threads = []
                for text in ("premier", "second"):
                    reply = http.post("/ai/chat", json={"message": text}, headers=headers)
                    assert reply.status_code == 200, reply.text
                    threads.append(reply.json()["conversation_id"])
                for n in range(3):
                    body = {"message": f"suite {n}", "conversation_id": threads[0]}
                    assert http.post("/ai/chat", json=body, headers=headers).status_code == 200
            before = _summaries_seen(server.url, headers)
        finally:
            server.kill()  # well within the flush period of the server's start
    counts = {thread["id"]: thread["message_count"] for thread in before[0]}
    assert counts == {threads[0]: 8, threads[1]: 2}
    stored = stored_summaries(data_dir)
    assert all(stored.get(thread, {}).get("count") != counts[thread] for thread in threads), (
        "the flusher ran before the kill: this test needs the summaries not stored yet"
    )

    server = ServerProcess(data_dir, tmp_path / "server-1.log", **env)
    try:
        server.wait_ready()
        assert _summaries_seen(server.url, headers) == before
        assert "rebuilt 2 thread summaries" in server.output()
    finally:
        server.stop()  # a clean stop stores them, stamped
    stored = stored_summaries(data_dir)
    for thread in threads:
        history = data_dir / "historique" / f"{thread}.json"
        assert stored[thread]["count"] == counts[thread]
        assert stored[thread]["file"] == list(history_stamp(history) or ())
