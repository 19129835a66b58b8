"""Limits: how large and how deep what is recorded may be, and the bounds on integer inputs."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chatledger.domain.errors import InvalidInput

MAX_POSITION = 2**53
"""The largest position, count or budget taken: every JSON reader holds it exactly, and every
database integer column (SQLite's and PostgreSQL's 64-bit ones) holds it with room to add."""

MAX_FIELD_PATH_PARTS = 8
"""The parts of a field path an error shows; a deeper one is cut, saying how deep it went."""

_KIB = 1024


class Limits(BaseModel):
    """How much one message, and one batch recorded together, may hold; checked at record time.

    Each limit is named in the error that a message over it gets, with the field it is in.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_content_bytes: int = Field(default=1024 * _KIB, ge=1, le=MAX_POSITION)
    """A message's ``content``, as UTF-8."""
    max_arguments_bytes: int = Field(default=256 * _KIB, ge=1, le=MAX_POSITION)
    """One tool call's ``arguments``, as UTF-8."""
    max_tool_calls: int = Field(default=128, ge=1, le=MAX_POSITION)
    """Tool calls on one message."""
    max_metadata_bytes: int = Field(default=16 * _KIB, ge=1, le=MAX_POSITION)
    """A message's ``metadata`` as compact UTF-8 JSON."""
    max_metadata_depth: int = Field(default=32, ge=1, le=MAX_POSITION)
    """Levels of objects and arrays in ``metadata``, the metadata object itself the first."""
    max_attachment_bytes: int = Field(default=20 * 1024 * _KIB, ge=1, le=MAX_POSITION)
    """One part's binary data (an image, a file, audio), decoded."""
    attachment_threshold_bytes: int = Field(default=32 * _KIB, ge=0, le=MAX_POSITION)
    """Binary data over this size is stored apart, once a conversation, not in the event."""
    max_batch_messages: int = Field(default=100_000, ge=1, le=MAX_POSITION)
    """Messages recorded in one call (one atomic save)."""
    max_batch_bytes: int = Field(default=256 * 1024 * _KIB, ge=1, le=MAX_POSITION)
    """The content, tool arguments and metadata of one call's messages together, in bytes."""

    def __init__(self, **data: object) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            error = exc.errors(include_url=False)[0]
            field = field_path(error["loc"]) or "limits"
            raise InvalidInput(field, error["msg"].lower()) from None


def field_path(parts: Sequence[object]) -> str:
    """A dotted field path, cut after MAX_FIELD_PATH_PARTS parts so an error stays short."""
    shown = ".".join(str(part) for part in parts[:MAX_FIELD_PATH_PARTS])
    if len(parts) > MAX_FIELD_PATH_PARTS:
        shown += f"... ({len(parts)} levels deep)"
    return shown


def check_count(field: str, value: object, *, minimum: int = 0) -> int:
    """Return ``value`` if it is an integer (not a bool) in [minimum, MAX_POSITION]."""
    if (
        not isinstance(value, int)
        or isinstance(value, bool)
        or not minimum <= value <= MAX_POSITION
    ):
        raise InvalidInput(
            field, f"must be an integer from {minimum} to 2**53, got {_shown(value)}"
        )
    return value


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
