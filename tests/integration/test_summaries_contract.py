"""The summaries contract on every backend: recorded, validated, used by memory, never lossy."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest

from chatledger.domain import (
    ConversationErased,
    InvalidInput,
    Message,
    SummarizerFailed,
    SummaryWindow,
    TokenWindow,
    ToolCall,
    UnknownConversation,
)
from chatledger.domain.policies import summary_message
from chatledger.infrastructure import ChatLedger
from chatledger.projections import summary_memory_of
from tests.fakes import FakeSummarizer, FakeTokenCounter

CONV = "conv-sum"
WINDOW = SummaryWindow(max_tokens=60)


def talk(ledger: ChatLedger, turns: int, start: int = 0) -> None:
    """Turns of a user question and an assistant answer, each seven words."""
    messages = []
    for turn in range(start, start + turns):
        messages += [
            Message(role="user", content=f"question {turn} is about the weather there"),
            Message(role="assistant", content=f"answer {turn} says it is sunny there"),
        ]
    ledger.record(CONV, messages)


@pytest.fixture
def talking(ledger: ChatLedger) -> ChatLedger:
    """A system prompt and twelve turns (positions 1..25)."""
    ledger.record(CONV, Message(role="system", content="You are a weather assistant."))
    talk(ledger, 12)
    return ledger


def snapshot(ledger: ChatLedger) -> tuple[object, ...]:
    """Everything a failed compaction must leave as it was."""
    return (
        ledger.history(CONV).entries,
        ledger.memory(CONV, WINDOW),
        ledger.summaries(CONV),
        ledger.verify(CONV),
    )


# Recording


def test_a_recorded_summary_says_what_it_covers_and_what_it_costs(talking: ChatLedger) -> None:
    summary = talking.record_summary(CONV, covers=11, text="They talked weather.", model="m-1")

    assert (summary.number, summary.covers, summary.position) == (1, 11, 25)
    assert (summary.text, summary.model, summary.erased) == ("They talked weather.", "m-1", False)
    assert summary.counter == "fake:words"
    assert summary.tokens == FakeTokenCounter().count(summary_message(1, 11, summary.text))
    assert talking.summaries(CONV) == [summary]


def test_a_newer_summary_may_cover_more_and_the_older_stays(talking: ChatLedger) -> None:
    first = talking.record_summary(CONV, covers=5, text="Early weather talk.")

    second = talking.record_summary(CONV, covers=15, text="More weather talk.")

    assert talking.summaries(CONV) == [first, second]
    assert second.number == 2


def test_recording_a_summary_changes_no_history_and_no_version(talking: ChatLedger) -> None:
    before = (talking.history(CONV).entries, talking.version(CONV))

    talking.record_summary(CONV, covers=11, text="They talked weather.")

    assert (talking.history(CONV).entries, talking.version(CONV)) == before


@pytest.mark.parametrize("covers", [0, 26, -1])
def test_a_summary_covering_outside_the_history_is_refused_naming_covers(
    talking: ChatLedger, covers: int
) -> None:
    with pytest.raises(InvalidInput) as raised:
        talking.record_summary(CONV, covers=covers, text="text")

    assert raised.value.field == "covers"
    assert talking.summaries(CONV) == []


def test_a_summary_splitting_a_tool_exchange_is_refused_naming_covers(ledger: ChatLedger) -> None:
    ledger.record(
        CONV,
        [
            Message(role="user", content="weather?"),
            Message(role="assistant", tool_calls=(ToolCall(id="c0", name="w"),)),
            Message(role="user", content="hurry"),
            Message(role="tool", tool_call_id="c0", content="sunny"),
        ],
    )

    with pytest.raises(InvalidInput) as raised:
        ledger.record_summary(CONV, covers=3, text="text")

    assert raised.value.field == "covers"
    assert "splits the tool exchange" in raised.value.problem
    assert ledger.summaries(CONV) == []


def test_a_summary_ending_inside_an_open_tool_exchange_is_refused(ledger: ChatLedger) -> None:
    ledger.record(
        CONV,
        [
            Message(role="user", content="weather?"),
            Message(role="assistant", tool_calls=(ToolCall(id="c0", name="w"),)),
        ],
    )

    with pytest.raises(InvalidInput) as raised:
        ledger.record_summary(CONV, covers=2, text="text")

    assert "open tool exchange" in raised.value.problem


@pytest.mark.parametrize("text", ["", "   ", "nul\x00"])
def test_a_summary_without_storable_text_is_refused_naming_text(
    talking: ChatLedger, text: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        talking.record_summary(CONV, covers=3, text=text)

    assert raised.value.field == "text"
    assert talking.summaries(CONV) == []


def test_a_summary_of_an_unknown_conversation_is_refused(ledger: ChatLedger) -> None:
    with pytest.raises(UnknownConversation):
        ledger.record_summary("nobody", covers=1, text="text")


# Memory


def test_memory_shows_the_summary_in_place_of_what_it_covers(talking: ChatLedger) -> None:
    talking.record_summary(CONV, covers=19, text="Weather talk, all sunny.")

    view = talking.memory(CONV, WINDOW)

    assert view.summary is not None
    assert view.summary.covers == 19
    assert view.messages[0].role == "system"
    assert (
        view.messages[1].content == "Summary of the earlier conversation:\nWeather talk, all sunny."
    )
    assert min(view.positions[1:]) > 19
    assert view.tokens <= WINDOW.max_tokens


def test_memory_without_summaries_is_exactly_the_token_window(talking: ChatLedger) -> None:
    view = talking.memory(CONV, WINDOW)

    plain = talking.memory(CONV, TokenWindow(max_tokens=WINDOW.max_tokens))
    assert (view.entries, view.tokens, view.summary) == (plain.entries, plain.tokens, None)


def test_memory_at_every_position_equals_the_reference_with_the_summaries_of_then(
    talking: ChatLedger,
) -> None:
    talking.record_summary(CONV, covers=9, text="Early weather talk.")
    talk(talking, 4, start=12)
    talking.record_summary(CONV, covers=25, text="Most of the weather talk.")
    talk(talking, 3, start=16)
    history = talking.history(CONV).entries
    summaries = talking.summaries(CONV)
    overhead = talking.token_counter.request_overhead

    for at in range(len(history) + 1):
        view = talking.memory(CONV, WINDOW, at=at)
        expected = summary_memory_of(history[:at], summaries, WINDOW, overhead)
        assert (view.positions, view.tokens, view.summary) == (
            expected.positions,
            expected.tokens,
            expected.summary,
        ), at


def test_memory_at_a_position_before_a_summary_was_recorded_does_not_use_it(
    talking: ChatLedger,
) -> None:
    talking.record_summary(CONV, covers=19, text="Weather talk.")

    then = talking.memory(CONV, WINDOW, at=24)

    assert then.summary is None


def test_a_model_call_made_with_a_summary_replays_identically_summary_included(
    talking: ChatLedger,
) -> None:
    talking.record_summary(CONV, covers=19, text="Weather talk.")
    view = talking.memory(CONV, WINDOW)
    call = talking.record_model_call(CONV, view, model="gpt-4o")
    talking.record_summary(CONV, covers=21, text="A newer, longer summary of the talk.")
    talk(talking, 2, start=12)

    replay = talking.replay_model_call(CONV, call)

    assert (call.summary, call.summaries) == (1, 1)
    assert replay.identical, replay.differences
    assert replay.view.messages == view.messages


def test_explaining_memory_names_the_summary_that_covers_each_message(
    talking: ChatLedger,
) -> None:
    summary = talking.record_summary(CONV, covers=19, text="Weather talk.")

    explained = talking.explain_memory(CONV, WINDOW)

    assert explained.describe(2) == f"covered by summary #{summary.number}"
    assert explained.view == talking.memory(CONV, WINDOW)


# Compaction


def test_compaction_summarizes_what_the_window_leaves_out_and_records_it(
    talking: ChatLedger,
) -> None:
    summarizer = FakeSummarizer(reply="Weather talk, all sunny.")

    summary = talking.compact(CONV, summarizer, WINDOW)

    assert summary is not None
    assert talking.summaries(CONV) == [summary]
    ((previous, messages),) = summarizer.calls
    assert previous is None
    assert [m.id for m in messages] == [
        e.message.id for e in talking.history(CONV, after=1, before=summary.covers + 1)
    ]
    assert summary.model == "fake-summarizer"
    assert talking.memory(CONV, WINDOW).summary is not None


def test_compaction_extends_the_previous_summary_with_the_units_left_out_since(
    talking: ChatLedger,
) -> None:
    first = talking.compact(CONV, FakeSummarizer(), WINDOW)
    talk(talking, 4, start=12)
    summarizer = FakeSummarizer()

    second = talking.compact(CONV, summarizer, WINDOW)

    assert first is not None
    assert second is not None
    ((previous, messages),) = summarizer.calls
    assert previous == first.text
    assert (
        messages[0].id == talking.history(CONV, after=first.covers, limit=1).entries[0].message.id
    )
    assert second.covers > first.covers


def test_compaction_with_nothing_left_out_records_nothing_and_asks_nobody(
    ledger: ChatLedger,
) -> None:
    talk(ledger, 1)
    summarizer = FakeSummarizer()

    assert ledger.compact(CONV, summarizer, WINDOW) is None
    assert (summarizer.calls, ledger.summaries(CONV)) == ([], [])


def test_compaction_waits_for_the_policys_threshold(talking: ChatLedger) -> None:
    summarizer = FakeSummarizer()

    skipped = talking.compact(
        CONV, summarizer, SummaryWindow(max_tokens=60, compact_after_tokens=10_000)
    )

    assert (skipped, summarizer.calls) == (None, [])


def raising(previous: str | None, messages: Sequence[Message]) -> str:
    raise ConnectionError("the model is down")


def hanging(previous: str | None, messages: Sequence[Message]) -> str:
    time.sleep(5)
    return "too late"


@pytest.mark.parametrize(
    ("summarizer", "cause"),
    [
        (raising, "ConnectionError: the model is down"),
        (FakeSummarizer(reply=""), "returned no text"),
        (FakeSummarizer(reply="  \n"), "returned no text"),
    ],
    ids=["raises", "empty", "blank"],
)
def test_a_failing_summarizer_records_nothing_and_changes_no_history_or_memory(
    talking: ChatLedger, summarizer: object, cause: str
) -> None:
    before = snapshot(talking)

    with pytest.raises(SummarizerFailed) as raised:
        talking.compact(CONV, summarizer, WINDOW)  # type: ignore[arg-type]  # a test double

    assert cause in raised.value.cause
    assert snapshot(talking) == before


def test_a_summarizer_past_its_timeout_records_nothing(talking: ChatLedger) -> None:
    before = snapshot(talking)
    started = time.monotonic()

    with pytest.raises(SummarizerFailed) as raised:
        talking.compact(CONV, hanging, WINDOW, timeout=0.2)

    assert time.monotonic() - started < 3
    assert "no reply within 0.2 s" in raised.value.cause
    assert snapshot(talking) == before


@pytest.mark.parametrize("timeout", [0, -1.0, float("nan"), float("inf")])
def test_a_timeout_that_is_no_positive_number_is_refused_naming_it(
    talking: ChatLedger, timeout: float
) -> None:
    with pytest.raises(InvalidInput) as raised:
        talking.compact(CONV, FakeSummarizer(), WINDOW, timeout=timeout)

    assert raised.value.field == "timeout"


def test_concurrent_compactions_record_one_summary_for_one_coverage(
    talking: ChatLedger,
) -> None:
    barrier = threading.Barrier(4)

    def slow(previous: str | None, messages: Sequence[Message]) -> str:
        barrier.wait(timeout=10)  # every compaction has read the same view before any records
        return f"summary of {len(messages)} messages"

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: talking.compact(CONV, slow, WINDOW), range(4)))

    recorded = talking.summaries(CONV)
    assert len(recorded) == 1
    assert all(result == recorded[0] for result in results)


# Erasure


def test_an_erased_conversations_summaries_keep_their_place_but_not_their_text(
    talking: ChatLedger,
) -> None:
    talking.record_summary(CONV, covers=11, text="A secret weather summary.")

    talking.erase(CONV, reason="asked")

    (summary,) = talking.summaries(CONV)
    assert (summary.number, summary.covers, summary.erased, summary.text) == (1, 11, True, "")
    assert talking.verify(CONV).intact


def test_no_summary_is_recorded_into_an_erased_conversation(talking: ChatLedger) -> None:
    talking.erase(CONV, reason="asked")

    with pytest.raises(ConversationErased):
        talking.record_summary(CONV, covers=3, text="too late")
    with pytest.raises(ConversationErased):
        talking.compact(CONV, FakeSummarizer(), WINDOW)


# Verification


def test_verification_covers_the_summaries(talking: ChatLedger) -> None:
    talking.record_summary(CONV, covers=5, text="Early.")
    talking.record_summary(CONV, covers=11, text="Later.")

    verified = talking.verify(CONV)

    assert verified.intact
    assert verified.summaries == 2


@pytest.mark.postgres
def test_concurrent_compactions_in_threads_on_postgres_record_one_summary(
    postgres_url: str,
) -> None:
    with ChatLedger.open(postgres_url, FakeTokenCounter()) as setup:
        setup.record(CONV, Message(role="system", content="You are a weather assistant."))
        talk(setup, 12)
    barrier = threading.Barrier(6)

    def compact(_: int) -> object:
        def slow(previous: str | None, messages: Sequence[Message]) -> str:
            barrier.wait(timeout=20)
            return "one summary"

        with ChatLedger.open(postgres_url, FakeTokenCounter()) as own:
            return own.compact(CONV, slow, WINDOW)

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(compact, range(6)))

    with ChatLedger.open(postgres_url, FakeTokenCounter()) as reader:
        recorded = reader.summaries(CONV)
        assert reader.verify(CONV).intact
    assert len(recorded) == 1
    assert all(result == recorded[0] for result in results)
