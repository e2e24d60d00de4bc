"""One router per domain, gathered into the API router."""

from fastapi import APIRouter

from . import auth, chat, chat_socket, chat_stream, conversations, history, labels, root, users

__all__ = ["api_router"]

api_router = APIRouter()
for module in (root, auth, users, conversations, labels, history, chat, chat_stream, chat_socket):
    api_router.include_router(module.router)
