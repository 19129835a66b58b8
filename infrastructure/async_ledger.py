"""AsyncChatLedger: ChatLedger's methods, awaitable, for asyncio applications.

The storage stack underneath (the eventsourcing library's recorders, psycopg's pool, sqlite3)
is synchronous, so each call runs the synchronous ledger's method on a bounded pool of worker
threads, and the event loop stays free meanwhile. The benchmark (``python -m
tests.bench.async_overhead``) prices that hop against the synchronous call.

Cancellation never leaves half a batch: a batch is one atomic save, and a cancelled call waits
for its worker to finish before the cancellation reaches the caller, so when ``await
ledger.record(...)`` raises ``CancelledError`` the batch is recorded whole or not at all, and
no write is still in flight. Recording the same messages again (their ids) is idempotent, so
retrying a cancelled record is always safe.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar, overload

from chatledger.domain import (
    Branch,
    ConversationRecord,
    InvalidInput,
    Limits,
    MemoryChange,
    Message,
    ModelCall,
    RetentionReport,
    Sibling,
    Summarizer,
    Summary,
    TokenCounter,
)
from chatledger.domain.audit import Usage
from chatledger.infrastructure.ledger import ChatLedger
from chatledger.infrastructure.services import transfer, verification
from chatledger.infrastructure.services.audit import Replay
from chatledger.infrastructure.services.recording import RecordOutcome
from chatledger.infrastructure.storage.keys import KeyRotation
from chatledger.infrastructure.storage.wrapping import KeyEncryptionKey
from chatledger.projections import (
    HistoryEntry,
    HistoryView,
    MemoryExplanation,
    MemoryView,
    Policy,
    SummaryWindow,
)

DEFAULT_WORKERS = 8
"""Worker threads a ledger runs its calls on: a PostgreSQL ledger's pool holds at most ten
connections (``pool_size`` 2 plus ``max_overflow`` 8), so more threads would only queue."""

_Result = TypeVar("_Result")


class AsyncChatLedger:
    """A conversation store for asyncio code: ``ChatLedger``'s methods, each awaitable.

    Open one with ``await AsyncChatLedger.open(url)`` (or wrap a ``ChatLedger``), use it as an
    async context manager, and ``await`` its methods; they raise what ChatLedger's raise.
    """

    def __init__(self, ledger: ChatLedger, *, max_workers: int = DEFAULT_WORKERS) -> None:
        if not isinstance(max_workers, int) or isinstance(max_workers, bool) or max_workers < 1:
            raise InvalidInput("max_workers", f"must be at least 1, got {max_workers!r}")
        self._ledger = ledger
        self._pool = ThreadPoolExecutor(max_workers, thread_name_prefix="chatledger-async")

    @classmethod
    async def open(
        cls,
        url: str,
        token_counter: TokenCounter | None = None,
        *,
        limits: Limits | None = None,
        max_content_bytes: int | None = None,
        pause_collector: bool = False,
        key_file: str | Path | None = None,
        kek: KeyEncryptionKey | None = None,
        max_workers: int = DEFAULT_WORKERS,
    ) -> AsyncChatLedger:
        """Open the ledger at ``url`` as ``ChatLedger.open`` does, without blocking the loop."""
        opening = functools.partial(
            ChatLedger.open,
            url,
            token_counter,
            limits=limits,
            max_content_bytes=max_content_bytes,
            pause_collector=pause_collector,
            key_file=key_file,
            kek=kek,
        )
        ledger = await asyncio.get_running_loop().run_in_executor(None, opening)
        return cls(ledger, max_workers=max_workers)

    @property
    def sync(self) -> ChatLedger:
        """The synchronous ledger underneath, for code that is not async."""
        return self._ledger

    @property
    def backend(self) -> str:
        """The kind of database: ``memory``, ``sqlite`` or ``postgresql``."""
        return self._ledger.backend

    @property
    def limits(self) -> Limits:
        """What one message and one batch may hold."""
        return self._ledger.limits

    @property
    def token_counter(self) -> TokenCounter:
        """The counter that prices every message at record time."""
        return self._ledger.token_counter

    async def _run(self, call: Callable[..., _Result], *args: Any, **kwargs: Any) -> _Result:
        """``call(*args, **kwargs)`` on a worker; a cancellation waits for it to finish."""
        future = asyncio.get_running_loop().run_in_executor(
            self._pool, functools.partial(call, *args, **kwargs)
        )
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            # A save cannot be interrupted halfway, and the caller must not go on while it
            # runs: let it end (recorded whole, or not at all), then pass the cancellation on.
            while not future.done():
                try:
                    await asyncio.shield(future)
                except asyncio.CancelledError:
                    continue
                except Exception:  # its failure is moot: the caller cancelled
                    break
            raise

    async def close(self) -> None:
        """Wait for calls in flight, then release the workers and database connections."""
        await asyncio.get_running_loop().run_in_executor(None, self._close)

    def _close(self) -> None:
        self._pool.shutdown(wait=True)
        self._ledger.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # Writing

    @overload
    async def record(
        self, conversation_id: str, messages: Message, *, expected_version: int | None = None
    ) -> HistoryEntry: ...

    @overload
    async def record(
        self,
        conversation_id: str,
        messages: Sequence[Message],
        *,
        expected_version: int | None = None,
    ) -> tuple[HistoryEntry, ...]: ...

    async def record(
        self,
        conversation_id: str,
        messages: Message | Sequence[Message],
        *,
        expected_version: int | None = None,
    ) -> HistoryEntry | tuple[HistoryEntry, ...]:
        """Record one message, or a list of them as one atomic save (``ChatLedger.record``)."""
        return await self._run(
            self._ledger.record, conversation_id, messages, expected_version=expected_version
        )

    async def record_outcome(
        self,
        conversation_id: str,
        messages: Message | Sequence[Message],
        *,
        expected_version: int | None = None,
    ) -> RecordOutcome:
        """Record, and say whether this call stored a message (``ChatLedger.record_outcome``)."""
        return await self._run(
            self._ledger.record_outcome,
            conversation_id,
            messages,
            expected_version=expected_version,
        )

    # Reading

    async def version(self, conversation_id: str) -> int:
        """How many messages the conversation holds (0 if it was never recorded)."""
        return await self._run(self._ledger.version, conversation_id)

    async def history(
        self,
        conversation_id: str,
        *,
        after: int | None = None,
        before: int | None = None,
        limit: int | None = None,
        at: int | None = None,
        inline_attachments: bool = False,
    ) -> HistoryView:
        """A page of history, oldest first (``ChatLedger.history``)."""
        return await self._run(
            self._ledger.history,
            conversation_id,
            after=after,
            before=before,
            limit=limit,
            at=at,
            inline_attachments=inline_attachments,
        )

    async def memory(
        self,
        conversation_id: str,
        policy: Policy,
        *,
        at: int | None = None,
        inline_attachments: bool = True,
    ) -> MemoryView:
        """The messages to send to the model next, under ``policy`` (``ChatLedger.memory``)."""
        return await self._run(
            self._ledger.memory,
            conversation_id,
            policy,
            at=at,
            inline_attachments=inline_attachments,
        )

    async def explain_memory(
        self, conversation_id: str, policy: Policy, *, at: int | None = None
    ) -> MemoryExplanation:
        """The memory view and why each message left out was left out."""
        return await self._run(self._ledger.explain_memory, conversation_id, policy, at=at)

    async def attachment(self, conversation_id: str, digest: str) -> bytes:
        """The bytes of one of the conversation's attachments (``ChatLedger.attachment``)."""
        return await self._run(self._ledger.attachment, conversation_id, digest)

    # Memory changes

    async def clear(self, conversation_id: str) -> MemoryChange | None:
        """Start the model's memory afresh, keeping the history (``ChatLedger.clear``)."""
        return await self._run(self._ledger.clear, conversation_id)

    async def retract(self, conversation_id: str, position: int) -> MemoryChange:
        """Take the message at ``position`` back from memory (``ChatLedger.retract``)."""
        return await self._run(self._ledger.retract, conversation_id, position)

    async def memory_changes(
        self, conversation_id: str, *, at: int | None = None
    ) -> list[MemoryChange]:
        """The conversation's clears and retractions, oldest first, as of ``at`` if given."""
        return await self._run(self._ledger.memory_changes, conversation_id, at=at)

    # Branches

    async def fork(self, conversation_id: str, *, at: int, new_id: str | None = None) -> str:
        """Begin a branch sharing messages 1..``at`` (``ChatLedger.fork``); return its id."""
        return await self._run(self._ledger.fork, conversation_id, at=at, new_id=new_id)

    async def edit(
        self, conversation_id: str, position: int, message: Message, *, new_id: str | None = None
    ) -> str:
        """Record ``message`` in place of the one at ``position`` on a new branch."""
        return await self._run(self._ledger.edit, conversation_id, position, message, new_id=new_id)

    async def regenerate(
        self, conversation_id: str, position: int, *, new_id: str | None = None
    ) -> str:
        """A new branch forked just before ``position`` (``ChatLedger.regenerate``)."""
        return await self._run(self._ledger.regenerate, conversation_id, position, new_id=new_id)

    async def branches(self, conversation_id: str) -> list[Branch]:
        """The conversation's tree (``ChatLedger.branches``)."""
        return await self._run(self._ledger.branches, conversation_id)

    async def siblings(self, conversation_id: str, position: int) -> list[Sibling]:
        """The alternatives at ``position`` (``ChatLedger.siblings``)."""
        return await self._run(self._ledger.siblings, conversation_id, position)

    # Summaries

    async def record_summary(
        self, conversation_id: str, *, covers: int, text: str, model: str | None = None
    ) -> Summary:
        """Record a summary standing for messages 1..covers (``ChatLedger.record_summary``)."""
        return await self._run(
            self._ledger.record_summary, conversation_id, covers=covers, text=text, model=model
        )

    async def summaries(self, conversation_id: str, *, at: int | None = None) -> list[Summary]:
        """The conversation's summaries, oldest first, as of ``at`` if given."""
        return await self._run(self._ledger.summaries, conversation_id, at=at)

    async def compact(
        self,
        conversation_id: str,
        summarizer: Summarizer,
        policy: SummaryWindow,
        *,
        timeout: float | None = None,
        model: str | None = None,
    ) -> Summary | None:
        """Summarize what ``policy`` leaves out and record it (``ChatLedger.compact``)."""
        return await self._run(
            self._ledger.compact,
            conversation_id,
            summarizer,
            policy,
            timeout=timeout,
            model=model,
        )

    async def conversations(self, *, after: str = "", limit: int = 100) -> list[ConversationRecord]:
        """Conversations in id order, after ``after``, at most ``limit``."""
        return await self._run(self._ledger.conversations, after=after, limit=limit)

    async def conversation(self, conversation_id: str) -> ConversationRecord | None:
        """The conversation's directory entry; None if there is none."""
        return await self._run(self._ledger.conversation, conversation_id)

    async def all_conversations(self) -> list[ConversationRecord]:
        """Every conversation's directory entry, in id order."""
        return await self._run(lambda: list(self._ledger.all_conversations()))

    # Audit

    async def record_model_call(
        self,
        conversation_id: str,
        view: MemoryView,
        *,
        model: str,
        usage: Usage | None = None,
        response_id: str | None = None,
    ) -> ModelCall:
        """Record that ``view`` was sent to ``model`` (``ChatLedger.record_model_call``)."""
        return await self._run(
            self._ledger.record_model_call,
            conversation_id,
            view,
            model=model,
            usage=usage,
            response_id=response_id,
        )

    async def payload_digest(self, conversation_id: str, view: MemoryView) -> str:
        """The digest a model call of ``view`` records (``ChatLedger.payload_digest``)."""
        return await self._run(self._ledger.payload_digest, conversation_id, view)

    async def attach_usage(self, conversation_id: str, call: int, usage: Usage) -> None:
        """Attach the provider's reported usage to model call number ``call``."""
        await self._run(self._ledger.attach_usage, conversation_id, call, usage)

    async def model_calls(self, conversation_id: str) -> list[ModelCall]:
        """The model calls recorded for the conversation, oldest first."""
        return await self._run(self._ledger.model_calls, conversation_id)

    async def replay_model_call(self, conversation_id: str, call: ModelCall | int) -> Replay:
        """Rebuild a model call's view and prove it identical to the record."""
        return await self._run(self._ledger.replay_model_call, conversation_id, call)

    async def verify(self, conversation_id: str) -> verification.Verified:
        """Recompute the conversation's hash chain from the stored rows."""
        return await self._run(self._ledger.verify, conversation_id)

    async def verify_all(self) -> list[verification.Verified]:
        """Verify every conversation."""
        return await self._run(self._ledger.verify_all)

    async def checkpoint(self) -> dict[str, Any]:
        """The head of every conversation's chain, to keep outside the database."""
        return await self._run(self._ledger.checkpoint)

    async def compare_checkpoint(self, saved: dict[str, Any]) -> list[verification.Break]:
        """Breaks between a checkpoint saved earlier and the chains as stored now."""
        return await self._run(self._ledger.compare_checkpoint, saved)

    async def export(self, conversation_id: str | None = None) -> list[dict[str, Any]]:
        """The export lines of one conversation, or of all (``ChatLedger.export``), as a list."""
        return await self._run(lambda: list(self._ledger.export(conversation_id)))

    async def import_lines(self, lines: Iterable[transfer.ImportLine]) -> transfer.ImportReport:
        """Import parsed export lines (``ChatLedger.import_lines``)."""
        return await self._run(self._ledger.import_lines, list(lines))

    # Governance

    async def erase(self, conversation_id: str, *, reason: str) -> datetime:
        """Crypto-shred the conversation: destroy its key and record the erasure."""
        return await self._run(self._ledger.erase, conversation_id, reason=reason)

    async def set_retention(self, conversation_id: str, retention: timedelta | None) -> None:
        """Erase the conversation this long after its last message (None: keep it)."""
        await self._run(self._ledger.set_retention, conversation_id, retention)

    async def set_legal_hold(self, conversation_id: str, reason: str | None) -> None:
        """Place a legal hold with a reason, or lift it with None."""
        await self._run(self._ledger.set_legal_hold, conversation_id, reason)

    async def apply_retention(
        self, *, now: datetime | None = None, dry_run: bool = False
    ) -> RetentionReport:
        """Erase the conversations whose retention ran out, except those on legal hold."""
        return await self._run(self._ledger.apply_retention, now=now, dry_run=dry_run)

    async def rotate_key_encryption_key(self, new: KeyEncryptionKey) -> KeyRotation:
        """Re-wrap every data key under ``new``, atomically."""
        return await self._run(self._ledger.rotate_key_encryption_key, new)
