"""Tenants and their API keys: keys are shown once and stored only as sha256 hashes.

Every conversation belongs to one tenant: a tenant's conversation ``X`` is the ledger's
conversation ``"{tenant}:{X}"`` (``tenancy.py``, which the command line shares).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import weakref
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime

from chatledger.domain import InvalidInput, utc_now
from chatledger.infrastructure.entrypoints.tenancy import check_tenant_name
from chatledger.infrastructure.ledger import ChatLedger
from chatledger.infrastructure.storage.tables import SQLTables

KEY_PREFIX = "cl_"
KEY_ID_PREFIX = "key_"
KEY_ID_HEX = 12
"""Hex digits of a key's sha256 in its id: enough that no two keys share one in practice."""

_KEY_ID = re.compile(rf"{KEY_ID_PREFIX}[0-9a-f]{{{KEY_ID_HEX}}}")


def hash_key(key: str) -> str:
    """The stored form of an API key."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def key_id_of(key_hash: str) -> str:
    """A key's id: the start of its stored hash, which says nothing about the key itself."""
    return KEY_ID_PREFIX + key_hash[:KEY_ID_HEX]


def check_key_id(key_id: object) -> str:
    """Return the key id if it is well formed, else raise InvalidInput."""
    if not isinstance(key_id, str) or _KEY_ID.fullmatch(key_id) is None:
        raise InvalidInput(
            "key_id",
            f"must be {KEY_ID_PREFIX} and {KEY_ID_HEX} hex digits, as `chatledger tenant list` "
            f"shows it; got {str(key_id)[:60]!r}",
        )
    return key_id


@dataclass(frozen=True)
class KeyRecord:
    """One of a tenant's API keys, as it may be shown: its id and when it was made, never it."""

    tenant: str
    key_id: str
    created_at: datetime


@dataclass(frozen=True)
class NewKey:
    """A key just made: the key itself, to show once, and its record."""

    key: str
    record: KeyRecord


class TenantDirectory(ABC):
    """Which tenant an API key belongs to; keys are kept as hashes only.

    Every request looks its key up afresh, so a revoked key is refused from the next request on.
    """

    def add(self, tenant: str) -> str:
        """Give ``tenant`` a new API key and return it; it cannot be read back later."""
        return self.new_key(tenant).key

    def new_key(self, tenant: str) -> NewKey:
        """Give ``tenant`` a new API key; return it (to show once) with its record."""
        check_tenant_name(tenant)
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        key_hash = hash_key(key)
        created_at = utc_now()
        self._insert(key_hash, tenant, created_at)
        return NewKey(key, KeyRecord(tenant, key_id_of(key_hash), created_at))

    def tenant_for(self, key: str) -> str | None:
        """The tenant the key belongs to, or None for an unknown or revoked key."""
        if not key.startswith(KEY_PREFIX) or len(key) > 200:
            return None
        return self._lookup(hash_key(key))

    def keys(self, tenant: str | None = None) -> list[KeyRecord]:
        """Every key's record (or only ``tenant``'s), by tenant, oldest first."""
        records = [
            KeyRecord(name, key_id_of(key_hash), created_at)
            for key_hash, name, created_at in self._rows()
            if tenant is None or name == tenant
        ]
        return sorted(records, key=lambda record: (record.tenant, record.created_at))

    def has_key(self, key_id: str) -> bool:
        """Whether a key with this id exists (is not revoked)."""
        return len(self._matching(key_id)) == 1

    def revoke(self, key_id: str) -> KeyRecord:
        """Remove the key with this id: it authenticates nothing from now on.

        Raises InvalidInput if no key has this id.
        """
        check_key_id(key_id)
        found = self._matching(key_id)
        if len(found) != 1:
            raise InvalidInput(
                "key_id", f"no key has the id {key_id!r}: `chatledger tenant list` shows them"
            )
        key_hash, tenant, created_at = found[0]
        self._delete(key_hash)
        return KeyRecord(tenant, key_id, created_at)

    def tenants(self) -> list[str]:
        """The names of every tenant with a key, sorted."""
        return sorted({name for _, name, _ in self._rows()})

    def _matching(self, key_id: str) -> list[tuple[str, str, datetime]]:
        """The rows whose hash the id starts; a store may look them up faster."""
        digits = key_id[len(KEY_ID_PREFIX) :]
        return [row for row in self._rows() if row[0].startswith(digits)]

    @abstractmethod
    def _insert(self, key_hash: str, tenant: str, created_at: datetime) -> None: ...

    @abstractmethod
    def _lookup(self, key_hash: str) -> str | None: ...

    @abstractmethod
    def _rows(self) -> list[tuple[str, str, datetime]]:
        """Every key's hash, tenant and creation time."""

    @abstractmethod
    def _delete(self, key_hash: str) -> None: ...


