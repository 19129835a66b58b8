"""The memory view's rules, one concrete history per rule."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime

import pytest

from chatledger.domain import Message, ToolCall
from chatledger.projections import (
    Exclusion,
    HistoryEntry,
    MessageWindow,
    TokenWindow,
    build_memory,
    explain_memory,
    memory_of,
)

RECORDED_AT = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
WIDE = MessageWindow(max_messages=100)


def user(text: str = "hello") -> Message:
    return Message(role="user", content=text)


def reply(text: str = "hi") -> Message:
    return Message(role="assistant", content=text)


def calls(*ids: str) -> Message:
    return Message(role="assistant", tool_calls=tuple(ToolCall(id=i, name="lookup") for i in ids))


def result(call_id: str) -> Message:
    return Message(role="tool", tool_call_id=call_id, content=f"result of {call_id}")


def system(text: str = "Be brief.") -> Message:
    return Message(role="system", content=text)


def history(*messages: Message, tokens: int | Sequence[int] = 10) -> tuple[HistoryEntry, ...]:
    """Entries at positions 1..n; ``tokens`` is every entry's count, or one count per entry."""
    costs = [tokens] * len(messages) if isinstance(tokens, int) else tokens
    return tuple(
        HistoryEntry(
            message=message, position=position, recorded_at=RECORDED_AT, tokens=cost, counter="fake"
        )
        for position, (message, cost) in enumerate(zip(messages, costs, strict=True), start=1)
    )


def counted(entries: Iterable[HistoryEntry], pulled: list[HistoryEntry]) -> Iterator[HistoryEntry]:
    """Yield ``entries``, noting in ``pulled`` each one the consumer asked for."""
    for entry in entries:
        pulled.append(entry)
        yield entry


# The whole history


def test_empty_history_gives_an_empty_view_with_zero_tokens() -> None:
    view = memory_of((), WIDE, request_overhead=3)

    assert (view.entries, view.tokens, view.position) == ((), 0, 0)


def test_plain_messages_are_shown_oldest_first() -> None:
    entries = history(user("one"), reply("two"), user("three"))

    view = memory_of(entries, WIDE, request_overhead=0)

    assert view.positions == (1, 2, 3)


def test_view_is_positioned_at_the_last_recorded_message() -> None:
    entries = history(user(), reply(), user())

    view = memory_of(entries, MessageWindow(max_messages=1), request_overhead=0)

    assert view.position == 3


def test_view_tokens_are_the_request_overhead_plus_every_message() -> None:
    entries = history(user(), reply(), user(), tokens=[4, 5, 6])

    view = memory_of(entries, WIDE, request_overhead=3)

    assert view.tokens == 3 + 4 + 5 + 6


# Tool exchanges


def test_tool_exchange_shows_its_call_then_its_result() -> None:
    entries = history(user(), calls("call_0"), result("call_0"), reply())

    view = memory_of(entries, WIDE, request_overhead=0)

    assert view.positions == (1, 2, 3, 4)


def test_tool_result_without_its_call_never_reaches_memory() -> None:
    entries = history(user(), result("call_9"), reply())

    view = memory_of(entries, WIDE, request_overhead=0)

    assert view.positions == (1, 3)


def test_second_result_for_an_answered_call_is_an_orphan() -> None:
    entries = history(calls("call_0"), result("call_0"), result("call_0"))

    view = memory_of(entries, WIDE, request_overhead=0)

    assert view.positions == (1, 2)


def test_parallel_tool_results_are_listed_in_recorded_order() -> None:
    entries = history(
        calls("call_0", "call_1", "call_2"), result("call_2"), result("call_0"), result("call_1")
    )

    view = memory_of(entries, WIDE, request_overhead=0)

    assert [m.tool_call_id for m in view.messages] == [None, "call_2", "call_0", "call_1"]


def test_exchange_with_an_unanswered_call_never_reaches_memory() -> None:
    entries = history(user(), calls("call_0", "call_1"), result("call_0"), user("never mind"))

    view = memory_of(entries, WIDE, request_overhead=0)

    assert view.positions == (1, 4)


def test_reused_call_id_answers_the_most_recent_waiting_exchange() -> None:
    entries = history(calls("call_0"), user("stop"), calls("call_0"), result("call_0"))

    view = memory_of(entries, WIDE, request_overhead=0)

    assert view.positions == (2, 3, 4)


def test_reused_call_id_across_answered_turns_pairs_each_turn_with_its_own_result() -> None:
    entries = history(
        calls("call_0"), result("call_0"), reply(), calls("call_0"), result("call_0"), reply()
    )

    view = memory_of(entries, WIDE, request_overhead=0)

    assert view.positions == (1, 2, 3, 4, 5, 6)


def test_result_can_answer_an_older_exchange_still_waiting_for_it() -> None:
    entries = history(calls("call_0"), user(), calls("call_1"), result("call_1"), result("call_0"))

    view = memory_of(entries, WIDE, request_overhead=0)

    assert view.positions == (1, 5, 2, 3, 4)


