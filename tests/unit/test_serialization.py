"""The mapper skips re-checking only what it can authenticate: sealed messages it wrote."""

from __future__ import annotations

import pytest
from eventsourcing.persistence import MapperDeserialisationError, StoredEvent

from domain import Conversation, Message
from infrastructure.keys import InMemoryKeyStore
from infrastructure.sealing import Sealer
from infrastructure.serialization import PydanticMapper

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

    with pytest.raises(MapperDeserialisationError, match="NUL"):
        mapper.to_domain_event(tampered)
