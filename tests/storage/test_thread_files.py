"""The thread cache of ThreadFiles: bounded in bytes of file, least recently used out."""

from __future__ import annotations

from pathlib import Path

from BackEnd.records import message_record
from BackEnd.storage.thread_files import ThreadFiles


def _thread_files(folder: Path, *, budget: int) -> ThreadFiles:
    files = ThreadFiles(folder, history_cache_bytes=budget)
    files.history_dir.mkdir(parents=True)
    return files


def _fill(files: ThreadFiles, conversation_id: str, count: int, size: int = 10) -> int:
    """Store `count` messages of `size` characters; returns the file's size."""
    stored = [message_record("usr_a", conversation_id, "user", f"{i:0{size}d}") for i in range(count)]
    files.history(conversation_id).insert(stored)
    return (files.history_dir / f"{conversation_id}.json").stat().st_size


def _contents(files: ThreadFiles, conversation_id: str) -> list[str]:
    return [message["content"] for message in files.history(conversation_id).records()]


def test_cache_drops_the_least_recently_used_threads_once_their_files_pass_the_budget(tmp_path: Path) -> None:
    one_thread = _fill(_thread_files(tmp_path / "probe", budget=1 << 30), "conv_probe", 4)
    files = _thread_files(tmp_path / "data", budget=3 * one_thread)
    for name in ("conv_a", "conv_b", "conv_c"):
        _fill(files, name, 4)
    files.trim()
    assert files.cached_threads() == ["conv_a", "conv_b", "conv_c"]  # exactly the budget
    _contents(files, "conv_a")  # used again: now the most recent

    _fill(files, "conv_d", 4)
    files.trim()

    assert files.cached_threads() == ["conv_c", "conv_a", "conv_d"]
    assert _contents(files, "conv_b") == [f"{i:010d}" for i in range(4)]  # read back from disk


def test_a_thread_larger_than_the_whole_budget_is_not_kept(tmp_path: Path) -> None:
    # Long messages, not many: the bound is in bytes, so message size cannot defeat it.
    files = _thread_files(tmp_path, budget=50_000)
    _fill(files, "conv_huge", 3, size=20_000)
    _fill(files, "conv_small", 2)

    files.trim()

    assert files.cached_threads() == ["conv_small"]
    assert [len(text) for text in _contents(files, "conv_huge")] == [20_000] * 3


def test_conversations_files_are_kept_within_their_budget_but_never_while_their_owner_is_busy(
    tmp_path: Path,
) -> None:
    from BackEnd.records import conversation_record
    from BackEnd.storage.journal import FileTransaction

    files = ThreadFiles(tmp_path, conversation_cache_bytes=3000)
    files.conversations_dir.mkdir(parents=True)
    users = [f"usr_{n}" for n in range(20)]
    for user_id in users:  # each file about 700 bytes
        with FileTransaction(tmp_path).activate() as transaction:
            files.conversations(user_id).insert([conversation_record(user_id, f"T {n}") for n in range(3)])
            transaction.commit()
        files.trim()
    kept = [user_id for user_id in users if files.cached_conversations(user_id) is not None]
    assert 2 <= len(kept) <= 5 and kept == users[-len(kept) :]  # the most recently used
    busy = users[0]
    with files.lock(busy):
        files.conversations(busy).records()  # read again: back in the cache
        for user_id in users[1:]:
            files.conversations(user_id).records()
            files.trim()
        assert files.cached_conversations(busy) is not None  # its owner's unit still holds it
    for user_id in users:  # dropped tables are read again from their files
        assert [record["title"] for record in files.conversations(user_id).records()] == ["T 0", "T 1", "T 2"]
