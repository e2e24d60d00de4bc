"""Folding, query parsing and snippets of search_text, the rules every backend shares."""

from __future__ import annotations

import re

import pytest

from BackEnd.search_text import (
    SNIPPET_CHARS,
    fold,
    indexed_words,
    matches,
    parse_query,
    snippet,
    word_set,
)


def visible(html: str) -> str:
    text = re.sub(r"</?mark>", "", html)
    return re.sub(r"&(lt|gt|amp|quot|#x27);", "x", text)


@pytest.mark.parametrize(
    ("text", "folded"), [("École", "ecole"), ("ÉCOLE", "ecole"), ("Straße", "strasse"), ("İ", "i")]
)
def test_fold_drops_case_and_accents(text: str, folded: str) -> None:
    assert fold(text) == folded


def test_words_are_letters_and_digits_and_decomposed_accents_join_their_word() -> None:
    assert indexed_words("L'E\u0301cole_2026, c'est: ça!") == "l ecole 2026 c est ca"


@pytest.mark.parametrize(
    "text",
    ["Lorem ipsum, lorem IPSUM dolor.", "l'École et l'ÉCOLE_2 ﬁn", "E\u0301cole\tou\n  ecole!", "", "?!"],
)
def test_word_set_is_the_distinct_indexed_words(text: str) -> None:
    assert word_set(text) == set(indexed_words(text).split())


@pytest.mark.parametrize(
    ("query", "terms"),
    [
        ('photo "la belle  époque" x', (("photo",), ("la", "belle", "epoque"), ("x",))),
        ('"non fermé', (("non", "ferme"),)),
        ("a a A", (("a",),)),
    ],
)
def test_parse_query(query: str, terms: tuple) -> None:
    assert parse_query(query).terms == terms


@pytest.mark.parametrize("query", ["", " ", '""', "?!", "_ _", " ".join(["mot"] * 17)])
def test_a_query_without_a_word_or_with_too_many_is_refused(query: str) -> None:
    with pytest.raises(ValueError):
        parse_query(query + (" " + " ".join(f"w{n}" for n in range(17)) if query.startswith("mot") else ""))


def test_matches_needs_every_term_as_a_word_prefix_and_phrases_in_a_row() -> None:
    words = indexed_words("La photosynthèse des plantes vertes")
    assert matches(words, parse_query("PHOTO plant"))
    assert not matches(words, parse_query("hoto"))
    assert matches(words, parse_query('"des plan"'))
    assert not matches(words, parse_query('"plantes des"'))


def test_snippet_marks_every_match_and_escapes_the_rest() -> None:
    html = snippet("<i>École</i> & ECOLE", parse_query("ecole"))
    assert html == "&lt;i&gt;<mark>École</mark>&lt;/i&gt; &amp; <mark>ECOLE</mark>"


@pytest.mark.parametrize("position", [0, 500, 1990])
def test_a_long_snippet_keeps_200_visible_characters_around_the_first_match(position: int) -> None:
    text = ("a&b " * 500)[:position] + " cible " + "z<z " * 500
    html = snippet(text, parse_query("cible"))
    assert "<mark>cible</mark>" in html
    assert len(visible(html)) <= SNIPPET_CHARS


def test_a_snippet_without_a_visible_match_still_is_safe() -> None:
    assert snippet("<b>rien</b>", parse_query("autre")) == "&lt;b&gt;rien&lt;/b&gt;"
