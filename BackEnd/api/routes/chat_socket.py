"""The chat WebSocket: the streamed events of `/ai/chat/stream`, several chats on one socket."""

from fastapi import APIRouter, WebSocket

from ..chat_socket import ChatSocket
from ..deps import AppContext

__all__ = ["router"]

router = APIRouter(prefix="/ai", tags=["chat"])


@router.websocket("/ws")
async def chat_socket(websocket: WebSocket) -> None:
    """Sign in with the first message, then send `chat` and `stop` messages (see the README)."""
    context: AppContext = websocket.app.state.context
    await ChatSocket(websocket, context).serve()
