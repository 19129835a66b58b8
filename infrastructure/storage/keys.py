"""Per-conversation data keys, in their own table: destroying one erases a conversation's text.

Each key is stored wrapped by the key-encryption key (``wrapping.py``), which is not in the
database. The keys table is also the directory of conversations (when each began, its retention
period and legal hold), so listing conversations never scans the event store.
"""

from __future__ import annotations

import os
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chatledger.domain import utc_now

# Re-exported: the error and the record lived here before the domain held them.
from chatledger.domain.errors import ConversationErased as ConversationErased
from chatledger.domain.governance import ConversationRecord as ConversationRecord
from chatledger.infrastructure.storage.tables import SQLTables
from chatledger.infrastructure.storage.wrapping import (
    LEGACY_KEY_BYTES,
    KeyEncryptionKey,
    LocalKeyEncryptionKey,
    envelope,
    is_legacy,
    mismatch,
    unwrap,
    wrapped_by,
)

KEY_BYTES = 32
KEY_CACHE_SECONDS = 2.0
"""How long a process trusts a key it read; an erasure elsewhere takes effect here within this."""


@dataclass(frozen=True)
class Purge:
    """How a database forgets the bytes of a key it overwrote, where the engine allows it."""

    during: tuple[str, ...] = ()
    """Statements run first in a transaction that overwrites key material."""
    after: Callable[[], None] = lambda: None
    """Run once that transaction committed (outside any transaction)."""


@dataclass(frozen=True)
class KeyRotation:
    """What a rotation of the key-encryption key did."""

    rewrapped: int
    """Data keys now wrapped by the new KEK (the legacy ones included)."""
    legacy: int
    """Of those, keys that were stored unwrapped, from before keys were wrapped."""


class KeyStore(ABC):
    """Creates, hands out and destroys conversation keys; keeps the conversation directory."""

    def __init__(self, kek: KeyEncryptionKey | None = None) -> None:
        self._cache: dict[str, tuple[float, bytes | None, datetime | None]] = {}
        self._lock = threading.Lock()
        self.kek = LocalKeyEncryptionKey.generate() if kek is None else kek
        """What wraps every key this store writes and unwraps every key it reads."""

    def key(self, conversation_id: str, *, create: bool = False) -> bytes | None:
        """The conversation's key; None if it has none and ``create`` is False.

        Raises ConversationErased if the key was destroyed.
        """
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(conversation_id)
        if cached is not None and (cached[1] is None or now - cached[0] < KEY_CACHE_SECONDS):
            return _unless_erased(conversation_id, cached)
        record, stored = self._read(conversation_id)
        if record is None and create:
            self._insert(conversation_id, self._wrapped(conversation_id), utc_now())
            record, stored = self._read(conversation_id)
        if record is None:
            return None
        key = None if stored is None else unwrap(self.kek, stored, conversation_id)
        # Erasure is forever, so an erased conversation is remembered without expiry.
        entry = (now, None if record.erased_at is not None else key, record.erased_at)
        with self._lock:
            self._cache[conversation_id] = entry
        return _unless_erased(conversation_id, entry)

    def forget(self, conversation_id: str, erased_at: datetime) -> None:
        """Drop a cached key at once: the conversation's stream says it was erased."""
        with self._lock:
            self._cache[conversation_id] = (time.monotonic(), None, erased_at)

    def destroy(self, conversation_id: str, reason: str) -> datetime:
        """Destroy the key for good; return when. Idempotent: a second call keeps the first time."""
        record, _ = self._read(conversation_id)
        if record is not None and record.erased_at is not None:
            return record.erased_at
        erased_at = utc_now()
        if record is None:
            self._insert(conversation_id, None, erased_at)
        # The row stays, as the directory entry and the audit trail; only the key goes.
        self._update(
            conversation_id, erasing=True, key=None, erased_at=erased_at, erasure_reason=reason
        )
        with self._lock:
            self._cache[conversation_id] = (time.monotonic(), None, erased_at)
        return erased_at

    def restore(self, conversation_id: str, key: bytes, created_at: datetime) -> None:
        """Put back a key taken from a backup (never one that was destroyed)."""
        self._insert(conversation_id, self._wrapped(conversation_id, key), created_at)

    def rotate(self, new_kek: KeyEncryptionKey) -> KeyRotation:
        """Re-wrap every data key under ``new_kek``, legacy bare keys too, in one transaction.

        Afterwards the old KEK opens nothing, and this store uses the new one.
        """
        counts = [0, 0]

        def rewrapped(conversation_id: str, stored: bytes) -> bytes:
            counts[0] += 1
            counts[1] += is_legacy(stored)
            key = unwrap(self.kek, stored, conversation_id)
            return envelope(new_kek, key, conversation_id)

        self._rewrap_all(rewrapped)
        self.kek = new_kek
        return KeyRotation(rewrapped=counts[0], legacy=counts[1])

    def check_kek(self) -> None:
        """Raise KeyEncryptionKeyUnavailable if stored keys are wrapped by another KEK."""
        stored = self._any_wrapped()
        if stored is not None:
            kek_id = wrapped_by(stored)
            if kek_id != self.kek.id:
                raise mismatch(self.kek, str(kek_id))

    def _wrapped(self, conversation_id: str, key: bytes | None = None) -> bytes:
        return envelope(self.kek, os.urandom(KEY_BYTES) if key is None else key, conversation_id)

    def record(self, conversation_id: str) -> ConversationRecord | None:
        """The directory entry of one conversation, if it has one."""
        return self._read(conversation_id)[0]

    def set_retention(self, conversation_id: str, retention: timedelta | None) -> None:
        """Keep the conversation for ``retention`` after its last message (None: forever)."""
        seconds = None if retention is None else int(retention.total_seconds())
        self._update(conversation_id, retention_seconds=seconds)

    def set_legal_hold(self, conversation_id: str, reason: str | None) -> None:
        """Place (reason given) or lift (None) a legal hold, which blocks retention erasure."""
        self._update(conversation_id, legal_hold=reason)

    @abstractmethod
    def conversations(self, *, after: str = "", limit: int = 1000) -> list[ConversationRecord]:
        """Directory entries ordered by id, after ``after``, at most ``limit``."""

    @abstractmethod
    def _insert(self, conversation_id: str, key: bytes | None, created_at: datetime) -> None:
        """Insert a row unless one exists."""

    @abstractmethod
    def _read(self, conversation_id: str) -> tuple[ConversationRecord | None, bytes | None]:
        """The row and its key."""

    @abstractmethod
    def _update(self, conversation_id: str, *, erasing: bool = False, **columns: Any) -> None:
        """Set columns of an existing row; ``erasing``: purge the key material overwritten."""

    @abstractmethod
    def _rewrap_all(self, rewrapped: Callable[[str, bytes], bytes]) -> None:
        """Replace every stored key with ``rewrapped(conversation_id, stored)``, atomically."""

    @abstractmethod
    def _any_wrapped(self) -> bytes | None:
        """One stored wrapped key, if there is one."""


