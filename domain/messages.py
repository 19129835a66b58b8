"""Messages and tool calls: what was said, as frozen, validated pydantic models.

A message's ``content`` is text (every message before content parts, and most since) or a
tuple of parts (``chatledger.domain.parts``). Fields added with parts are left out of a
message's stored and digested form while they hold their defaults, so a message of plain text
keeps the digest it had before them and old hash chains still verify.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, ClassVar, Literal

from pydantic import Field, JsonValue

from chatledger.domain.errors import InvalidConversationId, InvalidInput, InvalidMessage
from chatledger.domain.limits import Limits
from chatledger.domain.parts import (
    ROLE_PARTS,
    Extra,
    Part,
    ReasoningPart,
    TextPart,
    compact,
    decoded_size,
)
from chatledger.domain.validation import (
    Frozen,
    Identifier,
    Text,
    check_json_numbers,
    check_json_text,
    check_text_value,
    check_texts,
    json_depth,
    new_id,
    utf8_size,
)

Role = Literal["system", "developer", "user", "assistant", "tool"]

INSTRUCTION_ROLES = frozenset({"system", "developer"})
"""Roles that fill the instruction slot: one current instruction message, replaced by a new one."""

Format = Literal["openai", "responses", "anthropic"]
"""The provider shapes a message is imported from: OpenAI Chat Completions, OpenAI Responses
items, Anthropic Messages."""

DEFAULT_MAX_CONTENT_BYTES = 1024 * 1024

_CONVERSATION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,199}")


def _check_extra(extra: Extra, field: str) -> None:
    try:
        check_json_text(extra)
    except ValueError as exc:
        raise InvalidMessage(field, str(exc)) from None
    check_json_numbers(extra, field)


class ToolCall(Frozen):
    """One function call requested by the model; ``arguments`` is its raw JSON text, verbatim."""

    _noun: ClassVar[str] = "tool call"

    id: Identifier
    """The call id results answer: Chat Completions' ``id``, Responses' ``call_id``,
    Anthropic's ``tool_use`` id."""
    name: Identifier
    arguments: Text = ""
    item_id: Identifier | None = None
    """The Responses ``function_call`` item's own ``id`` (``fc_...``), when it had one."""
    extra: Extra = Field(default_factory=dict)
    """The provider's fields of the call that no field here holds."""

    def _check_rules(self) -> None:
        check_texts(
            {"id": self.id, "name": self.name, "arguments": self.arguments, "item_id": self.item_id}
        )
        if self.extra:
            _check_extra(self.extra, "extra")

    def stored_form(self) -> dict[str, Any]:
        """The call as stored and digested: ``item_id`` and ``extra`` only when set."""
        data: dict[str, Any] = {"id": self.id, "name": self.name, "arguments": self.arguments}
        if self.item_id is not None:
            data["item_id"] = self.item_id
        if self.extra:
            data["extra"] = self.extra
        return data


