"""The eventsourcing Application that stores conversations, with our mapper and snapshots."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Sequence
from typing import Any, ClassVar, cast

from eventsourcing.application import Application, ProcessingEvent, ProjectorFunction
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import (
    ApplicationRecorder,
    DatabaseError,
    JSONTranscoder,
    Mapper,
    StoredEvent,
)
from eventsourcing.utils import Environment, EnvType

from chatledger.domain import Conversation, DomainEvent, InvalidInput, project_conversation
from chatledger.infrastructure.storage.attachments import SealedAttachment
from chatledger.infrastructure.storage.backends import Backend
from chatledger.infrastructure.storage.failures import unreachable
from chatledger.infrastructure.storage.recorders import SavesAttachments
from chatledger.infrastructure.storage.sealing import Sealer
from chatledger.infrastructure.storage.serialization import PydanticMapper
from chatledger.infrastructure.storage.tables import SQLTables
from chatledger.infrastructure.storage.topics import topics_naming
from chatledger.infrastructure.storage.wrapping import KeyEncryptionKey

_ERASED_TOPICS = topics_naming(Conversation.Erased)
SNAPSHOT_INTERVAL = 100
"""A conversation is snapshotted every this many events, so a cold load reads at most this many."""

AGGREGATE_CACHE_SIZE = 10_000
"""Conversations kept in memory per process; each is a few hundred bytes of lean state."""

OPEN_ATTEMPTS = 5


class LedgerApplication(Application[str]):
    """Persists conversations and message-id claims in one event store (tables chatledger_*)."""

    name = "chatledger"
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {Conversation: SNAPSHOT_INTERVAL}
    snapshotting_projectors: ClassVar[dict[type[Any], ProjectorFunction[Any, Any]]] = {
        Conversation: project_conversation
    }
    env: ClassVar[dict[str, str]] = {
        # A cached state is used as it is: if another process wrote meanwhile, the save clashes
        # on the version and the ledger fast-forwards the state itself, then retries. That saves
        # a read on every uncontended write.
        "AGGREGATE_CACHE_MAXSIZE": str(AGGREGATE_CACHE_SIZE),
        "AGGREGATE_CACHE_FASTFORWARD": "n",
        # States are immutable models, so the cache can hand them out without copying.
        "DEEPCOPY_FROM_AGGREGATE_CACHE": "n",
    }

    def __init__(
        self, backend: Backend, env: EnvType | None = None, kek: KeyEncryptionKey | None = None
    ) -> None:
        self.backend = backend
        self._kek = kek
        try:
            super().__init__(env={**backend.env, **(env or {})})
        except BaseException:
            # A half-built application still holds the database's connection pool. Close it
            # now: left to __del__, it is closed on whatever thread collects it, and a pool
            # worker's own thread cannot join itself.
            factory = getattr(self, "factory", None)
            if factory is not None:
                with contextlib.suppress(Exception):
                    factory.close()
            raise

    @property
    def tables(self) -> SQLTables | None:
        """Our own SQL tables beside the events; None in memory."""
        return self.backend.tables(getattr(self.factory, "datastore", None))

    def ended(self, row: StoredEvent) -> bool:
        """Whether ``row`` is the Erased event that ends a conversation's stream.

        If so, the conversation's cached key is forgotten at once: whatever this process
        had cached, text is no longer opened once the stream says it was erased.
        """
        if row.topic not in _ERASED_TOPICS:
            return False
        event = cast(Conversation.Erased, self.mapper.to_domain_event(row))
        self.keys.forget(event.originator_id, event.timestamp)
        return True

    def tail(self, conversation_id: str) -> StoredEvent | None:
        """The conversation's newest stored row, read without decoding it (None if none)."""
        rows = self.recorder.select_events(conversation_id, desc=True, limit=1)
        if not rows:
            return None
        self.ended(rows[0])
        return rows[0]

    def construct_env(self, name: str, env: EnvType | None = None) -> Environment:
        """Ignore the process environment: a ledger is configured by its URL alone.

        The library would otherwise let stray variables (say POSTGRES_ENABLE_DB_FUNCTIONS)
        change how events are stored.
        """
        merged = dict(type(self).env)
        merged["IS_SNAPSHOTTING_ENABLED"] = "y"
        merged.update(env or {})
        return Environment(name, merged)

    def record(
        self,
        state: Conversation,
        events: Sequence[DomainEvent],
        attachments: Sequence[SealedAttachment] = (),
    ) -> None:
        """Store ``events`` atomically, with the ``attachments`` rows their messages refer to,
        and cache ``state``, the conversation after them.

        The same unit of work as ``save(state, *events)``, minus the library's runtime
        ``Protocol`` checks on every object it is given, a cost measured on every save (see
        the benchmark results): here the types are known. The recorder writes the rows in
        the events' transaction: a save that fails leaves none of them.
        """
        processing: ProcessingEvent[str] = ProcessingEvent()
        processing.events.extend(events)
        processing.aggregates[state.id] = state
        if attachments:
            if not isinstance(self.recorder, SavesAttachments):
                # The library's own recorders would drop the rows without a word.
                raise TypeError(f"{type(self.recorder).__name__} cannot save attachments")
            processing.saved_kwargs["attachments"] = attachments
        self._notify(self._record(processing))
        self._snapshot_if_due(state, events)

    def _take_snapshots(self, processing_event: ProcessingEvent[str]) -> None:
        """Snapshot conversations saved through ``save()`` from the state in hand."""
        events = processing_event.events
        for state in processing_event.aggregates.values():
            if isinstance(state, Conversation):
                self._snapshot_if_due(state, [e for e in events if e.originator_id == state.id])

    def _snapshot_if_due(
        self, state: Conversation, events: Sequence[DomainEventProtocol[str]]
    ) -> None:
        """Snapshot ``state`` when its save crossed a multiple of the interval.

        The library would re-read up to a hundred events to rebuild a state we hold: the
        save succeeded at exactly these versions, so the state in hand is the stored one.
        """
        if self.snapshots is None:
            return
        versions = [e.originator_version for e in events if e.originator_id == state.id]
        if (
            versions
            and min(versions) <= _last_due(max(versions))
            and max(versions) == (state.version)
        ):
            self.snapshots.put([Conversation.Snapshot.take(state)])

    def construct_recorder(self) -> ApplicationRecorder:
        """The backend's recorder, writing attachments into the backend's attachment store."""
        recorder = self.backend.recorder(self.factory)
        self.attachments = self.backend.attachment_store(getattr(self.factory, "datastore", None))
        if isinstance(recorder, SavesAttachments):
            recorder.attachments = self.attachments
        return recorder

    def construct_mapper(self) -> Mapper[str]:
        """Use our pydantic mapper, with whatever cipher or compressor is configured."""
        mapper = self.factory.mapper(transcoder=JSONTranscoder(), mapper_class=PydanticMapper)
        assert isinstance(mapper, PydanticMapper)
        self.pydantic_mapper = mapper
        self.keys = self.backend.key_store(getattr(self.factory, "datastore", None), self._kek)
        self.sealer = Sealer(self.keys)
        mapper.sealer = self.sealer
        return mapper


