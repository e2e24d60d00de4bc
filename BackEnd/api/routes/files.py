"""The stored images of the caller's messages."""

from fastapi import APIRouter, Response

from ...services import images
from ..deps import CurrentUser, DatabaseDep
from ..errors import responses

router = APIRouter(prefix="/files", tags=["files"], responses=responses(401, 503))


@router.get(
    "/{file_id}",
    response_class=Response,
    responses={**responses(404), 200: {"content": {"image/*": {}}, "description": "The image's bytes"}},
)
def read_file(file_id: str, user: CurrentUser, database: DatabaseDep) -> Response:
    """An image of one of the caller's messages, as it was sent; anyone else's is a 404."""
    found = images.read_file(database, user["id"], file_id)
    # nosniff: served as the checked type only; private: a shared cache must not keep it.
    headers = {"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"}
    return Response(found.data, media_type=found.content_type, headers=headers)
