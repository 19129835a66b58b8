"""Payloads stored by earlier versions keep loading: real stored events live in tests/fixtures."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import JSONTranscoder, StoredEvent

from chatledger.domain import Conversation, Governance, MessageKey, ModelCallLog, utc_now
from chatledger.domain.conversation import genesis, memory_genesis
from chatledger.infrastructure.storage.keys import InMemoryKeyStore
from chatledger.infrastructure.storage.sealing import Sealer
from chatledger.infrastructure.storage.serialization import PydanticMapper
from tests.fixtures.make_stored_events_branches import stored_events as branches_fixture
from tests.fixtures.make_stored_events_memory_changes import (
    stored_events as memory_changes_fixture,
)
from tests.fixtures.make_stored_events_summaries import stored_events as summaries_fixture
from tests.fixtures.make_stored_events_v2 import stored_events

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def load(name: str) -> tuple[PydanticMapper, list[Any]]:
    data = json.loads((FIXTURES / name).read_text())
    keys = InMemoryKeyStore()
    for conversation_id, key in data["keys"].items():
        keys.restore(conversation_id, base64.b64decode(key), utc_now())
    mapper = PydanticMapper(transcoder=JSONTranscoder())
    mapper.sealer = Sealer(keys)
    events = [
        mapper.to_domain_event(
            StoredEvent(
                originator_id=row["originator_id"],
                originator_version=row["originator_version"],
                topic=row["topic"],
                state=row["state"].encode(),
            )
        )
        for row in data["events"]
    ]
    return mapper, events


@pytest.fixture(scope="module")
def version_1() -> list[Any]:
    return load("stored_events_v1.json")[1]


def test_every_stored_v1_event_loads_as_its_class(version_1: list[Any]) -> None:
    kinds = {type(event) for event in version_1}

    assert kinds == {
        Conversation.Started,
        Conversation.MessageRecorded,
        Conversation.Snapshot,
        MessageKey.Claimed,
        ModelCallLog.CallRecorded,
        ModelCallLog.UsageAttached,
        Governance.RetentionSet,
        Governance.LegalHoldPlaced,
        Governance.LegalHoldLifted,
    }


def test_stored_v1_messages_decrypt_to_what_was_said(version_1: list[Any]) -> None:
    messages = [e.message for e in version_1 if isinstance(e, Conversation.MessageRecorded)]

    assert [m.content for m in messages] == ["Be brief.", "Weather in Oslo?", None, "-3 C"]
    assert messages[2].tool_calls[0].arguments == '{"city": "Oslo"}'
    assert messages[1].metadata == {"ui": "web"}


def test_stored_v1_chain_still_verifies(version_1: list[Any]) -> None:
    link = genesis("fixture-1")
    for event in version_1:
        if isinstance(event, Conversation.MessageRecorded):
            assert event.chain == event.link(link)
            assert event.digest == event.message.digest()
            link = event.chain


@pytest.fixture(scope="module")
def version_2() -> list[Any]:
    return load("stored_events_v2.json")[1]


def test_stored_v2_messages_open_to_their_parts(version_2: list[Any]) -> None:
    messages = [e.message for e in version_2 if isinstance(e, Conversation.MessageRecorded)]

    assert [m.role for m in messages] == ["developer", "user", "assistant", "tool", "assistant"]
    assert [[p.type for p in m.parts] for m in messages] == [
        ["text"],
        ["text", "image", "file"],
        ["reasoning", "reasoning"],
        ["image"],
        ["reasoning", "text", "refusal"],
    ]
    thinking, redacted = messages[2].reasoning
    assert (thinking.signature, redacted.redacted, redacted.data) == ("c2ln", True, "b3BhcXVl")
    assert messages[4].reasoning[0].encrypted_content == "gAAAAB"
    assert messages[4].extra == {"id": "msg_01", "status": "completed"}


def test_stored_v2_chain_still_verifies_under_its_key(version_2: list[Any]) -> None:
    mapper, _ = load("stored_events_v2.json")
    assert mapper.sealer is not None
    link = genesis("fixture-2")
    for event in version_2:
        if isinstance(event, Conversation.MessageRecorded):
            keyed = mapper.sealer.digest("fixture-2", event.message.canonical_json())
            assert event.digest == keyed
            assert event.chain == event.link(link)
            link = event.chain


def test_the_v2_fixture_is_what_this_code_writes() -> None:
    written = stored_events()
    committed = json.loads((FIXTURES / "stored_events_v2.json").read_text())

    # Timestamps, digests, chains and seals differ run to run (nonces); the shape must not.
    assert [(row["topic"], sorted(json.loads(row["state"]))) for row in written["events"]] == [
        (row["topic"], sorted(json.loads(row["state"]))) for row in committed["events"]
    ]


@pytest.fixture(scope="module")
def with_summaries() -> list[Any]:
    return load("stored_events_summaries.json")[1]


def test_a_stored_summary_opens_to_its_text_and_coverage(with_summaries: list[Any]) -> None:
    (summary,) = [e for e in with_summaries if isinstance(e, Conversation.SummaryRecorded)]

    assert (summary.covers, summary.position, summary.model) == (3, 4, "m-1")
    assert summary.text == "Planning a Lisbon week: Alfama, Belém."


def test_a_stored_model_call_of_a_summary_window_names_its_summary(
    with_summaries: list[Any],
) -> None:
    (call,) = [e for e in with_summaries if isinstance(e, ModelCallLog.CallRecorded)]

    assert (call.summary, call.summaries) == (1, 1)
    assert call.message_ids == ("s-sys", "summary-1", "s-u2")
    assert call.policy["kind"] == "summary_window"


# Fields each event type gained since the summaries fixture was written, each with a default
# that is right for the events stored before it.
ADDED_SINCE_SUMMARIES = {"chatledger:ModelCallLog.CallRecorded": ["changes"]}


def test_the_summaries_fixture_is_what_this_code_writes_but_for_fields_added_since() -> None:
    written = summaries_fixture()
    committed = json.loads((FIXTURES / "stored_events_summaries.json").read_text())

    # Times, digests, links and seals differ run to run; the shape must not.
    assert [(row["topic"], sorted(json.loads(row["state"]))) for row in written["events"]] == [
        (
            row["topic"],
            sorted([*json.loads(row["state"]), *ADDED_SINCE_SUMMARIES.get(row["topic"], [])]),
        )
        for row in committed["events"]
    ]


def test_a_model_call_stored_before_memory_changes_applied_none(with_summaries: list[Any]) -> None:
    (call,) = [e for e in with_summaries if isinstance(e, ModelCallLog.CallRecorded)]

    assert call.changes == 0


@pytest.fixture(scope="module")
def with_memory_changes() -> list[Any]:
    return load("stored_events_memory_changes.json")[1]


def test_stored_clears_and_retractions_load_as_their_classes(
    with_memory_changes: list[Any],
) -> None:
    retracted, cleared = (
        e
        for e in with_memory_changes
        if isinstance(e, Conversation.Retracted | Conversation.MemoryCleared)
    )

    assert isinstance(retracted, Conversation.Retracted)
    assert (retracted.number, retracted.target, retracted.position) == (1, 4, 4)
    assert isinstance(cleared, Conversation.MemoryCleared)
    assert (cleared.number, cleared.position, cleared.summaries) == (2, 4, 0)
    assert retracted.chain == retracted.link(memory_genesis("fixture-4"))
    assert cleared.chain == cleared.link(retracted.chain)


def test_a_stored_model_call_names_the_memory_changes_its_view_applied(
    with_memory_changes: list[Any],
) -> None:
    (call,) = [e for e in with_memory_changes if isinstance(e, ModelCallLog.CallRecorded)]

    assert call.changes == 1
    assert call.message_ids == ("m-sys", "m-u1", "m-a1")


def test_the_memory_changes_fixture_is_what_this_code_writes() -> None:
    written = memory_changes_fixture()
    committed = json.loads((FIXTURES / "stored_events_memory_changes.json").read_text())

    assert [(row["topic"], sorted(json.loads(row["state"]))) for row in written["events"]] == [
        (row["topic"], sorted(json.loads(row["state"]))) for row in committed["events"]
    ]


@pytest.fixture(scope="module")
def with_branches() -> list[Any]:
    return load("stored_events_branches.json")[1]


def test_stored_forks_load_with_their_parents_fork_points_and_links(
    with_branches: list[Any],
) -> None:
    edited, regenerated = (e for e in with_branches if isinstance(e, Conversation.Forked))

    assert (edited.parent, edited.fork_point, edited.changes) == ("fixture-5", 1, 1)
    assert (regenerated.parent, regenerated.fork_point) == ("fixture-5-edited", 2)
    assert edited.link == edited.expected_link()
    assert regenerated.link == regenerated.expected_link()
    assert edited.parent_link == next(
        e.chain
        for e in with_branches
        if isinstance(e, Conversation.MessageRecorded)
        and (e.originator_id, e.position) == ("fixture-5", 1)
    )


def test_a_stored_branch_s_messages_follow_its_fork_link(with_branches: list[Any]) -> None:
    forks = {e.originator_id: e for e in with_branches if isinstance(e, Conversation.Forked)}
    own = [
        e
        for e in with_branches
        if isinstance(e, Conversation.MessageRecorded) and e.originator_id in forks
    ]

    first = own[0]
    assert (first.originator_id, first.position, first.message.content) == (
        "fixture-5-edited",
        2,
        "A city for June?",
    )
    assert first.chain == first.link(forks["fixture-5-edited"].link)
    listed = [e for e in with_branches if isinstance(e, Conversation.Branched)]
    assert [(e.branch, e.parent, e.fork_point) for e in listed] == [
        ("fixture-5-edited", "fixture-5", 1),
        ("fixture-5-regenerated", "fixture-5-edited", 2),
    ]


def test_the_branches_fixture_is_what_this_code_writes() -> None:
    written = branches_fixture()
    committed = json.loads((FIXTURES / "stored_events_branches.json").read_text())

    assert [(row["topic"], sorted(json.loads(row["state"]))) for row in written["events"]] == [
        (row["topic"], sorted(json.loads(row["state"]))) for row in committed["events"]
    ]
