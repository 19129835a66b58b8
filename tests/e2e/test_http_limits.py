"""Rate limits over a real socket: failed authentications per client, writes per credential."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_http_server import Running, running, served

USER = {"role": "user", "content": "hello"}
ATTEMPTS = 40
"""Bad guesses a test makes at most: twice the default limit."""


@pytest.fixture
def server(sqlite_url: str) -> Iterator[Running]:
    """The service with its default limits."""
    with running(sqlite_url) as started:
        yield started


def client_from(url: str, address: str) -> httpx.Client:
    """A client whose connections come from ``address`` (a loopback one): another client."""
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=url, transport=transport, timeout=30)


def until_429(send: Callable[[], httpx.Response]) -> list[httpx.Response]:
    """Call ``send()`` until it answers 429, at most ATTEMPTS times; every response."""
    responses: list[httpx.Response] = []
    while len(responses) < ATTEMPTS:
        responses.append(send())
        if responses[-1].status_code == 429:
            break
    return responses


def assert_too_many(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert 1 <= int(response.headers["retry-after"]) <= 60


def test_past_20_bad_api_keys_a_client_gets_429_and_a_good_key_works_elsewhere(
    server: Running,
) -> None:
    good = {"Authorization": f"Bearer {server.keys['acme']}"}
    with client_from(server.url, "127.0.0.1") as guesser:
        guesses = until_429(
            lambda: guesser.get("/v1/conversations", headers={"Authorization": "Bearer cl_guess"})
        )
        locked_out = guesser.get("/v1/conversations", headers=good)
    with client_from(server.url, "127.0.0.2") as other:
        elsewhere = other.get("/v1/conversations", headers=good)

    assert [r.status_code for r in guesses[:20]] == [401] * 20
    assert_too_many(guesses[-1])
    assert_too_many(locked_out)  # past the limit even a right guess tells nothing
    assert elsewhere.status_code == 200


def test_past_20_sign_in_guesses_a_client_gets_429_and_others_still_sign_in(
    server: Running,
) -> None:
    with client_from(server.url, "127.0.0.1") as guesser:
        guesses = until_429(lambda: guesser.post("/v1/session", json={"api_key": "cl_guess"}))
    with client_from(server.url, "127.0.0.2") as other:
        signed_in = other.post("/v1/session", json={"api_key": server.keys["acme"]})

    assert [r.status_code for r in guesses[:20]] == [401] * 20
    assert_too_many(guesses[-1])
    assert signed_in.status_code == 200


def test_good_keys_do_not_count_as_failures(server: Running) -> None:
    with server.client("acme") as api:
        responses = [api.get("/v1/conversations") for _ in range(30)]

    assert [r.status_code for r in responses] == [200] * 30


def test_writes_past_the_keys_budget_get_429_and_another_key_still_writes(
    sqlite_url: str,
) -> None:
    with running(sqlite_url, writes_per_second=2) as server:
        with server.client("acme") as acme:
            writes = until_429(lambda: acme.post("/v1/conversations/busy/messages", json=USER))
        with server.client("globex") as globex:
            other = globex.post("/v1/conversations/busy/messages", json=USER)
        stored = server.ledger.version("acme:busy")

    assert_too_many(writes[-1])
    assert stored == len(writes) - 1
    assert other.status_code == 201


def test_one_client_starting_anonymous_sessions_is_limited(sqlite_url: str) -> None:
    with running(sqlite_url, page_tenant="web", writes_per_second=2) as server:
        with client_from(server.url, "127.0.0.1") as starter:

            def start_as_a_new_browser() -> httpx.Response:
                starter.cookies.clear()
                return starter.post("/v1/session/conversations")

            starts = until_429(start_as_a_new_browser)
        with client_from(server.url, "127.0.0.2") as other:
            elsewhere = other.post("/v1/session/conversations")

    assert_too_many(starts[-1])
    assert len(starts) < ATTEMPTS
    assert elsewhere.status_code == 201


def test_limits_can_be_turned_off(sqlite_url: str) -> None:
    with (
        running(sqlite_url, auth_failures_per_minute=None) as server,
        httpx.Client(base_url=server.url, timeout=30) as guesser,
    ):
        guesses = [
            guesser.get("/v1/conversations", headers={"Authorization": "Bearer cl_guess"})
            for _ in range(ATTEMPTS)
        ]

    assert [r.status_code for r in guesses] == [401] * ATTEMPTS


def test_serve_takes_the_limits_as_options(tmp_path: Path) -> None:
    with (
        served(tmp_path, "--auth-failures-per-minute", "3") as server,
        httpx.Client(base_url=server.url, timeout=30) as guesser,
    ):
        guesses = until_429(
            lambda: guesser.get("/v1/conversations", headers={"Authorization": "Bearer cl_guess"})
        )

    assert [r.status_code for r in guesses] == [401, 401, 401, 429]
