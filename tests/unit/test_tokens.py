"""Token counting follows OpenAI's published chat scheme, golden counts from the cookbook."""

from __future__ import annotations

import pytest
import tiktoken

from chatledger.domain import EncodingUnavailable, Message, TokenCounter, ToolCall
from chatledger.infrastructure.tokens import TiktokenCounter, default_token_counter, load_encoding

# "How to count tokens with tiktoken" (OpenAI cookbook): its worked example of a request.
COOKBOOK_EXAMPLE = (
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
)

WEATHER_CALL = ToolCall(id="call_0", name="get_weather", arguments='{"city": "Lisbon"}')


@pytest.fixture(scope="module")
def cl100k() -> tiktoken.Encoding:
    return load_encoding("cl100k_base")


@pytest.fixture(scope="module")
def gpt4() -> TiktokenCounter:
    return TiktokenCounter(model="gpt-4")


def prompt_tokens(counter: TiktokenCounter, messages: tuple[Message, ...]) -> int:
    return counter.request_overhead + sum(counter.count(message) for message in messages)


def test_the_cookbook_example_counts_129_prompt_tokens_for_gpt_4(gpt4: TiktokenCounter) -> None:
    assert prompt_tokens(gpt4, COOKBOOK_EXAMPLE) == 129


def test_the_cookbook_example_counts_129_prompt_tokens_for_gpt_35_turbo_0613() -> None:
    counter = TiktokenCounter(model="gpt-3.5-turbo-0613")

    assert prompt_tokens(counter, COOKBOOK_EXAMPLE) == 129


def test_the_legacy_gpt_35_turbo_0301_scheme_counts_the_cookbook_example_as_127() -> None:
    counter = TiktokenCounter(model="gpt-3.5-turbo-0301")

    assert prompt_tokens(counter, COOKBOOK_EXAMPLE) == 127


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("tiktoken is great!", [83, 1609, 5963, 374, 2294, 0]),  # the cookbook's example
        ("hello world", [15339, 1917]),  # tiktoken's own test suite
    ],
)
def test_known_strings_encode_to_their_published_cl100k_tokens(
    cl100k: tiktoken.Encoding, text: str, tokens: list[int]
) -> None:
    assert cl100k.encode(text) == tokens


def test_the_special_tokens_keep_their_published_ids(cl100k: tiktoken.Encoding) -> None:
    assert cl100k.encode("<|endoftext|>", allowed_special="all") == [100257]


def test_encode_length_is_the_number_of_tokens_in_a_string(gpt4: TiktokenCounter) -> None:
    assert gpt4.encode_length("tiktoken is great!") == 6


def test_special_token_text_is_counted_as_plain_text(
    gpt4: TiktokenCounter, cl100k: tiktoken.Encoding
) -> None:
    as_text = cl100k.encode("<|endoftext|>", disallowed_special=())

    assert gpt4.encode_length("<|endoftext|>") == len(as_text) > 1


def test_a_message_holding_special_token_text_counts_without_raising(
    gpt4: TiktokenCounter,
) -> None:
    message = Message(role="user", content="<|endoftext|> then <|endofprompt|>")

    count = gpt4.count(message)

    assert count == 3 + gpt4.encode_length("user") + gpt4.encode_length(message.text or "")


def test_a_message_without_content_counts_its_framing_and_role(gpt4: TiktokenCounter) -> None:
    assert gpt4.count(Message(role="assistant", content="")) == 3 + 1


def test_a_name_adds_its_tokens_plus_one(gpt4: TiktokenCounter) -> None:
    plain = gpt4.count(Message(role="user", content="hi"))

    named = gpt4.count(Message(role="user", content="hi", name="example_user"))

    assert named - plain == gpt4.encode_length("example_user") + 1


def test_a_tool_call_adds_its_name_its_arguments_and_3(gpt4: TiktokenCounter) -> None:
    bare = gpt4.count(Message(role="assistant"))

    with_call = gpt4.count(Message(role="assistant", tool_calls=(WEATHER_CALL,)))

    expected = 3 + gpt4.encode_length("get_weather") + gpt4.encode_length('{"city": "Lisbon"}')
    assert with_call - bare == expected


def test_a_longer_tool_name_counts_more(gpt4: TiktokenCounter) -> None:
    short = ToolCall(id="c", name="f", arguments="{}")
    long = ToolCall(id="c", name="fetch_the_weather_forecast_for_a_city", arguments="{}")

    assert gpt4.count(Message(role="assistant", tool_calls=(long,))) > gpt4.count(
        Message(role="assistant", tool_calls=(short,))
    )


def test_longer_tool_arguments_count_more(gpt4: TiktokenCounter) -> None:
    short = ToolCall(id="c", name="f", arguments='{"city": "Oslo"}')
    long = ToolCall(id="c", name="f", arguments='{"city": "Oslo", "days": 14, "units": "metric"}')

    assert gpt4.count(Message(role="assistant", tool_calls=(long,))) > gpt4.count(
        Message(role="assistant", tool_calls=(short,))
    )


def test_arguments_that_are_not_json_are_counted_all_the_same(gpt4: TiktokenCounter) -> None:
    arguments = "{not json, but long text all the same"
    call = ToolCall(id="c", name="f", arguments=arguments)

    count = gpt4.count(Message(role="assistant", tool_calls=(call,)))

    assert count == 3 + 1 + 3 + gpt4.encode_length("f") + gpt4.encode_length(arguments)


def test_every_tool_call_of_a_message_is_counted(gpt4: TiktokenCounter) -> None:
    other = ToolCall(id="call_1", name="get_time", arguments='{"city": "Lisbon"}')
    one = gpt4.count(Message(role="assistant", tool_calls=(WEATHER_CALL,)))

    both = gpt4.count(Message(role="assistant", tool_calls=(WEATHER_CALL, other)))

    assert both - one == 3 + gpt4.encode_length("get_time") + gpt4.encode_length(other.arguments)


def test_a_tool_result_counts_its_call_id(gpt4: TiktokenCounter) -> None:
    result = Message(role="tool", tool_call_id="call_abc123", content="21")

    expected = 3 + gpt4.encode_length("tool") + gpt4.encode_length("call_abc123") + 1
    assert gpt4.count(result) == expected


def test_a_request_adds_3_tokens_of_reply_priming(gpt4: TiktokenCounter) -> None:
    assert gpt4.request_overhead == 3


def test_the_counter_name_says_the_model_and_the_encoding(gpt4: TiktokenCounter) -> None:
    assert gpt4.name == "tiktoken:gpt-4/cl100k_base"


def test_the_default_counter_counts_with_cl100k_base() -> None:
    assert default_token_counter().name == "tiktoken:cl100k_base"


def test_a_model_name_selects_its_encoding() -> None:
    assert TiktokenCounter(model="gpt-4-0613").encoding_name == "cl100k_base"


def test_the_counter_is_a_token_counter(gpt4: TiktokenCounter) -> None:
    assert isinstance(gpt4, TokenCounter)


def test_an_unknown_model_is_unavailable_and_says_to_pass_an_encoding() -> None:
    with pytest.raises(EncodingUnavailable, match=r"'no-such-model-xyz'.*encoding="):
        TiktokenCounter(model="no-such-model-xyz")


def test_an_unsupported_encoding_lists_the_supported_ones() -> None:
    with pytest.raises(EncodingUnavailable, match=r"'p50k_base'.*cl100k_base, o200k_base"):
        load_encoding("p50k_base")
