"""Account administration, and deleting one's own account."""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response, status

from ...model_schemas import UsageList, UsageReport
from ...schemas import UserList, UserPublic
from ...services import auth, usage
from ..deps import AdminUser, CurrentUser, DatabaseDep, UsageDays
from ..errors import responses

router = APIRouter(prefix="/users", tags=["users"], responses=responses(401, 503))


@router.get("", responses=responses(403))
def read_users(_: AdminUser, database: DatabaseDep) -> UserList:
    """Every account (administrators only)."""
    return UserList(items=[UserPublic.model_validate(user) for user in auth.list_users(database)])


@router.get(
    "/usage",
    response_model=UsageList,
    responses={**responses(403), 200: {"content": {"text/csv": {}}}},
)
def read_usage_of_everyone(
    _: AdminUser,
    database: DatabaseDep,
    days: UsageDays,
    format: Annotated[Literal["json", "csv"], Query(description="csv: one row per account")] = "json",
) -> Any:
    """Every account's usage totals over UTC days `from`…`to` (administrators only)."""
    items = usage.all_accounts(database, *days)
    if format == "csv":
        filename = f"usage-{days[0]}-{days[1]}.csv"
        return Response(
            usage.accounts_csv(items),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )
    return UsageList.model_validate({"items": items})


@router.get("/{user_id}/usage", responses=responses(403, 404))
def read_usage_of_user(user_id: str, _: AdminUser, database: DatabaseDep, days: UsageDays) -> UsageReport:
    """One account's usage over UTC days `from`…`to` (administrators only)."""
    return UsageReport.model_validate(usage.account_report(database, user_id, *days))


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
