"""The history page in a real headless Chromium: post a message, see it, see what the model saw."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from playwright.sync_api import APIResponse, Browser, Page, expect, sync_playwright

from tests.e2e.test_http_server import Running, running, serving

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOT_VARIABLE = "CHATLEDGER_SCREENSHOT"

SEED = {
    "messages": [
        {"role": "system", "content": "You are a travel assistant."},
        {"role": "user", "content": "What's the weather in Lisbon?"},
        {
            "role": "assistant",
            "content": "Let me check.",
            "tool_calls": [{"id": "call_0", "name": "weather", "arguments": '{"city": "Lisbon"}'}],
        },
        {"role": "tool", "tool_call_id": "call_0", "content": '{"temp_c": 21, "sky": "sunny"}'},
        {"role": "assistant", "content": "21 °C and sunny in Lisbon."},
        {"role": "system", "content": "You are a concise travel assistant. Answer in one line."},
        {"role": "user", "content": "Should I pack an umbrella?"},
        {"role": "assistant", "content": "No: no rain is forecast this week."},
    ]
}


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: run `apt-get install chromium` (make test does it as root)"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=LAUNCH_ARGS, headless=True
        )
        yield browser
        browser.close()


@pytest.fixture
def server(sqlite_url: str) -> Iterator[Running]:
    with running(sqlite_url, page_tenant="web") as started:
        yield started


@pytest.fixture
def page(chromium: Browser, server: Running) -> Iterator[Page]:
    context = chromium.new_context(base_url=server.url, viewport={"width": 1440, "height": 1000})
    opened = context.new_page()
    opened.goto("/")
    # Opening the page starts no session; starting a conversation, a first write, does.
    expect(opened.locator("#conversation-id")).to_have_text("none yet")
    opened.click("#new-conversation")
    expect(opened.locator("#conversation-id")).to_have_text(re.compile(r"^chat-"))
    yield opened
    context.close()


def write(page: Page, server: Running, path: str, data: object) -> APIResponse:
    """Write through the page's session, with what its own script sends: Origin and token."""
    token = page.request.get("/v1/session").json()["csrf_token"]
    return page.request.post(path, data=data, headers={"Origin": server.url, "X-CSRF-Token": token})


def seed(page: Page, server: Running) -> str:
    """Record a conversation into the page's own, through its session; return its id."""
    conversation = page.locator("#conversation-id").inner_text()
    response = write(page, server, f"/v1/conversations/{conversation}/messages", SEED)
    assert response.status == 201, response.text()
    page.reload()
    return conversation


def send(page: Page, text: str) -> None:
    page.fill("#content", text)
    page.click("#composer button[type=submit]")


def test_a_posted_message_appears_in_the_history(page: Page) -> None:
    send(page, "Hello from Chromium")

    expect(page.locator("#history .entry").last).to_contain_text("Hello from Chromium")
    expect(page.locator("#history-length")).to_have_text("1 messages")


def test_the_first_message_sent_starts_the_session(chromium: Browser, server: Running) -> None:
    context = chromium.new_context(base_url=server.url)
    page = context.new_page()
    page.goto("/")
    expect(page.locator("#conversation-id")).to_have_text("none yet")

    send(page, "My first words")

    expect(page.locator("#history .entry").last).to_contain_text("My first words")
    conversation = page.locator("#conversation-id").inner_text()
    context.close()
    assert server.ledger.version(f"web:{conversation}") == 1


def test_the_page_keeps_its_conversation_when_reloaded(page: Page, server: Running) -> None:
    conversation = page.locator("#conversation-id").inner_text()
    send(page, "Remember me")
    expect(page.locator("#history .entry")).to_have_count(1)

    page.reload()

    expect(page.locator("#conversation-id")).to_have_text(conversation)
    expect(page.locator("#history .entry")).to_have_count(1)
    assert server.ledger.version(f"web:{conversation}") == 1


