"""Search's capped count on every backend: exact up to the cap, a lower bound past it, pages still exact."""

from __future__ import annotations

import pytest

from BackEnd import search_text
from BackEnd.records import UserRecord
from BackEnd.search_text import parse_query
from BackEnd.storage import Database, Page
from BackEnd.storage.base import SearchHit
from tests.utils.records import add_users, make_conversation, make_turn, make_user

CAP = 5
MESSAGES = 12  # every one holds "pomme rouge"; the even ones also "verte"


@pytest.fixture
def alice(db: Database, monkeypatch: pytest.MonkeyPatch) -> UserRecord:
    monkeypatch.setattr(search_text, "TOTAL_CAP", CAP)
    user = make_user("alice@example.com")
    add_users(db, user)
    conversation = {**make_conversation(user["id"], "fil"), "created_at": "2020-01-01T00:00:00.000000Z"}
    conversation["updated_at"] = conversation["created_at"]
    messages = []
    for number in range(MESSAGES):
        (message, _) = make_turn(user["id"], conversation["id"], "x")
        words = "pomme rouge verte" if number % 2 == 0 else "pomme rouge"
        stamp = f"2020-01-02T00:00:{number:02d}.000000Z"
        messages.append({**message, "content": f"{words} {number}", "created_at": stamp})
    with db.unit_of_work(user["id"]) as unit:
        unit.threads.add(conversation)  # type: ignore[arg-type]
        unit.threads.insert_dated(user["id"], conversation["id"], messages)  # type: ignore[arg-type]
    return user


def search(db: Database, user: UserRecord, query: str, *, limit: int, offset: int = 0) -> Page[SearchHit]:
    with db.unit_of_work(user["id"], write=False) as unit:
        return unit.search.search(user["id"], parse_query(query), limit=limit, offset=offset)


def numbers(page: Page[SearchHit]) -> list[int]:
    return [int(hit.text.split()[-1]) for hit in page.items]


@pytest.mark.parametrize("query", ["pomme", "pom rou", '"pomme rouge"'])
def test_past_the_cap_the_total_is_the_cap_and_a_lower_bound(
    db: Database, alice: UserRecord, query: str
) -> None:
    page = search(db, alice, query, limit=3)
    assert numbers(page) == [11, 10, 9]
    assert (page.total, page.total_is_lower_bound) == (CAP, True)


@pytest.mark.parametrize("query", ["verte", "pomme verte", '"rouge verte"'])
def test_up_to_the_cap_the_total_is_exact(db: Database, alice: UserRecord, query: str) -> None:
    page = search(db, alice, query, limit=20)
    assert numbers(page) == [10, 8, 6, 4, 2, 0]  # six, one past the cap: counted to the page's end
    assert (page.total, page.total_is_lower_bound) == (6, False)
    capped = search(db, alice, query, limit=2)
    assert numbers(capped) == [10, 8]
    assert (capped.total, capped.total_is_lower_bound) == (CAP, True)


@pytest.mark.parametrize("query", ["pomme", '"pomme rouge"'])
def test_pages_past_the_cap_stay_in_order_and_count_to_their_end(
    db: Database, alice: UserRecord, query: str
) -> None:
    pages = [search(db, alice, query, limit=3, offset=offset) for offset in range(0, MESSAGES + 3, 3)]
    assert [number for page in pages for number in numbers(page)] == list(range(MESSAGES - 1, -1, -1))
    assert [(page.total, page.total_is_lower_bound) for page in pages] == [
        (CAP, True),  # offset 0: counted to 5
        (6, True),  # offset 3: counted to the page's end, 6
        (9, True),
        (12, False),  # offset 9: the page's end is 12, every match counted
        (12, False),  # offset 12: past the last match, still exact
    ]
