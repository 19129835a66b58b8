"""An attacker with a copy of the database files tries to confirm guesses of erased text.

Every digest kept beside sealed text is keyed by a key derived from the conversation's data
key, which erasure destroys: a dictionary of likely texts, hashed as the stored digests were
made before keyed digests, matches nothing in the raw bytes. A conversation of the plain
scheme (begun before) is attacked the same way, to show the attack is real: it succeeds.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import psycopg
import pytest

from chatledger import ChatLedger, Message
from chatledger.domain import Conversation
from chatledger.domain.conversation import PLAIN
from tests.fakes import FakeTokenCounter

SECRET_DAY = date(1984, 3, 17)
PROMPT_PATIENT = "Jane Roe"
NAMES = ["John Doe", "Mary Major", "Richard Roe", PROMPT_PATIENT, "Joe Bloggs", "Erika Muster"]
HEX64 = re.compile(rb"[0-9a-f]{64}")


def said(day: date) -> str:
    return f"My date of birth is {day.isoformat()}"


def prompt(name: str) -> str:
    return f"You are the assistant of St Mary's clinic. The patient is {name}."


def dictionary() -> Iterator[tuple[str, str]]:
    """(guess, the sha256 digests a plain store would keep for it): every day of 1940-2010."""
    day = date(1940, 1, 1)
    while day < date(2011, 1, 1):
        message = Message(id="m-dob", role="user", content=said(day))
        yield said(day), message.digest()
        day += timedelta(days=1)
    for name in NAMES:
        text = prompt(name)
        system = Message(id="m-prompt", role="system", content=text)
        yield text, system.digest()
        yield text, hashlib.sha256(f"conv-secret\nt{text}".encode()).hexdigest()


def record_and_erase(ledger: ChatLedger) -> None:
    ledger.record(
        "conv-secret",
        [
            Message(id="m-prompt", role="system", content=prompt(PROMPT_PATIENT)),
            Message(id="m-dob", role="user", content=said(SECRET_DAY)),
        ],
    )
    # Past the snapshot interval, so a snapshot of the state is stored too.
    ledger.record("conv-secret", [Message(role="assistant", content="noted") for _ in range(120)])
    ledger.erase("conv-secret", reason="the patient asked")


def sqlite_bytes(path: Path) -> bytes:
    """The database file and its write-ahead log, as a copy of the disk would hold them."""
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def postgres_bytes(url: str) -> bytes:
    """Every column of every row of our tables in the schema, as text."""
    schema = url.rsplit("schema=", 1)[1]
    dump = []
    with psycopg.connect(url.split("?")[0], autocommit=True) as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,)
        ).fetchall()
        for (table,) in tables:
            for row in conn.execute(f'SELECT * FROM {schema}."{table}"'):
                dump.append(repr(row).encode())
    return b"\n".join(dump)


def guesses_confirmed(raw: bytes) -> set[str]:
    stored = set(HEX64.findall(raw))
    return {guess for guess, digest in dictionary() if digest.encode() in stored}


@pytest.fixture
def sqlite_ledger(tmp_path: Path) -> Iterator[tuple[ChatLedger, Path]]:
    path = tmp_path / "ledger.db"
    with ChatLedger.open(f"sqlite:///{path}", token_counter=FakeTokenCounter()) as ledger:
        yield ledger, path


def test_a_dictionary_attack_on_the_sqlite_file_and_wal_confirms_nothing(
    sqlite_ledger: tuple[ChatLedger, Path],
) -> None:
    ledger, path = sqlite_ledger
    record_and_erase(ledger)

    raw = sqlite_bytes(path)

    assert HEX64.search(raw)  # the rows are there: chain links and digests, all opaque
    assert guesses_confirmed(raw) == set()


@pytest.mark.postgres
def test_a_dictionary_attack_on_the_postgresql_tables_confirms_nothing(postgres_url: str) -> None:
    with ChatLedger.open(postgres_url, token_counter=FakeTokenCounter()) as ledger:
        record_and_erase(ledger)

    raw = postgres_bytes(postgres_url)

    assert HEX64.search(raw)
    assert guesses_confirmed(raw) == set()


def test_the_same_attack_confirms_the_text_of_a_conversation_of_the_plain_scheme(
    tmp_path: Path,
) -> None:
    # What every conversation begun before keyed digests is exposed to, as the README says.
    path = tmp_path / "old.db"
    with ChatLedger.open(f"sqlite:///{path}", token_counter=FakeTokenCounter()) as ledger:
        ledger.application.save(Conversation.start("conv-secret", digests=PLAIN))
        record_and_erase(ledger)

    confirmed = guesses_confirmed(sqlite_bytes(path))

    assert said(SECRET_DAY) in confirmed
    assert prompt(PROMPT_PATIENT) in confirmed


def test_a_claim_on_a_message_id_is_keyed_too(sqlite_ledger: tuple[ChatLedger, Path]) -> None:
    ledger, path = sqlite_ledger
    ledger.record("conv-ids", Message(id="order-4111111111111111", role="user", content="hi"))
    ledger.erase("conv-ids", reason="asked")

    plain_claim = hashlib.sha256(b"conv-ids\norder-4111111111111111").hexdigest().encode()
    with sqlite3.connect(path) as conn:
        streams = {row[0] for row in conn.execute("SELECT originator_id FROM stored_events")}

    assert any(stream.startswith("key/") for stream in streams)
    assert f"key/{plain_claim.decode()}" not in streams
