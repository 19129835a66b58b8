"""Responses items imported and rendered back: what went in comes out, item by item."""

from __future__ import annotations

from typing import Any

import pytest
from openai.types.responses import (
    EasyInputMessageParam,
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseOutputText,
    ResponseReasoningItem,
)

from chatledger import InvalidMessage, Message, messages_from_responses
from chatledger.domain import ReasoningPart
from chatledger.projections.renderings import Rendering, render_responses
from tests.payloads import assert_valid_responses, responses_media, responses_reasoning_calls


def round_trip(items: list[Any]) -> Rendering[Any]:
    """Import the items, store-and-read the messages, render again, validated as the SDK's."""
    messages = messages_from_responses(items)
    assert [Message.parse(message.stored_form()) for message in messages] == messages
    rendering = render_responses(messages)
    assert_valid_responses(rendering.payload)
    return rendering


@pytest.mark.parametrize(
    "items",
    [responses_reasoning_calls(), responses_media()],
    ids=["reasoning-and-parallel-calls", "images-pdf-refusal"],
)
def test_items_render_back_exactly_as_they_were_imported(items: list[Any]) -> None:
    rendering = round_trip(items)

    assert rendering.payload == items
    assert rendering.omitted == ()


def test_reasoning_and_the_calls_it_led_to_are_one_assistant_message() -> None:
    messages = messages_from_responses(responses_reasoning_calls())

    assistant = messages[2]
    assert [m.role for m in messages] == [
        "developer",
        "user",
        "assistant",
        "tool",
        "tool",
        "assistant",
    ]
    assert assistant.reasoning == (
        ReasoningPart(
            provider="openai",
            id="rs_1",
            summary=("Two cities: two calls.",),
            encrypted_content="gAAAAABo-opaque",
        ),
    )
    assert [(c.id, c.item_id) for c in assistant.tool_calls] == [
        ("call_a", "fc_1"),
        ("call_b", "fc_2"),
    ]


def test_results_answer_their_calls_by_call_id() -> None:
    messages = messages_from_responses(responses_reasoning_calls())

    assert [m.tool_call_id for m in messages if m.role == "tool"] == ["call_a", "call_b"]


def test_an_output_message_keeps_its_item_id_and_status() -> None:
    answer = messages_from_responses(responses_reasoning_calls())[-1]

    assert answer.extra == {"id": "msg_1", "status": "completed"}
    assert answer.parts[0].extra["annotations"] != []


def test_a_response_output_of_sdk_objects_renders_as_its_items() -> None:
    output = [
        ResponseReasoningItem(
            type="reasoning", id="rs_9", summary=[], encrypted_content="enc", status=None
        ),
        ResponseOutputMessage(
            type="message",
            id="msg_9",
            role="assistant",
            status="completed",
            content=[ResponseOutputText(type="output_text", text="Checking.", annotations=[])],
        ),
        ResponseFunctionToolCall(
            type="function_call", id="fc_9", call_id="call_9", name="f", arguments="{}"
        ),
    ]

    (assistant,) = messages_from_responses(output)

    assert round_trip(output).payload == [
        {"type": "reasoning", "id": "rs_9", "summary": [], "encrypted_content": "enc"},
        {
            "type": "message",
            "id": "msg_9",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": "Checking.", "annotations": []}],
        },
        {
            "type": "function_call",
            "id": "fc_9",
            "call_id": "call_9",
            "name": "f",
            "arguments": "{}",
        },
    ]
    assert len(assistant.tool_calls) == 1


def test_a_message_after_a_function_call_starts_the_next_assistant_message() -> None:
    items: list[Any] = [
        {"type": "message", "role": "user", "content": "go"},
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
        {
            "type": "message",
            "id": "msg_3",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": "Then this.", "annotations": []}],
        },
        {"type": "function_call_output", "call_id": "c1", "output": "ok"},
    ]

    messages = messages_from_responses(items)

    assert [(m.role, len(m.tool_calls)) for m in messages] == [
        ("user", 0),
        ("assistant", 1),
        ("assistant", 0),
        ("tool", 0),
    ]
    assert round_trip(items).payload == items


def test_a_second_message_item_starts_the_next_assistant_message() -> None:
    items: list[Any] = [
        {"type": "message", "role": "user", "content": "go"},
        {"type": "message", "role": "assistant", "content": "One."},
        {"type": "message", "role": "assistant", "content": "Two."},
    ]

    assert [m.text for m in messages_from_responses(items)] == ["go", "One.", "Two."]
    assert round_trip(items).payload == items


def test_an_easy_message_says_its_type_when_rendered() -> None:
    items = [EasyInputMessageParam(role="user", content="hi")]

    assert round_trip(list(items)).payload == [{"type": "message", "role": "user", "content": "hi"}]


def test_reasoning_text_and_a_summary_of_several_parts_come_back() -> None:
    items: list[Any] = [
        {"type": "message", "role": "user", "content": "go"},
        {
            "type": "reasoning",
            "id": "rs_2",
            "summary": [
                {"type": "summary_text", "text": "First."},
                {"type": "summary_text", "text": "Second."},
            ],
            "content": [{"type": "reasoning_text", "text": "Raw thoughts."}],
            "status": "completed",
        },
        {"type": "message", "role": "assistant", "content": "Done."},
    ]

    messages = messages_from_responses(items)

    assert messages[1].reasoning[0].text == "Raw thoughts."
    assert round_trip(items).payload == items


def test_a_function_output_may_hold_an_image() -> None:
    items: list[Any] = [
        {"type": "message", "role": "user", "content": "draw"},
        {"type": "function_call", "call_id": "c1", "name": "draw", "arguments": "{}"},
        {
            "type": "function_call_output",
            "call_id": "c1",
            "output": [
                {"type": "input_text", "text": "Here."},
                {"type": "input_image", "image_url": "https://example.com/m.png"},
            ],
            "id": "fco_1",
            "status": "completed",
        },
    ]

    assert round_trip(items).payload == items


@pytest.mark.parametrize(
    ("items", "field"),
    [
        ([{"type": "web_search_call", "id": "ws_1"}], "0.type"),
        ([{"type": "function_call", "name": "f", "arguments": "{}"}], "0.call_id"),
        (
            [{"type": "message", "role": "user", "content": [{"type": "input_video"}]}],
            "0.content.0.type",
        ),
        ([{"type": "message", "role": "robot", "content": "hi"}], "0.role"),
        ("hello", "items"),
    ],
    ids=["unknown-item", "call-without-call-id", "unknown-part", "bad-role", "not-a-list"],
)
def test_items_no_request_would_take_are_refused_naming_the_item(items: Any, field: str) -> None:
    with pytest.raises(InvalidMessage) as raised:
        messages_from_responses(items)

    assert raised.value.field == field
