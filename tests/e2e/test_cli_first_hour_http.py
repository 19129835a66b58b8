"""The first hour with `chatledger serve` and `chatledger tenant`, run as the real executable.

Options go before or after the subcommand; tenants' keys are listed, rotated and revoked, and
the running server feels each change on the next request.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.cli import EXECUTABLE, run
from tests.e2e.test_cli_first_hour import lines
from tests.e2e.test_http_server import free_port

TRIP = {"role": "user", "content": "Plan a trip to Lisbon"}


@contextmanager
def serving(cwd: Path, *arguments: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """Run ``chatledger ARGUMENTS --port P`` (arguments naming `serve`); yield the base URL."""
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if k != "CHATLEDGER_DATABASE_URL"}
    environment["CHATLEDGER_SESSION_SECRET"] = "s" * 32
    environment.update(env or {})
    process = subprocess.Popen(
        [str(EXECUTABLE), *arguments, "--port", str(port)],
        cwd=cwd,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/healthz", timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None:
                    raise AssertionError(f"serve ended: {process.communicate()[1]}") from None
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.communicate(timeout=10)


def new_key(cwd: Path, *arguments: str) -> dict[str, object]:
    """The JSON a `chatledger ... --json` that makes a key prints."""
    result = run(*arguments, cwd=cwd)
    assert result.returncode == 0, result.stderr
    shown: dict[str, object] = json.loads(result.stdout)
    return shown


def status(url: str, key: object) -> int:
    """The status of listing conversations with ``key``."""
    headers = {"Authorization": f"Bearer {key}"}
    return httpx.get(f"{url}/v1/conversations", headers=headers, timeout=10).status_code


def test_serve_takes_the_counter_options_before_the_subcommand(tmp_path: Path) -> None:
    key = new_key(tmp_path, "--json", "tenant", "add", "acme")["key"]

    with serving(tmp_path, "--model", "gpt-4", "serve") as url:
        posted = httpx.post(
            f"{url}/v1/conversations/trip/messages",
            json=TRIP,
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
    exported = run("export", "acme:trip", cwd=tmp_path)

    assert posted.status_code == 201, posted.text
    assert [line["counter"] for line in lines(exported)] == ["tiktoken:gpt-4/cl100k_base"]


def test_serve_refuses_an_unknown_encoding_before_or_after_the_subcommand(
    tmp_path: Path,
) -> None:
    before = run("--encoding", "nope", "serve", "--port", "1", cwd=tmp_path)
    after = run("serve", "--encoding", "nope", "--port", "1", cwd=tmp_path)

    for result in (before, after):
        assert result.returncode == 1
        assert "unknown encoding 'nope'" in result.stderr


def test_tenant_takes_json_before_or_after_the_subcommand(tmp_path: Path) -> None:
    before = new_key(tmp_path, "--json", "tenant", "add", "acme")
    after = new_key(tmp_path, "tenant", "add", "beta", "--json")

    assert (before["tenant"], after["tenant"]) == ("acme", "beta")
    for shown in (before, after):
        assert str(shown["key"]).startswith("cl_")
        assert str(shown["key_id"]).startswith("key_")


def test_tenant_add_names_the_key_id_beside_the_key(tmp_path: Path) -> None:
    result = run("tenant", "add", "acme", cwd=tmp_path)

    listed = lines(run("--json", "tenant", "list", cwd=tmp_path))
    assert result.stdout.startswith("cl_")
    assert f"key id {listed[0]['key_id']}" in result.stderr


def test_tenant_list_shows_each_tenants_key_ids_and_never_a_key(tmp_path: Path) -> None:
    made = [new_key(tmp_path, "tenant", "add", name, "--json") for name in ("acme", "beta")]
    made.append(new_key(tmp_path, "tenant", "rotate", "acme", "--json"))

    table = run("tenant", "list", cwd=tmp_path)
    listed = lines(run("tenant", "list", "--json", cwd=tmp_path))

    assert table.returncode == 0
    # Listed by tenant, oldest key first: the order the keys were made in.
    assert [(shown["tenant"], shown["key_id"]) for shown in (made[0], made[2], made[1])] == [
        (shown["tenant"], shown["key_id"]) for shown in listed
    ]
    for shown in made:
        assert str(shown["key_id"]) in table.stdout
        assert str(shown["key"]) not in table.stdout + json.dumps(listed)


def test_a_revoked_key_is_refused_over_http_at_once(tmp_path: Path) -> None:
    acme = new_key(tmp_path, "tenant", "add", "acme", "--json")
    beta = new_key(tmp_path, "tenant", "add", "beta", "--json")

    with serving(tmp_path, "serve") as url:
        before = status(url, acme["key"])
        revoked = run("tenant", "revoke", str(acme["key_id"]), "--json", cwd=tmp_path)
        after = status(url, acme["key"])
        other = status(url, beta["key"])

    assert revoked.returncode == 0, revoked.stderr
    assert json.loads(revoked.stdout)["revoked"]["key_id"] == acme["key_id"]
    assert (before, after, other) == (200, 401, 200)
    assert [shown["tenant"] for shown in lines(run("--json", "tenant", "list", cwd=tmp_path))] == [
        "beta"
    ]


def test_a_rotated_key_works_beside_the_old_one_until_revoke_old(tmp_path: Path) -> None:
    old = new_key(tmp_path, "tenant", "add", "acme", "--json")

    with serving(tmp_path, "serve") as url:
        rotated = new_key(tmp_path, "tenant", "rotate", "acme", "--json")
        both = (status(url, old["key"]), status(url, rotated["key"]))
        newest = new_key(tmp_path, "--json", "tenant", "rotate", "acme", "--revoke-old")
        after = [status(url, shown["key"]) for shown in (old, rotated, newest)]

    revoked = newest["revoked"]
    assert both == (200, 200)
    assert after == [401, 401, 200]
    assert isinstance(revoked, list)
    assert {shown["key_id"] for shown in revoked} == {old["key_id"], rotated["key_id"]}


def test_revoking_an_unknown_key_id_fails_naming_the_list(tmp_path: Path) -> None:
    run("tenant", "add", "acme", cwd=tmp_path)

    result = run("tenant", "revoke", "key_000000000000", cwd=tmp_path)

    assert result.returncode == 2
    assert "tenant list" in result.stderr


def test_rotating_a_tenant_that_has_no_key_fails_naming_add(tmp_path: Path) -> None:
    run("tenant", "add", "acme", cwd=tmp_path)

    result = run("tenant", "rotate", "globex", cwd=tmp_path)

    assert result.returncode == 2
    assert "tenant add globex" in result.stderr


def test_a_conversation_recorded_with_tenant_is_the_tenants_over_http(tmp_path: Path) -> None:
    key = new_key(tmp_path, "tenant", "add", "acme", "--json")["key"]
    recorded = run(
        "--tenant", "acme", "record", "trip", "--role", "user", "--content", "hi", cwd=tmp_path
    )

    with serving(tmp_path, "serve") as url:
        history = httpx.get(
            f"{url}/v1/conversations/trip/history",
            headers={"Authorization": f"Bearer {key}"},
            timeout=10,
        )

    assert recorded.returncode == 0, recorded.stderr
    assert "recorded in trip" in recorded.stdout
    assert [entry["message"]["content"] for entry in history.json()["entries"]] == ["hi"]


def test_a_conversation_recorded_over_http_is_read_with_tenant(tmp_path: Path) -> None:
    key = new_key(tmp_path, "tenant", "add", "acme", "--json")["key"]
    with serving(tmp_path, "serve") as url:
        posted = httpx.post(
            f"{url}/v1/conversations/trip/messages",
            json=TRIP,
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
    assert posted.status_code == 201, posted.text

    option = run("history", "trip", "--tenant", "acme", "--json", cwd=tmp_path)
    variable = run("--json", "memory", "trip", cwd=tmp_path, env={"CHATLEDGER_TENANT": "acme"})
    untenanted = run("history", "trip", cwd=tmp_path)

    assert [json.loads(line)["message"]["content"] for line in option.stdout.splitlines()] == [
        TRIP["content"]
    ]
    assert json.loads(variable.stdout)["messages"][0]["content"] == TRIP["content"]
    assert untenanted.returncode == 1


def test_a_tenant_name_that_is_not_valid_is_named(tmp_path: Path) -> None:
    result = run(
        "--tenant",
        "Not A Tenant",
        "record",
        "trip",
        "--role",
        "user",
        "--content",
        "x",
        cwd=tmp_path,
    )

    assert result.returncode == 2
    assert "--tenant" in result.stderr


def test_the_local_tenants_demo_is_read_on_a_loopback_server_without_a_key(
    tmp_path: Path,
) -> None:
    local = {"CHATLEDGER_TENANT": "local"}
    demo = run("--json", "demo", cwd=tmp_path, env=local)
    conversation = str(json.loads(demo.stdout)["conversation_id"])

    with serving(tmp_path, "serve", env=local) as url:
        listed = httpx.get(f"{url}/v1/conversations", timeout=10)
        written = httpx.post(f"{url}/v1/conversations/notes/messages", json=TRIP, timeout=10)

    assert conversation.startswith("local:demo-")
    assert [c["id"] for c in listed.json()["conversations"]] == [
        conversation.removeprefix("local:")
    ]
    assert written.status_code == 401


def test_serve_refuses_a_local_tenant_on_a_host_beyond_loopback(tmp_path: Path) -> None:
    result = run("serve", "--host", "0.0.0.0", "--local-tenant", "local", cwd=tmp_path)

    assert result.returncode == 2
    assert "loopback" in result.stderr


def test_revoking_a_key_ends_the_browser_sessions_it_signed_in(tmp_path: Path) -> None:
    acme = new_key(tmp_path, "tenant", "add", "acme", "--json")
    other = new_key(tmp_path, "tenant", "add", "acme", "--json")

    with serving(tmp_path, "serve") as url:
        revoked_browser = httpx.Client(base_url=url, timeout=10)
        kept_browser = httpx.Client(base_url=url, timeout=10)
        for browser, shown in ((revoked_browser, acme), (kept_browser, other)):
            signed_in = browser.post(
                "/v1/session", json={"api_key": shown["key"]}, headers={"Origin": url}
            )
            assert signed_in.status_code == 200, signed_in.text
        before = revoked_browser.get("/v1/conversations").status_code
        run("tenant", "revoke", str(acme["key_id"]), cwd=tmp_path)
        after = revoked_browser.get("/v1/conversations").status_code
        kept = kept_browser.get("/v1/conversations").status_code
        revoked_browser.close()
        kept_browser.close()

    assert (before, after, kept) == (200, 401, 200)
