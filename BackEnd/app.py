"""The application factory: settings, storage, upstream client, CORS, routers, error mapping."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi_offline import FastAPIOffline

from . import __version__
from .api.deps import AppContext
from .api.errors import install_error_handlers
from .api.limits import MAX_CHAT_BYTES, BodySizeLimit
from .api.routes import api_router
from .api.routes.transfer import IMPORT_PATH
from .config import Settings
from .llm import ChatModel
from .security import PasswordHasher, TokenCodec, load_or_create_secret
from .services.chat_slots import LocalChatSlots
from .services.conversations import ThreadLimits
from .services.generations import Generations
from .services.model_catalogue import ModelCatalogue
from .services.titles import TitleWriter
from .storage import Database, open_database
from .upstream_http import build_upstream_client

__all__ = ["MAX_BODY_BYTES", "MAX_CHAT_BYTES", "MAX_IMPORT_BYTES", "create_app"]

logger = logging.getLogger(__name__)

# The largest legitimate body is a 20,000-character message, JSON-escaped: well under this.
MAX_BODY_BYTES = 1024 * 1024
# An import carries a whole history (ChatGPT's conversations.json of a year of use).
MAX_IMPORT_BYTES = 25 * 1024 * 1024
CHAT_PATHS = ("/ai/chat", "/ai/chat/stream")


def create_app(
    settings: Settings | None = None,
    *,
    database: Database | None = None,
    upstream_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """Build the API. Without `database`, the lifespan opens (and closes) the configured one.

    `upstream_transport` replaces the network under the model client (tests use
    `httpx.MockTransport`).
    """
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        active = database if database is not None else open_database(settings)
        try:
            secret = settings.jwt_secret or load_or_create_secret(settings.bdd_dir, settings.jwt_algorithm)
            if not settings.openrouter_api_key:
                logger.warning("OPENROUTER_API_KEY is not set: POST /ai/chat answers 503 until it is.")
            async with (
                build_upstream_client(settings, upstream_transport) as client,
                # Exited first: running answers are written and stored before the client closes.
                Generations(active.signals) as generations,
            ):
                chat_model = ChatModel(settings, client)
                app.state.context = AppContext(
                    settings=settings,
                    database=active,
                    hasher=PasswordHasher(rounds=settings.bcrypt_rounds, concurrency=os.cpu_count() or 2),
                    tokens=TokenCodec(
                        secret, algorithm=settings.jwt_algorithm, expires_minutes=settings.jwt_expires_minutes
                    ),
                    chat_model=chat_model,
                    limits=ThreadLimits(
                        conversations_per_user=settings.max_conversations_per_user,
                        messages_per_conversation=settings.max_messages_per_conversation,
                    ),
                    chat_slots=LocalChatSlots(settings.user_concurrent_chats),
                    generations=generations,
                    models=ModelCatalogue(settings, client),
                    titles=TitleWriter(active, chat_model, generations, settings.title_model or None)
                    if settings.auto_titles
                    else None,
                )
                yield
        finally:
            if database is None:  # opened here, so closed here
                active.close()

    # Swagger UI 5 served from the package, not a CDN: classroom servers may be offline.
    app = FastAPIOffline(
        title="AssistantIA",
        version=__version__,
        description="Self-hosted AI chat backend. Use **Authorize** with your email and password.",
        lifespan=lifespan,
        swagger_ui_parameters={"persistAuthorization": True},
    )
    # The SPA sends its bearer token in a header it sets itself: no cookie is ever needed, so
    # browsers are never told to send any. Methods and headers: what the API's routes use.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_credentials=False,
        allow_methods=["GET", "POST", "PATCH", "DELETE"],
        allow_headers=["Authorization", "Content-Type"],
        expose_headers=["Retry-After"],
    )
    app.add_middleware(
        BodySizeLimit,
        max_bytes=MAX_BODY_BYTES,
        larger={IMPORT_PATH: MAX_IMPORT_BYTES, **dict.fromkeys(CHAT_PATHS, MAX_CHAT_BYTES)},
    )
    install_error_handlers(app)
    app.include_router(api_router)
    return app
