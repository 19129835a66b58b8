"""LangChain messages as chatledger messages and back, faithfully both ways.

What chatledger models becomes its own fields: the role, text, tool calls (``args`` as JSON
text), ``tool_call_id``, ``name``, the id, and parts for the content blocks that hold what a
part does: ``text``, ``image``, ``file``, ``text-plain``, ``audio``, ``reasoning`` and
``refusal`` (v1 standard blocks, or v0 ones with ``source_type``), OpenAI's ``image_url`` and
Anthropic's ``thinking`` and ``redacted_thinking``. A block's keys that no part field holds
(``id``, ``index``, ``extras``, ``annotations``...) stay in that part's ``extra``.

A message's own fields that chatledger has no place for (``additional_kwargs``,
``response_metadata``, ``usage_metadata``, ``invalid_tool_calls``, a tool message's
``artifact`` and ``status``...) and the blocks no part holds (``tool_call``, ``server_tool_*``,
``video``, ``non_standard``...) are kept as they came in ``metadata["langchain"]``, never in
the message's ``extra``: that belongs to the provider shape its ``format`` names, and the
renderings lay it over their requests, where LangChain's fields must never go. What is kept is
sealed with the message, as its text is, and counts against ``Limits.max_metadata_bytes``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    HumanMessageChunk,
    SystemMessage,
    SystemMessageChunk,
    ToolMessage,
    ToolMessageChunk,
)
from langchain_core.messages.tool import invalid_tool_call, tool_call

from chatledger import (
    AudioPart,
    FilePart,
    ImagePart,
    InvalidMessage,
    Message,
    Part,
    ReasoningPart,
    RefusalPart,
    Role,
    TextPart,
    ToolCall,
)
from chatledger.domain.imports.common import binary_source
from chatledger.domain.parts import ROLE_PARTS
from chatledger.projections.renderings.common import merged

KEPT = "langchain"
"""The metadata key under which a message keeps what chatledger has no place for: ``fields``
(the message's own), ``blocks`` (by index in its content), ``strings`` (the indices of blocks
that were bare strings) and ``type`` (when not its role's usual class, a chunk's say)."""

REASONING_PROVIDER = "langchain"
"""The provider of a LangChain standard reasoning block: no provider signed it, so no
provider rendering sends it back."""

_CLASSES: dict[str, type[BaseMessage]] = {
    cls.model_fields["type"].default: cls
    for cls in (
        HumanMessage,
        AIMessage,
        SystemMessage,
        ToolMessage,
        HumanMessageChunk,
        AIMessageChunk,
        SystemMessageChunk,
        ToolMessageChunk,
    )
}
_TYPES: dict[Role, str] = {
    "user": "human",
    "assistant": "ai",
    "system": "system",
    "developer": "system",
    "tool": "tool",
}
_OPENAI_ROLE = "__openai_role__"
"""Where LangChain's OpenAI integration marks a system message as a developer message."""
_MODELED = frozenset({"content", "type", "name", "id", "tool_calls", "tool_call_id"})


def to_ledger(message: BaseMessage) -> Message:
    """The chatledger message a LangChain message is; raise InvalidMessage naming the field.

    The LangChain ``id``, when set, is the message's id (so adding it again records nothing);
    without one, a new id is made.
    """
    role = _role_of(message)
    kept: dict[str, Any] = {}
    if message.type != _TYPES[role]:
        kept["type"] = message.type
    fields: dict[str, Any] = {"role": role, "name": message.name}
    if message.id is not None:
        fields["id"] = message.id
    fields["content"] = _ledger_content(message.content, role, kept)
    if isinstance(message, AIMessage):
        fields["tool_calls"] = [
            _ledger_call(call, index) for index, call in enumerate(message.tool_calls)
        ]
    if isinstance(message, ToolMessage):
        fields["tool_call_id"] = message.tool_call_id
    unmodeled = _unmodeled(message)
    if unmodeled:
        kept["fields"] = unmodeled
    if kept:
        fields["metadata"] = {KEPT: kept}
    return Message(**{key: value for key, value in fields.items() if value is not None})


