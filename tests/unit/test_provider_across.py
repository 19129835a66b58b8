"""Renderings for another provider than the one a message came from: what converts, what is
left out, and that each omission is listed."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from chatledger import (
    AttachmentUnavailable,
    Message,
    messages_from_anthropic,
    messages_from_responses,
)
from chatledger.domain import Attachment, FilePart, ImagePart, TextPart
from chatledger.projections.renderings import (
    Omission,
    Rendering,
    render_anthropic,
    render_openai,
    render_responses,
)
from tests.payloads import (
    IMAGE_URL,
    PDF,
    PNG,
    anthropic_media,
    anthropic_thinking_tools,
    assert_valid_anthropic,
    assert_valid_openai,
    assert_valid_responses,
    openai_audio,
    openai_images,
    openai_pdf,
    openai_refusal,
    responses_reasoning_calls,
)


def openai(payload: list[Any]) -> list[Message]:
    return [Message.from_openai(message) for message in payload]


def valid(rendering: Rendering[Any]) -> Rendering[Any]:
    """The rendering, once checked against its provider's SDK types."""
    if rendering.provider == "openai":
        assert_valid_openai(rendering.payload)
    elif rendering.provider == "responses":
        assert_valid_responses(rendering.payload)
    else:
        assert_valid_anthropic(dict(rendering.payload))
    return rendering


def omitted(rendering: Rendering[Any]) -> list[tuple[int, str, str]]:
    return [(o.position, o.field, o.kind) for o in rendering.omitted]


def test_anthropic_thinking_is_left_out_of_chat_completions_and_listed() -> None:
    messages = messages_from_anthropic(anthropic_thinking_tools())

    rendering = valid(render_openai(messages))

    assert rendering.payload[1]["content"] == [{"type": "text", "text": "Checking both."}]
    assert [o for o in omitted(rendering) if o[2] == "reasoning"] == [
        (1, "content.0", "reasoning"),
        (5, "content.0", "reasoning"),
    ]


def test_responses_reasoning_is_left_out_of_anthropic_and_listed() -> None:
    messages = messages_from_responses(responses_reasoning_calls())

    rendering = valid(render_anthropic(messages))

    assert rendering.payload["messages"][1]["content"][0]["type"] == "tool_use"
    assert (
        Omission(
            position=2,
            field="content.0",
            kind="reasoning",
            reason="reasoning openai signed for itself",
        )
        in rendering.omitted
    )


def test_anthropic_thinking_is_left_out_of_responses_but_its_calls_are_not() -> None:
    messages = messages_from_anthropic(anthropic_thinking_tools())

    rendering = valid(render_responses(messages))

    assert [item["type"] for item in rendering.payload[1:4]] == [
        "message",
        "function_call",
        "function_call",
    ]
    assert (1, "content.0", "reasoning") in omitted(rendering)


def test_chat_images_become_anthropic_image_sources() -> None:
    rendering = valid(render_anthropic(openai(openai_images())))

    assert rendering.payload["messages"][0]["content"][1:] == [
        {"type": "image", "source": {"type": "url", "url": IMAGE_URL}},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
    ]
    assert omitted(rendering) == [(0, "content.1.detail", "detail")]


def test_anthropic_images_become_responses_input_images() -> None:
    rendering = valid(render_responses(messages_from_anthropic(anthropic_media())))

    assert rendering.payload[0]["content"][:2] == [
        {"type": "input_image", "image_url": f"data:image/png;base64,{PNG}", "detail": "auto"},
        {"type": "input_image", "image_url": IMAGE_URL, "detail": "auto"},
    ]


def test_a_chat_pdf_becomes_an_anthropic_document_titled_by_its_file_name() -> None:
    rendering = valid(render_anthropic(openai(openai_pdf())))

    assert rendering.payload["messages"][0]["content"][0] == {
        "type": "document",
        "source": {"type": "base64", "media_type": "application/pdf", "data": PDF},
        "title": "a.pdf",
    }


def test_an_anthropic_pdf_becomes_a_chat_file_and_its_title_is_listed() -> None:
    rendering = valid(render_openai(messages_from_anthropic(anthropic_media())))

    assert rendering.payload[0]["content"][2] == {
        "type": "file",
        "file": {"file_data": f"data:application/pdf;base64,{PDF}"},
    }
    assert (0, "content.2.extra.title", "extra") in omitted(rendering)


def test_a_text_document_goes_to_openai_as_text_and_says_so() -> None:
    messages = messages_from_anthropic(anthropic_media())

    for rendering in (valid(render_openai(messages)), valid(render_responses(messages))):
        assert (0, "content.3", "file") in omitted(rendering)
        assert "Lisbon: 21 °C." in str(rendering.payload[0]["content"][3])


