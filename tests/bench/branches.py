"""What reading a branch costs against the conversation it was forked from.

``python -m tests.bench.branches`` records one long conversation on PostgreSQL, forks it at
each ``--forks`` point (each fork then records a few messages of its own), and times the
memory view (a 4,000-token TokenWindow) and the newest page of 50 on the unforked conversation
and on each fork, all in the same rounds, so a machine that slows down slows them alike. It
prints a Markdown table of medians, with each fork's ratio to the unforked conversation, to
stdout, and progress to stderr.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from chatledger import ChatLedger, Message, TokenWindow
from tests.bench.database import bench_schema, ensure_kek, server
from tests.bench.machine import describe, summary
from tests.bench.timing import Sample, side_by_side
from tests.bench.workload import batches

BUDGET = 4000
PAGE = 50
GOAL = 1.5
"""A fork's read should take at most this many times the unforked conversation's."""
ROOT = "unforked"
CONTENT = "and what about the trains from there, and how long do they take"


def fork_id(at: int) -> str:
    """The branch forked at ``at``."""
    return f"fork-{at}"


def load(ledger: ChatLedger, messages: int, forks: Sequence[int], own: int, batch: int) -> None:
    """Record the unforked conversation, then fork it at each point and record on each fork."""
    recorded = 0
    for messages_batch in batches(messages, ROOT, batch):
        ledger.record(ROOT, messages_batch)
        recorded += len(messages_batch)
        if recorded % (batch * 20) == 0 or recorded == messages:
            print(f"recorded {recorded:,} of {messages:,} messages", file=sys.stderr)
    for at in forks:
        branch = ledger.fork(ROOT, at=at, new_id=fork_id(at))
        ledger.record(
            branch,
            [
                Message(role="user" if n % 2 == 0 else "assistant", content=f"{n}: {CONTENT}")
                for n in range(own)
            ],
        )
        print(f"forked at {at:,} and recorded {own} messages there", file=sys.stderr)


def measure(ledger: ChatLedger, forks: Sequence[int], runs: int) -> dict[tuple[str, str], Sample]:
    """(figure, conversation) -> its sample, every call timed in the same rounds."""
    window = TokenWindow(max_tokens=BUDGET)
    subjects: dict[str, Callable[[], object]] = {}
    names: dict[str, tuple[str, str]] = {}
    for conversation in (ROOT, *(fork_id(at) for at in forks)):
        for figure, call in (
            ("memory", lambda c=conversation: ledger.memory(c, window)),
            ("newest", lambda c=conversation: ledger.history(c, limit=PAGE)),
        ):
            key = f"{figure}/{conversation}"
            subjects[key] = call
            names[key] = (figure, conversation)
    print(f"timing {len(subjects)} reads, {runs} rounds", file=sys.stderr)
    samples = side_by_side(subjects, dict.fromkeys(subjects, runs))
    return {names[key]: sample for key, sample in samples.items()}


def table(samples: dict[tuple[str, str], Sample], messages: int, forks: Sequence[int]) -> str:
    """The Markdown table: a row a read, a column a conversation, each fork's ratio beside it."""
    header = ["read", f"unforked ({messages:,})"]
    for at in forks:
        header += [f"fork at {at:,}", "fork / unforked"]
    lines = [_row(header), _row(["---"] * len(header))]
    for figure, label in (
        ("memory", f"memory view, {BUDGET:,}-token TokenWindow"),
        ("newest", f"newest {PAGE} messages"),
    ):
        unforked = samples[(figure, ROOT)].median
        cells = [label, _ms(unforked)]
        for at in forks:
            forked = samples[(figure, fork_id(at))].median
            cells += [_ms(forked), f"{forked / unforked:.2f}x"]
        lines.append(_row(cells))
    return "\n".join(lines)


def verdict(samples: dict[tuple[str, str], Sample], forks: Sequence[int]) -> str:
    """One line: whether every fork's read is within the goal."""
    worst = max(
        samples[(figure, fork_id(at))].median / samples[(figure, ROOT)].median
        for figure in ("memory", "newest")
        for at in forks
    )
    met = "met" if worst <= GOAL else "missed"
    return f"Goal: every fork within {GOAL}x of unforked; worst {worst:.2f}x: {met}."


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms"


def _points(text: str) -> list[int]:
    try:
        points = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of positions: {text!r}") from None
    if not points:
        raise argparse.ArgumentTypeError("give at least one position")
    return points


def main(argv: Sequence[str] | None = None) -> int:
    """Record, fork, time, print the table."""
    parser = argparse.ArgumentParser(prog="python -m tests.bench.branches", description=__doc__)
    parser.add_argument("--db", help="PostgreSQL URL (default: $CHATLEDGER_TEST_DATABASE_URL)")
    parser.add_argument("--messages", type=int, default=100_000, help="the unforked length")
    parser.add_argument(
        "--forks",
        type=_points,
        default=[50_000, 99_990],
        metavar="P,P",
        help="fork points, comma-separated (default: 50000,99990)",
    )
    parser.add_argument("--own", type=int, default=10, help="messages each fork records")
    parser.add_argument("--runs", type=int, default=50, help="timed rounds of every read")
    parser.add_argument("--batch", type=int, default=1_000, help="messages a record() call")
    args = parser.parse_args(argv)
    if args.messages < 1 or args.own < 0 or args.runs < 1 or args.batch < 1:
        parser.error("--messages, --runs and --batch must be positive, --own at least 0")
    if any(not 1 <= at <= args.messages for at in args.forks):
        parser.error(f"every fork point must be within 1..{args.messages}")
    ensure_kek()
    with server(args.db) as url, bench_schema(url) as database:
        machine = summary(describe(database.conninfo))
        with ChatLedger.open(database.ledger_url) as ledger:
            load(ledger, args.messages, args.forks, args.own, args.batch)
            samples = measure(ledger, args.forks, args.runs)
    print(table(samples, args.messages, args.forks))
    print()
    print(verdict(samples, args.forks))
    print()
    print(f"Machine: {machine}. Medians of {args.runs} rounds.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
