"""Anthropic turns imported and rendered back: what went in comes out, turn by turn."""

from __future__ import annotations

from typing import Any

import pytest
from anthropic.types import Message as AnthropicResponse
from anthropic.types import MessageParam

from chatledger import InvalidMessage, Message, messages_from_anthropic
from chatledger.domain import FilePart, ImagePart, ReasoningPart
from chatledger.projections.renderings import Rendering, render_anthropic
from tests.payloads import (
    ANTHROPIC_SYSTEM_BLOCKS,
    PDF,
    PNG,
    anthropic_media,
    anthropic_thinking_tools,
    assert_valid_anthropic,
)


def round_trip(turns: Any, system: Any = None) -> Rendering[Any]:
    """Import the turns, store-and-read the messages, render again, validated as the SDK's."""
    messages = messages_from_anthropic(turns, system=system)
    assert [Message.parse(message.stored_form()) for message in messages] == messages
    rendering = render_anthropic(messages)
    assert_valid_anthropic(dict(rendering.payload))
    return rendering


@pytest.mark.parametrize(
    "turns",
    [anthropic_thinking_tools(), anthropic_media()],
    ids=["thinking-and-parallel-tools", "images-documents-tool-image"],
)
def test_turns_render_back_exactly_as_they_were_imported(turns: list[MessageParam]) -> None:
    rendering = round_trip(turns, system=ANTHROPIC_SYSTEM_BLOCKS)

    assert rendering.payload == {"system": ANTHROPIC_SYSTEM_BLOCKS, "messages": turns}
    assert rendering.omitted == ()


def test_thinking_stays_in_the_assistant_message_that_calls_the_tools() -> None:
    assistant = messages_from_anthropic(anthropic_thinking_tools())[1]

    assert assistant.reasoning == (
        ReasoningPart(
            provider="anthropic", text="Two cities: two calls.", signature="EqQBCgIYAhIM"
        ),
    )
    assert [call.id for call in assistant.tool_calls] == ["toolu_1", "toolu_2"]


def test_each_tool_result_is_a_tool_message_and_the_turns_text_a_user_message() -> None:
    messages = messages_from_anthropic(anthropic_thinking_tools())

    assert [(m.role, m.tool_call_id) for m in messages[2:5]] == [
        ("tool", "toolu_1"),
        ("tool", "toolu_2"),
        ("user", None),
    ]
    assert messages[3].extra == {"is_error": True}


def test_redacted_thinking_keeps_its_opaque_data() -> None:
    last = messages_from_anthropic(anthropic_thinking_tools())[-1]

    assert last.reasoning == (
        ReasoningPart(provider="anthropic", redacted=True, data="EmwKAhgBEgy3va3p"),
    )


def test_tool_input_is_kept_as_json_text() -> None:
    assistant = messages_from_anthropic(anthropic_thinking_tools())[1]

    assert assistant.tool_calls[1].arguments == '{"city": "Porto", "units": ["c", 1.5, null, true]}'
    assert assistant.tool_calls[1].extra == {"cache_control": {"type": "ephemeral"}}


def test_images_and_documents_are_parts_with_their_sources() -> None:
    user = messages_from_anthropic(anthropic_media())[0]

    assert user.parts[:2] == (
        ImagePart(data=PNG, media_type="image/png"),
        ImagePart(url="https://example.com/lisbon.png"),
    )
    assert user.parts[2] == FilePart(
        data=PDF,
        media_type="application/pdf",
        extra={"title": "Report", "context": "From the archive.", "citations": {"enabled": True}},
    )
    assert user.parts[3] == FilePart(text="Lisbon: 21 °C.", media_type="text/plain")


def test_system_text_becomes_a_system_message() -> None:
    (system, _) = messages_from_anthropic([{"role": "user", "content": "hi"}], system="Be brief.")

    assert (system.role, system.content) == ("system", "Be brief.")
    assert round_trip([{"role": "user", "content": "hi"}], system="Be brief.").payload == {
        "system": "Be brief.",
        "messages": [{"role": "user", "content": "hi"}],
    }


