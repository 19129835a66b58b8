"""Reading a conversation's memory changes from their stream: what a view applies, and lists."""

from __future__ import annotations

from collections.abc import Iterator

from chatledger.domain import ChangesInForce, Conversation, MemoryChange, UnreadableEvent
from chatledger.domain.conversation import memory_stream_id
from chatledger.domain.memory_changes import MemoryChangeEvent
from chatledger.infrastructure.storage.application import LedgerApplication

FIRST_PAGE, MAX_PAGE = 8, 1024
"""Change rows read first when walking back from the newest, and the most read at once."""


def change_events_newest_first(
    app: LedgerApplication, conversation_id: str, *, upto: int | None = None
) -> Iterator[MemoryChangeEvent]:
    """The conversation's memory change events, newest first (numbered at most ``upto``)."""
    stream = memory_stream_id(conversation_id)
    lte, page = upto, FIRST_PAGE
    while True:
        rows = app.recorder.select_events(stream, lte=lte, desc=True, limit=page)
        for row in rows:
            yield change_event(stream, app.mapper.to_domain_event(row))
        if len(rows) < page:
            return
        lte = rows[-1].originator_version - 1
        page = min(page * 2, MAX_PAGE)


def changes_in_force(
    app: LedgerApplication,
    conversation_id: str,
    *,
    at: int | None = None,
    upto: int | None = None,
) -> ChangesInForce:
    """What a view at ``at`` (the head if None) applies, of changes numbered at most ``upto``.

    Reads back from the newest change only as far as the newest clear: one short query for a
    conversation that never had one.
    """
    if upto == 0:
        return ChangesInForce()
    applying: list[MemoryChangeEvent] = []
    for event in change_events_newest_first(app, conversation_id, upto=upto):
        if at is not None and event.position > at:
            continue  # recorded after the view's point in time
        applying.append(event)
        if isinstance(event, Conversation.MemoryCleared):
            break
    return ChangesInForce.of(MemoryChange.recorded(event) for event in reversed(applying))


def change_event(stream: object, event: object) -> MemoryChangeEvent:
    """``event``, read from ``stream``, if it is a memory change; else UnreadableEvent."""
    if not isinstance(event, Conversation.MemoryCleared | Conversation.Retracted):
        raise UnreadableEvent(
            f"the memory stream {stream!r} holds a {type(event).__name__} event, which only "
            "a conversation's own stream may hold"
        )
    return event
