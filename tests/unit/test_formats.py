"""Provider renderings, checked against the official SDKs' request types (openai, anthropic)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import pytest
from anthropic.types import MessageParam
from hypothesis import given
from hypothesis import strategies as st
from openai.types.chat import ChatCompletionMessageParam
from pydantic import TypeAdapter

from chatledger.domain import Message, ToolCall
from chatledger.projections import HistoryEntry, MessageWindow, memory_of
from chatledger.projections.formats import (
    ANTHROPIC_FIRST_USER_TEXT,
    AnthropicBlock,
    AnthropicMessage,
    anthropic_request,
    openai_messages,
    to_anthropic,
    to_openai,
)

OPENAI_MESSAGE: TypeAdapter[Any] = TypeAdapter(ChatCompletionMessageParam)
ANTHROPIC_MESSAGE: TypeAdapter[Any] = TypeAdapter(MessageParam)
ANTHROPIC_REQUEST: TypeAdapter[Any] = TypeAdapter(
    # The `system` and `messages` parameters of client.messages.create.
    dict[str, str | list[MessageParam] | None]
)


def materialized(value: Any) -> Any:
    """Validated data with the SDK's lazily checked iterables read to the end."""
    if isinstance(value, dict):
        return {key: materialized(item) for key, item in value.items()}
    if isinstance(value, Iterable) and not isinstance(value, str | bytes):
        return [materialized(item) for item in value]
    return value


def assert_valid(adapter: TypeAdapter[Any], value: Any) -> None:
    """Valid, and nothing dropped: the SDK type keeps every key we produced."""
    assert materialized(adapter.validate_python(value)) == value


def blocks_of(turn: AnthropicMessage) -> list[AnthropicBlock]:
    """A turn's blocks: a turn rendered from messages of no provider's shape always has them."""
    assert isinstance(turn["content"], list)
    return turn["content"]


def exchange() -> list[Message]:
    return [
        Message(role="system", content="You are a travel assistant."),
        Message(role="user", content="Weather in Lisbon and Porto?", name="ana"),
        Message(
            role="assistant",
            content="Checking both.",
            tool_calls=(
                ToolCall(id="call_0", name="weather", arguments='{"city": "Lisbon"}'),
                ToolCall(id="call_1", name="weather", arguments='{"city": "Porto"}'),
            ),
        ),
        Message(role="tool", tool_call_id="call_0", content='{"temp_c": 21}'),
        Message(role="tool", tool_call_id="call_1", content='{"temp_c": 17}'),
        Message(role="assistant", content="Lisbon 21 °C, Porto 17 °C."),
    ]


def entries(messages: list[Message]) -> list[HistoryEntry]:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        HistoryEntry(message=m, position=i, recorded_at=at, tokens=5, counter="fake:words")
        for i, m in enumerate(messages, start=1)
    ]


def test_openai_rendering_is_a_valid_chat_completions_messages_list() -> None:
    rendered = openai_messages(exchange())

    for message in rendered:
        assert_valid(OPENAI_MESSAGE, message)
    assert [m["role"] for m in rendered] == [
        "system",
        "user",
        "assistant",
        "tool",
        "tool",
        "assistant",
    ]


def test_openai_tool_calls_carry_their_ids_and_raw_arguments() -> None:
    rendered = openai_messages(exchange())

    assert rendered[2]["tool_calls"][0] == {
        "id": "call_0",
        "type": "function",
        "function": {"name": "weather", "arguments": '{"city": "Lisbon"}'},
    }
    assert rendered[3] == {"role": "tool", "content": '{"temp_c": 21}', "tool_call_id": "call_0"}
    assert rendered[1]["name"] == "ana"


def test_openai_assistant_that_only_calls_tools_has_null_content() -> None:
    call = Message(role="assistant", tool_calls=(ToolCall(id="c", name="now"),))

    (rendered,) = openai_messages([call])

    assert rendered["content"] is None
    assert_valid(OPENAI_MESSAGE, rendered)


def test_anthropic_rendering_puts_the_system_prompt_apart() -> None:
    rendered = anthropic_request(exchange())

    assert rendered["system"] == "You are a travel assistant."
    assert all(turn["role"] in {"user", "assistant"} for turn in rendered["messages"])
    assert_valid(ANTHROPIC_REQUEST, rendered)


def test_anthropic_rendering_is_valid_message_params() -> None:
    for turn in anthropic_request(exchange())["messages"]:
        assert_valid(ANTHROPIC_MESSAGE, turn)


def test_anthropic_tool_calls_become_tool_use_blocks_with_parsed_input() -> None:
    assistant = anthropic_request(exchange())["messages"][1]

    assert assistant["role"] == "assistant"
    assert assistant["content"] == [
        {"type": "text", "text": "Checking both."},
        {"type": "tool_use", "id": "call_0", "name": "weather", "input": {"city": "Lisbon"}},
        {"type": "tool_use", "id": "call_1", "name": "weather", "input": {"city": "Porto"}},
    ]


def test_anthropic_results_of_one_exchange_share_one_user_turn() -> None:
    results = anthropic_request(exchange())["messages"][2]

    assert results == {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "call_0", "content": '{"temp_c": 21}'},
            {"type": "tool_result", "tool_use_id": "call_1", "content": '{"temp_c": 17}'},
        ],
    }


