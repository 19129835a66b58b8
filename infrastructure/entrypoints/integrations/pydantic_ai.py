"""pydantic-ai's message history kept in a chatledger conversation (``chatledger[pydantic-ai]``).

Record a run's messages, then load the memory view as the next run's ``message_history``::

    history = load_messages(ledger, "trip")
    result = agent.run_sync("And tomorrow?", message_history=history)
    record_messages(ledger, "trip", result.all_messages())

Recording is idempotent: each message's id comes from what identifies it in pydantic-ai (its
message's kind, timestamp and run id, its part's kind, timestamp and tool call id), so recording
``result.all_messages()`` after a run that began from loaded history stores only what the run
added, and ``result.new_messages()`` stores the same. Loading gives back the messages recorded,
equal field for field, under the memory rules: the system prompt in force first, tool
exchanges whole, the window's budget. ``AsyncChatLedger`` has the awaitable twins
``arecord_messages`` and ``aload_messages``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from pydantic_ai.messages import ModelMessage, ModelMessagesTypeAdapter

from chatledger import (
    AsyncChatLedger,
    ChatLedger,
    HistoryEntry,
    MemoryView,
    Message,
    MessageWindow,
    Policy,
)
from chatledger.domain.limits import MAX_POSITION
from chatledger.integrations._pydantic_ai_messages import to_chatledger, to_pydantic_ai

__all__ = [
    "aload_messages",
    "arecord_messages",
    "from_view",
    "load_messages",
    "record_messages",
    "to_ledger_messages",
]

WHOLE_MEMORY = MessageWindow(max_messages=MAX_POSITION)
"""The default policy: every message memory holds (since the last clear), none evicted."""


def to_ledger_messages(messages: Sequence[ModelMessage]) -> list[Message]:
    """The chatledger messages that ``record_messages`` records for pydantic-ai messages."""
    return to_chatledger(ModelMessagesTypeAdapter.dump_python(list(messages), mode="json"))


def from_view(view: MemoryView) -> list[ModelMessage]:
    """A memory view's messages as pydantic-ai messages: what ``load_messages`` returns."""
    times = {entry.message.id: entry.recorded_at for entry in view.entries}
    messages = view.messages
    data = to_pydantic_ai(messages, [times.get(message.id) for message in messages])
    return ModelMessagesTypeAdapter.validate_json(json.dumps(data))


def record_messages(
    ledger: ChatLedger, conversation_id: str, messages: Sequence[ModelMessage]
) -> tuple[HistoryEntry, ...]:
    """Record pydantic-ai messages as one atomic save; those recorded before record nothing.

    Returns each chatledger message's entry, in order (a repeat's is its original entry).
    """
    converted = to_ledger_messages(messages)
    return ledger.record(conversation_id, converted) if converted else ()


def load_messages(
    ledger: ChatLedger,
    conversation_id: str,
    policy: Policy | None = None,
    *,
    at: int | None = None,
) -> list[ModelMessage]:
    """The memory view under ``policy`` as pydantic-ai messages, for ``message_history``.

    By default the whole memory: every message since the last clear, with the memory rules
    applied (one system prompt, tool exchanges whole). An unknown conversation gives ``[]``.
    ``at`` gives the view as it was right after that history position.
    """
    return from_view(ledger.memory(conversation_id, policy or WHOLE_MEMORY, at=at))


async def arecord_messages(
    ledger: AsyncChatLedger, conversation_id: str, messages: Sequence[ModelMessage]
) -> tuple[HistoryEntry, ...]:
    """``record_messages`` for an ``AsyncChatLedger``."""
    converted = to_ledger_messages(messages)
    return await ledger.record(conversation_id, converted) if converted else ()


async def aload_messages(
    ledger: AsyncChatLedger,
    conversation_id: str,
    policy: Policy | None = None,
    *,
    at: int | None = None,
) -> list[ModelMessage]:
    """``load_messages`` for an ``AsyncChatLedger``."""
    return from_view(await ledger.memory(conversation_id, policy or WHOLE_MEMORY, at=at))
