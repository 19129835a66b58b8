"""Erasure by crypto-shredding: the text is gone everywhere, the trail stays and verifies."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from chatledger.domain import ConversationErased, Message, ToolCall, UnknownConversation
from chatledger.infrastructure import ChatLedger
from chatledger.projections import MessageWindow
from tests.fakes import FakeTokenCounter

SECRET = "my passport number is X1234-SECRET-5678"


def record_secret_conversation(ledger: ChatLedger) -> None:
    ledger.record(
        "conv-erase",
        [
            Message(role="system", content=f"The user said: {SECRET}"),
            Message(role="user", content=SECRET, name="alice"),
            Message(
                role="assistant",
                tool_calls=(ToolCall(id="c1", name="store", arguments=f'{{"v": "{SECRET}"}}'),),
            ),
            Message(role="tool", tool_call_id="c1", content=SECRET, metadata={"note": SECRET}),
        ],
    )
    # A summary is sealed under the same key: the raw scans below look for its text too.
    ledger.record_summary("conv-erase", covers=4, text=f"They stored {SECRET}.", model="m")
    ledger.record("conv-keep", Message(role="user", content="nothing to hide"))


def test_erased_history_keeps_every_position_role_and_time_but_no_content(
    ledger: ChatLedger,
) -> None:
    record_secret_conversation(ledger)
    before = ledger.history("conv-erase")

    ledger.erase("conv-erase", reason="user asked, ticket 42")
    after = ledger.history("conv-erase")

    assert [(e.position, e.message.role, e.recorded_at) for e in after] == [
        (e.position, e.message.role, e.recorded_at) for e in before
    ]
    assert all(e.erased and e.message.content is None for e in after)
    assert SECRET not in after.model_dump_json()


def test_erased_summaries_keep_their_coverage_but_no_text(ledger: ChatLedger) -> None:
    record_secret_conversation(ledger)

    ledger.erase("conv-erase", reason="user asked, ticket 42")

    (summary,) = ledger.summaries("conv-erase")
    assert (summary.covers, summary.erased, summary.text) == (4, True, "")
    assert SECRET not in summary.model_dump_json()


def test_memory_of_an_erased_conversation_is_refused(ledger: ChatLedger) -> None:
    record_secret_conversation(ledger)
    ledger.erase("conv-erase", reason="gdpr")

    with pytest.raises(ConversationErased):
        ledger.memory("conv-erase", MessageWindow())


def test_nothing_more_can_be_recorded_into_an_erased_conversation(ledger: ChatLedger) -> None:
    record_secret_conversation(ledger)
    ledger.erase("conv-erase", reason="gdpr")

    with pytest.raises(ConversationErased):
        ledger.record("conv-erase", Message(role="user", content="again"))

    assert ledger.version("conv-erase") == 4


def test_other_conversations_are_untouched_by_an_erasure(ledger: ChatLedger) -> None:
    record_secret_conversation(ledger)

    ledger.erase("conv-erase", reason="gdpr")

    assert ledger.history("conv-keep").messages[0].content == "nothing to hide"
    assert ledger.verify("conv-keep").intact


def test_verify_still_passes_after_erasure(ledger: ChatLedger) -> None:
    record_secret_conversation(ledger)

    ledger.erase("conv-erase", reason="gdpr")

    assert ledger.verify("conv-erase").intact


def test_erasing_twice_keeps_the_first_erasure_time(ledger: ChatLedger) -> None:
    record_secret_conversation(ledger)
    first = ledger.erase("conv-erase", reason="gdpr")

    second = ledger.erase("conv-erase", reason="again")

    assert second == first


def test_erasing_an_unknown_conversation_says_so(ledger: ChatLedger) -> None:
    with pytest.raises(UnknownConversation):
        ledger.erase("nobody", reason="gdpr")


def test_another_process_reading_after_erasure_sees_no_content(sqlite_url: str) -> None:
    with ChatLedger.open(sqlite_url, FakeTokenCounter()) as writer:
        record_secret_conversation(writer)
        writer.erase("conv-erase", reason="gdpr")

    with ChatLedger.open(sqlite_url, FakeTokenCounter()) as reader:
        assert all(e.erased for e in reader.history("conv-erase"))


def raw_sqlite_values(path: Path) -> Iterator[object]:
    with sqlite3.connect(path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for row in conn.execute(f"SELECT * FROM {table}"):  # names from sqlite_master
                yield from row


def raw_postgres_values(url: str) -> Iterator[object]:
    server_url, _, schema = url.rpartition("schema=")
    with psycopg.connect(server_url.rstrip("?&"), autocommit=True) as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,)
        ).fetchall()
        assert tables, "the test must look at real tables"
        for (table,) in tables:
            for row in conn.execute(f'SELECT * FROM {schema}."{table}"'):  # catalogue names
                yield from row


def contains_secret(value: object) -> bool:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return SECRET.encode() in bytes(value)
    return SECRET in str(value)


def test_the_secret_is_nowhere_in_the_raw_sqlite_file_after_erasure(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    with ChatLedger.open(f"sqlite:///{path}", FakeTokenCounter()) as ledger:
        record_secret_conversation(ledger)
        ledger.erase("conv-erase", reason="gdpr")
        views = [ledger.history("conv-erase").model_dump_json()]
        views += [summary.model_dump_json() for summary in ledger.summaries("conv-erase")]

    values = list(raw_sqlite_values(path))

    assert values, "the test must look at real rows"
    assert not any(contains_secret(v) for v in values)
    assert SECRET.encode() not in path.read_bytes()
    assert not any(SECRET in view for view in views)


@pytest.mark.postgres
def test_the_secret_is_nowhere_in_the_raw_postgres_tables_after_erasure(postgres_url: str) -> None:
    with ChatLedger.open(postgres_url, FakeTokenCounter()) as ledger:
        record_secret_conversation(ledger)
        ledger.erase("conv-erase", reason="gdpr")
        view = ledger.history("conv-erase").model_dump_json()

    values = list(raw_postgres_values(postgres_url))

    assert not any(contains_secret(v) for v in values)
    assert SECRET not in view


@pytest.mark.postgres
def test_before_erasure_the_secret_is_stored_only_as_ciphertext(postgres_url: str) -> None:
    with ChatLedger.open(postgres_url, FakeTokenCounter()) as ledger:
        record_secret_conversation(ledger)
        assert ledger.history("conv-erase").messages[1].content == SECRET

    assert not any(contains_secret(v) for v in raw_postgres_values(postgres_url))
