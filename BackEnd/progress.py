"""Progress of a long command (dump, restore, a data-folder conversion): a live line, then a summary."""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TextIO

__all__ = ["Progress"]

# Redraws per second at most: a million records must not cost a million terminal writes.
_REDRAW_SECONDS = 0.2


class Progress:
    """Counts records done of a known total.

    On a terminal it redraws one line (done of total, rate, time left) as work goes on; piped
    or in CI nothing is drawn. Either way `finish` prints the one-line summary, because a
    teacher watching a minute-long restore must see it is alive, and a log must say what ran.
    """

    def __init__(
        self, action: str, total: int, *, stream: TextIO | None = None, unit: str = "records"
    ) -> None:
        self.action = action
        self.total = max(total, 0)
        self.unit = unit
        self.done = 0
        self._stream = stream if stream is not None else sys.stderr
        self._live = _is_terminal(self._stream)
        self._started = time.monotonic()
        self._drawn_at = 0.0
        self._finished = False

    def advance(self, count: int = 1) -> None:
        """`count` more records are done."""
        self.done += count
        if self._live:
            now = time.monotonic()
            if now - self._drawn_at >= _REDRAW_SECONDS:
                self._drawn_at = now
                self._draw(now)

    def status(self, now: float | None = None) -> str:
        """The live line: `restore: 120,000 of 1,000,000 records (12 %), 24,000/s, 37 s left`."""
        elapsed = (time.monotonic() if now is None else now) - self._started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        line = f"{self.action}: {self.done:,} of {self.total:,} {self.unit}"
        if self.total:
            line += f" ({100 * min(self.done, self.total) // self.total} %)"
        line += f", {rate:,.0f}/s"
        if rate > 0 and self.total > self.done:
            line += f", {_duration((self.total - self.done) / rate)} left"
        return line

    def summary(self) -> str:
        """The closing line: `restore: 1,000,000 records in 41.2 s (24,271/s)`."""
        elapsed = time.monotonic() - self._started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        return f"{self.action}: {self.done:,} {self.unit} in {elapsed:.1f} s ({rate:,.0f}/s)"

    def finish(self, detail: str = "") -> None:
        """Clear the live line and print the summary (once), with `detail` appended."""
        if self._finished:
            return
        self._finished = True
        if self._live:
            self._stream.write("\r\x1b[2K")
        self._stream.write(self.summary() + (f"; {detail}" if detail else "") + "\n")
        self._stream.flush()

    def abandon(self) -> None:
        """The work failed: clear the live line so the error that follows is readable."""
        if self._live and not self._finished:
            self._stream.write("\r\x1b[2K")
            self._stream.flush()
        self._finished = True

    def _draw(self, now: float) -> None:
        self._stream.write("\r\x1b[2K" + self.status(now))
        self._stream.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if kind is None:
            self.finish()
        else:
            self.abandon()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or odd stream is not a terminal
        return False


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes} min {seconds:02d} s"
