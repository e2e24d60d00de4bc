"""Cap request bodies, answering 413 with the API's usual `{"detail": ...}`."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["MAX_CHAT_BYTES", "BodySizeLimit"]

# A chat message may carry 4 images of 5 MB, base64 (issue 10): HTTP chat bodies and WebSocket
# messages alike; every other route keeps its own cap.
MAX_CHAT_BYTES = 25 * 1024 * 1024


class BodySizeLimit:
    """Stops reading a body as soon as it is declared or found to exceed its path's cap.

    The refusal is raised as an HTTPException from `receive`, inside the app, so FastAPI
    renders it like every other error (its own `max_body_size` answers in plain text).
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int, larger: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = dict(larger or {})  # path: its own cap (an import takes a whole history)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        received = 0
        max_bytes = self.larger.get(scope["path"], self.max_bytes)

        async def limited_receive() -> Message:
            nonlocal received
            if declared.isdigit() and int(declared) > max_bytes:
                raise self._too_large(max_bytes)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise self._too_large(max_bytes)
            return message

        await self.app(scope, limited_receive, send)

    def _too_large(self, max_bytes: int) -> HTTPException:
        return HTTPException(413, f"Request body too large: the limit is {max_bytes} bytes.")
