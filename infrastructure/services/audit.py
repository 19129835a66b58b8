"""Audit: what the model saw on each call, replayed and proven; erasure, retention and holds."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import cast

from eventsourcing.persistence import EventStore
from pydantic import TypeAdapter

from chatledger.domain import (
    ConversationErased,
    DomainEvent,
    InvalidInput,
    UnknownConversation,
    utc_now,
)
from chatledger.domain.audit import Governance, ModelCallLog, Usage, canonical_policy
from chatledger.infrastructure.services.reading import Reading
from chatledger.infrastructure.services.recording import Recording
from chatledger.infrastructure.storage.keys import KeyStore, iter_all
from chatledger.projections import MemoryView, Policy

_POLICY: TypeAdapter[Policy] = TypeAdapter(Policy)


def payload_sha256(view: MemoryView) -> str:
    """sha256 of the view's messages as canonical JSON: the payload chatledger hands the caller."""
    payload = json.dumps(
        [message.model_dump(mode="json") for message in view.messages],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ModelCall:
    """One recorded model call, with the provider's usage once it is known."""

    number: int
    recorded_at: datetime
    position: int
    positions: tuple[int, ...]
    message_ids: tuple[str, ...]
    system_position: int | None
    policy: Policy
    counter: str
    tokens: int
    payload_sha256: str
    model: str
    response_id: str | None
    usage: Usage | None


@dataclass(frozen=True)
class Replay:
    """A model call rebuilt from history, and whether it matches what was recorded."""

    call: ModelCall
    view: MemoryView
    identical: bool
    differences: tuple[str, ...] = field(default=())


class Audit:
    """Model calls: what the model was shown on each call, recorded, and replayed from history."""

    def __init__(
        self, events: EventStore[str], reading: Reading, recording: Recording, counter_name: str
    ) -> None:
        self._events = events
        self._reading = reading
        self._recording = recording
        self._counter_name = counter_name

    def record_model_call(
        self,
        conversation_id: str,
        view: MemoryView,
        *,
        model: str,
        usage: Usage | None = None,
        response_id: str | None = None,
    ) -> ModelCall:
        """Record that ``view`` was sent to ``model``."""
        if not model:
            raise InvalidInput("model", "must name the model that was called")
        if view.position > self._reading.head(conversation_id):
            raise InvalidInput("view", f"was computed at position {view.position}, past the end")
        if not view.entries and view.position == 0:
            raise UnknownConversation(conversation_id)
        system = [e.position for e in view.entries if e.message.role == "system"]

        def make(version: int) -> DomainEvent:
            return ModelCallLog.CallRecorded(
                originator_id=ModelCallLog.id_for(conversation_id),
                originator_version=version,
                conversation_id=conversation_id,
                position=view.position,
                positions=view.positions,
                message_ids=tuple(m.id for m in view.messages),
                system_position=system[0] if system else None,
                policy=canonical_policy(view.policy),
                counter=self._counter_name,
                tokens=view.tokens,
                payload_sha256=payload_sha256(view),
                model=model,
                response_id=response_id,
                usage=usage,
            )

        event = self._recording.append(ModelCallLog.id_for(conversation_id), make)
        return _call(cast(ModelCallLog.CallRecorded, event), event.timestamp, usage)

    def attach_usage(self, conversation_id: str, call: int, usage: Usage) -> None:
        """Attach the provider's reported usage to an earlier call."""
        if not any(c.number == call for c in self.model_calls(conversation_id)):
            raise InvalidInput("call", f"conversation {conversation_id!r} has no model call {call}")
        self._recording.append(
            ModelCallLog.id_for(conversation_id),
            lambda version: ModelCallLog.UsageAttached(
                originator_id=ModelCallLog.id_for(conversation_id),
                originator_version=version,
                call=call,
                usage=usage,
            ),
        )

    def model_calls(self, conversation_id: str) -> list[ModelCall]:
        """Every model call recorded for the conversation, oldest first, with usage folded in."""
        calls: dict[int, ModelCall] = {}
        for event in self._events.get(ModelCallLog.id_for(conversation_id)):
            if isinstance(event, ModelCallLog.CallRecorded):
                calls[event.number] = _call(event, event.timestamp, event.usage)
            elif isinstance(event, ModelCallLog.UsageAttached) and event.call in calls:
                old = calls[event.call]
                calls[event.call] = ModelCall(**{**old.__dict__, "usage": event.usage})
        return list(calls.values())

    def replay_model_call(self, conversation_id: str, call: ModelCall | int) -> Replay:
        """Rebuild a call's view from the history and compare it with what was recorded."""
        number = call if isinstance(call, int) else call.number
        found = [c for c in self.model_calls(conversation_id) if c.number == number]
        if not found:
            raise InvalidInput(
                "call", f"conversation {conversation_id!r} has no model call {number}"
            )
        recorded = found[0]
        view = self._reading.memory(conversation_id, recorded.policy, at=recorded.position)
        differences = []
        if view.positions != recorded.positions:
            differences.append(f"positions {view.positions} != recorded {recorded.positions}")
        if tuple(m.id for m in view.messages) != recorded.message_ids:
            differences.append("message ids differ")
        if view.tokens != recorded.tokens:
            differences.append(f"tokens {view.tokens} != recorded {recorded.tokens}")
        if payload_sha256(view) != recorded.payload_sha256:
            differences.append("payload sha256 differs")
        return Replay(recorded, view, not differences, tuple(differences))


def _call(event: ModelCallLog.CallRecorded, at: datetime, usage: Usage | None) -> ModelCall:
    return ModelCall(
        number=event.number,
        recorded_at=at,
        position=event.position,
        positions=event.positions,
        message_ids=event.message_ids,
        system_position=event.system_position,
        policy=_POLICY.validate_python(event.policy),
        counter=event.counter,
        tokens=event.tokens,
        payload_sha256=event.payload_sha256,
        model=event.model,
        response_id=event.response_id,
        usage=usage,
    )


@dataclass(frozen=True)
class RetentionReport:
    """What a retention run erased, and what a legal hold kept."""

    erased: tuple[str, ...]
    held: tuple[tuple[str, str], ...]
    """(conversation id, hold reason) for each conversation past retention but on hold."""


class GovernanceService:
    """Erasure, retention and legal holds: each a change to the key directory, and an event."""

    def __init__(
        self, events: EventStore[str], keys: KeyStore, reading: Reading, recording: Recording
    ) -> None:
        self._events = events
        self._keys = keys
        self._reading = reading
        self._recording = recording

    def erase(self, conversation_id: str, *, reason: str) -> datetime:
        """Destroy the conversation's key and record why; its text is unreadable from then on."""
        if not reason.strip():
            raise InvalidInput("reason", "say why the conversation is erased")
        if self._keys.record(conversation_id) is None:
            raise UnknownConversation(conversation_id)
        erased_at = self._keys.destroy(conversation_id, reason)
        stream = Governance.id_for(conversation_id)
        if not any(isinstance(e, Governance.Erased) for e in self._events.get(stream)):
            self._recording.append(
                stream,
                lambda version: Governance.Erased(
                    originator_id=stream,
                    originator_version=version,
                    reason=reason,
                    erased_at=erased_at,
                ),
            )
        return erased_at

    def set_retention(self, conversation_id: str, retention: timedelta | None) -> None:
        """Erase the conversation ``retention`` after its last message (None: keep it)."""
        if retention is not None and retention.total_seconds() < 1:
            raise InvalidInput("retention", f"must be at least one second, got {retention}")
        self._known(conversation_id)
        self._keys.set_retention(conversation_id, retention)
        stream = Governance.id_for(conversation_id)
        seconds = None if retention is None else int(retention.total_seconds())
        self._recording.append(
            stream,
            lambda v: Governance.RetentionSet(
                originator_id=stream, originator_version=v, seconds=seconds
            ),
        )

    def set_legal_hold(self, conversation_id: str, reason: str | None) -> None:
        """Place a legal hold (with a reason) or lift it (None)."""
        if reason is not None and not reason.strip():
            raise InvalidInput("reason", "a legal hold needs a reason")
        self._known(conversation_id)
        self._keys.set_legal_hold(conversation_id, reason)
        stream = Governance.id_for(conversation_id)

        def make(version: int) -> DomainEvent:
            if reason is None:
                return Governance.LegalHoldLifted(originator_id=stream, originator_version=version)
            return Governance.LegalHoldPlaced(
                originator_id=stream, originator_version=version, reason=reason
            )

        self._recording.append(stream, make)

    def apply_retention(
        self, *, now: datetime | None = None, dry_run: bool = False
    ) -> RetentionReport:
        """Erase every conversation whose retention has run out, unless it is on legal hold."""
        now = now or utc_now()
        erased: list[str] = []
        held: list[tuple[str, str]] = []
        for record in iter_all(self._keys):
            if record.retention is None or record.erased_at is not None:
                continue
            last = self._reading.history(record.conversation_id, limit=1).entries
            last_at = last[0].recorded_at if last else record.created_at
            if last_at + record.retention > now:
                continue
            if record.legal_hold is not None:
                held.append((record.conversation_id, record.legal_hold))
                continue
            if not dry_run:
                self.erase(
                    record.conversation_id, reason=f"retention of {record.retention} ran out"
                )
            erased.append(record.conversation_id)
        return RetentionReport(tuple(erased), tuple(held))

    def _known(self, conversation_id: str) -> None:
        record = self._keys.record(conversation_id)
        if record is None:
            raise UnknownConversation(conversation_id)
        if record.erased_at is not None:
            raise ConversationErased(conversation_id, record.erased_at)
