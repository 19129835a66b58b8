"""The LangChain adapter on every backend: faithful round trips, LangChain's runner, async."""

from __future__ import annotations

import asyncio
import base64
import os
from collections.abc import Iterator
from typing import Any, cast

import pytest
from langchain_core._api.deprecation import LangChainDeprecationWarning
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models import FakeMessagesListChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.runnables import Runnable
from langchain_core.runnables.history import RunnableWithMessageHistory

from chatledger import (
    AsyncChatLedger,
    ChatLedger,
    ImagePart,
    InvalidConversationId,
    InvalidInput,
    InvalidMessage,
    Message,
    MessageWindow,
    ToolCall,
)
from chatledger.integrations.langchain import ChatLedgerHistory
from tests.fakes import FakeTokenCounter

PNG = "iVBORw0KGgo="
PDF = "JVBERi0xLjQK"
WAV = "UklGRg=="
RUNNER_DEPRECATED = "RunnableWithMessageHistory is deprecated"

CONVERSATIONS: dict[str, list[BaseMessage]] = {
    "system": [SystemMessage("Be brief.", id="sys")],
    "developer": [
        SystemMessage(
            "Answer in French.", id="dev", additional_kwargs={"__openai_role__": "developer"}
        )
    ],
    "human-text-with-name": [HumanMessage("Hi!", name="ana", id="h")],
    "human-images": [
        HumanMessage(
            [
                {"type": "text", "text": "Which is Lisbon?"},
                {"type": "image", "url": "https://e.com/a.png", "id": "img-1"},
                {"type": "image", "base64": PNG, "mime_type": "image/png"},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                {"type": "image_url", "image_url": {"url": "https://e.com/b.png", "detail": "low"}},
            ],
            id="h",
        )
    ],
    "human-files-audio-and-kept-blocks": [
        HumanMessage(
            [
                "a bare string",
                {"type": "file", "base64": PDF, "mime_type": "application/pdf"},
                {"type": "file", "file_id": "file-9", "extras": {"filename": "trip.pdf"}},
                {"type": "text-plain", "text": "notes", "mime_type": "text/plain"},
                {"type": "audio", "base64": WAV, "mime_type": "audio/wav"},
                {"type": "image", "source_type": "base64", "data": PNG, "mime_type": "image/png"},
                {"type": "video", "url": "https://e.com/v.mp4"},
            ],
            id="h",
        )
    ],
    "human-v0-blocks": [
        HumanMessage(
            [
                {"type": "image", "source_type": "url", "url": "https://e.com/a.png"},
                {"type": "image", "source_type": "base64", "data": PNG, "mime_type": "image/png"},
                {"type": "file", "source_type": "id", "id": "file-9"},
                {"type": "audio", "source_type": "base64", "data": WAV, "mime_type": "audio/wav"},
                {"type": "file", "source_type": "text", "text": "notes", "mime_type": "text/plain"},
            ],
            id="h",
        )
    ],
    "tool-exchange": [
        AIMessage(
            "",
            tool_calls=[
                {"name": "weather", "args": {"city": "Lisbon", "days": 2}, "id": "c1"},
                {"name": "time", "args": {}, "id": "c2"},
            ],
            id="a",
        ),
        ToolMessage('{"temp_c": 21}', tool_call_id="c1", id="t1", artifact={"raw": [21]}),
        ToolMessage("no clock", tool_call_id="c2", id="t2", status="error", name="time"),
    ],
    "ai-reasoning-refusal-and-metadata": [
        AIMessage(
            [
                {"type": "reasoning", "reasoning": "The user greets.", "id": "rs_1"},
                {"type": "thinking", "thinking": "Greet back.", "signature": "EqQB", "index": 1},
                {"type": "redacted_thinking", "data": "opaque"},
                {"type": "text", "text": "Hello!", "annotations": [{"type": "citation"}]},
                {"type": "refusal", "refusal": "No more."},
            ],
            id="a",
            response_metadata={"model_name": "fake", "model_provider": "anthropic"},
            usage_metadata={"input_tokens": 3, "output_tokens": 2, "total_tokens": 5},
            additional_kwargs={"seed": 7},
        )
    ],
    "ai-v1-content-blocks": [
        AIMessage(
            content_blocks=[
                {"type": "text", "text": "Checking."},
                {"type": "tool_call", "id": "c1", "name": "weather", "args": {"city": "Porto"}},
            ],
            id="a",
        ),
        ToolMessage([{"type": "text", "text": "18"}], tool_call_id="c1", id="t"),
    ],
    "ai-chunk": [AIMessageChunk(content="streamed", id="a")],
}


