"""Long reads in pages, each page fetched while the caller decodes the one before.

A whole-history read from PostgreSQL spends part of its time waiting for the server to send
rows, with the interpreter lock released, and most of it decoding them, with the lock held.
Fetching the next page in a worker thread overlaps the two. Pages are version ranges, which
are exact because a stream's versions have no holes; they double in size from a small first
page, so the first wait is short and each fetch stays shorter than the decode it hides behind.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

FIRST_PAGE = 1024
MAX_PAGE = 8192

Page = TypeVar("Page")


def page_ranges(gt: int, lte: int) -> Iterator[tuple[int, int]]:
    """Consecutive ranges (gt, lte] covering the given one, doubling up to MAX_PAGE."""
    size = FIRST_PAGE
    while gt < lte:
        upper = min(gt + size, lte)
        yield gt, upper
        gt, size = upper, min(size * 2, MAX_PAGE)


def read_ahead(fetch: Callable[[int, int], Page], gt: int, lte: int) -> Generator[Page, None, None]:
    """``fetch(gt, lte)`` of each page range in order, the next one running in a worker thread.

    If the caller stops early, the page already being fetched is waited for, then dropped.
    """
    ranges = page_ranges(gt, lte)
    first = next(ranges, None)
    if first is None:
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="chatledger-read-ahead") as pool:
        pending = pool.submit(fetch, *first)
        for following in ranges:
            page = pending.result()
            pending = pool.submit(fetch, *following)
            yield page
        yield pending.result()
