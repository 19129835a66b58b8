"""Where the key-encryption key comes from, and its rotation: the old KEK opens nothing after."""

from __future__ import annotations

import shutil
import sqlite3
import stat
from pathlib import Path

import pytest

from chatledger import ChatLedger, KeyEncryptionKeyUnavailable, Message
from chatledger.infrastructure.storage.wrapping import LocalKeyEncryptionKey, write_key_file
from tests.fakes import FakeTokenCounter

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "ledger_before_package.db"


@pytest.fixture
def no_configured_kek(monkeypatch: pytest.MonkeyPatch) -> None:
    """The process environment names no KEK: the backend's default applies."""
    monkeypatch.delenv("CHATLEDGER_KEK", raising=False)
    monkeypatch.delenv("CHATLEDGER_KEY_FILE", raising=False)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def stored_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database that a second ledger can open: SQLite, then PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.mark.usefixtures("no_configured_kek")
def test_a_new_sqlite_database_gets_its_key_file_beside_it_for_its_owner_only(
    tmp_path: Path,
) -> None:
    db = tmp_path / "chat.db"
    with ChatLedger.open(f"sqlite:///{db}", FakeTokenCounter()) as ledger:
        ledger.record("c", Message(role="user", content="hello"))
        source = ledger.key_encryption_key.source

    key_file = tmp_path / "chat.db.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert str(key_file) in source
    with ChatLedger.open(f"sqlite:///{db}", FakeTokenCounter()) as again:
        assert again.history("c").messages[0].content == "hello"


@pytest.mark.usefixtures("no_configured_kek")
def test_a_key_file_named_by_the_url_replaces_the_default(tmp_path: Path) -> None:
    key_file = tmp_path / "elsewhere.key"
    write_key_file(key_file)
    db = tmp_path / "chat.db"

    with ChatLedger.open(f"sqlite:///{db}?key_file={key_file}", FakeTokenCounter()) as ledger:
        ledger.record("c", Message(role="user", content="hello"))

    assert not (tmp_path / "chat.db.key").exists()
    with pytest.raises(KeyEncryptionKeyUnavailable):
        ChatLedger.open(f"sqlite:///{db}", FakeTokenCounter())
    with ChatLedger.open(f"sqlite:///{db}", FakeTokenCounter(), key_file=key_file) as again:
        assert again.history("c").messages[0].content == "hello"


def test_both_kek_variables_at_once_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_file = tmp_path / "k.key"
    write_key_file(key_file)
    monkeypatch.setenv("CHATLEDGER_KEY_FILE", str(key_file))

    with pytest.raises(KeyEncryptionKeyUnavailable, match="CHATLEDGER_KEK and"):
        ChatLedger.open(f"sqlite:///{tmp_path / 'chat.db'}", FakeTokenCounter())


@pytest.mark.postgres
@pytest.mark.usefixtures("no_configured_kek")
def test_postgres_without_a_kek_refuses_to_open_and_names_the_variables(
    postgres_url: str,
) -> None:
    with pytest.raises(KeyEncryptionKeyUnavailable) as refused:
        ChatLedger.open(postgres_url, FakeTokenCounter())

    assert "CHATLEDGER_KEY_FILE" in str(refused.value)
    assert "CHATLEDGER_KEK" in str(refused.value)


def test_after_rotation_the_old_kek_opens_nothing_and_the_new_one_reads_everything(
    stored_url: str,
) -> None:
    old, new = LocalKeyEncryptionKey.generate("the old KEK"), LocalKeyEncryptionKey.generate()
    with ChatLedger.open(stored_url, FakeTokenCounter(), kek=old) as ledger:
        ledger.record("a", Message(role="user", content="alpha"))
        ledger.record("b", Message(role="user", content="beta"))
        ledger.erase("b", reason="gdpr")

        rotation = ledger.rotate_key_encryption_key(new)
        ledger.record("a", Message(role="user", content="after"))

    with pytest.raises(KeyEncryptionKeyUnavailable, match="the old KEK"):
        ChatLedger.open(stored_url, FakeTokenCounter(), kek=old)
    with ChatLedger.open(stored_url, FakeTokenCounter(), kek=new) as rotated:
        assert [m.content for m in rotated.history("a").messages] == ["alpha", "after"]
        assert all(e.erased for e in rotated.history("b"))
    assert (rotation.rewrapped, rotation.legacy) == (1, 0)


def legacy_keys(path: Path) -> dict[str, bytes]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT conversation_id, key FROM chatledger_keys WHERE key IS NOT NULL"
        )
        return {conversation_id: bytes(key) for conversation_id, key in rows}


def test_rotation_wraps_the_bare_keys_of_a_database_written_before(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    shutil.copyfile(FIXTURE, db)
    bare = legacy_keys(db)
    assert sorted(bare) == ["long", "trip"]
    assert all(len(key) == 32 and key in db.read_bytes() for key in bare.values())
    new = LocalKeyEncryptionKey.generate()

    with ChatLedger.open(f"sqlite:///{db}", FakeTokenCounter()) as ledger:
        rotation = ledger.rotate_key_encryption_key(new)
        files = [p for p in (db, Path(f"{db}-wal")) if p.exists()]
        left = [c for c, key in bare.items() for p in files if key in p.read_bytes()]

    assert (rotation.rewrapped, rotation.legacy) == (2, 2)
    assert left == []
    with ChatLedger.open(f"sqlite:///{db}", FakeTokenCounter(), kek=new) as rotated:
        assert rotated.history("trip").messages[-1].content == "21 °C and sunny."
        assert rotated.verify("long").intact
