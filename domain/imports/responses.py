"""OpenAI Responses items (a request's ``input`` or a response's ``output``) as message fields.

Items of one assistant turn -- reasoning, an assistant message, function calls -- become one
assistant message, while their order can be restored exactly: reasoning and text parts in
their order, then the calls. A reasoning or message item after a function call, or a second
message item, starts the next assistant message. Each item's own fields (``id``, ``status``
and any unknown) are kept where the item is: a reasoning part, a tool call, or the message.
"""

from __future__ import annotations

from typing import Any

from chatledger.domain.imports.common import (
    Fields,
    Sourced,
    a_list,
    an_object,
    base64_source,
    binary_source,
    jsonable,
    take_text,
    unsupported,
    with_extra,
)

_ITEMS = "message, function_call, function_call_output and reasoning items"
_PARTS = "input_text, input_image, input_file, output_text and refusal parts"


def default_text_type(role: str) -> str:
    """The text part type a role's content holds: ``output_text`` for the assistant."""
    return "output_text" if role == "assistant" else "input_text"


def responses_fields(items: Any) -> list[Sourced]:
    """The fields of the messages a list of Responses items holds, in order."""
    turn = _Turn()
    messages: list[Sourced] = []
    for index, value in enumerate(a_list(jsonable(items, "items"), "items")):
        field = str(index)
        item = an_object(value, field)
        kind = item.pop("type", "message" if "role" in item else None)
        if kind == "reasoning":
            turn.reasoning(_reasoning(item, field), field, messages)
        elif kind == "function_call":
            turn.call(_call(item, field), field, messages)
        elif kind == "message" and item.get("role") == "assistant":
            turn.message(_message(item, field), field, messages)
        elif kind == "message":
            turn.close(messages)
            messages.append((field, _message(item, field)))
        elif kind == "function_call_output":
            turn.close(messages)
            messages.append((field, _output(item, field)))
        else:
            raise unsupported(f"{field}.type", kind, _ITEMS)
    turn.close(messages)
    return messages


class _Turn:
    """The assistant message the items read so far are gathering into."""

    def __init__(self) -> None:
        self.fields: Fields | None = None
        self.source = ""
        self.has_message = False

    def reasoning(self, part: Fields, source: str, messages: list[Sourced]) -> None:
        if self.fields is None or self.fields["tool_calls"]:
            self._start(source, messages)
        assert self.fields is not None
        self.fields["content"].append(part)

    def message(self, item: Fields, source: str, messages: list[Sourced]) -> None:
        content = item.get("content")
        gathered = self.fields
        if (
            gathered is None
            or gathered["tool_calls"]
            or self.has_message
            # Text content renders as text only alone: after reasoning it starts a message.
            or (isinstance(content, str) and gathered["content"])
        ):
            self._start(source, messages)
        assert self.fields is not None
        if isinstance(content, str):
            self.fields["content"] = content
        else:
            self.fields["content"] += content or []
        self.fields["extra"] = item.get("extra", {})
        self.has_message = True

    def call(self, call: Fields, source: str, messages: list[Sourced]) -> None:
        if self.fields is None:
            self._start(source, messages)
        assert self.fields is not None
        self.fields["tool_calls"].append(call)

    def close(self, messages: list[Sourced]) -> None:
        if self.fields is not None:
            if self.fields["content"] == []:
                del self.fields["content"]  # function calls alone: no content, as in chat
            messages.append((self.source, with_extra(self.fields, {})))
        self.fields = None
        self.has_message = False

    def _start(self, source: str, messages: list[Sourced]) -> None:
        self.close(messages)
        self.source = source
        self.fields = {"role": "assistant", "format": "responses", "content": [], "tool_calls": []}


def _message(item: dict[str, Any], field: str) -> Fields:
    role = item.pop("role", None)
    content = item.pop("content", None)
    fields: Fields = {"role": role, "format": "responses"}
    if isinstance(content, list):
        default = default_text_type(str(role))
        fields["content"] = [
            _part(part, f"{field}.content.{i}", default) for i, part in enumerate(content)
        ]
    else:
        fields["content"] = content
    return with_extra(fields, item)


def _part(value: Any, field: str, text_type: str) -> Fields:
    part = an_object(value, field)
    kind = part.pop("type", None)
    if kind in ("input_text", "output_text"):
        if kind != text_type:
            part["type"] = kind  # kept, so the part renders as the type it came as
        return with_extra({"type": "text", "text": take_text(part, "text", field)}, part)
    if kind == "refusal":
        return with_extra({"type": "refusal", "refusal": take_text(part, "refusal", field)}, part)
    if kind == "input_image":
        url = take_text(part, "image_url", field)
        fields = {"type": "image", **(binary_source(url) if url is not None else {})}
        fields["file_id"] = part.pop("file_id", None)
        fields["detail"] = part.pop("detail", None)
        return with_extra(fields, part)
    if kind == "input_file":
        data = take_text(part, "file_data", field)
        fields = {"type": "file", **(base64_source(data) if data is not None else {})}
        fields["url"] = part.pop("file_url", None)
        fields["file_id"] = part.pop("file_id", None)
        fields["filename"] = part.pop("filename", None)
        return with_extra(fields, part)
    raise unsupported(f"{field}.type", kind, _PARTS)


def _reasoning(item: dict[str, Any], field: str) -> Fields:
    fields: Fields = {"type": "reasoning", "provider": "openai", "id": item.pop("id", None)}
    fields["encrypted_content"] = item.pop("encrypted_content", None)
    summary = a_list(item.get("summary", []), f"{field}.summary")
    fields["summary"] = [entry.get("text", "") for entry in summary if isinstance(entry, dict)]
    if summary == [{"type": "summary_text", "text": text} for text in fields["summary"]]:
        item.pop("summary", None)
    # Otherwise the summary stays as sent, in extra, over the one the texts would render.
    content = item.get("content")
    if isinstance(content, list) and len(content) == 1:
        entry = content[0]
        if entry == {"type": "reasoning_text", "text": entry.get("text")} and isinstance(
            entry["text"], str
        ):
            fields["text"] = entry["text"]
            del item["content"]
    return with_extra(fields, item)


def _call(item: dict[str, Any], field: str) -> Fields:
    fields: Fields = {
        "id": take_text(item, "call_id", field, required=True),
        "name": item.pop("name", None),
        "arguments": item.pop("arguments", ""),
        "item_id": item.pop("id", None),
    }
    return with_extra(fields, item)


def _output(item: dict[str, Any], field: str) -> Fields:
    call_id = take_text(item, "call_id", field, required=True)
    output = item.pop("output", None)
    fields: Fields = {"role": "tool", "tool_call_id": call_id, "format": "responses"}
    if isinstance(output, list):
        fields["content"] = [
            _part(part, f"{field}.output.{i}", "input_text") for i, part in enumerate(output)
        ]
    else:
        fields["content"] = output
    return with_extra(fields, item)