def to_langchain(message: Message) -> BaseMessage:
    """The LangChain message a chatledger message is: the one it was made from, if it was.

    A message recorded otherwise comes with its role, text and parts, tool calls and name;
    its provider ``extra`` and metadata stay behind.
    """
    stored = message.metadata.get(KEPT)
    kept: dict[str, Any] = stored if isinstance(stored, dict) else {}
    default = _CLASSES[_TYPES[message.role]]
    cls = _CLASSES.get(str(kept.get("type")), default)
    blocks = kept.get("blocks", {})
    strings = kept.get("strings", [])
    unmodeled = kept.get("fields")
    rest: dict[str, Any] = dict(unmodeled) if isinstance(unmodeled, dict) else {}
    fields: dict[str, Any] = {
        "content": _langchain_content(message, blocks, strings),
        "id": message.id,
    }
    if message.name is not None:
        fields["name"] = message.name
    if message.role == "developer" and "additional_kwargs" not in rest:
        fields["additional_kwargs"] = {_OPENAI_ROLE: "developer"}
    if message.tool_calls:
        calls, invalid = _langchain_calls(message.tool_calls)
        fields["tool_calls"] = calls
        if invalid and "invalid_tool_calls" not in rest:
            fields["invalid_tool_calls"] = invalid
    if message.tool_call_id is not None:
        fields["tool_call_id"] = message.tool_call_id
    return cls(**fields, **rest)


def _role_of(message: BaseMessage) -> Role:
    if isinstance(message, HumanMessage):
        return "user"
    if isinstance(message, AIMessage):
        return "assistant"
    if isinstance(message, SystemMessage):
        developer = message.additional_kwargs.get(_OPENAI_ROLE) == "developer"
        return "developer" if developer else "system"
    if isinstance(message, ToolMessage):
        return "tool"
    raise InvalidMessage(
        "type",
        f"a {type(message).__name__} has no chatledger role; record HumanMessage, AIMessage, "
        "SystemMessage or ToolMessage",
    )


def _unmodeled(message: BaseMessage) -> dict[str, Any]:
    """The message's fields no chatledger field holds, where they differ from their defaults."""
    rest: dict[str, Any] = {}
    for name, info in type(message).model_fields.items():
        value = getattr(message, name)
        if name not in _MODELED and value != info.get_default(call_default_factory=True):
            rest[name] = _json_data(value, name)
    for name, value in (message.model_extra or {}).items():
        rest[name] = _json_data(value, name)
    return rest


def _json_data(value: Any, field: str) -> Any:
    """``value``, if it is JSON data that metadata can keep; else raise naming ``field``."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidMessage(
            field, f"must be JSON data to be kept with the message: {exc}"
        ) from None
    return value


# Content


def _ledger_content(
    content: str | list[str | dict[Any, Any]], role: Role, kept: dict[str, Any]
) -> str | list[Part]:
    """Text as text; blocks as parts, those no part models kept in ``kept`` by index."""
    if isinstance(content, str):
        return content
    parts: list[Part] = []
    blocks: dict[str, Any] = {}
    strings: list[int] = []
    for index, block in enumerate(content):
        if isinstance(block, str):
            strings.append(index)
            parts.append(TextPart(text=block))
            continue
        part = _part(block, role)
        if part is None:
            blocks[str(index)] = _json_data(block, f"content.{index}")
        else:
            parts.append(part)
    if blocks:
        kept["blocks"] = blocks
    if strings:
        kept["strings"] = strings
    return parts


def _part(block: dict[Any, Any], role: Role) -> Part | None:
    """The part a content block is, or None when no part holds it (as it came) for ``role``."""
    rest = dict(block)
    build = _BUILDERS.get(rest.pop("type", None))
    if build is None:
        return None
    try:
        part = build(rest)
    except (InvalidMessage, TypeError, ValueError):
        # A block no part can hold as it is (a v0 image, one missing its media type) is kept
        # as it came: a round trip gives it back, and no rendering sends it half-understood.
        return None
    return part if part.type in ROLE_PARTS[role] else None


def _text(rest: dict[str, Any]) -> Part:
    return TextPart(text=rest.pop("text"), extra=rest)


_V1_SOURCES = {"url": "url", "data": "base64", "file_id": "file_id"}
_V0_SOURCES = {"url": "url", "data": "data", "file_id": "id"}
"""Where v1 standard blocks and LangChain's v0 blocks (``source_type``) hold each source."""
_V0_SOURCE_TYPES = {"url": "url", "base64": "data", "id": "file_id"}


