"""What the library refuses before anything is written, on every backend: limits and bounds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import pytest

from chatledger.domain import InvalidInput, InvalidMessage, Limits, Message, ToolCall
from chatledger.infrastructure import ChatLedger
from chatledger.projections import MessageWindow, Policy, TokenWindow
from tests.fakes import FakeTokenCounter

TOO_LARGE = [2**53 + 1, 2**63, 10**30]


def user(text: str) -> Message:
    return Message(role="user", content=text)


def test_configured_limits_refuse_a_batch_over_its_message_count(backend_url: str) -> None:
    with ChatLedger.open(
        backend_url, FakeTokenCounter(), limits=Limits(max_batch_messages=2)
    ) as small:
        with pytest.raises(InvalidMessage) as raised:
            small.record("conv-1", [user("a"), user("b"), user("c")])

        assert raised.value.field == "messages"
        assert "max_batch_messages of 2" in raised.value.problem
        assert small.version("conv-1") == 0


def test_configured_limits_refuse_a_batch_over_its_bytes(backend_url: str) -> None:
    with ChatLedger.open(
        backend_url, FakeTokenCounter(), limits=Limits(max_batch_bytes=10)
    ) as small:
        with pytest.raises(InvalidMessage, match="max_batch_bytes of 10 bytes"):
            small.record("conv-1", [user("abcdef"), user("ghijkl")])

        assert small.version("conv-1") == 0


def test_tool_arguments_over_the_configured_limit_record_nothing(backend_url: str) -> None:
    call = ToolCall(id="c1", name="f", arguments='{"a": "' + "x" * 100 + '"}')
    message = Message(role="assistant", tool_calls=(call,))
    with ChatLedger.open(
        backend_url, FakeTokenCounter(), limits=Limits(max_arguments_bytes=64)
    ) as small:
        with pytest.raises(InvalidMessage) as raised:
            small.record("conv-1", [user("hi"), message])

        assert raised.value.field == "tool_calls.0.arguments"
        assert "max_arguments_bytes" in raised.value.problem
        assert small.version("conv-1") == 0


def test_limits_and_a_separate_content_limit_are_not_both_taken() -> None:
    with pytest.raises(InvalidInput) as raised:
        ChatLedger.open("memory://", FakeTokenCounter(), limits=Limits(), max_content_bytes=10)

    assert raised.value.field == "max_content_bytes"


def test_an_expected_version_must_be_an_integer_not_a_bool(ledger: ChatLedger) -> None:
    with pytest.raises(InvalidInput) as raised:
        ledger.record("conv-1", user("hi"), expected_version=True)

    assert raised.value.field == "expected_version"
    assert ledger.version("conv-1") == 0


@pytest.mark.parametrize("value", TOO_LARGE)
@pytest.mark.parametrize("field", ["before", "after", "at", "limit"])
def test_history_positions_and_limits_past_the_bound_are_refused(
    ledger: ChatLedger, field: str, value: int
) -> None:
    ledger.record("conv-1", user("hi"))

    with pytest.raises(InvalidInput) as raised:
        ledger.history("conv-1", **cast(dict[str, Any], {field: value}))

    assert raised.value.field == field


@pytest.mark.parametrize("value", TOO_LARGE)
def test_memory_budgets_and_positions_past_the_bound_are_refused(
    ledger: ChatLedger, value: int
) -> None:
    ledger.record("conv-1", user("hi"))

    cases: list[tuple[Policy, int | None, str]] = [
        (MessageWindow(max_messages=value), None, "max_messages"),
        (TokenWindow(max_tokens=value), None, "max_tokens"),
        (MessageWindow(max_messages=5), value, "at"),
    ]
    for policy, at, field in cases:
        with pytest.raises(InvalidInput) as raised:
            ledger.memory("conv-1", policy, at=at)
        assert raised.value.field == field


def test_the_largest_bounded_values_are_still_taken(ledger: ChatLedger) -> None:
    ledger.record("conv-1", user("hi"))

    history = ledger.history("conv-1", before=2**53, limit=2**53)
    view = ledger.memory("conv-1", MessageWindow(max_messages=2**53))

    assert [entry.position for entry in history.entries] == [1]
    assert view.position == 1


@pytest.mark.parametrize("text", ["\x00", "a\x00b", "\ud800"])
def test_text_no_store_can_keep_is_refused_before_it_reaches_the_store(
    ledger: ChatLedger, text: str
) -> None:
    ledger.record("conv-1", user("hi"))
    view = ledger.memory("conv-1", MessageWindow(max_messages=5))

    refusals: dict[str, Callable[[], object]] = {
        "after": lambda: ledger.conversations(after=text),
        "reason": lambda: ledger.erase("conv-1", reason=text),
        "model": lambda: ledger.record_model_call("conv-1", view, model=text),
        "response_id": lambda: ledger.record_model_call(
            "conv-1", view, model="m", response_id=text
        ),
    }
    for field, refuse in refusals.items():
        with pytest.raises(InvalidInput) as raised:
            refuse()
        assert raised.value.field == field
    with pytest.raises(InvalidInput) as raised:
        ledger.set_legal_hold("conv-1", text)
    assert raised.value.field == "reason"
    assert ledger.conversation("conv-1").erased_at is None  # type: ignore[union-attr]
    assert ledger.model_calls("conv-1") == []
