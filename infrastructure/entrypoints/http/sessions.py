"""Browser sessions: an HMAC-signed session id in a cookie, the session itself on the server.

A session belongs to one tenant and lists the conversations it may reach: those it started
(anonymous pages) or all of its tenant's (a session signed in with the tenant's API key). A
cookie whose signature does not check, or that names no stored session, is ignored, so a
forged cookie can only ever start a new session of its own.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from abc import ABC, abstractmethod
from collections import OrderedDict
from dataclasses import dataclass, field, replace

from chatledger.infrastructure.storage.tables import SQLTables

COOKIE_NAME = "chatledger_session"
IDLE_SECONDS = 12 * 3600
"""A session unused this long is forgotten."""
TOUCH_SECONDS = 600
"""A session in use is marked as used again at most this often."""
MAX_IN_MEMORY_SESSIONS = 10_000


@dataclass(frozen=True)
class Session:
    """One browser's session: its tenant, the conversations it may reach, the one it shows."""

    tenant: str
    conversations: tuple[str, ...] = ()
    """The conversations this session started (its tenant's ids)."""
    current: str | None = None
    signed_in: bool = False
    """True when an API key signed the session in: it reaches every conversation of its tenant."""
    key_id: str | None = None
    """The id of the key that signed it in: revoking the key ends the session."""
    touched_at: float = field(default_factory=time.time)

    def reaches(self, conversation: str) -> bool:
        """Whether this session may read or write the tenant's ``conversation``."""
        return self.signed_in or conversation in self.conversations

    def started(self, conversation: str) -> Session:
        """The session after starting ``conversation`` and showing it."""
        return replace(
            self, conversations=(*self.conversations, conversation), current=conversation
        )


class CookieSigner:
    """Signs session ids for cookies and checks them in constant time."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("a session secret must be at least 16 bytes")
        self._secret = secret
        # A key of its own: no CSRF token can ever pass for a cookie signature, or back.
        self._csrf_key = hmac.new(secret, b"chatledger csrf token", hashlib.sha256).digest()

    def sign(self, session_id: str) -> str:
        """The cookie value: the id and its signature."""
        return f"{session_id}.{self._signature(session_id)}"

    def unsign(self, cookie: str) -> str | None:
        """The session id of a cookie whose signature checks, else None."""
        session_id, dot, signature = cookie.rpartition(".")
        if not dot or not session_id or len(cookie) > 200:
            return None
        # Bytes, not str: compare_digest refuses non-ASCII text, which a forger may send.
        given = signature.encode("utf-8", "surrogatepass")
        if not hmac.compare_digest(given, self._signature(session_id).encode("ascii")):
            return None
        return session_id

    def csrf_token(self, session_id: str) -> str:
        """The session's CSRF token: its page sends it back with each write."""
        digest = hmac.new(
            self._csrf_key, session_id.encode("utf-8", "surrogatepass"), hashlib.sha256
        ).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")

    def check_csrf_token(self, session_id: str, token: str) -> bool:
        """Whether ``token`` is the session's CSRF token (compared in constant time)."""
        given = token.encode("utf-8", "surrogatepass")
        return hmac.compare_digest(given, self.csrf_token(session_id).encode("ascii"))

    def _signature(self, session_id: str) -> str:
        digest = hmac.new(
            self._secret, session_id.encode("utf-8", "surrogatepass"), hashlib.sha256
        ).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def new_session_id() -> str:
    """A fresh, unguessable session id."""
    return secrets.token_urlsafe(32)


class SessionStore(ABC):
    """Sessions by id, kept on the server; ids are stored only as sha256 hashes."""

    def get(self, session_id: str) -> Session | None:
        """The live session with this id, or None."""
        session = self._read(_hashed(session_id))
        idle = time.time() - (session.touched_at if session else 0)
        if session is None or idle > IDLE_SECONDS:
            return None
        if idle > TOUCH_SECONDS:
            self.put(session_id, session)
        return session

    def put(self, session_id: str, session: Session) -> None:
        """Store the session (touched now) under its id."""
        self._write(_hashed(session_id), replace(session, touched_at=time.time()))

    def delete(self, session_id: str) -> None:
        """Forget the session."""
        self._remove(_hashed(session_id))

    @abstractmethod
    def _read(self, key: str) -> Session | None: ...

    @abstractmethod
    def _write(self, key: str, session: Session) -> None: ...

    @abstractmethod
    def _remove(self, key: str) -> None: ...


class InMemorySessionStore(SessionStore):
    """Sessions in this process, the least recently used forgotten past a bound."""

    def __init__(self, max_sessions: int = MAX_IN_MEMORY_SESSIONS) -> None:
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._max = max_sessions
        self._lock = threading.Lock()

    def _read(self, key: str) -> Session | None:
        with self._lock:
            session = self._sessions.get(key)
            if session is not None:
                self._sessions.move_to_end(key)
            return session

    def _write(self, key: str, session: Session) -> None:
        with self._lock:
            self._sessions[key] = session
            self._sessions.move_to_end(key)
            while len(self._sessions) > self._max:
                self._sessions.popitem(last=False)

    def _remove(self, key: str) -> None:
        with self._lock:
            self._sessions.pop(key, None)


class SQLSessionStore(SessionStore):
    """Sessions in a ``chatledger_sessions`` table beside the events: they survive restarts."""

    def __init__(self, tables: SQLTables) -> None:
        self._tables = tables
        self._table = tables.name("sessions")
        tables.create(
            f"CREATE TABLE IF NOT EXISTS {self._table} ("
            "id_sha256 TEXT PRIMARY KEY, data TEXT NOT NULL, touched_at DOUBLE PRECISION NOT NULL)"
        )

    def _read(self, key: str) -> Session | None:
        p = self._tables.placeholder
        with self._tables.transaction() as cursor:
            cursor.execute(f"SELECT data FROM {self._table} WHERE id_sha256 = {p}", (key,))
            row = cursor.fetchone()
        if row is None:
            return None
        data = json.loads(row["data"])
        return Session(
            tenant=data["tenant"],
            conversations=tuple(data["conversations"]),
            current=data["current"],
            signed_in=data["signed_in"],
            # Sessions stored before keys had ids were bound to no key.
            key_id=data.get("key_id"),
            touched_at=data["touched_at"],
        )

    def _write(self, key: str, session: Session) -> None:
        p = self._tables.placeholder
        data = json.dumps(
            {
                "tenant": session.tenant,
                "conversations": list(session.conversations),
                "current": session.current,
                "signed_in": session.signed_in,
                "key_id": session.key_id,
                "touched_at": session.touched_at,
            }
        )
        with self._tables.transaction() as cursor:
            cursor.execute(
                f"INSERT INTO {self._table} (id_sha256, data, touched_at) VALUES ({p}, {p}, {p}) "
                "ON CONFLICT (id_sha256) DO UPDATE SET data = excluded.data, "
                "touched_at = excluded.touched_at",
                (key, data, session.touched_at),
            )
            # Expired sessions go as new ones come: no separate sweeper to run.
            cursor.execute(
                f"DELETE FROM {self._table} WHERE touched_at < {p}",
                (time.time() - IDLE_SECONDS,),
            )

    def _remove(self, key: str) -> None:
        p = self._tables.placeholder
        with self._tables.transaction() as cursor:
            cursor.execute(f"DELETE FROM {self._table} WHERE id_sha256 = {p}", (key,))


def _hashed(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8", "surrogatepass")).hexdigest()
