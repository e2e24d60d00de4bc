"""Images in a message: checked as they come, stored once as files, and shown to the model."""

from __future__ import annotations

import base64
import binascii
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidChoice, NotFoundError
from ..records import ImageRef, MessageRecord, is_valid_id, new_id
from ..storage import Database
from ..storage.file_store import FileStore, StoredFile

__all__ = [
    "MAX_IMAGES",
    "MAX_IMAGE_BYTES",
    "IncomingImages",
    "copy_images",
    "data_url",
    "remember",
    "files_of",
    "load_images",
    "model_content",
    "read_file",
    "read_images",
]

MAX_IMAGES = 4
MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_REMOTE_URL_CHARS = 2048
_DATA_URL = re.compile(r"data:([a-z/]+);base64,", re.ASCII)
_WEBP = re.compile(rb"RIFF....WEBP", re.DOTALL)
# What each declared type's bytes must begin with.
_SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
}
_TYPES = frozenset({*_SIGNATURES, "image/webp"})
_FILE_NOT_FOUND = "File not found."


@dataclass(frozen=True)
class IncomingImages:
    """A message's images once checked: what the message stores, and the files to store with it."""

    refs: list[ImageRef]
    urls: list[str]  # what the model is given, in order (the data URLs as they came)
    data: dict[str, tuple[str, bytes]]  # file id: its type and bytes

    def files(self, user_id: str, conversation_id: str, message_id: str) -> list[StoredFile]:
        """The files to store with the message."""
        return [
            StoredFile(file_id, user_id, conversation_id, message_id, content_type, data)
            for file_id, (content_type, data) in self.data.items()
        ]


NO_IMAGES = IncomingImages([], [], {})


def read_images(urls: Sequence[str] | None) -> IncomingImages:
    """Check a message's images; InvalidChoice (a 422) names the first one refused and why."""
    if not urls:
        return NO_IMAGES
    if len(urls) > MAX_IMAGES:
        raise InvalidChoice(f"A message carries at most {MAX_IMAGES} images.", ("body", "images"))
    refs: list[ImageRef] = []
    data: dict[str, tuple[str, bytes]] = {}
    for index, url in enumerate(urls):
        location = ("body", "images", str(index))
        if url.startswith("https://"):
            if len(url) > MAX_REMOTE_URL_CHARS or any(char.isspace() for char in url):
                raise InvalidChoice(f"images[{index}] is not a usable https:// URL.", location)
            refs.append({"id": None, "url": url, "content_type": None, "bytes": None})
            continue
        content_type, decoded = _decoded(index, url, location)
        file_id = new_id("file")
        data[file_id] = (content_type, decoded)
        refs.append(
            {"id": file_id, "url": f"/files/{file_id}", "content_type": content_type, "bytes": len(decoded)}
        )
    return IncomingImages(refs, list(urls), data)


