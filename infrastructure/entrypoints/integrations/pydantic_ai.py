"""pydantic-ai's message history kept in a chatledger conversation (``chatledger[pydantic-ai]``).

Record a run's messages, then load the memory view as the next run's ``message_history``::

    history = load_messages(ledger, "trip")
    result = agent.run_sync("And tomorrow?", message_history=history)
    record_messages(ledger, "trip", result.all_messages())

Recording is idempotent: each message's id comes from what identifies it in pydantic-ai (a
request part's kind, timestamp and tool call id; a response's timestamp, run id and provider
response id), so recording ``result.all_messages()`` after a run that began from loaded
history stores only what the run added, and ``result.new_messages()`` stores the same.
Loading gives back the messages recorded, equal field for field, under the memory rules: the
system prompt in force first, tool exchanges whole, the window's budget. Where a view puts two
requests side by side (a window's cut, a clear, messages recorded without this adapter), they
come merged into one, as a run would merge them, and that message lists the ids of what it
holds in its ``metadata["chatledger"]``, so recording it again records nothing.

Within a run, the capability ``memory_capability(ledger, policy)`` (pydantic-ai's
``ProcessHistory``, which replaced ``history_processors=`` in 2.0) records each request as it
is sent and sends the model the ledger's memory view instead of the run's whole list: a long
tool loop stays within the window, and nothing the window leaves out is lost.

``clear_messages`` starts the model's memory afresh and ``pop_messages`` takes the newest
message (a tool exchange as a whole) back from it; both keep the history, as events. Each
function has an awaitable twin for an ``AsyncChatLedger``, named with an ``a`` in front.
The conversion itself: ``pydantic_ai_messages``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from chatledger.integrations import needs

with needs("pydantic-ai"):
    from pydantic_ai.capabilities import ProcessHistory
    from pydantic_ai.messages import ModelMessage, ModelMessagesTypeAdapter, repair_messages
    from pydantic_ai.tools import RunContext

from chatledger import (
    AsyncChatLedger,
    ChatLedger,
    HistoryEntry,
    IdempotencyConflict,
    InvalidInput,
    MemoryChange,
    MemoryView,
    Message,
    MessageWindow,
    Policy,
)
from chatledger.domain import limits
from chatledger.integrations.pydantic_ai_messages import ID_PREFIX as _ID_PREFIX
from chatledger.integrations.pydantic_ai_messages import LEDGER_KEY as _LEDGER_KEY
from chatledger.integrations.pydantic_ai_messages import (
    member_ids,
    to_chatledger,
    to_pydantic_ai,
)

__all__ = [
    "WHOLE_MEMORY",
    "aclear_messages",
    "aload_messages",
    "amemory_capability",
    "apop_messages",
    "arecord_messages",
    "clear_messages",
    "from_view",
    "load_messages",
    "memory_capability",
    "pop_messages",
    "record_messages",
    "to_ledger_messages",
]

WHOLE_MEMORY = MessageWindow(max_messages=limits.MAX_POSITION)
"""The default policy: every message since the last clear. No conversation holds more than
``MAX_POSITION`` messages; the memory rules still apply (the current system prompt first,
orphan results and unanswered calls left out)."""


_DISCRIMINATORS = frozenset({"kind", "part_kind"})


def to_ledger_messages(messages: Sequence[ModelMessage]) -> list[Message]:
    """The chatledger messages that ``record_messages`` records for pydantic-ai messages."""
    return to_chatledger(_lean(list(messages)))


def _lean(messages: list[ModelMessage]) -> list[dict[str, Any]]:
    """The messages' JSON without the fields at their defaults, but for the discriminators.

    So a field that pydantic-ai adds later (with a default) leaves what is recorded of older
    messages as it was: recording them again after an upgrade still records nothing.
    """
    full = ModelMessagesTypeAdapter.dump_python(messages, mode="json")
    lean = ModelMessagesTypeAdapter.dump_python(messages, mode="json", exclude_defaults=True)
    kept: list[dict[str, Any]] = _without_defaults(full, lean)
    return kept


def _without_defaults(full: Any, lean: Any) -> Any:
    if isinstance(full, dict) and isinstance(lean, dict):
        return {
            key: _without_defaults(value, lean[key]) if key in lean else value
            for key, value in full.items()
            if key in lean or key in _DISCRIMINATORS
        }
    if isinstance(full, list) and isinstance(lean, list) and len(full) == len(lean):
        return [_without_defaults(f, item) for f, item in zip(full, lean, strict=True)]
    return lean


def from_view(view: MemoryView) -> list[ModelMessage]:
    """A memory view's messages as pydantic-ai messages: what ``load_messages`` returns."""
    times = {entry.message.id: entry.recorded_at for entry in view.entries}
    return _model_messages(view.messages, [times.get(message.id) for message in view.messages])


