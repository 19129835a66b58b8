"""Test doubles for the domain's ports."""

from __future__ import annotations

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
