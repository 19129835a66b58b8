"""SQL tables of our own beside the events: the key directory, attachments, tenants and sessions."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import IntegrityError


@dataclass(frozen=True)
class SQLTables:
    """How to reach the ledger's SQL database: transactions, placeholders, table names."""

    transaction: Callable[[], AbstractContextManager[Any]]
    placeholder: str
    prefix: str
    """Put before a table's name: the schema on PostgreSQL."""
    blob_type: str
    byte_order: str = ""
    """Put after a text column to compare it byte by byte, whatever the collation."""
    binary: bool = False
    """Whether the driver can send and fetch bytes in binary form (PostgreSQL's), which
    spares large values an encoding to text and back."""

    @property
    def blob_placeholder(self) -> str:
        """The placeholder of a bytes parameter: binary where the driver has one."""
        return "%b" if self.binary else self.placeholder

    @property
    def binary_results(self) -> dict[str, Any]:
        """Keywords to ``execute`` that fetch results in binary form, where the driver can."""
        return {"binary": True} if self.binary else {}

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
