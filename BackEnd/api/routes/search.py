"""Search in the caller's conversations."""

from typing import Annotated

from fastapi import APIRouter, Query

from ...schemas import SearchPage
from ...services import search as search_service
from ..deps import CurrentUser, DatabaseDep
from ..errors import responses

router = APIRouter(prefix="/search", tags=["search"], responses=responses(401, 503))


@router.get("", responses=responses(422))
def search(
    user: CurrentUser,
    database: DatabaseDep,
    q: Annotated[
        str, Query(max_length=500, description='Words (prefixes) and "quoted phrases"; all must match.')
    ] = "",
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> SearchPage:
    """The caller's titles and messages matching every word, newest first, with `<mark>`ed snippets."""
    page = search_service.search(database, user["id"], q, limit=limit, offset=offset)
    return SearchPage.model_validate(
        {"items": page.items, "total": page.total, "total_is_lower_bound": page.total_is_lower_bound}
    )
