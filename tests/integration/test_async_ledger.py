"""AsyncChatLedger beyond the contract suites: cancellation, the loop kept free, concurrency."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from chatledger.domain import InvalidInput, Message
from chatledger.infrastructure import AsyncChatLedger, ChatLedger
from tests.fakes import FakeTokenCounter

BATCH = 400


def batch(tag: str) -> list[Message]:
    return [Message(id=f"{tag}-{i}", role="user", content=f"message {i}") for i in range(BATCH)]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    if request.param == "sqlite":
        return sqlite_url
    return str(request.getfixturevalue("postgres_url"))


async def cancelled_attempt(
    ledger: AsyncChatLedger, conversation: str, delay: float | None
) -> tuple[bool, int, int]:
    """Cancel a record after ``delay`` (None: before it starts); whether the cancellation
    reached the caller, the version then, and the version a moment later."""
    task = asyncio.create_task(ledger.record(conversation, batch(conversation)))
    if delay is not None:
        await asyncio.sleep(delay)
    task.cancel()
    cancelled = False
    try:
        await task
    except asyncio.CancelledError:
        cancelled = True
    seen = await ledger.version(conversation)
    await asyncio.sleep(0.05)  # if a write were still in flight, it would land now
    return cancelled, seen, await ledger.version(conversation)


def test_a_cancelled_record_has_recorded_its_batch_whole_or_not_at_all(url: str) -> None:
    async def main() -> list[tuple[bool, int, int]]:
        async with await AsyncChatLedger.open(url, FakeTokenCounter()) as ledger:
            delays = [None, 0.0, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02]
            return [await cancelled_attempt(ledger, f"c-{n}", d) for n, d in enumerate(delays)]

    outcomes = asyncio.run(main())

    assert all(seen in (0, BATCH) for _, seen, _ in outcomes), outcomes
    assert all(seen == later for _, seen, later in outcomes), outcomes
    # Both ways were taken: cancelled before it began, and cancelled during the save.
    assert (True, 0, 0) in outcomes
    assert (True, BATCH, BATCH) in outcomes


def test_a_cancelled_record_retried_records_each_message_once(url: str) -> None:
    async def main() -> int:
        async with await AsyncChatLedger.open(url, FakeTokenCounter()) as ledger:
            messages = batch("retry")
            task = asyncio.create_task(ledger.record("retry", messages))
            await asyncio.sleep(0.001)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await ledger.record("retry", messages)
            return await ledger.version("retry")

    assert asyncio.run(main()) == BATCH


def test_the_event_loop_keeps_running_while_a_record_is_stored(url: str) -> None:
    async def main() -> int:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        async with await AsyncChatLedger.open(url, FakeTokenCounter()) as ledger:
            running = asyncio.create_task(ticker())
            await ledger.record("busy", batch("busy"))
            running.cancel()
        return ticks

    assert asyncio.run(main()) > 10


def test_concurrent_records_on_many_conversations_all_land(url: str) -> None:
    async def main() -> list[int]:
        async with await AsyncChatLedger.open(url, FakeTokenCounter()) as ledger:
            await asyncio.gather(
                *(
                    ledger.record(f"many-{n}", Message(role="user", content=f"hi {i}"))
                    for n in range(8)
                    for i in range(5)
                )
            )
            return [await ledger.version(f"many-{n}") for n in range(8)]

    assert asyncio.run(main()) == [5] * 8


def test_the_async_ledger_reads_what_the_sync_one_wrote(url: str) -> None:
    with ChatLedger.open(url, FakeTokenCounter()) as sync:
        sync.record("shared", Message(role="user", content="from sync code"))

        async def main() -> str | None:
            async with AsyncChatLedger(sync) as ledger:
                view = await ledger.history("shared")
                return view.messages[0].text

        assert asyncio.run(main()) == "from sync code"


def test_a_worker_count_below_one_is_refused() -> None:
    with (
        ChatLedger.open("memory://", FakeTokenCounter()) as sync,
        pytest.raises(InvalidInput) as raised,
    ):
        AsyncChatLedger(sync, max_workers=0)

    assert raised.value.field == "max_workers"
