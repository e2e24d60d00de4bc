"""The history cache of ThreadFiles: bounded in threads and in messages, least recently used out."""

from __future__ import annotations

from pathlib import Path

from BackEnd.records import message_record
from BackEnd.storage.thread_files import ThreadFiles


def _thread_files(folder: Path, *, threads: int, messages: int) -> ThreadFiles:
    files = ThreadFiles(folder, history_cache_size=threads, history_cache_messages=messages)
    files.history_dir.mkdir(parents=True)
    return files


def _fill(files: ThreadFiles, conversation_id: str, count: int) -> None:
    stored = [message_record("usr_a", conversation_id, "user", f"m{i}") for i in range(count)]
    files.history(conversation_id).insert_multiple(stored)


def test_cache_keeps_at_most_its_thread_count_dropping_the_least_recently_used(tmp_path: Path) -> None:
    files = _thread_files(tmp_path, threads=2, messages=1000)
    for name in ("conv_a", "conv_b", "conv_c"):
        _fill(files, name, 1)
    files.messages("conv_b")  # used again: now the most recent

    files.messages("conv_d")
    assert files.cached_threads() == ["conv_b", "conv_d"]


def test_cache_drops_threads_once_their_messages_pass_the_budget(tmp_path: Path) -> None:
    files = _thread_files(tmp_path, threads=100, messages=10)
    for name in ("conv_a", "conv_b", "conv_c"):
        _fill(files, name, 4)  # 12 messages cached once the next miss counts them

    files.messages("conv_d")
    assert files.cached_threads() == ["conv_b", "conv_c", "conv_d"]
    assert [m["content"] for m in files.messages("conv_a")] == ["m0", "m1", "m2", "m3"]  # read back from disk
