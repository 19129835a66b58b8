"""Invariants of memory views under clears and retractions, over random histories (hypothesis).

The reference fold here is written from the rules alone, not from the projection's code: drop
every message a clear took out (the instructions aside), then every unit holding a retracted
position (with units found by a forward walk of their own), and take the view of what is left
as if nothing had happened.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from chatledger.domain import ChangesInForce, MemoryChange
from chatledger.projections import HistoryEntry, Policy, build_memory, memory_of
from tests.unit.test_memory_properties import (
    PROPERTY,
    current_prompt,
    histories,
    overheads,
    policies,
)

RECORDED_AT = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@st.composite
def changes_for(draw: st.DrawFn, entries: Sequence[HistoryEntry]) -> list[MemoryChange]:
    """Random clears and retractions of non-instructions, each at a history length it could
    have been recorded at, numbered and ordered as a memory stream holds them."""
    targets = [e.position for e in entries if not e.message.is_instruction]
    if not entries:
        return []
    drawn: list[tuple[int, str, int | None]] = []
    for _ in range(draw(st.integers(0, 5))):
        retract = draw(st.booleans())
        if targets and retract:
            target = draw(st.sampled_from(targets))
            drawn.append((draw(st.integers(target, len(entries))), "retracted", target))
        else:
            drawn.append((draw(st.integers(1, len(entries))), "cleared", None))
    drawn.sort(key=lambda change: change[0])
    return [
        MemoryChange(
            number=number,
            kind=kind,  # type: ignore[arg-type]  # drawn from the two kinds above
            position=position,
            target=target,
            recorded_at=RECORDED_AT,
        )
        for number, (position, kind, target) in enumerate(drawn, start=1)
    ]


def units(entries: Sequence[HistoryEntry]) -> list[list[HistoryEntry]]:
    """Every non-instruction message's unit, by the rules: a tool result joins the most recent
    exchange still waiting for its id; one with none is a unit alone; everything else too."""
    found: list[list[HistoryEntry]] = []
    waiting: list[tuple[list[HistoryEntry], set[str | None]]] = []
    for entry in entries:
        message = entry.message
        if message.is_instruction:
            continue
        if message.role == "tool":
            for unit, ids in reversed(waiting):
                if message.tool_call_id in ids:
                    unit.append(entry)
                    ids.discard(message.tool_call_id)
                    break
            else:
                found.append([entry])
            continue
        unit = [entry]
        found.append(unit)
        if message.tool_calls:
            waiting.append((unit, {call.id for call in message.tool_calls}))
    return found


def reference(
    entries: Sequence[HistoryEntry], changes: Sequence[MemoryChange]
) -> tuple[HistoryEntry, ...]:
    """The history the view is taken of, as if the changes had never been: the fold by hand."""
    cleared = max((c.position for c in changes if c.kind == "cleared"), default=0)
    kept = [e for e in entries if e.message.is_instruction or e.position > cleared]
    last_clear = max((c.number for c in changes if c.kind == "cleared"), default=0)
    retracted = {c.target for c in changes if c.kind == "retracted" and c.number > last_clear}
    gone = {
        e.position for unit in units(kept) if retracted & {e.position for e in unit} for e in unit
    }
    return tuple(e for e in kept if e.position not in gone)


@PROPERTY
@given(histories(), policies, overheads, st.data())
def test_the_view_after_changes_is_the_reference_fold(
    entries: tuple[HistoryEntry, ...], policy: Policy, overhead: int, data: st.DataObject
) -> None:
    changes = data.draw(changes_for(entries), label="changes")
    in_force = ChangesInForce.of(changes)

    view = memory_of(entries, policy, overhead, in_force)

    expected = memory_of(reference(entries, changes), policy, overhead)
    assert (view.entries, view.tokens) == (expected.entries, expected.tokens)
    assert view.changes == len(changes)


@PROPERTY
@given(histories(), policies, overheads, st.data())
def test_reading_newest_first_under_changes_gives_the_reference_view(
    entries: tuple[HistoryEntry, ...], policy: Policy, overhead: int, data: st.DataObject
) -> None:
    in_force = ChangesInForce.of(data.draw(changes_for(entries), label="changes"))
    position = entries[-1].position if entries else 0

    view = build_memory(
        reversed(entries), current_prompt(entries), policy, overhead, position, in_force
    )

    assert view == memory_of(entries, policy, overhead, in_force)


@PROPERTY
@given(histories(), policies, overheads, st.data())
def test_a_view_under_changes_has_no_orphan_result_and_no_unanswered_call(
    entries: tuple[HistoryEntry, ...], policy: Policy, overhead: int, data: st.DataObject
) -> None:
    in_force = ChangesInForce.of(data.draw(changes_for(entries), label="changes"))

    view = memory_of(entries, policy, overhead, in_force)

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
@given(histories(), policies, overheads, st.data())
def test_nothing_cleared_or_retracted_is_shown_but_the_system_prompt(
    entries: tuple[HistoryEntry, ...], policy: Policy, overhead: int, data: st.DataObject
) -> None:
    in_force = ChangesInForce.of(data.draw(changes_for(entries), label="changes"))

    view = memory_of(entries, policy, overhead, in_force)

    for entry in view.entries:
        if entry.message.is_instruction:
            assert entry == current_prompt(entries)
        else:
            assert entry.position > in_force.cleared
            assert entry.position not in in_force.retracted


@PROPERTY
@given(histories(), policies, overheads, st.data())
def test_a_view_at_a_point_before_a_change_is_the_view_without_it(
    entries: tuple[HistoryEntry, ...], policy: Policy, overhead: int, data: st.DataObject
) -> None:
    changes = data.draw(changes_for(entries), label="changes")
    at = data.draw(st.integers(0, len(entries)), label="at")
    before = [c for c in changes if c.position <= at]

    # What storage applies at ``at``: the changes recorded by then, and no later one.
    view = memory_of(entries[:at], policy, overhead, ChangesInForce.of(before))

    expected = memory_of(reference(entries[:at], before), policy, overhead)
    assert (view.entries, view.tokens) == (expected.entries, expected.tokens)
    if not before:
        assert view == memory_of(entries[:at], policy, overhead)
