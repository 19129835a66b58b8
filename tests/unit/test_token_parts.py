"""Parts cost what the request that next carries them pays: text, files, audio, reasoning."""

from __future__ import annotations

import base64
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from chatledger.domain import (
    Attachment,
    AudioPart,
    FilePart,
    Message,
    Part,
    ReasoningPart,
    RefusalPart,
    Role,
    TextPart,
    TokenCounter,
    ToolCall,
)
from chatledger.infrastructure.tokens import AnthropicCounter, DeferredCounter, TiktokenCounter

CALL = ToolCall(id="call_1", name="get_weather", arguments='{"city": "Lisbon"}')
SECRET = "gAAAAABpF" + "q9Zx3kLmN0pQ" * 40  # the shape of Responses' encrypted_content
OPENAI_REASONING = ReasoningPart(
    provider="openai", id="rs_1", summary=("Looking up the weather.",), encrypted_content=SECRET
)
THOUGHT = "The user wants Lisbon's weather: call the tool."
THINKING = ReasoningPart(provider="anthropic", text=THOUGHT, signature="c2ln")
OPAQUE = "EmwKAhgBEgy" * 30
REDACTED = ReasoningPart(provider="anthropic", redacted=True, data=OPAQUE)
PAGE = 3000  # a page's text, before its image


@pytest.fixture(scope="module")
def openai() -> TiktokenCounter:
    return TiktokenCounter()


@pytest.fixture(scope="module")
def anthropic() -> AnthropicCounter:
    return AnthropicCounter()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def cost(counter: TokenCounter, *parts: Part, role: Role = "user", calls: bool = False) -> int:
    """What ``parts`` add to the same message without them."""
    tool_calls = (CALL,) if calls else ()
    bare = Message(role=role, tool_calls=tool_calls)
    full = Message(role=role, content=parts, tool_calls=tool_calls)
    return counter.count(full) - counter.count(bare)


def pdf(pages: int) -> bytes:
    """A real PDF of ``pages`` pages, made by Pillow."""
    out = io.BytesIO()
    images = [Image.new("L", (200, 300)) for _ in range(pages)]
    images[0].save(out, format="PDF", save_all=True, append_images=images[1:])
    return out.getvalue()


def test_a_text_part_costs_what_the_same_text_content_costs(openai: TiktokenCounter) -> None:
    as_text = openai.count(Message(role="user", content="Lisbon in June?"))

    as_part = openai.count(Message(role="user", content=(TextPart(text="Lisbon in June?"),)))

    assert as_part == as_text


def test_each_text_part_counts_its_own_text(openai: TiktokenCounter) -> None:
    parts = (TextPart(text="Lisbon in June?"), TextPart(text="And in July?"))

    assert cost(openai, *parts) == sum(openai.encode_length(part.text) for part in parts)


def test_a_refusal_counts_its_text(openai: TiktokenCounter) -> None:
    refusal = RefusalPart(refusal="I can't help with that.")

    assert cost(openai, refusal, role="assistant") == openai.encode_length(refusal.refusal)


def test_a_text_document_counts_its_text(openai: TiktokenCounter) -> None:
    document = FilePart(text="Terms and conditions apply.", filename="terms.txt")

    assert cost(openai, document) == openai.encode_length("Terms and conditions apply.")


@pytest.mark.parametrize("media_type", ["text/plain", "text/markdown", "application/json"])
def test_bytes_of_a_text_type_count_as_their_text(openai: TiktokenCounter, media_type: str) -> None:
    text = '{"note": "Bring a jacket — it is windy."}'
    document = FilePart(data=b64(text.encode()), media_type=media_type)

    assert cost(openai, document) == openai.encode_length(text)


def test_a_pdf_counts_a_pages_text_and_image_for_each_page(openai: TiktokenCounter) -> None:
    document = FilePart(data=b64(pdf(3)), media_type="application/pdf", filename="a.pdf")

    assert cost(openai, document) == 3 * (PAGE + 1445)


def test_anthropic_counts_a_pdf_page_image_at_its_most(anthropic: AnthropicCounter) -> None:
    document = FilePart(data=b64(pdf(2)), media_type="application/pdf")

    assert cost(anthropic, document) == 2 * (PAGE + 1600)


