"""Messages and tool calls: what was said, as frozen, validated pydantic models."""

from __future__ import annotations

import hashlib
import json
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
    ValidationInfo,
    field_validator,
)

from domain.errors import InvalidConversationId, InvalidMessage

Role = Literal["system", "user", "assistant", "tool"]

MAX_ID_LENGTH = 200
MAX_METADATA_BYTES = 16 * 1024
DEFAULT_MAX_CONTENT_BYTES = 1024 * 1024

_CONVERSATION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,199}")

AUTHENTICATED = "authenticated"
"""Validation context key: set by a store reading back a message it sealed itself.

A message that opens under its conversation's key (AES-GCM authenticates it) was checked in
full when it was recorded, so the per-character checks written in Python are not repeated on
every read; the types and the shape are still validated.
"""


def _authenticated(info: ValidationInfo) -> bool:
    context = info.context
    return isinstance(context, dict) and context.get(AUTHENTICATED) is True


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


# Checked inside pydantic-core, with no Python call per field: a text holds no NUL (no
# database or provider carries one faithfully); lone surrogates already fail as invalid
# unicode. The messages users see are written by _invalid below.
_NO_NUL = r"^[^\x00]*$"
Text = Annotated[StrictStr, StringConstraints(pattern=_NO_NUL)]
Identifier = Annotated[
    StrictStr, StringConstraints(min_length=1, max_length=MAX_ID_LENGTH, pattern=_NO_NUL)
]


def _new_id() -> str:
    return uuid4().hex


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise _invalid(exc) from None

    # Only direct construction needs the translation above. Marked as pydantic's own
    # __init__, it is not called when a message is validated inside another model: that
    # keeps the validation context (see AUTHENTICATED) and saves a Python call a message.
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]  # pydantic's marker


class ToolCall(_Frozen):
    """One function call requested by the model; ``arguments`` is its raw JSON text, verbatim."""

    id: Identifier
    name: Identifier
    arguments: Text = ""


class Message(_Frozen):
    """One message exchanged with an LLM.

    Construction validates everything and raises :class:`InvalidMessage` naming the field.
    """

    id: Identifier = Field(default_factory=_new_id)
    role: Role
    content: Text | None = None
    name: Identifier | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: Identifier | None = Field(default=None, validate_default=True)
    metadata: dict[str, JsonValue] = Field(default_factory=dict)

    @classmethod
    def parse(cls, data: Any) -> Message:
        """Build a message from untrusted JSON-like data (a dict), or raise InvalidMessage."""
        if not isinstance(data, dict):
            raise InvalidMessage("message", f"must be a JSON object, got {type(data).__name__}")
        return cls(**data)

    @field_validator("tool_calls")
    @classmethod
    def _only_assistants_call_tools(
        cls, value: tuple[ToolCall, ...], info: ValidationInfo
    ) -> tuple[ToolCall, ...]:
        if _authenticated(info):
            return value
        if value and info.data.get("role") != "assistant":
            raise ValueError(
                f"only assistant messages carry tool calls, not {info.data.get('role')}"
            )
        ids = [call.id for call in value]
        if len(set(ids)) != len(ids):
            raise ValueError("tool call ids must be unique within a message")
        return value

    @field_validator("tool_call_id")
    @classmethod
    def _tool_results_name_their_call(cls, value: str | None, info: ValidationInfo) -> str | None:
        if _authenticated(info):
            return value
        role = info.data.get("role")
        if role == "tool" and value is None:
            raise ValueError("is required on tool messages")
        if role is not None and role != "tool" and value is not None:
            raise ValueError(f"is only allowed on tool messages, not {role}")
        return value

    @field_validator("metadata")
    @classmethod
    def _metadata_is_small_json(
        cls, value: dict[str, JsonValue], info: ValidationInfo
    ) -> dict[str, JsonValue]:
        if _authenticated(info):
            return value
        _check_json_text(value)
        size = len(json.dumps(value, ensure_ascii=False).encode("utf-8"))
        if size > MAX_METADATA_BYTES:
            raise ValueError(f"must be at most {MAX_METADATA_BYTES} bytes as JSON, got {size}")
        return value

    def digest(self) -> str:
        """A sha256 of the message's canonical JSON: equal messages, equal digests."""
        canonical = json.dumps(
            self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

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
                "content", f"is {size} bytes, over the limit of {max_content_bytes} bytes"
            )


_TEXT_PROBLEMS = {
    "string_pattern_mismatch": "contains a NUL character",
    "string_unicode": "contains a lone surrogate (text must be valid Unicode)",
    "string_too_short": "must not be empty",
}


def _invalid(exc: ValidationError) -> InvalidMessage:
    error = exc.errors(include_url=False)[0]
    field = ".".join(str(part) for part in error["loc"]) or "message"
    cause = (error.get("ctx") or {}).get("error")
    problem = str(cause) if isinstance(cause, ValueError) else error["msg"]
    problem = _TEXT_PROBLEMS.get(error["type"], problem)
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
