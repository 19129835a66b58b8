"""An attacker with a copy of the database's files looks for a conversation's data key.

The test knows the key (it asks the key store in-process) and searches every file an attacker
could copy, in every encoding a key is commonly written in: the SQLite file with its -wal and
-shm, PostgreSQL's data file of the keys table and every WAL segment. Keys are stored wrapped
by a key-encryption key that is not in the database, so the key is never there; and a copy
opened without that KEK reads nothing.
"""

from __future__ import annotations

import base64
import shutil
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from chatledger import ChatLedger, KeyEncryptionKeyUnavailable, Message
from chatledger.infrastructure.storage.wrapping import LocalKeyEncryptionKey
from tests.fakes import FakeTokenCounter
from tests.postgres import fresh_schema

SECRET = "my passport number is X1234-SECRET-5678"


def encodings(key: bytes) -> dict[str, bytes]:
    """The 32 key bytes as an attacker would grep for them."""
    return {
        "raw": key,
        "base64": base64.b64encode(key),
        "urlsafe base64": base64.urlsafe_b64encode(key),
        "hex": key.hex().encode(),
        "HEX": key.hex().upper().encode(),
    }


def found_in(key: bytes, files: list[Path]) -> list[str]:
    """Every (file, encoding) holding ``key``."""
    hits = []
    for path in files:
        data = path.read_bytes()
        hits += [f"{path.name}: {name}" for name, form in encodings(key).items() if form in data]
    return hits


