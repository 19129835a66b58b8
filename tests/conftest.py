"""Shared fixtures: a real PostgreSQL server, one fresh schema per test, and every backend."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from infrastructure import ChatLedger
from tests.fakes import FakeTokenCounter

TEST_DATABASE_VARIABLE = "CHATLEDGER_TEST_DATABASE_URL"
BACKENDS = ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def postgres_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """$CHATLEDGER_TEST_DATABASE_URL, or a throwaway real PostgreSQL started by pgserver."""
    configured = os.environ.get(TEST_DATABASE_VARIABLE)
    if configured:
        yield configured
        return
    from pgserver import get_server  # type: ignore[attr-defined]  # pgserver re-exports it untyped

    server = get_server(tmp_path_factory.mktemp("pgdata"), cleanup_mode="stop")
    try:
        yield str(server.get_uri())
    finally:
        server.cleanup()


@contextmanager
def fresh_schema(server_url: str) -> Iterator[str]:
    """A URL of ``server_url`` whose tables live in a new schema, dropped afterwards."""
    schema = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in server_url else "?"
    try:
        yield f"{server_url}{separator}schema={schema}"
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def postgres_url(postgres_server_url: str) -> Iterator[str]:
    """A URL of the test server whose tables live in a schema of this test's own."""
    with fresh_schema(postgres_server_url) as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A URL of a fresh SQLite file."""
    return f"sqlite:///{tmp_path / 'ledger.db'}"


@pytest.fixture(params=BACKENDS)
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a fresh, empty store on each backend in turn."""
    if request.param == "memory":
        return "memory://"
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def ledger(backend_url: str) -> Iterator[ChatLedger]:
    """A ledger on each backend in turn, counting tokens with a fake word counter."""
    with ChatLedger.open(backend_url, token_counter=FakeTokenCounter()) as opened:
        yield opened
