"""The HTTP API driven over a real socket, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from anthropic.types import MessageParam
from openai.types.chat import ChatCompletionMessageParam
from pydantic import TypeAdapter

from chatledger import messages_from_anthropic
from chatledger.domain import Limits
from chatledger.infrastructure.entrypoints.http.limits import record_body_bytes
from tests.e2e.test_http_server import Running, running
from tests.payloads import ANTHROPIC_SYSTEM_BLOCKS, anthropic_media, assert_valid_openai

HTTP_BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
PROBLEM_JSON = "application/problem+json"

USER = {"role": "user", "content": "What's the weather in Lisbon?"}
TURN = {
    "messages": [
        {"role": "system", "content": "You are a travel assistant."},
        USER,
        {
            "role": "assistant",
            "tool_calls": [{"id": "call_0", "name": "weather", "arguments": '{"city": "Lisbon"}'}],
        },
        {"role": "tool", "tool_call_id": "call_0", "content": '{"temp_c": 21}'},
        {"role": "assistant", "content": "21 °C and sunny."},
    ]
}


def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh store on the backend the test is parametrized with."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    # A small pool: the test server is shared, and these tests need few connections.
    return str(request.getfixturevalue("postgres_url")) + "&pool_size=4&max_overflow=2"


@pytest.fixture(params=HTTP_BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Running]:
    """The service on a fresh store, on each backend in turn."""
    with running(store_url(request, tmp_path)) as started:
        yield started


@pytest.fixture(params=HTTP_BACKENDS)
def unlimited_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Running]:
    """The service without a write rate limit, for tests that write fast on purpose."""
    with running(store_url(request, tmp_path), writes_per_second=None) as started:
        yield started


@pytest.fixture
def acme(server: Running) -> Iterator[httpx.Client]:
    with server.client("acme") as client:
        yield client


@pytest.fixture
def globex(server: Running) -> Iterator[httpx.Client]:
    with server.client("globex") as client:
        yield client


def recorded_ids(server: Running) -> list[str]:
    """Every conversation in the store, whoever's: what bad requests must leave unchanged."""
    return [record.conversation_id for record in server.ledger.conversations(limit=1000)]


