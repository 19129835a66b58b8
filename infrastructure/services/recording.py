"""Recording: messages become events, idempotently and safely under concurrent writers."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import cast, overload

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from chatledger.domain import (
    ConcurrencyConflict,
    Conversation,
    ConversationErased,
    DomainEvent,
    IdempotencyConflict,
    InvalidMessage,
    Limits,
    Message,
    MessageKey,
    TokenCounter,
    WriteContention,
    check_conversation_id,
    check_count,
    project_conversation,
)
from chatledger.domain.attachments import detach
from chatledger.domain.audit import KEYED_PAYLOAD, canonical_payload, payload_digest
from chatledger.domain.conversation import PLAIN
from chatledger.infrastructure.services.attachments import Attachments
from chatledger.infrastructure.services.lineage import Segment
from chatledger.infrastructure.services.reading import Reading
from chatledger.infrastructure.storage.application import LedgerApplication
from chatledger.infrastructure.storage.serialization import history_entry
from chatledger.projections import HistoryEntry

MAX_WRITE_ATTEMPTS = 200
"""Retries of a write that lost a race; each retry re-reads only what the winner wrote."""
MAX_APPEND_ATTEMPTS = 100


@dataclass(frozen=True)
class RecordOutcome:
    """What one call to record did: the entries of its messages, and whether it stored any."""

    entries: tuple[HistoryEntry, ...]
    stored: bool
    """True if this call saved a new message; False if every one was there already (a retry)."""


class Recording:
    """Records messages into one store, and appends to the side streams audit keeps."""

    def __init__(
        self,
        app: LedgerApplication,
        reading: Reading,
        counter: TokenCounter,
        *,
        limits: Limits,
        attachments: Attachments,
    ) -> None:
        self._app = app
        self._reading = reading
        self._counter = counter
        self._limits = limits
        self._attachments = attachments

    @overload
    def record(
        self, conversation_id: str, messages: Message, *, expected_version: int | None = None
    ) -> HistoryEntry: ...

    @overload
    def record(
        self,
        conversation_id: str,
        messages: Sequence[Message],
        *,
        expected_version: int | None = None,
    ) -> tuple[HistoryEntry, ...]: ...

    def record(
        self,
        conversation_id: str,
        messages: Message | Sequence[Message],
        *,
        expected_version: int | None = None,
    ) -> HistoryEntry | tuple[HistoryEntry, ...]:
        """Record one message, or a list of them as one atomic save; return their entries.

        A message whose id is already recorded returns its original entry and records nothing.
        A system message repeating the current system prompt returns the prompt's entry.
        With ``expected_version`` (the conversation's message count the caller last saw),
        raise ConcurrencyConflict if another writer got there first.
        """
        entries = self.record_outcome(
            conversation_id, messages, expected_version=expected_version
        ).entries
        return entries[0] if isinstance(messages, Message) else entries

    def record_outcome(
        self,
        conversation_id: str,
        messages: Message | Sequence[Message],
        *,
        expected_version: int | None = None,
    ) -> RecordOutcome:
        """Record as ``record`` does, and say whether this call stored a message.

        Concurrent retries of one message all get its entry; only the call whose save stored
        it has ``stored`` True, so a caller can tell "recorded" from "already there" race-free.
        """
        check_conversation_id(conversation_id)
        batch = self._validated(messages)
        if expected_version is not None:
            # Integers only: True is an int to Python, but no version a caller means.
            check_count("expected_version", expected_version)
        return self._record_batch(conversation_id, batch, expected_version)

    def _validated(self, messages: Message | Sequence[Message]) -> list[Message]:
        if isinstance(messages, Message):
            batch = [messages]
        elif isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence):
            raise InvalidMessage("messages", "must be a Message or a list of Messages")
        else:
            batch = list(messages)
        if not batch:
            raise InvalidMessage("messages", "must not be empty")
        limits = self._limits
        if len(batch) > limits.max_batch_messages:
            raise InvalidMessage(
                "messages",
                f"holds {len(batch)} messages, over the limit max_batch_messages of "
                f"{limits.max_batch_messages}",
            )
        size = 0
        by_id: dict[str, Message] = {}
        for index, message in enumerate(batch):
            if not isinstance(message, Message):
                raise InvalidMessage(
                    f"messages.{index}", f"is a {type(message).__name__}, not a Message"
                )
            size += message.check_limits(limits)
            if size > limits.max_batch_bytes:
                raise InvalidMessage(
                    "messages",
                    f"hold over {size} bytes of content, tool arguments and metadata, over the "
                    f"limit max_batch_bytes of {limits.max_batch_bytes} bytes",
                )
            earlier = by_id.setdefault(message.id, message)
            if earlier is not message and self._stored(earlier) != self._stored(message):
                raise InvalidMessage(
                    f"messages.{index}.id",
                    f"{message.id!r} is used twice in this batch for different messages",
                )
        return batch

    def _stored(self, message: Message) -> str:
        """The digest of the message as stored: its bytes over the threshold attached."""
        return detach(message, self._limits.attachment_threshold_bytes)[0].digest()

    def _record_batch(
        self, conversation_id: str, batch: list[Message], expected_version: int | None
    ) -> RecordOutcome:
        # Counted as sent, with any binary data inline, before it is stored apart.
        tokens = {message.id: self._counter.count(message) for message in batch}
        # From here on each message is as stored: its digest (what the chain covers, and what
        # a retry is compared by) is the same whether its bytes came inline or attached.
        batch, attachments = self._attachments.detach(conversation_id, batch)
        digests: dict[str, str] = {}  # message id -> digest under the conversation's scheme
        resolved: dict[str, HistoryEntry] = {}  # message id -> entry recorded earlier
        # Whether a system message changes the prompt cannot be told from a stale state (no
        # clash would reveal it), so such batches always read the newest state.
        fresh_state = any(message.is_instruction for message in batch)
        # A branch's shared prefix never changes: ids recorded there are recorded here too.
        self._resolve_shared(conversation_id, batch, resolved)
        if all(message.id in resolved for message in batch):
            return RecordOutcome(tuple(resolved[message.id] for message in batch), stored=False)
        for attempt in range(MAX_WRITE_ATTEMPTS):
            state = self._load(conversation_id, fresh=fresh_state)
            version = state.message_count if state else 0
            if expected_version is not None and version != expected_version and not fresh_state:
                fresh_state = True
                state = self._load(conversation_id, fresh=True)
                version = state.message_count if state else 0
            if expected_version is not None and version != expected_version:
                replayed = self._replayed(conversation_id, batch)
                if replayed is not None:
                    return RecordOutcome(replayed, stored=False)
                raise ConcurrencyConflict(conversation_id, expected_version, version)
            events: list[DomainEvent] = []
            if state is None:
                started = Conversation.start(conversation_id)
                events.append(started)
                state = cast(Conversation, project_conversation(None, [started]))
            recorded: dict[int, HistoryEntry] = {}
            outcome: dict[str, int] = {}  # message id -> position of its entry
            prompt = self._prompt(state, batch)
            for message in batch:
                if message.id in resolved or message.id in outcome:
                    continue
                digest = digests.get(message.id) or self._digest(state, message)
                digests[message.id] = digest
                event = state.record(
                    message,
                    tokens=tokens[message.id],
                    counter=self._counter.name,
                    digest=digest,
                    prompt=prompt,
                )
                if event is None:
                    # A repeat of the current prompt records nothing, but claims its id, so a
                    # retry returns the prompt's entry even after the prompt has changed.
                    position = cast(int, state.system_position)
                    outcome[message.id] = position
                    events.append(self._claim_event(state, message, position, digest))
                    continue
                events += [event, self._claim_event(state, message, event.position, digest)]
                if message.is_instruction:
                    prompt = message
                state = state.apply(event)
                outcome[message.id] = event.position
                recorded[event.position] = history_entry(event)
            try:
                if events:
                    self._app.record(state, events, attachments)
                    if isinstance(events[0], Conversation.Started):
                        # Begun afresh here: no read ever needs to ask whether it is a branch.
                        self._reading.lineage.learn(conversation_id, None)
            except IntegrityError:
                fresh_state = True
                if self._resolve_claims(conversation_id, batch, resolved):
                    continue
                if expected_version is not None:
                    raise ConcurrencyConflict(
                        conversation_id, expected_version, self._reading.head(conversation_id)
                    ) from None
                # Lost a race with another writer: back off a little, then retry on fresh state.
                time.sleep(random.uniform(0, min(0.05, 0.001 * 2**attempt)))
                continue
            entries = tuple(
                resolved[m.id]
                if m.id in resolved
                else self._reading.entry_at(conversation_id, outcome[m.id], recorded)
                for m in batch
            )
            # This attempt's save succeeded, so what it holds was stored by this call alone.
            return RecordOutcome(entries, stored=bool(recorded))
        raise ConcurrencyConflict(
            conversation_id, expected_version or 0, self._reading.head(conversation_id)
        )

    def _digest(self, state: Conversation, message: Message) -> str:
        """The message's digest under the conversation's scheme."""
        if state.digests == PLAIN:
            return message.digest()
        return self._app.sealer.digest(state.id, message.canonical_json())

    def payload_digest(
        self, conversation_id: str, messages: Sequence[Message], *, keyed: bool | None = None
    ) -> str:
        """The digest a model call records of the messages it was shown.

        Keyed for a conversation of the keyed scheme (or as ``keyed`` says, for a replay of
        a call recorded either way), plain sha256 for one begun before.
        """
        if keyed is None:
            state = self._load(conversation_id, fresh=False)
            keyed = state is not None and state.digests != PLAIN
        if not keyed:
            return payload_digest(messages)
        mac = self._app.sealer.digest(conversation_id, canonical_payload(messages), create=False)
        return KEYED_PAYLOAD + mac

    def _claim_id(self, conversation_id: str, digests: int, message_id: str) -> str:
        if digests == PLAIN:
            return MessageKey.id_for(conversation_id, message_id)
        return self._app.sealer.claim_id(conversation_id, message_id)

    def _claim_event(
        self, state: Conversation, message: Message, position: int, digest: str
    ) -> MessageKey.Claimed:
        stream_id = self._claim_id(state.id, state.digests, message.id)
        return MessageKey.claim(state.id, message, position, digest=digest, stream_id=stream_id)

    def _prompt(self, state: Conversation, batch: list[Message]) -> Message | None:
        """The current system prompt's message, when the batch may repeat it."""
        if state.system_position is None or not any(m.is_instruction for m in batch):
            return None
        return self._reading.entry_at(state.id, state.system_position, {}).message

    def _load(self, conversation_id: str, *, fresh: bool) -> Conversation | None:
        """The conversation's state from this process's cache; ``fresh`` reads what is newer."""
        try:
            state: Conversation = self._app.repository.get(
                conversation_id, projector_func=project_conversation
            )
        except AggregateNotFoundError:
            return None
        if fresh:
            newer = cast(
                list[DomainEvent], list(self._app.events.get(conversation_id, gt=state.version))
            )
            if newer:
                state = cast(Conversation, project_conversation(state, newer))
                cache = self._app.repository.cache
                if cache is not None:
                    cache.put(conversation_id, state)
        return state

    def _claim(self, stream_id: str) -> MessageKey.Claimed | None:
        events = list(self._app.events.get(stream_id, limit=1))
        return cast(MessageKey.Claimed, events[0]) if events else None

    def _resolve_claims(
        self, conversation_id: str, batch: list[Message], resolved: dict[str, HistoryEntry]
    ) -> bool:
        """After a clash, find the batch's messages recorded meanwhile; True if any were."""
        found = False
        state = self._load(conversation_id, fresh=False)
        if state is None:
            return False
        for message in batch:
            if message.id in resolved:
                continue
            claim = self._claim(self._claim_id(conversation_id, state.digests, message.id))
            if claim is None:
                continue
            if claim.digest != self._digest(state, message):
                raise IdempotencyConflict(conversation_id, message.id, claim.position)
            resolved[message.id] = self._reading.entry_at(conversation_id, claim.position, {})
            found = True
        return found

    def _resolve_shared(
        self, conversation_id: str, batch: list[Message], resolved: dict[str, HistoryEntry]
    ) -> None:
        """Resolve the batch's ids already recorded in a branch's shared prefix."""
        segments = self._reading.lineage.segments(conversation_id)
        for message_id, position in self._shared_claims(
            conversation_id, segments[1:], batch
        ).items():
            resolved[message_id] = self._reading.entry_at(conversation_id, position, {})

    def check_branch(self, conversation_id: str, upto: int, message: Message) -> None:
        """Raise what recording ``message`` on a new branch sharing the conversation's messages
        1..``upto`` would raise for its content or its id, before that branch is made."""
        self._validated(message)
        shared = [
            Segment(s.conversation_id, s.after, upto if s.upto is None else min(s.upto, upto))
            for s in self._reading.lineage.segments(conversation_id)
        ]
        found = self._shared_claims(conversation_id, shared, [message])
        if message.id in found:  # the branch would take it for the one it shares: none recorded
            raise InvalidMessage(
                "id",
                f"{message.id!r} is already recorded at position {found[message.id]}, which the "
                "branch would share: give the new message a new id",
            )

    def _shared_claims(
        self, conversation_id: str, segments: Sequence[Segment], batch: list[Message]
    ) -> dict[str, int]:
        """The positions in ``segments`` (a branch's shared prefix) where the batch's ids were
        recorded; IdempotencyConflict if one was recorded there with other content."""
        found: dict[str, int] = {}
        for segment in segments:
            assert segment.upto is not None  # every ancestor is bounded by a fork point
            ancestor = self._load(segment.conversation_id, fresh=False)
            tail = self._app.tail(segment.conversation_id)
            if ancestor is None or tail is None or self._app.ended(tail):
                continue  # erased: its claims went with its key
            for message in batch:
                if message.id in found:
                    continue
                try:
                    stream = self._claim_id(ancestor.id, ancestor.digests, message.id)
                except ConversationErased:
                    break  # erased meanwhile: as above
                claim = self._claim(stream)
                if claim is None or not segment.holds(claim.position):
                    continue
                if claim.digest != self._digest(ancestor, message):
                    raise IdempotencyConflict(conversation_id, message.id, claim.position)
                found[message.id] = claim.position
        return found

    def _replayed(
        self, conversation_id: str, batch: list[Message]
    ) -> tuple[HistoryEntry, ...] | None:
        """The original entries if every message of the batch was recorded before (a retry)."""
        resolved: dict[str, HistoryEntry] = {}
        self._resolve_claims(conversation_id, batch, resolved)
        if all(message.id in resolved for message in batch):
            return tuple(resolved[message.id] for message in batch)
        return None

    def end_stream(self, conversation_id: str) -> Conversation | None:
        """Append the conversation's Erased event, after whatever was recorded before it.

        Every writer that has not heard of it then clashes with it on the version, and
        learns of it when it reads the newest state; every reader sees it on the newest row.
        Returns the erased state (None if the conversation has no stream).
        """
        for _ in range(MAX_APPEND_ATTEMPTS):
            state = self._load(conversation_id, fresh=True)
            if state is None or state.erased:
                return state
            event = state.erase()
            erased = state.apply(event)
            try:
                self._app.record(erased, [event])
            except IntegrityError:
                continue  # a message was recorded meanwhile: erase after it
            return erased
        raise WriteContention(f"conversation {conversation_id!r}")

    def append(self, stream_id: str, make: Callable[[int], DomainEvent]) -> DomainEvent:
        """Append the event ``make(version)`` to a side stream, retrying if another writer won."""
        events = self._app.events
        for _ in range(MAX_APPEND_ATTEMPTS):
            last = list(events.get(stream_id, desc=True, limit=1))
            event = make(last[0].originator_version + 1 if last else 1)
            try:
                self._app.save(event)
            except IntegrityError:
                continue
            return event
        raise WriteContention(f"stream {stream_id!r}")
