"""Read figures: the memory view and the newest page by history length, point in time, replay."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chatledger.infrastructure.storage.collector import collector_paused
from chatledger.projections import SummaryWindow, TokenWindow
from tests.bench.raw_peer import select_rows
from tests.bench.results import Figure
from tests.bench.stage import Stage, history_id
from tests.bench.timing import Sample, side_by_side

BUDGET = 4000
PAGE = 50
PIPELINE = "LangChain .messages + trim_messages"
SLICE = "LangChain .messages[-50:]"


def policy() -> TokenWindow:
    """The memory policy compared: a 4,000-token window that starts on a user message."""
    return TokenWindow(max_tokens=BUDGET, start_on_user=True)


def summary_policy() -> SummaryWindow:
    """The same window with the newest summary that helps standing for the oldest messages."""
    return SummaryWindow(max_tokens=BUDGET, start_on_user=True)


def by_length(
    stage: Stage, sizes: list[int], peer_cap: int, runs: int
) -> tuple[list[Figure], dict[str, Any]]:
    """Memory view and newest page at each history length, beside LangChain's pipeline.

    chatledger's calls at every length are timed in the same rounds, so a machine that slows
    down midway slows all lengths alike; LangChain's are timed apart, so the garbage its
    whole-history reads leave behind is not collected inside chatledger's timings.
    """
    subjects: dict[str, Callable[[], object]] = {}
    for size in sizes:
        subjects |= _subjects(stage, size, peer_cap)
    longest, window = max(sizes), policy()
    subjects[f"at_middle/{longest}/chatledger"] = lambda: stage.ledger.memory(
        history_id(longest), window, at=longest // 2
    )
    samples: dict[str, Sample] = {}
    for store in ("chatledger", "peer"):
        mine = {name: call for name, call in subjects.items() if name.endswith(f"/{store}")}
        samples |= side_by_side(mine, dict.fromkeys(mine, runs))
    figures: list[Figure] = []
    for size in sizes:
        figures.append(
            Figure.latency(
                (
                    "memory_summaries",
                    f"memory view, {BUDGET:,}-token SummaryWindow",
                    "same, TokenWindow",
                ),
                samples[f"memory_summaries/{size}/chatledger"],
                samples[f"memory/{size}/chatledger"],
                history=size,
                note="a summary every 1,000 messages",
            )
        )
        for figure, label, peer in (
            ("memory", f"memory view, {BUDGET:,}-token window", PIPELINE),
            ("newest_page", f"newest {PAGE} messages", SLICE),
        ):
            theirs = samples.get(f"{figure}/{size}/peer")
            figures.append(
                Figure.latency(
                    (figure, label, peer),
                    samples[f"{figure}/{size}/chatledger"],
                    theirs,
                    history=size,
                    note="" if theirs else f"peer not run: over --peer-cap {peer_cap:,}",
                )
            )
    figures.append(
        Figure.latency(
            (
                "memory_at_middle",
                f"memory view at={longest // 2:,} (point in time)",
                "same, newest",
            ),
            samples[f"at_middle/{longest}/chatledger"],
            samples[f"memory/{longest}/chatledger"],
            history=longest,
            note="LangChain has no point-in-time read",
        )
    )
    return figures, {"memory_views": {str(size): _views(stage, size, peer_cap) for size in sizes}}


def _subjects(stage: Stage, size: int, peer_cap: int) -> dict[str, Callable[[], object]]:
    conversation_id, window, summaries = history_id(size), policy(), summary_policy()
    subjects: dict[str, Callable[[], object]] = {
        f"memory/{size}/chatledger": lambda: stage.ledger.memory(conversation_id, window),
        f"memory_summaries/{size}/chatledger": lambda: stage.ledger.memory(
            conversation_id, summaries
        ),
        f"newest_page/{size}/chatledger": lambda: stage.ledger.history(conversation_id, limit=PAGE),
    }
    if size <= peer_cap:
        peer = stage.peer_conversation(conversation_id)
        subjects[f"memory/{size}/peer"] = lambda: peer.memory(BUDGET)
        subjects[f"newest_page/{size}/peer"] = lambda: peer.newest(PAGE)
    return subjects


def _views(stage: Stage, size: int, peer_cap: int) -> dict[str, Any]:
    """How big each store's memory view is: the two should show the same window."""
    conversation_id = history_id(size)
    view = stage.ledger.memory(conversation_id, policy())
    summarized = stage.ledger.memory(conversation_id, summary_policy())
    peer = stage.peer_conversation(conversation_id) if size <= peer_cap else None
    return {
        "chatledger_messages": len(view.entries),
        "chatledger_tokens": view.tokens,
        "summary_window_messages": len(summarized.entries),
        "summary_window_tokens": summarized.tokens,
        "summary_window_summary": None if summarized.summary is None else summarized.summary.number,
        "langchain_messages": None if peer is None else len(peer.memory(BUDGET)),
    }


def audit_replay(stage: Stage, size: int, runs: int) -> Figure:
    """Every message of the longest history read back, against a raw SELECT of the same rows."""
    conversation_id = history_id(size)

    def raw() -> int:
        return select_rows(stage.raw, stage.events_table, conversation_id)

    def raw_paused() -> int:
        with collector_paused():
            return raw()

    # chatledger's long reads pause the cyclic collector. The peer is timed as users would
    # write it, and once more with the collector paused too: the note gives that ratio as well.
    samples = side_by_side(
        {
            "chatledger": lambda: stage.ledger.history(conversation_id),
            "raw": raw,
            "raw, collector paused": raw_paused,
        },
        dict.fromkeys(("chatledger", "raw", "raw, collector paused"), runs),
    )
    paused_rate = size / samples["raw, collector paused"].median
    return Figure(
        "audit_replay",
        "audit replay: whole history read",
        "msg/s",
        size / samples["chatledger"].median,
        "raw SELECT of the same event rows",
        size / samples["raw"].median,
        history=size,
        runs=runs,
        peer_runs=runs,
        note=(
            "validated, decrypted entries vs rows as bytes; client CPU "
            f"{samples['chatledger'].cpu / samples['chatledger'].median:.0%} vs "
            f"{samples['raw'].cpu / samples['raw'].median:.0%} of the time; raw SELECT with "
            f"the collector paused too: {paused_rate:,.0f} msg/s "
            f"(chatledger {size / samples['chatledger'].median / paused_rate:.0%} of it)"
        ),
    )
