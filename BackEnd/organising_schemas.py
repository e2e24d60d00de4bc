"""Request and response bodies of issue 11's routes: organising, folders, tags, fork and stats."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, model_validator

from .organising import MAX_FOLDER_CHARS, MAX_TAGS, normalise_tag, normalise_tags
from .schemas import OneLine, Title, _strip

__all__ = [
    "ConversationUpdate",
    "FavoriteState",
    "FolderChange",
    "FolderCount",
    "FolderList",
    "FolderRename",
    "ForkRequest",
    "TagAdd",
    "TagCount",
    "TagList",
    "TagsState",
    "UserStatsPublic",
]

# The raw tag is bounded before trimming, so a huge input never reaches normalisation.
Tag = Annotated[OneLine, Field(max_length=200), AfterValidator(normalise_tag)]
FolderName = Annotated[OneLine, BeforeValidator(_strip), Field(min_length=1, max_length=MAX_FOLDER_CHARS)]


class ConversationUpdate(BaseModel):
    """Any of these fields; only a new title moves `updated_at`. `folder: null` takes it out of its folder.

    `tags` replaces the list: each trimmed and lower-cased, repeats dropped, at most 20.
    """

    title: Title | None = None
    is_favorite: bool | None = None
    archived: bool | None = None
    folder: FolderName | None = None
    tags: Annotated[list[Tag], Field(max_length=MAX_TAGS * 5), AfterValidator(normalise_tags)] | None = None

    @model_validator(mode="after")
    def _something_to_change(self) -> ConversationUpdate:
        given = self.model_fields_set
        if not given:
            raise ValueError("give at least one of title, is_favorite, archived, folder, tags")
        for field in ("title", "is_favorite", "archived", "tags"):
            if field in given and getattr(self, field) is None:
                raise ValueError(f"{field} cannot be null")
        return self

    def organising_changes(self) -> dict[str, Any]:
        """The given fields other than the title, as storage sets them."""
        fields = ("is_favorite", "archived", "folder", "tags")
        return {field: getattr(self, field) for field in fields if field in self.model_fields_set}


class FavoriteState(BaseModel):
    """Whether the conversation is now a favourite."""

    is_favorite: bool


class TagAdd(BaseModel):
    """One tag (trimmed and lower-cased)."""

    tag: Tag


class TagsState(BaseModel):
    """The conversation's tags now, A→Z."""

    tags: list[str]


class TagCount(BaseModel):
    tag: str
    count: int


class TagList(BaseModel):
    """The caller's tags, with how many conversations (archived ones too) carry each."""

    items: list[TagCount]


class FolderCount(BaseModel):
    folder: str
    count: int


class FolderList(BaseModel):
    """The caller's folders, with how many conversations (archived ones too) are in each."""

    items: list[FolderCount]


class FolderRename(BaseModel):
    """The folder's new name (an existing folder of that name takes in the threads)."""

    name: FolderName


class FolderChange(BaseModel):
    """What a folder change did: the folder's name (the new one after a rename) and the threads moved."""

    folder: str
    count: int


class ForkRequest(BaseModel):
    """Copy the thread up to and including `message_id` (default: all of it)."""

    message_id: Annotated[str, Field(max_length=100)] | None = None


class DayCount(BaseModel):
    date: str = Field(description="A UTC day, YYYY-MM-DD.")
    messages: int


class UserStatsPublic(BaseModel):
    """The caller's figures; `by_day` covers the last 30 UTC days, oldest first, zero days included."""

    conversations: int
    messages: int
    favorites: int
    archived: int
    folders: int
    tags: int
    first_message_at: str | None
    last_message_at: str | None
    by_day: list[DayCount]
