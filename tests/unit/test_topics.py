"""Stored topics are stable names, and the module-path topics written before still resolve."""

from __future__ import annotations

import pytest

from chatledger.domain import Conversation, Governance, MessageKey, ModelCallLog, UnknownTopic
from chatledger.infrastructure.storage.topics import event_type, topic_of

EVENT_TYPES: list[type[object]] = [
    Conversation.Started,
    Conversation.MessageRecorded,
    Conversation.Snapshot,
    MessageKey.Claimed,
    ModelCallLog.CallRecorded,
    ModelCallLog.UsageAttached,
    Governance.RetentionSet,
    Governance.LegalHoldPlaced,
    Governance.LegalHoldLifted,
    Governance.Erased,
]


@pytest.mark.parametrize("cls", EVENT_TYPES)
def test_every_event_type_is_written_under_a_name_that_is_not_its_module_path(
    cls: type[object],
) -> None:
    topic = topic_of(cls)

    assert topic == f"chatledger:{cls.__qualname__}"
    assert cls.__module__ not in topic
    assert event_type(topic) is cls


@pytest.mark.parametrize("cls", EVENT_TYPES)
def test_the_topic_written_before_the_package_still_names_the_same_type(cls: type[object]) -> None:
    module = (
        "domain.audit"
        if cls.__qualname__.startswith(("ModelCallLog", "Governance"))
        else ("domain.conversation")
    )

    assert event_type(f"{module}:{cls.__qualname__}") is cls


def test_an_unknown_topic_is_refused_by_name() -> None:
    with pytest.raises(UnknownTopic) as raised:
        event_type("chatledger:Conversation.Merged")

    assert "chatledger:Conversation.Merged" in str(raised.value)
    assert "newer version" in str(raised.value)
