"""A turn in a provider's own shape, recorded over HTTP and rendered back the same."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.test_http import HTTP_BACKENDS, assert_problem, store_url
from tests.e2e.test_http_server import running
from tests.payloads import (
    ANTHROPIC_SYSTEM_BLOCKS,
    anthropic_thinking_tools,
    materialized,
    openai_parallel_calls,
    responses_reasoning_calls,
)

WINDOW = {"max_tokens": 1_000_000}


@pytest.fixture(params=HTTP_BACKENDS)
def acme(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[httpx.Client]:
    with running(store_url(request, tmp_path)) as server, server.client("acme") as client:
        yield client


def post(client: httpx.Client, body: dict[str, Any]) -> httpx.Response:
    return client.post("/v1/conversations/trip/messages", json=materialized(body))


def test_chat_completions_messages_come_back_as_they_were_sent(acme: httpx.Client) -> None:
    sent = openai_parallel_calls()

    recorded = post(acme, {"format": "openai", "messages": sent})
    rendered = acme.get("/v1/conversations/trip/memory", params={**WINDOW, "format": "openai"})

    assert recorded.status_code == 201, recorded.text
    assert rendered.json() == {"messages": materialized(sent), "omitted": []}


def test_responses_items_come_back_with_their_reasoning_and_ids(acme: httpx.Client) -> None:
    sent = responses_reasoning_calls()

    recorded = post(acme, {"format": "responses", "messages": sent})
    rendered = acme.get("/v1/conversations/trip/memory", params={**WINDOW, "format": "responses"})

    assert recorded.status_code == 201, recorded.text
    assert rendered.json() == {"items": materialized(sent), "omitted": []}


def test_anthropic_turns_come_back_with_their_thinking_and_system(acme: httpx.Client) -> None:
    sent = anthropic_thinking_tools()

    recorded = post(
        acme, {"format": "anthropic", "system": ANTHROPIC_SYSTEM_BLOCKS, "messages": sent}
    )
    rendered = acme.get("/v1/conversations/trip/memory", params={**WINDOW, "format": "anthropic"})

    assert recorded.status_code == 201, recorded.text
    body = rendered.json()
    assert body["messages"] == materialized(sent)
    assert body["system"] == materialized(ANTHROPIC_SYSTEM_BLOCKS)
    assert body["omitted"] == []


def test_reasoning_of_another_provider_is_left_out_and_listed(acme: httpx.Client) -> None:
    post(acme, {"format": "anthropic", "messages": anthropic_thinking_tools()})

    rendered = acme.get("/v1/conversations/trip/memory", params={**WINDOW, "format": "openai"})

    omitted = rendered.json()["omitted"]
    assert omitted
    assert {item["kind"] for item in omitted} >= {"reasoning"}
    assert all(item["reason"] for item in omitted)


def test_a_bad_provider_message_names_its_place_and_nothing_is_recorded(
    acme: httpx.Client,
) -> None:
    body = {
        "format": "openai",
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "user", "content": [{"type": "video_url", "video_url": {"url": "x"}}]},
        ],
    }

    response = post(acme, body)
    history = acme.get("/v1/conversations/trip/history")

    assert_problem(response, 422, "messages.1.content.0.type")
    assert history.status_code == 404


def test_a_system_beside_openai_messages_is_refused(acme: httpx.Client) -> None:
    response = post(
        acme,
        {
            "format": "openai",
            "system": "Be brief.",
            "messages": [{"role": "user", "content": "hi"}],
        },
    )

    assert_problem(response, 422, "system")


def test_a_provider_turn_retried_with_its_idempotency_key_records_once(acme: httpx.Client) -> None:
    body = {"format": "openai", "messages": openai_parallel_calls()}
    headers = {"Idempotency-Key": "turn-7"}

    first = acme.post("/v1/conversations/trip/messages", json=materialized(body), headers=headers)
    again = acme.post("/v1/conversations/trip/messages", json=materialized(body), headers=headers)

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["version"] == len(openai_parallel_calls())
