"""The recording contract: one behaviour suite run against memory://, SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from chatledger.domain import (
    ConcurrencyConflict,
    IdempotencyConflict,
    InvalidConversationId,
    InvalidInput,
    InvalidMessage,
    Message,
    ToolCall,
)
from chatledger.infrastructure import ChatLedger
from chatledger.projections import MessageWindow
from tests.fakes import FakeTokenCounter


def user(text: str, id: str | None = None) -> Message:
    return (
        Message(role="user", content=text)
        if id is None
        else Message(id=id, role="user", content=text)
    )


def test_first_message_is_at_position_one_with_its_token_count(ledger: ChatLedger) -> None:
    entry = ledger.record("conv-1", user("hello there"))

    assert (entry.position, entry.tokens, entry.counter) == (1, 5, "fake:words")


def test_positions_have_no_holes_across_single_and_batched_records(ledger: ChatLedger) -> None:
    ledger.record("conv-1", user("one"))
    ledger.record("conv-1", [user("two"), user("three"), user("four")])
    ledger.record("conv-1", user("five"))

    history = ledger.history("conv-1")

    assert [e.position for e in history] == [1, 2, 3, 4, 5]
    assert [e.message.content for e in history] == ["one", "two", "three", "four", "five"]


def test_conversations_are_independent(ledger: ChatLedger) -> None:
    ledger.record("a", user("for a"))
    ledger.record("b", user("for b"))

    assert [e.message.content for e in ledger.history("a")] == ["for a"]
    assert ledger.version("b") == 1


def test_unknown_conversation_has_empty_history_and_version_zero(ledger: ChatLedger) -> None:
    history = ledger.history("never-seen")

    assert (len(history), history.length, ledger.version("never-seen")) == (0, 0, 0)


def test_recording_a_known_id_again_returns_the_original_and_records_nothing(
    ledger: ChatLedger,
) -> None:
    original = ledger.record("conv-1", user("hi", id="m-1"))
    ledger.record("conv-1", user("later"))

    again = ledger.record("conv-1", user("hi", id="m-1"))

    assert again == original
    assert ledger.version("conv-1") == 2


def test_idempotency_holds_however_long_ago_the_message_was_recorded(ledger: ChatLedger) -> None:
    original = ledger.record("conv-1", user("first", id="m-first"))
    ledger.record("conv-1", [user(f"filler {i}") for i in range(250)])

    again = ledger.record("conv-1", user("first", id="m-first"))

    assert again.position == original.position == 1
    assert ledger.version("conv-1") == 251


def test_same_id_with_different_content_raises_and_records_nothing(ledger: ChatLedger) -> None:
    ledger.record("conv-1", user("hi", id="m-1"))

    with pytest.raises(IdempotencyConflict) as raised:
        ledger.record("conv-1", [user("new"), user("changed", id="m-1")])

    assert raised.value.position == 1
    assert ledger.version("conv-1") == 1


def test_same_message_id_in_two_conversations_is_two_messages(ledger: ChatLedger) -> None:
    ledger.record("a", user("hi", id="m-1"))

    entry = ledger.record("b", user("hello", id="m-1"))

    assert entry.position == 1


def test_a_batch_repeating_one_message_records_it_once(ledger: ChatLedger) -> None:
    message = user("once")

    entries = ledger.record("conv-1", [message, message])

    assert [e.position for e in entries] == [1, 1]
    assert ledger.version("conv-1") == 1


def test_system_message_equal_to_the_current_prompt_records_nothing(ledger: ChatLedger) -> None:
    prompt = ledger.record("conv-1", Message(role="system", content="Be brief."))
    ledger.record("conv-1", user("hi"))

    repeated = ledger.record("conv-1", Message(role="system", content="Be brief."))

    assert repeated == prompt
    assert ledger.version("conv-1") == 2


def test_retrying_an_acknowledged_repeat_of_the_prompt_returns_the_original_answer(
    ledger: ChatLedger,
) -> None:
    ledger.record("conv-1", Message(id="s-1", role="system", content="Be brief."))
    repeat = Message(id="s-2", role="system", content="Be brief.")
    first = ledger.record("conv-1", repeat)
    ledger.record("conv-1", Message(id="s-3", role="system", content="Be thorough."))

    retried = ledger.record("conv-1", repeat)

    assert retried == first
    assert first.position == 1
    assert ledger.version("conv-1") == 2
    assert ledger.memory("conv-1", MessageWindow()).messages[0].content == "Be thorough."


def test_a_new_system_prompt_is_recorded_and_the_old_stays_in_history(ledger: ChatLedger) -> None:
    ledger.record("conv-1", Message(role="system", content="Be brief."))
    ledger.record("conv-1", Message(role="system", content="Be thorough."))

    contents = [e.message.content for e in ledger.history("conv-1")]

    assert contents == ["Be brief.", "Be thorough."]


def test_returning_to_an_earlier_system_prompt_records_it_again(ledger: ChatLedger) -> None:
    ledger.record("conv-1", Message(role="system", content="A"))
    ledger.record("conv-1", Message(role="system", content="B"))

    entry = ledger.record("conv-1", Message(role="system", content="A"))

    assert entry.position == 3


def test_expected_version_that_matches_records(ledger: ChatLedger) -> None:
    ledger.record("conv-1", user("one"))

    entry = ledger.record("conv-1", user("two"), expected_version=1)

    assert entry.position == 2


def test_expected_version_behind_raises_concurrency_conflict(ledger: ChatLedger) -> None:
    ledger.record("conv-1", [user("one"), user("two")])

    with pytest.raises(ConcurrencyConflict) as raised:
        ledger.record("conv-1", user("three"), expected_version=1)

    assert (raised.value.expected, raised.value.actual) == (1, 2)
    assert ledger.version("conv-1") == 2


def test_expected_version_zero_creates_only_a_new_conversation(ledger: ChatLedger) -> None:
    ledger.record("conv-1", user("one"))

    with pytest.raises(ConcurrencyConflict):
        ledger.record("conv-1", user("two"), expected_version=0)


def test_a_retried_write_with_a_stale_expected_version_returns_the_original(
    ledger: ChatLedger,
) -> None:
    message = user("exactly once")
    first = ledger.record("conv-1", message, expected_version=0)

    retried = ledger.record("conv-1", message, expected_version=0)

    assert retried == first


def test_tool_call_arguments_are_kept_byte_for_byte(ledger: ChatLedger) -> None:
    raw = ['{"city":  "Paris",\n "days": [1,2]}', "{not json at all", ""]
    calls = tuple(ToolCall(id=f"c{i}", name="lookup", arguments=a) for i, a in enumerate(raw))
    ledger.record("conv-1", Message(role="assistant", tool_calls=calls))

    stored = ledger.history("conv-1").entries[0].message

    assert [call.arguments for call in stored.tool_calls] == raw


def test_unicode_names_and_metadata_round_trip(ledger: ChatLedger) -> None:
    message = Message(
        role="user",
        content="مرحبا 👋 — naïve café \u200d",
        name="Zoë",
        metadata={"ui": {"draft": False, "tags": ["α", 1, None]}},
    )
    ledger.record("conv-1", message)

    assert ledger.history("conv-1").entries[0].message == message


def test_oversized_content_is_rejected_and_nothing_is_written(backend_url: str) -> None:
    with ChatLedger.open(backend_url, FakeTokenCounter(), max_content_bytes=10) as small:
        with pytest.raises(InvalidMessage) as raised:
            small.record("conv-1", [user("fits"), user("x" * 11)])

        assert raised.value.field == "content"
        assert small.version("conv-1") == 0


def test_default_content_limit_is_one_mebibyte(ledger: ChatLedger) -> None:
    ledger.record("conv-1", user("é" * (512 * 1024)))  # exactly 1 MiB of UTF-8

    with pytest.raises(InvalidMessage, match="over the limit"):
        ledger.record("conv-1", user("x" * (1024 * 1024 + 1)))

    assert ledger.version("conv-1") == 1


def test_a_batch_with_a_non_message_is_rejected_naming_its_index(ledger: ChatLedger) -> None:
    with pytest.raises(InvalidMessage) as raised:
        ledger.record("conv-1", [user("ok"), {"role": "user"}])  # type: ignore[list-item]  # bad input on purpose

    assert raised.value.field == "messages.1"
    assert ledger.version("conv-1") == 0


def test_an_empty_batch_is_rejected(ledger: ChatLedger) -> None:
    with pytest.raises(InvalidMessage, match="must not be empty"):
        ledger.record("conv-1", [])


@pytest.mark.parametrize(
    "conversation_id", ["", "../etc/passwd", "a/b", "x" * 201, "'; DROP TABLE x; --", "a\x00b"]
)
def test_malformed_conversation_ids_are_rejected(ledger: ChatLedger, conversation_id: str) -> None:
    with pytest.raises(InvalidConversationId):
        ledger.record(conversation_id, user("hi"))


def test_negative_expected_version_is_rejected(ledger: ChatLedger) -> None:
    with pytest.raises(InvalidInput) as raised:
        ledger.record("conv-1", user("hi"), expected_version=-1)

    assert raised.value.field == "expected_version"
