"""Reading: history pages and memory views, straight from the store, reading only what they need."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import nullcontext
from itertools import chain, takewhile

from eventsourcing.persistence import StoredEvent

from chatledger.domain import (
    Conversation,
    ConversationErased,
    InvalidInput,
    Summary,
    SummaryWindow,
    TokenCounter,
    UnreadableEvent,
    check_conversation_id,
    check_count,
)
from chatledger.domain.conversation import STARTED_VERSION
from chatledger.infrastructure.services.lineage import Lineage, Segment
from chatledger.infrastructure.services.memory_change_reads import changes_in_force
from chatledger.infrastructure.services.summary_reads import summaries_newest_first
from chatledger.infrastructure.storage.application import LedgerApplication
from chatledger.infrastructure.storage.collector import collector_paused
from chatledger.infrastructure.storage.read_ahead import read_ahead
from chatledger.infrastructure.storage.serialization import history_entry
from chatledger.infrastructure.storage.topics import topics_naming
from chatledger.projections import HistoryEntry, HistoryView, MemoryView, Policy
from chatledger.projections.memory import build_memory
from chatledger.projections.summaries import build_summary_memory

FIRST_TOKEN_PAGE = 64
"""Rows read first for a token window; later pages are sized from the tokens seen."""
MAX_PAGE = 4096
LONG_READ_ROWS = 500
"""History reads that may return more rows than this may pause the cyclic garbage collector."""
_ERASED_TOPICS = topics_naming(Conversation.Erased)
_FORKED_TOPICS = topics_naming(Conversation.Forked)
READ_AHEAD_ROWS = 4096
"""Reads of more rows than this fetch pages ahead of decoding them, where the backend does."""


class Reading:
    """History and memory views of conversations in one store."""

    def __init__(
        self,
        app: LedgerApplication,
        *,
        request_overhead: int,
        pause_collector: bool = False,
        counter: TokenCounter | None = None,
    ) -> None:
        self._app = app
        self._request_overhead = request_overhead
        # Prices a summary a SummaryWindow renders other than the default way.
        self._count = None if counter is None else counter.count
        self._pause_collector = pause_collector
        self._reads_ahead = app.backend.reads_ahead
        self.lineage = Lineage(app)

    def version(self, conversation_id: str) -> int:
        """How many messages the conversation holds (0 if it was never recorded)."""
        check_conversation_id(conversation_id)
        return self.head(conversation_id)

    def history(
        self,
        conversation_id: str,
        *,
        after: int | None = None,
        before: int | None = None,
        limit: int | None = None,
        at: int | None = None,
    ) -> HistoryView:
        """Entries with after < position < before, oldest first.

        With ``limit`` and no ``after``: the newest ``limit`` of them (scroll-back);
        with ``after``: the oldest ``limit`` (following the conversation).
        ``at`` shows the history as it was right after position ``at`` was recorded.
        """
        check_conversation_id(conversation_id)
        for field, value in (("after", after), ("before", before), ("at", at)):
            _check_position(field, value)
        if limit is not None:
            check_count("limit", limit, minimum=1)
        # The newest page tells the length itself when it is not empty: one query, not two.
        newest = limit is not None and after is None
        length = None if newest and before is None and at is None else self.head(conversation_id)
        if at is not None:
            assert length is not None
            _check_at(at, length)
            length = at
            before = at + 1 if before is None else min(before, at + 1)
        gt = (after or 0) + STARTED_VERSION
        lte = None if before is None else before - 1 + STARTED_VERSION
        if lte is not None and lte <= gt:
            entries: list[HistoryEntry] = []
        else:
            # A long read may pause the cyclic collector, if the application asked for it.
            long_read = self._pause_collector and (limit is None or limit > LONG_READ_ROWS)
            with collector_paused() if long_read else nullcontext():
                entries = self._entries(conversation_id, gt, lte, newest, limit, length)
            if newest:
                entries.reverse()
        if length is None:
            length = entries[-1].position if entries else self.head(conversation_id)
        return HistoryView(conversation_id=conversation_id, entries=tuple(entries), length=length)

    def memory(
        self,
        conversation_id: str,
        policy: Policy,
        *,
        at: int | None = None,
        summaries_upto: int | None = None,
        changes_upto: int | None = None,
    ) -> MemoryView:
        """The messages to send to the model next, under ``policy``, as of ``at`` if given.

        Reads only the newest events the window needs, never the whole conversation. A
        ``SummaryWindow`` chooses among summaries numbered at most ``summaries_upto``, if given;
        memory changes numbered at most ``changes_upto`` apply, if given (what a replay needs).
        """
        check_conversation_id(conversation_id)
        _check_position("at", at)
        _check_budget(policy)
        upper = None if at is None else at + STARTED_VERSION
        head, entries = self._newest_first(conversation_id, upper, policy)
        if head is None:
            if at:
                _check_at(at, 0)
            return build_memory(iter(()), None, policy, self._request_overhead, 0)
        if at is not None and head.position < at:
            _check_at(at, head.position)
        if head.erased:
            if head.originator_id == conversation_id:
                raise ConversationErased(conversation_id)
            # A branch whose shared prefix was erased with its parent: none of it is shown.
            return build_memory(iter(()), None, policy, self._request_overhead, head.position)
        system_prompt = None
        if head.system_position is not None:
            system_prompt = (
                history_entry(head)
                if head.system_position == head.position
                else self.entry_at(conversation_id, head.system_position, {})
            )
            if system_prompt.erased:
                system_prompt = None  # the prompt was in a prefix erased with its parent

        def walk() -> Iterator[HistoryEntry]:
            yield history_entry(head)
            yield from entries

        changes = changes_in_force(
            self._app, conversation_id, at=at, upto=changes_upto, lineage=self.lineage
        )

        if isinstance(policy, SummaryWindow):
            summaries: Iterator[Summary] = summaries_newest_first(
                self._app, conversation_id, at=at, upto=summaries_upto
            )
            if self.prefix_erased(conversation_id):
                # A branch's summaries stand for its prefix too, which is gone with its parent.
                summaries = iter(())
            return build_summary_memory(
                walk(),
                system_prompt,
                summaries,
                policy,
                self._request_overhead,
                head.position,
                self._count,
                changes,
            )
        return build_memory(
            walk(), system_prompt, policy, self._request_overhead, head.position, changes
        )

    def _entries(
        self,
        conversation_id: str,
        gt: int,
        lte: int | None,
        newest: bool,
        limit: int | None,
        length: int | None,
    ) -> list[HistoryEntry]:
        """The entries of versions in (gt, lte], at most ``limit``, newest first if ``newest``;
        a branch's from each segment of its lineage in turn, reading only what it needs."""
        segments = self.lineage.segments(conversation_id)
        if len(segments) == 1:
            return self._own_entries(conversation_id, gt, lte, newest, limit, length)
        low = gt - STARTED_VERSION
        high = None if lte is None else lte - STARTED_VERSION
        if length is not None:
            high = length if high is None else min(high, length)
        collected: list[HistoryEntry] = []
        for segment in segments if newest else reversed(segments):
            start, end = max(low, segment.after), _lowest(high, segment.upto)
            if end is not None and end <= start:
                continue
            remaining = None if limit is None else limit - len(collected)
            collected += self._own_entries(
                segment.conversation_id,
                start + STARTED_VERSION,
                None if end is None else end + STARTED_VERSION,
                newest,
                remaining,
                end,
            )
            if limit is not None and len(collected) >= limit:
                break
        return collected

    def _own_entries(
        self,
        conversation_id: str,
        gt: int,
        lte: int | None,
        newest: bool,
        limit: int | None,
        length: int | None,
    ) -> list[HistoryEntry]:
        """The entries of one stream's versions in (gt, lte], as ``_entries`` gives them."""
        if not newest and length is not None:
            # Stop at the length the view reports, whatever was appended since it was read.
            top = length + STARTED_VERSION
            lte = top if lte is None else min(lte, top)
            count = lte - gt if limit is None else min(lte - gt, limit)
            if self._reads_ahead and count > READ_AHEAD_ROWS:
                # The range has no holes, so it splits into exact pages.
                entries: list[HistoryEntry] = []
                decode = self._app.pydantic_mapper.history_reader(conversation_id)
                for page in read_ahead(
                    lambda low, high: self._app.recorder.select_events(
                        conversation_id, gt=low, lte=high
                    ),
                    gt,
                    gt + count,
                ):
                    entries += decode(page)
                return entries
        rows = self._app.recorder.select_events(
            conversation_id, gt=gt, lte=lte, desc=newest, limit=limit
        )
        if newest and rows and self._app.ended(rows[0]) and limit is not None:
            # The newest row ends the stream and holds no message: read one row further.
            rows = self._app.recorder.select_events(
                conversation_id, gt=gt, lte=lte, desc=True, limit=limit + 1
            )[1:]
        return self._app.pydantic_mapper.to_history_entries(rows)

    def head(self, conversation_id: str) -> int:
        """The conversation's newest position, 0 if it has none; the id is not checked.

        An erased conversation's key is forgotten here at once, whatever this process had
        cached: every read that reports a length asks this first.
        """
        row = self._app.tail(conversation_id)
        if row is None:
            return 0
        position = row.originator_version - STARTED_VERSION
        if row.topic in _FORKED_TOPICS:
            fork = self.lineage.fork_of(conversation_id)
            return fork.fork_point if fork is not None else 0
        return position - 1 if row.topic in _ERASED_TOPICS else position

    def _event_at(self, conversation_id: str, position: int) -> Conversation.MessageRecorded | None:
        version = position + STARTED_VERSION
        events = list(self._app.events.get(conversation_id, gt=version - 1, lte=version))
        if events and isinstance(events[0], Conversation.MessageRecorded):
            return events[0]
        return None

    def prefix_erased(self, conversation_id: str) -> bool:
        """Whether any ancestor the branch shares messages with was erased (False for a
        conversation begun afresh): asked of each ancestor's key, as a read opens it."""
        for segment in self.lineage.segments(conversation_id)[1:]:
            if segment.upto is not None and segment.upto <= segment.after:
                continue  # shares nothing of this one
            try:
                self._app.keys.key(segment.conversation_id)
            except ConversationErased:
                return True
        return False

    def message_event(self, conversation_id: str, position: int) -> Conversation.MessageRecorded:
        """The whole event of the conversation's message at ``position``, wherever in its
        lineage it is stored; UnreadableEvent if there is none."""
        owner = self.lineage.owner(conversation_id, position)
        event = self._event_at(owner, position)
        if event is None:
            raise UnreadableEvent(
                f"conversation {conversation_id!r} has no message at position {position}, "
                "though its length says it does"
            )
        return event

    def newest_first(self, conversation_id: str) -> Iterator[HistoryEntry]:
        """Every entry of the conversation from the newest back, through its lineage, read in
        growing pages as pulled."""
        mapper = self._app.pydantic_mapper
        for segment in self.lineage.segments(conversation_id):
            read = mapper.history_reader(segment.conversation_id)
            gt = segment.after + STARTED_VERSION
            lte = None if segment.upto is None else segment.upto + STARTED_VERSION
            page = FIRST_TOKEN_PAGE
            while True:
                rows = self._app.recorder.select_events(
                    segment.conversation_id, gt=gt, lte=lte, desc=True, limit=page
                )
                yield from read(rows)
                if len(rows) < page:
                    break
                lte = rows[-1].originator_version - 1
                page = min(page * 2, MAX_PAGE)

    def entry_at(
        self,
        conversation_id: str,
        position: int,
        known: dict[int, HistoryEntry],
    ) -> HistoryEntry:
        """The entry at ``position``, from ``known`` if it is there, else from the store,
        wherever in the conversation's lineage it is."""
        if position in known:
            return known[position]
        # An ancestor's erasure is noticed through its key, as KEY_CACHE_SECONDS bounds.
        owner = self.lineage.owner(conversation_id, position)
        event = self._event_at(owner, position)
        if event is None:
            raise UnreadableEvent(
                f"conversation {conversation_id!r} has no message at position {position}, "
                "though its other events refer to one"
            )
        return history_entry(event)

    def _newest_first(
        self, conversation_id: str, upper: int | None, policy: Policy
    ) -> tuple[Conversation.MessageRecorded | None, Iterator[HistoryEntry]]:
        """The newest message event (whole), and the entries before it, newest first.

        Only the newest event is decoded whole (its system-prompt position and erasure flag
        matter); the rest decode straight to entries, in pages sized to what the window
        still needs, and only as far as the walk goes. A branch's walk goes on into each
        segment of its lineage in turn, and stops at a prefix erased with its parent.
        """
        segments = self.lineage.segments(conversation_id)
        if len(segments) == 1:
            return self._stream_newest_first(conversation_id, upper, policy)
        head: Conversation.MessageRecorded | None = None
        walks: list[Iterator[HistoryEntry]] = []
        seen = _Seen()  # what the walk has read so far, across segments: sizes the next page
        for segment in segments:
            top = _lowest(upper, None if segment.upto is None else segment.upto + STARTED_VERSION)
            bottom = segment.after + STARTED_VERSION
            if top is not None and top <= bottom:
                continue
            if head is None:
                head, walk = self._stream_newest_first(
                    segment.conversation_id,
                    top,
                    policy,
                    gt=bottom,
                    own=segment is segments[0],
                    seen=seen,
                )
                if head is None:
                    continue
                walks.append(walk)
            else:
                walks.append(self._stream_entries(segment, top, policy, seen))
        return head, takewhile(lambda entry: not entry.erased, chain.from_iterable(walks))

    def _stream_entries(
        self, segment: Segment, top: int | None, policy: Policy, seen: _Seen
    ) -> Iterator[HistoryEntry]:
        """Every entry of one segment at or below version ``top``, newest first, paged; the
        first page sized from what the walk read before it, but from one to two of a stream's
        first pages (a branch's own messages may be shorter or longer than its parent's, so
        their average alone would overshoot or fall short, each costing a round trip)."""
        first = _first_page_size(policy)
        page_size = min(
            2 * first, max(first, _next_page_size(policy, first, seen.messages, seen.tokens))
        )
        bottom = segment.after + STARTED_VERSION
        rows = self._app.recorder.select_events(
            segment.conversation_id, gt=bottom, lte=top, desc=True, limit=page_size
        )
        yield from self._entries_before(
            segment.conversation_id, rows, page_size, policy, 0, skip=0, gt=bottom, seen=seen
        )

    def _stream_newest_first(
        self,
        conversation_id: str,
        upper: int | None,
        policy: Policy,
        *,
        gt: int | None = None,
        own: bool = True,
        seen: _Seen | None = None,
    ) -> tuple[Conversation.MessageRecorded | None, Iterator[HistoryEntry]]:
        """``_newest_first`` within one stream, above version ``gt``; ``own`` when the stream
        is the conversation asked about (else an ancestor, whose erasure raises nothing)."""
        page_size = _first_page_size(policy)
        rows = self._app.recorder.select_events(
            conversation_id, gt=gt, lte=upper, desc=True, limit=page_size
        )
        if not rows:
            return None, iter(())
        # An ancestor's tail was asked already, and its erasure raises nothing here.
        if own and upper is not None:
            self.head(conversation_id)  # a view of the past is still no view of erased text
        elif own and self._app.ended(rows[0]):
            raise ConversationErased(conversation_id)
        head = self._app.mapper.to_domain_event(rows[0])
        if not isinstance(head, Conversation.MessageRecorded):
            return None, iter(())  # only the Started (or Forked) event is there
        if seen is not None:
            seen.add(head.tokens)
        walk = self._entries_before(
            conversation_id, rows, page_size, policy, head.tokens, gt=gt, seen=seen
        )
        return head, walk

    def _entries_before(
        self,
        conversation_id: str,
        rows: Sequence[StoredEvent],
        page_size: int,
        policy: Policy,
        tokens: int,
        *,
        skip: int = 1,
        gt: int | None = None,
        seen: _Seen | None = None,
    ) -> Iterator[HistoryEntry]:
        mapper = self._app.pydantic_mapper
        opener = mapper.opener(conversation_id)  # the key, looked up once for the walk
        messages = skip
        if seen is not None:
            messages, tokens = seen.messages, seen.tokens
        while True:
            for row in rows[skip:]:
                entry = mapper.to_history_entry(row, opener)
                if entry is not None:
                    messages += 1
                    tokens += entry.tokens
                    if seen is not None:
                        seen.add(entry.tokens)
                    yield entry
            if len(rows) < page_size:
                return
            lte = rows[-1].originator_version - 1
            page_size = _next_page_size(policy, page_size, messages, tokens)
            rows = self._app.recorder.select_events(
                conversation_id, gt=gt, lte=lte, desc=True, limit=page_size
            )
            skip = 0