def sqlite_files(db: Path) -> list[Path]:
    files = [p for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm")) if p.exists()]
    assert db in files, "the test must look at the real database file"
    return files


def record_secret(ledger: ChatLedger) -> bytes:
    """Record a secret; return its conversation's data key, read as the ledger itself reads it."""
    ledger.record(
        "conv-secret",
        [Message(role="system", content="Be brief."), Message(role="user", content=SECRET)],
    )
    ledger.record("conv-other", Message(role="user", content="nothing to hide"))
    key = ledger.application.keys.key("conv-secret")
    assert key is not None
    assert len(key) == 32
    assert ledger.history("conv-secret").messages[1].content == SECRET
    return key


def stored_key(ledger: ChatLedger, conversation_id: str) -> bytes:
    """The bytes the keys table holds for the conversation (its wrapped key)."""
    tables = ledger.tables
    assert tables is not None
    with tables.transaction() as cursor:
        cursor.execute(
            f"SELECT key FROM {tables.name('keys')} WHERE conversation_id = {tables.placeholder}",
            (conversation_id,),
        )
        return bytes(cursor.fetchone()["key"])


def test_the_key_is_in_no_sqlite_file_before_erasure(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    with ChatLedger.open(f"sqlite:///{db}", FakeTokenCounter()) as ledger:
        key = record_secret(ledger)

        files = sqlite_files(db)
        hits = found_in(key, files)

    assert Path(f"{db}-wal") in files, "the WAL must be searched while the ledger is open"
    assert hits == []


def test_the_key_is_in_no_sqlite_file_after_erasure(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    with ChatLedger.open(f"sqlite:///{db}", FakeTokenCounter()) as ledger:
        key = record_secret(ledger)
        ledger.erase("conv-secret", reason="subject request")

        hits = found_in(key, sqlite_files(db))

    assert hits == []


def test_erasure_purges_even_the_wrapped_key_from_the_sqlite_files(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    with ChatLedger.open(f"sqlite:///{db}", FakeTokenCounter()) as ledger:
        record_secret(ledger)
        wrapped = stored_key(ledger, "conv-secret")
        assert wrapped in b"".join(p.read_bytes() for p in sqlite_files(db))

        ledger.erase("conv-secret", reason="subject request")

        remains = [p.name for p in sqlite_files(db) if wrapped in p.read_bytes()]
        assert ledger.conversation("conv-secret") is not None

    assert remains == []


def test_a_copy_of_the_sqlite_files_opened_with_another_kek_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    with ChatLedger.open(f"sqlite:///{db}", FakeTokenCounter()) as ledger:
        record_secret(ledger)
        copy = tmp_path / "stolen"
        copy.mkdir()
        for path in sqlite_files(db):
            shutil.copyfile(path, copy / path.name)

    with pytest.raises(KeyEncryptionKeyUnavailable) as refused:
        ChatLedger.open(
            f"sqlite:///{copy / 'ledger.db'}", kek=LocalKeyEncryptionKey.generate("a guessed KEK")
        )

    assert "wrapped by key-encryption key" in str(refused.value)
    assert "a guessed KEK" in str(refused.value)


def test_a_copy_of_the_sqlite_file_without_its_key_file_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CHATLEDGER_KEK", raising=False)
    monkeypatch.delenv("CHATLEDGER_KEY_FILE", raising=False)
    db = tmp_path / "ledger.db"
    with ChatLedger.open(f"sqlite:///{db}", FakeTokenCounter()) as ledger:
        record_secret(ledger)
    copy = tmp_path / "stolen"
    copy.mkdir()
    shutil.copyfile(db, copy / "ledger.db")

    with pytest.raises(KeyEncryptionKeyUnavailable) as refused:
        ChatLedger.open(f"sqlite:///{copy / 'ledger.db'}")

    assert "ledger.db.key" in str(refused.value)
    assert "missing" in str(refused.value)
    assert not (copy / "ledger.db.key").exists()


def test_no_32_bytes_of_a_stolen_sqlite_file_open_the_erased_text(tmp_path: Path) -> None:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    db = tmp_path / "ledger.db"
    with ChatLedger.open(f"sqlite:///{db}", FakeTokenCounter()) as ledger:
        key = record_secret(ledger)
        wrapped = stored_key(ledger, "conv-secret")
    # What the attacker holds: the wrapped key. A sealed message to try keys on, sealed as
    # the ledger seals: the real key opens it, which shows the trial would notice success.
    nonce = b"\0" * 12
    sealed = AESGCM(key).encrypt(nonce, SECRET.encode(), None)
    opened = 0
    for start in range(len(wrapped) - 31):
        try:
            AESGCM(wrapped[start : start + 32]).decrypt(nonce, sealed, None)
            opened += 1
        except InvalidTag:
            pass

    assert AESGCM(key).decrypt(nonce, sealed, None) == SECRET.encode()
    assert opened == 0


def postgres_files(url: str) -> Iterator[Path]:
    """The keys table's data files, after a CHECKPOINT, and every WAL segment."""
    server_url, _, schema = url.rpartition("schema=")
    with psycopg.connect(server_url.rstrip("?&"), autocommit=True) as conn:
        conn.execute("CHECKPOINT")
        row = conn.execute("SHOW data_directory").fetchone()
        assert row is not None
        data = Path(row[0])
        row = conn.execute(
            "SELECT pg_relation_filepath(%s::regclass)", (f"{schema}.chatledger_keys",)
        ).fetchone()
        assert row is not None
    relation = data / row[0]
    segments = sorted(relation.parent.glob(f"{relation.name}.*"))
    yield from [relation, *[s for s in segments if s.name.split(".")[-1].isdigit()]]
    wal = sorted(p for p in (data / "pg_wal").iterdir() if p.is_file())
    assert wal, "the test must look at real WAL segments"
    yield from wal


@pytest.mark.postgres
def test_the_key_is_in_neither_the_postgres_table_file_nor_its_wal_after_erasure(
    postgres_url: str,
) -> None:
    with ChatLedger.open(postgres_url, FakeTokenCounter()) as ledger:
        key = record_secret(ledger)
        ledger.erase("conv-secret", reason="subject request")

    files = list(postgres_files(postgres_url))
    hits = found_in(key, files)

    assert files[0].stat().st_size > 0, "the keys table's file must hold its rows"
    assert hits == []


@pytest.mark.postgres
def test_erasure_vacuums_the_wrapped_key_out_of_the_postgres_table_file(
    own_postgres_server: str,
) -> None:
    with fresh_schema(own_postgres_server) as url:
        assert_vacuumed_on_erasure(url)


def assert_vacuumed_on_erasure(postgres_url: str) -> None:
    with ChatLedger.open(postgres_url, FakeTokenCounter()) as ledger:
        record_secret(ledger)
        wrapped = stored_key(ledger, "conv-secret")
        table_file = next(postgres_files(postgres_url))
        assert wrapped in table_file.read_bytes()

        ledger.erase("conv-secret", reason="subject request")
        table_file = next(postgres_files(postgres_url))

        assert ledger.conversation("conv-secret") is not None
    assert wrapped not in table_file.read_bytes()
