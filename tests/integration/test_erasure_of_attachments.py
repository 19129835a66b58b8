"""An attacker with a copy of the database's files looks for an erased conversation's image.

The image's bytes carry a distinctive marker. The files searched are the ones a disk copy
holds: the SQLite file with its -wal and -shm; PostgreSQL's attachments table, its TOAST
table and every WAL segment. The marker is never there (the bytes are sealed), in any form a
part could be written in (raw, base64), and neither is the image's sha256, which would
confirm a guess of it: the row id is keyed. Erasure then deletes the sealed rows too.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from chatledger import ChatLedger, ImagePart, Message, TextPart
from tests.fakes import FakeTokenCounter
from tests.postgres import fresh_schema

MARKER = b"<<chatledger-erasure-marker-5f0c2a91>>"
IMAGE = os.urandom(300_000) + MARKER * 64 + os.urandom(300_000)
SHA256 = hashlib.sha256(IMAGE).digest()


def forms() -> dict[str, bytes]:
    """What an attacker greps for: the marker, the image as base64 at its marker, its sha256."""
    encoded = base64.b64encode(IMAGE)
    start = len(encoded) // 2  # inside the run of markers, whatever the alignment
    return {
        "marker": MARKER,
        "base64 of the image": encoded[start : start + 96],
        "sha256 (hex)": SHA256.hex().encode(),
        "sha256 (HEX)": SHA256.hex().upper().encode(),
        "sha256 (raw)": SHA256,
        "sha256 (base64)": base64.b64encode(SHA256),
    }


def found_in(files: list[Path], extra: dict[str, bytes] | None = None) -> list[str]:
    hits = []
    for path in files:
        data = path.read_bytes()
        hits += [
            f"{path.name}: {name}"
            for name, form in {**forms(), **(extra or {})}.items()
            if form in data
        ]
    return hits


def record_image(ledger: ChatLedger) -> bytes:
    """Record the image; return its sealed row's ciphertext, as the store holds it."""
    part = ImagePart(data=base64.b64encode(IMAGE).decode("ascii"), media_type="image/png")
    ledger.record("conv-secret", Message(role="user", content=(TextPart(text="me"), part)))
    ledger.record("conv-other", Message(role="user", content="nothing to hide"))
    assert ledger.attachment("conv-secret", SHA256.hex()) == IMAGE
    sealer = ledger.application.sealer
    row = ledger.application.attachments.read(
        "conv-secret", sealer.attachment_id("conv-secret", SHA256.hex(), create=False)
    )
    assert row is not None
    return row.sealed


def ciphertext(sealed: bytes) -> dict[str, bytes]:
    """A stretch of the sealed bytes from their middle: what must leave the files on erasure."""
    middle = len(sealed) // 2
    return {"the sealed bytes": sealed[middle : middle + 64]}


def sqlite_files(db: Path) -> list[Path]:
    files = [p for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm")) if p.exists()]
    assert db in files, "the test must look at the real database file"
    return files


def test_the_image_is_in_no_sqlite_file_before_erasure_only_its_sealed_bytes(
    tmp_path: Path,
) -> None:
    db = tmp_path / "ledger.db"
    with ChatLedger.open(f"sqlite:///{db}", FakeTokenCounter()) as ledger:
        sealed = record_image(ledger)
        files = sqlite_files(db)

        hits = found_in(files)
        sealed_there = found_in(files, ciphertext(sealed))

    assert Path(f"{db}-wal") in files, "the WAL must be searched while the ledger is open"
    assert hits == []
    assert sealed_there, "the test must see the sealed row it then expects gone"


def test_after_erasure_neither_the_image_nor_its_sealed_bytes_are_in_any_sqlite_file(
    tmp_path: Path,
) -> None:
    db = tmp_path / "ledger.db"
    with ChatLedger.open(f"sqlite:///{db}", FakeTokenCounter()) as ledger:
        sealed = record_image(ledger)

        ledger.erase("conv-secret", reason="subject request")

        hits = found_in(sqlite_files(db), ciphertext(sealed))
        assert ledger.history("conv-other").messages[0].content == "nothing to hide"

    assert hits == []


def postgres_files(url: str, *, wal: bool = True) -> Iterator[Path]:
    """The attachments table's and its TOAST table's data files, after a CHECKPOINT; and,
    with ``wal``, every WAL segment."""
    server_url, _, schema = url.rpartition("schema=")
    with psycopg.connect(server_url.rstrip("?&"), autocommit=True) as conn:
        conn.execute("CHECKPOINT")
        row = conn.execute("SHOW data_directory").fetchone()
        assert row is not None
        data = Path(row[0])
        row = conn.execute(
            "SELECT pg_relation_filepath(c.oid), pg_relation_filepath(c.reltoastrelid) "
            "FROM pg_class c WHERE c.oid = %s::regclass",
            (f"{schema}.chatledger_attachments",),
        ).fetchone()
        assert row is not None
        assert row[1] is not None, "the table must have a TOAST table"
    for relative in row:
        relation = data / relative
        segments = sorted(relation.parent.glob(f"{relation.name}.*"))
        yield from [relation, *[s for s in segments if s.name.split(".")[-1].isdigit()]]
    if wal:
        segments = sorted(p for p in (data / "pg_wal").iterdir() if p.is_file())
        assert segments, "the test must look at real WAL segments"
        yield from segments


@pytest.mark.postgres
def test_the_image_is_in_neither_postgres_table_file_nor_the_wal_before_or_after_erasure(
    postgres_url: str,
) -> None:
    with ChatLedger.open(postgres_url, FakeTokenCounter()) as ledger:
        sealed = record_image(ledger)
        before = list(postgres_files(postgres_url))
        hits_before = found_in(before)
        toast_holds_it = found_in(before[1:2], ciphertext(sealed))

        ledger.erase("conv-secret", reason="subject request")
    hits_after = found_in(list(postgres_files(postgres_url)))

    assert toast_holds_it, "the test must see the sealed bytes in the TOAST table's file"
    assert hits_before == []
    assert hits_after == []


@pytest.mark.postgres
def test_erasure_vacuums_the_sealed_bytes_out_of_the_postgres_table_files(
    own_postgres_server: str,
) -> None:
    with (
        fresh_schema(own_postgres_server) as url,
        ChatLedger.open(url, FakeTokenCounter()) as ledger,
    ):
        sealed = record_image(ledger)
        assert found_in(list(postgres_files(url, wal=False)), ciphertext(sealed))

        ledger.erase("conv-secret", reason="subject request")

        hits = found_in(list(postgres_files(url, wal=False)), ciphertext(sealed))

    assert hits == []