def test_messages_recorded_between_a_call_and_its_result_follow_the_exchange() -> None:
    entries = history(calls("call_0"), user("still there?"), result("call_0"))

    view = memory_of(entries, WIDE, request_overhead=0)

    assert view.positions == (1, 3, 2)


# The system prompt


def test_only_the_last_system_prompt_is_shown_and_it_comes_first() -> None:
    entries = history(system("Be brief."), user(), system("Be verbose."), reply())

    view = memory_of(entries, WIDE, request_overhead=0)

    assert view.positions == (3, 2, 4)


def test_message_window_counts_the_system_prompt() -> None:
    entries = history(system(), user(), reply(), user())

    view = memory_of(entries, MessageWindow(max_messages=2), request_overhead=0)

    assert view.positions == (1, 4)


def test_token_window_counts_the_request_overhead_and_the_system_prompt() -> None:
    entries = history(system(), user(), reply(), tokens=10)

    view = memory_of(entries, TokenWindow(max_tokens=25), request_overhead=5)

    assert (view.positions, view.tokens) == ((1, 3), 25)


def test_system_prompt_alone_over_the_token_budget_is_shown_alone() -> None:
    entries = history(system(), user(), tokens=[30, 1])

    view = memory_of(entries, TokenWindow(max_tokens=20), request_overhead=3)

    assert (view.positions, view.tokens) == ((1,), 33)


def test_request_overhead_alone_over_the_token_budget_gives_an_empty_view() -> None:
    entries = history(user(), tokens=0)

    view = memory_of(entries, TokenWindow(max_tokens=4), request_overhead=5)

    assert (view.entries, view.tokens) == ((), 0)


# The window


def test_window_keeps_the_newest_units_that_fit() -> None:
    entries = history(user(), reply(), user(), reply(), user())

    view = memory_of(entries, MessageWindow(max_messages=2), request_overhead=0)

    assert view.positions == (4, 5)


def test_window_stops_at_the_first_unit_that_does_not_fit() -> None:
    entries = history(user("small"), reply("huge"), user("small"), tokens=[1, 50, 1])

    view = memory_of(entries, TokenWindow(max_tokens=10), request_overhead=0)

    assert view.positions == (3,)


def test_tool_exchange_is_never_split_by_the_window() -> None:
    entries = history(user(), calls("call_0", "call_1"), result("call_0"), result("call_1"))

    view = memory_of(entries, MessageWindow(max_messages=2), request_overhead=0)

    assert view.entries == ()


def test_start_on_user_drops_leading_units_until_a_user_message() -> None:
    entries = history(user(), reply(), calls("call_0"), result("call_0"), reply(), user(), reply())
    policy = MessageWindow(max_messages=5, start_on_user=True)

    view = memory_of(entries, policy, request_overhead=0)

    assert view.positions == (6, 7)


def test_start_on_user_keeps_the_system_prompt_first() -> None:
    entries = history(system(), reply(), user(), reply())
    policy = MessageWindow(max_messages=4, start_on_user=True)

    view = memory_of(entries, policy, request_overhead=0)

    assert view.positions == (1, 3, 4)


def test_start_on_user_with_no_user_in_the_window_shows_only_the_system_prompt() -> None:
    entries = history(system(), user(), reply(), reply())
    policy = MessageWindow(max_messages=3, start_on_user=True)

    view = memory_of(entries, policy, request_overhead=0)

    assert view.positions == (1,)


@pytest.mark.parametrize("limit", [0, -1])
def test_message_window_below_one_message_is_refused(limit: int) -> None:
    with pytest.raises(ValueError, match="max_messages"):
        MessageWindow(max_messages=limit)


@pytest.mark.parametrize("limit", [0, -1])
def test_token_window_below_one_token_is_refused(limit: int) -> None:
    with pytest.raises(ValueError, match="max_tokens"):
        TokenWindow(max_tokens=limit)


# Reading newest first

SCRIPT = history(
    system("You are a travel assistant."),
    user("Find me a flight"),
    calls("call_0", "call_1"),
    result("call_1"),
    result("call_0"),
    reply("Here are flights and hotels."),
    result("call_9"),
    user("And the weather?"),
    calls("call_0"),
    user("Never mind"),
    system("You are a terse travel assistant."),
    calls("call_0"),
    result("call_0"),
    reply("Booked."),
    user("Thanks"),
    tokens=[7, 5, 9, 4, 4, 6, 3, 5, 6, 4, 8, 6, 3, 4, 3],
)


@pytest.mark.parametrize(
    "policy",
    [WIDE, MessageWindow(max_messages=4), TokenWindow(max_tokens=30, start_on_user=True)],
    ids=repr,
)
def test_build_memory_from_the_newest_message_back_equals_the_reference(
    policy: MessageWindow | TokenWindow,
) -> None:
    view = build_memory(reversed(SCRIPT), SCRIPT[10], policy, 3, position=len(SCRIPT))

    assert view == memory_of(SCRIPT, policy, request_overhead=3)


