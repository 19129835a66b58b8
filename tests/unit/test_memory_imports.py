"""The memory rules hold for imported messages: calls and results pair by the providers' ids."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from chatledger import Message, messages_from_anthropic, messages_from_responses
from chatledger.projections import (
    Exclusion,
    HistoryEntry,
    MessageWindow,
    explain_memory,
    memory_of,
)
from tests.payloads import (
    anthropic_thinking_tools,
    openai_parallel_calls,
    responses_reasoning_calls,
)

AT = datetime(2026, 1, 1, tzinfo=UTC)


def history(messages: Sequence[Message]) -> list[HistoryEntry]:
    return [
        HistoryEntry(message=m, position=i, recorded_at=AT, tokens=5, counter="fake")
        for i, m in enumerate(messages, start=1)
    ]


def roles(messages: Sequence[Message]) -> list[str]:
    return [message.role for message in messages]


def test_parallel_chat_calls_are_shown_with_both_results() -> None:
    messages = [Message.from_openai(m) for m in openai_parallel_calls()]

    view = memory_of(history(messages), MessageWindow(max_messages=20), 0)

    assert view.messages == tuple(messages)


def test_a_parallel_exchange_that_does_not_fit_whole_is_left_out_whole() -> None:
    messages = [Message.from_openai(m) for m in openai_parallel_calls()]

    # The prompt, then room for the answer and two of the exchange's three messages.
    view = memory_of(history(messages), MessageWindow(max_messages=4), 0)

    assert roles(view.messages) == ["developer", "assistant"]


def test_a_parallel_exchange_missing_one_result_is_never_shown() -> None:
    messages = [Message.from_openai(m) for m in openai_parallel_calls()]
    del messages[4]  # the result of call_1

    explained = explain_memory(history(messages), MessageWindow(max_messages=20), 0)

    assert explained.excluded == {
        3: Exclusion.UNANSWERED_TOOL_CALL,
        4: Exclusion.UNANSWERED_TOOL_CALL,
    }


def test_anthropic_thinking_is_shown_only_with_the_calls_it_led_to_and_their_results() -> None:
    messages = messages_from_anthropic(anthropic_thinking_tools())
    assistant = messages[1]
    assert assistant.reasoning
    assert assistant.tool_calls
    windows = [
        memory_of(history(messages), MessageWindow(max_messages=budget), 0).messages
        for budget in range(1, len(messages) + 1)
    ]

    showing = [shown for shown in windows if assistant in shown]

    assert showing
    for shown in showing:
        start = shown.index(assistant)
        assert roles(shown[start : start + 3]) == ["assistant", "tool", "tool"]


def test_anthropic_results_answer_their_tool_use_ids() -> None:
    messages = messages_from_anthropic(anthropic_thinking_tools())

    view = memory_of(history(messages), MessageWindow(max_messages=20), 0)

    assert roles(view.messages) == ["user", "assistant", "tool", "tool", "user", "assistant"]


def test_responses_outputs_answer_their_calls_by_call_id() -> None:
    messages = messages_from_responses(responses_reasoning_calls())

    view = memory_of(history(messages), MessageWindow(max_messages=20), 0)

    assert view.messages == tuple(messages)


def test_a_responses_output_for_an_unknown_call_id_is_an_orphan() -> None:
    items: list[Any] = [
        *responses_reasoning_calls(),
        {"type": "function_call_output", "call_id": "call_z", "output": "late"},
    ]
    messages = messages_from_responses(items)

    explained = explain_memory(history(messages), MessageWindow(max_messages=20), 0)

    assert explained.excluded == {len(messages): Exclusion.ORPHANED_TOOL_RESULT}


def test_a_developer_message_fills_the_instruction_slot_of_an_imported_history() -> None:
    messages = [
        *messages_from_anthropic([{"role": "user", "content": "hi"}], system="Old."),
        *messages_from_responses([{"type": "message", "role": "developer", "content": "New."}]),
    ]

    explained = explain_memory(history(messages), MessageWindow(max_messages=20), 0)

    assert [m.text for m in explained.view.messages] == ["New.", "hi"]
    assert explained.excluded == {1: Exclusion.REPLACED_SYSTEM_PROMPT}
