"""The pydantic-ai adapter on every backend: real agents, driven by pydantic-ai's own test models.

Equality is pydantic-ai's: two message lists are the same when ``ModelMessagesTypeAdapter``
dumps them to the same JSON.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic_ai import Agent
from pydantic_ai.capabilities import AbstractCapability
from pydantic_ai.messages import (
    AudioUrl,
    BinaryContent,
    CachePoint,
    DocumentUrl,
    FilePart,
    ImageUrl,
    ModelMessage,
    ModelMessagesTypeAdapter,
    ModelRequest,
    ModelResponse,
    NativeToolCallPart,
    NativeToolReturnPart,
    RetryFeedbackPart,
    RetryInfo,
    SystemPromptPart,
    TextContent,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolReturnPart,
    UploadedFile,
    UserPromptPart,
    VideoUrl,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.models.test import TestModel
from pydantic_ai.usage import RequestUsage

from chatledger import (
    AsyncChatLedger,
    ChatLedger,
    ImagePart,
    InvalidMessage,
    Limits,
    Message,
    MessageWindow,
    ReasoningPart,
    SummaryWindow,
    ToolCall,
)
from chatledger.integrations.pydantic_ai import (
    aclear_messages,
    aload_messages,
    amemory_capability,
    apop_messages,
    arecord_messages,
    clear_messages,
    load_messages,
    memory_capability,
    pop_messages,
    record_messages,
    to_ledger_messages,
)
from tests.fakes import FakeSummarizer, FakeTokenCounter

AT = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
PNG = bytes.fromhex("89504e470d0a1a0a") + b"pixels"
BIG_PDF = b"%PDF-1.7 " + bytes(range(256)) * 200  # past the attachment threshold: kept apart


@pytest.fixture(autouse=True)
def event_loop_for_run_sync() -> Iterator[None]:
    """A loop for ``Agent.run_sync``, closed after the test: pydantic-ai makes the thread's
    current loop when there is none, and leaves it open."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        yield
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def same(left: Sequence[ModelMessage], right: Sequence[ModelMessage]) -> bool:
    return ModelMessagesTypeAdapter.dump_json(list(left)) == ModelMessagesTypeAdapter.dump_json(
        list(right)
    )