def test_build_memory_shows_only_the_given_system_prompt() -> None:
    entries = history(system("old"), user(), system("new"), reply())

    view = build_memory(reversed(entries), entries[2], WIDE, 0, position=4)

    assert view.positions == (3, 2, 4)


def test_build_memory_of_an_empty_stream_is_an_empty_view() -> None:
    view = build_memory(iter(()), None, WIDE, 3, position=0)

    assert (view.entries, view.tokens, view.position) == ((), 0, 0)


def test_build_memory_stops_reading_at_the_first_unit_that_does_not_fit() -> None:
    entries = history(*(user(str(n)) for n in range(100)))
    pulled: list[HistoryEntry] = []

    build_memory(counted(reversed(entries), pulled), None, MessageWindow(max_messages=3), 0, 100)

    assert len(pulled) == 4


def test_build_memory_reads_nothing_when_the_system_prompt_alone_is_over_budget() -> None:
    entries = history(system(), user(), reply(), tokens=[30, 1, 1])
    pulled: list[HistoryEntry] = []

    build_memory(counted(reversed(entries), pulled), entries[0], TokenWindow(max_tokens=20), 0, 3)

    assert pulled == []


# Explanations


def test_explanation_names_a_replaced_system_prompt() -> None:
    entries = history(system("old"), user(), system("new"))

    explanation = explain_memory(entries, WIDE, request_overhead=0)

    assert explanation.excluded == {1: Exclusion.REPLACED_SYSTEM_PROMPT}


def test_explanation_names_an_orphaned_tool_result() -> None:
    entries = history(user(), result("call_9"))

    explanation = explain_memory(entries, WIDE, request_overhead=0)

    assert explanation.excluded == {2: Exclusion.ORPHANED_TOOL_RESULT}


def test_explanation_names_an_unanswered_call_and_the_results_it_did_get() -> None:
    entries = history(calls("call_0", "call_1"), result("call_0"), user())

    explanation = explain_memory(entries, WIDE, request_overhead=0)

    assert explanation.excluded == {
        1: Exclusion.UNANSWERED_TOOL_CALL,
        2: Exclusion.UNANSWERED_TOOL_CALL,
    }


def test_explanation_names_units_dropped_to_start_on_a_user_message() -> None:
    entries = history(user(), reply(), calls("call_0"), result("call_0"), user())
    policy = MessageWindow(max_messages=4, start_on_user=True)

    explanation = explain_memory(entries, policy, request_overhead=0)

    assert explanation.excluded == {
        1: Exclusion.EVICTED,
        2: Exclusion.BEFORE_FIRST_USER,
        3: Exclusion.BEFORE_FIRST_USER,
        4: Exclusion.BEFORE_FIRST_USER,
    }


def test_explanation_calls_every_unit_from_the_first_that_did_not_fit_back_evicted() -> None:
    entries = history(user("small"), reply("huge"), user("small"), tokens=[1, 50, 1])

    explanation = explain_memory(entries, TokenWindow(max_tokens=10), request_overhead=0)

    assert explanation.excluded == {1: Exclusion.EVICTED, 2: Exclusion.EVICTED}


def test_explanation_keeps_the_reason_of_an_orphan_older_than_the_window() -> None:
    entries = history(result("call_9"), user(), reply(), user())

    explanation = explain_memory(entries, MessageWindow(max_messages=1), request_overhead=0)

    assert explanation.excluded == {
        1: Exclusion.ORPHANED_TOOL_RESULT,
        2: Exclusion.EVICTED,
        3: Exclusion.EVICTED,
    }


def test_explanation_accounts_for_every_position_exactly_once() -> None:
    explanation = explain_memory(SCRIPT, MessageWindow(max_messages=4), request_overhead=3)

    shown = explanation.view.positions
    assert sorted([*shown, *explanation.excluded]) == list(range(1, len(SCRIPT) + 1))


def test_explanation_holds_the_same_view_as_the_reference() -> None:
    policy = TokenWindow(max_tokens=30, start_on_user=True)

    explanation = explain_memory(SCRIPT, policy, request_overhead=3)

    assert explanation.view == memory_of(SCRIPT, policy, request_overhead=3)


def test_a_system_prompt_over_the_token_budget_is_shown_alone_and_said_to_be_over() -> None:
    entries = history(system("a long prompt"), user(), reply(), tokens=[14, 3, 3])

    view = memory_of(entries, TokenWindow(max_tokens=5), request_overhead=0)

    assert view.messages == (entries[0].message,)
    assert view.over_budget is True


def test_a_view_within_its_budget_is_not_over_budget() -> None:
    entries = history(system(), user(), reply(), tokens=[2, 2, 2])

    view = memory_of(entries, TokenWindow(max_tokens=5), request_overhead=0)

    assert view.tokens <= 5
    assert view.over_budget is False
