"""Messages and tool calls: what was said, as frozen, validated pydantic models."""

from __future__ import annotations

import hashlib
import json
import math
import re
from typing import Annotated, Any, Literal
from uuid import uuid4

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StrictStr,
    StringConstraints,
    ValidationError,
)

from chatledger.domain.errors import InvalidConversationId, InvalidInput, InvalidMessage
from chatledger.domain.limits import Limits, field_path

Role = Literal["system", "user", "assistant", "tool"]

MAX_ID_LENGTH = 200
DEFAULT_MAX_CONTENT_BYTES = 1024 * 1024

_CONVERSATION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,199}")


def _check_text(value: str) -> str:
    """Reject text that no database or provider will carry faithfully."""
    if "\x00" in value:
        raise ValueError("contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"contains a lone surrogate at index {exc.start}") from None
    return value


def _check_json_text(value: JsonValue) -> None:
    if isinstance(value, str):
        _check_text(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key)
            _check_json_text(item)
    elif isinstance(value, list):
        for item in value:
            _check_json_text(item)


# A text's own checks (_check_text) run with each model's rules below. The messages users see
# are written by _invalid below.
Text = StrictStr
Identifier = Annotated[StrictStr, StringConstraints(min_length=1, max_length=MAX_ID_LENGTH)]


def _check_texts(texts: dict[str, str | None]) -> None:
    for field, text in texts.items():
        if text is not None:
            try:
                _check_text(text)
            except ValueError as exc:
                raise InvalidMessage(field, str(exc)) from None


def _new_id() -> str:
    return uuid4().hex


class _Frozen(BaseModel):
    """A frozen, strict model whose rules run whenever it is built from a dict or JSON object.

    The rules run in ``__init__``, and pydantic calls an overridden ``__init__`` to build a
    model from a dict or a JSON object: directly, by ``model_validate``, or inside another
    model. A model passed in already built is taken as built: it was checked when it was
    built. Whatever builds one without its ``__init__`` (``model_construct``, a store reading
    back what it sealed) skips the rules.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise _invalid(exc) from None
        self._check_rules()

    def _check_rules(self) -> None:
        """Raise InvalidMessage, naming the field, for a rule the field types do not state."""


class ToolCall(_Frozen):
    """One function call requested by the model; ``arguments`` is its raw JSON text, verbatim."""

    id: Identifier
    name: Identifier
    arguments: Text = ""

    def _check_rules(self) -> None:
        _check_texts({"id": self.id, "name": self.name, "arguments": self.arguments})


class Message(_Frozen):
    """One message exchanged with an LLM.

    Construction validates everything and raises :class:`InvalidMessage` naming the field.
    """

    id: Identifier = Field(default_factory=_new_id)
    role: Role
    content: Text | None = None
    name: Identifier | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: Identifier | None = None
    metadata: dict[str, JsonValue] = Field(default_factory=dict)

    @classmethod
    def parse(cls, data: Any) -> Message:
        """Build a message from untrusted JSON-like data (a dict), or raise InvalidMessage."""
        if not isinstance(data, dict):
            raise InvalidMessage("message", f"must be a JSON object, got {type(data).__name__}")
        return cls(**data)

    def _check_rules(self) -> None:
        _check_texts(
            {
                "id": self.id,
                "content": self.content,
                "name": self.name,
                "tool_call_id": self.tool_call_id,
            }
        )
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
            try:
                _check_json_text(self.metadata)
            except ValueError as exc:
                raise InvalidMessage("metadata", str(exc)) from None
            _check_json_numbers(self.metadata, "metadata")

    def canonical_json(self) -> bytes:
        """The message as canonical JSON (sorted keys, no spaces, UTF-8): what digests cover."""
        canonical = json.dumps(
            self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
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
        size = _utf8_size(self.content)
        if len(self.tool_calls) > limits.max_tool_calls:
            raise InvalidMessage(
                "tool_calls",
                f"holds {len(self.tool_calls)} tool calls, over the limit max_tool_calls "
                f"of {limits.max_tool_calls}",
            )
        for index, call in enumerate(self.tool_calls):
            arguments = _utf8_size(call.arguments)
            if arguments > limits.max_arguments_bytes:
                raise InvalidMessage(
                    f"tool_calls.{index}.arguments",
                    f"is {arguments} bytes, over the limit max_arguments_bytes of "
                    f"{limits.max_arguments_bytes} bytes",
                )
            size += arguments
        if self.metadata:
            depth = _json_depth(self.metadata)
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

    def check_size(self, max_content_bytes: int) -> None:
        """Raise InvalidMessage when the content is larger than ``max_content_bytes`` (UTF-8)."""
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


def _invalid(exc: ValidationError) -> InvalidMessage:
    error = exc.errors(include_url=False)[0]
    location = [str(part) for part in error["loc"]]
    cause = (error.get("ctx") or {}).get("error")
    problem = str(cause) if isinstance(cause, ValueError) else error["msg"]
    if isinstance(cause, InvalidMessage):
        location.append(cause.field)
        problem = cause.problem
    field = field_path(location) or "message"
    if error["type"] == "string_too_short":
        problem = "must not be empty"
    if error["type"] == "string_unicode" and isinstance(error["input"], str):
        try:
            _check_text(error["input"])  # the same words as a surrogate found by our own checks
        except ValueError as text_error:
            problem = str(text_error)
    if error["type"] == "string_too_long":
        problem = f"must be at most {MAX_ID_LENGTH} characters, got {len(error['input'])}"
    if error["type"] == "literal_error" and field == "role":
        problem = f"must be one of system, user, assistant, tool; got {error['input']!r}"
    elif error["type"] == "extra_forbidden":
        problem = "is not a message field"
    return InvalidMessage(field, problem)


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
        return _check_text(value)
    except ValueError as exc:
        raise InvalidInput(field, str(exc)) from None


def _utf8_size(text: str | None) -> int:
    return 0 if text is None else len(text.encode("utf-8"))


def _check_json_numbers(value: JsonValue, field: str) -> None:
    """Raise InvalidMessage naming the path of a NaN or an infinity: JSON has no such number."""
    pending: list[tuple[JsonValue, tuple[object, ...]]] = [(value, (field,))]
    while pending:
        item, path = pending.pop()
        if isinstance(item, float) and not math.isfinite(item):
            raise InvalidMessage(
                field_path(path), f"must be a finite number, got {item!r}: JSON has no {item!r}"
            )
        if isinstance(item, dict):
            pending += [(child, (*path, key)) for key, child in item.items()]
        elif isinstance(item, list):
            pending += [(child, (*path, index)) for index, child in enumerate(item)]


def _json_depth(value: JsonValue) -> int:
    """Levels of objects and arrays in ``value``: 1 for a flat object."""
    deepest = 0
    pending: list[tuple[JsonValue, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            deepest = max(deepest, depth)
            pending += [(child, depth + 1) for child in item.values()]
        elif isinstance(item, list):
            deepest = max(deepest, depth)
            pending += [(child, depth + 1) for child in item]
    return deepest
