"""Anthropic Messages turns (``MessageParam``s or a response ``Message``) as message fields.

A user turn's ``tool_result`` blocks become one tool message each, and the turn's other
blocks user messages between them, in order; an assistant turn is one assistant message
(content blocks, then ``tool_use`` calls), a content block after a call starting the next.
A response's own fields (``id``, ``model``, ``usage``...) are kept on its first message.
"""

from __future__ import annotations

from typing import Any

from chatledger.domain.errors import InvalidMessage
from chatledger.domain.imports.common import (
    Fields,
    Sourced,
    a_list,
    an_object,
    json_text,
    jsonable,
    nest,
    take_object,
    take_text,
    unsupported,
    with_extra,
)

_USER_BLOCKS = "text, image, document and tool_result blocks"
_ASSISTANT_BLOCKS = "text, thinking, redacted_thinking and tool_use blocks"
_RESULT_BLOCKS = "text, image and document blocks"


def anthropic_fields(turns: Any, system: Any = None) -> list[Sourced]:
    """The fields of the messages a list of turns (or a response) and a ``system`` hold."""
    data = jsonable(turns, "messages")
    listed = a_list([data] if isinstance(data, dict) else data, "messages")
    messages: list[Sourced] = []
    if system is not None:
        messages.append(("system", _instruction(jsonable(system, "system"), "system")))
    for index, value in enumerate(listed):
        field = str(index)
        turn = an_object(value, field)
        role = turn.pop("role", None)
        content = turn.pop("content", None)
        if role == "system":
            messages.append((field, _instruction(content, f"{field}.content")))
        elif role == "user":
            messages += [(field, each) for each in _user(content, f"{field}.content")]
        elif role == "assistant":
            messages += [(field, each) for each in _assistant(content, f"{field}.content", turn)]
            continue
        else:
            raise InvalidMessage(
                f"{field}.role", f"must be user, assistant or system, got {role!r}"
            )
        if turn:
            key = next(iter(turn))
            raise InvalidMessage(f"{field}.{key}", "is not a field of a turn (role, content)")
    return messages


def _instruction(content: Any, field: str) -> Fields:
    if isinstance(content, list):
        blocks = [_text(block, f"{field}.{i}") for i, block in enumerate(content)]
        return {"role": "system", "content": blocks, "format": "anthropic"}
    return {"role": "system", "content": content, "format": "anthropic"}


def _text(value: Any, field: str) -> Fields:
    block = an_object(value, field)
    if block.get("type") != "text":
        raise unsupported(f"{field}.type", block.get("type"), "text blocks")
    del block["type"]
    return with_extra({"type": "text", "text": take_text(block, "text", field)}, block)


def _user(content: Any, field: str) -> list[Fields]:
    if not isinstance(content, list):
        return [{"role": "user", "content": content, "format": "anthropic"}]
    messages: list[Fields] = []
    parts: list[Fields] = []
    for index, value in enumerate(content):
        block = an_object(value, f"{field}.{index}")
        if block.get("type") == "tool_result":
            if parts:
                messages.append({"role": "user", "content": parts, "format": "anthropic"})
                parts = []
            messages.append(_result(block, f"{field}.{index}"))
        else:
            parts.append(_part(block, f"{field}.{index}", _USER_BLOCKS))
    if parts:
        messages.append({"role": "user", "content": parts, "format": "anthropic"})
    return messages


def _assistant(content: Any, field: str, response: dict[str, Any]) -> list[Fields]:
    first: Fields = {"role": "assistant", "format": "anthropic"}
    if response:
        first["extra"] = response  # a response's fields, which no request takes
    if not isinstance(content, list):
        return [{**first, "content": content}]
    messages = [first]
    for index, value in enumerate(content):
        block = an_object(value, f"{field}.{index}")
        current = messages[-1]
        if block.get("type") == "tool_use":
            current.setdefault("tool_calls", []).append(_call(block, f"{field}.{index}"))
            continue
        if "tool_calls" in current:
            current = {"role": "assistant", "format": "anthropic"}
            messages.append(current)
        current.setdefault("content", []).append(
            _part(block, f"{field}.{index}", _ASSISTANT_BLOCKS)
        )
    return messages


def _result(block: dict[str, Any], field: str) -> Fields:
    del block["type"]
    fields: Fields = {"role": "tool", "format": "anthropic"}
    fields["tool_call_id"] = take_text(block, "tool_use_id", field, required=True)
    content = block.pop("content", None)
    if isinstance(content, list):
        fields["content"] = [
            _part(an_object(part, f"{field}.content.{i}"), f"{field}.content.{i}", _RESULT_BLOCKS)
            for i, part in enumerate(content)
        ]
    else:
        fields["content"] = content
    return with_extra(fields, block)


def _part(block: dict[str, Any], field: str, known: str) -> Fields:
    kind = block.pop("type", None)
    if kind == "text":
        return with_extra({"type": "text", "text": take_text(block, "text", field)}, block)
    if kind == "image":
        source = take_object(block, "source", field)
        return with_extra({"type": "image", **_source(source, f"{field}.source")}, block)
    if kind == "document":
        source = take_object(block, "source", field)
        return with_extra({"type": "file", **_source(source, f"{field}.source")}, block)
    fields: Fields
    if kind == "thinking":
        fields = {"type": "reasoning", "provider": "anthropic"}
        fields["text"] = take_text(block, "thinking", field, required=True)
        fields["signature"] = take_text(block, "signature", field, required=True)
        return with_extra(fields, block)
    if kind == "redacted_thinking":
        fields = {"type": "reasoning", "provider": "anthropic", "redacted": True}
        fields["data"] = take_text(block, "data", field, required=True)
        return with_extra(fields, block)
    raise unsupported(f"{field}.type", kind, known)


def _source(source: dict[str, Any], field: str) -> Fields:
    """An image's or document's source as part fields; its unknown fields under ``source``."""
    kind = source.pop("type", None)
    fields: Fields
    if kind == "base64":
        fields = {"data": source.pop("data", None), "media_type": source.pop("media_type", None)}
    elif kind == "text":
        fields = {"text": source.pop("data", None), "media_type": source.pop("media_type", None)}
    elif kind == "url":
        fields = {"url": source.pop("url", None)}
    elif kind == "file":
        fields = {"file_id": source.pop("file_id", None)}
    else:
        raise unsupported(f"{field}.type", kind, "base64, text, url and file sources")
    fields = {key: value for key, value in fields.items() if value is not None}
    return {**fields, **({"extra": nest({}, "source", source)} if source else {})}


def _call(block: dict[str, Any], field: str) -> Fields:
    del block["type"]
    fields: Fields = {"id": block.pop("id", None), "name": block.pop("name", None)}
    fields["arguments"] = json_text(block.pop("input", {}), f"{field}.input")
    return with_extra(fields, block)
