"""Rate limits: failed authentications per client, writes per credential; 429 past them.

Token buckets in this process, in bounded memory: each limit keeps at most ``MAX_TRACKED``
buckets and forgets the least recently used first (a forgotten bucket starts full again).
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from fastapi import Request

from chatledger.domain import InvalidInput
from chatledger.infrastructure.entrypoints.http.problems import ProblemError

DEFAULT_AUTH_FAILURES_PER_MINUTE = 20
"""Failed authentications (bad API keys, sign-in guesses) a client may make a minute."""
DEFAULT_WRITES_PER_SECOND = 50
"""Writes an API key, a browser session, or a client starting sessions may make a second."""
MAX_TRACKED = 10_000
"""Buckets each limit keeps in memory."""


class TokenBuckets:
    """A token bucket per key: ``capacity`` tokens at most, refilled at ``per_second``."""

    def __init__(
        self,
        capacity: float,
        per_second: float,
        *,
        max_keys: int = MAX_TRACKED,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.capacity = capacity
        self.per_second = per_second
        self._max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        """key -> (tokens, when they were counted)"""
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """Take a token of ``key``'s: 0.0 if there was one, else the seconds until there is."""
        with self._lock:
            now = self._clock()
            tokens = self._tokens(key, now)
            if tokens >= 1:
                self._keep(key, tokens - 1, now)
                return 0.0
            self._keep(key, tokens, now)
            return (1 - tokens) / self.per_second

    def give_back(self, key: str) -> None:
        """Return a token taken from ``key``'s bucket."""
        with self._lock:
            now = self._clock()
            self._keep(key, min(self.capacity, self._tokens(key, now) + 1), now)

    def __len__(self) -> int:
        return len(self._buckets)

    def _tokens(self, key: str, now: float) -> float:
        found = self._buckets.get(key)
        if found is None:
            return self.capacity
        tokens, then = found
        return min(self.capacity, tokens + (now - then) * self.per_second)

    def _keep(self, key: str, tokens: float, now: float) -> None:
        self._buckets[key] = (tokens, now)
        self._buckets.move_to_end(key)
        while len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)


class RateLimits:
    """The service's limits; a limit of None is no limit."""

    def __init__(
        self,
        *,
        auth_failures_per_minute: int | None = DEFAULT_AUTH_FAILURES_PER_MINUTE,
        writes_per_second: int | None = DEFAULT_WRITES_PER_SECOND,
    ) -> None:
        self._failures = None
        self._writes = None
        if auth_failures_per_minute is not None:
            _check_positive("auth_failures_per_minute", auth_failures_per_minute)
            self._failures = TokenBuckets(auth_failures_per_minute, auth_failures_per_minute / 60)
        if writes_per_second is not None:
            _check_positive("writes_per_second", writes_per_second)
            self._writes = TokenBuckets(writes_per_second, writes_per_second)

    def authenticating(self, client: str) -> None:
        """Count an attempt to authenticate; 429 once the client's failures are spent.

        Counted before the credential is checked, so a client past its limit learns nothing,
        not even from a good guess; ``authenticated`` takes a good attempt back.
        """
        if self._failures is not None:
            wait = self._failures.take(client)
            if wait:
                raise _too_many("failed authentications from this client", wait)

    def authenticated(self, client: str) -> None:
        """The credential was good: its attempt does not count against the client."""
        if self._failures is not None:
            self._failures.give_back(client)

    def write(self, writer: str) -> None:
        """Spend one of the writer's writes; 429 once they are spent."""
        if self._writes is not None:
            wait = self._writes.take(writer)
            if wait:
                raise _too_many("writes with this credential", wait)


def client_of(request: Request) -> str:
    """The client's address as limits count it: an IPv6 client by its /64 network."""
    host = request.client.host if request.client else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return f"client:{host}"
    if address.version == 6:
        return f"client:{ipaddress.ip_network(f'{address}/64', strict=False)}"
    return f"client:{address}"


def writer(kind: str, secret: str) -> str:
    """The key a credential's writes are counted under (the secret itself is not kept)."""
    digest = hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{kind}:{digest}"


def _check_positive(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInput(name, f"must be a positive integer, or None for no limit; got {value!r}")


def _too_many(what: str, wait: float) -> ProblemError:
    seconds = max(1, math.ceil(wait))
    return ProblemError(
        429,
        "too-many-requests",
        f"too many {what}: retry in {seconds} s",
        headers={"Retry-After": str(seconds)},
    )
