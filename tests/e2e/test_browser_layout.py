"""The history page at a phone's width and a desktop's, in a real headless Chromium.

Each test looks at element boxes as a user would see them: nothing cut off, nothing to scroll
sideways, the composer wide enough to type in; and the "what the model saw" panel showing the
tool calls of a message that has nothing else. Then a loopback server's local tenant, which the
page reads without signing in.
"""

from __future__ import annotations

import base64
import io
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Browser, FloatRect, Locator, Page, expect, sync_playwright

from chatledger.domain import ImagePart, Message
from tests.e2e.test_browser import CHROMIUM, LAUNCH_ARGS, SEED, write
from tests.e2e.test_http_server import Running, running

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
SCREENS = pytest.mark.parametrize("screen", [PHONE, DESKTOP], ids=["phone", "desktop"])
SCREENSHOT_DIRECTORY_VARIABLE = "CHATLEDGER_SCREENSHOT_DIR"
"""Where to keep the screenshots each width's test takes (default: the test's tmp_path)."""

PORTO_CALL = 'weather({"city": "Porto"})'
CALLS_ONLY = {
    "messages": [
        *SEED["messages"],
        {"role": "user", "content": "And Porto?"},
        {
            "role": "assistant",
            "tool_calls": [{"id": "call_1", "name": "weather", "arguments": '{"city": "Porto"}'}],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": '{"temp_c": 18}'},
    ]
}
"""The browser tests' conversation, then an assistant message that is only a tool call."""
CALLS_ONLY_POSITION = 10


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
def server(sqlite_url: str) -> Iterator[Running]:
    with running(sqlite_url, page_tenant="web") as started:
        yield started


def opened(chromium: Browser, server: Running, screen: dict[str, int]) -> Page:
    """The page at ``screen``'s size, showing a conversation with a tool-call-only message."""
    context = chromium.new_context(
        base_url=server.url, viewport={"width": screen["width"], "height": screen["height"]}
    )
    page = context.new_page()
    page.goto("/")
    page.click("#new-conversation")
    expect(page.locator("#conversation-id")).to_have_text(re.compile(r"^chat-"))
    conversation = page.locator("#conversation-id").inner_text()
    response = write(page, server, f"/v1/conversations/{conversation}/messages", CALLS_ONLY)
    assert response.status == 201, response.text()
    page.reload()
    expect(page.locator("#history-length")).to_have_text("11 messages")
    return page


def box(locator: Locator) -> FloatRect:
    found = locator.bounding_box()
    assert found is not None, f"{locator} is not shown"
    return found


def assert_inside(locator: Locator, screen: dict[str, int]) -> None:
    """The element is wholly inside the viewport: not cut off on any side."""
    shown = box(locator)
    assert shown["x"] >= 0, shown
    assert shown["y"] >= 0, shown
    assert shown["x"] + shown["width"] <= screen["width"], shown
    assert shown["y"] + shown["height"] <= screen["height"], shown


def no_sideways_scroll(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def keep_screenshot(page: Page, tmp_path: Path, name: str) -> None:
    directory = Path(os.environ.get(SCREENSHOT_DIRECTORY_VARIABLE) or tmp_path)
    shot = directory / f"{name}.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


@SCREENS
def test_the_header_and_the_composer_fit_the_screen(
    chromium: Browser, server: Running, screen: dict[str, int], tmp_path: Path
) -> None:
    page = opened(chromium, server, screen)

    assert no_sideways_scroll(page)
    for button in ("#new-conversation", "#toggle-memory"):
        assert_inside(page.locator(button), screen)
    assert box(page.locator("#content"))["width"] >= 250
    assert_inside(page.locator("#content"), screen)
    assert_inside(page.locator("#composer button[type=submit]"), screen)
    keep_screenshot(page, tmp_path, f"page-{screen['width']}")
    page.context.close()


@SCREENS
def test_a_message_sent_from_the_composer_appears(
    chromium: Browser, server: Running, screen: dict[str, int]
) -> None:
    page = opened(chromium, server, screen)

    page.fill("#content", "Typed on this screen")
    page.click("#composer button[type=submit]")

    expect(page.locator("#history .entry").last).to_contain_text("Typed on this screen")
    assert_inside(page.locator("#composer button[type=submit]"), screen)
    page.context.close()


@SCREENS
def test_the_panel_shows_the_calls_of_a_message_that_is_only_tool_calls(
    chromium: Browser, server: Running, screen: dict[str, int], tmp_path: Path
) -> None:
    page = opened(chromium, server, screen)

    page.click("#toggle-memory")

    panel = page.locator("#memory-entries")
    calls_only = panel.locator(".entry").nth(CALLS_ONLY_POSITION - 1)
    expect(calls_only).to_contain_text(f"#{CALLS_ONLY_POSITION}")
    expect(calls_only.locator(".tool-call")).to_have_text(PORTO_CALL)
    expect(panel.locator(".entry.assistant").first.locator(".tool-call")).to_have_text(
        'weather({"city": "Lisbon"})'
    )
    assert no_sideways_scroll(page)
    assert box(page.locator("#memory"))["width"] <= screen["width"]
    keep_screenshot(page, tmp_path, f"panel-{screen['width']}")
    page.context.close()


@SCREENS
def test_a_loopback_page_shows_the_local_tenants_conversations_without_signing_in(
    chromium: Browser, sqlite_url: str, screen: dict[str, int]
) -> None:
    with running(sqlite_url, local_tenant="local") as server:
        server.ledger.record("local:from-the-cli", [Message.parse(m) for m in SEED["messages"]])
        context = chromium.new_context(
            base_url=server.url, viewport={"width": screen["width"], "height": screen["height"]}
        )
        page = context.new_page()
        page.goto("/")

        expect(page.locator("#conversation-id")).to_have_text("from-the-cli")
        expect(page.locator("#history-length")).to_have_text("8 messages")
        expect(page.locator("#conversation-list button")).to_have_text(["from-the-cli"])
        expect(page.locator("#signin")).to_be_visible()
        assert no_sideways_scroll(page)
        context.close()


PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQ"
    "AAAABJRU5ErkJggg=="
)
PARTS = [
    {
        "role": "user",
        "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image", "data": PNG, "media_type": "image/png"},
            {"type": "image", "url": "javascript:alert(1)"},
            {"type": "file", "url": "https://example.com/spec.pdf", "filename": "spec.pdf"},
        ],
    },
    {
        "role": "assistant",
        "content": [
            {
                "type": "reasoning",
                "provider": "anthropic",
                "text": "A red pixel.",
                "signature": "c2ln",
            },
            {"type": "refusal", "refusal": "I will not guess."},
        ],
    },
]


