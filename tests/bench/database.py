"""The PostgreSQL server the benchmark runs on, and its own schema there, dropped at the end."""

from __future__ import annotations

import base64
import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import sql

TEST_DATABASE_VARIABLE = "CHATLEDGER_TEST_DATABASE_URL"
LEDGER_ONLY_OPTIONS = {"schema", "pool_size", "max_overflow", "lock_timeout"}
"""Options of a chatledger URL that libpq does not know."""


@dataclass(frozen=True)
class BenchDatabase:
    """One schema of one server: chatledger's tables and the peers' tables live side by side."""

    server_url: str
    schema: str

    @property
    def ledger_url(self) -> str:
        """The URL chatledger opens: the server, with every table in the bench schema."""
        parts = urlsplit(self.server_url)
        query = [(k, v) for k, v in parse_qsl(parts.query) if k != "schema"]
        query.append(("schema", self.schema))
        return urlunsplit(parts._replace(query=urlencode(query)))

    def analyze(self) -> None:
        """Bring the planner's statistics of every table in the schema up to date."""
        with psycopg.connect(self.conninfo, autocommit=True) as conn:
            tables = conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = %s", (self.schema,)
            ).fetchall()
            for (table,) in tables:
                conn.execute(
                    sql.SQL("ANALYZE {}.{}").format(*map(sql.Identifier, (self.schema, table)))
                )

    @property
    def conninfo(self) -> str:
        """The libpq URL of the server (without chatledger's own options)."""
        parts = urlsplit(self.server_url)
        query = [(k, v) for k, v in parse_qsl(parts.query) if k not in LEDGER_ONLY_OPTIONS]
        return urlunsplit(parts._replace(query=urlencode(query)))

    def connect(self, *, autocommit: bool = False) -> psycopg.Connection[tuple[object, ...]]:
        """A connection whose unqualified table names resolve in the bench schema."""
        return psycopg.connect(
            self.conninfo, autocommit=autocommit, options=f"-c search_path={self.schema}"
        )


KEK_VARIABLES = ("CHATLEDGER_KEK", "CHATLEDGER_KEY_FILE")


def ensure_kek() -> None:
    """Give this run (and the workers it starts) a random KEK unless one is configured.

    A PostgreSQL ledger refuses to open without one, and the bench's schemas live for one run.
    """
    if not any(os.environ.get(name) for name in KEK_VARIABLES):
        os.environ["CHATLEDGER_KEK"] = base64.b64encode(os.urandom(32)).decode("ascii")


@contextmanager
def server(explicit: str | None) -> Iterator[str]:
    """The given URL, else $CHATLEDGER_TEST_DATABASE_URL, else a throwaway pgserver."""
    url = explicit or os.environ.get(TEST_DATABASE_VARIABLE)
    if url:
        yield url
        return
    try:
        from pgserver import get_server  # type: ignore[attr-defined]  # re-exported, untyped
    except ImportError:
        raise SystemExit(
            "no database: pass --db postgresql://..., set $CHATLEDGER_TEST_DATABASE_URL, "
            "or `pip install 'chatledger[bench]'` for a throwaway PostgreSQL"
        ) from None
    with tempfile.TemporaryDirectory(prefix="chatledger-bench-") as data:
        started = get_server(data, cleanup_mode="stop")
        try:
            yield str(started.get_uri())
        finally:
            started.cleanup()


@contextmanager
def bench_schema(server_url: str) -> Iterator[BenchDatabase]:
    """A fresh schema named bench_*, dropped with everything in it afterwards."""
    database = BenchDatabase(server_url, f"bench_{uuid.uuid4().hex[:12]}")
    with psycopg.connect(database.conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(database.schema)))
    try:
        yield database
    finally:
        with psycopg.connect(database.conninfo, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(database.schema)))
