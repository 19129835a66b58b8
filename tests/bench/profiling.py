"""Where a call's time goes: a cProfile of it, summed by the library that spent it."""

from __future__ import annotations

import cProfile
import pstats
from collections import defaultdict
from collections.abc import Callable

BUCKETS = (
    ("psycopg", "PostgreSQL round trips (psycopg, incl. waiting on the server)"),
    ("tiktoken", "token counting (tiktoken)"),
    ("CoreBPE", "token counting (tiktoken)"),
    ("cryptography", "sealing (AES-GCM)"),
    ("pydantic", "pydantic (validation, dumps)"),
    ("eventsourcing", "eventsourcing library"),
    ("typing.py", "runtime Protocol isinstance checks (typing)"),
    ("json", "json"),
    ("hashlib", "sha256"),
    ("sha256", "sha256"),
    ("/domain/", "chatledger domain"),
    ("/projections/", "chatledger projections"),
    ("/infrastructure/", "chatledger infrastructure"),
)


def _bucket(filename: str, function: str) -> str:
    where = f"{filename} {function}"
    for marker, bucket in BUCKETS:
        if marker in where:
            return bucket
    return "other (stdlib, builtins)"


def breakdown(call: Callable[[], object], times: int) -> dict[str, float]:
    """Each bucket's share of the profiled time of ``times`` calls, largest first.

    The total (in seconds, per call) is under ``"seconds per call (profiled)"``.
    """
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(times):
        call()
    profile.disable()
    spent: defaultdict[str, float] = defaultdict(float)
    stats: dict[tuple[str, int, str], tuple[int, int, float, float, object]]
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]  # untyped in typeshed
    for (filename, _, function), (_, _, own, _, _) in stats.items():
        spent[_bucket(filename, function)] += own
    total = sum(spent.values()) or 1.0
    shares = {
        bucket: round(seconds / total, 4)
        for bucket, seconds in sorted(spent.items(), key=lambda item: -item[1])
    }
    return {"seconds per call (profiled)": round(total / times, 6)} | shares
