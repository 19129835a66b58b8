"""Token counting follows OpenAI's published chat scheme, golden counts from the cookbook."""

from __future__ import annotations

import pytest
import tiktoken

from chatledger.domain import EncodingUnavailable, Message, TokenCounter, ToolCall
from chatledger.infrastructure.tokens import (
    MODEL_ENCODINGS,
    DeferredCounter,
    TiktokenCounter,
    default_token_counter,
    encoding_for_model,
    load_encoding,
)

# "How to count tokens with tiktoken" (OpenAI cookbook, examples/How_to_count_tokens_with_tiktoken
# .ipynb in openai/openai-cookbook, section 6): its worked example of a request, for which it
# prints the prompt tokens both its function and the OpenAI API counted.
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
def o200k() -> tiktoken.Encoding:
    return load_encoding("o200k_base")


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


@pytest.mark.parametrize("model", ["gpt-4o", "gpt-4o-mini"])
def test_the_cookbook_example_counts_124_prompt_tokens_for_the_o200k_base_models(
    model: str,
) -> None:
    counter = TiktokenCounter(model=model)

    assert prompt_tokens(counter, COOKBOOK_EXAMPLE) == 124


def test_the_legacy_gpt_35_turbo_0301_scheme_counts_the_cookbook_example_as_127() -> None:
    counter = TiktokenCounter(model="gpt-3.5-turbo-0301")

    assert prompt_tokens(counter, COOKBOOK_EXAMPLE) == 127


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("tiktoken is great!", [83, 1609, 5963, 374, 2294, 0]),  # the cookbook's example
        ("hello world", [15339, 1917]),  # tiktoken's own test suite
        # The cookbook's "Comparing encodings" section.
        ("antidisestablishmentarianism", [519, 85342, 34500, 479, 8997, 2191]),
        ("2 + 2 = 4", [17, 489, 220, 17, 284, 220, 19]),
        ("お誕生日おめでとう", [33334, 45918, 243, 21990, 9080, 33334, 62004, 16556, 78699]),
    ],
)
def test_known_strings_encode_to_their_published_cl100k_tokens(
    cl100k: tiktoken.Encoding, text: str, tokens: list[int]
) -> None:
    assert cl100k.encode(text) == tokens


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        # The cookbook's o200k_base figures: its example string, then "Comparing encodings".
        ("tiktoken is great!", [83, 8251, 2488, 382, 2212, 0]),
        ("antidisestablishmentarianism", [493, 129901, 376, 160388, 21203, 2367]),
        ("2 + 2 = 4", [17, 659, 220, 17, 314, 220, 19]),
        ("お誕生日おめでとう", [8930, 9697, 243, 128225, 8930, 17693, 4344, 48669]),
    ],
)
def test_known_strings_encode_to_their_published_o200k_tokens(
    o200k: tiktoken.Encoding, text: str, tokens: list[int]
) -> None:
    assert o200k.encode(text) == tokens


def test_the_o200k_special_tokens_keep_their_published_ids(o200k: tiktoken.Encoding) -> None:
    assert o200k.encode("<|endoftext|><|endofprompt|>", allowed_special="all") == [199999, 200018]


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


def test_the_default_counter_counts_with_o200k_base() -> None:
    assert default_token_counter().name == "tiktoken:o200k_base"


def test_a_counter_named_by_neither_model_nor_encoding_counts_with_o200k_base() -> None:
    assert TiktokenCounter().encoding_name == "o200k_base"


def test_a_model_name_selects_its_encoding() -> None:
    assert TiktokenCounter(model="gpt-4-0613").encoding_name == "cl100k_base"


@pytest.mark.parametrize(
    "model",
    [
        "gpt-4o",
        "gpt-4o-2024-08-06",
        "gpt-4o-mini",
        "chatgpt-4o-latest",
        "gpt-4.1",
        "gpt-4.1-mini",
        "gpt-4.1-nano-2025-04-14",
        "gpt-4.5-preview",
        "gpt-5",
        "gpt-5-mini",
        "gpt-5-2025-08-07",
        "gpt-5.1",
        "o1",
        "o1-mini",
        "o1-2024-12-17",
        "o3",
        "o3-mini",
        "o3-pro",
        "o4-mini",
        "o4-mini-2025-04-16",
        "ft:gpt-4o-mini-2024-07-18:acme::abc123",
    ],
)
def test_current_openai_models_count_with_o200k_base(model: str) -> None:
    assert encoding_for_model(model) == "o200k_base"


@pytest.mark.parametrize(
    "model",
    [
        "gpt-4",
        "gpt-4-0613",
        "gpt-4-32k",
        "gpt-4-turbo",
        "gpt-4-turbo-2024-04-09",
        "gpt-3.5-turbo",
        "gpt-3.5-turbo-0125",
        "gpt-35-turbo",
        "ft:gpt-3.5-turbo-0613:acme::abc123",
    ],
)
def test_gpt_4_and_gpt_35_turbo_count_with_cl100k_base(model: str) -> None:
    assert encoding_for_model(model) == "cl100k_base"


@pytest.mark.parametrize("family", sorted(MODEL_ENCODINGS))
def test_a_variant_of_each_of_our_families_maps_as_tiktoken_maps_it(family: str) -> None:
    # tiktoken knows some families only by their variants' prefix (o4-mini-, chatgpt-4o-).
    model = f"{family}-mini"

    assert encoding_for_model(model) == tiktoken.model.encoding_name_for_model(model)


@pytest.mark.parametrize("model", ["claude-sonnet-4-5", "gpt-oss-20b", "gpt-4.2", "o2", "gpt-40"])
def test_a_model_of_no_known_family_is_an_error_naming_the_families(model: str) -> None:
    with pytest.raises(EncodingUnavailable, match=r"gpt-5, .*gpt-4o, .*o1, o3, o4, gpt-4, "):
        encoding_for_model(model)


def test_a_deferred_counter_names_its_scheme_as_the_counter_it_loads_does() -> None:
    deferred = DeferredCounter(model="gpt-4o-mini")

    assert deferred.name == TiktokenCounter(model="gpt-4o-mini").name


def test_the_counter_is_a_token_counter(gpt4: TiktokenCounter) -> None:
    assert isinstance(gpt4, TokenCounter)


def test_an_unknown_model_is_unavailable_and_says_to_pass_an_encoding() -> None:
    with pytest.raises(EncodingUnavailable, match=r"'no-such-model-xyz'.*encoding="):
        TiktokenCounter(model="no-such-model-xyz")


def test_an_unsupported_encoding_lists_the_supported_ones() -> None:
    with pytest.raises(EncodingUnavailable, match=r"'p50k_base'.*cl100k_base, o200k_base"):
        load_encoding("p50k_base")