@SCREENS
def test_parts_show_as_a_thumbnail_links_folded_reasoning_and_a_marked_refusal(
    chromium: Browser, sqlite_url: str, screen: dict[str, int], tmp_path: Path
) -> None:
    with running(sqlite_url, local_tenant="local") as server:
        server.ledger.record("local:parts", [Message.parse(m) for m in PARTS])
        context = chromium.new_context(
            base_url=server.url, viewport={"width": screen["width"], "height": screen["height"]}
        )
        page = context.new_page()
        page.goto("/")
        expect(page.locator("#conversation-id")).to_have_text("parts")
        history = page.locator("#history")

        thumb = history.locator("img.thumb")
        expect(thumb).to_have_attribute("alt", "image image/png 70 bytes")
        assert thumb.evaluate("image => image.complete && image.naturalWidth") == 1
        expect(history.locator("a.attachment")).to_have_attribute(
            "href", "https://example.com/spec.pdf"
        )
        expect(history.locator("span.attachment").first).to_have_text("image javascript:alert(1)")
        reasoning = history.locator("details.reasoning")
        expect(reasoning.locator("p")).to_be_hidden()
        reasoning.locator("summary").click()
        expect(reasoning.locator("p")).to_have_text("A red pixel.")
        expect(history.locator(".refusal")).to_have_text("refused I will not guess.")
        assert no_sideways_scroll(page)
        keep_screenshot(page, tmp_path, f"parts-{screen['width']}")
        context.close()


def noise_png(side: int) -> bytes:
    """A PNG of random pixels: too big to stay inline, so it is stored as an attachment."""
    image = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


@SCREENS
def test_an_attached_image_shows_as_a_thumbnail_fetched_by_its_digest(
    chromium: Browser, sqlite_url: str, screen: dict[str, int]
) -> None:
    png = noise_png(160)
    assert len(png) > 32 * 1024
    message = Message.parse(
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "And this one?"},
                {
                    "type": "image",
                    "data": base64.b64encode(png).decode(),
                    "media_type": "image/png",
                },
            ],
        }
    )
    with running(sqlite_url, local_tenant="local") as server:
        (entry,) = server.ledger.record("local:attached", [message])
        part = entry.message.parts[1]
        assert isinstance(part, ImagePart)
        assert part.attachment is not None
        context = chromium.new_context(
            base_url=server.url, viewport={"width": screen["width"], "height": screen["height"]}
        )
        page = context.new_page()
        page.goto("/")
        expect(page.locator("#conversation-id")).to_have_text("attached")

        thumb = page.locator("#history img.thumb")
        expect(thumb).to_have_attribute("src", re.compile(r"^blob:"))
        page.wait_for_function("() => document.querySelector('#history img.thumb').complete")
        assert thumb.evaluate("image => image.naturalWidth") == 160
        assert no_sideways_scroll(page)
        context.close()