def test_a_pdf_whose_pages_cannot_be_seen_counts_4_bytes_a_token(openai: TiktokenCounter) -> None:
    data = b"%PDF-1.7\n" + bytes(range(256)) * 40  # its objects in compressed streams
    document = FilePart(data=b64(data), media_type="application/pdf")

    assert cost(openai, document) == -(-len(data) // 4)


def test_an_attached_document_counts_4_bytes_a_token(openai: TiktokenCounter) -> None:
    stored_apart = Attachment(digest="a" * 64, media_type="application/pdf", size=40_001)

    assert cost(openai, FilePart(attachment=stored_apart)) == 10_001


def test_no_document_counts_past_the_100_pages_a_pdf_may_have(openai: TiktokenCounter) -> None:
    huge = Attachment(digest="b" * 64, media_type="application/zip", size=20 * 1024 * 1024)

    assert cost(openai, FilePart(attachment=huge)) == 100 * (PAGE + 1445)


def test_a_document_by_file_id_counts_one_page(openai: TiktokenCounter) -> None:
    assert cost(openai, FilePart(file_id="file-abc123")) == PAGE + 1445


@pytest.mark.parametrize("counter", [TiktokenCounter, AnthropicCounter])
def test_audio_costs_nothing(counter: type[TiktokenCounter | AnthropicCounter]) -> None:
    audio = AudioPart(data=b64(b"RIFF....WAVEfmt "), format="wav")

    assert cost(counter(), audio) == 0


def test_openai_reasoning_with_tool_calls_counts_its_encrypted_content(
    openai: TiktokenCounter,
) -> None:
    tokens = cost(openai, OPENAI_REASONING, role="assistant", calls=True)

    assert tokens == openai.encode_length(SECRET)


def test_openai_reasoning_of_a_finished_turn_costs_nothing_on_the_next(
    openai: TiktokenCounter,
) -> None:
    assert cost(openai, OPENAI_REASONING, TextPart(text="Sunny."), role="assistant") == (
        openai.encode_length("Sunny.")
    )


def test_openai_reasoning_without_encrypted_content_counts_its_summary(
    openai: TiktokenCounter,
) -> None:
    stored = ReasoningPart(provider="openai", id="rs_2", summary=("Checking.", "Calling."))

    tokens = cost(openai, stored, role="assistant", calls=True)

    assert tokens == openai.encode_length("Checking.\nCalling.")


def test_anthropic_thinking_costs_nothing_in_an_openai_request(openai: TiktokenCounter) -> None:
    assert cost(openai, THINKING, role="assistant", calls=True) == 0


def test_anthropic_thinking_counts_its_text_on_every_turn(anthropic: AnthropicCounter) -> None:
    assert cost(anthropic, THINKING, role="assistant") == anthropic.encode_length(THOUGHT)


def test_anthropic_redacted_thinking_counts_its_data(anthropic: AnthropicCounter) -> None:
    assert cost(anthropic, REDACTED, role="assistant") == anthropic.encode_length(OPAQUE)


def test_openai_reasoning_costs_nothing_in_an_anthropic_request(
    anthropic: AnthropicCounter,
) -> None:
    assert cost(anthropic, OPENAI_REASONING, role="assistant", calls=True) == 0


def test_the_anthropic_counter_names_its_approximation_and_encoding() -> None:
    assert AnthropicCounter(encoding="cl100k_base").name == "approx-anthropic:cl100k_base"


def test_anthropic_text_is_approximated_with_the_tiktoken_encoding(
    openai: TiktokenCounter, anthropic: AnthropicCounter
) -> None:
    message = Message(role="assistant", content="Sunny.", tool_calls=(CALL,))

    assert anthropic.count(message) == openai.count(message)


def test_a_deferred_anthropic_counter_is_named_and_counts_as_the_counter_it_loads(
    anthropic: AnthropicCounter,
) -> None:
    deferred = DeferredCounter(provider="anthropic")
    message = Message(role="assistant", content=(THINKING, TextPart(text="Calling.")))

    assert (deferred.name, deferred.count(message)) == (anthropic.name, anthropic.count(message))


def test_the_anthropic_counter_takes_no_model() -> None:
    with pytest.raises(ValueError, match="encoding="):
        DeferredCounter(model="claude-sonnet-4-5", provider="anthropic")


PARTS = st.sampled_from(
    [
        TextPart(text="Lisbon in June?"),
        RefusalPart(refusal="No."),
        FilePart(text="Terms."),
        FilePart(file_id="file-abc"),
        AudioPart(data=b64(b"ID3"), format="mp3"),
        OPENAI_REASONING,
        THINKING,
        REDACTED,
    ]
)


@given(parts=st.lists(PARTS, max_size=6))
def test_a_messages_parts_cost_the_sum_of_what_each_costs_alone(parts: list[Part]) -> None:
    counter = TiktokenCounter()

    together = cost(counter, *parts, role="assistant", calls=True)

    alone = sum(cost(counter, part, role="assistant", calls=True) for part in parts)
    assert together == alone
