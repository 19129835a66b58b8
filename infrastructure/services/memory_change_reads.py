"""Reading a conversation's memory changes from their stream: what a view applies, and lists."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from chatledger.domain import ChangesInForce, Conversation, MemoryChange, UnreadableEvent
from chatledger.domain.conversation import memory_stream_id
from chatledger.domain.memory_changes import MemoryChangeEvent
from chatledger.infrastructure.services.lineage import Lineage
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
    lineage: Lineage | None = None,
) -> ChangesInForce:
    """What a view at ``at`` (the head if None) applies, of changes numbered at most ``upto``.

    Reads back from the newest change only as far as the newest clear: one short query for a
    conversation that never had one. A branch also applies, to its shared prefix, every change
    its parent had made when it was forked (``Conversation.Forked.changes``), unless one of
    its own clears them: what was retracted or cleared stays so on every branch.
    """
    own = _applying(app, conversation_id, at, upto)
    number = max((change.number for change in own), default=0)
    inherited: list[MemoryChange] = []
    cleared = any(change.kind == "cleared" for change in own)
    fork = lineage.fork_of(conversation_id) if lineage is not None and not cleared else None
    if fork is not None and fork.changes:
        inherited = _inherited(app, fork, lineage, at)
    folded = ChangesInForce.of([*inherited, *own])
    return dataclasses.replace(folded, number=number)


def _applying(
    app: LedgerApplication, conversation_id: str, at: int | None, upto: int | None
) -> list[MemoryChange]:
    """The changes of the conversation's own stream a view at ``at`` applies, oldest first."""
    if upto == 0:
        return []
    applying: list[MemoryChange] = []
    for event in change_events_newest_first(app, conversation_id, upto=upto):
        if at is not None and event.position > at:
            continue  # recorded after the view's point in time
        applying.append(MemoryChange.recorded(event))
        if isinstance(event, Conversation.MemoryCleared):
            break
    return applying[::-1]


def inherited_changes(
    app: LedgerApplication, fork: Conversation.Forked, lineage: Lineage | None
) -> list[MemoryChange]:
    """The changes a branch applies from its parent, oldest first (see ``changes_in_force``)."""
    return _inherited(app, fork, lineage, None)


def _inherited(
    app: LedgerApplication, fork: Conversation.Forked, lineage: Lineage | None, at: int | None
) -> list[MemoryChange]:
    """The changes a branch applies to its prefix: its parent's when it was forked (and what
    they inherited in turn), each clipped to the fork point. A view of the branch at a point
    within the prefix applies them as the parent's view there does: only those made by then."""
    within = at if at is not None and at <= fork.fork_point else None
    changes = _applying(app, fork.parent, within, fork.changes)
    parent = None if lineage is None else lineage.fork_of(fork.parent)
    cleared = any(change.kind == "cleared" for change in changes)
    if parent is not None and parent.changes and not cleared:
        changes = [*_inherited(app, parent, lineage, within), *changes]
    clipped: list[MemoryChange] = []
    for change in changes:
        if change.kind == "cleared":
            # The parent's summaries are its own: the branch's are numbered afresh.
            update = {"position": min(change.position, fork.fork_point), "summaries": 0}
            clipped.append(change.model_copy(update=update))
        elif change.target is not None and change.target <= fork.fork_point:
            clipped.append(change)
    return clipped


def change_event(stream: object, event: object) -> MemoryChangeEvent:
    """``event``, read from ``stream``, if it is a memory change; else UnreadableEvent."""
    if not isinstance(event, Conversation.MemoryCleared | Conversation.Retracted):
        raise UnreadableEvent(
            f"the memory stream {stream!r} holds a {type(event).__name__} event, which only "
            "a conversation's own stream may hold"
        )
    return event
