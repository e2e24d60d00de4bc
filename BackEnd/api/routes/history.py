"""The messages of the caller's conversations."""

from fastapi import APIRouter, Response, status

from ...schemas import HistoryPage
from ...services import conversations
from ..deps import CurrentUser, DatabaseDep
from ..errors import responses
from .conversations import Limit, Offset

router = APIRouter(prefix="/history", tags=["history"], responses=responses(401, 503))


@router.get("/{conversation_id}", responses=responses(404))
def read_history(
    conversation_id: str, user: CurrentUser, database: DatabaseDep, limit: Limit = 50, offset: Offset = 0
) -> HistoryPage:
    """A page of a conversation's messages, oldest first."""
    page = conversations.read_history(database, user["id"], conversation_id, limit=limit, offset=offset)
    return HistoryPage.model_validate(
        {"items": page.items, "limit": limit, "offset": offset, "total": page.total}
    )


@router.delete("/{conversation_id}", status_code=status.HTTP_204_NO_CONTENT, responses=responses(404))
def clear_history(conversation_id: str, user: CurrentUser, database: DatabaseDep) -> Response:
    """Delete a conversation's messages; the conversation stays."""
    conversations.clear_history(database, user["id"], conversation_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete("", status_code=status.HTTP_204_NO_CONTENT)
def delete_all_history(user: CurrentUser, database: DatabaseDep) -> Response:
    """Delete all the caller's conversations and messages."""
    conversations.delete_all_history(database, user["id"])
    return Response(status_code=status.HTTP_204_NO_CONTENT)
