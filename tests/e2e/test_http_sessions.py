"""Browser sessions over a real socket: signed cookies bound to a tenant and its conversations."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from chatledger.infrastructure.entrypoints.http.sessions import COOKIE_NAME
from tests.e2e.test_http_server import Running, running

USER = {"role": "user", "content": "hello from the page"}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Running]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'ledger.db'}"
    else:
        # A small pool: the test server is shared, and these tests need few connections.
        url = str(request.getfixturevalue("postgres_url")) + "&pool_size=4&max_overflow=2"
    with running(url, page_tenant="web") as started:
        yield started


OTHER_ORIGIN = "http://127.0.0.1:1"
"""A page on another port of the same host: the same site, so the browser sends the cookie."""


def origin_of(client: httpx.Client) -> str:
    return str(client.base_url).rstrip("/")


def open_page(client: httpx.Client) -> httpx.Response:
    """Open the page and start a conversation, as its script does on the first write.

    The client then sends what the page's own writes carry: its Origin and the CSRF token.
    """
    client.get("/").raise_for_status()
    started = client.post("/v1/session/conversations", headers={"Origin": origin_of(client)})
    started.raise_for_status()
    client.headers.update(
        {"Origin": origin_of(client), "X-CSRF-Token": started.json()["csrf_token"]}
    )
    return started


@contextmanager
def cookie_only(server: Running, browser: httpx.Client) -> Iterator[httpx.Client]:
    """What a page of another origin can make the browser send: the cookie, but no token."""
    with httpx.Client(base_url=server.url, cookies=browser.cookies, timeout=30) as client:
        yield client


@pytest.fixture
def browser(server: Running) -> Iterator[httpx.Client]:
    """A browser that opened the page and started a conversation: it holds a session cookie."""
    with httpx.Client(base_url=server.url, timeout=30) as client:
        open_page(client)
        yield client


@contextmanager
def other_browser(server: Running) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        open_page(client)
        yield client


def stored_sessions(server: Running) -> int:
    """How many sessions the server's table holds."""
    tables = server.ledger.tables
    assert tables is not None
    with tables.transaction() as cursor:
        cursor.execute(f"SELECT COUNT(*) AS n FROM {tables.name('sessions')}")
        count: int = cursor.fetchone()["n"]
    return count


def current(client: httpx.Client) -> str:
    conversation: str = client.get("/v1/session").json()["conversation"]
    return conversation


def test_opening_the_page_stores_no_session(server: Running) -> None:
    pages = [httpx.get(f"{server.url}/", timeout=30) for _ in range(50)]

    assert [page.status_code for page in pages] == [200] * 50
    assert not any("set-cookie" in page.headers for page in pages)
    assert stored_sessions(server) == 0


def test_a_write_without_a_session_starts_none(server: Running) -> None:
    response = httpx.post(f"{server.url}/v1/conversations/mine/messages", json=USER)

    assert response.status_code == 401
    assert response.json()["field"] == "Authorization"
    assert "set-cookie" not in response.headers
    assert stored_sessions(server) == 0


def test_starting_a_conversation_starts_the_session(server: Running) -> None:
    with httpx.Client(base_url=server.url) as page:
        started = open_page(page)
        session = page.get("/v1/session").json()

    assert started.status_code == 201
    assert session["conversations"] == [started.json()["conversation"]]
    assert stored_sessions(server) == 1


def test_the_session_cookie_is_httponly_and_samesite_lax(server: Running) -> None:
    response = httpx.post(f"{server.url}/v1/session/conversations")

    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE_NAME}=")
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Secure" not in cookie  # served on localhost
    assert "Max-Age" not in cookie
    assert "expires" not in cookie.lower()


def test_cookies_are_secure_when_configured(sqlite_url: str) -> None:
    with running(sqlite_url, page_tenant="web", secure_cookies=True) as server:
        response = httpx.post(f"{server.url}/v1/session/conversations")

    assert "Secure" in response.headers["set-cookie"]


def test_the_page_keeps_its_conversation_across_requests(browser: httpx.Client) -> None:
    conversation = current(browser)

    posted = browser.post(f"/v1/conversations/{conversation}/messages", json=USER)
    browser.get("/")  # the page reloaded

    assert posted.status_code == 201
    assert current(browser) == conversation
    history = browser.get(f"/v1/conversations/{conversation}/history").json()
    assert [e["message"]["content"] for e in history["entries"]] == [USER["content"]]


def test_the_page_records_into_its_tenant(browser: httpx.Client, server: Running) -> None:
    conversation = current(browser)

    browser.post(f"/v1/conversations/{conversation}/messages", json=USER)

    assert server.ledger.version(f"web:{conversation}") == 1


