"""Long reads in pages: exact consecutive ranges, fetched ahead in a worker thread."""

from __future__ import annotations

import itertools
import threading

import pytest

from chatledger.infrastructure.storage.read_ahead import (
    FIRST_PAGE,
    MAX_PAGE,
    page_ranges,
    read_ahead,
)


def test_pages_cover_the_range_exactly_doubling_up_to_the_largest_page() -> None:
    ranges = list(page_ranges(5, 5 + 40_000))

    assert ranges[0] == (5, 5 + FIRST_PAGE)
    assert all(low == previous[1] for previous, (low, _) in itertools.pairwise(ranges))
    assert ranges[-1][1] == 5 + 40_000
    sizes = [high - low for low, high in ranges]
    assert sizes[:4] == [FIRST_PAGE, 2 * FIRST_PAGE, 4 * FIRST_PAGE, MAX_PAGE]
    assert max(sizes) == MAX_PAGE


@pytest.mark.parametrize(("gt", "lte"), [(7, 7), (9, 3)])
def test_an_empty_range_has_no_pages(gt: int, lte: int) -> None:
    assert list(page_ranges(gt, lte)) == []
    assert list(read_ahead(lambda low, high: (low, high), gt, lte)) == []


def test_pages_come_in_order_and_each_is_what_its_fetch_returned() -> None:
    pages = list(read_ahead(lambda low, high: list(range(low + 1, high + 1)), 0, 10_000))

    assert [row for page in pages for row in page] == list(range(1, 10_001))


def test_the_next_page_is_fetched_while_the_caller_holds_the_one_before() -> None:
    second_fetched = threading.Event()
    caller = threading.get_ident()
    fetched_in: list[int] = []

    def fetch(low: int, high: int) -> tuple[int, int]:
        fetched_in.append(threading.get_ident())
        if low == FIRST_PAGE:
            second_fetched.set()
        return low, high

    pages = read_ahead(fetch, 0, 3 * FIRST_PAGE)
    first = next(pages)
    # Nothing more is asked of the generator: the second fetch runs on its own.
    overlapped = second_fetched.wait(timeout=10)
    rest = list(pages)

    assert first == (0, FIRST_PAGE)
    assert overlapped
    assert rest == [(FIRST_PAGE, 3 * FIRST_PAGE)]
    assert caller not in fetched_in


def test_a_failed_fetch_reaches_the_caller_at_its_page() -> None:
    def fetch(low: int, high: int) -> int:
        if low > 0:
            raise LookupError(f"page from {low} is gone")
        return high

    pages = read_ahead(fetch, 0, 5 * FIRST_PAGE)

    assert next(pages) == FIRST_PAGE
    with pytest.raises(LookupError, match=f"page from {FIRST_PAGE} is gone"):
        next(pages)


def test_a_caller_that_stops_early_leaves_no_worker_running() -> None:
    before = threading.active_count()
    pages = read_ahead(lambda low, high: high, 0, 20 * FIRST_PAGE)

    next(pages)
    pages.close()

    assert threading.active_count() == before
