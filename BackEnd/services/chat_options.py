"""What a turn asks of the model: the request's parameters, else the caller's preferences, else the server's."""

from __future__ import annotations

from dataclasses import replace

from ..chat_schemas import ChatChoices
from ..completion import ChatOptions
from ..config import Settings
from ..errors import InvalidChoice
from ..records import Preferences, UserRecord

__all__ = [
    "check_model_allowed",
    "chat_options",
    "options_per_model",
    "default_model",
    "preferences_of",
    "system_prompt_for",
]


def preferences_of(user: UserRecord) -> Preferences:
    """The account's preferences, each None when unset."""
    stored: Preferences | dict[str, None] = user.get("preferences") or {}
    return {
        "model": stored.get("model"),
        "temperature": stored.get("temperature"),
        "system_prompt": stored.get("system_prompt"),
    }


def check_model_allowed(settings: Settings, model: str, location: tuple[str, ...]) -> None:
    """InvalidChoice (422 naming `location`) if ALLOWED_MODELS is set and leaves `model` out."""
    if settings.allowed_models and model not in settings.allowed_models:
        raise InvalidChoice(
            f"The model {model!r} is not allowed on this server; choose one of: "
            + ", ".join(settings.allowed_models),
            location,
        )


def default_model(settings: Settings, user: UserRecord) -> str:
    """The model a turn that names none uses: the caller's preference, else OPENROUTER_MODEL.

    A preferred model that ALLOWED_MODELS no longer lists (the list changed since) is skipped
    rather than refused: the account can still chat without first fixing its profile.
    """
    preferred = preferences_of(user)["model"]
    if preferred and (not settings.allowed_models or preferred in settings.allowed_models):
        return preferred
    return settings.openrouter_model


def chat_options(
    settings: Settings,
    user: UserRecord,
    *,
    model: str | None,
    temperature: float | None,
    top_p: float | None,
    max_tokens: int | None,
) -> ChatOptions:
    """The options of one turn; InvalidChoice (422) for a model outside ALLOWED_MODELS.

    A parameter left out takes the caller's preference when there is one, and is otherwise
    not sent upstream (its default is the upstream's).
    """
    if model is not None:
        check_model_allowed(settings, model, ("body", "model"))
    preferences = preferences_of(user)
    return ChatOptions(
        model=model or default_model(settings, user),
        temperature=temperature if temperature is not None else preferences["temperature"],
        top_p=top_p,
        max_tokens=max_tokens,
    )


def system_prompt_for(settings: Settings, user: UserRecord) -> str:
    """The caller's own system prompt when set, else SYSTEM_PROMPT."""
    return preferences_of(user)["system_prompt"] or settings.system_prompt


def options_for_request(settings: Settings, user: UserRecord, request: ChatChoices) -> ChatOptions:
    """`chat_options` for a chat body (`/ai/chat`, its stream, the WebSocket's `chat`)."""
    return chat_options(
        settings,
        user,
        model=request.model,
        temperature=request.temperature,
        top_p=request.top_p,
        max_tokens=request.max_tokens,
    )


def options_per_model(settings: Settings, user: UserRecord, request: ChatChoices) -> list[ChatOptions]:
    """One turn's options for each model it asks: `models` (issue 10), else the one `model`."""
    options = options_for_request(settings, user, request)
    if request.models is None:
        return [options]
    for index, model in enumerate(request.models):
        check_model_allowed(settings, model, ("body", "models", str(index)))
    return [replace(options, model=model) for model in request.models]
