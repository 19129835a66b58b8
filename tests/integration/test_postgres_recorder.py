"""Our one-statement PostgreSQL recorder keeps the library's guarantees: order, atomicity, ids."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder

from chatledger.domain import InvalidInput, Message
from chatledger.infrastructure import ChatLedger
from chatledger.infrastructure.storage.recorders import MAX_VALUES_ROWS, PostgresRecorder
from tests.fakes import FakeTokenCounter

pytestmark = pytest.mark.postgres


def _recorder(ledger: ChatLedger) -> PostgresRecorder:
    recorder = ledger.application.recorder
    assert isinstance(recorder, PostgresRecorder)
    return recorder


def _event(originator: str, version: int) -> StoredEvent:
    return StoredEvent(originator_id=originator, originator_version=version, topic="t", state=b"s")


def test_a_tailing_reader_never_skips_a_notification_under_concurrent_writers(
    postgres_url: str,
) -> None:
    writers, messages = 6, 40
    seen: list[int] = []
    done = threading.Event()
    with ChatLedger.open(postgres_url, FakeTokenCounter()) as ledger:
        recorder = _recorder(ledger)

        def tail() -> None:
            # Like a subscription: remember the last id read, ask only for later ones.
            while True:
                finished = done.is_set()
                last = seen[-1] if seen else 0
                batch = recorder.select_notifications(last, 500, inclusive_of_start=False)
                seen.extend(notification.id for notification in batch)
                if finished and not batch:
                    return

        def write(writer: int) -> None:
            with ChatLedger.open(postgres_url, FakeTokenCounter()) as own:
                for i in range(messages):
                    own.record(f"tail-{writer}", Message(role="user", content=f"{i}"))

        reader = threading.Thread(target=tail)
        reader.start()
        with ThreadPoolExecutor(max_workers=writers) as pool:
            list(pool.map(write, range(writers)))
        done.set()
        reader.join(timeout=60)
        everything = [n.id for n in recorder.select_notifications(1, 100_000)]

    assert not reader.is_alive()
    # Per message: its event and its id claim; per conversation: one Started event.
    assert len(everything) == writers * (2 * messages + 1)
    assert seen == everything


def test_insert_returns_the_notification_ids_in_order(postgres_url: str) -> None:
    with ChatLedger.open(postgres_url, FakeTokenCounter()) as ledger:
        recorder = _recorder(ledger)
        ids = recorder.insert_events([_event("ids", 1), _event("ids", 2), _event("ids", 3)])
        stored = recorder.select_notifications(1, 10)

    assert ids is not None
    assert ids == [n.id for n in stored]
    assert ids == sorted(ids)


def test_a_save_larger_than_a_values_list_is_stored_atomically(postgres_url: str) -> None:
    size = MAX_VALUES_ROWS + 5
    with ChatLedger.open(postgres_url, FakeTokenCounter()) as ledger:
        recorder = _recorder(ledger)
        ids = recorder.insert_events([_event("big", v) for v in range(1, size + 1)])
        clashing = [_event("big2", v) for v in range(1, size + 1)] + [_event("big", 1)]
        with pytest.raises(IntegrityError):
            recorder.insert_events(clashing)
        stored_big = recorder.select_events("big")
        stored_big2 = recorder.select_events("big2")

    assert ids is not None
    assert len(ids) == size
    assert [e.originator_version for e in stored_big] == list(range(1, size + 1))
    assert stored_big2 == [], "a save that clashes on its last row writes nothing"


def test_a_clash_in_a_small_save_writes_none_of_it(postgres_url: str) -> None:
    with ChatLedger.open(postgres_url, FakeTokenCounter()) as ledger:
        recorder = _recorder(ledger)
        recorder.insert_events([_event("small", 1)])
        with pytest.raises(IntegrityError):
            recorder.insert_events([_event("other", 1), _event("small", 1)])
        other = recorder.select_events("other")

    assert other == []


def test_selecting_a_range_returns_what_the_library_returns(postgres_url: str) -> None:
    with ChatLedger.open(postgres_url, FakeTokenCounter()) as ledger:
        recorder = _recorder(ledger)
        recorder.insert_events([_event("range", v) for v in range(1, 11)])
        for gt in (None, 0, 3):
            for lte in (None, 7, 10):
                for desc in (False, True):
                    for limit in (None, 1, 4):
                        ranges = {"gt": gt, "lte": lte, "desc": desc, "limit": limit}
                        ours = recorder.select_events("range", **ranges)
                        library = PostgresApplicationRecorder.select_events(
                            recorder,
                            "range",
                            **ranges,
                        )
                        assert ours == library, ranges


def test_a_schema_that_does_not_exist_is_named_with_how_to_make_it(
    postgres_server_url: str,
) -> None:
    separator = "&" if "?" in postgres_server_url else "?"

    with pytest.raises(InvalidInput) as raised:
        ChatLedger.open(f"{postgres_server_url}{separator}schema=nosuchschema")

    assert raised.value.field == "url"
    assert "the schema 'nosuchschema' does not exist" in raised.value.problem
    assert "CREATE SCHEMA nosuchschema" in raised.value.problem
