"""Storage failures as chatledger errors: no driver's or event store's exception leaves the API.

The eventsourcing library wraps most driver errors in its PersistenceError family; some paths
raise the driver's own (sqlite3, psycopg). Whatever the kind, a caller sees StorageUnavailable
(naming the store, never its password), WriteContention for a write that lost to other writers
and was not retried, or UnreadableEvent for a stored row that does not decode. The library's
IntegrityError stays inside: the services catch it to retry a write that lost a race, and only
one that escapes them is turned into WriteContention here.
"""

from __future__ import annotations

import functools
import inspect
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import GeneratorType
from typing import Any, TypeVar

import psycopg
import psycopg_pool
from eventsourcing.persistence import (
    ConnectionNotFromPoolError,
    ConnectionPoolClosedError,
    IntegrityError,
    MapperDeserialisationError,
    PersistenceError,
)

from chatledger.domain import ChatLedgerError, StorageUnavailable, UnreadableEvent, WriteContention
from chatledger.infrastructure.storage.backends import Backend

STORAGE_FAILURES: tuple[type[Exception], ...] = (
    PersistenceError,
    ConnectionPoolClosedError,
    ConnectionNotFromPoolError,
    MapperDeserialisationError,
    psycopg.Error,
    sqlite3.Error,
)
"""What the event store and the drivers raise when the database fails or holds a bad row."""

_T = TypeVar("_T")


def as_ledger_error(failure: Exception, backend: Backend) -> ChatLedgerError:
    """The chatledger error that a storage failure on ``backend`` stands for."""
    if isinstance(failure, MapperDeserialisationError):
        return UnreadableEvent(str(failure))
    if isinstance(failure, IntegrityError):
        return WriteContention(f"the {backend.name} store at {backend.location}")
    if isinstance(failure, ConnectionPoolClosedError):
        return StorageUnavailable(
            backend.name,
            backend.location,
            "this ledger was closed",
            "open it again with ChatLedger.open",
        )
    cause = f"{type(failure).__name__}: {failure}".strip().removesuffix(":")
    for secret in backend.secrets:
        cause = cause.replace(secret, "***")
    return StorageUnavailable(backend.name, backend.location, cause)


def unreachable(failure: BaseException) -> bool:
    """Whether no connection to the server could be made: trying again at once will not help."""
    return isinstance(failure, psycopg_pool.PoolTimeout) or isinstance(
        failure.__cause__, psycopg_pool.PoolTimeout
    )


@contextmanager
def storage_failures(backend: Backend) -> Iterator[None]:
    """Raise the chatledger error for any storage failure on ``backend`` inside the block."""
    try:
        yield
    except STORAGE_FAILURES as failure:
        raise as_ledger_error(failure, backend) from failure


def guard_storage(backend_of: Callable[[Any], Backend]) -> Callable[[type[_T]], type[_T]]:
    """A class decorator: the public methods raise chatledger errors for storage failures.

    ``backend_of(instance)`` names the backend the errors report. A method that returns a
    generator gets the same guard around the iteration, where a lazy read does its I/O.
    Properties, class methods and dunder methods are left as they are.
    """

    def guarded(method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def guarded_method(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                result = method(self, *args, **kwargs)
            except STORAGE_FAILURES as failure:
                raise as_ledger_error(failure, backend_of(self)) from failure
            if type(result) is GeneratorType:
                return _guarded_iteration(result, backend_of(self))
            return result

        return guarded_method

    def decorate(cls: type[_T]) -> type[_T]:
        for name, value in list(vars(cls).items()):
            if not name.startswith("_") and inspect.isfunction(value):
                setattr(cls, name, guarded(value))
        return cls

    return decorate


def _guarded_iteration(items: Iterator[Any], backend: Backend) -> Iterator[Any]:
    with storage_failures(backend):
        yield from items
