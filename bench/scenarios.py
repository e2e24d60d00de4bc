"""What the bench measures against one running server, and against the bare FastAPI app."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from BackEnd.security import TokenCodec

from .client import Request, burst, percentile, timed
from .datasets import PASSWORD, DataSet
from .long_threads import measure_long_threads
from .organising import measure_organising
from .server import JWT_SECRET, MAIN, ROOT, Process, UpstreamProcess, bench_env, free_port, run_command

__all__ = ["EXTRA_SCENARIOS", "Samples", "bearer_for", "measure_baseline", "measure_size"]

BURST_SIZE = 100
BURST_LATENCY = 1.0
CHAT_WARMUP = 20
_TOKENS = TokenCodec(JWT_SECRET, algorithm="HS256", expires_minutes=60)


@dataclass(frozen=True)
class Samples:
    """How many requests each figure is the median of."""

    chat_turns: int
    reads: int
    logins: int
    bursts: int


# Scenarios of other modules (bench/search_bench.py...), run against each served set after the rest.
EXTRA_SCENARIOS: list[Callable[[httpx.Client, DataSet, Samples], dict[str, float]]] = []


def bearer_for(user_id: str) -> dict[str, str]:
    """The Authorization header of a user of a generated set."""
    return _bearer(_token(user_id))


def _token(user_id: str) -> str:
    # Issued with the server's JWT_SECRET, exactly as login would: 200 bcrypt logins at
    # cost 12 would take a minute and measure bcrypt, which the login figure already does.
    return _TOKENS.issue(user_id)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def measure_baseline(workdir: Path, samples: Samples) -> dict[str, float]:
    """The bare app's start-up, `GET /` p50 and peak RSS."""
    env = bench_env(workdir / "unused", None, PORT=str(free_port()))
    app = Process([str(ROOT / "bench" / "baseline_app.py")], env, workdir / "baseline.log")
    try:
        startup = app.wait_first_answer()
        with httpx.Client(base_url=app.url, trust_env=False) as client:
            root = timed(lambda: client.get("/"), samples.reads * 2, warmup=50)
        rss = app.peak_rss_mb()
    finally:
        app.stop()
    return {"startup_s": startup, "root_p50": percentile(root, 50), "rss_mb": rss}


def measure_size(
    data: DataSet,
    dump_path: Path,
    workdir: Path,
    upstream: UpstreamProcess,
    samples: Samples,
    *,
    database_url: str | None,
    with_burst: bool,
    with_dump: bool,
    extra: Callable[[httpx.Client, DataSet, int, dict[str, str]], dict[str, float]] | None = None,
) -> dict[str, float]:
    """Restore the set, serve it, and measure every figure of one column of the table."""
    env = bench_env(
        workdir / f"BDD-{data.messages}",
        database_url,
        PORT=str(free_port()),
        OPENROUTER_API_KEY="bench-key",
        OPENROUTER_BASE_URL=upstream.base_url,
    )
    figures: dict[str, float] = {}
    figures["restore_s"], figures["restore_rss_mb"] = run_command(["restore", str(dump_path)], env, workdir)
    server = Process([str(MAIN)], env, workdir / f"server-{data.messages}.log")
    try:
        figures["startup_s"] = server.wait_first_answer()
        with httpx.Client(base_url=server.url, trust_env=False, timeout=60) as client:
            figures |= _sequential(client, data, samples, server)
            # Before anything else reads or organises the long threads, so their first reads are cold.
            figures |= measure_long_threads(client, data, samples.chat_turns, bearer_for)
            figures |= measure_organising(client, data, samples.reads, lambda user: _bearer(_token(user)))
            for scenario in EXTRA_SCENARIOS:
                figures |= scenario(client, data, samples)
            if extra is not None:  # another module's figures, on the same server and tokens
                figures |= extra(client, data, samples.reads, {user: _token(user) for user in data.user_ids})
        if with_burst:
            cpu_before = server.cpu_seconds()
            figures |= _bursts(server.port, data, upstream, samples.bursts)
            spent = server.cpu_seconds() - cpu_before
            figures["burst_cpu_ms"] = 1000 * spent / (samples.bursts * figures["burst_requests"])
        figures["rss_mb"] = server.peak_rss_mb()
    finally:
        server.stop()
    if with_dump:
        dump_back = workdir / f"dump-back-{data.messages}.json"
        figures["dump_s"], figures["dump_rss_mb"] = run_command(["dump", str(dump_back)], env, workdir)
        dump_back.unlink()  # a million messages take 0.8 GB of the temporary folder
    return figures


