"""Record on PostgreSQL with the code before the package and this one, call by call, one process.

``python -m tests.bench.interleaved --before ../old-checkout`` opens one ledger of each, each in
its own schema of one server, and records one message with each in turn, the order swapped
every call, so whatever slows the machine or the server's WAL flush in one moment slows both
sides alike. ``tests.bench.compare`` runs each side in its own processes, alternating round
by round; its record figure swings by a third from run to run when commits wait for the disk,
and this is the figure that does not. The other checkout must be of the layout before the
package (top-level ``domain`` and ``infrastructure``), so both import side by side.
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from tests.bench.database import bench_schema, ensure_kek, server

CONTENT = "What's the weather like in Lisbon?"


def main(argv: list[str] | None = None) -> int:
    """Time both sides' record, interleaved, and print a Markdown table."""
    ensure_kek()
    parser = argparse.ArgumentParser(prog="python -m tests.bench.interleaved", description=__doc__)
    parser.add_argument("--before", type=Path, required=True, help="a checkout before the package")
    parser.add_argument("--db", help="PostgreSQL URL (default: $CHATLEDGER_TEST_DATABASE_URL)")
    parser.add_argument("--calls", type=int, default=4000, help="timed records a side")
    args = parser.parse_args(argv)
    if (args.before / ".typing" / "chatledger").exists():
        raise SystemExit("--before must be a checkout of the layout before the package")
    sys.path.insert(0, str(args.before))
    import chatledger

    # The other checkout's top-level layers, found on the path put first above.
    before_domain = importlib.import_module("domain")
    before_infrastructure = importlib.import_module("infrastructure")

    with server(args.db) as url, ExitStack() as stack:
        sides: dict[str, tuple[Any, Any]] = {}
        for label, api in (
            ("before", (before_infrastructure.ChatLedger, before_domain.Message)),
            ("after", (chatledger.ChatLedger, chatledger.Message)),
        ):
            ledger_url = stack.enter_context(bench_schema(url)).ledger_url
            sides[label] = (stack.enter_context(api[0].open(ledger_url)), api[1])
        for ledger, message in sides.values():
            for _ in range(200):  # warm-up: connections, caches, the conversation's key
                ledger.record("record", message(role="user", content=CONTENT))
        timings: dict[str, list[float]] = {label: [] for label in sides}
        for call in range(args.calls):
            if call % 500 == 0:
                print(f"call {call:,}/{args.calls:,}", file=sys.stderr)
            for label in ("before", "after") if call % 2 == 0 else ("after", "before"):
                ledger, message = sides[label]
                built = message(role="user", content=CONTENT)
                started = time.perf_counter()
                ledger.record("record", built)
                timings[label].append(time.perf_counter() - started)
    medians = {label: statistics.median(runs) for label, runs in timings.items()}
    means = {label: statistics.fmean(runs) for label, runs in timings.items()}
    print("| record, 1 message a call | before | after | after / before |")
    print("| --- | --- | --- | --- |")
    for name, figures in (("median", medians), ("mean", means)):
        ratio = figures["after"] / figures["before"]
        print(
            f"| {name} | {figures['before'] * 1e3:.3f} ms | {figures['after'] * 1e3:.3f} ms "
            f"| {ratio:.2f}x |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
