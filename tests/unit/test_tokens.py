"""Token counting follows OpenAI's published chat scheme (golden counts from the cookbook)."""

from __future__ import annotations

import pytest

from domain import Message, ToolCall
from infrastructure.tokens import TiktokenCounter

COOKBOOK_EXAMPLE = [
    Message(
        role="system",
        content="You are a helpful, pattern-following assistant that translates corporate "
        "jargon into plain English.",
    ),
    Message(
        role="system", name="example_user", content="New synergies will help drive top-line growth."
    ),
    Message(
        role="system",
        name="example_assistant",
        content="Things working well together will increase revenue.",
    ),
    Message(
        role="system",
        name="example_user",
        content="Let's circle back when we have more bandwidth to touch base on opportunities "
        "for increased leverage.",
    ),
    Message(
        role="system",
        name="example_assistant",
        content="Let's talk later when we're less busy about how to do better.",
    ),
    Message(
        role="user",
        content="This late pivot means we don't have time to boil the ocean for the client "
        "deliverable.",
    ),
]


@pytest.fixture(scope="module")
def gpt4() -> TiktokenCounter:
    return TiktokenCounter(model="gpt-4")


def prompt_tokens(counter: TiktokenCounter, messages: list[Message]) -> int:
    return counter.request_overhead + sum(counter.count(m) for m in messages)


def test_the_cookbook_example_counts_129_prompt_tokens_for_gpt_4(gpt4: TiktokenCounter) -> None:
    assert prompt_tokens(gpt4, COOKBOOK_EXAMPLE) == 129


def test_the_cookbook_example_counts_129_for_gpt_35_turbo_0613() -> None:
    assert prompt_tokens(TiktokenCounter(model="gpt-3.5-turbo-0613"), COOKBOOK_EXAMPLE) == 129


def test_the_legacy_0301_scheme_charges_4_per_message_and_minus_1_per_name() -> None:
    legacy = TiktokenCounter(model="gpt-3.5-turbo-0301")

    assert prompt_tokens(legacy, COOKBOOK_EXAMPLE) == 129 + 6 - 2 * 4


def test_known_strings_encode_to_their_published_lengths(gpt4: TiktokenCounter) -> None:
    assert gpt4.encode_length("tiktoken is great!") == 6


def test_special_token_text_is_counted_as_text_and_never_raises(gpt4: TiktokenCounter) -> None:
    count = gpt4.count(Message(role="user", content="<|endoftext|> and <|endofprompt|>"))

    assert count > 3 + 1 + 2


def test_tool_call_names_and_arguments_are_counted(gpt4: TiktokenCounter) -> None:
    bare = gpt4.count(Message(role="assistant", content=None))
    call = ToolCall(id="call_0", name="get_weather", arguments='{"city": "Lisbon"}')

    with_call = gpt4.count(Message(role="assistant", tool_calls=(call,)))

    expected = 3 + gpt4.encode_length("get_weather") + gpt4.encode_length('{"city": "Lisbon"}')
    assert with_call - bare == expected


def test_arguments_that_are_not_json_are_still_counted(gpt4: TiktokenCounter) -> None:
    short = ToolCall(id="c", name="f", arguments="{")
    long = ToolCall(id="c", name="f", arguments="{not json, but long text all the same")

    assert gpt4.count(Message(role="assistant", tool_calls=(long,))) > gpt4.count(
        Message(role="assistant", tool_calls=(short,))
    )


def test_a_tool_result_counts_its_call_id(gpt4: TiktokenCounter) -> None:
    result = Message(role="tool", tool_call_id="call_abc123", content="21")

    assert gpt4.count(result) == 3 + 1 + gpt4.encode_length("call_abc123") + 1


def test_the_counter_name_says_scheme_and_encoding(gpt4: TiktokenCounter) -> None:
    assert gpt4.name == "tiktoken:gpt-4/cl100k_base"
    assert TiktokenCounter().name == "tiktoken:cl100k_base"
