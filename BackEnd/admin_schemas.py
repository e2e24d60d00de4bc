"""Request and response bodies of the classroom routes: account administration, passwords, audit."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, Field, model_validator

from .schemas import NewPassword, OneLine, Text, UserPublic, _strip

__all__ = [
    "AccountItem",
    "AccountPage",
    "AccountUpdate",
    "AuditItem",
    "AuditPage",
    "ImportCreated",
    "ImportReply",
    "ImportSkipped",
    "OwnPasswordChange",
    "PasswordReset",
]

MAX_CREDITS = 10**15


class AccountItem(UserPublic):
    """An account as the admin list shows it, with its figures."""

    conversations: int
    messages: int
    total_tokens: int


class AccountPage(BaseModel):
    """A page of accounts, oldest first."""

    items: list[AccountItem]
    limit: int
    offset: int
    total: int


class AccountUpdate(BaseModel):
    """What an administrator may change. `role` is refused (422): promotion stays a command-line
    matter, and a silent success would mislead; any other field is ignored, as everywhere."""

    @model_validator(mode="before")
    @classmethod
    def _no_role(cls, data: object) -> object:
        if isinstance(data, dict) and "role" in data:
            raise ValueError("role cannot be changed here; use `python main.py promote` or `demote`")
        return data

    name: Annotated[OneLine, BeforeValidator(_strip), Field(min_length=1, max_length=100)] | None = None
    is_active: bool | None = None
    credits: Annotated[int, Field(ge=0, le=MAX_CREDITS)] | None = Field(
        default=None, description="Tokens the account may still spend; null means unlimited."
    )


class OwnPasswordChange(BaseModel):
    """The caller's current password and the new one."""

    current_password: Annotated[Text, Field(max_length=1024)]
    new_password: NewPassword


class PasswordReset(BaseModel):
    """A password an administrator sets for a user."""

    new_password: NewPassword


class ImportCreated(BaseModel):
    """An account made from the class list; `password` only when the server generated it."""

    email: str
    name: str | None
    password: str | None


class ImportSkipped(BaseModel):
    """A row not imported, and why (the header is line 1)."""

    line: int
    email: str
    reason: str


class ImportReply(BaseModel):
    """The outcome of an import."""

    created: list[ImportCreated]
    skipped: list[ImportSkipped]


class AuditItem(BaseModel):
    """One administrative action; `actor_*` are null for the command line."""

    at: str
    actor_id: str | None
    actor_email: str | None
    action: str
    target_id: str | None
    target_email: str | None
    detail: str


class AuditPage(BaseModel):
    """The audit trail, newest first."""

    items: list[AuditItem]
    limit: int
    offset: int
    total: int
