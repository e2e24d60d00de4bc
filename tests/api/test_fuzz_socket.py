"""Fuzzing the chat WebSocket, which schemathesis cannot reach: odd messages never break the socket.

Deterministic (seeded) messages: valid ones mutated field by field, wrong types, unknown types,
junk text, deep nesting, huge and non-ASCII values, escaped lone surrogates. Each must answer an
`error` with a 4xx status (the socket stays open) or, when it happens to be a valid chat, a whole
stream; a valid chat still works at the end.
"""

from __future__ import annotations

import json
import random
from typing import Any

from fastapi import FastAPI

from tests.api.routes.test_chat import UNKNOWN_ID
from tests.utils.api import Account
from tests.utils.sockets import socket

MESSAGES = 120
SEED = 20261201
_VALUES: list[Any] = [
    None, True, 0, -1, 2**70, 1.5, float("1e308"), "", " ", "x" * 25_000, "é€😀", "\u202e", "\t\n",
    [], {}, [1, [2, [3]]], {"a": {"b": {"c": None}}}, UNKNOWN_ID, "conv_../../etc", "msg_1",
    ["vendor/a", "vendor/b"],
]  # fmt: skip
_FIELDS = ["type", "message", "conversation_id", "request_id", "token", "extra", "models"]
_TYPES = ["chat", "stop", "regenerate", "auth", "ready", "delta", "", "CHAT", None, 3]


def _message(rng: random.Random) -> str:
    choice = rng.random()
    if choice < 0.1:
        return rng.choice(
            ["", "{", "[]", "null", '"chat"', "\x00", '{"type": "chat"', "[" * 5000 + "]" * 5000]
        )
    if choice < 0.15:
        return '{"type": "chat", "message": "\\ud800 half"}'  # an escaped lone surrogate
    document: dict[str, Any] = {"type": rng.choice(_TYPES), "message": "Hello", "conversation_id": None}
    for _ in range(rng.randint(1, 3)):
        field = rng.choice(_FIELDS)
        if rng.random() < 0.2:
            document.pop(field, None)
        else:
            document[field] = rng.choice(_VALUES)
    return json.dumps(document)


async def test_random_messages_get_a_4xx_error_or_a_whole_stream_and_the_socket_stays_open(
    app: FastAPI, alice: Account
) -> None:
    rng = random.Random(SEED)
    async with socket(app) as ws:
        await ws.send({"type": "auth", "token": alice.token})
        assert (await ws.receive())["type"] == "ready"
        for _ in range(MESSAGES):
            text = _message(rng)
            await ws.send_text(text)
            answer = await ws.receive()
            if answer["type"] == "start" and '"models"' in text:  # several models: `end` closes it
                while answer["type"] != "end":
                    answer = await ws.receive()
                continue
            if answer["type"] == "start":  # a valid chat after all: its stream ends properly
                while answer["type"] not in ("done", "error"):
                    answer = await ws.receive()
                assert answer["type"] == "done", (text[:200], answer)
                continue
            assert answer["type"] == "error", (text[:200], answer)
            assert 400 <= answer["status"] < 500, (text[:200], answer)
        await ws.send({"type": "chat", "request_id": "last", "message": "still open?"})
        events = await ws.until("done")
    assert events[-1]["request_id"] == "last"