def test_anthropic_merges_consecutive_turns_of_one_role() -> None:
    messages = [
        Message(role="user", content="one"),
        Message(role="user", content="two"),
        Message(role="assistant", content="three"),
        Message(role="assistant", content="four"),
    ]

    rendered = anthropic_request(messages)["messages"]

    assert rendered == [
        {
            "role": "user",
            "content": [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}],
        },
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "three"}, {"type": "text", "text": "four"}],
        },
    ]


def test_anthropic_user_text_after_tool_results_joins_their_turn_after_them() -> None:
    messages = [
        Message(role="user", content="time?"),
        Message(role="assistant", tool_calls=(ToolCall(id="c", name="now"),)),
        Message(role="tool", tool_call_id="c", content="12:00"),
        Message(role="user", content="thanks"),
    ]

    last = anthropic_request(messages)["messages"][-1]

    assert [block["type"] for block in blocks_of(last)] == ["tool_result", "text"]


def test_anthropic_first_turn_is_a_user_turn() -> None:
    messages = [Message(role="assistant", content="Hello! How can I help?")]

    rendered = anthropic_request(messages)["messages"]

    assert rendered[0] == {
        "role": "user",
        "content": [{"type": "text", "text": ANTHROPIC_FIRST_USER_TEXT}],
    }
    assert rendered[1]["role"] == "assistant"


def test_anthropic_tool_input_that_is_not_a_json_object_is_kept_whole() -> None:
    call = Message(
        role="assistant",
        tool_calls=(
            ToolCall(id="a", name="f", arguments="not json"),
            ToolCall(id="b", name="g", arguments="[1, 2]"),
            ToolCall(id="c", name="h"),
        ),
    )

    blocks = blocks_of(anthropic_request([Message(role="user", content="go"), call])["messages"][1])

    assert [block["input"] for block in blocks] == [
        {"arguments": "not json"},
        {"arguments": [1, 2]},
        {},
    ]


def test_anthropic_drops_empty_text_which_the_api_rejects() -> None:
    rendered = anthropic_request(
        [Message(role="user", content=""), Message(role="user", content="hi")]
    )

    assert rendered["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]


def test_a_memory_view_renders_itself_for_both_providers() -> None:
    view = memory_of(entries(exchange()), MessageWindow(max_messages=20), request_overhead=3)

    assert view.to_openai() == to_openai(view.messages)
    assert view.to_anthropic() == to_anthropic(view.messages)


_kinds = st.sampled_from(["user", "assistant", "exchange"])


@given(st.lists(_kinds, max_size=12), st.booleans())
def test_anthropic_turns_alternate_start_on_user_and_answer_every_tool_use(
    shape: list[str], with_system: bool
) -> None:
    messages = [Message(role="system", content="be brief")] if with_system else []
    for index, kind in enumerate(shape):
        if kind == "exchange":
            call_id = f"call_{index}"
            messages.append(Message(role="assistant", tool_calls=(ToolCall(id=call_id, name="f"),)))
            messages.append(Message(role="tool", tool_call_id=call_id, content="ok"))
        elif kind == "user":
            messages.append(Message(role="user", content=f"m{index}"))
        else:
            messages.append(Message(role="assistant", content=f"m{index}"))

    turns = anthropic_request(messages)["messages"]

    roles = [turn["role"] for turn in turns]
    assert all(a != b for a, b in itertools.pairwise(roles))
    assert not turns or roles[0] == "user"
    for before, after in itertools.pairwise(turns):
        used = {b["id"] for b in blocks_of(before) if b["type"] == "tool_use"}
        answered = {b["tool_use_id"] for b in blocks_of(after) if b["type"] == "tool_result"}
        assert used == answered
    for turn in turns:
        assert_valid(ANTHROPIC_MESSAGE, turn)


def test_the_sdk_typed_renderings_are_the_same_data_as_chatledgers() -> None:
    messages = exchange()

    assert to_openai(messages) == openai_messages(messages)
    assert to_anthropic(messages) == anthropic_request(messages)


UNPORTABLE_ARGUMENTS = [
    '{"a": "\\ud800"}',  # JSON escapes that decode to a lone surrogate
    "NaN",
    '{"a": Infinity}',
    '{"a": -Infinity}',
    '{"a": 1e400}',
    "[" * 100 + "]" * 100,
    "[" * 100_000,
    "1" * 5000,
]


def refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


@pytest.mark.parametrize("arguments", UNPORTABLE_ARGUMENTS)
def test_every_rendering_of_any_recordable_arguments_is_json(arguments: str) -> None:
    messages = [
        Message(role="user", content="go"),
        Message(role="assistant", tool_calls=(ToolCall(id="c", name="f", arguments=arguments),)),
        Message(role="tool", tool_call_id="c", content="ok"),
    ]

    for rendered in (to_openai(messages), to_anthropic(messages)):
        text = json.dumps(rendered, ensure_ascii=False, allow_nan=False)
        json.loads(text.encode("utf-8"), parse_constant=refuse_constant)
    tool_use = blocks_of(anthropic_request(messages)["messages"][1])[0]
    assert tool_use["input"] == {"arguments": arguments}
