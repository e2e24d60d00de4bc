"""One router per domain, gathered into the API router."""

from fastapi import APIRouter

from . import (
    auth,
    chat,
    chat_socket,
    chat_stream,
    classroom,
    conversations,
    files,
    history,
    labels,
    regenerate,
    root,
    search,
    transfer,
    users,
)

__all__ = ["api_router"]

api_router = APIRouter()
# classroom before users: `/users/import` and `/users/audit` are not user ids.
# transfer before conversations: `/conversations/export` is not a conversation id.
for module in (
    root,
    auth,
    classroom,
    users,
    transfer,
    conversations,
    labels,
    history,
    chat,
    chat_stream,
    regenerate,
    chat_socket,
    search,
    files,
):
    api_router.include_router(module.router)
