"""Dependencies, declared once as `Annotated` aliases that routes use as parameter types."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import OAuth2PasswordBearer

from ..config import Settings
from ..errors import PermissionDenied
from ..llm import ChatModel
from ..records import UserRecord
from ..security import PasswordHasher, TokenCodec
from ..services import auth, usage
from ..services.chat_slots import ChatSlots
from ..services.conversations import ThreadLimits
from ..services.generations import Generations
from ..services.model_catalogue import ModelCatalogue
from ..services.titles import TitleWriter
from ..storage import Database

__all__ = [
    "AdminUser",
    "AppContext",
    "ClientAddress",
    "ContextDep",
    "CurrentUser",
    "DatabaseDep",
    "LimitsDep",
    "UsageDays",
    "get_context",
]


@dataclass(frozen=True)
class AppContext:
    """Everything the app builds once at start-up and shares between requests."""

    settings: Settings
    database: Database
    hasher: PasswordHasher
    tokens: TokenCodec
    chat_model: ChatModel
    limits: ThreadLimits
    chat_slots: ChatSlots
    generations: Generations
    models: ModelCatalogue
    titles: TitleWriter | None = None  # None: AUTO_TITLES=false


# Dependencies that do no I/O are `async def`: FastAPI runs a plain `def` in a worker
# thread, a hop that costs more than the work.


async def get_context(request: Request) -> AppContext:
    """The context the lifespan stored on the app."""
    context: AppContext = request.app.state.context
    return context


ContextDep = Annotated[AppContext, Depends(get_context)]


async def get_database(context: ContextDep) -> Database:
    """The storage backend."""
    return context.database


DatabaseDep = Annotated[Database, Depends(get_database)]


async def get_limits(context: ContextDep) -> ThreadLimits:
    """The per-user size caps."""
    return context.limits


LimitsDep = Annotated[ThreadLimits, Depends(get_limits)]

# auto_error=False: a missing token is a domain AuthenticationError, mapped like the others.
_bearer = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)


def get_current_user(context: ContextDep, token: Annotated[str | None, Depends(_bearer)]) -> UserRecord:
    """The caller's account, read from storage on every request (in a worker thread: storage I/O)."""
    return auth.user_from_token(context.database, context.tokens, token)


CurrentUser = Annotated[UserRecord, Depends(get_current_user)]


async def require_admin(user: CurrentUser) -> UserRecord:
    """The caller's account, if its stored role is admin."""
    if user["role"] != "admin":
        raise PermissionDenied("This action is reserved for administrators.")
    return user


AdminUser = Annotated[UserRecord, Depends(require_admin)]


async def get_usage_days(
    first: Annotated[date | None, Query(alias="from", description="First UTC day, YYYY-MM-DD")] = None,
    last: Annotated[date | None, Query(alias="to", description="Last UTC day, YYYY-MM-DD")] = None,
) -> tuple[str, str]:
    """The UTC days a usage report covers: `from`…`to`, by default the last 30."""
    return usage.day_range(first, last)


UsageDays = Annotated[tuple[str, str], Depends(get_usage_days)]


async def get_client_address(request: Request) -> str:
    """The address the request comes from, as the server sees it (what login throttling counts)."""
    return request.client.host if request.client else "unknown"


ClientAddress = Annotated[str, Depends(get_client_address)]
