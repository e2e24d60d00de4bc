"""API bodies of model choice, preferences and usage (issue 9); the chat parameters' rules live here."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field

from .schemas import ModelName, OneLine, Temperature, Text, UserPublic

__all__ = [
    "MAX_SYSTEM_PROMPT_CHARS",
    "AccountUsage",
    "ModelInfo",
    "ModelList",
    "PreferencesPublic",
    "PreferencesUpdate",
    "Profile",
    "ProfileUpdate",
    "UsageFigures",
    "UsageList",
    "UsageOfDay",
    "UsageOfModel",
    "UsageReport",
]

MAX_SYSTEM_PROMPT_CHARS = 4_000


def _strip(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


def _not_blank(value: str) -> str:
    if not value:
        raise ValueError("must not be blank")
    return value


def _blank_is_none(value: str | None) -> str | None:
    return value or None


class PreferencesPublic(BaseModel):
    """What the account's turns use when a request names nothing; null: the server's default."""

    model: str | None = None
    temperature: float | None = None
    system_prompt: str | None = None


class Profile(UserPublic):
    """The caller's own account, with its preferences."""

    preferences: PreferencesPublic = Field(default_factory=PreferencesPublic)


class PreferencesUpdate(BaseModel):
    """The preferences to change: a field sent as null goes back to the default, one left out stays."""

    model: ModelName | None = None
    temperature: Temperature | None = None
    system_prompt: Annotated[
        Annotated[Text, Field(max_length=MAX_SYSTEM_PROMPT_CHARS)] | None,
        BeforeValidator(_strip),
        AfterValidator(_blank_is_none),
    ] = None


class ProfileUpdate(BaseModel):
    """`PATCH /auth/me`: any other field (role, email, id…) is ignored, as on register."""

    name: (
        Annotated[OneLine, BeforeValidator(_strip), Field(max_length=100), AfterValidator(_not_blank)] | None
    ) = None
    preferences: PreferencesUpdate | None = None


class UsageFigures(BaseModel):
    """Sums over answers: `messages` counts the model's answers; `cost` is null until one reported it."""

    messages: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cost: float | None = None


class UsageOfDay(UsageFigures):
    """One UTC day's figures."""

    date: str


class UsageOfModel(UsageFigures):
    """One answering model's figures."""

    model: str


class UsageReport(BaseModel):
    """An account's spending over a range of UTC days."""

    total: UsageFigures
    by_day: list[UsageOfDay]
    by_model: list[UsageOfModel]


class AccountUsage(UsageFigures):
    """One account's totals in the administrators' report."""

    user_id: str
    email: str
    name: str | None


class UsageList(BaseModel):
    """Every account's totals over a range of UTC days (administrators only)."""

    items: list[AccountUsage]


class ModelInfo(BaseModel):
    """A model the caller may choose."""

    id: str
    name: str
    context_length: int | None = None


class ModelList(BaseModel):
    """The models on offer, and the one a turn uses when it names none."""

    items: list[ModelInfo]
    default: str
