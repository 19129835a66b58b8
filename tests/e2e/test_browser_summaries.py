"""Summaries on the history page, in a real headless Chromium: in history, and as the model saw."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from chatledger.domain import SummaryWindow
from tests.e2e.test_browser import CHROMIUM, LAUNCH_ARGS, SEED, write
from tests.e2e.test_http_server import Running, running

SUMMARY = "Lisbon: 21 °C and sunny, checked with the weather tool."
COVERS = 5


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: run `apt-get install chromium`"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=LAUNCH_ARGS, headless=True
        )
        yield browser
        browser.close()


@pytest.fixture
def summarized(chromium: Browser, sqlite_url: str) -> Iterator[tuple[Page, Running, str]]:
    """The page showing the browser tests' conversation, with a summary of its first five."""
    with running(sqlite_url, page_tenant="web") as server:
        context = chromium.new_context(
            base_url=server.url, viewport={"width": 1440, "height": 1000}
        )
        page = context.new_page()
        page.goto("/")
        page.click("#new-conversation")
        expect(page.locator("#conversation-id")).to_have_text(re.compile(r"^chat-"))
        conversation = page.locator("#conversation-id").inner_text()
        recorded = write(page, server, f"/v1/conversations/{conversation}/messages", SEED)
        assert recorded.status == 201, recorded.text()
        server.ledger.record_summary(f"web:{conversation}", covers=COVERS, text=SUMMARY)
        page.reload()
        yield page, server, f"web:{conversation}"
        context.close()


def budget_that_uses_the_summary(server: Running, conversation: str) -> int:
    """The smallest token budget whose summary window shows the summary."""
    for budget in range(1, 500):
        if server.ledger.memory(conversation, SummaryWindow(max_tokens=budget)).summary:
            return budget
    raise AssertionError("no budget shows the summary")


def test_the_history_shows_a_summary_marked_with_its_coverage(
    summarized: tuple[Page, Running, str],
) -> None:
    page, _, _ = summarized

    shown = page.locator("#history .entry.summary")

    expect(shown).to_have_count(1)
    expect(shown).to_contain_text("summary #1")
    expect(shown).to_contain_text(f"covers messages 1–{COVERS}")
    expect(shown).to_contain_text(SUMMARY)
    # It was recorded after the newest message, so it comes last.
    expect(page.locator("#history > li").last).to_have_class(re.compile(r"\bsummary\b"))


def test_what_the_model_saw_shows_the_summary_and_what_it_covers(
    summarized: tuple[Page, Running, str],
) -> None:
    page, server, conversation = summarized
    budget = budget_that_uses_the_summary(server, conversation)
    page.click("#toggle-memory")

    page.select_option("#memory-kind", "summaries")
    page.fill("#memory-budget", str(budget))
    page.click("#memory-form button[type=submit]")

    shown = page.locator("#memory-entries .entry.summary")
    expect(shown).to_contain_text(f"stands for messages 1–{COVERS}")
    expect(shown).to_contain_text(SUMMARY)
    expect(page.locator("#memory-summary")).to_contain_text("and summary #1")
    question = page.locator("#memory-entries .entry.excluded").nth(1)  # position 2
    expect(question).to_contain_text("What's the weather in Lisbon?")
    expect(question).to_contain_text("covered by summary #1")
