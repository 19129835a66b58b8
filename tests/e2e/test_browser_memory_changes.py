"""Clears and retractions on the history page, in a real headless Chromium, phone and desktop."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect, sync_playwright

from tests.e2e.test_browser import CHROMIUM, LAUNCH_ARGS, SEED, write
from tests.e2e.test_http_server import Running, running

WIDTHS: dict[str, ViewportSize] = {
    "phone": {"width": 390, "height": 844},
    "desktop": {"width": 1440, "height": 1000},
}


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: run `apt-get install chromium`"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=LAUNCH_ARGS, headless=True
        )
        yield browser
        browser.close()


@pytest.fixture(params=list(WIDTHS))
def changed(
    request: pytest.FixtureRequest, chromium: Browser, sqlite_url: str
) -> Iterator[tuple[Page, Running, str]]:
    """The page showing the browser tests' conversation (positions 1..8), with message 7
    retracted, then memory cleared, then one more question (9)."""
    with running(sqlite_url, page_tenant="web") as server:
        context = chromium.new_context(base_url=server.url, viewport=WIDTHS[request.param])
        page = context.new_page()
        page.goto("/")
        page.click("#new-conversation")
        expect(page.locator("#conversation-id")).to_have_text(re.compile(r"^chat-"))
        conversation = page.locator("#conversation-id").inner_text()
        path = f"/v1/conversations/{conversation}"
        recorded = write(page, server, f"{path}/messages", SEED)
        assert recorded.status == 201, recorded.text()
        assert write(page, server, f"{path}/retract", {"position": 7}).status == 200
        token = page.request.get("/v1/session").json()["csrf_token"]
        cleared = page.request.post(
            f"{path}/clear", headers={"Origin": server.url, "X-CSRF-Token": token}
        )
        assert cleared.status == 200, cleared.text()
        question = {"role": "user", "content": "And in Porto?"}
        assert write(page, server, f"{path}/messages", question).status == 201
        page.reload()
        yield page, server, f"web:{conversation}"
        context.close()


def test_the_history_keeps_every_message_and_marks_the_retracted_one(
    changed: tuple[Page, Running, str],
) -> None:
    page, _, _ = changed

    entries = page.locator("#history > li.entry[data-position]")

    expect(entries).to_have_count(8)  # 1..9 without the tool result, shown inside its call
    retracted = page.locator('#history li[data-position="7"]')
    expect(retracted).to_have_class(re.compile(r"\bretracted\b"))
    expect(retracted).to_contain_text("Should I pack an umbrella?")
    expect(retracted).to_contain_text("retracted from memory")
    expect(page.locator("#history .retracted")).to_have_count(1)


def test_the_history_shows_where_memory_was_cleared(changed: tuple[Page, Running, str]) -> None:
    page, _, _ = changed

    marker = page.locator("#history .entry.cleared")

    expect(marker).to_have_count(1)
    expect(marker).to_contain_text("Memory cleared")
    expect(marker).to_contain_text("messages 1–8")
    # Shown right after the message the history then ended at, before the next question.
    expect(page.locator("#history > li").nth(-2)).to_have_class(re.compile(r"\bcleared\b"))
    expect(page.locator("#history > li").last).to_contain_text("And in Porto?")


def test_what_the_model_saw_says_each_message_was_cleared(
    changed: tuple[Page, Running, str],
) -> None:
    page, _, _ = changed
    page.click("#toggle-memory")
    page.click("#memory-form button[type=submit]")

    question = page.locator("#memory-entries .entry.excluded").filter(has_text="Lisbon?")

    expect(question).to_contain_text("cleared from memory")
    expect(page.locator("#memory-entries")).to_contain_text("And in Porto?")