def _model_messages(
    messages: Sequence[Message], times: Sequence[datetime | None]
) -> list[ModelMessage]:
    """The pydantic-ai messages of recorded ones, in the shape a run keeps its history in.

    A run first merges consecutive requests (and synthetic responses), which drops their
    fields: so they are merged here, and each merged message, or one made of a message
    recorded without this adapter, lists the ids of what it holds (under "chatledger"), which
    recording it again leaves out.
    """
    converted = to_pydantic_ai(messages, times)
    loaded = ModelMessagesTypeAdapter.validate_json(json.dumps([data for data, _ in converted]))
    as_recorded = {
        id(message) for message, (_, ours) in zip(loaded, converted, strict=True) if ours
    }
    return [
        message if id(message) in as_recorded else _marked(message)
        for message in repair_messages(loaded, repair_last_response=False)
    ]


def _marked(message: ModelMessage) -> ModelMessage:
    recorded = {_LEDGER_KEY: {"recorded": member_ids(_lean([message])[0])}}
    return replace(message, metadata={**(message.metadata or {}), **recorded})


def _newest_unit(view: MemoryView) -> tuple[HistoryEntry, ...]:
    """The newest unit of a memory view: its last message, or its last tool exchange whole."""
    entries = [entry for entry in view.entries if not entry.message.is_instruction]
    if not entries or entries[-1].message.role != "tool":
        return tuple(entries[-1:])
    # A view lists an exchange's results right after its call.
    start = max(i for i, entry in enumerate(entries) if entry.message.tool_calls)
    return tuple(entries[start:])


def _popped(unit: Sequence[HistoryEntry]) -> list[ModelMessage]:
    return _model_messages([e.message for e in unit], [e.recorded_at for e in unit])


def record_messages(
    ledger: ChatLedger, conversation_id: str, messages: Sequence[ModelMessage]
) -> tuple[HistoryEntry, ...]:
    """Record pydantic-ai messages as one atomic save; those recorded before record nothing.

    A message recorded before stays as it was recorded, even if a run has since merged its
    request with another (which drops some of a request's fields). Returns the entries of the
    messages this call recorded or found recorded as they are, in order.
    """
    batch = to_ledger_messages(messages)
    for _ in range(len(batch) + 1):
        if not batch:
            return ()
        try:
            return ledger.record(conversation_id, batch)
        except IdempotencyConflict as conflict:
            batch = _without(batch, conflict)
    raise AssertionError("unreachable: each attempt leaves out one message")


def _without(batch: list[Message], conflict: IdempotencyConflict) -> list[Message]:
    """The batch without the message a conflict names, when it is one of this adapter's: the
    same pydantic-ai part as one recorded before, its request's fields rewritten since."""
    if not conflict.message_id.startswith(_ID_PREFIX):
        raise conflict
    return [message for message in batch if message.id != conflict.message_id]


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


