"""The caller's conversations (threads)."""

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from ...schemas import ConversationCreate, ConversationPage, ConversationPublic, ConversationUpdate
from ...services import conversations
from ..deps import CurrentUser, DatabaseDep, LimitsDep
from ..errors import BODY_ERRORS, responses

router = APIRouter(prefix="/conversations", tags=["conversations"], responses=responses(401, 503))

Limit = Annotated[int, Query(ge=1, le=200, description="At most 200 per page.")]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]


@router.get("")
def read_conversations(
    user: CurrentUser, database: DatabaseDep, limit: Limit = 50, offset: Offset = 0
) -> ConversationPage:
    """The caller's conversations, most recently updated first."""
    page = conversations.list_conversations(database, user["id"], limit=limit, offset=offset)
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
def rename_conversation(
    conversation_id: str, body: ConversationUpdate, user: CurrentUser, database: DatabaseDep
) -> ConversationPublic:
    """Rename a conversation."""
    renamed = conversations.rename_conversation(database, user["id"], conversation_id, title=body.title)
    return ConversationPublic.model_validate(renamed)


@router.delete("/{conversation_id}", status_code=status.HTTP_204_NO_CONTENT, responses=responses(404))
def delete_conversation(conversation_id: str, user: CurrentUser, database: DatabaseDep) -> Response:
    """Delete a conversation and all its messages."""
    conversations.delete_conversation(database, user["id"], conversation_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
