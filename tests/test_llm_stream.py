"""StreamReader: an OpenAI-compatible stream's lines into deltas, a Completion, or an UpstreamError."""

from __future__ import annotations

import json

import pytest

from BackEnd.completion import Usage
from BackEnd.errors import UpstreamBadResponse, UpstreamRateLimited, UpstreamTimeout
from BackEnd.llm_stream import StreamReader


def _reader() -> StreamReader:
    return StreamReader("openrouter/auto", label=lambda value: str(value))


def _data(document: object) -> str:
    return "data: " + json.dumps(document)


def test_deltas_usage_and_the_answering_model_come_from_the_chunks() -> None:
    reader = _reader()
    lines = [
        ": OPENROUTER PROCESSING",
        "",
        _data({"model": "vendor/m", "choices": [{"delta": {"role": "assistant", "content": ""}}]}),
        _data({"model": "vendor/m", "choices": [{"delta": {"content": "Bon"}}]}),
        "event: ignored",
        _data({"choices": [{"delta": {"content": "jour \ud83d"}, "finish_reason": "length"}]}),
        _data(
            {
                "choices": [],
                "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7, "cost": 0.1},
            }
        ),
        "data: [DONE]",
    ]

    deltas = [delta for line in lines if (delta := reader.feed(line))]

    assert deltas == ["Bon", "jour \ufffd"]
    assert reader.finished
    completion = reader.completion()
    assert (completion.content, completion.model, completion.finish_reason) == (
        "Bonjour \ufffd",
        "vendor/m",
        "length",
    )
    assert completion.usage == Usage(5, 2, 7, 0.1)


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        ({"code": "server_error", "message": "down"}, UpstreamBadResponse),
        ({"code": 502, "message": "down"}, UpstreamBadResponse),
        ({"code": 429, "message": "slow down"}, UpstreamRateLimited),
        ({"code": 408}, UpstreamTimeout),
    ],
)
def test_an_error_chunk_mid_stream_raises_the_error_chat_would_answer(error: object, kind: type) -> None:
    reader = _reader()
    reader.feed(_data({"choices": [{"delta": {"content": "Half"}}]}))

    with pytest.raises(kind):
        reader.feed(_data({"error": error, "choices": [{"delta": {}, "finish_reason": "error"}]}))


def test_finish_reason_error_without_an_error_object_raises_502() -> None:
    with pytest.raises(UpstreamBadResponse):
        _reader().feed(_data({"choices": [{"delta": {}, "finish_reason": "error"}]}))


def test_a_line_that_is_not_json_raises_502() -> None:
    with pytest.raises(UpstreamBadResponse):
        _reader().feed("data: {not json")


def test_a_stream_cut_before_its_end_or_without_text_is_refused() -> None:
    cut = _reader()
    cut.feed(_data({"choices": [{"delta": {"content": "Half"}}]}))
    empty = _reader()
    empty.feed(_data({"choices": [{"delta": {"content": "  "}, "finish_reason": "stop"}]}))

    with pytest.raises(UpstreamBadResponse, match="midway"):
        cut.completion()
    with pytest.raises(UpstreamBadResponse, match="empty"):
        empty.completion()


def test_odd_chunks_are_skipped_and_a_label_that_is_not_one_is_not_kept() -> None:
    reader = _reader()
    for document in (
        [],
        "text",
        {"choices": "no"},
        {"choices": [{"delta": {"content": 3}}]},
        {"model": "a b\nc"},
    ):
        assert reader.feed(_data(document)) == ""
    reader.feed(_data({"choices": [{"delta": {"content": "ok"}, "finish_reason": "x" * 100}]}))
    reader.feed("data: [DONE]")

    completion = reader.completion()
    assert (completion.model, completion.finish_reason) == ("openrouter/auto", None)
