"""ChatLedgerSession driven by the Agents SDK's own Runner and ScriptedModel, on every backend,
with a ChatLedger and an AsyncChatLedger."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from agents import Agent, RunConfig, Runner, SQLiteSession, function_tool
from agents.items import TResponseInputItem, TResponseOutputItem
from agents.memory import Session, SessionSettings
from agents.testing import ScriptedModel, assistant_message, function_call
from openai.types.responses.response_reasoning_item import (
    Content,
    ResponseReasoningItem,
    Summary,
)

from chatledger import AsyncChatLedger, ChatLedger, ImagePart, InvalidMessage, Message
from chatledger.integrations.openai_agents import ChatLedgerSession
from tests.fakes import FakeTokenCounter

Ledger = ChatLedger | AsyncChatLedger


@pytest.fixture(params=["sync", "async"])
def ledger(request: pytest.FixtureRequest, backend_url: str) -> Iterator[Ledger]:
    """A ChatLedger, or an AsyncChatLedger over one, on each backend in turn."""
    opened = ChatLedger.open(backend_url, token_counter=FakeTokenCounter())
    if request.param == "sync":
        with opened:
            yield opened
        return
    wrapped = AsyncChatLedger(opened)
    try:
        yield wrapped
    finally:
        asyncio.run(wrapped.close())


def sync_of(ledger: Ledger) -> ChatLedger:
    return ledger.sync if isinstance(ledger, AsyncChatLedger) else ledger


CITIES: list[str] = []


@function_tool
def weather(city: str) -> str:
    """The weather in a city."""
    CITIES.append(city)
    return f"sunny in {city}"


def reasoning(item_id: str, summary: str) -> ResponseReasoningItem:
    return ResponseReasoningItem(
        id=item_id,
        type="reasoning",
        summary=[Summary(text=summary, type="summary_text")],
        content=[Content(text=f"thinking: {summary}", type="reasoning_text")],
        encrypted_content=f"enc-{item_id}",
    )


def trip_script(tag: str = "") -> list[list[TResponseOutputItem]]:
    """Three model turns: reasoning and two parallel calls, reasoning and a call, an answer."""
    return [
        [
            reasoning(f"rs_1{tag}", "Look up both cities."),
            function_call("weather", {"city": "Lisbon"}, call_id=f"call_1{tag}"),
            function_call("weather", {"city": "Porto"}, call_id=f"call_2{tag}"),
        ],
        [
            reasoning(f"rs_2{tag}", "And Faro."),
            function_call("weather", {"city": "Faro"}, call_id=f"call_3{tag}"),
        ],
        [assistant_message("Sunny everywhere.", item_id=f"msg_1{tag}")],
    ]


OFFLINE = RunConfig(tracing_disabled=True)


def agent_with(model: ScriptedModel) -> Agent[None]:
    return Agent(name="guide", instructions="Be brief.", model=model, tools=[weather])


async def run(
    session: Session, text: str, script: list[list[TResponseOutputItem]]
) -> ScriptedModel:
    model = ScriptedModel(script)
    # Offline: no trace goes anywhere.
    await Runner.run(agent_with(model), text, session=session, run_config=OFFLINE)
    model.assert_complete()
    return model


def as_json(items: list[TResponseInputItem]) -> list[str]:
    return [json.dumps(item, sort_keys=True) for item in items]


TRIP_TYPES = [
    "message",
    "reasoning",
    "function_call",
    "function_call",
    "function_call_output",
    "function_call_output",
    "reasoning",
    "function_call",
    "function_call_output",
    "message",
]


def types_of(items: list[TResponseInputItem]) -> list[str]:
    return [str(dict(item).get("type", "message")) for item in items]


def test_a_run_with_reasoning_and_tool_calls_keeps_the_items_the_sdks_own_session_keeps(
    ledger: Ledger,
) -> None:
    async def main() -> tuple[list[TResponseInputItem], list[TResponseInputItem]]:
        reference = SQLiteSession("trip")
        await run(reference, "Weather in Lisbon, Porto and Faro?", trip_script())
        session = ChatLedgerSession("trip", ledger)
        await run(session, "Weather in Lisbon, Porto and Faro?", trip_script())
        return await reference.get_items(), await session.get_items()

    expected, items = asyncio.run(main())

    assert as_json(items) == as_json(expected)
    assert types_of(items) == TRIP_TYPES


def test_a_second_run_continues_from_the_session_the_first_run_left(ledger: Ledger) -> None:
    session = ChatLedgerSession("trip", ledger)

    async def main() -> tuple[list[TResponseInputItem], Any]:
        await run(session, "Weather in Lisbon, Porto and Faro?", trip_script())
        first = await session.get_items()
        second = await run(session, "And tomorrow?", [[assistant_message("Also sunny.")]])
        assert second.first_call is not None
        return first, second.first_call.input

    first, seen = asyncio.run(main())

    assert as_json(seen) == as_json([*first, {"role": "user", "content": "And tomorrow?"}])


SENT: list[Any] = [
    {"role": "user", "content": "Plain, in the easy form."},
    {
        "type": "message",
        "role": "user",
        "content": [
            {"type": "input_text", "text": "Is this Lisbon?"},
            {"type": "input_image", "image_url": "https://example.com/tram.png"},
            {
                "type": "input_file",
                "file_data": "data:application/pdf;base64,JVBERi0=",
                "filename": "a.pdf",
            },
        ],
    },
    {"type": "reasoning", "id": "rs_9", "summary": [], "encrypted_content": "opaque"},
    {"type": "function_call", "call_id": "c9", "name": "weather", "arguments": '{"city":"Lisbon"}'},
    {
        "type": "function_call_output",
        "call_id": "c9",
        "output": [{"type": "input_text", "text": "sunny"}],
        "status": None,
    },
    {
        "id": "msg_9",
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": "It is.", "logprobs": [], "extra": 1}],
    },
]


def test_items_come_back_equal_as_json_to_what_was_added(ledger: Ledger) -> None:
    session = ChatLedgerSession("sent", ledger)

    async def main() -> list[TResponseInputItem]:
        await session.add_items(SENT)
        return await session.get_items()

    assert asyncio.run(main()) == SENT


def test_an_image_stored_apart_comes_back_inline_as_it_was_sent(ledger: Ledger) -> None:
    image = base64.b64encode(bytes(range(256)) * 200).decode("ascii")  # over the threshold
    sent: list[Any] = [
        {
            "role": "user",
            "content": [{"type": "input_image", "image_url": f"data:image/png;base64,{image}"}],
        }
    ]
    session = ChatLedgerSession("image", ledger)

    async def main() -> list[TResponseInputItem]:
        await session.add_items(sent)
        return await session.get_items()

    items = asyncio.run(main())

    assert items == sent
    (stored,) = sync_of(ledger).history("image").messages[0].parts
    assert isinstance(stored, ImagePart)
    assert stored.attachment is not None  # its bytes were kept apart, and read back


def test_get_items_gives_the_latest_limit_items_oldest_first(ledger: Ledger) -> None:
    session = ChatLedgerSession("trip", ledger)

    async def main() -> tuple[list[TResponseInputItem], ...]:
        await run(session, "Weather in Lisbon, Porto and Faro?", trip_script())
        every = await session.get_items()
        return every, await session.get_items(limit=4), await session.get_items(limit=0)

    every, latest, none = asyncio.run(main())

    assert latest == every[-4:]
    assert none == []
    assert types_of(latest) == ["reasoning", "function_call", "function_call_output", "message"]


def test_the_session_settings_limit_bounds_what_the_next_run_sees(ledger: Ledger) -> None:
    session = ChatLedgerSession("trip", ledger, session_settings=SessionSettings(limit=3))

    async def main() -> Any:
        await run(session, "Weather in Lisbon, Porto and Faro?", trip_script())
        second = await run(session, "And tomorrow?", [[assistant_message("Also sunny.")]])
        assert second.first_call is not None
        return second.first_call.input

    seen = asyncio.run(main())

    assert types_of(seen) == ["function_call", "function_call_output", "message", "message"]
    assert seen[-1] == {"role": "user", "content": "And tomorrow?"}


def test_an_item_chatledger_cannot_keep_fails_its_whole_batch_naming_it(ledger: Ledger) -> None:
    session = ChatLedgerSession("sent", ledger)
    batch: list[Any] = [{"role": "user", "content": "hi"}, {"type": "web_search_call", "id": "ws"}]

    with pytest.raises(InvalidMessage) as raised:
        asyncio.run(session.add_items(batch))

    assert raised.value.field == "items.1.type"
    assert sync_of(ledger).version("sent") == 0


class ThreadNotingCounter(FakeTokenCounter):
    """Counts as FakeTokenCounter does, noting the thread each count runs in."""

    def __init__(self) -> None:
        self.threads: set[int] = set()

    def count(self, message: Message) -> int:
        self.threads.add(threading.get_ident())
        return super().count(message)


def test_a_sync_ledger_records_off_the_event_loop_thread(backend_url: str) -> None:
    counter = ThreadNotingCounter()
    with ChatLedger.open(backend_url, token_counter=counter) as ledger:
        session = ChatLedgerSession("trip", ledger)

        async def main() -> int:
            await run(session, "Weather in Lisbon, Porto and Faro?", trip_script())
            return threading.get_ident()

        loop_thread = asyncio.run(main())

        assert counter.threads
        assert loop_thread not in counter.threads
        assert ledger.version("trip") == 9  # the parallel calls share one message


def test_two_runners_on_one_session_at_once_lose_nothing(ledger: Ledger) -> None:
    async def main() -> tuple[list[TResponseInputItem], list[TResponseInputItem]]:
        await asyncio.gather(
            run(ChatLedgerSession("trip", ledger), "Weather?", trip_script("a")),
            run(ChatLedgerSession("trip", ledger), "Weather?", trip_script("b")),
        )
        alone = SQLiteSession("alone")
        await run(alone, "Weather?", trip_script("a"))
        await run(alone, "Weather?", trip_script("b"))
        return await ChatLedgerSession("trip", ledger).get_items(), await alone.get_items()

    items, both = asyncio.run(main())

    assert sorted(as_json(items)) == sorted(as_json(both))
    assert len(items) == 2 * len(TRIP_TYPES)


def test_a_limit_inside_the_newest_tool_exchange_gets_that_exchanges_latest_items(
    ledger: Ledger,
) -> None:
    session = ChatLedgerSession("calls", ledger)
    items: list[Any] = [
        {"role": "user", "content": "Both cities?"},
        {"type": "function_call", "call_id": "a", "name": "weather", "arguments": "{}"},
        {"type": "function_call", "call_id": "b", "name": "weather", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "a", "output": "sunny"},
        {"type": "function_call_output", "call_id": "b", "output": "rainy"},
    ]

    async def main() -> tuple[list[TResponseInputItem], list[TResponseInputItem]]:
        await session.add_items(items)
        return await session.get_items(limit=1), await session.get_items(limit=4)

    newest, latest = asyncio.run(main())

    assert newest == items[-1:]
    assert latest == items[-4:]


def test_parallel_calls_that_reuse_a_call_id_are_all_kept(ledger: Ledger) -> None:
    session = ChatLedgerSession("reused", ledger)
    items: list[Any] = [
        {"type": "function_call", "call_id": "call_0", "name": "weather", "arguments": "{}"},
        {"type": "function_call", "call_id": "call_0", "name": "weather", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_0", "output": "sunny"},
        {"type": "function_call_output", "call_id": "call_0", "output": "rainy"},
    ]

    async def main() -> list[TResponseInputItem]:
        await session.add_items(items)
        return await session.get_items()

    # Each output joins the most recent call still waiting for its id, listed right after it.
    assert asyncio.run(main()) == [items[0], items[3], items[1], items[2]]


def test_a_run_paused_for_approval_resumes_into_the_items_the_sdks_own_session_keeps(
    ledger: Ledger,
) -> None:
    @function_tool(needs_approval=True)
    def book(city: str) -> str:
        """Book a trip to a city."""
        return f"booked {city}"

    async def approved(session: Session) -> tuple[list[TResponseInputItem], ...]:
        script = [
            [function_call("book", {"city": "Lisbon"}, call_id="call_1")],
            [assistant_message("Booked.")],
        ]
        agent = Agent(name="agent", model=ScriptedModel(script), tools=[book])
        paused = await Runner.run(agent, "Book Lisbon.", session=session, run_config=OFFLINE)
        pending = await session.get_items()
        state = paused.to_state()
        for interruption in paused.interruptions:
            state.approve(interruption)
        await Runner.run(agent, state, session=session, run_config=OFFLINE)
        return pending, await session.get_items()

    async def main() -> tuple[tuple[list[TResponseInputItem], ...], ...]:
        return await approved(SQLiteSession("book")), await approved(
            ChatLedgerSession("book", ledger)
        )

    (_, expected), (pending, items) = asyncio.run(main())

    assert pending == [{"role": "user", "content": "Book Lisbon."}]  # a call shows answered
    assert as_json(items) == as_json(expected)
    assert types_of(items) == ["message", "function_call", "function_call_output", "message"]


def test_a_conversation_recorded_through_the_ledger_reads_as_responses_items(
    ledger: Ledger,
) -> None:
    sync_of(ledger).record(
        "chat",
        [
            Message(role="system", content="Be brief."),
            Message(role="user", content="Hi!"),
            Message(role="assistant", content="Hello."),
        ],
    )
    session = ChatLedgerSession("chat", ledger)

    items = asyncio.run(session.get_items())

    assert items == [
        {"type": "message", "role": "system", "content": "Be brief."},
        {"type": "message", "role": "user", "content": "Hi!"},
        {"type": "message", "role": "assistant", "content": "Hello."},
    ]


def test_pop_item_takes_the_newest_item_out_of_memory_and_the_next_run_never_sees_it(
    ledger: Ledger,
) -> None:
    session = ChatLedgerSession("trip", ledger)

    async def main() -> tuple[Any, list[TResponseInputItem], Any]:
        await run(session, "Weather in Lisbon?", [[assistant_message("Sunny.", item_id="m1")]])
        popped = await session.pop_item()
        left = await session.get_items()
        second = await run(session, "Tomorrow?", [[assistant_message("Also sunny.")]])
        assert second.first_call is not None
        return popped, left, second.first_call.input

    popped, left, seen = asyncio.run(main())

    assert popped is not None
    assert dict(popped)["id"] == "m1"
    assert left == [{"role": "user", "content": "Weather in Lisbon?"}]
    assert seen == [*left, {"role": "user", "content": "Tomorrow?"}]
    assert len(sync_of(ledger).history("trip")) == 4  # history keeps the popped answer


def test_popping_a_function_call_output_takes_its_whole_tool_exchange_out_of_memory(
    ledger: Ledger,
) -> None:
    session = ChatLedgerSession("calls", ledger)
    items: list[Any] = [
        {"role": "user", "content": "Both cities?"},
        {"type": "reasoning", "id": "rs_1", "summary": []},
        {"type": "function_call", "call_id": "a", "name": "weather", "arguments": "{}"},
        {"type": "function_call", "call_id": "b", "name": "weather", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "a", "output": "sunny"},
        {"type": "function_call_output", "call_id": "b", "output": "rainy"},
    ]

    async def main() -> tuple[Any, list[TResponseInputItem]]:
        await session.add_items(items)
        return await session.pop_item(), await session.get_items()

    popped, left = asyncio.run(main())

    assert popped == items[-1]
    assert left == items[:2]  # both calls and the other output went with it


def test_pop_item_on_an_empty_session_returns_none(ledger: Ledger) -> None:
    session = ChatLedgerSession("empty", ledger)

    assert asyncio.run(session.pop_item()) is None


def test_pop_item_never_pops_the_system_prompt(ledger: Ledger) -> None:
    session = ChatLedgerSession("prompt", ledger)
    prompt: list[Any] = [{"role": "developer", "content": "Be brief."}]

    async def main() -> tuple[Any, list[TResponseInputItem]]:
        await session.add_items(prompt)
        return await session.pop_item(), await session.get_items()

    popped, left = asyncio.run(main())

    assert popped is None
    assert left == prompt


def test_pop_item_retried_after_items_are_added_back_pops_them_again(ledger: Ledger) -> None:
    session = ChatLedgerSession("again", ledger)
    said: list[Any] = [{"role": "user", "content": "Hi"}]

    async def main() -> tuple[Any, Any, list[TResponseInputItem]]:
        await session.add_items(said)
        first = await session.pop_item()
        await session.add_items(said)  # what the SDK does to undo a rewind
        return first, await session.pop_item(), await session.get_items()

    first, second, left = asyncio.run(main())

    assert first == second == said[0]
    assert left == []


def test_clear_session_mid_conversation_leaves_only_later_items_in_memory(ledger: Ledger) -> None:
    session = ChatLedgerSession("trip", ledger)

    async def main() -> tuple[list[TResponseInputItem], Any, list[TResponseInputItem]]:
        await run(session, "Weather in Lisbon, Porto and Faro?", trip_script())
        await session.clear_session()
        cleared = await session.get_items()
        second = await run(session, "Hello again.", [[assistant_message("Hi.")]])
        assert second.first_call is not None
        return cleared, second.first_call.input, await session.get_items()

    cleared, seen, after = asyncio.run(main())

    assert cleared == []
    assert seen == [{"role": "user", "content": "Hello again."}]
    assert types_of(after) == ["message", "message"]
    assert len(sync_of(ledger).history("trip")) == 11  # 9 of the first run, 2 of the second


def test_clear_session_on_an_empty_session_leaves_it_empty(ledger: Ledger) -> None:
    session = ChatLedgerSession("empty", ledger)

    async def main() -> list[TResponseInputItem]:
        await session.clear_session()
        return await session.get_items()

    assert asyncio.run(main()) == []


def test_a_cancelled_add_items_has_recorded_its_batch_whole_or_not_at_all(ledger: Ledger) -> None:
    session = ChatLedgerSession("cancelled", ledger)
    batch: list[Any] = [{"role": "user", "content": f"message {i}"} for i in range(300)]

    async def main() -> tuple[bool, int, int]:
        task = asyncio.create_task(session.add_items(batch))
        await asyncio.sleep(0.01)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        then = sync_of(ledger).version("cancelled")
        await asyncio.sleep(0.2)
        return task.cancelled(), then, sync_of(ledger).version("cancelled")

    cancelled, then, later = asyncio.run(main())

    assert cancelled
    assert then == later
    assert then in (0, len(batch))


def test_the_readme_section_runs() -> None:
    import asyncio

    from agents import Agent, RunConfig, Runner
    from agents.testing import ScriptedModel, assistant_message

    from chatledger import ChatLedger
    from chatledger.integrations.openai_agents import ChatLedgerSession

    ledger = ChatLedger.open("memory://")
    session = ChatLedgerSession("trip", ledger)  # an AsyncChatLedger works too
    agent = Agent(name="guide", model=ScriptedModel([[assistant_message("Lisbon!")]]))  # any model
    offline = RunConfig(tracing_disabled=True)  # no trace leaves the machine
    asyncio.run(Runner.run(agent, "Where to?", session=session, run_config=offline))
    asyncio.run(session.pop_item())  # the answer leaves memory; history keeps it
    assert asyncio.run(session.get_items()) == [{"role": "user", "content": "Where to?"}]
    assert len(ledger.history("trip")) == 2
