"""Serving over real sockets: the harness the HTTP tests share, and `chatledger serve` itself."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from chatledger.infrastructure import ChatLedger
from chatledger.infrastructure.entrypoints.http import (
    add_tenant,
    create_app,
    serve_main,
    tenant_directory,
    tenant_main,
)
from tests.fakes import FakeTokenCounter

SESSION_SECRET = b"test-session-secret-0123456789abcdef"
TENANTS = ("acme", "globex")


@dataclass(frozen=True)
class Running:
    """A server on a loopback port, the ledger behind it, and each tenant's API key."""

    url: str
    ledger: ChatLedger
    keys: dict[str, str]

    def client(self, tenant: str | None = None) -> httpx.Client:
        """A client of the server, authenticated as ``tenant`` when one is given."""
        headers = {"Authorization": f"Bearer {self.keys[tenant]}"} if tenant else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """Run ``app`` under uvicorn in a thread on a free loopback port; yield its base URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def running(url: str, **options: object) -> Iterator[Running]:
    """The HTTP service over a fresh ledger at ``url``, with tenants acme and globex."""
    with ChatLedger.open(url, token_counter=FakeTokenCounter()) as ledger:
        keys = {tenant: add_tenant(ledger, tenant) for tenant in TENANTS}
        app = create_app(
            ledger,
            tenants=tenant_directory(ledger),
            session_secret=SESSION_SECRET,
            **options,  # type: ignore[arg-type]  # the tests pass create_app's keywords
        )
        with serving(app) as base_url:
            yield Running(base_url, ledger, keys)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_the_harness_serves_health_over_a_real_socket(sqlite_url: str) -> None:
    with running(sqlite_url) as server, server.client() as client:
        response = client.get("/healthz")

    assert response.json() == {"status": "ok", "backend": "sqlite"}


def test_tenant_add_prints_a_key_that_authenticates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"

    code = tenant_main(["add", "acme", "--db", url])

    key = capsys.readouterr().out.strip()
    assert code == 0
    with ChatLedger.open(url, token_counter=FakeTokenCounter()) as ledger:
        assert tenant_directory(ledger).tenant_for(key) == "acme"


def test_tenant_add_refuses_a_bad_name(tmp_path: Path) -> None:
    code = tenant_main(["add", "Not A Name", "--db", f"sqlite:///{tmp_path / 'ledger.db'}"])

    assert code == 2


@dataclass
class Served:
    """A `chatledger serve` process on a loopback port, and what it printed once stopped."""

    url: str
    db: str
    output: str = ""


@contextmanager
def served(tmp_path: Path, *options: str) -> Iterator[Served]:
    """Run `chatledger serve` with ``options`` in a process of its own until the block ends."""
    port = free_port()
    db = f"sqlite:///{tmp_path / 'served.db'}"
    command = [
        sys.executable,
        "-c",
        "import sys; from chatledger.infrastructure.entrypoints.http import serve_main; "
        "sys.exit(serve_main(sys.argv[1:]))",
        "--db",
        db,
        "--port",
        str(port),
        *options,
    ]
    env = {**os.environ, "CHATLEDGER_SESSION_SECRET": "s" * 32}
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    server = Served(f"http://127.0.0.1:{port}", db)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{server.url}/healthz", timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield server
    finally:
        process.terminate()
        server.output, _ = process.communicate(timeout=10)


def test_serve_runs_the_service_until_stopped(tmp_path: Path) -> None:
    with served(tmp_path) as server:
        response = httpx.get(f"{server.url}/healthz", timeout=5)
        page = httpx.get(f"{server.url}/", timeout=5)

    assert response.json()["status"] == "ok"
    assert page.status_code == 200
    assert "set-cookie" not in page.headers
    assert "Uvicorn running" in server.output


def test_a_default_serve_refuses_anonymous_writes_naming_the_api_key(tmp_path: Path) -> None:
    big = {"role": "user", "content": "x" * 1_000_000}
    with served(tmp_path) as server, httpx.Client(base_url=server.url, timeout=30) as browser:
        browser.get("/")
        started = browser.post("/v1/session/conversations")
        shown = browser.get("/v1/session").json().get("conversation") or "trip"
        writes = [browser.post(f"/v1/conversations/{shown}/messages", json=big) for _ in range(5)]

    for refused in (started, *writes):
        assert refused.status_code == 401
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["field"] == "Authorization"
        assert "no anonymous writes" in refused.json()["detail"]
    with ChatLedger.open(server.db, token_counter=FakeTokenCounter()) as ledger:
        assert ledger.conversations() == []


def test_serve_allow_anonymous_writes_lets_a_browser_write_in_the_page_tenant(
    tmp_path: Path,
) -> None:
    with (
        served(tmp_path, "--allow-anonymous-writes") as server,
        httpx.Client(base_url=server.url, timeout=30) as browser,
    ):
        started = browser.post("/v1/session/conversations")
        conversation = started.json()["conversation"]
        posted = browser.post(
            f"/v1/conversations/{conversation}/messages",
            json={"role": "user", "content": "hi"},
            headers={"Origin": server.url, "X-CSRF-Token": started.json()["csrf_token"]},
        )

    assert (started.status_code, posted.status_code) == (201, 201)
    with ChatLedger.open(server.db, token_counter=FakeTokenCounter()) as ledger:
        assert ledger.version(f"web:{conversation}") == 1


def test_serve_refuses_a_page_tenant_without_anonymous_writes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = serve_main(["--page-tenant", "web"])

    assert code == 2
    assert "--allow-anonymous-writes" in capsys.readouterr().err


def test_serve_help_names_the_security_options(capsys: pytest.CaptureFixture[str]) -> None:
    code = serve_main(["--help"])

    shown = capsys.readouterr().out
    assert code == 0
    for option in (
        "--allow-anonymous-writes",
        "--auth-failures-per-minute",
        "--writes-per-second",
        "X-CSRF-Token",
        "SECURITY.md",
    ):
        assert option in shown