class ModelInputs(BaseCallbackHandler):
    """What each chat model call was given, as LangChain's callbacks report it."""

    def __init__(self) -> None:
        self.calls: list[list[BaseMessage]] = []

    def on_chat_model_start(
        self, serialized: dict[str, Any], messages: list[list[BaseMessage]], **kwargs: Any
    ) -> None:
        self.calls.append(messages[0])


def with_history(
    model: FakeMessagesListChatModel, ledger: ChatLedger | AsyncChatLedger
) -> RunnableWithMessageHistory:
    """A prompt and ``model`` whose history LangChain's runner keeps in ``ledger``."""
    prompt = ChatPromptTemplate.from_messages(
        [("system", "Be brief."), MessagesPlaceholder("history"), ("human", "{question}")]
    )
    chain: Runnable[Any, Any] = prompt | model
    with pytest.warns(LangChainDeprecationWarning, match=RUNNER_DEPRECATED):
        return RunnableWithMessageHistory(
            chain,
            lambda session_id: ChatLedgerHistory(ledger, session_id),
            input_messages_key="question",
            history_messages_key="history",
        )


def session(conversation: str, inputs: ModelInputs) -> Any:
    return {"configurable": {"session_id": conversation}, "callbacks": [inputs]}


@pytest.fixture
def async_ledger(backend_url: str) -> Iterator[AsyncChatLedger]:
    """An AsyncChatLedger on each backend, opened and closed outside any test's event loop."""
    ledger = asyncio.run(AsyncChatLedger.open(backend_url, FakeTokenCounter()))
    try:
        yield ledger
    finally:
        asyncio.run(ledger.close())


# Round trips


@pytest.mark.parametrize("kind", CONVERSATIONS)
def test_each_message_kind_comes_back_from_the_ledger_equal(ledger: ChatLedger, kind: str) -> None:
    history = ChatLedgerHistory(ledger, "c")

    history.add_messages(CONVERSATIONS[kind])

    assert history.messages == CONVERSATIONS[kind]


def test_a_message_without_an_id_gets_one_and_comes_back_with_it(ledger: ChatLedger) -> None:
    history = ChatLedgerHistory(ledger, "c")

    history.add_messages([HumanMessage("Hi!")])

    [entry] = ledger.history("c").entries
    assert history.messages == [HumanMessage("Hi!", id=entry.message.id)]


def test_the_langchain_id_is_the_ledger_message_id(ledger: ChatLedger) -> None:
    ChatLedgerHistory(ledger, "c").add_messages([HumanMessage("Hi!", id="lc-1")])

    assert [entry.message.id for entry in ledger.history("c")] == ["lc-1"]


def test_parts_hold_the_blocks_and_langchain_fields_stay_in_metadata(ledger: ChatLedger) -> None:
    [ai] = CONVERSATIONS["ai-reasoning-refusal-and-metadata"]

    ChatLedgerHistory(ledger, "c").add_messages([ai])

    [entry] = ledger.history("c").entries
    message = entry.message
    assert [part.type for part in message.parts] == [
        "reasoning",
        "reasoning",
        "reasoning",
        "text",
        "refusal",
    ]
    assert message.text == "Hello!"
    assert message.format is None
    assert message.extra == {}
    assert message.metadata["langchain"] == {
        "fields": {
            "additional_kwargs": {"seed": 7},
            "response_metadata": {"model_name": "fake", "model_provider": "anthropic"},
            "usage_metadata": {"input_tokens": 3, "output_tokens": 2, "total_tokens": 5},
        }
    }


