"""Medians of repeated runs, timed side by side so every subject sees the same machine."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Sample:
    """Seconds per operation: the median and the 95th percentile of ``runs`` timed runs.

    ``cpu`` is the median of this process's CPU time per operation: the client's own work, as
    opposed to waiting on the server.
    """

    median: float
    p95: float
    runs: int
    cpu: float


def summarise(seconds: list[float], cpu: list[float]) -> Sample:
    """The sample of these per-operation timings."""
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return Sample(
        median=statistics.median(ordered), p95=p95, runs=len(ordered), cpu=statistics.median(cpu)
    )


def side_by_side(
    subjects: Mapping[str, Callable[[], object]],
    runs: Mapping[str, int],
    *,
    operations: int = 1,
) -> dict[str, Sample]:
    """Time each subject ``runs[name]`` times, interleaved round by round, after one warm-up.

    Each call performs ``operations`` operations; samples are per operation.
    """
    timings: dict[str, list[float]] = {name: [] for name in subjects}
    cpu: dict[str, list[float]] = {name: [] for name in subjects}
    for call in subjects.values():
        call()
    for round_ in range(max(runs.values(), default=0)):
        for name, call in subjects.items():
            if round_ >= runs[name]:
                continue
            started, cpu_started = time.perf_counter(), time.process_time()
            call()
            timings[name].append((time.perf_counter() - started) / operations)
            cpu[name].append((time.process_time() - cpu_started) / operations)
    return {name: summarise(timings[name], cpu[name]) for name in subjects}
