"""The progress line of long commands: live on a terminal, only a summary when piped."""

from __future__ import annotations

import io

import pytest

from BackEnd import progress as progress_module
from BackEnd.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [100.0]
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: now[0])
    return now


def test_piped_output_is_only_the_summary(clock: list[float]) -> None:
    stream = io.StringIO()
    with Progress("restore", 1000, stream=stream) as progress:
        for _ in range(10):
            clock[0] += 1.0
            progress.advance(100)
    assert stream.getvalue() == "restore: 1,000 records in 10.0 s (100/s)\n"


def test_a_terminal_sees_done_of_total_rate_and_time_left(clock: list[float]) -> None:
    stream = Terminal()
    progress = Progress("dump", 1000, stream=stream)
    clock[0] += 2.0
    progress.advance(250)
    drawn = stream.getvalue()
    assert "dump: 250 of 1,000 records (25 %)" in drawn
    assert "125/s" in drawn
    assert "6 s left" in drawn
    progress.finish("wrote x.json")
    assert stream.getvalue().endswith("dump: 250 records in 2.0 s (125/s); wrote x.json\n")


def test_redraws_are_throttled(clock: list[float]) -> None:
    stream = Terminal()
    progress = Progress("restore", 10_000, stream=stream)
    clock[0] += 1.0
    for _ in range(1000):
        progress.advance()  # the clock does not move: one draw only
    assert stream.getvalue().count("restore:") == 1


def test_a_failure_clears_the_line_and_prints_no_summary(clock: list[float]) -> None:
    stream = Terminal()
    with pytest.raises(RuntimeError), Progress("restore", 10, stream=stream) as progress:
        clock[0] += 1.0
        progress.advance(5)
        raise RuntimeError("bad record")
    assert " in " not in stream.getvalue().rsplit("\x1b[2K", 1)[-1]


def test_long_waits_read_in_minutes(clock: list[float]) -> None:
    progress = Progress("restore", 1_000_000, stream=Terminal())
    clock[0] += 10.0
    progress.advance(10_000)
    assert progress.status().endswith("16 min 30 s left")
