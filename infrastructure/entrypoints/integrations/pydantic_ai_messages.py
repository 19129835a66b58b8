"""pydantic-ai's ModelMessages as chatledger messages and back, losslessly: the conversion alone.

The work is done on pydantic-ai's own JSON form (``ModelMessagesTypeAdapter``), so a field that
pydantic-ai adds later rides along untouched. A ``ModelRequest`` becomes one message per part
that a chatledger role holds: its system prompt parts one system message, each user prompt a
user message, each tool return a tool message answering its call, retry feedback a user
message. A ``ModelResponse`` becomes one assistant message: text, thinking (reasoning parts)
and files (image, file or audio parts) in order, and its tool calls. What no chatledger field
holds (timestamps, usage, model names, provider details, parts chatledger has no role for)
is kept in the message's ``metadata`` under ``"pydantic_ai"``, sealed with the message as its
text is, never in its ``extra`` (that belongs to the provider shape its ``format`` names, and
renderings lay it over their requests). It counts against ``Limits.max_metadata_bytes``: a
response holding a large built-in tool result (a web search's) needs a larger limit. A request
with no part at all (an interrupted one) records nothing.

A message's id is derived from what identifies what it holds, never from what was said (ids
are kept beside erased text, in model call records, where a hash of the text would confirm a
guess of it): a request's part by its kind, timestamp and tool call id, since a run merges
consecutive requests and drops their fields, but keeps their parts; a response by its
timestamp, run id and provider response id. Parts are told apart by their timestamps: parts
built by hand with one and the same timestamp in two requests are one part to the adapter.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chatledger import (
    AudioPart,
    FilePart,
    ImagePart,
    InvalidMessage,
    Message,
    Part,
    ReasoningPart,
    TextPart,
    ToolCall,
)

KEY = "pydantic_ai"
"""The metadata key under which a message keeps its pydantic-ai fields."""
LEDGER_KEY = "chatledger"
"""The key under which a loaded pydantic-ai message whose fields are not as recorded (requests
merged, or a message recorded without this adapter) lists, in its own ``metadata`` (never sent
to the model), the ids of the messages it holds that are recorded already."""
VERSION = 1
"""The layout of what is kept under ``KEY``; a later layout bumps it and reads this one still."""
ID_PREFIX = "pydantic-ai-"

_OPAQUE = "$opaque"
"""A part (or content item) no chatledger part holds, kept whole."""
_JSON = "$json"
"""A residual's content was not text, and the message holds it as JSON text."""
_NO_ARGS = "$no_args"
"""A tool call sent no arguments at all (not even ``{}``)."""
_MAPPED_REQUEST_PARTS = frozenset({"system-prompt", "user-prompt", "tool-return", "retry-feedback"})
_MAPPED_RESPONSE_PARTS = frozenset({"text", "thinking", "tool-call", "file"})
_AUDIO_FORMATS = {"audio/mpeg": "mp3", "audio/x-wav": "wav", "audio/ogg": "oga"}

Data = dict[str, Any]

# pydantic serializes bytes as URL-safe base64; chatledger's parts hold the standard alphabet.
_TO_STANDARD = str.maketrans("-_", "+/")
_TO_URLSAFE = str.maketrans("+/", "-_")


def _standard(data: str) -> str:
    return data.translate(_TO_STANDARD)


@dataclass
class _Member:
    """One chatledger message under construction: its role, content, calls and residuals."""

    role: str
    texts: list[Part] = field(default_factory=list)
    content: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_call_id: str | None = None
    residuals: list[Data] = field(default_factory=list)
    first: Data | None = None
    """The first pydantic-ai part the message holds, which names it (None: a response's)."""


