"""What AsyncChatLedger's hop to a worker thread costs against the synchronous call.

``python -m tests.bench.async_overhead`` times record (one message a call), the memory view and
the newest page on PostgreSQL, each figure alternating a synchronous call and an awaited one
on the same ledger, so both see the same server at the same moment. It prints a Markdown table
of medians to stdout and progress to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable

from chatledger import AsyncChatLedger, ChatLedger, Message, TokenWindow
from tests.bench.database import bench_schema, ensure_kek, server

CONTENT = "the quick brown fox jumps over the lazy dog"


async def measure(ledger: ChatLedger, calls: int) -> dict[str, tuple[list[float], list[float]]]:
    """Per figure, the synchronous and the awaited timings, taken alternately."""
    async_ledger = AsyncChatLedger(ledger)
    window = TokenWindow(max_tokens=4000)
    figures: dict[str, tuple[Callable[[], object], Callable[[], Awaitable[object]]]] = {
        "record, 1 message a call": (
            lambda: ledger.record("record", Message(role="user", content=CONTENT)),
            lambda: async_ledger.record("record", Message(role="user", content=CONTENT)),
        ),
        "memory view, 4,000-token window": (
            lambda: ledger.memory("long", window),
            lambda: async_ledger.memory("long", window),
        ),
        "newest 50 messages": (
            lambda: ledger.history("long", limit=50),
            lambda: async_ledger.history("long", limit=50),
        ),
    }
    results = {}
    for name, (sync_call, async_call) in figures.items():
        print(f"timing {name}", file=sys.stderr)
        sync_call()
        await async_call()
        sync_runs, async_runs = [], []
        for _ in range(calls):
            started = time.perf_counter()
            sync_call()
            sync_runs.append(time.perf_counter() - started)
            started = time.perf_counter()
            await async_call()
            async_runs.append(time.perf_counter() - started)
        results[name] = (sync_runs, async_runs)
    await async_ledger.close()  # its workers, and the ledger beneath
    return results


def main(argv: list[str] | None = None) -> int:
    """Fill a conversation, time both APIs, print the table."""
    ensure_kek()
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench.async_overhead", description=__doc__
    )
    parser.add_argument("--db", help="PostgreSQL URL (default: $CHATLEDGER_TEST_DATABASE_URL)")
    parser.add_argument("--messages", type=int, default=5_000, help="history length read")
    parser.add_argument("--calls", type=int, default=500, help="timed calls a figure and API")
    args = parser.parse_args(argv)
    with server(args.db) as url, bench_schema(url) as schema:
        ledger = ChatLedger.open(schema.ledger_url)
        print(f"recording {args.messages:,} messages", file=sys.stderr)
        for start in range(0, args.messages, 500):
            ledger.record(
                "long",
                [
                    Message(role="user" if i % 2 else "assistant", content=f"{i}: {CONTENT}")
                    for i in range(start, min(start + 500, args.messages))
                ],
            )
        results = asyncio.run(measure(ledger, args.calls))
    print("| figure | sync | async | async - sync | async / sync |")
    print("| --- | --- | --- | --- | --- |")
    for name, (sync_runs, async_runs) in results.items():
        sync_median, async_median = statistics.median(sync_runs), statistics.median(async_runs)
        print(
            f"| {name} | {sync_median * 1e3:.3f} ms | {async_median * 1e3:.3f} ms "
            f"| {(async_median - sync_median) * 1e6:+.0f} µs | {async_median / sync_median:.2f}x |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
