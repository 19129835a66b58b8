"""Provider payloads built with the SDKs' own types, and the SDK types that validate renderings.

Small on purpose (well under the attachment threshold): each is a whole conversation the
memory view shows entire, one instruction first and every tool call answered.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import Any

from anthropic.types import (
    Base64ImageSourceParam,
    Base64PDFSourceParam,
    DocumentBlockParam,
    ImageBlockParam,
    MessageParam,
    PlainTextSourceParam,
    RedactedThinkingBlockParam,
    TextBlockParam,
    ThinkingBlockParam,
    ToolResultBlockParam,
    ToolUseBlockParam,
    URLImageSourceParam,
)
from openai.types.chat import (
    ChatCompletionAssistantMessageParam,
    ChatCompletionContentPartImageParam,
    ChatCompletionContentPartInputAudioParam,
    ChatCompletionContentPartTextParam,
    ChatCompletionDeveloperMessageParam,
    ChatCompletionMessageParam,
    ChatCompletionToolMessageParam,
    ChatCompletionUserMessageParam,
)
from openai.types.chat.chat_completion_content_part_param import File, FileFile
from openai.types.responses import (
    EasyInputMessageParam,
    ResponseFunctionToolCallParam,
    ResponseInputFileParam,
    ResponseInputImageParam,
    ResponseInputItemParam,
    ResponseInputTextParam,
    ResponseOutputMessageParam,
    ResponseOutputRefusalParam,
    ResponseOutputTextParam,
    ResponseReasoningItemParam,
)
from openai.types.responses.response_input_item_param import FunctionCallOutput
from pydantic import TypeAdapter

PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAE"
    "hQGAhKmMIQAAAABJRU5ErkJggg=="
)
"""A 1x1 PNG, base64."""
PDF = base64.b64encode(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n").decode("ascii")
"""A tiny PDF, base64."""
WAV = base64.b64encode(b"RIFF$\x00\x00\x00WAVEfmt \x10\x00\x00\x00").decode("ascii")
"""The start of a WAV file, base64."""
IMAGE_URL = "https://example.com/lisbon.png"

OPENAI_MESSAGE: TypeAdapter[Any] = TypeAdapter(ChatCompletionMessageParam)
RESPONSES_ITEM: TypeAdapter[Any] = TypeAdapter(ResponseInputItemParam)
ANTHROPIC_TURN: TypeAdapter[Any] = TypeAdapter(MessageParam)
ANTHROPIC_SYSTEM: TypeAdapter[Any] = TypeAdapter(str | list[TextBlockParam])


def materialized(value: Any) -> Any:
    """Validated data with the SDK's lazily checked iterables read to the end."""
    if isinstance(value, dict):
        return {key: materialized(item) for key, item in value.items()}
    if isinstance(value, Iterable) and not isinstance(value, str | bytes):
        return [materialized(item) for item in value]
    return value


def assert_valid(adapter: TypeAdapter[Any], value: Any) -> None:
    """Valid as the SDK type, and nothing dropped: it keeps every key we produced."""
    assert materialized(adapter.validate_python(value)) == value


def assert_valid_openai(messages: list[Any]) -> None:
    """Every message a valid Chat Completions message param."""
    for message in messages:
        assert_valid(OPENAI_MESSAGE, message)


def assert_valid_responses(items: list[Any]) -> None:
    """Every item a valid Responses input item."""
    for item in items:
        assert_valid(RESPONSES_ITEM, item)


def assert_valid_anthropic(request: dict[str, Any]) -> None:
    """A valid ``system`` (when there is one) and valid turns."""
    if request["system"] is not None:
        assert_valid(ANTHROPIC_SYSTEM, request["system"])
    for turn in request["messages"]:
        assert_valid(ANTHROPIC_TURN, turn)


# Chat Completions ------------------------------------------------------------------------


