"""Requests generated from the OpenAPI schema, sent to a real server: no input answers 5xx."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.core.result import Ok

from tests.e2e.test_http import HTTP_BACKENDS
from tests.e2e.test_http_server import running
from tests.fakes import FakeSummarizer

EXAMPLES_PER_OPERATION = 25
"""Examples generated for each operation: about 30 s on SQLite on a shared two-core machine."""


@pytest.mark.slow_fuzz
@pytest.mark.parametrize("backend", HTTP_BACKENDS)
def test_no_generated_request_gets_a_server_error(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = (
        f"sqlite:///{tmp_path / 'ledger.db'}"
        if backend == "sqlite"
        else str(request.getfixturevalue("postgres_url")) + "&pool_size=4&max_overflow=2"
    )
    # A summarizer, so that generated compactions run (a server without one answers 501).
    with running(url, writes_per_second=None, summarizer=FakeSummarizer()) as server:
        auth = {"Authorization": f"Bearer {server.keys['acme']}"}
        with server.client("acme") as acme:
            recorded = acme.post("/v1/conversations/trip/messages", json={"role": "user"})
            assert recorded.status_code == 201
        schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
        operations = [
            result.ok() for result in schema.get_all_operations() if isinstance(result, Ok)
        ]
        failures: list[str] = []
        statuses: list[int] = []
        for operation in operations:
            strategy = operation.as_strategy()

            @settings(
                max_examples=EXAMPLES_PER_OPERATION,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(data=st.data())
            def exercise(data: st.DataObject) -> None:
                case = data.draw(strategy)  # noqa: B023  # drawn before the loop moves on
                response = case.call(base_url=server.url, headers=auth, timeout=30)
                statuses.append(response.status_code)
                if response.status_code >= 500:
                    failures.append(
                        f"{case.method} {case.formatted_path} {case.query} -> "
                        f"{response.status_code}: {response.text[:200]}"
                    )

            exercise()

    assert len(operations) >= 10
    assert len(statuses) >= len(operations) * 5  # generation ran, not skipped
    assert failures == []
