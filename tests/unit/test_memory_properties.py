"""Invariants of the memory view over random histories and policies (hypothesis)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from itertools import combinations, cycle, islice, permutations

from hypothesis import given, settings
from hypothesis import strategies as st

from chatledger.domain import ImagePart, Message, ReasoningPart, RefusalPart, TextPart, ToolCall
from chatledger.projections import (
    Exclusion,
    HistoryEntry,
    MemoryView,
    MessageWindow,
    Policy,
    TokenWindow,
    build_memory,
    explain_memory,
    memory_of,
)
from tests.payloads import assert_valid_anthropic, assert_valid_openai, assert_valid_responses

RECORDED_AT = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
PROPERTY = settings(max_examples=200, deadline=None)
# Longer than any window the read-cost property draws, so the window is decided inside it.
NEWEST_RUN = 64

# Messages are built once: validating thousands per run would dominate the run time.
USER = Message(role="user", content="question")
REPLY = Message(role="assistant", content="answer")
# Content parts as the providers send them: an image by URL, thinking then text, a refusal.
USER_WITH_IMAGE = Message(
    role="user", content=(TextPart(text="which one?"), ImagePart(url="https://example.com/a.png"))
)
THINKING = ReasoningPart(provider="anthropic", text="weigh it", signature="sig")
REASONED_REPLY = Message(
    role="assistant", content=(THINKING, TextPart(text="this one")), format="anthropic"
)
REFUSAL = Message(role="assistant", content=(RefusalPart(refusal="I can't help with that."),))
SYSTEMS = (
    Message(role="system", content="Be brief."),
    Message(role="system", content="Be kind."),
    Message(role="developer", content="Answer in French."),
)
# A small pool of call ids, so turns reuse them and results can answer another turn's call.
CALL_IDS = ("call_0", "call_1", "call_2", "call_3")
RESULTS = {i: Message(role="tool", tool_call_id=i, content="found") for i in CALL_IDS}
# Reasoning an exchange's call may carry: Anthropic's thinking, or an OpenAI Responses item.
CALL_REASONING = (
    None,
    (THINKING,),
    (ReasoningPart(provider="openai", id="rs_0", summary=("plan",), encrypted_content="e"),),
)


def _exchanges(missing: int) -> tuple[tuple[Message, ...], ...]:
    """Each call of 1-3 pool ids, then results for all but ``missing`` of them, in every order;
    the calls carry each kind of reasoning in turn."""
    shapes = [
        (ids, results)
        for size in (1, 2, 3)
        for ids in combinations(CALL_IDS, size)
        for results in permutations(ids, size - missing)
    ]
    return tuple(
        (
            Message(
                role="assistant",
                content=CALL_REASONING[index % len(CALL_REASONING)],
                tool_calls=tuple(ToolCall(id=i, name="f") for i in ids),
            ),
            *(RESULTS[i] for i in results),
        )
        for index, (ids, results) in enumerate(shapes)
    )


# Histories are drawn as runs of messages, repeated here to weight the draw: a mix of single
# random messages almost never answers every call of an exchange. Exchanges come whole or one
# result short; stray results with pool ids still reach older exchanges or end up orphans.
RUNS = (
    ((USER,),) * 30
    + ((USER_WITH_IMAGE,),) * 10
    + ((REPLY,),) * 10
    + ((REASONED_REPLY,),) * 6
    + ((REFUSAL,),) * 4
    + _exchanges(missing=0)
    + _exchanges(missing=1)
    + tuple((result,) for result in RESULTS.values()) * 5
    + tuple((prompt,) for prompt in SYSTEMS) * 10
)
# Token counts are a few random bytes, 0-50 each, repeated along the history: one draw for them
# all, as a draw per message would make generation dominate the run time.
token_counts = st.binary(min_size=1, max_size=8).map(lambda costs: [byte % 51 for byte in costs])
policies: st.SearchStrategy[Policy] = st.one_of(
    st.builds(MessageWindow, max_messages=st.integers(1, 12), start_on_user=st.booleans()),
    st.builds(TokenWindow, max_tokens=st.integers(1, 400), start_on_user=st.booleans()),
)
overheads = st.integers(0, 5)


def history(messages: Sequence[Message], tokens: Sequence[int]) -> tuple[HistoryEntry, ...]:
    """Entries at positions 1..n, costing ``tokens`` repeated as often as needed."""
    return tuple(
        HistoryEntry(
            message=message, position=position, recorded_at=RECORDED_AT, tokens=cost, counter="fake"
        )
        for position, (message, cost) in enumerate(zip(messages, cycle(tokens)), start=1)
    )


@st.composite
def histories(draw: st.DrawFn) -> tuple[HistoryEntry, ...]:
    """Random histories of up to a dozen runs of messages."""
    # Drawn by index: sampling the runs themselves hashes every message of every run per example.
    drawn = draw(st.lists(st.integers(0, len(RUNS) - 1).map(RUNS.__getitem__), max_size=12))
    return history([message for run in drawn for message in run], draw(token_counts))


def current_prompt(entries: Sequence[HistoryEntry]) -> HistoryEntry | None:
    """The last instruction (system or developer) recorded, as storage looks it up."""
    return next((e for e in reversed(entries) if e.message.is_instruction), None)


def read_newest_first(entries: Sequence[HistoryEntry], policy: Policy, overhead: int) -> MemoryView:
    """build_memory as storage calls it, at the end of ``entries``."""
    position = entries[-1].position if entries else 0
    return build_memory(reversed(entries), current_prompt(entries), policy, overhead, position)


def must_read(entries: Sequence[HistoryEntry], policy: Policy, overhead: int) -> int:
    """How many entries, newest first, decide the window, by the reference's explanation."""
    prompt = current_prompt(entries)
    prompt_tokens = 0 if prompt is None else prompt.tokens
    if isinstance(policy, TokenWindow) and overhead + prompt_tokens > policy.max_tokens:
        return 0
    excluded = explain_memory(entries, policy, overhead).excluded
    # An evicted message that is not a tool result starts its unit; the newest such unit is the
    # first that did not fit, and without one every unit had to be seen.
    evicted_starts = [
        position
        for position, why in excluded.items()
        if why is Exclusion.EVICTED and entries[position - 1].message.role != "tool"
    ]
    return len(entries) - max(evicted_starts) + 1 if evicted_starts else len(entries)