class WeatherModel:
    """A model that thinks, calls the weather tool for each new question, then answers."""

    def __init__(self) -> None:
        self.received: list[list[ModelMessage]] = []

    def __call__(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        self.received.append(list(messages))
        last = messages[-1].parts[-1]
        if isinstance(last, UserPromptPart):
            call = ToolCallPart("weather", {"city": "Lisbon"}, tool_call_id=f"call_{len(messages)}")
            thinking = ThinkingPart("Look it up.", signature="sig-1", provider_name="anthropic")
            return ModelResponse(parts=[thinking, TextPart("Checking."), call], model_name="w-1")
        return ModelResponse(parts=[TextPart("21 °C and sunny.")], model_name="w-1")


def weather_agent(
    model: WeatherModel, capabilities: Sequence[AbstractCapability[None]] = ()
) -> Agent[None, str]:
    agent = Agent(
        FunctionModel(model),
        system_prompt="Be brief.",
        instructions="Use °C.",
        capabilities=capabilities,
    )

    @agent.tool_plain
    def weather(city: str) -> dict[str, object]:
        return {"city": city, "temp_c": 21}

    return agent


def run(agent: Agent[None, str], question: str, history: list[ModelMessage]) -> list[ModelMessage]:
    return agent.run_sync(question, message_history=history).all_messages()


def test_the_second_run_sends_the_model_exactly_what_the_first_recorded(
    ledger: ChatLedger,
) -> None:
    model = WeatherModel()
    agent = weather_agent(model)
    first = run(agent, "Weather in Lisbon?", load_messages(ledger, "trip"))
    record_messages(ledger, "trip", first)

    run(agent, "And tomorrow?", load_messages(ledger, "trip"))

    sent = model.received[-2]  # the second run's first model request
    assert same(sent[: len(first)], first)
    assert [type(p).__name__ for p in sent[len(first)].parts] == ["UserPromptPart"]


def test_recording_all_messages_after_a_run_from_loaded_history_records_only_the_new_ones(
    ledger: ChatLedger,
) -> None:
    agent = weather_agent(WeatherModel())
    record_messages(ledger, "trip", run(agent, "Weather in Lisbon?", []))
    before = ledger.version("trip")
    second = run(agent, "And tomorrow?", load_messages(ledger, "trip"))

    record_messages(ledger, "trip", second)

    # The new request's user prompt, the thinking call, its result and the answer.
    assert (before, ledger.version("trip")) == (5, 9)
    assert same(load_messages(ledger, "trip"), second)


def test_recording_new_messages_stores_what_all_messages_would(ledger: ChatLedger) -> None:
    agent = weather_agent(WeatherModel())
    first = agent.run_sync("Weather in Lisbon?")
    record_messages(ledger, "trip", first.new_messages())
    second = agent.run_sync("And tomorrow?", message_history=load_messages(ledger, "trip"))

    record_messages(ledger, "trip", second.new_messages())
    record_messages(ledger, "trip", second.all_messages())  # a retry of the whole: nothing

    assert ledger.version("trip") == 9
    assert same(load_messages(ledger, "trip"), second.all_messages())


def test_a_run_from_a_window_records_only_what_it_added_to_the_whole_history(
    ledger: ChatLedger,
) -> None:
    agent = weather_agent(WeatherModel())
    record_messages(ledger, "trip", run(agent, "Weather in Lisbon?", []))
    window = MessageWindow(max_messages=3)  # the prompt and the answer: the exchange is two more
    history = load_messages(ledger, "trip", window)

    record_messages(ledger, "trip", run(agent, "And tomorrow?", history))

    assert ledger.version("trip") == 9
    assert [m.role for m in ledger.memory("trip", MessageWindow(max_messages=9)).messages] == [
        "system",
        "user",
        "assistant",
        "tool",
        "assistant",
        "user",
        "assistant",
        "tool",
        "assistant",
    ]


def test_a_run_from_a_window_that_starts_on_a_question_records_only_what_it_added(
    ledger: ChatLedger,
) -> None:
    agent = weather_agent(WeatherModel())
    record_messages(ledger, "trip", run(agent, "Weather in Lisbon?", []))
    record_messages(ledger, "trip", run(agent, "And tomorrow?", load_messages(ledger, "trip")))
    # The prompt, then the second question and what followed it: a run merges the first two,
    # requests of two runs, into one, which records as the two it holds.
    window = load_messages(ledger, "trip", MessageWindow(max_messages=5))

    record_messages(ledger, "trip", run(agent, "And in Porto?", window))

    assert kinds_of(window)[0] == ["SystemPromptPart", "UserPromptPart"]
    assert ledger.version("trip") == 13


def test_a_history_a_run_merged_in_memory_records_nothing_twice(ledger: ChatLedger) -> None:
    agent = weather_agent(WeatherModel())
    record_messages(ledger, "trip", run(agent, "Weather in Lisbon?", []))
    clear_messages(ledger, "trip")
    first = run(agent, "And in Porto?", load_messages(ledger, "trip"))
    record_messages(ledger, "trip", first)

    # Kept in memory, not loaded: the next run merges its first two requests, dropping fields.
    second = run(agent, "And in Faro?", first)
    record_messages(ledger, "trip", second)

    assert kinds_of(second)[0] == ["SystemPromptPart", "UserPromptPart"]
    assert ledger.version("trip") == 13


def test_a_window_cuts_between_tool_exchanges_and_keeps_the_system_prompt_first(
    ledger: ChatLedger,
) -> None:
    agent = weather_agent(WeatherModel())
    record_messages(ledger, "trip", run(agent, "Weather in Lisbon?", []))
    record_messages(ledger, "trip", run(agent, "And tomorrow?", load_messages(ledger, "trip")))

    loaded = load_messages(ledger, "trip", MessageWindow(max_messages=4))

    # The prompt, then the newest whole units within four messages: the answer, and the
    # second call with its result; the question before them would be a fifth.
    assert [[type(p).__name__ for p in m.parts] for m in loaded] == [
        ["SystemPromptPart"],
        ["ThinkingPart", "TextPart", "ToolCallPart"],
        ["ToolReturnPart"],
        ["TextPart"],
    ]


def test_a_dynamic_system_prompt_a_run_renews_becomes_the_prompt_and_the_old_one_stays(
    ledger: ChatLedger,
) -> None:
    agent = Agent(TestModel())
    calls = iter(["It is Monday.", "It is Tuesday."])

    @agent.system_prompt(dynamic=True)
    def today() -> str:
        return next(calls)

    record_messages(ledger, "days", agent.run_sync("Hi").all_messages())
    second = agent.run_sync("Hi again", message_history=load_messages(ledger, "days"))

    record_messages(ledger, "days", second.all_messages())

    history = [(e.message.role, e.message.text) for e in ledger.history("days").entries]
    assert [text for role, text in history if role == "system"] == [
        "It is Monday.",
        "It is Tuesday.",
    ]
    assert same(load_messages(ledger, "days"), second.all_messages())


def every_part_kind() -> list[ModelMessage]:
    """A history holding every request and response part chatledger maps, and some it keeps."""
    return [
        ModelRequest(
            parts=[
                SystemPromptPart("Be brief.", timestamp=AT),
                SystemPromptPart("Answer in English.", timestamp=AT),
                UserPromptPart(
                    [
                        "Look at these:",
                        ImageUrl("https://example.com/a.png"),
                        BinaryContent(PNG, media_type="image/png"),
                        DocumentUrl("https://example.com/a.pdf"),
                        BinaryContent(BIG_PDF, media_type="application/pdf"),
                        AudioUrl("https://example.com/a.mp3"),
                        BinaryContent(b"RIFF0000WAVE", media_type="audio/wav"),
                        VideoUrl("https://example.com/a.mp4"),
                        UploadedFile(file_id="file-abc", provider_name="openai"),
                        TextContent("a typed text", metadata={"source": "form"}),
                        CachePoint(),
                    ],
                    timestamp=AT,
                ),
            ],
            timestamp=AT,
            instructions="Use °C.",
            run_id="run-1",
            metadata={"tenant": "acme"},
        ),
        ModelResponse(
            parts=[
                ThinkingPart("Signed.", signature="sig", provider_name="anthropic"),
                ThinkingPart(
                    "", id="redacted_thinking", signature="opaque", provider_name="anthropic"
                ),
                ThinkingPart("Summary.", id="rs_1", signature="enc", provider_name="openai"),
                ThinkingPart("Unsigned."),
                TextPart("Two calls.", id="msg_1", provider_details={"k": [1, 2]}),
                ToolCallPart("lookup", {"q": "a"}, tool_call_id="call_a"),
                ToolCallPart("lookup", '{"q": "b"}', tool_call_id="call_b"),
                NativeToolCallPart("web_search", {"q": "c"}, tool_call_id="ws_1"),
                NativeToolReturnPart("web_search", {"hits": 3}, tool_call_id="ws_1"),
                FilePart(BinaryContent(PNG, media_type="image/png")),
            ],
            usage=RequestUsage(input_tokens=12, output_tokens=7, details={"reasoning": 3}),
            model_name="model-1",
            timestamp=AT,
            provider_name="anthropic",
            provider_details={"stop": "tool_use"},
            provider_response_id="resp-1",
            finish_reason="tool_call",
            run_id="run-1",
        ),
        ModelRequest(
            parts=[
                ToolReturnPart("lookup", {"answer": [1, 2]}, tool_call_id="call_a", timestamp=AT),
                ToolReturnPart(
                    "lookup",
                    "q must be a word",
                    tool_call_id="call_b",
                    outcome="retried",
                    retry=RetryInfo(cause="model_retry", attempt=1, max_retries=2),
                    timestamp=AT,
                ),
                RetryFeedbackPart(
                    content="Answer in text.", retry=RetryInfo(cause="no_output"), timestamp=AT
                ),
            ],
            timestamp=AT,
            run_id="run-1",
        ),
        ModelResponse(parts=[TextPart("Done.")], timestamp=AT, run_id="run-1"),
    ]


def test_every_part_kind_loads_back_as_it_was_recorded(ledger: ChatLedger) -> None:
    history = every_part_kind()

    record_messages(ledger, "parts", history)

    assert same(load_messages(ledger, "parts"), history)


def test_stored_messages_hold_chatledger_roles_calls_reasoning_and_images(
    ledger: ChatLedger,
) -> None:
    record_messages(ledger, "parts", every_part_kind())

    stored = [entry.message for entry in ledger.history("parts").entries]

    assert [m.role for m in stored] == [
        "system",
        "user",
        "assistant",
        "tool",
        "tool",
        "user",
        "assistant",
    ]
    assistant = stored[2]
    assert assistant.tool_calls == (
        ToolCall(id="call_a", name="lookup", arguments='{"q": "a"}'),
        ToolCall(id="call_b", name="lookup", arguments='{"q": "b"}'),
    )
    assert [(r.provider, r.signature, r.redacted) for r in assistant.reasoning] == [
        ("anthropic", "sig", False),
        ("anthropic", None, True),
        ("openai", None, False),
        ("unknown", None, False),
    ]
    assert [stored[3].tool_call_id, stored[4].tool_call_id] == ["call_a", "call_b"]
    assert isinstance(stored[1].parts[1], ImagePart)
    assert stored[1].parts[1].url == "https://example.com/a.png"


def test_stored_messages_render_for_the_provider_that_signed_their_thinking(
    ledger: ChatLedger,
) -> None:
    record_messages(ledger, "parts", every_part_kind())

    claude = ledger.memory("parts", MessageWindow(max_messages=20)).to_anthropic()

    assert claude["system"] == "Be brief.\nAnswer in English."  # both system prompt parts
    blocks = claude["messages"][1]["content"]
    assert isinstance(blocks, list)
    assert blocks[:2] == [
        {"type": "thinking", "thinking": "Signed.", "signature": "sig"},
        {"type": "redacted_thinking", "data": "opaque"},
    ]
    uses = [b for b in blocks if isinstance(b, dict) and b.get("type") == "tool_use"]
    assert [u["id"] for u in uses] == ["call_a", "call_b"]


def test_a_message_id_names_no_text_only_what_identifies_its_part() -> None:
    said = ModelRequest(parts=[UserPromptPart("My PIN is 1234", timestamp=AT)], run_id="r")
    other = ModelRequest(parts=[UserPromptPart("My PIN is 9999", timestamp=AT)], run_id="r")

    [first], [second] = to_ledger_messages([said]), to_ledger_messages([other])

    assert first.id == second.id
    assert "1234" not in first.id
    assert first.id.startswith("pydantic-ai-")


def test_parts_built_in_the_same_instant_get_ids_of_their_own(ledger: ChatLedger) -> None:
    one = ModelResponse(parts=[TextPart("one")], timestamp=AT, model_name="m-1")
    two = ModelResponse(parts=[TextPart("two")], timestamp=AT, model_name="m-1")

    entries = record_messages(ledger, "same-instant", [one, two, one])

    assert [e.position for e in entries] == [1, 2, 1]
    assert same(load_messages(ledger, "same-instant"), [one, two])


def test_messages_recorded_without_the_adapter_load_as_pydantic_ai_messages(
    ledger: ChatLedger,
) -> None:
    ledger.record(
        "plain",
        [
            Message(role="system", content="Be brief."),
            Message(role="user", content="Weather?"),
            Message(
                role="assistant",
                content=(ReasoningPart(provider="anthropic", text="Look.", signature="s"),),
                tool_calls=(ToolCall(id="c1", name="weather", arguments='{"city": "Lisbon"}'),),
            ),
            Message(role="tool", tool_call_id="c1", content='{"temp_c": 21}'),
            Message(role="assistant", content="21 °C."),
        ],
    )

    loaded = load_messages(ledger, "plain")

    kinds = [[type(p).__name__ for p in m.parts] for m in loaded]
    # Consecutive requests come as one, as a run would merge them.
    assert kinds == [
        ["SystemPromptPart", "UserPromptPart"],
        ["ThinkingPart", "ToolCallPart"],
        ["ToolReturnPart"],
        ["TextPart"],
    ]
    result = loaded[2].parts[0]
    assert isinstance(result, ToolReturnPart)
    assert (result.tool_name, result.tool_call_id) == ("weather", "c1")


def test_parts_kept_whole_count_against_the_metadata_limit_and_a_larger_one_takes_them(
    backend_url: str,
) -> None:
    results = {"hits": ["a result of the web search " * 4] * 200}
    search = NativeToolReturnPart("web_search", results, tool_call_id="ws_1", timestamp=AT)
    response = ModelResponse(parts=[TextPart("Found it."), search], timestamp=AT)
    roomy = Limits(max_metadata_bytes=256 * 1024)

    with ChatLedger.open(backend_url, FakeTokenCounter()) as ledger:
        with pytest.raises(InvalidMessage, match="max_metadata_bytes"):
            record_messages(ledger, "search", [response])
        assert ledger.version("search") == 0
    with ChatLedger.open(backend_url, FakeTokenCounter(), limits=roomy) as ledger:
        record_messages(ledger, "search", [response])
        assert same(load_messages(ledger, "search"), [response])


def test_a_run_from_messages_recorded_without_the_adapter_records_only_its_own(
    ledger: ChatLedger,
) -> None:
    ledger.record(
        "plain",
        [
            Message(id="m-sys", role="system", content="Be brief."),
            Message(id="m-u1", role="user", content="Hi"),
            Message(id="m-a1", role="assistant", content="Hello."),
        ],
    )
    agent = weather_agent(WeatherModel())

    record_messages(
        ledger, "plain", run(agent, "Weather in Lisbon?", load_messages(ledger, "plain"))
    )

    assert ledger.version("plain") == 7  # the three, then the question, call, result, answer
    assert [m.role for m in ledger.memory("plain", MessageWindow()).messages] == [
        "system",
        "user",
        "assistant",
        "user",
        "assistant",
        "tool",
        "assistant",
    ]


def test_a_summary_reaches_the_model_as_a_user_prompt_and_never_enters_the_history(
    ledger: ChatLedger,
) -> None:
    model = WeatherModel()
    agent = weather_agent(model)
    record_messages(ledger, "trip", run(agent, "Weather in Lisbon?", []))
    window = SummaryWindow(max_tokens=30)
    ledger.compact("trip", FakeSummarizer(reply="Lisbon was sunny."), window)

    record_messages(
        ledger, "trip", run(agent, "And tomorrow?", load_messages(ledger, "trip", window))
    )

    summary = model.received[-2][0].parts[1]  # after the system prompt, in its request
    assert isinstance(summary, UserPromptPart)
    assert summary.content == "Summary of the earlier conversation:\nLisbon was sunny."
    assert ledger.version("trip") == 9
    texts = [entry.message.text or "" for entry in ledger.history("trip").entries]
    assert not any("Lisbon was sunny." in text for text in texts)


def test_an_unknown_conversation_loads_no_messages(ledger: ChatLedger) -> None:
    assert load_messages(ledger, "never-recorded") == []


def test_a_test_model_run_continues_from_the_tool_exchange_the_ledger_kept(
    ledger: ChatLedger,
) -> None:
    agent = Agent(TestModel(), system_prompt="Be brief.")

    @agent.tool_plain
    def forecast(city: str) -> str:
        return f"sunny in {city}"

    first = agent.run_sync("Forecast?")
    record_messages(ledger, "test-model", first.all_messages())
    second = agent.run_sync("Again?", message_history=load_messages(ledger, "test-model"))
    record_messages(ledger, "test-model", second.all_messages())

    assert same(load_messages(ledger, "test-model"), second.all_messages())
    view = ledger.memory("test-model", MessageWindow())
    assert [(m.role, m.text) for m in view.messages] == [
        ("system", "Be brief."),
        ("user", "Forecast?"),
        ("assistant", None),  # TestModel calls every tool first
        ("tool", "sunny in a"),
        ("assistant", '{"forecast":"sunny in a"}'),
        ("user", "Again?"),
        ("assistant", '{"forecast":"sunny in a"}'),
    ]


def test_the_async_twins_record_and_load_as_the_sync_functions_do(backend_url: str) -> None:
    model = WeatherModel()
    agent = weather_agent(model)

    async def main() -> tuple[list[ModelMessage], list[ModelMessage], int]:
        async with await AsyncChatLedger.open(backend_url, FakeTokenCounter()) as ledger:
            first = await agent.run("Weather in Lisbon?", message_history=[])
            await arecord_messages(ledger, "trip", first.all_messages())
            history = await aload_messages(ledger, "trip")
            second = await agent.run("And tomorrow?", message_history=history)
            await arecord_messages(ledger, "trip", second.all_messages())
            loaded = await aload_messages(ledger, "trip")
            return first.all_messages(), loaded, await ledger.version("trip")

    first, loaded, version = asyncio.run(main())

    assert same(model.received[-2][: len(first)], first)
    assert version == 9
    assert len(loaded) == 8


def kinds_of(messages: Sequence[ModelMessage]) -> list[list[str]]:
    return [[type(part).__name__ for part in message.parts] for message in messages]


def test_after_a_clear_the_next_run_sends_only_the_system_prompt_and_its_question(
    ledger: ChatLedger,
) -> None:
    model = WeatherModel()
    agent = weather_agent(model)
    record_messages(ledger, "trip", run(agent, "Weather in Lisbon?", []))

    clear_messages(ledger, "trip")
    record_messages(ledger, "trip", run(agent, "And in Porto?", load_messages(ledger, "trip")))

    # pydantic-ai sends the loaded prompt and the new question as one request.
    [sent] = model.received[-2]
    assert isinstance(sent, ModelRequest)
    assert [(type(p).__name__, getattr(p, "content", None)) for p in sent.parts] == [
        ("SystemPromptPart", "Be brief."),
        ("UserPromptPart", "And in Porto?"),
    ]
    assert ledger.version("trip") == 9  # the history keeps the cleared messages
    assert kinds_of(load_messages(ledger, "trip"))[0] == ["SystemPromptPart", "UserPromptPart"]


def test_clearing_twice_with_nothing_recorded_between_is_one_clear(ledger: ChatLedger) -> None:
    agent = weather_agent(WeatherModel())
    record_messages(ledger, "trip", run(agent, "Weather in Lisbon?", []))

    first, again = clear_messages(ledger, "trip"), clear_messages(ledger, "trip")

    assert first is not None
    assert again == first
    assert [change.kind for change in ledger.memory_changes("trip")] == ["cleared"]


def test_popping_takes_back_the_newest_answer_and_returns_it(ledger: ChatLedger) -> None:
    agent = weather_agent(WeatherModel())
    recorded = run(agent, "Weather in Lisbon?", [])
    record_messages(ledger, "trip", recorded)

    popped = pop_messages(ledger, "trip")

    assert same(popped, recorded[-1:])
    assert same(load_messages(ledger, "trip"), recorded[:-1])


def test_popping_a_tool_exchange_takes_back_the_call_and_its_result_together(
    ledger: ChatLedger,
) -> None:
    agent = weather_agent(WeatherModel())
    recorded = run(agent, "Weather in Lisbon?", [])
    record_messages(ledger, "trip", recorded)
    pop_messages(ledger, "trip")  # the answer

    popped = pop_messages(ledger, "trip")

    assert same(popped, recorded[1:3])  # the response calling the tool, then its result
    assert same(load_messages(ledger, "trip"), recorded[:1])
    assert ledger.version("trip") == 5


def test_a_popped_message_recorded_again_stays_out_of_memory(ledger: ChatLedger) -> None:
    agent = weather_agent(WeatherModel())
    recorded = run(agent, "Weather in Lisbon?", [])
    record_messages(ledger, "trip", recorded)
    pop_messages(ledger, "trip")

    record_messages(ledger, "trip", recorded)

    assert same(load_messages(ledger, "trip"), recorded[:-1])


def test_popping_a_memory_of_only_the_system_prompt_takes_nothing_back(
    ledger: ChatLedger,
) -> None:
    record_messages(ledger, "prompt", [ModelRequest(parts=[SystemPromptPart("Be brief.")])])

    assert pop_messages(ledger, "prompt") == []
    assert pop_messages(ledger, "never-recorded") == []
    assert ledger.memory_changes("prompt") == []


def test_the_async_twins_clear_and_pop_as_the_sync_functions_do(backend_url: str) -> None:
    agent = weather_agent(WeatherModel())

    async def main() -> tuple[list[ModelMessage], list[ModelMessage], list[ModelMessage]]:
        async with await AsyncChatLedger.open(backend_url, FakeTokenCounter()) as ledger:
            recorded = (await agent.run("Weather in Lisbon?")).all_messages()
            await arecord_messages(ledger, "trip", recorded)
            popped = await apop_messages(ledger, "trip")
            await aclear_messages(ledger, "trip")
            return recorded, popped, await aload_messages(ledger, "trip")

    recorded, popped, loaded = asyncio.run(main())

    assert same(popped, recorded[-1:])
    assert kinds_of(loaded) == [["SystemPromptPart"]]


def test_the_memory_capability_sends_the_window_and_records_each_request_as_it_goes(
    ledger: ChatLedger,
) -> None:
    model = WeatherModel()
    agent = weather_agent(model, [memory_capability(ledger, MessageWindow(max_messages=4))])
    first = agent.run_sync("Weather in Lisbon?", conversation_id="trip")
    record_messages(ledger, "trip", first.all_messages())  # its final answer

    # No history passed: the ledger is the memory, and the window trims it.
    second = agent.run_sync("And tomorrow?", conversation_id="trip")
    record_messages(ledger, "trip", second.all_messages())

    assert kinds_of(model.received[-2]) == [["SystemPromptPart"], ["TextPart"], ["UserPromptPart"]]
    assert ledger.version("trip") == 9  # the repeated system prompt records nothing
    assert [m.role for m in ledger.history("trip").messages] == [
        "system",
        "user",
        "assistant",
        "tool",
        "assistant",
        "user",
        "assistant",
        "tool",
        "assistant",
    ]


def test_the_async_memory_capability_records_and_trims_as_the_sync_one_does(
    backend_url: str,
) -> None:
    model = WeatherModel()

    async def main() -> int:
        async with await AsyncChatLedger.open(backend_url, FakeTokenCounter()) as ledger:
            window = MessageWindow(max_messages=4)
            agent = weather_agent(model, [amemory_capability(ledger, window, conversation_id="t")])
            for question in ["Weather in Lisbon?", "And tomorrow?"]:
                result = await agent.run(question)
                await arecord_messages(ledger, "t", result.all_messages())
            return await ledger.version("t")

    assert asyncio.run(main()) == 9
    assert kinds_of(model.received[-2]) == [["SystemPromptPart"], ["TextPart"], ["UserPromptPart"]]


FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "pydantic_ai_v1.json"


def test_messages_the_v1_layout_stored_load_as_the_pydantic_ai_messages_they_were(
    ledger: ChatLedger,
) -> None:
    fixture = json.loads(FIXTURE.read_text(encoding="utf-8"))
    ledger.record("v1", [Message.parse(stored) for stored in fixture["stored"]])

    loaded = load_messages(ledger, "v1")

    assert same(loaded, ModelMessagesTypeAdapter.validate_python(fixture["pydantic_ai"]))


def test_the_adapter_still_stores_what_the_v1_layout_stored_under_the_same_ids() -> None:
    fixture = json.loads(FIXTURE.read_text(encoding="utf-8"))
    messages = ModelMessagesTypeAdapter.validate_python(fixture["pydantic_ai"])

    stored = [message.stored_form() for message in to_ledger_messages(messages)]

    # Recording a history stored then again records nothing, and raises no conflict.
    assert stored == fixture["stored"]


def test_what_is_stored_leaves_out_the_fields_at_their_defaults() -> None:
    [request, response] = to_ledger_messages(
        [ModelRequest(parts=[UserPromptPart("Hi", timestamp=AT)]), ModelResponse(parts=[])]
    )

    # So a field pydantic-ai adds with a default changes nothing recorded before it.
    assert request.metadata["pydantic_ai"] == {
        "v": 1,
        "message": {"kind": "request"},
        "parts": [{"part_kind": "user-prompt", "timestamp": "2026-03-01T09:30:00Z"}],
    }
    kept = response.metadata["pydantic_ai"]
    assert isinstance(kept, dict)
    assert isinstance(kept["message"], dict)
    assert set(kept["message"]) == {"kind", "timestamp"}


README_SNIPPET = """
import asyncio
from pydantic_ai import Agent
from pydantic_ai.models.test import TestModel
from chatledger import ChatLedger, MessageWindow
from chatledger.integrations.pydantic_ai import load_messages, record_messages

agent = Agent(TestModel(custom_output_text="Sunny."), system_prompt="Be brief.")
ledger = ChatLedger.open("memory://")
for question in ["Weather in Lisbon?", "And tomorrow?"]:
    history = load_messages(ledger, "trip", MessageWindow(max_messages=20))  # the memory view
    result = asyncio.run(agent.run(question, message_history=history))
    record_messages(ledger, "trip", result.all_messages())  # only what the run added
assert ledger.version("trip") == 5  # the prompt, then two questions and their answers
"""


def test_the_readme_section_runs() -> None:
    exec(compile(README_SNIPPET, "README.md", "exec"), {})


def test_a_large_file_stored_apart_loads_back_inline(ledger: ChatLedger) -> None:
    request = ModelRequest(
        parts=[UserPromptPart([BinaryContent(BIG_PDF, media_type="application/pdf")], timestamp=AT)]
    )

    record_messages(ledger, "big", [request])

    [stored] = ledger.history("big").entries
    assert stored.message.parts[0].attachment is not None  # type: ignore[union-attr]
    [loaded] = load_messages(ledger, "big")
    part = loaded.parts[0]
    assert isinstance(part, UserPromptPart)
    assert isinstance(part.content, list)
    assert isinstance(part.content[0], BinaryContent)
    assert part.content[0].data == BIG_PDF