def to_chatledger(messages_json: Sequence[Data]) -> list[Message]:
    """The chatledger messages of pydantic-ai messages in their JSON form, in order.

    Leaves out those a loaded message says are recorded already (``LEDGER_KEY``).
    """
    built: list[Message] = []
    taken: dict[str, Message] = {}
    for data in messages_json:
        recorded, envelope = _unmarked(
            {key: value for key, value in data.items() if key != "parts"}
        )
        for member in _members(data):
            message = _message(member, envelope, taken)
            taken[message.id] = message
            if message.id not in recorded:
                built.append(message)
    return built


def member_ids(data: Data) -> list[str]:
    """The ids ``to_chatledger`` gives the chatledger messages of one pydantic-ai message."""
    _, envelope = _unmarked({key: value for key, value in data.items() if key != "parts"})
    taken: dict[str, Message] = {}
    for member in _members(data):
        message = _message(member, envelope, taken)
        taken[message.id] = message
    return list(taken)


def _members(data: Data) -> list[_Member]:
    if data.get("kind") == "request":
        return _request_members(data["parts"])
    return [_response_member(data["parts"])]


def _unmarked(envelope: Data) -> tuple[frozenset[str], Data]:
    """The ids a loaded message says are recorded, and its envelope without saying so."""
    metadata = envelope.get("metadata")
    if not isinstance(metadata, dict) or not isinstance(metadata.get(LEDGER_KEY), dict):
        return frozenset(), envelope
    recorded = frozenset(metadata[LEDGER_KEY].get("recorded", ()))
    rest = {key: value for key, value in metadata.items() if key != LEDGER_KEY}
    unmarked = {key: value for key, value in envelope.items() if key != "metadata"}
    return recorded, {**unmarked, "metadata": rest} if rest else unmarked


def _identity(envelope: Data, member: _Member) -> Data:
    """What names a message: a request's part (pydantic-ai may merge requests, never a part),
    or a response."""
    part = member.first
    if part is None and member.residuals and _OPAQUE in member.residuals[0]:
        part = member.residuals[0][_OPAQUE]
    if envelope.get("kind") == "request" and part is not None:
        return {"request": [part.get(k) for k in ("part_kind", "timestamp", "tool_call_id")]}
    keys = ("kind", "timestamp", "run_id", "conversation_id", "provider_response_id")
    return {key: envelope.get(key) for key in keys}


def _message(member: _Member, envelope: Data, taken: dict[str, Message]) -> Message:
    identity = _identity(envelope, member)
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode("utf-8")).hexdigest()
    content: str | tuple[Part, ...] | None = member.content
    if len(member.texts) == 1 and isinstance(member.texts[0], TextPart):
        content = member.texts[0].text  # one text is text: as a prompt repeated is compared
    elif member.texts:
        content = tuple(member.texts)
    fields: Data = {
        "role": member.role,
        "content": content,
        "tool_calls": tuple(member.tool_calls),
        "tool_call_id": member.tool_call_id,
        "metadata": {KEY: {"v": VERSION, "message": envelope, "parts": member.residuals}},
    }
    # Ids repeat only for parts built in the same microsecond outside a run; a repeat that says
    # the same is the same message again, one that differs gets the next free id.
    base, suffix = ID_PREFIX + digest[:32], 1
    while True:
        candidate = base if suffix == 1 else f"{base}-{suffix}"
        message = Message(id=candidate, **fields)
        if candidate not in taken or taken[candidate] == message:
            return message
        suffix += 1


def _request_members(parts: Sequence[Data]) -> list[_Member]:
    members: list[_Member] = []
    pending: list[Data] = []
    for part in parts:
        kind = part.get("part_kind")
        if kind not in _MAPPED_REQUEST_PARTS:
            pending.append({_OPAQUE: part})
            continue
        last = members[-1] if members else None
        if kind == "system-prompt" and last is not None and last.role == "system":
            last.residuals += pending
            _system_part(last, part)
            pending = []
            continue
        member = _Member(role="user", first=part)
        member.residuals += pending
        pending = []
        if kind == "system-prompt":
            member.role = "system"
            _system_part(member, part)
        elif kind == "user-prompt":
            _user_part(member, part)
        elif kind == "tool-return":
            member.role = "tool"
            member.tool_call_id = part["tool_call_id"]
            _text_content(member, part)
        else:
            _text_content(member, part)
        members.append(member)
    if pending:
        if members:
            members[-1].residuals += pending
        else:
            members.append(_Member(role="user", residuals=pending))
    return members


