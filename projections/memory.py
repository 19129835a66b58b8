"""The memory view: what the model is shown on the next call, derived from the history.

Rules (the contract every function here implements):

1. The current system prompt (the last system message recorded) comes first when there is one;
   no other system message appears, and it is never evicted.
2. Non-system messages form units. An assistant message with tool calls opens a tool exchange
   waiting for each call id; a tool message joins the most recent exchange still waiting for its
   ``tool_call_id`` (ids may be reused across turns). A tool message with no such exchange is an
   orphan and never appears. An exchange with any call unanswered never appears. Every other
   message is a unit alone. Units are ordered by their first message; an exchange lists its call
   then its results in recorded order.
3. From the newest unit backwards, units are taken while the budget holds, stopping at the first
   that does not fit; none is skipped or split. If the system prompt alone exceeds the budget, the
   view is the system prompt alone.
4. With ``start_on_user``, leading units are dropped until the first is a user message.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from domain import Message
from projections.history import HistoryEntry
from projections.policies import Policy


class Exclusion(StrEnum):
    """Why a recorded message is not in a memory view."""

    EVICTED = "evicted by the window"
    ORPHANED_TOOL_RESULT = "orphaned tool result"
    UNANSWERED_TOOL_CALL = "unanswered tool call"
    REPLACED_SYSTEM_PROMPT = "replaced system prompt"
    BEFORE_FIRST_USER = "dropped to start on a user message"


class MemoryView(BaseModel):
    """The messages to send to the model, in order, and their token total."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    entries: tuple[HistoryEntry, ...]
    tokens: int = Field(ge=0)
    """Tokens of the whole request: the counter's request overhead plus every message's count.
    Zero when the view is empty."""
    policy: Policy
    position: int = Field(ge=0)
    """The history position the view was computed at (0 for an empty conversation)."""

    @property
    def messages(self) -> tuple[Message, ...]:
        """The messages to send, in order."""
        return tuple(entry.message for entry in self.entries)

    @property
    def positions(self) -> tuple[int, ...]:
        """The history positions of the messages in the view."""
        return tuple(entry.position for entry in self.entries)


class MemoryExplanation(BaseModel):
    """A memory view beside the reason each left-out message was left out."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    view: MemoryView
    excluded: dict[int, Exclusion]
    """Position of every recorded message not in the view -> why."""
