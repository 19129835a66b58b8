"""Summaries: derived events that stand for a prefix of a conversation, never replacing it.

A summary says "messages 1..covers, in short". It is recorded as ``Conversation.SummaryRecorded``
in a stream of its own per conversation (``summaries/<conversation id>``), not in the
conversation's stream, for three reasons:

- A message's position is its event's version minus one, and positions have no holes: history
  pages, point-in-time reads, read-ahead pages and ``version()`` all rest on that. A summary in
  the same stream would take a version and leave a hole, and every one of those reads would
  need a position-to-version map, slowing down conversations that never have a summary.
- A summary is saved atomically with nothing else and clashes only with other summaries: a
  compaction racing a writer never makes the writer retry, and two compactions of one
  conversation clash on the summary stream's version, so at most one of them records.
- Erasure needs nothing more: the text is sealed under the conversation's key, bound to the
  summary stream's id and version, so destroying the key destroys summaries too.

The stream id names the conversation in the clear (as the model-call stream does): verification
and the history page find a conversation's summaries after its erasure, when no keyed id could
be computed. The id says nothing the conversation's own stream id does not.

Summaries form a hash chain of their own, each link also over the conversation's link at
``covers`` (its ``anchor``), so a summary cannot be moved to other messages unnoticed.
Each records ``position``, the history's length when it was recorded, so a view at an earlier
position uses only the summaries that existed then.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from chatledger.domain.conversation import Conversation


class Summary(BaseModel):
    """A recorded summary as callers see it: what it covers, its text, and what it costs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    number: int = Field(ge=1)
    """The summary's 1-based number within its conversation, in the order recorded."""
    covers: int = Field(ge=1)
    """It stands for messages 1..covers."""
    position: int = Field(ge=1)
    """The history's length when it was recorded."""
    text: str
    model: str | None = None
    tokens: int = Field(ge=0)
    """Tokens of the summary as ``SummaryWindow`` renders it by default."""
    counter: str
    recorded_at: datetime
    erased: bool = False
    """True once the conversation was erased: the summary keeps its place, not its text."""

    @classmethod
    def recorded(cls, event: Conversation.SummaryRecorded) -> Summary:
        """The summary that ``event`` recorded."""
        return cls(
            number=event.number,
            covers=event.covers,
            position=event.position,
            text=event.text,
            model=event.model,
            tokens=event.tokens,
            counter=event.counter,
            recorded_at=event.timestamp,
            erased=event.erased,
        )