def test_blocks_no_part_holds_are_kept_in_metadata_by_their_place(ledger: ChatLedger) -> None:
    [human] = CONVERSATIONS["human-files-audio-and-kept-blocks"]

    ChatLedgerHistory(ledger, "c").add_messages([human])

    [entry] = ledger.history("c").entries
    parts = entry.message.parts
    assert [part.type for part in parts] == ["text", "file", "file", "file", "audio", "image"]
    kept = entry.message.metadata["langchain"]
    assert isinstance(kept, dict)
    assert kept["strings"] == [0]
    assert kept["blocks"] == {"6": human.content[6]}


def test_v0_blocks_with_a_source_type_are_parts_too(ledger: ChatLedger) -> None:
    [human] = CONVERSATIONS["human-v0-blocks"]

    ChatLedgerHistory(ledger, "c").add_messages([human])

    [entry] = ledger.history("c").entries
    assert [part.type for part in entry.message.parts] == ["image", "image", "file", "audio"]
    assert entry.message.metadata["langchain"] == {"blocks": {"4": human.content[4]}}


LARGE = base64.b64encode(os.urandom(48 * 1024)).decode("ascii")


@pytest.mark.parametrize(
    "block",
    [
        {"type": "image", "base64": LARGE, "mime_type": "image/png"},
        {"type": "image", "source_type": "base64", "data": LARGE, "mime_type": "image/png"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{LARGE}"}},
    ],
    ids=["v1", "v0", "image_url"],
)
def test_a_large_image_is_stored_apart_and_comes_back_inline_and_adding_it_again_records_nothing(
    ledger: ChatLedger, block: dict[str, Any]
) -> None:
    image = HumanMessage([block], id="h")
    history = ChatLedgerHistory(ledger, "c")
    history.add_messages([image])

    history.add_messages([image])

    [entry] = ledger.history("c").entries
    [part] = entry.message.parts
    assert isinstance(part, ImagePart)
    assert part.attachment is not None
    assert history.messages == [image]
    assert ledger.version("c") == 1


def test_changing_a_message_read_back_changes_nothing_recorded(ledger: ChatLedger) -> None:
    history = ChatLedgerHistory(ledger, "c")
    history.add_messages(CONVERSATIONS["ai-reasoning-refusal-and-metadata"])
    [read] = history.messages
    assert isinstance(read, AIMessage)
    assert isinstance(read.content[3], dict)

    read.content[3]["annotations"].append({"type": "citation", "id": "added"})
    read.response_metadata["model_name"] = "changed"

    assert history.messages == CONVERSATIONS["ai-reasoning-refusal-and-metadata"]


def test_a_rendering_for_openai_carries_the_images_and_no_langchain_field(
    ledger: ChatLedger,
) -> None:
    sent: list[str | dict[str, Any]] = [
        {"type": "text", "text": "Which is Lisbon?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        {"type": "image_url", "image_url": {"url": "https://e.com/b.png", "detail": "low"}},
    ]
    ChatLedgerHistory(ledger, "c").add_messages(
        [HumanMessage(sent, id="h", response_metadata={"from": "ui"})]
    )

    rendering = ledger.memory("c", MessageWindow()).rendering("openai")

    assert rendering.payload == [{"role": "user", "content": sent}]
    assert rendering.omitted == ()


def test_messages_recorded_without_langchain_come_back_as_langchain_messages(
    ledger: ChatLedger,
) -> None:
    ledger.record(
        "c",
        [
            Message(id="d", role="developer", content="Answer in French."),
            Message(
                id="a",
                role="assistant",
                tool_calls=(
                    ToolCall(id="c1", name="weather", arguments='{"city": "Lisbon"}'),
                    ToolCall(id="c2", name="raw", arguments="not json"),
                ),
            ),
            Message(id="t1", role="tool", tool_call_id="c1", content="21"),
            Message(id="t2", role="tool", tool_call_id="c2", content="ok"),
        ],
    )

    messages = ChatLedgerHistory(ledger, "c").messages

    assert messages == [
        SystemMessage(
            "Answer in French.", id="d", additional_kwargs={"__openai_role__": "developer"}
        ),
        AIMessage(
            "",
            id="a",
            tool_calls=[{"name": "weather", "args": {"city": "Lisbon"}, "id": "c1"}],
            invalid_tool_calls=[
                {
                    "type": "invalid_tool_call",
                    "name": "raw",
                    "args": "not json",
                    "id": "c2",
                    "error": "arguments are not a JSON object",
                }
            ],
        ),
        ToolMessage("21", tool_call_id="c1", id="t1"),
        ToolMessage("ok", tool_call_id="c2", id="t2"),
    ]


# Recording


def test_adding_the_same_messages_again_records_nothing(ledger: ChatLedger) -> None:
    history = ChatLedgerHistory(ledger, "c")
    history.add_messages(CONVERSATIONS["tool-exchange"])

    history.add_messages(CONVERSATIONS["tool-exchange"])

    assert ledger.version("c") == 3
    assert history.messages == CONVERSATIONS["tool-exchange"]


def test_adding_messages_read_back_records_nothing(ledger: ChatLedger) -> None:
    history = ChatLedgerHistory(ledger, "c")
    history.add_messages([HumanMessage("Hi!"), AIMessage("Hello!")])

    history.add_messages(history.messages)

    assert ledger.version("c") == 2


def test_a_batch_with_one_bad_message_records_none_of_it(ledger: ChatLedger) -> None:
    history = ChatLedgerHistory(ledger, "c")
    unanswerable = AIMessage("", tool_calls=[{"name": "weather", "args": {}, "id": None}])

    with pytest.raises(InvalidMessage, match=r"tool_calls\.0\.id"):
        history.add_messages([HumanMessage("Hi!"), unanswerable])

    assert ledger.version("c") == 0


def test_a_message_langchain_gives_no_chatledger_role_is_refused_naming_its_type(
    ledger: ChatLedger,
) -> None:
    with pytest.raises(InvalidMessage, match="ChatMessage has no chatledger role"):
        ChatLedgerHistory(ledger, "c").add_messages([ChatMessage(content="hi", role="critic")])


def test_a_field_that_is_no_json_data_is_refused_naming_it(ledger: ChatLedger) -> None:
    result = ToolMessage("21", tool_call_id="c1", artifact=object())

    with pytest.raises(InvalidMessage, match=r"^artifact: must be JSON data"):
        ChatLedgerHistory(ledger, "c").add_messages([result])


def test_tool_call_arguments_that_are_no_json_data_are_refused_naming_them(
    ledger: ChatLedger,
) -> None:
    call = AIMessage("", tool_calls=[{"name": "w", "args": {"on": object()}, "id": "c1"}])

    with pytest.raises(InvalidMessage, match=r"^tool_calls\.0\.args: must be JSON data"):
        ChatLedgerHistory(ledger, "c").add_messages([call])


# The memory view


def test_orphan_results_and_unanswered_calls_never_appear(ledger: ChatLedger) -> None:
    history = ChatLedgerHistory(ledger, "c")
    history.add_messages(
        [
            HumanMessage("Hi!", id="h"),
            ToolMessage("stray", tool_call_id="nobody", id="orphan"),
            AIMessage("", tool_calls=[{"name": "w", "args": {}, "id": "c9"}], id="open"),
        ]
    )

    assert [message.id for message in history.messages] == ["h"]
    assert ledger.version("c") == 3


def test_the_policy_given_at_construction_windows_the_messages(ledger: ChatLedger) -> None:
    ChatLedgerHistory(ledger, "c").add_messages(
        [SystemMessage("Be brief.", id="s")]
        + [HumanMessage(f"question {n}", id=f"h{n}") for n in range(5)]
    )

    windowed = ChatLedgerHistory(ledger, "c", MessageWindow(max_messages=3))

    assert [message.id for message in windowed.messages] == ["s", "h3", "h4"]


# Clearing


def test_clear_empties_the_memory_and_keeps_the_history(ledger: ChatLedger) -> None:
    history = ChatLedgerHistory(ledger, "c")
    history.add_messages([HumanMessage("Hi!", id="h"), AIMessage("Hello!", id="a")])

    history.clear()

    assert history.messages == []
    assert [entry.message.id for entry in ledger.history("c")] == ["h", "a"]


def test_after_a_clear_memory_holds_the_system_prompt_and_what_came_since(
    ledger: ChatLedger,
) -> None:
    history = ChatLedgerHistory(ledger, "c")
    history.add_messages([SystemMessage("Be brief.", id="s"), HumanMessage("Hi!", id="h")])
    history.clear()

    history.add_messages([HumanMessage("Again.", id="h2")])

    assert history.messages == [SystemMessage("Be brief.", id="s"), HumanMessage("Again.", id="h2")]


def test_clearing_again_with_nothing_new_records_one_clear(ledger: ChatLedger) -> None:
    history = ChatLedgerHistory(ledger, "c")
    history.add_messages([HumanMessage("Hi!", id="h")])

    history.clear()
    history.clear()

    assert [change.kind for change in ledger.memory_changes("c")] == ["cleared"]


def test_clearing_a_conversation_never_recorded_records_nothing(ledger: ChatLedger) -> None:
    history = ChatLedgerHistory(ledger, "c")

    history.clear()

    assert history.messages == []
    assert ledger.memory_changes("c") == []


def test_a_cleared_message_added_again_records_nothing_and_stays_out_of_memory(
    ledger: ChatLedger,
) -> None:
    history = ChatLedgerHistory(ledger, "c")
    history.add_messages([HumanMessage("Hi!", id="h")])
    history.clear()

    history.add_messages([HumanMessage("Hi!", id="h")])

    assert history.messages == []
    assert ledger.version("c") == 1


def test_a_tool_result_whose_call_was_cleared_never_reaches_memory(ledger: ChatLedger) -> None:
    history = ChatLedgerHistory(ledger, "c")
    history.add_messages([AIMessage("", tool_calls=[{"name": "w", "args": {}, "id": "c1"}])])
    history.clear()

    history.add_messages([ToolMessage("late", tool_call_id="c1", id="t")])

    assert history.messages == []


def test_aclear_on_an_async_ledger_empties_the_memory_and_keeps_the_history(
    async_ledger: AsyncChatLedger,
) -> None:
    history = ChatLedgerHistory(async_ledger, "c")

    async def add_clear_and_read() -> list[BaseMessage]:
        await history.aadd_messages([HumanMessage("Hi!", id="h"), AIMessage("Hello!", id="a")])
        await history.aclear()
        return await history.aget_messages()

    assert asyncio.run(add_clear_and_read()) == []
    assert async_ledger.sync.version("c") == 2
    assert [change.kind for change in async_ledger.sync.memory_changes("c")] == ["cleared"]


def test_aclear_on_a_sync_ledger_clears_too(ledger: ChatLedger) -> None:
    history = ChatLedgerHistory(ledger, "c")
    history.add_messages([HumanMessage("Hi!", id="h")])

    asyncio.run(history.aclear())

    assert history.messages == []
    assert ledger.version("c") == 1


def test_langchain_s_runner_after_a_clear_shows_the_model_only_what_came_since(
    ledger: ChatLedger,
) -> None:
    model = FakeMessagesListChatModel(responses=[AIMessage("Hello!"), AIMessage("Sunny.")])
    chain, inputs = with_history(model, ledger), ModelInputs()
    chain.invoke({"question": "Hi!"}, config=session("trip", inputs))

    ChatLedgerHistory(ledger, "trip").clear()
    chain.invoke({"question": "Weather?"}, config=session("trip", inputs))

    assert [m.text for m in inputs.calls[1]] == ["Be brief.", "Weather?"]
    assert [e.message.text for e in ledger.history("trip")] == [
        "Hi!",
        "Hello!",
        "Weather?",
        "Sunny.",
    ]


# LangChain's runner


def test_langchain_s_runner_keeps_several_turns_in_the_ledger(ledger: ChatLedger) -> None:
    model = FakeMessagesListChatModel(responses=[AIMessage("Hello!"), AIMessage("Sunny.")])
    chain, inputs = with_history(model, ledger), ModelInputs()

    chain.invoke({"question": "Hi!"}, config=session("trip", inputs))
    reply = chain.invoke({"question": "Weather?"}, config=session("trip", inputs))

    assert reply.content == "Sunny."
    recorded = [(e.message.role, e.message.text) for e in ledger.history("trip")]
    assert recorded == [
        ("user", "Hi!"),
        ("assistant", "Hello!"),
        ("user", "Weather?"),
        ("assistant", "Sunny."),
    ]
    assert [(m.type, m.text) for m in inputs.calls[1]] == [
        ("system", "Be brief."),
        ("human", "Hi!"),
        ("ai", "Hello!"),
        ("human", "Weather?"),
    ]


def test_langchain_s_runner_keeps_conversations_apart(ledger: ChatLedger) -> None:
    model = FakeMessagesListChatModel(responses=[AIMessage("One."), AIMessage("Two.")])
    chain, inputs = with_history(model, ledger), ModelInputs()

    chain.invoke({"question": "First?"}, config=session("a", inputs))
    chain.invoke({"question": "Second?"}, config=session("b", inputs))

    assert [e.message.text for e in ledger.history("a")] == ["First?", "One."]
    assert [e.message.text for e in ledger.history("b")] == ["Second?", "Two."]
    assert [m.text for m in inputs.calls[1]] == ["Be brief.", "Second?"]


def test_langchain_s_runner_runs_async_on_an_async_ledger(async_ledger: AsyncChatLedger) -> None:
    model = FakeMessagesListChatModel(responses=[AIMessage("Hello!"), AIMessage("Sunny.")])
    chain, inputs = with_history(model, async_ledger), ModelInputs()

    async def turns() -> None:
        await chain.ainvoke({"question": "Hi!"}, config=session("trip", inputs))
        await chain.ainvoke({"question": "Weather?"}, config=session("trip", inputs))

    asyncio.run(turns())

    recorded = [e.message.text for e in async_ledger.sync.history("trip")]
    assert recorded == ["Hi!", "Hello!", "Weather?", "Sunny."]
    assert [m.text for m in inputs.calls[1]] == ["Be brief.", "Hi!", "Hello!", "Weather?"]


def test_the_async_methods_await_an_async_ledger(async_ledger: AsyncChatLedger) -> None:
    history = ChatLedgerHistory(async_ledger, "c")
    messages = CONVERSATIONS["tool-exchange"]

    async def add_and_read() -> list[BaseMessage]:
        await history.aadd_messages(messages)
        await history.aadd_messages(messages)
        return await history.aget_messages()

    assert asyncio.run(add_and_read()) == messages
    assert async_ledger.sync.version("c") == 3


def test_the_sync_methods_work_on_an_async_ledger(async_ledger: AsyncChatLedger) -> None:
    history = ChatLedgerHistory(async_ledger, "c")

    history.add_messages(CONVERSATIONS["human-images"])

    assert history.messages == CONVERSATIONS["human-images"]


def test_the_async_methods_work_on_a_sync_ledger(ledger: ChatLedger) -> None:
    history = ChatLedgerHistory(ledger, "c")

    async def add_and_read() -> list[BaseMessage]:
        await history.aadd_messages(CONVERSATIONS["system"])
        return await history.aget_messages()

    assert asyncio.run(add_and_read()) == CONVERSATIONS["system"]


def test_a_conversation_id_the_ledger_cannot_hold_is_refused_at_once(ledger: ChatLedger) -> None:
    with pytest.raises(InvalidConversationId, match="must be 1-200 characters"):
        ChatLedgerHistory(ledger, "no spaces allowed")


def test_anything_but_a_ledger_is_refused_at_once() -> None:
    with pytest.raises(InvalidInput, match="must be a ChatLedger or an AsyncChatLedger, got str"):
        ChatLedgerHistory(cast(Any, "memory://"), "c")


def test_the_readme_example_runs() -> None:
    from langchain_core.language_models import FakeMessagesListChatModel
    from langchain_core.messages import AIMessage, HumanMessage

    from chatledger import ChatLedger
    from chatledger.integrations.langchain import ChatLedgerHistory

    ledger = ChatLedger.open("memory://")
    history = ChatLedgerHistory(ledger, "trip")  # the memory view, as LangChain messages
    model = FakeMessagesListChatModel(responses=[AIMessage("21 °C and sunny.")])
    question = HumanMessage("Weather in Lisbon?")
    history.add_messages([question, model.invoke([*history.messages, question])])  # one batch
    assert [m.type for m in history.messages] == ["human", "ai"]
    history.clear()  # memory starts afresh; the history keeps both
    assert (history.messages, ledger.version("trip")) == ([], 2)
