"""A comparison, not a setting users get: chatledger on eventsourcing's own PostgreSQL recorder.

chatledger's recorder inserts each save with one statement under an advisory lock; the
library's sends LOCK TABLE, NOTIFY, the INSERT and COMMIT through psycopg's pipeline. The
benchmark times both, side by side, so the choice rests on a measurement. The two lock
differently, so they never write at the same time: the benchmark runs them in turn.
"""

from __future__ import annotations

import time

from eventsourcing.persistence import DatabaseError

from chatledger.infrastructure.ledger import ChatLedger
from chatledger.infrastructure.storage.application import LedgerApplication
from chatledger.infrastructure.storage.backends import backend_for
from chatledger.infrastructure.tokens import TiktokenCounter, default_token_counter

ATTEMPTS = 5
LIBRARY_RECORDER = {
    "APPLICATION_RECORDER_TOPIC": "eventsourcing.postgres:PostgresApplicationRecorder"
}


def ledger_with_library_recorder(url: str, counter: TiktokenCounter | None = None) -> ChatLedger:
    """A ledger on ``url`` (whose tables exist) that saves through the library's recorder."""
    backend = backend_for(url)
    for attempt in range(ATTEMPTS):
        try:
            app = LedgerApplication(backend, env=LIBRARY_RECORDER)
            break
        except DatabaseError:
            # Writers opening at once race to replace the library's insert function.
            if attempt == ATTEMPTS - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
    return ChatLedger(app, counter or default_token_counter())
