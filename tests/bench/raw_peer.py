"""The physical floor: one plain row per message, INSERT then COMMIT, and a plain SELECT."""

from __future__ import annotations

from collections.abc import Sequence

import psycopg
from psycopg import sql

from chatledger.domain import Message

TABLE = "bench_raw_messages"
_CREATE = sql.SQL(
    "CREATE TABLE IF NOT EXISTS {} (conversation_id text NOT NULL, position bigint NOT NULL, "
    "state bytea NOT NULL, PRIMARY KEY (conversation_id, position))"
).format(sql.Identifier(TABLE))
_INSERT = sql.SQL("INSERT INTO {} (conversation_id, position, state) VALUES (%s, %s, %s)").format(
    sql.Identifier(TABLE)
)
GLOBAL_LOCK_KEY = 4242
"""The one advisory-lock key every locked raw writer takes, as chatledger's writers share one."""
_LOCKED_INSERT = sql.SQL(
    "WITH serialised AS MATERIALIZED (SELECT pg_advisory_xact_lock({})) "
    "INSERT INTO {} (conversation_id, position, state) SELECT %s, %s, %s FROM serialised"
).format(sql.Literal(GLOBAL_LOCK_KEY), sql.Identifier(TABLE))

Connection = psycopg.Connection[tuple[object, ...]]


def create_table(conn: Connection) -> None:
    """A table shaped like an event store's: (conversation, position) -> bytes."""
    conn.execute(_CREATE)
    conn.commit()


class RawWriter:
    """Appends a conversation's messages as rows, each call its own transaction."""

    def __init__(
        self, conn: Connection, conversation_id: str, *, global_lock: bool = False
    ) -> None:
        self._conn = conn
        self._conversation_id = conversation_id
        self._position = 0
        # With global_lock, each insert first takes one advisory lock shared by all writers
        # and holds it through its COMMIT: chatledger's insert lock, and nothing else of it.
        self._insert = _LOCKED_INSERT if global_lock else _INSERT

    def insert(self, message: Message) -> None:
        """INSERT one row, then COMMIT."""
        self._position += 1
        self._conn.execute(
            self._insert,
            (self._conversation_id, self._position, message.model_dump_json().encode()),
            prepare=True,
        )
        self._conn.commit()

    def insert_many(self, messages: Sequence[Message]) -> None:
        """INSERT one row per message, then one COMMIT."""
        rows = []
        for message in messages:
            self._position += 1
            rows.append((self._conversation_id, self._position, message.model_dump_json().encode()))
        with self._conn.cursor() as cursor:
            cursor.executemany(_INSERT, rows)
        self._conn.commit()


def select_rows(conn: Connection, table: str, originator_id: str) -> int:
    """Read every stored event row of one stream with a plain SELECT; return how many."""
    query = sql.SQL(
        "SELECT originator_version, topic, state FROM {} WHERE originator_id = %s "
        "ORDER BY originator_version"
    ).format(sql.Identifier(table))
    rows = conn.execute(query, (originator_id,), prepare=True).fetchall()
    conn.commit()
    return len(rows)
