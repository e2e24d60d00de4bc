"""Renames and turns racing on one thread from several Python threads, and what must hold after."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from BackEnd.records import ConversationRecord
from BackEnd.storage import Database
from tests.utils.records import chat


@dataclass
class RaceOutcome:
    """What the racers were told, and what a watcher saw while they ran."""

    renames: dict[str, ConversationRecord | None] = field(default_factory=dict)  # by new title
    turns: dict[str, ConversationRecord | None] = field(default_factory=dict)  # by question
    # (thread's updated_at, its last message's created_at), read together in one unit.
    sightings: list[tuple[str, str]] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)


def race_renames_and_turns(
    databases: list[Database], user_id: str, conversation_id: str, *, workers: int, rounds: int
) -> RaceOutcome:
    """`workers` renamers and `workers` talkers, each `rounds` times, spread over `databases`.

    A rename that takes its time stamp before it holds the thread (the old service did)
    and then waits behind a turn commits a time older than that turn's messages: the
    watcher sees `updated_at` go back or fall behind the last message.
    """
    outcome = RaceOutcome()
    done = threading.Event()

    def rename(database: Database, name: str) -> None:
        for n in range(rounds):
            title = f"{name}-{n}"
            with database.unit_of_work(user_id) as uow:
                outcome.renames[title] = uow.threads.rename(user_id, conversation_id, title)

    def talk(database: Database, name: str) -> None:
        for n in range(rounds):
            question = f"{name}-{n}"
            outcome.turns[question] = chat(database, user_id, question, conversation_id)

    def watch() -> None:
        while not done.is_set():
            # The last message first: under READ COMMITTED a later read may only see more.
            with databases[0].unit_of_work(user_id, write=False) as uow:
                last = uow.threads.recent(user_id, conversation_id, 1)
                thread = uow.threads.get(user_id, conversation_id)
            assert last and last.items and thread is not None
            outcome.sightings.append((thread["updated_at"], last.items[-1]["created_at"]))

    def guarded(work: Callable[..., None], *args: object) -> Callable[[], None]:
        def run() -> None:
            try:
                work(*args)
            except BaseException as exc:  # noqa: BLE001 - the test reports it
                outcome.errors.append(exc)

        return run

    racers = [
        threading.Thread(target=guarded(job, databases[i % len(databases)], f"{kind}{i}"))
        for i in range(workers)
        for kind, job in (("r", rename), ("t", talk))
    ]
    watcher = threading.Thread(target=guarded(watch))
    watcher.start()
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join()
    done.set()
    watcher.join()
    return outcome


def assert_stamps_follow_commit_order(
    database: Database, user_id: str, conversation_id: str, outcome: RaceOutcome
) -> None:
    """Every stamp is unique and the thread's `updated_at` never went back nor behind its messages."""
    assert outcome.errors == []
    assert None not in outcome.renames.values() and None not in outcome.turns.values()
    assert outcome.sightings, "the watcher never read the thread"
    assert all(updated >= last_message for updated, last_message in outcome.sightings), [
        pair for pair in outcome.sightings if pair[0] < pair[1]
    ]
    seen = [updated for updated, _ in outcome.sightings]
    assert seen == sorted(seen), "updated_at went back in time"

    with database.unit_of_work(user_id, write=False) as uow:
        page = uow.threads.messages(user_id, conversation_id, limit=10_000, offset=0)
        thread = uow.threads.get(user_id, conversation_id)
    assert page is not None and thread is not None
    times = [message["created_at"] for message in page.items]
    assert times == sorted(set(times))
    for question, answer in zip(page.items[0::2], page.items[1::2], strict=True):
        assert answer["content"] == f"echo: {question['content']}"
    answered_at = {m["content"].removeprefix("echo: "): m["created_at"] for m in page.items[1::2]}
    for question, record in outcome.turns.items():
        assert record is not None and record["updated_at"] == answered_at[question]

    stamps = {title: record["updated_at"] for title, record in outcome.renames.items() if record}
    every_stamp = list(stamps.values()) + [r["updated_at"] for r in outcome.turns.values() if r]
    assert len(set(every_stamp)) == len(every_stamp)
    assert thread["updated_at"] == max(every_stamp) >= times[-1]
    # The rename stamped last must be the one committed last, so its title is the one kept.
    assert thread["title"] == max(stamps, key=stamps.__getitem__)
