"""The eventsourcing Application that stores conversations, with our mapper and snapshots."""

from __future__ import annotations

from typing import Any, ClassVar

from eventsourcing.application import Application, ProjectorFunction
from eventsourcing.persistence import JSONTranscoder, Mapper
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore
from eventsourcing.utils import Environment, EnvType

from domain import Conversation, project_conversation
from infrastructure.keys import InMemoryKeyStore, KeyStore, SQLKeyStore
from infrastructure.sealing import Sealer
from infrastructure.serialization import PydanticMapper

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

    def construct_mapper(self) -> Mapper[str]:
        """Use our pydantic mapper, with whatever cipher or compressor is configured."""
        mapper = self.factory.mapper(transcoder=JSONTranscoder(), mapper_class=PydanticMapper)
        assert isinstance(mapper, PydanticMapper)
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
