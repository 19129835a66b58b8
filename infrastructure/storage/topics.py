"""Stable names for stored event types, so moving a class never strands the events it wrote."""

from __future__ import annotations

from chatledger.domain import Conversation, Governance, MessageKey, ModelCallLog

# Re-exported: the error lived here before the domain's error tree held it.
from chatledger.domain.errors import UnknownTopic as UnknownTopic

_EVENT_TYPES: dict[str, type[object]] = {
    "Conversation.Started": Conversation.Started,
    "Conversation.MessageRecorded": Conversation.MessageRecorded,
    "Conversation.Snapshot": Conversation.Snapshot,
    "Conversation.Erased": Conversation.Erased,
    "Conversation.SummaryRecorded": Conversation.SummaryRecorded,
    "Conversation.MemoryCleared": Conversation.MemoryCleared,
    "Conversation.Retracted": Conversation.Retracted,
    "Conversation.Forked": Conversation.Forked,
    "Conversation.Branched": Conversation.Branched,
    "MessageKey.Claimed": MessageKey.Claimed,
    "ModelCallLog.CallRecorded": ModelCallLog.CallRecorded,
    "ModelCallLog.UsageAttached": ModelCallLog.UsageAttached,
    "Governance.RetentionSet": Governance.RetentionSet,
    "Governance.LegalHoldPlaced": Governance.LegalHoldPlaced,
    "Governance.LegalHoldLifted": Governance.LegalHoldLifted,
    "Governance.Erased": Governance.Erased,
}

PREFIX = "chatledger:"
"""Each topic written is this prefix and the type's name: ``chatledger:Conversation.Started``."""

_LEGACY_MODULES = {"Conversation": "domain.conversation", "MessageKey": "domain.conversation"}
"""Where each type lived before the chatledger package; rows written then name that module."""

_BY_TOPIC: dict[str, type[object]] = {PREFIX + name: cls for name, cls in _EVENT_TYPES.items()}
_BEFORE_THE_PACKAGE = set(_EVENT_TYPES) - {
    "Conversation.Erased",
    "Conversation.SummaryRecorded",
    "Conversation.MemoryCleared",
    "Conversation.Retracted",
    "Conversation.Forked",
    "Conversation.Branched",
}
"""The event types that existed when topics named module paths."""
_BY_TOPIC.update(
    {
        f"{_LEGACY_MODULES.get(name.split('.')[0], 'domain.audit')}:{name}": cls
        for name, cls in _EVENT_TYPES.items()
        if name in _BEFORE_THE_PACKAGE
    }
)
_TOPIC_OF: dict[type[object], str] = {cls: PREFIX + name for name, cls in _EVENT_TYPES.items()}


def topic_of(event_type: type[object]) -> str:
    """The stable topic that rows of ``event_type`` are written with."""
    return _TOPIC_OF[event_type]


def topics_naming(event_type: type[object]) -> frozenset[str]:
    """Every topic rows of ``event_type`` may carry: its stable name and any older one."""
    return frozenset(topic for topic, cls in _BY_TOPIC.items() if cls is event_type)


def event_type(topic: str) -> type[object]:
    """The event type a stored topic names: a stable name, or a name written before it."""
    try:
        return _BY_TOPIC[topic]
    except KeyError:
        raise UnknownTopic(topic) from None