def test_a_response_renders_as_its_assistant_turn_and_lists_its_own_fields() -> None:
    response = AnthropicResponse.model_validate(
        {
            "id": "msg_01",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-5",
            "content": [
                {"type": "thinking", "thinking": "Weather.", "signature": "sig"},
                {"type": "text", "text": "Checking.", "citations": None},
                {"type": "tool_use", "id": "toolu_7", "name": "weather", "input": {"city": "Faro"}},
            ],
            "stop_reason": "tool_use",
            "stop_sequence": None,
            "usage": {"input_tokens": 10, "output_tokens": 20},
        }
    )
    question: list[Any] = [{"role": "user", "content": "Faro?"}]

    messages = messages_from_anthropic(question) + messages_from_anthropic(response)
    rendering = render_anthropic(messages)

    assert rendering.payload["messages"][1] == {
        "role": "assistant",
        "content": [
            {"type": "thinking", "thinking": "Weather.", "signature": "sig"},
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "toolu_7", "name": "weather", "input": {"city": "Faro"}},
        ],
    }
    assert {o.field for o in rendering.omitted} == {
        "extra.id",
        "extra.type",
        "extra.model",
        "extra.stop_reason",
        "extra.usage",
    }
    assert {o.reason for o in rendering.omitted} == {"a response field no request takes"}


def test_consecutive_user_turns_come_back_as_one_turn() -> None:
    turns: list[Any] = [
        {"role": "user", "content": [{"type": "text", "text": "one"}]},
        {"role": "user", "content": [{"type": "text", "text": "two"}]},
    ]

    assert round_trip(turns).payload["messages"] == [
        {
            "role": "user",
            "content": [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}],
        }
    ]


def test_a_block_after_a_tool_use_starts_the_next_assistant_message() -> None:
    turns: list[Any] = [
        {"role": "user", "content": "go"},
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "t1", "name": "f", "input": {}},
                {"type": "text", "text": "and then"},
                {"type": "tool_use", "id": "t2", "name": "g", "input": {}},
            ],
        },
    ]

    messages = messages_from_anthropic(turns)

    assert [[c.id for c in m.tool_calls] for m in messages[1:]] == [["t1"], ["t2"]]
    assert round_trip(turns).payload["messages"] == turns


def test_a_system_turn_among_the_messages_is_the_system_prompt() -> None:
    turns: list[Any] = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi"},
    ]

    assert round_trip(turns).payload == {
        "system": "Be brief.",
        "messages": [{"role": "user", "content": "hi"}],
    }


@pytest.mark.parametrize(
    ("turns", "field"),
    [
        ([{"role": "robot", "content": "hi"}], "0.role"),
        ([{"role": "user", "content": [{"type": "search_result"}]}], "0.content.0.type"),
        ([{"role": "user", "content": [{"type": "tool_result"}]}], "0.content.0.tool_use_id"),
        (
            [{"role": "assistant", "content": [{"type": "thinking", "thinking": "x"}]}],
            "0.content.0.signature",
        ),
        ([{"role": "user", "content": "hi", "cache": 1}], "0.cache"),
        (
            [
                {
                    "role": "user",
                    "content": [{"type": "image", "source": {"type": "base64", "data": "!"}}],
                }
            ],
            "0.content.0.data",
        ),
    ],
    ids=[
        "bad-role",
        "unknown-block",
        "result-without-id",
        "unsigned-thinking",
        "turn-field",
        "bad-base64",
    ],
)
def test_turns_no_request_would_take_are_refused_naming_the_turn(turns: Any, field: str) -> None:
    with pytest.raises(InvalidMessage) as raised:
        messages_from_anthropic(turns)

    assert raised.value.field == field
