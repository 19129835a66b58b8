"""Token buckets: refilled over time, bounded in memory, whatever keys clients invent."""

from __future__ import annotations

import pytest

from chatledger.domain import InvalidInput
from chatledger.infrastructure.entrypoints.http.rate_limits import RateLimits, TokenBuckets


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_lends_its_capacity_then_says_how_long_to_wait() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(3, per_second=0.5, clock=clock)

    taken = [buckets.take("a") for _ in range(4)]

    assert taken == [0.0, 0.0, 0.0, 2.0]


def test_a_bucket_refills_at_its_rate_up_to_its_capacity() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(2, per_second=1, clock=clock)
    buckets.take("a")
    buckets.take("a")

    clock.now += 1.5
    after_refill = [buckets.take("a"), buckets.take("a")]
    clock.now += 3600
    after_an_hour = [buckets.take("a") for _ in range(3)]

    assert after_refill == [0.0, pytest.approx(0.5)]
    assert after_an_hour == [0.0, 0.0, pytest.approx(1.0)]


def test_a_token_given_back_is_there_again() -> None:
    buckets = TokenBuckets(1, per_second=0.001, clock=FakeClock())

    buckets.take("a")
    buckets.give_back("a")

    assert buckets.take("a") == 0.0


def test_buckets_are_bounded_whatever_keys_arrive() -> None:
    buckets = TokenBuckets(1, per_second=1, max_keys=100, clock=FakeClock())

    for n in range(10_000):
        buckets.take(f"client:{n}")

    assert len(buckets) == 100


def test_the_least_recently_used_bucket_is_forgotten_first() -> None:
    buckets = TokenBuckets(1, per_second=0.001, max_keys=2, clock=FakeClock())
    buckets.take("kept")
    buckets.take("forgotten")

    buckets.take("kept")  # used again: the other is now the least recent
    buckets.take("new")

    assert buckets.take("kept") > 0
    assert buckets.take("forgotten") == 0.0


@pytest.mark.parametrize("limit", [0, -1, True])
def test_a_limit_must_be_a_positive_integer(limit: int) -> None:
    with pytest.raises(InvalidInput, match="positive integer"):
        RateLimits(writes_per_second=limit)
