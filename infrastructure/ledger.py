"""ChatLedger: record messages as events; read history and memory views straight from the store."""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import nullcontext
from datetime import datetime, timedelta
from types import TracebackType
from typing import Self, cast, overload

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import DatabaseError, IntegrityError, StoredEvent

from chatledger.domain import (
    DEFAULT_MAX_CONTENT_BYTES,
    ConcurrencyConflict,
    Conversation,
    DomainEvent,
    IdempotencyConflict,
    InvalidInput,
    InvalidMessage,
    Message,
    MessageKey,
    TokenCounter,
    check_conversation_id,
    project_conversation,
)
from chatledger.domain.audit import Usage
from chatledger.infrastructure.services import audit, verification
from chatledger.infrastructure.storage.application import LedgerApplication
from chatledger.infrastructure.storage.collector import collector_paused
from chatledger.infrastructure.storage.keys import ConversationErased, ConversationRecord
from chatledger.infrastructure.storage.read_ahead import read_ahead
from chatledger.infrastructure.storage.serialization import history_entry
from chatledger.infrastructure.storage.settings import StorageSettings
from chatledger.projections import HistoryEntry, HistoryView, MemoryView, Policy
from chatledger.projections.memory import build_memory

STARTED_VERSION = 1
FIRST_TOKEN_PAGE = 64
"""Rows read first for a token window; later pages are sized from the tokens seen."""
MAX_PAGE = 4096
MAX_WRITE_ATTEMPTS = 200
"""Retries of a write that lost a race; each retry re-reads only what the winner wrote."""
LONG_READ_ROWS = 500
"""History reads that may return more rows than this pause the cyclic garbage collector."""
READ_AHEAD_ROWS = 4096
"""PostgreSQL history reads of more rows than this fetch pages ahead of decoding them.

Only PostgreSQL: its reads wait on the server with the interpreter lock released. A SQLite
read is the process's own work, and reading ahead measured no faster on a whole-history read
(see the benchmark results).
"""


