"""Account administration, and deleting one's own account."""

from fastapi import APIRouter, Response, status

from ...schemas import UserList, UserPublic
from ...services import auth
from ..deps import AdminUser, CurrentUser, DatabaseDep
from ..errors import responses

router = APIRouter(prefix="/users", tags=["users"], responses=responses(401, 503))


@router.get("", responses=responses(403))
def read_users(_: AdminUser, database: DatabaseDep) -> UserList:
    """Every account (administrators only)."""
    return UserList(items=[UserPublic.model_validate(user) for user in auth.list_users(database)])


@router.delete("/me", status_code=status.HTTP_204_NO_CONTENT)
def delete_me(user: CurrentUser, database: DatabaseDep) -> Response:
    """Delete the caller's account with all its conversations and messages."""
    auth.delete_user(database, user["id"])
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete("/{user_id}", status_code=status.HTTP_204_NO_CONTENT, responses=responses(403, 404))
def delete_user(user_id: str, _: AdminUser, database: DatabaseDep) -> Response:
    """Delete any account with all its data (administrators only)."""
    auth.delete_user(database, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
