"""Answers being written, run apart from the requests that asked for them, and stoppable by thread."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType

import anyio
from anyio.abc import TaskGroup

from ..storage.signals import SignalChannel

__all__ = ["Generation", "Generations"]

logger = logging.getLogger(__name__)


@dataclass(eq=False)
class Generation:
    """One answer being written; `scope` covers only the model call, so a stop never cuts a store."""

    user_id: str
    conversation_id: str
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)
    stopped: bool = False

    def stop(self) -> None:
        self.stopped = True
        self.scope.cancel()


class Generations:
    """The app's running generations, in a task group of the app's life rather than of a request.

    A client that goes away cancels its request's task, not the generation: the answer is
    written to the end (within LLM_TIMEOUT_SECONDS) and stored. At shutdown the app waits for
    the running ones. Stops travel on the database's signal channel, so a stop received by any
    process reaches the generation wherever it runs.
    """

    def __init__(self, signals: SignalChannel) -> None:
        self._signals = signals
        self._running: dict[str, set[Generation]] = {}  # by conversation id
        self._task_group: TaskGroup | None = None
        self._listener = anyio.CancelScope()

    async def __aenter__(self) -> Generations:
        self._task_group = anyio.create_task_group()
        await self._task_group.__aenter__()
        self._task_group.start_soon(self._listen)
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> bool | None:
        self._listener.cancel()  # the generations themselves are waited for
        assert self._task_group is not None
        return await self._task_group.__aexit__(kind, error, trace)

    def start(self, generation: Generation, work: Callable[[], Awaitable[None]]) -> None:
        """Run `work` for `generation` until it ends; it must handle its own errors."""
        if self._task_group is None:
            raise RuntimeError("Generations is not running")
        self._running.setdefault(generation.conversation_id, set()).add(generation)
        self._task_group.start_soon(self._run, generation, work)

    def background(self, work: Callable[[], Awaitable[None]]) -> None:
        """Run `work` beside the requests (a thread's automatic title); it must handle its own errors."""
        if self._task_group is None:
            raise RuntimeError("Generations is not running")
        self._task_group.start_soon(_guarded, work)

    def running_here(self, user_id: str, conversation_id: str) -> bool:
        """Whether this process writes an answer of this user in this thread right now."""
        return any(found.user_id == user_id for found in self._running.get(conversation_id, ()))

    async def stop(self, user_id: str, conversation_id: str) -> None:
        """Stop every generation of this user's thread, in this process at once and in the others soon."""
        self._stop_here(user_id, conversation_id)
        await self._signals.publish(json.dumps({"stop": conversation_id, "user_id": user_id}))

    async def _run(self, generation: Generation, work: Callable[[], Awaitable[None]]) -> None:
        try:
            await work()
        except Exception:  # one failed generation must not bring the app's task group down
            logger.exception("A generation failed unexpectedly")
        finally:
            same_thread = self._running.get(generation.conversation_id, set())
            same_thread.discard(generation)
            if not same_thread:
                self._running.pop(generation.conversation_id, None)

    def _stop_here(self, user_id: str, conversation_id: str) -> None:
        for generation in list(self._running.get(conversation_id, ())):
            if generation.user_id == user_id:
                generation.stop()

    async def _listen(self) -> None:
        with self._listener:
            try:
                await self._signals.listen(self._on_signal)
            except Exception:  # without signals, stops reach this process's generations only
                logger.exception("The signal channel failed; stops from other processes are lost")

    def _on_signal(self, message: str) -> None:
        try:
            signal = json.loads(message)
            self._stop_here(str(signal["user_id"]), str(signal["stop"]))
        except (ValueError, KeyError, TypeError):
            logger.warning("Ignored a malformed signal from another process")


async def _guarded(work: Callable[[], Awaitable[None]]) -> None:
    try:
        await work()
    except Exception:  # a failed side task must not bring the app's task group down
        logger.exception("A background task failed")
