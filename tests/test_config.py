"""Settings: the product's environment variables, parsed and checked in one place."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from BackEnd.config import Settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)


def test_defaults_need_no_environment_and_no_env_file() -> None:
    settings = Settings(_env_file=None)
    assert (settings.host, settings.port, settings.bdd_dir) == ("127.0.0.1", 8000, Path("BDD"))
    assert settings.jwt_secret is None and settings.openrouter_api_key is None
    assert (settings.jwt_algorithm, settings.jwt_expires_minutes, settings.chat_memory_messages) == (
        "HS256",
        60,
        8,
    )
    assert settings.openrouter_base_url == "https://openrouter.ai/api/v1"
    assert settings.cors_origins == ["http://localhost:3000", "http://localhost:5173"]


def test_environment_variables_are_read_and_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORS_ORIGINS", " https://a.example , https://b.example,")
    monkeypatch.setenv("OPENROUTER_BASE_URL", "http://127.0.0.1:11434/v1/")
    monkeypatch.setenv("CHAT_MEMORY_MESSAGES", "4")
    monkeypatch.setenv("JWT_SECRET", "")  # an empty line in .env means "not set"
    settings = Settings(_env_file=None)
    assert settings.cors_origins == ["https://a.example", "https://b.example"]
    assert settings.openrouter_base_url == "http://127.0.0.1:11434/v1"
    assert settings.chat_memory_messages == 4
    assert settings.jwt_secret is None


def test_env_file_is_read(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("PORT=9001\nOPENROUTER_MODEL=mistralai/mistral-small\n", encoding="utf-8")
    settings = Settings(_env_file=env_file)
    assert (settings.port, settings.openrouter_model) == (9001, "mistralai/mistral-small")


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("JWT_SECRET", "too-short"),
        ("JWT_ALGORITHM", "none"),
        ("JWT_ALGORITHM", "RS256"),
        ("PORT", "0"),
        ("CHAT_MEMORY_MESSAGES", "0"),
        ("LLM_TIMEOUT_SECONDS", "-1"),
        ("WORKERS", "0"),
    ],
)
def test_unsafe_or_impossible_values_are_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError) as raised:
        Settings(_env_file=None)
    assert variable.lower() in str(raised.value)


@pytest.mark.parametrize(
    ("algorithm", "secret_bytes", "accepted"),
    [
        ("HS256", 31, False),
        ("HS256", 32, True),
        ("HS384", 47, False),
        ("HS384", 48, True),
        ("HS512", 63, False),
        ("HS512", 64, True),
    ],
)
def test_jwt_secret_must_be_as_long_as_the_algorithms_hash(
    monkeypatch: pytest.MonkeyPatch, algorithm: str, secret_bytes: int, accepted: bool
) -> None:
    # RFC 7518 section 3.2: an HMAC key at least as long as the hash output.
    monkeypatch.setenv("JWT_ALGORITHM", algorithm)
    monkeypatch.setenv("JWT_SECRET", "k" * secret_bytes)
    if accepted:
        assert Settings(_env_file=None).jwt_secret == "k" * secret_bytes
        return
    with pytest.raises(ValidationError) as raised:
        Settings(_env_file=None)
    assert "jwt_secret" in str(raised.value) and f"{algorithm} needs at least" in str(raised.value)


@pytest.mark.parametrize("origins", ["*", "http://localhost:5173, *"])
def test_cors_any_origin_is_refused_unless_explicitly_allowed(
    monkeypatch: pytest.MonkeyPatch, origins: str
) -> None:
    monkeypatch.setenv("CORS_ORIGINS", origins)
    with pytest.raises(ValidationError) as raised:
        Settings(_env_file=None)
    assert "cors_origins" in str(raised.value) and "CORS_ALLOW_ANY_ORIGIN=true" in str(raised.value)

    monkeypatch.setenv("CORS_ALLOW_ANY_ORIGIN", "true")
    assert "*" in Settings(_env_file=None).cors_origins


@pytest.mark.parametrize(
    ("given", "used"),
    [
        (
            "postgres://ann:pw@db.example:5433/assistantia",
            "postgresql+psycopg://ann:pw@db.example:5433/assistantia",
        ),
        ("postgresql://ann@127.0.0.1/assistantia", "postgresql+psycopg://ann@127.0.0.1/assistantia"),
        ("postgresql+psycopg://127.0.0.1/x", "postgresql+psycopg://127.0.0.1/x"),
        ("sqlite:///data/assistantia.db", "sqlite:///data/assistantia.db"),
        ("sqlite:////srv/assistantia.db", "sqlite:////srv/assistantia.db"),
        (" ", None),
    ],
)
def test_database_url_is_normalised_to_the_psycopg_driver(
    monkeypatch: pytest.MonkeyPatch, given: str, used: str | None
) -> None:
    monkeypatch.setenv("DATABASE_URL", given)
    assert Settings(_env_file=None).database_url == used


@pytest.mark.parametrize(
    "given", ["mysql://ann:s3cret@db/x", "postgresql+asyncpg://ann:s3cret@db/x", "sqlite://", "s3cret"]
)
def test_other_database_urls_are_refused_without_echoing_them(
    monkeypatch: pytest.MonkeyPatch, given: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", given)
    with pytest.raises(ValidationError) as raised:
        Settings(_env_file=None)
    assert "database_url" in str(raised.value) and "postgresql://" in str(raised.value)
    assert "s3cret" not in str(raised.value)


def test_http_limits_default_to_the_documented_values() -> None:
    settings = Settings(_env_file=None)
    assert (settings.max_header_bytes, settings.header_timeout_seconds) == (16384, 10.0)
    assert (settings.keepalive_timeout_seconds, settings.max_connections) == (5.0, None)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("MAX_HEADER_BYTES", "512"),  # a browser's cookies and a JWT alone need more
        ("MAX_HEADER_BYTES", "2000000"),
        ("HEADER_TIMEOUT_SECONDS", "0"),
        ("KEEPALIVE_TIMEOUT_SECONDS", "-1"),
        ("MAX_CONNECTIONS", "0"),
    ],
)
def test_impossible_http_limits_are_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError) as raised:
        Settings(_env_file=None)
    assert variable.lower() in str(raised.value)


def test_allowed_models_and_the_models_cache_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    assert (Settings(_env_file=None).allowed_models, Settings(_env_file=None).models_cache_seconds) == (
        [],
        600,
    )
    monkeypatch.setenv("ALLOWED_MODELS", " openai/gpt-4o-mini, mistralai/mistral-small ,")
    monkeypatch.setenv("MODELS_CACHE_SECONDS", "30")
    settings = Settings(_env_file=None)
    assert settings.allowed_models == ["openai/gpt-4o-mini", "mistralai/mistral-small"]
    assert settings.models_cache_seconds == 30
    monkeypatch.setenv("ALLOWED_MODELS", "")
    assert Settings(_env_file=None).allowed_models == []
    monkeypatch.setenv("MODELS_CACHE_SECONDS", "-1")
    with pytest.raises(ValidationError, match="models_cache_seconds"):
        Settings(_env_file=None)