def test_tool_calls_fold_under_their_call_and_prompt_changes_are_marked(
    page: Page, server: Running
) -> None:
    seed(page, server)

    history = page.locator("#history")
    expect(history.locator("> .entry")).to_have_count(7)  # the tool result sits in its call
    expect(history.locator(".marker")).to_have_text(["System prompt set", "System prompt changed"])
    fold = history.locator("details.tools")
    fold.locator("summary").click()
    expect(fold.locator(".tool-result")).to_contain_text('"temp_c": 21')


def test_the_memory_panel_shows_what_the_model_saw_and_why_not(
    page: Page, server: Running, tmp_path: Path
) -> None:
    conversation = seed(page, server)
    write(
        page,
        server,
        f"/v1/conversations/{conversation}/model-calls",
        {"model": "gpt-4o", "policy": {"kind": "message_window", "max_messages": 4}},
    )
    send(page, "And tomorrow?")
    expect(page.locator("#history .entry").last).to_contain_text("And tomorrow?")
    page.locator("#history details.tools summary").click()

    page.click("#toggle-memory")
    page.select_option("#memory-kind", "max_messages")
    page.fill("#memory-budget", "4")
    page.click("#memory-form button[type=submit]")

    panel = page.locator("#memory")
    expect(panel).to_be_visible()
    expect(panel.locator("#memory-summary")).to_contain_text("At position 9: 4 messages")
    expect(panel.locator(".entry.excluded")).to_have_count(5)
    expect(panel.locator(".entry.excluded .badge").first).to_have_text("replaced system prompt")
    expect(panel.locator(".entry.excluded .badge").last).to_have_text("evicted by the window")
    expect(panel.locator("#memory-call option")).to_have_count(2)  # none, and call #1
    shot = Path(os.environ.get(SCREENSHOT_VARIABLE) or tmp_path / "history-page.png")
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000


def test_a_recorded_model_call_shows_the_view_it_was_sent(page: Page, server: Running) -> None:
    conversation = seed(page, server)
    write(
        page,
        server,
        f"/v1/conversations/{conversation}/model-calls",
        {"model": "gpt-4o", "policy": {"kind": "message_window", "max_messages": 3}},
    )
    send(page, "One more thing")
    expect(page.locator("#history .entry").last).to_contain_text("One more thing")

    page.click("#toggle-memory")
    page.select_option("#memory-call", "1")

    summary = page.locator("#memory-summary")
    expect(summary).to_contain_text("At position 8: 3 messages")
    expect(page.locator("#memory-entries .entry")).to_have_count(8)


LURE = """<!doctype html><title>lure</title><script>
fetch("TARGET/v1/session/conversations", {method: "POST", credentials: "include", mode: "no-cors"})
  .then(() => { document.title = "sent"; }, () => { document.title = "failed"; });
</script>"""
"""A page of another origin that makes the browser write with its session cookie."""


def test_a_page_on_another_port_cannot_write_with_the_session_cookie(
    page: Page, server: Running
) -> None:
    before = page.request.get("/v1/session").json()["conversations"]
    attacker = FastAPI()

    @attacker.get("/")
    def lure() -> HTMLResponse:
        return HTMLResponse(LURE.replace("TARGET", server.url))

    with serving(attacker) as lure_url:
        page.goto(lure_url)
        expect(page).to_have_title("sent")

    assert page.request.get("/v1/session").json()["conversations"] == before


def test_without_anonymous_writes_the_page_signs_in_and_then_writes(
    chromium: Browser, sqlite_url: str
) -> None:
    with running(sqlite_url) as server:
        context = chromium.new_context(base_url=server.url)
        page = context.new_page()
        page.goto("/")
        expect(page.locator("#signin")).to_be_visible()

        page.fill("#api-key", server.keys["acme"])
        page.click("#signin button[type=submit]")
        expect(page.locator("#tenant")).to_have_text("acme")
        send(page, "Signed in and writing")

        expect(page.locator("#history .entry").last).to_contain_text("Signed in and writing")
        conversation = page.locator("#conversation-id").inner_text()
        context.close()
        assert server.ledger.version(f"acme:{conversation}") == 1
