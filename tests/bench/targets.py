"""The issue's targets, judged on the figures of one run."""

from __future__ import annotations

from tests.bench.results import Figure, Results, Target, times

FLAT = 1.5
FASTER_THAN_PIPELINE = 100.0
FLOOR_SHARE = 0.5
REPLAY_SHARE = 0.3


def judge(results: Results) -> list[Target]:
    """Every target the run's figures can be judged on."""
    targets: list[Target] = []
    for figure, what, against_langchain in (
        ("memory", "memory view", True),
        ("memory_summaries", "memory view with summaries", False),
        ("newest_page", "newest-50 page", True),
    ):
        measured = results.find(figure)
        if len(measured) >= 2:
            small, large = measured[0], measured[-1]
            ratio = large.chatledger / small.chatledger
            targets.append(
                Target(
                    f"{what} stays flat",
                    f"at {large.history:,} within {FLAT}x of at {small.history:,}",
                    f"{ratio:.2f}x ({large.chatledger:.2f} ms vs {small.chatledger:.2f} ms)",
                    ratio <= FLAT,
                )
            )
        # The summary window's peer is chatledger's own token window, not LangChain.
        compared = [f for f in measured if f.speedup is not None and against_langchain]
        if compared:
            widest = compared[-1]
            targets.append(
                Target(
                    f"{what} vs LangChain",
                    f">= {FASTER_THAN_PIPELINE:.0f}x faster at {widest.history:,}",
                    times(widest.speedup or 0.0),
                    (widest.speedup or 0) >= FASTER_THAN_PIPELINE,
                )
            )
    singles = {f.peer: f for f in results.find("record_single")}
    for peer, goal, share in (
        ("LangChain add_message", "at least as fast as add_message", 1.0),
        ("raw INSERT; COMMIT", "at least half the raw-INSERT rate", FLOOR_SHARE),
    ):
        if peer in singles:
            targets.append(_share(f"record 1 msg/call vs {peer}", goal, singles[peer], share))
    one, many = results.find("record_writers_1"), results.find("record_writers_8")
    if one and many:
        ratio = many[0].chatledger / one[0].chatledger
        targets.append(
            Target(
                "8 writers on 8 conversations",
                "total rate >= 1 writer's",
                f"{ratio:.2f}x ({many[0].chatledger:,.0f} vs {one[0].chatledger:,.0f} msg/s)",
                ratio >= 1.0,
            )
        )
    for replay in results.find("audit_replay"):
        targets.append(
            _share("audit replay", "at least 30% of raw SELECT's rate", replay, REPLAY_SHARE)
        )
    return targets


def _share(name: str, goal: str, figure: Figure, share: float) -> Target:
    speedup = figure.speedup or 0.0
    return Target(name, goal, f"{speedup:.0%} of the peer's rate", speedup >= share)