def test_audio_is_left_out_of_anthropic_and_listed() -> None:
    rendering = valid(render_anthropic(openai(openai_audio())))

    assert rendering.payload["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "(continuing the conversation)"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "You said hello."}]},
    ]
    assert omitted(rendering) == [(0, "content.0", "audio")]


def test_a_refusal_goes_to_anthropic_as_text_and_says_so() -> None:
    rendering = valid(render_anthropic(openai(openai_refusal())))

    assert rendering.payload["messages"][1] == {
        "role": "assistant",
        "content": [{"type": "text", "text": "I can't help with that."}],
    }
    assert rendering.omitted[0].reason == "sent as text: Anthropic has no refusal block"


def test_a_chat_refusal_goes_to_responses_as_assistant_text() -> None:
    rendering = valid(render_responses(openai(openai_refusal())))

    assert rendering.payload[1] == {
        "type": "message",
        "role": "assistant",
        "content": "I can't help with that.",
    }
    assert omitted(rendering) == [(1, "content.0", "refusal")]


def test_a_responses_refusal_goes_to_chat_completions_as_a_refusal() -> None:
    messages = messages_from_responses(
        [
            {"type": "message", "role": "user", "content": "Pick a lock."},
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "refusal", "refusal": "No."}],
            },
        ]
    )

    rendering = valid(render_openai(messages))

    assert rendering.payload[1] == {"role": "assistant", "content": None, "refusal": "No."}


def test_developer_is_developer_for_openai_and_system_text_for_anthropic() -> None:
    developer = Message(role="developer", content=(TextPart(text="Be"), TextPart(text="brief.")))
    messages = [developer, Message(role="user", content="hi")]

    assert valid(render_openai(messages)).payload[0]["role"] == "developer"
    assert valid(render_responses(messages)).payload[0]["role"] == "developer"
    assert valid(render_anthropic(messages)).payload["system"] == "Be\nbrief."


def test_anthropic_cache_controls_stay_behind_and_are_listed() -> None:
    messages = messages_from_anthropic(anthropic_thinking_tools())

    rendering = valid(render_openai(messages))

    assert (1, "tool_calls.1.extra.cache_control", "extra") in omitted(rendering)
    assert "cache_control" not in str(rendering.payload)


def test_responses_item_ids_stay_behind_and_are_listed() -> None:
    rendering = valid(render_openai(messages_from_responses(responses_reasoning_calls())))

    assert {"tool_calls.0.item_id", "tool_calls.1.item_id", "extra.id"} <= {
        o.field for o in rendering.omitted
    }
    assert "fc_1" not in str(rendering.payload)


def test_a_file_id_goes_only_to_the_provider_that_issued_it() -> None:
    (message,) = openai(
        [{"role": "user", "content": [{"type": "file", "file": {"file_id": "file-1"}}]}]
    )

    assert valid(render_responses([message])).payload[0]["content"] == [
        {"type": "input_file", "file_id": "file-1"}
    ]
    anthropic = render_anthropic([message])
    assert anthropic.payload["messages"] == []
    assert omitted(anthropic) == [(0, "content.0", "file")]


def test_a_name_has_no_place_in_responses_or_anthropic_and_is_listed() -> None:
    messages = [Message(role="user", content="hi", name="ana")]

    for rendering in (render_responses(messages), render_anthropic(messages)):
        assert omitted(rendering) == [(0, "name", "name")]


def attached(data: str) -> ImagePart:
    digest = hashlib.sha256(data.encode("ascii")).hexdigest()
    return ImagePart(attachment=Attachment(digest=digest, media_type="image/png", size=70))


@pytest.mark.parametrize("render", [render_openai, render_responses, render_anthropic])
def test_an_attachment_without_a_resolver_raises_naming_its_position(render: Any) -> None:
    messages = [Message(role="user", content=(TextPart(text="look"), attached(PNG)))]

    with pytest.raises(AttachmentUnavailable) as raised:
        render(messages, positions=[7])

    assert (raised.value.position, raised.value.field) == (7, "content.1")


def test_an_attachment_is_inlined_through_the_resolver() -> None:
    part = attached(PNG)
    assert part.attachment is not None
    stored = {part.attachment.digest: PNG}
    messages = [Message(role="user", content=(part,))]

    rendering = valid(render_anthropic(messages, resolve=stored.__getitem__))

    assert rendering.payload["messages"][0]["content"] == [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}
    ]


def test_a_pdf_attachment_goes_to_chat_as_a_data_url_through_the_resolver() -> None:
    digest = hashlib.sha256(b"pdf").hexdigest()
    pdf = FilePart(attachment=Attachment(digest=digest, media_type="application/pdf", size=3))
    messages = [Message(role="user", content=(pdf,))]

    rendering = valid(render_openai(messages, resolve={digest: PDF}.__getitem__))

    assert rendering.payload[0]["content"] == [
        {"type": "file", "file": {"file_data": f"data:application/pdf;base64,{PDF}"}}
    ]
