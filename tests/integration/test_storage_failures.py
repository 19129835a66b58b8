"""Whatever the database does, the ledger raises its own errors: never a driver's or the store's."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest

from chatledger.domain import Message, StorageUnavailable, UnreadableEvent
from chatledger.infrastructure import ChatLedger
from chatledger.projections import MessageWindow
from tests.fakes import FakeTokenCounter

CLOSED_PORT_URL = "postgresql://postgres:s3cret-pw@127.0.0.1:1/test?connect_timeout=1"
"""Port 1 on loopback: nothing listens there, so every connection is refused at once."""


def open_ledger(url: str) -> ChatLedger:
    return ChatLedger.open(url, token_counter=FakeTokenCounter())


def test_opening_postgresql_on_a_closed_port_raises_storage_unavailable_naming_host_and_port() -> (
    None
):
    with pytest.raises(StorageUnavailable) as raised:
        open_ledger(CLOSED_PORT_URL)

    assert raised.value.backend == "postgresql"
    assert raised.value.location == "127.0.0.1:1/test"
    assert "127.0.0.1:1" in str(raised.value)


def test_storage_unavailable_never_shows_the_password() -> None:
    with pytest.raises(StorageUnavailable) as raised:
        open_ledger(CLOSED_PORT_URL)

    assert "s3cret-pw" not in str(raised.value)
    assert "s3cret-pw" not in raised.value.cause


def test_an_unreachable_server_is_reported_after_one_connect_timeout_not_five() -> None:
    started = time.monotonic()

    with pytest.raises(StorageUnavailable):
        open_ledger(CLOSED_PORT_URL)

    assert time.monotonic() - started < 4


def test_opening_sqlite_on_a_directory_raises_storage_unavailable_naming_the_file(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "not-a-file.db"
    folder.mkdir()

    with pytest.raises(StorageUnavailable) as raised:
        open_ledger(f"sqlite:///{folder}")

    assert str(folder) in str(raised.value)


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_a_closed_ledger_raises_storage_unavailable_saying_it_was_closed(
    backend: str, request: pytest.FixtureRequest
) -> None:
    ledger = open_ledger(request.getfixturevalue(f"{backend}_url"))
    ledger.record("c1", Message(role="user", content="hello"))
    ledger.close()

    with pytest.raises(StorageUnavailable) as raised:
        ledger.history("c1")

    assert "closed" in str(raised.value)


def test_a_lazy_export_raises_storage_unavailable_while_it_is_iterated(sqlite_url: str) -> None:
    ledger = open_ledger(sqlite_url)
    ledger.record("c1", Message(role="user", content="hello"))
    lines = ledger.export()
    ledger.close()

    with pytest.raises(StorageUnavailable):
        list(lines)


def test_a_stored_row_that_does_not_decode_reads_as_an_unreadable_event(sqlite_url: str) -> None:
    with open_ledger(sqlite_url) as ledger:
        ledger.record("c1", Message(role="user", content="hello"))
        with sqlite3.connect(sqlite_url[len("sqlite:///") :]) as conn:
            conn.execute(
                "UPDATE stored_events SET state = ? WHERE originator_id = ? "
                "AND originator_version = 2",
                (b'{"not": "an event"}', "c1"),
            )

        with pytest.raises(UnreadableEvent) as raised:
            ledger.history("c1")

    assert "'c1' version 2" in str(raised.value)


def test_a_deleted_system_prompt_under_memory_is_an_unreadable_event(sqlite_url: str) -> None:
    with open_ledger(sqlite_url) as ledger:
        ledger.record(
            "c1",
            [Message(role="system", content="Be brief."), Message(role="user", content="hi")],
        )
        with sqlite3.connect(sqlite_url[len("sqlite:///") :]) as conn:
            conn.execute(
                "DELETE FROM stored_events WHERE originator_id = ? AND originator_version = 2",
                ("c1",),
            )

        with pytest.raises(UnreadableEvent) as raised:
            ledger.memory("c1", MessageWindow(max_messages=1))

    assert "position 1" in str(raised.value)


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("part", "value", "causes"),
    [
        ("user", "nosuchuser", ['role "nosuchuser" does not exist']),
        ("dbname", "nosuchdb", ['database "nosuchdb" does not exist']),
        ("port", "1", ["Connection refused", "No such file or directory"]),
    ],
)
def test_a_wrong_user_database_or_port_fails_within_3_s_naming_the_cause(
    postgres_server_url: str, part: str, value: str, causes: list[str]
) -> None:
    url = _with(postgres_server_url, part, value)
    started = time.monotonic()

    with pytest.raises(StorageUnavailable) as raised:
        ChatLedger.open(url, token_counter=FakeTokenCounter())

    assert time.monotonic() - started < 3
    assert any(cause in str(raised.value) for cause in causes), str(raised.value)


def _with(url: str, part: str, value: str) -> str:
    """``url`` with its user, database or port replaced (the port also as ?port=)."""
    parts = urlsplit(url)
    user, _, host = parts.netloc.rpartition("@")
    query = dict(parse_qsl(parts.query))
    if part == "user":
        return urlunsplit(parts._replace(netloc=f"{value}@{host}"))
    if part == "dbname":
        return urlunsplit(parts._replace(path=f"/{value}"))
    hostname = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    query.pop("port", None)
    netloc = f"{user}@{hostname}:{value}" if hostname else f"{user}@"
    if not hostname:
        query["port"] = value
    return urlunsplit(parts._replace(netloc=netloc, query=urlencode(query)))
