"""One router per domain, gathered into the API router."""

from fastapi import APIRouter

from . import (
    auth,
    chat,
    chat_socket,
    chat_stream,
    conversations,
    history,
    labels,
    root,
    search,
    transfer,
    users,
)

__all__ = ["api_router"]

api_router = APIRouter()
# transfer before conversations: `/conversations/export` is not a conversation id.
for module in (
    root,
    auth,
    users,
    transfer,
    conversations,
    labels,
    history,
    chat,
    chat_stream,
    chat_socket,
    search,
):
    api_router.include_router(module.router)
