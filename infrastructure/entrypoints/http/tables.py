"""The HTTP service's own tables, beside the events in the same SQLite or PostgreSQL database."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import IntegrityError
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore

from chatledger.infrastructure.ledger import ChatLedger


@dataclass(frozen=True)
class SQLTables:
    """How to reach the ledger's database: transactions, placeholders, table names."""

    transaction: Callable[[], AbstractContextManager[Any]]
    placeholder: str
    prefix: str
    """Put before a table's name: the schema on PostgreSQL."""
    blob_type: str

    def name(self, table: str) -> str:
        """The qualified name of one of our tables."""
        return f"{self.prefix}chatledger_{table}"

    def create(self, statement: str) -> None:
        """Run a CREATE ... IF NOT EXISTS, tolerating another process doing it at once."""
        try:
            with self.transaction() as cursor:
                cursor.execute(statement)
        except IntegrityError:
            # PostgreSQL's catalogue race between two creators: the table exists now.
            with self.transaction() as cursor:
                cursor.execute(statement)


def sql_tables(ledger: ChatLedger) -> SQLTables | None:
    """The ledger's SQL database, or None for an in-memory ledger."""
    datastore = getattr(ledger.application.factory, "datastore", None)
    if isinstance(datastore, PostgresDatastore):
        return SQLTables(
            lambda: datastore.transaction(commit=True),
            placeholder="%s",
            prefix=f"{datastore.schema}.",
            blob_type="BYTEA",
        )
    if isinstance(datastore, SQLiteDatastore):
        return SQLTables(
            lambda: datastore.transaction(commit=True),
            placeholder="?",
            prefix="",
            blob_type="BLOB",
        )
    return None
