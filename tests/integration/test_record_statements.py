"""What a record sends PostgreSQL: one statement, whatever the erasure and limits work added.

``python -m tests.bench.compare --no-commit-flush`` times record without the commit's WAL
flush, which is fair only while a record's statements are the same on both sides: this pins
them for this checkout.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from chatledger.domain import Message
from chatledger.infrastructure import ChatLedger
from tests.fakes import FakeTokenCounter

pytestmark = pytest.mark.postgres


def test_recording_a_message_sends_one_statement_holding_its_events(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[tuple[str, int]] = []
    execute = psycopg.Cursor.execute

    def spy(self: psycopg.Cursor[Any], query: Any, params: Any = None, **kwargs: Any) -> Any:
        if isinstance(query, bytes):
            text = query.decode()
        else:
            text = query if isinstance(query, str) else query.as_string(self.connection)
        sent.append((" ".join(text.split()), len(params or ())))
        return execute(self, query, params, **kwargs)

    with ChatLedger.open(postgres_url, FakeTokenCounter()) as ledger:
        ledger.record("statements", Message(role="user", content="warm-up"))
        monkeypatch.setattr(psycopg.Cursor, "execute", spy)
        ledger.record("statements", Message(role="user", content="What's the weather?"))
        monkeypatch.undo()
        assert [e.message.content for e in ledger.history("statements")] == [
            "warm-up",
            "What's the weather?",
        ]

    assert len(sent) == 1, sent
    statement, parameters = sent[0]
    assert statement.startswith("WITH serialised AS MATERIALIZED (SELECT pg_advisory_xact_lock(")
    assert "INSERT INTO" in statement
    assert "RETURNING notification_id" in statement
    # The message event and its idempotency claim: four columns each.
    assert parameters == 8
