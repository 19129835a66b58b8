"""Our recorders: the library's, saving attachments with the events; PostgreSQL's in one
round trip per save."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.popo import POPOApplicationRecorder
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.sqlite import SQLiteApplicationRecorder
from eventsourcing.utils import retry
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Composed, Identifier, Literal

from chatledger.infrastructure.storage.attachments import AttachmentStore, SealedAttachment

MAX_VALUES_ROWS = 1000
"""Saves up to this many events are sent as a VALUES list; larger ones as one array."""

MAX_PREPARED_ROWS = 16
"""Statements for saves up to this size are prepared on the server; a turn is a few rows."""


class SavesAttachments:
    """A recorder that stores a save's attachment rows (the ``attachments`` keyword of
    ``insert_events``) in the same transaction as its events: all of them, or none."""

    attachments: AttachmentStore | None = None
    """Where the rows go; the application sets it once the store exists."""

    def _store(self) -> AttachmentStore:
        if self.attachments is None:
            raise AssertionError("a save brought attachments to a recorder without a store")
        return self.attachments


class MemoryRecorder(SavesAttachments, POPOApplicationRecorder):
    """The library's in-memory recorder, keeping a save's attachments under its lock."""

    def _update_table(
        self,
        stored_events: Sequence[StoredEvent],
        *,
        attachments: Sequence[SealedAttachment] = (),
        **kwargs: Any,
    ) -> Sequence[int] | None:
        # Called under the recorder's lock once every event was found new: nothing can fail
        # between the events and the rows.
        ids = super()._update_table(stored_events, **kwargs)
        if attachments:
            self._store().insert(None, attachments)
        return ids


class SQLiteRecorder(SavesAttachments, SQLiteApplicationRecorder):
    """The library's SQLite recorder, inserting a save's attachments in its transaction."""

    def _insert_events(
        self,
        c: Any,
        stored_events: Sequence[StoredEvent],
        *,
        attachments: Sequence[SealedAttachment] = (),
        **kwargs: Any,
    ) -> Sequence[int] | None:
        # The events first: a save that clashes fails before it writes any bytes.
        ids = super()._insert_events(c, stored_events, **kwargs)
        if attachments:
            self._store().insert(c, attachments)
        return ids


class PostgresRecorder(SavesAttachments, PostgresApplicationRecorder):
    """Inserts a save's events with one autocommitted statement that serialises writers.

    The library's recorder sends BEGIN, SET LOCAL lock_timeout, LOCK TABLE ... IN EXCLUSIVE
    MODE, NOTIFY, the INSERT and COMMIT through psycopg's pipeline. The table lock is there
    so that notification ids commit in the order they are issued: a reader tailing the
    notification log never passes a gap that a slower transaction fills in later.

    This recorder keeps that guarantee with a transaction-level advisory lock on a key derived
    from the table's name, taken in the same statement before any notification id is drawn
    and held until the statement's transaction commits. Every writer of the table goes
    through this class (the PostgreSQL backend names it for every ledger), so writers
    are serialised exactly as the table lock serialised them, and listeners are still woken by
    ``pg_notify``. What changes is the cost: one statement, one round trip, no pipeline.
    The benchmark measures both protocols (tests/bench/RESULTS.md).

    One statement also cures a hang seen with the library's pipeline: a save of 600 KB to
    1 MB sent over a Unix socket blocked forever in ``sync()``.
    """

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name=events_table_name)
        self.insert_lock_key = advisory_lock_key(f"{datastore.schema}.{events_table_name}")
        self._insert_prefix = SQL(
            "WITH serialised AS MATERIALIZED ("
            "SELECT pg_advisory_xact_lock({key}), pg_notify({channel}, '')) "
            "INSERT INTO {schema}.{table} AS t (originator_id, originator_version, topic, state) "
            "SELECT e.originator_id, e.originator_version, e.topic, e.state FROM serialised, "
        ).format(
            key=Literal(self.insert_lock_key),
            channel=Literal(self.channel_name),
            schema=Identifier(datastore.schema),
            table=Identifier(events_table_name),
        )
        self._insert_unnest = self._insert_prefix + SQL(
            "unnest(%s::{schema}.{stored_event_type}[]) AS e RETURNING notification_id"
        ).format(
            schema=Identifier(datastore.schema),
            stored_event_type=Identifier(self.stored_event_type_name),
        )
        self._insert_values: dict[int, bytes] = {}
        self._select_statements: dict[tuple[bool, bool, bool, bool], bytes] = {}

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        """One stream's events in a version range, as the library selects them, but cheaper.

        The library composes the statement on every call and reads every column as a dict;
        here each statement is rendered once and rows come as tuples of the three columns
        needed, which measured faster on a whole-history read. Rows come in PostgreSQL's
        binary format, so a payload travels as its bytes rather than as hex text of twice the
        size that the client must decode, which measured faster again than the text format
        (see the benchmark results).
        """
        shape = (gt is not None, lte is not None, desc, limit is not None)
        statement = self._select_statements.get(shape) or self._select_statement(shape)
        params = [originator_id, *(value for value in (gt, lte, limit) if value is not None)]
        with (
            self.datastore.get_connection() as conn,
            conn.cursor(row_factory=tuple_row, binary=True) as curs,
        ):
            curs.execute(statement, params, prepare=True)
            return [
                StoredEvent(originator_id, version, topic, state)
                for version, topic, state in curs.fetchall()
            ]

    def _select_statement(self, shape: tuple[bool, bool, bool, bool]) -> bytes:
        has_gt, has_lte, desc, has_limit = shape
        statement = SQL(
            "SELECT originator_version, topic, state FROM {schema}.{table} WHERE originator_id = %s"
        ).format(schema=Identifier(self.datastore.schema), table=Identifier(self.events_table_name))
        if has_gt:
            statement += SQL(" AND originator_version > %s")
        if has_lte:
            statement += SQL(" AND originator_version <= %s")
        statement += SQL(
            " ORDER BY originator_version DESC" if desc else " ORDER BY originator_version"
        )
        if has_limit:
            statement += SQL(" LIMIT %s")
        rendered = self._select_statements[shape] = statement.as_bytes(None)
        return rendered

    def _values_statement(self, rows: int) -> bytes:
        """The insert for ``rows`` rows as a VALUES list, rendered once per row count."""
        statement = self._insert_values.get(rows)
        if statement is None:
            values = SQL(", ").join([SQL("(%s, %s::bigint, %s, %s::bytea)")] * rows)
            composed = self._insert_prefix + SQL(
                "(VALUES {}) AS e (originator_id, originator_version, topic, state) "
                "RETURNING notification_id"
            ).format(values)
            statement = self._insert_values[rows] = composed.as_bytes(None)
        return statement

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self,
        stored_events: Sequence[StoredEvent],
        *,
        attachments: Sequence[SealedAttachment] = (),
        **kwargs: Any,
    ) -> Sequence[int] | None:
        """Insert events atomically, with the save's attachment rows; return their
        notification ids, in order."""
        if not stored_events:
            return None
        # A VALUES list measured faster than unnest() of an array for the small saves that
        # are the norm (see the benchmark results); huge saves (imports) keep the array,
        # under the parameter limit.
        statement: bytes | Composed
        if len(stored_events) <= MAX_VALUES_ROWS:
            statement = self._values_statement(len(stored_events))
            params: list[Any] = []
            for event in stored_events:
                params += (
                    event.originator_id,
                    event.originator_version,
                    event.topic,
                    event.state,
                )
        else:
            statement = self._insert_unnest
            params = [
                [
                    self.construct_pg_stored_event(
                        event.originator_id, event.originator_version, event.topic, event.state
                    )
                    for event in stored_events
                ]
            ]
        prepare = len(stored_events) <= MAX_PREPARED_ROWS
        if attachments:
            # One transaction: the rows first, so the advisory lock that serialises every
            # writer is taken only after the bytes were sent, and held only to the commit.
            with self.datastore.transaction(commit=True) as curs:
                self._store().insert(curs, attachments)
                curs.execute(statement, params, prepare=prepare)
                return [row["notification_id"] for row in curs.fetchall()]
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            # Autocommit: the statement is its own transaction, so the advisory lock is
            # released by the commit itself, after the ids are durable and visible.
            assert conn.autocommit
            curs.execute(statement, params, prepare=prepare)
            return [row["notification_id"] for row in curs.fetchall()]


def advisory_lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for ``name`` (PostgreSQL's bigint range)."""
    digest = hashlib.sha256(f"chatledger insert {name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)