INVALID_SCHEMA_NAME = "3F000"
"""PostgreSQL's SQLSTATE for a schema that does not exist."""


def open_application(backend: Backend, kek: KeyEncryptionKey | None = None) -> LedgerApplication:
    """The eventsourcing application on ``backend``, its tables created if they are not there.

    ``kek`` wraps the data keys; without it, the backend's configured or default KEK.
    """
    backend.probe()
    for attempt in range(OPEN_ATTEMPTS):
        try:
            return LedgerApplication(backend, kek=kek)
        except (DatabaseError, sqlite3.OperationalError) as failure:
            if getattr(failure.__cause__, "sqlstate", None) == INVALID_SCHEMA_NAME:
                schema = backend.env.get("POSTGRES_SCHEMA", "")
                raise InvalidInput(
                    "url",
                    f"the schema {schema!r} does not exist in database "
                    f"{backend.env.get('POSTGRES_DBNAME', '')!r}: create it first "
                    f"(CREATE SCHEMA {schema}), or leave ?schema= out for the default",
                ) from None
            # Ledgers opened at once on a new database race to create its tables (PostgreSQL
            # reports duplicate catalogue rows or concurrent updates; SQLite, a lock while one
            # switches the file to WAL); the loser finds them there on the next try. A server
            # that could not be reached at all is reported at once: each try waits out the
            # whole connect timeout.
            if attempt == OPEN_ATTEMPTS - 1 or unreachable(failure):
                raise
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")


def _last_due(version: int) -> int:
    """The highest snapshot-due version at or below ``version`` (0 if none)."""
    return version - version % SNAPSHOT_INTERVAL
