"""The teacher's other tools under /users: class-list import, the audit trail, reading a user's chats."""

from fastapi import APIRouter, Request

from ...admin_schemas import AuditPage, ImportReply
from ...errors import InvalidRequest
from ...schemas import ConversationPage, HistoryPage
from ...services import admin
from ...services.audit import audit_page
from ...services.class_import import import_class_list, parse_class_list
from ..deps import AdminUser, ContextDep, DatabaseDep
from ..errors import BODY_ERRORS, responses
from .conversations import Limit, Offset

router = APIRouter(prefix="/users", tags=["users"], responses=responses(401, 403, 503))


@router.get("/audit")
def read_audit(_: AdminUser, database: DatabaseDep, limit: Limit = 50, offset: Offset = 0) -> AuditPage:
    """Every administrative action, newest first; never a password or a token."""
    page = audit_page(database, limit=limit, offset=offset)
    return AuditPage.model_validate(
        {"items": page.items, "limit": limit, "offset": offset, "total": page.total}
    )


@router.post(
    "/import",
    responses=responses(422, *BODY_ERRORS),
    openapi_extra={
        "requestBody": {
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                    }
                },
            }
        }
    },
)
async def import_users(request: Request, actor: AdminUser, context: ContextDep) -> ImportReply:
    """Create accounts from a CSV `email,name[,password]` (a `text/csv` body or a multipart field `file`).

    Generated passwords are shown this once. At most 2,000 rows (413 beyond, nothing created).
    """
    rows = parse_class_list(await _csv_bytes(request))
    settings = context.settings
    result = await import_class_list(
        context.database.unit_of_work,
        context.hasher,
        rows,
        allowed_domains=settings.allowed_email_domains,
        credits=settings.default_credits,
        actor=actor,
    )
    return ImportReply.model_validate(vars(result))


async def _csv_bytes(request: Request) -> bytes:
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        try:
            form = await request.form()
        except Exception as exc:  # python-multipart's parse errors share no base class
            raise InvalidRequest("The multipart body cannot be read.") from exc
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise InvalidRequest("The multipart body has no file field named 'file'.")
        return await upload.read()
    return await request.body()


@router.get("/{user_id}/conversations", responses=responses(404))
def read_user_conversations(
    user_id: str, actor: AdminUser, context: ContextDep, limit: Limit = 50, offset: Offset = 0
) -> ConversationPage:
    """A user's conversations, as they see them (ADMIN_CHAT_ACCESS; 403 when off). Audited."""
    page = admin.read_user_conversations(
        context.database,
        actor,
        user_id,
        allowed=context.settings.admin_chat_access,
        limit=limit,
        offset=offset,
    )
    return ConversationPage.model_validate(
        {"items": page.items, "limit": limit, "offset": offset, "total": page.total}
    )


@router.get("/{user_id}/history/{conversation_id}", responses=responses(404))
def read_user_history(
    user_id: str,
    conversation_id: str,
    actor: AdminUser,
    context: ContextDep,
    limit: Limit = 50,
    offset: Offset = 0,
) -> HistoryPage:
    """A page of one of a user's conversations, oldest first (ADMIN_CHAT_ACCESS; 403 when off). Audited."""
    page = admin.read_user_history(
        context.database,
        actor,
        user_id,
        conversation_id,
        allowed=context.settings.admin_chat_access,
        limit=limit,
        offset=offset,
    )
    return HistoryPage.model_validate(
        {"items": page.items, "limit": limit, "offset": offset, "total": page.total}
    )
