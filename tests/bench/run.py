"""One benchmark run: load the same histories into every store, then measure them side by side."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tests.bench import reads, writes
from tests.bench.database import bench_schema, server
from tests.bench.machine import describe
from tests.bench.profiling import breakdown
from tests.bench.protocol import price_steps
from tests.bench.results import Results
from tests.bench.stage import SUMMARY_EVERY, Stage, history_id
from tests.bench.targets import judge
from tests.bench.workload import conversation

WRITERS = 8


@dataclass(frozen=True)
class Options:
    """What to measure, how often, and against which server."""

    db: str | None
    sizes: list[int]
    repeat: int
    peer_cap: int
    out: Path
    writer_messages: int
    writer_rounds: int
    summary_every: int = SUMMARY_EVERY
    """Messages loaded between the summaries recorded into each history."""

    @property
    def replay_runs(self) -> int:
        """Whole-history reads are slow: fewer runs of them."""
        return min(self.repeat, max(3, self.repeat // 5))


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not console.is_terminal,  # logs and pipes get the plain lines below
    )


def run(options: Options, console: Console) -> Results:
    """Measure every figure on one server, in a schema of its own dropped afterwards."""
    with server(options.db) as url, bench_schema(url) as database:
        settings: dict[str, Any] = asdict(options) | {
            "out": str(options.out),
            "db": None,  # URLs may hold passwords
            "schema": database.schema,
        }
        results = Results(describe(database.conninfo), settings)
        with Stage(database) as stage:
            total = sum(options.sizes) + sum(s for s in options.sizes if s <= options.peer_cap)
            console.print(f"Loading {total:,} messages into chatledger and LangChain ...")
            with _progress(console) as progress:
                stage.load(options.sizes, options.peer_cap, progress, options.summary_every)
            _measure(stage, options, results, console)
    results.targets = judge(results)
    return results


def _measure(stage: Stage, options: Options, results: Results, console: Console) -> None:
    longest = max(options.sizes)
    console.print("Reads: memory view and newest page by history length ...")
    figures, views = reads.by_length(stage, options.sizes, options.peer_cap, options.repeat)
    results.figures += figures
    results.diagnostics |= views
    console.print(f"Reads: audit replay of {longest:,} messages ...")
    results.figures.append(reads.audit_replay(stage, longest, options.replay_runs))
    console.print("Writes: one writer, whole turns ...")
    results.figures += writes.record_single(stage, options.repeat)
    results.figures += writes.record_turn(stage, options.repeat)
    results.diagnostics["what_if_library_recorder_single"] = writes.record_single_what_if(
        stage, options.repeat
    )
    results.diagnostics["recorder_protocol_ms"] = price_steps(stage.raw, options.repeat)
    console.print(f"Writes: 1 and {WRITERS} writer processes ...")
    figures, waits = writes.record_writers(
        stage, WRITERS, options.writer_messages, options.writer_rounds
    )
    results.figures += figures
    results.diagnostics |= waits
    console.print("Profiling record() and history(limit=50) ...")
    messages = iter(list(conversation(options.repeat * writes.CALLS_PER_RUN + 1, "profiled")))
    results.diagnostics["profiles"] = {
        "record, 1 message per call": breakdown(
            lambda: stage.ledger.record("profiled", next(messages)),
            options.repeat * writes.CALLS_PER_RUN,
        ),
        f"history(limit=50) at {longest:,}": breakdown(
            lambda: stage.ledger.history(history_id(longest), limit=reads.PAGE), options.repeat
        ),
    }
