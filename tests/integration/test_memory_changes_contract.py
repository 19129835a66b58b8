"""The memory changes contract on every backend, sync and async: clear and retract keep history."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from chatledger.domain import (
    ChangesInForce,
    ConversationErased,
    InvalidInput,
    Message,
    MessageWindow,
    SummaryWindow,
    TokenWindow,
    ToolCall,
    UnknownConversation,
)
from chatledger.infrastructure import ChatLedger
from chatledger.projections import Exclusion, memory_of
from tests.fakes import FakeTokenCounter

CONV = "conv-changes"
ALL = MessageWindow(max_messages=1000)


def say(role: str, text: str) -> Message:
    return Message(role=role, content=text)  # type: ignore[arg-type]  # roles as test data


def exchange(call_id: str) -> list[Message]:
    """An assistant's tool call and its result."""
    return [
        Message(
            role="assistant",
            content=None,
            tool_calls=(ToolCall(id=call_id, name="weather", arguments='{"city": "Oslo"}'),),
        ),
        Message(role="tool", content="sunny", tool_call_id=call_id),
    ]


@pytest.fixture
def talking(ledger: ChatLedger) -> ChatLedger:
    """A system prompt (1), a user question (2), a tool exchange (3, 4), an answer (5)."""
    ledger.record(
        CONV,
        [
            say("system", "You are a weather assistant."),
            say("user", "Weather in Oslo?"),
            *exchange("call-1"),
            say("assistant", "It is sunny in Oslo."),
        ],
    )
    return ledger


def positions(ledger: ChatLedger) -> tuple[int, ...]:
    return ledger.memory(CONV, ALL).positions


# Clear


def test_memory_after_a_clear_holds_the_system_prompt_and_what_came_after(
    talking: ChatLedger,
) -> None:
    talking.clear(CONV)
    talking.record(CONV, say("user", "And in Bergen?"))

    assert positions(talking) == (1, 6)


def test_a_clear_keeps_every_message_in_the_history(talking: ChatLedger) -> None:
    before = talking.history(CONV).entries

    talking.clear(CONV)

    assert talking.history(CONV).entries == before


def test_a_clear_is_listed_with_the_history_length_it_cleared(talking: ChatLedger) -> None:
    change = talking.clear(CONV)

    assert change is not None
    assert (change.number, change.kind, change.position, change.target) == (1, "cleared", 5, None)
    assert talking.memory_changes(CONV) == [change]


def test_clearing_again_with_nothing_recorded_since_records_nothing(talking: ChatLedger) -> None:
    first = talking.clear(CONV)

    again = talking.clear(CONV)

    assert again == first
    assert len(talking.memory_changes(CONV)) == 1


def test_clearing_after_new_messages_records_a_second_clear(talking: ChatLedger) -> None:
    talking.clear(CONV)
    talking.record(CONV, say("user", "And in Bergen?"))

    second = talking.clear(CONV)

    assert second is not None
    assert (second.number, second.position) == (2, 6)
    assert positions(talking) == (1,)


def test_clearing_a_conversation_with_no_message_records_nothing(ledger: ChatLedger) -> None:
    assert ledger.clear("never-recorded") is None
    assert ledger.memory_changes("never-recorded") == []


def test_a_view_at_a_point_before_the_clear_is_the_old_view(talking: ChatLedger) -> None:
    old = talking.memory(CONV, ALL, at=4)
    talking.record(CONV, say("user", "More?"))

    talking.clear(CONV)

    assert talking.memory(CONV, ALL, at=4) == old
    assert old.positions == (1, 2, 3, 4)


def test_a_tool_result_whose_call_was_cleared_never_reaches_memory(ledger: ChatLedger) -> None:
    call, result = exchange("call-9")
    ledger.record(CONV, [say("user", "Weather?"), call])

    ledger.clear(CONV)
    ledger.record(CONV, [result, say("assistant", "Sunny.")])

    assert ledger.memory(CONV, ALL).positions == (4,)
    assert ledger.explain_memory(CONV, ALL).excluded[3] is Exclusion.ORPHANED_TOOL_RESULT


def test_explain_memory_says_which_messages_were_cleared(talking: ChatLedger) -> None:
    talking.clear(CONV)
    talking.record(CONV, say("user", "And in Bergen?"))

    explanation = talking.explain_memory(CONV, ALL)

    assert explanation.view.positions == (1, 6)
    assert explanation.excluded == dict.fromkeys((2, 3, 4, 5), Exclusion.CLEARED)
    assert explanation.describe(2) == "cleared from memory"


def test_a_token_window_after_a_clear_reads_nothing_before_it(talking: ChatLedger) -> None:
    talking.clear(CONV)
    talking.record(CONV, say("user", "And in Bergen?"))

    view = talking.memory(CONV, TokenWindow(max_tokens=10_000))

    assert view.positions == (1, 6)
    assert view.changes == 1


def test_a_summary_recorded_before_a_clear_is_never_shown_after_it(talking: ChatLedger) -> None:
    talking.record(CONV, [say("user", f"question {n} about the weather there") for n in range(20)])
    window = SummaryWindow(max_tokens=60)
    talking.record_summary(CONV, covers=20, text="Questions about the weather.")
    assert talking.memory(CONV, window).summary is not None

    talking.clear(CONV)
    talking.record(CONV, say("user", "A new topic."))

    view = talking.memory(CONV, window)
    assert view.summary is None
    assert view.positions == (1, 26)


# Retract


