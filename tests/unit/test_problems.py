"""The HTTP service answers each ledger error with its problem: status, type and headers."""

from __future__ import annotations

from chatledger.domain import StorageUnavailable, WriteContention
from chatledger.infrastructure.entrypoints.http.problems import TYPE_PREFIX, problem_for

UNAVAILABLE = StorageUnavailable("postgresql", "db.internal:5432/app", "connection refused")


def test_an_unavailable_store_is_503_asking_the_client_to_retry_after_a_second() -> None:
    error = problem_for(UNAVAILABLE)

    assert error.problem.status == 503
    assert error.problem.type == TYPE_PREFIX + "database-unavailable"
    assert error.headers == {"Retry-After": "1"}


def test_the_503_never_tells_a_client_where_the_store_is() -> None:
    error = problem_for(UNAVAILABLE)

    assert "db.internal" not in error.problem.model_dump_json()


def test_write_contention_is_503_asking_the_client_to_retry() -> None:
    error = problem_for(WriteContention("stream 'calls/acme:c1'"))

    assert error.problem.status == 503
    assert error.problem.type == TYPE_PREFIX + "write-contention"
    assert error.headers == {"Retry-After": "1"}
    assert "acme:c1" not in error.problem.model_dump_json()
