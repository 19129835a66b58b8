"""One backend object per database kind, chosen once from the URL: all that differs by database."""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import psycopg
from eventsourcing.persistence import ApplicationRecorder, InfrastructureFactory
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore

from chatledger.domain import InvalidInput, KeyEncryptionKeyUnavailable
from chatledger.infrastructure.storage.attachments import (
    AttachmentStore,
    InMemoryAttachmentStore,
    SQLAttachmentStore,
)
from chatledger.infrastructure.storage.keys import InMemoryKeyStore, KeyStore, Purge, SQLKeyStore
from chatledger.infrastructure.storage.recorders import (
    MemoryRecorder,
    PostgresRecorder,
    SQLiteRecorder,
)
from chatledger.infrastructure.storage.tables import SQLTables
from chatledger.infrastructure.storage.wrapping import (
    KEK_VARIABLE,
    KEY_FILE_VARIABLE,
    KeyEncryptionKey,
    LocalKeyEncryptionKey,
    write_key_file,
)

DEFAULT_DATABASE_URL = "sqlite:///chatledger.db"
DATABASE_URL_VARIABLE = "CHATLEDGER_DATABASE_URL"
POSTGRES_SCHEMES = ("postgresql", "postgres")


@dataclass(frozen=True)
class Backend:
    """A database kind: the environment the eventsourcing library reads, and our own tables."""

    url: str
    name: str
    """``memory``, ``sqlite`` or ``postgresql``."""
    env: dict[str, str] = field(repr=False)
    reads_ahead: bool = False
    """Long reads fetch the next page while the last decodes: only where a read waits on a
    server with the interpreter lock released (PostgreSQL); elsewhere it measured no faster."""
    key_file: str | None = None
    """The key file the URL names (``?key_file=PATH``), holding the key-encryption key."""

    @property
    def location(self) -> str:
        """Where the data lives, fit to show in an error: never a password."""
        return "this process's memory"

    @property
    def secrets(self) -> tuple[str, ...]:
        """Strings that must never be shown, should a driver's message quote them."""
        return ()

    def tables(self, datastore: Any) -> SQLTables | None:
        """Our SQL tables in the application's database; None where there is no SQL database."""
        return None

    def missing(self) -> str | None:
        """Where the database should be, if it is known not to exist yet; else None."""
        return None

    def probe(self) -> None:
        """Raise the driver's error if the database cannot be reached (by default: nothing)."""

    def key_store(self, datastore: Any, kek: KeyEncryptionKey | None = None) -> KeyStore:
        """Where the conversations' data keys live: a table beside the events, or memory.

        ``kek`` wraps them; without one, the configured KEK (``configured_kek``), else this
        backend's default. Raises KeyEncryptionKeyUnavailable if the stored keys were
        wrapped by another.
        """
        kek = kek or configured_kek(self.key_file)
        created = None
        if kek is None:
            kek, created = self.default_kek()
        tables = self.tables(datastore)
        store: KeyStore
        if tables is None:
            store = InMemoryKeyStore(kek)
        else:
            store = SQLKeyStore(tables, kek, self.purge(datastore, tables))
        try:
            store.check_kek()
        except KeyEncryptionKeyUnavailable as failure:
            if created is not None:
                # A key made just now cannot be the one the keys were wrapped with.
                created.unlink()
                raise KeyEncryptionKeyUnavailable(
                    f"the data keys in {self.location} are wrapped by a key-encryption key, "
                    f"and its key file {str(created)!r} is missing",
                    f"restore the key file, or name the key with ${KEY_FILE_VARIABLE} "
                    f"or ${KEK_VARIABLE}; without it the text cannot be read",
                ) from failure
            raise
        return store

    def default_kek(self) -> tuple[KeyEncryptionKey, Path | None]:
        """The KEK used when none is configured, and the key file created for it, if one was."""
        return LocalKeyEncryptionKey.generate(), None

    def purge(self, datastore: Any, tables: SQLTables, table: str = "keys") -> Purge:
        """How this database forgets the bytes it overwrote or deleted in one of our tables."""
        return Purge()

    def recorder(self, factory: InfrastructureFactory[Any]) -> ApplicationRecorder:
        """The event recorder: the one the library's factory makes from the environment."""
        return factory.application_recorder()

    def attachment_store(self, datastore: Any) -> AttachmentStore:
        """Where attachments live: a table beside the events, or memory."""
        tables = self.tables(datastore)
        if tables is None:
            return InMemoryAttachmentStore()
        return SQLAttachmentStore(tables, self.purge(datastore, tables, "attachments"))