def _decoded(index: int, url: str, location: tuple[str, ...]) -> tuple[str, bytes]:
    match = _DATA_URL.match(url)
    if match is None:
        raise InvalidChoice(
            f"images[{index}] must be an https:// URL or a data:image/...;base64, URL.", location
        )
    content_type = match.group(1)
    if content_type not in _TYPES:
        raise InvalidChoice(
            f"images[{index}] has the type {content_type!r}; expected image/png, image/jpeg, "
            "image/webp or image/gif.",
            location,
        )
    encoded = url[match.end() :]
    if len(encoded) > (MAX_IMAGE_BYTES // 3 + 1) * 4:  # refused before decoding it
        raise InvalidChoice(f"images[{index}] is larger than {MAX_IMAGE_BYTES} bytes.", location)
    try:
        decoded = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidChoice(f"images[{index}] is not valid base64.", location) from exc
    if len(decoded) > MAX_IMAGE_BYTES:
        raise InvalidChoice(f"images[{index}] is larger than {MAX_IMAGE_BYTES} bytes.", location)
    if not _looks_like(content_type, decoded):
        raise InvalidChoice(f"images[{index}]'s bytes are not a {content_type} image.", location)
    return content_type, decoded


def _looks_like(content_type: str, data: bytes) -> bool:
    if content_type == "image/webp":
        return _WEBP.match(data) is not None
    return data.startswith(_SIGNATURES[content_type])


class _RecentDataUrls:
    """The data URLs of images sent lately, so the next turns of a thread neither read nor encode
    them again. Stored files never change (a copy gets a new id), so an entry cannot go stale;
    bounded in characters, least recently used first out."""

    def __init__(self, max_chars: int) -> None:
        self._urls: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._chars = 0
        self._max_chars = max_chars
        self._guard = threading.Lock()

    def get(self, key: tuple[str, str]) -> str | None:
        with self._guard:
            url = self._urls.get(key)
            if url is not None:
                self._urls.move_to_end(key)
            return url

    def put(self, key: tuple[str, str], url: str) -> None:
        with self._guard:
            if key not in self._urls:
                self._urls[key] = url
                self._chars += len(url)
            while self._chars > self._max_chars:
                _, dropped = self._urls.popitem(last=False)
                self._chars -= len(dropped)


_RECENT = _RecentDataUrls(max_chars=64 * 1024 * 1024)  # a dozen threads' worth of 5 MB images


def load_images(files: FileStore, user_id: str, messages: Sequence[MessageRecord]) -> dict[str, str]:
    """The data URLs of the stored images of `messages` (file id: URL), for the model's memory."""
    urls: dict[str, str] = {}
    for message in messages:
        for image in message.get("images") or ():
            if image["id"] is None:
                continue
            key = (user_id, image["id"])  # keyed by owner too: only one's own messages name it
            url = _RECENT.get(key)
            if url is None:
                found = files.get(user_id, image["id"])
                if found is None:
                    continue
                url = data_url(found.content_type, found.data)
                _RECENT.put(key, url)
            urls[image["id"]] = url
    return urls


def remember(user_id: str, incoming: IncomingImages) -> None:
    """A stored turn's data images, as the model got them: the thread's next turns reuse them."""
    for url, ref in zip(incoming.urls, incoming.refs, strict=True):
        if ref["id"] is not None:
            _RECENT.put((user_id, ref["id"]), url)


def data_url(content_type: str, data: bytes) -> str:
    """`data:<type>;base64,<data>`."""
    return f"data:{content_type};base64,{base64.b64encode(data).decode('ascii')}"


def model_content(text: str, image_urls: Sequence[str]) -> str | list[dict[str, Any]]:
    """A message's content as the model gets it: plain text, or OpenAI content parts with images."""
    if not image_urls:
        return text
    parts: list[dict[str, Any]] = [{"type": "text", "text": text}]
    parts += [{"type": "image_url", "image_url": {"url": url}} for url in image_urls]
    return parts


def files_of(message: MessageRecord, loaded: dict[str, str]) -> list[str]:
    """The URLs the model gets for an earlier message's images (a lost stored file is left out)."""
    urls = []
    for image in message.get("images") or ():
        url = loaded.get(image["id"]) if image["id"] is not None else image["url"]
        if url is not None:
            urls.append(url)
    return urls


def read_file(database: Database, user_id: str, file_id: str) -> StoredFile:
    """One of the caller's stored files; NotFoundError for any other (someone else's, or none)."""
    if not is_valid_id("file", file_id):
        raise NotFoundError(_FILE_NOT_FOUND)
    with database.unit_of_work(user_id, write=False) as unit:
        found = unit.stored_files.get(user_id, file_id)
    if found is None:
        raise NotFoundError(_FILE_NOT_FOUND)
    return found


def copy_images(
    files: FileStore, user_id: str, conversation_id: str, message_id: str, images: list[ImageRef] | None
) -> tuple[list[ImageRef] | None, list[StoredFile]]:
    """A copied message's images (a fork): each stored file copied under a new id, so the copy
    outlives the original thread; add the files after the message."""
    if not images:
        return images, []
    refs: list[ImageRef] = []
    copies: list[StoredFile] = []
    for image in images:
        found = files.get(user_id, image["id"]) if image["id"] is not None else None
        if found is None:  # a remote image, or a stored one lost: the reference as it was
            refs.append(image)
            continue
        file_id = new_id("file")
        copies.append(
            StoredFile(file_id, user_id, conversation_id, message_id, found.content_type, found.data)
        )
        refs.append({**image, "id": file_id, "url": f"/files/{file_id}"})
    return refs, copies
