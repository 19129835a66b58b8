"""Provider renderings of a memory view: OpenAI Chat Completions and Anthropic Messages requests.

Both take the view's messages (system prompt first, tool exchanges whole) and return plain JSON
data shaped as each provider's published request types, ready to pass to its SDK.

``to_openai`` and ``to_anthropic`` are typed with the SDKs' own parameter types, imported for
the type checker only: ``messages=view.to_openai()`` then passes ``mypy --strict`` with no
cast, and nothing here imports an SDK at run time (neither is a dependency; where one is not
installed, its types are Any to the checker). The SDKs' TypedDicts are invariant in every
key, so no TypedDict of ours could match them structurally. The plain shapes below
(``OpenAIMessage``, ``AnthropicRequest``) are what the HTTP schema documents; a test
validates every rendering against the SDKs' types at run time.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, NotRequired, cast

from typing_extensions import TypedDict  # pydantic reads these as schemas only from here on 3.11

from chatledger.domain import Message

if TYPE_CHECKING:
    from anthropic.types import MessageParam
    from openai.types.chat import ChatCompletionMessageParam

ANTHROPIC_FIRST_USER_TEXT = "(continuing the conversation)"
"""The text of the user turn put before a view that starts with the assistant: Anthropic's
Messages API wants the first turn to be a user turn. Use ``start_on_user=True`` to avoid it."""


class OpenAIFunction(TypedDict):
    """The function a tool call names, with its arguments as JSON text."""

    name: str
    arguments: str


class OpenAIToolCall(TypedDict):
    """One tool call on an assistant message."""

    id: str
    type: Literal["function"]
    function: OpenAIFunction


class OpenAIMessage(TypedDict):
    """One Chat Completions message; which keys appear depends on the role."""

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | None
    name: NotRequired[str]
    tool_calls: NotRequired[list[OpenAIToolCall]]
    tool_call_id: NotRequired[str]


class AnthropicBlock(TypedDict):
    """A content block: text, tool_use or tool_result (keys follow ``type``)."""

    type: Literal["text", "tool_use", "tool_result"]
    text: NotRequired[str]
    id: NotRequired[str]
    name: NotRequired[str]
    input: NotRequired[dict[str, Any]]
    tool_use_id: NotRequired[str]
    content: NotRequired[str]


class AnthropicMessage(TypedDict):
    """One turn of an Anthropic Messages request."""

    role: Literal["user", "assistant"]
    content: list[AnthropicBlock]


class AnthropicRequest(TypedDict):
    """The ``system`` and ``messages`` parameters of an Anthropic Messages request."""

    system: str | None
    messages: list[AnthropicMessage]


class AnthropicParams(TypedDict):
    """``system`` and ``messages`` of an Anthropic Messages request, as the SDK types them."""

    system: str | None
    messages: list[MessageParam]


def to_openai(messages: Sequence[Message]) -> list[ChatCompletionMessageParam]:
    """The messages as an OpenAI Chat Completions ``messages`` list, typed as the SDK's."""
    # The same dicts: openai_messages builds exactly the SDK's message shapes (tested).
    return cast("list[ChatCompletionMessageParam]", openai_messages(messages))


def openai_messages(messages: Sequence[Message]) -> list[OpenAIMessage]:
    """The messages as an OpenAI Chat Completions ``messages`` list, in chatledger's types."""
    return [_openai(message) for message in messages]


def _openai(message: Message) -> OpenAIMessage:
    if message.role == "tool":
        return {
            "role": "tool",
            "content": message.text or "",
            "tool_call_id": message.tool_call_id or "",
        }
    # Only an assistant message that calls tools may go without content.
    content = message.text
    if content is None and not message.tool_calls:
        content = ""
    rendered: OpenAIMessage = {"role": message.role, "content": content}
    if message.name is not None:
        rendered["name"] = message.name
    if message.tool_calls:
        rendered["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
            for call in message.tool_calls
        ]
    return rendered


def to_anthropic(
    messages: Sequence[Message], *, first_user_text: str = ANTHROPIC_FIRST_USER_TEXT
) -> AnthropicParams:
    """The messages as Anthropic Messages ``system`` and ``messages``, typed as the SDK's."""
    # The same dicts: anthropic_request builds exactly the SDK's message shapes (tested).
    return cast("AnthropicParams", anthropic_request(messages, first_user_text=first_user_text))


def anthropic_request(
    messages: Sequence[Message], *, first_user_text: str = ANTHROPIC_FIRST_USER_TEXT
) -> AnthropicRequest:
    """The messages as Anthropic Messages ``system`` and ``messages``, in chatledger's types.

    The system prompt goes apart; tool calls become ``tool_use`` blocks and their results
    ``tool_result`` blocks in a user turn; consecutive turns of one role merge into one, and a
    user turn with ``first_user_text`` is put first when the view starts with the assistant.
    """
    system: str | None = None
    turns: list[AnthropicMessage] = []
    for message in messages:
        if message.is_instruction:
            system = message.text
            continue
        role: Literal["user", "assistant"] = "assistant" if message.role == "assistant" else "user"
        blocks = _anthropic_blocks(message)
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    if turns and turns[0]["role"] == "assistant":
        turns.insert(0, {"role": "user", "content": [{"type": "text", "text": first_user_text}]})
    return {"system": system, "messages": turns}


def _anthropic_blocks(message: Message) -> list[AnthropicBlock]:
    if message.role == "tool":
        result: AnthropicBlock = {"type": "tool_result", "tool_use_id": message.tool_call_id or ""}
        if message.text:
            result["content"] = message.text
        return [result]
    # Anthropic rejects empty text blocks.
    blocks: list[AnthropicBlock] = []
    if message.text:
        blocks.append({"type": "text", "text": message.text})
    for call in message.tool_calls:
        blocks.append(
            {"type": "tool_use", "id": call.id, "name": call.name, "input": _input(call.arguments)}
        )
    return blocks


MAX_INPUT_DEPTH = 64
"""Arguments nested deeper than this are passed as text: no request needs more, and every
JSON encoder and decoder along the way handles this much."""


class _NotPortable(ValueError):
    """Parsed arguments that would not survive being written as JSON (RFC 8259) again."""


def _refuse_constant(name: str) -> Any:
    raise _NotPortable(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _NotPortable(f"{text} is out of range")
    return value


def _input(arguments: str) -> dict[str, Any]:
    """A tool call's arguments as the JSON object Anthropic wants; other text is kept whole.

    Arguments are the model's raw text, recorded verbatim: text that is no JSON, or JSON that
    cannot be written out again as JSON (NaN, 1e400, an escaped lone surrogate, nesting past
    MAX_INPUT_DEPTH), goes as ``{"arguments": text}``, so no recorded message fails a rendering.
    """
    if not arguments.strip():
        return {}
    try:
        parsed = json.loads(arguments, parse_constant=_refuse_constant, parse_float=_finite_float)
        _check_portable(parsed)
    except (ValueError, RecursionError):
        return {"arguments": arguments}
    return parsed if isinstance(parsed, dict) else {"arguments": parsed}


def _check_portable(value: Any) -> None:
    """Raise _NotPortable for text UTF-8 cannot carry, or nesting past MAX_INPUT_DEPTH."""
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            item.encode("utf-8")  # a lone surrogate raises UnicodeEncodeError, a ValueError
        elif isinstance(item, (dict, list)):
            if depth >= MAX_INPUT_DEPTH:
                raise _NotPortable(f"nested deeper than {MAX_INPUT_DEPTH} levels")
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            pending += [(child, depth + 1) for child in children]