class MemoryBackend(Backend):
    """Everything in this process's memory, for tests and throwaway ledgers.

    Its KEK, unless one is configured, is random and lives as long as the ledger.
    """

    def recorder(self, factory: InfrastructureFactory[Any]) -> ApplicationRecorder:
        """The library's in-memory recorder, which also keeps attachments (its factory names
        no recorder class to use instead)."""
        return MemoryRecorder()


class SQLiteBackend(Backend):
    """One SQLite file: the embedded default."""

    def missing(self) -> str | None:
        """The file's absolute path when there is no file there yet."""
        name = self.env["SQLITE_DBNAME"]
        if name == ":memory:" or Path(name).expanduser().exists():
            return None
        return str(Path(name).expanduser().resolve())

    @property
    def location(self) -> str:
        """The database file."""
        return self.env["SQLITE_DBNAME"]

    def tables(self, datastore: Any) -> SQLTables | None:
        """Tables in the same SQLite file as the events."""
        assert isinstance(datastore, SQLiteDatastore)
        return SQLTables(
            lambda: datastore.transaction(commit=True),
            placeholder="?",
            prefix="",
            blob_type="BLOB",
        )

    @property
    def default_key_file(self) -> Path | None:
        """``FILE.db.key`` beside ``FILE.db``; None for an in-memory database."""
        name = self.env["SQLITE_DBNAME"]
        if name == ":memory:":
            return None
        path = Path(name).expanduser().resolve()
        return path.with_name(path.name + ".key")

    def default_kek(self) -> tuple[KeyEncryptionKey, Path | None]:
        """The key file beside the database, created (mode 0600) on first open."""
        path = self.default_key_file
        if path is None:
            return LocalKeyEncryptionKey.generate(), None
        try:
            kek = write_key_file(path)
        except FileExistsError:
            return LocalKeyEncryptionKey.from_file(path), None
        kek.source = f"the key file {str(path)!r}, created beside the database"
        return kek, path

    def purge(self, datastore: Any, tables: SQLTables, table: str = "keys") -> Purge:
        """Zero freed pages as rows are overwritten or deleted, then empty the WAL into the
        file."""
        assert isinstance(datastore, SQLiteDatastore)

        def checkpoint() -> None:
            with datastore.get_connection(commit=True) as connection:
                cursor = connection.cursor()
                cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                cursor.fetchall()

        return Purge(during=("PRAGMA secure_delete=ON",), after=checkpoint)


class PostgresBackend(Backend):
    """A PostgreSQL database, with our own recorder."""

    @property
    def location(self) -> str:
        """``host:port/dbname``: the server and database, without user or password."""
        env = self.env
        host = env["POSTGRES_HOST"]
        host = f"[{host}]" if ":" in host else host  # an IPv6 address, as a URL writes it
        return f"{host}:{env['POSTGRES_PORT']}/{env['POSTGRES_DBNAME']}"

    @property
    def secrets(self) -> tuple[str, ...]:
        """The password, if the URL gave one."""
        password = self.env["POSTGRES_PASSWORD"]
        return (password,) if password else ()

    def probe(self) -> None:
        """Connect once, at once: a wrong user, database or port is reported with the server's
        own words, before a connection pool would retry it until its timeout."""
        env = self.env
        connection = psycopg.connect(
            host=env["POSTGRES_HOST"],
            port=int(env["POSTGRES_PORT"]),
            dbname=env["POSTGRES_DBNAME"],
            user=env["POSTGRES_USER"],
            password=env["POSTGRES_PASSWORD"] or None,
            connect_timeout=int(env["POSTGRES_CONNECT_TIMEOUT"]),
        )
        connection.close()

    def tables(self, datastore: Any) -> SQLTables | None:
        """Tables in the events' schema."""
        assert isinstance(datastore, PostgresDatastore)
        return SQLTables(
            lambda: datastore.transaction(commit=True),
            placeholder="%s",
            prefix=f"{datastore.schema}.",
            blob_type="BYTEA",
            byte_order=' COLLATE "C"',
            binary=True,
        )

    def default_kek(self) -> tuple[KeyEncryptionKey, Path | None]:
        """None: a server's database is opened by many processes, which must share one KEK."""
        raise KeyEncryptionKeyUnavailable(
            f"no key-encryption key is configured for the PostgreSQL store at {self.location}",
            f"set ${KEY_FILE_VARIABLE} to a key file (`chatledger keys create FILE` makes "
            f"one), or ${KEK_VARIABLE} to 32 random bytes in base64, or add ?key_file=FILE "
            "to the URL; every process that opens the database needs the same key",
        )

    def purge(self, datastore: Any, tables: SQLTables, table: str = "keys") -> Purge:
        """VACUUM the table, so the overwritten or deleted row versions leave its data files
        (its TOAST table's too)."""
        assert isinstance(datastore, PostgresDatastore)
        name = tables.name(table)

        def vacuum() -> None:
            # The pool's connections are in autocommit mode: VACUUM refuses a transaction.
            with datastore.get_connection() as connection:
                connection.execute(f"VACUUM {name}")

        return Purge(after=vacuum)


