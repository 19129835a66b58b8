"""What a message may hold: each rule refuses bad input, naming the field and the problem."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from chatledger.domain import InvalidMessage, Message, ToolCall
from chatledger.projections import HistoryEntry

CALL = ToolCall(id="c1", name="lookup")

BAD: list[tuple[str, Callable[[], object], str, str]] = [
    (
        "a user message with tool calls",
        lambda: Message(role="user", tool_calls=(CALL,)),
        "tool_calls",
        "only assistant messages carry tool calls, not user",
    ),
    (
        "two tool calls with one id",
        lambda: Message(role="assistant", tool_calls=(CALL, ToolCall(id="c1", name="other"))),
        "tool_calls",
        "tool call ids must be unique within a message",
    ),
    (
        "a tool result without its call id",
        lambda: Message(role="tool", content="42"),
        "tool_call_id",
        "is required on tool messages",
    ),
    (
        "a call id on a user message",
        lambda: Message(role="user", content="hi", tool_call_id="c1"),
        "tool_call_id",
        "is only allowed on tool messages, not user",
    ),
    (
        "NUL in the content",
        lambda: Message(role="user", content="a\x00b"),
        "content",
        "contains a NUL character",
    ),
    ("NUL in the id", lambda: Message(id="a\x00", role="user"), "id", "contains a NUL character"),
    (
        "NUL in the name",
        lambda: Message(role="user", name="a\x00"),
        "name",
        "contains a NUL character",
    ),
    (
        "NUL in the call id",
        lambda: Message(role="tool", tool_call_id="c\x00"),
        "tool_call_id",
        "contains a NUL character",
    ),
    (
        "NUL in a tool call's arguments, given as a dict",
        lambda: Message.parse(
            {"role": "assistant", "tool_calls": [{"id": "c1", "name": "f", "arguments": "\x00"}]}
        ),
        "tool_calls.0.arguments",
        "contains a NUL character",
    ),
    (
        "NUL in a tool call's name",
        lambda: ToolCall(id="c1", name="f\x00"),
        "name",
        "contains a NUL character",
    ),
    (
        "NUL in a metadata key",
        lambda: Message(role="user", metadata={"a\x00": 1}),
        "metadata",
        "contains a NUL character",
    ),
    (
        "NUL deep in a metadata value",
        lambda: Message(role="user", metadata={"a": [{"b": "x\x00"}]}),
        "metadata",
        "contains a NUL character",
    ),
    (
        "a lone surrogate in the content",
        lambda: Message(role="user", content="\ud800"),
        "content",
        "contains a lone surrogate at index 0",
    ),
    (
        "a lone surrogate in metadata",
        lambda: Message(role="user", metadata={"a": "\ud800"}),
        "metadata",
        "contains a lone surrogate at index 0",
    ),
    (
        "a lone surrogate in the name",
        lambda: Message(role="user", name="ab\udc00"),
        "name",
        "contains a lone surrogate at index 2",
    ),
    (
        "NaN in metadata",
        lambda: Message(role="user", metadata={"a": [1, float("nan")]}),
        "metadata.a.1",
        "must be a finite number, got nan: JSON has no nan",
    ),
    (
        "an infinity in metadata (what 1e400 parses to)",
        lambda: Message(role="user", metadata={"a": {"b": float("inf")}}),
        "metadata.a.b",
        "must be a finite number, got inf: JSON has no inf",
    ),
    ("an empty id", lambda: Message(id="", role="user"), "id", "must not be empty"),
    (
        "a name over 200 characters",
        lambda: Message(role="user", name="x" * 201),
        "name",
        "must be at most 200 characters, got 201",
    ),
    (
        "an unknown role",
        lambda: Message.parse({"role": "wizard"}),
        "role",
        "must be one of system, developer, user, assistant, tool; got 'wizard'",
    ),
    (
        "an unknown field",
        lambda: Message.parse({"role": "user", "mood": "happy"}),
        "mood",
        "is not a message field",
    ),
]


@pytest.mark.parametrize(
    ("build", "field", "problem"),
    [pytest.param(build, field, problem, id=name) for name, build, field, problem in BAD],
)
def test_a_bad_message_is_refused_naming_the_field_and_the_problem(
    build: Callable[[], object], field: str, problem: str
) -> None:
    with pytest.raises(InvalidMessage) as raised:
        build()

    assert (raised.value.field, raised.value.problem) == (field, problem)


def test_a_message_with_a_bad_tool_call_is_refused_inside_an_entry() -> None:
    entry: dict[str, Any] = {
        "message": {"role": "user", "content": "hi", "tool_call_id": "c1"},
        "position": 1,
        "recorded_at": "2026-01-01T00:00:00Z",
        "tokens": 3,
        "counter": "fake",
    }

    with pytest.raises(ValidationError, match="is only allowed on tool messages"):
        HistoryEntry.model_validate(entry)


def test_no_validation_context_lets_a_message_skip_its_rules() -> None:
    # What the store once passed to skip the rules on a trusted read: now it changes nothing.
    stored = {"role": "user", "content": "hi", "tool_call_id": "c1"}

    with pytest.raises(ValidationError, match="is only allowed on tool messages"):
        Message.model_validate(stored, context={"authenticated": True})


def test_a_message_read_from_json_is_checked_too() -> None:
    stored = '{"role": "user", "content": "hi", "tool_call_id": "c1"}'

    with pytest.raises(ValidationError, match="is only allowed on tool messages"):
        Message.model_validate_json(stored)


def test_a_message_passed_in_built_is_taken_as_built() -> None:
    # Checked when it was built; a store reading back an old row gets it as it was written.
    built = Message.model_construct(role="tool", content="42", tool_call_id=None)

    entry = HistoryEntry(
        message=built, position=1, recorded_at=datetime.now(UTC), tokens=3, counter="fake"
    )

    assert entry.message is built


def test_valid_messages_of_every_role_are_accepted() -> None:
    messages = [
        Message(role="system", content="Be brief.", name="policy"),
        Message(role="user", content="naïve café 👋", metadata={"ui": {"tags": ["α", 1, None]}}),
        Message(role="assistant", tool_calls=(CALL, ToolCall(id="c2", name="lookup"))),
        Message(role="tool", tool_call_id="c1", content="42"),
    ]

    assert [m.role for m in messages] == ["system", "user", "assistant", "tool"]
