"""Unit tests of BackEnd.services.chat.title_from_message (a thread's title from its first message)."""

from __future__ import annotations

import pytest

from BackEnd.services.chat import title_from_message

LIMIT = 60  # the title's length in characters before the "…"


def test_short_message_is_kept_as_is():
    assert title_from_message("Explique-moi la photosynthèse") == "Explique-moi la photosynthèse"


def test_message_of_exactly_the_limit_is_not_shortened():
    message = "a" * (LIMIT - 6) + " bcdef"
    assert len(message) == LIMIT
    assert title_from_message(message) == message


def test_multi_line_message_uses_its_first_line():
    assert title_from_message("Question de maths\nSoit f(x) = x²\nCalculer f'(x)") == "Question de maths"


def test_leading_blank_lines_and_spaces_are_skipped():
    assert title_from_message("\n\n   \t Bonjour\nla suite") == "Bonjour"


def test_windows_line_endings_are_handled():
    assert title_from_message("Première ligne\r\nSeconde ligne") == "Première ligne"


def test_whitespace_inside_the_line_is_collapsed():
    assert title_from_message("  Un   titre\tavec \u00a0 des    espaces  ") == "Un titre avec des espaces"


def test_collapsing_happens_before_measuring_the_length():
    words = ["mot"] * 15  # 59 characters with single spaces, far more with the original spacing
    message = "     ".join(words)
    assert len(message) > LIMIT
    assert title_from_message(message) == " ".join(words)


def test_long_message_is_cut_on_a_word_boundary_with_ellipsis():
    message = "Peux-tu m'expliquer en détail le fonctionnement des réseaux de neurones convolutifs"
    title = title_from_message(message)
    assert title.endswith("…")
    kept = title[:-1]
    assert len(kept) <= LIMIT
    assert message.startswith(kept)
    assert message[len(kept)] == " "  # the cut falls between two words
    assert kept == "Peux-tu m'expliquer en détail le fonctionnement des réseaux"


def test_cut_does_not_leave_trailing_punctuation_before_the_ellipsis():
    message = "Alors, voilà, une phrase, avec, beaucoup, de, virgules, partout, vraiment, trop"
    title = title_from_message(message)
    assert title.endswith("…")
    assert title[-2] not in " ,.;:"


def test_single_word_longer_than_the_limit_is_cut_hard():
    assert title_from_message("x" * 100) == "x" * LIMIT + "…"


def test_cut_exactly_at_a_word_end_keeps_that_whole_word():
    # The first 60 characters are two complete words; the 61st is a space.
    first, second = "a" * 10, "b" * 49
    message = f"{first} {second} suite du message"
    assert title_from_message(message) == f"{first} {second}…"


@pytest.mark.parametrize(
    "message",
    [
        "mot " * 40,
        "Une question\nsur plusieurs\nlignes " + "x" * 200,
        "é" * 61,
        "  \t  " + "début " * 30 + "\n fin",
    ],
)
def test_title_is_one_short_clean_line(message):
    title = title_from_message(message)
    assert 0 < len(title) <= LIMIT + 1
    assert "\n" not in title and "\r" not in title and "\t" not in title
    assert "  " not in title
    assert title == title.strip()
