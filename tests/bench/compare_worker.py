"""One side of ``python -m tests.bench.compare``: times one checkout's code, in its own process.

Run as a script, so that nothing but the checkout named by ``--code`` supplies chatledger:
``python tests/bench/compare_worker.py measure --code DIR --url URL``. It prints one JSON
object (figure name -> seconds per operation, one value per timed run) and nothing else.
It imports only the checkout's public API, in either layout the project has had: the
``chatledger`` package (the root folder, read through ``DIR/.typing``) or, before it, the
top-level ``domain``, ``projections`` and ``infrastructure`` packages.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

CONVERSATION = "long"
BATCH = 500
WINDOW_TOKENS = 4000
PAGE = 50


def load(code: Path, layout: str) -> dict[str, Any]:
    """The checkout's ChatLedger, Message and TokenWindow."""
    if layout == "package":
        sys.path.insert(0, str(code / ".typing"))
        import chatledger

        if not Path(chatledger.__file__).resolve().is_relative_to(code.resolve()):
            raise SystemExit(f"chatledger came from {chatledger.__file__}, not {code}")
        return {
            "ChatLedger": chatledger.ChatLedger,
            "Message": chatledger.Message,
            "TokenWindow": chatledger.TokenWindow,
        }
    sys.path.insert(0, str(code))
    import domain
    import infrastructure
    import projections

    return {
        "ChatLedger": infrastructure.ChatLedger,
        "Message": domain.Message,
        "TokenWindow": projections.TokenWindow,
    }


def setup(api: dict[str, Any], url: str, messages: int) -> None:
    """Fill the conversation every read is timed on."""
    message = api["Message"]
    with api["ChatLedger"].open(url) as ledger:
        for start in range(0, messages, BATCH):
            batch = [
                message(
                    role="user" if i % 2 == 0 else "assistant",
                    content=f"message {i}: the quick brown fox jumps over the lazy dog",
                )
                for i in range(start, min(start + BATCH, messages))
            ]
            ledger.record(CONVERSATION, batch)


def measure(
    api: dict[str, Any], url: str, repeat: int, stream: str, options: dict[str, Any]
) -> dict[str, list[float]]:
    """Seconds per operation of each figure, ``repeat`` timed runs each after one warm-up."""
    message, window = api["Message"], api["TokenWindow"](max_tokens=WINDOW_TOKENS)
    timings: dict[str, list[float]] = {}
    with api["ChatLedger"].open(url, **options) as ledger:
        length = ledger.version(CONVERSATION)
        figures: dict[str, Callable[[], object]] = {
            "record, 1 message a call": lambda: ledger.record(
                stream, message(role="user", content="What's the weather like in Lisbon?")
            ),
            "memory view, 4,000-token window": lambda: ledger.memory(CONVERSATION, window),
            "newest 50 messages": lambda: ledger.history(CONVERSATION, limit=PAGE),
            "whole-history read, a message": lambda: ledger.history(CONVERSATION),
        }
        per_call = {"whole-history read, a message": length}
        for name, call in figures.items():
            call()
            runs = []
            for _ in range(repeat if name != "whole-history read, a message" else 3):
                started = time.perf_counter()
                call()
                runs.append((time.perf_counter() - started) / per_call.get(name, 1))
            timings[name] = runs
    return timings


def main(argv: list[str] | None = None) -> int:
    """Parse the command and run it."""
    parser = argparse.ArgumentParser(prog="compare_worker")
    parser.add_argument("command", choices=["setup", "measure"])
    parser.add_argument("--code", type=Path, required=True)
    parser.add_argument("--layout", choices=["package", "top-level"], required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--stream", default="record")
    parser.add_argument("--pause-collector", action="store_true")
    args = parser.parse_args(argv)
    api = load(args.code, args.layout)
    if args.command == "setup":
        setup(api, args.url, args.messages)
        return 0
    options = {"pause_collector": True} if args.pause_collector else {}
    print(json.dumps(measure(api, args.url, args.repeat, args.stream, options)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