def backend_for(url: str) -> Backend:
    """The backend for ``memory://``, ``sqlite:///path`` or ``postgresql://user@host:port/db``.

    This is the one place a URL is read: everything that differs by database asks the
    backend object it returns.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "memory":
        return MemoryBackend(url, "memory", {"PERSISTENCE_MODULE": "eventsourcing.popo"})
    if scheme == "sqlite":
        env, key_file = _sqlite_env(url)
        return SQLiteBackend(url, "sqlite", env, key_file=key_file)
    if scheme in POSTGRES_SCHEMES:
        env = _postgres_env(parts.netloc, parts.path, parts.query)
        key_file = parse_qs(parts.query).get("key_file", [None])[-1]
        return PostgresBackend(url, "postgresql", env, reads_ahead=True, key_file=key_file)
    raise InvalidInput(
        "url",
        f"unsupported database URL {url!r}: use memory://, sqlite:///path/to/file.db "
        "or postgresql://user@host:port/dbname",
    )


def database_url(explicit: str | None = None) -> str:
    """The URL to use: the explicit one, else $CHATLEDGER_DATABASE_URL, else ./chatledger.db."""
    return explicit or os.environ.get(DATABASE_URL_VARIABLE) or DEFAULT_DATABASE_URL


def configured_kek(key_file: str | Path | None = None) -> KeyEncryptionKey | None:
    """The KEK in ``key_file``, else in $CHATLEDGER_KEK or $CHATLEDGER_KEY_FILE; None if none."""
    if key_file is not None:
        return LocalKeyEncryptionKey.from_file(Path(key_file).expanduser())
    text = os.environ.get(KEK_VARIABLE)
    path = os.environ.get(KEY_FILE_VARIABLE)
    if text and path:
        raise KeyEncryptionKeyUnavailable(
            f"both ${KEK_VARIABLE} and ${KEY_FILE_VARIABLE} are set", "set only one of them"
        )
    if text:
        return LocalKeyEncryptionKey.from_base64(text, f"${KEK_VARIABLE}")
    if path:
        return LocalKeyEncryptionKey.from_file(Path(path).expanduser())
    return None


SQLITE_OPTIONS = {"key_file": "the file holding the key-encryption key (default: FILE.db.key)"}


def _sqlite_env(url: str) -> tuple[dict[str, str], str | None]:
    path, _, query = url[len("sqlite://") :].partition("?")
    options = _options(query, SQLITE_OPTIONS, "SQLite")
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
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": name,
        "ORIGINATOR_ID_TYPE": "text",
        # Concurrent writers wait for each other rather than failing at once.
        "SQLITE_LOCK_TIMEOUT": "30",
        "APPLICATION_RECORDER_TOPIC": f"{SQLiteRecorder.__module__}:SQLiteRecorder",
    }
    return env, options.get("key_file")


POSTGRES_OPTIONS = {
    "host": "the server's host name, or a Unix socket's directory",
    "port": "the server's port",
    "dbname": "the database",
    "user": "the user to connect as",
    "password": "the user's password",
    "schema": "the schema our tables live in (it must exist)",
    "pool_size": "connections kept open",
    "max_overflow": "connections opened beyond pool_size under load",
    "lock_timeout": "seconds a write waits for a lock (0: no limit)",
    "connect_timeout": "seconds to wait for the server",
    "key_file": "the file holding the key-encryption key",
}
"""Every option a PostgreSQL URL may carry, and what it sets."""
_WHOLE_NUMBER_OPTIONS = ("port", "pool_size", "max_overflow", "lock_timeout", "connect_timeout")


def _options(query: str, known: dict[str, str], kind: str) -> dict[str, str]:
    """A URL's query options, each one known: a typo is an error, never silently ignored."""
    options = {key: values[-1] for key, values in parse_qs(query, keep_blank_values=True).items()}
    for key in options:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            choices = ", ".join(known) if known else "none"
            raise InvalidInput(
                "url", f"unknown option {key!r} in the {kind} URL: {hint}options are {choices}"
            )
    for key in _WHOLE_NUMBER_OPTIONS:
        if key in options and not options[key].isdigit():
            raise InvalidInput(
                "url", f"option {key!r} must be a whole number, got {options[key]!r}"
            )
    return options


def _postgres_env(netloc: str, path: str, query: str) -> dict[str, str]:
    options = _options(query, POSTGRES_OPTIONS, "PostgreSQL")
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
        "POSTGRES_CONNECT_TIMEOUT": options.get("connect_timeout", "3"),
    }
    if "schema" in options:
        env["POSTGRES_SCHEMA"] = options["schema"]
    return env
