"""The eventsourcing Application that stores conversations, with our mapper and snapshots."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from eventsourcing.application import Application, ProcessingEvent, ProjectorFunction
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import JSONTranscoder, Mapper
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore
from eventsourcing.utils import Environment, EnvType

from chatledger.domain import Conversation, DomainEvent, project_conversation
from chatledger.infrastructure.storage.keys import InMemoryKeyStore, KeyStore, SQLKeyStore
from chatledger.infrastructure.storage.sealing import Sealer
from chatledger.infrastructure.storage.serialization import PydanticMapper

SNAPSHOT_INTERVAL = 100
"""A conversation is snapshotted every this many events, so a cold load reads at most this many."""

AGGREGATE_CACHE_SIZE = 10_000
"""Conversations kept in memory per process; each is a few hundred bytes of lean state."""


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

    def construct_env(self, name: str, env: EnvType | None = None) -> Environment:
        """Ignore the process environment: a ledger is configured by its URL alone.

        The library would otherwise let stray variables (say POSTGRES_ENABLE_DB_FUNCTIONS)
        change how events are stored.
        """
        merged = dict(type(self).env)
        merged["IS_SNAPSHOTTING_ENABLED"] = "y"
        merged.update(env or {})
        return Environment(name, merged)

    def record(self, state: Conversation, events: Sequence[DomainEvent]) -> None:
        """Store ``events`` atomically and cache ``state``, the conversation after them.

        The same unit of work as ``save(state, *events)``, minus the library's runtime
        ``Protocol`` checks on every object it is given, a cost measured on every save (see
        the benchmark results): here the types are known.
        """
        processing: ProcessingEvent[str] = ProcessingEvent()
        processing.events.extend(events)
        processing.aggregates[state.id] = state
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

    def construct_mapper(self) -> Mapper[str]:
        """Use our pydantic mapper, with whatever cipher or compressor is configured."""
        mapper = self.factory.mapper(transcoder=JSONTranscoder(), mapper_class=PydanticMapper)
        assert isinstance(mapper, PydanticMapper)
        self.pydantic_mapper = mapper
        self.keys = self.construct_key_store()
        mapper.sealer = Sealer(self.keys)
        return mapper

    def construct_key_store(self) -> KeyStore:
        """Keys live beside the events: a table in the same database, or a dict in memory."""
        datastore = getattr(self.factory, "datastore", None)
        if isinstance(datastore, PostgresDatastore):
            return SQLKeyStore(
                lambda: datastore.transaction(commit=True),
                table=f"{datastore.schema}.{self.name}_keys",
                placeholder="%s",
                blob_type="BYTEA",
                byte_order=' COLLATE "C"',
            )
        if isinstance(datastore, SQLiteDatastore):
            return SQLKeyStore(
                lambda: datastore.transaction(commit=True),
                table=f"{self.name}_keys",
                placeholder="?",
                blob_type="BLOB",
            )
        return InMemoryKeyStore()


def _last_due(version: int) -> int:
    """The highest snapshot-due version at or below ``version`` (0 if none)."""
    return version - version % SNAPSHOT_INTERVAL
