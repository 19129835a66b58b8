"""The OpenAI Agents SDK's ``Session`` kept in a chatledger conversation: ``ChatLedgerSession``.

Each Responses item added becomes one chatledger message (a model turn's parallel function
calls share one, so the memory view, which lists an exchange's outputs right after its call,
keeps their order), and each ``add_items`` batch is one atomic save. ``get_items`` reads the
memory view, not the history: after ``clear_session`` only later items, never a popped one,
while history keeps them all. Items come back equal, as JSON, to what was added: what the
Responses rendering normalises (the ``type`` the easy message form leaves out, a ``detail`` or
``annotations`` it fills in, a field sent as null) is kept in the message's metadata as the
differences to undo.

What chatledger's rules change: a system or developer item is the system prompt, shown first
(one equal to the prompt in force records nothing); a function call shows once its output is
recorded; items other than messages, function calls, their outputs and reasoning are refused.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, cast

from chatledger.integrations import needs

with needs("agents"):
    from agents.items import TResponseInputItem
    from agents.memory import SessionSettings

from chatledger.domain import (
    InvalidMessage,
    Message,
    check_conversation_id,
    check_count,
    messages_from_responses,
)
from chatledger.domain.limits import MAX_POSITION as _MAX_POSITION
from chatledger.infrastructure import AsyncChatLedger, ChatLedger
from chatledger.projections import HistoryEntry, MemoryView, MessageWindow
from chatledger.projections.renderings import render_responses

__all__ = ["AS_SENT", "ChatLedgerSession"]

AS_SENT = "openai_agents.as_sent"
"""The metadata key of a message whose items differ from their Responses rendering: the
differences, as ``["set", path, value]`` and ``["drop", path]``, that give the items as sent."""

_Result = TypeVar("_Result")
_Item = dict[str, Any]
_Path = list[str | int]


class ChatLedgerSession:
    """An Agents SDK session whose items are a chatledger conversation's memory view.

    ``session_id`` is the conversation id (1-200 letters, digits and ``. _ : @ -``). Takes a
    ``ChatLedger``, whose calls then run in worker threads, or an ``AsyncChatLedger``.
    ``pop_item`` retracts: popping a ``function_call_output`` takes its whole tool exchange
    (the calls and every output) out of memory, as a tool exchange goes as a whole.
    """

    session_id: str
    session_settings: SessionSettings | None

    def __init__(
        self,
        session_id: str,
        ledger: ChatLedger | AsyncChatLedger,
        session_settings: SessionSettings | None = None,
    ) -> None:
        self.session_id = check_conversation_id(session_id)
        self.session_settings = session_settings
        self._ledger = ledger

    async def get_items(self, limit: int | None = None) -> list[TResponseInputItem]:
        """The latest ``limit`` items in memory, oldest first (``session_settings.limit``
        when no limit is given; all of them when neither is)."""
        if limit is None and self.session_settings is not None:
            limit = self.session_settings.limit
        if limit is not None:
            check_count("limit", limit)
        items = [item for _, sent in await self._read(limit) for item in sent]
        if limit is not None:
            items = items[max(0, len(items) - limit) :]
        return cast(list[TResponseInputItem], items)

    async def add_items(self, items: list[TResponseInputItem]) -> None:
        """Record the items as one atomic batch: all of them, or none if one is invalid.

        Raises InvalidMessage naming the item (``items.3.content.0.type``) and its problem.
        """
        if not items:
            return
        messages = _messages_of(items)
        ledger = self._ledger
        if isinstance(ledger, AsyncChatLedger):
            await ledger.record(self.session_id, messages)
        else:
            await _off_loop(lambda: ledger.record(self.session_id, messages))

    async def pop_item(self) -> TResponseInputItem | None:
        """Retract the newest item in memory and return it; None when memory holds none.

        History keeps it. If it is a function call's output, the calls of its model turn and
        all their outputs leave memory with it. A system or developer item is chatledger's
        system prompt, which stays until another replaces it: it is never popped.
        """
        shown = await self._read(1)
        # An instruction cannot be retracted (a new one replaces it), and it shows first.
        if not shown or shown[-1][0].message.is_instruction:
            return None
        newest, sent = shown[-1]
        ledger = self._ledger
        if isinstance(ledger, AsyncChatLedger):
            await ledger.retract(self.session_id, newest.position)
        else:
            await _off_loop(lambda: ledger.retract(self.session_id, newest.position))
        return cast(TResponseInputItem, sent[-1])

    async def clear_session(self) -> None:
        """Clear memory: later reads hold only what is added after. History keeps all of it."""
        ledger = self._ledger
        if isinstance(ledger, AsyncChatLedger):
            await ledger.clear(self.session_id)
        else:
            await _off_loop(lambda: ledger.clear(self.session_id))

    async def _read(self, limit: int | None) -> list[tuple[HistoryEntry, list[_Item]]]:
        """The memory view's entries, each with its items as sent: at least the newest
        ``limit`` items (all of them, for None).

        Units are never split, so a window of ``limit`` messages may hold fewer items: the
        window doubles until it holds enough, or could hold every message recorded.
        """
        # A read stops at the newest clear, so a window of every position reads only memory.
        window = _MAX_POSITION if limit is None else min(limit + 1, _MAX_POSITION)
        while True:
            view = await self._memory(MessageWindow(max_messages=window))
            shown = [(entry, _items_of(entry.message)) for entry in view.entries]
            if window > view.position or window == _MAX_POSITION:
                return shown
            others = shown[1:] if shown and shown[0][0].message.is_instruction else shown
            if limit is not None and sum(len(sent) for _, sent in others) >= limit:
                return shown
            window = min(window * 2, _MAX_POSITION)

    async def _memory(self, policy: MessageWindow) -> MemoryView:
        ledger = self._ledger
        if isinstance(ledger, AsyncChatLedger):
            return await ledger.memory(self.session_id, policy)
        return await _off_loop(lambda: ledger.memory(self.session_id, policy))


async def _off_loop(call: Callable[[], _Result]) -> _Result:
    """``call()`` in a worker thread; a cancellation waits for it to finish, as
    AsyncChatLedger's calls do, so no write is still in flight when it reaches the caller."""
    future = asyncio.ensure_future(asyncio.to_thread(call))
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        while not future.done():
            try:
                await asyncio.shield(future)
            except asyncio.CancelledError:
                continue
            except Exception:  # its failure is moot: the caller cancelled
                break
        raise


