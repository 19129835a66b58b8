"""Editing a message and switching between its versions on the history page, in a real headless
Chromium, phone and desktop."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from tests.e2e.test_browser import CHROMIUM, LAUNCH_ARGS, SEED, write
from tests.e2e.test_browser_memory_changes import WIDTHS
from tests.e2e.test_http_server import Running, running

QUESTION = "Should I pack an umbrella?"
EDITED = "Should I pack sunscreen?"


@dataclass(frozen=True)
class Opened:
    """The page showing the browser tests' conversation (positions 1..8), and its server."""

    page: Page
    server: Running
    conversation: str
    width: str
    console: list[str]
    """What the page logged, and every script error it raised."""


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
def opened(request: pytest.FixtureRequest, chromium: Browser, sqlite_url: str) -> Iterator[Opened]:
    with running(sqlite_url, page_tenant="web") as server:
        context = chromium.new_context(base_url=server.url, viewport=WIDTHS[request.param])
        page = context.new_page()
        console: list[str] = []
        page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
        page.on("pageerror", lambda error: console.append(f"script error: {error}"))
        page.goto("/")
        page.click("#new-conversation")
        expect(page.locator("#conversation-id")).to_have_text(re.compile(r"^chat-"))
        conversation = page.locator("#conversation-id").inner_text()
        recorded = write(page, server, f"/v1/conversations/{conversation}/messages", SEED)
        assert recorded.status == 201, recorded.text()
        page.reload()
        expect(page.locator("#history > li.entry[data-position]")).to_have_count(7)
        yield Opened(page, server, conversation, request.param, console)
        context.close()


def message(page: Page, position: int) -> Locator:
    return page.locator(f'#history > li.entry[data-position="{position}"]')


def edit(page: Page, position: int, text: str) -> None:
    """Edit the user message at ``position`` through its edit button, as a reader would."""
    entry = message(page, position)
    entry.locator("button.edit").click()
    entry.locator(".edit-form textarea").fill(text)
    entry.locator(".edit-form button.save").click()


def test_editing_a_message_opens_a_branch_holding_the_new_text(opened: Opened) -> None:
    page = opened.page

    edit(page, 7, EDITED)

    expect(page.locator("#conversation-id")).not_to_have_text(opened.conversation)
    branch = page.locator("#conversation-id").inner_text()
    info = page.locator("#branch-info")
    expect(info).to_be_visible()
    expect(info).to_contain_text(branch)
    expect(info).to_contain_text(f"of {opened.conversation}")
    expect(info).to_contain_text("messages 1–6")
    expect(message(page, 7)).to_contain_text(EDITED)
    expect(message(page, 8)).to_have_count(0)  # the old reply stays on the original
    assert opened.server.ledger.version(f"web:{branch}") == 7
    assert opened.server.ledger.version(f"web:{opened.conversation}") == 8


def test_the_switcher_moves_between_the_two_versions_each_with_its_own_history(
    opened: Opened,
) -> None:
    page = opened.page
    edit(page, 7, EDITED)
    expect(message(page, 7).locator(".switcher-count")).to_have_text("2/2")
    branch = page.locator("#conversation-id").inner_text()

    message(page, 7).locator("button.switcher-prev").click()

    expect(page.locator("#conversation-id")).to_have_text(opened.conversation)
    expect(message(page, 7).locator(".switcher-count")).to_have_text("1/2")
    expect(message(page, 7)).to_contain_text(QUESTION)
    expect(message(page, 8)).to_contain_text("No: no rain is forecast this week.")
    expect(page.locator("#branch-info")).to_be_hidden()
    expect(message(page, 7).locator("button.switcher-prev")).to_be_disabled()

    message(page, 7).locator("button.switcher-next").click()

    expect(page.locator("#conversation-id")).to_have_text(branch)
    expect(message(page, 7)).to_contain_text(EDITED)
    expect(page.locator("#history > li.entry[data-position]")).to_have_count(6)  # 4 folded in 3
    expect(page.locator("#branch-info")).to_be_visible()


def test_messages_without_alternatives_show_no_switcher(opened: Opened) -> None:
    page = opened.page
    edit(page, 7, EDITED)
    expect(message(page, 7).locator(".switcher")).to_have_count(1)

    switchers = page.locator("#history .switcher")

    expect(switchers).to_have_count(1)
    expect(message(page, 2).locator("button.edit")).to_have_count(1)
    expect(message(page, 5).locator("button.edit")).to_have_count(0)  # an assistant's


def test_the_branch_the_page_opened_is_the_session_s_after_a_reload(opened: Opened) -> None:
    page = opened.page
    edit(page, 2, "What's the weather in Porto?")
    expect(page.locator("#branch-info")).to_be_visible()
    branch = page.locator("#conversation-id").inner_text()

    page.reload()

    expect(page.locator("#conversation-id")).to_have_text(branch)
    expect(message(page, 2)).to_contain_text("Porto")
    expect(page.locator(f'#conversation-list button:text-is("{branch}")')).to_have_count(1)


def test_the_page_fits_its_width_and_breaks_no_policy(opened: Opened) -> None:
    page = opened.page
    edit(page, 7, EDITED)
    expect(message(page, 7).locator(".switcher-count")).to_have_text("2/2")

    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    switcher = message(page, 7).locator(".switcher").bounding_box()
    entry = message(page, 7).bounding_box()

    assert overflow <= 0, f"{opened.width}: {overflow}px wider than the viewport"
    assert switcher is not None
    assert entry is not None
    assert switcher["x"] + switcher["width"] <= entry["x"] + entry["width"]
    assert not [line for line in opened.console if "Content Security Policy" in line]
    assert not [line for line in opened.console if line.startswith("script error")]
