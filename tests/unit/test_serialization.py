"""The mapper skips re-checking only what it can authenticate: sealed messages it wrote."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import pytest
from eventsourcing.compressor import ZlibCompressor
from eventsourcing.persistence import MapperDeserialisationError, StoredEvent
from pydantic_core import from_json, to_json

from chatledger.domain import Conversation, Message, ToolCall
from chatledger.infrastructure.storage.keys import ConversationErased, InMemoryKeyStore
from chatledger.infrastructure.storage.sealing import SealBroken, Sealer
from chatledger.infrastructure.storage.serialization import PydanticMapper, history_entry

MIDNIGHT = "2026-01-01T00:00:00Z"


def _mapper(*, sealed: bool) -> PydanticMapper:
    mapper = PydanticMapper(transcoder=None)  # type: ignore[arg-type]  # JSON is its own
    if sealed:
        mapper.sealer = Sealer(InMemoryKeyStore())
    return mapper


def _with_state(stored: StoredEvent, state: bytes) -> StoredEvent:
    """The same row with another payload: what someone editing the database would leave."""
    return StoredEvent(
        originator_id=stored.originator_id,
        originator_version=stored.originator_version,
        topic=stored.topic,
        state=state,
    )


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
    tampered = _with_state(stored, payload)

    with pytest.raises(MapperDeserialisationError, match=r"message\n.*content: contains a NUL"):
        mapper.to_domain_event(tampered)


def _resealed(mapper: PydanticMapper, stored: StoredEvent, message: dict[str, Any]) -> StoredEvent:
    """The row with another message sealed in it: what only the conversation's key can write."""
    assert mapper.sealer is not None
    data = from_json(stored.state)
    data["message"]["sealed"] = mapper.sealer.seal(
        "conv", stored.originator_version, to_json(message)
    )
    return _with_state(stored, to_json(data))


def _message_read_whole(mapper: PydanticMapper, stored: StoredEvent) -> Message:
    return cast(Conversation.MessageRecorded, mapper.to_domain_event(stored)).message


def _message_read_as_history(mapper: PydanticMapper, stored: StoredEvent) -> Message:
    entry = mapper.to_history_entry(stored)
    assert entry is not None
    return entry.message


def _message_read_in_a_batch(mapper: PydanticMapper, stored: StoredEvent) -> Message:
    (entry,) = mapper.to_history_entries([stored])
    return entry.message


READS: list[Callable[[PydanticMapper, StoredEvent], Message]] = [
    _message_read_whole,
    _message_read_as_history,
    _message_read_in_a_batch,
]


@pytest.mark.parametrize("read", READS, ids=lambda read: read.__name__.removeprefix("_message_"))
def test_a_sealed_message_is_not_checked_again_however_it_is_read(
    read: Callable[[PydanticMapper, StoredEvent], Message],
) -> None:
    # Its rules passed when it was recorded; here one that breaks them stands in for a rule
    # made stricter since. Only the store could have sealed it.
    mapper = _mapper(sealed=True)
    unchecked = Message.model_construct(role="user", content="hi", tool_call_id="c1")
    stored = mapper.to_stored_event(_recorded(unchecked))

    message = read(mapper, stored)

    assert message.tool_call_id == "c1"


@pytest.mark.parametrize("read", READS, ids=lambda read: read.__name__.removeprefix("_message_"))
def test_a_sealed_message_whose_fields_have_the_wrong_types_is_refused(
    read: Callable[[PydanticMapper, StoredEvent], Message],
) -> None:
    mapper = _mapper(sealed=True)
    stored = mapper.to_stored_event(_recorded(Message(role="user", content="fine")))
    wrong = _resealed(mapper, stored, {"role": "user", "content": 3})

    with pytest.raises(MapperDeserialisationError, match=r"(?s)version 2\b.*content"):
        read(mapper, wrong)


def test_a_sealed_tool_call_reads_back_as_a_tool_call_in_a_tuple() -> None:
    mapper = _mapper(sealed=True)
    call = ToolCall(id="c1", name="lookup", arguments="{}")
    stored = mapper.to_stored_event(_recorded(Message(role="assistant", tool_calls=(call,))))

    message = _message_read_as_history(mapper, stored)

    assert message.tool_calls == (call,)
    assert type(message.tool_calls) is tuple
    assert type(message.tool_calls[0]) is ToolCall


