"""Typed settings, read once from the environment and an optional `.env` file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

__all__ = ["DEFAULT_SYSTEM_PROMPT", "JWT_KEY_BYTES", "Settings"]

DEFAULT_SYSTEM_PROMPT = (
    "You are AssistantIA, a helpful, honest and concise assistant. Answer in the language the user writes in."
)


# RFC 7518 section 3.2 (and RFC 8725): an HMAC key at least as long as the hash output.
JWT_KEY_BYTES = {"HS256": 32, "HS384": 48, "HS512": 64}

_POSTGRES_SCHEMES = {"postgres", "postgresql", "postgresql+psycopg"}
_SQLITE_SCHEMES = {"sqlite", "sqlite+pysqlite"}
_DATABASE_URL_HELP = (
    "DATABASE_URL must look like postgresql://user:password@host:5432/name or sqlite:///path/to/file.db"
)


class Settings(BaseSettings):
    """Every knob of the server; the names are part of the product (see README)."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", hide_input_in_errors=True
    )

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    bdd_dir: Path = Path("BDD")
    # None keeps the TinyDB files in BDD_DIR; a PostgreSQL or SQLite URL selects the SQL backend.
    database_url: str | None = None
    # Several server processes need a SQL database: TinyDB allows one owner per folder.
    workers: int = Field(default=1, ge=1, le=64)

    # Before jwt_secret: the key's minimum length depends on it.
    jwt_algorithm: Literal["HS256", "HS384", "HS512"] = "HS256"
    # None means: generate one at first start and keep it in the data folder.
    jwt_secret: str | None = None
    jwt_expires_minutes: int = Field(default=60, ge=1, le=60 * 24 * 30)
    # bcrypt work factor; tests lower it, production keeps the default.
    bcrypt_rounds: int = Field(default=12, ge=4, le=16)

    openrouter_api_key: str | None = None
    openrouter_model: str = "openrouter/auto"
    openrouter_base_url: str = "https://openrouter.ai/api/v1"
    openrouter_site_url: str = "http://localhost:3000"
    openrouter_app_name: str = "AssistantIA"
    llm_timeout_seconds: float = Field(default=60.0, gt=0, le=600)

    chat_memory_messages: int = Field(default=8, ge=1, le=200)
    system_prompt: str = DEFAULT_SYSTEM_PROMPT

    # -- per-user size caps (a 409 beyond them) ----------------------------------------------
    max_conversations_per_user: int = Field(default=5_000, ge=1, le=1_000_000)
    max_messages_per_conversation: int = Field(default=10_000, ge=2, le=1_000_000)

    # SQL database waits (issue 14): a locked or overloaded database answers 503 in bounded time.
    # The lock timeout also bounds SQLite's busy wait and the wait for a pooled connection.
    database_statement_timeout_seconds: float = Field(default=10.0, gt=0, le=3600)
    database_lock_timeout_seconds: float = Field(default=10.0, gt=0, le=3600)

    # Upstream fairness: model calls one account may have in flight (per process); the upstream
    # client keeps 250 connections per process, so one account can never hold them all.
    user_concurrent_chats: int = Field(default=4, ge=1, le=50)

    # Streaming and WebSocket (issue 9, parts 1-2): a socket that has not signed in within this
    # delay is closed (1008), so idle unauthenticated sockets cannot pile up.
    ws_auth_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    # -- model choice and usage (issue 9) ------------------------------------------------
    # Model ids a turn or a preference may name, comma-separated; empty allows any. A classroom
    # pays per token: a model outside the list answers 422.
    allowed_models: Annotated[list[str], NoDecode] = []
    # How long GET /ai/models keeps the upstream's list of models before asking again.
    models_cache_seconds: int = Field(default=600, ge=0, le=86_400)
    # -- classroom (issue 12): who may sign up, login throttling, chat rate, credits ---------
    allow_signup: bool = True
    # Exact domains ("ecole.fr,lycee.fr"); empty: any. Subdomains match only when listed.
    allowed_email_domains: Annotated[list[str], NoDecode] = []
    login_max_failures: int = Field(default=5, ge=1, le=1_000)
    login_max_failures_per_address: int = Field(default=50, ge=1, le=100_000)
    login_window_seconds: int = Field(default=900, ge=1, le=7 * 24 * 3600)
    # Messages per user per minute over every chat route; 0 turns the limit off.
    chat_rate_per_minute: int = Field(default=20, ge=0, le=10_000)
    # Credits (tokens) given to new accounts; None (empty) means unlimited.
    default_credits: int | None = Field(default=None, ge=0, le=10**15)
    # Whether admins may read a user's conversations (GET /users/{id}/conversations, /history).
    admin_chat_access: bool = True

    # -- automatic titles (issue 10 part 4) ------------------------------------------------
    # After a thread's first turn, ask the model for a short title (a separate call, after the
    # answer has gone back); false keeps the title derived from the first message.
    auto_titles: bool = True
    # The model asked for titles; empty: OPENROUTER_MODEL.
    title_model: str | None = None

    # -- identity and input hygiene ------------------------------------------------------
    # `CORS_ORIGINS=*` is refused unless this says it is meant (see _no_wildcard_by_mistake).
    cors_allow_any_origin: bool = False

    # HTTP connection limits of `python main.py` (README "Connection limits"), per server process.
    max_header_bytes: int = Field(default=16 * 1024, ge=1024, le=1024 * 1024)
    header_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    keepalive_timeout_seconds: float = Field(default=5.0, gt=0, le=300)
    # None: 1,000, or fewer if the open-file limit leaves no room for more.
    max_connections: int | None = Field(default=None, ge=1, le=1_000_000)

    cors_origins: Annotated[list[str], NoDecode] = [
        "http://localhost:3000",
        "http://localhost:5173",
    ]

    @field_validator("cors_origins", "allowed_models", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("allowed_email_domains", mode="before")
    @classmethod
    def _split_domains(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, list):
            return [str(domain).strip().lower().lstrip("@") for domain in value if str(domain).strip()]
        return value

    @field_validator("jwt_secret", "openrouter_api_key", "database_url", "default_credits", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # `JWT_SECRET=` in a .env file means "not set", not "the empty key".
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("jwt_secret")
    @classmethod
    def _secret_is_strong(cls, value: str | None, info: ValidationInfo) -> str | None:
        algorithm = info.data.get("jwt_algorithm")
        if value is None or algorithm is None:  # no algorithm: its own error is reported
            return value
        needed = JWT_KEY_BYTES[algorithm]
        if len(value.encode()) < needed:
            raise ValueError(
                f"JWT_SECRET must be at least {needed} bytes: {algorithm} needs at least as many as its "
                f'hash; generate one with `python -c "import secrets; print(secrets.token_hex({needed}))"` '
                "or leave it unset to let the server create one"
            )
        return value

    @field_validator("cors_origins")
    @classmethod
    def _no_wildcard_by_mistake(cls, value: list[str], info: ValidationInfo) -> list[str]:
        if "*" in value and not info.data.get("cors_allow_any_origin"):
            raise ValueError(
                "CORS_ORIGINS=* lets every web site a user visits call this API from their browser "
                "(sign up, try passwords, reach a server only the school network sees); list the "
                "SPA's origins instead, or set CORS_ALLOW_ANY_ORIGIN=true if that is really meant"
            )
        return value

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        # The URL is never echoed back: it may carry a password.
        if value is None:
            return None
        scheme, separator, rest = value.strip().partition("://")
        if not separator:
            raise ValueError(_DATABASE_URL_HELP)
        if scheme in _POSTGRES_SCHEMES:
            return f"postgresql+psycopg://{rest}"
        if scheme in _SQLITE_SCHEMES and rest.startswith("/") and len(rest) > 1:
            return f"sqlite:///{rest[1:]}"
        raise ValueError(_DATABASE_URL_HELP)

    @field_validator("openrouter_base_url")
    @classmethod
    def _strip_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")
