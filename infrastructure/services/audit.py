"""Audit: what the model saw on each call, replayed and proven; erasure, retention and holds."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import cast

from eventsourcing.persistence import EventStore

from chatledger.domain import (
    ConversationRecord,
    DomainEvent,
    Governance,
    HeldByBranch,
    InvalidInput,
    RetentionReport,
    UnknownConversation,
    check_governable,
    due_for_erasure,
    utc_now,
)
from chatledger.domain.audit import (
    KEYED_PAYLOAD,
    ModelCall,
    ModelCallLog,
    Usage,
    canonical_policy,
    payload_digest,
    replay_differences,
)
from chatledger.domain.governance import (
    check_erasable,
    check_hold_reason,
    retention_erasure_reason,
    retention_seconds,
)
from chatledger.infrastructure.services.attachments import Attachments
from chatledger.infrastructure.services.branches import Branches
from chatledger.infrastructure.services.reading import Reading
from chatledger.infrastructure.services.recording import Recording
from chatledger.infrastructure.storage.keys import KeyStore, iter_all
from chatledger.projections import MemoryView


def payload_sha256(view: MemoryView) -> str:
    """sha256 of the view's messages as canonical JSON: the payload chatledger hands the caller."""
    return payload_digest(view.messages)


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
        system = [e.position for e in view.entries if e.message.is_instruction]
        payload = self._recording.payload_digest(conversation_id, view.messages)

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
                payload_sha256=payload,
                model=model,
                response_id=response_id,
                usage=usage,
                summary=view.summary.number if view.summary is not None else None,
                summaries=view.summaries,
                changes=view.changes,
            )

        event = self._recording.append(ModelCallLog.id_for(conversation_id), make)
        return ModelCall.recorded(cast(ModelCallLog.CallRecorded, event))

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
                calls[event.number] = ModelCall.recorded(event)
            elif isinstance(event, ModelCallLog.UsageAttached) and event.call in calls:
                calls[event.call] = calls[event.call].with_usage(event.usage)
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
        view = self._reading.memory(
            conversation_id,
            recorded.policy,
            at=recorded.position,
            summaries_upto=recorded.summaries,
            changes_upto=recorded.changes,
        )
        differences = replay_differences(
            recorded,
            summary=view.summary.number if view.summary is not None else None,
            positions=view.positions,
            message_ids=tuple(m.id for m in view.messages),
            tokens=view.tokens,
            payload_sha256=self._recording.payload_digest(
                conversation_id,
                view.messages,
                keyed=recorded.payload_sha256.startswith(KEYED_PAYLOAD),
            ),
        )
        return Replay(recorded, view, not differences, differences)


class GovernanceService:
    """Erasure, retention and legal holds: each a change to the key directory, and an event.

    The rules (who may be erased, who is due, what a hold or an erasure refuses) are the
    domain's; this service reads the state they judge and carries out what they decide.
    """

    def __init__(
        self,
        events: EventStore[str],
        keys: KeyStore,
        reading: Reading,
        recording: Recording,
        attachments: Attachments,
        branches: Branches,
    ) -> None:
        self._events = events
        self._keys = keys
        self._reading = reading
        self._recording = recording
        self._attachments = attachments
        self._branches = branches

    def erase(self, conversation_id: str, *, reason: str) -> datetime:
        """Destroy the conversation's key and record why; its text is unreadable from then on.

        Its attachments are unreadable with the key, and then deleted; erasing again (it is
        idempotent) deletes any that an interrupted erasure left, sealed under the lost key.
        """
        check_erasable(conversation_id, self._keys.record(conversation_id), reason)
        held = self._held_branch(conversation_id)
        if held is not None:
            raise HeldByBranch(conversation_id, *held)
        # First the stream: from the moment its Erased event is stored, no writer anywhere
        # can add to it, whatever key it still holds. Then the key, then the bytes it sealed.
        self._recording.end_stream(conversation_id)
        erased_at = self._keys.destroy(conversation_id, reason)
        self._attachments.purge(conversation_id)
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
        seconds = retention_seconds(retention)
        check_governable(conversation_id, self._keys.record(conversation_id))
        self._keys.set_retention(conversation_id, retention)
        stream = Governance.id_for(conversation_id)
        self._recording.append(
            stream,
            lambda v: Governance.RetentionSet(
                originator_id=stream, originator_version=v, seconds=seconds
            ),
        )

    def set_legal_hold(self, conversation_id: str, reason: str | None) -> None:
        """Place a legal hold (with a reason) or lift it (None)."""
        check_hold_reason(reason)
        check_governable(conversation_id, self._keys.record(conversation_id))
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
        report = due_for_erasure(iter_all(self._keys), self._last_activity, now or utc_now())
        kept = {c: held for c in report.erased if (held := self._held_branch(c)) is not None}
        if kept:
            report = RetentionReport(
                erased=tuple(c for c in report.erased if c not in kept),
                held=(
                    *report.held,
                    *(
                        (c, f"branch {branch!r} is on hold: {why}")
                        for c, (branch, why) in kept.items()
                    ),
                ),
            )
        if not dry_run:
            for conversation_id in report.erased:
                record = self._keys.record(conversation_id)
                assert record is not None
                assert record.retention is not None
                self.erase(conversation_id, reason=retention_erasure_reason(record.retention))
        return report

    def _held_branch(self, conversation_id: str) -> tuple[str, str] | None:
        """A branch on legal hold sharing the conversation's messages, and its hold's reason."""
        for branch in self._branches.descendants(conversation_id):
            record = self._keys.record(branch)
            if record is not None and record.legal_hold is not None and record.erased_at is None:
                return branch, record.legal_hold
        return None

    def _last_activity(self, record: ConversationRecord) -> datetime | None:
        last = self._reading.history(record.conversation_id, limit=1).entries
        return last[0].recorded_at if last else None
