"""Database URLs: one backend object per kind, and no option a user mistypes passes silently."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatledger.domain import InvalidInput
from chatledger.infrastructure.storage.backends import (
    MemoryBackend,
    PostgresBackend,
    SQLiteBackend,
    backend_for,
)


def test_each_scheme_gets_its_own_kind_of_backend(tmp_path: Path) -> None:
    assert isinstance(backend_for("memory://"), MemoryBackend)
    assert isinstance(backend_for(f"sqlite:///{tmp_path}/x.db"), SQLiteBackend)
    assert isinstance(backend_for("postgresql://u@h:5432/db"), PostgresBackend)


def test_only_postgresql_reads_ahead(tmp_path: Path) -> None:
    assert backend_for("postgresql://u@h/db").reads_ahead
    assert not backend_for(f"sqlite:///{tmp_path}/x.db").reads_ahead
    assert not backend_for("memory://").reads_ahead


def test_a_mistyped_postgresql_option_is_refused_with_the_likely_one() -> None:
    with pytest.raises(InvalidInput) as raised:
        backend_for("postgresql://u@h/db?pool=3")

    assert raised.value.field == "url"
    assert "'pool'" in raised.value.problem
    assert "did you mean 'pool_size'?" in raised.value.problem


def test_a_numeric_option_that_is_not_a_number_is_refused() -> None:
    with pytest.raises(InvalidInput) as raised:
        backend_for("postgresql://u@h/db?connect_timeout=soon")

    assert "'connect_timeout' must be a whole number" in raised.value.problem


def test_known_postgresql_options_set_what_they_name() -> None:
    env = backend_for("postgresql://u@h/db?pool_size=4&schema=s&connect_timeout=2").env

    assert env["POSTGRES_POOL_SIZE"] == "4"
    assert env["POSTGRES_SCHEMA"] == "s"
    assert env["POSTGRES_CONNECT_TIMEOUT"] == "2"


def test_a_sqlite_url_takes_no_options(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as raised:
        backend_for(f"sqlite:///{tmp_path}/x.db?mode=ro")

    assert "unknown option 'mode' in the SQLite URL" in raised.value.problem


def test_a_sqlite_file_not_there_yet_is_reported_missing(tmp_path: Path) -> None:
    backend = backend_for(f"sqlite:///{tmp_path}/x.db")

    assert backend.missing() == str(tmp_path / "x.db")
    (tmp_path / "x.db").touch()
    assert backend.missing() is None
