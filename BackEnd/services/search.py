"""Search over the caller's titles and messages, with highlighted snippets."""

from __future__ import annotations

from typing import Any

from ..errors import InvalidInput
from ..search_text import parse_query, snippet
from ..storage import Database, Page

__all__ = ["search"]


def search(database: Database, user_id: str, text: str, *, limit: int, offset: int) -> Page[dict[str, Any]]:
    """The user's matching titles and messages, newest first; InvalidInput for a query with no word."""
    try:
        query = parse_query(text)
    except ValueError as exc:
        raise InvalidInput(f"q: {exc}") from exc
    with database.unit_of_work(user_id, write=False) as unit:
        page = unit.search.search(user_id, query, limit=limit, offset=offset)
    items = [
        {
            "conversation_id": hit.conversation["id"],
            "title": hit.conversation["title"],
            "message_id": hit.message_id,
            "role": hit.role,
            "snippet": snippet(hit.text, query),
            "created_at": hit.created_at,
            "archived": hit.conversation["archived"],
        }
        for hit in page.items
    ]
    return Page(items=items, total=page.total, total_is_lower_bound=page.total_is_lower_bound)
