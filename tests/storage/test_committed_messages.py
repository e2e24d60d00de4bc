"""A thread's messages picked by id from its file (what a search page shows): only their lines parsed."""

from __future__ import annotations

import json
from pathlib import Path

from BackEnd.records import message_record
from BackEnd.storage.record_layout import find_documents
from BackEnd.storage.thread_files import ThreadFiles

TRICKY = ['say "id": "msg_x" here', 'back\\slash "quoted"', "école ✓"]


def _stored(folder: Path) -> tuple[ThreadFiles, list[str]]:
    files = ThreadFiles(folder)
    files.history_dir.mkdir(parents=True, exist_ok=True)
    messages = [message_record("usr_a", "conv_a", "user", f"message {n}") for n in range(30)]
    messages += [message_record("usr_a", "conv_a", "assistant", text) for text in TRICKY]
    files.history("conv_a").insert(messages)
    return ThreadFiles(folder), [message["id"] for message in messages]  # a fresh cache: read from disk


def test_the_asked_messages_are_read_from_the_file(tmp_path: Path) -> None:
    files, ids = _stored(tmp_path)
    asked = [ids[3], *ids[-3:], ids[0]]
    found = files.committed_messages("conv_a", asked)
    assert {message_id: found[message_id]["content"] for message_id in asked} == {
        ids[3]: "message 3",
        ids[-3]: TRICKY[0],
        ids[-2]: TRICKY[1],
        ids[-1]: TRICKY[2],
        ids[0]: "message 0",
    }
    assert files.committed_messages("conv_a", ["msg_x"]) == {}  # only written inside a message
    assert files.committed_messages("conv_absent", [ids[0]]) == {}
    assert files.cached_threads() == []  # not kept
    assert find_documents(files.history_dir / "conv_a.json", "messages", asked) == found  # lines only


def test_a_file_in_another_layout_is_parsed_whole(tmp_path: Path) -> None:
    files, ids = _stored(tmp_path)
    path = files.history_dir / "conv_a.json"
    path.write_text(json.dumps(json.loads(path.read_text("utf-8"))), "utf-8")  # TinyDB's own: one line
    assert find_documents(path, "messages", [ids[0]]) is None
    assert files.committed_messages("conv_a", [ids[1], ids[-1]])[ids[-1]]["content"] == TRICKY[2]


def test_a_nested_id_is_not_taken_for_the_document(tmp_path: Path) -> None:
    path = tmp_path / "thread.json"
    documents = [{"id": "msg_b", "files": [{"id": "msg_a"}]}, {"id": "msg_a", "content": "the one"}]
    lines = ",\n".join(f'"{n + 1}": {json.dumps(document)}' for n, document in enumerate(documents))
    path.write_text('{"messages": {\n' + lines + "\n}}", "utf-8")
    assert find_documents(path, "messages", ["msg_a"]) == {"msg_a": documents[1]}
