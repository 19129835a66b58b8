"""The attachments table: the sealed bytes of large binary parts, one row a conversation's bytes.

Rows are written by the recorder, inside the transaction that stores the events of the
message that refers to them, so a failed save leaves none behind; they are read one at a time,
only when asked for, and deleted with the conversation's erasure. A row holds the bytes sealed
under the conversation's data key; its id is a keyed digest (``Sealer.attachment_id``), so
nothing in the clear confirms a guess of the bytes once that key is destroyed.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from chatledger.infrastructure.storage.keys import Purge
from chatledger.infrastructure.storage.tables import SQLTables


@dataclass(frozen=True)
class SealedAttachment:
    """One row of the attachments table."""

    conversation_id: str
    attachment_id: str
    """The keyed digest of the bytes' sha256 (``Sealer.attachment_id``)."""
    media_type: str
    size: int
    """The bytes' length before sealing."""
    sealed: bytes
    """Nonce and AES-GCM ciphertext of the bytes, bound to the conversation and the id."""


class AttachmentStore(ABC):
    """Where a backend keeps attachments: rows written within a save, read and purged by id."""

    @abstractmethod
    def insert(self, cursor: Any, rows: Sequence[SealedAttachment]) -> None:
        """Insert ``rows`` with ``cursor``, in the save's transaction; a row already there stays.

        On a backend without SQL, ``cursor`` is None and the recorder holds its lock.
        """

    @abstractmethod
    def present(self, conversation_id: str, attachment_ids: Collection[str]) -> dict[str, int]:
        """Which of ``attachment_ids`` the conversation holds, each with its size."""

    @abstractmethod
    def read(self, conversation_id: str, attachment_id: str) -> SealedAttachment | None:
        """The row, if the conversation holds it."""

    @abstractmethod
    def purge(self, conversation_id: str) -> int:
        """Delete every row of the conversation, so its bytes leave the files; return how many."""

    @abstractmethod
    def sizes(self, conversation_id: str) -> list[int]:
        """The stored (sealed) length of each of the conversation's rows."""


class InMemoryAttachmentStore(AttachmentStore):
    """Rows in a dict, for memory:// ledgers."""

    def __init__(self) -> None:
        self._rows: dict[tuple[str, str], SealedAttachment] = {}
        self._lock = threading.Lock()

    def insert(self, cursor: Any, rows: Sequence[SealedAttachment]) -> None:
        """Keep the rows not kept already."""
        with self._lock:
            for row in rows:
                self._rows.setdefault((row.conversation_id, row.attachment_id), row)

    def present(self, conversation_id: str, attachment_ids: Collection[str]) -> dict[str, int]:
        """The ids among ``attachment_ids`` kept for the conversation, with their sizes."""
        with self._lock:
            rows = [self._rows.get((conversation_id, i)) for i in attachment_ids]
        return {row.attachment_id: row.size for row in rows if row is not None}

    def read(self, conversation_id: str, attachment_id: str) -> SealedAttachment | None:
        """The row, if kept."""
        with self._lock:
            return self._rows.get((conversation_id, attachment_id))

    def purge(self, conversation_id: str) -> int:
        """Forget the conversation's rows."""
        with self._lock:
            mine = [key for key in self._rows if key[0] == conversation_id]
            for key in mine:
                del self._rows[key]
        return len(mine)

    def sizes(self, conversation_id: str) -> list[int]:
        """The sealed lengths of the conversation's rows."""
        with self._lock:
            return [len(r.sealed) for (c, _), r in self._rows.items() if c == conversation_id]


class SQLAttachmentStore(AttachmentStore):
    """Rows in a ``chatledger_attachments`` table beside the events (SQLite or PostgreSQL)."""

    def __init__(self, tables: SQLTables, purge: Purge | None = None) -> None:
        self._tables = tables
        self._purge = Purge() if purge is None else purge
        self._table = table = tables.name("attachments")
        p = tables.placeholder
        self._p = p
        tables.create(
            f"CREATE TABLE IF NOT EXISTS {table} ("
            "conversation_id TEXT NOT NULL, attachment_id TEXT NOT NULL, "
            f"media_type TEXT NOT NULL, size BIGINT NOT NULL, sealed {tables.blob_type} NOT NULL, "
            "PRIMARY KEY (conversation_id, attachment_id))"
        )
        self._insert = (
            f"INSERT INTO {table} (conversation_id, attachment_id, media_type, size, sealed) "
            f"VALUES ({p}, {p}, {p}, {p}, {tables.blob_placeholder}) ON CONFLICT DO NOTHING"
        )

    def insert(self, cursor: Any, rows: Sequence[SealedAttachment]) -> None:
        """Insert the rows, in id order: two saves holding the same attachments lock them in
        the same order, so neither waits on the other for ever."""
        ordered = sorted(rows, key=lambda row: row.attachment_id)
        cursor.executemany(
            self._insert,
            [(r.conversation_id, r.attachment_id, r.media_type, r.size, r.sealed) for r in ordered],
        )

    def present(self, conversation_id: str, attachment_ids: Collection[str]) -> dict[str, int]:
        """The ids among ``attachment_ids`` the table holds for the conversation, with sizes."""
        if not attachment_ids:
            return {}
        ids = sorted(attachment_ids)
        marks = ", ".join([self._p] * len(ids))
        with self._tables.transaction() as cursor:
            cursor.execute(
                f"SELECT attachment_id, size FROM {self._table} "
                f"WHERE conversation_id = {self._p} AND attachment_id IN ({marks})",
                (conversation_id, *ids),
            )
            return {row["attachment_id"]: int(row["size"]) for row in cursor.fetchall()}

    def read(self, conversation_id: str, attachment_id: str) -> SealedAttachment | None:
        """The row, if the table holds it."""
        with self._tables.transaction() as cursor:
            cursor.execute(
                f"SELECT media_type, size, sealed FROM {self._table} "
                f"WHERE conversation_id = {self._p} AND attachment_id = {self._p}",
                (conversation_id, attachment_id),
                **self._tables.binary_results,
            )
            row = cursor.fetchone()
        if row is None:
            return None
        return SealedAttachment(
            conversation_id, attachment_id, row["media_type"], row["size"], bytes(row["sealed"])
        )

    def purge(self, conversation_id: str) -> int:
        """Delete the conversation's rows, overwriting their pages where the engine can."""
        with self._tables.transaction() as cursor:
            for statement in self._purge.during:
                cursor.execute(statement)
            cursor.execute(
                f"DELETE FROM {self._table} WHERE conversation_id = {self._p} "
                "RETURNING attachment_id",
                (conversation_id,),
            )
            deleted = len(cursor.fetchall())
        if deleted:
            self._purge.after()
        return deleted

    def sizes(self, conversation_id: str) -> list[int]:
        """The sealed lengths of the conversation's rows."""
        with self._tables.transaction() as cursor:
            cursor.execute(
                f"SELECT length(sealed) AS bytes FROM {self._table} "
                f"WHERE conversation_id = {self._p} ORDER BY attachment_id",
                (conversation_id,),
            )
            return [int(row["bytes"]) for row in cursor.fetchall()]
