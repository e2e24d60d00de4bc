"""Read one JSON object's members from a file through a bounded buffer: arrays element by element."""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

__all__ = ["JSONStreamError", "MemberReader"]

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_AFTER_VALUE = re.compile(r"[ \t\n\r]*[,\]}]")
_SEPARATOR = re.compile(r"[ \t\n\r]*([,\]])[ \t\n\r]*")
# Bytes read at a time: large enough that a read per record is rare, small against any dump.
CHUNK_BYTES = 1 << 20
# Text that may hold what no backend can store (a NUL, half a surrogate pair): see `dump.py`.
# One element (a record, a stored file's base64) may not be larger: a corrupt file whose
# string never ends must not fill the memory.
MAX_ELEMENT_CHARS = 1 << 28
_SUSPECT_ESCAPES = (b"\\u0000", b"\\ud", b"\\uD")


class JSONStreamError(ValueError):
    """The file is not the JSON it should be; the message says where (byte offset)."""


class MemberReader:
    """The members of the top-level object of a JSON file, read in any order, none kept whole.

    A member's value is decoded whole unless it is an array, whose elements come one by one
    (`elements`). Members met while looking for another are skipped element by element and
    their place remembered, so asking for them later seeks straight there. Memory holds the
    buffer (a chunk, or the largest element) and the small values, whatever the file's size.
    """

    def __init__(self, path: Path, *, chunk_bytes: int = CHUNK_BYTES) -> None:
        self.path = path
        self.chunk_bytes = chunk_bytes
        self.may_hold_unstorable_text = False  # set once a chunk read may hold such text
        self.largest_buffer = 0  # characters, to show memory stays bounded (tests)
        self.on_read: Callable[[int], None] = _nothing  # told how many bytes each read brought
        self._handle: IO[bytes] = open(path, "rb")  # noqa: SIM115 - closed by close()
        self._places: dict[str, int] = {}  # member name: byte offset of its value
        self._values: dict[str, Any] = {}  # small (non-array) members already decoded
        self._scanned_to: int | None = None  # byte offset after the last member scanned
        self._pending: str | None = None  # an array member found but not yet read to its end
        self._finished = False  # the closing brace was reached
        # The buffer: text decoded from byte `_base` on, read up to `_pos` (set by `_reset`).
        self._decoder: codecs.IncrementalDecoder
        self._buffer: str
        self._pos: int
        self._base: int
        self._eof: bool
        self._tail: bytes
        self._reset(0)
        self._skip_whitespace()
        if not self._peek_is("{"):
            raise self._error("expected a JSON object")
        self._pos += 1
        self._scanned_to = self._offset()

    def close(self) -> None:
        """Release the file."""
        self._handle.close()

    # -- members ---------------------------------------------------------------------------------
    def value(self, name: str, default: Any = None) -> Any:
        """A member that is not an array (or an array, decoded whole: only for small ones)."""
        if name in self._values:
            return self._values[name]
        if not self._find(name):
            return default
        value = self._decode()
        self._values[name] = value
        return value

    def elements(self, name: str) -> Iterator[Any] | None:
        """The elements of the array member `name`, one by one; None when there is no such member.

        JSONStreamError if the member is not an array; the iterator reads from the file, so
        one member is read at a time.
        """
        if not self._find(name):
            return None
        self._skip_whitespace()
        if not self._peek_is("["):
            return None if name in self._values else self._not_array(name)
        return self._array(name)

    # -- scanning --------------------------------------------------------------------------------
    def _find(self, name: str) -> bool:
        """Position the buffer at member `name`'s value; False when the object has no such member."""
        while name not in self._places and not self._finished:
            self._scan_next_member(name)
        if name not in self._places:
            return False
        self._reset(self._places[name])
        return True

    def _scan_next_member(self, wanted: str) -> None:
        if self._pending is not None:  # an array read only in part: the scan passes it now
            self._reset(self._places[self._pending])
            self._pending = None
            for _ in self._array(None):
                pass
            self._scanned_to = self._offset()
        assert self._scanned_to is not None
        self._reset(self._scanned_to)
        self._skip_whitespace()
        if self._places and not self._peek_is("}"):
            if not self._peek_is(","):
                raise self._error("expected ',' or '}' after a member")
            self._pos += 1
            self._skip_whitespace()
        if self._peek_is("}"):
            self._finished = True
            return
        key = self._decode()
        if not isinstance(key, str):
            raise self._error("expected a member name")
        self._skip_whitespace()
        if not self._peek_is(":"):
            raise self._error("expected ':' after a member name")
        self._pos += 1
        self._skip_whitespace()
        self._places.setdefault(key, self._offset())  # the first of two equal names counts
        if self._peek_is("[") and key == wanted:
            # Not skipped: the caller reads it next, and reading it to its end moves the scan on.
            self._pending = key
            return
        if self._peek_is("["):
            for _ in self._array(None):  # skipped, element by element
                pass
        else:
            self._values.setdefault(key, self._decode())
        self._scanned_to = self._offset()

    def _array(self, name: str | None) -> Iterator[Any]:
        """The elements of the array at the position; the array of member `name`, if given."""
        self._pos += 1  # the "["
        self._skip_whitespace()
        if self._peek_is("]"):
            self._pos += 1
        else:
            yield from self._elements()
        if name is not None and name == self._pending:  # read to its end: the scan goes on after it
            self._pending = None
            self._scanned_to = self._offset()

    def _elements(self) -> Iterator[Any]:
        """A non-empty array's elements, ending past its "]"."""
        while True:
            yield self._decode()
            # The common case in one match: the separator and the next element's start in the buffer.
            found = _SEPARATOR.match(self._buffer, self._pos)
            if found is not None and found.end() < len(self._buffer):
                self._pos = found.end()
                if found.group(1) == "]":
                    return
                continue
            self._skip_whitespace()
            if self._peek_is("]"):
                self._pos += 1
                return
            if not self._peek_is(","):
                raise self._error("expected ',' or ']' in an array")
            self._pos += 1
            self._skip_whitespace()

    def _not_array(self, name: str) -> Iterator[Any]:
        raise JSONStreamError(f"{name!r} is not a list")

    # -- the buffer ------------------------------------------------------------------------------
    def _reset(self, offset: int) -> None:
        """Start reading at byte `offset` with an empty buffer."""
        self._handle.seek(offset)
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._buffer = ""
        self._pos = 0
        self._base = offset  # byte offset of self._buffer[0]
        self._eof = False
        self._tail = b""

    def _offset(self) -> int:
        """The byte offset of the current position."""
        return self._base + len(self._buffer[: self._pos].encode("utf-8", "surrogatepass"))

    def _fill(self, at_least: int = 1) -> bool:
        """Read more of the file into the buffer, dropping what was read; False at the end."""
        if self._eof:
            return False
        if self._pos:
            self._base += len(self._buffer[: self._pos].encode("utf-8", "surrogatepass"))
            self._buffer = self._buffer[self._pos :]
            self._pos = 0
        chunk = self._handle.read(max(self.chunk_bytes, at_least))
        self._eof = not chunk
        self.on_read(len(chunk))
        if not self.may_hold_unstorable_text and chunk:
            # The escapes may straddle two chunks: look at the last bytes of the previous one too.
            edge = self._tail + chunk[:5]
            self.may_hold_unstorable_text = any(
                escape in chunk or escape in edge for escape in _SUSPECT_ESCAPES
            )
            self._tail = (self._tail + chunk)[-5:]
        try:
            text = self._decode_chunk(chunk)
        except UnicodeDecodeError as exc:
            raise JSONStreamError(f"is not UTF-8 near byte {self._base + exc.start}") from exc
        self._buffer += text
        self.largest_buffer = max(self.largest_buffer, len(self._buffer))
        return bool(chunk)

    def _decode_chunk(self, chunk: bytes) -> str:
        """Strict UTF-8 while it holds (fast); a surrogate encoded in the bytes, which Python's
        own JSON reader accepts, switches to a lenient decoder and marks the file suspect."""
        state = self._decoder.getstate()
        try:
            return self._decoder.decode(chunk, final=self._eof)
        except UnicodeDecodeError:
            if self._decoder.errors == "surrogatepass":
                raise
        self._decoder = codecs.getincrementaldecoder("utf-8")("surrogatepass")
        self._decoder.setstate(state)
        text = self._decoder.decode(chunk, final=self._eof)
        self.may_hold_unstorable_text = True
        return text

    def _skip_whitespace(self) -> None:
        while True:
            match = _WHITESPACE.match(self._buffer, self._pos)
            self._pos = match.end() if match else self._pos
            if self._pos < len(self._buffer) or not self._fill():
                return

    def _peek_is(self, character: str) -> bool:
        if self._pos >= len(self._buffer):
            self._fill()
        return self._buffer[self._pos : self._pos + 1] == character

    def _decode(self) -> Any:
        """The JSON value at the position, reading more until it is whole."""
        wanted = self.chunk_bytes
        while True:
            try:
                value, end = _DECODER.raw_decode(self._buffer, self._pos)
            except json.JSONDecodeError as exc:
                # Perhaps only cut short by the buffer's end: read more (twice as much each
                # time, so a large element costs few retries) before calling it invalid.
                cut_short = exc.pos >= len(self._buffer) - 6 or exc.msg.startswith("Unterminated")
                if cut_short and len(self._buffer) - self._pos > MAX_ELEMENT_CHARS:
                    raise self._error("an element larger than the reader accepts") from exc
                if cut_short and self._fill(wanted):
                    wanted *= 2
                    continue
                raise self._error(exc.msg, at=exc.pos) from exc
            # A number or literal cut by the buffer's end may go on in the file ("-1.5|e3"):
            # it is whole once what follows it (a separator) is in the buffer.
            is_scalar = not isinstance(value, (dict, list, str))
            if is_scalar and not _AFTER_VALUE.match(self._buffer, end) and self._fill():
                continue
            self._pos = end
            return value

    def _error(self, problem: str, *, at: int | None = None) -> JSONStreamError:
        position = self._pos if at is None else at
        offset = self._base + len(self._buffer[:position].encode("utf-8", "surrogatepass"))
        return JSONStreamError(f"is not valid JSON ({problem} at byte {offset})")


_DECODER = json.JSONDecoder()


def _nothing(count: int) -> None:
    """No one to tell."""