def _system_part(member: _Member, part: Data) -> None:
    residual = dict(part)
    member.texts.append(TextPart(text=residual.pop("content")))
    member.residuals.append(residual)


def _text_content(member: _Member, part: Data) -> None:
    """A tool return's or retry feedback's content: its text, or its JSON as text."""
    residual = dict(part)
    content = residual.pop("content", None)
    if isinstance(content, str):
        member.content = content
    else:
        member.content = json.dumps(content, ensure_ascii=False, sort_keys=True)
        residual[_JSON] = True
    member.residuals.append(residual)


def _user_part(member: _Member, part: Data) -> None:
    residual = dict(part)
    content = residual.pop("content")
    if isinstance(content, str):
        member.content = content
    else:
        items: list[Data | None] = []
        for item in content:
            if isinstance(item, str):
                member.texts.append(TextPart(text=item))
                items.append(None)
                continue
            mapped = _content_part(item)
            if mapped is None:
                items.append({_OPAQUE: item})
            else:
                member.texts.append(mapped[0])
                items.append(mapped[1])
        residual["content"] = items
    member.residuals.append(residual)


def _content_part(item: Data) -> tuple[Part, Data] | None:
    """A user content item (or a response file's content) as a part, and what is left of it."""
    kind = item.get("kind")
    rest = dict(item)
    if kind == "text-content":
        return TextPart(text=rest.pop("content")), rest
    if kind == "image-url":
        return ImagePart(url=rest.pop("url")), rest
    if kind in ("document-url", "audio-url", "video-url"):
        return FilePart(url=rest.pop("url")), rest
    if kind == "uploaded-file":
        return FilePart(file_id=rest.pop("file_id")), rest
    if kind == "binary":
        data, media_type = _standard(rest.pop("data")), str(item.get("media_type") or "")
        if media_type.startswith("image/"):
            try:
                return ImagePart(data=data, media_type=media_type), rest
            except InvalidMessage:
                return _file(data, media_type), rest
        if media_type.startswith("audio/"):
            audio = _AUDIO_FORMATS.get(media_type, media_type.partition("/")[2] or "wav")
            return AudioPart(data=data, format=audio), rest
        return _file(data, media_type), rest
    return None


def _file(data: str, media_type: str) -> FilePart:
    """A file of base64 data, with its media type when chatledger takes it as one."""
    try:
        return FilePart(data=data, media_type=media_type)
    except InvalidMessage:  # "text/plain; charset=utf-8": the residual keeps it as it was
        return FilePart(data=data)


def _response_member(parts: Sequence[Data]) -> _Member:
    member = _Member(role="assistant")
    for part in parts:
        kind = part.get("part_kind")
        residual = dict(part)
        if kind not in _MAPPED_RESPONSE_PARTS:
            member.residuals.append({_OPAQUE: part})
            continue
        if kind == "text":
            member.texts.append(TextPart(text=residual.pop("content")))
        elif kind == "thinking":
            member.texts.append(_reasoning(residual))
        elif kind == "tool-call":
            member.tool_calls.append(_call(residual))
        else:
            mapped = _content_part(residual.pop("content"))
            if mapped is None:
                member.residuals.append({_OPAQUE: part})
                continue
            member.texts.append(mapped[0])
            residual["content"] = mapped[1]
        member.residuals.append(residual)
    return member


