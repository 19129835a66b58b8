"""Provider payloads recorded on every backend and read back render as they were sent.

Each conversation is imported, recorded as one atomic save, and read back as the memory view
of a window that holds it all -- from a freshly opened ledger where the store outlives it --
then rendered for its own provider: the same payload, nothing omitted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from chatledger import (
    AttachmentUnavailable,
    ChatLedger,
    Limits,
    MemoryView,
    Message,
    TokenWindow,
    messages_from_anthropic,
    messages_from_responses,
)
from chatledger.domain import Format
from chatledger.domain.attachments import attachments_of
from tests.fakes import FakeTokenCounter
from tests.payloads import (
    ANTHROPIC_SYSTEM_BLOCKS,
    anthropic_media,
    anthropic_thinking_tools,
    assert_valid_anthropic,
    assert_valid_openai,
    assert_valid_responses,
    openai_audio,
    openai_images,
    openai_parallel_calls,
    openai_pdf,
    openai_refusal,
    responses_media,
    responses_reasoning_calls,
)

WHOLE = TokenWindow(max_tokens=10**9)


def openai_conversation() -> tuple[list[Any], list[Message]]:
    sent: list[Any] = [
        *openai_parallel_calls(),
        *openai_images(),
        *openai_pdf(),
        *openai_refusal(),
        *openai_audio(),
    ]
    return sent, [Message.from_openai(message) for message in sent]


def responses_conversation() -> tuple[list[Any], list[Message]]:
    sent: list[Any] = [*responses_reasoning_calls(), *responses_media()]
    return sent, messages_from_responses(sent)


def anthropic_conversation() -> tuple[dict[str, Any], list[Message]]:
    turns = [*anthropic_thinking_tools(), *anthropic_media()]
    sent = {"system": ANTHROPIC_SYSTEM_BLOCKS, "messages": turns}
    return sent, messages_from_anthropic(turns, system=ANTHROPIC_SYSTEM_BLOCKS)


CONVERSATIONS: dict[Format, Callable[[], tuple[Any, list[Message]]]] = {
    "openai": openai_conversation,
    "responses": responses_conversation,
    "anthropic": anthropic_conversation,
}
VALID: dict[Format, Callable[[Any], None]] = {
    "openai": assert_valid_openai,
    "responses": assert_valid_responses,
    "anthropic": lambda payload: assert_valid_anthropic(dict(payload)),
}


@pytest.fixture
def read_back(backend_url: str) -> Iterator[Callable[[list[Message]], MemoryView]]:
    """Records messages in one save, and reads the whole memory view back from the store."""
    with ChatLedger.open(backend_url, token_counter=FakeTokenCounter()) as writer:

        def record_and_read(messages: list[Message]) -> MemoryView:
            writer.record("trip", messages)
            if backend_url == "memory://":
                return writer.memory("trip", WHOLE)
            with ChatLedger.open(backend_url, token_counter=FakeTokenCounter()) as reader:
                return reader.memory("trip", WHOLE)

        yield record_and_read


@pytest.mark.parametrize("provider", list(CONVERSATIONS))
def test_a_recorded_conversation_renders_for_its_provider_as_it_was_sent(
    read_back: Callable[[list[Message]], MemoryView], provider: Format
) -> None:
    sent, messages = CONVERSATIONS[provider]()

    rendering = read_back(messages).rendering(provider)

    VALID[provider](rendering.payload)
    assert rendering.payload == sent
    assert rendering.omitted == ()


@pytest.mark.parametrize("provider", list(CONVERSATIONS))
def test_a_recorded_conversation_reads_back_as_the_messages_imported(
    read_back: Callable[[list[Message]], MemoryView], provider: Format
) -> None:
    _, messages = CONVERSATIONS[provider]()

    view = read_back(messages)

    assert view.messages == tuple(messages)
    assert view.positions == tuple(range(1, len(messages) + 1))


def test_omissions_name_the_history_positions_of_their_messages(
    read_back: Callable[[list[Message]], MemoryView],
) -> None:
    _, messages = anthropic_conversation()

    view = read_back(messages)

    reasoning = [o.position for o in view.rendering("openai").omitted if o.kind == "reasoning"]
    assert reasoning == [3, 7]  # after the system prompt: both assistant turns that thought
    assert all(view.entries[p - 1].message.reasoning for p in reasoning)


@pytest.fixture
def attaching(backend_url: str) -> Iterator[ChatLedger]:
    """A ledger that stores every binary part over 16 bytes apart, as an attachment."""
    limits = Limits(attachment_threshold_bytes=16)
    with ChatLedger.open(backend_url, token_counter=FakeTokenCounter(), limits=limits) as opened:
        yield opened


def test_parts_stored_apart_render_as_sent_through_the_ledgers_resolver(
    attaching: ChatLedger,
) -> None:
    sent, messages = anthropic_conversation()
    attaching.record("trip", messages)

    view = attaching.memory("trip", WHOLE, inline_attachments=False)
    rendering = view.rendering("anthropic", resolve=attaching.attachment_resolver("trip"))

    assert any(attachments_of(message) for message in view.messages)
    assert rendering.payload == sent


def test_parts_stored_apart_without_a_resolver_name_their_position(attaching: ChatLedger) -> None:
    _, messages = anthropic_conversation()
    attaching.record("trip", messages)
    view = attaching.memory("trip", WHOLE, inline_attachments=False)

    with pytest.raises(AttachmentUnavailable) as raised:
        view.to_openai()

    first = next(e for e in view.entries if attachments_of(e.message))
    assert raised.value.position == first.position
