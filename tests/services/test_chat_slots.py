"""Unit tests of BackEnd.services.chat_slots.LocalChatSlots (model calls in flight per account)."""

from __future__ import annotations

from contextlib import AsyncExitStack

import anyio
import pytest

from BackEnd.errors import TooManyChatsInFlight
from BackEnd.services.chat_slots import LocalChatSlots


async def test_an_account_holds_at_most_its_slots_and_others_are_not_counted_with_it():
    slots = LocalChatSlots(3, retry_after_seconds=7)
    async with AsyncExitStack() as held:
        for _ in range(3):
            await held.enter_async_context(slots.reserve("usr_a"))
        with pytest.raises(TooManyChatsInFlight) as refused:
            await held.enter_async_context(slots.reserve("usr_a"))
        await held.enter_async_context(slots.reserve("usr_b"))

        assert refused.value.retry_after == "7"
        assert "3 messages" in str(refused.value)
        assert (slots.in_flight("usr_a"), slots.in_flight("usr_b")) == (3, 1)
    assert slots.busy_accounts() == 0  # idle accounts leave nothing behind


async def test_a_failing_call_gives_its_slot_back():
    slots = LocalChatSlots(1)
    with pytest.raises(RuntimeError):
        async with slots.reserve("usr_a"):
            raise RuntimeError("upstream broke")

    async with slots.reserve("usr_a"):
        assert slots.in_flight("usr_a") == 1
    assert slots.busy_accounts() == 0


async def test_a_cancelled_call_gives_its_slot_back():
    slots = LocalChatSlots(1)
    inside = anyio.Event()

    async def call() -> None:
        async with slots.reserve("usr_a"):
            inside.set()
            await anyio.sleep_forever()

    async with anyio.create_task_group() as group:
        group.start_soon(call)
        await inside.wait()
        assert slots.in_flight("usr_a") == 1
        group.cancel_scope.cancel()

    assert slots.busy_accounts() == 0


async def test_a_refused_reservation_takes_nothing():
    slots = LocalChatSlots(1)
    async with slots.reserve("usr_a"):
        for _ in range(5):
            with pytest.raises(TooManyChatsInFlight):
                async with slots.reserve("usr_a"):
                    pass  # pragma: no cover - never entered
        assert slots.in_flight("usr_a") == 1
    assert slots.busy_accounts() == 0
