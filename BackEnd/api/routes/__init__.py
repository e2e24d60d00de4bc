"""One router per domain, gathered into the API router."""

from fastapi import APIRouter

from . import auth, chat, conversations, history, root, search, transfer, users

__all__ = ["api_router"]

api_router = APIRouter()
# transfer before conversations: `/conversations/export` is not a conversation id.
for module in (root, auth, users, transfer, conversations, history, chat, search):
    api_router.include_router(module.router)
