"""The mapper skips re-checking only what it can authenticate: sealed messages it wrote."""

from __future__ import annotations

from typing import cast

import pytest
from eventsourcing.persistence import MapperDeserialisationError, StoredEvent

from domain import Conversation, Message, ToolCall
from infrastructure.keys import ConversationErased, InMemoryKeyStore
from infrastructure.sealing import Sealer
from infrastructure.serialization import PydanticMapper, history_entry

MIDNIGHT = "2026-01-01T00:00:00Z"


def _mapper(*, sealed: bool) -> PydanticMapper:
    mapper = PydanticMapper(transcoder=None)  # type: ignore[arg-type]  # JSON is its own
    if sealed:
        mapper.sealer = Sealer(InMemoryKeyStore())
    return mapper


def _recorded(message: Message) -> Conversation.MessageRecorded:
    state = Conversation.model_validate(
        {"id": "conv", "version": 1, "created_on": MIDNIGHT, "modified_on": MIDNIGHT}
    )
    event = state.record(message, tokens=3, counter="fake:words")
    assert event is not None
    return event


def test_a_sealed_message_reads_back_equal_to_what_was_recorded() -> None:
    mapper = _mapper(sealed=True)
    event = _recorded(Message(role="user", content="héllo", metadata={"k": ["v", 1]}))

    read = mapper.to_domain_event(mapper.to_stored_event(event))

    assert read == event


def test_an_unsealed_stored_message_is_checked_in_full() -> None:
    mapper = _mapper(sealed=False)
    stored = mapper.to_stored_event(_recorded(Message(role="user", content="fine")))
    payload = stored.state.replace(b'"content":"fine"', b'"content":"bad\\u0000"')
    assert payload != stored.state
    tampered = StoredEvent(
        originator_id=stored.originator_id,
        originator_version=stored.originator_version,
        topic=stored.topic,
        state=payload,
    )

    with pytest.raises(MapperDeserialisationError, match=r"message\.content"):
        mapper.to_domain_event(tampered)


MESSAGES = [
    Message(role="user", content="plain"),
    Message(role="system", content="Be brief.", name="policy"),
    Message(
        role="assistant",
        tool_calls=(ToolCall(id="c1", name="lookup", arguments='{"q": "ü"}'),),
        metadata={"model": "m", "nested": {"list": [1, 2.5, None, True]}},
    ),
    Message(role="tool", tool_call_id="c1", content="42"),
]


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: m.role)
def test_history_decoding_equals_decoding_the_whole_event(message: Message) -> None:
    mapper = _mapper(sealed=True)
    stored = mapper.to_stored_event(_recorded(message))

    assert mapper.to_history_entry(stored) == history_entry(
        cast(Conversation.MessageRecorded, mapper.to_domain_event(stored))
    )


def test_history_decoding_of_an_erased_message_keeps_role_and_place_only() -> None:
    mapper = _mapper(sealed=True)
    stored = mapper.to_stored_event(_recorded(Message(role="user", content="secret")))
    assert mapper.sealer is not None
    mapper.sealer.keys.destroy("conv", reason="test")

    entry = mapper.to_history_entry(stored)

    assert entry is not None
    assert entry.erased
    assert entry.message.role == "user"
    assert entry.message.content is None
    assert entry.position == 1


def test_history_decoding_skips_events_that_record_no_message() -> None:
    mapper = _mapper(sealed=True)

    assert mapper.to_history_entry(mapper.to_stored_event(Conversation.start("conv"))) is None


def test_after_erasure_the_sealer_keeps_no_cipher_for_the_conversation() -> None:
    sealer = Sealer(InMemoryKeyStore())
    sealed = sealer.seal("conv", 2, b"secret")
    assert sealer.open("conv", 2, sealed) == b"secret"
    sealer.keys.destroy("conv", reason="test")

    with pytest.raises(ConversationErased):
        sealer.open("conv", 2, sealed)

    assert "conv" not in sealer._ciphers  # key material must not outlive the erasure
