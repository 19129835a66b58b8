"""Memory changes: clearing memory and retracting a message, each one event beside the history.

Nothing here deletes or rewrites a message. A clear or a retraction is saved atomically with
nothing else, in the conversation's memory stream (``chatledger.domain.memory_changes`` says
what each means, and why the stream is its own); two changes racing clash on the stream's
version, and the loser reads the winner and goes again, so none is lost and none is doubled.
"""

from __future__ import annotations

from typing import TypeVar

from eventsourcing.persistence import IntegrityError

from chatledger.domain import (
    ChangesInForce,
    Conversation,
    ConversationErased,
    InvalidInput,
    MemoryChange,
    UnknownConversation,
    WriteContention,
    check_conversation_id,
    check_count,
    utc_now,
)
from chatledger.domain.conversation import memory_genesis, memory_stream_id
from chatledger.domain.memory_changes import MemoryChangeEvent
from chatledger.infrastructure.services.memory_change_reads import (
    change_event,
    change_events_newest_first,
    changes_in_force,
    inherited_changes,
)
from chatledger.infrastructure.services.reading import Reading
from chatledger.infrastructure.services.summary_reads import summary_events_newest_first
from chatledger.infrastructure.storage.application import LedgerApplication
from chatledger.infrastructure.storage.topics import topics_naming

_FORKED_TOPICS = topics_naming(Conversation.Forked)
_Change = TypeVar("_Change", Conversation.MemoryCleared, Conversation.Retracted)
MAX_APPEND_ATTEMPTS = 100


class MemoryChanges:
    """Clears and retracts memory in the conversations of one store, and lists the changes."""

    def __init__(self, app: LedgerApplication, reading: Reading) -> None:
        self._app = app
        self._reading = reading

    def clear(self, conversation_id: str) -> MemoryChange | None:
        """Clear the conversation's memory; return the clear in force, None if it holds nothing.

        Clearing again with nothing recorded since records nothing and returns that clear.
        Raises ConversationErased once the conversation was erased.
        """
        check_conversation_id(conversation_id)
        head = self._head(conversation_id, must_exist=False)
        if head == 0:
            return None
        stream = memory_stream_id(conversation_id)
        for _ in range(MAX_APPEND_ATTEMPTS):
            last = next(change_events_newest_first(self._app, conversation_id), None)
            if isinstance(last, Conversation.MemoryCleared) and last.position >= head:
                return MemoryChange.recorded(last)
            newest_summary = next(summary_events_newest_first(self._app, conversation_id), None)
            event = self._with_link(
                Conversation.MemoryCleared(
                    originator_id=stream,
                    originator_version=last.number + 1 if last is not None else 1,
                    timestamp=utc_now(),
                    conversation_id=conversation_id,
                    position=_position(head, last),
                    summaries=newest_summary.number if newest_summary is not None else 0,
                    anchor=self._anchor(conversation_id, _position(head, last)),
                    chain="",
                ),
                last,
            )
            try:
                self._app.save(event)
            except IntegrityError:
                continue  # another change took the number: read it and go again
            return MemoryChange.recorded(event)
        raise WriteContention(f"stream {stream!r}")

    def retract(self, conversation_id: str, position: int) -> MemoryChange:
        """Take the unit holding ``position`` out of every later memory view; return the change.

        Retracting a position a change already took out (a clear, or an earlier retraction of
        it) records nothing and returns that change. Raises InvalidInput naming ``position``
        when it is past the history or holds an instruction, UnknownConversation when the
        conversation holds no message, ConversationErased once it was erased.
        """
        check_conversation_id(conversation_id)
        check_count("position", position, minimum=1)
        head = self._head(conversation_id, must_exist=True)
        if position > head:
            raise InvalidInput(
                "position", f"position {position} is past the end of the history ({head} messages)"
            )
        message = self._reading.entry_at(conversation_id, position, {}).message
        if message.is_instruction:
            raise InvalidInput(
                "position",
                f"position {position} holds a {message.role} message: an instruction is not "
                "retracted; record a new one to replace it",
            )
        stream = memory_stream_id(conversation_id)
        for _ in range(MAX_APPEND_ATTEMPTS):
            newest = change_events_newest_first(self._app, conversation_id)
            last = next(newest, None)
            own_clear = False
            for change in (last, *newest) if last is not None else ():
                if isinstance(change, Conversation.MemoryCleared):
                    if position <= change.position:
                        return MemoryChange.recorded(change)
                    own_clear = True
                    break
                if change.target == position:
                    return MemoryChange.recorded(change)
            if not own_clear:
                # A branch took its parent's changes with it: one of those may hold it already.
                for inherited in reversed(self._inherited(conversation_id)):
                    if inherited.kind == "cleared" and position <= inherited.position:
                        return inherited
                    if inherited.target == position:
                        return inherited
            event = self._with_link(
                Conversation.Retracted(
                    originator_id=stream,
                    originator_version=last.number + 1 if last is not None else 1,
                    timestamp=utc_now(),
                    conversation_id=conversation_id,
                    target=position,
                    position=_position(head, last),
                    anchor=self._anchor(conversation_id, _position(head, last)),
                    chain="",
                ),
                last,
            )
            try:
                self._app.save(event)
            except IntegrityError:
                continue
            return MemoryChange.recorded(event)
        raise WriteContention(f"stream {stream!r}")

    def memory_changes(self, conversation_id: str, *, at: int | None = None) -> list[MemoryChange]:
        """The conversation's clears and retractions, oldest first (those recorded by ``at``)."""
        check_conversation_id(conversation_id)
        if at is not None:
            check_count("at", at)
        stream = memory_stream_id(conversation_id)
        events = [change_event(stream, event) for event in self._app.events.get(stream)]
        return [
            MemoryChange.recorded(event) for event in events if at is None or event.position <= at
        ]

    def changes_in_force(
        self, conversation_id: str, *, at: int | None = None, upto: int | None = None
    ) -> ChangesInForce:
        """What a view at ``at`` applies (see the module function)."""
        return changes_in_force(
            self._app, conversation_id, at=at, upto=upto, lineage=self._reading.lineage
        )

    def _inherited(self, conversation_id: str) -> list[MemoryChange]:
        """The changes a branch applies from its parent (none for a conversation begun afresh)."""
        fork = self._reading.lineage.fork_of(conversation_id)
        if fork is None or not fork.changes:
            return []
        return inherited_changes(self._app, fork, self._reading.lineage)

    def _with_link(self, event: _Change, last: MemoryChangeEvent | None) -> _Change:
        # The link covers the event's own fields: made from the event, not restated.
        previous = last.chain if last is not None else memory_genesis(event.conversation_id)
        return event.model_copy(update={"chain": event.link(previous)})

    def _head(self, conversation_id: str, *, must_exist: bool) -> int:
        """The conversation's length (0 when it holds no message, if allowed)."""
        row = self._app.tail(conversation_id)
        if row is not None and self._app.ended(row):
            raise ConversationErased(conversation_id)
        head = 0 if row is None else self._reading.head(conversation_id)
        # A branch forked at 0 exists before its first message: a position there is past its end.
        if must_exist and (row is None or (head == 0 and row.topic not in _FORKED_TOPICS)):
            raise UnknownConversation(conversation_id)
        return head

    def _anchor(self, conversation_id: str, position: int) -> str:
        """The conversation's chain link at ``position``."""
        return self._reading.message_event(conversation_id, position).chain


def _position(head: int, last: MemoryChangeEvent | None) -> int:
    # Never earlier than the change before: the changes a view at some position applies are
    # then always the oldest ones.
    return max(head, last.position if last is not None else 0)
