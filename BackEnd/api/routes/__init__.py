"""One router per domain, gathered into the API router."""

from fastapi import APIRouter

from . import auth, chat, classroom, conversations, history, root, users

__all__ = ["api_router"]

api_router = APIRouter()
for module in (root, auth, classroom, users, conversations, history, chat):
    api_router.include_router(module.router)
