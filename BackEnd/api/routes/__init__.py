"""One router per domain, gathered into the API router."""

from fastapi import APIRouter

from . import auth, chat, conversations, history, root, search, users

__all__ = ["api_router"]

api_router = APIRouter()
for module in (root, auth, users, conversations, history, chat, search):
    api_router.include_router(module.router)
