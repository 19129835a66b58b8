"""Tamper evidence of clears and retractions against real rows: alter, move, delete; SQLite and
PostgreSQL. Someone with write access who drops a retraction puts a message back into what
the model is shown; the chain says so."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chatledger.domain import Conversation, Message, MessageWindow
from chatledger.domain.conversation import memory_stream_id
from chatledger.infrastructure import ChatLedger
from tests.fakes import FakeTokenCounter
from tests.integration.test_tamper_evidence import CONV, StreamRows

STREAM = memory_stream_id(CONV)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def changed(request: pytest.FixtureRequest) -> Iterator[tuple[ChatLedger, StreamRows]]:
    """Six messages in CONV, a retraction of 2, a clear at 4 and a retraction of 6."""
    url = str(request.getfixturevalue(f"{request.param}_url"))
    with ChatLedger.open(url, FakeTokenCounter()) as ledger:
        ledger.record(CONV, [Message(role="user", content=f"message {i}") for i in range(1, 5)])
        ledger.retract(CONV, 2)
        ledger.clear(CONV)
        ledger.record(CONV, [Message(role="user", content=f"message {i}") for i in (5, 6)])
        ledger.retract(CONV, 6)
        yield ledger, StreamRows(url, STREAM)


def problems(ledger: ChatLedger) -> list[str]:
    return [b.problem for b in ledger.verify(CONV).breaks]


def test_untouched_changes_verify(changed: tuple[ChatLedger, StreamRows]) -> None:
    ledger, _ = changed

    assert problems(ledger) == []
    assert ledger.verify(CONV).changes == 3


def test_a_retraction_pointed_at_another_message_is_reported(
    changed: tuple[ChatLedger, StreamRows],
) -> None:
    ledger, raw = changed
    data = raw.data(3)
    data["target"] = 5

    raw.set_data(3, data)

    assert problems(ledger) == [
        "memory change #3 altered: its hash does not follow from the previous change's"
    ]


def test_a_clear_moved_to_another_length_is_reported(
    changed: tuple[ChatLedger, StreamRows],
) -> None:
    ledger, raw = changed
    data = raw.data(2)
    data["position"] = 1

    raw.set_data(2, data)

    assert problems(ledger)[0] == (
        "memory change #2 altered: its hash does not follow from the previous change's"
    )


def test_a_deleted_retraction_is_reported_missing(changed: tuple[ChatLedger, StreamRows]) -> None:
    ledger, raw = changed

    raw.delete_number(1)

    assert problems(ledger) == [
        "memory change #1 missing: the next is #2",
        "memory change #2 altered: its hash does not follow from the previous change's",
    ]


def test_a_change_rechained_onto_other_messages_is_reported_as_moved(
    changed: tuple[ChatLedger, StreamRows],
) -> None:
    ledger, raw = changed
    *_, before, last = list(ledger.application.events.get(STREAM))
    assert isinstance(before, Conversation.MemoryCleared)
    assert isinstance(last, Conversation.Retracted)
    # Someone with write access points the newest change elsewhere and fixes its own link.
    moved = last.model_copy(update={"anchor": "0" * 64})
    data = raw.data(3)
    data["anchor"], data["chain"] = moved.anchor, moved.link(before.chain)

    raw.set_data(3, data)

    assert problems(ledger) == [
        "memory change #3 moved: it is not anchored to the chain at position 6"
    ]


def test_a_deleted_newest_retraction_puts_its_message_back_and_the_checkpoint_says_so(
    changed: tuple[ChatLedger, StreamRows],
) -> None:
    ledger, raw = changed
    saved = ledger.checkpoint()
    assert ledger.memory(CONV, MessageWindow()).positions == (5,)

    raw.delete_number(3)  # the changes left still form a valid chain

    assert ledger.memory(CONV, MessageWindow()).positions == (5, 6)
    assert problems(ledger) == []
    assert [b.problem for b in ledger.compare_checkpoint(saved)] == [
        "memory change #3 missing: the checkpointed memory change is gone"
    ]


def test_a_checkpoint_keeps_the_changes_head(changed: tuple[ChatLedger, StreamRows]) -> None:
    ledger, _ = changed

    head = ledger.checkpoint()["heads"][CONV]

    assert head["changes"] == 3
    assert head["changes_head"] == ledger.verify(CONV).changes_head
    assert ledger.compare_checkpoint(ledger.checkpoint()) == []
