"""The ports the domain needs from the outside world."""

from __future__ import annotations

from collections.abc import Sequence
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


@runtime_checkable
class Summarizer(Protocol):
    """Writes a summary: the previous one's text extended by the messages since.

    Any callable of this shape will do. ``previous`` is the text of the summary being extended
    (None for the first); ``messages`` the whole units a window leaves out after it, oldest
    first. It returns the new summary's text, which stands for everything ``previous`` did and
    those messages too. Raising, or returning nothing, records nothing.
    """

    def __call__(self, previous: str | None, messages: Sequence[Message], /) -> str:
        """The new summary's text."""
        ...