def test_a_tampered_cookie_starts_a_new_session(server: Running, browser: httpx.Client) -> None:
    conversation = current(browser)
    browser.post(f"/v1/conversations/{conversation}/messages", json=USER)
    cookie = browser.cookies[COOKIE_NAME]
    tampered = {"Cookie": f"{COOKIE_NAME}={cookie[:-2]}{'BB' if cookie.endswith('AA') else 'AA'}"}

    with httpx.Client(base_url=server.url) as forger:
        api = forger.get(f"/v1/conversations/{conversation}/history", headers=tampered)
        page = forger.post("/v1/session/conversations", headers=tampered)
        fresh = {"Cookie": f"{COOKIE_NAME}={page.cookies[COOKIE_NAME]}"}
        new = forger.get("/v1/session", headers=fresh).json()["conversation"]

    assert api.status_code == 401
    assert page.cookies[COOKIE_NAME] != cookie
    assert new != conversation


@pytest.mark.parametrize(
    "forged",
    [b"", b"x", b"no-signature", b"abc.def", b"a" * 43 + b"." + b"b" * 43, b"\xc3\xa9.\xc3\xa9"],
)
def test_a_forged_cookie_reaches_nothing(
    server: Running, browser: httpx.Client, forged: bytes
) -> None:
    conversation = current(browser)
    browser.post(f"/v1/conversations/{conversation}/messages", json=USER)

    with httpx.Client(base_url=server.url) as forger:
        response = forger.get(
            f"/v1/conversations/{conversation}/history",
            headers={b"Cookie": COOKIE_NAME.encode() + b"=" + forged},
        )

    assert response.status_code == 401


def test_another_browser_cannot_reach_the_conversation(
    server: Running, browser: httpx.Client
) -> None:
    conversation = current(browser)
    browser.post(f"/v1/conversations/{conversation}/messages", json=USER)

    with other_browser(server) as other:
        read = other.get(f"/v1/conversations/{conversation}/history")
        write = other.post(f"/v1/conversations/{conversation}/messages", json=USER)
        show = other.put("/v1/session/conversation", json={"conversation": conversation})
        listed = other.get("/v1/conversations").json()["conversations"]

    assert (read.status_code, write.status_code, show.status_code) == (404, 404, 404)
    assert listed == []
    assert server.ledger.version(f"web:{conversation}") == 1


def test_a_new_conversation_becomes_the_one_the_page_shows(browser: httpx.Client) -> None:
    first = current(browser)
    browser.post(f"/v1/conversations/{first}/messages", json=USER)

    started = browser.post("/v1/session/conversations").json()
    back = browser.put("/v1/session/conversation", json={"conversation": first}).json()

    assert started["conversation"] != first
    assert started["conversations"] == [first, started["conversation"]]
    assert back["conversation"] == first


def test_signing_in_with_an_api_key_reaches_the_tenants_conversations(server: Running) -> None:
    with server.client("acme") as api:
        api.post("/v1/conversations/support-7/messages", json=USER)

    with httpx.Client(base_url=server.url) as page:
        signed = page.post("/v1/session", json={"api_key": server.keys["acme"]})
        listed = page.get("/v1/conversations").json()["conversations"]
        history = page.get("/v1/conversations/support-7/history")

    assert signed.json()["tenant"] == "acme"
    assert signed.json()["signed_in"] is True
    assert [c["id"] for c in listed] == ["support-7"]
    assert history.status_code == 200


def test_signing_in_with_a_bad_key_is_401(server: Running) -> None:
    with httpx.Client(base_url=server.url) as page:
        response = page.post("/v1/session", json={"api_key": "cl_guess"})

    assert response.status_code == 401
    assert COOKIE_NAME not in page.cookies


def test_a_page_session_never_reaches_an_api_tenant(server: Running, browser: httpx.Client) -> None:
    with server.client("acme") as api:
        api.post("/v1/conversations/support-7/messages", json=USER)

    response = browser.get("/v1/conversations/support-7/history")

    assert response.status_code == 404


# Cross-site request forgery


WRITES = [
    ("POST", "/v1/session/conversations", None),
    ("POST", "/v1/conversations/{conversation}/messages", USER),
    ("PUT", "/v1/session/conversation", {"conversation": "{conversation}"}),
    ("POST", "/v1/conversations/{conversation}/erase", {"reason": "forged"}),
    ("DELETE", "/v1/session", None),
]


