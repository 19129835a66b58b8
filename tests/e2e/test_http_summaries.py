"""Summaries and prompt text over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import pytest

from chatledger.domain import Message
from tests.e2e.test_http import HTTP_BACKENDS, assert_problem, store_url
from tests.e2e.test_http_server import Running, running
from tests.fakes import FakeSummarizer

TALK = {
    "messages": [
        {"role": "system", "content": "You are a weather assistant."},
        *[
            message
            for turn in range(10)
            for message in (
                {"role": "user", "content": f"question {turn} about the weather there"},
                {"role": "assistant", "content": f"answer {turn} says it is sunny there"},
            )
        ],
    ]
}
"""A system prompt and ten turns: positions 1..21."""
WINDOW = {"kind": "summary_window", "max_tokens": 60}


def failing(previous: str | None, messages: Sequence[Message]) -> str:
    raise TimeoutError("the model took too long")


@pytest.fixture(params=HTTP_BACKENDS)
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Running]:
    """The service with a summarizer that says what it was given, on each backend."""
    with running(
        store_url(request, tmp_path), summarizer=FakeSummarizer(reply="Sunny all along.")
    ) as server:
        yield server


@pytest.fixture
def acme(served: Running) -> Iterator[httpx.Client]:
    with served.client("acme") as client:
        recorded = client.post("/v1/conversations/trip/messages", json=TALK)
        assert recorded.status_code == 201, recorded.text
        yield client


def test_a_recorded_summary_is_listed_with_its_coverage(acme: httpx.Client) -> None:
    recorded = acme.post(
        "/v1/conversations/trip/summaries", json={"covers": 11, "text": "Sunny.", "model": "m"}
    )

    listed = acme.get("/v1/conversations/trip/summaries").json()

    assert recorded.status_code == 201, recorded.text
    assert (recorded.json()["number"], recorded.json()["covers"]) == (1, 11)
    assert listed["conversation_id"] == "trip"
    assert [s["text"] for s in listed["summaries"]] == ["Sunny."]


def test_a_summary_splitting_history_badly_is_422_naming_covers(acme: httpx.Client) -> None:
    response = acme.post("/v1/conversations/trip/summaries", json={"covers": 99, "text": "x"})

    assert_problem(response, 422, "covers")


def test_another_tenant_cannot_read_or_write_the_summaries(
    acme: httpx.Client, served: Running
) -> None:
    acme.post("/v1/conversations/trip/summaries", json={"covers": 11, "text": "Sunny."})
    with served.client("globex") as globex:
        read = globex.get("/v1/conversations/trip/summaries")
        written = globex.post("/v1/conversations/trip/summaries", json={"covers": 1, "text": "x"})

    assert (read.status_code, written.status_code) == (404, 404)


def test_compacting_records_what_the_servers_summarizer_wrote(
    acme: httpx.Client, served: Running
) -> None:
    response = acme.post("/v1/conversations/trip/compact", json={"policy": WINDOW})

    assert response.status_code == 201, response.text
    summary = response.json()["summary"]
    assert (summary["text"], summary["model"]) == ("Sunny all along.", "fake-summarizer")
    assert served.ledger.summaries("acme:trip")[0].covers == summary["covers"]


def test_compacting_with_nothing_left_out_answers_200_and_null(acme: httpx.Client) -> None:
    window = {**WINDOW, "max_tokens": 10_000}

    response = acme.post("/v1/conversations/trip/compact", json={"policy": window})

    assert (response.status_code, response.json()) == (200, {"summary": None})


def test_the_memory_view_with_summaries_shows_the_summary(acme: httpx.Client) -> None:
    acme.post("/v1/conversations/trip/compact", json={"policy": WINDOW})

    view = acme.get(
        "/v1/conversations/trip/memory", params={"max_tokens": 60, "summaries": "true"}
    ).json()
    openai = acme.get(
        "/v1/conversations/trip/memory",
        params={"max_tokens": 60, "summaries": "true", "format": "openai"},
    ).json()

    assert view["policy"]["kind"] == "summary_window"
    assert view["summary"]["message"]["content"].endswith("Sunny all along.")
    assert openai["messages"][1]["content"] == view["summary"]["message"]["content"]


def test_the_explanation_names_the_covering_summary(acme: httpx.Client) -> None:
    acme.post("/v1/conversations/trip/compact", json={"policy": WINDOW})

    explained = acme.get(
        "/v1/conversations/trip/memory/explanation",
        params={"max_tokens": 60, "summaries": "true"},
    ).json()

    reasons = {e["position"]: e["reason"] for e in explained["excluded"]}
    assert reasons[2] == "covered by summary #1"


def test_a_summary_window_by_messages_is_422_naming_summaries(acme: httpx.Client) -> None:
    response = acme.get(
        "/v1/conversations/trip/memory", params={"max_messages": 5, "summaries": "true"}
    )

    assert_problem(response, 422, "summaries")


def test_memory_as_prompt_text_renders_the_template(acme: httpx.Client) -> None:
    response = acme.get(
        "/v1/conversations/trip/memory",
        params={"max_tokens": 30, "format": "prompt-text", "template": "{instructions}\n{memory}"},
    )

    assert response.status_code == 200, response.text
    assert response.json() == {
        "format": "prompt-text",
        "prompt": "You are a weather assistant.\n"
        "user: question 9 about the weather there\n"
        "assistant: answer 9 says it is sunny there",
    }


def test_a_prompt_template_without_memory_is_422_naming_template(acme: httpx.Client) -> None:
    response = acme.get(
        "/v1/conversations/trip/memory",
        params={"max_tokens": 40, "format": "prompt-text", "template": "{instructions}"},
    )

    assert_problem(response, 422, "template")


def test_a_server_without_a_summarizer_answers_501(sqlite_url: str) -> None:
    with running(sqlite_url) as server, server.client("acme") as client:
        client.post("/v1/conversations/trip/messages", json=TALK)

        response = client.post("/v1/conversations/trip/compact", json={"policy": WINDOW})

    assert_problem(response, 501)
    assert response.json()["type"].endswith("no-summarizer")


def test_a_failing_summarizer_answers_502_and_records_nothing(sqlite_url: str) -> None:
    with (
        running(sqlite_url, summarizer=failing) as server,
        server.client("acme") as client,
    ):
        client.post("/v1/conversations/trip/messages", json=TALK)

        response = client.post("/v1/conversations/trip/compact", json={"policy": WINDOW})

        assert server.ledger.summaries("acme:trip") == []
    assert_problem(response, 502)
    assert "TimeoutError: the model took too long" in response.json()["cause"]
