"""The history view: every recorded message in order, with its position, time and token count."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from chatledger.domain import Message


class HistoryEntry(BaseModel):
    """One recorded message and where, when and at what token cost it was recorded."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    message: Message
    position: int = Field(ge=1)
    recorded_at: datetime
    tokens: int = Field(ge=0)
    counter: str
    erased: bool = False
    """True once the conversation was erased: the message keeps its role and place, no content."""


class HistoryView(BaseModel):
    """A page of a conversation's history, oldest first, and how long the history is."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    conversation_id: str
    entries: tuple[HistoryEntry, ...]
    length: int = Field(ge=0)
    """How many messages the conversation holds (as of ``at``, when one was given)."""

    def __iter__(self) -> Iterator[HistoryEntry]:  # type: ignore[override]  # iterate entries, not fields
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def messages(self) -> tuple[Message, ...]:
        """The page's messages, oldest first."""
        return tuple(entry.message for entry in self.entries)
