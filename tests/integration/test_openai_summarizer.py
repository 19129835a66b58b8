"""OpenAISummarizer against a loopback server speaking the Chat Completions API, started here."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from chatledger import ChatLedger, Message, OpenAISummarizer, SummarizerFailed, SummaryWindow
from chatledger.domain import InvalidInput
from chatledger.infrastructure.summarizers import NO_PREVIOUS
from tests.fakes import FakeTokenCounter

CONV = "conv-loop"
WINDOW = SummaryWindow(max_tokens=60)
TEMPLATE = "Before: {previous}\nSince:\n{messages}\nSummarize."


@dataclass
class Endpoint:
    """What the loopback server answers, and every request body it received."""

    reply: str | None = "They talked about the weather in Lisbon: sunny, 21 C."
    status: int = 200
    delay: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    keys: list[str | None] = field(default_factory=list)
    """The Authorization header of each request."""


def completion(model: str, reply: str | None) -> dict[str, Any]:
    """A Chat Completions response as the API returns one."""
    return {
        "id": "chatcmpl-loopback",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }


@contextmanager
def loopback(endpoint: Endpoint) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 answering POST /v1/chat/completions; yields its base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            endpoint.requests.append(body)
            endpoint.keys.append(self.headers.get("Authorization"))
            time.sleep(endpoint.delay)
            if self.path != "/v1/chat/completions" or endpoint.status != 200:
                status = 404 if endpoint.status == 200 else endpoint.status
                payload = {"error": {"message": "loopback failure", "type": "server_error"}}
            else:
                status, payload = 200, completion(body["model"], endpoint.reply)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the test reads what was sent, not the log."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def talking() -> Iterator[ChatLedger]:
    with ChatLedger.open("memory://", FakeTokenCounter()) as ledger:
        ledger.record(CONV, Message(role="system", content="You are a weather assistant."))
        for turn in range(12):
            ledger.record(
                CONV,
                [
                    Message(role="user", content=f"question {turn} about the weather"),
                    Message(role="assistant", content=f"answer {turn}: sunny"),
                ],
            )
        yield ledger


def summarizer(url: str, **options: Any) -> OpenAISummarizer:
    return OpenAISummarizer(
        url, "loop-model", api_key="sk-loopback", template=TEMPLATE, max_retries=0, **options
    )


def test_the_server_receives_what_the_template_says(talking: ChatLedger) -> None:
    endpoint = Endpoint()
    with loopback(endpoint) as url:
        summary = talking.compact(CONV, summarizer(url), WINDOW)

    assert summary is not None
    (request,) = endpoint.requests
    left_out = talking.history(CONV, after=1, before=summary.covers + 1).messages
    assert request["model"] == "loop-model"
    assert request["messages"] == [
        {
            "role": "user",
            "content": f"Before: {NO_PREVIOUS}\nSince:\n"
            + "\n".join(f"{m.role}: {m.content}" for m in left_out)
            + "\nSummarize.",
        }
    ]
    assert endpoint.keys == ["Bearer sk-loopback"]


def test_what_the_server_returns_is_recorded_with_the_model(talking: ChatLedger) -> None:
    endpoint = Endpoint()
    with loopback(endpoint) as url:
        summary = talking.compact(CONV, summarizer(url), WINDOW)

    assert summary is not None
    assert (summary.text, summary.model) == (endpoint.reply, "loop-model")
    assert talking.summaries(CONV) == [summary]


def test_the_next_compaction_sends_the_previous_summary(talking: ChatLedger) -> None:
    endpoint = Endpoint(reply="Weather: sunny.")
    with loopback(endpoint) as url:
        talking.compact(CONV, summarizer(url), WINDOW)
        talking.record(CONV, [Message(role="user", content=f"more {i} words") for i in range(6)])
        talking.compact(CONV, summarizer(url), WINDOW)

    assert endpoint.requests[1]["messages"][0]["content"].startswith("Before: Weather: sunny.\n")


@pytest.mark.parametrize(
    "endpoint",
    [Endpoint(status=500), Endpoint(reply=None), Endpoint(reply="")],
    ids=["server-error", "no-content", "empty-content"],
)
def test_a_failing_endpoint_records_nothing(talking: ChatLedger, endpoint: Endpoint) -> None:
    history = talking.history(CONV).entries
    with loopback(endpoint) as url, pytest.raises(SummarizerFailed):
        talking.compact(CONV, summarizer(url), WINDOW)

    assert talking.summaries(CONV) == []
    assert talking.history(CONV).entries == history


def test_an_endpoint_slower_than_the_timeout_records_nothing(talking: ChatLedger) -> None:
    endpoint = Endpoint(delay=3)
    with loopback(endpoint) as url, pytest.raises(SummarizerFailed) as raised:
        talking.compact(CONV, summarizer(url), WINDOW, timeout=0.5)

    assert "no reply within 0.5 s" in str(raised.value)
    assert talking.summaries(CONV) == []


def test_a_template_without_the_messages_is_rejected_naming_it() -> None:
    with pytest.raises(InvalidInput) as raised:
        OpenAISummarizer("http://127.0.0.1:9/v1", "m", template="Summarize {previous}")

    assert raised.value.field == "template"
