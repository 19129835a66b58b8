"""A what-if, not a setting users get: chatledger on the library's own DB-function insert.

eventsourcing can insert through a PL/pgSQL function in one round trip, without psycopg's
pipeline and without LOCK TABLE; chatledger's application ignores that switch on purpose. The
benchmark times it beside the default so the proposal in the report rests on a measurement.
"""

from __future__ import annotations

import time

from eventsourcing.persistence import DatabaseError

from infrastructure.application import LedgerApplication
from infrastructure.ledger import ChatLedger
from infrastructure.settings import StorageSettings
from infrastructure.tokens import TiktokenCounter, default_token_counter

DB_FUNCTIONS = {"POSTGRES_ENABLE_DB_FUNCTIONS": "y"}
ATTEMPTS = 5


def ledger_with_db_functions(url: str, counter: TiktokenCounter | None = None) -> ChatLedger:
    """A ledger on ``url`` whose recorder inserts through eventsourcing's DB function."""
    settings = StorageSettings.from_url(url)
    for attempt in range(ATTEMPTS):
        try:
            app = LedgerApplication(env=settings.env | DB_FUNCTIONS)
            break
        except DatabaseError:
            # Writers opening at once race to replace the insert function; the loser retries.
            if attempt == ATTEMPTS - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
    return ChatLedger(app, counter or default_token_counter(), backend=settings.backend)
