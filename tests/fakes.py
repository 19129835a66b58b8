"""Test doubles for the domain's ports."""

from __future__ import annotations

from collections.abc import Sequence

from chatledger.domain import Message


class FakeTokenCounter:
    """Counts words: 3 per message, 1 per word of content and of each tool call's text."""

    name = "fake:words"
    request_overhead = 3

    def count(self, message: Message) -> int:
        """Three plus the words the message carries."""
        words = len((message.text or "").split())
        for call in message.tool_calls:
            words += len(call.name.split()) + len(call.arguments.split())
        return 3 + words


class FakeSummarizer:
    """A summarizer that says what it was given, and remembers every call."""

    model = "fake-summarizer"

    def __init__(self, reply: str | None = None) -> None:
        self.reply = reply
        self.calls: list[tuple[str | None, tuple[Message, ...]]] = []

    def __call__(self, previous: str | None, messages: Sequence[Message], /) -> str:
        """``reply`` if one was given, else the previous summary and the messages' texts."""
        self.calls.append((previous, tuple(messages)))
        if self.reply is not None:
            return self.reply
        said = " | ".join(message.text or message.role for message in messages)
        return f"{previous or 'nothing before'}; then {said}"
