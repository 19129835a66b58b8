"""Snapshots are taken from the state in hand, and a cold load from them equals the live state."""

from __future__ import annotations

import pytest

from chatledger.domain import Conversation, Message, project_conversation
from chatledger.infrastructure import ChatLedger
from tests.fakes import FakeTokenCounter

DURABLE_BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=DURABLE_BACKENDS)
def durable_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(f"{request.param}_url"))


def _state(ledger: ChatLedger, conversation_id: str) -> Conversation:
    state = ledger.application.repository.get(conversation_id, projector_func=project_conversation)
    assert isinstance(state, Conversation)
    return state


def _snapshot_versions(ledger: ChatLedger, conversation_id: str) -> list[int]:
    snapshots = ledger.application.snapshots
    assert snapshots is not None
    return [snapshot.originator_version for snapshot in snapshots.get(conversation_id)]


def test_snapshots_fall_where_saves_cross_each_hundredth_version(durable_url: str) -> None:
    with ChatLedger.open(durable_url, FakeTokenCounter()) as ledger:
        ledger.record("snap", Message(role="system", content="Be brief."))
        for i in range(249):
            ledger.record("snap", Message(role="user", content=f"message {i}"))
        # One batch from version 252 to 311 crosses 300: its end state is snapshotted.
        ledger.record("snap", [Message(role="user", content=f"batch {i}") for i in range(60)])

        assert _snapshot_versions(ledger, "snap") == [100, 200, 311]


def test_a_cold_load_from_a_snapshot_equals_the_state_that_was_live(durable_url: str) -> None:
    with ChatLedger.open(durable_url, FakeTokenCounter()) as ledger:
        ledger.record("cold", Message(role="system", content="Be brief."))
        for i in range(130):
            ledger.record("cold", Message(role="user", content=f"message {i}"))
        live = _state(ledger, "cold")

    with ChatLedger.open(durable_url, FakeTokenCounter()) as reopened:
        cold = _state(reopened, "cold")
        reopened.record("cold", Message(role="user", content="after the reload"))
        verified = reopened.verify("cold")

    assert cold == live
    assert verified.intact
    assert verified.length == 132