def _reasoning(residual: Data) -> ReasoningPart:
    """Thinking as a reasoning part, as its provider sends it back: signed, encrypted, redacted."""
    provider = residual.get("provider_name") or "unknown"
    if (
        provider == "anthropic"
        and residual.get("id") == "redacted_thinking"
        and residual.get("signature")
    ):
        # pydantic-ai keeps a redacted block's opaque data as its signature.
        return ReasoningPart(provider=provider, redacted=True, data=residual.pop("signature"))
    text = residual.pop("content")
    signature, ident = residual.pop("signature", None), residual.pop("id", None)
    if provider == "openai":
        # The Responses reasoning item: its id, and its encrypted content as the signature.
        return ReasoningPart(provider=provider, id=ident, text=text, encrypted_content=signature)
    return ReasoningPart(provider=provider, id=ident, text=text, signature=signature)


def _call(residual: Data) -> ToolCall:
    args = residual.pop("args", None)
    if args is None:
        residual[_NO_ARGS] = True
        args = ""
    elif not isinstance(args, str):
        residual[_JSON] = True
        args = json.dumps(args, ensure_ascii=False, sort_keys=True)
    return ToolCall(id=residual.pop("tool_call_id"), name=residual.pop("tool_name"), arguments=args)


# Back: chatledger messages (a memory view's) as pydantic-ai messages in their JSON form.


@dataclass
class _Grouping:
    """Consecutive messages of one pydantic-ai message: its envelope and its parts so far."""

    envelope: Data
    parts: list[Data]
    ours: bool


def to_pydantic_ai(
    messages: Sequence[Message], times: Sequence[datetime | None]
) -> list[tuple[Data, bool]]:
    """The pydantic-ai messages, in JSON form, of chatledger messages in memory order.

    Consecutive messages of one ``ModelRequest`` come back as that request (those the view
    left out, left out of it). A message recorded without this adapter (or a view's summary)
    comes back as a message of its own, mapped by its role and dated by ``times`` (each
    message's recording time). Each comes with whether it is one this adapter recorded.
    """
    groups: list[_Grouping] = []
    names: dict[str, str] = {}  # tool call id -> tool name, for results recorded without us
    for message, at in zip(messages, times, strict=True):
        for call in message.tool_calls:
            names[call.id] = call.name
        kept: Any = message.metadata.get(KEY)
        if isinstance(kept, dict) and kept.get("v") == VERSION:
            envelope, parts, ours = kept["message"], _parts_back(message, kept["parts"]), True
        else:
            envelope, parts, ours = _plain(message, at, names)
        last = groups[-1] if groups else None
        if (
            ours
            and last is not None
            and last.ours
            and envelope.get("kind") == "request"
            and last.envelope == envelope
        ):
            last.parts += parts
        else:
            groups.append(_Grouping(envelope, parts, ours))
    return [({**group.envelope, "parts": group.parts}, group.ours) for group in groups]


def _parts_back(message: Message, residuals: Sequence[Data]) -> list[Data]:
    parts: Iterator[Part] = iter(message.parts)
    calls: Iterator[ToolCall] = iter(message.tool_calls)
    out: list[Data] = []
    for residual in residuals:
        if _OPAQUE in residual:
            out.append(residual[_OPAQUE])
            continue
        part = dict(residual)
        kind = part.get("part_kind")
        if kind in ("system-prompt", "text"):
            part["content"] = _text_of(next(parts))
        elif kind == "user-prompt":
            if "content" not in part:
                part["content"] = message.content
            else:
                part["content"] = [_item_back(item, parts) for item in part["content"]]
        elif kind in ("tool-return", "retry-feedback"):
            text = message.content if isinstance(message.content, str) else message.text
            part["content"] = json.loads(text or "null") if part.pop(_JSON, False) else text
        elif kind == "thinking":
            _thinking_back(part, next(parts))
        elif kind == "tool-call":
            call = next(calls)
            part["tool_call_id"], part["tool_name"] = call.id, call.name
            if not part.pop(_NO_ARGS, False):
                as_json = part.pop(_JSON, False)
                part["args"] = json.loads(call.arguments) if as_json else call.arguments
        elif kind == "file":
            part["content"] = _binary_back(part["content"], next(parts))
        out.append(part)
    return out