class _Seen:
    """Messages and tokens a walk through a branch's segments has read so far."""

    def __init__(self) -> None:
        self.messages = 0
        self.tokens = 0

    def add(self, tokens: int) -> None:
        self.messages += 1
        self.tokens += tokens


def _lowest(value: int | None, bound: int | None) -> int | None:
    """The lower of two upper bounds, either of which may be None (no bound)."""
    if value is None:
        return bound
    return value if bound is None else min(value, bound)


def _first_page_size(policy: Policy) -> int:
    if policy.kind == "message_window":
        return policy.max_messages + 8
    return FIRST_TOKEN_PAGE


def _next_page_size(policy: Policy, page_size: int, messages: int, tokens: int) -> int:
    """Rows to fetch next: enough for the budget left at the sizes seen so far, plus slack.

    Every row fetched costs (see the benchmark results), so a page sized
    from the messages already read beats both a fixed page and a generous first page. Runs
    of skipped messages (orphans, unanswered calls) are rare and read on in doubling pages.
    """
    if policy.kind != "message_window" and messages and tokens < policy.max_tokens:
        average = max(tokens / messages, 1.0)
        wanted = int((policy.max_tokens - tokens) / average * 1.25) + 8
        return min(max(wanted, 16), MAX_PAGE)
    return min(page_size * 2, MAX_PAGE)


def _check_position(field: str, value: int | None) -> None:
    if value is not None:
        check_count(field, value)


def _check_budget(policy: Policy) -> None:
    """A window's budget is bounded too: a message window's becomes the rows a read asks for."""
    if policy.kind == "message_window":
        check_count("max_messages", policy.max_messages, minimum=1)
    else:
        check_count("max_tokens", policy.max_tokens, minimum=1)


def _check_at(at: int, length: int) -> None:
    if at > length:
        raise InvalidInput(
            "at", f"position {at} is past the end of the history ({length} messages)"
        )
