"""Tenants and their API keys: keys are shown once and stored only as sha256 hashes.

Every conversation belongs to one tenant: a tenant's conversation ``X`` is the ledger's
conversation ``"{tenant}:{X}"``. Tenant names and external ids admit no ``:``, so no id a tenant
sends can name a conversation outside its own prefix.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import weakref
from abc import ABC, abstractmethod
from datetime import datetime

from chatledger.domain import InvalidInput, utc_now
from chatledger.infrastructure.ledger import ChatLedger
from chatledger.infrastructure.storage.tables import SQLTables

TENANT_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
CONVERSATION_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
"""The conversation ids the HTTP API accepts (a pattern for the OpenAPI schema too)."""
KEY_PREFIX = "cl_"

_CONVERSATION = re.compile(CONVERSATION_ID)


def check_tenant_name(name: object) -> str:
    """Return the name if it is a valid tenant name, else raise InvalidInput."""
    if not isinstance(name, str) or TENANT_NAME.fullmatch(name) is None:
        raise InvalidInput(
            "tenant",
            "must be 1-40 lowercase letters, digits and -, starting with a letter or digit; "
            f"got {str(name)[:60]!r}",
        )
    return name


def ledger_id(tenant: str, conversation: str) -> str:
    """The ledger's id of a tenant's conversation."""
    if _CONVERSATION.fullmatch(conversation) is None:
        raise InvalidInput(
            "conversation_id",
            "must be 1-100 letters, digits and . _ -, starting with a letter or digit; "
            f"got {conversation[:60]!r}",
        )
    return f"{check_tenant_name(tenant)}:{conversation}"


def external_id(tenant: str, conversation_id: str) -> str | None:
    """The tenant's own id of a ledger conversation, or None if it is not the tenant's."""
    prefix = f"{tenant}:"
    return conversation_id[len(prefix) :] if conversation_id.startswith(prefix) else None


def hash_key(key: str) -> str:
    """The stored form of an API key."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


class TenantDirectory(ABC):
    """Which tenant an API key belongs to; keys are kept as hashes only."""

    def add(self, tenant: str) -> str:
        """Give ``tenant`` a new API key and return it; it cannot be read back later."""
        check_tenant_name(tenant)
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        self._insert(hash_key(key), tenant, utc_now())
        return key

    def tenant_for(self, key: str) -> str | None:
        """The tenant the key belongs to, or None for an unknown key."""
        if not key.startswith(KEY_PREFIX) or len(key) > 200:
            return None
        return self._lookup(hash_key(key))

    @abstractmethod
    def tenants(self) -> list[str]:
        """The names of every tenant with a key, sorted."""

    @abstractmethod
    def _insert(self, key_hash: str, tenant: str, created_at: datetime) -> None: ...

    @abstractmethod
    def _lookup(self, key_hash: str) -> str | None: ...


class InMemoryTenantDirectory(TenantDirectory):
    """Tenants in a dict, for memory:// ledgers and tests."""

    def __init__(self) -> None:
        self._tenants: dict[str, str] = {}
        self._lock = threading.Lock()

    def tenants(self) -> list[str]:
        """The names of every tenant with a key, sorted."""
        return sorted(set(self._tenants.values()))

    def _insert(self, key_hash: str, tenant: str, created_at: datetime) -> None:
        with self._lock:
            self._tenants[key_hash] = tenant

    def _lookup(self, key_hash: str) -> str | None:
        return self._tenants.get(key_hash)


class SQLTenantDirectory(TenantDirectory):
    """Tenants in a ``chatledger_tenants`` table beside the events."""

    def __init__(self, tables: SQLTables) -> None:
        self._tables = tables
        self._table = tables.name("tenants")
        tables.create(
            f"CREATE TABLE IF NOT EXISTS {self._table} ("
            "key_sha256 TEXT PRIMARY KEY, tenant TEXT NOT NULL, created_at TEXT NOT NULL)"
        )

    def tenants(self) -> list[str]:
        """The names of every tenant with a key, sorted."""
        with self._tables.transaction() as cursor:
            cursor.execute(f"SELECT DISTINCT tenant FROM {self._table}")
            return sorted(row["tenant"] for row in cursor.fetchall())

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