def memory_capability(
    ledger: ChatLedger, policy: Policy | None = None, *, conversation_id: str | None = None
) -> ProcessHistory[Any]:
    """A capability that records what a run is about to send the model, then sends the memory
    view under ``policy`` (by default the whole memory) in its place.

    The conversation is ``conversation_id``, else the run's (``agent.run(...,
    conversation_id=...)``). pydantic-ai keeps the view as the run's messages, so record
    ``result.all_messages()`` after the run for its final response. The policy's budget must
    hold the newest request: a view of the system prompt alone asks the model nothing.
    """

    def process(ctx: RunContext[Any], messages: list[ModelMessage]) -> list[ModelMessage]:
        conversation = _conversation_of(ctx, conversation_id)
        record_messages(ledger, conversation, messages)
        return load_messages(ledger, conversation, policy)

    return ProcessHistory(process)


def _conversation_of(ctx: RunContext[Any], conversation_id: str | None) -> str:
    conversation = conversation_id or ctx.conversation_id
    if conversation is None:  # pydantic-ai gives every run one; this is a guard, not a path
        raise InvalidInput("conversation_id", "is required when the run has none")
    return conversation


def clear_messages(ledger: ChatLedger, conversation_id: str) -> MemoryChange | None:
    """Start the model's memory afresh: loading then gives only the system prompt in force.

    The history keeps every message (``ledger.clear``); None if there was nothing to clear.
    """
    return ledger.clear(conversation_id)


def pop_messages(ledger: ChatLedger, conversation_id: str) -> list[ModelMessage]:
    """Take the newest message back from memory, and return it: a tool exchange as a whole
    (the response calling the tools, then their results), never the system prompt.

    The history keeps it (``ledger.retract``), and recording it again leaves it out of
    memory still. Returns ``[]`` when memory holds nothing to take back.
    """
    unit = _newest_unit(ledger.memory(conversation_id, WHOLE_MEMORY))
    if unit:
        ledger.retract(conversation_id, unit[-1].position)
    return _popped(unit)


async def arecord_messages(
    ledger: AsyncChatLedger, conversation_id: str, messages: Sequence[ModelMessage]
) -> tuple[HistoryEntry, ...]:
    """``record_messages`` for an ``AsyncChatLedger``."""
    batch = to_ledger_messages(messages)
    for _ in range(len(batch) + 1):
        if not batch:
            return ()
        try:
            return await ledger.record(conversation_id, batch)
        except IdempotencyConflict as conflict:
            batch = _without(batch, conflict)
    raise AssertionError("unreachable: each attempt leaves out one message")


async def aload_messages(
    ledger: AsyncChatLedger,
    conversation_id: str,
    policy: Policy | None = None,
    *,
    at: int | None = None,
) -> list[ModelMessage]:
    """``load_messages`` for an ``AsyncChatLedger``."""
    return from_view(await ledger.memory(conversation_id, policy or WHOLE_MEMORY, at=at))


async def aclear_messages(ledger: AsyncChatLedger, conversation_id: str) -> MemoryChange | None:
    """``clear_messages`` for an ``AsyncChatLedger``."""
    return await ledger.clear(conversation_id)


async def apop_messages(ledger: AsyncChatLedger, conversation_id: str) -> list[ModelMessage]:
    """``pop_messages`` for an ``AsyncChatLedger``."""
    unit = _newest_unit(await ledger.memory(conversation_id, WHOLE_MEMORY))
    if unit:
        await ledger.retract(conversation_id, unit[-1].position)
    return _popped(unit)


def amemory_capability(
    ledger: AsyncChatLedger, policy: Policy | None = None, *, conversation_id: str | None = None
) -> ProcessHistory[Any]:
    """``memory_capability`` for an ``AsyncChatLedger``."""

    async def process(ctx: RunContext[Any], messages: list[ModelMessage]) -> list[ModelMessage]:
        conversation = _conversation_of(ctx, conversation_id)
        await arecord_messages(ledger, conversation, messages)
        return await aload_messages(ledger, conversation, policy)

    return ProcessHistory(process)
