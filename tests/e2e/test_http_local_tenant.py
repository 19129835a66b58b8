"""A loopback server's local tenant, over real HTTP: readable from this machine, never writable.

With ``local_tenant``, a request with neither an API key nor a session may read that one
tenant's conversations, when it comes from a loopback address to a loopback host name.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chatledger.domain import Message
from tests.e2e.test_http_server import Running, running

NOTE = {"role": "user", "content": "Recorded by the CLI"}


@pytest.fixture
def server(sqlite_url: str) -> Iterator[Running]:
    with running(sqlite_url, local_tenant="local") as started:
        # What `chatledger --tenant local record notes ...` stores, and another tenant's.
        started.ledger.record("local:notes", [Message.parse(NOTE)])
        started.ledger.record("acme:secret", [Message.parse(NOTE)])
        yield started


def test_a_request_without_a_key_reads_the_local_tenants_conversations(server: Running) -> None:
    with server.client() as anonymous:
        listed = anonymous.get("/v1/conversations")
        history = anonymous.get("/v1/conversations/notes/history")

    assert [conversation["id"] for conversation in listed.json()["conversations"]] == ["notes"]
    assert [entry["message"]["content"] for entry in history.json()["entries"]] == [NOTE["content"]]


def test_the_local_tenant_reaches_no_other_tenants_conversation(server: Running) -> None:
    with server.client() as anonymous:
        response = anonymous.get("/v1/conversations/secret/history")

    assert response.status_code == 404


def test_a_write_without_a_key_is_still_refused(server: Running) -> None:
    with server.client() as anonymous:
        response = anonymous.post("/v1/conversations/notes/messages", json=NOTE)

    assert response.status_code == 401
    assert server.ledger.version("local:notes") == 1


def test_a_request_naming_another_host_reads_nothing(server: Running) -> None:
    # A DNS-rebinding page reaches the loopback port under its own host name.
    with server.client() as anonymous:
        response = anonymous.get("/v1/conversations", headers={"Host": "evil.example"})

    assert response.status_code == 401


@pytest.mark.parametrize("header", ["X-Forwarded-For", "Forwarded"])
def test_a_request_a_proxy_forwarded_reads_nothing(server: Running, header: str) -> None:
    with server.client() as anonymous:
        response = anonymous.get("/v1/conversations", headers={header: "for=203.0.113.7"})

    assert response.status_code == 401


def test_the_session_problem_names_the_local_tenant_for_the_page(server: Running) -> None:
    with server.client() as anonymous:
        response = anonymous.get("/v1/session")

    assert response.status_code == 401
    assert response.json()["local_tenant"] == "local"
    assert response.json()["anonymous_writes"] is False


def test_without_a_local_tenant_every_read_needs_a_key(sqlite_url: str) -> None:
    with running(sqlite_url) as server, server.client() as anonymous:
        server.ledger.record("local:notes", [Message.parse(NOTE)])
        response = anonymous.get("/v1/conversations")

    assert response.status_code == 401
