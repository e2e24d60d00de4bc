"""A dump file checked whole in a first streamed pass, then read again section by section to be loaded."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ..errors import RestoreError
from .dump_checks import audit_event, file_of, ledger_line, record_of
from .dump_stream import DumpCounts, Thread, brought_up
from .file_store import StoredFile
from .json_stream import JSONStreamError, MemberReader
from .summaries import ThreadSummary, summarise, summary_from_record, summary_record

__all__ = ["CheckedDump"]

Record = dict[str, Any]
_ABSENT = object()


class CheckedDump:
    """A RestoreSource over a dump file.

    `check` reads every record once and keeps only what is small: the account ids and emails,
    each thread's owner and summary, the image ids messages name, the ledger's keys. A thread's
    message ids need only differ within it, as the dump lists each thread's messages together
    (both backends write it so). Memory stays bounded by the largest thread, whatever the number
    of messages; a dump that is not grouped by thread (hand-made, generated) still restores, its
    messages gathered by thread in memory.
    """

    def __init__(
        self, path: Path, format_name: str, versions: frozenset[int], *, chunk_bytes: int = 1 << 20
    ) -> None:
        self.path = path
        self.counts = DumpCounts()
        self.summaries: dict[str, ThreadSummary] = {}
        self.moved = 0
        self.grouped = True  # whether the file lists each thread's messages together
        self.usage_grouped = True  # whether it lists each account's ledger lines together
        self._checked_once = False  # every record passed the checks: later readings only shape them
        self._format, self._versions = format_name, versions
        self._user_ids: set[str] = set()
        self._thread_owners: dict[str, str] = {}  # conversation id: its owner's
        try:
            self._reader = MemberReader(path, chunk_bytes=chunk_bytes)
        except OSError as exc:
            raise RestoreError(f"cannot read {path}: {exc.strerror}") from exc
        except JSONStreamError as exc:
            raise RestoreError(f"{path} {exc}") from exc

    @property
    def largest_buffer(self) -> int:
        """The most characters the reader held at once (memory stays bounded: tests)."""
        return self._reader.largest_buffer

    def close(self) -> None:
        self._reader.close()

    # -- the first pass: every check -------------------------------------------------------------
    def check(self, advance: Callable[[int], None]) -> None:
        """Read and check the whole file, calling `advance(n)` as n more bytes are read;
        RestoreError names the first bad record."""
        self._reader.on_read = advance
        try:
            self._check_header()
            self._check_records(lambda _: None)
        except JSONStreamError as exc:
            raise RestoreError(f"{self.path} {exc}") from exc
        finally:
            self._reader.on_read = lambda _: None
        self._checked_once = True

    def _check_header(self) -> None:
        if self._reader.value("format") != self._format:
            raise RestoreError(f'{self.path} is not an AssistantIA dump ("format" must be {self._format!r})')
        version = self._reader.value("version")
        if isinstance(version, bool) or version not in self._versions:
            raise RestoreError(
                f"{self.path} has dump version {version!r}; this server reads versions 1 to {max(self._versions)}"
            )

    def _check_records(self, advance: Callable[[int], None]) -> None:
        emails: dict[str, int] = {}
        updated: dict[str, str] = {}  # conversation id: its updated_at, to count those brought up
        for index, user in enumerate(self._section("users", required=True)):
            if user["id"] in self._user_ids:
                raise RestoreError(f"users[{index}] repeats the id {user['id']!r}")
            if user["email"] in emails:
                raise RestoreError(
                    f"users[{index}] has the email {user['email']!r} of users[{emails[user['email']]}] once "
                    "normalised; keep one of the two accounts in the dump"
                )
            emails[user["email"]] = index
            self._user_ids.add(user["id"])
            advance(1)
        self.counts.users = len(emails)
        for index, conversation in enumerate(self._section("conversations", required=True)):
            if conversation["id"] in self._thread_owners:
                raise RestoreError(f"conversations[{index}] repeats the id {conversation['id']!r}")
            if conversation["user_id"] not in self._user_ids:
                raise RestoreError(
                    f"conversations[{index}] belongs to unknown user {conversation['user_id']!r}"
                )
            self._thread_owners[conversation["id"]] = conversation["user_id"]
            updated[conversation["id"]] = conversation["updated_at"]
            self.counts.conversations += 1
            advance(1)
        images = self._check_messages(advance)
        self.moved = sum(1 for key, summary in self.summaries.items() if summary.last > updated[key])
        self._check_tail(images, advance)

    def _check_usage(self, advance: Callable[[int], None], *, grouped: bool = True) -> int:
        """The ledger's lines, checked; returns how many. Both backends list them account by
        account, so the keys kept are one account's (360,000 lines of a school year were 77 MB
        of keys); a file that is not grouped so is checked again keeping every key."""
        keys: set[tuple[str, str, str]] = set()
        done_users: set[str] = set()  # accounts whose lines are over (grouped reading)
        count = 0
        for index, line in enumerate(self._section("usage")):
            user_id = line["user_id"]
            if user_id not in self._user_ids:
                raise RestoreError(f"usage[{index}] belongs to unknown user {user_id!r}")
            if grouped and keys and next(iter(keys))[0] != user_id:
                if user_id in done_users:
                    self.usage_grouped = False
                    return self._check_usage(lambda _: None, grouped=False)
                done_users.add(next(iter(keys))[0])
                keys.clear()
            key = (user_id, line["day"], line["model"])
            if key in keys:
                raise RestoreError(f"usage[{index}] repeats the day and model of an earlier line")
            keys.add(key)
            count += 1
            advance(1)
        return count

    def _check_messages(self, advance: Callable[[int], None]) -> dict[str, tuple[str, str, str, str | None]]:
        images: dict[str, tuple[str, str, str, str | None]] = {}
        for positions, thread in self._message_groups(advance):
            conversation_id = thread[0]["conversation_id"]
            if conversation_id in self.summaries:
                # Not grouped by thread (a hand-made or generated file): check again, grouping in
                # memory. Memory then grows with the messages; both backends write grouped dumps.
                self.grouped = False
                self.summaries.clear()
                self.counts.messages = 0
                return self._check_messages(lambda _: None)
            seen: set[str] = set()
            for position, message in zip(positions, thread, strict=True):
                if self._thread_owners.get(conversation_id) != message["user_id"]:
                    raise RestoreError(
                        f"messages[{position}] points to an unknown conversation or the wrong owner"
                    )
                if message["id"] in seen:
                    raise RestoreError(f"messages[{position}] repeats the id {message['id']!r}")
                seen.add(message["id"])
                for image in message.get("images") or ():
                    if image["id"] is not None:
                        owner = (message["id"], message["user_id"], conversation_id, image["content_type"])
                        images[image["id"]] = owner
            self.summaries[conversation_id] = compact(summarise(thread))
            self.counts.messages += len(thread)
        return images

    def _check_tail(
        self, images: dict[str, tuple[str, str, str, str | None]], advance: Callable[[int], None]
    ) -> None:
        self.counts.usage = self._check_usage(advance)
        for _ in self._section("audit"):
            self.counts.audit += 1
            advance(1)
        for index, file in enumerate(self._section("files")):
            owner = (file.message_id, file.user_id, file.conversation_id, file.content_type)
            if images.pop(file.id, None) != owner:
                raise RestoreError(f"files[{index}] is named by no message's images (or by two files)")
            self.counts.files += 1
            advance(1)

    # -- the second pass: what a backend loads -------------------------------------------------
    def users(self) -> Iterator[Record]:
        return self._reading(self._section("users", required=True))

    def conversations(self, *, bring_up: bool = True) -> Iterator[Record]:
        records = self._reading(self._section("conversations", required=True))
        return (brought_up(record, self.summaries) for record in records) if bring_up else records

    def messages(self) -> Iterator[Record]:
        return self._reading(self._section("messages", required=True))

    def threads(self) -> Iterator[Thread]:
        """Each thread with its messages, in the order of the file's messages; then those without."""
        conversations = {record["id"]: record for record in self.conversations()}
        for _, thread in self._message_groups(lambda _: None):
            yield conversations.pop(thread[0]["conversation_id"]), thread
        for conversation in conversations.values():
            yield conversation, []

    def threads_in_file_order(self) -> Iterator[tuple[str, list[Record]]]:
        for _, thread in self._message_groups(lambda _: None):
            yield thread[0]["conversation_id"], thread

    def usage(self) -> Iterator[Record]:
        return self._reading(self._section("usage"))

    def audit(self) -> Iterator[Record]:
        return self._reading(self._section("audit"))

    def files(self) -> Iterator[StoredFile]:
        return self._reading(self._section("files"))

    # -- shared ------------------------------------------------------------------------------------
    def _reading(self, records: Iterator[Any]) -> Iterator[Any]:
        try:
            yield from records
        except JSONStreamError as exc:  # the file changed since it was checked
            raise RestoreError(f"{self.path} {exc}") from exc

    def _message_groups(self, advance: Callable[[int], None]) -> Iterator[tuple[Sequence[int], list[Record]]]:
        """Each thread's messages with their indexes in the file: consecutive ones together, or, for
        a dump not grouped by thread, all of a thread's gathered in memory."""
        messages = self._section("messages", required=True)
        if not self.grouped:
            gathered: dict[str, tuple[list[int], list[Record]]] = {}
            for index, message in enumerate(messages):
                positions, members = gathered.setdefault(message["conversation_id"], ([], []))
                positions.append(index)
                members.append(message)
            yield from gathered.values()
            return
        thread: list[Record] = []
        start = 0
        for index, message in enumerate(messages):
            if thread and message["conversation_id"] != thread[0]["conversation_id"]:
                yield range(start, index), thread
                thread, start = [], index
            thread.append(message)
            advance(1)
        if thread:
            yield range(start, start + len(thread)), thread

    def _section(self, name: str, *, required: bool = False) -> Iterator[Any]:
        """The section's records, checked on the first reading, only shaped on the next ones."""
        elements = self._reader.elements(name)
        if elements is None:
            present = self._reader.value(name, _ABSENT) is not _ABSENT
            if required:
                raise RestoreError(f"the dump has no {name!r} list")
            if present:
                raise RestoreError(f"the dump's {name!r} is not a list")
            return iter(())
        return self._checked(name, elements)

    def _checked(self, name: str, elements: Iterator[Any]) -> Iterator[Any]:
        for index, element in enumerate(elements):
            if name == "usage":
                yield ledger_line(index, element)
            elif name == "audit":
                yield audit_event(index, element)
            elif name == "files":
                yield file_of(index, element)
            else:
                yield record_of(
                    name, index, element, self._reader.may_hold_unstorable_text, checked=self._checked_once
                )


def compact(summary: ThreadSummary) -> ThreadSummary:
    """The summary as start-up keeps it (usage lines packed): 20,000 of them are held to the end."""
    stored = summary_from_record(summary_record(summary))
    assert not isinstance(stored, str), stored  # our own record: always valid
    return stored
