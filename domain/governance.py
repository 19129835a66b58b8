"""Governance: retention, legal holds and erasure of conversations, and the rules over them.

A conversation's governance state is its entry in the directory (``ConversationRecord``);
every change to it is also an event on the conversation's ``gov/`` stream (``Governance``).
The rules are pure functions of that state: which conversations retention erases at a given
time, what a held or erased conversation refuses, and what an erased message reads as.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

from chatledger.domain.conversation import DomainEvent
from chatledger.domain.errors import ConversationErased, InvalidInput, UnknownConversation
from chatledger.domain.messages import Message, Role

MIN_RETENTION = timedelta(seconds=1)


class Governance(BaseModel):
    """Retention, legal holds and erasure of one conversation, as an auditable stream."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    @staticmethod
    def id_for(conversation_id: str) -> str:
        """The stream id; '/' never occurs in a conversation id, so none collide."""
        return f"gov/{conversation_id}"

    class RetentionSet(DomainEvent):
        """The conversation is to be erased this long after its last message (None: never)."""

        seconds: int | None = Field(default=None, ge=1)

    class LegalHoldPlaced(DomainEvent):
        """Retention must not erase the conversation, for this reason."""

        reason: str

    class LegalHoldLifted(DomainEvent):
        """The legal hold was lifted."""

    class Erased(DomainEvent):
        """The conversation's key was destroyed: its text is gone for good."""

        reason: str
        erased_at: datetime


class ConversationRecord(BaseModel):
    """A conversation's entry in the directory: when it began, and its governance state."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    conversation_id: str
    created_at: datetime
    erased_at: datetime | None = None
    erasure_reason: str | None = None
    retention: timedelta | None = None
    """How long after its last message retention erases it; None: never."""
    legal_hold: str | None = None
    """Why retention must not erase it; None: no hold."""

    @property
    def erased(self) -> bool:
        """Whether the conversation's text was destroyed."""
        return self.erased_at is not None

    @property
    def held(self) -> bool:
        """Whether a legal hold keeps retention from erasing it."""
        return self.legal_hold is not None

    @property
    def under_retention(self) -> bool:
        """Whether retention may erase it one day: it has a period and is not erased yet."""
        return self.retention is not None and not self.erased

    def retention_ends(self, last_activity: datetime | None) -> datetime | None:
        """When its retention runs out, counted from ``last_activity`` (else from its start).

        None when retention will never erase it.
        """
        if self.retention is None or self.erased:
            return None
        return (last_activity or self.created_at) + self.retention


class RetentionReport(BaseModel):
    """What a retention run erased (or, in a dry run, would erase), and what a hold kept."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    erased: tuple[str, ...] = ()
    held: tuple[tuple[str, str], ...] = ()
    """(conversation id, hold reason) for each conversation past retention but on hold."""


def due_for_erasure(
    records: Iterable[ConversationRecord],
    last_activity: Callable[[ConversationRecord], datetime | None],
    now: datetime,
) -> RetentionReport:
    """The conversations whose retention has run out by ``now``; held ones are kept.

    ``last_activity(record)`` tells when the conversation's last message was recorded (None:
    none yet); it is asked only about conversations under retention, since finding it out is
    the costly part.
    """
    erased: list[str] = []
    held: list[tuple[str, str]] = []
    for record in records:
        if not record.under_retention:
            continue
        ends = record.retention_ends(last_activity(record))
        if ends is None or ends > now:
            continue
        if record.legal_hold is not None:
            held.append((record.conversation_id, record.legal_hold))
        else:
            erased.append(record.conversation_id)
    return RetentionReport(erased=tuple(erased), held=tuple(held))


def retention_erasure_reason(retention: timedelta) -> str:
    """The reason recorded when retention erases a conversation."""
    return f"retention of {retention} ran out"


def check_governable(conversation_id: str, record: ConversationRecord | None) -> ConversationRecord:
    """The record, if the conversation's retention and hold may still change.

    Raises UnknownConversation if it was never recorded, and ConversationErased once it is
    erased: an erased conversation has nothing left to retain or hold.
    """
    if record is None:
        raise UnknownConversation(conversation_id)
    if record.erased_at is not None:
        raise ConversationErased(conversation_id, record.erased_at)
    return record


def check_erasable(conversation_id: str, record: ConversationRecord | None, reason: str) -> None:
    """Refuse an erasure without a reason, or of a conversation never recorded.

    Erasing again is allowed (it keeps the first erasure), and so is erasing a held
    conversation: a hold stops retention, not an explicit erasure.
    """
    if not reason.strip():
        raise InvalidInput("reason", "say why the conversation is erased")
    if record is None:
        raise UnknownConversation(conversation_id)


def retention_seconds(retention: timedelta | None) -> int | None:
    """The period in whole seconds, as the event stores it; InvalidInput under one second."""
    if retention is None:
        return None
    if retention < MIN_RETENTION:
        raise InvalidInput("retention", f"must be at least one second, got {retention}")
    return int(retention.total_seconds())


def check_hold_reason(reason: str | None) -> str | None:
    """The reason of a hold to place (None lifts it); InvalidInput if it says nothing."""
    if reason is not None and not reason.strip():
        raise InvalidInput("reason", "a legal hold needs a reason")
    return reason


def erased_message(role: Role, position: int) -> Message:
    """What an erased message reads as: its role and place survive, its content does not."""
    return Message(
        id=f"erased-{position}",
        role=role,
        tool_call_id="erased" if role == "tool" else None,
        metadata={"erased": True},
    )
