"""The results: a Markdown table (to stdout and `results.md`) and the chat-turn latency plot."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no screen on a server
import matplotlib.pyplot as plt

__all__ = ["PLOT_NAME", "ROWS", "Row", "plot", "table"]

PLOT_NAME = "chat_turn_latency.png"
Figures = dict[int, dict[str, float]]


@dataclass(frozen=True)
class Row:
    """One figure of the table: how to show it, its target, and what its ratio is to."""

    key: str
    label: str
    unit: str  # "ms", "s", "MB" or "" (a count)
    target: str = ""
    met: Callable[[Figures, int], bool] | None = None
    ratio_to: str | None = None  # a key of the bare app's figures, or "upstream" for the burst


SCHOOL_YEAR = 1_000_000  # issue 13's targets apply from this size on


def _chat_met(figures: Figures, largest: int) -> bool:
    smallest = min(figures)
    chat = figures[largest]["chat_p50"]
    met = chat < 15 and chat <= 1.5 * figures[smallest]["chat_p50"]
    if largest >= SCHOOL_YEAR and 100_000 in figures:
        met = met and chat <= 1.2 * figures[100_000]["chat_p50"]
    return met


def _below(key: str, limit: float, school_year_limit: float | None = None) -> Callable[[Figures, int], bool]:
    """Below `limit`, or at most `school_year_limit` when the largest set is the school year's."""

    def met(figures: Figures, largest: int) -> bool:
        if largest >= SCHOOL_YEAR and school_year_limit is not None:
            return figures[largest][key] <= school_year_limit
        return figures[largest][key] < limit

    return met


ROWS = [
    Row(
        "chat_p50",
        "chat turn p50",
        "ms",
        "< 15 ms and ≤ 1.5× the smallest set; at 1,000,000 also ≤ 1.2× the 100,000 figure",
        _chat_met,
        "root_p50",
    ),
    Row("chat_p95", "chat turn p95", "ms", ratio_to="root_p50"),
    Row("chat_cpu_ms", "server CPU per chat turn (all threads)", "ms"),
    Row(
        "history_p50",
        "`GET /history/{id}?limit=50` p50, cold",
        "ms",
        "< 10 ms (≤ 5 ms at 1,000,000)",
        _below("history_p50", 10, 5),
        "root_p50",
    ),
    Row("history_p95", "`GET /history/{id}?limit=50` p95, cold", "ms", ratio_to="root_p50"),
    Row(
        "conversations_p50",
        "`GET /conversations` p50",
        "ms",
        "< 5 ms (≤ 5 ms at 1,000,000)",
        _below("conversations_p50", 5, 5),
        "root_p50",
    ),
    Row("root_p50", "`GET /` p50 (this server)", "ms", ratio_to="root_p50"),
    Row("login_p50", "login p50 (bcrypt cost 12)", "ms", ratio_to="root_p50"),
    Row(
        "startup_s",
        "start-up to first answer",
        "s",
        "< 2 s (≤ 3 s at 1,000,000)",
        _below("startup_s", 2, 3),
        "startup_s",
    ),
    Row("rss_mb", "peak RSS", "MB", "< 150 MB", _below("rss_mb", 150), "rss_mb"),
    Row(
        "restore_s",
        "`python main.py restore`",
        "s",
        "< 20 s (≤ 60 s at 1,000,000)",
        _below("restore_s", 20, 60),
    ),
    Row("restore_rss_mb", "`restore` peak RSS", "MB", "does not grow with the data"),
    Row("dump_s", "`python main.py dump`", "s", "< 20 s (≤ 60 s at 1,000,000)", _below("dump_s", 20, 60)),
    Row("dump_rss_mb", "`dump` peak RSS", "MB", "does not grow with the data"),
    Row(
        "burst_wall_s",
        "burst of 100 chats, upstream 1 s: wall (median)",
        "s",
        "< 1.5 s",
        _below("burst_wall_s", 1.5),
        "upstream",
    ),
    Row("burst_all_sent_s", "burst: last request reached the upstream after (median run)", "s"),
    Row("burst_first_answer_s", "burst: first answer after (median run)", "s"),
    Row("burst_cpu_ms", "burst: server CPU per chat (all threads)", "ms"),
    Row(
        "burst_ok",
        "burst: requests that succeeded (worst run)",
        "",
        "100/100",
        lambda f, n: f[n]["burst_ok"] == 100,
    ),
]


def _cell(row: Row, values: dict[str, float], baseline: dict[str, float], upstream_latency: float) -> str:
    if row.key not in values:
        return ""
    value = values[row.key]
    if row.unit == "":
        return f"{value:.0f}/{values.get('burst_requests', 0):.0f}"
    text = f"{value:.2f} {row.unit}" if row.unit != "MB" else f"{value:.0f} MB"
    if row.key == "burst_wall_s":
        text += f" [{values['burst_wall_min_s']:.2f}–{values['burst_wall_max_s']:.2f}]"
    if row.ratio_to == "upstream":
        return f"{text} ({value / upstream_latency:.2f}× upstream)"
    if row.ratio_to is not None:
        return f"{text} ({value / baseline[row.ratio_to]:.1f}×)"
    return text


def table(figures: Figures, baseline: dict[str, float], upstream_latency: float) -> str:
    """The Markdown table: one column per data set, the target and whether the largest set meets it."""
    sizes = sorted(figures)
    largest = sizes[-1]
    lines = [
        "| figure | " + " | ".join(f"{size:,} messages" for size in sizes) + " | target | met? |",
        "|---|" + "---:|" * len(sizes) + "---|---|",
    ]
    for row in ROWS:
        cells = [_cell(row, figures[size], baseline, upstream_latency) for size in sizes]
        if not any(cells):
            continue
        met = ""
        if row.met is not None and row.key in figures[largest]:
            met = "yes" if row.met(figures, largest) else "**no**"
        lines.append(f"| {row.label} | " + " | ".join(cells) + f" | {row.target} | {met} |")
    return "\n".join(lines)


def plot(figures: Figures, baseline: dict[str, float], path: Path) -> None:
    """Chat-turn p50 and p95 against stored messages, with the target and the framework's floor."""
    sizes = sorted(figures)
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    ax.plot(sizes, [figures[s]["chat_p50"] for s in sizes], "o-", label="chat turn p50")
    ax.plot(sizes, [figures[s]["chat_p95"] for s in sizes], "s--", label="chat turn p95")
    long = [s for s in sizes if "long_chat_p50" in figures[s]]  # issue 13: sets with 5,000-message threads
    if long:
        ax.plot(long, [figures[s]["long_chat_p50"] for s in long], "D", label="p50 in a 5,000-message thread")
    ax.axhline(15, color="tab:red", linestyle=":", label="target p50 (15 ms)")
    ax.axhline(baseline["root_p50"], color="grey", linestyle="-.", label="bare FastAPI endpoint p50")
    ax.set_xscale("log")
    ax.set_xticks(sizes, [f"{s:,}" for s in sizes])
    highest = max(max(figures[s]["chat_p95"], figures[s].get("long_chat_p50", 0.0)) for s in sizes)
    ax.set_ylim(0, max(20.0, highest * 1.2))
    ax.set_xlabel("stored messages (log scale)")
    ax.set_ylabel("latency over HTTP (ms)")
    ax.set_title("AssistantIA: chat turn latency against stored history")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
