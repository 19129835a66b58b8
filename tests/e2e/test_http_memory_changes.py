"""Clear and retract over real HTTP, on SQLite and PostgreSQL: memory resets, history stays."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from chatledger.infrastructure.entrypoints.tenancy import ledger_id
from tests.e2e.test_http import HTTP_BACKENDS, assert_problem, store_url
from tests.e2e.test_http_server import Running, running

TURN = {
    "messages": [
        {"role": "system", "content": "You forecast."},
        {"role": "user", "content": "Weather in Oslo?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "call-1", "name": "weather", "arguments": "{}"}],
        },
        {"role": "tool", "content": "sunny", "tool_call_id": "call-1"},
        {"role": "assistant", "content": "Sunny in Oslo."},
    ]
}
"""Positions 1..5: a system prompt, a question, a tool exchange (3, 4), an answer."""
MEMORY = "/v1/conversations/trip/memory?max_messages=50"


@pytest.fixture(params=HTTP_BACKENDS)
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Running]:
    with running(store_url(request, tmp_path)) as server:
        yield server


@pytest.fixture
def acme(served: Running) -> Iterator[httpx.Client]:
    with served.client("acme") as client:
        recorded = client.post("/v1/conversations/trip/messages", json=TURN)
        assert recorded.status_code == 201, recorded.text
        yield client


def positions(client: httpx.Client) -> list[int]:
    shown = client.get(MEMORY)
    assert shown.status_code == 200, shown.text
    return [entry["position"] for entry in shown.json()["entries"]]


def test_clear_empties_memory_but_the_system_prompt_and_keeps_history(acme: httpx.Client) -> None:
    cleared = acme.post("/v1/conversations/trip/clear")

    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["kind"] == "cleared"
    assert positions(acme) == [1]
    history = acme.get("/v1/conversations/trip/history").json()
    assert [entry["position"] for entry in history["entries"]] == [1, 2, 3, 4, 5]
    assert acme.get(MEMORY).json()["changes"] == 1


def test_a_retried_clear_answers_the_same_clear(acme: httpx.Client) -> None:
    first = acme.post("/v1/conversations/trip/clear").json()

    again = acme.post("/v1/conversations/trip/clear")

    assert again.json() == first
    listed = acme.get("/v1/conversations/trip/memory-changes").json()
    assert len(listed["changes"]) == 1


def test_retract_takes_a_whole_tool_exchange_out_of_memory(acme: httpx.Client) -> None:
    retracted = acme.post("/v1/conversations/trip/retract", json={"position": 3})

    assert retracted.status_code == 200, retracted.text
    assert (retracted.json()["kind"], retracted.json()["target"]) == ("retracted", 3)
    assert positions(acme) == [1, 2, 5]
    explained = acme.get("/v1/conversations/trip/memory/explanation?max_messages=50")
    reasons = {e["position"]: e["reason"] for e in explained.json()["excluded"]}
    assert reasons == {3: "retracted", 4: "retracted"}


def test_a_view_at_a_point_before_the_clear_is_the_old_view(acme: httpx.Client) -> None:
    acme.post("/v1/conversations/trip/messages", json={"role": "user", "content": "Bergen?"})
    acme.post("/v1/conversations/trip/clear")

    old = acme.get(f"{MEMORY}&at=5").json()

    assert [entry["position"] for entry in old["entries"]] == [1, 2, 3, 4, 5]
    assert old["changes"] == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"position": 1}, "position"),  # the system prompt
        ({"position": 99}, "position"),  # past the history
        ({"position": 0}, "position"),
        ({"position": "2"}, "position"),
        ({}, "position"),
        ({"position": 2, "extra": True}, "extra"),
    ],
)
def test_a_bad_retraction_is_422_naming_the_field_and_changes_nothing(
    acme: httpx.Client, body: dict[str, object], field: str
) -> None:
    refused = acme.post("/v1/conversations/trip/retract", json=body)

    assert_problem(refused, 422, field)
    assert acme.get("/v1/conversations/trip/memory-changes").json()["changes"] == []


def test_another_tenant_can_neither_clear_nor_retract_nor_list(served: Running) -> None:
    with served.client("acme") as acme, served.client("globex") as globex:
        acme.post("/v1/conversations/trip/messages", json=TURN)

        attempts = [
            globex.post("/v1/conversations/trip/clear"),
            globex.post("/v1/conversations/trip/retract", json={"position": 2}),
            globex.get("/v1/conversations/trip/memory-changes"),
        ]

        for attempt in attempts:
            assert_problem(attempt, 404)
        assert positions(acme) == [1, 2, 3, 4, 5]


def test_an_erased_conversation_answers_410_to_a_clear(served: Running, acme: httpx.Client) -> None:
    served.ledger.erase(ledger_id("acme", "trip"), reason="asked")

    assert_problem(acme.post("/v1/conversations/trip/clear"), 410)
