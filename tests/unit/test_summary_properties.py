"""Invariants of the summary window over random histories with random summaries (hypothesis)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from chatledger.domain import Summary, SummaryWindow, TokenWindow
from chatledger.projections import (
    HistoryEntry,
    MemoryView,
    build_memory,
    build_summary_memory,
    memory_of,
    summary_memory_of,
)
from chatledger.projections.memory import _walk_forward
from tests.unit.test_memory_properties import counted, current_prompt, histories, overheads

AT = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
PROPERTY = settings(max_examples=300, deadline=None)

windows = st.builds(
    SummaryWindow,
    max_tokens=st.integers(1, 300),
    start_on_user=st.booleans(),
    summary_role=st.sampled_from(["user", "system", "assistant"]),
)


@st.composite
def with_summaries(draw: st.DrawFn) -> tuple[tuple[HistoryEntry, ...], list[Summary]]:
    """A random history, and summaries recorded along it at random coverage and cost."""
    entries = draw(histories())
    summaries: list[Summary] = []
    position = 1
    for number in range(1, draw(st.integers(0, 4)) + 1):
        if not entries:
            break
        position = draw(st.integers(position, len(entries)))
        summaries.append(
            Summary(
                number=number,
                covers=draw(st.integers(1, position)),
                position=position,
                text=f"summary {number}",
                tokens=draw(st.integers(0, 40)),
                counter="fake",
                recorded_at=AT,
            )
        )
    return entries, summaries


def read_newest_first(
    entries: Sequence[HistoryEntry], summaries: Sequence[Summary], policy: SummaryWindow, at: int
) -> MemoryView:
    """The view as storage builds it at position ``at``: newest first, summaries of then."""
    upto = entries[:at]
    existing = [s for s in reversed(summaries) if s.position <= at]
    return build_summary_memory(reversed(upto), current_prompt(upto), existing, policy, 0, at)


def reference(
    entries: Sequence[HistoryEntry], summaries: Sequence[Summary], policy: SummaryWindow
) -> tuple[tuple[int, ...], int, int | None]:
    """The summary window's rules, folded over the whole history one step at a time."""
    position = entries[-1].position if entries else 0
    walk = _walk_forward(entries)
    prompt = walk.system_prompt
    room = policy.max_tokens - (prompt.tokens if prompt else 0)
    plain = memory_of(
        entries, TokenWindow(max_tokens=policy.max_tokens, start_on_user=policy.start_on_user), 0
    )
    token_window = (plain.positions, plain.tokens, None)
    cost = [sum(e.tokens for e in unit) for unit in walk.units]
    if room < 0 or sum(cost) <= room:
        return token_window
    for summary in reversed([s for s in summaries if s.position <= position]):
        left = room - summary.tokens
        if left < 0:
            continue
        recent: list[tuple[HistoryEntry, ...]] = []
        for unit, price in reversed(list(zip(walk.units, cost, strict=True))):
            if unit[0].position <= summary.covers or price > left:
                break
            left -= price
            recent.insert(0, unit)
        if not recent:
            continue
        while (
            policy.start_on_user
            and policy.summary_role != "user"
            and recent
            and recent[0][0].message.role != "user"
        ):
            recent.pop(0)
        shown = [e for unit in recent for e in unit]
        if prompt is not None:
            shown.insert(0, prompt)
        tokens = summary.tokens + sum(e.tokens for e in shown)
        return tuple(e.position for e in shown), tokens, summary.number
    return token_window


@PROPERTY
@given(with_summaries(), windows, st.data())
def test_the_view_equals_the_reference_fold_at_every_position(
    drawn: tuple[tuple[HistoryEntry, ...], list[Summary]],
    policy: SummaryWindow,
    data: st.DataObject,
) -> None:
    entries, summaries = drawn
    at = data.draw(st.integers(0, len(entries)), label="at")

    view = read_newest_first(entries, summaries, policy, at)

    number = view.summary.number if view.summary else None
    assert (view.positions, view.tokens, number) == reference(entries[:at], summaries, policy)