def counted(entries: Iterable[HistoryEntry], pulled: list[HistoryEntry]) -> Iterator[HistoryEntry]:
    """Yield ``entries``, noting in ``pulled`` each one the consumer asked for."""
    for entry in entries:
        pulled.append(entry)
        yield entry


@PROPERTY
@given(histories(), policies, overheads)
def test_reading_newest_first_gives_the_reference_view(
    entries: tuple[HistoryEntry, ...], policy: Policy, overhead: int
) -> None:
    view = read_newest_first(entries, policy, overhead)

    assert view == memory_of(entries, policy, overhead)


@PROPERTY
@given(histories(), policies, overheads, st.data())
def test_view_at_a_position_is_the_view_of_the_history_up_to_it(
    entries: tuple[HistoryEntry, ...], policy: Policy, overhead: int, data: st.DataObject
) -> None:
    at = data.draw(st.integers(0, len(entries)), label="at")

    view = read_newest_first(entries[:at], policy, overhead)

    assert view == memory_of(entries[:at], policy, overhead)


@PROPERTY
@given(histories(), policies, overheads)
def test_view_is_never_over_budget_unless_it_is_the_system_prompt_alone(
    entries: tuple[HistoryEntry, ...], policy: Policy, overhead: int
) -> None:
    view = memory_of(entries, policy, overhead)

    if isinstance(policy, MessageWindow):
        assert len(view.entries) <= policy.max_messages
    else:
        prompt = current_prompt(entries)
        assert view.tokens <= policy.max_tokens or view.entries == (prompt,)


@PROPERTY
@given(histories(), policies, overheads)
def test_a_view_says_it_is_over_budget_exactly_when_it_is(
    entries: tuple[HistoryEntry, ...], policy: Policy, overhead: int
) -> None:
    view = memory_of(entries, policy, overhead)

    if isinstance(policy, MessageWindow):
        assert view.over_budget is (len(view.entries) > policy.max_messages)
    else:
        assert view.over_budget is (view.tokens > policy.max_tokens)
    if view.over_budget:
        assert view.entries == (current_prompt(entries),)