def test_an_unsealed_stored_message_read_as_history_is_checked_in_full() -> None:
    mapper = _mapper(sealed=False)
    stored = mapper.to_stored_event(_recorded(Message(role="user", content="fine")))
    payload = stored.state.replace(b'"content":"fine"', b'"content":"bad\\u0000"')
    assert payload != stored.state

    with pytest.raises(MapperDeserialisationError, match=r"message\n.*content: contains a NUL"):
        mapper.to_history_entry(_with_state(stored, payload))


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


def _stored_conversation(mapper: PydanticMapper, messages: list[Message]) -> list[StoredEvent]:
    state = Conversation.model_validate(
        {"id": "conv", "version": 1, "created_on": MIDNIGHT, "modified_on": MIDNIGHT}
    )
    stored = [mapper.to_stored_event(Conversation.start("conv"))]
    for message in messages:
        event = state.record(message, tokens=3, counter="fake:words")
        assert event is not None
        stored.append(mapper.to_stored_event(event))
        state = state.apply(event)
    return stored


def test_a_batch_decodes_to_the_same_entries_as_one_at_a_time() -> None:
    mapper = _mapper(sealed=True)
    stored = _stored_conversation(mapper, MESSAGES)

    one_at_a_time = [entry for row in stored if (entry := mapper.to_history_entry(row))]

    assert mapper.to_history_entries(stored) == one_at_a_time
    assert [entry.message for entry in one_at_a_time] == MESSAGES


def test_a_batch_of_an_erased_conversation_reads_every_message_as_erased() -> None:
    mapper = _mapper(sealed=True)
    stored = _stored_conversation(mapper, MESSAGES)
    assert mapper.sealer is not None
    mapper.sealer.keys.destroy("conv", reason="test")

    entries = mapper.to_history_entries(stored)

    assert [entry.erased for entry in entries] == [True] * len(MESSAGES)
    assert [entry.message.role for entry in entries] == [m.role for m in MESSAGES]
    assert all(entry.message.content is None for entry in entries)


def test_a_batch_still_refuses_a_message_moved_to_another_position() -> None:
    mapper = _mapper(sealed=True)
    first, second, third = _stored_conversation(mapper, MESSAGES[:2])
    moved = _with_state(third, second.state)

    with pytest.raises(SealBroken, match="version 3"):
        mapper.to_history_entries([first, second, moved])


def test_a_batch_names_the_row_whose_fields_do_not_validate() -> None:
    mapper = _mapper(sealed=True)
    first, second, third = _stored_conversation(mapper, MESSAGES[:2])
    # Token counts are stored beside the sealed message, so the row still opens.
    payload = third.state.replace(b'"tokens":3', b'"tokens":-1')
    assert payload != third.state
    negative = _with_state(third, payload)

    with pytest.raises(MapperDeserialisationError, match=r"(?s)version 3\b.*tokens"):
        mapper.to_history_entries([first, second, negative])


def test_a_batch_reports_the_first_bad_row_in_stream_order() -> None:
    mapper = _mapper(sealed=True)
    start, first, second, third = _stored_conversation(mapper, MESSAGES[:3])
    negative = _with_state(second, second.state.replace(b'"tokens":3', b'"tokens":-1'))
    moved = _with_state(third, first.state)
    assert negative.state != second.state

    # Version 3 fails validation, version 4 fails to open: version 3 comes first.
    with pytest.raises(MapperDeserialisationError, match=r"version 3\b"):
        mapper.to_history_entries([start, first, negative, moved])


def test_history_reads_decode_rows_written_with_a_compressor() -> None:
    mapper = PydanticMapper(transcoder=None, compressor=ZlibCompressor())  # type: ignore[arg-type]  # JSON is its own
    mapper.sealer = Sealer(InMemoryKeyStore())
    stored = _stored_conversation(mapper, MESSAGES)

    entries = mapper.to_history_entries(stored)

    assert [entry.message for entry in entries] == MESSAGES
    assert mapper.to_history_entry(stored[1]) == entries[0]


def test_the_opener_binds_each_message_to_its_own_position() -> None:
    sealer = Sealer(InMemoryKeyStore())
    sealed = sealer.seal("conv", 7, b"secret")
    open_at = sealer.opener("conv")

    assert open_at(7, sealed) == b"secret"
    with pytest.raises(SealBroken):
        open_at(8, sealed)