def _sequential(client: httpx.Client, data: DataSet, samples: Samples, server: Process) -> dict[str, float]:
    # Turns and reads use different threads, so every history read is cold: the thread has
    # not been touched since start-up.
    chat_threads = itertools.cycle(data.conversations_with_messages[::2])
    history_threads = iter((data.conversations_with_messages[1::2] + data.conversations_without) * 2)
    users = itertools.cycle(data.user_ids)
    tokens = {user_id: _token(user_id) for user_id in data.user_ids}

    def chat_turn() -> httpx.Response:
        conversation_id = next(chat_threads)
        body = {"message": "Can you explain that again, with an example?", "conversation_id": conversation_id}
        return client.post("/ai/chat", json=body, headers=_bearer(tokens[data.owner_of[conversation_id]]))

    def read_history() -> httpx.Response:
        conversation_id = next(history_threads)
        headers = _bearer(tokens[data.owner_of[conversation_id]])
        return client.get(f"/history/{conversation_id}", params={"limit": 50}, headers=headers)

    def list_conversations() -> httpx.Response:
        return client.get("/conversations", headers=_bearer(tokens[next(users)]))

    def login() -> httpx.Response:
        return client.post("/auth/login", json={"email": data.emails[0], "password": PASSWORD})

    chat_turns_cpu = server.cpu_seconds()
    chat = timed(chat_turn, samples.chat_turns, warmup=CHAT_WARMUP)
    chat_turns_cpu = server.cpu_seconds() - chat_turns_cpu
    history = timed(read_history, samples.reads, warmup=0)
    conversations = timed(list_conversations, samples.reads)
    root = timed(lambda: client.get("/"), samples.reads)
    logins = timed(login, samples.logins, warmup=1)
    return {
        "chat_p50": percentile(chat, 50),
        "chat_p95": percentile(chat, 95),
        "chat_cpu_ms": 1000 * chat_turns_cpu / (CHAT_WARMUP + samples.chat_turns),
        "history_p50": percentile(history, 50),
        "history_p95": percentile(history, 95),
        "conversations_p50": percentile(conversations, 50),
        "root_p50": percentile(root, 50),
        "login_p50": percentile(logins, 50),
    }


def _bursts(port: int, data: DataSet, upstream: UpstreamProcess, runs: int) -> dict[str, float]:
    # 100 students, each in one of their own threads, press Send at the same moment.
    first_thread: dict[str, str] = {}
    for conversation_id in data.conversations_with_messages:
        first_thread.setdefault(data.owner_of[conversation_id], conversation_id)
    requests = [
        Request(
            "POST", "/ai/chat", _token(user_id), {"message": "And why is that?", "conversation_id": thread}
        )
        for user_id, thread in itertools.islice(first_thread.items(), BURST_SIZE)
    ]
    results = []
    sent_upstream = []  # when the server had sent the last request upstream
    try:
        for _ in range(runs):
            upstream.set_latency(BURST_LATENCY)  # also clears the upstream's arrival record
            result = burst(port, requests)
            results.append(result)
            sent_upstream.append(max(upstream.arrivals(), default=result.started) - result.started)
    finally:
        upstream.set_latency(0.0)
    middle = sorted(range(runs), key=lambda run: results[run].wall_seconds)[runs // 2]
    median = results[middle]
    return {
        "burst_wall_s": median.wall_seconds,
        "burst_wall_min_s": min(result.wall_seconds for result in results),
        "burst_wall_max_s": max(result.wall_seconds for result in results),
        "burst_ok": min(result.succeeded for result in results),
        "burst_requests": len(requests),
        # The two halves of the median run: 100 requests in (to the upstream), 100 answers out.
        "burst_all_sent_s": sent_upstream[middle],
        "burst_first_answer_s": min(median.answered),
    }
