"""Threads.replace_last_turn (issue 10's regenerate and edit) on every backend: messages, figures, index."""

from __future__ import annotations

import pytest

from BackEnd.errors import NothingToRegenerate
from BackEnd.records import MessageRecord, UserRecord, message_record, utc_now
from BackEnd.search_text import parse_query
from BackEnd.storage import Database
from tests.utils.records import add_users, chat, make_user


@pytest.fixture
def alice(db: Database) -> UserRecord:
    user = make_user("alice@example.com")
    add_users(db, user)
    return user


def _messages(db: Database, user_id: str, conversation_id: str) -> list[MessageRecord]:
    with db.unit_of_work(user_id, write=False) as uow:
        page = uow.threads.messages(user_id, conversation_id, limit=100, offset=0)
    assert page is not None
    return page.items


def _answer(
    user_id: str, question: MessageRecord, text: str, *, message_id: str | None = None
) -> MessageRecord:
    answer = message_record(user_id, question["conversation_id"], "assistant", text, reply_to=question["id"])
    return {**answer, "id": message_id or answer["id"], "edited_at": utc_now()}


def _search(db: Database, user_id: str, words: str) -> list[str | None]:
    with db.unit_of_work(user_id, write=False) as uow:
        return [
            hit.message_id for hit in uow.search.search(user_id, parse_query(words), limit=50, offset=0).items
        ]


def test_one_new_answer_keeps_the_old_one_s_id_place_and_time(db: Database, alice: UserRecord) -> None:
    thread = chat(db, alice["id"], "first")
    chat(db, alice["id"], "zebra question", thread["id"])
    before = _messages(db, alice["id"], thread["id"])
    question, old = before[-2], before[-1]
    edited = {**question, "content": "giraffe question", "edited_at": utc_now()}

    with db.unit_of_work(alice["id"]) as uow:
        stored = uow.threads.replace_last_turn(
            alice["id"],
            thread["id"],
            edited,
            [old["id"]],
            [_answer(alice["id"], question, "okapi", message_id=old["id"])],
        )

    after = _messages(db, alice["id"], thread["id"])
    assert stored is not None and stored["message_count"] == 4 and stored["preview"] == "okapi"
    assert stored["updated_at"] > before[-1]["created_at"]
    assert after[:2] == before[:2]
    assert (after[2]["id"], after[2]["created_at"], after[2]["content"]) == (
        question["id"],
        question["created_at"],
        "giraffe question",
    )
    assert after[2]["edited_at"] is not None
    assert (after[3]["id"], after[3]["created_at"], after[3]["content"]) == (
        old["id"],
        old["created_at"],
        "okapi",
    )
    assert after[3]["edited_at"] is not None and after[3]["reply_to"] == question["id"]
    with db.unit_of_work(alice["id"], write=False) as uow:
        assert uow.threads.get(alice["id"], thread["id"])["updated_at"] == stored["updated_at"]  # type: ignore[index]
        assert uow.stats.of(alice["id"], since_day="2000-01-01").messages == 4
    assert _search(db, alice["id"], "zebra") == []
    assert _search(db, alice["id"], "giraffe") == [question["id"]]
    assert _search(db, alice["id"], "okapi") == [old["id"]]


def test_several_new_answers_replace_the_old_with_new_ids_after_it(db: Database, alice: UserRecord) -> None:
    thread = chat(db, alice["id"], "lion")
    question, old = _messages(db, alice["id"], thread["id"])
    news = [_answer(alice["id"], question, "tiger one"), _answer(alice["id"], question, "tiger two")]

    with db.unit_of_work(alice["id"]) as uow:
        stored = uow.threads.replace_last_turn(alice["id"], thread["id"], question, [old["id"]], news)

    after = _messages(db, alice["id"], thread["id"])
    assert [m["id"] for m in after] == [question["id"], news[0]["id"], news[1]["id"]]
    assert after[0] == question
    assert after[1]["created_at"] < after[2]["created_at"] == stored["updated_at"]  # type: ignore[index]
    assert stored is not None and (stored["message_count"], stored["preview"]) == (3, "tiger two")
    with db.unit_of_work(alice["id"], write=False) as uow:
        figures = uow.stats.of(alice["id"], since_day="2000-01-01")
        listed = uow.threads.page(alice["id"], limit=10, offset=0).items
    assert figures.messages == 3 and sum(figures.by_day.values()) == 3
    assert (listed[0]["message_count"], listed[0]["preview"]) == (3, "tiger two")
    assert _search(db, alice["id"], "echo") == []
    assert sorted(_search(db, alice["id"], "tiger")) == sorted(m["id"] for m in news)  # type: ignore[type-var]


def test_a_thread_that_no_longer_ends_with_that_turn_is_refused_and_unchanged(
    db: Database, alice: UserRecord
) -> None:
    thread = chat(db, alice["id"], "one")
    question, old = _messages(db, alice["id"], thread["id"])
    chat(db, alice["id"], "two", thread["id"])  # a later turn came meanwhile
    before = _messages(db, alice["id"], thread["id"])

    with pytest.raises(NothingToRegenerate), db.unit_of_work(alice["id"]) as uow:
        uow.threads.replace_last_turn(
            alice["id"], thread["id"], question, [old["id"]], [_answer(alice["id"], question, "new")]
        )

    assert _messages(db, alice["id"], thread["id"]) == before


def test_another_user_s_thread_is_none(db: Database, alice: UserRecord) -> None:
    bob = make_user("bob@example.com")
    add_users(db, bob)
    thread = chat(db, alice["id"], "mine")
    question, old = _messages(db, alice["id"], thread["id"])

    with db.unit_of_work(bob["id"]) as uow:
        assert uow.threads.replace_last_turn(bob["id"], thread["id"], question, [old["id"]], []) is None

    assert _messages(db, alice["id"], thread["id"]) == [question, old]
