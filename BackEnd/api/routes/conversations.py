"""The caller's conversations (threads), with their organising shortcuts and fork."""

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response, status

from ...organising import fold
from ...organising_schemas import (
    ConversationUpdate,
    FavoriteState,
    ForkRequest,
    TagAdd,
    TagsState,
)
from ...schemas import ConversationCreate, ConversationPage, ConversationPublic
from ...services import conversations, organising
from ...storage import ThreadQuery
from ..deps import CurrentUser, DatabaseDep, LimitsDep
from ..errors import BODY_ERRORS, responses

router = APIRouter(prefix="/conversations", tags=["conversations"], responses=responses(401, 503))

Limit = Annotated[int, Query(ge=1, le=200, description="At most 200 per page.")]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
FolderFilter = Annotated[
    str | None, Query(max_length=100, description="Only this folder; empty: only those in no folder.")
]
TagFilter = Annotated[
    list[str], Query(max_length=20, description="Repeatable: every tag must be on the thread.")
]
Archived = Literal["false", "true", "all"]


@router.get("")
def read_conversations(
    user: CurrentUser,
    database: DatabaseDep,
    limit: Limit = 50,
    offset: Offset = 0,
    folder: FolderFilter = None,
    tag: TagFilter = [],  # noqa: B006 (FastAPI copies a list default per request)
    favorite: bool | None = None,
    archived: Annotated[Archived, Query(description="Archived threads are hidden by default.")] = "false",
    q: Annotated[
        str | None, Query(max_length=200, description="Part of the title; case and accents ignored.")
    ] = None,
    sort: Literal["updated_at", "created_at", "title"] = "updated_at",
) -> ConversationPage:
    """The caller's conversations that match every filter given; `total` counts them all."""
    query = ThreadQuery(
        folder=folder.strip() if folder is not None else None,
        tags=tuple(sorted({one.strip().lower() for one in tag})),
        favorite=favorite,
        archived=None if archived == "all" else archived == "true",
        title=fold(q.strip()) if q and q.strip() else None,
        sort=sort,
    )
    page = conversations.list_conversations(database, user["id"], limit=limit, offset=offset, query=query)
    return ConversationPage.model_validate(
        {"items": page.items, "limit": limit, "offset": offset, "total": page.total}
    )


@router.post("", status_code=status.HTTP_201_CREATED, responses=responses(409, *BODY_ERRORS))
def create_conversation(
    body: ConversationCreate, user: CurrentUser, database: DatabaseDep, limits: LimitsDep
) -> ConversationPublic:
    """Start an empty conversation (409 once the caller has MAX_CONVERSATIONS_PER_USER)."""
    created = conversations.create_conversation(database, user["id"], title=body.title, limits=limits)
    return ConversationPublic.model_validate(created)


@router.get("/{conversation_id}", responses=responses(404))
def read_conversation(conversation_id: str, user: CurrentUser, database: DatabaseDep) -> ConversationPublic:
    """One conversation, without its messages."""
    found = conversations.get_conversation(database, user["id"], conversation_id)
    return ConversationPublic.model_validate(found)


@router.patch("/{conversation_id}", responses=responses(404, *BODY_ERRORS))
def update_conversation(
    conversation_id: str, body: ConversationUpdate, user: CurrentUser, database: DatabaseDep
) -> ConversationPublic:
    """Rename and/or organise a conversation; only a new title moves `updated_at`."""
    updated = organising.update_conversation(
        database, user["id"], conversation_id, title=body.title, changes=body.organising_changes()
    )
    return ConversationPublic.model_validate(updated)


@router.delete("/{conversation_id}", status_code=status.HTTP_204_NO_CONTENT, responses=responses(404))
def delete_conversation(conversation_id: str, user: CurrentUser, database: DatabaseDep) -> Response:
    """Delete a conversation and all its messages."""
    conversations.delete_conversation(database, user["id"], conversation_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{conversation_id}/favorite", responses=responses(404))
def toggle_favorite(conversation_id: str, user: CurrentUser, database: DatabaseDep) -> FavoriteState:
    """Mark or unmark the conversation as a favourite."""
    return FavoriteState(is_favorite=organising.toggle_favorite(database, user["id"], conversation_id))


@router.post("/{conversation_id}/tags", responses=responses(404, 409, *BODY_ERRORS))
def add_tag(conversation_id: str, body: TagAdd, user: CurrentUser, database: DatabaseDep) -> TagsState:
    """Add a tag (a tag already there is no error; 409 past 20 tags)."""
    return TagsState(tags=organising.add_tag(database, user["id"], conversation_id, body.tag))


@router.delete("/{conversation_id}/tags/{tag}", responses=responses(404))
def remove_tag(conversation_id: str, tag: str, user: CurrentUser, database: DatabaseDep) -> TagsState:
    """Remove a tag (an absent one is no error)."""
    return TagsState(tags=organising.remove_tag(database, user["id"], conversation_id, tag))


@router.post(
    "/{conversation_id}/fork",
    status_code=status.HTTP_201_CREATED,
    responses=responses(404, 409, *BODY_ERRORS),
)
def fork_conversation(
    conversation_id: str,
    user: CurrentUser,
    database: DatabaseDep,
    limits: LimitsDep,
    body: ForkRequest | None = None,
) -> ConversationPublic:
    """A new conversation "<title> (copie)" with copies of the messages up to `message_id` (default: all)."""
    fork = organising.fork_conversation(
        database, user["id"], conversation_id, message_id=body.message_id if body else None, limits=limits
    )
    return ConversationPublic.model_validate(fork)
