"""Where a ledger keeps its events: database URLs turned into eventsourcing's environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from chatledger.domain import InvalidInput
from chatledger.infrastructure.storage.recorders import PostgresRecorder

DEFAULT_DATABASE_URL = "sqlite:///chatledger.db"
DATABASE_URL_VARIABLE = "CHATLEDGER_DATABASE_URL"
POSTGRES_SCHEMES = ("postgresql", "postgres")


@dataclass(frozen=True)
class StorageSettings:
    """One backend's settings, as the environment the eventsourcing library reads."""

    url: str
    backend: str
    env: dict[str, str]

    @classmethod
    def from_url(cls, url: str) -> StorageSettings:
        """Parse ``memory://``, ``sqlite:///path`` or ``postgresql://user@host:port/db``."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme == "memory":
            return cls(url, "memory", {"PERSISTENCE_MODULE": "eventsourcing.popo"})
        if scheme == "sqlite":
            return cls(url, "sqlite", _sqlite_env(url))
        if scheme in POSTGRES_SCHEMES:
            return cls(url, "postgresql", _postgres_env(parts.netloc, parts.path, parts.query))
        raise InvalidInput(
            "url",
            f"unsupported database URL {url!r}: use memory://, sqlite:///path/to/file.db "
            "or postgresql://user@host:port/dbname",
        )


def database_url(explicit: str | None = None) -> str:
    """The URL to use: the explicit one, else $CHATLEDGER_DATABASE_URL, else ./chatledger.db."""
    return explicit or os.environ.get(DATABASE_URL_VARIABLE) or DEFAULT_DATABASE_URL


def _sqlite_env(url: str) -> dict[str, str]:
    path = url[len("sqlite://") :]
    if not path.startswith("/") or path == "/":
        raise InvalidInput(
            "url", f"a SQLite URL names a file: sqlite:///path/to/file.db, got {url!r}"
        )
    # sqlite:///relative.db is relative; sqlite:////absolute.db is absolute (SQLAlchemy's rule).
    name = unquote(path[1:])
    if name != ":memory:":
        parent = Path(name).expanduser().resolve().parent
        if not parent.is_dir():
            raise InvalidInput("url", f"the directory {str(parent)!r} for {url!r} does not exist")
    return {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": name,
        "ORIGINATOR_ID_TYPE": "text",
        # Concurrent writers wait for each other rather than failing at once.
        "SQLITE_LOCK_TIMEOUT": "30",
    }


def _postgres_env(netloc: str, path: str, query: str) -> dict[str, str]:
    options = {key: values[-1] for key, values in parse_qs(query).items()}
    userinfo, _, hostport = netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    host, _, port = hostport.partition(":")
    if hostport.startswith("["):
        host, _, rest = hostport[1:].partition("]")
        port = rest.lstrip(":")
    host = unquote(host) or options.get("host", "")
    dbname = unquote(path.lstrip("/")) or options.get("dbname", "")
    if not dbname:
        raise InvalidInput("url", "a PostgreSQL URL names its database: postgresql://host/dbname")
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": dbname,
        "POSTGRES_HOST": host or "localhost",
        "POSTGRES_PORT": port or options.get("port", "5432"),
        "POSTGRES_USER": unquote(user) or options.get("user", "postgres"),
        "POSTGRES_PASSWORD": unquote(password) or options.get("password", ""),
        # Conversation ids are the caller's strings, not UUIDs.
        "ORIGINATOR_ID_TYPE": "text",
        "APPLICATION_RECORDER_TOPIC": f"{PostgresRecorder.__module__}:PostgresRecorder",
        # Connections opened at once, and how many more under load: many ledgers (processes,
        # threads, tests) share one server's connection slots.
        "POSTGRES_POOL_SIZE": options.get("pool_size", "2"),
        "POSTGRES_MAX_OVERFLOW": options.get("max_overflow", "8"),
        "POSTGRES_LOCK_TIMEOUT": options.get("lock_timeout", "0"),
        # Fail within seconds, not minutes, when the server is unreachable.
        "POSTGRES_CONNECT_TIMEOUT": options.get("connect_timeout", "5"),
    }
    if "schema" in options:
        env["POSTGRES_SCHEMA"] = options["schema"]
    return env
