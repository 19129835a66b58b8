"""Concurrent writers never lose a message: threads and processes, SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ThreadPoolExecutor

import pytest

from chatledger.domain import ConcurrencyConflict, Message
from chatledger.infrastructure import ChatLedger
from tests.fakes import FakeTokenCounter


def write_many(url: str, writer: int, count: int) -> None:
    """Record ``count`` messages one at a time into conv-shared, as writer ``writer``."""
    with ChatLedger.open(url, FakeTokenCounter()) as ledger:
        for i in range(count):
            ledger.record("conv-shared", Message(id=f"w{writer}-{i}", role="user", content="x"))


def assert_all_stored_without_holes(url: str, writers: int, count: int) -> None:
    with ChatLedger.open(url, FakeTokenCounter()) as ledger:
        history = ledger.history("conv-shared")
    assert [e.position for e in history] == list(range(1, writers * count + 1))
    assert {e.message.id for e in history} == {
        f"w{w}-{i}" for w in range(writers) for i in range(count)
    }
    for w in range(writers):
        mine = [
            int(e.message.id.split("-")[1]) for e in history if e.message.id.startswith(f"w{w}-")
        ]
        assert mine == sorted(mine), "each writer's messages keep their order"


@pytest.mark.postgres
def test_eight_threads_on_postgres_store_all_four_hundred_messages(postgres_url: str) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda w: write_many(postgres_url, w, 50), range(8)))

    assert_all_stored_without_holes(postgres_url, writers=8, count=50)


def test_four_threads_on_sqlite_store_every_message(sqlite_url: str) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda w: write_many(sqlite_url, w, 25), range(4)))

    assert_all_stored_without_holes(sqlite_url, writers=4, count=25)


def test_threads_sharing_one_in_memory_ledger_store_every_message() -> None:
    with ChatLedger.open("memory://", FakeTokenCounter()) as ledger:

        def write(writer: int) -> None:
            for i in range(25):
                ledger.record("conv-shared", Message(id=f"w{writer}-{i}", role="user", content="x"))

        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(write, range(4)))

        assert [e.position for e in ledger.history("conv-shared")] == list(range(1, 101))


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_separate_processes_store_every_message(
    backend: str, request: pytest.FixtureRequest
) -> None:
    url = str(request.getfixturevalue(f"{backend}_url"))
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=write_many, args=(url, w, 20)) for w in range(3)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)

    assert [p.exitcode for p in processes] == [0, 0, 0]
    assert_all_stored_without_holes(url, writers=3, count=20)


@pytest.mark.postgres
def test_with_expected_version_exactly_one_of_two_racing_writers_wins(postgres_url: str) -> None:
    with ChatLedger.open(postgres_url, FakeTokenCounter()) as ledger:
        ledger.record("conv-shared", Message(role="user", content="start"))

        def attempt(i: int) -> str:
            try:
                ledger.record(
                    "conv-shared", Message(role="user", content=f"racer {i}"), expected_version=1
                )
            except ConcurrencyConflict:
                return "conflict"
            return "won"

        with ThreadPoolExecutor(max_workers=6) as pool:
            outcomes = list(pool.map(attempt, range(6)))

        assert sorted(outcomes) == ["conflict"] * 5 + ["won"]
        assert ledger.version("conv-shared") == 2


def test_of_identical_concurrent_records_exactly_one_says_it_stored(backend_url: str) -> None:
    with ChatLedger.open(backend_url, FakeTokenCounter()) as ledger, ThreadPoolExecutor(8) as pool:
        messages = [Message(id=f"same-{n}", role="user", content="x") for n in range(10)]
        rounds = [list(pool.map(ledger.record_outcome, ["conv"] * 8, [m] * 8)) for m in messages]

        for outcomes in rounds:
            assert [outcome.stored for outcome in outcomes].count(True) == 1
            assert all(outcome.entries == outcomes[0].entries for outcome in outcomes)
        assert ledger.version("conv") == 10
