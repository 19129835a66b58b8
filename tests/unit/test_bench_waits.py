"""The writers' wait sampler counts working backends only, not a pool's spare connections."""

from __future__ import annotations

from collections import Counter

from tests.bench.writers import WaitSampler


def test_backends_idle_in_every_sample_are_left_out_of_the_shares() -> None:
    sampler = WaitSampler("postgresql://unused")
    sampler.samples = {
        1: Counter({"Lock:advisory": 3, "idle": 1}),
        2: Counter({"IO:WALSync": 1, "idle": 3}),
        3: Counter({"idle": 40}),  # a spare pool connection
    }

    assert sampler.shares() == {"idle": 0.5, "Lock:advisory": 0.375, "IO:WALSync": 0.125}


def test_no_working_backend_gives_no_shares() -> None:
    sampler = WaitSampler("postgresql://unused")
    sampler.samples = {7: Counter({"idle": 5})}

    assert sampler.shares() == {}
