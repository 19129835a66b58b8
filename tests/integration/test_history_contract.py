"""The history contract: paging and point-in-time reads, on every backend."""

from __future__ import annotations

import gc
import threading
from typing import Any, cast

import pytest

from chatledger.domain import InvalidInput, Message
from chatledger.infrastructure import ChatLedger
from chatledger.infrastructure.services.reading import LONG_READ_ROWS
from tests.fakes import FakeTokenCounter


@pytest.fixture
def ten(ledger: ChatLedger) -> ChatLedger:
    """A ledger whose conversation 'conv-1' holds messages m1..m10 at positions 1..10."""
    ledger.record("conv-1", [Message(role="user", content=f"m{i}") for i in range(1, 11)])
    return ledger


def positions(ledger: ChatLedger, **kwargs: Any) -> list[int]:
    return [entry.position for entry in ledger.history("conv-1", **kwargs)]


def test_history_lists_every_message_oldest_first(ten: ChatLedger) -> None:
    assert positions(ten) == list(range(1, 11))


def test_limit_without_after_gives_the_newest_page(ten: ChatLedger) -> None:
    assert positions(ten, limit=3) == [8, 9, 10]


def test_before_with_limit_scrolls_back(ten: ChatLedger) -> None:
    assert positions(ten, before=8, limit=3) == [5, 6, 7]


def test_after_with_limit_follows_the_conversation(ten: ChatLedger) -> None:
    assert positions(ten, after=2, limit=3) == [3, 4, 5]


def test_after_and_before_are_exclusive_bounds(ten: ChatLedger) -> None:
    assert positions(ten, after=3, before=7) == [4, 5, 6]


def test_an_empty_range_gives_no_entries(ten: ChatLedger) -> None:
    assert positions(ten, after=5, before=6) == []


def test_history_reports_the_conversation_length_on_every_page(ten: ChatLedger) -> None:
    assert ten.history("conv-1", limit=2).length == 10


def test_at_shows_history_as_it_was_right_after_that_position(ten: ChatLedger) -> None:
    view = ten.history("conv-1", at=4)

    assert ([e.position for e in view], view.length) == ([1, 2, 3, 4], 4)


def test_at_combines_with_limit(ten: ChatLedger) -> None:
    assert positions(ten, at=6, limit=2) == [5, 6]


def test_at_past_the_end_is_rejected_naming_at(ten: ChatLedger) -> None:
    with pytest.raises(InvalidInput) as raised:
        ten.history("conv-1", at=11)

    assert raised.value.field == "at"


@pytest.mark.parametrize(("field", "value"), [("after", -1), ("before", -2), ("limit", 0)])
def test_negative_bounds_and_zero_limits_are_rejected(
    ten: ChatLedger, field: str, value: int
) -> None:
    with pytest.raises(InvalidInput) as raised:
        ten.history("conv-1", **cast(dict[str, Any], {field: value}))

    assert raised.value.field == field


def test_entries_carry_time_and_tokens(ten: ChatLedger) -> None:
    first, second = ten.history("conv-1", limit=2).entries

    assert first.recorded_at <= second.recorded_at
    assert first.recorded_at.tzinfo is not None
    assert first.tokens == 4


def _collections_while_reading(ledger: ChatLedger) -> list[str]:
    """Which read ("whole" or "page") each collection the collector started fell in."""
    ledger.record("long", [Message(role="user", content=f"m{i}") for i in range(1, 1201)])
    collections: list[str] = []
    reading = ""

    def started(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collections.append(reading)

    gc.enable()
    gc.callbacks.append(started)
    try:
        reading = "whole"
        view = ledger.history("long")
        reading = "page"
        page = ledger.history("long", limit=LONG_READ_ROWS)
    finally:
        gc.callbacks.remove(started)
    assert [e.position for e in view] == list(range(1, 1201))
    assert len(page) == LONG_READ_ROWS
    return collections


def test_asked_to_a_whole_history_read_runs_without_collections_and_resumes_the_collector(
    backend_url: str,
) -> None:
    with ChatLedger.open(
        backend_url, token_counter=FakeTokenCounter(), pause_collector=True
    ) as ledger:
        collections = _collections_while_reading(ledger)

    assert gc.isenabled()
    # The page of LONG_READ_ROWS is read with the collector on and collects time and again;
    # the longer whole read collects at most once, when the collector resumes at its end.
    assert collections.count("whole") <= 1
    assert collections.count("page") > 1


def test_by_default_a_whole_history_read_leaves_the_host_process_collector_alone(
    ledger: ChatLedger,
) -> None:
    collections = _collections_while_reading(ledger)

    assert gc.isenabled()
    assert collections.count("whole") > 1


def test_a_whole_read_returns_exactly_the_length_it_reports_while_a_writer_appends(
    ledger: ChatLedger,
) -> None:
    stop = threading.Event()

    def append() -> None:
        # Paced and capped, so the writer cannot starve the reads on the in-memory store.
        for _ in range(5000):
            if stop.wait(0.001):
                return
            ledger.record("busy", Message(role="user", content="later"))

    ledger.record("busy", [Message(role="user") for _ in range(2000)])
    writer = threading.Thread(target=append)
    writer.start()
    try:
        views = [ledger.history("busy") for _ in range(10)]
    finally:
        stop.set()
        writer.join()

    assert [len(view.entries) for view in views] == [view.length for view in views]
    assert [view.entries[-1].position for view in views] == [view.length for view in views]
    assert views[-1].length > views[0].length >= 2000  # the writer appended meanwhile
