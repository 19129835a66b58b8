"""Input the HTTP API refuses, over a real socket on SQLite and PostgreSQL: never a 5xx."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.test_http import HTTP_BACKENDS, assert_problem, store_url
from tests.e2e.test_http_server import Running, running

MESSAGES = "/v1/conversations/trip/messages"
JSON = {"Content-Type": "application/json"}
USER = {"role": "user", "content": "hi"}


@pytest.fixture(params=HTTP_BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Running]:
    """The service on a fresh store, on each backend in turn."""
    with running(store_url(request, tmp_path)) as started:
        yield started


@pytest.fixture
def acme(server: Running) -> Iterator[httpx.Client]:
    with server.client("acme") as client:
        yield client


def refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def exchange(arguments: str) -> dict[str, object]:
    """A turn whose tool call carries ``arguments`` and is answered, so memory shows it."""
    return {
        "messages": [
            USER,
            {"role": "assistant", "tool_calls": [{"id": "c", "name": "f", "arguments": arguments}]},
            {"role": "tool", "tool_call_id": "c", "content": "ok"},
        ]
    }


@pytest.mark.parametrize(
    "arguments", ['{"a": "\\ud800"}', "NaN", '{"a": 1e400}', "[" * 200 + "]" * 200]
)
def test_every_rendering_of_recorded_tool_arguments_is_json(
    acme: httpx.Client, arguments: str
) -> None:
    recorded = acme.post(MESSAGES, json=exchange(arguments))

    assert recorded.status_code == 201, recorded.text
    for format in ("openai", "anthropic", "chatledger"):
        shown = acme.get(
            "/v1/conversations/trip/memory", params={"max_messages": 10, "format": format}
        )
        assert shown.status_code == 200, shown.text
        body = json.loads(shown.content, parse_constant=refuse_constant)
        if format == "openai":
            assert body["messages"][1]["tool_calls"][0]["function"]["arguments"] == arguments
        elif format == "anthropic":
            assert body["messages"][1]["content"][0]["input"] == {"arguments": arguments}
        else:
            assert body["entries"][1]["message"]["tool_calls"][0]["arguments"] == arguments


@pytest.mark.parametrize(
    ("number", "problem"),
    [
        ("NaN", "is NaN"),
        ("Infinity", "is Infinity"),
        ("-Infinity", "is -Infinity"),
        ("1e400", "is 1e400, out of"),
        ("1" * 5000, "is a number of 5000 characters"),
    ],
)
def test_numbers_json_cannot_carry_are_422_naming_the_field(
    acme: httpx.Client, server: Running, number: str, problem: str
) -> None:
    body = '{"role": "user", "content": "x", "metadata": {"a": [1, ' + number + "]}}"

    response = acme.post(MESSAGES, content=body.encode(), headers=JSON)

    assert_problem(response, 422, "metadata.a.1")
    assert problem in response.json()["detail"]
    assert server.ledger.version("acme:trip") == 0


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("history", {"before": 10**30}),
        ("history", {"after": 2**63}),
        ("memory", {"max_messages": 2**63}),
        ("memory", {"max_tokens": 2**63}),
        ("memory", {"max_messages": 5, "at": 2**63}),
        ("memory", {"max_messages": 2**53 + 1}),
    ],
)
def test_integers_past_their_bound_are_422(
    acme: httpx.Client, path: str, params: dict[str, int]
) -> None:
    acme.post(MESSAGES, json=USER)

    response = acme.get(f"/v1/conversations/trip/{path}", params=params)

    field = next(name for name, value in params.items() if value > 2**53)
    assert_problem(response, 422, field)


def test_the_largest_bounded_integers_are_answered(acme: httpx.Client) -> None:
    acme.post(MESSAGES, json=USER)

    history = acme.get("/v1/conversations/trip/history", params={"before": 2**53})
    memory = acme.get("/v1/conversations/trip/memory", params={"max_messages": 2**53})

    assert (history.status_code, memory.status_code) == (200, 200)


def test_a_nul_in_the_conversation_cursor_is_422(acme: httpx.Client) -> None:
    response = acme.get("/v1/conversations", params={"after": "\x00"})

    assert_problem(response, 422, "after")
    assert "retry-after" not in response.headers


@pytest.mark.parametrize("reason", ["\u0000", "a\u0000b", "\ud800"])
def test_an_erasure_reason_no_store_keeps_is_422_and_erases_nothing(
    acme: httpx.Client, server: Running, reason: str
) -> None:
    acme.post(MESSAGES, json=USER)

    response = acme.post(
        "/v1/conversations/trip/erase",
        content=json.dumps({"reason": reason}).encode(),
        headers=JSON,
    )

    assert_problem(response, 422, "reason")
    assert server.ledger.conversation("acme:trip").erased_at is None  # type: ignore[union-attr]


def test_a_model_name_with_a_nul_is_422(acme: httpx.Client) -> None:
    acme.post(MESSAGES, json=USER)
    call = {"model": "gpt\u0000", "policy": {"kind": "message_window", "max_messages": 5}}

    response = acme.post("/v1/conversations/trip/model-calls", json=call)

    assert_problem(response, 422, "model")


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_a_body_not_sent_as_json_is_415(server: Running, content_type: str | None) -> None:
    headers = {"Authorization": f"Bearer {server.keys['acme']}"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    with httpx.Client(base_url=server.url, timeout=30) as client:
        response = client.post(MESSAGES, content=json.dumps(USER).encode(), headers=headers)

    assert_problem(response, 415, "Content-Type")
    assert server.ledger.version("acme:trip") == 0


def test_a_json_suffix_media_type_is_taken(acme: httpx.Client) -> None:
    response = acme.post(
        MESSAGES,
        content=json.dumps(USER).encode(),
        headers={"Content-Type": "application/merge-patch+json; charset=utf-8"},
    )

    assert response.status_code == 201, response.text


def test_invalid_utf8_is_422_naming_the_byte(acme: httpx.Client) -> None:
    response = acme.post(MESSAGES, content=b'{"role": "user", "content": "\xff"}', headers=JSON)

    assert_problem(response, 422, "body")
    assert response.json()["detail"] == "body: is not valid UTF-8: byte 0xff at byte 29"


def test_nesting_a_thousand_deep_is_422_saying_where(acme: httpx.Client) -> None:
    body = b'{"role": "user", "metadata": {"a": ' + b"[" * 1000 + b"]" * 1000 + b"}}"

    response = acme.post(MESSAGES, content=body, headers=JSON)

    assert_problem(response, 422, "body")
    assert "nested more than 100 levels deep, from character 133" in response.json()["detail"]
    assert len(response.text) < 500


def test_nesting_past_the_limit_names_a_short_field_path(acme: httpx.Client) -> None:
    body = b'{"role": "user", "metadata": {"a": ' + b"[" * 150 + b"]" * 150 + b"}}"

    response = acme.post(MESSAGES, content=body, headers=JSON)

    assert_problem(response, 422)
    assert response.json()["field"].startswith("metadata.a.0.0")
    assert len(response.json()["field"]) < 60


def test_an_if_match_past_the_bound_is_422(acme: httpx.Client) -> None:
    response = acme.post(MESSAGES, json=USER, headers={"If-Match": f'"{2**60}"'})

    assert_problem(response, 422, "If-Match")


def test_tool_arguments_over_the_default_limit_are_422_naming_the_limit(
    acme: httpx.Client, server: Running
) -> None:
    call = {"id": "c", "name": "f", "arguments": "x" * 1_900_000}

    response = acme.post(MESSAGES, json={"role": "assistant", "tool_calls": [call]})

    assert_problem(response, 422, "tool_calls.0.arguments")
    assert "max_arguments_bytes" in response.json()["detail"]
    assert server.ledger.version("acme:trip") == 0