class InMemoryTenantDirectory(TenantDirectory):
    """Tenants in a dict, for memory:// ledgers and tests."""

    def __init__(self) -> None:
        self._tenants: dict[str, tuple[str, datetime]] = {}
        self._lock = threading.Lock()

    def _insert(self, key_hash: str, tenant: str, created_at: datetime) -> None:
        with self._lock:
            self._tenants[key_hash] = (tenant, created_at)

    def _lookup(self, key_hash: str) -> str | None:
        found = self._tenants.get(key_hash)
        return None if found is None else found[0]

    def _rows(self) -> list[tuple[str, str, datetime]]:
        with self._lock:
            return [(key_hash, *row) for key_hash, row in self._tenants.items()]

    def _delete(self, key_hash: str) -> None:
        with self._lock:
            self._tenants.pop(key_hash, None)


class SQLTenantDirectory(TenantDirectory):
    """Tenants in a ``chatledger_tenants`` table beside the events."""

    def __init__(self, tables: SQLTables) -> None:
        self._tables = tables
        self._table = tables.name("tenants")
        tables.create(
            f"CREATE TABLE IF NOT EXISTS {self._table} ("
            "key_sha256 TEXT PRIMARY KEY, tenant TEXT NOT NULL, created_at TEXT NOT NULL)"
        )

    def _insert(self, key_hash: str, tenant: str, created_at: datetime) -> None:
        p = self._tables.placeholder
        with self._tables.transaction() as cursor:
            cursor.execute(
                f"INSERT INTO {self._table} (key_sha256, tenant, created_at) "
                f"VALUES ({p}, {p}, {p})",
                (key_hash, tenant, created_at.isoformat()),
            )

    def _lookup(self, key_hash: str) -> str | None:
        p = self._tables.placeholder
        with self._tables.transaction() as cursor:
            cursor.execute(f"SELECT tenant FROM {self._table} WHERE key_sha256 = {p}", (key_hash,))
            row = cursor.fetchone()
        return None if row is None else str(row["tenant"])

    def _rows(self) -> list[tuple[str, str, datetime]]:
        with self._tables.transaction() as cursor:
            cursor.execute(f"SELECT key_sha256, tenant, created_at FROM {self._table}")
            return [
                (
                    str(row["key_sha256"]),
                    str(row["tenant"]),
                    datetime.fromisoformat(str(row["created_at"])),
                )
                for row in cursor.fetchall()
            ]

    def _matching(self, key_id: str) -> list[tuple[str, str, datetime]]:
        # Checked on every request a signed-in session makes: one indexed prefix lookup.
        p = self._tables.placeholder
        digits = key_id[len(KEY_ID_PREFIX) :]
        if _KEY_ID.fullmatch(key_id) is None:
            return []
        with self._tables.transaction() as cursor:
            cursor.execute(
                f"SELECT key_sha256, tenant, created_at FROM {self._table} "
                f"WHERE key_sha256 >= {p} AND key_sha256 < {p}",
                (digits, digits + "g"),
            )
            return [
                (
                    str(row["key_sha256"]),
                    str(row["tenant"]),
                    datetime.fromisoformat(str(row["created_at"])),
                )
                for row in cursor.fetchall()
            ]

    def _delete(self, key_hash: str) -> None:
        p = self._tables.placeholder
        with self._tables.transaction() as cursor:
            cursor.execute(f"DELETE FROM {self._table} WHERE key_sha256 = {p}", (key_hash,))


_IN_MEMORY: weakref.WeakKeyDictionary[ChatLedger, TenantDirectory] = weakref.WeakKeyDictionary()


def tenant_directory(ledger: ChatLedger) -> TenantDirectory:
    """The tenants of the ledger's database (one directory per in-memory ledger)."""
    tables = ledger.tables
    if tables is not None:
        return SQLTenantDirectory(tables)
    return _IN_MEMORY.setdefault(ledger, InMemoryTenantDirectory())


def add_tenant(ledger: ChatLedger, name: str) -> str:
    """Give tenant ``name`` a new API key in the ledger's database; return the key to show once."""
    return tenant_directory(ledger).add(name)
