"""Retention erases conversations past their period; a legal hold prevents it and says so."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chatledger.domain import InvalidInput, Message, UnknownConversation, utc_now
from chatledger.infrastructure import ChatLedger


@pytest.fixture
def three(ledger: ChatLedger) -> ChatLedger:
    for conversation_id in ("old", "held", "kept"):
        ledger.record(conversation_id, Message(role="user", content=f"in {conversation_id}"))
    ledger.set_retention("old", timedelta(days=30))
    ledger.set_retention("held", timedelta(days=30))
    ledger.set_legal_hold("held", "litigation 2026-17")
    return ledger


def test_retention_erases_only_conversations_past_their_period(three: ChatLedger) -> None:
    report = three.apply_retention(now=utc_now() + timedelta(days=31))

    assert report.erased == ("old",)
    assert all(e.erased for e in three.history("old"))
    assert three.history("kept").messages[0].content == "in kept"


def test_a_legal_hold_prevents_erasure_and_is_reported(three: ChatLedger) -> None:
    report = three.apply_retention(now=utc_now() + timedelta(days=31))

    assert report.held == (("held", "litigation 2026-17"),)
    assert three.history("held").messages[0].content == "in held"


def test_lifting_the_hold_lets_retention_erase(three: ChatLedger) -> None:
    three.set_legal_hold("held", None)

    report = three.apply_retention(now=utc_now() + timedelta(days=31))

    assert set(report.erased) == {"old", "held"}


def test_nothing_is_erased_before_the_period_ends(three: ChatLedger) -> None:
    assert three.apply_retention(now=utc_now() + timedelta(days=29)).erased == ()


def test_a_dry_run_erases_nothing(three: ChatLedger) -> None:
    report = three.apply_retention(now=utc_now() + timedelta(days=31), dry_run=True)

    assert report.erased == ("old",)
    assert three.history("old").messages[0].content == "in old"


def test_retention_on_an_unknown_conversation_says_so(ledger: ChatLedger) -> None:
    with pytest.raises(UnknownConversation):
        ledger.set_retention("nobody", timedelta(days=1))


def test_a_retention_under_a_second_is_rejected(three: ChatLedger) -> None:
    with pytest.raises(InvalidInput) as raised:
        three.set_retention("kept", timedelta(0))

    assert raised.value.field == "retention"
