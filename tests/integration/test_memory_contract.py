"""The memory contract on every backend: the store's view equals the reference projection."""

from __future__ import annotations

import pytest

from chatledger.domain import InvalidInput, Message, ToolCall
from chatledger.infrastructure import ChatLedger
from chatledger.projections import MessageWindow, Policy, TokenWindow
from chatledger.projections.memory import memory_of
from tests.fakes import FakeTokenCounter


def call(*ids: str) -> Message:
    return Message(
        role="assistant",
        tool_calls=tuple(ToolCall(id=i, name="lookup", arguments='{"q": 1}') for i in ids),
    )


def result(call_id: str, text: str = "42") -> Message:
    return Message(role="tool", tool_call_id=call_id, content=text)


SCRIPT = [
    Message(role="system", content="You are a travel assistant."),
    Message(role="user", content="Find me a flight to Lisbon"),
    call("call_0", "call_1"),
    result("call_1", "hotel list"),
    result("call_0", "flight list"),
    Message(role="assistant", content="Here are flights and hotels."),
    result("call_9", "an orphan nobody asked for"),
    Message(role="user", content="And the weather?"),
    call("call_0"),
    Message(role="user", content="Never mind, book the first flight"),
    Message(role="system", content="You are a terse travel assistant."),
    call("call_0"),
    result("call_0", "booked"),
    Message(role="assistant", content="Booked."),
    Message(role="user", content="Thanks"),
]

POLICIES: list[Policy] = [
    MessageWindow(),
    MessageWindow(max_messages=4),
    MessageWindow(max_messages=5, start_on_user=True),
    TokenWindow(max_tokens=30),
    TokenWindow(max_tokens=12),
    TokenWindow(max_tokens=1000, start_on_user=True),
]


@pytest.fixture
def scripted(ledger: ChatLedger) -> ChatLedger:
    ledger.record("conv-1", SCRIPT[:6])
    for message in SCRIPT[6:]:
        ledger.record("conv-1", message)
    return ledger


@pytest.mark.parametrize("policy", POLICIES, ids=repr)
def test_memory_at_every_position_equals_the_reference_projection(
    scripted: ChatLedger, policy: Policy
) -> None:
    history = scripted.history("conv-1").entries
    overhead = scripted.token_counter.request_overhead

    for at in range(len(history) + 1):
        view = scripted.memory("conv-1", policy, at=at)
        expected = memory_of(history[:at], policy, overhead)
        assert (view.positions, view.tokens) == (expected.positions, expected.tokens), at


def test_memory_without_at_is_the_view_after_the_newest_message(scripted: ChatLedger) -> None:
    latest = scripted.memory("conv-1", MessageWindow(max_messages=6))

    assert latest == scripted.memory("conv-1", MessageWindow(max_messages=6), at=len(SCRIPT))
    assert latest.position == len(SCRIPT)


def test_the_current_system_prompt_comes_first_and_only_it(scripted: ChatLedger) -> None:
    view = scripted.memory("conv-1", MessageWindow(max_messages=20))

    systems = [m for m in view.messages if m.role == "system"]
    assert view.messages[0] == systems[0] == SCRIPT[10]
    assert len(systems) == 1


def test_orphans_and_unanswered_calls_never_reach_memory(scripted: ChatLedger) -> None:
    view = scripted.memory("conv-1", MessageWindow(max_messages=20))

    assert SCRIPT[6] not in view.messages
    assert SCRIPT[8] not in view.messages


def test_unknown_conversation_gives_an_empty_view(ledger: ChatLedger) -> None:
    view = ledger.memory("nobody", TokenWindow(max_tokens=100))

    assert (view.messages, view.tokens, view.position) == ((), 0, 0)


def test_memory_at_past_the_end_is_rejected_naming_at(scripted: ChatLedger) -> None:
    with pytest.raises(InvalidInput) as raised:
        scripted.memory("conv-1", MessageWindow(), at=len(SCRIPT) + 1)

    assert raised.value.field == "at"


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_a_view_asked_for_right_after_record_from_another_ledger_includes_the_message(
    backend: str, request: pytest.FixtureRequest
) -> None:
    url = str(request.getfixturevalue(f"{backend}_url"))
    with (
        ChatLedger.open(url, FakeTokenCounter()) as writer,
        ChatLedger.open(url, FakeTokenCounter()) as reader,
    ):
        reader.memory("conv-1", MessageWindow())  # warm the reader before the write
        entry = writer.record("conv-1", Message(role="user", content="fresh"))

        view = reader.memory("conv-1", MessageWindow())

    assert view.messages[-1] == entry.message
