"""The summary window, coverage rules and memory as prompt text, on histories built in memory."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from chatledger.domain import (
    InvalidInput,
    Message,
    Summary,
    SummaryWindow,
    TokenWindow,
    ToolCall,
)
from chatledger.projections import (
    Exclusion,
    HistoryEntry,
    build_summary_memory,
    explain_summary_memory,
    memory_of,
    summary_memory_of,
)
from chatledger.projections.summaries import coverage_problem, summarizable

AT = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
OVERHEAD = 3


def entries(*messages: Message, tokens: int = 10) -> tuple[HistoryEntry, ...]:
    return tuple(
        HistoryEntry(message=m, position=i, recorded_at=AT, tokens=tokens, counter="fake")
        for i, m in enumerate(messages, start=1)
    )


def chat(turns: int) -> tuple[HistoryEntry, ...]:
    """A system prompt, then ``turns`` user/assistant pairs, each message 10 tokens."""
    messages = [Message(role="system", content="Be brief.")]
    for turn in range(turns):
        messages += [
            Message(role="user", content=f"question {turn}"),
            Message(role="assistant", content=f"answer {turn}"),
        ]
    return entries(*messages)


def summary(number: int, covers: int, *, position: int | None = None, tokens: int = 10) -> Summary:
    return Summary(
        number=number,
        covers=covers,
        position=position or covers,
        text=f"summary {number} of 1..{covers}",
        tokens=tokens,
        counter="fake",
        recorded_at=AT,
    )


def call(*ids: str) -> Message:
    return Message(role="assistant", tool_calls=tuple(ToolCall(id=i, name="f") for i in ids))


def result(call_id: str) -> Message:
    return Message(role="tool", tool_call_id=call_id, content="found")


def newest_first(history: Sequence[HistoryEntry]) -> list[HistoryEntry]:
    return list(reversed(history))


# The window


def test_without_summaries_the_view_is_the_token_windows() -> None:
    history = chat(10)

    view = summary_memory_of(history, [], SummaryWindow(max_tokens=60), OVERHEAD)

    expected = memory_of(history, TokenWindow(max_tokens=60), OVERHEAD)
    assert (view.entries, view.tokens, view.summary) == (expected.entries, expected.tokens, None)


def test_a_summary_stands_for_what_it_covers_and_the_newest_units_follow_it() -> None:
    history = chat(10)  # positions 1..21

    view = summary_memory_of(history, [summary(1, 15)], SummaryWindow(max_tokens=60), OVERHEAD)

    assert view.summary is not None
    assert view.summary.number == 1
    assert view.positions == (1, 19, 20, 21)
    assert view.tokens == OVERHEAD + 10 + 10 + 3 * 10
    assert view.messages[1] == view.summary.message


def test_the_summary_message_comes_after_the_system_prompt_rendered_by_the_template() -> None:
    policy = SummaryWindow(
        max_tokens=60, summary_role="system", summary_template="Before: {summary}"
    )

    view = summary_memory_of(chat(10), [summary(1, 15)], policy, OVERHEAD)

    assert [m.role for m in view.messages[:2]] == ["system", "system"]
    assert view.messages[1].content == "Before: summary 1 of 1..15"
    assert view.messages[1].id == "summary-1"


def test_no_summary_is_shown_when_the_whole_history_fits() -> None:
    history = chat(2)

    view = summary_memory_of(history, [summary(1, 3)], SummaryWindow(max_tokens=1000), OVERHEAD)

    assert view.summary is None
    assert view.positions == (1, 2, 3, 4, 5)


def test_a_summary_covering_the_newest_message_waits_for_one_after_it() -> None:
    history = chat(10)

    view = summary_memory_of(
        history, [summary(1, 11), summary(2, 21)], SummaryWindow(max_tokens=60), OVERHEAD
    )

    assert view.summary is not None
    assert view.summary.number == 1


def test_a_summary_too_large_to_fit_gives_way_to_an_older_one() -> None:
    history = chat(10)
    summaries = [summary(1, 11, tokens=10), summary(2, 15, tokens=500)]

    view = summary_memory_of(history, summaries, SummaryWindow(max_tokens=60), OVERHEAD)

    assert view.summary is not None
    assert view.summary.number == 1
    assert view.summaries == 2


def test_a_summary_recorded_after_the_views_position_is_not_used() -> None:
    history = chat(10)

    view = summary_memory_of(
        history[:15], [summary(1, 11, position=20)], SummaryWindow(max_tokens=60), OVERHEAD
    )

    assert (view.summary, view.summaries) == (None, 0)


def test_a_unit_begun_before_the_coverage_never_appears_after_the_summary() -> None:
    history = entries(
        Message(role="user", content="u1"),
        call("a"),
        Message(role="user", content="u2"),
        result("a"),
        *[Message(role="user", content=f"u{i}") for i in range(3, 9)],
    )

    view = summary_memory_of(history, [summary(1, 3)], SummaryWindow(max_tokens=80), OVERHEAD)

    assert 4 not in view.positions  # the result of the call the summary stands for
    assert view.positions[0] > 3


def test_a_custom_template_is_priced_by_the_counter() -> None:
    policy = SummaryWindow(max_tokens=80, summary_template="Long ago: {summary} (1-{covers})")

    view = summary_memory_of(chat(10), [summary(1, 15)], policy, OVERHEAD, lambda message: 7)

    assert view.summary is not None
    assert view.summary.tokens == 7


def test_start_on_user_keeps_a_user_summary_first_and_drops_nothing_after_it() -> None:
    policy = SummaryWindow(max_tokens=60, start_on_user=True)

    view = summary_memory_of(chat(10), [summary(1, 17)], policy, OVERHEAD)

    assert view.positions == (1, 19, 20, 21)  # 19 is the assistant's: the summary is the user's


def test_start_on_user_drops_leading_assistant_units_after_a_system_summary() -> None:
    history = chat(10)
    policy = SummaryWindow(max_tokens=60, start_on_user=True, summary_role="system")

    view = summary_memory_of(history, [summary(1, 17)], policy, OVERHEAD)

    assert view.positions == (1, 20, 21)
    assert view.messages[2].role == "user"


def test_the_view_built_newest_first_equals_the_whole_history_fold() -> None:
    history = chat(30)
    summaries = [summary(1, 21), summary(2, 41)]
    policy = SummaryWindow(max_tokens=90)

    built = build_summary_memory(
        newest_first(history[1:]), history[0], reversed(summaries), policy, OVERHEAD, 61
    )

    assert built == summary_memory_of(history, summaries, policy, OVERHEAD)


def test_explain_says_which_summary_covers_a_message() -> None:
    explained = explain_summary_memory(
        chat(10), [summary(1, 15)], SummaryWindow(max_tokens=60), OVERHEAD
    )

    assert explained.excluded[2] is Exclusion.COVERED_BY_SUMMARY
    assert explained.describe(2) == "covered by summary #1"
    assert explained.describe(17) == "evicted by the window"


# Templates


def test_a_summary_template_without_the_summary_is_rejected_naming_it() -> None:
    with pytest.raises(InvalidInput) as raised:
        SummaryWindow(max_tokens=10, summary_template="Nothing here")

    assert raised.value.field == "summary_template"
    assert "{summary}" in raised.value.problem


def test_a_summary_template_naming_another_placeholder_is_rejected() -> None:
    with pytest.raises(InvalidInput) as raised:
        SummaryWindow(max_tokens=10, summary_template="{summary} {secret}")

    assert raised.value.field == "summary_template"


def test_a_compaction_threshold_below_one_is_rejected_naming_it() -> None:
    with pytest.raises(InvalidInput) as raised:
        SummaryWindow(max_tokens=10, compact_after_tokens=0)

    assert raised.value.field == "compact_after_tokens"


# Coverage


@pytest.mark.parametrize("covers", [1, 4, 5])
def test_a_summary_may_cover_up_to_any_unit_boundary(covers: int) -> None:
    history = entries(
        Message(role="user", content="u"),
        call("a"),
        result("a"),
        Message(role="user", content="q"),
        Message(role="assistant", content="a"),
    )

    assert coverage_problem(newest_first(history), covers) is None


def test_a_summary_may_not_split_a_tool_exchange() -> None:
    history = entries(Message(role="user", content="u"), call("a", "b"), result("a"), result("b"))

    problem = coverage_problem(newest_first(history), 3)

    assert problem is not None
    assert "splits the tool exchange at position 2" in problem.problem
    assert problem.before == 1


def test_a_summary_may_not_end_inside_an_open_tool_exchange() -> None:
    history = entries(Message(role="user", content="u"), call("a", "b"), result("a"))

    problem = coverage_problem(newest_first(history), 3)

    assert problem is not None
    assert "open tool exchange" in problem.problem


def test_a_summary_may_cover_a_call_abandoned_for_a_later_message() -> None:
    history = entries(call("a"), Message(role="user", content="never mind"))

    assert coverage_problem(newest_first(history), 1) is None


def test_what_a_summary_of_a_span_stands_for_is_its_whole_units() -> None:
    history = entries(
        Message(role="system", content="s"),
        Message(role="user", content="u"),
        result("orphan"),
        call("a"),
        result("a"),
    )

    assert [e.position for e in summarizable(history)] == [2, 4, 5]


# Prompt text


def test_prompt_text_holds_the_instructions_and_every_other_message_as_a_line() -> None:
    history = entries(
        Message(role="system", content="Be brief."),
        Message(role="user", content="Weather in Lisbon?"),
        Message(
            role="assistant",
            tool_calls=(ToolCall(id="c0", name="weather", arguments='{"city": "Lisbon"}'),),
        ),
        Message(role="tool", tool_call_id="c0", content="21 C"),
        Message(role="assistant", content="Sunny,\n21 C."),
    )
    view = memory_of(history, TokenWindow(max_tokens=1000), OVERHEAD)

    text = view.as_prompt_text("{instructions}\n--\n{memory}")

    assert text == (
        "Be brief.\n--\n"
        "user: Weather in Lisbon?\n"
        'assistant -> weather({"city": "Lisbon"}) [c0]\n'
        "tool [c0]: 21 C\n"
        "assistant: Sunny,\n  21 C."
    )


def test_prompt_text_includes_the_summary_among_the_memory() -> None:
    view = summary_memory_of(chat(10), [summary(1, 15)], SummaryWindow(max_tokens=60), OVERHEAD)

    text = view.as_prompt_text("{instructions}|{memory}")

    assert text.startswith("Be brief.|user: Summary of the earlier conversation:\n  summary 1")


@pytest.mark.parametrize("template", ["{memory} only", "{instructions} only", "{memory} {x}"])
def test_a_prompt_template_missing_a_placeholder_is_rejected_naming_template(
    template: str,
) -> None:
    view = memory_of(chat(1), TokenWindow(max_tokens=100), OVERHEAD)

    with pytest.raises(InvalidInput) as raised:
        view.as_prompt_text(template)

    assert raised.value.field == "template"