def test_a_retracted_message_leaves_memory_and_stays_in_history(talking: ChatLedger) -> None:
    change = talking.retract(CONV, 5)

    assert (change.kind, change.target, change.position) == ("retracted", 5, 5)
    assert positions(talking) == (1, 2, 3, 4)
    assert [entry.position for entry in talking.history(CONV).entries] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("target", [3, 4])
def test_retracting_either_half_of_a_tool_exchange_takes_the_whole_exchange(
    talking: ChatLedger, target: int
) -> None:
    talking.retract(CONV, target)

    assert positions(talking) == (1, 2, 5)
    excluded = talking.explain_memory(CONV, ALL).excluded
    assert excluded == {3: Exclusion.RETRACTED, 4: Exclusion.RETRACTED}


def test_retracting_twice_records_nothing_the_second_time(talking: ChatLedger) -> None:
    first = talking.retract(CONV, 2)

    assert talking.retract(CONV, 2) == first
    assert len(talking.memory_changes(CONV)) == 1


def test_retracting_a_cleared_message_changes_nothing(talking: ChatLedger) -> None:
    clear = talking.clear(CONV)
    talking.record(CONV, say("user", "And in Bergen?"))

    assert talking.retract(CONV, 2) == clear
    assert positions(talking) == (1, 6)
    assert len(talking.memory_changes(CONV)) == 1


def test_a_retraction_recorded_later_is_not_in_a_view_of_before(talking: ChatLedger) -> None:
    old = talking.memory(CONV, ALL, at=5)
    talking.record(CONV, say("user", "Thanks."))

    talking.retract(CONV, 2)

    assert talking.memory(CONV, ALL, at=5) == old
    assert positions(talking) == (1, 3, 4, 5, 6)


def test_a_clear_ends_earlier_retractions_and_later_ones_apply(talking: ChatLedger) -> None:
    talking.retract(CONV, 5)
    talking.clear(CONV)
    talking.record(CONV, [say("user", "And in Bergen?"), say("assistant", "Rain.")])

    talking.retract(CONV, 7)

    assert positions(talking) == (1, 6)
    kinds = [(c.number, c.kind, c.target) for c in talking.memory_changes(CONV)]
    assert kinds == [(1, "retracted", 5), (2, "cleared", None), (3, "retracted", 7)]


def test_an_instruction_cannot_be_retracted(talking: ChatLedger) -> None:
    with pytest.raises(InvalidInput) as raised:
        talking.retract(CONV, 1)

    assert raised.value.field == "position"
    assert "system message" in str(raised.value)
    assert talking.memory_changes(CONV) == []


@pytest.mark.parametrize("position", [0, 6, -1, 2**60])
def test_retracting_a_position_outside_the_history_names_it(
    talking: ChatLedger, position: int
) -> None:
    with pytest.raises(InvalidInput) as raised:
        talking.retract(CONV, position)

    assert raised.value.field == "position"
    assert talking.memory_changes(CONV) == []


def test_retracting_in_a_conversation_with_no_message_is_unknown(ledger: ChatLedger) -> None:
    with pytest.raises(UnknownConversation):
        ledger.retract("never-recorded", 1)


# Both


def test_the_view_equals_the_reference_fold_after_changes(talking: ChatLedger) -> None:
    talking.retract(CONV, 2)
    talking.record(CONV, [say("user", "Again?"), *exchange("call-2"), say("assistant", "Yes.")])
    talking.clear(CONV)
    talking.record(CONV, [say("user", "New."), *exchange("call-3"), say("assistant", "Ok.")])
    talking.retract(CONV, 13)

    history = talking.history(CONV).entries
    in_force = ChangesInForce.of(talking.memory_changes(CONV))
    window = TokenWindow(max_tokens=10_000)
    expected = memory_of(history, window, FakeTokenCounter().request_overhead, in_force)
    assert talking.memory(CONV, window) == expected
    assert expected.positions == (1, 10, 11, 12)


def test_a_replayed_model_call_applies_the_changes_its_view_applied(talking: ChatLedger) -> None:
    talking.retract(CONV, 5)
    view = talking.memory(CONV, ALL)
    call = talking.record_model_call(CONV, view, model="gpt-test")

    talking.clear(CONV)
    talking.retract(CONV, 2)

    replay = talking.replay_model_call(CONV, call.number)
    assert call.changes == 1
    assert replay.identical, replay.differences
    assert replay.view.positions == (1, 2, 3, 4)


def test_verify_covers_clears_and_retractions(talking: ChatLedger) -> None:
    talking.retract(CONV, 5)
    talking.clear(CONV)

    verified = talking.verify(CONV)

    assert verified.intact, verified.breaks
    assert verified.changes == 2


def test_concurrent_changes_are_each_recorded_once(talking: ChatLedger) -> None:
    talking.record(CONV, [say("user", f"line {n}") for n in range(20)])

    with ThreadPoolExecutor(max_workers=8) as pool:
        done = list(pool.map(lambda p: talking.retract(CONV, p), range(6, 26)))

    numbers = sorted(change.number for change in done)
    assert numbers == list(range(1, 21))
    assert positions(talking) == (1, 2, 3, 4, 5)


def test_an_erased_conversation_takes_no_memory_change(talking: ChatLedger) -> None:
    talking.erase(CONV, reason="the user asked")

    with pytest.raises(ConversationErased):
        talking.clear(CONV)
    with pytest.raises(ConversationErased):
        talking.retract(CONV, 2)