class ChatLedger:
    """A conversation store: every message an immutable event, every view a projection."""

    def __init__(
        self,
        app: LedgerApplication,
        token_counter: TokenCounter,
        *,
        backend: str,
        max_content_bytes: int = DEFAULT_MAX_CONTENT_BYTES,
    ) -> None:
        self._app = app
        self._counter = token_counter
        self._max_content_bytes = max_content_bytes
        self.backend = backend

    @classmethod
    def open(
        cls,
        url: str,
        token_counter: TokenCounter | None = None,
        *,
        max_content_bytes: int = DEFAULT_MAX_CONTENT_BYTES,
    ) -> ChatLedger:
        """Open the ledger at ``url``: ``memory://``, ``sqlite:///file.db`` or ``postgresql://...``.

        Without a token counter, tiktoken's cl100k_base is loaded from local files.
        """
        settings = StorageSettings.from_url(url)
        if token_counter is None:
            from chatledger.infrastructure.tokens import default_token_counter

            token_counter = default_token_counter()
        if max_content_bytes < 1:
            raise InvalidInput("max_content_bytes", f"must be at least 1, got {max_content_bytes}")
        app = _construct(settings)
        return cls(
            app, token_counter, backend=settings.backend, max_content_bytes=max_content_bytes
        )

    @property
    def token_counter(self) -> TokenCounter:
        """The counter that prices every message at record time."""
        return self._counter

    @property
    def application(self) -> LedgerApplication:
        """The underlying eventsourcing application (for tools that read raw events)."""
        return self._app

    def close(self) -> None:
        """Release database connections."""
        self._app.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # Writing

    @overload
    def record(
        self, conversation_id: str, messages: Message, *, expected_version: int | None = None
    ) -> HistoryEntry: ...

    @overload
    def record(
        self,
        conversation_id: str,
        messages: Sequence[Message],
        *,
        expected_version: int | None = None,
    ) -> tuple[HistoryEntry, ...]: ...

    def record(
        self,
        conversation_id: str,
        messages: Message | Sequence[Message],
        *,
        expected_version: int | None = None,
    ) -> HistoryEntry | tuple[HistoryEntry, ...]:
        """Record one message, or a list of them as one atomic save; return their entries.

        A message whose id is already recorded returns its original entry and records nothing.
        A system message repeating the current system prompt returns the prompt's entry.
        With ``expected_version`` (the conversation's message count the caller last saw),
        raise ConcurrencyConflict if another writer got there first.
        """
        check_conversation_id(conversation_id)
        batch = self._validated(messages)
        if expected_version is not None and (
            not isinstance(expected_version, int) or expected_version < 0
        ):
            raise InvalidInput(
                "expected_version", f"must be an integer >= 0, got {expected_version!r}"
            )
        entries = self._record_batch(conversation_id, batch, expected_version)
        return entries[0] if isinstance(messages, Message) else entries

    def _validated(self, messages: Message | Sequence[Message]) -> list[Message]:
        if isinstance(messages, Message):
            batch = [messages]
        elif isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence):
            raise InvalidMessage("messages", "must be a Message or a list of Messages")
        else:
            batch = list(messages)
        if not batch:
            raise InvalidMessage("messages", "must not be empty")
        by_id: dict[str, Message] = {}
        for index, message in enumerate(batch):
            if not isinstance(message, Message):
                raise InvalidMessage(
                    f"messages.{index}", f"is a {type(message).__name__}, not a Message"
                )
            message.check_size(self._max_content_bytes)
            earlier = by_id.setdefault(message.id, message)
            if earlier is not message and earlier.digest() != message.digest():
                raise InvalidMessage(
                    f"messages.{index}.id",
                    f"{message.id!r} is used twice in this batch for different messages",
                )
        return batch

    def _record_batch(
        self, conversation_id: str, batch: list[Message], expected_version: int | None
    ) -> tuple[HistoryEntry, ...]:
        tokens = {message.id: self._counter.count(message) for message in batch}
        resolved: dict[str, HistoryEntry] = {}  # message id -> entry recorded earlier
        # Whether a system message changes the prompt cannot be told from a stale state (no
        # clash would reveal it), so such batches always read the newest state.
        fresh_state = any(message.role == "system" for message in batch)
        for attempt in range(MAX_WRITE_ATTEMPTS):
            state = self._load(conversation_id, fresh=fresh_state)
            version = state.message_count if state else 0
            if expected_version is not None and version != expected_version and not fresh_state:
                fresh_state = True
                state = self._load(conversation_id, fresh=True)
                version = state.message_count if state else 0
            if expected_version is not None and version != expected_version:
                replayed = self._replayed(conversation_id, batch)
                if replayed is not None:
                    return replayed
                raise ConcurrencyConflict(conversation_id, expected_version, version)
            events: list[DomainEvent] = []
            if state is None:
                started = Conversation.start(conversation_id)
                events.append(started)
                state = cast(Conversation, project_conversation(None, [started]))
            recorded: dict[int, HistoryEntry] = {}
            outcome: dict[str, int] = {}  # message id -> position of its entry
            for message in batch:
                if message.id in resolved or message.id in outcome:
                    continue
                event = state.record(message, tokens=tokens[message.id], counter=self._counter.name)
                if event is None:
                    outcome[message.id] = cast(int, state.system_position)
                    continue
                events += [
                    event,
                    MessageKey.claim(conversation_id, message, event.position, digest=event.digest),
                ]
                state = state.apply(event)
                outcome[message.id] = event.position
                recorded[event.position] = history_entry(event)
            try:
                if events:
                    self._app.record(state, events)
            except IntegrityError:
                fresh_state = True
                if self._resolve_claims(conversation_id, batch, resolved):
                    continue
                if expected_version is not None:
                    raise ConcurrencyConflict(
                        conversation_id, expected_version, self.version(conversation_id)
                    ) from None
                # Lost a race with another writer: back off a little, then retry on fresh state.
                time.sleep(random.uniform(0, min(0.05, 0.001 * 2**attempt)))
                continue
            return tuple(
                resolved[m.id]
                if m.id in resolved
                else self._entry_at(conversation_id, outcome[m.id], recorded)
                for m in batch
            )
        raise ConcurrencyConflict(
            conversation_id, expected_version or 0, self.version(conversation_id)
        )

    def _load(self, conversation_id: str, *, fresh: bool) -> Conversation | None:
        """The conversation's state from this process's cache; ``fresh`` reads what is newer."""
        try:
            state: Conversation = self._app.repository.get(
                conversation_id, projector_func=project_conversation
            )
        except AggregateNotFoundError:
            return None
        if fresh:
            newer = cast(
                list[DomainEvent], list(self._app.events.get(conversation_id, gt=state.version))
            )
            if newer:
                state = cast(Conversation, project_conversation(state, newer))
                cache = self._app.repository.cache
                if cache is not None:
                    cache.put(conversation_id, state)
        return state

    def _claim(self, conversation_id: str, message_id: str) -> MessageKey.Claimed | None:
        events = list(self._app.events.get(MessageKey.id_for(conversation_id, message_id), limit=1))
        return cast(MessageKey.Claimed, events[0]) if events else None

    def _resolve_claims(
        self, conversation_id: str, batch: list[Message], resolved: dict[str, HistoryEntry]
    ) -> bool:
        """After a clash, find the batch's messages recorded meanwhile; True if any were."""
        found = False
        for message in batch:
            if message.id in resolved:
                continue
            claim = self._claim(conversation_id, message.id)
            if claim is None:
                continue
            if claim.digest != message.digest():
                raise IdempotencyConflict(conversation_id, message.id, claim.position)
            resolved[message.id] = self._entry_at(conversation_id, claim.position, {})
            found = True
        return found

    def _replayed(
        self, conversation_id: str, batch: list[Message]
    ) -> tuple[HistoryEntry, ...] | None:
        """The original entries if every message of the batch was recorded before (a retry)."""
        resolved: dict[str, HistoryEntry] = {}
        self._resolve_claims(conversation_id, batch, resolved)
        if all(message.id in resolved for message in batch):
            return tuple(resolved[message.id] for message in batch)
        return None

    # Reading

    def version(self, conversation_id: str) -> int:
        """How many messages the conversation holds (0 if it was never recorded)."""
        check_conversation_id(conversation_id)
        return self._head(conversation_id)

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
        if limit is not None and (
            not isinstance(limit, int) or isinstance(limit, bool) or limit < 1
        ):
            raise InvalidInput("limit", f"must be an integer >= 1, got {limit!r}")
        # The newest page tells the length itself when it is not empty: one query, not two.
        newest = limit is not None and after is None
        length = None if newest and before is None and at is None else self._head(conversation_id)
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
            # A long read pauses the cyclic collector: see storage.collector.
            long_read = limit is None or limit > LONG_READ_ROWS
            with collector_paused() if long_read else nullcontext():
                entries = self._entries(conversation_id, gt, lte, newest, limit, length)
            if newest:
                entries.reverse()
        if length is None:
            length = entries[-1].position if entries else self._head(conversation_id)
        return HistoryView(conversation_id=conversation_id, entries=tuple(entries), length=length)

    def memory(self, conversation_id: str, policy: Policy, *, at: int | None = None) -> MemoryView:
        """The messages to send to the model next, under ``policy``, as of ``at`` if given.

        Reads only the newest events the window needs, never the whole conversation.
        """
        check_conversation_id(conversation_id)
        _check_position("at", at)
        upper = None if at is None else at + STARTED_VERSION
        head, entries = self._newest_first(conversation_id, upper, policy)
        if head is None:
            if at:
                _check_at(at, 0)
            return build_memory(iter(()), None, policy, self._counter.request_overhead, 0)
        if at is not None and head.position < at:
            _check_at(at, head.position)
        if head.erased:
            raise ConversationErased(conversation_id)
        system_prompt = None
        if head.system_position is not None:
            system_prompt = (
                history_entry(head)
                if head.system_position == head.position
                else self._entry_at(conversation_id, head.system_position, {})
            )

        def walk() -> Iterator[HistoryEntry]:
            yield history_entry(head)
            yield from entries

        return build_memory(
            walk(), system_prompt, policy, self._counter.request_overhead, head.position
        )

    # Reading helpers

    def _entries(
        self,
        conversation_id: str,
        gt: int,
        lte: int | None,
        newest: bool,
        limit: int | None,
        length: int | None,
    ) -> list[HistoryEntry]:
        """The entries of versions in (gt, lte], at most ``limit``, newest first if ``newest``."""
        if not newest and length is not None:
            # Stop at the length the view reports, whatever was appended since it was read.
            top = length + STARTED_VERSION
            lte = top if lte is None else min(lte, top)
            count = lte - gt if limit is None else min(lte - gt, limit)
            if self.backend == "postgresql" and count > READ_AHEAD_ROWS:
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
        return self._app.pydantic_mapper.to_history_entries(rows)

    def _head(self, conversation_id: str) -> int:
        events = list(self._app.events.get(conversation_id, desc=True, limit=1))
        return events[0].originator_version - STARTED_VERSION if events else 0

    def _event_at(self, conversation_id: str, position: int) -> Conversation.MessageRecorded | None:
        version = position + STARTED_VERSION
        events = list(self._app.events.get(conversation_id, gt=version - 1, lte=version))
        if events and isinstance(events[0], Conversation.MessageRecorded):
            return events[0]
        return None

    def _entry_at(
        self, conversation_id: str, position: int, known: dict[int, HistoryEntry]
    ) -> HistoryEntry:
        if position in known:
            return known[position]
        event = self._event_at(conversation_id, position)
        if event is None:
            raise LookupError(f"conversation {conversation_id!r} has no message at {position}")
        return history_entry(event)

    def _newest_first(
        self, conversation_id: str, upper: int | None, policy: Policy
    ) -> tuple[Conversation.MessageRecorded | None, Iterator[HistoryEntry]]:
        """The newest message event (whole), and the entries before it, newest first.

        Only the newest event is decoded whole (its system-prompt position and erasure flag
        matter); the rest decode straight to entries, in pages sized to what the window
        still needs, and only as far as the walk goes.
        """
        page_size = _first_page_size(policy)
        rows = self._app.recorder.select_events(
            conversation_id, lte=upper, desc=True, limit=page_size
        )
        if not rows:
            return None, iter(())
        head = self._app.mapper.to_domain_event(rows[0])
        if not isinstance(head, Conversation.MessageRecorded):
            return None, iter(())  # only the Started event is there
        return head, self._entries_before(conversation_id, rows, page_size, policy, head.tokens)

    def _entries_before(
        self,
        conversation_id: str,
        rows: Sequence[StoredEvent],
        page_size: int,
        policy: Policy,
        tokens: int,
    ) -> Iterator[HistoryEntry]:
        mapper = self._app.pydantic_mapper
        opener = mapper.opener(conversation_id)  # the key, looked up once for the walk
        messages, skip = 1, 1
        while True:
            for row in rows[skip:]:
                entry = mapper.to_history_entry(row, opener)
                if entry is not None:
                    messages += 1
                    tokens += entry.tokens
                    yield entry
            if len(rows) < page_size:
                return
            lte = rows[-1].originator_version - 1
            page_size = _next_page_size(policy, page_size, messages, tokens)
            rows = self._app.recorder.select_events(
                conversation_id, lte=lte, desc=True, limit=page_size
            )
            skip = 0

    # Audit

    def record_model_call(
        self,
        conversation_id: str,
        view: MemoryView,
        *,
        model: str,
        usage: Usage | None = None,
        response_id: str | None = None,
    ) -> audit.ModelCall:
        """Record that ``view`` was sent to ``model``: positions, policy, counter, payload hash."""
        check_conversation_id(conversation_id)
        return audit.record_model_call(
            self, conversation_id, view, model=model, usage=usage, response_id=response_id
        )

    def attach_usage(self, conversation_id: str, call: int, usage: Usage) -> None:
        """Attach the provider's reported usage to model call number ``call``."""
        check_conversation_id(conversation_id)
        audit.attach_usage(self, conversation_id, call, usage)

    def model_calls(self, conversation_id: str) -> list[audit.ModelCall]:
        """The model calls recorded for the conversation, oldest first."""
        check_conversation_id(conversation_id)
        return audit.model_calls(self, conversation_id)

    def replay_model_call(self, conversation_id: str, call: audit.ModelCall | int) -> audit.Replay:
        """Rebuild a model call's view from history and prove it identical to the record."""
        check_conversation_id(conversation_id)
        return audit.replay_model_call(self, conversation_id, call)

    def erase(self, conversation_id: str, *, reason: str) -> datetime:
        """Crypto-shred the conversation: destroy its key and record the erasure."""
        check_conversation_id(conversation_id)
        return audit.erase(self, conversation_id, reason=reason)

    def set_retention(self, conversation_id: str, retention: timedelta | None) -> None:
        """Erase the conversation this long after its last message (None: keep it)."""
        check_conversation_id(conversation_id)
        audit.set_retention(self, conversation_id, retention)

    def set_legal_hold(self, conversation_id: str, reason: str | None) -> None:
        """Place a legal hold with a reason, or lift it with None."""
        check_conversation_id(conversation_id)
        audit.set_legal_hold(self, conversation_id, reason)

    def apply_retention(
        self, *, now: datetime | None = None, dry_run: bool = False
    ) -> audit.RetentionReport:
        """Erase the conversations whose retention ran out, except those on legal hold."""
        return audit.apply_retention(self, now=now, dry_run=dry_run)

    def verify(self, conversation_id: str) -> verification.Verified:
        """Recompute the conversation's hash chain from the stored rows."""
        check_conversation_id(conversation_id)
        return verification.verify(self, conversation_id)

    def conversations(self, *, after: str = "", limit: int = 100) -> list[ConversationRecord]:
        """Conversations in id order, after ``after``, at most ``limit``."""
        if not isinstance(limit, int) or limit < 1:
            raise InvalidInput("limit", f"must be an integer >= 1, got {limit!r}")
        return self._app.keys.conversations(after=after, limit=limit)