def _filled(body: object, conversation: str) -> object:
    if isinstance(body, dict):
        return {key: str(item).format(conversation=conversation) for key, item in body.items()}
    return body


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
def test_a_page_of_another_origin_cannot_write_with_the_session_cookie(
    server: Running, browser: httpx.Client, method: str, path: str, body: object
) -> None:
    conversation = current(browser)
    browser.post(f"/v1/conversations/{conversation}/messages", json=USER).raise_for_status()
    before = browser.get("/v1/session").json()

    with cookie_only(server, browser) as forger:
        response = forger.request(
            method,
            path.format(conversation=conversation),
            json=_filled(body, conversation),
            headers={"Origin": OTHER_ORIGIN},
        )

    assert response.status_code == 403, response.text
    assert response.json()["field"] == "Origin"
    assert browser.get("/v1/session").json() == before
    assert server.ledger.version(f"web:{conversation}") == 1
    record = server.ledger.conversation(f"web:{conversation}")
    assert record is not None
    assert record.erased_at is None


def test_a_signed_in_session_gains_no_conversation_from_another_origin(server: Running) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as page:
        page.post("/v1/session", json={"api_key": server.keys["acme"]}).raise_for_status()
        before = page.get("/v1/session").json()["conversations"]
        forged = page.post("/v1/session/conversations", headers={"Origin": OTHER_ORIGIN})
        after = page.get("/v1/session").json()["conversations"]

    assert forged.status_code == 403
    assert after == before


def test_a_cookie_write_sending_neither_origin_nor_referer_is_refused(
    server: Running, browser: httpx.Client
) -> None:
    token = browser.headers["X-CSRF-Token"]

    with cookie_only(server, browser) as client:
        response = client.post("/v1/session/conversations", headers={"X-CSRF-Token": token})

    assert response.status_code == 403
    assert response.json()["field"] == "Origin"


@pytest.mark.parametrize("token", [None, "", "not-the-token"])
def test_a_cookie_write_from_this_origin_without_its_token_is_refused(
    server: Running, browser: httpx.Client, token: str | None
) -> None:
    headers = {"Origin": origin_of(browser)} | ({} if token is None else {"X-CSRF-Token": token})

    with cookie_only(server, browser) as client:
        response = client.post("/v1/session/conversations", headers=headers)

    assert response.status_code == 403
    assert response.json()["field"] == "X-CSRF-Token"


def test_another_sessions_token_does_not_pass(server: Running, browser: httpx.Client) -> None:
    with other_browser(server) as other:
        theirs = other.headers["X-CSRF-Token"]

    with cookie_only(server, browser) as client:
        response = client.post(
            "/v1/session/conversations",
            headers={"Origin": origin_of(browser), "X-CSRF-Token": theirs},
        )

    assert theirs != browser.headers["X-CSRF-Token"]
    assert response.status_code == 403


def test_a_referer_of_this_origin_stands_in_for_a_missing_origin(
    server: Running, browser: httpx.Client
) -> None:
    headers = {"Referer": f"{origin_of(browser)}/", "X-CSRF-Token": browser.headers["X-CSRF-Token"]}

    with cookie_only(server, browser) as client:
        response = client.post("/v1/session/conversations", headers=headers)

    assert response.status_code == 201


def test_the_session_hands_its_page_the_token(browser: httpx.Client) -> None:
    assert browser.get("/v1/session").json()["csrf_token"] == browser.headers["X-CSRF-Token"]


def test_api_key_writes_need_neither_origin_nor_token(server: Running) -> None:
    with server.client("acme") as api:
        response = api.post(
            "/v1/conversations/support-7/messages", json=USER, headers={"Origin": OTHER_ORIGIN}
        )

    assert response.status_code == 201


def test_a_page_of_another_origin_cannot_sign_the_browser_in(server: Running) -> None:
    with httpx.Client(base_url=server.url) as page:
        response = page.post(
            "/v1/session", json={"api_key": server.keys["acme"]}, headers={"Origin": OTHER_ORIGIN}
        )

    assert response.status_code == 403
    assert COOKIE_NAME not in page.cookies


def test_a_page_of_another_origin_cannot_start_an_anonymous_session(server: Running) -> None:
    with httpx.Client(base_url=server.url) as page:
        response = page.post("/v1/session/conversations", headers={"Origin": OTHER_ORIGIN})

    assert response.status_code == 403
    assert COOKIE_NAME not in page.cookies
    assert stored_sessions(server) == 0


def test_without_a_page_tenant_the_page_starts_no_session(sqlite_url: str) -> None:
    with running(sqlite_url) as server, httpx.Client(base_url=server.url) as page:
        response = page.get("/")
        session = page.get("/v1/session")
        started = page.post("/v1/session/conversations")

    assert response.status_code == 200
    assert "set-cookie" not in response.headers
    assert session.status_code == 401
    assert session.json()["anonymous_writes"] is False
    assert started.status_code == 401
    assert started.json()["field"] == "Authorization"
    assert "set-cookie" not in started.headers


def test_signing_out_forgets_the_session(browser: httpx.Client) -> None:
    cookie = browser.cookies[COOKIE_NAME]

    browser.delete("/v1/session")
    browser.cookies.set(COOKIE_NAME, cookie)

    assert browser.get("/v1/session").status_code == 401