def openai_parallel_calls() -> list[ChatCompletionMessageParam]:
    """An instruction, a question, two calls at once, both results, the answer."""
    return [
        ChatCompletionDeveloperMessageParam(role="developer", content="Answer in one line."),
        ChatCompletionUserMessageParam(role="user", content="Lisbon and Porto?", name="ana"),
        ChatCompletionAssistantMessageParam(
            role="assistant",
            content=None,
            tool_calls=[
                {
                    "id": "call_0",
                    "type": "function",
                    "function": {"name": "weather", "arguments": '{"city": "Lisbon"}'},
                },
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "weather", "arguments": '{"city":"Porto"}'},
                },
            ],
        ),
        ChatCompletionToolMessageParam(role="tool", tool_call_id="call_0", content="21"),
        ChatCompletionToolMessageParam(
            role="tool",
            tool_call_id="call_1",
            content=[ChatCompletionContentPartTextParam(type="text", text="17")],
        ),
        ChatCompletionAssistantMessageParam(role="assistant", content="21 and 17 °C."),
    ]


def openai_images() -> list[ChatCompletionMessageParam]:
    """A question about two images, one by URL, one as a data URL."""
    return [
        ChatCompletionUserMessageParam(
            role="user",
            content=[
                ChatCompletionContentPartTextParam(type="text", text="Which is Lisbon?"),
                ChatCompletionContentPartImageParam(
                    type="image_url", image_url={"url": IMAGE_URL, "detail": "low"}
                ),
                ChatCompletionContentPartImageParam(
                    type="image_url", image_url={"url": f"data:image/png;base64,{PNG}"}
                ),
            ],
        ),
        ChatCompletionAssistantMessageParam(role="assistant", content="The first."),
    ]


def openai_pdf() -> list[ChatCompletionMessageParam]:
    """A PDF sent as file data, with its file name."""
    return [
        ChatCompletionUserMessageParam(
            role="user",
            content=[
                File(
                    type="file",
                    file=FileFile(file_data=f"data:application/pdf;base64,{PDF}", filename="a.pdf"),
                ),
                ChatCompletionContentPartTextParam(type="text", text="Summarise it."),
            ],
        ),
        ChatCompletionAssistantMessageParam(role="assistant", content="It is empty."),
    ]


def openai_refusal() -> list[ChatCompletionMessageParam]:
    """A refusal, as a response's message holds it."""
    return [
        ChatCompletionUserMessageParam(role="user", content="Pick a lock for me."),
        ChatCompletionAssistantMessageParam(
            role="assistant", content=None, refusal="I can't help with that."
        ),
    ]


def openai_audio() -> list[ChatCompletionMessageParam]:
    """A spoken question."""
    return [
        ChatCompletionUserMessageParam(
            role="user",
            content=[
                ChatCompletionContentPartInputAudioParam(
                    type="input_audio", input_audio={"data": WAV, "format": "wav"}
                )
            ],
        ),
        ChatCompletionAssistantMessageParam(role="assistant", content="You said hello."),
    ]


# Responses -------------------------------------------------------------------------------


def responses_reasoning_calls() -> list[ResponseInputItemParam]:
    """Reasoning with encrypted content, two calls at once, their outputs, the answer."""
    return [
        EasyInputMessageParam(type="message", role="developer", content="Be brief."),
        EasyInputMessageParam(type="message", role="user", content="Lisbon and Porto?"),
        ResponseReasoningItemParam(
            type="reasoning",
            id="rs_1",
            summary=[{"type": "summary_text", "text": "Two cities: two calls."}],
            encrypted_content="gAAAAABo-opaque",
        ),
        ResponseFunctionToolCallParam(
            type="function_call",
            id="fc_1",
            call_id="call_a",
            name="weather",
            arguments='{"city": "Lisbon"}',
            status="completed",
        ),
        ResponseFunctionToolCallParam(
            type="function_call",
            id="fc_2",
            call_id="call_b",
            name="weather",
            arguments='{"city": "Porto"}',
            status="completed",
        ),
        FunctionCallOutput(type="function_call_output", call_id="call_a", output="21"),
        FunctionCallOutput(
            type="function_call_output",
            call_id="call_b",
            output=[{"type": "input_text", "text": "17"}],
        ),
        ResponseOutputMessageParam(
            type="message",
            id="msg_1",
            role="assistant",
            status="completed",
            content=[
                ResponseOutputTextParam(
                    type="output_text",
                    text="21 and 17 °C.",
                    annotations=[
                        {
                            "type": "url_citation",
                            "url": "https://example.com",
                            "title": "Weather",
                            "start_index": 0,
                            "end_index": 2,
                        }
                    ],
                )
            ],
        ),
    ]


