"""The TinyDB data folder read out as a DumpSource, and a RestoreSource written into an empty one."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..record_checks import stored_conversation, with_defaults
from .base import UsageTotals
from .dump_stream import DumpCounts, DumpSource, RestoreSource
from .files import durable_temp, sync_all
from .journal import FileTransaction
from .record_file import RecordFile
from .record_layout import encode_value, line_of
from .summaries import EMPTY, summary_record
from .tinydb_files import FileEntry
from .usage_files import Lines, answer_figures, as_records, write_lines

if TYPE_CHECKING:
    from .tinydb_backend import TinyDBDatabase

__all__ = ["export_folder", "restore_folder"]

Counted = dict[tuple[str, str, str], UsageTotals]


def export_folder(database: TinyDBDatabase) -> DumpSource:
    """Accounts oldest first, after each its threads by creation; a thread's history file is read
    when the writer reaches it, and not kept in the thread cache."""
    users = [with_defaults("user", database.credits.effective(user, {})) for user in database.users.all()]  # type: ignore[arg-type]
    threads: list[dict[str, Any]] = []
    for user in users:
        with database.threads.lock(user["id"]):
            records = database.threads.conversations(user["id"]).records()
        for thread in sorted(records, key=lambda doc: doc["created_at"]):
            thread["updated_at"] = max(
                thread["updated_at"], database.threads.last_message.get(thread["id"], "")
            )
            threads.append(stored_conversation(thread))
    usage = [line for user in users for line in as_records(user["id"], database.usage.user_lines(user["id"]))]
    images = database.images.all()
    audit = database.users.audit()
    messages = sum(summary.count for summary in database.threads.summaries.values())
    counts = DumpCounts(len(users), len(threads), messages, len(usage), len(audit), len(images))

    def history() -> Iterator[dict[str, Any]]:
        for thread in threads:
            with database.threads.lock(thread["user_id"]):
                messages = list(database.threads.committed_history(thread["id"]))
            yield from (with_defaults("message", message) for message in messages)

    def files() -> Iterator[Any]:
        with database.unit_of_work() as unit:  # the image files, read one by one
            for entry in images:
                found = unit.stored_files.get(entry.user_id, entry.id)
                if found is not None:
                    yield found

    return DumpSource(counts, users, threads, history(), usage, audit, files())


def restore_folder(
    database: TinyDBDatabase,
    source: RestoreSource,
    transaction: FileTransaction,
    table: Any,
    advance: Callable[[int], None],
) -> dict[str, set[str]]:
    """Write every file of the dump inside `transaction` (active): each thread's history straight
    to a durable temp file, renamed at commit, so memory holds one thread at a time. Returns each
    account's threads that hold messages (their summaries are stamped once the files exist)."""
    counted: Counted = {}
    written: list[str] = []  # temp files written unsynced, synced at once before the commit
    for conversation, thread in source.threads():
        _restore_thread(database.threads.history_dir, conversation, thread, transaction, counted, written)
        for message in thread:  # the ledger counts the stored answers (usage_files.py)
            database.usage.count_stored(message["user_id"], message["conversation_id"], message)
        advance(len(thread))
    by_user: dict[str, list[dict[str, Any]]] = {}
    for conversation in source.conversations():
        # Each record stores its thread's summary: start-up reads no history file.
        summary = summary_record(source.summaries.get(conversation["id"], EMPTY))
        by_user.setdefault(conversation["user_id"], []).append({**conversation, "summary": summary})
        advance(1)
    for user_id, conversations in by_user.items():
        path = database.threads.conversations_dir / f"{user_id}.json"
        written.append(_write_table(path, "conversations", conversations))
        transaction.add_written(written[-1], path)
    archived: dict[str, Lines] = {}
    for line in source.usage():
        _archive(line, counted, archived)
        advance(1)
    for user_id, lines in archived.items():
        write_lines(RecordFile(database.usage.folder / f"{user_id}.json", "usage"), lines)
    # An account without preferences keeps the users.json shape it had before them.
    table.insert_multiple(_counted((_without_none(user, "preferences") for user in source.users()), advance))
    database.users.audit_table().insert_multiple(_counted(source.audit(), advance))
    for file in source.files():
        entry = FileEntry(file.id, file.user_id, file.conversation_id, file.message_id, file.content_type)
        path = database.images.path(entry)
        name, _ = durable_temp(path, file.data, sync=False)  # not held in memory until the commit
        written.append(name)
        transaction.add_written(name, path)
        advance(1)
    sync_all(written)  # before the journal's commit point names them
    return {
        user_id: {record["id"] for record in conversations if record["id"] in source.summaries}
        for user_id, conversations in by_user.items()
    }


def _restore_thread(
    folder: Path,
    conversation: dict[str, Any],
    thread: list[dict[str, Any]],
    transaction: FileTransaction,
    counted: Counted,
    written: list[str],
) -> None:
    """One thread: its history file written, and what the rest of the restore needs noted.

    The one place a restore handles a thread: whatever the folder keeps per thread is made here.
    """
    if not thread:
        return
    path = folder / f"{conversation['id']}.json"
    written.append(_write_table(path, "messages", thread))
    transaction.add_written(written[-1], path)
    for message in thread:
        figures = answer_figures(message)
        if figures is not None:
            key = (message["user_id"], message["created_at"][:10], str(message.get("model")))
            counted[key] = counted[key].plus(figures) if key in counted else figures


def _write_table(path: Path, table: str, records: list[dict[str, Any]]) -> str:
    """A temp file beside `path` holding `records` as the one table of a record file (one
    document a line, as `record_layout.py` lays them out); not synced yet."""
    lines = b",\n".join(line_of(key, encode_value(record)) for key, record in enumerate(records, start=1))
    name, _ = durable_temp(path, [b"{%s: {\n" % encode_value(table), lines, b"\n}}"], sync=False)
    return name


def _archive(line: dict[str, Any], counted: Counted, archived: dict[str, Lines]) -> None:
    """What the dump's ledger holds beyond its own answers (threads deleted before the dump): the
    archive files, so that the answers counted at start-up plus them give the dump's ledger back.
    A line below what the dump's answers show (a hand edit) comes back as the answers show."""
    answers = counted.get((line["user_id"], line["day"], line["model"]), UsageTotals())
    rest = _minus(UsageTotals.of(line), answers)  # type: ignore[arg-type]
    if rest.messages or rest.total_tokens or rest.prompt_tokens or rest.completion_tokens or rest.cost:
        archived.setdefault(line["user_id"], {})[(line["day"], line["model"])] = rest


def _minus(whole: UsageTotals, part: UsageTotals) -> UsageTotals:
    cost = None if whole.cost is None else max(whole.cost - (part.cost or 0.0), 0.0)
    return UsageTotals(
        max(whole.messages - part.messages, 0),
        max(whole.prompt_tokens - part.prompt_tokens, 0),
        max(whole.completion_tokens - part.completion_tokens, 0),
        max(whole.total_tokens - part.total_tokens, 0),
        cost,
    )


def _counted(records: Iterator[dict[str, Any]], advance: Callable[[int], None]) -> Iterator[dict[str, Any]]:
    for record in records:
        yield dict(record)
        advance(1)


def _without_none(record: dict[str, Any], name: str) -> dict[str, Any]:
    if record.get(name) is not None:
        return dict(record)
    return {key: value for key, value in record.items() if key != name}
