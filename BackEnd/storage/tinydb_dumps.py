"""The TinyDB data folder read out as a DumpSource, and a RestoreSource written into an empty one."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..record_checks import stored_conversation, with_defaults
from ..records import UsageRecord
from .base import UsageTotals
from .dump_stream import DumpCounts, DumpSource, RestoreSource
from .files import durable_temp, sync_all
from .journal import FileTransaction
from .record_layout import encode_value, line_of, read_records
from .summaries import EMPTY, summary_record
from .tinydb_files import FileEntry
from .usage_files import Lines, as_records

if TYPE_CHECKING:
    from .tinydb_backend import TinyDBDatabase

__all__ = ["export_folder", "restore_folder"]

_COST_ROUNDING = 1e-8  # dollars


def export_folder(database: TinyDBDatabase) -> DumpSource:
    """Accounts oldest first, after each its threads by creation; a thread's history file is read
    when the writer reaches it, and not kept in the thread cache."""
    users = [with_defaults("user", database.credits.effective(user, {})) for user in database.users.all()]  # type: ignore[arg-type]
    threads: list[dict[str, Any]] = []
    for user in users:
        with database.threads.lock(user["id"]):
            records = _conversations(database, user["id"])
        for thread in sorted(records, key=lambda doc: doc["created_at"]):
            thread["updated_at"] = max(
                thread["updated_at"], database.threads.last_message.get(thread["id"], "")
            )
            threads.append(stored_conversation(thread))
    # The ledger is read account by account as the writer reaches it (360,000 lines of a school
    # year were 140 MB as one list); counted first for the progress line, one account at a time.
    usage_lines = sum(len(database.usage.user_lines(user["id"], keep=False)) for user in users)

    def usage() -> Iterator[UsageRecord]:
        for user in users:
            yield from as_records(user["id"], database.usage.user_lines(user["id"], keep=False))

    images = database.images.all()
    audit = database.users.audit()
    messages = sum(summary.count for summary in database.threads.summaries.values())
    counts = DumpCounts(len(users), len(threads), messages, usage_lines, len(audit), len(images))

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

    return DumpSource(counts, users, threads, history(), usage(), audit, files())


def _conversations(database: TinyDBDatabase, user_id: str) -> list[dict[str, Any]]:
    """The account's conversation records, without keeping its file in memory (2,000 accounts'
    files, their summaries with them, stayed decoded after a dump) unless it already is."""
    table = database.threads.conversations(user_id)
    if table.is_loaded():
        return table.records()
    path = table.path
    return [dict(record) for record in read_records(path, "conversations")] if path.exists() else []


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
    written: list[str] = []  # temp files written unsynced, synced at once before the commit
    threads_of: dict[str, list[str]] = {}  # account: its threads that hold messages
    for conversation, thread in source.threads():
        _restore_thread(database.threads.history_dir, conversation, thread, transaction, written)
        if thread:
            threads_of.setdefault(conversation["user_id"], []).append(conversation["id"])
            # The ledger counts what the thread's summary says, as start-up does (usage_files.py).
            database.usage.count_thread(
                conversation["user_id"], conversation["id"], source.summaries[conversation["id"]].usage
            )
        advance(len(thread))
    by_user: dict[str, list[dict[str, Any]]] = {}
    for conversation in source.conversations():
        by_user.setdefault(conversation["user_id"], []).append(conversation)
        advance(1)
    for user_id, conversations in by_user.items():
        # Each record stores its thread's summary (start-up reads no history file), made as its
        # file is written, not all 20,000 of a school year held as JSON objects at once.
        with_summaries = [
            {**conversation, "summary": summary_record(source.summaries.get(conversation["id"], EMPTY))}
            for conversation in conversations
        ]
        path = database.threads.conversations_dir / f"{user_id}.json"
        written.append(_write_table(path, "conversations", with_summaries))
        transaction.add_written(written[-1], path)
    del by_user
    _restore_archives(database.usage.folder, source, threads_of, transaction, written, advance)
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
    return {user_id: set(conversation_ids) for user_id, conversation_ids in threads_of.items()}


def _restore_thread(
    folder: Path,
    conversation: dict[str, Any],
    thread: list[dict[str, Any]],
    transaction: FileTransaction,
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


def _write_table(path: Path, table: str, records: list[dict[str, Any]]) -> str:
    """A temp file beside `path` holding `records` as the one table of a record file (one
    document a line, as `record_layout.py` lays them out); not synced yet."""
    lines = b",\n".join(line_of(key, encode_value(record)) for key, record in enumerate(records, start=1))
    name, _ = durable_temp(path, [b"{%s: {\n" % encode_value(table), lines, b"\n}}"], sync=False)
    return name


def _restore_archives(
    folder: Path,
    source: RestoreSource,
    threads_of: dict[str, list[str]],
    transaction: FileTransaction,
    written: list[str],
    advance: Callable[[int], None],
) -> None:
    """What the dump's ledger holds beyond its own answers (threads deleted before the dump): the
    archive files, so that the answers counted at start-up plus them give the dump's ledger back.
    Written account by account when the dump lists its lines so (both backends do): memory then
    holds one account's lines, not the 360,000 of a school year."""
    archived: dict[str, Lines] = {}
    answered: tuple[str, Lines] = ("", {})  # the current account's answers, from its summaries
    for line in source.usage():
        user_id = line["user_id"]
        if user_id != answered[0]:
            if source.usage_grouped:
                _write_archives(folder, archived, transaction, written)
            answered = (user_id, _answers(source, threads_of.get(user_id, ())))
        _archive(line, answered[1], archived)
        advance(1)
    _write_archives(folder, archived, transaction, written)


def _answers(source: RestoreSource, threads: Iterable[str]) -> Lines:
    lines: Lines = {}
    for conversation_id in threads:
        for key, figures in source.summaries[conversation_id].usage.items():
            found = lines.get(key)
            lines[key] = figures if found is None else found.plus(figures)
    return lines


def _archive(line: dict[str, Any], answers: Lines, archived: dict[str, Lines]) -> None:
    """A line below what the dump's answers show (a hand edit) comes back as the answers show."""
    rest = _minus(UsageTotals.of(line), answers.get((line["day"], line["model"]), UsageTotals()))  # type: ignore[arg-type]
    if rest.messages or rest.total_tokens or rest.prompt_tokens or rest.completion_tokens or rest.cost:
        archived.setdefault(line["user_id"], {})[(line["day"], line["model"])] = rest


def _write_archives(
    folder: Path, archived: dict[str, Lines], transaction: FileTransaction, written: list[str]
) -> None:
    """Each account's archive straight to a temp file (renamed at the commit); `archived` emptied."""
    for user_id, lines in archived.items():
        path = folder / f"{user_id}.json"
        records = [
            {
                "id": f"{record['day']} {record['model']}",
                **{k: v for k, v in record.items() if k != "user_id"},
            }
            for record in as_records(user_id, lines)
        ]
        written.append(_write_table(path, "usage", records))
        transaction.add_written(written[-1], path)
    archived.clear()


def _minus(whole: UsageTotals, part: UsageTotals) -> UsageTotals:
    cost = None if whole.cost is None else whole.cost - (part.cost or 0.0)
    # Below a millionth of a cent it is the rounding of adding the same costs in another order
    # (per thread, then per account), not spending: no archive line of zeros for it.
    cost = cost if cost is None or cost > _COST_ROUNDING else 0.0
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
