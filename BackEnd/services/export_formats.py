"""A thread as a downloadable file: text, Markdown, our JSON or PDF, with a safe file name."""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote

from ..records import ConversationRecord, MessageRecord
from .interchange import conversation_to_json, document

__all__ = ["ExportFile", "ExportFormat", "content_disposition", "render", "render_all", "when"]

ExportFormat = Literal["txt", "md", "json", "pdf"]
_MEDIA_TYPES: dict[ExportFormat, str] = {
    "txt": "text/plain; charset=utf-8",
    "md": "text/markdown; charset=utf-8",
    "json": "application/json",
    "pdf": "application/pdf",
}
ROLE_LABELS = {"user": "Utilisateur", "assistant": "Assistant"}


@dataclass(frozen=True)
class ExportFile:
    """The bytes of an export and how to serve them."""

    content: bytes
    media_type: str
    disposition: str


def when(stamp: str) -> str:
    """A stored time as people read it: `2026-01-31 12:00 UTC`."""
    return f"{stamp[:10]} {stamp[11:16]} UTC"


def speaker(message: MessageRecord) -> str:
    """The role label, with the answering model when known."""
    model = message.get("model")
    label = ROLE_LABELS.get(message["role"], message["role"])
    return f"{label} ({model})" if model else label


def content_disposition(title: str, extension: str) -> str:
    """`attachment` with an ASCII file name from the title and the exact one as `filename*` (RFC 6266)."""
    unaccented = "".join(c for c in unicodedata.normalize("NFKD", title) if not unicodedata.combining(c))
    ascii_name = re.sub(r"[^A-Za-z0-9]+", "-", unaccented).strip("-")[:80].strip("-") or "conversation"
    exact = " ".join(re.sub(r'[\x00-\x1f\x7f/\\"<>:|?*]', " ", title).split())[:120] or "conversation"
    return f"attachment; filename=\"{ascii_name}.{extension}\"; filename*=UTF-8''{quote(exact + '.' + extension, safe='')}"


def _text(conversation: ConversationRecord, messages: list[MessageRecord]) -> str:
    lines = [
        conversation["title"],
        f"Créée le {when(conversation['created_at'])} · mise à jour le {when(conversation['updated_at'])}",
    ]
    for message in messages:
        lines += ["", f"[{when(message['created_at'])}] {speaker(message)} :", message["content"]]
    return "\n".join(lines) + "\n"


def _markdown(conversation: ConversationRecord, messages: list[MessageRecord]) -> str:
    lines = [
        f"# {conversation['title']}",
        "",
        f"*Créée le {when(conversation['created_at'])} · mise à jour le {when(conversation['updated_at'])}*",
    ]
    for message in messages:
        lines += ["", f"## {speaker(message)} — {when(message['created_at'])}", "", message["content"]]
    return "\n".join(lines) + "\n"


def render(
    export_format: ExportFormat,
    conversation: ConversationRecord,
    messages: list[MessageRecord],
    *,
    exported_at: str,
) -> ExportFile:
    """One thread in the chosen format."""
    if export_format == "json":
        payload = document([conversation_to_json(conversation, messages)], exported_at=exported_at)
        content = json.dumps(payload, ensure_ascii=False, indent=2).encode()
    elif export_format == "pdf":
        # Imported on first use: fpdf2 with Pillow and fontTools would add half a second and
        # 30 MB to every server's start-up for a route few requests take.
        from . import pdf_export

        content = pdf_export.render_pdf(conversation, messages, speaker=speaker, when=when)
    else:
        content = (_text if export_format == "txt" else _markdown)(conversation, messages).encode()
    return ExportFile(
        content, _MEDIA_TYPES[export_format], content_disposition(conversation["title"], export_format)
    )


def render_all(
    threads: list[tuple[ConversationRecord, list[MessageRecord]]], *, exported_at: str
) -> ExportFile:
    """Every thread in one JSON file."""
    payload = document([conversation_to_json(*thread) for thread in threads], exported_at=exported_at)
    content = json.dumps(payload, ensure_ascii=False, indent=2).encode()
    return ExportFile(content, _MEDIA_TYPES["json"], content_disposition("conversations", "json"))
