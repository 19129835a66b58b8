"""A database written before chatledger was one package still opens, reads, verifies and erases.

``tests/fixtures/ledger_before_package.db`` is a SQLite file written by the code of commit
74f7858, when the event classes lived in top-level ``domain`` modules: every stored topic
names ``domain.conversation:...`` or ``domain.audit:...``. It holds three conversations:
``trip`` (a system prompt, a tool exchange and a model call), ``long`` (120 messages, past a
snapshot, with a retention period and a legal hold) and ``gone`` (erased).
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from chatledger import ChatLedger, ConversationErased, ImagePart, Message, TextPart, TokenWindow
from tests.fakes import FakeTokenCounter

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "ledger_before_package.db"


@pytest.fixture
def old(tmp_path: Path) -> Iterator[ChatLedger]:
    """A copy of the old database, opened by today's code."""
    copy = tmp_path / "old.db"
    shutil.copyfile(FIXTURE, copy)
    with ChatLedger.open(f"sqlite:///{copy}", token_counter=FakeTokenCounter()) as ledger:
        yield ledger


def stored_topics(ledger: ChatLedger) -> set[str]:
    tables = ledger.tables
    assert tables is not None
    with tables.transaction() as cursor:
        cursor.execute("SELECT DISTINCT topic FROM stored_events")
        return {row[0] for row in cursor.fetchall()}


def test_the_fixture_was_written_with_module_path_topics() -> None:
    with sqlite3.connect(FIXTURE) as conn:
        topics = {row[0] for row in conn.execute("SELECT DISTINCT topic FROM stored_events")}

    assert topics
    assert all(topic.startswith(("domain.conversation:", "domain.audit:")) for topic in topics)


def test_every_message_of_the_old_database_reads_back(old: ChatLedger) -> None:
    trip = old.history("trip")
    long = old.history("long")

    assert [e.message.id for e in trip] == ["m-sys", "m-u1", "m-a1", "m-t1", "m-a2"]
    assert trip.entries[2].message.tool_calls[0].arguments == '{"city": "Lisbon"}'
    assert trip.entries[4].message.content == "21 °C and sunny."
    assert [e.message.content for e in long] == [f"line {i}" for i in range(120)]


def test_the_old_memory_view_and_model_call_replay_as_recorded(old: ChatLedger) -> None:
    view = old.memory("trip", TokenWindow(max_tokens=4000))
    (call,) = old.model_calls("trip")

    assert [m.id for m in view.messages] == ["m-sys", "m-u1", "m-a1", "m-t1", "m-a2"]
    assert old.replay_model_call("trip", call).identical


def test_the_old_chains_verify(old: ChatLedger) -> None:
    assert old.verify("trip").intact
    assert old.verify("long").intact
    assert old.verify("long").length == 120


def test_the_old_governance_settings_hold(old: ChatLedger) -> None:
    long = old.conversation("long")
    gone = old.conversation("gone")

    assert long is not None
    assert long.retention == timedelta(days=30)
    assert long.legal_hold == "case 42"
    assert gone is not None
    assert gone.erased_at is not None
    assert [e.erased for e in old.history("gone")] == [True]


def test_an_old_conversation_erased_today_reads_as_erased(old: ChatLedger) -> None:
    old.erase("trip", reason="subject request")

    assert all(entry.erased for entry in old.history("trip"))
    with pytest.raises(ConversationErased):
        old.record("trip", Message(role="user", content="again"))


def test_new_events_beside_old_ones_are_written_with_stable_topics(old: ChatLedger) -> None:
    old.record("trip", Message(id="m-u2", role="user", content="And tomorrow?"))

    assert [e.message.id for e in old.history("trip", limit=2)] == ["m-a2", "m-u2"]
    assert "chatledger:Conversation.MessageRecorded" in stored_topics(old)
    assert old.verify("trip").intact


def test_an_old_database_gains_the_attachments_table_and_records_an_image(
    old: ChatLedger,
) -> None:
    image = bytes(range(256)) * 400
    part = ImagePart(data=base64.b64encode(image).decode("ascii"), media_type="image/png")

    old.record("trip", Message(id="m-u2", role="user", content=(TextPart(text="this?"), part)))

    assert "chatledger_attachments" in stored_tables(old)
    assert old.attachment("trip", hashlib.sha256(image).hexdigest()) == image
    assert old.verify("trip").intact


def stored_tables(ledger: ChatLedger) -> set[str]:
    tables = ledger.tables
    assert tables is not None
    with tables.transaction() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {row[0] for row in cursor.fetchall()}
