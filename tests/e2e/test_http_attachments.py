"""Attachments over HTTP: a 20 MiB image records, its bytes come back by digest, limits are 413."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_http import HTTP_BACKENDS, PROBLEM_JSON, store_url
from tests.e2e.test_http_server import Running, running, served

MIB = 1024 * 1024
LARGEST = os.urandom(20 * MIB)
"""An image at the default ``max_attachment_bytes``."""


def with_image(data: bytes) -> dict[str, object]:
    return {
        "role": "user",
        "content": [
            {"type": "text", "text": "What is in this picture?"},
            {"type": "image", "data": base64.b64encode(data).decode(), "media_type": "image/png"},
        ],
    }


@pytest.fixture(params=HTTP_BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Running]:
    with running(store_url(request, tmp_path)) as started:
        yield started


@pytest.fixture
def acme(server: Running) -> Iterator[httpx.Client]:
    with server.client("acme") as client:
        client.timeout = httpx.Timeout(120)
        yield client


def test_an_image_at_the_size_limit_records_and_history_holds_its_reference(
    acme: httpx.Client,
) -> None:
    recorded = acme.post("/v1/conversations/photo/messages", json=with_image(LARGEST))
    history = acme.get("/v1/conversations/photo/history")

    assert recorded.status_code == 201, recorded.text[:500]
    part = history.json()["entries"][0]["message"]["content"][1]
    assert part["data"] is None
    assert part["attachment"] == {
        "digest": hashlib.sha256(LARGEST).hexdigest(),
        "media_type": "image/png",
        "size": 20 * MIB,
    }
    assert len(history.content) < 4096


def test_an_attachment_is_downloaded_by_its_digest_as_bytes_a_browser_does_not_run(
    acme: httpx.Client,
) -> None:
    image = os.urandom(MIB)
    acme.post("/v1/conversations/photo/messages", json=with_image(image))

    response = acme.get(f"/v1/conversations/photo/attachments/{hashlib.sha256(image).hexdigest()}")

    assert response.status_code == 200
    assert response.content == image
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-disposition"].startswith("attachment")


def test_an_unknown_digest_is_404_naming_the_digest(acme: httpx.Client) -> None:
    acme.post("/v1/conversations/photo/messages", json=with_image(os.urandom(MIB)))

    response = acme.get(f"/v1/conversations/photo/attachments/{'0' * 64}")

    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["field"] == "digest"


def test_a_malformed_digest_is_422(acme: httpx.Client) -> None:
    acme.post("/v1/conversations/photo/messages", json=with_image(os.urandom(MIB)))

    response = acme.get("/v1/conversations/photo/attachments/not-a-digest")

    assert response.status_code == 422
    assert response.json()["field"] == "digest"


def test_another_tenant_cannot_download_an_attachment(server: Running, acme: httpx.Client) -> None:
    image = os.urandom(MIB)
    acme.post("/v1/conversations/photo/messages", json=with_image(image))

    with server.client("globex") as globex:
        response = globex.get(
            f"/v1/conversations/photo/attachments/{hashlib.sha256(image).hexdigest()}"
        )

    assert response.status_code == 404


def test_an_erased_conversations_attachment_is_410(acme: httpx.Client) -> None:
    image = os.urandom(MIB)
    acme.post("/v1/conversations/photo/messages", json=with_image(image))
    acme.post("/v1/conversations/photo/erase", json={"reason": "subject request"})

    response = acme.get(f"/v1/conversations/photo/attachments/{hashlib.sha256(image).hexdigest()}")

    assert response.status_code == 410


def test_a_record_body_over_its_limit_is_413_naming_the_limit(sqlite_url: str) -> None:
    limit = 4 * MIB
    with (
        running(sqlite_url, max_record_body_bytes=limit) as server,
        server.client("acme") as acme,
    ):
        response = acme.post("/v1/conversations/photo/messages", json=with_image(LARGEST))
        stored = server.ledger.version("acme:photo")

    assert response.status_code == 413
    problem = response.json()
    assert (problem["limit"], problem["max_bytes"]) == ("max_record_body_bytes", limit)
    assert "max_record_body_bytes" in problem["detail"]
    assert stored == 0


def test_other_endpoints_keep_the_small_body_limit(sqlite_url: str) -> None:
    with running(sqlite_url) as server, server.client("acme") as acme:
        response = acme.post(
            "/v1/conversations/photo/model-calls",
            content=json.dumps({"model": "x" * (3 * MIB)}).encode(),
            headers={"Content-Type": "application/json"},
        )

    assert response.status_code == 413
    assert response.json()["limit"] == "max_body_bytes"


def test_an_image_over_the_attachment_limit_is_422_naming_its_part(sqlite_url: str) -> None:
    with running(sqlite_url) as server, server.client("acme") as acme:
        acme.timeout = httpx.Timeout(120)
        response = acme.post("/v1/conversations/photo/messages", json=with_image(LARGEST + b"\0"))

    assert response.status_code == 422, response.text[:500]
    assert response.json()["field"] == "content.1.data"


def test_serve_takes_the_record_body_limit_as_an_option(tmp_path: Path) -> None:
    # The limit answers before authentication: no key is needed to be told the body is large.
    with (
        served(tmp_path, "--max-record-body-bytes", str(MIB)) as server,
        httpx.Client(base_url=server.url, timeout=60) as client,
    ):
        response = client.post("/v1/conversations/photo/messages", json=with_image(LARGEST))

    assert response.status_code == 413
    assert response.json()["max_bytes"] == MIB
