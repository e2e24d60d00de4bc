"""One chat WebSocket (`GET /ai/ws`): first-message sign-in, then chats and stops, many at once."""

from __future__ import annotations

import json
import logging
from typing import Any

import anyio
from anyio.abc import TaskGroup
from fastapi import WebSocket
from pydantic import TypeAdapter, ValidationError
from starlette.websockets import WebSocketDisconnect

from ..chat_schemas import SocketAuth, SocketChat, SocketMessage, SocketRegenerate, SocketStop
from ..errors import AssistantIAError, AuthenticationError
from ..records import UserRecord
from ..services import auth, chat_stream, regenerate_stream
from .deps import AppContext
from .errors import status_and_detail
from .turns import turn_arguments

__all__ = ["POLICY_VIOLATION", "SIGNED_OUT", "ChatSocket"]

logger = logging.getLogger(__name__)

POLICY_VIOLATION = 1008  # no valid sign-in in time, or a web page of another site
SIGNED_OUT = 4401  # the token expired or was revoked, or the account went: sign in again
_messages: TypeAdapter[SocketChat | SocketRegenerate | SocketStop] = TypeAdapter(SocketMessage)


class _Closed(Exception):
    """The socket is closed (by the client, or by us): the session ends."""


class ChatSocket:
    """A signed-in socket's session; each chat's events are relayed by a task of its own."""

    def __init__(self, websocket: WebSocket, context: AppContext) -> None:
        self._socket = websocket
        self._context = context

    async def serve(self) -> None:
        """Run the session until either side closes it."""
        if not self._origin_allowed():
            # Cookies are never used, but a page of another site must not drive a user's socket.
            await self._socket.close(POLICY_VIOLATION)
            return
        await self._socket.accept()
        try:
            user, token = await self._sign_in()
            await self._send({"type": "ready", "user_id": user["id"]})
        except _Closed:
            return
        async with anyio.create_task_group() as relays:
            try:
                await self._converse(token, relays)
            except _Closed:
                pass
            finally:
                relays.cancel_scope.cancel()  # the generations go on; only the relays end

    def _origin_allowed(self) -> bool:
        origin = self._socket.headers.get("origin")
        allowed = self._context.settings.cors_origins
        return origin is None or "*" in allowed or origin in allowed

    async def _sign_in(self) -> tuple[UserRecord, str]:
        with anyio.move_on_after(self._context.settings.ws_auth_timeout_seconds):
            raw = await self._receive()
            try:
                token = SocketAuth.model_validate_json(raw).token
                return await self._user(token), token
            except (ValidationError, AuthenticationError):
                pass
        await self._socket.close(POLICY_VIOLATION)
        raise _Closed

    async def _converse(self, token: str, relays: TaskGroup) -> None:
        while True:
            raw = await self._receive()
            try:
                user = await self._user(token)  # read fresh: a deleted account or expired token ends it
            except AuthenticationError:
                await self._socket.close(SIGNED_OUT)
                raise _Closed from None
            request_id = _request_id(raw)
            try:
                message = _messages.validate_json(raw)
            except ValidationError as exc:
                errors = [
                    {k: v for k, v in e.items() if k not in ("input", "ctx", "url")} for e in exc.errors()
                ]
                await self._send({"type": "error", "request_id": request_id, "status": 422, "detail": errors})
                continue
            try:
                if isinstance(message, SocketStop):
                    await chat_stream.stop_thread(
                        self._context.database, self._context.generations, user["id"], message.conversation_id
                    )
                else:
                    turn = await self._start(user, message)
                    relays.start_soon(self._relay, request_id, turn)
            except AssistantIAError as exc:
                status, detail = status_and_detail(exc)
                await self._send(
                    {"type": "error", "request_id": request_id, "status": status, "detail": detail}
                )

    async def _start(
        self, user: UserRecord, message: SocketChat | SocketRegenerate
    ) -> chat_stream.StreamTurn:
        context = self._context
        if isinstance(message, SocketRegenerate):  # issue 10: the last user message asked again
            return await regenerate_stream.start_regenerate_stream(
                context.database,
                context.chat_model,
                context.generations,
                conversation_id=message.conversation_id,
                message=message.message,
                **turn_arguments(context, user, message),
            )
        return await chat_stream.start_stream(
            context.database,
            context.chat_model,
            context.generations,
            message=message.message,
            conversation_id=message.conversation_id,
            **turn_arguments(context, user, message),
            images=message.images,
            titles=context.titles,
        )

    async def _relay(self, request_id: object, turn: chat_stream.StreamTurn) -> None:
        async with turn.events:
            try:
                await self._send({"type": "start", "request_id": request_id, **turn.start.data})
                async for event in turn.events:
                    if event.kind == "ping":
                        continue  # WebSocket frames keep the connection alive by themselves
                    if event.error is None:
                        fields = event.data
                    else:
                        status, detail = status_and_detail(event.error)
                        fields = {**event.data, "status": status, "detail": detail}
                    await self._send({"type": event.kind, "request_id": request_id, **fields})
            except _Closed:
                pass  # the client went away: its generation still ends and is stored

    async def _user(self, token: str) -> UserRecord:
        context = self._context
        return await anyio.to_thread.run_sync(auth.user_from_token, context.database, context.tokens, token)

    async def _receive(self) -> str:
        message = await self._socket.receive()
        if message["type"] == "websocket.disconnect":
            raise _Closed
        if message.get("text") is not None:
            return str(message["text"])
        data = message.get("bytes") or b""
        return data.decode("utf-8", errors="replace")  # then refused as JSON that does not validate

    async def _send(self, document: dict[str, Any]) -> None:
        # Relays send without a lock: uvicorn's WebSocket protocols frame and write each message
        # in one go, so two never interleave (an anyio.Lock measured a third of a delta's cost).
        try:
            await self._socket.send_text(json.dumps(document, ensure_ascii=False))
        except (WebSocketDisconnect, RuntimeError, OSError) as exc:
            raise _Closed from exc


def _request_id(raw: str) -> object:
    """The client's `request_id` when the message is an object carrying a short one, else None."""
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    found = document.get("request_id") if isinstance(document, dict) else None
    if isinstance(found, int) and not isinstance(found, bool) or isinstance(found, str) and len(found) <= 100:
        return found
    return None
