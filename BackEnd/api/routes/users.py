"""Account administration (admins only), and deleting one's own account."""

from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Query, Response, status

from ...admin_schemas import AccountItem, AccountPage, AccountUpdate, PasswordReset
from ...model_schemas import UsageList, UsageReport
from ...schemas import UserPublic
from ...services import admin, auth, usage
from ..deps import AdminUser, ContextDep, CurrentUser, DatabaseDep, UsageDays
from ..errors import BODY_ERRORS, responses
from .conversations import Limit, Offset

router = APIRouter(prefix="/users", tags=["users"], responses=responses(401, 503))

Search = Annotated[str, Query(max_length=320, description="Email or name contains this (any case).")]


@router.get("", responses=responses(403))
def read_users(
    _: AdminUser,
    database: DatabaseDep,
    limit: Limit = 50,
    offset: Offset = 0,
    q: Search = "",
    active: bool | None = None,
) -> AccountPage:
    """A page of accounts, oldest first, with their figures (administrators only)."""
    page = admin.list_accounts(database, query=q, active=active, limit=limit, offset=offset)
    items = [AccountItem.model_validate({**row.account, **vars(row.figures)}) for row in page.items]
    return AccountPage(items=items, limit=limit, offset=offset, total=page.total)


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


@router.patch("/{user_id}", responses=responses(403, 404, 409, *BODY_ERRORS))
def update_user(user_id: str, body: AccountUpdate, actor: AdminUser, database: DatabaseDep) -> UserPublic:
    """Change a user's name, activity or credits (`role` is refused: promotion stays a CLI matter)."""
    # Only the fields sent; a null name or activity means "unchanged", null credits "unlimited".
    changes = {
        field: getattr(body, field)
        for field in body.model_fields_set
        if field == "credits" or getattr(body, field) is not None
    }
    updated = admin.update_account(database, actor, user_id, changes)
    return UserPublic.model_validate(updated)


@router.post(
    "/{user_id}/password", status_code=status.HTTP_204_NO_CONTENT, responses=responses(403, 404, *BODY_ERRORS)
)
async def reset_password(
    user_id: str, body: PasswordReset, actor: AdminUser, context: ContextDep
) -> Response:
    """Set a user's password (a forgotten one); their tokens stop working."""
    password_hash = await context.hasher.hash(body.new_password)
    await anyio.to_thread.run_sync(admin.reset_password, context.database, actor, user_id, password_hash)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete("/{user_id}", status_code=status.HTTP_204_NO_CONTENT, responses=responses(403, 404, 409))
def delete_user(user_id: str, actor: AdminUser, database: DatabaseDep) -> Response:
    """Delete another account with all its data (administrators only; never their own here)."""
    admin.delete_account(database, actor, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
