"""Model-call records: what the model received, replayed from history and proven identical."""

from __future__ import annotations

import pytest

from chatledger.domain import InvalidInput, Message, UnknownConversation
from chatledger.domain.audit import Usage
from chatledger.infrastructure import ChatLedger
from chatledger.infrastructure.services.audit import payload_sha256
from chatledger.projections import MessageWindow, TokenWindow


@pytest.fixture
def talking(ledger: ChatLedger) -> ChatLedger:
    ledger.record(
        "conv-1",
        [
            Message(role="system", content="Be brief."),
            Message(role="user", content="one two three"),
            Message(role="assistant", content="four five"),
            Message(role="user", content="six"),
        ],
    )
    return ledger


def test_a_recorded_call_holds_positions_ids_policy_counter_tokens_and_hash(
    talking: ChatLedger,
) -> None:
    view = talking.memory("conv-1", TokenWindow(max_tokens=15))

    call = talking.record_model_call("conv-1", view, model="gpt-4o", response_id="resp-1")

    assert (call.number, call.positions, call.policy) == (1, view.positions, view.policy)
    assert call.message_ids == tuple(m.id for m in view.messages)
    assert (call.counter, call.tokens) == ("fake:words", view.tokens)
    assert call.payload_sha256 == talking.payload_digest("conv-1", view)
    assert (call.system_position, call.model, call.response_id) == (1, "gpt-4o", "resp-1")


def test_the_payload_digest_of_a_new_conversation_is_keyed_not_the_plain_sha256(
    talking: ChatLedger,
) -> None:
    view = talking.memory("conv-1", TokenWindow(max_tokens=15))

    call = talking.record_model_call("conv-1", view, model="gpt-4o")

    assert call.payload_sha256.startswith("hmac-sha256:")
    assert payload_sha256(view) not in call.payload_sha256


def test_replaying_a_call_after_more_messages_rebuilds_exactly_what_was_sent(
    talking: ChatLedger,
) -> None:
    view = talking.memory("conv-1", MessageWindow(max_messages=3))
    call = talking.record_model_call("conv-1", view, model="gpt-4o")
    talking.record(
        "conv-1", [Message(role="assistant", content="seven"), Message(role="user", content="x")]
    )

    replay = talking.replay_model_call("conv-1", call)

    assert replay.identical, replay.differences
    assert replay.view.messages == view.messages


def test_usage_can_be_attached_later_and_is_listed_with_the_call(talking: ChatLedger) -> None:
    view = talking.memory("conv-1", MessageWindow())
    talking.record_model_call("conv-1", view, model="m1")
    talking.record_model_call(
        "conv-1", view, model="m2", usage=Usage(prompt_tokens=9, completion_tokens=2)
    )

    talking.attach_usage("conv-1", 1, Usage(prompt_tokens=12, completion_tokens=3))
    calls = talking.model_calls("conv-1")

    assert [(c.number, c.model, c.usage) for c in calls] == [
        (1, "m1", Usage(prompt_tokens=12, completion_tokens=3)),
        (2, "m2", Usage(prompt_tokens=9, completion_tokens=2)),
    ]


def test_attaching_usage_to_a_missing_call_names_the_call(talking: ChatLedger) -> None:
    with pytest.raises(InvalidInput) as raised:
        talking.attach_usage("conv-1", 7, Usage(prompt_tokens=1, completion_tokens=1))

    assert raised.value.field == "call"


def test_a_call_for_an_unknown_conversation_is_refused(ledger: ChatLedger) -> None:
    view = ledger.memory("nobody", MessageWindow())

    with pytest.raises(UnknownConversation):
        ledger.record_model_call("nobody", view, model="m")


def test_a_conversation_without_calls_lists_none(talking: ChatLedger) -> None:
    assert talking.model_calls("conv-1") == []
