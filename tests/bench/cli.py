"""`python -m tests.bench`: its options, and the run from parsing to the files it writes."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from tests.bench.database import ensure_kek

DEFAULT_SIZES = [100, 1_000, 10_000, 100_000]
QUICK_SIZES = [20, 50]
JSON_NAME = "latest.json"
PLOT_NAME = "latency.png"
REPORT_WIDTH = 150
MISSING_EXTRA = "the benchmark needs its peers and plotting: pip install 'chatledger[bench]' ({})"


def _sizes(text: str) -> list[int]:
    try:
        sizes = sorted({int(part.replace("_", "")) for part in text.split(",") if part.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of integers: {text!r}") from None
    if not sizes or sizes[0] < 2:
        raise argparse.ArgumentTypeError("history lengths must be integers of at least 2")
    return sizes


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The benchmark's options."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench",
        description=(
            "Measure chatledger on PostgreSQL beside LangChain's PostgresChatMessageHistory "
            "and raw psycopg, on the same server and data; print a table, write JSON and a plot."
        ),
    )
    parser.add_argument(
        "--db",
        help="PostgreSQL URL (default: $CHATLEDGER_TEST_DATABASE_URL, else a throwaway pgserver)",
    )
    parser.add_argument(
        "--sizes", type=_sizes, help="history lengths, comma-separated (100,1000,10000,100000)"
    )
    parser.add_argument("--repeat", type=_positive, help="timed runs per figure (20)")
    parser.add_argument(
        "--peer-cap",
        type=_positive,
        default=10_000,
        help="longest history LangChain is loaded and timed at (10000)",
    )
    parser.add_argument(
        "--out", type=Path, default=Path("bench-results"), help="directory for JSON and PNG"
    )
    parser.add_argument(
        "--quick", action="store_true", help="toy sizes and few runs: checks it works, no more"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark with ``argv`` (default: the process's); return the exit code."""
    args = build_parser().parse_args(argv)
    console = Console()
    ensure_kek()
    if not console.is_terminal:
        console = Console(width=REPORT_WIDTH)  # logs and files get the table unwrapped
    try:
        from tests.bench.plot import draw
        from tests.bench.report import print_report, write_json
        from tests.bench.run import Options, run
    except ImportError as exc:
        console.print(MISSING_EXTRA.format(exc))
        return 2
    options = Options(
        db=args.db,
        sizes=args.sizes or (QUICK_SIZES if args.quick else DEFAULT_SIZES),
        repeat=args.repeat or (2 if args.quick else 20),
        peer_cap=args.peer_cap,
        out=args.out,
        writer_messages=10 if args.quick else 200,
        writer_rounds=1 if args.quick else 5,
        # Toy histories get summaries too, so the quick run reads through them.
        summary_every=10 if args.quick else 1_000,
    )
    results = run(options, console)
    print_report(console, results)
    options.out.mkdir(parents=True, exist_ok=True)
    write_json(results, options.out / JSON_NAME)
    draw(results, options.out / PLOT_NAME)
    console.print(f"Wrote {options.out / JSON_NAME} and {options.out / PLOT_NAME}")
    return 0
