"""Shared fixtures: a real PostgreSQL server, one fresh schema per test, and every backend."""

from __future__ import annotations

import base64
import importlib
import os
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import cast

import pytest

from chatledger.infrastructure import AsyncChatLedger, ChatLedger
from tests.blocking import BlockingAsyncLedger
from tests.fakes import FakeTokenCounter
from tests.postgres import fresh_schema

ROOT = Path(__file__).resolve().parents[1]


class TestModule(pytest.Module):
    """A test module imported by its own name, ``tests.unit.test_x``.

    The repository root is the chatledger package, so pytest alone would name a test module
    after the folder the repository was cloned into (``main.tests.unit.test_x``), a name no
    other process can import: a test that hands a function to a spawned process needs one.
    """

    def _getobj(self) -> ModuleType:
        name = ".".join(self.path.resolve().relative_to(ROOT).with_suffix("").parts)
        return importlib.import_module(name)


def pytest_pycollect_makemodule(module_path: Path, parent: pytest.Collector) -> pytest.Module:
    """Collect every test module as a TestModule."""
    return TestModule.from_parent(parent, path=module_path)


TEST_DATABASE_VARIABLE = "CHATLEDGER_TEST_DATABASE_URL"
KEK_VARIABLES = ("CHATLEDGER_KEK", "CHATLEDGER_KEY_FILE")


@pytest.fixture(scope="session", autouse=True)
def session_kek() -> Iterator[None]:
    """A key-encryption key for the whole run, unless one is configured: PostgreSQL needs one.

    Set in the environment, so the CLI and servers the tests start use it too. Tests of the
    defaults (a key file beside a SQLite database) remove it for themselves.
    """
    if any(os.environ.get(name) for name in KEK_VARIABLES):
        yield
        return
    os.environ["CHATLEDGER_KEK"] = base64.b64encode(os.urandom(32)).decode("ascii")
    try:
        yield
    finally:
        del os.environ["CHATLEDGER_KEK"]


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


@pytest.fixture(scope="module")
def own_postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A PostgreSQL server of this module's own, where no other session's open transaction
    keeps VACUUM from removing a dead row version (as one may on a shared server)."""
    from pgserver import get_server  # type: ignore[attr-defined]  # pgserver re-exports it untyped

    server = get_server(tmp_path_factory.mktemp("own-pgdata"), cleanup_mode="stop")
    try:
        yield str(server.get_uri())
    finally:
        server.cleanup()


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


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """The contract suites (modules named ``*_contract``) run on the async ledger too."""
    if "ledger" in metafunc.fixturenames and metafunc.module.__name__.endswith("_contract"):
        metafunc.parametrize("ledger_api", ["sync", "async"], indirect=True)


@pytest.fixture
def ledger_api(request: pytest.FixtureRequest) -> str:
    """Which API the ``ledger`` fixture gives: ChatLedger (``sync``) or AsyncChatLedger."""
    return str(getattr(request, "param", "sync"))


@pytest.fixture
def ledger(backend_url: str, ledger_api: str) -> Iterator[ChatLedger]:
    """A ledger on each backend in turn, counting tokens with a fake word counter.

    In the contract suites, also an AsyncChatLedger behind ChatLedger's interface.
    """
    if ledger_api == "async":
        blocking = BlockingAsyncLedger(
            lambda: AsyncChatLedger.open(backend_url, token_counter=FakeTokenCounter())
        )
        try:
            yield cast(ChatLedger, blocking)
        finally:
            blocking.close()
        return
    with ChatLedger.open(backend_url, token_counter=FakeTokenCounter()) as opened:
        yield opened