def _binary_fields(rest: dict[str, Any]) -> dict[str, Any]:
    """The source of an image, file or audio block: v1's ``url``, ``base64`` or ``file_id``,
    or v0's ``source_type`` (kept in the part's ``extra``, so the block comes back as v0)."""
    if "source_type" in rest:
        source = _V0_SOURCE_TYPES.get(rest["source_type"])
        if source is None:
            raise InvalidMessage("source_type", f"{rest['source_type']!r} is kept as it came")
        names = {source: _V0_SOURCES[source]}
    else:
        names = _V1_SOURCES
    fields = {ours: rest.pop(theirs, None) for ours, theirs in names.items()}
    fields["media_type"] = rest.pop("mime_type", None)
    return {key: value for key, value in fields.items() if value is not None}


def _image(rest: dict[str, Any]) -> Part:
    return ImagePart(**_binary_fields(rest), extra=rest)


def _image_url(rest: dict[str, Any]) -> Part:
    """OpenAI's ``image_url`` block, which LangChain passes through as sent."""
    inner = dict(rest.pop("image_url"))
    source = binary_source(inner.pop("url"))
    detail = inner.pop("detail", None)
    # Its own leftovers stay nested, so the block comes back as an image_url block.
    extra = {**rest, "image_url": inner}
    return ImagePart(**source, detail=detail, extra=extra)


def _file(rest: dict[str, Any]) -> Part:
    fields = _binary_fields(rest)
    if "url" in fields or "data" in fields or "file_id" in fields:
        return FilePart(**fields, extra=rest)
    raise InvalidMessage("file", "needs url, base64 or file_id")


def _plain_text(rest: dict[str, Any]) -> Part:
    if rest.pop("mime_type", None) != "text/plain" or rest.keys() & {"url", "base64", "file_id"}:
        raise InvalidMessage("text-plain", "only its inline text is a part")
    return FilePart(text=rest.pop("text"), media_type="text/plain", extra=rest)


def _audio(rest: dict[str, Any]) -> Part:
    fields = _binary_fields(rest)
    media_type = fields.get("media_type")
    if "data" not in fields or len(fields) != 2 or not str(media_type).startswith("audio/"):
        raise InvalidMessage("audio", "only inline base64 audio with its media type is a part")
    return AudioPart(**fields, format=str(media_type).removeprefix("audio/"), extra=rest)


def _reasoning(rest: dict[str, Any]) -> Part:
    text, id_ = rest.pop("reasoning", None), rest.pop("id", None)
    return ReasoningPart(provider=REASONING_PROVIDER, text=text, id=id_, extra=rest)


def _thinking(rest: dict[str, Any]) -> Part:
    """Anthropic's ``thinking`` block, as LangChain's Anthropic integration keeps it."""
    text, signature = rest.pop("thinking"), rest.pop("signature", None)
    return ReasoningPart(provider="anthropic", text=text, signature=signature, extra=rest)


def _redacted_thinking(rest: dict[str, Any]) -> Part:
    data = rest.pop("data")
    return ReasoningPart(provider="anthropic", redacted=True, data=data, extra=rest)


def _refusal(rest: dict[str, Any]) -> Part:
    return RefusalPart(refusal=rest.pop("refusal"), extra=rest)


_BUILDERS: dict[Any, Callable[[dict[str, Any]], Part]] = {
    "text": _text,
    "image": _image,
    "image_url": _image_url,
    "file": _file,
    "text-plain": _plain_text,
    "audio": _audio,
    "reasoning": _reasoning,
    "thinking": _thinking,
    "redacted_thinking": _redacted_thinking,
    "refusal": _refusal,
}