class Message(Frozen):
    """One message exchanged with an LLM.

    Construction validates everything and raises :class:`InvalidMessage` naming the field.
    """

    id: Identifier = Field(default_factory=new_id)
    role: Role
    content: Text | tuple[Part, ...] | None = None
    """Text, or parts (images, files, audio, refusals, reasoning) in the order they came."""
    name: Identifier | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: Identifier | None = None
    metadata: dict[str, JsonValue] = Field(default_factory=dict)
    format: Format | None = None
    """The provider shape the message was imported from: ``extra`` holds that shape's fields."""
    extra: Extra = Field(default_factory=dict)
    """The provider's message fields that no field here holds, kept for its renderings."""

    @classmethod
    def parse(cls, data: Any) -> Message:
        """Build a message from untrusted JSON-like data (a dict), or raise InvalidMessage."""
        if not isinstance(data, dict):
            raise InvalidMessage("message", f"must be a JSON object, got {type(data).__name__}")
        return cls(**data)

    @property
    def parts(self) -> tuple[Part, ...]:
        """The content as parts: text content is one text part, none is no part."""
        if isinstance(self.content, tuple):
            return self.content
        if self.content is None:
            return ()
        return (TextPart(text=self.content),)

    @property
    def text(self) -> str | None:
        """The message's text: the content, or its text parts joined by newlines."""
        if not isinstance(self.content, tuple):
            return self.content
        texts = [part.text for part in self.content if part.type == "text"]
        return "\n".join(texts) if texts else None

    def text_form(self) -> str | None:
        """The content as one text: itself when text, else its canonical JSON."""
        if not isinstance(self.content, tuple):
            return self.content
        return json.dumps(
            [compact(part) for part in self.content],
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )

    @property
    def reasoning(self) -> tuple[ReasoningPart, ...]:
        """The reasoning parts, in order."""
        return tuple(part for part in self.parts if isinstance(part, ReasoningPart))

    @property
    def is_instruction(self) -> bool:
        """Whether the message fills the instruction slot (a system or developer message)."""
        return self.role in INSTRUCTION_ROLES

    def _check_rules(self) -> None:
        check_texts(
            {
                "id": self.id,
                "content": self.content if isinstance(self.content, str) else None,
                "name": self.name,
                "tool_call_id": self.tool_call_id,
            }
        )
        if isinstance(self.content, tuple):
            allowed = ROLE_PARTS[self.role]
            for index, part in enumerate(self.content):
                if part.type not in allowed:
                    raise InvalidMessage(
                        f"content.{index}.type",
                        f"{self.role} messages hold {', '.join(sorted(allowed))} parts, "
                        f"not {part.type}",
                    )
        if self.extra:
            _check_extra(self.extra, "extra")
        if self.extra and self.format is None:
            raise InvalidMessage("extra", "needs the format its fields belong to")
        if self.tool_calls and self.role != "assistant":
            raise InvalidMessage(
                "tool_calls", f"only assistant messages carry tool calls, not {self.role}"
            )
        ids = {call.id for call in self.tool_calls}
        if len(ids) != len(self.tool_calls):
            raise InvalidMessage("tool_calls", "tool call ids must be unique within a message")
        if self.role == "tool" and self.tool_call_id is None:
            raise InvalidMessage("tool_call_id", "is required on tool messages")
        if self.role != "tool" and self.tool_call_id is not None:
            raise InvalidMessage(
                "tool_call_id", f"is only allowed on tool messages, not {self.role}"
            )
        if self.metadata:
            _check_extra(self.metadata, "metadata")

    def stored_form(self) -> dict[str, Any]:
        """The message as JSON data, as stored and digested.

        Every field a message of plain text had before content parts, always; those added
        since, only when they differ from their defaults; parts with their type and the fields
        they set. A message of plain text thus has the form (and digest) it always had.
        """
        data = self.model_dump(mode="json", exclude={"content", "format", "extra", "tool_calls"})
        content = self.content
        data["content"] = (
            [compact(part) for part in content] if isinstance(content, tuple) else content
        )
        data["tool_calls"] = [call.stored_form() for call in self.tool_calls]
        if self.format is not None:
            data["format"] = self.format
        if self.extra:
            data["extra"] = self.extra
        return data

    def canonical_json(self) -> bytes:
        """The message as canonical JSON (sorted keys, no spaces, UTF-8): what digests cover."""
        canonical = json.dumps(
            self.stored_form(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        return canonical.encode("utf-8")

    def digest(self) -> str:
        """A sha256 of the message's canonical JSON: equal messages, equal digests."""
        return hashlib.sha256(self.canonical_json()).hexdigest()

    def check_limits(self, limits: Limits) -> int:
        """Raise InvalidMessage naming the limit and the field a part of the message is over.

        Returns the bytes the message's content, tool arguments and metadata hold, which a
        batch's own limit adds up.
        """
        self.check_size(limits.max_content_bytes)
        size = self._content_bytes(limits)
        if len(self.tool_calls) > limits.max_tool_calls:
            raise InvalidMessage(
                "tool_calls",
                f"holds {len(self.tool_calls)} tool calls, over the limit max_tool_calls "
                f"of {limits.max_tool_calls}",
            )
        for index, call in enumerate(self.tool_calls):
            arguments = utf8_size(call.arguments)
            if arguments > limits.max_arguments_bytes:
                raise InvalidMessage(
                    f"tool_calls.{index}.arguments",
                    f"is {arguments} bytes, over the limit max_arguments_bytes of "
                    f"{limits.max_arguments_bytes} bytes",
                )
            size += arguments
        if self.metadata:
            depth = json_depth(self.metadata)
            if depth > limits.max_metadata_depth:
                raise InvalidMessage(
                    "metadata",
                    f"is nested {depth} levels deep, over the limit max_metadata_depth of "
                    f"{limits.max_metadata_depth}",
                )
            metadata = len(json.dumps(self.metadata, ensure_ascii=False).encode("utf-8"))
            if metadata > limits.max_metadata_bytes:
                raise InvalidMessage(
                    "metadata",
                    f"is {metadata} bytes as JSON, over the limit max_metadata_bytes of "
                    f"{limits.max_metadata_bytes} bytes",
                )
            size += metadata
        return size

    def _content_bytes(self, limits: Limits) -> int:
        """The content's bytes; a part's binary data, inline or attached, must be within
        max_attachment_bytes."""
        if not isinstance(self.content, tuple):
            return utf8_size(self.content)
        size = 0
        for index, part in enumerate(self.content):
            data = getattr(part, "data", None)
            attachment = getattr(part, "attachment", None)
            binary, field = None, "data"
            if isinstance(data, str):
                binary = decoded_size(data)
            elif attachment is not None:
                binary, field = attachment.size, "attachment"
            if binary is not None and binary > limits.max_attachment_bytes:
                raise InvalidMessage(
                    f"content.{index}.{field}",
                    f"holds {binary} bytes, over the limit max_attachment_bytes "
                    f"of {limits.max_attachment_bytes} bytes",
                )
            size += len(json.dumps(compact(part), ensure_ascii=False).encode("utf-8"))
        return size

    def check_size(self, max_content_bytes: int) -> None:
        """Raise InvalidMessage when the text is larger than ``max_content_bytes`` (UTF-8).

        Parts count their text; base64 data has its own limit (``Limits.max_attachment_bytes``).
        """
        if isinstance(self.content, tuple):
            texts = [part.text_of() for part in self.content]
            size = sum(utf8_size(text) for text in texts)
            if size > max_content_bytes:
                raise InvalidMessage(
                    "content",
                    f"holds {size} bytes of text, over the limit max_content_bytes of "
                    f"{max_content_bytes} bytes",
                )
            return
        if self.content is None:
            return
        # A str holds at most 4 bytes of UTF-8 a character: skip encoding when it cannot be over.
        if len(self.content) * 4 <= max_content_bytes:
            return
        size = len(self.content.encode("utf-8"))
        if size > max_content_bytes:
            raise InvalidMessage(
                "content",
                f"is {size} bytes, over the limit max_content_bytes of {max_content_bytes} bytes",
            )


def check_conversation_id(conversation_id: object) -> str:
    """Return the id if it is a valid conversation id, else raise InvalidConversationId."""
    if not isinstance(conversation_id, str):
        raise InvalidConversationId(f"must be a string, got {type(conversation_id).__name__}")
    if _CONVERSATION_ID.fullmatch(conversation_id) is None:
        raise InvalidConversationId(
            "must be 1-200 characters of letters, digits and . _ : @ -, starting with a letter "
            f"or digit; got {conversation_id[:60]!r}"
        )
    return conversation_id


def check_text(field: str, value: object, *, max_length: int | None = None) -> str:
    """Return ``value`` if it is text every store keeps (no NUL, no lone surrogate), else raise.

    Raises InvalidInput naming ``field``: such text can never be stored, so no retry helps.
    """
    if not isinstance(value, str):
        raise InvalidInput(field, f"must be a string, got {type(value).__name__}")
    if max_length is not None and len(value) > max_length:
        raise InvalidInput(field, f"must be at most {max_length} characters, got {len(value)}")
    try:
        return check_text_value(value)
    except ValueError as exc:
        raise InvalidInput(field, str(exc)) from None
