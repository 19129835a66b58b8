"""Tamper evidence against real rows: alter, insert, delete, reorder; SQLite and PostgreSQL."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from chatledger.domain import InvalidInput, Message
from chatledger.infrastructure import ChatLedger
from tests.fakes import FakeTokenCounter

CONV = "conv-audit"


class RawRows:
    """Direct SQL on the events table, as someone with write access to the database would."""

    def __init__(self, url: str) -> None:
        self.url = url
        if url.startswith("sqlite"):
            self.path: Path | None = Path(url[len("sqlite:///") :])
            self.table, self.p = "stored_events", "?"
        else:
            self.path = None
            server, _, schema = url.rpartition("schema=")
            self.server = server.rstrip("?&")
            self.table, self.p = f"{schema}.chatledger_events", "%s"

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        if self.path is not None:
            with sqlite3.connect(self.path) as conn:
                return conn.execute(sql, params).fetchall()
        with psycopg.connect(self.server, autocommit=True) as conn:
            cursor = conn.execute(sql.encode(), params)
            return cursor.fetchall() if cursor.description else []

    def row(self, version: int) -> tuple[str, bytes]:
        (topic, state), *_ = self.execute(
            f"SELECT topic, state FROM {self.table} "
            f"WHERE originator_id = {self.p} AND originator_version = {self.p}",
            (CONV, version),
        )
        return topic, bytes(state)

    def set_state(self, version: int, state: bytes) -> None:
        self.execute(
            f"UPDATE {self.table} SET state = {self.p} "
            f"WHERE originator_id = {self.p} AND originator_version = {self.p}",
            (state, CONV, version),
        )

    def delete(self, version: int) -> None:
        self.execute(
            f"DELETE FROM {self.table} "
            f"WHERE originator_id = {self.p} AND originator_version = {self.p}",
            (CONV, version),
        )

    def insert(self, version: int, topic: str, state: bytes) -> None:
        self.execute(
            f"INSERT INTO {self.table} (originator_id, originator_version, topic, state) "
            f"VALUES ({self.p}, {self.p}, {self.p}, {self.p})",
            (CONV, version, topic, state),
        )


class StreamRows(RawRows):
    """Direct SQL on the rows of one side stream (summaries', memory changes'), by number."""

    def __init__(self, url: str, stream: str) -> None:
        super().__init__(url)
        self.stream = stream

    def data(self, number: int) -> dict[str, Any]:
        (state,) = self.execute(
            f"SELECT state FROM {self.table} "
            f"WHERE originator_id = {self.p} AND originator_version = {self.p}",
            (self.stream, number),
        )[0]
        data: dict[str, Any] = json.loads(bytes(state))
        return data

    def set_data(self, number: int, data: dict[str, Any]) -> None:
        self.execute(
            f"UPDATE {self.table} SET state = {self.p} "
            f"WHERE originator_id = {self.p} AND originator_version = {self.p}",
            (json.dumps(data).encode(), self.stream, number),
        )

    def delete_number(self, number: int) -> None:
        self.execute(
            f"DELETE FROM {self.table} "
            f"WHERE originator_id = {self.p} AND originator_version = {self.p}",
            (self.stream, number),
        )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def stored(request: pytest.FixtureRequest) -> Iterator[tuple[ChatLedger, RawRows]]:
    """A ledger holding five messages in CONV (event versions 2..6), and raw access to its rows."""
    url = str(request.getfixturevalue(f"{request.param}_url"))
    with ChatLedger.open(url, FakeTokenCounter()) as ledger:
        ledger.record(CONV, [Message(role="user", content=f"message {i}") for i in range(1, 6)])
        yield ledger, RawRows(url)


def break_positions(ledger: ChatLedger) -> list[int]:
    result = ledger.verify(CONV)
    assert not result.intact
    return [b.position for b in result.breaks]


def test_an_untouched_conversation_verifies(stored: tuple[ChatLedger, RawRows]) -> None:
    ledger, _ = stored

    result = ledger.verify(CONV)

    assert (result.intact, result.length) == (True, 5)


def test_an_altered_row_is_reported_at_its_position(stored: tuple[ChatLedger, RawRows]) -> None:
    ledger, raw = stored
    _, state = raw.row(4)
    data = json.loads(state)
    data["tokens"] = 999
    raw.set_state(4, json.dumps(data).encode())

    assert break_positions(ledger) == [3]


def test_altered_ciphertext_is_reported_at_its_position(stored: tuple[ChatLedger, RawRows]) -> None:
    ledger, raw = stored
    _, state = raw.row(3)
    data = json.loads(state)
    sealed = data["message"]["sealed"]
    data["message"]["sealed"] = sealed[:20] + ("A" if sealed[20] != "A" else "B") + sealed[21:]
    raw.set_state(3, json.dumps(data).encode())

    assert break_positions(ledger) == [2]


def test_an_inserted_row_is_reported_at_its_position(stored: tuple[ChatLedger, RawRows]) -> None:
    ledger, raw = stored
    topic, state = raw.row(3)
    raw.insert(7, topic, state)

    assert break_positions(ledger) == [6]


def test_a_deleted_row_is_reported_where_it_is_missing(stored: tuple[ChatLedger, RawRows]) -> None:
    ledger, raw = stored
    raw.delete(3)

    assert break_positions(ledger)[0] == 2


def test_reordered_rows_are_reported_at_both_positions(stored: tuple[ChatLedger, RawRows]) -> None:
    ledger, raw = stored
    _, second = raw.row(3)
    _, fourth = raw.row(5)
    raw.set_state(3, fourth)
    raw.set_state(5, second)

    # Both moved rows fail to open where they now stand, and the row after each no longer
    # follows the link before it.
    assert break_positions(ledger) == [2, 3, 4, 5]


def test_a_rewritten_tail_with_a_valid_chain_is_caught_by_the_checkpoint(
    stored: tuple[ChatLedger, RawRows],
) -> None:
    ledger, raw = stored
    saved = ledger.checkpoint()
    raw.delete(6)  # dropping the newest message leaves a chain that is valid on its own

    assert ledger.verify(CONV).intact
    assert [(b.conversation_id, b.position) for b in ledger.compare_checkpoint(saved)] == [
        (CONV, 5)
    ]


def test_a_checkpoint_whose_row_was_made_unreadable_reports_a_break(
    stored: tuple[ChatLedger, RawRows],
) -> None:
    ledger, raw = stored
    saved = ledger.checkpoint()
    raw.set_state(6, b"not json")

    assert [(b.conversation_id, b.position) for b in ledger.compare_checkpoint(saved)] == [
        (CONV, 5)
    ]


@pytest.mark.parametrize(
    ("saved", "field"),
    [
        ({"format": "something/else", "heads": {}}, "checkpoint"),
        ({"format": "chatledger-checkpoint/1", "heads": []}, "checkpoint.heads"),
        (
            {"format": "chatledger-checkpoint/1", "heads": {CONV: {"head": "x"}}},
            f"checkpoint.heads.{CONV}",
        ),
    ],
    ids=["another-format", "heads-not-a-map", "head-without-length"],
)
def test_what_is_not_a_checkpoint_is_invalid_input_naming_what_is_wrong(
    stored: tuple[ChatLedger, RawRows], saved: dict[str, Any], field: str
) -> None:
    ledger, _ = stored

    with pytest.raises(InvalidInput) as raised:
        ledger.compare_checkpoint(saved)

    assert raised.value.field == field
