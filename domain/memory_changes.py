"""Memory changes: clearing memory and retracting a message, as events that keep the history.

Frameworks ask a store to "start the model's memory afresh" (LangChain's ``clear``, the Agents
SDK's ``clear_session``) or to "take back the last item" (``pop_item``). Deleting would destroy
the history an auditor replays; here each is one more event, and every memory view built after
it applies it:

- ``Conversation.MemoryCleared`` at history length P: messages 1..P leave memory, except the
  system prompt in force, which stays until another replaces it. A tool result after P whose
  call came before is an orphan, and never appears. Summaries recorded before the clear stand
  for cleared messages, so no later view shows one; nor one that covers only cleared messages.
- ``Conversation.Retracted`` of position T: the unit holding T (the message alone, or its whole
  tool exchange) leaves memory. An instruction cannot be retracted: a new one replaces it.

Both live in a stream of their own per conversation (``memory/<conversation id>``), for the
reasons summaries do (``chatledger.domain.summaries``): positions keep their versions, a change
clashes only with other changes, and it holds no text, so erasure needs nothing more. Each
records the history's length when it was recorded (``position``): a view at an earlier position
applies none of the changes made later, so a point in time before a clear gives the old view,
and a model call's replay applies exactly the changes its view applied (``MemoryView.changes``).
Changes form a hash chain of their own, each link also over the conversation's link at
``position``, so a change cannot be moved to another history unnoticed.

Both are idempotent: clearing when nothing was recorded since the last clear, or retracting what
a change already took out, records nothing and returns the change in force.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from chatledger.domain.conversation import Conversation

MemoryChangeKind = Literal["cleared", "retracted"]


class MemoryChange(BaseModel):
    """A clear or a retraction, as callers see it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    number: int = Field(ge=1)
    """The change's 1-based number within its conversation, in the order recorded."""
    kind: MemoryChangeKind
    position: int = Field(ge=1)
    """The history's length when it was recorded: a clear clears messages 1..position."""
    target: int | None = Field(default=None, ge=1)
    """The retracted message's position (a retraction only)."""
    summaries: int = Field(default=0, ge=0)
    """For a clear, the newest summary when it was recorded: it and older ones stand for
    cleared messages, so no later view shows them."""
    recorded_at: datetime

    @classmethod
    def recorded(cls, event: Conversation.MemoryCleared | Conversation.Retracted) -> MemoryChange:
        """The change that ``event`` recorded."""
        if isinstance(event, Conversation.MemoryCleared):
            return cls(
                number=event.number,
                kind="cleared",
                position=event.position,
                summaries=event.summaries,
                recorded_at=event.timestamp,
            )
        return cls(
            number=event.number,
            kind="retracted",
            position=event.position,
            target=event.target,
            recorded_at=event.timestamp,
        )


MemoryChangeEvent = Conversation.MemoryCleared | Conversation.Retracted


@dataclass(frozen=True)
class ChangesInForce:
    """What a view applies of a conversation's memory changes: the fold of those that exist."""

    number: int = 0
    """The newest change there was to apply (0: none), so a replay applies the same ones."""
    cleared: int = 0
    """Messages 1..cleared are cleared (the system prompt in force aside)."""
    summaries: int = 0
    """Summaries numbered up to this one were recorded before the newest clear."""
    retracted: frozenset[int] = field(default_factory=frozenset)
    """Positions retracted after the newest clear: their units leave memory."""

    @classmethod
    def of(cls, changes: Iterable[MemoryChange]) -> ChangesInForce:
        """The fold of ``changes`` (oldest first): the newest clear, the retractions after it."""
        number = cleared = summaries = 0
        retracted: set[int] = set()
        for change in changes:
            number = max(number, change.number)
            if change.kind == "cleared":
                cleared, summaries = max(cleared, change.position), change.summaries
                retracted = set()
            elif change.target is not None and change.target > cleared:
                retracted.add(change.target)
        return cls(number, cleared, summaries, frozenset(retracted))

    def admits_summary(self, number: int, covers: int) -> bool:
        """Whether summary ``number`` covering 1..``covers`` may stand in a view after these."""
        if not self.cleared:
            return True
        return number > self.summaries and covers > self.cleared
