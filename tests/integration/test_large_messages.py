"""Large messages are stored without hanging, over TCP and over a Unix socket."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from chatledger.domain import Message
from chatledger.infrastructure import ChatLedger
from tests.fakes import FakeTokenCounter

LARGEST = "é" * (512 * 1024)  # exactly the default 1 MiB limit, two bytes a character


@pytest.fixture(scope="module")
def unix_socket_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A throwaway PostgreSQL reached over its Unix socket (pgserver listens on no TCP port)."""
    from pgserver import get_server  # type: ignore[attr-defined]  # pgserver re-exports it untyped

    server = get_server(tmp_path_factory.mktemp("socket-pg"), cleanup_mode="stop")
    try:
        yield str(server.get_uri())
    finally:
        server.cleanup()


def finishes_within(seconds: float, work: Callable[[], object]) -> bool:
    """Run ``work`` in a thread; False if it is still running after ``seconds`` (a hang)."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:  # re-raised below, in the test's thread
            failure.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if failure:
        raise failure[0]
    return not thread.is_alive()


@pytest.mark.postgres
def test_a_one_mebibyte_message_over_a_unix_socket_is_stored(unix_socket_url: str) -> None:
    with ChatLedger.open(unix_socket_url, FakeTokenCounter()) as ledger:
        assert finishes_within(
            60, lambda: ledger.record("big", Message(role="user", content=LARGEST))
        )

        assert ledger.history("big").messages[0].content == LARGEST


@pytest.mark.postgres
def test_a_batch_of_large_messages_over_a_unix_socket_is_stored(unix_socket_url: str) -> None:
    batch = [Message(role="user", content="x" * 200_000) for _ in range(10)]
    with ChatLedger.open(unix_socket_url, FakeTokenCounter()) as ledger:
        assert finishes_within(60, lambda: ledger.record("batch", batch))

        assert ledger.version("batch") == 10


@pytest.mark.postgres
def test_a_one_mebibyte_message_over_tcp_is_stored(postgres_url: str) -> None:
    with ChatLedger.open(postgres_url, FakeTokenCounter()) as ledger:
        assert finishes_within(
            60, lambda: ledger.record("big", Message(role="user", content=LARGEST))
        )

        assert ledger.history("big").messages[0].content == LARGEST


def test_a_one_mebibyte_message_in_sqlite_is_stored(tmp_path: Path) -> None:
    with ChatLedger.open(f"sqlite:///{tmp_path / 'big.db'}", FakeTokenCounter()) as ledger:
        ledger.record("big", Message(role="user", content=LARGEST))

        assert ledger.history("big").messages[0].content == LARGEST