class InMemoryKeyStore(KeyStore):
    """Keys in a dict, for memory:// ledgers."""

    def __init__(self, kek: KeyEncryptionKey | None = None) -> None:
        super().__init__(kek)
        self._rows: dict[str, dict[str, Any]] = {}

    def conversations(self, *, after: str = "", limit: int = 1000) -> list[ConversationRecord]:
        """Directory entries ordered by id."""
        ids = sorted(i for i in self._rows if i > after)[:limit]
        return [_record(i, self._rows[i]) for i in ids]

    def _insert(self, conversation_id: str, key: bytes | None, created_at: datetime) -> None:
        with self._lock:
            self._rows.setdefault(conversation_id, _new_row(key, created_at))

    def _read(self, conversation_id: str) -> tuple[ConversationRecord | None, bytes | None]:
        row = self._rows.get(conversation_id)
        return (None, None) if row is None else (_record(conversation_id, row), row["key"])

    def _update(self, conversation_id: str, *, erasing: bool = False, **columns: Any) -> None:
        with self._lock:
            if conversation_id in self._rows:
                self._rows[conversation_id].update(columns)

    def _rewrap_all(self, rewrapped: Callable[[str, bytes], bytes]) -> None:
        with self._lock:
            new = {
                i: rewrapped(i, row["key"])
                for i, row in self._rows.items()
                if row["key"] is not None
            }
            for conversation_id, stored in new.items():
                self._rows[conversation_id]["key"] = stored

    def _any_wrapped(self) -> bytes | None:
        with self._lock:
            return next(
                (
                    row["key"]
                    for row in self._rows.values()
                    if row["key"] is not None and not is_legacy(row["key"])
                ),
                None,
            )