@PROPERTY
@given(with_summaries(), windows, overheads)
def test_reading_newest_first_equals_the_whole_history_fold(
    drawn: tuple[tuple[HistoryEntry, ...], list[Summary]], policy: SummaryWindow, overhead: int
) -> None:
    entries, summaries = drawn
    existing = [s for s in reversed(summaries) if s.position <= len(entries)]

    view = build_summary_memory(
        reversed(entries), current_prompt(entries), existing, policy, overhead, len(entries)
    )

    assert view == summary_memory_of(entries, summaries, policy, overhead)


@PROPERTY
@given(with_summaries(), windows, overheads)
def test_the_view_is_never_over_budget_unless_it_is_the_system_prompt_alone(
    drawn: tuple[tuple[HistoryEntry, ...], list[Summary]], policy: SummaryWindow, overhead: int
) -> None:
    entries, summaries = drawn

    view = summary_memory_of(entries, summaries, policy, overhead)

    assert view.tokens <= policy.max_tokens or (
        view.entries == (current_prompt(entries),) and view.summary is None
    )


@PROPERTY
@given(with_summaries(), windows, overheads)
def test_the_view_has_no_orphan_result_and_no_unanswered_call(
    drawn: tuple[tuple[HistoryEntry, ...], list[Summary]], policy: SummaryWindow, overhead: int
) -> None:
    entries, summaries = drawn

    view = summary_memory_of(entries, summaries, policy, overhead)

    awaited: set[str | None] = set()
    for message in view.messages:
        if message.role == "tool":
            assert message.tool_call_id in awaited
            awaited.remove(message.tool_call_id)
        else:
            assert awaited == set()
            awaited = {call.id for call in message.tool_calls}
    assert awaited == set()


@PROPERTY
@given(with_summaries(), windows, overheads)
def test_no_message_a_shown_summary_covers_is_in_the_view(
    drawn: tuple[tuple[HistoryEntry, ...], list[Summary]], policy: SummaryWindow, overhead: int
) -> None:
    entries, summaries = drawn

    view = summary_memory_of(entries, summaries, policy, overhead)

    if view.summary is not None:
        shown = [e.position for e in view.entries if not e.message.is_instruction]
        assert all(position > view.summary.covers for position in shown)


@PROPERTY
@given(histories(), windows, overheads)
def test_without_summaries_the_view_equals_the_token_windows(
    entries: tuple[HistoryEntry, ...], policy: SummaryWindow, overhead: int
) -> None:
    view = summary_memory_of(entries, [], policy, overhead)

    plain = memory_of(
        entries,
        TokenWindow(max_tokens=policy.max_tokens, start_on_user=policy.start_on_user),
        overhead,
    )
    assert (view.entries, view.tokens, view.position) == (
        plain.entries,
        plain.tokens,
        plain.position,
    )


@PROPERTY
@given(with_summaries(), windows, overheads)
def test_reading_newest_first_pulls_no_more_than_the_token_window_does(
    drawn: tuple[tuple[HistoryEntry, ...], list[Summary]], policy: SummaryWindow, overhead: int
) -> None:
    entries, summaries = drawn
    existing = [s for s in reversed(summaries) if s.position <= len(entries)]
    token_window = TokenWindow(max_tokens=policy.max_tokens, start_on_user=policy.start_on_user)
    mine: list[HistoryEntry] = []
    theirs: list[HistoryEntry] = []

    build_summary_memory(
        counted(reversed(entries), mine),
        current_prompt(entries),
        existing,
        policy,
        overhead,
        len(entries),
    )
    build_memory(
        counted(reversed(entries), theirs),
        current_prompt(entries),
        token_window,
        overhead,
        len(entries),
    )

    assert len(mine) <= len(theirs)
