"""Where a branch's messages live: its own stream after the fork point, its ancestors' before.

A conversation forked from another begins with ``Conversation.Forked`` (see
``chatledger.domain.branches``). Its lineage is the chain of segments a read walks: the branch
itself (positions past its fork point), then its parent up to the fork point, and so on back
to the root. A conversation begun afresh is one segment.

A fork's first event never changes, so what this module learns of one is cached for the
process's life: a read of a conversation pays one small query the first time, none after.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from chatledger.domain import Conversation
from chatledger.domain.conversation import STARTED_VERSION
from chatledger.infrastructure.storage.application import LedgerApplication
from chatledger.infrastructure.storage.topics import topics_naming

CACHE_SIZE = 100_000
"""Conversations whose first event is remembered; past it, the cache starts afresh."""
_FORKED_TOPICS = topics_naming(Conversation.Forked)


@dataclass(frozen=True)
class Segment:
    """A stretch of a branch's history held in one conversation's own stream."""

    conversation_id: str
    after: int
    """The segment holds positions after this one (its conversation's fork point)..."""
    upto: int | None
    """...up to this one (the fork point of the branch it is shared with; None: no bound)."""

    def holds(self, position: int) -> bool:
        """Whether ``position`` is in this segment."""
        return position > self.after and (self.upto is None or position <= self.upto)


class Lineage:
    """Fork points of the conversations in one store, read once each."""

    def __init__(self, app: LedgerApplication) -> None:
        self._app = app
        self._forks: dict[str, Conversation.Forked | None] = {}

    def fork_of(self, conversation_id: str) -> Conversation.Forked | None:
        """The conversation's ``Forked`` event, or None if it began afresh or does not exist."""
        if conversation_id in self._forks:
            return self._forks[conversation_id]
        rows = self._app.recorder.select_events(conversation_id, lte=STARTED_VERSION, limit=1)
        if not rows:
            return None  # not recorded yet: nothing to remember
        fork = None
        if rows[0].topic in _FORKED_TOPICS:
            fork = cast(Conversation.Forked, self._app.mapper.to_domain_event(rows[0]))
        if len(self._forks) >= CACHE_SIZE:
            self._forks.clear()
        self._forks[conversation_id] = fork
        return fork

    def learn(self, conversation_id: str, fork: Conversation.Forked | None) -> None:
        """Remember how a conversation this process just began began: as ``fork``, or afresh."""
        if len(self._forks) >= CACHE_SIZE:
            self._forks.clear()
        self._forks[conversation_id] = fork

    def segments(self, conversation_id: str) -> list[Segment]:
        """The branch's segments, its own first, back to the root's."""
        found: list[Segment] = []
        current, upto = conversation_id, None
        while True:
            fork = self.fork_of(current)
            after = fork.fork_point if fork is not None else 0
            found.append(Segment(current, after, upto))
            if fork is None:
                return found
            # An ancestor holds no more than every fork point below it lets through.
            current = fork.parent
            upto = fork.fork_point if upto is None else min(upto, fork.fork_point)

    def owner(self, conversation_id: str, position: int) -> str:
        """The conversation whose own stream holds the branch's message at ``position``."""
        for segment in self.segments(conversation_id):
            if position > segment.after:
                return segment.conversation_id
        return conversation_id

    def root(self, conversation_id: str) -> str:
        """The conversation the branch's tree began with."""
        return self.segments(conversation_id)[-1].conversation_id
