"""Long history reads: PostgreSQL reads them in pages fetched ahead of decoding."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from eventsourcing.persistence import StoredEvent

from chatledger.domain import Message
from chatledger.domain.conversation import STARTED_VERSION
from chatledger.infrastructure import ChatLedger
from chatledger.infrastructure.services.reading import READ_AHEAD_ROWS
from chatledger.infrastructure.storage.read_ahead import FIRST_PAGE, page_ranges
from tests.fakes import FakeTokenCounter
from tests.postgres import fresh_schema

LENGTH = READ_AHEAD_ROWS + 3 * FIRST_PAGE + 17
"""Long enough to be read ahead: pages of 1,024, 2,048 and 4,096 rows, then a short one."""


@dataclass
class Stored:
    ledger: ChatLedger
    messages: list[Message]


@pytest.fixture(scope="module")
def stored(postgres_server_url: str) -> Iterator[Stored]:
    """A long conversation 'long', recorded once for the module's read-only tests."""
    messages = [Message(role="user", content=f"message {i}") for i in range(1, LENGTH + 1)]
    with (
        fresh_schema(postgres_server_url) as url,
        ChatLedger.open(url, FakeTokenCounter()) as ledger,
    ):
        for start in range(0, LENGTH, 2000):
            ledger.record("long", messages[start : start + 2000])
        yield Stored(ledger, messages)


def test_a_whole_long_history_reads_every_message_once_in_order(stored: Stored) -> None:
    view = stored.ledger.history("long")

    assert [entry.message for entry in view] == stored.messages
    assert [entry.position for entry in view] == list(range(1, LENGTH + 1))
    assert view.length == LENGTH


@pytest.mark.parametrize(
    ("kwargs", "first", "last"),
    [
        ({"after": 100}, 101, LENGTH),
        ({"before": LENGTH - 5}, 1, LENGTH - 6),
        ({"after": 10, "before": LENGTH - 10}, 11, LENGTH - 11),
        ({"after": 3, "limit": READ_AHEAD_ROWS + 500}, 4, READ_AHEAD_ROWS + 503),
        ({"at": LENGTH - 1000}, 1, LENGTH - 1000),
        ({"at": LENGTH - 1000, "after": 50}, 51, LENGTH - 1000),
    ],
    ids=["after", "before", "between", "after-limit", "at", "at-after"],
)
def test_a_long_range_reads_exactly_its_positions(
    stored: Stored, kwargs: dict[str, Any], first: int, last: int
) -> None:
    view = stored.ledger.history("long", **kwargs)

    assert [entry.position for entry in view] == list(range(first, last + 1))
    assert [entry.message for entry in view] == stored.messages[first - 1 : last]


def test_a_read_ahead_opens_every_page_under_the_key_it_began_with(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    messages = [Message(role="user", content=f"message {i}") for i in range(1, LENGTH + 1)]
    with ChatLedger.open(postgres_url, FakeTokenCounter()) as ledger:
        for start in range(0, LENGTH, 2000):
            ledger.record("erased-midway", messages[start : start + 2000])
        recorder = ledger.application.recorder
        select_events = recorder.select_events
        pages: list[tuple[int, int]] = []

        def select_then_erase(*args: Any, **kwargs: Any) -> Sequence[StoredEvent]:
            if kwargs.keys() == {"gt", "lte"}:  # a page of the read, not the erasure's reads
                pages.append((kwargs["gt"], kwargs["lte"]))
                if len(pages) == 2:  # the erasure lands between the first page and the second
                    ledger.erase("erased-midway", reason="erased during a long read")
            return select_events(*args, **kwargs)

        monkeypatch.setattr(recorder, "select_events", select_then_erase)
        view = ledger.history("erased-midway")
        monkeypatch.undo()
        after = ledger.history("erased-midway")

    first = STARTED_VERSION
    assert pages == list(page_ranges(first, first + LENGTH))  # read ahead, page by page
    assert [entry.message for entry in view] == messages  # all as the read began
    assert all(entry.erased for entry in after)
