"""Write figures: one message per call, a whole turn per call, and concurrent writers."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

from tests.bench.langchain_peer import langchain_message
from tests.bench.raw_peer import RawWriter
from tests.bench.results import Figure
from tests.bench.stage import Stage
from tests.bench.timing import side_by_side
from tests.bench.variant import ledger_with_library_recorder
from tests.bench.workload import conversation, tool_turn
from tests.bench.writers import (
    LIBRARY_RECORDER_KIND,
    RAW_LOCKED_KIND,
    Round,
    WaitSampler,
    Writers,
    WriterTask,
    median_client_cpu,
    median_rate,
)

SCALING_WRITERS = (2, 4)
"""Writer counts timed between 1 and the figure's count, for the scaling table."""

CALLS_PER_RUN = 10
"""Single-message records per timed run: a run is long enough to time, short enough to repeat."""


def _each(items: Iterator[Any], action: Callable[[Any], object]) -> Callable[[], None]:
    def run() -> None:
        for _ in range(CALLS_PER_RUN):
            action(next(items))

    return run


def record_single(stage: Stage, runs: int) -> list[Figure]:
    """One message per call into a new conversation: chatledger, raw INSERT, add_message."""
    messages = list(conversation((runs + 1) * CALLS_PER_RUN, "single"))
    theirs = [langchain_message(m) for m in messages]  # built before timing, like ours
    raw = RawWriter(stage.raw, "single-raw")
    langchain = stage.peer_conversation("single-langchain")
    samples = side_by_side(
        {
            "chatledger": _each(iter(messages), lambda m: stage.ledger.record("single", m)),
            "raw": _each(iter(messages), raw.insert),
            "langchain": _each(iter(theirs), langchain.history.add_message),
        },
        dict.fromkeys(("chatledger", "raw", "langchain"), runs),
        operations=CALLS_PER_RUN,
    )
    label = "record, 1 message per call"
    return [
        Figure.latency(("record_single", label, peer), samples["chatledger"], samples[key])
        for key, peer in (("raw", "raw INSERT; COMMIT"), ("langchain", "LangChain add_message"))
    ]


def record_turn(stage: Stage, runs: int) -> list[Figure]:
    """A whole turn (user, assistant with 2 tool calls, 2 results, assistant) per call."""
    rng = random.Random("turns")
    turns = [tool_turn(rng, f"turn-{i}") for i in range(runs + 1)]
    ours, raws = iter(turns), iter(turns)
    theirs = iter([[langchain_message(m) for m in turn] for turn in turns])
    raw = RawWriter(stage.raw, "turn-raw")
    langchain = stage.peer_conversation("turn-langchain")
    samples = side_by_side(
        {
            "chatledger": lambda: stage.ledger.record("turn", next(ours)),
            "raw": lambda: raw.insert_many(next(raws)),
            "langchain": lambda: langchain.add(next(theirs)),
        },
        dict.fromkeys(("chatledger", "raw", "langchain"), runs),
    )
    label = "record a whole turn (5 messages)"
    return [
        Figure.latency(("record_turn", label, peer), samples["chatledger"], samples[key])
        for key, peer in (
            ("raw", "raw INSERT x5; COMMIT"),
            ("langchain", "LangChain add_messages"),
        )
    ]


def record_writers(
    stage: Stage, writers: int, messages: int, rounds: int
) -> tuple[list[Figure], dict[str, Any]]:
    """Total messages/s of 1 and of ``writers`` processes, each on its own conversation.

    Also times the ledger on the library's own recorder, and raw inserts that take one
    shared advisory lock (chatledger's insert lock alone); records each kind's client CPU
    per message; and samples, in one extra round per kind, what the writers' backends wait on.
    """
    database = stage.database
    figures: list[Figure] = []
    waits: dict[str, Any] = {}
    what_if: dict[str, float] = {}
    scaling: dict[str, dict[str, float]] = {}
    client_cpu: dict[str, dict[str, float]] = {}

    def tasks(kind: str, count: int, round_: str) -> list[WriterTask]:
        return [
            WriterTask(
                kind,
                database.ledger_url,
                database.conninfo,
                database.schema,
                f"w{count}-{round_}-{kind}-{i}",
                messages,
            )
            for i in range(count)
        ]

    for count in sorted({1, *SCALING_WRITERS, writers}):
        # In between, no library recorder: how throughput moves with the writer count.
        kinds = ["chatledger", "raw", RAW_LOCKED_KIND]
        if count in (1, writers):
            kinds.append(LIBRARY_RECORDER_KIND)
        rates: dict[str, list[Round]] = {kind: [] for kind in kinds}
        with Writers(count) as pool:
            for round_ in range(rounds):
                for kind, measured in rates.items():
                    measured.append(pool.round(tasks(kind, count, str(round_))))
            if count == writers:
                for kind in rates:
                    with WaitSampler(database.conninfo) as sampler:
                        pool.round(tasks(kind, count, "sampled"))
                    waits[kind] = sampler.shares()
        scaling[str(count)] = {kind: median_rate(rates[kind]) for kind in kinds}
        client_cpu[str(count)] = {kind: median_client_cpu(rates[kind]) * 1e3 for kind in kinds}
        if count not in (1, writers):
            continue
        what_if[f"{count} writers, msg/s"] = scaling[str(count)][LIBRARY_RECORDER_KIND]
        plural = "s" * (count > 1)
        figures.append(
            Figure(
                f"record_writers_{count}",
                f"record, {count} writer{plural} (total, 1 msg/call)",
                "msg/s",
                median_rate(rates["chatledger"]),
                f"raw INSERT; COMMIT, {count} writer{plural}",
                median_rate(rates["raw"]),
                runs=rounds,
                peer_runs=rounds,
                note=f"{count} processes x {messages} messages, own conversation each",
            )
        )
    return figures, {
        "writer_waits": waits,
        "what_if_library_recorder_writers": what_if,
        "writers_scaling_msg_per_s": scaling,
        "writers_client_cpu_ms_per_msg": client_cpu,
    }


def record_single_what_if(stage: Stage, runs: int) -> dict[str, Any]:
    """record() as it is beside record() on eventsourcing's own recorder, 1 writer."""
    messages = list(conversation((runs + 1) * CALLS_PER_RUN, "what-if"))
    with ledger_with_library_recorder(stage.database.ledger_url, stage.counter) as variant:
        samples = side_by_side(
            {
                "as shipped": _each(iter(messages), lambda m: stage.ledger.record("as-is", m)),
                "library recorder": _each(iter(messages), lambda m: variant.record("what-if", m)),
            },
            {"as shipped": runs, "library recorder": runs},
            operations=CALLS_PER_RUN,
        )
    return {
        name: {"ms per call": sample.median * 1e3, "client cpu ms per call": sample.cpu * 1e3}
        for name, sample in samples.items()
    }