@PROPERTY
@given(histories(), policies, overheads)
def test_view_has_no_orphan_result_and_no_unanswered_call(
    entries: tuple[HistoryEntry, ...], policy: Policy, overhead: int
) -> None:
    view = memory_of(entries, policy, overhead)

    awaited: set[str | None] = set()
    for message in view.messages:
        if message.role == "tool":
            assert message.tool_call_id in awaited
            awaited.remove(message.tool_call_id)
        else:
            assert awaited == set()
            awaited = {call.id for call in message.tool_calls}
    assert awaited == set()


@PROPERTY
@given(histories(), policies, overheads)
def test_system_prompt_is_the_last_one_recorded_and_comes_first(
    entries: tuple[HistoryEntry, ...], policy: Policy, overhead: int
) -> None:
    view = memory_of(entries, policy, overhead)

    prompt = current_prompt(entries)
    shown = [entry for entry in view.entries if entry.message.is_instruction]
    if prompt is None:
        assert shown == []
    else:
        assert (view.entries[0], shown) == (prompt, [prompt])


@PROPERTY
@given(histories(), policies, overheads)
def test_reading_newest_first_stops_at_the_first_message_of_the_first_unit_that_does_not_fit(
    entries: tuple[HistoryEntry, ...], policy: Policy, overhead: int
) -> None:
    pulled: list[HistoryEntry] = []
    newest_first = counted(reversed(entries), pulled)

    build_memory(newest_first, current_prompt(entries), policy, overhead, len(entries))

    assert len(pulled) == must_read(entries, policy, overhead)


@PROPERTY
@given(
    histories(),
    st.lists(st.sampled_from([USER, REPLY]), min_size=1, max_size=4),
    st.integers(1, 50),
    st.one_of(
        st.builds(MessageWindow, max_messages=st.integers(1, 12), start_on_user=st.booleans()),
        st.builds(TokenWindow, max_tokens=st.integers(1, 60), start_on_user=st.booleans()),
    ),
    overheads,
)
def test_reading_newest_first_pulls_no_more_than_the_window_and_one_message(
    older: tuple[HistoryEntry, ...],
    pattern: list[Message],
    cost: int,
    policy: Policy,
    overhead: int,
) -> None:
    # Each newest message costs a token or more, so no window drawn here reaches past them.
    newest = list(islice(cycle(pattern), NEWEST_RUN))
    entries = history(
        [entry.message for entry in older] + newest,
        [entry.tokens for entry in older] + [cost] * NEWEST_RUN,
    )
    pulled: list[HistoryEntry] = []

    build_memory(
        counted(reversed(entries), pulled), current_prompt(entries), policy, overhead, len(entries)
    )

    limit = policy.max_messages if isinstance(policy, MessageWindow) else policy.max_tokens
    assert len(pulled) <= limit + 1


@PROPERTY
@given(histories(), policies, overheads)
def test_reasoning_that_led_to_calls_is_shown_only_followed_by_their_results(
    entries: tuple[HistoryEntry, ...], policy: Policy, overhead: int
) -> None:
    view = memory_of(entries, policy, overhead)

    shown = view.messages
    for index, message in enumerate(shown):
        if message.reasoning and message.tool_calls:
            results = shown[index + 1 : index + 1 + len(message.tool_calls)]
            assert sorted(r.tool_call_id or "" for r in results) == sorted(
                call.id for call in message.tool_calls
            )


@settings(max_examples=60, deadline=None)
@given(histories(), policies, overheads)
def test_every_view_renders_for_every_provider_as_its_sdk_types(
    entries: tuple[HistoryEntry, ...], policy: Policy, overhead: int
) -> None:
    view = memory_of(entries, policy, overhead)

    assert_valid_openai(view.rendering("openai").payload)
    assert_valid_responses(view.rendering("responses").payload)
    assert_valid_anthropic(dict(view.rendering("anthropic").payload))