def _langchain_content(
    message: Message, blocks: Any, strings: Any
) -> str | list[str | dict[str, Any]]:
    """The message's content as LangChain holds it: kept blocks back at their places."""
    if not isinstance(message.content, tuple):
        return message.content or ""
    kept = blocks if isinstance(blocks, dict) else {}
    bare = set(strings) if isinstance(strings, list) else set()
    parts = iter(message.content)
    content: list[str | dict[str, Any]] = []
    for index in range(len(message.content) + len(kept)):
        if str(index) in kept:
            content.append(kept[str(index)])
            continue
        part = next(parts)
        if index in bare and isinstance(part, TextPart):
            content.append(part.text)
        else:
            content.append(merged(_block(part), part.extra))
    return content


def _block(part: Part) -> dict[str, Any]:
    """The LangChain content block of a part, without the part's ``extra``."""
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text}
    if isinstance(part, RefusalPart):
        return {"type": "refusal", "refusal": part.refusal}
    if isinstance(part, ReasoningPart):
        return _reasoning_block(part)
    if isinstance(part, ImagePart) and isinstance(part.extra.get("image_url"), dict):
        return _image_url_block(part)
    if isinstance(part, FilePart) and part.text is not None:
        return {"type": "text-plain", "text": part.text, "mime_type": "text/plain"}
    names = _V0_SOURCES if "source_type" in part.extra else _V1_SOURCES
    block: dict[str, Any] = {"type": part.type}
    if isinstance(part, ImagePart | FilePart) and part.url is not None:
        block[names["url"]] = part.url
    if isinstance(part, ImagePart | FilePart) and part.file_id is not None:
        block[names["file_id"]] = part.file_id
    if part.data is not None:
        block[names["data"]] = part.data
    media_type = part.media_type or (part.attachment.media_type if part.attachment else None)
    if isinstance(part, AudioPart) and media_type is None:
        media_type = f"audio/{part.format}"
    if media_type is not None:
        block["mime_type"] = media_type
    if isinstance(part, ImagePart) and part.detail is not None:
        block["extras"] = {"detail": part.detail}
    return block


def _image_url_block(part: ImagePart) -> dict[str, Any]:
    url = part.url if part.url is not None else f"data:{part.media_type};base64,{part.data}"
    image: dict[str, Any] = {"url": url}
    if part.detail is not None:
        image["detail"] = part.detail
    # The part's extra lays the nested leftovers (the ``{}`` checked here) over ``image``.
    return {"type": "image_url", "image_url": image}


def _reasoning_block(part: ReasoningPart) -> dict[str, Any]:
    if part.provider == "anthropic" and part.redacted:
        return {"type": "redacted_thinking", "data": part.data}
    if part.provider == "anthropic":
        block: dict[str, Any] = {"type": "thinking", "thinking": part.text or ""}
        if part.signature is not None:
            block["signature"] = part.signature
        return block
    block = {"type": "reasoning"}
    text = part.text if part.text is not None else "\n".join(part.summary) or None
    if text is not None:
        block["reasoning"] = text
    if part.id is not None:
        block["id"] = part.id
    return block


# Tool calls


def _ledger_call(call: Any, index: int) -> ToolCall:
    field = f"tool_calls.{index}"
    if call.get("id") is None:
        raise InvalidMessage(f"{field}.id", "is required: a tool result names its call by id")
    try:
        arguments = json.dumps(call.get("args", {}), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidMessage(f"{field}.args", f"must be JSON data: {exc}") from None
    return ToolCall(id=call["id"], name=call["name"], arguments=arguments)


def _langchain_calls(
    calls: tuple[ToolCall, ...],
) -> tuple[list[Any], list[Any]]:
    """LangChain's tool calls, and as invalid calls those whose arguments are no JSON object."""
    valid: list[Any] = []
    invalid: list[Any] = []
    for call in calls:
        try:
            args = json.loads(call.arguments) if call.arguments else {}
        except ValueError:
            args = None
        if isinstance(args, dict):
            valid.append(tool_call(name=call.name, args=args, id=call.id))
        else:
            error = "arguments are not a JSON object"
            invalid.append(
                invalid_tool_call(name=call.name, args=call.arguments, id=call.id, error=error)
            )
    return valid, invalid
