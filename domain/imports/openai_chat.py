"""OpenAI Chat Completions messages (request params or a response's message) as message fields."""

from __future__ import annotations

from typing import Any

from chatledger.domain.errors import InvalidMessage
from chatledger.domain.imports.common import (
    Fields,
    a_list,
    an_object,
    base64_source,
    binary_source,
    jsonable,
    nest,
    take_object,
    take_text,
    unsupported,
    with_extra,
)

RESPONSE_ONLY_FIELDS = frozenset({"annotations"})
"""Fields of a response's message that no request message takes: kept, never rendered."""

_ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})
_PARTS = "text, image_url, input_audio, file and refusal parts"


def openai_fields(message: Any) -> Fields:
    """The fields of the message a Chat Completions message param or response message holds."""
    data = an_object(jsonable(message, "message"), "message")
    role = data.pop("role", None)
    if role not in _ROLES:
        raise InvalidMessage("role", f"must be one of {', '.join(sorted(_ROLES))}; got {role!r}")
    fields: Fields = {"role": role, "format": "openai"}
    content = data.pop("content", None)
    refusal = take_text(data, "refusal", "message")
    if isinstance(content, list):
        fields["content"] = [_part(part, f"content.{i}") for i, part in enumerate(content)]
    elif content is not None:
        fields["content"] = content
    if refusal is not None:
        # The response's place for a refusal; as a part, it renders back there.
        parts = fields.get("content", [])
        if isinstance(parts, str):
            parts = [{"type": "text", "text": parts}]
        fields["content"] = [*parts, {"type": "refusal", "refusal": refusal}]
    fields["name"] = data.pop("name", None)
    fields["tool_call_id"] = data.pop("tool_call_id", None)
    calls = data.pop("tool_calls", None)
    if calls is not None:
        fields["tool_calls"] = [
            _call(call, f"tool_calls.{i}") for i, call in enumerate(a_list(calls, "tool_calls"))
        ]
    return with_extra(fields, data)


def _part(value: Any, field: str) -> Fields:
    part = an_object(value, field)
    kind = part.pop("type", None)
    if kind == "text":
        return with_extra({"type": "text", "text": take_text(part, "text", field)}, part)
    if kind == "refusal":
        refusal = take_text(part, "refusal", field)
        return with_extra({"type": "refusal", "refusal": refusal}, part)
    if kind == "image_url":
        image = take_object(part, "image_url", field)
        url = take_text(image, "url", f"{field}.image_url", required=True)
        assert url is not None
        fields = {"type": "image", **binary_source(url), "detail": image.pop("detail", None)}
        return with_extra(fields, nest(part, "image_url", image))
    if kind == "input_audio":
        audio = take_object(part, "input_audio", field)
        fields = {"type": "audio", "data": audio.pop("data", None)}
        fields["format"] = audio.pop("format", None)
        return with_extra(fields, nest(part, "input_audio", audio))
    if kind == "file":
        file = take_object(part, "file", field)
        data = take_text(file, "file_data", f"{field}.file")
        fields = {"type": "file", **(base64_source(data) if data is not None else {})}
        fields["file_id"] = file.pop("file_id", None)
        fields["filename"] = file.pop("filename", None)
        return with_extra(fields, nest(part, "file", file))
    raise unsupported(f"{field}.type", kind, _PARTS)


def _call(value: Any, field: str) -> Fields:
    call = an_object(value, field)
    kind = call.pop("type", "function")
    if kind not in ("function", "custom"):
        raise unsupported(f"{field}.type", kind, "function and custom tool calls")
    function = take_object(call, kind, field)
    fields: Fields = {
        "id": call.pop("id", None),
        "name": function.pop("name", None),
        # A custom tool's free-form input is its arguments, as text.
        "arguments": function.pop("arguments" if kind == "function" else "input", ""),
    }
    if kind == "custom":
        call["type"] = "custom"
    return with_extra(fields, nest(call, kind, function))