def _messages_of(items: Sequence[TResponseInputItem]) -> list[Message]:
    """One message per item, but one for a model turn's consecutive function calls (while
    their call ids differ, as one message's must)."""
    groups: list[tuple[int, list[_Item]]] = []
    for index, item in enumerate(items):
        sent = _plain(item, index)
        if sent.get("type") == "function_call" and groups and _joins(sent, groups[-1][1]):
            groups[-1][1].append(sent)
        else:
            groups.append((index, [sent]))
    return [_message_of(group, start) for start, group in groups]


def _joins(call: _Item, group: list[_Item]) -> bool:
    """Whether a function call joins the calls gathered so far in one message."""
    if any(item.get("type") != "function_call" for item in group):
        return False
    return all(item.get("call_id") != call.get("call_id") for item in group)


def _plain(item: object, index: int) -> _Item:
    """A copy of the item as plain JSON data, or InvalidMessage naming it."""
    if not isinstance(item, dict):
        raise InvalidMessage(f"items.{index}", f"must be an object, got {type(item).__name__}")
    try:
        return cast(_Item, json.loads(json.dumps(item, allow_nan=False)))
    except (TypeError, ValueError) as exc:
        raise InvalidMessage(f"items.{index}", f"must be JSON data: {exc}") from None


def _message_of(group: list[_Item], start: int) -> Message:
    try:
        (message,) = messages_from_responses(group)
    except InvalidMessage as exc:
        # The import names the item by its index in the group; the batch's index names it here.
        index, _, rest = exc.field.partition(".")
        if not index.isdigit():
            index, rest = "0", exc.field
        field = f"items.{start + int(index)}" + (f".{rest}" if rest else "")
        raise InvalidMessage(field, exc.problem) from None
    differences = _differences(group, render_responses([message]).payload, [])
    if not differences:
        return message
    fields = {name: getattr(message, name) for name in Message.model_fields}
    return Message(**{**fields, "metadata": {**message.metadata, AS_SENT: differences}})


def _items_of(message: Message) -> list[_Item]:
    """The items a message was recorded from, as they were sent."""
    items = render_responses([message]).payload
    differences = message.metadata.get(AS_SENT)
    if not isinstance(differences, list):
        return items
    return cast(list[_Item], _undone(items, differences))


def _differences(sent: Any, rendered: Any, path: _Path) -> list[Any]:
    """What turns ``rendered`` back into ``sent``: values to set and keys to drop."""
    if isinstance(sent, dict) and isinstance(rendered, dict):
        found: list[Any] = [["drop", [*path, key]] for key in sorted(rendered.keys() - sent)]
        for key, value in sent.items():
            if key in rendered:
                found += _differences(value, rendered[key], [*path, key])
            else:
                found.append(["set", [*path, key], value])
        return found
    if isinstance(sent, list) and isinstance(rendered, list) and len(sent) == len(rendered):
        return [
            difference
            for index, (one, other) in enumerate(zip(sent, rendered, strict=True))
            for difference in _differences(one, other, [*path, index])
        ]
    # JSON tells true from 1 and 1 from 1.0; Python's == does not.
    if type(sent) is type(rendered) and sent == rendered:
        return []
    return [["set", path, sent]]


def _undone(rendered: Any, differences: list[Any]) -> Any:
    """``rendered`` with ``differences`` applied: the data as it was sent."""
    data = copy.deepcopy(rendered)
    for difference in differences:
        kind, path = difference[0], difference[1]
        if not path:
            data = copy.deepcopy(difference[2])
            continue
        parent = data
        for key in path[:-1]:
            parent = parent[key]
        if kind == "drop":
            del parent[path[-1]]
        else:
            parent[path[-1]] = copy.deepcopy(difference[2])
    return data
