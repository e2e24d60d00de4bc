"""A thread as a PDF (fpdf2): headings, wrapped lines, page numbers, in Noto Sans from its package.

Noto Sans covers Latin (French accents), Greek and Cyrillic. A character it has no glyph for
(CJK, emoji) is shown as `�` (U+FFFD) instead of failing the export or silently vanishing.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

import fontpkg
from fpdf import FPDF

from ..records import ConversationRecord, MessageRecord

__all__ = ["render_pdf"]

_FONT = "Noto"
_MISSING = "\ufffd"  # the replacement character, which Noto Sans has
# fpdf2 warns about missing glyphs; we replace them before, so its warning would only be noise.
logging.getLogger("fpdf").setLevel(logging.ERROR)


@functools.cache
def _font_path() -> str:
    return str(fontpkg.path("Noto Sans"))


class _Document(FPDF):
    def footer(self) -> None:
        self.set_y(-15)
        self.set_font(_FONT, size=8)
        self.cell(0, 10, f"{self.page_no()} / {{nb}}", align="C")


def render_pdf(
    conversation: ConversationRecord,
    messages: list[MessageRecord],
    *,
    speaker: Callable[[MessageRecord], str],
    when: Callable[[str], str],
) -> bytes:
    """The PDF's bytes."""
    pdf = _Document(format="A4")
    pdf.set_title(conversation["title"])
    pdf.set_creator("AssistantIA")
    pdf.add_font(_FONT, "", _font_path())
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.add_page()
    font = pdf.fonts[_FONT.lower()]
    glyphs: set[int] = set(getattr(font, "cmap", {}))

    def printable(text: str) -> str:
        return "".join(char if ord(char) in glyphs or char in "\n\t" else _MISSING for char in text)

    def paragraph(text: str, size: float, height: float) -> None:
        pdf.set_font(_FONT, size=size)
        pdf.multi_cell(0, height, printable(text), new_x="LMARGIN", new_y="NEXT")

    pdf.set_font(_FONT, size=11)
    paragraph(conversation["title"], 18, 9)
    paragraph(
        f"Créée le {when(conversation['created_at'])} · mise à jour le {when(conversation['updated_at'])}",
        9,
        5,
    )
    for message in messages:
        pdf.ln(4)
        paragraph(f"{speaker(message)} — {when(message['created_at'])}", 13, 7)
        paragraph(message["content"].replace("\t", "    "), 11, 5.5)
    return bytes(pdf.output())
