"""The library's insert protocol replayed in plain psycopg, one step at a time, to price each step.

eventsourcing's PostgreSQL recorder wraps every save in a transaction that sets a lock timeout,
takes LOCK TABLE ... IN EXCLUSIVE MODE, sends NOTIFY, and inserts the rows through psycopg's
pipeline; chatledger's recorder sends one autocommitted statement that takes an advisory lock,
notifies and inserts. Each message is two rows (the event and its id claim). Timing each step
alone, with no chatledger code in the way, shows what the server and the driver cost.
"""

from __future__ import annotations

from collections.abc import Callable

from psycopg import Cursor, sql

from tests.bench.raw_peer import Connection
from tests.bench.timing import side_by_side

TABLE = "bench_protocol_events"
EVENT_BYTES = 1000
CLAIM_BYTES = 250
CALLS_PER_RUN = 10

_CREATE = sql.SQL(
    "CREATE TABLE IF NOT EXISTS {table} (originator_id text NOT NULL, "
    "originator_version bigint NOT NULL, topic text, state bytea, "
    "notification_id bigserial, PRIMARY KEY (originator_id, originator_version)); "
    "CREATE UNIQUE INDEX IF NOT EXISTS {index} ON {table} (notification_id)"
).format(table=sql.Identifier(TABLE), index=sql.Identifier(f"{TABLE}_notification_idx"))
_INSERT = sql.SQL(
    "INSERT INTO {} (originator_id, originator_version, topic, state) "
    "SELECT * FROM unnest(%s::text[], %s::bigint[], %s::text[], %s::bytea[]) "
    "RETURNING notification_id"
).format(sql.Identifier(TABLE))
_LOCK = (
    sql.SQL("SET LOCAL lock_timeout = '0s'"),
    sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(sql.Identifier(TABLE)),
)
_NOTIFY = sql.SQL("NOTIFY {}").format(sql.Identifier(TABLE))
_SERIALISED = sql.SQL(
    "WITH serialised AS MATERIALIZED (SELECT pg_advisory_xact_lock(7), pg_notify({channel}, '')) "
    "INSERT INTO {table} (originator_id, originator_version, topic, state) "
    "SELECT e.* FROM serialised, (VALUES (%s, %s::bigint, %s, %s::bytea), "
    "(%s, %s::bigint, %s, %s::bytea)) AS e RETURNING notification_id"
).format(table=sql.Identifier(TABLE), channel=sql.Literal(TABLE))

STEPS = (
    "1 row, INSERT; COMMIT",
    "2 rows (event + id claim)",
    "2 rows + LOCK TABLE EXCLUSIVE",
    "2 rows + LOCK TABLE + NOTIFY",
    "same, pipelined as the library sends it",
    "chatledger: 1 statement, advisory lock, pg_notify, autocommit",
)


class _Inserts:
    """Appends rows to one stream per step, so steps never clash."""

    def __init__(self, conn: Connection, stream: str, *, rows: int, lock: bool, notify: bool):
        self._conn, self._stream = conn, stream
        self._rows, self._lock, self._notify = rows, lock, notify
        self._version = 0

    def _statements(self) -> Cursor[tuple[object, ...]]:
        if self._lock:
            for statement in _LOCK:
                self._conn.execute(statement, prepare=True)
        if self._notify:
            self._conn.execute(_NOTIFY)
        self._version += 1
        ids = [self._stream, f"key/{self._stream}/{self._version}"][: self._rows]
        states = [b"e" * EVENT_BYTES, b"c" * CLAIM_BYTES][: self._rows]
        params = (ids, [self._version, 1][: self._rows], ["topic"] * self._rows, states)
        return self._conn.execute(_INSERT, params, prepare=True)

    def plain(self) -> None:
        """The statements one by one, then COMMIT."""
        self._statements().fetchall()
        self._conn.commit()

    def pipelined(self) -> None:
        """The statements in a pipeline and a transaction block, as eventsourcing sends them."""
        with self._conn.pipeline() as pipeline, self._conn.transaction():
            inserted = self._statements()
            pipeline.sync()
            inserted.fetchall()


class _Serialised:
    """chatledger's recorder statement: both rows, the lock and the notify in one round trip."""

    def __init__(self, conn: Connection, stream: str):
        self._conn, self._stream = conn, stream
        self._version = 0

    def save(self) -> None:
        """One autocommitted statement."""
        self._version += 1
        key = f"key/{self._stream}/{self._version}"
        event = (self._stream, self._version, "topic", b"e" * EVENT_BYTES)
        params = (*event, key, 1, "topic", b"c" * CLAIM_BYTES)
        self._conn.autocommit = True
        try:
            self._conn.execute(_SERIALISED, params, prepare=True).fetchall()
        finally:
            self._conn.autocommit = False


def price_steps(conn: Connection, runs: int) -> dict[str, float]:
    """Median milliseconds per save for each step of the protocol, timed side by side."""
    conn.execute(_CREATE)
    conn.commit()
    steps: dict[str, Callable[[], None]] = {
        STEPS[0]: _Inserts(conn, "s1", rows=1, lock=False, notify=False).plain,
        STEPS[1]: _Inserts(conn, "s2", rows=2, lock=False, notify=False).plain,
        STEPS[2]: _Inserts(conn, "s3", rows=2, lock=True, notify=False).plain,
        STEPS[3]: _Inserts(conn, "s4", rows=2, lock=True, notify=True).plain,
        STEPS[4]: _Inserts(conn, "s5", rows=2, lock=True, notify=True).pipelined,
        STEPS[5]: _Serialised(conn, "s6").save,
    }

    def repeated(step: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            for _ in range(CALLS_PER_RUN):
                step()

        return run

    samples = side_by_side(
        {name: repeated(step) for name, step in steps.items()},
        dict.fromkeys(steps, runs),
        operations=CALLS_PER_RUN,
    )
    return {name: round(sample.median * 1e3, 3) for name, sample in samples.items()}
