"""Limits on what one message and one batch may hold, and the errors that name them."""

from __future__ import annotations

import json

import pytest
from pydantic import JsonValue

from chatledger.domain import InvalidInput, InvalidMessage, Limits, Message, ToolCall
from chatledger.domain.limits import MAX_FIELD_PATH_PARTS, field_path


def assistant_calling(*arguments: str) -> Message:
    calls = tuple(ToolCall(id=f"c{i}", name="f", arguments=a) for i, a in enumerate(arguments))
    return Message(role="assistant", tool_calls=calls)


def nested(depth: int) -> dict[str, JsonValue]:
    """Metadata whose objects nest ``depth`` levels, the metadata object the first."""
    value: dict[str, JsonValue] = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def test_the_defaults_are_the_documented_ones() -> None:
    limits = Limits()

    assert limits.model_dump() == {
        "max_content_bytes": 1024 * 1024,
        "max_arguments_bytes": 256 * 1024,
        "max_tool_calls": 128,
        "max_attachment_bytes": 20 * 1024 * 1024,
        "attachment_threshold_bytes": 32 * 1024,
        "max_metadata_bytes": 16 * 1024,
        "max_metadata_depth": 32,
        "max_batch_messages": 100_000,
        "max_batch_bytes": 256 * 1024 * 1024,
    }


def test_tool_arguments_over_the_limit_name_the_call_and_the_limit() -> None:
    message = assistant_calling("{}", "x" * 101)

    with pytest.raises(InvalidMessage) as raised:
        message.check_limits(Limits(max_arguments_bytes=100))

    assert raised.value.field == "tool_calls.1.arguments"
    assert raised.value.problem == ("is 101 bytes, over the limit max_arguments_bytes of 100 bytes")


def test_ten_megabytes_of_arguments_are_over_the_default_limit() -> None:
    with pytest.raises(InvalidMessage, match="max_arguments_bytes") as raised:
        assistant_calling("x" * 10_000_000).check_limits(Limits())

    assert raised.value.field == "tool_calls.0.arguments"


def test_twenty_thousand_tool_calls_are_over_the_default_limit() -> None:
    message = assistant_calling(*["{}"] * 20_000)

    with pytest.raises(InvalidMessage) as raised:
        message.check_limits(Limits())

    assert raised.value.field == "tool_calls"
    assert "max_tool_calls of 128" in raised.value.problem


def test_metadata_over_its_byte_limit_names_the_limit() -> None:
    message = Message(role="user", metadata={"a": "x" * 20_000})

    with pytest.raises(InvalidMessage) as raised:
        message.check_limits(Limits())

    assert raised.value.field == "metadata"
    assert raised.value.problem == (
        "is 20009 bytes as JSON, over the limit max_metadata_bytes of 16384 bytes"
    )


def test_a_larger_metadata_limit_takes_larger_metadata() -> None:
    message = Message(role="user", metadata={"a": "x" * 20_000})

    size = message.check_limits(Limits(max_metadata_bytes=32 * 1024))

    assert size == 20_009


def test_metadata_deeper_than_the_limit_names_the_depth_and_the_limit() -> None:
    fits, too_deep = (
        Message(role="user", metadata=nested(3)),
        Message(role="user", metadata=nested(4)),
    )

    fits.check_limits(Limits(max_metadata_depth=3))
    with pytest.raises(InvalidMessage) as raised:
        too_deep.check_limits(Limits(max_metadata_depth=3))

    assert raised.value.field == "metadata"
    assert raised.value.problem == (
        "is nested 4 levels deep, over the limit max_metadata_depth of 3"
    )


def test_the_size_a_message_reports_counts_content_arguments_and_metadata() -> None:
    message = Message(
        role="assistant",
        content="é",
        tool_calls=(ToolCall(id="c", name="f", arguments="{}"),),
        metadata={"k": 1},
    )

    assert message.check_limits(Limits()) == 2 + 2 + len(json.dumps({"k": 1}))


@pytest.mark.parametrize(
    ("field", "value"),
    [("max_tool_calls", 0), ("max_arguments_bytes", 2**60), ("max_batch_bytes", "many")],
)
def test_a_bad_limit_is_refused_naming_it(field: str, value: object) -> None:
    with pytest.raises(InvalidInput) as raised:
        Limits(**{field: value})

    assert raised.value.field == field


def test_metadata_nested_a_thousand_deep_is_refused_with_a_short_field_path() -> None:
    deep: JsonValue = []
    for _ in range(1000):
        deep = [deep]

    with pytest.raises(InvalidMessage) as raised:
        Message(role="user", metadata={"a": deep})

    assert raised.value.field.startswith("metadata.a.")
    assert len(raised.value.field) < 100
    assert "levels deep" in raised.value.field


def test_a_field_path_is_cut_after_a_few_parts() -> None:
    shown = field_path(["metadata", *range(100)])

    assert shown == "metadata.0.1.2.3.4.5.6... (101 levels deep)"
    assert shown.count(".") == MAX_FIELD_PATH_PARTS - 1 + 3
