"""Tamper evidence of summaries against real rows: alter, move, delete; SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chatledger.domain import Conversation, Message
from chatledger.domain.conversation import summary_stream_id
from chatledger.infrastructure import ChatLedger
from tests.fakes import FakeTokenCounter
from tests.integration.test_tamper_evidence import CONV, StreamRows

STREAM = summary_stream_id(CONV)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def summarized(request: pytest.FixtureRequest) -> Iterator[tuple[ChatLedger, StreamRows]]:
    """Six messages in CONV and three summaries of them, and raw access to the rows."""
    url = str(request.getfixturevalue(f"{request.param}_url"))
    with ChatLedger.open(url, FakeTokenCounter()) as ledger:
        ledger.record(CONV, [Message(role="user", content=f"message {i}") for i in range(1, 7)])
        for covers in (2, 4, 6):
            ledger.record_summary(CONV, covers=covers, text=f"messages 1 to {covers}")
        yield ledger, StreamRows(url, STREAM)


def problems(ledger: ChatLedger) -> list[str]:
    return [b.problem for b in ledger.verify(CONV).breaks]


def test_untouched_summaries_verify(summarized: tuple[ChatLedger, StreamRows]) -> None:
    ledger, _ = summarized

    assert problems(ledger) == []


def test_an_altered_coverage_is_reported(summarized: tuple[ChatLedger, StreamRows]) -> None:
    ledger, raw = summarized
    data = raw.data(2)
    data["covers"] = 3

    raw.set_data(2, data)

    assert problems(ledger) == [
        "summary #2 altered: its hash does not follow from the previous summary's"
    ]


def test_altered_summary_ciphertext_is_reported(summarized: tuple[ChatLedger, StreamRows]) -> None:
    ledger, raw = summarized
    data = raw.data(1)
    sealed = data["text"]["sealed"]
    data["text"]["sealed"] = sealed[:20] + ("A" if sealed[20] != "A" else "B") + sealed[21:]

    raw.set_data(1, data)

    (problem,) = problems(ledger)
    assert problem.startswith("summary #1 altered: the row cannot be read (SealBroken")


def test_a_summary_moved_to_another_place_does_not_open(
    summarized: tuple[ChatLedger, StreamRows],
) -> None:
    ledger, raw = summarized
    raw.set_data(3, raw.data(1))

    assert problems(ledger)[0].startswith("summary #3 altered: the row cannot be read")


def test_a_deleted_summary_is_reported_missing(summarized: tuple[ChatLedger, StreamRows]) -> None:
    ledger, raw = summarized

    raw.delete_number(2)

    assert problems(ledger) == [
        "summary #2 missing: the next is #3",
        "summary #3 altered: its hash does not follow from the previous summary's",
    ]


def test_a_summary_rechained_onto_other_messages_is_reported_as_moved(
    summarized: tuple[ChatLedger, StreamRows],
) -> None:
    ledger, raw = summarized
    *_, before, last = list(ledger.application.events.get(STREAM))
    assert isinstance(before, Conversation.SummaryRecorded)
    assert isinstance(last, Conversation.SummaryRecorded)
    # Someone with write access points the newest summary elsewhere and fixes its own link.
    moved = last.model_copy(update={"anchor": "0" * 64})
    data = raw.data(3)
    data["anchor"], data["chain"] = moved.anchor, moved.link(before.chain)

    raw.set_data(3, data)

    assert problems(ledger) == ["summary #3 moved: it is not anchored to the chain at position 6"]


def test_a_deleted_newest_summary_is_caught_by_the_checkpoint(
    summarized: tuple[ChatLedger, StreamRows],
) -> None:
    ledger, raw = summarized
    saved = ledger.checkpoint()
    raw.delete_number(3)  # the summaries left still form a valid chain

    assert problems(ledger) == []
    assert [b.problem for b in ledger.compare_checkpoint(saved)] == [
        "summary #3 missing: the checkpointed summary is gone"
    ]


def test_a_checkpoint_keeps_the_summaries_head(
    summarized: tuple[ChatLedger, StreamRows],
) -> None:
    ledger, _ = summarized

    head = ledger.checkpoint()["heads"][CONV]

    assert head["summaries"] == 3
    assert head["summary_head"] == ledger.verify(CONV).summary_head
    assert ledger.compare_checkpoint(ledger.checkpoint()) == []