class SQLKeyStore(KeyStore):
    """Keys in a ``chatledger_keys`` table beside the events (SQLite or PostgreSQL)."""

    def __init__(
        self, tables: SQLTables, kek: KeyEncryptionKey | None = None, purge: Purge | None = None
    ) -> None:
        super().__init__(kek)
        self._purge = Purge() if purge is None else purge
        self._transaction = tables.transaction
        self._table = tables.name("keys")
        self._p = tables.placeholder
        # Ids are listed in byte order whatever the database's collation, so prefix scans work.
        self._byte_order = tables.byte_order
        tables.create(
            f"CREATE TABLE IF NOT EXISTS {self._table} ("
            f"conversation_id TEXT PRIMARY KEY, key {tables.blob_type}, created_at TEXT NOT NULL, "
            "erased_at TEXT, erasure_reason TEXT, retention_seconds BIGINT, legal_hold TEXT)"
        )

    def conversations(self, *, after: str = "", limit: int = 1000) -> list[ConversationRecord]:
        """Directory entries ordered by id."""
        with self._transaction() as cursor:
            cursor.execute(
                f"SELECT * FROM {self._table} "
                f"WHERE conversation_id{self._byte_order} > {self._p} "
                f"ORDER BY conversation_id{self._byte_order} LIMIT {self._p}",
                (after, limit),
            )
            rows = cursor.fetchall()
        return [_record(row["conversation_id"], _decoded(row)) for row in rows]

    def _insert(self, conversation_id: str, key: bytes | None, created_at: datetime) -> None:
        with self._transaction() as cursor:
            cursor.execute(
                f"INSERT INTO {self._table} (conversation_id, key, created_at) "
                f"VALUES ({self._p}, {self._p}, {self._p}) ON CONFLICT DO NOTHING",
                (conversation_id, key, created_at.isoformat()),
            )

    def _read(self, conversation_id: str) -> tuple[ConversationRecord | None, bytes | None]:
        with self._transaction() as cursor:
            cursor.execute(
                f"SELECT * FROM {self._table} WHERE conversation_id = {self._p}",
                (conversation_id,),
            )
            row = cursor.fetchone()
        if row is None:
            return None, None
        values = _decoded(row)
        return _record(conversation_id, values), values["key"]

    def _update(self, conversation_id: str, *, erasing: bool = False, **columns: Any) -> None:
        assignments = ", ".join(f"{name} = {self._p}" for name in columns)
        values = [v.isoformat() if isinstance(v, datetime) else v for v in columns.values()]
        with self._transaction() as cursor:
            for statement in self._purge.during if erasing else ():
                cursor.execute(statement)
            cursor.execute(
                f"UPDATE {self._table} SET {assignments} WHERE conversation_id = {self._p}",
                (*values, conversation_id),
            )
        if erasing:
            self._purge.after()

    def _rewrap_all(self, rewrapped: Callable[[str, bytes], bytes]) -> None:
        with self._transaction() as cursor:
            for statement in self._purge.during:
                cursor.execute(statement)
            cursor.execute(
                f"SELECT conversation_id, key FROM {self._table} WHERE key IS NOT NULL "
                f"ORDER BY conversation_id{self._byte_order}"
            )
            rows = [(row["conversation_id"], bytes(row["key"])) for row in cursor.fetchall()]
            for conversation_id, stored in rows:
                cursor.execute(
                    f"UPDATE {self._table} SET key = {self._p} WHERE conversation_id = {self._p}",
                    (rewrapped(conversation_id, stored), conversation_id),
                )
        self._purge.after()

    def _any_wrapped(self) -> bytes | None:
        with self._transaction() as cursor:
            cursor.execute(
                f"SELECT key FROM {self._table} WHERE key IS NOT NULL "
                f"AND length(key) <> {LEGACY_KEY_BYTES} LIMIT 1"
            )
            row = cursor.fetchone()
        return None if row is None else bytes(row["key"])


def _unless_erased(
    conversation_id: str, entry: tuple[float, bytes | None, datetime | None]
) -> bytes:
    _, key, erased_at = entry
    if key is None:
        raise ConversationErased(conversation_id, erased_at)
    return key


def _new_row(key: bytes | None, created_at: datetime) -> dict[str, Any]:
    return {
        "key": key,
        "created_at": created_at,
        "erased_at": None,
        "erasure_reason": None,
        "retention_seconds": None,
        "legal_hold": None,
    }


def _decoded(row: Any) -> dict[str, Any]:
    values = {name: row[name] for name in _new_row(None, utc_now())}
    for name in ("created_at", "erased_at"):
        if values[name] is not None:
            values[name] = datetime.fromisoformat(values[name])
    if values["key"] is not None:
        values["key"] = bytes(values["key"])
    return values


def _record(conversation_id: str, row: dict[str, Any]) -> ConversationRecord:
    seconds = row["retention_seconds"]
    return ConversationRecord(
        conversation_id=conversation_id,
        created_at=row["created_at"],
        erased_at=row["erased_at"],
        erasure_reason=row["erasure_reason"],
        retention=None if seconds is None else timedelta(seconds=seconds),
        legal_hold=row["legal_hold"],
    )


def iter_all(store: KeyStore, page: int = 1000) -> Iterator[ConversationRecord]:
    """Every directory entry, ordered by id, read a page at a time."""
    after = ""
    while True:
        records = store.conversations(after=after, limit=page)
        yield from records
        if len(records) < page:
            return
        after = records[-1].conversation_id
