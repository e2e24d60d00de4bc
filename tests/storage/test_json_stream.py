"""The bounded-buffer JSON reader: members in any order, arrays element by element, faults located."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from BackEnd.storage.json_stream import JSONStreamError, MemberReader


def _reader(tmp_path: Path, text: str | bytes, chunk_bytes: int = 3) -> MemberReader:
    path = tmp_path / "document.json"
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return MemberReader(path, chunk_bytes=chunk_bytes)


@pytest.mark.parametrize("chunk_bytes", [1, 2, 3, 7, 1 << 20])
def test_members_read_in_any_order_give_what_json_loads_gives(tmp_path: Path, chunk_bytes: int) -> None:
    document = {"b": [1, 22, {"x": "é😀"}, [3]], "version": 12345, "a": [], "name": "ünï", "c": [-1.5e3]}
    reader = _reader(tmp_path, json.dumps(document, ensure_ascii=False), chunk_bytes)
    try:
        assert list(reader.elements("c") or ()) == [-1.5e3]
        assert reader.value("version") == 12345  # a number cut by the buffer's end is read whole
        assert list(reader.elements("b") or ()) == document["b"]
        assert list(reader.elements("a") or ()) == []
        assert reader.value("name") == "ünï"
        assert reader.value("missing", "absent") == "absent" and reader.elements("missing") is None
        assert reader.elements("version") is None  # not an array
    finally:
        reader.close()


def test_a_fault_is_named_with_its_byte_offset(tmp_path: Path) -> None:
    reader = _reader(tmp_path, '{"a": [1, 2 3]}')
    try:
        with pytest.raises(JSONStreamError, match=r"expected ',' or '\]' in an array at byte 12"):
            list(reader.elements("a") or ())
    finally:
        reader.close()


def test_not_an_object_is_refused(tmp_path: Path) -> None:
    with pytest.raises(JSONStreamError, match="expected a JSON object"):
        _reader(tmp_path, "[1, 2]")


@pytest.mark.parametrize(
    "text",
    [r'{"a": ["x\u0000y"]}', r'{"a": ["x\ud800y"]}', '{"a": ["x\udc00y"]}'.encode("utf-8", "surrogatepass")],
)
def test_text_no_backend_can_store_marks_the_file_even_across_chunks(
    tmp_path: Path, text: str | bytes
) -> None:
    reader = _reader(tmp_path, text, chunk_bytes=2)
    try:
        list(reader.elements("a") or ())
        assert reader.may_hold_unstorable_text
    finally:
        reader.close()


def test_plain_text_does_not_mark_the_file(tmp_path: Path) -> None:
    reader = _reader(tmp_path, '{"a": ["ça va \\u00e9", "\\\\ud800 is a name"]}', chunk_bytes=2)
    try:
        list(reader.elements("a") or ())
        # "\\ud800" is an escaped backslash then text: flagged too (a cheap scan errs on the safe side)
        assert reader.may_hold_unstorable_text
    finally:
        reader.close()
    reader = _reader(tmp_path, '{"a": ["ça va \\u00e9"]}', chunk_bytes=2)
    try:
        list(reader.elements("a") or ())
        assert not reader.may_hold_unstorable_text
    finally:
        reader.close()


def test_an_element_that_never_ends_is_refused_not_read_forever(tmp_path: Path) -> None:
    reader = _reader(tmp_path, '{"a": ["unterminated', chunk_bytes=4)
    try:
        with pytest.raises(JSONStreamError, match="is not valid JSON"):
            list(reader.elements("a") or ())
    finally:
        reader.close()
