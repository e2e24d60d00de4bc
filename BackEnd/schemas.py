"""Request and response bodies of the HTTP API; validation of client input happens here."""

from __future__ import annotations

import unicodedata
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, field_validator

from .emails import normalise_email

__all__ = [
    "ConversationCreate",
    "ConversationPage",
    "ConversationPublic",
    "HistoryPage",
    "LoginRequest",
    "ImagePublic",
    "MessagePublic",
    "RegisterRequest",
    "SearchItem",
    "SearchPage",
    "Status",
    "Token",
    "UserList",
    "UsagePublic",
    "UserPublic",
]

MAX_MESSAGE_CHARS = 20_000
MAX_TITLE_CHARS = 200
# A message keeps the layout characters code and pasted text need; every other control
# character (ESC, BEL, backspace, DEL, the C1 range) only ever steers a terminal.
_MESSAGE_LAYOUT = frozenset("\t\n\r")


def _encodable(value: str) -> str:
    # JSON may carry lone surrogates ("\ud800") that no UTF-8 file can store, and NUL
    # characters that PostgreSQL's text cannot hold: refused alike on every backend.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text contains invalid Unicode (a lone surrogate)") from None
    if "\x00" in value:
        raise ValueError("text contains a NUL character")
    return value


def _no_control_characters(value: str) -> str:
    # Names and titles are one line: no control character at all, tabs and newlines included.
    if any(unicodedata.category(char) == "Cc" for char in value):
        raise ValueError("text must not contain control characters (tabs, newlines, ESC…)")
    return value


def _no_terminal_controls(value: str) -> str:
    if any(unicodedata.category(char) == "Cc" and char not in _MESSAGE_LAYOUT for char in value):
        raise ValueError("text must not contain control characters other than tabs and newlines")
    return value


def _password_fits_bcrypt(value: str) -> str:
    if len(value.encode("utf-8")) > 72:
        raise ValueError("password must be at most 72 bytes in UTF-8")
    return value


def _strip(value: object) -> object:
    # Before the length check, so surrounding spaces never count against the limit.
    return value.strip() if isinstance(value, str) else value


def _not_blank(value: str) -> str:
    # A message keeps its exact text (indented code, trailing newlines); only emptiness is refused.
    if not value.strip():
        raise ValueError("must not be blank")
    return value


def _empty_is_none(value: str | None) -> str | None:
    return value or None


Text = Annotated[str, AfterValidator(_encodable)]
Email = Annotated[Text, Field(max_length=320), AfterValidator(normalise_email)]
OneLine = Annotated[Text, AfterValidator(_no_control_characters)]
NewPassword = Annotated[Text, Field(min_length=8, max_length=72), AfterValidator(_password_fits_bcrypt)]
# The chat parameters (issue 9), also checked in preferences. Model ids use these characters
# (`openai/gpt-4o-mini`, `meta-llama/llama-3:free`).
ModelName = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.:/@+-]+$")]
Temperature = Annotated[float, Field(ge=0, le=2, allow_inf_nan=False, strict=True)]
TopP = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False, strict=True)]
MaxTokens = Annotated[int, Field(ge=1, le=32_000, strict=True)]
Title = Annotated[
    OneLine, BeforeValidator(_strip), Field(max_length=MAX_TITLE_CHARS), AfterValidator(_not_blank)
]


# A data URL of a 5 MB image is about 7 MB of base64: the decoded size is checked in services/images.py.
ImageUrl = Annotated[str, Field(max_length=7_000_100)]


class RegisterRequest(BaseModel):
    """A new account; any other field (such as `role`) is ignored."""

    email: Email
    password: NewPassword
    name: Annotated[
        Annotated[OneLine, Field(max_length=100)] | None,
        BeforeValidator(_strip),
        AfterValidator(_empty_is_none),
    ] = None


class LoginRequest(BaseModel):
    """Credentials; mistakes in them all give the same 401."""

    email: Annotated[Text, Field(max_length=320)]
    password: Annotated[Text, Field(max_length=1024)]


class Token(BaseModel):
    """An access token for the `Authorization: Bearer` header."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Lifetime in seconds.")


class UserPublic(BaseModel):
    """An account as the API shows it: never with its password hash."""

    id: str
    email: str
    name: str | None
    role: Literal["user", "admin"]
    created_at: str
    # -- classroom fields (issue 12)
    is_active: bool
    last_login_at: str | None
    credits: int | None = Field(description="Tokens left; null means unlimited.")


class UserList(BaseModel):
    """Every account (admin only)."""

    items: list[UserPublic]


class ConversationCreate(BaseModel):
    """A new thread; without a title it is called "Nouvelle conversation"."""

    title: Annotated[
        Annotated[OneLine, Field(max_length=MAX_TITLE_CHARS)] | None,
        BeforeValidator(_strip),
        AfterValidator(_empty_is_none),
    ] = None


class ConversationPublic(BaseModel):
    """A thread without its messages; `message_count` and `preview` are kept by the server."""

    id: str
    title: str
    created_at: str
    updated_at: str
    is_favorite: bool = False
    archived: bool = False
    folder: str | None = None
    tags: list[str] = Field(default_factory=list)
    message_count: int = 0
    preview: str | None = Field(default=None, description="The first 120 characters of the last message.")


class ConversationPage(BaseModel):
    """The caller's threads, most recently updated first."""

    items: list[ConversationPublic]
    limit: int
    offset: int
    total: int


class UsagePublic(BaseModel):
    """Tokens of one answer as the upstream reported them; `cost` in its currency, when it says."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cost: float | None = None


class ImagePublic(BaseModel):
    """An image of a message: `url` is /files/{id} for a stored one, the original for a remote one."""

    id: str | None
    url: str
    content_type: str | None
    bytes: int | None


class MessagePublic(BaseModel):
    """One message of a thread."""

    id: str
    conversation_id: str
    role: Literal["user", "assistant"]
    content: str
    created_at: str
    # -- what answered (issue 9): null on user messages and on answers stored before
    model: str | None = None
    finish_reason: str | None = None
    usage: UsagePublic | None = None
    # -- images (issue 10): on user messages; empty when the message has none
    images: list[ImagePublic] = []

    @field_validator("images", mode="before")
    @classmethod
    def _no_images(cls, value: object) -> object:
        return [] if value is None else value

    # -- turns (issue 10): the question an answer replies to (null on user messages and older
    # answers), and when a regenerate or an edit last changed the message
    reply_to: str | None = None
    edited_at: str | None = None


class HistoryPage(BaseModel):
    """A chronological slice of a thread."""

    items: list[MessagePublic]
    limit: int
    offset: int
    total: int


MessageText = Annotated[
    Text,
    Field(max_length=MAX_MESSAGE_CHARS),
    AfterValidator(_no_terminal_controls),
    AfterValidator(_not_blank),
]


class Status(BaseModel):
    """The liveness answer of `GET /`."""

    status: Literal["online"] = "online"


class SearchItem(BaseModel):
    """A title (`message_id` null) or message that matches; `snippet` is escaped HTML with `<mark>`s."""

    conversation_id: str
    title: str
    message_id: str | None
    role: Literal["user", "assistant"] | None
    snippet: str
    created_at: str
    archived: bool


class SearchPage(BaseModel):
    """The matches, newest first, and how many there are in all (or at least, past the count's cap)."""

    items: list[SearchItem]
    total: int
    total_is_lower_bound: bool = Field(
        default=False,
        description="True when counting stopped at the cap: there are more than `total` matches.",
    )
