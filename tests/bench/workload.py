"""The benchmark's conversations: deterministic, realistic turns with tool calls, any length."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator

from chatledger.domain import Message, ToolCall

SYSTEM_PROMPT = (
    "You are a careful travel assistant. Answer briefly, cite the tools you used, and ask before "
    "booking anything that costs money."
)
_VOCABULARY = (
    "the a to of and in for on with at by from about trip flight hotel train ticket price city "
    "museum beach weather morning evening night day week month budget option route station "
    "airport luggage passport visa booking cancel refund seat window aisle breakfast dinner "
    "restaurant vegetarian table reservation tour guide ferry island mountain hike trail map "
    "distance hour minute euro dollar cheap quick direct connection delay platform gate terminal "
    "rental car insurance deposit receipt itinerary schedule arrive depart return stay night "
    "Lisbon Porto Madrid Seville Rome Florence Kyoto Osaka Oslo Bergen could would should please "
    "thanks great sounds fine maybe instead also then first second last cheaper faster nearer"
)
_WORDS = tuple(_VOCABULARY.split())
_CITIES = ("Lisbon", "Porto", "Madrid", "Seville", "Rome", "Florence", "Kyoto", "Osaka", "Oslo")


def _text(rng: random.Random, low: int, high: int) -> str:
    words = rng.choices(_WORDS, k=rng.randint(low, high))
    return " ".join(words).capitalize() + "."


def tool_turn(rng: random.Random, prefix: str) -> list[Message]:
    """A whole turn: user, assistant calling 2 tools, their 2 results, and the answer."""
    city = rng.choice(_CITIES)
    calls = (
        ToolCall(id=f"{prefix}-c1", name="weather", arguments=json.dumps({"city": city})),
        ToolCall(id=f"{prefix}-c2", name="hotels", arguments=json.dumps({"city": city, "n": 3})),
    )
    return [
        Message(id=f"{prefix}-u", role="user", content=_text(rng, 10, 40)),
        Message(id=f"{prefix}-a1", role="assistant", tool_calls=calls),
        Message(
            id=f"{prefix}-t1",
            role="tool",
            tool_call_id=calls[0].id,
            content=json.dumps({"city": city, "temp_c": rng.randint(5, 35), "sky": "clear"}),
        ),
        Message(
            id=f"{prefix}-t2",
            role="tool",
            tool_call_id=calls[1].id,
            content=json.dumps(
                [{"name": _text(rng, 2, 4), "eur": rng.randint(60, 300)} for _ in range(3)]
            ),
        ),
        Message(id=f"{prefix}-a2", role="assistant", content=_text(rng, 30, 120)),
    ]


def _chat_turn(rng: random.Random, prefix: str) -> list[Message]:
    return [
        Message(id=f"{prefix}-u", role="user", content=_text(rng, 5, 60)),
        Message(id=f"{prefix}-a", role="assistant", content=_text(rng, 20, 160)),
    ]


def conversation(length: int, seed: str) -> Iterator[Message]:
    """``length`` messages: the system prompt, then chat turns with a tool turn now and then.

    The same seed gives the same messages, ids included.
    """
    rng = random.Random(seed)
    if length < 1:
        return
    yield Message(id=f"{seed}-system", role="system", content=SYSTEM_PROMPT)
    produced, turn = 1, 0
    while produced < length:
        prefix = f"{seed}-{turn}"
        messages = tool_turn(rng, prefix) if turn % 5 == 4 else _chat_turn(rng, prefix)
        if produced + len(messages) > length:
            # Pad with plain chat so the history never ends on a half-answered tool call.
            messages = [
                Message(id=f"{prefix}-p{i}", role="user", content=_text(rng, 5, 30))
                for i in range(length - produced)
            ]
        yield from messages
        produced += len(messages)
        turn += 1


def batches(length: int, seed: str, size: int) -> Iterator[list[Message]]:
    """The conversation of ``length`` messages in lists of at most ``size``."""
    batch: list[Message] = []
    for message in conversation(length, seed):
        batch.append(message)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