def _construct(settings: StorageSettings) -> LedgerApplication:
    for attempt in range(5):
        try:
            return LedgerApplication(env=settings.env)
        except (DatabaseError, sqlite3.OperationalError):
            # Ledgers opened at once on a new database race to create its tables (PostgreSQL
            # reports duplicate catalogue rows or concurrent updates; SQLite, a lock while one
            # switches the file to WAL); the loser finds them there on the next try.
            if attempt == 4:
                raise
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")


def _first_page_size(policy: Policy) -> int:
    if policy.kind == "message_window":
        return policy.max_messages + 8
    return FIRST_TOKEN_PAGE


def _next_page_size(policy: Policy, page_size: int, messages: int, tokens: int) -> int:
    """Rows to fetch next: enough for the budget left at the sizes seen so far, plus slack.

    Every row fetched costs its decoding through the library, so a page sized
    from the messages already read beats both a fixed page and a generous first page. Runs
    of skipped messages (orphans, unanswered calls) are rare and read on in doubling pages.
    """
    if policy.kind == "token_window" and messages and tokens < policy.max_tokens:
        average = max(tokens / messages, 1.0)
        wanted = int((policy.max_tokens - tokens) / average * 1.25) + 8
        return min(max(wanted, 16), MAX_PAGE)
    return min(page_size * 2, MAX_PAGE)


def _check_position(field: str, value: int | None) -> None:
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
        raise InvalidInput(field, f"must be a position (an integer >= 0), got {value!r}")


def _check_at(at: int, length: int) -> None:
    if at > length:
        raise InvalidInput(
            "at", f"position {at} is past the end of the history ({length} messages)"
        )
