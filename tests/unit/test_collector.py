"""The collector pause used by long history reads: shared, nested, and always undone."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from chatledger.infrastructure.storage.collector import collector_paused


@pytest.fixture(autouse=True)
def _collector_restored() -> Iterator[None]:
    was_enabled = gc.isenabled()
    yield
    if was_enabled:
        gc.enable()
    else:
        gc.disable()


def test_the_collector_is_paused_inside_and_back_on_after() -> None:
    gc.enable()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_nested_pauses_resume_only_when_the_outermost_ends() -> None:
    gc.enable()
    with collector_paused():
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_collector_turned_off_by_the_process_stays_off() -> None:
    gc.disable()
    with collector_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_an_error_inside_still_resumes_the_collector() -> None:
    gc.enable()
    with pytest.raises(RuntimeError, match="read failed"), collector_paused():
        raise RuntimeError("read failed")
    assert gc.isenabled()


def test_overlapping_pauses_on_threads_resume_when_the_last_ends() -> None:
    gc.enable()
    inside, release = threading.Event(), threading.Event()
    seen: list[bool] = []

    def other_read() -> None:
        with collector_paused():
            inside.set()
            release.wait(5)
        seen.append(gc.isenabled())

    thread = threading.Thread(target=other_read)
    with collector_paused():
        thread.start()
        assert inside.wait(5)
    # This thread's pause ended first; the other is still reading.
    assert not gc.isenabled()
    release.set()
    thread.join(5)
    assert seen == [True]
    assert gc.isenabled()
