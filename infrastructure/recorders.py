"""Our PostgreSQL recorder: the library's, minus a hang on large events."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.utils import retry

PIPELINE_LIMIT_BYTES = 256 * 1024
"""Above this much event state per save, statements go one by one instead of pipelined.

Measured here: psycopg's pipeline mode blocks forever in ``sync()`` when a save of about
600 KB to 1 MB of state goes over a Unix socket. Small saves, nearly all of them, keep the
pipeline's single round trip."""


class PostgresRecorder(PostgresApplicationRecorder):
    """Inserts events like the library does, without pipelining large saves."""

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """Insert events in one transaction, holding the same table lock as the library."""
        if sum(len(event.state) for event in stored_events) <= PIPELINE_LIMIT_BYTES:
            pipelined: Sequence[int] | None = super().insert_events(stored_events, **kwargs)
            return pipelined
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
            self._insert_events(curs, stored_events, **kwargs)
            if not stored_events:
                return None
            # Locks the table, notifies, and inserts, exactly as the pipelined path does.
            self._insert_stored_events(curs, stored_events, **kwargs)
            return self._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
