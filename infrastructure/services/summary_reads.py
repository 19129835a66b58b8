"""Reading a conversation's summaries from their stream: newest first for views, all for lists."""

from __future__ import annotations

from collections.abc import Iterator

from chatledger.domain import Conversation, Summary, UnreadableEvent
from chatledger.domain.conversation import summary_stream_id
from chatledger.infrastructure.storage.application import LedgerApplication

FIRST_PAGE = 4
"""Summary rows read first for a view: the newest one nearly always helps."""
MAX_PAGE = 256


def summary_events_newest_first(
    app: LedgerApplication,
    conversation_id: str,
    *,
    at: int | None = None,
    upto: int | None = None,
) -> Iterator[Conversation.SummaryRecorded]:
    """The conversation's summary events, newest first, read a page at a time as pulled.

    ``at`` keeps those recorded at a history length of at most ``at``; ``upto`` those
    numbered at most ``upto`` (what a replayed view chose from).
    """
    stream = summary_stream_id(conversation_id)
    lte, page = upto, FIRST_PAGE
    while True:
        rows = app.recorder.select_events(stream, lte=lte, desc=True, limit=page)
        for row in rows:
            event = _summary_event(app, row.originator_id, app.mapper.to_domain_event(row))
            if at is None or event.position <= at:
                yield event
        if len(rows) < page:
            return
        lte = rows[-1].originator_version - 1
        page = min(page * 2, MAX_PAGE)


def summaries_newest_first(
    app: LedgerApplication,
    conversation_id: str,
    *,
    at: int | None = None,
    upto: int | None = None,
) -> Iterator[Summary]:
    """``summary_events_newest_first`` as the summaries callers see."""
    for event in summary_events_newest_first(app, conversation_id, at=at, upto=upto):
        yield Summary.recorded(event)


def summary_events(
    app: LedgerApplication, conversation_id: str
) -> list[Conversation.SummaryRecorded]:
    """Every summary event of the conversation, oldest first."""
    stream = summary_stream_id(conversation_id)
    return [_summary_event(app, stream, event) for event in app.events.get(stream)]


def _summary_event(
    app: LedgerApplication, stream: object, event: object
) -> Conversation.SummaryRecorded:
    if not isinstance(event, Conversation.SummaryRecorded):
        raise UnreadableEvent(
            f"the summary stream {stream!r} holds a {type(event).__name__} event, which only "
            "a conversation's own stream may hold"
        )
    return event
