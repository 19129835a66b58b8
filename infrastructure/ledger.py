"""ChatLedger: the public facade; each method hands off to the service that does the work."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Self, overload

from chatledger.domain import (
    AttachmentResolver,
    Branch,
    ConversationErased,
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
    SummaryWindow,
    TokenCounter,
    check_conversation_id,
    check_count,
    check_text,
)
from chatledger.domain.audit import Usage
from chatledger.infrastructure.services import transfer, verification
from chatledger.infrastructure.services.attachments import Attachments
from chatledger.infrastructure.services.audit import Audit, GovernanceService, Replay
from chatledger.infrastructure.services.branches import Branches
from chatledger.infrastructure.services.memory_changes import MemoryChanges
from chatledger.infrastructure.services.reading import Reading
from chatledger.infrastructure.services.recording import Recording, RecordOutcome
from chatledger.infrastructure.services.summaries import Summaries
from chatledger.infrastructure.storage.application import LedgerApplication, open_application
from chatledger.infrastructure.storage.backends import Backend, backend_for, configured_kek
from chatledger.infrastructure.storage.failures import guard_storage, storage_failures
from chatledger.infrastructure.storage.keys import KeyRotation, iter_all
from chatledger.infrastructure.storage.tables import SQLTables
from chatledger.infrastructure.storage.wrapping import KeyEncryptionKey
from chatledger.projections import (
    HistoryEntry,
    HistoryView,
    MemoryExplanation,
    MemoryView,
    Policy,
    explain_memory,
    explain_summary_memory,
)


def _backend_of(ledger: ChatLedger) -> Backend:
    return ledger._app.backend


# Every public method's storage failures arrive as chatledger errors (StorageUnavailable and
# kin), here at the one boundary callers cross; the services below see the library's own.
@guard_storage(_backend_of)
class ChatLedger:
    """A conversation store: every message an immutable event, every view a projection.

    Whatever the database does, its methods raise only ChatLedgerError subclasses.
    """

    def __init__(
        self,
        app: LedgerApplication,
        token_counter: TokenCounter,
        *,
        limits: Limits | None = None,
        max_content_bytes: int | None = None,
        pause_collector: bool = False,
    ) -> None:
        limits = _limits(limits, max_content_bytes)
        self._app = app
        self._counter = token_counter
        self._reading = Reading(
            app,
            request_overhead=token_counter.request_overhead,
            pause_collector=pause_collector,
            counter=token_counter,
        )
        self._limits = limits
        self._attachments = Attachments(app, limits)
        self._recording = Recording(
            app, self._reading, token_counter, limits=limits, attachments=self._attachments
        )
        self._summaries = Summaries(app, self._reading, token_counter, limits=limits)
        self._memory_changes = MemoryChanges(app, self._reading)
        self._branches = Branches(app, self._reading, self._recording)
        self._audit = Audit(app.events, self._reading, self._recording, token_counter.name)
        self._governance = GovernanceService(
            app.events,
            app.keys,
            self._reading,
            self._recording,
            self._attachments,
            self._branches,
        )

    @classmethod
    def open(
        cls,
        url: str,
        token_counter: TokenCounter | None = None,
        *,
        limits: Limits | None = None,
        max_content_bytes: int | None = None,
        pause_collector: bool = False,
        key_file: str | Path | None = None,
        kek: KeyEncryptionKey | None = None,
    ) -> ChatLedger:
        """Open the ledger at ``url``: ``memory://``, ``sqlite:///file.db`` or ``postgresql://...``.

        Data keys are stored wrapped by a key-encryption key: ``kek`` (a KMS adapter, say),
        else the key in ``key_file``, the URL's ``?key_file=``, $CHATLEDGER_KEK or
        $CHATLEDGER_KEY_FILE; else, for SQLite, ``FILE.db.key`` beside the database (created on
        first open), for memory a random one. PostgreSQL without one raises
        KeyEncryptionKeyUnavailable, as does a KEK other than the one that wrapped the keys.

        Without a token counter, messages are counted with tiktoken's o200k_base (every current
        OpenAI model's encoding), loaded from local files when the first message is recorded
        (reading needs no encoding). Counts are stored with the counter's name when recorded,
        so messages recorded under another counter keep their counts. With
        ``pause_collector``, whole-history reads pause Python's cyclic garbage collector while
        they build their entries: faster, but it changes the host process's collection, so it
        is off unless the application asks for it. ``limits`` bounds what one message and one
        batch may hold (``Limits()``, the defaults, if not given); ``max_content_bytes`` alone
        changes only the content limit.
        """
        backend = backend_for(url)
        if token_counter is None:
            from chatledger.infrastructure.tokens import DeferredCounter

            token_counter = DeferredCounter()
        limits = _limits(limits, max_content_bytes)
        if kek is None and key_file is not None:
            kek = configured_kek(key_file)
        with storage_failures(backend):
            app = open_application(backend, kek)
        return cls(app, token_counter, limits=limits, pause_collector=pause_collector)

    @property
    def backend(self) -> str:
        """The kind of database: ``memory``, ``sqlite`` or ``postgresql``."""
        return self._app.backend.name

    @property
    def tables(self) -> SQLTables | None:
        """The SQL database beside the events, for services' own tables; None in memory."""
        return self._app.tables

    @property
    def limits(self) -> Limits:
        """The bounds every message recorded here is checked against."""
        return self._limits

    @property
    def key_encryption_key(self) -> KeyEncryptionKey:
        """What wraps the data keys; its ``source`` says where it came from."""
        return self._app.keys.kek

    def rotate_key_encryption_key(self, new: KeyEncryptionKey) -> KeyRotation:
        """Re-wrap every data key under ``new`` (legacy unwrapped ones too), atomically.

        Afterwards only ``new`` opens the database: configure it for every process.
        """
        return self._app.keys.rotate(new)

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
        return self._recording.record(conversation_id, messages, expected_version=expected_version)

    def record_outcome(
        self,
        conversation_id: str,
        messages: Message | Sequence[Message],
        *,
        expected_version: int | None = None,
    ) -> RecordOutcome:
        """Record as ``record`` does; also say whether this call stored a message (not a retry).

        Of concurrent identical calls, exactly one has ``stored`` True: what an HTTP service
        needs to answer 201 to the writer and 200 to each retry.
        """
        return self._recording.record_outcome(
            conversation_id, messages, expected_version=expected_version
        )

    # Reading

    def version(self, conversation_id: str) -> int:
        """How many messages the conversation holds (0 if it was never recorded)."""
        return self._reading.version(conversation_id)

    def history(
        self,
        conversation_id: str,
        *,
        after: int | None = None,
        before: int | None = None,
        limit: int | None = None,
        at: int | None = None,
        inline_attachments: bool = False,
    ) -> HistoryView:
        """Entries with after < position < before, oldest first.

        With ``limit`` and no ``after``: the newest ``limit`` of them (scroll-back);
        with ``after``: the oldest ``limit`` (following the conversation).
        ``at`` shows the history as it was right after position ``at`` was recorded.
        Parts stored as attachments hold their reference, and no bytes are read for them,
        unless ``inline_attachments`` puts their data back (base64, as it was sent).
        """
        _check_flag("inline_attachments", inline_attachments)
        view = self._reading.history(
            conversation_id, after=after, before=before, limit=limit, at=at
        )
        if not inline_attachments:
            return view
        entries = self._attachments.inlined(conversation_id, view.entries)
        return view.model_copy(update={"entries": entries})

    def memory(
        self,
        conversation_id: str,
        policy: Policy,
        *,
        at: int | None = None,
        inline_attachments: bool = True,
    ) -> MemoryView:
        """The messages to send to the model next, under ``policy``, as of ``at`` if given.

        Reads only the newest events the window needs, never the whole conversation. Parts
        stored as attachments get their data back (base64), as a model request needs it,
        unless ``inline_attachments`` is False.
        """
        _check_flag("inline_attachments", inline_attachments)
        view = self._reading.memory(conversation_id, policy, at=at)
        if not inline_attachments:
            return view
        entries = self._attachments.inlined(conversation_id, view.entries)
        return view.model_copy(update={"entries": entries})

    def attachment(self, conversation_id: str, digest: str) -> bytes:
        """The bytes of one attachment of the conversation, by its digest (a part's
        ``attachment.digest``, their sha256 in hex).

        Raises UnknownConversation, UnknownAttachment, or ConversationErased once erased.
        """
        return self._attachments.read(conversation_id, digest)

    def attachment_resolver(self, conversation_id: str) -> AttachmentResolver:
        """``digest -> base64 text`` of the conversation's attachments, for renderings of
        parts that hold a reference; each attachment is read once, when first asked for."""
        return self._attachments.resolver(conversation_id)

    def explain_memory(
        self, conversation_id: str, policy: Policy, *, at: int | None = None
    ) -> MemoryExplanation:
        """The memory view as of ``at``, and why each recorded message not in it is left out.

        Reads the whole history up to ``at``: for inspecting, not for every model call.
        """
        history = self._reading.history(conversation_id, at=at).entries
        newest = history[-1] if history else None
        owner = newest and self._reading.lineage.owner(conversation_id, newest.position)
        if newest is not None and newest.erased and owner == conversation_id:
            raise ConversationErased(conversation_id)
        # A branch whose parent was erased: its memory begins after the prefix, and so does this.
        history = tuple(entry for entry in history if not entry.erased)
        overhead = self._counter.request_overhead
        changes = self._memory_changes.changes_in_force(conversation_id, at=len(history))
        if isinstance(policy, SummaryWindow):
            summaries = self._summaries.summaries(conversation_id, at=len(history))
            return explain_summary_memory(
                history, summaries, policy, overhead, self._counter.count, changes
            )
        return explain_memory(history, policy, overhead, changes)

    # Memory changes

    def clear(self, conversation_id: str) -> MemoryChange | None:
        """Start the model's memory afresh, keeping the history; return the clear in force.

        Memory views built after it hold only the system prompt in force and what is recorded
        after it; history keeps every message, and a view at an earlier position (``at``) is
        as it was. Clearing again with nothing recorded since records nothing and returns the
        same clear; None when the conversation holds no message (there is nothing to clear).
        """
        return self._memory_changes.clear(conversation_id)

    def retract(self, conversation_id: str, position: int) -> MemoryChange:
        """Take the message at ``position`` back from memory, keeping it in the history.

        The unit holding it (the message, or its whole tool exchange) leaves every later
        memory view. Retracting what a change already took out records nothing and returns
        that change. An instruction cannot be retracted (InvalidInput naming ``position``):
        record a new one to replace it.
        """
        return self._memory_changes.retract(conversation_id, position)

    def memory_changes(self, conversation_id: str, *, at: int | None = None) -> list[MemoryChange]:
        """The conversation's clears and retractions, oldest first (those recorded by ``at``)."""
        return self._memory_changes.memory_changes(conversation_id, at=at)

    # Branches

    def fork(self, conversation_id: str, *, at: int, new_id: str | None = None) -> str:
        """Begin a branch of the conversation sharing its messages 1..``at``; return its id.

        Nothing is copied: the branch reads the prefix from its parent, and its own messages
        follow at ``at + 1``. Every method works on a branch as on any conversation. ``new_id``
        names it; by default a new id, in the same tenant (what precedes the last ':').
        """
        return self._branches.fork(conversation_id, at=at, new_id=new_id)

    def edit(
        self, conversation_id: str, position: int, message: Message, *, new_id: str | None = None
    ) -> str:
        """Record ``message`` in place of the one at ``position``, on a new branch forked just
        before it; return the branch's id. The conversation itself is unchanged."""
        return self._branches.edit(conversation_id, position, message, new_id=new_id)

    def regenerate(self, conversation_id: str, position: int, *, new_id: str | None = None) -> str:
        """A new branch forked just before ``position``, for another reply to be recorded
        there; return its id."""
        return self._branches.regenerate(conversation_id, position, new_id=new_id)

    def branches(self, conversation_id: str) -> list[Branch]:
        """The conversation's tree: every branch's parent, fork point, length and creation
        time, the root first, then in creation order."""
        return self._branches.branches(conversation_id)

    def siblings(self, conversation_id: str, position: int) -> list[Sibling]:
        """The alternatives at ``position`` (edits, regenerations), in creation order, each
        with the branch that holds it: what a "< 2/3 >" switcher shows."""
        return self._branches.siblings(conversation_id, position)

    # Summaries

    def record_summary(
        self, conversation_id: str, *, covers: int, text: str, model: str | None = None
    ) -> Summary:
        """Record that ``text`` summarizes messages 1..``covers``; return the summary.

        A summary is an event beside the history, which it never changes: a newer one may
        cover more, and older ones stay. ``covers`` must be within the history, never
        splitting a tool exchange nor ending inside an open one (else InvalidInput naming it).
        """
        return self._summaries.record_summary(
            conversation_id, covers=covers, text=text, model=model
        )

    def summaries(self, conversation_id: str, *, at: int | None = None) -> list[Summary]:
        """The conversation's summaries, oldest first (those recorded by position ``at``)."""
        return self._summaries.summaries(conversation_id, at=at)

    def compact(
        self,
        conversation_id: str,
        summarizer: Summarizer,
        policy: SummaryWindow,
        *,
        timeout: float | None = None,
        model: str | None = None,
    ) -> Summary | None:
        """Summarize what ``policy``'s view leaves out, and record it; None if nothing is.

        ``summarizer(previous, messages)`` gets the text of the summary being extended (None
        for the first) and the units left out after it. If it raises, takes longer than
        ``timeout`` seconds or returns no text, SummarizerFailed is raised and nothing is
        recorded. Of concurrent compactions, at most one records a summary of the same span.
        ``model`` names who wrote it (by default the summarizer's ``model`` attribute).
        """
        return self._summaries.compact(
            conversation_id, summarizer, policy, timeout=timeout, model=model
        )

    def conversations(self, *, after: str = "", limit: int = 100) -> list[ConversationRecord]:
        """Conversations in id order, after ``after``, at most ``limit``."""
        check_text("after", after)
        check_count("limit", limit, minimum=1)
        return self._app.keys.conversations(after=after, limit=limit)

    def conversation(self, conversation_id: str) -> ConversationRecord | None:
        """The conversation's directory entry: created, erased, retention, hold; None if none."""
        check_conversation_id(conversation_id)
        return self._app.keys.record(conversation_id)

    def all_conversations(self) -> Iterator[ConversationRecord]:
        """Every conversation's directory entry, in id order, read a page at a time."""
        return iter_all(self._app.keys)

    # Audit

    def record_model_call(
        self,
        conversation_id: str,
        view: MemoryView,
        *,
        model: str,
        usage: Usage | None = None,
        response_id: str | None = None,
    ) -> ModelCall:
        """Record that ``view`` was sent to ``model``: positions, policy, counter, payload hash."""
        check_conversation_id(conversation_id)
        check_text("model", model)
        if response_id is not None:
            check_text("response_id", response_id)
        return self._audit.record_model_call(
            conversation_id, view, model=model, usage=usage, response_id=response_id
        )

    def payload_digest(self, conversation_id: str, view: MemoryView) -> str:
        """The digest a model call of ``view`` records: keyed by the conversation's key for a
        conversation begun since keyed digests (``hmac-sha256:...``), else its plain sha256."""
        check_conversation_id(conversation_id)
        return self._recording.payload_digest(conversation_id, view.messages)

    def attach_usage(self, conversation_id: str, call: int, usage: Usage) -> None:
        """Attach the provider's reported usage to model call number ``call``."""
        check_conversation_id(conversation_id)
        self._audit.attach_usage(conversation_id, call, usage)

    def model_calls(self, conversation_id: str) -> list[ModelCall]:
        """The model calls recorded for the conversation, oldest first."""
        check_conversation_id(conversation_id)
        return self._audit.model_calls(conversation_id)

    def replay_model_call(self, conversation_id: str, call: ModelCall | int) -> Replay:
        """Rebuild a model call's view from history and prove it identical to the record."""
        check_conversation_id(conversation_id)
        return self._audit.replay_model_call(conversation_id, call)

    def verify(self, conversation_id: str) -> verification.Verified:
        """Recompute the conversation's hash chain from the stored rows."""
        check_conversation_id(conversation_id)
        return verification.verify(self._app, conversation_id)

    def verify_all(
        self, progress: Callable[[verification.Verified], None] | None = None
    ) -> list[verification.Verified]:
        """Verify every conversation; ``progress`` is called after each."""
        return verification.verify_all(self._app, progress)

    def checkpoint(self) -> dict[str, Any]:
        """The head of every conversation's chain, to keep outside the database."""
        return verification.checkpoint(self._app)

    def compare_checkpoint(self, saved: dict[str, Any]) -> list[verification.Break]:
        """Breaks between a checkpoint saved earlier and the chains as stored now."""
        return verification.compare_checkpoint(self._app, saved)

    def export(self, conversation_id: str | None = None) -> Iterator[dict[str, Any]]:
        """One JSON object per message, oldest first: one conversation's, or all of them."""
        if conversation_id is None:
            return transfer.export_all(self._app, self._attachments)
        return transfer.export_lines(self._app, self._attachments, conversation_id)

    def import_lines(
        self,
        lines: Iterable[transfer.ImportLine],
        progress: Callable[[int], None] | None = None,
    ) -> transfer.ImportReport:
        """Import parsed export lines; lines already present change nothing.

        A conversation whose lines carry their digests (every export since they do) is
        restored as it was recorded: its times, counts, digests and chain, checked line by line
        first, so the store verifies against a checkpoint of the source. Older exports are
        recorded afresh.
        """
        return transfer.import_lines(
            self._recording,
            self._reading,
            list(lines),
            progress,
            store=self._app,
            attachments=self._attachments,
        )

    # Governance

    def erase(self, conversation_id: str, *, reason: str) -> datetime:
        """Crypto-shred the conversation: destroy its key and record the erasure."""
        check_conversation_id(conversation_id)
        check_text("reason", reason)
        return self._governance.erase(conversation_id, reason=reason)

    def set_retention(self, conversation_id: str, retention: timedelta | None) -> None:
        """Erase the conversation this long after its last message (None: keep it)."""
        check_conversation_id(conversation_id)
        self._governance.set_retention(conversation_id, retention)

    def set_legal_hold(self, conversation_id: str, reason: str | None) -> None:
        """Place a legal hold with a reason, or lift it with None."""
        check_conversation_id(conversation_id)
        if reason is not None:
            check_text("reason", reason)
        self._governance.set_legal_hold(conversation_id, reason)

    def apply_retention(
        self, *, now: datetime | None = None, dry_run: bool = False
    ) -> RetentionReport:
        """Erase the conversations whose retention ran out, except those on legal hold."""
        return self._governance.apply_retention(now=now, dry_run=dry_run)


def _check_flag(field: str, value: object) -> None:
    # Only True and False: a caller's "no" or 0 is truthy or falsy by accident.
    if not isinstance(value, bool):
        raise InvalidInput(field, f"must be True or False, got {type(value).__name__}")


def _limits(limits: Limits | None, max_content_bytes: int | None) -> Limits:
    """The limits to record under: ``limits``, or the defaults with ``max_content_bytes``."""
    if max_content_bytes is None:
        return limits if limits is not None else Limits()
    if limits is not None:
        raise InvalidInput("max_content_bytes", "give it in limits, or limits without it")
    if (
        not isinstance(max_content_bytes, int)
        or isinstance(max_content_bytes, bool)
        or max_content_bytes < 1
    ):
        raise InvalidInput("max_content_bytes", f"must be at least 1, got {max_content_bytes!r}")
    return Limits(max_content_bytes=max_content_bytes)
