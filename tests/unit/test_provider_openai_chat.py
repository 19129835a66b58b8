"""Chat Completions messages imported and rendered back: what went in comes out."""

from __future__ import annotations

from typing import Any

import pytest
from openai.types.chat import (
    ChatCompletionAssistantMessageParam,
    ChatCompletionMessage,
    ChatCompletionMessageParam,
    ChatCompletionSystemMessageParam,
    ChatCompletionUserMessageParam,
)

from chatledger import InvalidMessage, Message
from chatledger.domain import AudioPart, FilePart, ImagePart, RefusalPart, TextPart
from chatledger.projections.renderings import Rendering, render_openai
from tests.payloads import (
    PDF,
    PNG,
    assert_valid_openai,
    openai_audio,
    openai_images,
    openai_parallel_calls,
    openai_pdf,
    openai_refusal,
)


def round_trip(
    payload: list[ChatCompletionMessageParam] | list[Any], *, sdk_types: bool = True
) -> Rendering[Any]:
    """Import each message, store-and-read its fields, render again, validated as the SDK's."""
    messages = [Message.from_openai(message) for message in payload]
    stored = [Message.parse(message.stored_form()) for message in messages]
    assert stored == messages
    rendering = render_openai(messages)
    if sdk_types:
        assert_valid_openai(rendering.payload)
    return rendering


@pytest.mark.parametrize(
    "payload",
    [openai_parallel_calls(), openai_images(), openai_pdf(), openai_refusal(), openai_audio()],
    ids=["parallel-calls", "images", "pdf", "refusal", "audio"],
)
def test_a_conversation_renders_back_exactly_as_it_was_imported(payload: list[Any]) -> None:
    rendering = round_trip(payload)

    assert rendering.payload == payload
    assert rendering.omitted == ()


def test_parallel_calls_keep_their_ids_and_raw_arguments() -> None:
    assistant = Message.from_openai(openai_parallel_calls()[2])

    assert [(c.id, c.arguments) for c in assistant.tool_calls] == [
        ("call_0", '{"city": "Lisbon"}'),
        ("call_1", '{"city":"Porto"}'),
    ]
    assert assistant.format == "openai"


def test_a_data_url_image_is_held_as_base64_with_its_media_type() -> None:
    user = Message.from_openai(openai_images()[0])

    assert user.parts[1:] == (
        ImagePart(url="https://example.com/lisbon.png", detail="low"),
        ImagePart(data=PNG, media_type="image/png"),
    )


def test_a_pdf_is_held_as_a_file_part_with_its_name() -> None:
    user = Message.from_openai(openai_pdf()[0])

    assert user.parts[0] == FilePart(data=PDF, media_type="application/pdf", filename="a.pdf")


def test_a_refusal_is_a_refusal_part() -> None:
    assistant = Message.from_openai(openai_refusal()[1])

    assert assistant.parts == (RefusalPart(refusal="I can't help with that."),)


def test_audio_is_an_audio_part_with_its_format() -> None:
    user = Message.from_openai(openai_audio()[0])

    assert isinstance(user.parts[0], AudioPart)
    assert user.parts[0].format == "wav"


def test_text_content_and_a_list_of_text_parts_stay_apart() -> None:
    payload = [
        ChatCompletionSystemMessageParam(role="system", content=[{"type": "text", "text": "Be"}]),
        ChatCompletionUserMessageParam(role="user", content="hi"),
    ]

    messages = [Message.from_openai(message) for message in payload]

    assert messages[0].content == (TextPart(text="Be"),)
    assert messages[1].content == "hi"
    assert round_trip(payload).payload == payload


def test_fields_chatledger_does_not_model_are_kept_and_come_back() -> None:
    breakpoint = {"mode": "explicit", "ttl": "30m"}
    part = {"type": "text", "text": "a", "prompt_cache_breakpoint": breakpoint}
    payload: list[Any] = [{"role": "user", "content": [part]}]

    message = Message.from_openai(payload[0])

    assert message.parts[0].extra == {"prompt_cache_breakpoint": breakpoint}
    assert round_trip(payload).payload == payload


def test_fields_of_next_month_are_kept_and_come_back() -> None:
    payload: list[Any] = [{"role": "user", "content": "hi", "x_trace": {"id": 7}}]

    assert Message.from_openai(payload[0]).extra == {"x_trace": {"id": 7}}
    assert round_trip(payload, sdk_types=False).payload == payload


def test_a_custom_tool_call_comes_back_as_a_custom_call() -> None:
    payload: list[Any] = [
        {"role": "user", "content": "run"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "call_c", "type": "custom", "custom": {"name": "sh", "input": "ls -la"}}
            ],
        },
        {"role": "tool", "tool_call_id": "call_c", "content": "a b"},
    ]

    assert Message.from_openai(payload[1]).tool_calls[0].arguments == "ls -la"
    assert round_trip(payload).payload == payload


def test_a_response_message_renders_as_the_request_message_it_stands_for() -> None:
    response = ChatCompletionMessage.model_validate(
        {
            "role": "assistant",
            "content": "See the source.",
            "refusal": None,
            "annotations": [
                {
                    "type": "url_citation",
                    "url_citation": {
                        "url": "https://e.com",
                        "title": "E",
                        "start_index": 0,
                        "end_index": 3,
                    },
                }
            ],
            "audio": None,
            "function_call": None,
            "tool_calls": None,
        }
    )

    rendering = round_trip([response])

    assert rendering.payload == [{"role": "assistant", "content": "See the source."}]
    assert [(o.field, o.reason) for o in rendering.omitted] == [
        ("extra.annotations", "a response field no request takes")
    ]


def test_a_response_audio_is_named_by_its_id_alone() -> None:
    response = ChatCompletionMessage.model_validate(
        {
            "role": "assistant",
            "content": None,
            "audio": {"id": "audio_1", "data": "UklG", "expires_at": 1, "transcript": "Hi"},
        }
    )

    rendering = round_trip([response])

    assert rendering.payload == [{"role": "assistant", "content": None, "audio": {"id": "audio_1"}}]
    assert {o.field for o in rendering.omitted} == {
        "extra.audio.data",
        "extra.audio.expires_at",
        "extra.audio.transcript",
    }


def test_text_beside_a_refusal_comes_back_as_text() -> None:
    payload = [
        ChatCompletionUserMessageParam(role="user", content="Why?"),
        ChatCompletionAssistantMessageParam(role="assistant", content="Well.", refusal="No."),
    ]

    assert round_trip(payload).payload == payload


def test_a_field_sent_as_null_comes_back_absent() -> None:
    payload: list[Any] = [{"role": "user", "content": "hi", "name": None}]

    assert round_trip(payload).payload == [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize(
    ("message", "field"),
    [
        ({"role": "function", "content": "x", "name": "f"}, "role"),
        ({"role": "user", "content": [{"type": "video", "url": "v"}]}, "content.0.type"),
        ({"role": "user", "content": [{"type": "image_url"}]}, "content.0.image_url"),
        ({"role": "user", "content": [{"type": "refusal", "refusal": "no"}]}, "content.0.type"),
        (
            {"role": "assistant", "tool_calls": [{"type": "function", "function": {}}]},
            "tool_calls.0.id",
        ),
        ("hello", "message"),
    ],
    ids=[
        "function-role",
        "unknown-part",
        "image-without-url",
        "user-refusal",
        "call-without-id",
        "not-an-object",
    ],
)
def test_a_message_no_provider_would_send_is_refused_naming_the_field(
    message: Any, field: str
) -> None:
    with pytest.raises(InvalidMessage) as raised:
        Message.from_openai(message)

    assert raised.value.field == field
