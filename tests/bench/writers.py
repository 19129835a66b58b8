"""Concurrent writers, one process and one conversation each, and what their backends wait on."""

from __future__ import annotations

import multiprocessing
import os
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.synchronize import Barrier
from types import TracebackType

import psycopg

from chatledger.domain import Message
from chatledger.infrastructure.ledger import ChatLedger
from tests.bench.raw_peer import RawWriter
from tests.bench.variant import ledger_with_library_recorder
from tests.bench.workload import conversation

APPLICATION_NAME = "chatledger-bench-writer"
"""Every connection a writer opens says so (PGAPPNAME), so samples see the writers alone."""
BARRIER_TIMEOUT = 300.0
LIBRARY_RECORDER_KIND = "chatledger-library-recorder"
RAW_LOCKED_KIND = "raw-global-lock"
"""Raw inserts that each hold one shared advisory lock through COMMIT, as chatledger's do."""

_barrier: Barrier | None = None


@dataclass(frozen=True)
class WriterTask:
    """One writer's work: ``messages`` single-message records into its own conversation."""

    kind: str  # "chatledger", LIBRARY_RECORDER_KIND, "raw" or RAW_LOCKED_KIND
    ledger_url: str
    conninfo: str
    schema: str
    conversation_id: str
    messages: int


def _start_writer(barrier: Barrier) -> None:
    global _barrier
    os.environ["PGAPPNAME"] = APPLICATION_NAME
    _barrier = barrier


Span = tuple[float, float, float]
"""When a writer began and ended its timed writes, and the CPU seconds its process spent."""


def _write(task: WriterTask) -> Span:
    """Warm up, wait for every writer, then record; return its span."""
    assert _barrier is not None
    try:
        return _timed_writes(task, _barrier)
    except BaseException:
        _barrier.abort()  # the others stop waiting for a writer that will never come
        raise


def _timed_writes(task: WriterTask, barrier: Barrier) -> Span:
    first, *rest = conversation(task.messages + 1, task.conversation_id)
    with _writer(task) as write:
        write(first)
        barrier.wait(BARRIER_TIMEOUT)
        started, cpu = time.monotonic(), time.process_time()
        for message in rest:
            write(message)
        return started, time.monotonic(), time.process_time() - cpu


@contextmanager
def _writer(task: WriterTask) -> Iterator[Callable[[Message], object]]:
    """What records one message into the task's conversation, the way its kind does."""
    if task.kind.startswith("chatledger"):
        opened = (
            ledger_with_library_recorder(task.ledger_url)
            if task.kind == LIBRARY_RECORDER_KIND
            else ChatLedger.open(task.ledger_url)
        )
        with opened as ledger:
            yield lambda message: ledger.record(task.conversation_id, message)
        return
    options = f"-c search_path={task.schema}"
    with psycopg.connect(task.conninfo, options=options) as conn:
        writer = RawWriter(conn, task.conversation_id, global_lock=task.kind == RAW_LOCKED_KIND)
        yield writer.insert


@dataclass(frozen=True)
class Round:
    """What one round of writers measured."""

    rate: float
    """Total messages per second, from the first writer's start to the last one's end."""
    client_cpu: float
    """CPU seconds the writer processes spent per message, all writers together."""


class Writers:
    """A pool of ``count`` writer processes that start each round together."""

    def __init__(self, count: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.count = count
        self._pool = context.Pool(
            count, initializer=_start_writer, initargs=(context.Barrier(count),)
        )

    def __enter__(self) -> Writers:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self._pool.close()
        else:
            self._pool.terminate()
        self._pool.join()

    def round(self, tasks: list[WriterTask]) -> Round:
        """Run one task per writer at once."""
        assert len(tasks) == self.count
        spans = self._pool.map(_write, tasks, chunksize=1)
        elapsed = max(end for _, end, _ in spans) - min(start for start, _, _ in spans)
        messages = sum(task.messages for task in tasks)
        return Round(messages / elapsed, sum(cpu for _, _, cpu in spans) / messages)


def median_rate(rounds: list[Round]) -> float:
    """The median of per-round throughputs."""
    return statistics.median(measured.rate for measured in rounds)


def median_client_cpu(rounds: list[Round]) -> float:
    """The median of per-round client CPU seconds per message."""
    return statistics.median(measured.client_cpu for measured in rounds)


class WaitSampler:
    """Samples, every few milliseconds, what each writer's backend is doing or waiting on.

    ``idle`` and ``idle in transaction`` mean the server waits for the client (Python);
    ``active`` ones name their wait event, or ``CPU`` when there is none. A backend seen idle
    in every sample is a spare connection of a writer's pool, not a writer: it is left out, or
    its idleness would read as time the server spent waiting for Python.
    """

    INTERVAL = 0.005

    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo
        self.samples: dict[int, Counter[str]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> WaitSampler:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        query = (
            "SELECT pid, CASE WHEN state <> 'active' THEN state "
            "ELSE coalesce(wait_event_type || ':' || wait_event, 'CPU') END "
            "FROM pg_stat_activity WHERE application_name = %s"
        )
        with psycopg.connect(self._conninfo, autocommit=True) as conn:
            while not self._stop.wait(self.INTERVAL):
                for pid, what in conn.execute(query, (APPLICATION_NAME,), prepare=True):
                    self.samples.setdefault(int(pid), Counter())[str(what)] += 1

    def shares(self) -> dict[str, float]:
        """Each state's share of the working backends' samples, largest first."""
        working: Counter[str] = Counter()
        for states in self.samples.values():
            if set(states) != {"idle"}:
                working += states
        total = sum(working.values()) or 1
        return {what: count / total for what, count in working.most_common()}
