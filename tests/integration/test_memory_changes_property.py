"""Clears and retractions interleaved with recording, through a real ledger (hypothesis).

Every view of a point in time taken as the conversation went on is still the view of that point
after every later change; the view now is the fold of the changes recorded by now.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from chatledger.domain import ChangesInForce, Message, MessageWindow, TokenWindow, ToolCall
from chatledger.infrastructure import ChatLedger
from chatledger.projections import MemoryView, Policy, memory_of
from tests.fakes import FakeTokenCounter

CONV = "conv-property"
POLICIES: tuple[Policy, ...] = (
    MessageWindow(max_messages=6),
    TokenWindow(max_tokens=40),
    MessageWindow(max_messages=99),
)

# What one step does: record a turn of one of these shapes, clear, or retract a drawn position.
steps = st.lists(
    st.one_of(
        st.sampled_from(["user", "assistant", "exchange", "open call", "system"]),
        st.just("clear"),
        st.integers(1, 60).map(lambda n: f"retract {n}"),
    ),
    min_size=1,
    max_size=25,
)


def turn(shape: str, number: int) -> list[Message]:
    """Fresh messages (fresh ids) of one shape."""
    call_id = f"call-{number % 3}"  # ids are reused across turns, as providers do
    call = Message(role="assistant", content=None, tool_calls=(ToolCall(id=call_id, name="look"),))
    if shape == "exchange":
        return [call, Message(role="tool", content="found", tool_call_id=call_id)]
    if shape == "open call":
        return [call]
    text = f"{shape} says {number} words here"
    return [Message(role=shape, content=text)]  # type: ignore[arg-type]  # roles drawn above


@settings(max_examples=60, deadline=None)
@given(steps)
def test_changes_never_alter_a_view_of_a_point_before_them(drawn: list[str]) -> None:
    with ChatLedger.open("memory://", token_counter=FakeTokenCounter()) as ledger:
        seen: dict[tuple[int, int], MemoryView] = {}
        changed_at: set[int] = set()
        for number, step in enumerate(drawn):
            head = ledger.version(CONV)
            if step == "clear":
                if ledger.clear(CONV) is not None:
                    changed_at.add(head)
            elif step.startswith("retract "):
                target = int(step.split()[1])
                entries = ledger.history(CONV).entries
                if target <= len(entries) and not entries[target - 1].message.is_instruction:
                    ledger.retract(CONV, target)
                    changed_at.add(head)
            else:
                ledger.record(CONV, turn(step, number))
                head = ledger.version(CONV)
                for index, policy in enumerate(POLICIES):
                    seen[(head, index)] = ledger.memory(CONV, policy)

        history = ledger.history(CONV).entries
        overhead = FakeTokenCounter().request_overhead
        for (at, index), view in seen.items():
            if at not in changed_at:  # a change at ``at`` itself applies to views at ``at``
                assert ledger.memory(CONV, POLICIES[index], at=at) == view
            in_force = ChangesInForce.of(c for c in ledger.memory_changes(CONV) if c.position <= at)
            expected = memory_of(history[:at], POLICIES[index], overhead, in_force)
            assert ledger.memory(CONV, POLICIES[index], at=at) == expected
        if history:
            in_force = ChangesInForce.of(ledger.memory_changes(CONV))
            for policy in POLICIES:
                assert ledger.memory(CONV, policy) == memory_of(history, policy, overhead, in_force)
