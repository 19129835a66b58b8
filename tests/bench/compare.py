"""Two checkouts side by side: the same figures, alternating round by round, in one run.

``python -m tests.bench.compare --before ../old-checkout`` times the code of another
checkout (``--before``) against this one (``--after``, the default) on one PostgreSQL
server, each in its own processes and its own schema, the order swapped every round so
neither side always runs first. It prints a Markdown table of medians and their ratio to
stdout, and progress to stderr. A variant may also be timed with the collector pause on.

A commit on PostgreSQL waits for the WAL to reach the disk, and that wait varies by more than
the code's own cost: two runs of the same checkout against itself differ by up to 30% in
record. ``--no-commit-flush`` runs the workers' sessions with ``synchronous_commit=off`` so
the figure is the code's CPU and round trips alone; it is fair only when both sides send the
same statements with the same bytes, which ``tests/integration/test_record_statements.py``
checks for this checkout.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from tests.bench.database import bench_schema, ensure_kek, server

WORKER = Path(__file__).with_name("compare_worker.py")
HERE = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Variant:
    """One side of the comparison: a checkout's code, how to import it, and its options."""

    label: str
    code: Path
    pause_collector: bool = False
    commit_flush: bool = True

    @property
    def layout(self) -> str:
        """``package`` for a checkout whose root is the chatledger package."""
        return "package" if (self.code / ".typing" / "chatledger").exists() else "top-level"

    def run(self, command: str, url: str, *extra: str) -> str:
        """Run the worker on this variant's code; what it printed."""
        flags = ["--pause-collector"] if self.pause_collector else []
        argv = [sys.executable, str(WORKER), command, "--code", str(self.code)]
        argv += ["--layout", self.layout, "--url", url, *flags, *extra]
        env = dict(os.environ)
        if not self.commit_flush:
            # libpq reads PGOPTIONS: every session the worker opens skips the WAL flush wait.
            env["PGOPTIONS"] = f"{env.get('PGOPTIONS', '')} -c synchronous_commit=off".strip()
        done = subprocess.run(argv, capture_output=True, text=True, check=False, env=env)
        if done.returncode != 0:
            raise SystemExit(f"{self.label}: {command} failed:\n{done.stderr}")
        return done.stdout


def rounds(variants: list[Variant], count: int) -> Iterator[list[Variant]]:
    """Every variant once a round, the order reversed every other round."""
    for number in range(count):
        yield variants if number % 2 == 0 else variants[::-1]


def compare(
    variants: list[Variant], server_url: str, *, messages: int, count: int, repeat: int
) -> dict[str, dict[str, list[float]]]:
    """Every figure's timings for each variant, over ``count`` alternating rounds."""
    samples: dict[str, dict[str, list[float]]] = {v.label: {} for v in variants}
    with ExitStack() as stack:
        urls = {}
        schemas = []
        for variant in variants:
            schema = stack.enter_context(bench_schema(server_url))
            schemas.append(schema)
            urls[variant.label] = schema.ledger_url
            print(f"{variant.label}: recording {messages:,} messages", file=sys.stderr)
            variant.run("setup", urls[variant.label], "--messages", str(messages))
        for schema in schemas:
            # Fresh tables' statistics are as autovacuum last left them, which differs by side
            # and by timing: measured, it moved one side's reads by half. Both start analyzed.
            schema.analyze()
        for number, order in enumerate(rounds(variants, count), start=1):
            print(f"round {number}/{count}", file=sys.stderr)
            for variant in order:
                stream = ["--stream", f"record-{number}", "--repeat", str(repeat)]
                printed = variant.run("measure", urls[variant.label], *stream)
                for figure, runs in json.loads(printed).items():
                    samples[variant.label].setdefault(figure, []).extend(runs)
    return samples


def table(samples: dict[str, dict[str, list[float]]], baseline: str) -> str:
    """Medians per figure and variant, in ms (µs a message for whole reads), and the ratios."""
    labels = list(samples)
    figures = list(samples[baseline])
    lines = [
        "| figure | "
        + " | ".join(labels)
        + " | "
        + " | ".join(f"{label} / {baseline}" for label in labels if label != baseline)
        + " |",
        "| --- |" + " --- |" * (2 * len(labels) - 1),
    ]
    for figure in figures:
        medians = {label: statistics.median(samples[label][figure]) for label in labels}
        unit, scale = ("µs", 1e6) if "a message" in figure else ("ms", 1e3)
        cells = [f"{medians[label] * scale:.2f} {unit}" for label in labels]
        ratios = [
            f"{medians[label] / medians[baseline]:.2f}x" for label in labels if label != baseline
        ]
        lines.append(f"| {figure} | " + " | ".join(cells + ratios) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Time the checkouts side by side and print the table."""
    ensure_kek()
    parser = argparse.ArgumentParser(prog="python -m tests.bench.compare", description=__doc__)
    parser.add_argument("--before", type=Path, required=True, help="the other checkout")
    parser.add_argument("--after", type=Path, default=HERE, help="this checkout (default)")
    parser.add_argument("--db", help="PostgreSQL URL (default: $CHATLEDGER_TEST_DATABASE_URL)")
    parser.add_argument("--messages", type=int, default=20_000, help="history length read")
    parser.add_argument("--rounds", type=int, default=6, help="alternating rounds")
    parser.add_argument("--repeat", type=int, default=30, help="timed runs a round")
    parser.add_argument(
        "--no-commit-flush",
        action="store_true",
        help="time without waiting for each commit's WAL flush (synchronous_commit=off)",
    )
    parser.add_argument(
        "--with-pause",
        action="store_true",
        help="also time --after with pause_collector=True",
    )
    args = parser.parse_args(argv)
    flush = not args.no_commit_flush
    variants = [
        Variant("before", args.before, commit_flush=flush),
        Variant("after", args.after, commit_flush=flush),
    ]
    if args.with_pause:
        variants.append(
            Variant("after, collector paused", args.after, pause_collector=True, commit_flush=flush)
        )
    with server(args.db) as url:
        samples = compare(
            variants, url, messages=args.messages, count=args.rounds, repeat=args.repeat
        )
    print(table(samples, "before"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
