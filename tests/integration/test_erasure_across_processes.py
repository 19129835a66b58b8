"""Erasure is a write every other process sees at once, whatever it had cached.

A second process records and reads first, so its ledger holds the conversation's state and
key in its caches; then this process erases. The other process's next record is refused,
and its next reads show no text, at once, not after its key cache expires.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path

import pytest

from chatledger import ChatLedger, ConversationErased, Message, MessageWindow
from tests.fakes import FakeTokenCounter

SECRET = "the vault code is 7-4-1-9"


def other_process(url: str, pipe: Connection) -> None:
    """Record and read (warming every cache), wait for the erasure, then try again."""
    with ChatLedger.open(url, token_counter=FakeTokenCounter()) as ledger:
        ledger.record("conv", Message(role="user", content=SECRET))
        pipe.send([e.message.content for e in ledger.history("conv")])
        pipe.recv()  # this process erases meanwhile
        try:
            ledger.record("conv", Message(role="user", content="one more"))
            recorded = "recorded"
        except ConversationErased:
            recorded = "refused"
        contents = [e.message.content for e in ledger.history("conv")]
        newest = [e.message.content for e in ledger.history("conv", limit=1)]
        try:
            ledger.memory("conv", MessageWindow())
            memory = "shown"
        except ConversationErased:
            memory = "refused"
        try:
            ledger.memory("conv", MessageWindow(), at=1)
            past = "shown"
        except ConversationErased:
            past = "refused"
        pipe.send((recorded, contents, newest, memory, past))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
    else:
        yield str(request.getfixturevalue("postgres_url"))


def test_another_process_cannot_record_or_read_text_once_erase_returned(url: str) -> None:
    context = multiprocessing.get_context("spawn")
    here, there = context.Pipe()
    process = context.Process(target=other_process, args=(url, there))
    process.start()
    try:
        assert here.poll(60)
        assert here.recv() == [SECRET]
        with ChatLedger.open(url, token_counter=FakeTokenCounter()) as ledger:
            ledger.erase("conv", reason="asked")
        here.send("erased")
        assert here.poll(60)
        recorded, contents, newest, memory, past = here.recv()
    finally:
        process.join(60)

    assert recorded == "refused"
    assert contents == [None]
    assert newest == [None]
    assert memory == "refused"
    assert past == "refused"


def test_an_erased_conversation_still_verifies_and_keeps_its_length(url: str) -> None:
    with ChatLedger.open(url, token_counter=FakeTokenCounter()) as ledger:
        ledger.record("conv", [Message(role="user", content=SECRET) for _ in range(3)])
        before = ledger.verify("conv")
        ledger.erase("conv", reason="asked")

        after = ledger.verify("conv")
        version = ledger.version("conv")
        page = ledger.history("conv", limit=2)

    assert after.intact
    assert (after.length, after.head) == (before.length, before.head)
    assert version == 3
    assert [e.position for e in page] == [2, 3]


def test_a_row_appended_after_the_erasure_is_a_break(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with ChatLedger.open(url, token_counter=FakeTokenCounter()) as ledger:
        ledger.record("conv", Message(role="user", content=SECRET))
        ledger.erase("conv", reason="asked")
        tables = ledger.tables
        assert tables is not None
        with tables.transaction() as cursor:
            cursor.execute(
                "INSERT INTO stored_events (originator_id, originator_version, topic, state) "
                "SELECT originator_id, originator_version + 2, topic, state FROM stored_events "
                "WHERE originator_id = 'conv' AND originator_version = 2"
            )

        breaks = ledger.verify("conv").breaks

    assert [(b.position, b.problem) for b in breaks] == [(3, "inserted: a row after erasure")]
