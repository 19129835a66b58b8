"""The stage: chatledger, LangChain's table and a raw table in one schema, with the same data."""

from __future__ import annotations

from types import TracebackType

from eventsourcing.postgres import PostgresApplicationRecorder
from rich.progress import Progress

from chatledger.domain import InvalidInput
from chatledger.infrastructure.ledger import ChatLedger
from chatledger.infrastructure.tokens import TiktokenCounter, default_token_counter, load_encoding
from tests.bench import langchain_peer, raw_peer
from tests.bench.database import BenchDatabase
from tests.bench.langchain_peer import (
    LangChainConversation,
    TiktokenMessageCounter,
    langchain_message,
)
from tests.bench.workload import batches

LOAD_BATCH = 500
"""Messages per record() call while loading: one atomic save each."""
SUMMARY_EVERY = 1_000
"""A summary is recorded after every this many messages loaded, covering nearly all of them."""


def history_id(size: int) -> str:
    """The conversation holding a history of ``size`` messages, in every store."""
    return f"history-{size}"


class Stage:
    """Open connections to every store under test, all in the bench schema."""

    def __init__(self, database: BenchDatabase) -> None:
        self.database = database
        self.counter: TiktokenCounter = default_token_counter()
        self.ledger = ChatLedger.open(database.ledger_url, token_counter=self.counter)
        self.raw = database.connect()
        self.langchain = database.connect()
        self.langchain_counter = TiktokenMessageCounter(load_encoding(self.counter.encoding_name))
        raw_peer.create_table(self.raw)
        langchain_peer.create_table(self.langchain)

    def __enter__(self) -> Stage:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.raw.close()
        self.langchain.close()
        self.ledger.close()

    def _summarize(self, conversation_id: str, length: int) -> None:
        """A summary of messages 1..N for the highest N <= ``length`` a summary may cover."""
        for covers in range(length, 0, -1):
            try:
                self.ledger.record_summary(
                    conversation_id,
                    covers=covers,
                    text=f"The first {covers:,} messages, in short: trips planned, weather "
                    "checked, bookings made, questions answered.",
                )
            except InvalidInput:
                continue  # inside a tool exchange: one message earlier
            return

    @property
    def events_table(self) -> str:
        """The table where chatledger's event rows are, for the raw SELECT."""
        recorder = self.ledger.application.recorder
        assert isinstance(recorder, PostgresApplicationRecorder)
        return recorder.events_table_name

    def peer_conversation(self, conversation_id: str) -> LangChainConversation:
        """One conversation in LangChain's table, counted with the same encoding."""
        return LangChainConversation(self.langchain, conversation_id, self.langchain_counter)

    def load(
        self,
        sizes: list[int],
        peer_cap: int,
        progress: Progress,
        summary_every: int = SUMMARY_EVERY,
    ) -> None:
        """Record one history of each size in chatledger, and in LangChain up to ``peer_cap``.

        Every ``summary_every`` messages, chatledger also records a summary of them, as a
        compaction would: the reads of the other figures never look at summaries.
        """
        for size in sizes:
            task = progress.add_task(f"chatledger  {size:>7,} messages", total=size)
            loaded = 0
            for batch in batches(size, history_id(size), min(LOAD_BATCH, summary_every)):
                self.ledger.record(history_id(size), batch)
                before, loaded = loaded, loaded + len(batch)
                if loaded // summary_every > before // summary_every:
                    self._summarize(history_id(size), loaded)
                progress.advance(task, len(batch))
        for size in (s for s in sizes if s <= peer_cap):
            task = progress.add_task(f"LangChain   {size:>7,} messages", total=size)
            peer = self.peer_conversation(history_id(size))
            for batch in batches(size, history_id(size), LOAD_BATCH):
                peer.add([langchain_message(message) for message in batch])
                progress.advance(task, len(batch))