def _text_of(part: Part) -> str:
    assert isinstance(part, TextPart)  # what the conversion put there
    return part.text


def _item_back(item: Data | None, parts: Iterator[Part]) -> Any:
    if item is None:
        return _text_of(next(parts))
    if _OPAQUE in item:
        return item[_OPAQUE]
    return _binary_back(item, next(parts))


def _binary_back(item: Data, part: Part) -> Data:
    restored = dict(item)
    kind = item.get("kind")
    if kind == "text-content":
        restored["content"] = _text_of(part)
    elif kind == "uploaded-file":
        assert isinstance(part, FilePart)
        restored["file_id"] = part.file_id
    elif kind == "binary":
        assert isinstance(part, ImagePart | FilePart | AudioPart)
        assert part.data is not None  # a memory view's attachments are read back inline
        restored["data"] = part.data.translate(_TO_URLSAFE)
    else:
        assert isinstance(part, ImagePart | FilePart)
        restored["url"] = part.url
    return restored


def _thinking_back(part: Data, reasoning: Part) -> None:
    assert isinstance(reasoning, ReasoningPart)
    if reasoning.redacted:
        part["signature"] = reasoning.data
        return
    part["content"] = reasoning.text
    openai = reasoning.provider == "openai"
    kept = {
        "id": reasoning.id,
        "signature": reasoning.encrypted_content if openai else reasoning.signature,
    }
    part.update({key: value for key, value in kept.items() if value is not None})


def _plain(
    message: Message, at: datetime | None, names: dict[str, str]
) -> tuple[Data, list[Data], bool]:
    """A message recorded without this adapter, in pydantic-ai's terms."""
    when = at.isoformat() if at is not None else None
    stamp = {"timestamp": when} if when is not None else {}
    if message.role == "assistant":
        parts: list[Data] = []
        for part in message.parts:
            if isinstance(part, ReasoningPart):
                parts.append({"part_kind": "thinking", "content": part.text_of()})
            elif part.text_of() or isinstance(part, TextPart):
                parts.append({"part_kind": "text", "content": part.text_of()})
        for call in message.tool_calls:
            parts.append(
                {
                    "part_kind": "tool-call",
                    "tool_name": call.name,
                    "args": call.arguments,
                    "tool_call_id": call.id,
                }
            )
        return {"kind": "response", **stamp}, parts, False
    request: Data
    if message.is_instruction:
        request = {"part_kind": "system-prompt", "content": message.text or "", **stamp}
    elif message.role == "tool":
        assert message.tool_call_id is not None  # every tool message answers a call
        request = {
            "part_kind": "tool-return",
            "tool_name": names.get(message.tool_call_id, "unknown"),
            "tool_call_id": message.tool_call_id,
            "content": message.text or "",
            **stamp,
        }
    else:
        request = {"part_kind": "user-prompt", "content": _plain_user(message), **stamp}
    return {"kind": "request", **stamp}, [request], False


def _plain_user(message: Message) -> Any:
    if not isinstance(message.content, tuple):
        return message.content or ""
    items: list[Any] = []
    for part in message.content:
        if isinstance(part, ImagePart) and part.url is not None:
            items.append({"kind": "image-url", "url": part.url})
        elif isinstance(part, ImagePart | FilePart | AudioPart) and part.data is not None:
            media = part.media_type or (
                f"audio/{part.format}" if isinstance(part, AudioPart) else None
            )
            items.append({"kind": "binary", "data": part.data, "media_type": media})
        elif isinstance(part, FilePart) and part.url is not None:
            items.append({"kind": "document-url", "url": part.url})
        elif part.text_of():
            items.append(part.text_of())
    return items
