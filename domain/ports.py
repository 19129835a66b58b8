"""The ports the domain needs from the outside world."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from chatledger.domain.messages import Message


@runtime_checkable
class TokenCounter(Protocol):
    """Counts what a message adds to an LLM request, in the model's tokens."""

    @property
    def name(self) -> str:
        """A stable name for the counting scheme, stored beside every count it makes."""
        ...

    @property
    def request_overhead(self) -> int:
        """Tokens added once per request (e.g. reply priming)."""
        ...

    def count(self, message: Message) -> int:
        """Tokens this message adds to a request, its per-message overhead included."""
        ...
