"""A parent erased in one process reads as erased through its branches in another, within the
key cache's bound (``KEY_CACHE_SECONDS``), whatever that process had cached."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path

import pytest

from chatledger import ChatLedger, Message, MessageWindow
from chatledger.infrastructure.storage.keys import KEY_CACHE_SECONDS
from tests.fakes import FakeTokenCounter

SECRET = "the vault code is 7-4-1-9"


def other_process(url: str, pipe: Connection) -> None:
    """Read the branch (warming every cache), wait for the erasure and the bound, read again."""
    with ChatLedger.open(url, token_counter=FakeTokenCounter()) as ledger:
        pipe.send([e.message.content for e in ledger.history("branch")])
        pipe.recv()  # this process erases the parent meanwhile
        time.sleep(KEY_CACHE_SECONDS + 0.5)
        history = [e.message.content for e in ledger.history("branch")]
        memory = [m.content for m in ledger.memory("branch", MessageWindow()).messages]
        pipe.send((history, memory))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
    else:
        yield str(request.getfixturevalue("postgres_url"))


def test_a_branch_shows_no_text_of_a_parent_erased_elsewhere(url: str) -> None:
    with ChatLedger.open(url, token_counter=FakeTokenCounter()) as ledger:
        ledger.record("parent", Message(role="user", content=SECRET))
        ledger.fork("parent", at=1, new_id="branch")
        ledger.record("branch", Message(role="user", content="the branch's own"))
    context = multiprocessing.get_context("spawn")
    here, there = context.Pipe()
    process = context.Process(target=other_process, args=(url, there))
    process.start()
    try:
        assert here.poll(60)
        assert here.recv() == [SECRET, "the branch's own"]
        with ChatLedger.open(url, token_counter=FakeTokenCounter()) as ledger:
            ledger.erase("parent", reason="asked")
        here.send("erased")
        assert here.poll(60)
        history, memory = here.recv()
    finally:
        process.join(60)

    assert history == [None, "the branch's own"]
    assert memory == ["the branch's own"]
