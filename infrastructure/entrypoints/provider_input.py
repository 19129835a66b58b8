"""Messages given in a provider's own shape, for the CLI's ``record --format`` and the HTTP API.

``openai`` is Chat Completions messages (one object each), ``responses`` is Responses API items
(grouped into messages as ``messages_from_responses`` does), ``anthropic`` is Messages API
turns, with the system prompt as a ``{"system": ...}`` object of its own or the ``system``
argument. An error names the object by its index in ``objects`` (``3.content.0.type``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from chatledger.domain import (
    InvalidInput,
    InvalidMessage,
    Message,
    messages_from_anthropic,
    messages_from_responses,
)

ProviderFormat = Literal["openai", "responses", "anthropic"]
FORMATS: tuple[str, ...] = ("chatledger", "openai", "responses", "anthropic")
"""What ``record --format`` takes: chatledger's own message objects, or a provider's shape."""


def provider_messages(
    format: ProviderFormat, objects: Sequence[Any], *, system: Any = None
) -> list[Message]:
    """The messages ``objects`` (in ``format``'s shape) stand for; InvalidInput names the field."""
    if format == "openai":
        messages = []
        for index, item in enumerate(objects):
            try:
                messages.append(Message.from_openai(item))
            except InvalidMessage as exc:
                raise InvalidMessage(f"{index}.{exc.field}", exc.problem) from None
        _no_system(system, "give OpenAI's system prompt as a system or developer message")
        return messages
    if format == "responses":
        _no_system(system, "give the system prompt as a system or developer message item")
        return messages_from_responses(list(objects))
    turns = [item for item in objects if not _is_system(item)]
    given = [item["system"] for item in objects if _is_system(item)]
    if system is not None:
        given.append(system)
    if len(given) > 1:
        raise InvalidInput("system", "is given more than once")
    return messages_from_anthropic(turns, system=given[0] if given else None)


def _no_system(system: Any, hint: str) -> None:
    if system is not None:
        raise InvalidInput("system", f"is taken with format anthropic only: {hint}")


def _is_system(item: Any) -> bool:
    return isinstance(item, dict) and set(item) == {"system"}