def assert_problem(response: httpx.Response, status: int, field: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    problem = response.json()
    assert problem["status"] == status
    assert problem["type"]
    assert problem["title"]
    if field is not None:
        assert problem["field"] == field, problem


# Recording


def test_recording_a_message_answers_201_with_its_entry(acme: httpx.Client) -> None:
    response = acme.post("/v1/conversations/trip/messages", json=USER)

    assert response.status_code == 201
    body = response.json()
    assert body["conversation_id"] == "trip"
    assert body["version"] == 1
    assert response.headers["etag"] == '"1"'
    (entry,) = body["entries"]
    assert entry["position"] == 1
    assert entry["message"]["content"] == USER["content"]


def test_a_turn_is_recorded_as_one_save(acme: httpx.Client, server: Running) -> None:
    response = acme.post("/v1/conversations/trip/messages", json=TURN)

    assert response.status_code == 201
    assert [e["position"] for e in response.json()["entries"]] == [1, 2, 3, 4, 5]
    assert server.ledger.version("acme:trip") == 5


def test_a_retry_with_the_same_idempotency_key_returns_the_original(
    acme: httpx.Client, server: Running
) -> None:
    headers = {"Idempotency-Key": "req-42"}
    first = acme.post("/v1/conversations/trip/messages", json=USER, headers=headers)

    retry = acme.post("/v1/conversations/trip/messages", json=USER, headers=headers)

    assert (first.status_code, retry.status_code) == (201, 200)
    assert retry.json()["entries"] == first.json()["entries"]
    assert first.json()["entries"][0]["message"]["id"] == "req-42"
    assert server.ledger.version("acme:trip") == 1


def test_a_retried_turn_derives_one_id_per_message_from_the_key(
    acme: httpx.Client, server: Running
) -> None:
    headers = {"Idempotency-Key": "turn-7"}
    first = acme.post("/v1/conversations/trip/messages", json=TURN, headers=headers)

    retry = acme.post("/v1/conversations/trip/messages", json=TURN, headers=headers)

    assert retry.status_code == 200
    assert [e["message"]["id"] for e in retry.json()["entries"]] == [
        f"turn-7-{i}" for i in range(5)
    ]
    assert retry.json()["entries"] == first.json()["entries"]
    assert server.ledger.version("acme:trip") == 5


def test_a_retry_carrying_the_message_id_returns_the_original(acme: httpx.Client) -> None:
    message = {**USER, "id": "m-1"}
    first = acme.post("/v1/conversations/trip/messages", json=message)

    retry = acme.post("/v1/conversations/trip/messages", json=message)

    assert retry.status_code == 200
    assert retry.json()["entries"] == first.json()["entries"]


def race(pool: ThreadPoolExecutor, clients: list[httpx.Client], message: object) -> list[Any]:
    """Each client posts ``message`` at once, released together by a barrier."""
    start = threading.Barrier(len(clients))

    def send(client: httpx.Client) -> httpx.Response:
        start.wait(timeout=30)
        return client.post("/v1/conversations/race/messages", json=message)

    return list(pool.map(send, clients))


def test_of_identical_concurrent_requests_exactly_one_answers_201(
    unlimited_server: Running,
) -> None:
    server = unlimited_server
    clients = [server.client("acme") for _ in range(8)]
    for client in clients:
        client.get("/healthz")  # connected before the race starts
    with ThreadPoolExecutor(max_workers=len(clients)) as pool:
        rounds = [race(pool, clients, {**USER, "id": f"race-{n}"}) for n in range(20)]
    for client in clients:
        client.close()

    for responses in rounds:
        statuses = sorted(response.status_code for response in responses)
        assert statuses == [200] * 7 + [201], [r.text for r in responses]
        assert len({response.text for response in responses}) == 1
    assert server.ledger.version("acme:race") == 20


def test_an_idempotency_key_reused_for_other_content_is_409(
    acme: httpx.Client, server: Running
) -> None:
    headers = {"Idempotency-Key": "req-42"}
    acme.post("/v1/conversations/trip/messages", json=USER, headers=headers)

    response = acme.post(
        "/v1/conversations/trip/messages", json={**USER, "content": "else"}, headers=headers
    )

    assert_problem(response, 409)
    assert server.ledger.version("acme:trip") == 1


def test_if_match_with_a_stale_version_is_409_and_records_nothing(
    acme: httpx.Client, server: Running
) -> None:
    acme.post("/v1/conversations/trip/messages", json=TURN)

    response = acme.post("/v1/conversations/trip/messages", json=USER, headers={"If-Match": '"3"'})

    assert_problem(response, 409)
    assert response.json()["actual"] == 5
    assert response.headers["etag"] == '"5"'
    assert server.ledger.version("acme:trip") == 5


def test_if_match_with_the_current_version_records(acme: httpx.Client) -> None:
    acme.post("/v1/conversations/trip/messages", json=USER)

    response = acme.post("/v1/conversations/trip/messages", json=USER, headers={"If-Match": '"1"'})

    assert response.status_code == 201
    assert response.json()["version"] == 2


def test_if_match_that_is_no_version_is_422(acme: httpx.Client) -> None:
    response = acme.post("/v1/conversations/trip/messages", json=USER, headers={"If-Match": "*x"})

    assert_problem(response, 422, "If-Match")


# Reading


def test_history_pages_back_with_before_and_forward_with_after(acme: httpx.Client) -> None:
    acme.post("/v1/conversations/trip/messages", json=TURN)

    newest = acme.get("/v1/conversations/trip/history", params={"limit": 2}).json()
    older = acme.get(
        "/v1/conversations/trip/history", params={"limit": 2, "before": newest["older"]}
    ).json()
    forward = acme.get(
        "/v1/conversations/trip/history", params={"limit": 2, "after": older["newer"]}
    ).json()

    assert [e["position"] for e in newest["entries"]] == [4, 5]
    assert newest["newer"] is None
    assert newest["length"] == 5
    assert [e["position"] for e in older["entries"]] == [2, 3]
    assert [e["position"] for e in forward["entries"]] == [4, 5]


def test_memory_in_chatledger_format_lists_positions_and_tokens(acme: httpx.Client) -> None:
    acme.post("/v1/conversations/trip/messages", json=TURN)

    response = acme.get("/v1/conversations/trip/memory", params={"max_messages": 3})

    body = response.json()
    assert [e["position"] for e in body["entries"]] == [1, 5]
    assert body["position"] == 5
    assert body["tokens"] == sum(e["tokens"] for e in body["entries"]) + 3
    assert body["policy"] == {"kind": "message_window", "max_messages": 3, "start_on_user": False}
    assert response.headers["chatledger-position"] == "5"


def test_memory_at_a_position_is_the_view_as_it_was_then(acme: httpx.Client) -> None:
    acme.post("/v1/conversations/trip/messages", json=TURN)

    body = acme.get("/v1/conversations/trip/memory", params={"max_tokens": 1000, "at": 2}).json()

    assert [e["position"] for e in body["entries"]] == [1, 2]


def materialized(value: Any) -> Any:
    """Validated SDK data with its lazily checked iterables read to the end."""
    if isinstance(value, dict):
        return {key: materialized(item) for key, item in value.items()}
    if isinstance(value, Iterable) and not isinstance(value, str | bytes):
        return [materialized(item) for item in value]
    return value


def test_memory_in_openai_format_is_a_valid_chat_completions_request(acme: httpx.Client) -> None:
    acme.post("/v1/conversations/trip/messages", json=TURN)

    body = acme.get(
        "/v1/conversations/trip/memory", params={"max_tokens": 1000, "format": "openai"}
    ).json()

    adapter: TypeAdapter[Any] = TypeAdapter(ChatCompletionMessageParam)
    assert list(body) == ["messages", "omitted"]
    assert body["omitted"] == []
    for message in body["messages"]:
        assert materialized(adapter.validate_python(message)) == message
    assert [m["role"] for m in body["messages"]] == [
        "system",
        "user",
        "assistant",
        "tool",
        "assistant",
    ]


def test_memory_in_anthropic_format_is_a_valid_messages_request(acme: httpx.Client) -> None:
    acme.post("/v1/conversations/trip/messages", json=TURN)

    body = acme.get(
        "/v1/conversations/trip/memory", params={"max_tokens": 1000, "format": "anthropic"}
    ).json()

    adapter: TypeAdapter[Any] = TypeAdapter(MessageParam)
    assert body["system"] == "You are a travel assistant."
    for turn in body["messages"]:
        assert materialized(adapter.validate_python(turn)) == turn
    assert [t["role"] for t in body["messages"]] == ["user", "assistant", "user", "assistant"]
    assert body["messages"][2]["content"][0]["type"] == "tool_result"


def test_memory_of_imported_anthropic_turns_comes_back_in_anthropic_format_as_sent(
    acme: httpx.Client,
) -> None:
    turns = anthropic_media()
    messages = messages_from_anthropic(turns, system=ANTHROPIC_SYSTEM_BLOCKS)
    acme.post(
        "/v1/conversations/trip/messages",
        json={"messages": [m.model_dump(mode="json") for m in messages]},
    ).raise_for_status()

    body = acme.get(
        "/v1/conversations/trip/memory", params={"max_tokens": 10**6, "format": "anthropic"}
    ).json()

    assert body == {"system": ANTHROPIC_SYSTEM_BLOCKS, "messages": turns, "omitted": []}


def test_memory_with_images_in_openai_format_is_a_valid_chat_completions_request(
    acme: httpx.Client,
) -> None:
    messages = messages_from_anthropic(anthropic_media())
    acme.post(
        "/v1/conversations/trip/messages",
        json={"messages": [m.model_dump(mode="json") for m in messages]},
    ).raise_for_status()

    body = acme.get(
        "/v1/conversations/trip/memory", params={"max_tokens": 10**6, "format": "openai"}
    ).json()

    assert_valid_openai(body["messages"])
    assert body["messages"][0]["content"][0]["type"] == "image_url"


@pytest.mark.parametrize(
    "params", [{}, {"max_tokens": 10, "max_messages": 3}], ids=["neither", "both"]
)
def test_memory_needs_exactly_one_budget(acme: httpx.Client, params: dict[str, int]) -> None:
    acme.post("/v1/conversations/trip/messages", json=USER)

    response = acme.get("/v1/conversations/trip/memory", params=params)

    assert_problem(response, 422, "max_tokens")


def test_memory_with_an_unknown_format_names_the_parameter(acme: httpx.Client) -> None:
    acme.post("/v1/conversations/trip/messages", json=USER)

    response = acme.get("/v1/conversations/trip/memory", params={"max_tokens": 10, "format": "xml"})

    assert_problem(response, 422, "format")


def test_the_explanation_gives_why_each_message_was_left_out(acme: httpx.Client) -> None:
    acme.post("/v1/conversations/trip/messages", json=TURN)
    acme.post("/v1/conversations/trip/messages", json={"role": "system", "content": "Be brief."})

    body = acme.get("/v1/conversations/trip/memory/explanation", params={"max_messages": 3}).json()

    assert [e["position"] for e in body["view"]["entries"]] == [6, 5]
    assert body["excluded"] == [
        {"position": 1, "reason": "replaced system prompt"},
        {"position": 2, "reason": "evicted by the window"},
        {"position": 3, "reason": "evicted by the window"},
        {"position": 4, "reason": "evicted by the window"},
    ]


# Audit


def test_a_model_call_is_recorded_listed_and_replayed(acme: httpx.Client) -> None:
    acme.post("/v1/conversations/trip/messages", json=TURN)
    policy = {"kind": "token_window", "max_tokens": 1000}

    made = acme.post(
        "/v1/conversations/trip/model-calls",
        json={"model": "gpt-4o", "policy": policy, "position": 5, "response_id": "r1"},
    )
    listed = acme.get("/v1/conversations/trip/model-calls")
    replay = acme.get("/v1/conversations/trip/model-calls/1/replay")

    assert made.status_code == 201
    assert made.json()["positions"] == [1, 2, 3, 4, 5]
    assert listed.json() == [made.json()]
    assert replay.json()["identical"] is True


def test_replaying_a_call_that_was_never_made_names_the_number(acme: httpx.Client) -> None:
    acme.post("/v1/conversations/trip/messages", json=USER)

    response = acme.get("/v1/conversations/trip/model-calls/9/replay")

    assert_problem(response, 422, "number")


def test_verify_reports_an_intact_chain(acme: httpx.Client) -> None:
    acme.post("/v1/conversations/trip/messages", json=TURN)

    body = acme.get("/v1/conversations/trip/verify").json()

    assert body["intact"] is True
    assert body["length"] == 5
    assert body["breaks"] == []


def test_erasing_leaves_a_contentless_history_and_refuses_memory(acme: httpx.Client) -> None:
    acme.post("/v1/conversations/trip/messages", json=TURN)

    erased = acme.post("/v1/conversations/trip/erase", json={"reason": "GDPR request 118"})
    history = acme.get("/v1/conversations/trip/history").json()
    memory = acme.get("/v1/conversations/trip/memory", params={"max_tokens": 100})
    record = acme.post("/v1/conversations/trip/messages", json=USER)

    assert erased.status_code == 200
    assert all(e["erased"] and e["message"]["content"] is None for e in history["entries"])
    assert_problem(memory, 410)
    assert_problem(record, 410)
    assert acme.get("/v1/conversations/trip/verify").json()["intact"] is True


def test_erasing_needs_a_reason(acme: httpx.Client) -> None:
    acme.post("/v1/conversations/trip/messages", json=USER)

    response = acme.post("/v1/conversations/trip/erase", json={"reason": ""})

    assert_problem(response, 422, "reason")


# The service


def test_health_says_ok(acme: httpx.Client) -> None:
    assert acme.get("/healthz").json()["status"] == "ok"


def test_the_openapi_schema_is_served_and_lists_every_endpoint(acme: httpx.Client) -> None:
    schema = acme.get("/openapi.json").json()

    assert schema["openapi"].startswith("3.")
    assert {
        "/v1/conversations",
        "/v1/conversations/{conversation_id}/messages",
        "/v1/conversations/{conversation_id}/history",
        "/v1/conversations/{conversation_id}/memory",
        "/v1/conversations/{conversation_id}/memory/explanation",
        "/v1/conversations/{conversation_id}/model-calls",
        "/v1/conversations/{conversation_id}/model-calls/{number}/replay",
        "/v1/conversations/{conversation_id}/verify",
        "/v1/conversations/{conversation_id}/erase",
        "/v1/session",
        "/healthz",
    } <= set(schema["paths"])
    record = schema["paths"]["/v1/conversations/{conversation_id}/messages"]["post"]
    assert {"201", "200", "409", "413", "422"} <= set(record["responses"])
    assert {"Message", "Turn", "Problem"} <= set(schema["components"]["schemas"])
    assert {"HTTPBearer", "APIKeyCookie"} <= set(schema["components"]["securitySchemes"])


def test_no_docs_page_loads_scripts_from_a_cdn_and_the_schema_still_serves(
    acme: httpx.Client,
) -> None:
    docs = acme.get("/docs")
    page = acme.get("/")
    schema = acme.get("/openapi.json")

    assert docs.status_code == 404
    for served in (docs.text, page.text):
        assert "http://" not in served
        assert "https://" not in served
    assert schema.status_code == 200
    assert schema.json()["paths"]


def test_a_conversation_listing_pages_in_id_order(acme: httpx.Client) -> None:
    for conversation in ("c", "a", "b"):
        acme.post(f"/v1/conversations/{conversation}/messages", json=USER)

    first = acme.get("/v1/conversations", params={"limit": 2}).json()
    second = acme.get("/v1/conversations", params={"limit": 2, "after": first["next"]}).json()

    assert [c["id"] for c in first["conversations"]] == ["a", "b"]
    assert [c["id"] for c in second["conversations"]] == ["c"]
    assert second["next"] is None


# Errors and bad input: each gets its 4xx and leaves the store unchanged


BAD_MESSAGES: list[tuple[str, bytes, str]] = [
    ("content of the wrong type", b'{"role": "user", "content": 5}', "content"),
    ("role of the wrong type", b'{"role": ["user"], "content": "hi"}', "role"),
    ("unknown role", b'{"role": "wizard", "content": "hi"}', "role"),
    ("no role", b'{"content": "hi"}', "role"),
    ("lone surrogate", b'{"role": "user", "content": "bad \\ud800 text"}', "content"),
    ("NUL character", b'{"role": "user", "content": "a\\u0000b"}', "content"),
    ("unknown field", b'{"role": "user", "content": "hi", "mood": "happy"}', "mood"),
    ("tool without its call id", b'{"role": "tool", "content": "x"}', "tool_call_id"),
    ("turn item of wrong type", b'{"messages": [{"role": "user"}, 7]}', "messages.1"),
    ("empty turn", b'{"messages": []}', "messages"),
    ("a JSON array", b'[{"role": "user", "content": "hi"}]', "body"),
    ("a JSON string", b'"hello"', "body"),
    ("not JSON", b'{"role": "user", "content": ', "body"),
]


@pytest.mark.parametrize(
    ("body", "field"),
    [pytest.param(body, field, id=name) for name, body, field in BAD_MESSAGES],
)
def test_a_bad_message_is_422_naming_the_field_and_records_nothing(
    acme: httpx.Client, server: Running, body: bytes, field: str
) -> None:
    response = acme.post(
        "/v1/conversations/trip/messages",
        content=body,
        headers={"Content-Type": "application/json"},
    )

    assert_problem(response, 422)
    assert response.json()["field"].startswith(field), response.json()
    assert recorded_ids(server) == []


def test_a_bad_message_within_a_turn_records_none_of_the_turn(
    acme: httpx.Client, server: Running
) -> None:
    turn = {"messages": [USER, {"role": "user", "content": "x" * (1024 * 1024 + 1)}]}

    response = acme.post("/v1/conversations/trip/messages", json=turn)

    assert_problem(response, 422, "content")
    assert recorded_ids(server) == []


RECORD_LIMIT = record_body_bytes(Limits().max_attachment_bytes)


def test_a_body_over_the_record_limit_is_413_and_records_nothing(
    acme: httpx.Client, server: Running
) -> None:
    body = json.dumps({"role": "user", "content": "x" * RECORD_LIMIT}).encode()

    response = acme.post(
        "/v1/conversations/trip/messages",
        content=body,
        headers={"Content-Type": "application/json"},
    )

    assert_problem(response, 413)
    assert recorded_ids(server) == []


def test_a_streamed_body_without_a_length_is_cut_off_at_the_limit(
    acme: httpx.Client, server: Running
) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"role": "user", "content": "'
        for _ in range(RECORD_LIMIT // 65536 + 1):
            yield b"x" * 65536
        yield b'"}'

    response = acme.post(
        "/v1/conversations/trip/messages",
        content=chunks(),
        headers={"Content-Type": "application/json"},
    )

    assert_problem(response, 413)
    assert recorded_ids(server) == []


HOSTILE_IDS = [
    "x'; DROP TABLE chatledger_keys; --",
    "1 OR 1=1",
    "acme:trip",
    "globex:trip",
    "..",
    "../globex:trip",
    "..%2Fglobex%3Atrip",
    "%2E%2E%2Fetc%2Fpasswd",
    "a" * 101,
    "trip%00",
    "-leading-dash",
]


@pytest.mark.parametrize("conversation", HOSTILE_IDS)
def test_hostile_ids_are_refused_and_record_nothing(
    acme: httpx.Client, server: Running, conversation: str
) -> None:
    path = f"/v1/conversations/{conversation}/messages"

    response = acme.post(path, json=USER)

    assert response.status_code in {404, 405, 422}, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    assert recorded_ids(server) == []
    assert acme.get("/healthz").status_code == 200


def test_an_unknown_conversation_is_404_for_every_read(acme: httpx.Client) -> None:
    for path in ("history", "memory?max_tokens=10", "verify", "model-calls"):
        assert_problem(acme.get(f"/v1/conversations/never/{path}"), 404)
    assert_problem(acme.post("/v1/conversations/never/erase", json={"reason": "x"}), 404)


def test_an_unknown_route_is_a_404_problem(acme: httpx.Client) -> None:
    assert_problem(acme.get("/v1/nothing-here"), 404)


def test_no_credentials_is_401(server: Running) -> None:
    with server.client() as anonymous:
        response = anonymous.get("/v1/conversations")

    assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_an_unknown_api_key_is_401(server: Running) -> None:
    with httpx.Client(base_url=server.url, headers={"Authorization": "Bearer cl_nope"}) as client:
        assert_problem(client.post("/v1/conversations/trip/messages", json=USER), 401)

    assert recorded_ids(server) == []


# Tenants: no guess reaches another tenant's conversation


@pytest.fixture
def acme_trip(acme: httpx.Client) -> str:
    acme.post("/v1/conversations/trip/messages", json=TURN)
    return "trip"


@pytest.mark.parametrize(
    "path", ["history", "memory?max_messages=5", "memory/explanation?max_messages=5", "verify"]
)
def test_another_tenant_cannot_read_the_conversation(
    acme_trip: str, globex: httpx.Client, path: str
) -> None:
    assert_problem(globex.get(f"/v1/conversations/{acme_trip}/{path}"), 404)


def test_another_tenant_cannot_list_the_conversation(acme_trip: str, globex: httpx.Client) -> None:
    assert globex.get("/v1/conversations").json()["conversations"] == []


def test_another_tenant_cannot_see_model_calls(acme_trip: str, globex: httpx.Client) -> None:
    assert_problem(globex.get(f"/v1/conversations/{acme_trip}/model-calls"), 404)
    assert_problem(globex.get(f"/v1/conversations/{acme_trip}/model-calls/1/replay"), 404)


def test_another_tenant_cannot_erase_the_conversation(
    acme_trip: str, acme: httpx.Client, globex: httpx.Client
) -> None:
    response = globex.post(f"/v1/conversations/{acme_trip}/erase", json={"reason": "mine now"})

    assert_problem(response, 404)
    assert acme.get(f"/v1/conversations/{acme_trip}/memory?max_tokens=100").status_code == 200


def test_recording_under_the_same_id_starts_the_other_tenants_own_conversation(
    acme_trip: str, acme: httpx.Client, globex: httpx.Client
) -> None:
    response = globex.post(f"/v1/conversations/{acme_trip}/messages", json=USER)

    assert response.status_code == 201
    assert response.json()["version"] == 1
    assert acme.get(f"/v1/conversations/{acme_trip}/history").json()["length"] == 5
    assert globex.get(f"/v1/conversations/{acme_trip}/history").json()["length"] == 1


@pytest.mark.parametrize("guess", ["acme:trip", "acme%3Atrip", "..%2Facme%3Atrip", "*", "%2A"])
def test_no_guessed_id_reaches_another_tenant(
    acme_trip: str, globex: httpx.Client, guess: str
) -> None:
    response = globex.get(f"/v1/conversations/{guess}/history")

    assert response.status_code in {404, 422}
    assert "21 °C" not in response.text


def test_api_keys_are_stored_only_as_hashes(server: Running, tmp_path: Path) -> None:
    if server.ledger.backend == "sqlite":
        stored = b"".join(path.read_bytes() for path in tmp_path.glob("ledger.db*"))
    else:
        schema = server.ledger.application.factory.datastore.schema  # type: ignore[attr-defined]
        rows = server.ledger.application.factory.datastore.transaction  # type: ignore[attr-defined]
        with rows(commit=False) as cursor:
            cursor.execute(f"SELECT * FROM {schema}.chatledger_tenants")
            stored = repr(cursor.fetchall()).encode()

    for key in server.keys.values():
        assert key.encode() not in stored
    assert b"acme" in stored
