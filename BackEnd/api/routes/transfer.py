"""Export the caller's conversations as files, and import ours or ChatGPT's."""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from ...records import utc_now
from ...services import export_formats, transfer
from ..deps import CurrentUser, DatabaseDep, LimitsDep
from ..errors import BODY_ERRORS, responses

router = APIRouter(prefix="/conversations", tags=["export and import"], responses=responses(401, 503))

IMPORT_PATH = "/conversations/import"
_FILES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The file, as an attachment",
        "content": {
            "application/json": {},
            "text/plain": {"schema": {"type": "string"}},
            "text/markdown": {"schema": {"type": "string"}},
            "application/pdf": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


class ImportResult(BaseModel):
    """How many conversations were imported, and their new ids in the order of the file."""

    imported: int
    conversation_ids: list[str]


def _file(exported: export_formats.ExportFile) -> Response:
    return Response(
        exported.content,
        media_type=exported.media_type,
        headers={"Content-Disposition": exported.disposition, "X-Content-Type-Options": "nosniff"},
    )


@router.get("/export", response_class=Response, responses=_FILES)
def export_all(
    user: CurrentUser, database: DatabaseDep, limits: LimitsDep, format: Literal["json"] = "json"
) -> Response:
    """All the caller's conversations in one JSON file, the shape `POST /conversations/import` takes."""
    threads = transfer.export_all(database, user["id"], limits)
    return _file(export_formats.render_all(threads, exported_at=utc_now()))


@router.get("/{conversation_id}/export", response_class=Response, responses={**_FILES, **responses(404)})
def export_conversation(
    conversation_id: str,
    user: CurrentUser,
    database: DatabaseDep,
    limits: LimitsDep,
    format: Annotated[export_formats.ExportFormat, Query(description="txt, md, json or pdf")] = "json",
) -> Response:
    """One conversation as a file: title, dates, and each message with its role, time and model."""
    conversation, messages = transfer.export_conversation(database, user["id"], conversation_id, limits)
    return _file(export_formats.render(format, conversation, messages, exported_at=utc_now()))


@router.post(
    "/import",
    status_code=status.HTTP_201_CREATED,
    responses=responses(409, 422, *BODY_ERRORS),
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {}}}}},
)
async def import_conversations(
    request: Request, user: CurrentUser, database: DatabaseDep, limits: LimitsDep
) -> ImportResult:
    """Import our export (`format: assistantia-conversations`) or ChatGPT's conversations.json.

    New ids, all or none; the body may reach 25 MiB. Not JSON: 400; 422 names the bad field or node.
    """
    body = await request.body()  # parsed in a worker thread: 25 MiB of JSON must not hold the event loop
    ids = await run_in_threadpool(transfer.import_conversations, database, user["id"], body, limits)
    return ImportResult(imported=len(ids), conversation_ids=ids)
