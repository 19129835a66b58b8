"""Memory views over budget, over real HTTP: said so, and never handed to a provider to reject."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.test_http_server import running

PROMPT = {"role": "system", "content": "You are a careful travel assistant who plans trips."}
"""Twelve tokens by the fake counter; fifteen with the request overhead."""
TURN = [PROMPT, {"role": "user", "content": "Lisbon?"}, {"role": "assistant", "content": "Yes."}]


@pytest.fixture
def acme(sqlite_url: str) -> Iterator[httpx.Client]:
    """A client of tenant acme whose conversation `trip` has a prompt and one exchange."""
    with running(sqlite_url) as server, server.client("acme") as client:
        recorded = client.post("/v1/conversations/trip/messages", json={"messages": TURN})
        assert recorded.status_code == 201, recorded.text
        yield client


def test_a_view_whose_system_prompt_is_over_budget_says_so(acme: httpx.Client) -> None:
    response = acme.get("/v1/conversations/trip/memory", params={"max_tokens": 5})

    body = response.json()
    assert response.status_code == 200
    assert [entry["message"]["role"] for entry in body["entries"]] == ["system"]
    assert body["tokens"] == 15
    assert body["over_budget"] is True


def test_a_view_within_budget_is_not_over_budget(acme: httpx.Client) -> None:
    response = acme.get("/v1/conversations/trip/memory", params={"max_tokens": 100})

    assert response.json()["over_budget"] is False
    assert len(response.json()["entries"]) == 3


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_provider_format_of_a_prompt_alone_is_a_problem_naming_the_budget(
    acme: httpx.Client, provider: str
) -> None:
    response = acme.get(
        "/v1/conversations/trip/memory", params={"max_tokens": 5, "format": provider}
    )

    problem = response.json()
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert problem["type"] == "urn:chatledger:problem:nothing-to-send"
    assert problem["field"] == "max_tokens"
    assert problem["over_budget"] is True
    assert "a 15-token request, over max_tokens=5" in problem["detail"]


def test_a_provider_format_of_a_conversation_with_only_a_prompt_is_a_problem(
    sqlite_url: str,
) -> None:
    with running(sqlite_url) as server, server.client("acme") as client:
        client.post("/v1/conversations/rules/messages", json=PROMPT)
        response = client.get(
            "/v1/conversations/rules/memory", params={"max_messages": 10, "format": "anthropic"}
        )

    assert response.status_code == 422
    assert response.json()["over_budget"] is False
    assert "no user or assistant message" in response.json()["detail"]


def test_a_provider_format_with_room_for_a_message_is_sent_as_before(acme: httpx.Client) -> None:
    response = acme.get(
        "/v1/conversations/trip/memory", params={"max_tokens": 20, "format": "anthropic"}
    )

    assert response.status_code == 200
    assert response.json()["messages"][0]["role"] == "user"