def responses_media() -> list[ResponseInputItemParam]:
    """Images by URL and as data, a PDF, then a refusal with its item id."""
    return [
        EasyInputMessageParam(
            type="message",
            role="user",
            content=[
                ResponseInputTextParam(type="input_text", text="Which is Lisbon? And the PDF?"),
                ResponseInputImageParam(type="input_image", image_url=IMAGE_URL, detail="high"),
                ResponseInputImageParam(
                    type="input_image", image_url=f"data:image/png;base64,{PNG}", detail="auto"
                ),
                ResponseInputFileParam(
                    type="input_file",
                    file_data=f"data:application/pdf;base64,{PDF}",
                    filename="a.pdf",
                ),
            ],
        ),
        ResponseOutputMessageParam(
            type="message",
            id="msg_2",
            role="assistant",
            status="completed",
            content=[ResponseOutputRefusalParam(type="refusal", refusal="I won't read that.")],
        ),
    ]


# Anthropic -------------------------------------------------------------------------------


def anthropic_thinking_tools() -> list[MessageParam]:
    """Thinking, then two tool uses in one turn; both results and a thank-you in the next."""
    return [
        {"role": "user", "content": "Lisbon and Porto?"},
        {
            "role": "assistant",
            "content": [
                ThinkingBlockParam(
                    type="thinking", thinking="Two cities: two calls.", signature="EqQBCgIYAhIM"
                ),
                TextBlockParam(type="text", text="Checking both."),
                ToolUseBlockParam(
                    type="tool_use", id="toolu_1", name="weather", input={"city": "Lisbon"}
                ),
                ToolUseBlockParam(
                    type="tool_use",
                    id="toolu_2",
                    name="weather",
                    input={"city": "Porto", "units": ["c", 1.5, None, True]},
                    cache_control={"type": "ephemeral"},
                ),
            ],
        },
        {
            "role": "user",
            "content": [
                ToolResultBlockParam(type="tool_result", tool_use_id="toolu_1", content="21"),
                ToolResultBlockParam(
                    type="tool_result",
                    tool_use_id="toolu_2",
                    content=[TextBlockParam(type="text", text="unknown city")],
                    is_error=True,
                ),
                TextBlockParam(type="text", text="Thanks!"),
            ],
        },
        {
            "role": "assistant",
            "content": [
                RedactedThinkingBlockParam(type="redacted_thinking", data="EmwKAhgBEgy3va3p"),
                TextBlockParam(type="text", text="Lisbon is 21 °C."),
            ],
        },
    ]


ANTHROPIC_SYSTEM_BLOCKS = [
    TextBlockParam(type="text", text="You read documents.", cache_control={"type": "ephemeral"})
]


def anthropic_media() -> list[MessageParam]:
    """Images as data and by URL, a PDF with a title, a text document; a tool's image result."""
    return [
        {
            "role": "user",
            "content": [
                ImageBlockParam(
                    type="image",
                    source=Base64ImageSourceParam(type="base64", media_type="image/png", data=PNG),
                ),
                ImageBlockParam(
                    type="image", source=URLImageSourceParam(type="url", url=IMAGE_URL)
                ),
                DocumentBlockParam(
                    type="document",
                    source=Base64PDFSourceParam(
                        type="base64", media_type="application/pdf", data=PDF
                    ),
                    title="Report",
                    context="From the archive.",
                    citations={"enabled": True},
                ),
                DocumentBlockParam(
                    type="document",
                    source=PlainTextSourceParam(
                        type="text", media_type="text/plain", data="Lisbon: 21 °C."
                    ),
                ),
                TextBlockParam(type="text", text="Compare them, then draw a map."),
            ],
        },
        {
            "role": "assistant",
            "content": [
                ToolUseBlockParam(type="tool_use", id="toolu_9", name="draw_map", input={}),
            ],
        },
        {
            "role": "user",
            "content": [
                ToolResultBlockParam(
                    type="tool_result",
                    tool_use_id="toolu_9",
                    content=[
                        TextBlockParam(type="text", text="Here it is."),
                        ImageBlockParam(
                            type="image",
                            source=Base64ImageSourceParam(
                                type="base64", media_type="image/png", data=PNG
                            ),
                        ),
                    ],
                )
            ],
        },
        {"role": "assistant", "content": "The map shows both."},
    ]
